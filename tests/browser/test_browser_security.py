"""Hostile uploads stay inert, sessions stay apart and forged requests fail.

The injection case file is read from the shared case folder next to the
repository and the test is skipped when that folder is absent. The two
cohorts of the isolation test are generated here.
"""

import io
import urllib.error
import urllib.request
from pathlib import Path

import pandas as pd
import pytest
from conftest import (
    EXCEPTION_SELECTOR,
    choose_option,
    click_sidebar_link,
    cohort_csv,
    main_text,
    metric_value,
    open_path,
    upload_bytes,
    visible_text,
    wait_for_main_text,
    wait_idle,
)
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

SHARED_CASES = Path(__file__).resolve().parents[3] / "shared" / "cases"
INJECTION_FILE = SHARED_CASES / "html_injection.csv"
FORMULA_IDS = ['=HYPERLINK("http://example.invalid","open")', "+1+1", "@SUM(A1)"]
IMG_PAYLOAD = "<img src=x onerror=alert(1)>"
SCRIPT_PAYLOAD = "<script>alert(2)</script>"
ESCAPED_SCRIPT = "&lt;script&gt;alert(2)&lt;/script&gt;"
HOSTILE_NAME = (
    "<img src=y onerror=alert(3)>[open](javascript:alert(4))"
    "[site](http://127.0.0.1:9/x)**bold**.csv"
)
PAGE_LINKS = [
    "Data",
    "Clustering",
    "Cluster Profiles",
    "Patient Lookup",
    "Replication",
    "Home",
]

# Two cohorts with different sizes, identifiers and file names.
SESSIONS = {
    "alpha": {"rows": 131, "seed": 11, "prefix": "ALPHA", "k": "3"},
    "beta": {"rows": 173, "seed": 12, "prefix": "BETA", "k": "5"},
}


@pytest.fixture()
def dialogs(page):
    """Messages of every JavaScript dialog the page opens (each is dismissed)."""
    opened: list[str] = []

    def record(dialog) -> None:
        opened.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", record)
    return opened


@pytest.fixture()
def injected_page(page, app_url, dialogs):
    """A session whose cohort is the HTML-injection case file."""
    if not INJECTION_FILE.is_file():
        pytest.skip("shared case folder with html_injection.csv not found")
    open_path(page, app_url, "Data")
    upload_bytes(page, INJECTION_FILE.name, INJECTION_FILE.read_bytes())
    expect(page.get_by_text("Cohort in use: html_injection.csv")).to_be_visible()
    return page


def injected_elements(page) -> dict[str, int]:
    """Count DOM elements that the payloads would create if rendered as HTML."""
    scripts = page.locator("script").evaluate_all(
        "els => els.filter(e => e.textContent.includes('alert')).length"
    )
    handlers = page.locator("[onerror]").count()
    images = page.locator('img[src="x"], img[src="y"]').count()
    links = page.locator('a[href^="javascript:"], a[href*="127.0.0.1:9"]').count()
    return {"script": scripts, "onerror": handlers, "img": images, "link": links}


NO_INJECTED = {"script": 0, "onerror": 0, "img": 0, "link": 0}


def test_injected_column_name_shown_as_text(injected_page, dialogs):
    """The odd column name is listed as literal text on the Data page."""
    assert IMG_PAYLOAD in main_text(injected_page)
    assert injected_elements(injected_page) == NO_INJECTED
    assert dialogs == []


def test_injected_cell_values_stay_text(injected_page):
    """Script-like cell values reach the DOM only as escaped text."""
    # The rows table builds its accessible cells only once it is on screen.
    rows = injected_page.get_by_role("heading", name="Rows", exact=True)
    rows.scroll_into_view_if_needed()
    cell = injected_page.locator('[role="gridcell"]', has_text=SCRIPT_PAYLOAD)
    cell.first.wait_for(state="attached")
    content = injected_page.content()
    assert SCRIPT_PAYLOAD not in content
    assert ESCAPED_SCRIPT in content


def test_injection_inert_on_every_page(injected_page, dialogs):
    """No page renders the payloads as elements or opens a dialog."""
    # One session visits every page, because each upload costs seconds.
    for link in PAGE_LINKS:
        click_sidebar_link(injected_page, link)
        if link == "Patient Lookup":
            injected_page.get_by_role("button", name="Place the patient").click()
            wait_idle(injected_page)
        assert injected_elements(injected_page) == NO_INJECTED, link
        assert injected_page.locator(EXCEPTION_SELECTOR).count() == 0, link
        assert dialogs == [], link


def test_hostile_file_name_shown_as_text(page, app_url, dialogs):
    """A file name carrying HTML and a javascript: link is shown literally."""
    open_path(page, app_url, "Data")
    upload_bytes(page, HOSTILE_NAME, cohort_csv(40, seed=3, id_prefix="NAME"))
    expected = f"Cohort in use: {HOSTILE_NAME}"
    assert expected in wait_for_main_text(page, expected)
    assert page.locator('[data-testid="stMain"] a[href*="127.0.0.1:9"]').count() == 0

    sidebar = visible_text(page.locator('[data-testid="stSidebar"]'))
    assert HOSTILE_NAME in sidebar
    for link in ["Clustering", "Patient Lookup"]:
        click_sidebar_link(page, link)
        assert HOSTILE_NAME in main_text(page), link
        assert injected_elements(page) == NO_INJECTED, link
    assert dialogs == []


def test_hostile_name_in_error_shown_as_text(page, app_url, dialogs):
    """The upload error quotes a hostile file name literally."""
    open_path(page, app_url, "Data")
    upload_bytes(page, HOSTILE_NAME, bytes(range(256)) * 4)
    alert = page.locator('[data-testid="stAlert"]').filter(has_text="not loaded")
    expect(alert).to_be_visible()

    assert HOSTILE_NAME in visible_text(alert)
    assert alert.locator("a").count() == 0
    assert injected_elements(page) == NO_INJECTED
    assert page.locator("strong", has_text="bold").count() == 0
    assert dialogs == []


def test_patient_summary_inert_in_browser(page, app_url, dialogs, tmp_path):
    """The HTML summary of a hostile-named cohort opens in chromium inertly."""
    open_path(page, app_url, "Data")
    upload_bytes(page, HOSTILE_NAME, cohort_csv(60, seed=5, id_prefix="SUM"))
    click_sidebar_link(page, "Patient Lookup")
    page.get_by_role("button", name="Place the patient").click()
    wait_idle(page)
    button = page.get_by_role("button", name="Download printable summary (HTML)")
    with page.expect_download() as download:
        button.click()
    summary = tmp_path / "summary.html"
    download.value.save_as(summary)

    page.goto(summary.as_uri())
    policy = page.locator('meta[http-equiv="Content-Security-Policy"]')
    assert policy.count() == 1
    assert HOSTILE_NAME in page.locator("body").inner_text()
    assert injected_elements(page) == NO_INJECTED
    assert dialogs == []


@pytest.fixture()
def download_page(browser):
    """A page whose table CSV export falls back to an ordinary download.

    Chromium offers the File System Access save picker, which a headless
    browser cannot complete, so the page is opened without it.
    """
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.add_init_script("window.showSaveFilePicker = undefined;")
    opened = context.new_page()
    opened.set_default_timeout(60_000)
    yield opened
    context.close()


FORMULA_HEADER = "=1+1"
FORMULA_NOTE = "+2+2"
NUMBER_NOTE = "-5"


def formula_cohort() -> bytes:
    """Return a cohort with formula-like ids, a formula-like column and notes."""
    frame = pd.read_csv(io.BytesIO(cohort_csv(40, seed=8, id_prefix="F")), dtype=str)
    frame.loc[: len(FORMULA_IDS) - 1, "patient_id"] = FORMULA_IDS
    frame[FORMULA_HEADER] = [FORMULA_NOTE, NUMBER_NOTE] * 20
    return frame.to_csv(index=False).encode()


def test_rows_table_offers_no_raw_export(download_page, app_url):
    """The rows table has no built-in CSV export that would copy raw formulas.

    The table shows cells as read, so its own export would write formula-like
    ids unchanged; the app's download buttons neutralise them instead.
    """
    page = download_page
    open_path(page, app_url, "Data")
    upload_bytes(page, "formulas.csv", formula_cohort())
    wait_for_main_text(page, "Cohort in use: formulas.csv")
    wait_idle(page)
    heading = page.get_by_role("heading", name="Rows", exact=True)
    expect(heading).to_be_visible()
    heading.scroll_into_view_if_needed()
    table = page.locator('[data-testid="stDataFrame"]').last
    table.hover()
    # The toolbar appears on hover; wait for it so an absent button means hidden.
    expect(table.get_by_role("button", name="Fullscreen")).to_be_visible()

    assert table.get_by_role("button", name="Download as CSV").count() == 0


def test_server_log_has_no_identifier(page, app_url, tmp_path_factory):
    """A full browser session leaves no patient identifier in the server log."""
    marker = "ZZBROWSERMARK"
    open_path(page, app_url, "Data")
    upload_bytes(page, "marker.csv", cohort_csv(60, seed=21, id_prefix=marker))
    expect(page.get_by_text("Cohort in use: marker.csv")).to_be_visible()
    for link in ["Clustering", "Cluster Profiles", "Patient Lookup"]:
        click_sidebar_link(page, link)
    choose_option(page, "Prefill from a cohort patient", "row 1")
    page.get_by_role("button", name="Place the patient").click()
    wait_idle(page)

    logs = list(tmp_path_factory.getbasetemp().glob("server*/streamlit.log"))
    assert logs != []
    for log in logs:
        assert marker not in log.read_text(errors="replace"), log


# --- the server itself ----------------------------------------------------------

MULTIPART_BODY = (
    b'--B\r\nContent-Disposition: form-data; name="file"; filename="x.csv"\r\n'
    b"Content-Type: text/csv\r\n\r\nAge,Gender\r\n60,1\r\n--B--\r\n"
)
# Repository files and a line each contains; the server must not serve them.
REPOSITORY_FILES = [
    ("/.streamlit/config.toml", "maxUploadSize"),
    ("/data/demo_cohort.csv", "Heart rate,"),
    ("/Home.py", "import streamlit"),
    ("/app/static/demo_cohort.csv", "Heart rate,"),
]


def http_status(request) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, reply.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8", "replace")


def test_upload_without_xsrf_token_rejected(app_url):
    """An upload request without Streamlit's XSRF token gets 403."""
    request = urllib.request.Request(
        f"{app_url}/_stcore/upload_file/session/file",
        data=MULTIPART_BODY,
        method="PUT",
        headers={"Content-Type": "multipart/form-data; boundary=B"},
    )
    status, body = http_status(request)
    assert status == 403
    assert "XSRF" in body


@pytest.mark.parametrize(("path", "line"), REPOSITORY_FILES)
def test_repository_files_not_served(app_url, path, line):
    """Requests for repository files get the app shell, not the file."""
    _, body = http_status(urllib.request.Request(f"{app_url}{path}"))
    assert line not in body


# --- two sessions at once ----------------------------------------------------


@pytest.fixture()
def session_pages(browser, app_url):
    """Two browser contexts, each its own Streamlit session, on one server."""
    contexts, pages = [], {}
    for name in SESSIONS:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        opened = context.new_page()
        opened.set_default_timeout(90_000)
        contexts.append(context)
        pages[name] = opened
    for opened in pages.values():
        opened.goto(f"{app_url}/Data")
    for opened in pages.values():
        wait_idle(opened)
    yield pages
    for context in contexts:
        context.close()


def file_name(name: str) -> str:
    return f"cohort_{name}.csv"


def upload_both(pages) -> None:
    """Start both uploads before waiting for either session to finish."""
    for name, opened in pages.items():
        spec = SESSIONS[name]
        data = cohort_csv(spec["rows"], seed=spec["seed"], id_prefix=spec["prefix"])
        file = {"name": file_name(name), "mimeType": "text/csv", "buffer": data}
        opened.set_input_files('[data-testid="stFileUploaderDropzoneInput"]', [file])
    for name, opened in pages.items():
        expect(opened.get_by_text(f"Cohort in use: {file_name(name)}")).to_be_visible()
        wait_idle(opened)


def click_both(pages, label: str) -> None:
    """Open the same page in both sessions before waiting for either."""
    for opened in pages.values():
        nav = opened.locator('[data-testid="stSidebarNav"]')
        nav.get_by_role("link", name=label, exact=True).click()
    for opened in pages.values():
        wait_idle(opened)


def download_assignments(page) -> pd.DataFrame:
    button = page.get_by_role("button", name="Download cluster assignments (CSV)")
    with page.expect_download() as download:
        button.click()
    return pd.read_csv(io.BytesIO(Path(download.value.path()).read_bytes()))


def other(name: str) -> str:
    return next(key for key in SESSIONS if key != name)


def test_sessions_see_own_cohort_on_data(session_pages):
    """After simultaneous uploads each session shows its own name and rows."""
    upload_both(session_pages)
    for name, opened in session_pages.items():
        sidebar = opened.locator('[data-testid="stSidebar"]').inner_text()
        assert metric_value(opened, "Rows read") == str(SESSIONS[name]["rows"]), name
        assert file_name(name) in sidebar, name
        assert file_name(other(name)) not in main_text(opened), name


def test_sessions_cluster_own_cohort(session_pages):
    """Each session's assignments download holds only its own patients."""
    upload_both(session_pages)
    click_both(session_pages, "Clustering")
    for name, opened in session_pages.items():
        spec = SESSIONS[name]
        caption = f"Cohort: {file_name(name)}, "
        assert caption in main_text(opened), name
        assignments = download_assignments(opened)
        ids = assignments["patient_id"].astype(str)
        kept_rows = int(
            main_text(opened).split(" patients kept of ")[0].split(", ")[-1]
        )
        assert ids.str.startswith(f"{spec['prefix']}-").all(), name
        assert len(assignments) == kept_rows, name
        assert kept_rows <= spec["rows"], name


def test_sessions_keep_own_k(session_pages):
    """Different k chosen at the same time stay with their own session."""
    upload_both(session_pages)
    click_both(session_pages, "Clustering")
    for name, opened in session_pages.items():
        choose_option(opened, "Number of clusters k", SESSIONS[name]["k"])
    click_both(session_pages, "Cluster Profiles")
    for name, opened in session_pages.items():
        text = main_text(opened)
        assert f"k = {SESSIONS[name]['k']} clusters" in text, name
        assert f"Cohort: {file_name(name)}, " in text, name
        assert opened.locator(EXCEPTION_SELECTOR).count() == 0, name
