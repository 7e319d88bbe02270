"""Characters (``POST /videos/characters``): named stand-ins made from an uploaded video, kept by id."""

from __future__ import annotations

from prefect_sora.emulator._errors import APIError


class Characters:
    """The characters one emulator holds; the owner serialises access (see `EmulatorState`)."""

    def __init__(self) -> None:
        self._by_id: dict[str, dict[str, object]] = {}

    def add(self, character_id: str, name: str, created_at: object) -> dict[str, object]:
        """Store a character; its resource as the API shows it."""
        character: dict[str, object] = {
            "id": character_id,
            "object": "character",
            "name": name,
            "created_at": created_at,
        }
        self._by_id[character_id] = character
        return dict(character)

    def get(self, character_id: str) -> dict[str, object]:
        """A stored character's resource.

        Raises:
            APIError: 404 `character_not_found`.
        """
        character = self._by_id.get(character_id)
        if character is None:
            raise APIError(
                404,
                f"Character with id '{character_id}' not found.",
                param="character_id",
                code="character_not_found",
            )
        return dict(character)

    def clear(self) -> None:
        """Forget every character (the emulator was reset)."""
        self._by_id.clear()
