"""How a Video object goes on the wire: the deviations some gateways show, applied on the way out.

Compatible gateways send the same object with small differences a client must survive:
statuses renamed (`status_aliases`, e.g. ``{"in_progress": "processing"}``), timestamps as
floats, numeric strings or ISO 8601 (`timestamp_format`), fields sent as null
(`null_fields`) or left out (`omit_fields`). `VideoStyle` is built once per config change,
and with none of these set it hands the job's view over untouched, so the poll path pays
nothing for them.
"""

from __future__ import annotations

from datetime import datetime, timezone

from prefect_sora.emulator._config import EmulatorConfig, TimestampFormat
from prefect_sora.emulator._jobs import Job, Stamp


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _float(moment: float) -> float:
    return round(moment, 3)


def _string(moment: float) -> str:
    return str(int(moment))


STAMPS: dict[TimestampFormat, Stamp] = {"int": int, "float": _float, "string": _string, "iso": _iso}


class VideoStyle:
    """The config's wire deviations for Video objects (and timestamps elsewhere)."""

    __slots__ = ("aliases", "nulls", "omits", "plain", "stamp")

    def __init__(self, config: EmulatorConfig) -> None:
        self.stamp: Stamp = STAMPS[config.timestamp_format]
        self.aliases: dict[str, str] = {str(status): alias for status, alias in config.status_aliases.items()}
        self.nulls = tuple(config.null_fields)
        self.omits = tuple(config.omit_fields)
        self.plain = not (self.aliases or self.nulls or self.omits)

    def render(self, job: Job, now: float) -> dict[str, object]:
        """The Video object of `job` at `now` as this gateway sends it."""
        view = job.view(now, self.stamp)
        if self.plain:
            return view
        alias = self.aliases.get(str(view["status"]))
        if alias is not None:
            view["status"] = alias
        for nulled in self.nulls:
            view[nulled] = None
        for omitted in self.omits:
            view.pop(omitted, None)
        return view
