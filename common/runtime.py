"""Every eventlet-specific call: monkey-patching, listening, serving, green threads.

Keeping them here means a gevent backend could replace this one module without the apps
changing.  ``monkey_patch()`` is called by ``wsgi.py`` only, before anything else imports.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import warnings
from collections.abc import Callable
from typing import Any

with warnings.catch_warnings():
    # eventlet warns at import that it is in bug-fix mode; DESIGN.md section 2 records why
    # it is still the runtime here, so the warning would only be noise in every start-up.
    warnings.simplefilter("ignore")
    import eventlet
    import eventlet.wsgi
from eventlet import greenthread
from eventlet.hubs import trampoline

log = logging.getLogger(__name__)

ASYNC_MODE = "eventlet"  # what Flask-SocketIO is told


def monkey_patch() -> None:
    eventlet.monkey_patch()


def listen(host: str, port: int, *, backlog: int = 2048, reuse_port: bool = False) -> socket.socket:
    """A listening socket (``port`` 0 picks a free one; ``reuse_port`` lets processes share it)."""
    return eventlet.listen((host, port), backlog=backlog, reuse_port=reuse_port)


def spawn(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> greenthread.GreenThread:
    return eventlet.spawn(fn, *args, **kwargs)


def spawn_after(seconds: float, fn: Callable[..., Any], *args: Any) -> greenthread.GreenThread:
    """Run ``fn`` later; the returned handle's ``cancel()`` stops it if it has not started."""
    return eventlet.spawn_after(seconds, fn, *args)


def sleep(seconds: float = 0) -> None:
    eventlet.sleep(seconds)


def serve(app: Any, sock: socket.socket, *, name: str, max_connections: int,
          grace: float = 10.0, on_stop: Callable[[], None] | None = None) -> None:
    """Serve ``app`` on ``sock`` until SIGTERM or SIGINT, then stop within ``grace`` seconds.

    On a signal: stop accepting, run ``on_stop`` (e.g. tell sockets to reconnect), and give
    in-flight requests ``grace`` seconds before returning.
    """
    host, port = sock.getsockname()[:2]
    server = eventlet.spawn(
        eventlet.wsgi.server, sock, app, max_size=max_connections, log_output=False,
        log=logging.getLogger(f"{name}.wsgi"), debug=False, keepalive=75,
    )
    log.info("%s listening on http://%s:%s", name, host, port)
    signum = _wait_for_signal(signal.SIGTERM, signal.SIGINT)
    log.info("%s stopping (%s)", name, signal.Signals(signum).name)
    if on_stop is not None:
        on_stop()
    server.kill(SystemExit)  # leaves the accept loop; the server then waits for requests
    with eventlet.Timeout(grace, False):
        server.wait()
    log.info("%s stopped", name)


def _wait_for_signal(*signums: int) -> int:
    """Block this green thread until one of ``signums`` arrives; return it.

    The C-level handler writes the signal number to a pipe (``set_wakeup_fd``), and the hub
    waits on that pipe, so the signal wakes the hub at once instead of at its next timer.
    """
    read_fd, write_fd = os.pipe()
    os.set_blocking(read_fd, False)
    os.set_blocking(write_fd, False)
    signal.set_wakeup_fd(write_fd)
    for signum in signums:
        signal.signal(signum, lambda *_: None)
    while True:
        trampoline(read_fd, read=True)
        received = os.read(read_fd, 64)
        for signum in received:
            if signum in signums:
                return signum
