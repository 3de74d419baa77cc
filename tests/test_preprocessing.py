"""Tests for core.preprocessing: imputation, log transform, scaling, gender."""

import pickle

import numpy as np
import pandas as pd
import pytest

from core.errors import ColumnMappingError
from core.preprocessing import (
    PreprocessSettings,
    build_preprocessor,
    fit_transform,
    log_transformed_features,
    to_original_units,
    used_features,
)
from core.schema import FEATURE_NAMES


def make_features(n: int = 60, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "age": rng.integers(20, 90, n).astype(float),
            "gender": rng.integers(0, 2, n).astype(float),
            "heart_rate": rng.normal(80, 12, n),
            "systolic_bp": rng.normal(130, 20, n),
            "diastolic_bp": rng.normal(75, 10, n),
            "blood_sugar": rng.lognormal(4.8, 0.4, n),
            "ck_mb": rng.lognormal(1.0, 1.2, n),
            "troponin": rng.lognormal(-3.5, 1.5, n),
        }
    )


@pytest.mark.parametrize(
    ("include_gender", "expected"),
    [(False, [n for n in FEATURE_NAMES if n != "gender"]), (True, list(FEATURE_NAMES))],
)
def test_used_features_gender_switch(include_gender, expected):
    """Gender enters the distance only when switched on."""
    assert used_features(PreprocessSettings(include_gender=include_gender)) == expected


@pytest.mark.parametrize(
    ("log_transform", "expected"),
    [(True, ["blood_sugar", "ck_mb", "troponin"]), (False, [])],
)
def test_log_transformed_features(log_transform, expected):
    """The three skewed labs are logged only when log_transform is on."""
    settings = PreprocessSettings(log_transform=log_transform)
    assert log_transformed_features(settings) == expected


@pytest.mark.parametrize("include_gender", [False, True])
def test_scaled_columns_have_mean_zero_sd_one(include_gender):
    """Every used column is standardised to mean 0 and sd 1."""
    _, X = fit_transform(
        make_features(), PreprocessSettings(include_gender=include_gender)
    )
    assert np.allclose(X.mean(axis=0), 0.0, atol=1e-9)
    assert np.allclose(X.std(axis=0), 1.0)


def test_log_column_matches_hand_standardised_log1p():
    """The troponin column equals the z-score of log1p(troponin) computed by hand."""
    features = make_features()
    _, X = fit_transform(features, PreprocessSettings())
    logged = np.log1p(features["troponin"].to_numpy())
    expected = (logged - logged.mean()) / logged.std()
    column = used_features(PreprocessSettings()).index("troponin")
    assert np.allclose(X[:, column], expected)


def test_missing_value_is_imputed_with_median():
    """A NaN becomes the column median before scaling."""
    features = make_features()
    features.loc[3, "heart_rate"] = np.nan
    pipeline, X = fit_transform(features, PreprocessSettings())
    column = used_features(PreprocessSettings()).index("heart_rate")
    restored = to_original_units(pipeline, X[3])[0, column]
    assert restored == pytest.approx(features["heart_rate"].median())


@pytest.mark.parametrize("column", ["age", "troponin"])
def test_constant_column_gives_zeros_not_nan(column):
    """A zero-variance column becomes zeros, never NaN."""
    features = make_features()
    features[column] = 5.0
    _, X = fit_transform(features, PreprocessSettings())
    index = used_features(PreprocessSettings()).index(column)
    assert not np.isnan(X).any()
    assert np.allclose(X[:, index], 0.0, atol=1e-12)


def test_all_missing_column_gives_zeros():
    """A column with no value at all keeps its place and becomes zeros."""
    features = make_features()
    features["ck_mb"] = np.nan
    _, X = fit_transform(features, PreprocessSettings())
    index = used_features(PreprocessSettings()).index("ck_mb")
    assert X.shape[1] == 7
    assert np.all(X[:, index] == 0.0)


@pytest.mark.parametrize("log_transform", [True, False])
def test_inverse_restores_original_units(log_transform):
    """to_original_units inverts scaling and log1p."""
    features = make_features()
    settings = PreprocessSettings(log_transform=log_transform)
    pipeline, X = fit_transform(features, settings)
    expected = features[used_features(settings)].to_numpy()
    assert np.allclose(to_original_units(pipeline, X), expected)


def test_pipeline_is_picklable_and_transforms_alike():
    """A pickled fitted pipeline gives the same matrix."""
    features = make_features()
    pipeline, X = fit_transform(features, PreprocessSettings())
    clone = pickle.loads(pickle.dumps(pipeline))
    assert np.allclose(clone.transform(features), X)


def test_missing_column_raises_mapping_error():
    """A table without a canonical column is rejected with the column named."""
    features = make_features().drop(columns="troponin")
    with pytest.raises(ColumnMappingError, match="troponin"):
        fit_transform(features, PreprocessSettings())


def test_build_preprocessor_step_names():
    """The pipeline exposes its four steps by name for the pages and lookup."""
    steps = list(build_preprocessor(PreprocessSettings()).named_steps)
    assert steps == ["select", "impute", "log", "scale"]
