"""Salesforce record ids: 15 case-sensitive characters plus the 3-character case-safe suffix.

ID field type: https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/field_types.htm#i1435616
The first three characters are the object's key prefix (005 User, 00U Event, ...).
The suffix encodes, for each 5-character chunk, which characters are upper case,
so an 18-character id survives case-insensitive tools; its algorithm is the one
the CASESAFEID() formula function applies.
"""

from __future__ import annotations

import random
import string
import threading

BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
SUFFIX_ALPHABET = string.ascii_uppercase + "012345"
_UPPER = frozenset(string.ascii_uppercase)


_FLAGS = str.maketrans({c: "1" if c in _UPPER else "0" for c in BASE62})


def _chunk_char(chunk: str) -> str:
    # Bit i is set when character i of the 5-character chunk is upper case.
    return SUFFIX_ALPHABET[int(chunk.translate(_FLAGS)[::-1], 2)]


def case_safe_suffix(id15: str) -> str:
    """The three checksum characters appended to a 15-character id."""
    return _chunk_char(id15[0:5]) + _chunk_char(id15[5:10]) + _chunk_char(id15[10:15])


def is_valid_id(record_id: object) -> bool:
    """True for a well-formed 15- or 18-character id whose suffix (if any) matches."""
    if not isinstance(record_id, str) or len(record_id) not in (15, 18):
        return False
    if any(c not in BASE62 for c in record_id[:15]):
        return False
    return len(record_id) == 15 or record_id[15:].upper() == case_safe_suffix(record_id[:15])


def normalize_id(record_id: str) -> str | None:
    """The canonical 18-character id, or None when `record_id` is not a valid id."""
    if not is_valid_id(record_id):
        return None
    head = record_id[:15]
    return head + case_safe_suffix(head)


def _base62(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, remainder = divmod(number, 62)
        digits.append(BASE62[remainder])
    return "".join(reversed(digits))


_LOW_SPAN = 62 * 62
_LOW = [a + b for a in BASE62 for b in BASE62]


class IdFactory:
    """Seeded, sequential ids: the same seed and order of creation give the same ids.

    Layout of the 15 characters: key prefix (3), a two-character "pod" derived
    from the seed (real ids carry the instance there), then a base-62 counter (10).
    """

    def __init__(self, seed: int = 42) -> None:
        rng = random.Random(f"salesforce-ids|{seed}")
        self._pod = rng.choice(string.digits[1:]) + rng.choice(string.ascii_letters)
        self._start = rng.randrange(62**6, 62**7)
        self._counters: dict[str, int] = {}
        self._lock = threading.Lock()
        self._high: dict[str, tuple[int, str, str]] = {}

    def new(self, key_prefix: str) -> str:
        """The next 18-character id for an object with this key prefix."""
        with self._lock:
            count = self._counters.get(key_prefix, 0) + 1
            self._counters[key_prefix] = count
            # Sequential ids share their leading digits: encode those once per 3,844.
            number = self._start + count
            high, low = divmod(number, _LOW_SPAN)
            cached = self._high.get(key_prefix)
            if cached is None or cached[0] != high:
                digits = _base62(high, 8)
                # The first two chunks of the suffix only change with the high digits.
                first = _chunk_char((key_prefix + self._pod)[:5]) + _chunk_char(digits[:5])
                cached = self._high[key_prefix] = (high, digits, first)
            head = key_prefix + self._pod + cached[1] + _LOW[low]
        return head + cached[2] + _chunk_char(head[10:15])
