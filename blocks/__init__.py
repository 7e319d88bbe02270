"""Prefect blocks of prefect-sora; importing this module registers them with Prefect."""

from prefect_sora.blocks.credentials import SoraCredentials

__all__ = ["SoraCredentials"]
