"""The dashboard in a real browser: streamlit serves app.py, headless Chromium picks an example and sees
the match table and the piano roll. A screenshot goes to tests/artifacts/ (not committed)."""
from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from conftest import require_system
from melody import Catalog

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = os.path.join(ROOT, "tests", "artifacts")
BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, server: subprocess.Popen, timeout: float = 90.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"streamlit exited with status {server.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"streamlit did not answer at {url} within {timeout:.0f} s")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    require_system(os.path.exists(CHROMIUM), f"{CHROMIUM} (Debian's chromium package)")
    folder = tmp_path_factory.mktemp("browser")
    catalog = str(folder / "catalog")
    Catalog.open(catalog, create=True).index([os.path.join(ROOT, "reference_tracks")], workers=1)
    port = _free_port()
    env = {**os.environ, "MELODY_CATALOG": catalog}
    log = open(folder / "streamlit.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", os.path.join(ROOT, "app.py"),
                             "--server.headless", "true", "--server.port", str(port),
                             "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@contextlib.contextmanager
def _page(server: str, height: int):
    """A headless Chromium page on the dashboard, closed afterwards."""
    from playwright.sync_api import sync_playwright

    os.makedirs(ARTIFACTS, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=BROWSER_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": height})
            page.goto(server, wait_until="domcontentloaded")
            yield page
        finally:
            browser.close()


def _wait_for_results(page, screenshot: str):
    """Wait for the table, the piano roll and the report button; the page's screenshot goes to
    tests/artifacts/ whatever happens."""
    try:
        page.locator('[data-testid="stDataFrame"]').first.wait_for(timeout=90_000)
        page.locator('[data-testid="stImage"] img').first.wait_for(timeout=60_000)
        page.get_by_text("Download report (HTML)").wait_for(timeout=30_000)
    finally:
        page.screenshot(path=os.path.join(ARTIFACTS, screenshot), full_page=True)


def test_example_shows_match_table_and_piano_roll(server):
    with _page(server, 1800) as page:
        page.get_by_text("...or pick an example").wait_for(timeout=60_000)
        page.locator('[data-testid="stSelectbox"]').first.click()
        page.get_by_role("option", name="morning_commute.mid").click()
        _wait_for_results(page, "app-example.png")
        assert page.get_by_text("1 flagged match(es)").count() == 1
        assert page.locator('[data-testid="stException"]').count() == 0
        with page.expect_download(timeout=60_000) as download:     # the report is built on click
            page.get_by_text("Download report (HTML)").click()
        report = open(download.value.path(), encoding="utf-8").read()
        assert "data:image/png;base64," in report and "Ode to Joy" in report


def test_compare_page_with_a_catalog_tune_in_a_browser(server):
    """The compare page in a real browser: an example against a catalog tune found by part of its title
    gives the passage table and the piano roll. A screenshot goes to tests/artifacts/app-compare.png."""
    with _page(server, 3000) as page:
        page.get_by_text("Compare two songs").wait_for(timeout=60_000)
        page.get_by_text("Compare two songs").click()
        page.get_by_text("...or pick an example as song A").wait_for(timeout=60_000)
        page.locator('[data-testid="stSelectbox"]').first.click()
        page.get_by_role("option", name="morning_commute.mid").click()
        page.get_by_text("a catalog tune", exact=True).click()
        page.get_by_label("Title of a catalog tune (or part of it)").fill("ode")
        page.keyboard.press("Enter")
        _wait_for_results(page, "app-compare.png")
        assert page.get_by_text(re.compile(r"morning_commute\.mid vs Ode to Joy: \d+ flagged passage")).count() == 1
        assert page.locator('[data-testid="stException"]').count() == 0
