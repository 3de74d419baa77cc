"""Turn the canonical feature table into the scaled matrix that k-means clusters.

The pipeline imputes each missing value with the column median, applies
``log1p`` to the right-skewed laboratory values and standardises every used
column to mean 0 and standard deviation 1. Gender is left out of the distance
by default. Each default has a reason string that the Clustering page shows.
"""

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from core.errors import ColumnMappingError
from core.schema import FEATURE_BY_NAME, FEATURE_NAMES

logger = logging.getLogger(__name__)

LOG_TRANSFORM_REASON = (
    "Blood sugar, CK-MB and troponin are strongly right-skewed (on the real "
    "cohort CK-MB has skewness 5.0 and troponin 5.8), so a few very high values "
    "would dominate the distances. log(1 + x) pulls those tails in."
)
GENDER_REASON = (
    "Gender is left out of the distance by default because a 0/1 column, once "
    "standardised, contributes jumps of about two standard deviations and splits "
    "the cohort into men and women before any clinical measure counts."
)
IMPUTATION_REASON = (
    "A missing value is replaced by the cohort median of its column, which is "
    "robust to the skewed laboratory values."
)
SCALING_REASON = (
    "Each used column is standardised to mean 0 and standard deviation 1 so that "
    "millimetres of mercury and nanograms per millilitre weigh the same. A "
    "constant column becomes all zeros and adds nothing to the distance."
)


@dataclass(frozen=True)
class PreprocessSettings:
    """Choices that shape the distance k-means uses.

    Attributes
    ----------
    log_transform : bool
        Apply ``log1p`` to blood sugar, CK-MB and troponin before scaling.
    include_gender : bool
        Use gender as a clustering feature.
    """

    log_transform: bool = True
    include_gender: bool = False


def used_features(settings: PreprocessSettings) -> list[str]:
    """Return the canonical feature names that enter the distance, in schema order.

    Parameters
    ----------
    settings : PreprocessSettings
        Preprocessing choices.

    Returns
    -------
    list of str
        ``FEATURE_NAMES`` without ``gender`` unless ``settings.include_gender``.
    """
    return [
        name for name in FEATURE_NAMES if name != "gender" or settings.include_gender
    ]


def log_transformed_features(settings: PreprocessSettings) -> list[str]:
    """Return the used features that receive ``log1p`` under ``settings``."""
    if not settings.log_transform:
        return []
    return [name for name in used_features(settings) if FEATURE_BY_NAME[name].skewed]


def _select_columns(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    return frame.loc[:, columns].to_numpy(dtype=float)


def _log1p_columns(values: np.ndarray, indices: list[int]) -> np.ndarray:
    # Laboratory values are non-negative by the schema; clipping guards log1p
    # against -1 and below, which would give -inf or NaN.
    out = np.array(values, dtype=float, copy=True)
    out[:, indices] = np.log1p(np.clip(out[:, indices], 0.0, None))
    return out


def _expm1_columns(values: np.ndarray, indices: list[int]) -> np.ndarray:
    out = np.array(values, dtype=float, copy=True)
    out[:, indices] = np.expm1(out[:, indices])
    return out


def build_preprocessor(settings: PreprocessSettings) -> Pipeline:
    """Build the unfitted pipeline from the feature table to the scaled matrix.

    Parameters
    ----------
    settings : PreprocessSettings
        Preprocessing choices.

    Returns
    -------
    sklearn.pipeline.Pipeline
        Four named steps. ``select`` takes the used columns of a frame with
        ``FEATURE_NAMES``. ``impute`` fills the column median, and a column
        with no value at all becomes 0. ``log`` applies ``log1p`` to the
        skewed labs, or nothing when ``log_transform`` is off. ``scale`` is a
        ``StandardScaler``, which divides a zero-variance column by 1, so it
        becomes zeros up to rounding instead of NaN.
        ``fit_transform`` returns an array of shape
        (n_patients, len(used_features(settings))).
    """
    columns = used_features(settings)
    logged = log_transformed_features(settings)
    indices = [columns.index(name) for name in logged]
    return Pipeline(
        [
            (
                "select",
                FunctionTransformer(_select_columns, kw_args={"columns": columns}),
            ),
            ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
            (
                "log",
                FunctionTransformer(
                    _log1p_columns,
                    inverse_func=_expm1_columns,
                    kw_args={"indices": indices},
                    inv_kw_args={"indices": indices},
                    check_inverse=False,
                ),
            ),
            ("scale", StandardScaler()),
        ]
    )


def check_feature_frame(features: pd.DataFrame) -> None:
    """Raise ``ColumnMappingError`` when ``features`` lacks a canonical column.

    Parameters
    ----------
    features : pandas.DataFrame
        Table expected to have every name in ``FEATURE_NAMES`` as a column.
    """
    missing = [name for name in FEATURE_NAMES if name not in features.columns]
    if missing:
        raise ColumnMappingError(
            f"The feature table is missing the column(s) {', '.join(missing)}; "
            "map a source column to each of them before clustering."
        )


def fit_transform(
    features: pd.DataFrame, settings: PreprocessSettings
) -> tuple[Pipeline, np.ndarray]:
    """Fit the preprocessing pipeline on ``features`` and return it with the matrix.

    Parameters
    ----------
    features : pandas.DataFrame
        Shape (n_patients, 8) with the ``FEATURE_NAMES`` columns in canonical
        units; NaN allowed.
    settings : PreprocessSettings
        Preprocessing choices.

    Returns
    -------
    pipeline : sklearn.pipeline.Pipeline
        The fitted pipeline; ``pipeline.transform`` maps new patients.
    X : numpy.ndarray
        Scaled matrix, shape (n_patients, len(used_features(settings))).
    """
    check_feature_frame(features)
    pipeline = build_preprocessor(settings)
    X = pipeline.fit_transform(features)
    logger.info(
        "Preprocessed %d patients into %d scaled features (log=%s, gender=%s)",
        X.shape[0],
        X.shape[1],
        settings.log_transform,
        settings.include_gender,
    )
    return pipeline, X


def to_original_units(pipeline: Pipeline, X: np.ndarray) -> np.ndarray:
    """Map scaled rows back to original units through ``scale`` and ``log``.

    Parameters
    ----------
    pipeline : sklearn.pipeline.Pipeline
        A pipeline fitted by ``fit_transform``.
    X : numpy.ndarray
        Scaled rows, shape (m, n_used_features).

    Returns
    -------
    numpy.ndarray
        Shape (m, n_used_features) in the canonical units of the used features.
    """
    unscaled = pipeline.named_steps["scale"].inverse_transform(np.atleast_2d(X))
    return pipeline.named_steps["log"].inverse_transform(unscaled)
