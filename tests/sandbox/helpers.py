"""Helpers shared by the sandbox tests: sessions, tokens, a tiny Graph caller, payloads."""

from __future__ import annotations

from typing import Any

import requests

from syncd.sandbox import RunningSandbox
from syncd.sandbox.microsoft.directory import DirectoryUser

GRAPH_SCOPE = "https://graph.microsoft.com/.default"


def make_session(sandbox: RunningSandbox) -> requests.Session:
    """A session trusting the sandbox CA; trust_env off or REQUESTS_CA_BUNDLE would win."""
    session = requests.Session()
    session.trust_env = False
    session.verify = str(sandbox.ca_file)
    return session


def fetch_token(session: requests.Session, sandbox: RunningSandbox, tenant: str = "Contoso") -> str:
    _, client_id, secret = sandbox.credentials(tenant)
    response = session.post(
        sandbox.token_endpoint(tenant),
        data={
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": secret,
            "scope": GRAPH_SCOPE,
        },
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


class Graph:
    """A tiny Graph caller for tests: base URL, bearer token, JSON in and out."""

    def __init__(self, session: requests.Session, sandbox: RunningSandbox, token: str) -> None:
        self.session = session
        self.base = sandbox.graph_url
        self.token = token

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        url = path if path.startswith("https://") else self.base + path
        return self.session.request(method, url, headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call("DELETE", path, **kwargs)


def event_body(subject: str = "Quarterly review", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "subject": subject,
        "body": {"contentType": "HTML", "content": "Agenda <b>attached</b>"},
        "start": {"dateTime": "2031-03-10T09:00:00", "timeZone": "W. Europe Standard Time"},
        "end": {"dateTime": "2031-03-10T10:00:00", "timeZone": "W. Europe Standard Time"},
        "location": {"displayName": "Room 1"},
    }
    body.update(extra)
    return body


def attendee(user: DirectoryUser | str, kind: str = "required") -> dict[str, Any]:
    address = user if isinstance(user, str) else user.email
    return {"emailAddress": {"address": address, "name": address}, "type": kind}
