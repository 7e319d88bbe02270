"""The query strings of the read routes: list paging (`limit`, `order`, `after`) and the content `variant`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal, TypeVar

from prefect_sora.emulator._errors import invalid

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


T = TypeVar("T")


def page_of(items: Sequence[T], ids: Sequence[str], *, limit: int, after: str | None) -> tuple[Sequence[T], bool]:
    """The `limit` items after the one with id `after` (from the start without), and whether more follow.

    Raises:
        APIError: 400 `invalid_cursor` when no item has the id `after`.
    """
    start = 0
    if after is not None:
        if after not in ids:
            raise invalid(f"Invalid 'after': no video with id '{after}'.", param="after", code="invalid_cursor")
        start = ids.index(after) + 1
    page = items[start : start + limit]
    return page, start + len(page) < len(items)
