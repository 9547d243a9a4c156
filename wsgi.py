#!/usr/bin/env python
"""Process entry point.

    python wsgi.py gateway [--host H] [--port P]
    python wsgi.py notify  [--host H] [--port P]
    python wsgi.py token --sub alice [--scope notifications:publish] [--ttl 3600]

Serving commands monkey-patch eventlet before anything else is imported.
"""

from __future__ import annotations

import argparse
import sys


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="wsgi.py", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name, port_var in (("gateway", "PORT"), ("notify", "NOTIFY_PORT")):
        serve = commands.add_parser(name, help=f"run the {name} service")
        serve.add_argument("--host", default="0.0.0.0", help="address to listen on")
        serve.add_argument("--port", type=int, help=f"port to listen on (default ${port_var})")
    token = commands.add_parser("token", help="print a signed dev token (needs JWT_SECRET)")
    token.add_argument("--sub", required=True, help="the user the token speaks for")
    token.add_argument("--scope", action="append", default=[],
                       help="scope(s), space-separated or repeated, e.g. notifications:publish")
    token.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds")
    return parser.parse_args(argv)


def serve(command: str, host: str, port: int | None) -> None:
    from common import runtime

    runtime.monkey_patch()  # first, before Flask, requests or socket are imported

    from common.config import GatewayConfig, NotifyConfig
    from common.logs import setup_logging

    config_class = GatewayConfig if command == "gateway" else NotifyConfig
    config = config_class.from_env()
    setup_logging(config.LOG_LEVEL, secrets=[config.JWT_SECRET or ""])
    if command == "gateway":
        from gateway_app import create_app

        port = config.PORT if port is None else port
    else:
        from notify_app import create_app

        port = config.NOTIFY_PORT if port is None else port
    sock = runtime.listen(host, port)
    if command == "notify" and config.NODE_ID is None:
        # Default node id from the port actually bound (port 0 picks one).
        config = config.replace(NODE_ID=f"n{sock.getsockname()[1]}")
    app = create_app(config)
    runtime.serve(app, sock, name=command, max_connections=config.MAX_CONNECTIONS,
                  on_stop=app.extensions.get("on_stop"))


def print_token(user: str, scopes: list[str], ttl: int) -> None:
    from common.auth import mint_token
    from common.config import SYMMETRIC_ALGORITHMS, BaseConfig, ConfigError

    config = BaseConfig.from_env()
    algorithm = next((a for a in config.JWT_ALGORITHMS if a in SYMMETRIC_ALGORITHMS), None)
    if algorithm is None:
        raise ConfigError("JWT_ALGORITHMS", "minting needs an HS algorithm and JWT_SECRET")
    print(mint_token(config.JWT_SECRET, user, scopes=" ".join(scopes).split(), ttl=ttl,
                     algorithm=algorithm, audience=config.JWT_AUDIENCE,
                     issuer=config.JWT_ISSUER))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from common.config import ConfigError

    try:
        if args.command == "token":
            print_token(args.sub, args.scope, args.ttl)
        else:
            serve(args.command, args.host, args.port)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
