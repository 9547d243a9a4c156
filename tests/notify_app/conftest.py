"""A real notify process shared by a test module, and clients that clean up after themselves."""

from __future__ import annotations

import itertools

import pytest

from tests.clients import Publisher, Recorder
from tests.support import Service

_users = itertools.count()


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
def user():
    """A user name no other test uses, so tests sharing a server stay independent."""
    return f"user{next(_users)}"


@pytest.fixture
def publisher(notify):
    return Publisher(notify.url)


@pytest.fixture
def recorder():
    """``recorder(**client_options)`` makes clients that are disconnected afterwards."""
    made: list[Recorder] = []

    def make(**options) -> Recorder:
        made.append(Recorder(**options))
        return made[-1]

    yield make
    for client in made:
        client.close()
