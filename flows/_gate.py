"""The submit gate: one per run, so a lookup of a cut-off create never adopts a sibling's job."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class SubmitGate:
    """Keeps one run's lookups of cut-off creates apart from each other and from its items' creates.

    ``known_ids`` only holds ids already written to the journal; without this, two
    items of the same request cut off mid-create both adopted the newest matching
    job (losing the other, paid one), and a lookup could adopt the job a sibling was
    creating at that moment. Creates run side by side; a lookup runs alone, after the
    creates in flight have written their ids, and holds new creates back meanwhile.
    """

    def __init__(self) -> None:
        self._changed = asyncio.Condition()
        self._creating = 0
        self._looking = False

    @asynccontextmanager
    async def create(self) -> AsyncIterator[None]:
        async with self._changed:
            await self._changed.wait_for(lambda: not self._looking)
            self._creating += 1
        try:
            yield
        finally:
            async with self._changed:
                self._creating -= 1
                self._changed.notify_all()

    @asynccontextmanager
    async def lookup(self) -> AsyncIterator[None]:
        async with self._changed:
            await self._changed.wait_for(lambda: not self._looking)
            self._looking = True
            await self._changed.wait_for(lambda: self._creating == 0)
        try:
            yield
        finally:
            async with self._changed:
                self._looking = False
                self._changed.notify_all()
