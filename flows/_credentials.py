"""Where a flow gets its credentials: a block object, a saved block's name, or the environment.

Also what the flows share about any block they load (credentials, storage): its refusal
worded for the user, and the name by which shard runs load it again.
"""

from __future__ import annotations

from prefect.blocks.core import Block
from pydantic import ValidationError

from prefect_sora._errors import InvalidParameter
from prefect_sora.blocks._credentials import SoraCredentials


async def resolve_credentials(credentials: SoraCredentials | str | None) -> SoraCredentials:
    """The block itself; a saved ``SoraCredentials`` block by name; else ``SORA_API_KEY`` / ``SORA_BASE_URL``.

    Raises:
        InvalidParameter: none of them is available, or the saved block breaks a rule
            (naming the field and the fix, e.g. a plain ``http://`` base URL).
    """
    if isinstance(credentials, SoraCredentials):
        return credentials
    if isinstance(credentials, str):
        try:
            loaded = await SoraCredentials.aload(credentials)
        except ValueError as exc:
            raise InvalidParameter(
                "credentials", credentials, "no SoraCredentials block of that name is saved"
            ) from exc
        except RuntimeError as exc:
            raise invalid_block(credentials, exc) from None
        return loaded
    return SoraCredentials.from_env()


def invalid_block(name: str, exc: BaseException) -> InvalidParameter:
    """The block's own refusal (e.g. ``base_url`` must use https) where Prefect says only "failed validation".

    Prefect's UI forms save a block without checking it, so a bad value is only
    caught when a run loads the block; Prefect then raises a RuntimeError whose
    cause is the pydantic error that holds the block's InvalidParameter.
    """
    cause = exc if isinstance(exc, ValidationError) else exc.__cause__
    if isinstance(cause, ValidationError):
        for problem in cause.errors():
            if isinstance(error := problem.get("ctx", {}).get("error"), InvalidParameter):
                return error
        fields = ", ".join(str(problem["loc"][0]) for problem in cause.errors() if problem["loc"])
        return InvalidParameter("credentials", name, f"the saved block has invalid fields: {fields}; edit it")
    return InvalidParameter("credentials", name, f"the saved block could not be loaded ({exc}); edit it")


def saved_block_name(given: Block | str | None, *, param: str) -> str | None:
    """What shard runs are told about a block parameter: a saved block's name, or None.

    An unsaved block cannot travel: it would have to go, secrets and all, into the
    shard runs' parameters, which Prefect stores and shows.

    Raises:
        InvalidParameter: ``given`` is a block that was never saved.
    """
    if given is None or isinstance(given, str):
        return given
    name = getattr(given, "_block_document_name", None)
    if name and not getattr(given, "_is_anonymous", False):
        return str(name)
    raise InvalidParameter(
        param,
        f"<an unsaved {type(given).__name__} block>",
        "must be a saved block's name when the batch is sharded (save it with .save(NAME)); "
        "shard runs on other workers load it by name",
    )
