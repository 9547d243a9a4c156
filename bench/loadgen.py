"""Load generator processes: each runs one asyncio loop (uvloop when installed).

The orchestrating process sends commands over a pipe and reads their results, so it can
read every server's CPU time from ``/proc`` right before and after each measured command,
and the generator's own CPU is that of its own processes (``Generators.pids``).
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import statistics
import time
from typing import Any

import aiohttp

from bench import wsclient

HANDSHAKES = {"websocket": wsclient.handshake_websocket,
              "polling": wsclient.handshake_polling}


class Worker:
    """What one generator process holds between commands."""

    def __init__(self) -> None:
        self.session = wsclient.session()
        self.sockets: list[wsclient.SioSocket] = []
        self.notified = 0
        self.last_notified = 0.0
        self.all_notified = asyncio.Event()

    async def connect(self, url: str, tokens: list[str], concurrency: int = 100) -> dict:
        """Open one authenticated socket per token (``concurrency`` at a time)."""
        started = time.monotonic()
        gate = asyncio.Semaphore(concurrency)
        failures: list[str] = []

        async def one(token: str) -> None:
            async with gate:
                try:
                    sock = await wsclient.SioSocket.connect(self.session, url, token)
                except (OSError, aiohttp.ClientError, wsclient.ConnectRefused, TimeoutError,
                        ConnectionError) as exc:
                    failures.append(repr(exc)[:200])
                    return
                sock.on_first_notification = self._notified
                self.sockets.append(sock)

        await asyncio.gather(*(one(t) for t in tokens))
        return {"connected": len(self.sockets), "failed": len(failures),
                "errors": failures[:3], "seconds": time.monotonic() - started}

    def _notified(self, _sock: wsclient.SioSocket) -> None:
        self.notified += 1
        self.last_notified = time.monotonic()
        if self.notified >= len(self.sockets):
            self.all_notified.set()

    async def wait_notified(self, timeout: float) -> dict:
        """Wait until every socket has had a notification; when the last one came."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self.all_notified.wait()
        return {"notified": self.notified, "sockets": len(self.sockets),
                "last": self.last_notified}

    async def roundtrips(self, duration: float) -> dict:
        """Every socket emits ``mark_read`` and awaits the ack, back to back."""
        latencies: list[float] = []
        errors = 0
        stop_at = time.monotonic() + duration

        async def loop(sock: wsclient.SioSocket) -> None:
            nonlocal errors
            clock = time.perf_counter
            while time.monotonic() < stop_at:
                begun = clock()
                try:
                    await sock.call("mark_read", {"ids": []})
                except ConnectionError:
                    errors += 1
                    return
                latencies.append(clock() - begun)

        started = time.monotonic()
        await asyncio.gather(*(loop(s) for s in self.sockets))
        elapsed = time.monotonic() - started
        return {"count": len(latencies), "seconds": elapsed, "errors": errors,
                **latency_summary(latencies)}

    async def handshakes(self, url: str, tokens: list[str], mode: str, duration: float,
                         concurrency: int) -> dict:
        """Authenticated connects (and disconnects) back to back on ``concurrency`` loops."""
        handshake = HANDSHAKES[mode]
        latencies: list[float] = []
        errors: list[str] = []
        stop_at = time.monotonic() + duration

        async def loop(index: int) -> None:
            clock = time.perf_counter
            while time.monotonic() < stop_at:
                begun = clock()
                try:
                    await handshake(self.session, url, tokens[index % len(tokens)])
                except (OSError, aiohttp.ClientError, wsclient.ConnectRefused, TimeoutError,
                        ConnectionError, ValueError) as exc:
                    errors.append(repr(exc)[:200])
                    await asyncio.sleep(0.01)
                    continue
                latencies.append(clock() - begun)

        started = time.monotonic()
        await asyncio.gather(*(loop(i) for i in range(concurrency)))
        return {"count": len(latencies), "seconds": time.monotonic() - started,
                "errors": len(errors), "error_samples": errors[:3],
                **latency_summary(latencies)}

    async def close(self) -> dict:
        """Disconnect every socket."""
        sockets, self.sockets = self.sockets, []
        await asyncio.gather(*(s.close() for s in sockets), return_exceptions=True)
        self.notified, self.last_notified = 0, 0.0
        self.all_notified = asyncio.Event()
        return {"closed": len(sockets)}


def latency_summary(latencies: list[float]) -> dict:
    if not latencies:
        return {"p50_ms": None, "p99_ms": None, "mean_ms": None}
    ordered = sorted(latencies)
    return {"p50_ms": ordered[len(ordered) // 2] * 1000,
            "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
            "mean_ms": statistics.fmean(ordered) * 1000}


def _main(conn: Any) -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # plain asyncio works, only costs more CPU per message
        pass
    asyncio.run(_serve(conn))


async def _serve(conn: Any) -> None:
    worker = Worker()
    loop = asyncio.get_running_loop()
    try:
        while True:
            command, kwargs = await loop.run_in_executor(None, conn.recv)
            if command == "stop":
                break
            try:
                result = await getattr(worker, command)(**kwargs)
            except Exception as exc:  # noqa: BLE001 - reported to the orchestrator
                result = {"exception": repr(exc)}
            conn.send(result)
    finally:
        await worker.close()
        await worker.session.close()


class Generators:
    """``count`` generator processes, each driven by the same command in parallel."""

    def __init__(self, count: int = 1) -> None:
        context = multiprocessing.get_context("spawn")
        self.pipes = []
        self.processes = []
        for _ in range(count):
            ours, theirs = context.Pipe()
            process = context.Process(target=_main, args=(theirs,), daemon=True)
            process.start()
            self.pipes.append(ours)
            self.processes.append(process)

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes]

    def call(self, command: str, per_worker: list[dict] | None = None, **kwargs: Any
             ) -> list[dict]:
        """Run ``command`` in every process at once (``per_worker`` kwargs, or the same)."""
        for index, pipe in enumerate(self.pipes):
            pipe.send((command, per_worker[index] if per_worker else kwargs))
        results = [pipe.recv() for pipe in self.pipes]
        for result in results:
            if "exception" in result:
                raise RuntimeError(f"generator {command} failed: {result['exception']}")
        return results

    def stop(self) -> None:
        for pipe in self.pipes:
            with contextlib.suppress(OSError):
                pipe.send(("stop", {}))
        for process in self.processes:
            process.join(10)
            if process.is_alive():
                process.kill()
