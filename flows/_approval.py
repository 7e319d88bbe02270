"""The approval gate: a run whose estimate is over ``approve_over_usd`` waits for a person first.

The run pauses (``prefect.flow_runs.pause_flow_run`` with ``wait_for_input``)
before any create, and the Prefect UI shows a form with the estimate, its
breakdown by model and size, the item count and the first prompts. Approving
lets the whole run go on (one approval covers a whole batch); denying it, or
nobody answering within the timeout, ends the run ``Failed`` with
``ApprovalDenied`` and nothing created. The pause runs in the flow's own process,
so it needs no deployment and no persisted results.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation

from prefect.input import RunInput
from pydantic import Field

from prefect_sora._errors import ApprovalDenied, InvalidParameter
from prefect_sora._models import VideoRequest
from prefect_sora._pricing import CostEstimate
from prefect_sora.tasks._common import run_logger

#: How often the paused run asks the server whether it was resumed (Prefect's default is 10 s).
POLL_SECONDS = 2
#: Prompts the form shows, and how much of each.
SHOWN_PROMPTS = 5
PROMPT_CHARS = 100


class ApprovalInput(RunInput):
    """What the person asked to approve a run answers in the Prefect UI's form."""

    approve: bool = Field(default=False, title="Approve", description="Tick to let the run pay for these videos.")
    note: str = Field(
        default="",
        title="Note",
        description="Who decided and why; kept in the run's logs, and in its message if denied.",
    )


def check_threshold(value: object, *, param: str = "approve_over_usd") -> Decimal | None:
    """``approve_over_usd`` as dollars (None: no approval asked), or InvalidParameter before any request."""
    if value is None:
        return None
    try:
        if isinstance(value, bool):
            raise InvalidOperation
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise InvalidParameter(param, value, "must be a number of US dollars >= 0, or empty") from None
    if not amount.is_finite() or amount < 0:
        raise InvalidParameter(param, value, "must be a finite number of US dollars >= 0, or empty")
    return amount


def check_timeout(value: object, *, param: str = "approval_timeout_seconds") -> int:
    """Whole seconds to wait for an answer (at least 1), or InvalidParameter."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 1:
        raise InvalidParameter(param, value, "must be a number of seconds >= 1")
    return math.ceil(value)


def describe(requests: Sequence[VideoRequest], estimates: Sequence[CostEstimate], total: Decimal) -> str:
    """The form's text: the estimate, by model and size, the item count and the first prompts (Markdown)."""
    groups: dict[tuple[str, str], list[CostEstimate]] = defaultdict(list)
    for estimate in estimates:
        groups[(estimate.model, estimate.size)].append(estimate)
    count = len(requests)
    lines = [
        f"## Approve ${total} for {count} video{'s' if count != 1 else ''}?",
        "",
        "Nothing has been sent yet. Switch **Approve** on to go on; leave it off to deny (say why in the note).",
        "",
        "| model | size | videos | seconds | estimate |",
        "|---|---|---|---|---|",
    ]
    for (model, size), group in sorted(groups.items()):
        seconds = sum(e.seconds * e.count for e in group)
        usd = sum((e.total_usd for e in group), Decimal("0"))
        lines.append(f"| {model} | {size} | {len(group)} | {seconds} | ${usd} |")
    lines += ["", f"First prompts ({min(count, SHOWN_PROMPTS)} of {count}):", ""]
    for index, request in enumerate(requests[:SHOWN_PROMPTS]):
        prompt = " ".join(request.prompt.split())
        shown = prompt if len(prompt) <= PROMPT_CHARS else f"{prompt[: PROMPT_CHARS - 3]}..."
        lines.append(f"{index + 1}. {shown.replace('|', '/')}")
    return "\n".join(lines)


async def require_approval(
    requests: Sequence[VideoRequest],
    estimates: Sequence[CostEstimate],
    *,
    total: Decimal,
    approve_over_usd: Decimal | None,
    timeout_seconds: int,
) -> None:
    """Pause for a person's approval if ``total`` is over ``approve_over_usd``; return once approved.

    Raises:
        ApprovalDenied: denied (with the person's note) or not answered within ``timeout_seconds``.
    """
    if approve_over_usd is None or total <= approve_over_usd:
        return
    threshold = f"{approve_over_usd:.2f}"
    from prefect.exceptions import FlowPauseTimeout
    from prefect.flow_runs import apause_flow_run

    logger = run_logger(__name__)
    logger.info(
        "Estimate $%s is over approve_over_usd=$%s: waiting up to %d s for approval in the Prefect UI",
        total,
        threshold,
        timeout_seconds,
    )
    form = ApprovalInput.with_initial_data(description=describe(requests, estimates, total), approve=False, note="")
    try:
        answer = await apause_flow_run(wait_for_input=form, timeout=timeout_seconds, poll_interval=POLL_SECONDS)
    except FlowPauseTimeout:
        raise ApprovalDenied(
            f"Approval of ${total} (over approve_over_usd=${threshold}) timed out after "
            f"{timeout_seconds} s with no answer; nothing was created",
            estimated_usd=total,
            timed_out=True,
        ) from None
    note = answer.note.strip()
    if not answer.approve:
        said = f": {note!r}" if note else " (no note)"
        raise ApprovalDenied(
            f"Approval of ${total} (over approve_over_usd=${threshold}) was denied{said}; nothing was created",
            estimated_usd=total,
            note=note,
        )
    logger.info("Approved $%s%s", total, f": {note!r}" if note else "")
