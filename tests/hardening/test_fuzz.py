"""Schemathesis fuzzes every operation of /api/openapi.json through the gateway: no 5xx.

Bounded (25 examples per operation, derandomized) and authenticated with a publisher
token, so requests get past authentication into validation, storage and the handlers.
The document and every request go through the gateway.

Schemathesis's own pytest plugin (``from_fixture``) does not run under pytest 9 (it sets
``node._nodeid``), so each operation is driven with its Hypothesis strategy directly.
"""

from __future__ import annotations

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from common.auth import PUBLISH_SCOPE, mint_token
from tests.hardening.conftest import Stack
from tests.support import SECRET

pytestmark = pytest.mark.timeout(420)

TOKEN = mint_token(SECRET, "fuzz-svc", scopes=[PUBLISH_SCOPE], ttl=3600)
OPERATIONS = [("POST", "/api/notifications"), ("GET", "/api/notifications"),
              ("GET", "/api/notifications/unread-count"),
              ("POST", "/api/notifications/{notification_id}/read"),
              ("POST", "/api/notifications/read-all")]


@pytest.fixture(scope="module")
def fuzz_stack(tmp_path_factory):
    stack = Stack(tmp_path_factory.mktemp("fuzz")).start()
    yield stack
    assert stack.stop() == [0, 0]
    logs = stack.logs()
    assert "Traceback" not in logs, logs[-3000:]


@pytest.fixture(scope="module")
def api_schema(fuzz_stack):
    return schemathesis.openapi.from_url(fuzz_stack.gateway.url + "/api/openapi.json",
                                         timeout=10)


def test_the_document_lists_every_operation_fuzzed(api_schema):
    found = {(op.ok().method.upper(), op.ok().path) for op in api_schema.get_all_operations()}
    assert found == set(OPERATIONS)


@pytest.mark.parametrize("method, path", OPERATIONS)
def test_no_server_errors(api_schema, fuzz_stack, method, path):
    operation = api_schema[path][method]
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {TOKEN}"

    @given(case=operation.as_strategy())
    @settings(max_examples=25, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def fuzz(case) -> None:
        response = case.call(base_url=fuzz_stack.gateway.url, session=session, timeout=15)
        assert response.status_code < 500, (case.method, case.formatted_path, response.text)
        case.validate_response(response, checks=[not_a_server_error])

    fuzz()
