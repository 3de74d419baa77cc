"""Every page runs under AppTest and the main flows give their outputs."""

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from core.algorithms import LOOKUP_NOTE, gaussian_mixture
from core.clustering import fit_clusters
from core.demo import DEMO_PATH
from ui import state

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT.parent / "shared" / "cases"
# The k sweep (gap statistic included) takes seconds per fit, and tens of
# seconds on a busy two-core machine, so runs get a generous timeout.
TIMEOUT = 180
PAGES = {
    "data": "pages/1_Data.py",
    "clustering": "pages/2_Clustering.py",
    "profiles": "pages/3_Cluster_Profiles.py",
    "lookup": "pages/4_Patient_Lookup.py",
    "replication": "pages/5_Replication.py",
}
COLUMNS = [
    "Age",
    "Gender",
    "Heart rate",
    "Systolic blood pressure",
    "Diastolic blood pressure",
    "Blood sugar",
    "CK-MB",
    "Troponin",
]


def synthetic_csv(n_per_group: int = 30, outcome: bool = True, seed: int = 11):
    """Return CSV bytes of three seeded, well separated patient groups."""
    rng = np.random.default_rng(seed)
    centres = [
        [45, 0, 70, 115, 70, 100, 2.0, 0.005],
        [60, 1, 85, 150, 95, 180, 3.0, 0.010],
        [70, 1, 95, 125, 75, 140, 40.0, 2.000],
    ]
    spread = np.array([5, 0, 5, 6, 4, 10, 0.3, 0.001])
    rows = [
        np.clip(rng.normal(centre, spread * (1 + 0.2 * i)), 0.001, None)
        for i, centre in enumerate(centres)
        for _ in range(n_per_group)
    ]
    frame = pd.DataFrame(np.round(rows, 3), columns=COLUMNS)
    frame["Gender"] = frame["Gender"].round().astype(int)
    if outcome:
        frame["Result"] = np.where(frame["Troponin"] > 0.014, "positive", "negative")
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    return buffer.getvalue().encode()


def case_bytes(name: str) -> bytes:
    """Return a shared case file, skipping the test when it is absent."""
    path = CASES / name
    if not path.exists():
        pytest.skip(f"case file {name} is not available next to the repository")
    return path.read_bytes()


def page(name: str) -> AppTest:
    return AppTest.from_file(str(ROOT / PAGES[name]), default_timeout=TIMEOUT)


def upload(at: AppTest, data: bytes, filename: str) -> AppTest:
    """Upload bytes through the Data page's file uploader and rerun."""
    at.file_uploader(key=state.UPLOADER).upload(filename, data, "text/csv")
    return at.run()


def home() -> AppTest:
    return AppTest.from_file(str(ROOT / "Home.py"), default_timeout=TIMEOUT)


def with_upload(data: bytes, filename: str, target: str) -> AppTest:
    """Upload on the Data page, then switch to ``target`` in the same session.

    The session starts on Home, because AppTest resolves page paths relative
    to the script it started from.
    """
    at = home().run()
    at.switch_page(PAGES["data"])
    upload(at.run(), data, filename)
    if target != "data":
        at.switch_page(PAGES[target])
        at.run()
    return at


def profiles_table(at: AppTest) -> pd.DataFrame:
    """Return the profiles table: the dataframe with name, size and share."""
    for frame in at.dataframe:
        if {"name", "size", "share"} <= set(frame.value.columns):
            return frame.value
    raise AssertionError("no profiles table on the page")


def values(elements) -> list[str]:
    return [str(element.value) for element in elements]


def test_home_shows_demo_cohort():
    """Home loads the demo cohort on first visit and labels it synthetic."""
    at = home().run()
    rows = len(pd.read_csv(DEMO_PATH))
    assert not at.exception
    assert f"{rows:,}" in values(at.metric)
    assert any("SYNTHETIC" in text for text in values(at.info))
    assert len(at.get("page_link")) == len(PAGES)


def test_home_shows_disclaimer():
    """Home states that the app is decision support, not diagnosis."""
    at = home().run()
    assert any("not diagnosis" in text for text in values(at.warning))


def test_data_page_shows_quality_report():
    """The Data page shows the demo cohort's counts, rows and downloads."""
    at = page("data").run()
    cohort = at.session_state[state.COHORT]
    assert not at.exception
    assert f"{cohort.report.rows_kept:,}" in values(at.metric)
    assert len(at.dataframe) >= 3
    assert len(at.get("download_button")) == 1


@pytest.mark.parametrize(
    "target, check",
    [
        ("clustering", lambda at: any("Verdict" in t for t in values(at.markdown))),
        ("profiles", lambda at: len(profiles_table(at)) > 0),
        ("lookup", lambda at: len(at.get("form")) == 1),
    ],
)
def test_page_runs_and_shows_main_output(target, check):
    """Each analysis page runs on an uploaded cohort and shows its output."""
    at = with_upload(synthetic_csv(), "three_groups.csv", target)
    assert not at.exception
    assert not at.error
    assert check(at)


@pytest.mark.parametrize("k", [2, 3])
def test_new_k_changes_profiles_table(k):
    """Choosing k on the Clustering page gives k rows in the profiles table."""
    at = with_upload(synthetic_csv(), "three_groups.csv", "clustering")
    at.selectbox(key=state.K_SELECT).set_value(k).run()
    at.switch_page(PAGES["profiles"])
    at.run()
    assert not at.exception
    assert len(profiles_table(at)) == k


def test_clustering_sweep_and_download():
    """The Clustering page recommends a k and offers the CSV and the bundle."""
    at = with_upload(synthetic_csv(), "three_groups.csv", "clustering")
    keys = {button.key for button in at.get("download_button")}
    assert any("Recommended k" in text for text in values(at.markdown))
    assert keys == {state.ASSIGNMENTS_DOWNLOAD, state.BUNDLE_DOWNLOAD}


def test_stability_runs_on_button():
    """The bootstrap runs only when asked and then shows the mean ARI."""
    at = with_upload(synthetic_csv(), "three_groups.csv", "clustering")
    before = [m.label for m in at.metric]
    at.button(key=state.STABILITY_BUTTON).click().run()
    after = [m.label for m in at.metric]
    assert "Mean adjusted Rand index" not in before
    assert "Mean adjusted Rand index" in after


@pytest.mark.parametrize("algorithm", ["gmm", "ward"])
def test_algorithm_comparison_shows_ari(algorithm):
    """Choosing another algorithm shows its adjusted Rand index vs k-means."""
    at = with_upload(synthetic_csv(), "three_groups.csv", "clustering")
    at.selectbox(key=state.ALGORITHM_SELECT).set_value(algorithm).run()
    labels = [m.label for m in at.metric]
    assert not at.exception
    assert "Adjusted Rand index vs k-means" in labels


def test_lookup_form_returns_cluster():
    """Submitting the lookup form names the assigned cluster."""
    at = with_upload(synthetic_csv(), "three_groups.csv", "lookup")
    at.form_submit_button[0].click().run()
    headings = values(at.subheader)
    assert not at.exception
    assert any(heading.startswith("Cluster ") for heading in headings)


def test_lookup_prefill_from_row():
    """Picking a cohort row copies its values into the form."""
    at = with_upload(synthetic_csv(), "three_groups.csv", "lookup")
    cohort = at.session_state[state.COHORT]
    row = cohort.features.index[5]
    at.selectbox(key=state.LOOKUP_PICK).set_value(row).run()
    age = at.number_input(key=f"{state.LOOKUP_PREFIX}age").value
    assert age == pytest.approx(cohort.features.at[row, "age"])


def test_lookup_rejects_implausible_value():
    """An implausible heart rate shows an error naming the feature."""
    at = with_upload(synthetic_csv(), "three_groups.csv", "lookup")
    at.number_input(key=f"{state.LOOKUP_PREFIX}heart_rate").set_value(1111)
    at.form_submit_button[0].click().run()
    assert not at.exception
    assert at.error
    assert any("Heart rate" in text for text in values(at.text))


def test_no_outcome_shows_notice():
    """Without an outcome column the profiles page shows a notice instead."""
    at = with_upload(synthetic_csv(outcome=False), "no_outcome.csv", "profiles")
    assert not at.exception
    assert any("no outcome column" in text for text in values(at.info))


def test_upload_case_shows_mapping():
    """Uploading a case file makes it the cohort and shows its mapping form."""
    at = with_upload(case_bytes("renamed_columns.csv"), "renamed_columns.csv", "data")
    source = at.session_state[state.SOURCE]
    assert not at.exception
    assert source.filename == "renamed_columns.csv"
    assert at.selectbox(key=f"{state.MAPPING_PREFIX}age").value is not None


def test_empty_upload_keeps_previous_cohort():
    """An empty file shows the error and the previous cohort stays in use."""
    at = with_upload(case_bytes("bom_utf8.csv"), "bom_utf8.csv", "data")
    at.file_uploader(key=state.UPLOADER).set_value(None).run()
    upload(at, case_bytes("empty.csv"), "empty.csv")
    assert not at.exception
    assert any("empty" in text for text in values(at.error))
    assert at.session_state[state.SOURCE].filename == "bom_utf8.csv"


def test_back_to_demo_button():
    """The demo button replaces an uploaded cohort with the demo cohort."""
    at = with_upload(case_bytes("bom_utf8.csv"), "bom_utf8.csv", "data")
    at.button(key=state.DEMO_BUTTON).click().run()
    assert at.session_state[state.SOURCE].is_demo


def test_html_column_name_is_not_markdown():
    """A column name with HTML appears only as inert text, never in markdown."""
    at = with_upload(case_bytes("html_injection.csv"), "html_injection.csv", "data")
    rendered = values(at.markdown) + values(at.caption) + values(at.error)
    assert not at.exception
    assert not any("<img" in text for text in rendered)
    assert any("<img" in text for text in values(at.text))


def test_too_few_patients_error_on_clustering():
    """Two patients give a clear error on the Clustering page, no traceback."""
    at = with_upload(case_bytes("two_rows.csv"), "two_rows.csv", "clustering")
    assert not at.exception
    assert any("patients" in text for text in values(at.error))


def test_mapping_form_fixes_unmatched_column():
    """An unmatched feature column waits for the mapping form, then loads."""
    data = synthetic_csv().replace(b"Troponin", b"Marker X", 1)
    at = with_upload(data, "renamed_marker.csv", "data")
    assert state.PENDING in at.session_state
    assert not at.session_state[state.SOURCE].filename == "renamed_marker.csv"

    at.selectbox(key=f"{state.MAPPING_PREFIX}troponin").set_value("Marker X")
    at.form_submit_button(key=state.MAPPING_APPLY).click().run()
    assert not at.exception
    assert state.PENDING not in at.session_state
    assert at.session_state[state.SOURCE].filename == "renamed_marker.csv"


def test_unit_suggestion_accepted_converts_values():
    """Accepting the suggested conversions rescales blood sugar and troponin."""
    at = with_upload(case_bytes("units_mmol_ngL.csv"), "units.csv", "data")
    before = at.session_state[state.COHORT].table["blood_sugar"]
    suggestions = at.session_state[state.COHORT].unit_suggestions
    assert suggestions
    for suggestion in suggestions:
        at.checkbox(key=f"{state.UNITS_PREFIX}{suggestion.feature}").check()
    at.form_submit_button(key=state.UNITS_APPLY).click().run()
    after = at.session_state[state.COHORT].table["blood_sugar"]
    assert not at.exception
    assert after.to_numpy() == pytest.approx(before.to_numpy() * 18.016, rel=1e-3)


def test_fit_runs_once_across_pages(monkeypatch):
    """Changing page reuses the cached clustering instead of refitting."""
    calls = []
    original = state.fit_clusters

    def counting_fit(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(state, "fit_clusters", counting_fit)
    # A seed used by no other test gives content the cache has not seen.
    at = with_upload(synthetic_csv(seed=987), "fresh.csv", "clustering")
    for target in ("profiles", "lookup", "clustering"):
        at.switch_page(PAGES[target])
        at.run()
    assert not at.exception
    assert len(calls) == 1


def test_implausible_toggle_keeps_rows():
    """Switching off the implausible-row exclusion keeps every row read."""
    at = with_upload(
        case_bytes("implausible_values.csv"), "implausible.csv", "clustering"
    )
    kept_before = at.session_state[state.COHORT].report.rows_kept
    at.toggle(key=state.IMPLAUSIBLE_TOGGLE).set_value(False).run()
    report = at.session_state[state.COHORT].report
    assert not at.exception
    assert report.rows_kept > kept_before
    assert report.rows_kept == report.rows_read


def test_demo_cohort_clusters_on_first_visit():
    """Opening the Clustering page first clusters the demo cohort."""
    at = AppTest.from_file(str(ROOT / PAGES["clustering"]), default_timeout=TIMEOUT)
    at.run()
    assert not at.exception
    assert at.session_state[state.SOURCE].is_demo
    assert any("Verdict" in text for text in values(at.markdown))


def test_k_above_distinct_profiles_is_rejected():
    """Asking for more clusters than distinct profiles shows how many exist."""
    data = case_bytes("two_distinct_profiles.csv")
    at = with_upload(data, "two_profiles.csv", "clustering")
    at.selectbox(key=state.K_SELECT).set_value(4).run()
    assert not at.exception
    assert any("at most 2" in text for text in values(at.error))


def uniform_noise_csv() -> bytes:
    """Return CSV bytes of 60 seeded patients spread uniformly, with no groups."""
    rng = np.random.default_rng(21)
    frame = pd.DataFrame(
        rng.uniform(
            [20, 0, 50, 100, 50, 70, 0.5, 0.001],
            [90, 1, 120, 180, 95, 300, 9, 0.5],
            (60, 8),
        ),
        columns=COLUMNS,
    ).round(3)
    frame["Gender"] = frame["Gender"].round().astype(int)
    return frame.to_csv(index=False).encode()


def test_hdbscan_noise_shows_warning():
    """HDBSCAN on uniform noise warns that it found no dense group."""
    at = with_upload(uniform_noise_csv(), "noise.csv", "clustering")
    at.selectbox(key=state.ALGORITHM_SELECT).set_value("hdbscan").run()
    assert not at.exception
    assert any("HDBSCAN found 0" in text for text in values(at.warning))


def test_lookup_flags_high_troponin():
    """A troponin above the default limit raises its flag with the source."""
    at = with_upload(synthetic_csv(), "three_groups.csv", "lookup")
    at.number_input(key=f"{state.LOOKUP_PREFIX}troponin").set_value(0.5)
    at.form_submit_button[0].click().run()
    rendered = values(at.markdown)
    assert not at.exception
    assert any("troponin above the upper reference limit" in t for t in rendered)
    assert any("Universal Definition" in t for t in rendered)


def test_too_few_patients_notice_on_data_page():
    """Two patients give a notice with the numbers on Data; the rows still show."""
    at = with_upload(case_bytes("two_rows.csv"), "two_rows.csv", "data")
    warnings = values(at.warning)
    assert not at.exception
    assert any("at least 3 patients" in text for text in warnings)
    assert at.session_state[state.COHORT].report.rows_read == 2
    assert at.dataframe


def test_identical_patients_message():
    """One repeated profile reports that there is nothing to cluster."""
    row = "59,0,85,126,93,218.0,2.05,0.008,negative"
    data = ("\n".join([",".join(COLUMNS) + ",Result"] + [row] * 20) + "\n").encode()
    at = with_upload(data, "identical.csv", "clustering")
    errors = values(at.error)
    assert not at.exception
    assert any("nothing to cluster" in text for text in errors)
    assert not any("or less" in text for text in errors)


@pytest.mark.parametrize("target", ["clustering", "profiles", "lookup"])
def test_unconverted_units_warned_on_every_page(target):
    """A unit suggestion not yet accepted is shown on every page."""
    at = with_upload(case_bytes("units_mmol_ngL.csv"), "units.csv", target)
    warnings = values(at.warning)
    assert not at.exception
    assert any("Blood sugar looks like mmol/L" in text for text in warnings)
    assert any("Troponin looks like ng/L" in text for text in warnings)


def test_new_upload_clears_placed_patient():
    """A patient placed against one cohort is not shown after a new upload."""
    at = with_upload(synthetic_csv(), "three_groups.csv", "lookup")
    at.form_submit_button[0].click().run()
    assert state.LOOKUP_PATIENT in at.session_state

    at.switch_page(PAGES["data"])
    at.run()
    at.file_uploader(key=state.UPLOADER).set_value(None).run()
    upload(at, case_bytes("bom_utf8.csv"), "bom_utf8.csv")
    at.switch_page(PAGES["lookup"])
    at.run()
    assert not at.exception
    assert state.LOOKUP_PATIENT not in at.session_state
    assert not any(heading.startswith("Cluster ") for heading in values(at.subheader))


def choose_algorithm(data: bytes, algorithm: str, target: str) -> AppTest:
    """Upload ``data``, choose ``algorithm`` on the Clustering page, open ``target``."""
    at = with_upload(data, "cohort.csv", "clustering")
    at.selectbox(key=state.ALGORITHM_SELECT).set_value(algorithm).run()
    at.switch_page(PAGES[target])
    return at.run()


def test_gmm_profiles_show_mixture_clusters():
    """With the Gaussian mixture chosen, the profiles table has its clusters.

    On 45 patients the mixture with the lowest BIC has more components than
    the k-means k, so the table shows a grouping k-means does not give.
    """
    at = choose_algorithm(synthetic_csv(n_per_group=15), "gmm", "profiles")
    features = at.session_state[state.COHORT].features
    kmeans = fit_clusters(features, state.AppSettings().cluster_settings())
    k_values = [int(k) for k in kmeans.sweep["k"]]
    mixture = gaussian_mixture(
        kmeans.X, k_values, 42, kmeans.labels, kmeans.used_features
    )
    table = profiles_table(at)
    sizes = np.bincount(mixture.labels)[1:]
    assert not at.exception
    assert len(table) != kmeans.k
    assert table["size"].tolist() == sizes.tolist()
    assert table["name"].tolist() == [mixture.names[c] for c in table.index]


def test_gmm_profiles_caption_names_it():
    """The profiles caption names the Gaussian mixture as the algorithm."""
    at = choose_algorithm(synthetic_csv(), "gmm", "profiles")
    captions = values(at.caption)
    assert any("Clusters made by Gaussian mixture" in text for text in captions)
    assert not any("Clusters made by k-means" in text for text in captions)


def test_kmeans_profiles_caption_names_it():
    """By default the profiles caption names k-means as the algorithm."""
    at = with_upload(synthetic_csv(), "three_groups.csv", "profiles")
    assert any("Clusters made by k-means" in text for text in values(at.caption))


def test_gmm_lookup_returns_cluster():
    """With the Gaussian mixture chosen, the lookup form still places a patient."""
    at = choose_algorithm(synthetic_csv(), "gmm", "lookup")
    at.form_submit_button[0].click().run()
    captions = values(at.caption)
    assert not at.exception
    assert any(heading.startswith("Cluster ") for heading in values(at.subheader))
    assert any("Clusters made by Gaussian mixture" in text for text in captions)
    assert LOOKUP_NOTE in captions


@pytest.mark.parametrize("target", ["profiles", "lookup"])
def test_ward_small_upload_works(target):
    """Ward on a 45-patient upload describes its clusters on both pages."""
    at = choose_algorithm(synthetic_csv(n_per_group=15), "ward", target)
    if target == "lookup":
        at.form_submit_button[0].click().run()
    captions = values(at.caption)
    assert not at.exception
    assert not at.error
    assert any("Ward linkage" in text for text in captions)


def test_ward_lookup_names_cluster():
    """Ward on a small upload places the looked-up patient in a cluster."""
    at = choose_algorithm(synthetic_csv(n_per_group=15), "ward", "lookup")
    at.form_submit_button[0].click().run()
    assert any(heading.startswith("Cluster ") for heading in values(at.subheader))


def test_ward_profiles_table_has_k_rows():
    """Ward cuts at the k-means k, so the profiles table has k rows."""
    at = choose_algorithm(synthetic_csv(n_per_group=15), "ward", "profiles")
    assert len(profiles_table(at)) == 3


@pytest.mark.parametrize("target", ["profiles", "lookup"])
def test_hdbscan_all_noise_error(target):
    """HDBSCAN with every patient unassigned shows an error, not a traceback."""
    at = choose_algorithm(uniform_noise_csv(), "hdbscan", target)
    assert not at.exception
    assert any("left all 60 patients unassigned" in t for t in values(at.error))


def test_algorithm_choice_kept_across_pages():
    """The algorithm chosen stays selected after visiting another page."""
    at = choose_algorithm(synthetic_csv(), "ward", "profiles")
    at.switch_page(PAGES["clustering"])
    at.run()
    assert at.selectbox(key=state.ALGORITHM_SELECT).value == "ward"
    assert at.session_state[state.SETTINGS].algorithm == "ward"


def with_outliers_csv() -> bytes:
    """Return ``synthetic_csv()`` with three far outlying patients appended."""
    outliers = (
        b"22,0,150,210,125,480,250,9,positive\n"
        b"25,1,45,95,55,75,0.6,0.002,negative\n"
        b"88,0,140,200,60,400,0.7,5,positive\n"
    )
    return synthetic_csv() + outliers


def test_hdbscan_noise_group_on_profiles():
    """HDBSCAN's unassigned patients show as group 0 of the profiles table."""
    at = choose_algorithm(with_outliers_csv(), "hdbscan", "profiles")
    table = profiles_table(at)
    captions = values(at.caption)
    assert not at.exception
    assert not at.error
    assert table.loc[0, "name"] == "unassigned"
    assert table.loc[0, "size"] == 3
    assert any("3 of 93 patients are in no cluster" in text for text in captions)


def test_hdbscan_noise_lookup_places_patient():
    """With unassigned patients, the lookup still places a patient in a cluster."""
    at = choose_algorithm(with_outliers_csv(), "hdbscan", "lookup")
    at.form_submit_button[0].click().run()
    headings = values(at.subheader)
    assert not at.exception
    assert any(heading.startswith("Cluster ") for heading in headings)
    assert not any(heading.startswith("Cluster 0") for heading in headings)
