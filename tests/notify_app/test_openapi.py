"""The OpenAPI document stays true: same routes and methods, real responses match it."""

from __future__ import annotations

import jsonschema
import requests

from notify_app.openapi import openapi_document


def flask_rule_to_openapi(rule: str) -> str:
    return rule.replace("<", "{").replace(">", "}")


def test_document_lists_exactly_the_api_routes(notify):
    from common.config import NotifyConfig
    from notify_app import create_app
    from tests.support import SECRET

    app = create_app(NotifyConfig(JWT_SECRET=SECRET, DATABASE_URL="sqlite:///:memory:"))
    served = {(flask_rule_to_openapi(rule.rule), method.lower())
              for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/")
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    documented = {(path, method) for path, item in openapi_document()["paths"].items()
                  for method in item}
    assert served == documented
    assert requests.get(notify.url + "/api/openapi.json", timeout=5).json() == \
        openapi_document()


def validate(instance, schema) -> None:
    document = openapi_document()
    resolver_schema = {**schema, "components": document["components"]}
    jsonschema.validate(instance, resolver_schema)


def test_real_responses_match_the_documented_schemas(notify, publisher, token, user):
    paths = openapi_document()["paths"]
    one = publisher.ok(user, "t", data={"a": 1})
    schema = paths["/api/notifications"]["post"]["responses"]["201"]
    validate(one, schema["content"]["application/json"]["schema"])
    many = publisher.publish(users=[user, "x"], title="t").json()
    validate(many, schema["content"]["application/json"]["schema"])

    headers = {"Authorization": f"Bearer {token(user)}"}
    inbox = requests.get(notify.url + "/api/notifications", headers=headers, timeout=5).json()
    validate(inbox, paths["/api/notifications"]["get"]["responses"]["200"]["content"][
        "application/json"]["schema"])
    bad = publisher.publish(user, "t" * 500).json()
    validate(bad, {"$ref": "#/components/schemas/Error"})
