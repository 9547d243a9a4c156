"""A real notify process behind a real gateway, shared by a test module."""

from __future__ import annotations

import pytest

from tests.support import Service


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """``(notify, gateway)`` processes, the gateway forwarding to notify."""
    workdir = tmp_path_factory.mktemp("stack")
    notify = Service("notify", {"DATABASE_URL": f"sqlite:///{workdir}/inbox.db",
                                "AUTH_TIMEOUT": "2"}, workdir).start()
    gateway = Service("gateway", {"NOTIFY_URL": notify.url}, workdir).start()
    yield notify, gateway
    for service in (gateway, notify):
        assert service.stop() == 0
        assert "Traceback" not in service.log(), service.log()


@pytest.fixture
def gateway(stack):
    return stack[1]

