"""Where a flow gets its credentials: a block object, a saved block's name, or the environment."""

from __future__ import annotations

from prefect_sora.blocks.credentials import SoraCredentials
from prefect_sora.errors import InvalidParameter

CredentialsParam = SoraCredentials | str | None


async def resolve_credentials(credentials: CredentialsParam) -> SoraCredentials:
    """The block itself; a saved ``SoraCredentials`` block by name; else ``SORA_API_KEY`` / ``SORA_BASE_URL``.

    Raises:
        InvalidParameter: none of them is available.
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
        return loaded
    return SoraCredentials.from_env()
