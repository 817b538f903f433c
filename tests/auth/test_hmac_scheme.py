"""The HMAC scheme's parts: canonical form, signature and derived secrets (no server)."""

from __future__ import annotations

import base64
import hashlib
import hmac

from syncd.auth.hmac_scheme import (
    canonical_path,
    canonical_query,
    derive_secret,
    sign_request,
    string_to_sign,
)


def test_string_to_sign_is_exactly_as_documented() -> None:
    body = b'{"a": 1}'
    text = string_to_sign("post", "/api/x%20y", "b=2&a=%C3%A9&a=1&c=x+y", "1700000000", body)
    assert text == (
        "POST\n/api/x%20y\na=%C3%A9&a=1&b=2&c=x%20y\n1700000000\n"
        + hashlib.sha256(body).hexdigest()
    )


def test_canonical_forms_do_not_depend_on_how_the_client_encoded() -> None:
    assert canonical_query("x=a b&y=[c]") == canonical_query("y=%5Bc%5D&x=a%20b")
    assert canonical_query("x=a+b") == canonical_query("x=a%20b")
    assert canonical_query("") == ""
    assert canonical_path("/a/%7Euser") == canonical_path("/a/~user") == "/a/~user"


def test_sign_request_matches_a_hand_made_signature() -> None:
    headers = sign_request(
        "GET", "https://syncd.example/api/m?id=1&b=2", None, "hmac_abc", "s3cret", 1700000000
    )
    expected_text = (
        "GET\n/api/m\nb=2&id=1\n1700000000\n" + hashlib.sha256(b"").hexdigest()
    ).encode()
    expected = base64.b64encode(hmac.new(b"s3cret", expected_text, hashlib.sha256).digest())
    assert headers == {
        "X-Syncd-Client-Id": "hmac_abc",
        "X-Syncd-Timestamp": "1700000000",
        "X-Syncd-Signature": expected.decode(),
    }


def test_a_str_body_is_signed_as_its_utf8_bytes() -> None:
    args = ("POST", "http://h/p", "client", "secret", 1)
    assert sign_request(args[0], args[1], "é", *args[2:]) == sign_request(
        args[0], args[1], "é".encode(), *args[2:]
    )


def test_derived_secrets_are_stable_and_distinct() -> None:
    key = b"k" * 32
    secret = derive_secret(key, "demo", "hmac_1", 0)
    digest = hmac.new(key, b"hmac:demo:hmac_1:0", hashlib.sha256).digest()
    assert secret == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    others = {
        derive_secret(key, "demo", "hmac_1", 1),
        derive_secret(key, "acme", "hmac_1", 0),
        derive_secret(key, "demo", "hmac_2", 0),
        derive_secret(b"j" * 32, "demo", "hmac_1", 0),
    }
    assert secret not in others and len(others) == 4
