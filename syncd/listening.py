"""A listening port that is taken says how to pick another one.

`syncd serve`, `syncd run --api` and `syncd sandbox` check their port before they start, so a
busy port is one clear line (and exit status 2), never a traceback or a bare bind error.
"""

from __future__ import annotations

import errno
import socket

from syncd.config import ConfigError

#: The environment variable that sets each listener's port (Settings: SYNCD_ + nested keys).
API_PORT_VARIABLE = "SYNCD_API__PORT"
SANDBOX_PORT_VARIABLE = "SYNCD_SANDBOX__PORT"


def port_in_use(host: str, port: int, variable: str) -> ConfigError:
    """The error for a port another process holds, naming both ways to choose another."""
    return ConfigError(f"port {port} on {host} is in use: pass --port or set {variable}")


def ensure_free(host: str, port: int, variable: str) -> None:
    """Raise ConfigError when `host:port` is taken by another process.

    Binding with SO_REUSEADDR, as uvicorn and the sandbox do, so a port in TIME_WAIT
    still counts as free. Port 0 (any free port) is always free.
    """
    if port == 0:
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            # Other refusals (a privileged port, an address not on this host) are left
            # to the server itself, which reports them once it tries.
            if error.errno == errno.EADDRINUSE:
                raise port_in_use(host, port, variable) from None
