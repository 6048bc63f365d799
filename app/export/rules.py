"""HTTP range requests on a stored file (RFC 9110 §14): pure functions, no I/O."""

import base64
import re

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$", re.IGNORECASE)  # RFC 9110 §14.1: any case


class Unsatisfiable(Exception):
    pass


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The one range (first, last; inclusive) `Range: bytes=...` asks of a file of `size`
    bytes, or None to send the whole file: no header, a syntax this server does not serve
    (another unit, several ranges: RFC 9110 §14.2 lets a server ignore them). Raises
    Unsatisfiable when no byte of the range is in the file (416)."""
    if header is None:
        return None
    match = _RANGE.match(header.strip())
    if match is None:
        return None
    first_text, last_text = match.groups()
    if not first_text:  # bytes=-N: the last N bytes
        if not last_text:
            return None
        suffix = int(last_text)
        if suffix == 0 or size == 0:
            raise Unsatisfiable
        return max(size - suffix, 0), size - 1
    first = int(first_text)
    if last_text and int(last_text) < first:
        return None  # invalid: ignored
    if first >= size:
        raise Unsatisfiable
    last = int(last_text) if last_text else size - 1
    return first, min(last, size - 1)


def if_range_holds(header: str | None, etag: str) -> bool:
    """`If-Range`: the range is sent only while the file is the one the client has part of
    (strong comparison with the ETag). A date, or another tag, sends the whole file."""
    return header is None or header.strip() == etag


def etag_of(sha256_hex: str) -> str:
    return f'"{sha256_hex}"'


def repr_digest(sha256_hex: str) -> str:
    """RFC 9530 `Repr-Digest`: of the whole file, also on a 206 (a resumed download is checked
    against it once complete)."""
    return f"sha-256=:{base64.b64encode(bytes.fromhex(sha256_hex)).decode()}:"
