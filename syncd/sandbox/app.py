"""The sandbox's ASGI application: identity platform, Graph, and the admin API on one origin."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import FastAPI

from syncd.sandbox.admin import admin_router
from syncd.sandbox.faults import Faults
from syncd.sandbox.microsoft.graph_app import GraphService
from syncd.sandbox.microsoft.graph_routes import graph_router
from syncd.sandbox.microsoft.identity_routes import identity_router
from syncd.sandbox.microsoft.state import MicrosoftState

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class ConnectionDropper:
    """Cuts some Graph responses off mid-body (faults.reset_connection_rate).

    The response announces more bytes than it sends and the app then returns,
    so the server closes the connection: the client sees a broken read.
    """

    def __init__(self, app: ASGIApp, faults: Faults) -> None:
        self.app = app
        self.faults = faults

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["path"].startswith("/v1.0/")
            and self.faults.should_reset_connection()
        ):
            headers = [(b"content-type", b"application/json"), (b"content-length", b"4096")]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": b'{"value":[', "more_body": True})
            return
        await self.app(scope, receive, send)


def build_app(state: MicrosoftState) -> ASGIApp:
    app = FastAPI(title="syncd sandbox", docs_url=None, redoc_url=None, openapi_url=None)
    app.include_router(admin_router(state))
    app.include_router(graph_router(GraphService(state)))
    app.include_router(identity_router(state.identity, state.clock))
    return ConnectionDropper(app, state.faults)
