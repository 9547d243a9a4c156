"""Fixtures shared by every test module."""

from __future__ import annotations

import itertools

import pytest

from common.auth import mint_token
from tests.clients import Recorder
from tests.support import SECRET, Service

_users = itertools.count()

@pytest.fixture
def token():
    """``token(user, scopes=(), ttl=3600, **claims)`` signed with the test secret."""

    def make(user: str = "alice", scopes=(), ttl: int = 3600, **claims) -> str:
        return mint_token(SECRET, user, scopes=scopes, ttl=ttl, **claims)

    return make

@pytest.fixture
def user():
    """A user name no other test uses, so tests sharing a server stay independent."""
    return f"user{next(_users)}"

@pytest.fixture
def recorder():
    """``recorder(**client_options)`` makes python-socketio clients, disconnected afterwards."""
    made: list[Recorder] = []

    def make(**options) -> Recorder:
        made.append(Recorder(**options))
        return made[-1]

    yield make
    for client in made:
        client.close()

@pytest.fixture
def socket_of(recorder, token):
    """``socket_of(url, user)``: a socket of ``user`` connected to ``url``, closed afterwards."""
    return lambda url, user: recorder().connect(url, auth={"token": token(user)})


@pytest.fixture
def start_service(tmp_path):
    """``start_service(command, **env)`` runs ``wsgi.py command`` and stops it afterwards."""
    started: list[Service] = []

    def start(command: str, workdir=None, args=(), **env: str) -> Service:
        service = Service(command, env, workdir or tmp_path, args).start()
        started.append(service)
        return service

    yield start
    for service in reversed(started):
        service.stop()

@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """``(notify, gateway)``: a real notify behind a real gateway, shared by a module."""
    workdir = tmp_path_factory.mktemp("stack")
    notify = Service("notify", {"DATABASE_URL": f"sqlite:///{workdir}/inbox.db",
                                "AUTH_TIMEOUT": "2"}, workdir).start()
    gateway = Service("gateway", {"NOTIFY_URL": notify.url}, workdir).start()
    yield notify, gateway
    for service in (gateway, notify):
        assert service.stop() == 0
        assert "Traceback" not in service.log(), service.log()

@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    from tests.servers import RedisServer

    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()

@pytest.fixture(scope="session")
def postgres_server():
    from tests.servers import PostgresServer

    server = PostgresServer().start()
    yield server
    server.stop()
