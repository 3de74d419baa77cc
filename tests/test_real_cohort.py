"""Run the whole engine with defaults on the real heart-attack cohort.

The file sits in the shared datasets folder next to the repository and is read
with plain pandas here, so these tests do not depend on the upload path.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.clustering import fit_clusters
from core.lookup import assign_patient
from core.profiles import outcome_association, outcome_by_cluster
from core.schema import FEATURE_NAMES
from core.stability import bootstrap_stability

DATASET = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
CSV = DATASET / "heart_attack_zheen.csv"
COLUMNS = {
    "Age": "age",
    "Gender": "gender",
    "Heart rate": "heart_rate",
    "Systolic blood pressure": "systolic_bp",
    "Diastolic blood pressure": "diastolic_bp",
    "Blood sugar": "blood_sugar",
    "CK-MB": "ck_mb",
    "Troponin": "troponin",
    "Result": "outcome",
}

pytestmark = [
    pytest.mark.real_cohort,
    pytest.mark.skipif(not CSV.exists(), reason=f"real cohort not found at {CSV}"),
]


@pytest.fixture(scope="module")
def cohort():
    """Return the cleaned features and outcome: no heart rate > 300, BP ordered."""
    frame = pd.read_csv(CSV).rename(columns=COLUMNS)
    keep = (frame["heart_rate"] <= 300) & (frame["systolic_bp"] > frame["diastolic_bp"])
    frame = frame[keep]
    outcome = (
        frame["outcome"].str.strip().str.lower().map({"positive": 1.0, "negative": 0.0})
    )
    return frame[list(FEATURE_NAMES)].astype(float), outcome


@pytest.fixture(scope="module")
def result(cohort):
    features, _ = cohort
    return fit_clusters(features)


def test_cleaning_drops_known_errors(cohort):
    """Dropping heart rates above 300 and unordered BP leaves fewer rows."""
    features, _ = cohort
    assert 1250 < len(features) < 1318


@pytest.mark.parametrize("k", range(2, 11))
def test_silhouette_low_for_every_k(result, k):
    """The silhouette stays at or below 0.25 for each k from 2 to 10."""
    silhouette = result.sweep.set_index("k").loc[k, "silhouette"]
    assert silhouette <= 0.25


def test_verdict_no_substantial_structure(result):
    """The verdict on the real cohort is 'no substantial structure'."""
    assert result.verdict[0] == "no substantial structure"


def test_some_cluster_almost_all_positive(cohort, result):
    """At least one cluster has an outcome rate above 0.9."""
    _, outcome = cohort
    table = outcome_by_cluster(outcome, result.labels)
    assert table["rate"].max() > 0.9


def test_some_cluster_mixed_outcome(cohort, result):
    """At least one cluster has an outcome rate below 0.6."""
    _, outcome = cohort
    table = outcome_by_cluster(outcome, result.labels)
    assert table["rate"].min() < 0.6


def test_outcome_associated_with_clusters(cohort, result):
    """The outcome differs between the clusters (p < 0.05)."""
    _, outcome = cohort
    assert outcome_association(outcome, result.labels).p_value < 0.05


def test_stability_runs_on_real_cohort(result):
    """A short bootstrap gives an ARI between 0 and 1 for every run."""
    stability = bootstrap_stability(result.X, result.labels, n_resamples=5)
    assert np.all((stability.ari > 0) & (stability.ari <= 1))


def test_cohort_member_assigned_to_own_cluster(cohort, result):
    """The first patient of the cohort is assigned to its own cluster."""
    features, _ = cohort
    assignment = assign_patient(result, features.iloc[0].to_dict())
    assert assignment.cluster == result.labels[0]
