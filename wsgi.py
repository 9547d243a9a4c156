#!/usr/bin/env python
"""Process entry point.

    python wsgi.py gateway [--host H] [--port P]
    python wsgi.py notify  [--host H] [--port P]
    python wsgi.py token --sub alice [--scope notifications:publish] [--ttl 3600]
    python wsgi.py publish --user alice [--user bob] --title T [--body B] [--data JSON]
    python wsgi.py check [gateway|notify|all]

Serving commands monkey-patch eventlet before anything else is imported; the others don't.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import Any

PUBLISH_TTL = 300  # the publish command's own token only has to outlive its retries


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="wsgi.py", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name, port_var in (("gateway", "PORT"), ("notify", "NOTIFY_PORT")):
        serve = commands.add_parser(name, help=f"run the {name} service")
        serve.add_argument("--host", default="0.0.0.0", help="address to listen on")
        serve.add_argument("--port", type=int, help=f"port to listen on (default ${port_var})")
        serve.add_argument("--reuse-port", action="store_true",
                           help="share the port with other processes (SO_REUSEPORT), "
                                "e.g. one gateway process per core")
    token = commands.add_parser("token", help="print a signed dev token (needs JWT_SECRET)")
    token.add_argument("--sub", required=True, help="the user the token speaks for")
    token.add_argument("--scope", action="append", default=[],
                       help="scope(s), space-separated or repeated, e.g. notifications:publish")
    token.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds")
    add_publish_parser(commands)
    check = commands.add_parser("check", help="print the configuration and test connections")
    check.add_argument("service", nargs="?", choices=("gateway", "notify", "all"), default="all")
    return parser.parse_args(argv)


def add_publish_parser(commands: Any) -> None:
    publish = commands.add_parser("publish", help="publish a notification with notify_client")
    publish.add_argument("--user", action="append", required=True, help="recipient (repeatable)")
    publish.add_argument("--title", required=True)
    publish.add_argument("--body", default="")
    publish.add_argument("--data", type=_json_object, default=None, help='e.g. \'{"k": 1}\'')
    publish.add_argument("--url", default="http://127.0.0.1:3000",
                         help="the gateway or a notify node (default %(default)s)")
    publish.add_argument("--token", help="publisher token (default: minted from JWT_SECRET)")
    publish.add_argument("--sub", default="cli", help="publisher name in a minted token")
    publish.add_argument("--idempotency-key", help="makes running the command twice safe")


def _json_object(raw: str) -> dict:
    try:
        value = json.loads(raw)
    except ValueError:
        raise argparse.ArgumentTypeError("not valid JSON") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("must be a JSON object")
    return value


def serve(command: str, host: str, port: int | None, reuse_port: bool = False) -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # eventlet's import-time notice: DESIGN.md section 2
        import eventlet

    eventlet.monkey_patch()  # first, before Flask, requests, socket or our modules load

    from common import runtime
    from common.config import GatewayConfig, NotifyConfig
    from common.logs import setup_logging

    config_class = GatewayConfig if command == "gateway" else NotifyConfig
    config = config_class.from_env()
    setup_logging(config.LOG_LEVEL, secrets=[config.JWT_SECRET or ""], fmt=config.LOG_FORMAT)
    if command == "gateway":
        from gateway_app import create_app

        port = config.PORT if port is None else port
    else:
        from notify_app import create_app

        port = config.NOTIFY_PORT if port is None else port
    sock = runtime.listen(host, port, reuse_port=reuse_port)
    if command == "notify":
        # The port actually bound (0 picks one): the default node id is derived from it.
        config = config.replace(NOTIFY_PORT=sock.getsockname()[1])
    app = create_app(config)
    runtime.serve(app, sock, name=command, max_connections=config.MAX_CONNECTIONS,
                  on_stop=app.extensions.get("on_stop"))


def make_token(user: str, scopes: list[str], ttl: int) -> str:
    from common.auth import mint_token
    from common.config import SYMMETRIC_ALGORITHMS, BaseConfig, ConfigError

    config = BaseConfig.from_env()
    algorithm = next((a for a in config.JWT_ALGORITHMS if a in SYMMETRIC_ALGORITHMS), None)
    if algorithm is None:
        raise ConfigError("JWT_ALGORITHMS", "minting needs an HS algorithm and JWT_SECRET")
    return mint_token(config.JWT_SECRET, user, scopes=" ".join(scopes).split(), ttl=ttl,
                      algorithm=algorithm, audience=config.JWT_AUDIENCE,
                      issuer=config.JWT_ISSUER)


def publish(args: argparse.Namespace) -> int:
    """Publish with :mod:`notify_client`; print the stored notification(s) as JSON."""
    from common.auth import PUBLISH_SCOPE
    from notify_client import NotifyClient, NotifyError

    token = args.token or make_token(args.sub, [PUBLISH_SCOPE], PUBLISH_TTL)
    with NotifyClient(args.url, token) as client:
        try:
            if len(args.user) == 1:
                result: Any = client.notify(args.user[0], args.title, args.body, args.data,
                                            idempotency_key=args.idempotency_key)
            else:
                result = client.notify_many(args.user, args.title, args.body, args.data,
                                            idempotency_key=args.idempotency_key)
        except NotifyError as exc:
            print(f"publish failed: {exc}", file=sys.stderr)
            return 1
    print(json.dumps(result, indent=2))
    return 0


def check(service: str) -> int:
    """Print each service's effective configuration (secrets masked), then test its
    connections; 0 only if every check passed."""
    from common.config import GatewayConfig, NotifyConfig

    wanted = ("gateway", "notify") if service == "all" else (service,)
    configs = {name: (GatewayConfig if name == "gateway" else NotifyConfig).from_env()
               for name in wanted}  # every ConfigError before any output
    passed = True
    for name, config in configs.items():
        print(f"{name}:")
        for setting, default, _doc in type(config).documented():
            value = getattr(config, setting)
            origin = "" if value == default else "  (configured)"
            print(f"  {setting} = {_shown(setting, value)}{origin}")
        for label, probe in _probes(config):
            reason = _run_probe(probe, config)
            passed = passed and reason is None
            print(f"  check {label}: " + ("ok" if reason is None else f"FAILED ({reason})"))
    return 0 if passed else 1


def _shown(setting: str, value: Any) -> str:
    if setting == "JWT_SECRET":
        return "(unset)" if not value else "*** (hidden)"
    if setting == "JWT_PUBLIC_KEY" and value:
        return f"<PEM, {len(value)} characters>"
    if isinstance(value, tuple):
        return ",".join(_mask_url(str(item)) for item in value) or "(empty)"
    return "(unset)" if value is None else _mask_url(str(value))


_USERINFO_PASSWORD = re.compile(r"(://[^/@:]*:)[^/@]*@")
_ERRNO = re.compile(r"\[Errno -?\d+\] [^'\")]+")


def _mask_url(text: str) -> str:
    """``scheme://user:***@host``: the password inside a URL is a secret."""
    return _USERINFO_PASSWORD.sub(r"\1***@", text)


def _probes(config: Any) -> list[tuple[str, Any]]:
    from common.config import GatewayConfig

    if isinstance(config, GatewayConfig):
        probes = [(f"upstream {url}/healthz", lambda c, url=url: _probe_http(url + "/healthz"))
                  for url in config.NOTIFY_URL]
    else:
        probes = [("database", _probe_database)]
        if config.REDIS_URL:
            probes.append(("redis", _probe_redis))
    if config.JWT_JWKS_URL:
        probes.append(("JWKS", lambda c: _probe_http(c.JWT_JWKS_URL)))
    return probes


def _run_probe(probe: Any, config: Any) -> str | None:
    """``None`` if ``probe`` passed, else a one-line reason with secrets masked."""
    from common.logs import redact

    try:
        probe(config)
    except Exception as exc:  # noqa: BLE001 - any failure is the answer we print
        cause = getattr(exc, "orig", None) or exc  # SQLAlchemy wraps the driver's error
        text = f"{type(cause).__name__}: {cause}".splitlines()[0]
        errno = _ERRNO.search(text)  # requests' paragraph around "[Errno 111] Connection..."
        text = errno.group(0) if errno else text
        return _mask_url(redact(text, [config.JWT_SECRET or "", *_passwords(config)]))[:300]
    return None


def _passwords(config: Any) -> list[str]:
    from urllib.parse import urlsplit

    urls = [getattr(config, "DATABASE_URL", None), getattr(config, "REDIS_URL", None)]
    return [p for p in (urlsplit(u).password for u in urls if u) if p]


def _probe_database(config: Any) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from notify_app.store import make_engine

    url = make_url(config.DATABASE_URL)
    # SQLite: the service's own engine (it makes the directory); others: bounded connect.
    timeout = {"pg8000": {"timeout": 5}, "psycopg2": {"connect_timeout": 5},
               "psycopg": {"connect_timeout": 5}}.get(url.get_driver_name(), {})
    engine = (make_engine(config.DATABASE_URL) if url.get_backend_name() == "sqlite"
              else create_engine(url, connect_args=timeout))
    try:
        with engine.connect() as conn:
            conn.execute(text("select 1")).scalar_one()
    finally:
        engine.dispose()


def _probe_redis(config: Any) -> None:
    import redis

    client = redis.Redis.from_url(config.REDIS_URL, socket_timeout=5, socket_connect_timeout=5)
    try:
        client.ping()
    finally:
        client.close()


def _probe_http(url: str) -> None:
    import requests

    response = requests.get(url, timeout=(3, 5))
    if response.status_code != 200:
        raise RuntimeError(f"answered {response.status_code}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from common.config import ConfigError

    try:
        if args.command == "token":
            print(make_token(args.sub, args.scope, args.ttl))
        elif args.command == "publish":
            return publish(args)
        elif args.command == "check":
            return check(args.service)
        else:
            serve(args.command, args.host, args.port, args.reuse_port)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
