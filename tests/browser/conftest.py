"""Fixtures that start the app on 127.0.0.1 and drive Debian's chromium.

Playwright's own browser download does not work offline, so the tests launch
the system chromium. They skip with the reason when it is missing.
"""

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from benchmarks.load_test import start_server

REPO_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
IDLE_SELECTOR = '[data-testid="stApp"][data-test-script-state="notRunning"]'


@pytest.fixture(scope="session")
def app_url(tmp_path_factory):
    """Start one Streamlit server on a free loopback port for the session."""
    log_path = tmp_path_factory.mktemp("server") / "streamlit.log"
    process, url = start_server(log_path)
    try:
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="session")
def browser():
    """Launch Debian's chromium through Playwright, or skip with the reason."""
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        pytest.skip(f"no chromium at {CHROMIUM}; install Debian's chromium package")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


@pytest.fixture()
def page(browser):
    """Open a fresh browser context (its own session) and page."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    opened = context.new_page()
    opened.set_default_timeout(60_000)
    yield opened
    context.close()


def wait_idle(page) -> None:
    """Wait until the Streamlit script has finished its current run."""
    page.wait_for_timeout(300)
    page.wait_for_selector(IDLE_SELECTOR, timeout=90_000)


# --- helpers shared by the browser tests ----------------------------------

EXCEPTION_SELECTOR = '[data-testid="stException"]'
UPLOAD_INPUT_SELECTOR = '[data-testid="stFileUploaderDropzoneInput"]'
SCREENSHOT_MAX_HEIGHT = 8_000


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "slow: takes about a minute; deselect with -m 'not slow'"
    )


def open_path(page, app_url: str, path: str = "") -> None:
    """Load a page by its URL path, which starts a new Streamlit session."""
    page.goto(f"{app_url}/{path}")
    wait_idle(page)


def click_sidebar_link(page, label: str) -> None:
    """Open a page through its sidebar link, keeping the session."""
    nav = page.locator('[data-testid="stSidebarNav"]')
    nav.get_by_role("link", name=label, exact=True).click()
    wait_idle(page)


def upload_bytes(page, name: str, data: bytes, mime: str = "text/csv") -> None:
    """Put a file into the Data page's uploader through its real file input."""
    file = {"name": name, "mimeType": mime, "buffer": data}
    page.set_input_files(UPLOAD_INPUT_SELECTOR, files=[file])
    wait_idle(page)


def choose_option(page, widget_label: str, option: str) -> None:
    """Pick ``option`` in the selectbox whose label contains ``widget_label``."""
    page.locator('[data-testid="stSelectbox"]').filter(has_text=widget_label).click()
    page.get_by_role("option", name=option, exact=True).click()
    wait_idle(page)


def metric_value(page, label: str) -> str:
    """Return the displayed value of the first metric with ``label``."""
    metric = page.locator('[data-testid="stMetric"]').filter(has_text=label).first
    return metric.locator('[data-testid="stMetricValue"]').inner_text()


# The app puts a zero-width space inside "://", "www." and "@" of uploaded
# text, so that markdown does not turn it into links. Tests compare without it.
ZERO_WIDTH_SPACE = "\u200b"


def visible_text(locator) -> str:
    """Return a locator's visible text without the app's zero-width spaces."""
    return locator.inner_text().replace(ZERO_WIDTH_SPACE, "")


def main_text(page) -> str:
    """Return the visible text of the page body, sidebar excluded."""
    return visible_text(page.locator('[data-testid="stMain"]'))


def wait_for_main_text(page, expected: str, timeout_s: float = 60) -> str:
    """Return the page body's text once it contains ``expected``, or the last read.

    After an upload Streamlit can rerun the script once more, so the body is
    read again until the text appears or the time is up.
    """
    deadline = time.monotonic() + timeout_s
    text = main_text(page)
    while expected not in text and time.monotonic() < deadline:
        page.wait_for_timeout(500)
        text = main_text(page)
    return text


def save_screenshot(page, path: Path) -> None:
    """Save the whole page, whose scrolling happens inside Streamlit's main block."""
    viewport = page.viewport_size
    main = page.locator('[data-testid="stMain"]')
    # Charts and tables lay themselves out again after a resize, so measure twice.
    for _ in range(2):
        height = min(main.evaluate("el => el.scrollHeight"), SCREENSHOT_MAX_HEIGHT)
        page.set_viewport_size({"width": viewport["width"], "height": height})
        page.wait_for_timeout(500)
    page.screenshot(path=str(path))
    page.set_viewport_size(viewport)


def cohort_csv(n_patients: int, seed: int, id_prefix: str) -> bytes:
    """Return a synthetic cohort CSV with ``n_patients`` rows and prefixed ids."""
    from core.demo import make_demo_cohort

    frame = make_demo_cohort(seed=seed, n_patients=n_patients)
    ids = [f"{id_prefix}-{number:04d}" for number in range(1, n_patients + 1)]
    frame.insert(0, "patient_id", ids)
    return frame.to_csv(index=False).encode()
