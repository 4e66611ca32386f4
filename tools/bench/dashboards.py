"""Shared by the benchmarks: dashboards watched from a child process, and percentiles."""

from __future__ import annotations

import asyncio
import re
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from multiprocessing.queues import Queue
    from multiprocessing.synchronize import Event

_FIGURE = re.compile(r'data-figure="payments">([0-9]+)<')


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def watch_dashboards(
    url: str,
    cookie: str,
    clients: int,
    ready: Event,
    stop: Event,
    results: Queue[tuple[int, int, list[tuple[float, int]]]],
) -> None:
    """Open `clients` websockets in waves; note (time, payments shown) for every push."""
    import websockets

    seen: list[tuple[float, int]] = []
    opened: list[int] = []
    closed_early: list[int] = []

    async def client() -> None:
        origin = url.replace("ws://", "http://").split("/ws/")[0]
        try:
            async with websockets.connect(
                url,
                origin=origin,
                additional_headers={"Cookie": cookie},
                open_timeout=60,
                max_size=2**22,
                ping_interval=None,
            ) as ws:
                opened.append(1)
                async for message in ws:
                    match = _FIGURE.search(message)
                    seen.append((time.monotonic(), int(match.group(1)) if match else -1))
        except asyncio.CancelledError:
            return
        except (OSError, websockets.ConnectionClosed, websockets.InvalidStatus, TimeoutError):
            closed_early.append(1)

    async def main() -> None:
        tasks = []
        for start in range(0, clients, 50):
            tasks += [asyncio.create_task(client()) for _ in range(min(50, clients - start))]
            for _ in range(200):
                if len(opened) + len(closed_early) >= len(tasks):
                    break
                await asyncio.sleep(0.05)
        ready.set()
        while not stop.is_set():
            await asyncio.sleep(0.1)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    asyncio.run(main())
    results.put((len(opened), len(closed_early), seen))
