"""The systemd notify protocol (sd_notify(3)): a datagram to $NOTIFY_SOCKET.

https://www.freedesktop.org/software/systemd/man/latest/sd_notify.html
Written out (a dozen lines) rather than depending on a binding: the protocol
is one datagram per message, and outside systemd every call is a no-op.
"""

from __future__ import annotations

import logging
import os
import socket

log = logging.getLogger(__name__)


class Notifier:
    """Sends READY=1 / WATCHDOG=1 / STOPPING=1; does nothing outside systemd."""

    def __init__(self, address: str | None = None) -> None:
        self.address = address if address is not None else os.environ.get("NOTIFY_SOCKET")

    @property
    def enabled(self) -> bool:
        return bool(self.address)

    def watchdog_interval(self) -> float | None:
        """Half of WatchdogSec (systemd's advice), when the watchdog is on for us.

        WATCHDOG_PID names the process meant; a child that inherited the
        variables (or a test harness) must not ping for its parent.
        """
        usec = os.environ.get("WATCHDOG_USEC", "")
        pid = os.environ.get("WATCHDOG_PID", "")
        if pid and pid != str(os.getpid()):
            return None
        try:
            micros = int(usec)
        except ValueError:
            return None
        return micros / 2_000_000 if micros > 0 else None

    def notify(self, message: str) -> bool:
        """Send one message; False when not under systemd or the socket is gone."""
        if not self.address:
            return False
        address = self.address
        if address.startswith("@"):
            address = "\0" + address[1:]  # abstract namespace socket, as systemd often uses
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            try:
                sock.sendto(message.encode(), address)
            except OSError as error:
                # A lost notification must never stop the daemon; systemd
                # notices a missing READY or WATCHDOG on its own.
                log.debug("sd_notify to %s failed: %s", self.address, error)
                return False
        return True
