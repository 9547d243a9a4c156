"""JWT verification with real signed tokens, hostile ones included."""

from __future__ import annotations

import base64
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from common.auth import AuthError, TokenVerifier, find_token, mint_token, require_scope
from common.config import BaseConfig, ConfigError

SECRET = "s" * 40
OTHER_SECRET = "o" * 40


def public_pem(private_key) -> str:
    return private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


@pytest.fixture(scope="module")
def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ec_key():
    return ec.generate_private_key(ec.SECP256R1())


def claims(**extra):
    now = int(time.time())
    return {"sub": "alice", "iat": now, "exp": now + 60, **extra}


def hs_verifier(**config) -> TokenVerifier:
    return TokenVerifier(BaseConfig(JWT_SECRET=SECRET, **config))


def expect_code(verifier: TokenVerifier, token, code: str) -> AuthError:
    with pytest.raises(AuthError) as caught:
        verifier.verify(token)
    assert caught.value.code == code, caught.value.message
    return caught.value


# -- accepted tokens -----------------------------------------------------------------------

def test_hs256_token_is_accepted_with_its_scopes():
    token = mint_token(SECRET, "alice", scopes=["notifications:publish", "read"])
    identity = hs_verifier().verify(token)
    assert identity.user == "alice"
    assert identity.scopes == {"notifications:publish", "read"}
    assert identity.expires_at > time.time()


def test_scope_as_a_list_is_accepted():
    token = jwt.encode(claims(scope=["a", "b"]), SECRET, algorithm="HS256")
    assert hs_verifier().verify(token).scopes == {"a", "b"}


def test_rs256_with_a_pem_public_key(rsa_key):
    verifier = TokenVerifier(BaseConfig(JWT_ALGORITHMS=("RS256",),
                                        JWT_PUBLIC_KEY=public_pem(rsa_key)))
    token = jwt.encode(claims(), rsa_key, algorithm="RS256")
    assert verifier.verify(token).user == "alice"


def test_es256_with_a_pem_public_key(ec_key):
    verifier = TokenVerifier(BaseConfig(JWT_ALGORITHMS=("ES256",),
                                        JWT_PUBLIC_KEY=public_pem(ec_key)))
    assert verifier.verify(jwt.encode(claims(), ec_key, algorithm="ES256")).user == "alice"


def test_audience_issuer_and_leeway_are_honoured():
    verifier = hs_verifier(JWT_AUDIENCE="notify", JWT_ISSUER="https://id.example", JWT_LEEWAY=30)
    now = int(time.time())
    token = jwt.encode(claims(aud="notify", iss="https://id.example", exp=now - 10), SECRET)
    assert verifier.verify(token).user == "alice"  # expired 10 s ago, within the leeway


# -- refused tokens ------------------------------------------------------------------------

def test_expired():
    expect_code(hs_verifier(), jwt.encode(claims(exp=int(time.time()) - 5), SECRET),
                "token_expired")


def test_not_yet_valid():
    token = jwt.encode(claims(nbf=int(time.time()) + 60), SECRET)
    expect_code(hs_verifier(), token, "token_not_yet_valid")


def test_wrong_key():
    expect_code(hs_verifier(), mint_token(OTHER_SECRET, "alice"), "invalid_signature")


def test_wrong_audience_and_missing_audience():
    verifier = hs_verifier(JWT_AUDIENCE="notify")
    expect_code(verifier, jwt.encode(claims(aud="billing"), SECRET), "invalid_audience")
    expect_code(verifier, jwt.encode(claims(), SECRET), "invalid_token")


def test_token_for_an_audience_is_refused_when_none_is_configured():
    expect_code(hs_verifier(), jwt.encode(claims(aud="billing"), SECRET), "invalid_audience")


def test_wrong_issuer():
    verifier = hs_verifier(JWT_ISSUER="https://id.example")
    expect_code(verifier, jwt.encode(claims(iss="https://evil.example"), SECRET),
                "invalid_issuer")


@pytest.mark.parametrize("claim", ["sub", "exp"])
def test_missing_required_claim(claim):
    payload = claims()
    del payload[claim]
    error = expect_code(hs_verifier(), jwt.encode(payload, SECRET), "invalid_token")
    assert claim in error.message


def test_alg_none_is_refused():
    token = jwt.encode(claims(), None, algorithm="none")
    expect_code(hs_verifier(), token, "invalid_token")


def test_hs256_signed_with_the_rsa_public_key_is_refused(rsa_key):
    """Algorithm confusion: the public key used as an HMAC secret must not verify."""
    pem = public_pem(rsa_key)
    header = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=")
    body = base64.urlsafe_b64encode(json.dumps(claims()).encode()).rstrip(b"=")
    import hashlib
    import hmac

    signature = base64.urlsafe_b64encode(
        hmac.new(pem.encode(), header + b"." + body, hashlib.sha256).digest()).rstrip(b"=")
    token = (header + b"." + body + b"." + signature).decode()
    rs_only = TokenVerifier(BaseConfig(JWT_ALGORITHMS=("RS256",), JWT_PUBLIC_KEY=pem))
    expect_code(rs_only, token, "invalid_token")
    both = TokenVerifier(BaseConfig(JWT_ALGORITHMS=("RS256", "HS256"), JWT_SECRET=SECRET,
                                    JWT_PUBLIC_KEY=pem))
    expect_code(both, token, "invalid_signature")


@pytest.mark.parametrize("token", [
    "abc", "a.b", "a.b.c", "....", "eyJ!!!.eyJ###.sig", "not base64 at all",
    "eyJhbGciOiJIUzI1NiJ9", "eyJhbGciOiJIUzI1NiJ9.e30", "\x00\x01\x02", "ø" * 50,
])
def test_malformed_tokens(token):
    expect_code(hs_verifier(), token, "invalid_token")


def test_truncated_token():
    token = mint_token(SECRET, "alice")
    for cut in (5, len(token) // 2, len(token) - 3):
        error = expect_code_any(hs_verifier(), token[:cut])
        assert error.code in ("invalid_token", "invalid_signature")


def expect_code_any(verifier, token) -> AuthError:
    with pytest.raises(AuthError) as caught:
        verifier.verify(token)
    return caught.value


def test_one_megabyte_token():
    expect_code(hs_verifier(), "eyJ" + "A" * (1024 * 1024), "invalid_token")


@pytest.mark.parametrize("sub", [42, ["alice"], {"id": 1}, "", None, " "])
def test_non_string_or_empty_subject(sub):
    expect_code_any(hs_verifier(), jwt.encode(claims(sub=sub), SECRET))


@pytest.mark.parametrize("value", [None, "", 123, b"bytes", ["x"]])
def test_missing_or_non_string_token(value):
    error = expect_code_any(hs_verifier(), value)
    assert error.code == ("token_missing" if value in (None, "") else "invalid_token")


def test_algorithm_not_configured_is_refused(rsa_key):
    token = jwt.encode(claims(), SECRET, algorithm="HS512")
    expect_code(hs_verifier(), token, "invalid_token")
    rs_token = jwt.encode(claims(), rsa_key, algorithm="RS256")
    expect_code(hs_verifier(), rs_token, "invalid_token")


def test_errors_are_safe_to_show():
    error = expect_code(hs_verifier(), mint_token(OTHER_SECRET, "alice"), "invalid_signature")
    assert error.status == 401
    assert error.to_dict() == {"error": {"code": "invalid_signature",
                                         "message": "The token's signature is invalid."}}


def test_require_scope():
    identity = hs_verifier().verify(mint_token(SECRET, "svc", scopes=["notifications:publish"]))
    require_scope(identity, "notifications:publish")
    with pytest.raises(AuthError) as caught:
        require_scope(hs_verifier().verify(mint_token(SECRET, "bob")), "notifications:publish")
    assert (caught.value.code, caught.value.status) == ("insufficient_scope", 403)


def test_bad_public_key_stops_start_up():
    with pytest.raises(ConfigError, match="JWT_PUBLIC_KEY"):
        TokenVerifier(BaseConfig(JWT_ALGORITHMS=("RS256",), JWT_PUBLIC_KEY="not a key"))


# -- JWKS ----------------------------------------------------------------------------------

class JwksServer:
    """A real HTTP server publishing a JWKS whose keys the test can rotate."""

    def __init__(self) -> None:
        self.keys: dict[str, object] = {}
        self.fetches = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                owner.fetches += 1
                body = json.dumps({"keys": [
                    {**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(k.public_key())),
                     "kid": kid, "use": "sig", "alg": "RS256"}
                    for kid, k in owner.keys.items()]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/jwks.json"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture
def jwks():
    server = JwksServer()
    yield server
    server.httpd.shutdown()


def test_jwks_keys_are_fetched_cached_and_refreshed_on_unknown_kid(jwks, rsa_key):
    jwks.keys["k1"] = rsa_key
    verifier = TokenVerifier(BaseConfig(JWT_ALGORITHMS=("RS256",), JWT_JWKS_URL=jwks.url,
                                        JWT_JWKS_COOLDOWN=0))
    first = jwt.encode(claims(), rsa_key, algorithm="RS256", headers={"kid": "k1"})
    assert verifier.verify(first).user == "alice"
    assert verifier.verify(first).user == "alice"
    assert jwks.fetches == 1  # cached

    rotated = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwks.keys["k2"] = rotated
    second = jwt.encode(claims(sub="bob"), rotated, algorithm="RS256", headers={"kid": "k2"})
    assert verifier.verify(second).user == "bob"
    assert jwks.fetches == 2  # refreshed once for the unknown kid

    unknown = jwt.encode(claims(), rotated, algorithm="RS256", headers={"kid": "nope"})
    expect_code(verifier, unknown, "invalid_token")


def test_jwks_unreachable_is_an_auth_error(rsa_key):
    verifier = TokenVerifier(BaseConfig(JWT_ALGORITHMS=("RS256",),
                                        JWT_JWKS_URL="http://127.0.0.1:9/jwks.json"))
    token = jwt.encode(claims(), rsa_key, algorithm="RS256", headers={"kid": "k1"})
    expect_code(verifier, token, "invalid_token")


# -- finding the token ---------------------------------------------------------------------

def test_find_token_in_each_place_in_order():
    assert find_token(auth={"token": "A"}, headers={"Authorization": "Bearer B"},
                      query={"token": "C"}) == "A"
    assert find_token(auth={}, headers={"Authorization": "Bearer B"}, query={"token": "C"}) == "B"
    assert find_token(headers={"Authorization": "bearer   B "}) == "B"
    assert find_token(headers={"Authorization": "Basic xyz"}, query={"token": "C"}) == "C"
    assert find_token(auth="not a dict", headers={}, query={}) is None
    assert find_token() is None
    assert find_token(auth={"token": 5}) == 5  # passed on, so verification refuses it
