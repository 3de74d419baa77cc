"""Tests for the printable patient summary (core.patient_report, report_charts)."""

import re
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from core import report_charts
from core.clustering import ClusterSettings, fit_clusters
from core.demo import COLUMNS, HEART_RATE_ERROR_VALUE, make_demo_cohort
from core.lookup import assign_patient
from core.patient_report import (
    FORM_LABEL,
    build_report,
    render_html,
    report_file_name,
)
from core.schema import FEATURE_NAMES

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 180
HOSTILE = "<script>alert('x')</script>"
CREATED = datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
DISCLAIMER = "Decision support, not diagnosis. Clinical judgement decides."
PATIENT = {
    "age": 63.0,
    "gender": 1.0,
    "heart_rate": 104.0,
    "systolic_bp": 150.0,
    "diastolic_bp": 85.0,
    "blood_sugar": 140.0,
    "ck_mb": 4.0,
    "troponin": 0.5,
}


@pytest.fixture(scope="module")
def cohort() -> tuple[pd.DataFrame, pd.Series]:
    frame = make_demo_cohort(seed=4, n_patients=200)
    frame = frame[frame["Heart rate"] != HEART_RATE_ERROR_VALUE]
    renamed = frame.rename(columns=dict(zip(COLUMNS[:8], FEATURE_NAMES, strict=True)))
    features = renamed[list(FEATURE_NAMES)].astype(float)
    outcome = (frame["Result"] == "positive").astype(float)
    return features, outcome


@pytest.fixture(scope="module")
def result(cohort):
    features, _ = cohort
    return fit_clusters(features, ClusterSettings(k=3, k_min=3, k_max=3, seed=2))


def make_html(result, cohort, **options) -> str:
    features, outcome = cohort
    arguments = {
        "outcome": outcome,
        "overrides": {},
        "cohort_name": "demo.csv",
        "disclaimer": DISCLAIMER,
        "created": CREATED,
        "with_charts": False,
    }
    arguments.update(options)
    patient = arguments.pop("patient", PATIENT)
    assignment = assign_patient(result, patient)
    report = build_report(result, features, patient, assignment, **arguments)
    return render_html(report)


@pytest.fixture(scope="module")
def plain_html(result, cohort) -> str:
    return make_html(result, cohort)


@pytest.fixture(scope="module")
def chart_html(result, cohort) -> str:
    pytest.importorskip("vl_convert")
    return make_html(result, cohort, with_charts=True)


@pytest.mark.parametrize(
    "expected",
    [
        DISCLAIMER,
        "demo.csv",
        "2026-01-02 03:04",
        FORM_LABEL,
        "Patient values",
        "Percentiles",
        "Cohort percentile",
        "Wilson 95 % interval",
        "Reference-value flags",
        "tachycardia",
        "Fourth Universal Definition of Myocardial Infarction",
        "3 (chosen)",
        "Seed",
    ],
)
def test_report_contains(plain_html, expected):
    """The report shows each required part, its thresholds and sources."""
    assert expected in plain_html


def test_report_names_assigned_cluster(result, plain_html):
    """The heading names the assigned cluster's number and name."""
    assignment = assign_patient(result, PATIENT)
    assert f"Cluster {assignment.cluster}: {assignment.name}" in plain_html


def test_report_lists_every_distance(result, plain_html):
    """One distance row per cluster, the assigned one marked."""
    assert plain_html.count("<td>assigned</td>") == 1
    for cluster, name in result.names.items():
        assert f"<td>{cluster}: {name}</td>" in plain_html


def test_report_patients_clustered(result, plain_html):
    """The header states how many patients the clusters were fitted on."""
    assert f"<td>{len(result.labels):,}</td>" in plain_html


def test_disclaimer_top_and_bottom(plain_html):
    """The disclaimer opens and closes the report."""
    assert plain_html.count(DISCLAIMER) == 2


@pytest.mark.parametrize("field", ["cohort_name", "patient_label"])
def test_hostile_text_escaped(result, cohort, field):
    """A cohort name or patient id containing a script tag is shown as text."""
    text = make_html(result, cohort, **{field: f"row 3 (patient id {HOSTILE})"})
    assert "<script" not in text.lower()
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in text


@pytest.mark.parametrize("fixture", ["plain_html", "chart_html"])
def test_no_external_references(request, fixture):
    """The file loads nothing: no script, link, iframe, or external src or href."""
    text = request.getfixturevalue(fixture)
    assert "<script" not in text.lower()
    assert "<link" not in text.lower()
    assert "<iframe" not in text.lower()
    assert not re.search(r"(?:src|href)\s*=\s*[\"'](?!#)", text, re.I)
    assert not re.search(r"url\(", text, re.I)


def test_content_security_policy(plain_html):
    """A Content-Security-Policy forbids any script or network load."""
    assert "default-src 'none'" in plain_html


def test_charts_inline_svg(chart_html):
    """With vl-convert the two charts are embedded as inline SVG."""
    assert chart_html.count("<svg") == 2


def test_without_charts_says_so(plain_html):
    """Without charts the report states that the tables give the values."""
    assert "Charts are not included" in plain_html


def test_no_outcome_column(result, cohort):
    """Without an outcome the report states so instead of giving a rate."""
    assert "no outcome column" in make_html(result, cohort, outcome=None)


def test_edited_threshold_marked(result, cohort):
    """A threshold changed by the user is shown with its new value and marked."""
    text = make_html(result, cohort, overrides={"ck_mb_high": 3.0})
    assert "&gt; 3 ng/mL (edited)" in text


def test_extra_settings_listed(result, cohort):
    """Settings kept outside the fit, such as row exclusion, are listed."""
    text = make_html(result, cohort, extra_settings={"Rows excluded": "implausible"})
    assert "<td>Rows excluded</td><td>implausible</td>" in text


def test_no_flag_message(result, cohort):
    """A patient within every threshold gets the no-flag sentence."""
    calm = {**PATIENT, "heart_rate": 72.0, "systolic_bp": 118.0,
            "diastolic_bp": 72.0, "blood_sugar": 100.0, "ck_mb": 2.0,
            "troponin": 0.005}  # fmt: skip
    assert "No value crosses a reference threshold." in make_html(
        result, cohort, patient=calm
    )


def test_file_name_has_date():
    """The download name carries the date of the report."""
    assert report_file_name(CREATED) == "patient_summary_20260102.html"


@pytest.mark.parametrize(
    "svg",
    [
        "<svg><script>alert(1)</script></svg>",
        '<svg><image href="http://127.0.0.1/x.png"/></svg>',
        "no svg element",
    ],
)
def test_unsafe_svg_left_out(monkeypatch, svg):
    """An SVG with a script, an external link or no svg element is dropped."""
    vl_convert = pytest.importorskip("vl_convert")
    monkeypatch.setattr(vl_convert, "vegalite_to_svg", lambda spec: svg)
    assert report_charts.chart_svg(_tiny_chart()) is None


def test_failed_conversion_left_out(monkeypatch):
    """A conversion error leaves the chart out instead of failing the report."""
    vl_convert = pytest.importorskip("vl_convert")

    def fail(spec):
        raise ValueError("conversion failed")

    monkeypatch.setattr(vl_convert, "vegalite_to_svg", fail)
    assert report_charts.chart_svg(_tiny_chart()) is None


def _tiny_chart():
    import altair as alt

    return alt.Chart(pd.DataFrame({"a": [1]})).mark_bar().encode(x="a:Q")


def test_lookup_page_offers_summary():
    """After placing a patient the lookup page offers the HTML summary."""
    at = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=TIMEOUT).run()
    at.switch_page("pages/4_Patient_Lookup.py")
    at.run()
    at.form_submit_button[0].click().run()
    buttons = at.get("download_button")
    assert not at.exception
    assert any("printable summary" in button.proto.label for button in buttons), [
        button.proto.label for button in buttons
    ]
