"""Helpers for tests against the live API over the real runtime (fixtures `runtime`, `api_url`)."""

from __future__ import annotations

import httpx

from syncd.auth import create_client
from syncd.runtime import Runtime

MEETING = "/api/salesforce/scheduler/meeting"
AVAILABILITY = "/api/salesforce/scheduler/availability"


def bearer_client(runtime: Runtime, api_url: str, tenant: str) -> httpx.Client:
    """An HTTP client of the live API holding a fresh OAuth access token of `tenant`."""
    created = create_client(
        runtime.engine, tenant=tenant, method="oauth", master_key=runtime.master_key
    )
    form = {
        "grant_type": "refresh_token",
        "client_id": created["client_id"],
        "refresh_token": created["refresh_token"],
    }
    answer = httpx.post(f"{api_url}/oauth/token", data=form, timeout=30)
    assert answer.status_code == 200, answer.text
    headers = {"Authorization": f"Bearer {answer.json()['access_token']}"}
    return httpx.Client(base_url=api_url, headers=headers, timeout=60)
