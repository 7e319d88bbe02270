"""Prefect blocks of prefect-sora; importing this module registers them with Prefect."""

from prefect_sora.blocks._credentials import SoraCredentials
from prefect_sora.blocks._storage import SoraStorage

__all__ = ["SoraCredentials", "SoraStorage"]
