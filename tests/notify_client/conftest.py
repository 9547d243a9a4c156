"""A real notify process per test module, a publisher token, and sockets that clean up."""

from __future__ import annotations

import pytest

from common.auth import PUBLISH_SCOPE, mint_token
from tests.support import SECRET, Service


@pytest.fixture(scope="module")
def notify(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("notify")
    service = Service("notify", {"DATABASE_URL": f"sqlite:///{workdir}/inbox.db"}, workdir)
    service.start()
    yield service
    assert service.stop() == 0
    assert "Traceback" not in service.log(), service.log()


@pytest.fixture
def pub_token() -> str:
    return mint_token(SECRET, "billing", scopes=[PUBLISH_SCOPE])


