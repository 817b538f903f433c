"""The Scheduler API application: `create_app(runtime)`.

Routes stay thin (parse, resolve the caller's tenant, call the core, shape the
answer); auth, wire models, errors and the OpenAPI document live beside them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from syncd import __version__
from syncd.api.errors import install_error_handlers
from syncd.api.middleware import RequestContextMiddleware
from syncd.api.openapi import install_openapi
from syncd.api.routes import availability, health, meeting, oauth
from syncd.auth import Authenticator
from syncd.auth.throttle import BruteForcePolicy
from syncd.console.routes import install_console

if TYPE_CHECKING:
    from syncd.runtime import Runtime

DESCRIPTION = """\
Server-to-server API that schedules, updates, cancels and reads Outlook meetings
on behalf of in-org organizers, and reads colleagues' busy slots; wire-compatible
with the RG Scheduler API. Every credential belongs to one tenant, and a request
acts only within its credential's tenant.

Input is lenient (trailing commas, `"isRequired": "true"`, times with any zone);
output is exact (times as `YYYY-MM-DDThh:mm:ssZ` in GMT). Errors answer
`{"email", "errorCode", "errorMessage"}`; every answer carries `X-Correlation-Id`.
"""


def create_app(runtime: Runtime, *, brute_force: BruteForcePolicy | None = None) -> FastAPI:
    """Build the app for `runtime`; refuses to start on an ambiguous auth configuration."""
    app = FastAPIOffline(
        title="syncd Scheduler API",
        version=__version__,
        description=DESCRIPTION,
        # Starlette's trailing-slash redirect builds its Location from the Host
        # header, which the caller chooses; a path with a stray "/" answers
        # RouteNotFound instead (the paths are fixed by the API's documentation).
        redirect_slashes=False,
    )
    app.state.runtime = runtime
    app.state.authenticator = Authenticator.from_runtime(runtime, brute_force)
    install_error_handlers(app)
    app.add_middleware(RequestContextMiddleware)
    for module in (meeting, availability, oauth, health):
        app.include_router(module.router)
    install_openapi(app, extra_models=(oauth.TokenRequest,))
    install_console(app)  # /status and /metrics, for the operator only
    return app
