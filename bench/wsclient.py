"""A minimal, fast Socket.IO v5 / Engine.IO v4 client over aiohttp, for load generation.

Only the frames the benchmark needs: ``0{...}`` open, ``40{"token": ...}`` connect with
auth, ``42<id>[...]`` emit with ack, ``43<id>[...]`` ack, ``42["notification", ...]``
events (counted, not parsed), and ``2``/``3`` ping/pong (answered, or the server drops the
socket after ``pingInterval + pingTimeout``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable

import aiohttp

EIO_WS = "/socket.io/?EIO=4&transport=websocket"
EIO_POLL = "/socket.io/?EIO=4&transport=polling"
NOTIFICATION = '42["notification"'


class ConnectRefused(Exception):
    """The server answered the Socket.IO connect with an error packet (``44``)."""


def ws_url(base: str, suffix: str = "") -> str:
    return base.replace("http://", "ws://", 1) + EIO_WS + suffix


class SioSocket:
    """One authenticated Socket.IO socket on the default namespace."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.acks: dict[int, asyncio.Future] = {}
        self.next_id = 0
        self.notifications = 0
        self.on_first_notification: Callable[[SioSocket], None] | None = None
        self.reader: asyncio.Task | None = None

    @classmethod
    async def connect(cls, session: aiohttp.ClientSession, base: str, token: str,
                      timeout: float = 60.0) -> SioSocket:
        ws = await session.ws_connect(ws_url(base), max_msg_size=0, autoping=True,
                                      timeout=aiohttp.ClientWSTimeout(ws_close=1.0),
                                      compress=0)
        try:
            async with asyncio.timeout(timeout):
                opened = await ws.receive_str()
                if not opened.startswith("0"):
                    raise ConnectionError(f"expected an Engine.IO open packet, got {opened!r}")
                await authenticate(ws, token)
        except BaseException:
            await ws.close()
            raise
        sock = cls(ws)
        sock.reader = asyncio.create_task(sock._read())
        return sock

    async def call(self, event: str, payload: object) -> str:
        """Emit ``event`` with an ack id and return the ack's raw JSON arguments."""
        ack_id = self.next_id
        self.next_id += 1
        future = asyncio.get_running_loop().create_future()
        self.acks[ack_id] = future
        await self.ws.send_str(f"42{ack_id}{json.dumps([event, payload], separators=(',', ':'))}")
        return await future

    async def close(self) -> None:
        if self.reader is not None:
            self.reader.cancel()
        if not self.ws.closed:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await self.ws.send_str("41")
        await self.ws.close()

    async def _read(self) -> None:
        ws = self.ws
        try:
            async for message in ws:
                data = message.data
                if not isinstance(data, str) or not data:
                    continue
                if data[0] == "2":
                    await ws.send_str("3")
                elif data.startswith(NOTIFICATION):
                    self.notifications += 1
                    if self.notifications == 1 and self.on_first_notification:
                        self.on_first_notification(self)
                elif data.startswith("43"):
                    self._ack(data)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            for future in self.acks.values():
                if not future.done():
                    future.set_exception(ConnectionError("socket closed"))

    def _ack(self, data: str) -> None:
        end = 2
        while data[end].isdigit():
            end += 1
        future = self.acks.pop(int(data[2:end]), None)
        if future is not None and not future.done():
            future.set_result(data[end:])


async def authenticate(ws: aiohttp.ClientWebSocketResponse, token: str) -> str:
    """Send the Socket.IO connect with ``auth``; return the ``40{"sid"...}`` answer."""
    await ws.send_str("40" + json.dumps({"token": token}))
    while True:
        reply = await ws.receive_str()
        if reply.startswith("40"):
            return reply
        if reply.startswith("44"):
            raise ConnectRefused(reply[2:])
        if reply == "2":
            await ws.send_str("3")


async def handshake_websocket(session: aiohttp.ClientSession, base: str, token: str) -> None:
    """One authenticated connect over the websocket transport, then a clean disconnect."""
    sock = await SioSocket.connect(session, base, token, timeout=30)
    await sock.close()


async def handshake_polling(session: aiohttp.ClientSession, base: str, token: str) -> None:
    """Polling open, connect with auth, then the upgrade to websocket (probe, ``5``)."""
    url = base + EIO_POLL
    async with session.get(url) as response:
        opened = await response.text()
    if not opened.startswith("0"):
        raise ConnectionError(f"polling open failed: {opened[:80]!r}")
    sid = json.loads(opened[1:])["sid"]
    polled = f"{url}&sid={sid}"
    async with session.post(polled, data="40" + json.dumps({"token": token}),
                            headers={"Content-Type": "text/plain;charset=UTF-8"}) as response:
        await response.read()
    async with session.get(polled) as response:
        answer = await response.text()
    if not answer.startswith("40{"):
        raise ConnectRefused(answer[:80])
    ws = await session.ws_connect(ws_url(base, f"&sid={sid}"), max_msg_size=0,
                                  timeout=aiohttp.ClientWSTimeout(ws_close=1.0))
    try:
        await ws.send_str("2probe")
        while (await ws.receive_str()) != "3probe":
            pass
        await ws.send_str("5")
        await ws.send_str("41")
    finally:
        await ws.close()


def session(limit: int = 0) -> aiohttp.ClientSession:
    """A client session without connection limits, proxies or cookie handling."""
    connector = aiohttp.TCPConnector(limit=limit, limit_per_host=0, ttl_dns_cache=None,
                                     enable_cleanup_closed=False)
    return aiohttp.ClientSession(connector=connector, trust_env=False,
                                 cookie_jar=aiohttp.DummyCookieJar(),
                                 timeout=aiohttp.ClientTimeout(total=120))


def now() -> float:
    """CLOCK_MONOTONIC: the same clock in every process of the machine."""
    return time.monotonic()
