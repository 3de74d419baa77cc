"""Privacy and hostile-input checks that need no browser.

An upload must leave no trace on disk, and the engine must log no patient
value or identifier. A pickle is never unpickled, whatever its file name.
Every CSV the app offers must be safe to open in a spreadsheet, and the
Streamlit settings that protect uploads must stay in place. Bundle tampering
is covered in ``test_export.py``.
"""

import csv
import io
import logging
import os
import pickle
import re
import tempfile
import tomllib
import zipfile
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from core import lookup, profiles
from core.clustering import ClusterSettings, fit_clusters
from core.cohort import load_cohort
from core.demo import make_demo_cohort
from core.errors import CohortError, FileFormatError
from core.export import FORMULA_PREFIXES, to_safe_csv
from core.schema import FEATURE_NAMES
from core.stability import bootstrap_stability
from ui import state

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(__file__).resolve().parents[2] / "shared"
FORMULA_CASE = SHARED / "cases" / "formula_cells.csv"
REAL_COHORT = SHARED / "datasets" / "heart_attack_zheen.csv"
TIMEOUT = 180
PAGES = {
    "data": "pages/1_Data.py",
    "clustering": "pages/2_Clustering.py",
    "profiles": "pages/3_Cluster_Profiles.py",
    "lookup": "pages/4_Patient_Lookup.py",
}
DEMO_NAME = "SYNTHETIC"


def open_data_page() -> AppTest:
    """Start a session on Home (demo cohort) and move to the Data page."""
    at = AppTest.from_file(str(REPO_ROOT / "Home.py"), default_timeout=TIMEOUT)
    at.run()
    return at.switch_page(PAGES["data"]).run()


def upload(at: AppTest, name: str, data: bytes) -> AppTest:
    at.file_uploader(key=state.UPLOADER).upload(name, data, "text/csv")
    return at.run()


def sidebar_text(at: AppTest) -> str:
    return " ".join(element.value for element in at.sidebar.text)


# --- (a) an upload leaves nothing on disk ------------------------------------

MARKER_ID = "ZZMARKER12345"
MARKER_NOTE = "ZZNOTE-QX7Y3K"
MARKER_TROPONIN = "0.0123457"
MARKERS = [MARKER_ID, MARKER_NOTE, MARKER_TROPONIN]
SCAN_LIMIT_BYTES = 200_000_000


def marker_cohort() -> bytes:
    """Return a 60-row cohort whose first row carries the marker values."""
    frame = make_demo_cohort(seed=5, n_patients=60)
    frame.insert(0, "patient_id", [f"P{number:03d}" for number in range(60)])
    frame["Notes"] = "none"
    frame.loc[0, ["patient_id", "Notes"]] = [MARKER_ID, MARKER_NOTE]
    text = frame.to_csv(index=False)
    first_troponin = str(frame.loc[0, "Troponin"])
    row = text.splitlines()[1]
    marked = row.replace(f",{first_troponin},", f",{MARKER_TROPONIN},", 1)
    return text.replace(row, marked, 1).encode()


def scan_roots() -> list[Path]:
    home_config = Path.home() / ".streamlit"
    return [REPO_ROOT, Path(tempfile.gettempdir()), home_config]


def snapshot(roots: list[Path]) -> dict[str, tuple[int, int]]:
    """Map every regular file under ``roots`` to its (mtime_ns, size)."""
    files = {}
    for root in roots:
        for folder, subfolders, names in os.walk(root):
            subfolders[:] = [name for name in subfolders if name != ".git"]
            for name in names:
                path = os.path.join(folder, name)
                try:
                    info = os.stat(path, follow_symlinks=False)
                except OSError:
                    continue
                files[path] = (info.st_mtime_ns, info.st_size)
    return files


def files_with_markers(before: dict, after: dict, markers: list[str]) -> list[str]:
    """Return new or changed files that contain any marker as bytes."""
    needles = [marker.encode() for marker in markers]
    found = []
    for path, stamp in after.items():
        if before.get(path) == stamp or stamp[1] > SCAN_LIMIT_BYTES:
            continue
        try:
            content = Path(path).read_bytes()
        except OSError:
            continue
        if any(needle in content for needle in needles):
            found.append(path)
    return found


def test_marker_scan_finds_written_marker(tmp_path):
    """The disk scan reports a new file that contains a marker."""
    roots = [tmp_path]
    before = snapshot(roots)
    (tmp_path / "leak.txt").write_text(f"id {MARKER_ID}")
    assert files_with_markers(before, snapshot(roots), MARKERS) == [
        str(tmp_path / "leak.txt")
    ]


class RecordingHandler(logging.Handler):
    """Logging handler that keeps every formatted message."""

    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(self.format(record))


@pytest.fixture(scope="module")
def marker_session():
    """Run a full session on the marker cohort, with every log record kept.

    Returns the file snapshots before and after, the AppTest and the log text.
    The lookup places the patient of row 1, which carries the markers.
    """
    roots = scan_roots()
    before = snapshot(roots)
    handler = RecordingHandler()
    root = logging.getLogger()
    previous_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        at = upload(open_data_page(), "marker_cohort.csv", marker_cohort())
        for name in ("clustering", "profiles", "lookup"):
            at.switch_page(PAGES[name]).run()
        at.selectbox(key=state.LOOKUP_PICK).set_value(1).run()
        at.button(key="lookup_submit").click().run()
    finally:
        root.removeHandler(handler)
        root.setLevel(previous_level)
    return before, snapshot(roots), at, "\n".join(handler.messages)


def test_marker_session_loaded_upload(marker_session):
    """The marker cohort became the cohort in use and placed a patient."""
    _, _, at, _ = marker_session
    assert "marker_cohort.csv" in sidebar_text(at)
    assert not at.exception
    assert any(header.value.startswith("Cluster ") for header in at.subheader)


def test_marker_session_logs_no_marker(marker_session):
    """The session logged its steps but no marker value."""
    _, _, _, log_text = marker_session
    assert "Fitted k-means" in log_text
    assert [marker for marker in MARKERS if marker in log_text] == []


def test_upload_leaves_no_file_on_disk(marker_session):
    """No file under the repo, the temp dir or ~/.streamlit contains a marker."""
    before, after, _, _ = marker_session
    assert files_with_markers(before, after, MARKERS) == []


# --- (b) engine logs carry no patient value ----------------------------------

NUMBER = re.compile(r"\d+\.\d+|\d+")
REAL_ID_PREFIX = "ZHEEN-ID-"


def significant_digits(text: str) -> int:
    return len(text.replace(".", "").lstrip("0"))


def distinctive_values(raw: pd.DataFrame) -> set[str]:
    """Lab values precise enough that logging them would point at a patient."""
    values = set()
    for column, digits in (("CK-MB", 4), ("Troponin", 3), ("Blood sugar", 4)):
        text = raw[column].str.strip()
        values |= {value for value in text if significant_digits(value) >= digits}
    return values


def leaked_values(log_text: str, values: set[str], ids: list[str]) -> list[str]:
    """Return patient values and identifiers that occur in ``log_text``."""
    numbers = set(NUMBER.findall(log_text))
    leaks = sorted(numbers & values)
    leaks += [identifier for identifier in ids if identifier in log_text]
    return leaks


def run_engine(cohort) -> None:
    """Fit, profile, resample and look up one patient, as the pages do."""
    features = cohort.features
    result = fit_clusters(features, ClusterSettings())
    fitted = features.loc[result.index]
    profiles.cluster_profiles(fitted, result.labels)
    profiles.outcome_by_cluster(cohort.outcome.loc[result.index], result.labels)
    profiles.outcome_association(cohort.outcome.loc[result.index], result.labels)
    bootstrap_stability(result.X, result.labels, seed=1, n_resamples=5)

    patient = {name: float(fitted.iloc[0][name]) for name in FEATURE_NAMES}
    assignment = lookup.assign_patient(result, patient)
    lookup.patient_percentiles(fitted, result.labels, patient, assignment.cluster)
    lookup.nearest_patients(result, patient, cohort.outcome)
    lookup.reference_flags(patient, {})


@pytest.fixture(scope="module")
def real_raw() -> pd.DataFrame:
    if not REAL_COHORT.is_file():
        pytest.skip("real cohort not found next to the repository")
    raw = pd.read_csv(REAL_COHORT, dtype=str)
    raw.insert(0, "patient_id", [f"{REAL_ID_PREFIX}{n:05d}" for n in range(len(raw))])
    return raw


def test_leak_check_finds_logged_value(caplog, real_raw):
    """The log check reports a lab value and an identifier that were logged."""
    value = sorted(distinctive_values(real_raw))[0]
    identifier = real_raw["patient_id"].iloc[0]
    caplog.set_level(logging.DEBUG)
    logging.getLogger("core.example").info("row %s has %s", identifier, value)
    leaks = leaked_values(caplog.text, distinctive_values(real_raw), [identifier])
    assert leaks == [value, identifier]


@pytest.mark.real_cohort
def test_engine_logs_no_patient_values(caplog, real_raw):
    """A full engine run on the real cohort logs no lab value or identifier."""
    caplog.set_level(logging.DEBUG)
    data = real_raw.to_csv(index=False).encode()
    cohort = load_cohort(data, "real_with_ids.csv")
    run_engine(cohort)

    ids = list(real_raw["patient_id"])
    assert "Fitted k-means" in caplog.text
    assert leaked_values(caplog.text, distinctive_values(real_raw), ids) == []


@pytest.mark.real_cohort
def test_engine_log_arguments_are_scalars(caplog, real_raw):
    """No log call passes a table or an array that a handler could print."""
    caplog.set_level(logging.DEBUG)
    cohort = load_cohort(real_raw.to_csv(index=False).encode(), "real_with_ids.csv")
    run_engine(cohort)
    bulky = (pd.DataFrame, pd.Series, np.ndarray)
    for record in caplog.records:
        arguments = record.args if isinstance(record.args, tuple) else ()
        assert not any(isinstance(a, bulky) for a in arguments), record.msg


# --- (c) pickles are never unpickled ------------------------------------------

EXTENSIONS = [".csv", ".xlsx", ".xls", ".txt", ".pkl", ".joblib", ""]
UPLOADER_TYPES = {".csv", ".txt", ".tsv", ".xlsx"}


class Trap:
    """Object whose unpickling creates a sentinel file, like a hostile upload."""

    def __init__(self, sentinel: Path):
        self.sentinel = str(sentinel)

    def __reduce__(self):
        return (open, (self.sentinel, "w"))


def pickle_payload(kind: str, sentinel: Path) -> bytes:
    """Return the trap serialised as ``kind``."""
    trap = Trap(sentinel)
    if kind == "pickle-text":
        return pickle.dumps(trap, protocol=0)
    if kind == "pickle-binary":
        return pickle.dumps(trap, protocol=pickle.HIGHEST_PROTOCOL)
    buffer = io.BytesIO()
    if kind == "zip-with-pickle":
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("xl/workbook.pkl", pickle.dumps(trap))
        return buffer.getvalue()
    joblib.dump(trap, buffer, compress=3 if kind == "joblib-zlib" else 0)
    return buffer.getvalue()


def unpickle(kind: str, data: bytes) -> None:
    if kind == "zip-with-pickle":
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            pickle.loads(archive.read("xl/workbook.pkl"))
    elif kind.startswith("joblib"):
        joblib.load(io.BytesIO(data))
    else:
        pickle.loads(data)


# The text pickle protocol is printable, so it reads as a one-column table
# and fails the column mapping. Every binary form fails as not a table.
PAYLOADS = {
    "pickle-text": CohortError,
    "pickle-binary": FileFormatError,
    "joblib": FileFormatError,
    "joblib-zlib": FileFormatError,
    "zip-with-pickle": FileFormatError,
}


@pytest.mark.parametrize("kind", PAYLOADS)
def test_trap_runs_when_unpickled(tmp_path, kind):
    """Each payload really creates its sentinel when something unpickles it."""
    sentinel = tmp_path / "sentinel"
    unpickle(kind, pickle_payload(kind, sentinel))
    assert sentinel.exists()


@pytest.mark.parametrize("extension", EXTENSIONS)
@pytest.mark.parametrize("kind", PAYLOADS)
def test_load_cohort_never_unpickles(tmp_path, kind, extension):
    """load_cohort rejects a pickle under any file name without running it."""
    sentinel = tmp_path / "sentinel"
    data = pickle_payload(kind, sentinel)
    with pytest.raises(PAYLOADS[kind]):
        load_cohort(data, f"upload{extension}")
    assert not sentinel.exists()


@pytest.mark.parametrize("extension", EXTENSIONS)
@pytest.mark.parametrize("kind", ["pickle-text", "pickle-binary", "joblib"])
def test_uploader_never_unpickles(tmp_path, kind, extension):
    """A pickle uploaded on the Data page shows an error and never runs."""
    sentinel = tmp_path / "sentinel"
    at = upload(open_data_page(), f"upload{extension}", pickle_payload(kind, sentinel))

    assert not sentinel.exists()
    if extension not in UPLOADER_TYPES:
        # Streamlit rejects the extension before the page reads the bytes and
        # shows its generic error, without detail because showErrorDetails is
        # "none".
        assert len(at.exception) == 1
        assert "redacted" in at.exception[0].value
        return
    messages = [element.value for element in [*at.error, *at.warning]]
    assert not at.exception
    assert any("not loaded" in message for message in messages), messages
    assert DEMO_NAME in sidebar_text(at)


# --- (d) exported CSVs are safe in a spreadsheet ------------------------------

FORMULA_IDS = ['=HYPERLINK("http://example.invalid","open")', "+1+1", "@SUM(A1)"]
PLAIN_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
DOWNLOADS = ["quality_report.csv", "cluster_assignments.csv", "cluster_profiles.csv"]


@pytest.fixture(scope="module")
def exported_csvs():
    """Bytes of every download, by file name, of a session on formula_cells.csv."""
    if not FORMULA_CASE.is_file():
        pytest.skip("shared case formula_cells.csv not found")
    recorded: dict[str, bytes] = {}
    original = st.download_button

    def record(label, data=None, file_name=None, *args, **kwargs):
        # A button may take a callable that builds the bytes on click.
        recorded[file_name] = data() if callable(data) else data
        return original(label, data, file_name, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(st, "download_button", record)
        at = upload(open_data_page(), FORMULA_CASE.name, FORMULA_CASE.read_bytes())
        for name in ("clustering", "profiles"):
            at.switch_page(PAGES[name]).run()
    return recorded


def csv_cells(data: bytes) -> list[str]:
    rows = csv.reader(io.StringIO(data.decode("utf-8")))
    return [cell for row in rows for cell in row]


def test_every_download_recorded(exported_csvs):
    """The session offered the three CSV downloads the pages define."""
    csv_names = [name for name in exported_csvs if name.endswith(".csv")]
    assert sorted(csv_names) == sorted(DOWNLOADS)


def test_model_download_has_no_identifier(exported_csvs):
    """The model bundle offered for download contains no patient identifier."""
    bundles = [name for name in exported_csvs if name.endswith(".zip")]
    ids = pd.read_csv(FORMULA_CASE, dtype=str)["patient_id"].tolist()
    assert bundles != []
    for name in bundles:
        with zipfile.ZipFile(io.BytesIO(exported_csvs[name])) as archive:
            content = b"".join(archive.read(member) for member in archive.namelist())
        assert [i for i in ids if i.encode() in content] == [], name


@pytest.mark.parametrize("file_name", DOWNLOADS)
def test_download_has_no_live_formula(exported_csvs, file_name):
    """No exported cell starts with a formula character unless it is a number."""
    cells = csv_cells(exported_csvs[file_name])
    live = [
        cell
        for cell in cells
        if cell.startswith(FORMULA_PREFIXES) and not PLAIN_NUMBER.fullmatch(cell)
    ]
    assert live == []


@pytest.mark.parametrize("identifier", FORMULA_IDS)
def test_formula_ids_get_apostrophe(exported_csvs, identifier):
    """Each formula-like id is written with a leading apostrophe."""
    cells = csv_cells(exported_csvs["cluster_assignments.csv"])
    assert "'" + identifier in cells
    assert identifier not in cells


@pytest.mark.parametrize("file_name", DOWNLOADS)
def test_download_negative_numbers_plain(exported_csvs, file_name):
    """No plain number in an export was given an apostrophe."""
    cells = csv_cells(exported_csvs[file_name])
    quoted = [c for c in cells if c.startswith("'") and PLAIN_NUMBER.fullmatch(c[1:])]
    assert quoted == []


def test_negative_centres_stay_numbers():
    """Negative z-scores of the formula cohort's centres export as numbers."""
    if not FORMULA_CASE.is_file():
        pytest.skip("shared case formula_cells.csv not found")
    cohort = load_cohort(FORMULA_CASE.read_bytes(), FORMULA_CASE.name)
    result = fit_clusters(cohort.features, ClusterSettings(k=3))
    centres = pd.DataFrame(result.centroids_scaled, columns=result.used_features)
    exported = pd.read_csv(io.BytesIO(to_safe_csv(centres)))
    assert (exported.select_dtypes("number") < 0).any().any()
    assert exported.dtypes.map(pd.api.types.is_float_dtype).all()


# --- (e) Streamlit settings -----------------------------------------------------

SETTINGS = [
    ("server", "enableXsrfProtection", True),
    ("browser", "gatherUsageStats", False),
    ("client", "showErrorDetails", "none"),
    ("client", "toolbarMode", "minimal"),
    ("client", "disableDataExport", True),
]


@pytest.fixture(scope="module")
def config() -> dict:
    with open(REPO_ROOT / ".streamlit" / "config.toml", "rb") as file:
        return tomllib.load(file)


@pytest.mark.parametrize(("section", "key", "expected"), SETTINGS)
def test_config_setting(config, section, key, expected):
    """Each protective setting in .streamlit/config.toml has its safe value."""
    assert config[section][key] == expected


def test_config_upload_limit(config):
    """Uploads are capped at a stated size of at most 200 MB."""
    limit = config["server"]["maxUploadSize"]
    assert isinstance(limit, int)
    assert 0 < limit <= 200
