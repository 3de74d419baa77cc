"""Tests for core.lookup: validation, assignment, percentiles, neighbours, flags."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.datasets import make_blobs

from core.clustering import ClusterSettings, fit_clusters
from core.errors import PatientInputError
from core.lookup import (
    assign_patient,
    nearest_centroid,
    nearest_patients,
    patient_percentiles,
    reference_flags,
    validate_patient,
)
from core.preprocessing import PreprocessSettings
from core.schema import FEATURE_NAMES

USED = [name for name in FEATURE_NAMES if name != "gender"]
PATIENT = {
    "age": 61,
    "gender": 1,
    "heart_rate": 88,
    "systolic_bp": 150,
    "diastolic_bp": 85,
    "blood_sugar": 140,
    "ck_mb": 4.0,
    "troponin": 0.2,
}


@pytest.fixture(scope="module")
def fitted():
    """A k=3 clustering of blob data placed in plausible clinical ranges."""
    X, _ = make_blobs(n_samples=240, centers=3, n_features=7, random_state=4)
    scale = np.array([3, 4, 5, 3, 10, 0.5, 0.02])
    centre = np.array([60, 80, 130, 80, 130, 5.0, 0.1])
    frame = pd.DataFrame(np.abs(X * scale + centre), columns=USED)
    frame.insert(1, "gender", np.random.default_rng(0).integers(0, 2, 240))
    frame.index = frame.index + 1
    frame = frame[list(FEATURE_NAMES)].astype(float)
    outcome = pd.Series(np.random.default_rng(1).integers(0, 2, 240), index=frame.index)
    settings = ClusterSettings(k=3, k_max=4, preprocess=PreprocessSettings())
    return frame, outcome.astype(float), fit_clusters(frame, settings)


def test_validate_returns_floats():
    """Valid inputs come back as floats in schema order."""
    clean = validate_patient(PATIENT)
    assert list(clean) == list(FEATURE_NAMES)
    assert all(isinstance(v, float) for v in clean.values())


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"age": None}, "Age (years) is missing; enter a value from 0 to 120 years."),
        ({"heart_rate": 1111}, "Heart rate (beats/min) is 1111, outside the plausible"),
        ({"heart_rate": "fast"}, "Heart rate (beats/min) is 'fast', not a number"),
        ({"gender": 2}, "enter 1 for male or 0 for female"),
        ({"troponin": -1}, "enter a value from 0 to 100000 ng/mL"),
        ({"diastolic_bp": 150}, "Diastolic blood pressure (150 mmHg) must be below"),
        ({"blood_sugar": float("nan")}, "Blood sugar (mg/dL) is missing"),
    ],
)
def test_validate_messages(changes, fragment):
    """Each problem is named with its value, unit and plausible range."""
    with pytest.raises(PatientInputError) as caught:
        validate_patient(PATIENT | changes)
    assert fragment in str(caught.value)


def test_validate_lists_every_problem():
    """All problems are reported at once, one entry each."""
    with pytest.raises(PatientInputError) as caught:
        validate_patient(PATIENT | {"age": 500, "ck_mb": None})
    assert len(caught.value.problems) == 2


def test_assignment_is_nearest_centroid(fitted):
    """The assigned cluster has the smallest scaled distance."""
    _, _, result = fitted
    assignment = assign_patient(result, PATIENT)
    assert assignment.cluster == min(assignment.distances, key=assignment.distances.get)
    assert assignment.name == result.names[assignment.cluster]


def test_assignment_distances_hand(fitted):
    """Distances equal the Euclidean norm to each centroid in the scaled space."""
    _, _, result = fitted
    assignment = assign_patient(result, PATIENT)
    x = result.pipeline.transform(pd.DataFrame([PATIENT])[list(FEATURE_NAMES)])[0]
    expected = np.linalg.norm(result.centroids_scaled - x, axis=1)
    assert np.allclose(list(assignment.distances.values()), expected)


def test_member_assigned_to_own_cluster(fitted):
    """A cohort member is assigned to the cluster it belongs to."""
    frame, _, result = fitted
    member = frame.iloc[0].to_dict()
    assert assign_patient(result, member).cluster == result.labels[0]


@pytest.mark.parametrize(
    ("distances", "between", "runner_up"),
    [([1.0, 1.05, 3.0], True, 2), ([1.0, 1.2, 3.0], False, 2), ([2.0], False, None)],
)
def test_between_clusters_margin(distances, between, runner_up):
    """Between clusters when the two nearest differ by under 10 % of the nearest."""
    centroids = np.array([[d] for d in distances])
    _, _, flag, second = nearest_centroid(
        np.array([0.0]), centroids, [1, 2, 3][: len(distances)]
    )
    assert flag is between
    assert second == runner_up


def test_out_of_range_warning(fitted):
    """A value outside the fitted cohort's range is warned about."""
    _, _, result = fitted
    assignment = assign_patient(result, PATIENT | {"troponin": 9.0})
    assert any("Troponin (ng/mL) of 9" in w for w in assignment.warnings)


def test_far_patient_warned(fitted):
    """A patient beyond the 99th percentile of member distances is warned about."""
    _, _, result = fitted
    far = PATIENT | {
        "age": 110,
        "heart_rate": 200,
        "systolic_bp": 280,
        "diastolic_bp": 190,
    }
    assignment = assign_patient(result, far)
    assert any("than 99 % of its members" in w for w in assignment.warnings)


def test_typical_member_not_warned(fitted):
    """The cluster's median member raises no warning."""
    frame, _, result = fitted
    members = frame[result.labels == 1]
    distance = np.linalg.norm(
        result.X[result.labels == 1] - result.centroids_scaled[0], axis=1
    )
    typical = members.iloc[int(np.argmin(distance))].to_dict()
    assert assign_patient(result, typical).warnings == []


def test_percentiles_match_scipy(fitted):
    """Cohort and cluster percentiles equal scipy's percentileofscore (mean)."""
    frame, _, result = fitted
    table = patient_percentiles(frame, result.labels, PATIENT, 2)
    in_cluster = frame.loc[result.labels == 2, "age"]
    assert table.loc["age", "cohort_percentile"] == pytest.approx(
        stats.percentileofscore(frame["age"], 61, kind="mean")
    )
    assert table.loc["age", "cluster_percentile"] == pytest.approx(
        stats.percentileofscore(in_cluster, 61, kind="mean")
    )
    assert "gender" not in table.index


def test_nearest_patients_brute_force(fitted):
    """The neighbours are the 20 smallest scaled distances, found by brute force."""
    frame, outcome, result = fitted
    summary = nearest_patients(result, PATIENT, outcome)
    x = result.pipeline.transform(pd.DataFrame([PATIENT])[list(FEATURE_NAMES)])[0]
    order = np.argsort(np.linalg.norm(result.X - x, axis=1))[:20]
    assert sorted(summary.table.index) == sorted(frame.index[order])


def test_nearest_patients_rate_and_wilson(fitted):
    """The neighbour outcome rate and interval follow from their outcomes."""
    _, outcome, result = fitted
    summary = nearest_patients(result, PATIENT, outcome)
    events = int(outcome.loc[summary.table.index].sum())
    low, high = stats.binomtest(events, 20).proportion_ci(method="wilson")
    assert summary.rate == pytest.approx(events / 20)
    assert summary.rate_low == pytest.approx(low)
    assert summary.rate_high == pytest.approx(high)


def test_nearest_patients_without_outcome(fitted):
    """Without an outcome the rate is NaN and the table still lists neighbours."""
    _, _, result = fitted
    summary = nearest_patients(result, PATIENT, n_neighbors=5)
    assert len(summary.table) == 5
    assert np.isnan(summary.rate)


def test_reference_flags_table():
    """The patient's raised flags come with value, threshold and source."""
    flags = reference_flags(PATIENT).set_index("id")
    assert set(flags.index) == {
        "troponin_high",
        "bp_stage2_systolic",
        "bp_stage1_diastolic",
    }
    assert flags.loc["troponin_high", "value"] == 0.2
