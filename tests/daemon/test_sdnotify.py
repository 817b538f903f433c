"""sd_notify: what systemd receives on $NOTIFY_SOCKET from a Notifier and a Daemon."""

from __future__ import annotations

import os
import secrets
import threading
from pathlib import Path

import pytest

from syncd.daemon import Daemon
from syncd.sdnotify import Notifier
from tests.daemon.helpers import NotifyListener


def test_notify_reaches_a_socket_path(notify_socket: NotifyListener) -> None:
    assert Notifier(notify_socket.address).notify("READY=1\nSTATUS=hello")
    assert notify_socket.wait_for("READY=1") == ["READY=1", "STATUS=hello"]


def test_notify_reaches_an_abstract_socket() -> None:
    name = f"syncd-test-{secrets.token_hex(6)}"
    listener = NotifyListener(f"@{name}", f"\0{name}")
    try:
        assert Notifier(listener.address).notify("WATCHDOG=1")
        assert listener.wait_for("WATCHDOG=1") == ["WATCHDOG=1"]
    finally:
        listener.close()


def test_notify_reads_notify_socket_and_is_quiet_without_systemd(
    notify_socket: NotifyListener, short_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", notify_socket.address)
    assert Notifier().enabled and Notifier().notify("READY=1")
    notify_socket.wait_for("READY=1")
    monkeypatch.delenv("NOTIFY_SOCKET")
    assert not Notifier().enabled and not Notifier().notify("READY=1")
    # A socket that went away costs the daemon nothing.
    assert not Notifier(str(short_dir / "gone")).notify("WATCHDOG=1")


@pytest.mark.parametrize(
    ("usec", "pid", "expected"),
    [
        ("4000000", "self", 2.0),
        ("4000000", "", 2.0),
        ("4000000", "1", None),  # the watchdog is meant for another process
        ("", "", None),
        ("0", "self", None),
        ("soon", "self", None),
    ],
)
def test_watchdog_interval_is_half_of_watchdog_usec_for_this_process(
    usec: str, pid: str, expected: float | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", usec)
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()) if pid == "self" else pid)
    assert Notifier("@unused").watchdog_interval() == expected


def test_daemon_says_ready_pings_the_watchdog_and_says_stopping(
    notify_socket: NotifyListener, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", notify_socket.address)
    monkeypatch.setenv("WATCHDOG_USEC", "300000")  # a ping every 0.15 s
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    daemon = Daemon({}, stop_event=threading.Event())
    assert notify_socket.lines() == []
    daemon.start()
    try:
        assert "READY=1" in notify_socket.lines()
        notify_socket.wait_for("WATCHDOG=1", count=3)
        assert "STOPPING=1" not in notify_socket.lines()
    finally:
        daemon.stop()
    lines = notify_socket.lines()
    assert "STOPPING=1" in lines
    assert lines.index("READY=1") < lines.index("STOPPING=1")
    assert daemon.stop_event.is_set()


def test_daemon_outside_systemd_runs_no_watchdog(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    monkeypatch.setenv("WATCHDOG_USEC", "300000")
    daemon = Daemon({}, stop_event=threading.Event())
    # No NOTIFY_SOCKET: no watchdog job either (nothing would hear its pings).
    assert not daemon.notifier.enabled
    daemon.start()
    try:
        assert daemon.jobs.get_job("watchdog") is None
    finally:
        daemon.stop()
