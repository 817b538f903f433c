"""GET /healthz: is the process up and its ledger reachable? (no auth)"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

from syncd import __version__
from syncd.api.deps import runtime_of
from syncd.api.errors import WireJSONResponse

log = logging.getLogger("syncd.api")
router = APIRouter(tags=["health"])


def _ledger_reachable(engine: object) -> bool:
    try:
        with engine.connect() as connection:  # type: ignore[attr-defined]
            connection.execute(text("SELECT 1"))
    except Exception:  # any failure means "not reachable"; the log says why
        log.exception("health check: the ledger is not reachable")
        return False
    return True


@router.get("/healthz", summary="Liveness and ledger reachability")
async def healthz(request: Request) -> WireJSONResponse:
    if await run_in_threadpool(_ledger_reachable, runtime_of(request).engine):
        return WireJSONResponse({"status": "ok", "ledger": "reachable", "version": __version__})
    return WireJSONResponse(
        {"status": "unavailable", "ledger": "unreachable (see the server log)"}, status_code=503
    )
