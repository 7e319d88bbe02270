"""What the LiteLLM tests share with their fixtures (importable as ``litellm_helpers``, unlike a conftest)."""

from __future__ import annotations

from dataclasses import dataclass

from prefect_sora.blocks import SoraCredentials
from prefect_sora.emulator import Emulator


@dataclass
class Proxied:
    """The emulator (the upstream), the proxy's base URL and credentials pointing at the proxy."""

    emulator: Emulator
    base_url: str
    credentials: SoraCredentials

    def stop_upstream(self) -> None:
        self.emulator.stop()

    def start_upstream(self) -> None:
        self.emulator.start()  # the same port: the proxy's config names it
