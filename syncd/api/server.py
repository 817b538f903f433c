"""The uvicorn server of the Scheduler API, built one way for `syncd serve` and `syncd run --api`.

Forwarded headers (`X-Forwarded-For`, `X-Forwarded-Proto`) are honoured only
from the proxies the operator lists in `[api] trusted_proxies`; uvicorn's own
default trusts them from 127.0.0.1 and ::1 (or `$FORWARDED_ALLOW_IPS`), which
would let any local process, or a proxy that passes the header through, choose
the address syncd throttles. https://www.uvicorn.org/settings/#http
"""

from __future__ import annotations

from typing import Any

import uvicorn

from syncd.api.slow_clients import server_limits
from syncd.config import ApiServerConfig


def proxy_options(settings: ApiServerConfig) -> dict[str, Any]:
    """Proxy-header settings: off unless proxies are listed; never from the environment."""
    trusted = [str(network) for network in settings.trusted_proxies]
    # Passed explicitly even when off: with forwarded_allow_ips=None uvicorn reads
    # $FORWARDED_ALLOW_IPS, and proxy_headers defaults to True.
    return {"proxy_headers": bool(trusted), "forwarded_allow_ips": trusted}


def api_server_config(
    app: Any, *, settings: ApiServerConfig, host: str, port: int
) -> uvicorn.Config:
    """The uvicorn Config serving `app` with syncd's settings (logging is syncd's own)."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        **proxy_options(settings),
        **server_limits(settings),
    )
