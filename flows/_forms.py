"""How the flows' parameters look in Prefect's run forms.

Prefect builds a deployment's run form from the JSON schema of the flow's
signature. These annotations change only that schema, never what Python
accepts: the API's models and sizes are offered as choices (a typo cannot
reach a run), and a parameter whose empty value means "not given" is one
plain box rather than a choice between a type and ``None`` (which the form
shows as ``Property is type "None"``).
"""

from __future__ import annotations

from typing import Annotated, Any, get_args

from pydantic import WithJsonSchema

from prefect_sora._models import VideoModel, VideoRequest, VideoSize

MODELS: list[str] = list(get_args(VideoModel))
SIZES: list[str] = list(get_args(VideoSize))

# A model given a price in the block's price_overrides is still accepted from
# Python; a deployment that runs one needs `enforce_parameter_schema: false`.
ModelChoice = Annotated[str, WithJsonSchema({"type": "string", "enum": MODELS})]
SizeChoice = Annotated[str, WithJsonSchema({"type": "string", "enum": SIZES})]

#: Text where empty (or None, from Python) means "not given".
OptionalText = Annotated[str | None, WithJsonSchema({"type": "string"})]

#: fsspec options; empty (or None, from Python) means none.
OptionalOptions = Annotated[dict[str, Any] | None, WithJsonSchema({"type": "object"})]


def _requests_schema() -> dict[str, Any]:
    """A batch's items as the form shows them: the request's own schema with models and sizes as choices."""
    item = VideoRequest.model_json_schema()
    item.pop("description", None)  # the class docstring; each field says enough
    item["properties"]["model"]["enum"] = MODELS
    item["properties"]["size"]["enum"] = SIZES
    return {"type": "array", "minItems": 1, "items": item}


#: A batch's requests, each with its model, seconds and size offered as choices.
Requests = Annotated[list[VideoRequest], WithJsonSchema(_requests_schema())]
