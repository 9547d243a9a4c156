"""One JSON error shape for ApiError, werkzeug's HTTP errors and the unexpected."""

from __future__ import annotations

from flask import Flask

from common.errors import ApiError, NotFound, register_error_handlers


def make_app() -> Flask:
    app = Flask(__name__)
    register_error_handlers(app)

    @app.get("/api-error")
    def api_error():
        raise NotFound("No such notification.")

    @app.get("/custom")
    def custom():
        raise ApiError("Slow down.", code="rate_limited", status=429, headers={"Retry-After": "3"})

    @app.get("/boom")
    def boom():
        raise RuntimeError("secret internals")

    return app


def test_api_error_renders_code_message_and_status():
    response = make_app().test_client().get("/api-error")
    assert response.status_code == 404
    assert response.json == {"error": {"code": "not_found", "message": "No such notification."}}


def test_headers_survive():
    response = make_app().test_client().get("/custom")
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "3"
    assert response.json["error"]["code"] == "rate_limited"


def test_werkzeug_errors_use_the_same_shape():
    client = make_app().test_client()
    missing = client.get("/nowhere")
    assert missing.status_code == 404
    assert missing.json["error"]["code"] == "not_found"
    wrong_method = client.post("/api-error")
    assert wrong_method.status_code == 405
    assert wrong_method.json["error"]["code"] == "method_not_allowed"
    assert "GET" in wrong_method.headers["Allow"]


def test_unexpected_errors_hide_internals(caplog):
    response = make_app().test_client().get("/boom")
    assert response.status_code == 500
    assert response.json == {"error": {"code": "internal_error",
                                       "message": "Internal server error."}}
    assert "secret internals" not in response.get_data(as_text=True)
    assert "secret internals" in caplog.text  # but the log keeps it
