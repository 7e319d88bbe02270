"""Async tasks that also hand sync flows a value instead of a coroutine, keyword-only after the first.

A Prefect 3 async task called from a sync flow returns a coroutine the flow
cannot await. ``DualTask`` checks the calling context the way Prefect's own
``async_dispatch`` does: from async code it behaves as the async task it is;
from sync code it runs the task to completion on Prefect's sync-bridge loop and
returns the result. ``.submit()``, ``.map()`` and ``.fn`` are untouched.

Every task takes its first parameter (the credentials block, or the model for
``estimate_cost``) by position and the rest by keyword. Until 0.3, the
parameters the README used to show by position (``positional=``) are still
taken so, with a ``DeprecationWarning`` that names the keyword form.
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from prefect import Task
from prefect.context import get_run_context
from prefect.exceptions import MissingContextError
from prefect.utilities.asyncutils import run_coro_as_sync

R = TypeVar("R")


def _is_in_async_context() -> bool:
    """True inside an async task or flow run, or, outside any run, on a running event loop.

    The same rule as Prefect's private ``is_in_async_context``, from public API
    only, for a Prefect that moves or drops it.
    """
    try:
        run = get_run_context()
    except MissingContextError:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return False
        return True
    caller = getattr(run, "task", None) or getattr(run, "flow", None)
    return bool(getattr(caller, "isasync", True))


try:
    # Prefect's own check, so DualTask decides exactly as Prefect's async_dispatch does.
    from prefect._internal.compatibility.async_dispatch import is_in_async_context
except ImportError:  # private: guarded, with the same rule as the fallback
    is_in_async_context = _is_in_async_context


class DualTask(Task[..., Any]):
    """A Prefect task over an async function, callable from sync and async code alike."""

    #: Parameters after the first that older releases took by position, in that order.
    positional: tuple[str, ...] = ()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        args, kwargs = self._by_keyword(args, kwargs)
        call = super().__call__(*args, **kwargs)
        if is_in_async_context():
            return call
        # With return_state=True the coroutine resolves to the State: run it all the same.
        return run_coro_as_sync(call)

    def submit(self, *args: Any, **kwargs: Any) -> Any:
        args, kwargs = self._by_keyword(args, kwargs)
        return super().submit(*args, **kwargs)

    def map(self, *args: Any, **kwargs: Any) -> Any:
        args, kwargs = self._by_keyword(args, kwargs)
        return super().map(*args, **kwargs)

    def with_options(self, **options: Any) -> DualTask:
        task = super().with_options(**options)
        task.__class__ = DualTask
        assert isinstance(task, DualTask)  # for the type checker: the class was just set
        task.positional = self.positional
        return task

    def _by_keyword(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """Turn the deprecated positional arguments after the first into keywords, with a warning."""
        if len(args) <= 1:
            return args, kwargs
        extra = args[1:]
        name = self.fn.__name__
        if len(extra) > len(self.positional):
            raise TypeError(f"{name}() takes its first argument by position and the others by keyword")
        names = self.positional[: len(extra)]
        if given := [n for n in names if n in kwargs]:
            raise TypeError(f"{name}() got multiple values for {', '.join(given)}")
        first = self.fn.__code__.co_varnames[0]
        keywords = ", ".join(f"{n}=..." for n in names)
        warnings.warn(
            f"Passing {', '.join(names)} to {name}() by position is deprecated and stops working in 0.3; "
            f"write {name}({first}, {keywords})",
            DeprecationWarning,
            stacklevel=3,  # the caller of the task
        )
        return args[:1], {**dict(zip(names, extra, strict=True)), **kwargs}


def dual_task(
    *, positional: tuple[str, ...] = (), **options: Any
) -> Callable[[Callable[..., Coroutine[Any, Any, R]]], DualTask]:
    """Like ``@task(...)``, for an async function that sync flows may call too.

    Args:
        positional: The parameters after the first that 0.1 took by
            position, in their old order: still accepted so, with a DeprecationWarning.
        **options: Passed to :class:`prefect.Task`.
    """

    def decorate(fn: Callable[..., Coroutine[Any, Any, R]]) -> DualTask:
        task = DualTask(fn=fn, **options)
        task.positional = positional
        return task

    return decorate
