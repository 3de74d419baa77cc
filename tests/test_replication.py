"""Tests for core.replication and the Replication page."""

import hashlib
import io
import json
import math
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from core import export, replication
from core.clustering import ClusterSettings, fit_clusters
from core.cohort import load_cohort
from core.demo import COLUMNS, DEMO_PATH, HEART_RATE_ERROR_VALUE, make_demo_cohort
from core.errors import TooFewPatientsError
from core.schema import FEATURE_NAMES
from ui import replication_view, state

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 180
DATA_HASH = hashlib.sha256(b"replication test cohort").hexdigest()
DEMO_BUNDLE = "demo_kmeans"


@pytest.fixture(scope="module")
def demo_features() -> pd.DataFrame:
    return load_cohort(DEMO_PATH.read_bytes(), DEMO_PATH.name).features


@pytest.fixture(scope="module")
def demo_bundle() -> export.ModelBundle:
    return export.load_bundle(DEMO_BUNDLE)


@pytest.fixture(scope="module")
def small_features() -> pd.DataFrame:
    frame = make_demo_cohort(seed=7, n_patients=200)
    frame = frame[frame["Heart rate"] != HEART_RATE_ERROR_VALUE]
    renamed = frame.rename(columns=dict(zip(COLUMNS[:8], FEATURE_NAMES, strict=True)))
    return renamed[list(FEATURE_NAMES)].astype(float).reset_index(drop=True)


@pytest.fixture(scope="module")
def small_result(small_features):
    return fit_clusters(small_features, ClusterSettings(k=3, k_min=3, k_max=3, seed=9))


def saved_bundle(result, directory: Path, name: str, features=None):
    export.save_bundle(result, directory, name, DATA_HASH, features)
    return export.load_bundle(name, models_dir=directory)


# --- standardised mean difference -----------------------------------------

SMD_CASES = [
    # mean_new, sd_new, mean_ref, sd_ref, expected
    (12.0, 3.0, 10.0, 4.0, 2.0 / math.sqrt(12.5)),
    (10.0, 4.0, 12.0, 3.0, -2.0 / math.sqrt(12.5)),
    (5.0, 2.0, 5.0, 2.0, 0.0),
    (0.5, 1.0, 0.4, 1.0, 0.1),
    (3.0, 0.0, 3.0, 0.0, 0.0),
    (4.0, 0.0, 3.0, 0.0, math.inf),
    (2.0, 0.0, 3.0, 0.0, -math.inf),
]


@pytest.mark.parametrize(
    ("mean_new", "sd_new", "mean_ref", "sd_ref", "expected"), SMD_CASES
)
def test_smd_hand_values(mean_new, sd_new, mean_ref, sd_ref, expected):
    """The SMD equals (mean_new - mean_ref) / sqrt((sd_new^2 + sd_ref^2) / 2)."""
    actual = replication.standardised_mean_difference(
        mean_new, sd_new, mean_ref, sd_ref
    )
    assert actual == pytest.approx(expected)


@pytest.mark.parametrize(
    "missing", [(None, 1.0, 1.0, 1.0), (1.0, float("nan"), 1.0, 1.0)]
)
def test_smd_missing_input_is_nan(missing):
    """A missing mean or SD gives NaN rather than a number."""
    assert math.isnan(replication.standardised_mean_difference(*missing))


def test_smd_table_matches_hand_calculation(small_features):
    """Each continuous feature's SMD matches numpy means and sample SDs."""
    reference = small_features.iloc[:100]
    new = small_features.iloc[100:]
    table = replication.smd_table(export.reference_summary(reference), new)
    for name in FEATURE_NAMES:
        if name == "gender":
            continue
        pooled = math.sqrt(
            (np.var(new[name], ddof=1) + np.var(reference[name], ddof=1)) / 2
        )
        expected = (new[name].mean() - reference[name].mean()) / pooled
        assert table.at[name, "smd"] == pytest.approx(expected), name


def test_smd_table_gender_uses_shares():
    """Gender's SMD uses the shares of men with p(1 - p) as the variance."""
    base = {name: [1.0, 2.0, 3.0, 4.0] for name in FEATURE_NAMES}
    reference = pd.DataFrame({**base, "gender": [1.0, 1.0, 0.0, 0.0]})
    new = pd.DataFrame({**base, "gender": [1.0, 1.0, 1.0, 0.0]})
    table = replication.smd_table(export.reference_summary(reference), new)
    expected = (0.75 - 0.5) / math.sqrt((0.75 * 0.25 + 0.5 * 0.5) / 2)
    assert table.at["gender", "smd"] == pytest.approx(expected)


def test_smd_table_flags_above_threshold():
    """A feature is flagged only when its absolute SMD exceeds 0.1."""
    base = {name: [1.0, 2.0, 3.0, 4.0] for name in FEATURE_NAMES}
    base["gender"] = [1.0, 0.0, 1.0, 0.0]
    reference = pd.DataFrame(base)
    new = pd.DataFrame({**base, "age": [1.5, 2.5, 3.5, 4.5]})
    table = replication.smd_table(export.reference_summary(reference), new)
    assert bool(table.at["age", "imbalanced"])
    assert not table.drop(index="age")["imbalanced"].any()


# --- demo bundle on the demo cohort ----------------------------------------


@pytest.fixture(scope="module")
def demo_replication(demo_bundle, demo_features):
    return replication.replicate(demo_bundle, demo_features)


def test_demo_bundle_agrees_with_fresh_fit(demo_replication):
    """On its own cohort the saved model and a fresh fit give the same grouping."""
    assert demo_replication.ari == pytest.approx(1.0)


def test_demo_bundle_sizes_match(demo_replication):
    """Every saved cluster has the same members as its matched fresh cluster."""
    sizes = demo_replication.sizes
    assert (sizes["saved_size"] == sizes["shared"]).all()
    assert (sizes["fresh_size"] == sizes["shared"]).all()


def test_demo_bundle_no_imbalance(demo_replication):
    """Against its own reference summary no feature differs."""
    assert demo_replication.smd["smd"].abs().max() == pytest.approx(0.0, abs=1e-9)
    assert not demo_replication.smd["imbalanced"].any()


@pytest.mark.parametrize("shift", [0.3, 1.0])
def test_shifted_troponin_flagged(demo_bundle, demo_features, shift):
    """A cohort whose troponin is shifted up is flagged on troponin alone."""
    shifted = demo_features.assign(troponin=demo_features["troponin"] + shift)
    smd = replication.replicate(demo_bundle, shifted).smd
    assert bool(smd.at["troponin", "imbalanced"])
    assert smd.at["troponin", "smd"] > 0.1
    assert not smd.drop(index="troponin")["imbalanced"].any()


# --- applying a bundle -----------------------------------------------------


def test_apply_bundle_matches_fit_labels(small_result, small_features, tmp_path):
    """Applying a saved bundle to its own cohort returns the fit's cluster numbers."""
    bundle = saved_bundle(small_result, tmp_path, "small")
    labels = replication.apply_bundle(bundle, small_features)
    np.testing.assert_array_equal(labels, small_result.labels)


def test_fit_fresh_numbers_by_size(small_result, small_features):
    """Fresh clusters are numbered 1..k, largest first."""
    labels = replication.fit_fresh(small_features, small_result.settings, 3)
    sizes = np.bincount(labels)[1:]
    assert sorted(set(labels)) == [1, 2, 3]
    assert list(sizes) == sorted(sizes, reverse=True)


def test_manifest_without_reference_skips_smd(small_result, small_features, tmp_path):
    """An older manifest without reference_cohort still replicates, without SMDs."""
    bundle = saved_bundle(small_result, tmp_path, "old")
    result = replication.replicate(bundle, small_features)
    assert result.smd is None
    assert result.ari == pytest.approx(1.0)


def test_too_few_patients_rejected(small_result, small_features, tmp_path):
    """A cohort smaller than k + 1 raises TooFewPatientsError naming k."""
    bundle = saved_bundle(small_result, tmp_path, "tiny", small_features)
    with pytest.raises(TooFewPatientsError, match="k=3"):
        replication.replicate(bundle, small_features.iloc[:3])


def test_match_clusters_undoes_permutation():
    """Relabelled clusters are paired back to their originals."""
    saved = np.array([1, 1, 1, 2, 2, 3])
    fresh = np.array([3, 3, 3, 1, 1, 2])
    assert replication.match_clusters(saved, fresh) == {1: 3, 2: 1, 3: 2}


def test_sizes_table_counts_shared():
    """The sizes table counts the patients both groupings put together."""
    saved = np.array([1, 1, 1, 2, 2, 3])
    fresh = np.array([1, 1, 2, 2, 2, 3])
    table = replication.sizes_table(saved, fresh, {1: "a", 2: "b", 3: "c"}, 3)
    assert table["saved_size"].tolist() == [3, 2, 1]
    assert table["fresh_size"].tolist() == [2, 3, 1]
    assert table["shared"].tolist() == [2, 2, 1]


# --- listing bundles --------------------------------------------------------


def test_list_bundles_shipped():
    """The shipped demo bundle is listed."""
    assert DEMO_BUNDLE in replication.list_bundles()


@pytest.mark.parametrize(
    ("file_name", "listed"),
    [("good-1.json", True), ("bad name.json", False), (".hidden.json", False),
     ("model.joblib", False), ("x" * 70 + ".json", False)],
)  # fmt: skip
def test_list_bundles_names(tmp_path, file_name, listed):
    """Only manifests with a plain bundle name are listed."""
    (tmp_path / file_name).write_text("{}", encoding="utf-8")
    assert (Path(file_name).stem in replication.list_bundles(tmp_path)) is listed


def test_list_bundles_missing_directory(tmp_path):
    """A missing models directory lists nothing."""
    assert replication.list_bundles(tmp_path / "absent") == []


# --- reference summary in the manifest --------------------------------------


def test_manifest_records_reference_summary(small_result, small_features, tmp_path):
    """save_bundle with features writes each feature's n, mean and SD."""
    export.save_bundle(small_result, tmp_path, "ref", DATA_HASH, small_features)
    manifest = json.loads((tmp_path / "ref.json").read_text(encoding="utf-8"))
    age = manifest["reference_cohort"]["features"]["age"]
    assert age["n"] == len(small_features)
    assert age["mean"] == pytest.approx(small_features["age"].mean())
    assert age["sd"] == pytest.approx(small_features["age"].std(ddof=1))


def test_shipped_manifest_has_reference_summary():
    """The shipped demo manifest records the reference cohort for the page."""
    manifest = json.loads((ROOT / "models" / "demo_kmeans.json").read_text("utf-8"))
    assert set(manifest["reference_cohort"]["features"]) == set(FEATURE_NAMES)


def test_bundle_zip_has_reference_summary(small_result, small_features):
    """The download zip's manifest also records the reference cohort."""
    data = export.bundle_bytes(small_result, "zipped", DATA_HASH, small_features)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        manifest = json.loads(archive.read("zipped.json"))
    assert manifest["reference_cohort"]["n_patients"] == len(small_features)


# --- the page ---------------------------------------------------------------


def replication_page() -> AppTest:
    at = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=TIMEOUT).run()
    at.switch_page("pages/5_Replication.py")
    return at.run()


def test_page_demo_shows_perfect_agreement():
    """On the demo cohort the page shows an adjusted Rand index of 1.00."""
    at = replication_page()
    metrics = {metric.label: metric.value for metric in at.metric}
    assert not at.exception
    assert metrics["Adjusted Rand index"] == "1.00"


def test_page_flags_shifted_troponin():
    """An uploaded cohort with raised troponin gets a warning naming troponin."""
    frame = pd.read_csv(DEMO_PATH)
    frame["Troponin"] = frame["Troponin"] + 1.0
    at = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=TIMEOUT).run()
    at.switch_page("pages/1_Data.py")
    at.run()
    at.file_uploader(key=state.UPLOADER).upload(
        "shifted.csv", frame.to_csv(index=False).encode(), "text/csv"
    )
    at.run()
    at.switch_page("pages/5_Replication.py")
    at.run()
    warnings = [str(warning.value) for warning in at.warning]
    assert not at.exception
    assert any("Troponin" in text for text in warnings)


def test_page_rejects_tampered_bundle(monkeypatch, tmp_path):
    """A bundle whose joblib file changed is reported with st.error, not loaded."""
    for suffix in (".json", ".joblib"):
        shutil.copy(ROOT / "models" / f"{DEMO_BUNDLE}{suffix}", tmp_path)
    (tmp_path / f"{DEMO_BUNDLE}.joblib").write_bytes(b"not the saved model")
    monkeypatch.setattr(replication_view, "BUNDLE_DIR", tmp_path)
    at = replication_page()
    assert not at.exception
    assert any("failed its checksum" in str(error.value) for error in at.error)
    assert not at.metric


def test_page_without_bundles(monkeypatch, tmp_path):
    """With no bundle in the models directory the page explains how to add one."""
    monkeypatch.setattr(replication_view, "BUNDLE_DIR", tmp_path)
    at = replication_page()
    assert not at.exception
    assert any("No model bundle found" in str(info.value) for info in at.info)
