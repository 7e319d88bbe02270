"""A spend limit every process on a key shares, kept by Prefect's server.

The limit is a global concurrency limit named ``sora-spend:NAME`` counted in
cents, whose slots decay at ``limit / window`` per second (a rolling window).
Each job reserves its estimate with one atomic increment before its create: the
server takes it only if it fits (``active + cents <= limit`` in one UPDATE), so
processes racing on one limit can never pass it together. A job that does not
fit is refused with ``SpendLimitReached`` and nothing is sent. A job that fails
(not billed) gives its cents back with one decrement.

Unlike the rate limit (``_pacing.pacer``), a spend limit never lets work through
when it cannot be read: a money limit that silently does nothing is a money bug.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from prefect_sora._errors import InvalidParameter, SpendLimitReached, SubmissionUncertain
from prefect_sora._spend import check_name, limit_cents, limit_name, spent_now, to_cents, usd
from prefect_sora.tasks._common import run_logger

if TYPE_CHECKING:
    from prefect_sora.blocks._credentials import SoraCredentials

#: What every refusal of a missing or foreign limit tells the user to run.
CREATE_HINT = "create it with: prefect-sora spend-limit create {name} --usd 100 --window 24h"


@dataclass(frozen=True)
class SpendLimitState:
    """A spend limit as Prefect's server holds it now.

    Attributes:
        name: The spend limit's name (the Prefect limit is ``sora-spend:NAME``).
        limit_usd: Most that may be reserved within one window.
        window_seconds: The rolling window: reservations decay back over this long.
        spent_usd: Reserved and not yet decayed (what the window has counted).
        remaining_usd: What a job may still reserve now.
    """

    name: str
    limit_usd: Decimal
    window_seconds: float
    spent_usd: Decimal
    remaining_usd: Decimal


def _state(name: str, limit: Any) -> SpendLimitState:
    updated: datetime | None = getattr(limit, "updated", None)
    since = (datetime.now(timezone.utc) - updated).total_seconds() if updated is not None else 0.0
    spent = min(int(limit.limit), spent_now(int(limit.active_slots), float(limit.slot_decay_per_second), since))
    return SpendLimitState(
        name=name,
        limit_usd=usd(limit.limit),
        window_seconds=round(limit.limit / limit.slot_decay_per_second, 3),
        spent_usd=usd(spent),
        remaining_usd=usd(int(limit.limit) - spent),
    )


async def create_spend_limit(name: str, *, usd_limit: Decimal, window_seconds: float) -> SpendLimitState:
    """Create spend limit ``name`` on the Prefect server, or change an existing one's amount and window.

    What was already spent in the window is kept when it is changed.
    """
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate, GlobalConcurrencyLimitUpdate
    from prefect.exceptions import ObjectNotFound

    check_name(name, param="name")
    cents = limit_cents(usd_limit)
    decay = cents / window_seconds
    gcl = limit_name(name)
    async with get_client() as client:
        try:
            await client.read_global_concurrency_limit_by_name(gcl)
        except ObjectNotFound:
            await client.create_global_concurrency_limit(
                GlobalConcurrencyLimitCreate(name=gcl, limit=cents, slot_decay_per_second=decay, active=True)
            )
        else:
            await client.update_global_concurrency_limit(
                gcl, GlobalConcurrencyLimitUpdate(limit=cents, slot_decay_per_second=decay, active=True)
            )
        return _state(name, await client.read_global_concurrency_limit_by_name(gcl))


async def read_spend_limit(name: str, *, param: str = "spend_limit_name") -> SpendLimitState:
    """Spend limit ``name`` as it stands; InvalidParameter if there is none of that name (or it is not one)."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    check_name(name, param=param)
    async with get_client() as client:
        try:
            limit = await client.read_global_concurrency_limit_by_name(limit_name(name))
        except ObjectNotFound:
            try:
                await client.read_global_concurrency_limit_by_name(name)
            except ObjectNotFound:
                where = f"no spend limit {name!r} on the Prefect server at {client.api_url}"
            else:
                where = f"{name!r} is a Prefect concurrency limit, not a spend limit"
            raise InvalidParameter(param, name, f"{where}; {CREATE_HINT.format(name=name)}") from None
        except Exception as exc:  # the API unreachable, refusing us, ...: never go on unguarded
            raise InvalidParameter(param, name, f"could not read the spend limit from Prefect's API: {exc}") from exc
    if not limit.active or not limit.slot_decay_per_second > 0:
        why = "is switched off" if not limit.active else "has no window (slot decay)"
        raise InvalidParameter(param, name, f"the Prefect limit {limit.name!r} {why}; {CREATE_HINT.format(name=name)}")
    return _state(name, limit)


class SpendGuard:
    """Reserves each job's estimate on one spend limit before its create, and gives back a failed job's."""

    def __init__(self, state: SpendLimitState) -> None:
        self.name = state.name
        self.limit_usd = state.limit_usd
        self._gcl = limit_name(state.name)

    def __repr__(self) -> str:
        return f"SpendGuard({self.name!r}, ${self.limit_usd})"

    @classmethod
    async def open(cls, name: str) -> SpendGuard:
        """The guard of spend limit ``name``, refused at once (InvalidParameter) if there is no such limit."""
        return cls(await read_spend_limit(name))

    async def reserve(self, amount_usd: Decimal, *, what: str) -> int:
        """Take ``amount_usd`` (in whole cents, rounded up) from the window, or raise SpendLimitReached.

        Returns:
            The cents reserved, for ``give_back``.
        """
        from prefect.client.orchestration import get_client

        cents = to_cents(amount_usd)
        if cents <= 0:
            return 0
        remaining: Decimal | None = None
        try:
            async with get_client() as client:
                # Read first, and ask only if it fits: Prefect's server writes a refused increment
                # without the decay accrued since the limit's last change, so every refusal sent
                # would set the window's refill back (a limit asked again and again never refills).
                limit = await client.read_global_concurrency_limit_by_name(self._gcl)
                remaining = _state(self.name, limit).remaining_usd
                if not limit.active:
                    detail = "the limit is switched off"
                elif to_cents(remaining) < cents:
                    detail = "not enough left in the window"
                else:
                    response = await client.increment_concurrency_slots([self._gcl], cents, mode="rate_limit")
                    if response.json():
                        run_logger(__name__).info(
                            "%s: reserved $%s on spend limit %r", what.capitalize(), usd(cents), self.name
                        )
                        return cents
                    detail = "the limit no longer exists"  # an increment on a missing limit "succeeds" empty
        except Exception as exc:  # 423 (another process took it first), 404, the API unreachable
            status = getattr(getattr(exc, "response", None), "status_code", None)
            detail = "not enough left in the window" if status in (422, 423) else f"could not reserve: {exc}"
            remaining = await self._remaining() if status in (422, 423) else None
        left = f"${remaining} left" if remaining is not None else "remaining unknown"
        raise SpendLimitReached(
            f"Spend limit {self.name!r} (${self.limit_usd} per window) refused {what}: needs ${usd(cents)}, "
            f"{left} ({detail}); nothing was sent. Rerun with the same idempotency key when the window has room",
            limit_name=self.name,
            needed_usd=usd(cents),
            remaining_usd=remaining,
        )

    async def give_back(self, cents: int, *, what: str, since: float | None = None) -> None:
        """Return a failed (not billed) job's reservation; a failure to return it is logged, never raised."""
        from prefect.client.orchestration import get_client

        if cents <= 0:
            return
        held = max(0.001, time.monotonic() - since) if since is not None else None
        try:
            async with get_client() as client:
                await client.release_concurrency_slots([self._gcl], cents, occupancy_seconds=held or 0.001)
        except Exception as exc:
            run_logger(__name__).warning(
                "%s: could not give $%s back to spend limit %r (%s); it decays back with the window",
                what.capitalize(),
                usd(cents),
                self.name,
                exc,
            )
            return
        run_logger(__name__).info("%s: gave $%s back to spend limit %r", what.capitalize(), usd(cents), self.name)

    async def _remaining(self) -> Decimal | None:
        try:
            return (await read_spend_limit(self.name)).remaining_usd
        except Exception:
            return None


async def spend_guard(credentials: SoraCredentials) -> SpendGuard | None:
    """The guard of the credentials' ``spend_limit_name``, or None; a missing limit is refused here, at the start."""
    name = getattr(credentials, "spend_limit_name", None)
    return await SpendGuard.open(name) if name else None


#: True while a flow's pipeline has already reserved the job its task is about to create.
_RESERVED_BY_CALLER: ContextVar[bool] = ContextVar("prefect_sora_spend_reserved", default=False)


@contextmanager
def reserved_by_caller() -> Iterator[None]:
    """Tell the submit tasks called inside that their create is already reserved (the flows do that)."""
    token = _RESERVED_BY_CALLER.set(True)
    try:
        yield
    finally:
        _RESERVED_BY_CALLER.reset(token)


@asynccontextmanager
async def reserved_create(credentials: SoraCredentials, amount_usd: Decimal, *, what: str) -> AsyncIterator[None]:
    """Reserve ``amount_usd`` on the credentials' spend limit around one create a task makes.

    A task called directly (not by the flows, which reserve themselves) is guarded
    too: every create of a key with a limit is. A create refused outright gives its
    cents back; one whose outcome is uncertain keeps them (it may be billed), and a
    job that fails later drains back with the window.
    """
    guard = None if _RESERVED_BY_CALLER.get() else await spend_guard(credentials)
    if guard is None:
        yield
        return
    since = time.monotonic()
    cents = await guard.reserve(amount_usd, what=what)
    try:
        yield
    except SubmissionUncertain:
        raise
    except BaseException:
        await guard.give_back(cents, what=what, since=since)
        raise
