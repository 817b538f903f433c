"""The status page in a real browser: Debian's chromium, headless, driven by selenium.

A real API process (`syncd serve`, a subprocess) serves /status over HTTP; the sandbox
(Microsoft 365 and the tenant's Salesforce org) runs in this process and the API
reaches it over HTTPS through its connection file. The daemon's jobs run here, on the
same ledger, as `syncd run` runs them (syncd.operator_jobs.operator_jobs), so the test
decides when a pass happens. The operator logs in, finds the failed record, follows
it to its history page, fixes its cause in the sandbox, presses "Retry now", and
watches the record become synced by reloading the page. A screenshot is kept in
$SYNCD_TEST_ARTIFACTS (default <repo>/state/artifacts/).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from syncd.config import load_config
from syncd.domain import MeetingStatus
from syncd.ledger.db import upgrade
from syncd.operator_jobs import operator_jobs
from syncd.runtime import Runtime, build_runtime
from syncd.sandbox.server import (
    RunningSandbox,
    SandboxTenantSpec,
    start_sandbox,
    write_connection_file,
)
from syncd.sync.service import PassReport
from tests.daemon.helpers import (
    DOMAIN,
    REPO,
    SYNCD,
    TENANT,
    drop_events_without_mailbox,
    write_demo_config,
)
from tests.support import free_port, suite_clock, wait_until

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
TOKEN_ENV = "SYNCD_TEST_OPERATOR_TOKEN"
TOKEN = "browser-test-operator-token-4f9c2a71d3"


def artifacts_dir() -> Path:
    path = Path(os.environ.get("SYNCD_TEST_ARTIFACTS") or REPO / "state" / "artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


def browser_or_skip() -> None:
    """Chromium is required in CI (CI=1); elsewhere its absence skips, saying why."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if not missing:
        return
    reason = (
        f"{' and '.join(missing)} not installed: `apt-get install chromium chromium-driver` "
        "(.ci/run installs them)"
    )
    if os.environ.get("CI") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture
def driver(tmp_path: Path) -> Iterator[object]:
    browser_or_skip()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1280,1400",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ):
        options.add_argument(flag)
    browser = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    browser.set_page_load_timeout(30)
    try:
        yield browser
    finally:
        browser.quit()


class Setup:
    """The sandbox, the config, the API process and the daemon's runtime."""

    def __init__(self, sandbox: RunningSandbox, config_path: Path, url: str, runtime: Runtime):
        self.sandbox, self.config_path, self.url, self.runtime = sandbox, config_path, url, runtime


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Setup]:
    spec = SandboxTenantSpec(TENANT, DOMAIN, users=25, seed=42, salesforce_events=6)
    # The sandbox and the daemon's runtime run on the suite's clock, never today's date.
    with start_sandbox(
        state_dir=tmp_path / "sandbox", tenants=[spec], clock=suite_clock()
    ) as sandbox:
        config_path = write_demo_config(tmp_path / "config", write_connection_file(sandbox))
        with config_path.open("a") as handle:
            handle.write(f'\n[operator]\ntoken = {{ env = "{TOKEN_ENV}" }}\n')
        monkeypatch.setenv(TOKEN_ENV, TOKEN)
        upgrade(load_config(config_path).database_url)
        port = free_port()
        log_path = tmp_path / "api.log"
        with log_path.open("w") as log:
            api = subprocess.Popen(
                [*SYNCD, "--config", str(config_path), "serve", "--port", str(port)],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=REPO,
                env={**os.environ, TOKEN_ENV: TOKEN},
            )
        url = f"http://127.0.0.1:{port}"
        runtime = build_runtime(load_config(config_path), clock=sandbox.clock.now)
        try:
            wait_until(lambda: _healthy(url, api), "the API process to answer /healthz", 60)
            yield Setup(sandbox, config_path, url, runtime)
        finally:
            runtime.close()
            api.terminate()
            api.wait(30)
            # The operator token never reaches the API process's log.
            assert TOKEN not in log_path.read_text()


def _healthy(url: str, process: subprocess.Popen[bytes]) -> bool:
    if process.poll() is not None:
        pytest.fail(f"the API process exited with {process.returncode}")
    try:
        return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def no_mailbox_user(sandbox: RunningSandbox) -> str:
    return next(u.email for u in sandbox.tenant(TENANT).users if not u.has_mailbox)


def test_log_in_follow_a_failed_record_retry_it_and_watch_it_sync(
    setup: Setup, driver: object
) -> None:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.remote.webdriver import WebDriver

    assert isinstance(driver, WebDriver)
    sandbox = setup.sandbox
    org = sandbox.org(TENANT).org
    drop_events_without_mailbox(sandbox)  # the one failure is the test's own
    owner = no_mailbox_user(sandbox)
    start = (sandbox.clock.now() + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    event_id = org.create_event(owner, "Unlicensed owner", start, start + timedelta(minutes=30))
    service = setup.runtime.sync_service(TENANT)
    jobs = {job.name: job for job in operator_jobs(service)}
    first = jobs["poll"].run()
    assert isinstance(first, PassReport)
    assert [failed for failed, _ in first.failures] == [event_id]
    retried = jobs["retry-failed"].run()  # backing off: not taken yet
    assert isinstance(retried, PassReport) and retried.records_read == 0

    # Log in.
    driver.get(f"{setup.url}/status")
    assert driver.current_url.endswith("/status/login")
    driver.find_element(By.ID, "token").send_keys(TOKEN)
    driver.find_element(By.ID, "login").click()
    wait_until(lambda: driver.current_url.endswith("/status"), "the status page after login")
    assert driver.find_element(By.ID, f"health-{TENANT}").text == "ok"
    assert "records read" in driver.page_source  # the poll job's record
    assert TOKEN not in driver.page_source

    # Follow the failed record to its page.
    links = driver.find_elements(By.CSS_SELECTOR, "a.record-link")
    assert [link.text for link in links] == [f"salesforce {event_id}"]
    links[0].click()
    wait_until(lambda: f"/records/salesforce/{event_id}" in driver.current_url, "the record page")
    assert driver.find_element(By.ID, "record-status").text == "failed"
    assert owner in driver.find_element(By.ID, "record-error").text
    # The ledger's history holds the failure (side, action and reason).
    assert "failed" in driver.find_element(By.ID, "history").text
    assert driver.save_screenshot(str(artifacts_dir() / "status-record-failed.png"))

    # Fix the cause in the sandbox (a licence with a mailbox), then retry now.
    user = sandbox.directory.find_by_email(owner)
    assert user is not None
    user.has_mailbox = True
    driver.find_element(By.ID, "retry").click()

    def notice() -> str:
        # The click posts a form and loads the page again: until the new page is there,
        # the notice is missing, or found on the page being replaced.
        try:
            return " ".join(element.text for element in driver.find_elements(By.ID, "notice"))
        except StaleElementReferenceException:
            return ""

    wait_until(lambda: "back-off cleared" in notice(), "the retry notice")

    # The daemon's next retry pass takes it; the page shows it synced.
    retried = jobs["retry-failed"].run()
    assert isinstance(retried, PassReport) and retried.records_read == 1

    def synced() -> bool:
        driver.refresh()
        shown = driver.find_elements(By.ID, "record-status")
        return bool(shown) and shown[0].text == MeetingStatus.SYNCED.value

    wait_until(synced, "the record to show synced", 60)
    assert driver.find_element(By.ID, "record-error").text == "none"
    assert "created" in driver.find_element(By.ID, "history").text  # the retry's Outlook write
    shot = artifacts_dir() / "status-record-synced.png"
    assert driver.save_screenshot(str(shot))
    driver.get(f"{setup.url}/status")
    assert driver.find_element(By.ID, f"no-failures-{TENANT}").text == "None."
    overview = artifacts_dir() / "status-page.png"
    assert driver.save_screenshot(str(overview))
    assert shot.stat().st_size > 0 and overview.stat().st_size > 0
