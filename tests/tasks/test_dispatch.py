"""The async tasks work from async flows, from sync flows (a value, not a coroutine), and with submit/map."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import sys
from decimal import Decimal

import pytest
from prefect import flow, unmapped
from prefect.futures import PrefectFuture
from prefect.states import State

from prefect_sora._models import Video
from prefect_sora._pricing import CostEstimate
from prefect_sora.blocks import SoraCredentials
from prefect_sora.emulator import Emulator
from prefect_sora.tasks import await_video, estimate_cost, submit_video


def test_an_async_flow_awaits_the_tasks(credentials: SoraCredentials) -> None:
    @flow
    async def generate() -> tuple[Video, CostEstimate]:
        video = await submit_video(credentials, prompt="a heron")
        return await await_video(credentials, video=video), await estimate_cost(seconds=8)

    video, cost = asyncio.run(generate())

    assert isinstance(video, Video) and video.status == "completed"
    assert cost.total_usd == Decimal("0.80")


def test_a_sync_flow_gets_values_not_coroutines(credentials: SoraCredentials) -> None:
    seen: list[object] = []

    @flow
    def generate() -> Video:
        video = submit_video(credentials, prompt="a heron")
        completed = await_video(credentials, video=video)
        seen.extend([video, completed])
        return completed

    result = generate()

    assert not [value for value in seen if inspect.isawaitable(value)]
    assert all(isinstance(value, Video) for value in seen)
    assert result.status == "completed"


def test_a_sync_flow_can_ask_for_the_state(credentials: SoraCredentials) -> None:
    @flow
    def generate() -> tuple[bool, str]:
        state = submit_video(credentials, prompt="a heron", return_state=True)
        return isinstance(state, State) and state.is_completed(), state.result().status

    is_completed_state, status = generate()

    assert is_completed_state
    assert status == "queued"  # the create's answer: the job has just been accepted


def test_submit_and_map_in_a_sync_flow(credentials: SoraCredentials, sora_emulator: Emulator) -> None:
    prompts = ["a heron", "a crane", "an egret"]

    @flow
    def generate() -> list[Video]:
        first = submit_video.submit(credentials, prompt=prompts[0])
        assert isinstance(first, PrefectFuture)
        others = submit_video.map(unmapped(credentials), prompt=prompts[1:])
        waited = await_video.map(unmapped(credentials), video=[first, *others])
        return [future.result() for future in waited]

    videos = generate()

    assert [video.prompt for video in videos] == prompts
    assert all(video.status == "completed" for video in videos)
    assert sora_emulator.stats()["creates"] == 3


def test_the_fallback_context_check_agrees_with_prefects_own_everywhere_a_task_is_called() -> None:
    from prefect._internal.compatibility.async_dispatch import is_in_async_context as prefects

    from prefect_sora.tasks._dispatch import _is_in_async_context as fallback

    seen: list[tuple[bool, bool]] = [(fallback(), prefects())]  # no run, no event loop

    async def on_a_loop() -> None:
        seen.append((fallback(), prefects()))

    @flow
    def sync_flow() -> None:
        seen.append((fallback(), prefects()))

    @flow
    async def async_flow() -> None:
        seen.append((fallback(), prefects()))

    asyncio.run(on_a_loop())
    sync_flow()
    asyncio.run(async_flow())

    assert seen == [(False, False), (True, True), (False, False), (True, True)]


def test_without_prefects_private_check_the_tasks_still_give_sync_flows_values(
    credentials: SoraCredentials, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect_sora.tasks import _dispatch

    # A Prefect that moved or dropped the private module: importing it fails.
    monkeypatch.setitem(sys.modules, "prefect._internal.compatibility.async_dispatch", None)
    try:
        importlib.reload(_dispatch)
        assert _dispatch.is_in_async_context is _dispatch._is_in_async_context

        @flow
        def sync_flow() -> Video:
            return await_video(credentials, video=submit_video(credentials, prompt="a heron"))

        @flow
        async def async_flow() -> Video:
            return await await_video(credentials, video=await submit_video(credentials, prompt="a crane"))

        assert sync_flow().status == "completed"
        assert asyncio.run(async_flow()).status == "completed"
    finally:
        monkeypatch.undo()
        importlib.reload(_dispatch)
    assert _dispatch.is_in_async_context is not _dispatch._is_in_async_context
