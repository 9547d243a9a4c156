"""Every eventlet-specific call: listening, serving, green threads, socket hijacking.

Keeping them here means a gevent backend could replace this one module without the apps
changing.  Monkey-patching is not here: ``wsgi.py``, the process entry point, does it first.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import signal
import socket
import warnings
from collections.abc import Callable
from types import ModuleType
from typing import Any

with warnings.catch_warnings():
    # eventlet warns at import that it is in bug-fix mode; DESIGN.md section 2 records why
    # it is still the runtime here, so the warning would only be noise in every start-up.
    warnings.simplefilter("ignore")
    import eventlet
    import eventlet.event
    import eventlet.patcher
    import eventlet.wsgi
from eventlet import greenthread
from eventlet.hubs import trampoline

log = logging.getLogger(__name__)

ASYNC_MODE = "eventlet"  # what Flask-SocketIO is told


def listen(host: str, port: int, *, backlog: int = 2048, reuse_port: bool = False) -> socket.socket:
    """A listening socket (``port`` 0 picks a free one; ``reuse_port`` lets processes share it).

    ``TCP_NODELAY`` is set here because Linux copies it to every accepted socket: without it,
    an event and its ack written back to back (``unread_count`` then the ``mark_read`` ack)
    wait for the client's delayed ACK, 40 ms per round trip (Nagle).
    """
    sock = eventlet.listen((host, port), backlog=backlog, reuse_port=reuse_port)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


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
    limits = ServerLimits.of(app)
    limits.apply()
    server = eventlet.spawn(
        eventlet.wsgi.server, sock, app, max_size=max_connections, log_output=False,
        log=logging.getLogger(f"{name}.wsgi"), debug=False, keepalive=KEEPALIVE,
        url_length_limit=limits.url_length, socket_timeout=limits.client_timeout,
        protocol=limits.protocol(),
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


KEEPALIVE = 75  # seconds an idle keep-alive connection is kept (above Heroku's 55)


class ServerLimits:
    """What eventlet's WSGI server lets one client send, and how slowly.

    Read from the app's settings (``MAX_URL_LENGTH``, ``MAX_HEADER_LINE``,
    ``MAX_HEADER_BYTES``, ``HEADER_TIMEOUT``, ``CLIENT_TIMEOUT``); eventlet's defaults when
    the app has none.  A request line over the limit is answered 414, a header line or a
    head over its limit 400, and a head not complete within ``HEADER_TIMEOUT`` (a
    slowloris client) gets the connection closed.
    """

    def __init__(self, url_length: int = 8192, header_line: int = 8192,
                 header_bytes: int = 65536, header_timeout: float | None = None,
                 client_timeout: float | None = None) -> None:
        self.url_length = url_length
        self.header_line = header_line
        self.header_bytes = header_bytes
        self.header_timeout = header_timeout
        self.client_timeout = client_timeout

    @classmethod
    def of(cls, app: Any) -> ServerLimits:
        settings = getattr(app, "config", {}).get("SETTINGS")
        if settings is None:
            return cls()
        return cls(settings.MAX_URL_LENGTH, settings.MAX_HEADER_LINE,
                   settings.MAX_HEADER_BYTES, settings.HEADER_TIMEOUT, settings.CLIENT_TIMEOUT)

    def apply(self) -> None:
        # Module constants in eventlet, not server arguments; one server per process.
        eventlet.wsgi.MAX_HEADER_LINE = self.header_line
        eventlet.wsgi.MAX_TOTAL_HEADER_SIZE = self.header_bytes

    def protocol(self) -> type:
        return _protocol(self.header_timeout)


def _protocol(header_timeout: float | None) -> type:
    """eventlet's protocol with a deadline on reading each request's head.

    eventlet times out each read separately (``keepalive`` for the request line, then
    ``socket_timeout``), so a client sending its headers a byte at a time holds a
    connection forever.  Here the request line may take ``keepalive`` (an idle keep-alive
    connection waits for it) plus ``header_timeout``, and the headers ``header_timeout``.
    """
    if header_timeout is None:
        return eventlet.wsgi.HttpProtocol

    class Protocol(eventlet.wsgi.HttpProtocol):
        def _read_request_line(self):
            with eventlet.Timeout(KEEPALIVE + header_timeout, False):
                return super()._read_request_line()
            self.close_connection = 1
            return ""

        def parse_request(self) -> bool:
            with eventlet.Timeout(header_timeout, False):
                return super().parse_request()
            self.close_connection = 1
            return False

    return Protocol


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


# -- native threads and the hijacked socket (the gateway's tunnel) ------------------------

def original_module(name: str) -> ModuleType:
    """The unpatched stdlib module ``name`` (``select``, ``os``, ``threading``...).

    Code running in a real OS thread must use these: the patched versions wait on the
    eventlet hub, which belongs to the main thread.
    """
    return eventlet.patcher.original(name)


def start_native_thread(target: Callable[[], Any], name: str) -> None:
    """Run ``target`` in a real OS thread (a daemon: it never holds the process up)."""
    threading = original_module("threading")
    threading.Thread(target=target, name=name, daemon=True).start()


def native_socket(sock: socket.socket) -> socket.socket:
    """The OS-level socket object behind a green one, usable from a native thread."""
    return getattr(sock, "fd", None) or sock


class ThreadSignal:
    """A one-shot event set from any OS thread and waited on by a green thread.

    All signals share one pipe and one green dispatcher, so a waiting tunnel costs no file
    descriptor of its own (the process has 20,000 and a tunnel already holds two).
    """

    def __init__(self) -> None:
        self._event = eventlet.event.Event()
        # Made here, in a green thread: the dispatcher spawns its own green thread.
        self._dispatcher = _dispatcher()

    def set(self) -> None:
        """Wake the waiter; safe to call from a native thread, and more than once."""
        self._dispatcher.post(self._event)

    def wait(self, timeout: float | None = None) -> bool:
        """Block this green thread until :meth:`set`; ``False`` if ``timeout`` passed first."""
        return bool(self._event.wait(timeout))


class _Dispatcher:
    """Carries events from native threads to the hub: a queue plus a pipe to wake it."""

    def __init__(self) -> None:
        self._os = original_module("os")
        self._queue: collections.deque = collections.deque()
        self._read_fd, self._write_fd = self._os.pipe()
        self._os.set_blocking(self._read_fd, False)
        self._os.set_blocking(self._write_fd, False)
        eventlet.spawn(self._run)

    def post(self, event: Any) -> None:
        self._queue.append(event)
        with contextlib.suppress(BlockingIOError):  # full pipe: a wake-up is pending
            self._os.write(self._write_fd, b"!")

    def _run(self) -> None:
        while True:
            trampoline(self._read_fd, read=True)
            with contextlib.suppress(BlockingIOError):
                self._os.read(self._read_fd, 4096)
            # Drained after reading the pipe, so an event posted meanwhile is never missed.
            while self._queue:
                event = self._queue.popleft()
                if not event.ready():
                    event.send(True)


_DISPATCHER: _Dispatcher | None = None


def _dispatcher() -> _Dispatcher:
    global _DISPATCHER
    if _DISPATCHER is None:
        _DISPATCHER = _Dispatcher()
    return _DISPATCHER


def raw_path(environ: dict) -> str:
    """The request path as the client sent it, still percent-encoded."""
    return environ.get("RAW_PATH_INFO") or environ.get("PATH_INFO") or "/"


def streaming_environ(wsgi_app: Callable) -> Callable:
    """Set up every request for streaming through (the gateway's proxy).

    ``wsgi.input_terminated`` tells werkzeug that eventlet ends the request body itself:
    without it werkzeug reads a chunked body as empty, with it ``MAX_CONTENT_LENGTH`` is
    enforced on streams too.  A minimum write size of 0 makes eventlet send each piece of
    a streamed response at once instead of holding back pieces under 4 KiB.
    """

    def app(environ: dict, start_response: Callable) -> Any:
        environ["wsgi.input_terminated"] = True
        environ["eventlet.minimum_write_chunk_size"] = 0
        return wsgi_app(environ, start_response)

    return app


def hijack(environ: dict) -> tuple[socket.socket, bytes]:
    """Take the client socket from eventlet's WSGI server for the rest of the connection.

    Returns the socket and any bytes the client sent after the request head that the
    server had already buffered.  The server writes nothing more on the socket and closes
    it once the view returns, so the caller must finish with it before returning.
    """
    request_input = environ["eventlet.input"]
    sock = request_input.get_socket()
    eventlet.wsgi.WSGI_LOCAL.already_handled = True
    # A non-blocking peek returns what is buffered without waiting for more.
    sock.setblocking(False)
    try:
        early = request_input.rfile.peek()
        if early:
            early = request_input.rfile.read(len(early))
    except OSError:
        early = b""
    finally:
        sock.setblocking(True)
    return sock, early


def abort_response() -> None:
    """Make eventlet drop the connection instead of ending a streamed response normally.

    A body cut short (the upstream died mid-stream) must not look complete to the client,
    which a final chunked terminator would make it do.
    """
    eventlet.wsgi.WSGI_LOCAL.already_handled = True


def raw_headers(environ: dict) -> tuple[tuple[str, str], ...]:
    """The request headers as the client sent them: names, order and repeats kept.

    eventlet keeps them in ``headers_raw``; its ``CONTENT_TYPE`` is not usable for this,
    since it reads ``text/plain`` when the client sent no Content-Type at all.
    """
    raw = environ.get("headers_raw")
    if raw is not None:
        return raw
    pairs = [(k[5:].replace("_", "-").title(), v) for k, v in environ.items()
             if k.startswith("HTTP_")]
    for key, name in (("CONTENT_TYPE", "Content-Type"), ("CONTENT_LENGTH", "Content-Length")):
        if environ.get(key):
            pairs.append((name, environ[key]))
    return tuple(pairs)
