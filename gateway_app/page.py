"""The live-inbox page at ``/``, with the official Socket.IO browser client from npm."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, current_app, send_file

from common.errors import NotFound

page = Blueprint("page", __name__)

# Installed by `make setup` (npm ci), never copied into the repository.
SOCKET_IO_CLIENT = (Path(__file__).resolve().parent.parent / "node_modules" / "socket.io-client"
                    / "dist" / "socket.io.min.js")


@page.get("/")
def index() -> Response:
    return current_app.send_static_file("index.html")


@page.get("/vendor/socket.io.min.js")
def socket_io_client() -> Response:
    if not SOCKET_IO_CLIENT.is_file():
        raise NotFound("The Socket.IO client is not installed: run `npm ci` (make setup does).")
    return send_file(SOCKET_IO_CLIENT, mimetype="text/javascript", max_age=3600)
