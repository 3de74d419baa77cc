"""Every page renders in a real browser, and the main flows work end to end.

Times to first render go to ``first_render.json`` and screenshots to
``screenshots/``, both under pytest's base temporary directory. The module
prints the record's path with the summary of the times.
"""

import json
import re
import time

import pytest
from conftest import (
    EXCEPTION_SELECTOR,
    choose_option,
    click_sidebar_link,
    cohort_csv,
    main_text,
    metric_value,
    open_path,
    save_screenshot,
    upload_bytes,
    wait_idle,
)
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

# URL path, page title (h1) and a selector for the page's main output.
PAGES = [
    pytest.param(
        "", "Heart patient clusters", 'h3:has-text("Cohort in use")', id="home"
    ),
    pytest.param("Data", "Data", 'h3:has-text("Data quality")', id="data"),
    pytest.param(
        "Clustering", "Clustering", 'h3:has-text("Verdict:")', id="clustering"
    ),
    pytest.param(
        "Cluster_Profiles",
        "Cluster profiles",
        '[data-testid="stDataFrame"]',
        id="profiles",
    ),
    pytest.param(
        "Patient_Lookup",
        "Patient lookup",
        'button:has-text("Place the patient")',
        id="lookup",
    ),
    pytest.param(
        "Replication",
        "Replication",
        'h3:has-text("Saved model against a fresh fit")',
        id="replication",
    ),
]
SIDEBAR_LINKS = [
    ("Data", "Data"),
    ("Clustering", "Clustering"),
    ("Cluster Profiles", "Cluster profiles"),
    ("Patient Lookup", "Patient lookup"),
    ("Replication", "Replication"),
    ("Home", "Heart patient clusters"),
]
DEMO_ROWS = "1,300"


@pytest.fixture(scope="module")
def output_dir(tmp_path_factory):
    """Folder for the screenshots and the render-time record of this module."""
    folder = tmp_path_factory.getbasetemp() / "browser_pages"
    (folder / "screenshots").mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def render_times(output_dir):
    """Seconds from navigation to the page's main output, written at the end."""
    times: dict[str, float] = {}
    yield times
    record = output_dir / "first_render.json"
    record.write_text(json.dumps(times, indent=2))
    summary = ", ".join(
        f"{name or 'home'} {seconds:.2f}s" for name, seconds in times.items()
    )
    print(f"\nTime to first render: {summary}; record {record}")


@pytest.fixture()
def page_errors(page):
    """JavaScript errors raised on the page during the test."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


@pytest.mark.parametrize(("path", "title", "output"), PAGES)
def test_page_renders(
    page, app_url, page_errors, render_times, output_dir, path, title, output
):
    """Each page opens by URL, shows its title and main output, and no error."""
    started = time.monotonic()
    page.goto(f"{app_url}/{path}")
    page.locator(output).first.wait_for(state="visible", timeout=120_000)
    wait_idle(page)
    render_times[path] = round(time.monotonic() - started, 2)
    print(f"{path or 'home'}: first render in {render_times[path]:.2f} s")
    save_screenshot(page, output_dir / "screenshots" / f"{path or 'Home'}.png")

    assert page.locator("h1").first.inner_text() == title
    assert page.locator(EXCEPTION_SELECTOR).count() == 0
    assert page_errors == []


def test_sidebar_links_keep_session(page, app_url):
    """Sidebar links open every page in one session without an error."""
    open_path(page, app_url)
    for label, title in SIDEBAR_LINKS:
        click_sidebar_link(page, label)
        expect(page.locator("h1").first).to_have_text(title)
        assert page.locator(EXCEPTION_SELECTOR).count() == 0, label


def test_home_shows_demo_cohort(page, app_url):
    """The first visit loads the 1,300-row synthetic demo cohort."""
    open_path(page, app_url)
    assert metric_value(page, "Rows read") == DEMO_ROWS
    assert "SYNTHETIC" in page.locator('[data-testid="stSidebar"]').inner_text()


@pytest.mark.parametrize("k", ["3", "5"])
def test_changing_k_refits(page, app_url, page_errors, k):
    """Choosing k on the Clustering page shows k clusters and no error."""
    open_path(page, app_url, "Clustering")
    choose_option(page, "Number of clusters k", k)

    expect(page.locator("h3", has_text="clusters").first).to_have_text(f"{k} clusters")
    assert page.locator(EXCEPTION_SELECTOR).count() == 0
    assert page_errors == []


def test_rapid_navigation_no_error(page, app_url, page_errors):
    """Changing k and switching pages before each rerun ends leaves no error."""
    open_path(page, app_url, "Clustering")
    nav = page.locator('[data-testid="stSidebarNav"]')
    page.locator('[data-testid="stSelectbox"]').filter(
        has_text="Number of clusters k"
    ).click()
    page.get_by_role("option", name="6", exact=True).click()
    for label in ["Cluster Profiles", "Patient Lookup", "Data", "Clustering"]:
        nav.get_by_role("link", name=label, exact=True).click()
        page.wait_for_timeout(200)
    wait_idle(page)

    expect(page.locator("h1").first).to_have_text("Clustering")
    expect(page.locator("h3", has_text="clusters").first).to_have_text("6 clusters")
    assert page.locator(EXCEPTION_SELECTOR).count() == 0
    assert page_errors == []


def test_k_carries_to_profiles(page, app_url):
    """The k chosen on Clustering is the k the Cluster Profiles page shows."""
    open_path(page, app_url, "Clustering")
    choose_option(page, "Number of clusters k", "4")
    click_sidebar_link(page, "Cluster Profiles")
    assert "k = 4 clusters" in main_text(page)


def test_lookup_places_patient(page, app_url, output_dir, page_errors):
    """Submitting the lookup form with the cohort medians names a cluster."""
    open_path(page, app_url, "Patient_Lookup")
    page.get_by_role("button", name="Place the patient").click()
    wait_idle(page)
    heading = page.locator("h3").filter(has_text=re.compile(r"^Cluster \d+: "))
    expect(heading).to_have_count(1)
    save_screenshot(page, output_dir / "screenshots" / "Patient_Lookup_placed.png")

    assert page.locator(EXCEPTION_SELECTOR).count() == 0
    assert page_errors == []


def test_lookup_prefill_from_row(page, app_url):
    """Prefilling from a cohort row and submitting places that patient."""
    open_path(page, app_url, "Patient_Lookup")
    choose_option(page, "Prefill from a cohort patient", "row 2")
    page.get_by_role("button", name="Place the patient").click()
    wait_idle(page)
    heading = page.locator("h3").filter(has_text=re.compile(r"^Cluster \d+: "))
    expect(heading).to_have_count(1)


def test_upload_through_file_input(page, app_url, output_dir, page_errors):
    """A CSV put into the real file input becomes the cohort on every page."""
    open_path(page, app_url, "Data")
    upload_bytes(page, "browser_upload.csv", cohort_csv(137, seed=7, id_prefix="UP"))
    expect(page.get_by_text("Cohort in use: browser_upload.csv")).to_be_visible()
    save_screenshot(page, output_dir / "screenshots" / "Data_uploaded.png")

    assert metric_value(page, "Rows read") == "137"
    assert page.locator(EXCEPTION_SELECTOR).count() == 0
    click_sidebar_link(page, "Clustering")
    assert "of 137 read" in main_text(page)
    assert page_errors == []


def test_unreadable_upload_keeps_cohort(page, app_url, output_dir):
    """A binary file shows a clear error and the demo cohort stays in use."""
    open_path(page, app_url, "Data")
    upload_bytes(page, "scan.csv", bytes(range(256)) * 8)
    alert = page.locator('[data-testid="stAlert"]').filter(has_text="not loaded")
    expect(alert).to_be_visible()
    save_screenshot(page, output_dir / "screenshots" / "Data_rejected.png")

    assert "previous cohort stays in use" in alert.inner_text()
    assert metric_value(page, "Rows read") == DEMO_ROWS
    assert page.locator(EXCEPTION_SELECTOR).count() == 0
