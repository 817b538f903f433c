"""Listening sockets bound ahead of the server (uvicorn's `sockets=[...]`) that still get
TCP_NODELAY on every connection.

Kept apart from syncd's layers (it imports nothing of syncd), so the sandbox, which
stands in for Microsoft and Salesforce and imports none of them, can use it too.
"""

from __future__ import annotations

import socket


def bind_tcp(host: str, port: int) -> socket.socket:
    """A TCP socket bound to `host:port` (0: any free port), for uvicorn's `sockets=[...]`.

    Created with `IPPROTO_TCP`, not the default protocol 0: accepted sockets inherit the
    listener's protocol, and asyncio turns TCP_NODELAY on only for sockets whose `proto` is
    IPPROTO_TCP (`_set_nodelay`, https://github.com/python/cpython/blob/3.11/Lib/asyncio/base_events.py).
    With protocol 0, Nagle holds each answer's second write (the body after the headers)
    until the client's delayed ACK, about 40 ms on Linux, on every keep-alive request
    (https://github.com/Kludex/uvicorn/issues/3149).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        # As uvicorn's own listener: a port in TIME_WAIT can be bound again at once.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except BaseException:
        sock.close()
        raise
    return sock
