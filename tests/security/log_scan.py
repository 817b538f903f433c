"""No secret or token in any log line: record every secret minted and every log line, then compare.

Secrets are recorded where they are made, not guessed from the text:
- `secrets.token_urlsafe` (every syncd token and client secret, the generated master
  key, the sandbox's app secrets, its Graph access tokens and Salesforce sessions);
- `derive_secret` (HMAC client secrets are derived, never stored);
- anything a test hands to `SecretLog.add` (passwords read from the environment).
Log lines are every record that reaches the root logger, formatted with its
exception text. A line leaks when it holds any 12-character run of a recorded
secret (so a token cut short in a message still counts), any 8-character run
that looks random (a fragment cut shorter still; see `looks_random`, which keeps
words of a passphrase from counting), or a syncd-prefixed token (`syat_`,
`syrt_`, `sycs_`) minted where the recorder did not see it.

Used two ways:
- tests/security/conftest.py records while the tests of tests/security run, and
  test_zz_no_secret_in_logs.py fails on a leak;
- for the whole test run, the root conftest can load this file as a plugin
  (`pytest_plugins = ["tests.security.log_scan"]`): it then records from the
  start of the session and fails the session on a leak (pytest_sessionfinish).
"""

from __future__ import annotations

import logging
import re
import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import import_module
from typing import Any

import pytest

#: Recorded secrets shorter than this are ignored (nothing syncd mints is).
MIN_SECRET = 16
#: A leak is any run of this many characters of a secret.
WINDOW = 12
#: ... or any run of this many that looks random (`looks_random`).
FRAGMENT = 8
PREFIXED = re.compile(r"\bsy(?:at|rt|cs)_[A-Za-z0-9_-]{8,}")
#: Modules that bound `derive_secret` by name at import.
DERIVERS = ("syncd.auth.hmac_scheme", "syncd.auth.clients", "syncd.auth.hmac_auth", "syncd.auth")
FORMAT = "%(levelname)s %(name)s %(message)s"


@dataclass(frozen=True)
class Leak:
    logger: str
    line: str
    secret: str

    def __str__(self) -> str:
        shown = self.line.replace(self.secret, "<SECRET>")[:300]
        return f"{self.logger}: {shown}"


class _Recorder(logging.Handler):
    def __init__(self, sink: list[tuple[str, str]]) -> None:
        super().__init__(logging.NOTSET)
        self.sink = sink
        self.setFormatter(logging.Formatter(FORMAT))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
        except Exception:  # a broken record must not break the code that logged it
            text = f"{record.msg!r} {record.args!r}"
        self.sink.append((record.name, text))


@dataclass
class SecretLog:
    """The secrets minted and the log lines written while installed."""

    secrets: set[str] = field(default_factory=set)
    lines: list[tuple[str, str]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _undo: list[Callable[[], None]] = field(default_factory=list)

    def add(self, value: str | bytes | None) -> None:
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if value and len(value) >= MIN_SECRET:
            with self._lock:
                self.secrets.add(value)

    # ------------------------------------------------------------ install

    def install(self, *, level: int | None = None, logger: logging.Logger | None = None) -> None:
        """Start recording the lines of `logger` (default: the root logger, so every line);
        `level` (e.g. DEBUG) lowers that logger's level meanwhile."""
        self._wrap(secrets, "token_urlsafe")
        for name in DERIVERS:
            module = import_module(name)
            if hasattr(module, "derive_secret"):
                self._wrap(module, "derive_secret")
        handler = _Recorder(self.lines)
        root = logger or logging.getLogger()
        root.addHandler(handler)
        self._undo.append(lambda: root.removeHandler(handler))
        if level is not None:
            previous = root.level
            root.setLevel(level)
            self._undo.append(lambda: root.setLevel(previous))

    def uninstall(self) -> None:
        while self._undo:
            self._undo.pop()()

    def _wrap(self, owner: Any, name: str) -> None:
        original = getattr(owner, name)

        def recording(*args: Any, **kwargs: Any) -> Any:
            value = original(*args, **kwargs)
            self.add(value)
            return value

        setattr(owner, name, recording)
        self._undo.append(lambda: setattr(owner, name, original))

    @contextmanager
    def recording(
        self, *, level: int | None = None, logger: logging.Logger | None = None
    ) -> Iterator[SecretLog]:
        self.install(level=level, logger=logger)
        try:
            yield self
        finally:
            self.uninstall()

    # ------------------------------------------------------------ scan

    def leaks(self) -> list[Leak]:
        with self._lock:
            known = list(self.secrets)
        windows: set[str] = set()
        fragments: set[str] = set()
        for secret in known:
            windows.update(_runs(secret, WINDOW))
            fragments.update(run for run in _runs(secret, FRAGMENT) if looks_random(run))
        found = []
        for logger, line in list(self.lines):
            hit = (
                _first_run(line, WINDOW, windows)
                or _first_run(line, FRAGMENT, fragments)
                or _prefixed(line)
            )
            if hit is not None:
                found.append(Leak(logger, line, hit))
        return found


def looks_random(run: str) -> bool:
    """Could `run` only have come from a secret, not from prose or a passphrase's words?

    No whitespace, and a digit, `-`, `_` or other symbol, or two capitals. A random
    token's 8-character run is like that 99 times in 100; "battery " or
    "Password" never are.
    """
    if any(c.isspace() for c in run):
        return False
    if not run.isalpha():
        return True
    return sum(c.isupper() for c in run) >= 2


def _runs(text: str, length: int) -> list[str]:
    return [text[start : start + length] for start in range(len(text) - length + 1)]


def _first_run(line: str, length: int, runs: set[str]) -> str | None:
    for start in range(len(line) - length + 1):
        if line[start : start + length] in runs:
            return line[start : start + length]
    return None


def _prefixed(line: str) -> str | None:
    match = PREFIXED.search(line)
    return match.group() if match else None


# ------------------------------------------------------------ as a session-wide plugin

_SESSION = SecretLog()
_ACTIVE = pytest.StashKey[bool]()


def session_log() -> SecretLog:
    """The recorder of the whole session when this file is loaded as a plugin."""
    return _SESSION


def pytest_configure(config: pytest.Config) -> None:
    _SESSION.install()
    config.stash[_ACTIVE] = True


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _SESSION.uninstall()
    leaks = _SESSION.leaks()
    if not leaks:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    text = "\n".join(f"  {leak}" for leak in leaks[:20])
    message = f"{len(leaks)} log line(s) carry a secret or token:\n{text}"
    if reporter is not None:
        reporter.write_sep("=", "secrets in log lines", red=True)
        reporter.write_line(message)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


def active_for_session(config: pytest.Config) -> bool:
    return config.stash.get(_ACTIVE, False)
