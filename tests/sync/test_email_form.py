"""The e-mail form test of Salesforce addresses (owners, invitees) is remembered per
address: a pure test of the string, bounded in size, answering as the pattern does."""

from __future__ import annotations

from syncd.sync.salesforce_event import _EMAIL, EMAIL_CACHE_SIZE, valid_email

ADDRESSES = (
    "megan.bowen@contoso.example",
    "a@b.c",
    "no-at-sign.contoso.example",
    "two@@contoso.example",
    "space in@contoso.example",
    "line\nbreak@contoso.example",
    "nodot@contoso",
    "",
)


def test_the_remembered_answer_is_the_patterns_for_each_address_however_often_asked() -> None:
    valid_email.cache_clear()
    for _ in range(3):
        assert [valid_email(a) for a in ADDRESSES] == [
            _EMAIL.match(a) is not None for a in ADDRESSES
        ]
    info = valid_email.cache_info()
    # Each address tested once; the repeats answered from memory.
    assert (info.misses, info.hits) == (len(ADDRESSES), 2 * len(ADDRESSES))


def test_the_memory_is_bounded() -> None:
    valid_email.cache_clear()
    for n in range(EMAIL_CACHE_SIZE + 10):
        valid_email(f"user{n}@contoso.example")
    info = valid_email.cache_info()
    assert info.maxsize == EMAIL_CACHE_SIZE
    assert info.currsize == EMAIL_CACHE_SIZE
    # The oldest were let go and are tested again when they recur, with the same answer.
    assert valid_email("user0@contoso.example") is True
    assert valid_email.cache_info().misses == EMAIL_CACHE_SIZE + 11
    assert valid_email("user0@contoso") is False
