"""A short load run: three sessions at once for twenty seconds, no error.

The full run is ``python -m benchmarks.load_test``; see docs/LOAD_TEST.md.
"""

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest

from benchmarks import load_test

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SESSIONS = 3
SECONDS = 20


@pytest.fixture(scope="module")
def figures(app_url, browser):
    """Figures of the short run; ``browser`` only makes chromium's absence skip."""
    run = load_test.run_sessions(app_url, SESSIONS, SECONDS)
    # Playwright's sync API owns this thread's event loop, so run in another.
    with ThreadPoolExecutor(max_workers=1) as executor:
        return executor.submit(asyncio.run, run).result()


def test_every_session_acted(figures):
    """Each session completed its upload and at least one later action."""
    assert len(figures["actions_per_session"]) == SESSIONS
    assert min(figures["actions_per_session"]) >= 3


def test_no_errors_under_load(figures):
    """No exception element, page error or timeout in any session."""
    assert figures["error_examples"] == []


def test_no_cross_talk_under_load(figures):
    """Every session only ever saw its own cohort."""
    assert figures["cross_talk_examples"] == []
