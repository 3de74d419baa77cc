"""Tests for safe CSV export and checked model bundles."""

import hashlib
import io
import json
import zipfile
from datetime import datetime
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest

from core import export
from core.clustering import ClusterSettings, fit_clusters
from core.cohort import load_cohort
from core.demo import COLUMNS, DEMO_PATH, HEART_RATE_ERROR_VALUE, make_demo_cohort
from core.errors import ModelBundleError
from core.schema import FEATURE_NAMES

REPO_ROOT = Path(__file__).resolve().parent.parent
FORMULA_CASE = REPO_ROOT.parent / "shared" / "cases" / "formula_cells.csv"
DATA_HASH = hashlib.sha256(b"seeded test cohort").hexdigest()
UNPICKLED: list[str] = []


def _record_unpickling() -> str:
    UNPICKLED.append("unpickled")
    return "trap"


class Trap:
    """Object whose unpickling records itself, standing in for a hostile file."""

    def __reduce__(self):
        return (_record_unpickling, ())


def trap_bytes() -> bytes:
    buffer = io.BytesIO()
    joblib.dump(Trap(), buffer)
    return buffer.getvalue()


def read_back(data: bytes) -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def features() -> pd.DataFrame:
    frame = make_demo_cohort(seed=3, n_patients=200)
    frame = frame[frame["Heart rate"] != HEART_RATE_ERROR_VALUE]
    renamed = frame.rename(columns=dict(zip(COLUMNS[:8], FEATURE_NAMES, strict=True)))
    return renamed[list(FEATURE_NAMES)].astype(float)


@pytest.fixture(scope="module")
def result(features):
    return fit_clusters(features, ClusterSettings(k=3, k_max=4, seed=5))


@pytest.fixture()
def saved(result, tmp_path) -> Path:
    UNPICKLED.clear()
    export.save_bundle(result, tmp_path, "demo-model", DATA_HASH)
    return tmp_path


# --- safe CSV -------------------------------------------------------------

CELL_CASES = [
    ("=1+1", "'=1+1"),
    ('=HYPERLINK("http://example.invalid","open")', "'=HYPERLINK(\"http://example.invalid\",\"open\")"),
    ("+1+1", "'+1+1"),
    ("-1+1", "'-1+1"),
    ("-cmd|' /C calc'!A0", "'-cmd|' /C calc'!A0"),
    ("@SUM(A1)", "'@SUM(A1)"),
    ("\t=1+1", "'\t=1+1"),
    ("\r=1+1", "'\r=1+1"),
    ("P003", "P003"),
    ("a=b", "a=b"),
    ("", ""),
    ("-5", "-5"),
    ("+1.5", "+1.5"),
    ("-2.5e3", "-2.5e3"),
]  # fmt: skip


@pytest.mark.parametrize(("cell", "expected"), CELL_CASES)
def test_neutralise_cell_table(cell, expected):
    """Formula-like text gets an apostrophe, plain text and numeric text do not."""
    assert export.neutralise_cell(cell) == expected


@pytest.mark.parametrize(("cell", "expected"), CELL_CASES)
def test_safe_csv_cell_round_trip(cell, expected):
    """A text cell read back from the CSV is the neutralised text."""
    frame = pd.DataFrame({"patient_id": [cell, "P1"]})
    assert read_back(export.to_safe_csv(frame))["patient_id"][0] == expected


@pytest.mark.parametrize("dtype", ["int64", "float64", "Int64", "float32"])
def test_negative_numbers_stay_numeric(dtype):
    """Negative numbers in numeric columns are written without an apostrophe."""
    frame = pd.DataFrame({"value": pd.array([-5, 3, -12], dtype=dtype)})
    text = export.to_safe_csv(frame).decode("utf-8")
    assert "'" not in text
    back = pd.read_csv(io.StringIO(text))
    assert pd.api.types.is_numeric_dtype(back["value"])
    assert back["value"].tolist() == [-5, 3, -12]


def test_mixed_object_column():
    """In a column of mixed objects only the formula-like text changes."""
    frame = pd.DataFrame({"mixed": pd.Series([-3, "=A1", 2.5, None], dtype=object)})
    assert read_back(export.to_safe_csv(frame))["mixed"].tolist() == [
        "-3",
        "'=A1",
        "2.5",
        "",
    ]


def test_column_names_neutralised():
    """A formula-like column name is written as text."""
    frame = pd.DataFrame({"=cmd()": ["x"], "age": [40]})
    assert export.to_safe_csv(frame).decode("utf-8").splitlines()[0] == "'=cmd(),age"


def test_index_written_on_request():
    """With index=True the index becomes the first column."""
    frame = pd.DataFrame({"age": [40, 50]}, index=pd.Index([1, 2], name="row"))
    lines = export.to_safe_csv(frame, index=True).decode("utf-8").splitlines()
    assert lines == ["row,age", "1,40", "2,50"]


def test_utf8_without_bom():
    """The CSV is UTF-8 without a byte-order mark, so non-ASCII text survives."""
    data = export.to_safe_csv(pd.DataFrame({"note": ["Müller µg/L"]}))
    assert not data.startswith(b"\xef\xbb\xbf")
    assert data.decode("utf-8").splitlines()[1] == "Müller µg/L"


def test_input_frame_not_modified():
    """Neutralising works on a copy and leaves the caller's frame alone."""
    frame = pd.DataFrame({"patient_id": ["=1+1"]})
    export.to_safe_csv(frame)
    assert frame["patient_id"][0] == "=1+1"


def test_formula_case_file():
    """The three formula-like ids of the case file come out as text."""
    if not FORMULA_CASE.is_file():
        pytest.skip(f"case file not found at {FORMULA_CASE}")
    frame = pd.read_csv(FORMULA_CASE)
    ids = read_back(export.to_safe_csv(frame))["patient_id"]
    assert ids[:3].str.startswith("'").all()
    assert ids[:3].str[1:].tolist() == frame["patient_id"][:3].tolist()
    assert not ids[3:].str.startswith("'").any()
    assert (
        read_back(export.to_safe_csv(frame))["Age"].tolist()
        == frame["Age"].astype(str).tolist()
    )


# --- model bundles --------------------------------------------------------

BAD_NAMES = [
    "../x",
    "..",
    "/etc/passwd",
    "a/b",
    "a\\b",
    "",
    ".hidden",
    "x.joblib",
    "a" * 65,
]


def test_bundle_round_trip_predicts_same(saved, result, features):
    """A loaded bundle assigns every patient to the same cluster as the original."""
    bundle = export.load_bundle("demo-model", models_dir=saved)
    expected = result.model.predict(result.pipeline.transform(features))
    actual = bundle.model.predict(bundle.pipeline.transform(features))
    np.testing.assert_array_equal(actual, expected)


def test_bundle_round_trip_fields(saved, result):
    """Centroids, features, settings and names survive the round trip."""
    bundle = export.load_bundle("demo-model", models_dir=saved)
    pd.testing.assert_frame_equal(bundle.centroids, result.centroids)
    assert bundle.used_features == result.used_features
    assert bundle.settings == result.settings
    assert bundle.names == result.names


def test_bundle_has_no_patient_rows(saved):
    """The joblib file stores only the model parts, not the scaled matrix or labels."""
    content = joblib.load(saved / "demo-model.joblib")
    assert set(content) == {
        "pipeline",
        "model",
        "settings",
        "used_features",
        "centroids",
        "names",
    }


def test_manifest_contents(saved, result):
    """The manifest records seed, versions, features, hashes and UTC time."""
    manifest = json.loads((saved / "demo-model.json").read_text(encoding="utf-8"))
    payload = (saved / "demo-model.joblib").read_bytes()
    assert manifest["seed"] == result.settings.seed
    assert manifest["library_versions"] == export.library_versions()
    assert manifest["features"] == result.used_features
    assert manifest["preprocessing"] == {"log_transform": True, "include_gender": False}
    assert manifest["data_sha256"] == DATA_HASH
    assert manifest["joblib_sha256"] == hashlib.sha256(payload).hexdigest()
    assert manifest["k"] == len(result.centroids)
    assert len(manifest["centroids"]) == len(result.centroids)
    assert datetime.fromisoformat(manifest["created_utc"]).utcoffset().seconds == 0


def test_library_versions_named():
    """The version record names the four libraries that the pickle depends on."""
    assert set(export.library_versions()) == {
        "scikit-learn",
        "numpy",
        "pandas",
        "joblib",
    }


def test_trap_would_run_when_unpickled(tmp_path):
    """The trap payload really records its unpickling, so the next tests can fail."""
    UNPICKLED.clear()
    (tmp_path / "trap.joblib").write_bytes(trap_bytes())
    joblib.load(tmp_path / "trap.joblib")
    assert UNPICKLED == ["unpickled"]


def test_tampered_joblib_rejected_before_unpickling(saved):
    """A joblib file that no longer matches its checksum is never unpickled."""
    (saved / "demo-model.joblib").write_bytes(trap_bytes())
    with pytest.raises(ModelBundleError, match="failed its checksum"):
        export.load_bundle("demo-model", models_dir=saved)
    assert UNPICKLED == []


def test_version_mismatch_rejected_before_unpickling(saved):
    """A bundle saved with other library versions is never unpickled."""
    payload = trap_bytes()
    (saved / "demo-model.joblib").write_bytes(payload)
    manifest_path = saved / "demo-model.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["joblib_sha256"] = hashlib.sha256(payload).hexdigest()
    manifest["library_versions"]["scikit-learn"] = "0.0.1"
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")

    with pytest.raises(ModelBundleError, match="scikit-learn 0.0.1"):
        export.load_bundle("demo-model", models_dir=saved)
    assert UNPICKLED == []


def test_content_not_a_bundle(saved):
    """A checksum-valid file that is not a bundle raises ModelBundleError."""
    buffer = io.BytesIO()
    joblib.dump([1, 2, 3], buffer)
    (saved / "demo-model.joblib").write_bytes(buffer.getvalue())
    manifest_path = saved / "demo-model.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["joblib_sha256"] = hashlib.sha256(buffer.getvalue()).hexdigest()
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")

    with pytest.raises(ModelBundleError, match="does not contain a fitted model"):
        export.load_bundle("demo-model", models_dir=saved)


@pytest.mark.parametrize("name", BAD_NAMES)
def test_load_rejects_path_names(saved, name):
    """Names with separators, dots or traversal are rejected on load."""
    with pytest.raises(ModelBundleError, match="Invalid model bundle name"):
        export.load_bundle(name, models_dir=saved)


@pytest.mark.parametrize("name", BAD_NAMES)
def test_save_rejects_path_names(result, tmp_path, name):
    """Names with separators, dots or traversal are rejected on save."""
    with pytest.raises(ModelBundleError, match="Invalid model bundle name"):
        export.save_bundle(result, tmp_path, name, DATA_HASH)


def test_symlink_outside_rejected(saved, tmp_path_factory):
    """A bundle file that is a symlink leading outside the directory is rejected."""
    outside = tmp_path_factory.mktemp("outside") / "elsewhere.joblib"
    outside.write_bytes((saved / "demo-model.joblib").read_bytes())
    (saved / "linked.joblib").symlink_to(outside)
    (saved / "linked.json").write_bytes((saved / "demo-model.json").read_bytes())
    with pytest.raises(ModelBundleError, match="resolves outside"):
        export.load_bundle("linked", models_dir=saved)


@pytest.mark.parametrize("suffix", [".json", ".joblib"])
def test_missing_file_rejected(saved, suffix):
    """A bundle with its manifest or joblib file missing raises ModelBundleError."""
    (saved / f"demo-model{suffix}").unlink()
    with pytest.raises(ModelBundleError, match="not found"):
        export.load_bundle("demo-model", models_dir=saved)


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", '{"format": 1}'])
def test_invalid_manifest_rejected(saved, text):
    """A manifest that is not JSON or lacks its fields raises ModelBundleError."""
    (saved / "demo-model.json").write_text(text, encoding="utf-8")
    with pytest.raises(ModelBundleError, match="manifest"):
        export.load_bundle("demo-model", models_dir=saved)


@pytest.mark.parametrize("data_hash", ["", "abc", "G" * 64])
def test_save_rejects_bad_data_hash(result, tmp_path, data_hash):
    """The data hash must be a sha256 hex digest."""
    with pytest.raises(ValueError, match="sha256"):
        export.save_bundle(result, tmp_path, "model", data_hash)


def test_bundle_bytes_zip(result, tmp_path, monkeypatch):
    """The zip contains the joblib and a manifest whose checksum matches it."""
    monkeypatch.chdir(tmp_path)
    data = export.bundle_bytes(result, "download", DATA_HASH)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = sorted(archive.namelist())
        payload = archive.read("download.joblib")
        manifest = json.loads(archive.read("download.json"))
    assert names == ["download.joblib", "download.json"]
    assert manifest["joblib_sha256"] == hashlib.sha256(payload).hexdigest()
    assert list(tmp_path.iterdir()) == []


def test_bundle_bytes_rejects_path_name(result):
    """The download zip also takes plain names only."""
    with pytest.raises(ModelBundleError, match="Invalid model bundle name"):
        export.bundle_bytes(result, "../x", DATA_HASH)


@pytest.mark.parametrize("cell", ["line\rbreak", "line\nbreak", "line\r\nbreak"])
def test_line_breaks_stay_in_cell(cell):
    """A line break inside a text cell is quoted, so the row count is kept."""
    frame = pd.DataFrame({"note": [cell, "plain"], "age": [40, 50]})
    back = read_back(export.to_safe_csv(frame))
    assert len(back) == 2
    assert back["age"].tolist() == ["40", "50"]


def test_committed_demo_bundle_loads():
    """The bundle in models/ loads and was fitted on the committed demo cohort."""
    bundle = export.load_bundle("demo_kmeans")
    demo_hash = hashlib.sha256(DEMO_PATH.read_bytes()).hexdigest()
    assert bundle.manifest["data_sha256"] == demo_hash
    assert bundle.model.n_clusters == bundle.manifest["k"]
    assert bundle.used_features == bundle.manifest["features"]


def test_committed_demo_bundle_current():
    """The bundle's centroids are the medians of the demo cohort's clusters today."""
    bundle = export.load_bundle("demo_kmeans")
    cohort = load_cohort(DEMO_PATH.read_bytes(), DEMO_PATH.name)
    scaled = bundle.pipeline.transform(cohort.features)
    clusters = bundle.model.predict(scaled) + 1
    medians = cohort.features.groupby(clusters).median()
    stale = "stale bundle: run python models/build_demo_model.py"
    np.testing.assert_allclose(
        medians.to_numpy(), bundle.centroids.to_numpy(), err_msg=stale
    )


@pytest.mark.parametrize("dtype", ["category", "string", "object", "str"])
def test_text_dtypes_neutralised(dtype):
    """Formula-like text is neutralised in every text dtype, and missing stays empty."""
    frame = pd.DataFrame({"note": pd.Series(["=a", None, "ok"], dtype=dtype)})
    assert read_back(export.to_safe_csv(frame))["note"].tolist() == ["'=a", "", "ok"]
