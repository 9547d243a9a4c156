"""The tunnels' byte pump: one native ``epoll`` loop in a real OS thread for every tunnel.

DESIGN.md section 8: green ``recv``/``sendall`` pumps cost 2.6x nginx's CPU per round trip,
nearly all of it in the hub's register/switch per frame; this loop costs one ``epoll_wait``,
one ``recv`` and one ``send`` per frame.  It runs on the unpatched ``select`` and ``os``
modules, never touches the eventlet hub, and never logs (the logging locks are green):
the green thread that owns a tunnel is told when it ends and does the logging and closing.

Per socket the loop reads only while its peer has nothing pending (backpressure: at most
one read's worth is buffered per direction), asks for ``EPOLLOUT`` only while something is
pending, and relays EOF as ``shutdown(SHUT_WR)`` once the pending bytes are out
(half-close).  A socket neither read nor written is removed from the epoll set, because
``EPOLLHUP`` would otherwise be reported on it in a busy loop.  Errors end the tunnel and
shut both sockets down.  The sockets stay open (they belong to the green side) until the
tunnel's ``on_done`` has been called, after which the loop never touches them again.

A tunnel one side of which has ended is given ``half_close_timeout`` seconds for the other
to end too; after that it is cut, so a client that never reads nor closes cannot hold the
gateway's two descriptors for ever.
"""

from __future__ import annotations

import collections
import contextlib
import socket
from collections.abc import Callable

from common import runtime

_select = runtime.original_module("select")
_os = runtime.original_module("os")
_threading = runtime.original_module("threading")
_time = runtime.original_module("time")

EPOLLIN, EPOLLOUT = _select.EPOLLIN, _select.EPOLLOUT
EPOLLERR, EPOLLHUP = _select.EPOLLERR, _select.EPOLLHUP
CHUNK = 64 * 1024


class Side:
    """One socket of a tunnel and what is waiting to be written to it."""

    __slots__ = ("sock", "fd", "peer", "tunnel", "pending", "eof", "shut", "mask", "received")

    def __init__(self, sock: socket.socket, tunnel: Tunnel) -> None:
        self.sock = sock
        self.fd = sock.fileno()
        self.tunnel = tunnel
        self.peer: Side = self
        self.pending = b""  # bytes read from the peer, not yet written to this socket
        self.eof = False  # this socket sent EOF
        self.shut = False  # we shut down writing to this socket
        self.mask = 0  # what the epoll set holds for it (0: not in the set)
        self.received = 0

    def wanted(self) -> int:
        mask = EPOLLOUT if self.pending else 0
        if not self.eof and not self.peer.pending:
            mask |= EPOLLIN
        return mask


class Tunnel:
    """Two sockets spliced together; ``on_done`` is called (from the loop's thread) once."""

    __slots__ = ("client", "upstream", "on_done", "error", "finished")

    def __init__(self, client: socket.socket, upstream: socket.socket,
                 on_done: Callable[[], None]) -> None:
        self.client = Side(client, self)
        self.upstream = Side(upstream, self)
        self.client.peer, self.upstream.peer = self.upstream, self.client
        self.on_done = on_done
        self.error: OSError | None = None
        self.finished = False

    @property
    def bytes_up(self) -> int:
        return self.client.received

    @property
    def bytes_down(self) -> int:
        return self.upstream.received


class Forwarder:
    """The process's one forwarding loop; :meth:`add` hands it a tunnel."""

    def __init__(self, half_close_timeout: float = 10.0) -> None:
        self.half_close_timeout = half_close_timeout
        self._half_closed: dict[Tunnel, float] = {}  # tunnel -> when it is cut
        self._epoll = _select.epoll()
        self._sides: dict[int, Side] = {}
        self._incoming: collections.deque[Tunnel] = collections.deque()
        self._wake_read, self._wake_write = _os.pipe()
        _os.set_blocking(self._wake_read, False)
        _os.set_blocking(self._wake_write, False)
        self._epoll.register(self._wake_read, EPOLLIN)
        self._buffer = bytearray(CHUNK)
        self._view = memoryview(self._buffer)
        self._start_lock = _threading.Lock()
        self._started = False

    def add(self, client: socket.socket, upstream: socket.socket,
            on_done: Callable[[], None]) -> Tunnel:
        """Forward between two connected sockets (OS-level, non-blocking) until both end."""
        self._start()
        tunnel = Tunnel(client, upstream, on_done)
        # Only the loop's thread touches the epoll set and the sides: it registers them.
        self._incoming.append(tunnel)
        self._wake()
        return tunnel

    def shutdown_all(self) -> None:
        """Shut every tunnel's sockets down, so that each ends promptly (server stop)."""
        for side in list(self._sides.values()):
            with contextlib.suppress(OSError):
                side.sock.shutdown(socket.SHUT_RDWR)

    def __len__(self) -> int:
        return len(self._sides) // 2

    def _start(self) -> None:
        with self._start_lock:
            if not self._started:
                runtime.start_native_thread(self._run, "tunnel-forwarder")
                self._started = True

    def _wake(self) -> None:
        with contextlib.suppress(BlockingIOError):  # full pipe: a wake-up is pending
            _os.write(self._wake_write, b"!")

    def _run(self) -> None:
        poll, sides, wake = self._epoll.poll, self._sides, self._wake_read
        while True:
            for fd, events in poll(1.0 if self._half_closed else -1):
                side = sides.get(fd)
                if side is not None:
                    self._handle(side, events)
                elif fd == wake:
                    self._accept_new()
            if self._half_closed:
                self._cut_overdue()

    def _cut_overdue(self) -> None:
        now = _time.monotonic()
        for tunnel, deadline in list(self._half_closed.items()):
            if now >= deadline:
                self._finish(tunnel, TimeoutError("one side ended, the other never did"))

    def _accept_new(self) -> None:
        with contextlib.suppress(BlockingIOError):
            _os.read(self._wake_read, 4096)
        while self._incoming:
            tunnel = self._incoming.popleft()
            for side in (tunnel.client, tunnel.upstream):
                self._sides[side.fd] = side
                self._update(side)

    def _handle(self, side: Side, events: int) -> None:
        tunnel = side.tunnel
        try:
            if side.pending and events & (EPOLLOUT | EPOLLERR | EPOLLHUP):
                self._flush(side)
            if not tunnel.finished and events & (EPOLLIN | EPOLLERR | EPOLLHUP) \
                    and not side.eof and not side.peer.pending:
                self._pump(side)
        except OSError as exc:
            self._finish(tunnel, exc)
        except Exception as exc:  # a bug here must not stop every other tunnel
            self._finish(tunnel, OSError(f"forwarder error: {exc!r}"))

    def _pump(self, side: Side) -> None:
        """Read what ``side`` sent and pass it on to its peer."""
        peer = side.peer
        try:
            size = side.sock.recv_into(self._buffer)
        except BlockingIOError:
            return
        if not size:
            side.eof = True
            self._half_closed.setdefault(side.tunnel,
                                         _time.monotonic() + self.half_close_timeout)
            self._relay_eof(side)
            return
        side.received += size
        data = self._view[:size]
        try:
            sent = peer.sock.send(data)
        except BlockingIOError:
            sent = 0
        if sent < size:
            peer.pending = bytes(data[sent:])
            self._update(side)
            self._update(peer)

    def _flush(self, side: Side) -> None:
        """Write what is pending for ``side``; once out, its peer is read again."""
        try:
            sent = side.sock.send(side.pending)
        except BlockingIOError:
            return
        side.pending = side.pending[sent:]
        if not side.pending:
            if side.peer.eof:
                self._relay_eof(side.peer)
                return
            self._update(side)
            self._update(side.peer)

    def _relay_eof(self, side: Side) -> None:
        """``side`` sent EOF: pass it on to the peer once nothing is pending for it."""
        peer = side.peer
        if not peer.pending and not peer.shut:
            peer.shut = True
            peer.sock.shutdown(socket.SHUT_WR)
        if side.eof and peer.eof and not side.pending and not peer.pending:
            self._finish(side.tunnel, None)
            return
        self._update(side)
        self._update(peer)

    def _update(self, side: Side) -> None:
        mask = side.wanted()
        if mask == side.mask:
            return
        if not mask:
            self._epoll.unregister(side.fd)
        elif not side.mask:
            self._epoll.register(side.fd, mask)
        else:
            self._epoll.modify(side.fd, mask)
        side.mask = mask

    def _finish(self, tunnel: Tunnel, error: OSError | None) -> None:
        if tunnel.finished:
            return
        tunnel.finished = True
        tunnel.error = error
        self._half_closed.pop(tunnel, None)
        for side in (tunnel.client, tunnel.upstream):
            if self._sides.get(side.fd) is side:
                del self._sides[side.fd]
            if side.mask:
                with contextlib.suppress(OSError):
                    self._epoll.unregister(side.fd)
                side.mask = 0
            if error is not None:
                with contextlib.suppress(OSError):
                    side.sock.shutdown(socket.SHUT_RDWR)
        tunnel.on_done()
