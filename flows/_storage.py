"""Where a flow stores its videos: ``out`` alone, or ``out`` under a SoraStorage block (an object or a saved name).

Secrets never travel as flow parameters: Prefect stores a run's parameters and
shows them in the UI, so storage options that name a key, a secret or a token
are refused here, pointing to the block that keeps them secret.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from prefect_sora._durable.storage import merge_options, secret_option_paths
from prefect_sora._errors import InvalidParameter
from prefect_sora.blocks._storage import SoraStorage
from prefect_sora.flows._credentials import invalid_block, saved_block_name


@dataclass(frozen=True)
class Target:
    """Where a run writes: the resolved ``out`` URL and every fsspec option for it (secrets included).

    Never a flow parameter, a log line or a result: only handed to the code that writes.
    """

    out: str
    storage_options: dict[str, Any] | None


def check_plain_options(storage_options: dict[str, Any] | None, *, param: str = "storage_options") -> None:
    """Refuse plain ``storage_options`` that hold secrets, naming them (never their values) and the block to use.

    ``image_storage_options`` (where an image is read from) is checked the same way;
    its secrets belong in the worker's environment (its cloud credentials), not in a
    parameter.

    Raises:
        InvalidParameter: a key, secret, token, password ... is among them.
    """
    secrets = secret_option_paths(storage_options)
    if not secrets:
        return
    if param == "storage_options":
        fix = (
            "keep them in a SoraStorage block (SoraStorage(base_url=..., storage_options={...}).save(NAME)) and "
            "pass storage=NAME"
        )
    else:
        fix = "give the worker its storage credentials through its environment (e.g. AWS_ACCESS_KEY_ID, a profile)"
    raise InvalidParameter(
        param,
        secrets,
        f"these hold secrets, which a flow run's parameters would store and show; {fix}; {param} may keep "
        "only options that are not secret (endpoint, region, anon)",
    )


async def resolve_storage(
    storage: SoraStorage | str | None, *, out: str, storage_options: dict[str, Any] | None
) -> Target:
    """``out`` and its options: as given without a block, else ``out`` under the block's base URL.

    Plain ``storage_options`` (not secret) are laid over the block's own.

    Raises:
        InvalidParameter: plain options hold secrets, no such block is saved, or
            ``out`` leaves the block's base URL.
    """
    check_plain_options(storage_options)
    if storage is None:
        return Target(out, storage_options or None)
    block = await load_storage(storage)
    return Target(block.url(out), merge_options(block.get_storage_options(), storage_options) or None)


async def load_storage(storage: SoraStorage | str) -> SoraStorage:
    """The block itself, or the saved ``SoraStorage`` block of that name.

    Raises:
        InvalidParameter: no such block is saved, or the saved one breaks a rule.
    """
    if isinstance(storage, SoraStorage):
        return storage
    try:
        return await SoraStorage.aload(storage)
    except ValueError as exc:
        raise InvalidParameter("storage", storage, "no SoraStorage block of that name is saved") from exc
    except RuntimeError as exc:
        error = invalid_block(storage, exc)
        if error.param == "credentials":  # its generic answer, worded for the credentials block
            error = InvalidParameter("storage", storage, error.allowed)
        raise error from None


def storage_name(given: SoraStorage | str | None) -> str | None:
    """What shard runs are told about storage: a saved block's name, or None.

    Raises:
        InvalidParameter: ``given`` is a block that was never saved.
    """
    return saved_block_name(given, param="storage")
