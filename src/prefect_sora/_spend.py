"""The pure arithmetic of a spend limit: names, amounts in cents, windows, what decay gave back.

A spend limit lives on Prefect's server as a global concurrency limit counted in
cents (its ``limit`` is an integer) whose slots decay at ``limit / window`` per
second, so spending refills over a rolling window. Talking to the server is the
business of ``prefect_sora.tasks._spend``; this module holds what can be checked
and computed without it, so the block, the CLI and the flows refuse the same bad
input the same way, before any request.
"""

from __future__ import annotations

import math
import re
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, InvalidOperation

from prefect_sora._errors import InvalidParameter

#: A spend limit NAME is the Prefect limit ``sora-spend:NAME``; the prefix is what marks it as one.
PREFIX = "sora-spend:"

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_WINDOW_PART = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}

#: The longest window: a week's decay of a one-cent limit is still a float Prefect stores.
MAX_WINDOW_SECONDS = 366 * 86400.0


def check_name(name: object, *, param: str = "spend_limit_name") -> str:
    """The spend limit's own name (letters, digits, ``.``, ``_``, ``-``), or InvalidParameter."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidParameter(param, name, "a spend limit's name is 1-100 letters, digits, '.', '_' or '-'")
    return name


def limit_name(name: str) -> str:
    """The Prefect global concurrency limit that holds spend limit ``name``."""
    return f"{PREFIX}{name}"


def check_usd(value: object, *, param: str = "usd") -> Decimal:
    """A positive, finite amount of dollars of at least one cent, or InvalidParameter."""
    if isinstance(value, bool):
        raise InvalidParameter(param, value, "must be a positive number of US dollars")
    try:
        usd = Decimal(str(value).strip().removeprefix("$"))
    except (InvalidOperation, ValueError):
        raise InvalidParameter(param, value, "must be a positive number of US dollars") from None
    if not usd.is_finite() or usd < Decimal("0.01"):
        raise InvalidParameter(param, value, "must be a finite number of US dollars, at least 0.01")
    return usd


def parse_window(value: object, *, param: str = "window") -> float:
    """Seconds of a window written ``24h``, ``30m``, ``7d``, ``1h30m``, ``1w`` or a number of seconds."""
    text = str(value).strip().lower() if isinstance(value, str | int | float) and not isinstance(value, bool) else ""
    seconds: float | None = None
    try:
        seconds = float(text)
    except ValueError:
        parts = _WINDOW_PART.findall(text)
        if parts and "".join(n + u for n, u in parts) == text:
            seconds = sum(float(n) * _UNIT_SECONDS[u] for n, u in parts)
    if seconds is None or not math.isfinite(seconds) or not 1 <= seconds <= MAX_WINDOW_SECONDS:
        raise InvalidParameter(param, value, "must be a duration such as 24h, 30m, 7d or 1h30m (1 second to 366 days)")
    return seconds


def to_cents(usd: Decimal) -> int:
    """Whole cents to reserve for ``usd``: rounded up, so a reservation never covers less than the price."""
    return int((usd * 100).to_integral_value(rounding=ROUND_CEILING))


def limit_cents(usd: Decimal) -> int:
    """Whole cents of a limit of ``usd``: rounded down, so the limit never allows more than asked."""
    return int((usd * 100).to_integral_value(rounding=ROUND_FLOOR))


def usd(cents: int | float) -> Decimal:
    """Cents as dollars, two places."""
    return (Decimal(int(cents)) / 100).quantize(Decimal("0.01"))


def spent_now(active_slots: int, decay_per_second: float, seconds_since_update: float) -> int:
    """Cents still counted in the window, as the server reckons it at its next update.

    The server takes ``floor(decay * seconds since the limit's last update)`` off on
    each update, which is also why a busy limit refills slower than ``limit / window``:
    every update drops the fraction of a cent that had decayed since the one before.
    """
    return max(0, active_slots - math.floor(decay_per_second * max(0.0, seconds_since_update)))
