"""Apply a saved model bundle to a new cohort and check how well it carries over.

Three checks test whether the clusters of a reference cohort describe a new
cohort. The saved pipeline and centroids assign each new patient (nearest
centroid), and a fresh k-means fit on the new cohort at the same k and
settings gives a second grouping. The adjusted Rand index measures how far
the two groupings agree. The standardised mean difference of each feature,
against the reference means and standard deviations kept in the bundle
manifest, shows where the new cohort differs from the one the model was
fitted on.
"""

import dataclasses
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score

from core.clustering import renumber
from core.engine_settings import limit_native_threads
from core.errors import ModelBundleError, TooFewPatientsError
from core.export import MODELS_DIR, ModelBundle, is_bundle_name
from core.preprocessing import check_feature_frame, fit_transform
from core.schema import FEATURE_NAMES
from core.selection import fit_model

logger = logging.getLogger(__name__)

SMD_THRESHOLD = 0.1
SMD_SOURCE = (
    "Standardised mean difference as in Austin (2009), Stat Med 28:3083-3107: "
    "(mean new - mean reference) / sqrt((sd new^2 + sd reference^2) / 2), and "
    "for the 0/1 gender column the same with p(1 - p) as the variance. An "
    "absolute value above 0.1 has been taken to denote a meaningful imbalance "
    "(Normand et al. 2001; Austin 2009)."
)
ARI_READING = (
    "The adjusted Rand index (Hubert and Arabie 1985) is 1 when both groupings "
    "put every pair of patients together or apart in the same way, about 0 when "
    "they agree no more than chance would, and below 0 when they agree less."
)
BINARY_FEATURES = ("gender",)


def list_bundles(models_dir: Path = MODELS_DIR) -> list[str]:
    """Return the names of the bundle manifests (``*.json``) in ``models_dir``.

    Only names that ``core.export.load_bundle`` accepts are listed, sorted.
    Listing reads no file; loading checks each bundle.
    """
    directory = Path(models_dir)
    if not directory.is_dir():
        return []
    names = [path.stem for path in directory.glob("*.json") if path.is_file()]
    return sorted(name for name in names if is_bundle_name(name))


def standardised_mean_difference(
    mean_new: float, sd_new: float, mean_ref: float, sd_ref: float
) -> float:
    """Return (mean_new - mean_ref) / sqrt((sd_new^2 + sd_ref^2) / 2).

    Returns 0.0 when both means are equal and both standard deviations are 0,
    signed infinity when only the means differ, and NaN when an input is
    missing.
    """
    values = (mean_new, sd_new, mean_ref, sd_ref)
    if any(value is None or math.isnan(float(value)) for value in values):
        return float("nan")
    difference = float(mean_new) - float(mean_ref)
    pooled = math.sqrt((float(sd_new) ** 2 + float(sd_ref) ** 2) / 2)
    if pooled == 0:
        return 0.0 if difference == 0 else math.copysign(math.inf, difference)
    return difference / pooled


def smd_table(
    reference: Mapping[str, Any],
    features: pd.DataFrame,
    threshold: float = SMD_THRESHOLD,
) -> pd.DataFrame:
    """Compare each feature of a new cohort with the reference cohort's summary.

    Parameters
    ----------
    reference : mapping
        The manifest's ``reference_cohort`` entry, as written by
        ``core.export.reference_summary``: ``features`` maps each feature to
        its ``n``, ``mean`` and ``sd``.
    features : pandas.DataFrame
        The new cohort, shape (n, 8) with ``FEATURE_NAMES``; NaN ignored.
    threshold : float
        An absolute SMD above this is flagged as imbalanced.

    Returns
    -------
    pandas.DataFrame
        Index ``feature``; columns ``mean_reference``, ``sd_reference``,
        ``mean_new``, ``sd_new``, ``smd`` and ``imbalanced``. For gender the
        means are shares of men and the SDs sqrt(p(1 - p)).
    """
    check_feature_frame(features)
    rows = []
    for name in FEATURE_NAMES:
        saved = reference.get("features", {}).get(name) or {}
        column = pd.to_numeric(features[name], errors="coerce").dropna()
        mean_ref, sd_ref = saved.get("mean"), saved.get("sd")
        mean_new = float(column.mean()) if len(column) else float("nan")
        sd_new = float(column.std(ddof=1)) if len(column) > 1 else float("nan")
        if name in BINARY_FEATURES:
            sd_ref = _binary_sd(mean_ref)
            sd_new = _binary_sd(mean_new)
        smd = standardised_mean_difference(mean_new, sd_new, mean_ref, sd_ref)
        rows.append(
            {
                "feature": name,
                "mean_reference": _as_float(mean_ref),
                "sd_reference": _as_float(sd_ref),
                "mean_new": mean_new,
                "sd_new": sd_new,
                "smd": smd,
                "imbalanced": bool(abs(smd) > threshold),
            }
        )
    return pd.DataFrame(rows).set_index("feature")


def _binary_sd(share: float | None) -> float:
    # A share outside 0..1 means the column is not 0/1, so no SD is given.
    if share is None or not 0.0 <= float(share) <= 1.0:
        return float("nan")
    return math.sqrt(float(share) * (1 - float(share)))


def _as_float(value: float | None) -> float:
    return float("nan") if value is None else float(value)


def apply_bundle(bundle: ModelBundle, features: pd.DataFrame) -> np.ndarray:
    """Assign each patient of ``features`` to the nearest saved centroid.

    Parameters
    ----------
    bundle : ModelBundle
        A loaded bundle; its pipeline was fitted on the reference cohort.
    features : pandas.DataFrame
        The new cohort, shape (n, 8) with ``FEATURE_NAMES`` in canonical
        units; NaN is imputed with the reference cohort's medians.

    Returns
    -------
    numpy.ndarray
        Saved cluster numbers 1..k, shape (n,). A saved model's internal
        label i is cluster i + 1 because ``fit_clusters`` reorders the
        centres before saving.
    """
    check_feature_frame(features)
    X = bundle.pipeline.transform(features)
    return bundle.model.predict(X) + 1


@limit_native_threads
def fit_fresh(features: pd.DataFrame, settings: Any, k: int) -> np.ndarray:
    """Fit k-means afresh on ``features`` at ``k`` with the bundle's settings.

    The preprocessing (imputation, log, scaling) is fitted on the new cohort,
    and clusters are numbered by ``core.clustering.ORDERING_RULE``. The k
    sweep is skipped because k is fixed.

    Returns
    -------
    numpy.ndarray
        Fresh cluster numbers 1..k, shape (n,).
    """
    _, X = fit_transform(features, settings.preprocess)
    distinct = len(np.unique(X.round(12), axis=0))
    _check_size(len(X), distinct, k)

    model = fit_model(
        k, settings.seed, X, settings.minibatch_above, settings.fit_sample_size
    )
    order = renumber(model.labels_, model.cluster_centers_)
    return np.argsort(order)[model.labels_] + 1


def _check_size(n: int, distinct: int, k: int) -> None:
    if n < k + 1 or distinct < k:
        raise TooFewPatientsError(
            f"The saved model has k={k} clusters, but this cohort has {n} patients "
            f"and {distinct} distinct profiles; a fresh fit needs at least "
            f"{k + 1} patients and {k} distinct profiles. Use a larger cohort."
        )


def match_clusters(saved: np.ndarray, fresh: np.ndarray) -> dict[int, int]:
    """Pair each saved cluster with the fresh cluster it shares most patients with.

    The pairing maximises the total overlap over one-to-one pairs (Hungarian
    algorithm, ``scipy.optimize.linear_sum_assignment``).
    """
    table = pd.crosstab(saved, fresh)
    rows, columns = linear_sum_assignment(-table.to_numpy())
    return {
        int(table.index[r]): int(table.columns[c])
        for r, c in zip(rows, columns, strict=True)
    }


def sizes_table(
    saved: np.ndarray, fresh: np.ndarray, names: Mapping[int, str], k: int
) -> pd.DataFrame:
    """Return the cluster sizes under the saved model and under the fresh fit.

    Returns
    -------
    pandas.DataFrame
        One row per saved cluster 1..k with ``name``, ``saved_size``,
        ``matched_fresh`` (the fresh cluster paired by ``match_clusters``),
        ``fresh_size`` and ``shared`` (patients in both).
    """
    pairs = match_clusters(saved, fresh)
    rows = []
    for cluster in range(1, k + 1):
        partner = pairs.get(cluster)
        in_saved = saved == cluster
        rows.append(
            {
                "cluster": cluster,
                "name": names.get(cluster, ""),
                "saved_size": int(in_saved.sum()),
                "matched_fresh": partner,
                "fresh_size": int((fresh == partner).sum()) if partner else 0,
                "shared": int((in_saved & (fresh == partner)).sum()) if partner else 0,
            }
        )
    return pd.DataFrame(rows).set_index("cluster")


@dataclass(frozen=True)
class Replication:
    """The saved model applied to a new cohort, next to a fresh fit.

    Attributes
    ----------
    bundle_name : str
        Name of the bundle applied.
    k : int
        Number of clusters of the saved model and of the fresh fit.
    n_patients : int
        Patients of the new cohort.
    saved_labels, fresh_labels : numpy.ndarray
        Cluster numbers 1..k per patient, shape (n_patients,).
    ari : float
        Adjusted Rand index between the two groupings.
    sizes : pandas.DataFrame
        ``sizes_table`` output.
    smd : pandas.DataFrame or None
        ``smd_table`` output; None when the manifest has no reference summary.
    """

    bundle_name: str
    k: int
    n_patients: int
    saved_labels: np.ndarray
    fresh_labels: np.ndarray
    ari: float
    sizes: pd.DataFrame
    smd: pd.DataFrame | None


def replicate(bundle: ModelBundle, features: pd.DataFrame) -> Replication:
    """Apply ``bundle`` to ``features``, refit at the same k and compare.

    Parameters
    ----------
    bundle : ModelBundle
        From ``core.export.load_bundle``.
    features : pandas.DataFrame
        The new cohort, shape (n, 8) with ``FEATURE_NAMES`` in canonical units.

    Returns
    -------
    Replication

    Raises
    ------
    ModelBundleError
        When the bundle has no settings with a seed and preprocessing.
    TooFewPatientsError
        When the cohort has fewer than k + 1 patients or k distinct profiles.
    """
    settings = bundle.settings
    if not all(hasattr(settings, key) for key in ("seed", "preprocess")):
        raise ModelBundleError(
            f"Model bundle {bundle.manifest.get('name')!r} has no clustering "
            "settings, so it cannot be refitted. Save the model again."
        )
    k = len(bundle.centroids)
    saved = apply_bundle(bundle, features)
    fresh = fit_fresh(features, dataclasses.replace(settings, k=k), k)

    reference = bundle.manifest.get("reference_cohort")
    logger.info("Replicated bundle with k=%d on %d patients", k, len(saved))
    return Replication(
        bundle_name=str(bundle.manifest.get("name", "")),
        k=k,
        n_patients=len(saved),
        saved_labels=saved,
        fresh_labels=fresh,
        ari=float(adjusted_rand_score(saved, fresh)),
        sizes=sizes_table(saved, fresh, bundle.names, k),
        smd=smd_table(reference, features) if reference else None,
    )
