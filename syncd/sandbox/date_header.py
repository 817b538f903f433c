"""The Date header of every sandbox answer: the sandbox clock plus a settable skew.

"An origin server with a clock ... MUST generate a Date header field in all 2xx, 3xx
and 4xx responses" (RFC 9110 §6.6.1, https://www.rfc-editor.org/rfc/rfc9110#section-6.6.1);
Graph and Salesforce both send it. The skew plays a server whose clock is off, so a
client's clock check can be shown failing; 0 is an honest clock.
"""

from __future__ import annotations

from collections.abc import Callable
from email.utils import formatdate
from typing import Any

Scope = dict[str, Any]
Message = dict[str, Any]


class DateHeader:
    """ASGI middleware: replaces any Date header with `now()` + `skew()` seconds."""

    def __init__(self, app: Any, now: Callable[[], float], skew: Callable[[], float]) -> None:
        self._app = app
        self._now = now
        self._skew = skew

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope.get("type") != "http":
            await self._app(scope, receive, send)
            return

        async def send_dated(message: Message) -> None:
            if message.get("type") == "http.response.start":
                headers = [
                    (name, value)
                    for name, value in message.get("headers", [])
                    if name.lower() != b"date"
                ]
                date = formatdate(self._now() + self._skew(), usegmt=True)
                headers.append((b"date", date.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self._app(scope, receive, send_dated)
