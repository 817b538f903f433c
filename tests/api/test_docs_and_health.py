"""Offline docs, the OpenAPI document, and /healthz."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest

from syncd.api import create_app
from syncd.ledger.db import make_engine

from .fakes import fake_runtime, serve

ASSET = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url:\s*'([^']+)'""")


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_load_everything_from_this_server(fake_url: str, page: str) -> None:
    html = httpx.get(fake_url + page).text
    assert "://" not in html.replace("window.location.origin", "")
    urls = [a or b for a, b in ASSET.findall(html)]
    assert urls, "the page references its assets"
    for url in urls:
        if url.startswith("data:"):
            continue
        assert url.startswith("/") and not url.startswith("//"), url
        assert httpx.get(fake_url + url).status_code == 200, url


def test_openapi_describes_the_five_endpoints_with_their_schemas(fake_url: str) -> None:
    document = httpx.get(fake_url + "/openapi.json").json()
    paths = document["paths"]
    meeting = paths["/api/salesforce/scheduler/meeting"]
    assert set(meeting) == {"get", "post", "patch", "delete"}
    assert "post" in paths["/api/salesforce/scheduler/availability"]
    schemas = document["components"]["schemas"]
    for method in ("post", "patch", "delete"):
        ref = meeting[method]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        assert ref.split("/")[-1] in schemas
    assert set(schemas["MeetingIn"]["required"]) == {
        "id",
        "organizerEmail",
        "attendees",
        "body",
        "subject",
        "location",
        "startTime",
        "endTime",
    }
    get_params = {p["name"] for p in meeting["get"]["parameters"]}
    assert get_params == {"id", "organizerEmail", "salesforceCorrelationId"}
    availability = paths["/api/salesforce/scheduler/availability"]["post"]
    assert {p["name"] for p in availability["parameters"]} >= {"from", "to"}
    assert set(document["components"]["securitySchemes"]) == {
        "bearerAuth",
        "oauth2",
        "hmacClientId",
        "hmacTimestamp",
        "hmacSignature",
        "legacyBasic",
    }
    assert meeting["post"]["security"][0] == {"bearerAuth": []}
    assert "/oauth/token" in paths
    for ref in re.findall(r'"\$ref":\s*"#/components/schemas/([^"]+)"', json.dumps(document)):
        assert ref in schemas, f"dangling $ref {ref}"


def test_healthz_reports_the_ledger(fake_url: str) -> None:
    answer = httpx.get(fake_url + "/healthz")
    assert answer.status_code == 200
    assert answer.json()["ledger"] == "reachable"


@pytest.mark.sqlite_file
def test_healthz_answers_503_when_the_ledger_is_gone(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/ledger.db")
    runtime = fake_runtime(engine)
    (tmp_path / "ledger.db").mkdir()  # a directory where the database file should be
    with serve(create_app(runtime)) as url:
        answer = httpx.get(url + "/healthz")
    assert answer.status_code == 503
    assert answer.json()["status"] == "unavailable"
