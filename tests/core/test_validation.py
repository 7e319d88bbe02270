"""Request validation follows the gateway reference and refuses with a message that says how to fix it."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prefect_sora._errors import InvalidParameter, InvalidRequest
from prefect_sora._pricing import price_table
from prefect_sora._validation import validate_request

SIZES_720P = ("720x1280", "1280x720")
SIZES_PRO = ("720x1280", "1280x720", "1024x1792", "1792x1024", "1080x1920", "1920x1080")
# The reference's tiers, written out here rather than read from the code under test.
ALLOWED_SIZES = {"sora-2": SIZES_720P, "sora-2-pro": SIZES_PRO}


@pytest.mark.parametrize(
    ("given_seconds", "sent"), [("4", "4"), ("8", "8"), ("12", "12"), (4, "4"), (8, "8"), (12, "12")]
)
def test_seconds_are_the_string_enum_and_ints_become_strings(given_seconds: Any, sent: str) -> None:
    request = validate_request(prompt="a fox", seconds=given_seconds)

    assert request.seconds == sent
    assert request.model_dump()["seconds"] == sent


@pytest.mark.parametrize("seconds", [10, "10", 4.0, True, None, "4.0", " 4", 0, -4, "15", 16])
def test_any_other_seconds_is_refused_naming_the_value_and_the_choices(seconds: Any) -> None:
    with pytest.raises(InvalidParameter) as caught:
        validate_request(prompt="a fox", seconds=seconds)

    error = caught.value
    assert error.param == "seconds"
    assert error.value == seconds and type(error.value) is type(seconds)
    assert repr(seconds) in str(error)
    assert '"4", "8" or "12"' in str(error)


@pytest.mark.parametrize("size", ["1024x1792", "1792x1024", "1080x1920", "1920x1080"])
def test_sora_2_refuses_sizes_above_720p_and_sora_2_pro_takes_them(size: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        validate_request(prompt="a fox", model="sora-2", size=size)

    assert caught.value.param == "size"
    assert size in str(caught.value)
    assert "sora-2 accepts 720x1280, 1280x720" in str(caught.value)
    assert validate_request(prompt="a fox", model="sora-2-pro", size=size).size == size


@pytest.mark.parametrize("size", ["640x480", "1280X720", "1280x720 ", "", "720p", None, 1280])
def test_a_size_that_is_not_a_sora_size_is_refused(size: Any) -> None:
    with pytest.raises(InvalidParameter) as caught:
        validate_request(prompt="a fox", model="sora-2-pro", size=size)

    assert caught.value.param == "size"
    assert "1920x1080" in caught.value.allowed


@pytest.mark.parametrize(
    ("prompt", "why"),
    [
        ("", "must not be empty"),
        ("   \n\t", "must not be empty"),
        ("x" * 32_001, "at most 32,000 characters, not 32,001"),
        (None, "must be a string"),
    ],
)
def test_a_prompt_outside_1_to_32000_characters_is_refused(prompt: Any, why: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        validate_request(prompt=prompt)

    assert caught.value.param == "prompt"
    assert why in str(caught.value)


def test_a_long_prompt_is_shortened_in_the_message_but_kept_on_the_error() -> None:
    prompt = "y" * 32_001

    with pytest.raises(InvalidParameter) as caught:
        validate_request(prompt=prompt)

    assert len(str(caught.value)) < 300
    assert caught.value.value == prompt


@pytest.mark.parametrize("prompt", ["a", "x" * 32_000])
def test_prompts_of_1_and_32000_characters_are_accepted(prompt: str) -> None:
    assert validate_request(prompt=prompt).prompt == prompt


def test_an_unknown_model_is_refused_with_the_known_ones_listed() -> None:
    with pytest.raises(InvalidParameter) as caught:
        validate_request(prompt="a fox", model="sora-3")

    assert caught.value.param == "model"
    assert "'sora-3'" in str(caught.value)
    assert "sora-2, sora-2-pro" in str(caught.value)


def test_a_model_given_a_price_is_allowed_with_the_sizes_of_its_priced_tiers() -> None:
    table = price_table({"sora-2-mini": {"720p": "0.05"}})

    request = validate_request(prompt="a fox", model="sora-2-mini", size="1280x720", table=table)

    assert request.model == "sora-2-mini"
    with pytest.raises(InvalidParameter, match="size"):
        validate_request(prompt="a fox", model="sora-2-mini", size="1920x1080", table=table)


def test_invalid_parameter_is_an_invalid_request_and_a_value_error() -> None:
    # Callers catching either the hierarchy's class or Python's own see the refusal.
    with pytest.raises(InvalidParameter) as caught:
        validate_request(prompt="a fox", seconds=10)

    assert isinstance(caught.value, InvalidRequest)
    assert isinstance(caught.value, ValueError)
    assert caught.value.status_code is None  # refused locally: no HTTP status


MODELS = st.sampled_from(["sora-2", "sora-2-pro", "sora-1", "SORA-2", ""])
SIZES = st.sampled_from([*SIZES_PRO, "640x480", "1280x720p", ""])
SECONDS = st.sampled_from(["4", "8", "12", 4, 8, 12, "10", 10, 4.0, True, None, "04"])
PROMPT_LENGTHS = st.sampled_from([0, 1, 2, 500, 31_999, 32_000, 32_001, 40_000])
PROMPT_FILL = st.sampled_from(["a", " ", "é"])


def is_valid(model: str, size: str, seconds: Any, prompt: str) -> bool:
    """The reference's rules, restated independently of the code under test."""
    seconds_ok = type(seconds) in (str, int) and str(seconds) in ("4", "8", "12")
    prompt_ok = 1 <= len(prompt) <= 32_000 and bool(prompt.strip())
    return model in ALLOWED_SIZES and size in ALLOWED_SIZES[model] and seconds_ok and prompt_ok


@settings(max_examples=400, deadline=None)
@given(model=MODELS, size=SIZES, seconds=SECONDS, length=PROMPT_LENGTHS, fill=PROMPT_FILL)
def test_valid_combinations_pass_and_every_invalid_one_is_refused(
    model: str, size: str, seconds: Any, length: int, fill: str
) -> None:
    prompt = fill * length
    if is_valid(model, size, seconds, prompt):
        request = validate_request(prompt=prompt, model=model, seconds=seconds, size=size)
        assert (request.model, request.size, request.seconds) == (model, size, str(seconds))
    else:
        with pytest.raises(InvalidParameter) as caught:
            validate_request(prompt=prompt, model=model, seconds=seconds, size=size)
        assert caught.value.param in ("model", "size", "seconds", "prompt")


def test_a_litellm_id_is_read_and_its_remix_refused_before_any_request() -> None:
    import base64

    from prefect_sora._validation import check_remix_source, litellm_route

    packed = "litellm:custom_llm_provider:openai;model_id:sora-2;video_id:video_abc"
    litellm_id = "video_" + base64.b64encode(packed.encode()).decode().rstrip("=")
    assert litellm_route(litellm_id) == {"custom_llm_provider": "openai", "model_id": "sora-2", "video_id": "video_abc"}
    with pytest.raises(InvalidParameter, match="gateway does not support remix"):
        check_remix_source(litellm_id)
    # Plain ids, and ids that merely look like base64, are remixed as usual.
    for other in ("video_abc", "video_" + base64.b64encode(b"not litellm").decode(), "task-1"):
        assert litellm_route(other) is None
        assert check_remix_source(other) == other
