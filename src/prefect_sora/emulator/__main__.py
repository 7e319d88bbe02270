"""`python -m prefect_sora.emulator`: the emulator server without the `prefect-sora` CLI.

The CLI package may import Prefect for its other commands; this entry point imports only
the emulator, so CI jobs and benchmarks start it in a fraction of a second. Every scalar
field of `EmulatorConfig` is an option (`--job-seconds 0.5 --failure-rate 0.1 --rpm 60
--profile azure --no-retry-after-headers ...`); the list and mapping fields (deployments,
status aliases, null and omitted fields) are set with `prefect-sora emulator` or in Python.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from types import UnionType
from typing import Literal, Union, get_args, get_origin

from pydantic import SecretStr

from prefect_sora.emulator._config import EmulatorConfig
from prefect_sora.emulator._server import serve


def _scalar(annotation: object) -> tuple[type, tuple[str, ...] | None] | None:
    """The command-line type of a config field (int, float, str or bool) and its choices; None for the rest."""
    args = [arg for arg in get_args(annotation) if arg is not type(None)]
    if get_origin(annotation) not in (Union, UnionType):
        args = [annotation]
    if len(args) != 1:
        return None
    kind = args[0]
    if get_origin(kind) is Literal and all(isinstance(choice, str) for choice in get_args(kind)):
        return str, get_args(kind)
    if kind is SecretStr:
        return str, None
    return (kind, None) if kind in (int, float, str, bool) else None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m prefect_sora.emulator",
        description="Serve the Sora 2 API emulator at http://HOST:PORT/v1 until interrupted.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind")
    parser.add_argument("--port", type=int, default=8000, help="port to bind (0: a free one)")
    for name, field in EmulatorConfig.model_fields.items():
        scalar = _scalar(field.annotation)
        if scalar is None:
            continue
        kind, choices = scalar
        flag, described = f"--{name.replace('_', '-')}", f"EmulatorConfig.{name}"
        if kind is bool:
            switch = argparse.BooleanOptionalAction
            parser.add_argument(flag, dest=name, action=switch, default=argparse.SUPPRESS, help=described)
            continue
        parser.add_argument(
            flag,
            dest=name,
            type=kind,
            choices=choices,
            default=argparse.SUPPRESS,
            help=described,
        )
    # Like `prefect-sora emulator`: fixed 5 s jobs unless told otherwise.
    parser.set_defaults(job_seconds=5.0)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse options, serve until interrupted, return the exit code."""
    options = vars(_parser().parse_args(argv))
    host, port = options.pop("host"), options.pop("port")
    config = EmulatorConfig(**options)

    def announce(base_url: str) -> None:
        print(f"Sora 2 API emulator serving {base_url} (Ctrl-C to stop)", flush=True)

    serve(config, host=host, port=port, on_ready=announce)
    return 0


if __name__ == "__main__":
    sys.exit(main())
