"""Micro-batching for pipelines: items submitted one by one are handled in batches.

Classification and database writes are much cheaper per item in batches; each caller still
awaits its own result, so Scrapy's item flow is unchanged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class MicroBatcher(Generic[T, R]):
    """Runs ``handler`` on batches of up to ``max_size`` items, ``max_in_flight`` at a time."""

    def __init__(self, handler: Callable[[list[T]], Awaitable[Sequence[R]]], max_size: int = 64,
                 max_wait: float = 0.02, max_in_flight: int = 1) -> None:
        self.handler = handler
        self.max_size = max_size
        self.max_wait = max_wait
        self.max_in_flight = max_in_flight
        self._queue: list[tuple[T, asyncio.Future[R]]] = []
        self._workers: set[asyncio.Future[None]] = set()

    async def submit(self, item: T) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queue.append((item, future))
        # A worker that found the queue empty has ended, though its done-callback may not have
        # run yet: count only the running ones, or this item could wait for nobody.
        self._workers = {w for w in self._workers if not w.done()}
        if len(self._workers) < self.max_in_flight:
            self._workers.add(asyncio.ensure_future(self._run()))
        return await future

    async def drain(self) -> None:
        """Wait until everything submitted so far has been handled."""
        while running := [w for w in self._workers if not w.done()]:
            await asyncio.shield(asyncio.gather(*running))

    async def _run(self) -> None:
        while self._queue:
            if len(self._queue) < self.max_size:
                await asyncio.sleep(self.max_wait)  # let a batch gather
            batch, self._queue = self._queue[: self.max_size], self._queue[self.max_size :]
            if not batch:  # another worker took them while this one waited
                return
            try:
                results = await self.handler([item for item, _ in batch])
            except Exception as exc:  # every waiter hears about the failure
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)
