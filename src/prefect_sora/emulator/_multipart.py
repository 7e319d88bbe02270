"""Request bodies as the create and remix routes see them: JSON or multipart/form-data.

Starlette's form parser needs the optional `python-multipart` package, which neither the
project nor Prefect depends on; the stdlib `email` parser reads multipart/form-data well
enough for an emulator, so the emulator carries no extra dependency for it.

Both encodings come out as one mapping of field name to value, so validation does not care
how the client sent them: JSON values keep their JSON types (the integer 4 stays an int and
is refused), multipart text fields are strings, uploaded files are `UploadedFile`, and
bracketed multipart names (`input_reference[image_url]`, as the official SDK flattens a
nested object) become nested dicts.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP

from prefect_sora.emulator._errors import invalid

_BRACKETED = re.compile(r"^([^\[\]]+)\[([^\[\]]+)\]$")


@dataclass(frozen=True, slots=True)
class UploadedFile:
    """A file part of a multipart body."""

    filename: str | None
    content_type: str | None
    data: bytes


def parse_body(content_type: str | None, body: bytes) -> dict[str, object]:
    """The fields of a create or remix request body.

    Raises:
        APIError: 400 when the body is not a JSON object or well-formed multipart.
    """
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type == "multipart/form-data":
        return _parse_multipart(content_type or "", body)
    if media_type in ("application/json", "") or media_type.endswith("+json"):
        return _parse_json(body)
    raise invalid(
        f"Unsupported content type '{media_type}': send application/json or multipart/form-data.",
        param=None,
        code="unsupported_content_type",
    )


def _parse_json(body: bytes) -> dict[str, object]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise invalid(
            "We could not parse the JSON body of your request. (HINT: This likely means you "
            "aren't using your HTTP library correctly.)",
            param=None,
            code="invalid_json",
        ) from None
    if not isinstance(data, dict):
        raise invalid("The request body must be a JSON object.", param=None, code="invalid_json")
    return data


def _parse_multipart(content_type: str, body: bytes) -> dict[str, object]:
    if "boundary=" not in content_type:
        raise invalid("Multipart body without a boundary.", param=None, code="invalid_multipart")
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + body)
    if not message.is_multipart() or message.defects:
        raise invalid("Malformed multipart/form-data body.", param=None, code="invalid_multipart")
    fields: dict[str, object] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            raise invalid("A multipart part has no name.", param=None, code="invalid_multipart")
        value = _part_value(part)
        nested = _BRACKETED.match(name)
        if nested:
            outer, inner = nested.groups()
            bucket = fields.setdefault(outer, {})
            if not isinstance(bucket, dict):
                raise invalid(f"Field '{outer}' sent twice.", param=outer, code="invalid_multipart")
            bucket[inner] = value
        else:
            fields[name] = value
    return fields


def _part_value(part: Message) -> str | UploadedFile:
    payload = part.get_payload(decode=True)
    data = payload if isinstance(payload, bytes) else b""
    filename = part.get_filename()
    declared = part.get("content-type")
    # A part is a file when it says so: a filename, or a content type other than text.
    if filename is not None or (declared is not None and part.get_content_type() != "text/plain"):
        return UploadedFile(filename=filename, content_type=declared, data=data)
    charset = part.get_content_charset() or "utf-8"
    try:
        return data.decode(charset)
    except (LookupError, UnicodeDecodeError):
        raise invalid("A multipart text field is not valid text.", param=None) from None
