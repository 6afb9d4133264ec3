"""The fields of a multipart/form-data body, read with python-multipart's streaming parser."""

from __future__ import annotations

from python_multipart import MultipartParser
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import parse_options_header

from app.transport.errors import ClientMistake


def uploaded_file(body: bytes, content_type: str) -> bytes:
    """The bytes of the form field "file" of a multipart/form-data body."""
    kind, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise MalformedUpload("the body is not multipart/form-data with a boundary")
    parts: list[tuple[bytes, list[bytes]]] = []  # (the part's headers, its data in pieces)
    header = bytearray()

    def on_part_begin() -> None:
        parts.append((b"", []))

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header.extend(data[start:end].lower() + b":")

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header.extend(data[start:end])

    def on_header_end() -> None:
        parts[-1] = (parts[-1][0] + bytes(header) + b"\n", parts[-1][1])
        header.clear()

    def on_part_data(data: bytes, start: int, end: int) -> None:
        parts[-1][1].append(data[start:end])

    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_part_data": on_part_data,
        },
    )
    try:
        parser.write(body)
        parser.finalize()
    except MultipartParseError as e:
        raise MalformedUpload(str(e)) from None
    for headers, data in parts:
        for line in headers.split(b"\n"):
            if line.startswith(b"content-disposition:"):
                _, params = parse_options_header(line.removeprefix(b"content-disposition:").strip())
                if params.get(b"name") == b"file":
                    return b"".join(data)
    raise MissingFile(
        "the form has no field 'file'; send the image as the form field 'file', e.g. curl -F file=@digit.png"
    )


class MalformedUpload(ClientMistake):
    def __init__(self, why: str) -> None:
        super().__init__(
            f"the upload is not valid multipart/form-data ({why}); send the image as the form "
            "field 'file', e.g. curl -F file=@digit.png"
        )


class MissingFile(ClientMistake):
    pass
