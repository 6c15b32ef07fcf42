"""Files served with HTTP Range requests (RFC 9110 §14): a browser seeks in a <video> only when the server
answers `206 Partial Content`. One range per request, which is what media players ask for; a request for
several ranges, or a Range header that does not parse, gets the whole file (the RFC lets a server ignore it)."""

import os
import re

from django.http import FileResponse, HttpResponse

SINGLE_BYTE_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
CHUNK_BYTES = 64 * 1024


class RangeNotSatisfiable(ValueError):
    pass


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(first, last) byte positions, inclusive, of a single-range `Range` header on a file of `size` bytes;
    None to send the whole file; RangeNotSatisfiable when no byte of the file is in the range."""
    match = SINGLE_BYTE_RANGE.match((header or "").strip())
    if match is None or match.groups() == ("", ""):
        return None
    first, last = match.groups()
    if not first:  # "bytes=-N": the last N bytes
        if int(last) == 0 or size == 0:
            raise RangeNotSatisfiable(f"bytes */{size}")
        return max(0, size - int(last)), size - 1
    if last and int(last) < int(first):
        return None  # not a valid range: ignored, as the RFC says
    if int(first) >= size:
        raise RangeNotSatisfiable(f"bytes */{size}")
    return int(first), min(int(last), size - 1) if last else size - 1


def file_response(request, path, content_type: str) -> HttpResponse:
    """The file at `path`: 200 with `Accept-Ranges`, 206 for a satisfiable Range, 416 for one that is not."""
    size = os.path.getsize(path)
    try:
        requested = byte_range(request.headers.get("Range"), size)
    except RangeNotSatisfiable as error:
        response = HttpResponse(status=416)
        response["Content-Range"] = str(error)
        return response
    if requested is None:
        response = FileResponse(open(path, "rb"), content_type=content_type)
    else:
        first, last = requested
        response = FileResponse(_Slice(path, first, last - first + 1), content_type=content_type, status=206)
        response["Content-Range"] = f"bytes {first}-{last}/{size}"
        response["Content-Length"] = str(last - first + 1)
    response["Accept-Ranges"] = "bytes"
    return response


class _Slice:
    """`length` bytes of a file from `offset`, read in chunks (FileResponse streams and closes it)."""

    def __init__(self, path, offset: int, length: int):
        self._file = open(path, "rb")
        self._file.seek(offset)
        self._left = length

    def read(self, size: int = CHUNK_BYTES) -> bytes:
        data = self._file.read(min(size, self._left))
        self._left -= len(data)
        return data

    def close(self) -> None:
        self._file.close()
