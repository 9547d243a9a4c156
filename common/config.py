"""The only reader of the environment.

Each service has one frozen config object whose field names are the environment variables
they come from, so ``app.config.from_object(config)`` exposes them to Flask unchanged and
tests build a config object directly instead of patching ``os.environ``.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dotenv import dotenv_values

SYMMETRIC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
LOG_LEVELS = ("debug", "info", "warning", "error")
MIN_SECRET_BYTES = 32


class ConfigError(Exception):
    """A configuration value is missing or wrong; ``str()`` is one line naming the variable."""

    def __init__(self, variable: str, message: str) -> None:
        super().__init__(f"{variable}: {message}")
        self.variable = variable


# -- typed helpers -------------------------------------------------------------------------

def as_str(name: str, raw: str) -> str | None:
    return raw.strip() or None


def as_int(name: str, raw: str) -> int:
    try:
        return int(raw.strip())
    except ValueError:
        raise ConfigError(name, f"expected a whole number, got {raw!r}") from None


def as_float(name: str, raw: str) -> float:
    try:
        value = float(raw.strip())
    except ValueError:
        raise ConfigError(name, f"expected a number, got {raw!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise ConfigError(name, f"expected a finite number, got {raw!r}")
    return value


def as_bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(name, f"expected true or false, got {raw!r}")


def as_list(name: str, raw: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in raw.split(",") if item.strip())


def as_database_url(name: str, raw: str) -> str | None:
    """A SQLAlchemy URL; the bare ``postgres://`` / ``postgresql://`` that hosting platforms
    (Heroku among them) hand out get the driver this project ships, pg8000."""
    url = raw.strip()
    for bare in ("postgres://", "postgresql://"):
        if url.startswith(bare):
            return "postgresql+pg8000://" + url[len(bare):]
    return url or None


def as_multiline(name: str, raw: str) -> str | None:
    """A PEM value; ``\\n`` escapes are accepted because env files and dashboards are one-line."""
    return raw.replace("\\n", "\n").strip() or None


def setting(default: Any, parse: Callable[[str, str], Any], doc: str) -> Any:
    """A config field: its default, how to parse the environment string, and what it means."""
    if isinstance(default, (list, dict)):
        raise TypeError("use tuples for sequence defaults")
    return field(default=default, metadata={"parse": parse, "doc": doc})


# -- config objects ------------------------------------------------------------------------

@dataclass(frozen=True)
class BaseConfig:
    """Settings both services share."""

    JWT_SECRET: str | None = setting(None, as_str, "HS256 shared secret (32+ bytes)")
    JWT_PUBLIC_KEY: str | None = setting(None, as_multiline, "PEM public key for RS/ES/PS/EdDSA")
    JWT_JWKS_URL: str | None = setting(None, as_str, "JWKS endpoint for RS/ES/PS/EdDSA keys")
    JWT_JWKS_COOLDOWN: float = setting(30.0, as_float, "min seconds between JWKS refreshes")
    JWT_ALGORITHMS: tuple[str, ...] = setting(("HS256",), as_list, "accepted JWT algorithms")
    JWT_AUDIENCE: str | None = setting(None, as_str, "required `aud` claim")
    JWT_ISSUER: str | None = setting(None, as_str, "required `iss` claim")
    JWT_LEEWAY: int = setting(0, as_int, "clock skew allowed on exp/nbf, seconds")
    CORS_ALLOWED_ORIGINS: tuple[str, ...] = setting((), as_list, "allowed browser origins")
    LOG_LEVEL: str = setting("info", as_str, "debug, info, warning or error")
    LOG_FORMAT: str = setting("text", as_str, "text, or json for one JSON object per line")
    MAX_CONNECTIONS: int = setting(12000, as_int, "concurrent connections per process")
    MAX_URL_LENGTH: int = setting(8192, as_int, "longest request line, bytes (414 beyond)")
    MAX_HEADER_LINE: int = setting(16384, as_int, "longest request header line, bytes (400)")
    MAX_HEADER_BYTES: int = setting(65536, as_int, "all request headers together, bytes (400)")
    HEADER_TIMEOUT: float = setting(10.0, as_float, "seconds to send a request's headers")
    CLIENT_TIMEOUT: float = setting(120.0, as_float, "seconds a client socket may stall a read "
                                    "or write mid-request")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, dotenv: Path | None = None):
        """Build the config from ``environ`` (default ``os.environ``) over ``.env`` if present."""
        source = dict(_read_dotenv(dotenv))
        source.update(os.environ if environ is None else environ)
        values = {}
        for f in dataclasses.fields(cls):
            raw = source.get(f.name)
            if raw is not None:
                values[f.name] = f.metadata["parse"](f.name, raw)
        return cls(**values)

    def __post_init__(self) -> None:
        self.validate()

    def replace(self, **changes: Any):
        """A copy with some settings changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def validate(self) -> None:
        """Raise :class:`ConfigError` for the first wrong value."""
        _check_algorithms(self)
        _check_range("JWT_LEEWAY", self.JWT_LEEWAY, 0, 3600)
        _check_range("JWT_JWKS_COOLDOWN", self.JWT_JWKS_COOLDOWN, 0, 86400)
        _check_range("MAX_CONNECTIONS", self.MAX_CONNECTIONS, 1, 1_000_000)
        _check_range("MAX_URL_LENGTH", self.MAX_URL_LENGTH, 256, 1024 * 1024)
        _check_range("MAX_HEADER_LINE", self.MAX_HEADER_LINE, 256, 1024 * 1024)
        _check_range("MAX_HEADER_BYTES", self.MAX_HEADER_BYTES, 1024, 16 * 1024 * 1024)
        _check_range("HEADER_TIMEOUT", self.HEADER_TIMEOUT, 0.1, 3600)
        _check_range("CLIENT_TIMEOUT", self.CLIENT_TIMEOUT, 0.1, 86400)
        if self.LOG_LEVEL.lower() not in LOG_LEVELS:
            raise ConfigError("LOG_LEVEL", f"expected one of {', '.join(LOG_LEVELS)}")
        if self.LOG_FORMAT not in ("text", "json"):
            raise ConfigError("LOG_FORMAT", "expected text or json")
        for origin in self.CORS_ALLOWED_ORIGINS:
            if origin != "*" and "://" not in origin:
                raise ConfigError("CORS_ALLOWED_ORIGINS", f"{origin!r} is not scheme://host[:port]")

    @classmethod
    def documented(cls) -> list[tuple[str, Any, str]]:
        """``(name, default, doc)`` for every setting, for ``.env.example`` and ``check``."""
        return [(f.name, f.default, f.metadata["doc"]) for f in dataclasses.fields(cls)]


@dataclass(frozen=True)
class NotifyConfig(BaseConfig):
    """Settings of the notify service."""

    NOTIFY_PORT: int = setting(3006, as_int, "notify listen port")
    DATABASE_URL: str = setting("sqlite:///instance/notify.db", as_database_url,
                                "inbox database")
    REDIS_URL: str | None = setting(None, as_str, "Socket.IO message queue across nodes")
    NODE_ID: str | None = setting(None, as_str, "this node's id in session ids")
    AUTH_TIMEOUT: float = setting(10.0, as_float, "seconds to identify before disconnect")
    PING_INTERVAL: int = setting(25, as_int, "Engine.IO ping interval, whole seconds")
    PING_TIMEOUT: int = setting(20, as_int, "Engine.IO ping timeout, whole seconds")
    TRUSTED_GATEWAYS: tuple[str, ...] = setting(
        ("127.0.0.1/32", "::1/128"), as_list, "peers whose X-Forwarded-For notify believes")
    CONNECT_RATE_LIMIT: str | None = setting("600/minute", as_str,
                                             "Socket.IO connects per client address")
    IDENTIFY_RATE_LIMIT: str | None = setting("600/minute", as_str,
                                              "`identify` events per client address")
    PUBLISH_RATE_LIMIT: str | None = setting("6000/minute", as_str,
                                             "REST publishes per publisher (token `sub`)")
    MAX_SOCKETS_PER_USER: int = setting(100, as_int, "sockets one user may hold per node")
    MAX_MESSAGE_BYTES: int = setting(100_000, as_int, "largest Socket.IO message from a client")

    def validate(self) -> None:
        super().validate()
        _check_port("NOTIFY_PORT", self.NOTIFY_PORT)
        _check_proxies("TRUSTED_GATEWAYS", self.TRUSTED_GATEWAYS)
        for name in ("CONNECT_RATE_LIMIT", "IDENTIFY_RATE_LIMIT", "PUBLISH_RATE_LIMIT"):
            _check_rate(name, getattr(self, name))
        _check_range("MAX_SOCKETS_PER_USER", self.MAX_SOCKETS_PER_USER, 0, 1_000_000)
        _check_range("MAX_MESSAGE_BYTES", self.MAX_MESSAGE_BYTES, 1024, 100 * 1024 * 1024)
        _check_range("AUTH_TIMEOUT", self.AUTH_TIMEOUT, 0.1, 3600)
        _check_range("PING_INTERVAL", self.PING_INTERVAL, 1, 3600)
        _check_range("PING_TIMEOUT", self.PING_TIMEOUT, 1, 3600)
        if "://" not in self.DATABASE_URL:
            raise ConfigError("DATABASE_URL", "expected a URL such as sqlite:///instance/notify.db")
        if self.REDIS_URL and not self.REDIS_URL.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError("REDIS_URL", "expected redis://host:port[/db]")
        if self.NODE_ID is not None and not _NODE_ID.fullmatch(self.NODE_ID):
            # It travels inside Engine.IO session ids, in URLs: keep it URL-safe and short.
            raise ConfigError("NODE_ID", "use 1 to 32 letters, digits, '_' or '-'")


@dataclass(frozen=True)
class GatewayConfig(BaseConfig):
    """Settings of the gateway."""

    PORT: int = setting(3000, as_int, "gateway listen port")
    NOTIFY_URL: tuple[str, ...] = setting(("http://127.0.0.1:3006",), as_list, "notify node(s)")
    GATEWAY_ROUTES: tuple[str, ...] = setting((), as_list, "extra routes: /prefix=http://up")
    UPSTREAM_CONNECT_TIMEOUT: float = setting(3.0, as_float, "seconds to connect upstream")
    UPSTREAM_READ_TIMEOUT: float = setting(30.0, as_float, "seconds to wait for upstream data")
    POLLING_READ_TIMEOUT: float = setting(60.0, as_float, "read timeout for Engine.IO polls")
    MAX_CONTENT_LENGTH: int = setting(10 * 1024 * 1024, as_int, "largest request body, bytes")
    MAX_TUNNELS: int = setting(10000, as_int, "concurrent WebSocket tunnels per process")
    TUNNEL_HALF_CLOSE_TIMEOUT: float = setting(10.0, as_float,
                                               "seconds a tunnel stays open after one side ended")
    TRUSTED_PROXIES: tuple[str, ...] = setting((), as_list, "proxies whose X-Forwarded-* count")
    UPSTREAM_POOL_SIZE: int = setting(1024, as_int, "keep-alive connections kept per upstream")
    HEALTH_CHECK_INTERVAL: float = setting(5.0, as_float, "seconds between upstream probes")

    def validate(self) -> None:
        super().validate()
        _check_port("PORT", self.PORT)
        for url in self.NOTIFY_URL:
            if not url.startswith(("http://", "https://")):
                raise ConfigError("NOTIFY_URL", f"{url!r} is not an http(s) URL")
        if not self.NOTIFY_URL:
            raise ConfigError("NOTIFY_URL", "at least one upstream is required")
        _check_range("UPSTREAM_CONNECT_TIMEOUT", self.UPSTREAM_CONNECT_TIMEOUT, 0.01, 600)
        _check_range("UPSTREAM_READ_TIMEOUT", self.UPSTREAM_READ_TIMEOUT, 0.01, 3600)
        _check_range("POLLING_READ_TIMEOUT", self.POLLING_READ_TIMEOUT, 0.01, 3600)
        _check_range("MAX_CONTENT_LENGTH", self.MAX_CONTENT_LENGTH, 1, 2**40)
        _check_range("MAX_TUNNELS", self.MAX_TUNNELS, 1, 1_000_000)
        _check_range("TUNNEL_HALF_CLOSE_TIMEOUT", self.TUNNEL_HALF_CLOSE_TIMEOUT, 0.1, 3600)
        _check_range("UPSTREAM_POOL_SIZE", self.UPSTREAM_POOL_SIZE, 1, 1_000_000)
        _check_range("HEALTH_CHECK_INTERVAL", self.HEALTH_CHECK_INTERVAL, 0.1, 3600)
        _check_routes(self.GATEWAY_ROUTES)
        _check_proxies("TRUSTED_PROXIES", self.TRUSTED_PROXIES)


_NODE_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")


# -- checks --------------------------------------------------------------------------------

def _check_port(name: str, port: int) -> None:
    # 0 asks the OS for a free port (tests read the real one from the start-up line).
    _check_range(name, port, 0, 65535)


def _check_range(name: str, value: float, low: float, high: float) -> None:
    if not low <= value <= high:
        raise ConfigError(name, f"{value} is outside {low}..{high}")


def _check_algorithms(config: BaseConfig) -> None:
    algorithms = set(config.JWT_ALGORITHMS)
    if not algorithms:
        raise ConfigError("JWT_ALGORITHMS", "at least one algorithm is required")
    unknown = algorithms - SYMMETRIC_ALGORITHMS - ASYMMETRIC_ALGORITHMS
    if unknown:
        raise ConfigError("JWT_ALGORITHMS", f"unsupported algorithm {sorted(unknown)[0]!r}")
    if algorithms & SYMMETRIC_ALGORITHMS:
        if not config.JWT_SECRET:
            raise ConfigError("JWT_SECRET", "not set (run `make dev` to create a dev .env)")
        if len(config.JWT_SECRET.encode()) < MIN_SECRET_BYTES:
            raise ConfigError("JWT_SECRET", f"must be at least {MIN_SECRET_BYTES} bytes")
    if algorithms & ASYMMETRIC_ALGORITHMS and not (config.JWT_PUBLIC_KEY or config.JWT_JWKS_URL):
        raise ConfigError("JWT_PUBLIC_KEY", "set it or JWT_JWKS_URL for asymmetric algorithms")
    if config.JWT_JWKS_URL and not config.JWT_JWKS_URL.startswith(("http://", "https://")):
        raise ConfigError("JWT_JWKS_URL", "must be an http(s) URL")


def _check_routes(routes: tuple[str, ...]) -> None:
    for item in routes:
        prefix, sep, url = item.partition("=")
        if not sep or not prefix.strip().startswith("/"):
            raise ConfigError("GATEWAY_ROUTES", f"{item!r} is not /prefix=http://host:port")
        if not url.strip().startswith(("http://", "https://")):
            raise ConfigError("GATEWAY_ROUTES", f"{url!r} is not an http(s) URL")


def _check_proxies(name: str, proxies: tuple[str, ...]) -> None:
    for proxy in proxies:
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            raise ConfigError(name, f"{proxy!r} is not an IP address or network") from None


def _check_rate(name: str, value: str | None) -> None:
    """A `limits` rate string such as ``600/minute`` or ``10/second;100/minute``; unset or
    ``0`` turns the limit off."""
    if value is None or value == "0":
        return
    from limits import parse_many

    try:
        parse_many(value)
    except ValueError:
        raise ConfigError(name, f"{value!r} is not a rate such as 600/minute") from None


def _read_dotenv(path: Path | None) -> dict[str, str]:
    path = path or Path.cwd() / ".env"
    if not path.is_file():
        return {}
    return {k: v for k, v in dotenv_values(path).items() if v is not None}

