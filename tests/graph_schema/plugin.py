"""pytest plugin (loaded by tests/conftest.py): every Graph exchange of every sandbox the
test run starts in its own process is held to Microsoft's published schema.

syncd's request bodies to the event routes (create, update, cancel, getSchedule, and
the same inside `$batch`) and every event, page of events, schedule and mailbox
setting the sandbox answers are validated as they pass (tests/graph_schema/exchanges.py).
A test during whose setup or call an invalid body passed fails with the problems
listed; one whose teardown saw one errors; anything seen between tests fails the
session. Sandboxes in other processes (the benchmarks' children) are not observed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator

import pytest

from syncd.sandbox.stats import GraphExchange, observe_exchanges
from tests.graph_schema.exchanges import exchange_problems

#: At most this many problems are listed in one failure.
SHOWN = 15


class _Seen:
    """Problems found since the last look, from any sandbox thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._problems: list[str] = []
        self.exchanges = 0
        self.stray: list[str] = []

    def observe(self, exchange: GraphExchange) -> None:
        if exchange.inner:
            return  # the $batch envelope carries it, with the client that sent it
        try:
            found = exchange_problems(
                exchange.method,
                exchange.path,
                exchange.headers,
                exchange.body,
                exchange.status,
                exchange.answer,
            )
        except Exception as error:  # a validator bug must show, not vanish in the sandbox
            found = [f"{exchange.method} {exchange.path}: the validator failed: {error!r}"]
        with self._lock:
            self.exchanges += 1
            self._problems.extend(found)

    def drain(self) -> list[str]:
        with self._lock:
            found, self._problems = self._problems, []
        return found


_SEEN = _Seen()
_STOP: list[Callable[[], None]] = []


def take_problems() -> list[str]:
    """The problems seen since the last look, which then count as handled: for a test that
    provokes them on purpose and asserts on them."""
    return _SEEN.drain()


def _message(problems: list[str]) -> str:
    shown = "\n".join(f"  - {p}" for p in problems[:SHOWN])
    more = f"\n  ... and {len(problems) - SHOWN} more" if len(problems) > SHOWN else ""
    return (
        f"{len(problems)} Graph body/bodies break Microsoft's published v1.0 schema "
        f"(tests/data/graph-v1.0-event-schema.xml):\n{shown}{more}"
    )


def pytest_configure(config: pytest.Config) -> None:
    _STOP.append(observe_exchanges(_SEEN.observe))


def pytest_unconfigure(config: pytest.Config) -> None:
    while _STOP:
        _STOP.pop()()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    _SEEN.stray.extend(_SEEN.drain())  # left by the previous test's background threads
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    result = yield
    problems = _SEEN.drain()
    if problems:
        pytest.fail(_message(problems), pytrace=False)
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, None, None]:
    result = yield
    problems = _SEEN.drain()
    if problems:
        pytest.fail(_message(problems), pytrace=False)
    return result


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    problems = _SEEN.stray + _SEEN.drain()
    if not problems:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_sep("=", "Graph bodies outside the published schema", red=True)
        reporter.write_line(_message(problems))
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _SEEN.exchanges:
        return
    terminalreporter.write_line(
        f"graph schema: {_SEEN.exchanges} sandbox exchange(s) checked against "
        "Microsoft's published v1.0 metadata"
    )
