"""The sample requests of the seed page, extracted byte for byte (never retyped).

A sample is a request line ("POST {TENANT_URL}/api/...") optionally followed
by "Body:" and a JSON block, which is cut out of the file's bytes by bracket
matching, trailing commas and all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

SEED_FILE = Path(__file__).resolve().parent.parent / "data" / "rg-scheduler-api-endpoints.txt"
_REQUEST_LINE = re.compile(rb"^(GET|POST|PATCH|DELETE) \{TENANT_URL\}(.+)$", re.MULTILINE)
_OPENERS = {ord("{"): ord("}"), ord("["): ord("]")}


@dataclass(frozen=True)
class Sample:
    method: str
    target: str  # path and query, as printed on the page
    body: bytes | None


def _json_block(data: bytes, start: int) -> bytes:
    """The bracketed block starting at data[start], string-aware."""
    closer = _OPENERS[data[start]]
    opener = data[start]
    depth, index, in_string = 0, start, False
    while index < len(data):
        byte = data[index]
        if in_string:
            if byte == ord("\\"):
                index += 1
            elif byte == ord('"'):
                in_string = False
        elif byte == ord('"'):
            in_string = True
        elif byte == opener:
            depth += 1
        elif byte == closer:
            depth -= 1
            if depth == 0:
                return data[start : index + 1]
        index += 1
    raise ValueError(f"unbalanced JSON block at byte {start}")


def seed_samples(path: Path = SEED_FILE) -> list[Sample]:
    data = path.read_bytes()
    samples = []
    for match in _REQUEST_LINE.finditer(data):
        rest = data[match.end() :]
        offset = match.end() + (len(rest) - len(rest.lstrip()))
        if data.startswith(b"Body:", offset):
            offset += len(b"Body:")
            offset += len(data[offset:]) - len(data[offset:].lstrip())
        body = _json_block(data, offset) if data[offset] in _OPENERS else None
        samples.append(Sample(match.group(1).decode(), match.group(2).decode("utf-8"), body))
    return samples


def sample(method: str, path: str) -> Sample:
    """The one sample with this method and path."""
    found = [s for s in seed_samples() if s.method == method and s.target.split("?")[0] == path]
    assert len(found) == 1, f"expected one {method} {path} sample, found {len(found)}"
    return found[0]
