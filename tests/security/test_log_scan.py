"""The log scanner itself: short fragments of a secret count, words of a passphrase do not."""

from __future__ import annotations

import logging

import pytest

from .log_scan import FRAGMENT, SecretLog, looks_random

TOKEN = "Zq3_vK9-pLx2Wm7tRb4YcN8dHs1fGj6e"  # a token_urlsafe-like secret, fixed for the test
PASSPHRASE = "correct horse battery staple"


def scan(*lines: str) -> list[str]:
    """The lines the scanner reports, after logging `lines` with TOKEN and PASSPHRASE known."""
    log = SecretLog()
    log.add(TOKEN)
    log.add(PASSPHRASE)
    # A logger of its own, kept from the root logger: these leaks are on purpose.
    logger = logging.getLogger("security_test_fragments")
    logger.propagate = False
    with log.recording(level=logging.DEBUG, logger=logger):
        for line in lines:
            logger.warning("%s", line)
    return [leak.line for leak in log.leaks()]


@pytest.mark.parametrize(
    "line",
    [
        f"unsupported scheme '{TOKEN[:9]}'",  # the start, 9 characters
        f"token ...{TOKEN[12:20]}",  # 8 from the middle
        f"{TOKEN[-8:]} was refused",  # the end
    ],
)
def test_a_fragment_shorter_than_twelve_characters_is_a_leak(line: str) -> None:
    assert scan(line) == [f"WARNING security_test_fragments {line}"]


def test_words_of_a_passphrase_or_of_prose_are_not() -> None:
    lines = [
        "the correct answer came back",
        "a battery of tests; staple food",
        "Password rotation: horse",
        "2030-10-15T00:00:00Z Zq3 vK9 pLx",  # pieces of the token, each shorter than 8
    ]
    assert scan(*lines) == []
    assert scan(f"said {PASSPHRASE[:12]}") != []  # 12 characters of any secret still count


def test_what_looks_random() -> None:
    assert looks_random("pLx2Wm7t") and looks_random("abcdefg_") and looks_random("vKpLxWmt")
    assert not looks_random("Password") and not looks_random("battery ")
    assert not looks_random("stapling") and len("stapling") == FRAGMENT
