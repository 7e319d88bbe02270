"""The query strings of the read routes: list paging (`limit`, `order`, `after`) and the content `variant`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from prefect_sora.emulator.errors import invalid

Order = Literal["asc", "desc"]
VARIANTS = ("video", "thumbnail", "spritesheet")
DEFAULT_LIST_LIMIT = 20


def validate_list_query(query: Mapping[str, str]) -> tuple[int, Order, str | None]:
    """`limit` (0..100, default 20), `order` (asc/desc, default desc) and `after`."""
    raw_limit = query.get("limit")
    limit = DEFAULT_LIST_LIMIT
    if raw_limit is not None:
        try:
            limit = int(raw_limit)
        except ValueError:
            limit = -1
        if not 0 <= limit <= 100:
            raise invalid(
                f"Invalid 'limit': expected an integer from 0 to 100, got '{raw_limit}'.",
                param="limit",
                code="invalid_value",
            )
    order = query.get("order", "desc")
    if order not in ("asc", "desc"):
        raise invalid(
            f"Invalid 'order': '{order}'. Supported values are: 'asc', 'desc'.",
            param="order",
            code="invalid_value",
        )
    after = query.get("after") or None
    return limit, "asc" if order == "asc" else "desc", after


def validate_variant(query: Mapping[str, str]) -> str:
    """The content `variant`: video (default), thumbnail or spritesheet."""
    variant = query.get("variant", "video")
    if variant not in VARIANTS:
        raise invalid(
            f"Invalid 'variant': '{variant}'. Supported values are: 'video', 'thumbnail', 'spritesheet'.",
            param="variant",
            code="invalid_value",
        )
    return variant
