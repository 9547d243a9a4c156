"""JWT verification: the one home of it.

Algorithms come from configuration, never from the token; ``exp`` and ``sub`` are required.
Every failure becomes :class:`AuthError` with a stable code and a message safe to show.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from common.config import SYMMETRIC_ALGORITHMS, BaseConfig, ConfigError
from common.errors import ApiError

# A JWT worth verifying is a few hundred bytes; refusing big ones early caps the work an
# anonymous client can make us do.
MAX_TOKEN_LENGTH = 8192

PUBLISH_SCOPE = "notifications:publish"


class AuthError(ApiError):
    """A token is missing, invalid, or lacks a scope.  ``code`` is one of :data:`CODES`."""

    status, code, message = 401, "invalid_token", "The token is invalid."

    def __init__(self, code: str, message: str) -> None:
        status = 403 if code == "insufficient_scope" else 401
        challenge = "Bearer"
        if code != "token_missing":
            challenge += f' error="{_rfc6750_error(code)}"'
        headers = {"WWW-Authenticate": challenge}
        super().__init__(message, code=code, status=status, headers=headers)


CODES = (
    "token_missing", "token_expired", "token_not_yet_valid", "invalid_signature",
    "invalid_audience", "invalid_issuer", "invalid_token", "insufficient_scope",
)


@dataclass(frozen=True)
class Identity:
    """Who a verified token speaks for."""

    user: str
    scopes: frozenset[str]
    expires_at: float
    claims: Mapping[str, Any] = field(repr=False)

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes


class TokenVerifier:
    """Verifies tokens under one fixed policy built from a config object."""

    def __init__(self, config: BaseConfig) -> None:
        self.algorithms = frozenset(config.JWT_ALGORITHMS)
        self.audience = config.JWT_AUDIENCE
        self.issuer = config.JWT_ISSUER
        self.leeway = config.JWT_LEEWAY
        self._secret = config.JWT_SECRET
        self._public_key = _load_public_key(config.JWT_PUBLIC_KEY)
        self._jwks = None
        if config.JWT_JWKS_URL:
            self._jwks = jwt.PyJWKClient(
                config.JWT_JWKS_URL, cache_keys=False, lifespan=300, timeout=5,
                cooldown_duration=config.JWT_JWKS_COOLDOWN,
            )

    def verify(self, token: Any) -> Identity:
        """Return the token's :class:`Identity` or raise :class:`AuthError`."""
        if token is None or token == "":
            raise AuthError("token_missing", "No token was presented.")
        if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH:
            raise AuthError("invalid_token", "The token is malformed.")
        try:
            algorithm = jwt.get_unverified_header(token).get("alg")
            if algorithm not in self.algorithms:
                raise AuthError("invalid_token", "The token's algorithm is not accepted.")
            claims = jwt.decode(
                token, self._key_for(algorithm, token), algorithms=[algorithm],
                audience=self.audience, issuer=self.issuer, leeway=self.leeway,
                # A token naming an audience is refused when none is configured (pyjwt's
                # default): it was meant for some other service.
                options={"require": ["exp", "sub"]},
            )
        except jwt.PyJWTError as exc:
            raise _auth_error(exc) from None
        return _identity(claims)

    def _key_for(self, algorithm: str, token: str) -> Any:
        # The key family follows the configured algorithm, so an HS256 token can never be
        # checked against the public key (algorithm confusion).
        if algorithm in SYMMETRIC_ALGORITHMS:
            return self._secret
        if self._jwks is not None:
            return self._jwks.get_signing_key_from_jwt(token).key
        return self._public_key


def require_scope(identity: Identity, scope: str) -> None:
    """Raise ``insufficient_scope`` unless ``identity`` holds ``scope``."""
    if not identity.has_scope(scope):
        raise AuthError("insufficient_scope", f"The token lacks the scope {scope!r}.")


def find_token(auth: Any = None, headers: Mapping[str, str] | None = None,
               query: Mapping[str, str] | None = None) -> str | None:
    """The token a client presented, looked up in the contract's order.

    ``auth`` is the Socket.IO connect payload (``{"token": ...}``), ``headers`` the request
    headers (``Authorization: Bearer ...``) and ``query`` the query parameters (``token``).
    A present but non-string value is returned as is so that verification rejects it.
    """
    if isinstance(auth, Mapping) and auth.get("token") not in (None, ""):
        return auth["token"]
    header = (headers or {}).get("Authorization") or (headers or {}).get("HTTP_AUTHORIZATION")
    if header:
        scheme, _, value = header.strip().partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    value = (query or {}).get("token")
    return value or None


def mint_token(secret: str, user: str, *, scopes: Iterable[str] = (), ttl: int = 3600,
               algorithm: str = "HS256", audience: str | None = None,
               issuer: str | None = None, **claims: Any) -> str:
    """Sign a token (dev tooling and tests; production tokens come from the identity provider)."""
    now = int(time.time())
    payload = {"sub": user, "iat": now, "exp": now + ttl, **claims}
    if scopes:
        payload["scope"] = " ".join(scopes)
    if audience:
        payload["aud"] = audience
    if issuer:
        payload["iss"] = issuer
    return jwt.encode(payload, secret, algorithm=algorithm)


def _identity(claims: Mapping[str, Any]) -> Identity:
    user = claims.get("sub")
    if not isinstance(user, str) or not user.strip() or len(user) > 255:
        raise AuthError("invalid_token", "The token's subject is invalid.")
    return Identity(user=user, scopes=_scopes(claims), expires_at=float(claims["exp"]),
                    claims=claims)


def _scopes(claims: Mapping[str, Any]) -> frozenset[str]:
    # OAuth 2 puts scopes in a space-separated string; some providers use a list, or `scp`.
    raw = claims.get("scope", claims.get("scp", ""))
    if isinstance(raw, str):
        return frozenset(raw.split())
    if isinstance(raw, list):
        return frozenset(s for s in raw if isinstance(s, str))
    return frozenset()


_ERRORS: tuple[tuple[type[jwt.PyJWTError], str, str], ...] = (
    (jwt.ExpiredSignatureError, "token_expired", "The token has expired."),
    (jwt.ImmatureSignatureError, "token_not_yet_valid", "The token is not valid yet."),
    (jwt.InvalidSignatureError, "invalid_signature", "The token's signature is invalid."),
    (jwt.InvalidAudienceError, "invalid_audience", "The token is not meant for this service."),
    (jwt.InvalidIssuerError, "invalid_issuer", "The token comes from an untrusted issuer."),
    (jwt.MissingRequiredClaimError, "invalid_token", "The token lacks a required claim."),
    (jwt.PyJWKClientError, "invalid_token", "The token's signing key is unknown."),
)


def _auth_error(exc: jwt.PyJWTError) -> AuthError:
    for kind, code, message in _ERRORS:
        if isinstance(exc, kind):
            if isinstance(exc, jwt.MissingRequiredClaimError):
                message = f"The token lacks the required claim {exc.claim!r}."
            return AuthError(code, message)
    return AuthError("invalid_token", "The token is malformed.")


def _rfc6750_error(code: str) -> str:
    return "insufficient_scope" if code == "insufficient_scope" else "invalid_token"


def _load_public_key(pem: str | None) -> Any:
    if not pem:
        return None
    try:
        return load_pem_public_key(pem.encode())
    except ValueError:
        raise ConfigError("JWT_PUBLIC_KEY", "is not a PEM public key") from None

