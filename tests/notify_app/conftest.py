"""A real notify process shared by a test module."""

from __future__ import annotations

import pytest

from tests.clients import Publisher
from tests.support import Service


@pytest.fixture(scope="module")
def notify(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("notify")
    service = Service("notify", {"AUTH_TIMEOUT": "1.5",
                                 "DATABASE_URL": f"sqlite:///{workdir}/inbox.db"}, workdir)
    service.start()
    yield service
    assert service.stop() == 0
    assert "Traceback" not in service.log(), service.log()


@pytest.fixture
def publisher(notify):
    return Publisher(notify.url)
