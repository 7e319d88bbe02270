"""Per-job directives written into the prompt, moto-style, for tests that need one odd job.

A user's CI test cannot reach into the emulator's config from inside the code under test,
but it chooses the prompt. So a prompt may carry bracketed directives that fix that one
job's fate, whatever the global config says:

===============================  ==========================================================
``[emulator:fail]``              the job ends ``failed`` (code: the first of
                                 ``failure_codes``, ``moderation_blocked`` by default)
``[emulator:fail=CODE]``         the job ends ``failed`` with ``error.code == CODE``
``[emulator:stuck]``             the job stays ``in_progress`` forever
``[emulator:hold]``              the job stays unfinished (queued, in progress) until
                                 ``POST /_emulator/videos/{id}/finish``, then ends as
                                 the other directives say (a test decides when)
``[emulator:seconds=S]``         the job completes (or fails) exactly S seconds after creation
``[emulator:content_bytes=N]``   the video variant is a synthetic body of N bytes
``[emulator:ttl=S]``             the content expires S seconds after completion
``[emulator:fail_at_create]``    the create answer itself says ``failed`` (with an
                                 ``error``), as some gateways do; ``=CODE`` sets the code
``[emulator:end=STATUS]``        at its planned end the job reports STATUS instead of
                                 ``completed`` (``cancelled``, ``expired``, ``rejected``,
                                 ``error``, or anything, e.g. ``weird``); the failure-like
                                 ones carry an ``error``; only ``completed`` has content
``[emulator:pending_status=S]``  while running the job reports S (e.g. ``processing``)
                                 instead of ``in_progress``
``[emulator:defect=KIND]``       the job completes and bills as usual, but its MP4 is not
                                 the video paid for: ``short`` (2 s long), ``small``
                                 (640x360), ``no_video`` (no video track) or
                                 ``truncated_mdat`` (cut off mid-media, its samples past
                                 the end, with a Content-Length that matches)
===============================  ==========================================================

Directives stay in the prompt the API echoes back. An unknown or malformed directive is a
400, so a typo cannot silently turn into an ordinary job.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

_DIRECTIVE = re.compile(r"\[emulator:([^\]=]*)(?:=([^\]]*))?\]", re.IGNORECASE)
_CODE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
#: The ways ``[emulator:defect=KIND]`` spoils a video (see ``_media.render_defective``).
DEFECTS = ("short", "small", "no_video", "truncated_mdat")


class DirectiveError(ValueError):
    """A directive in the prompt that the emulator does not understand."""


@dataclass(frozen=True, slots=True)
class Directives:
    """What the prompt asked of this one job; `None` means "as the config says"."""

    fail: str | None = None
    fail_default: bool = False
    stuck: bool = False
    hold: bool = False
    seconds: float | None = None
    content_bytes: int | None = None
    ttl: float | None = None
    fail_at_create: bool = False
    end: str | None = None
    pending_status: str | None = None
    defect: str | None = None

    @property
    def fails(self) -> bool:
        """Whether the prompt forces a failure."""
        return self.fail is not None or self.fail_default


def _number(name: str, value: str | None) -> float:
    try:
        number = float(value) if value is not None else math.nan
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or number < 0:
        raise DirectiveError(f"[emulator:{name}=...] needs a non-negative number, got {value!r}")
    return number


def _word(name: str, value: str | None) -> str:
    if value is None or not _CODE.match(value):
        raise DirectiveError(f"[emulator:{name}=...] needs a plain word, got {value!r}")
    return value


def parse_directives(prompt: str) -> Directives:
    """The directives in `prompt`.

    Raises:
        DirectiveError: a directive is unknown or its value malformed.
    """
    if "[emulator:" not in prompt.lower():
        return Directives()
    fail: str | None = None
    fail_default = stuck = hold = False
    seconds: float | None = None
    content_bytes: int | None = None
    ttl: float | None = None
    fail_at_create = False
    end: str | None = None
    pending_status: str | None = None
    defect: str | None = None
    for match in _DIRECTIVE.finditer(prompt):
        name, value = match.group(1).strip().lower(), match.group(2)
        value = value.strip() if value is not None else None
        if name in ("fail", "fail_at_create"):
            fail_at_create = fail_at_create or name == "fail_at_create"
            if value is None:
                fail_default = True
            else:
                fail = _word(name, value)
        elif name == "end":
            end = _word(name, value)
        elif name == "pending_status":
            pending_status = _word(name, value)
        elif name == "defect":
            if value not in DEFECTS:
                raise DirectiveError(f"[emulator:defect=...] needs one of {', '.join(DEFECTS)}, got {value!r}")
            defect = value
        elif name == "stuck" and value is None:
            stuck = True
        elif name == "hold" and value is None:
            hold = True
        elif name == "seconds":
            seconds = _number(name, value)
        elif name == "ttl":
            ttl = _number(name, value)
        elif name == "content_bytes":
            size = _number(name, value)
            if size != int(size):
                raise DirectiveError(f"[emulator:content_bytes=N] needs an integer, got {value!r}")
            content_bytes = int(size)
        else:
            raise DirectiveError(f"unknown emulator directive {match.group(0)!r}")
    fates = [stuck, fail is not None or fail_default, end is not None]
    if sum(fates) > 1:
        raise DirectiveError("[emulator:stuck], [emulator:fail...] and [emulator:end=...] exclude each other")
    if hold and (stuck or seconds is not None):
        raise DirectiveError("[emulator:hold] excludes [emulator:stuck] and [emulator:seconds=...]: the test ends it")
    if defect is not None and content_bytes is not None:
        raise DirectiveError("[emulator:defect=...] and [emulator:content_bytes=...] exclude each other")
    return Directives(
        fail=fail,
        fail_default=fail_default,
        stuck=stuck,
        hold=hold,
        seconds=seconds,
        content_bytes=content_bytes,
        ttl=ttl,
        fail_at_create=fail_at_create,
        end=end,
        pending_status=pending_status,
        defect=defect,
    )
