"""Altair charts of the k sweep, the PCA map, one patient and cohort differences.

The PCA map sends a seeded sample of at most ``MAX_SCATTER_POINTS`` rows; the
other charts send one row per k, cluster or feature.
"""

import altair as alt
import numpy as np
import pandas as pd
from sklearn.decomposition import PCA

from core.charts import (
    LABEL_LIMIT,
    ROW_STEP,
    box_frame,
    cluster_title,
    value_axis,
    value_scale,
)
from core.schema import FEATURE_BY_NAME, feature_label

MAX_SCATTER_POINTS = 5_000

SWEEP_CRITERIA = {
    "silhouette": "Silhouette (higher is better)",
    "calinski_harabasz": "Calinski-Harabasz (higher is better)",
    "davies_bouldin": "Davies-Bouldin (lower is better)",
    "inertia": "Inertia (look for the elbow)",
    "gap": "Gap statistic (higher is better)",
}


def sweep_chart(sweep: pd.DataFrame, recommended_k: int | None = None):
    """Build one small panel per criterion of the k sweep.

    Parameters
    ----------
    sweep : pandas.DataFrame
        Output of ``core.clustering.sweep_k``: column ``k`` and any of the
        columns in ``SWEEP_CRITERIA``; one row per k tried.
    recommended_k : int, optional
        k drawn as a larger, filled point in every panel.

    Returns
    -------
    altair.FacetChart
        Panels share the k axis and keep their own y scale.
    """
    criteria = [c for c in SWEEP_CRITERIA if c in sweep.columns]
    long = sweep.melt(id_vars="k", value_vars=criteria, var_name="criterion")
    long["criterion"] = long["criterion"].map(SWEEP_CRITERIA)
    long["recommended"] = long["k"] == recommended_k

    base = alt.Chart().encode(
        x=alt.X("k:O", title="Number of clusters k"),
        y=alt.Y("value:Q", title=None, scale=alt.Scale(zero=False)),
    )
    line = base.mark_line()
    points = base.mark_point(filled=True).encode(
        size=alt.condition("datum.recommended", alt.value(140), alt.value(30)),
        color=alt.condition(
            "datum.recommended", alt.value("#d62728"), alt.value("#1f77b4")
        ),
        tooltip=["k:O", alt.Tooltip("value:Q", format=".4g")],
    )
    return (
        alt.layer(line, points, data=long)
        .properties(width=200, height=140)
        .facet(facet=alt.Facet("criterion:N", title=None), columns=3)
        .resolve_scale(y="independent")
    )


def pca_frame(
    X: np.ndarray,
    labels: np.ndarray,
    max_points: int = MAX_SCATTER_POINTS,
    seed: int = 0,
) -> tuple[pd.DataFrame, tuple[float, float]]:
    """Project the scaled matrix on its first two principal components.

    Parameters
    ----------
    X : numpy.ndarray, shape (n_patients, n_features)
        Scaled feature matrix used by the clustering.
    labels : numpy.ndarray, shape (n_patients,)
        Cluster number of each row.
    max_points : int
        Rows kept in the returned frame; a seeded random sample above it.
    seed : int
        Seed of the sample.

    Returns
    -------
    frame : pandas.DataFrame
        Columns ``pc1``, ``pc2``, ``cluster``; at most ``max_points`` rows.
    explained : tuple of float
        Share of variance explained by the two components (0-1).
    """
    n_components = min(2, X.shape[1])
    pca = PCA(n_components=n_components, random_state=seed).fit(X)
    coordinates = pca.transform(X)
    if n_components == 1:
        coordinates = np.column_stack([coordinates, np.zeros(len(X))])

    rows = np.arange(len(X))
    if len(rows) > max_points:
        rng = np.random.default_rng(seed)
        rows = np.sort(rng.choice(rows, size=max_points, replace=False))

    frame = pd.DataFrame(
        {
            "pc1": coordinates[rows, 0],
            "pc2": coordinates[rows, 1],
            "cluster": np.asarray(labels)[rows],
        }
    )
    ratios = list(pca.explained_variance_ratio_) + [0.0]
    return frame, (float(ratios[0]), float(ratios[1]))


def pca_chart(
    X: np.ndarray,
    labels: np.ndarray,
    names: dict[int, str] | None = None,
    max_points: int = MAX_SCATTER_POINTS,
    seed: int = 0,
):
    """Build the 2-D PCA map coloured by cluster, sampled to ``max_points``.

    Parameters
    ----------
    X : numpy.ndarray, shape (n_patients, n_features)
        Scaled feature matrix used by the clustering.
    labels : numpy.ndarray, shape (n_patients,)
        Cluster number of each row.
    names : dict of int to str, optional
        Cluster names shown in the legend.
    max_points, seed : int
        Size and seed of the sample drawn when the cohort is larger.

    Returns
    -------
    altair.Chart
        The title states how many of the patients are drawn.
    """
    frame, explained = pca_frame(X, labels, max_points, seed)
    frame["cluster"] = [cluster_title(int(c), names) for c in frame["cluster"]]
    title = f"PCA map: {len(frame):,} of {len(X):,} patients shown"
    if len(frame) < len(X):
        title += " (random sample)"

    return (
        alt.Chart(frame, title=title)
        .mark_circle(size=28, opacity=0.6)
        .encode(
            x=alt.X("pc1:Q", title=f"PC1 ({explained[0]:.0%} of variance)"),
            y=alt.Y("pc2:Q", title=f"PC2 ({explained[1]:.0%} of variance)"),
            color=alt.Color(
                "cluster:N",
                title="Cluster",
                scale=alt.Scale(scheme="tableau10"),
                legend=alt.Legend(orient="bottom", columns=1, labelLimit=600),
            ),
            tooltip=["cluster:N"],
        )
        .properties(height=420)
    )


def distance_chart(
    distances: pd.Series, assigned: int, names: dict[int, str] | None = None
):
    """Build bars of a patient's distance to every cluster centre.

    Parameters
    ----------
    distances : pandas.Series
        Distance on the scaled axes, indexed by cluster number (k values).
    assigned : int
        Cluster the patient is assigned to; drawn in a distinct colour.
    names : dict of int to str, optional
        Cluster names for the axis.

    Returns
    -------
    altair.Chart
    """
    frame = pd.DataFrame(
        {
            "cluster": [cluster_title(int(c), names) for c in distances.index],
            "distance": distances.to_numpy(dtype=float),
            "assigned": [int(c) == int(assigned) for c in distances.index],
        }
    )
    return (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X("distance:Q", title="Distance to centre (scaled units)"),
            y=alt.Y(
                "cluster:N",
                title=None,
                sort=None,
                axis=alt.Axis(labelLimit=LABEL_LIMIT),
            ),
            color=alt.condition(
                "datum.assigned", alt.value("#d62728"), alt.value("#9ecae1")
            ),
            tooltip=["cluster:N", alt.Tooltip("distance:Q", format=".2f")],
        )
        .properties(height=alt.Step(ROW_STEP))
    )


def patient_against_cluster_chart(
    cluster_features: pd.DataFrame, patient: dict[str, float]
):
    """Build one row per feature: the cluster's spread and the patient's value.

    Parameters
    ----------
    cluster_features : pandas.DataFrame
        Rows of the patient's cluster with canonical feature columns.
    patient : dict of str to float
        The patient's value of each feature shown, in canonical units.

    Returns
    -------
    altair.VConcatChart
        One small chart per feature with one data row each. The red point is
        the patient, the bar the cluster's 25th-75th percentile and the rule
        its 5th-95th; skewed labs use a symmetric log axis.
    """
    rows = [
        _patient_row(cluster_features[feature], feature, value)
        for feature, value in patient.items()
    ]
    return alt.vconcat(*rows, spacing=18)


def _patient_row(values: pd.Series, feature: str, value: float):
    stats = box_frame(values, np.zeros(len(values)))
    frame = stats.assign(patient=float(value)) if len(stats) else None
    if frame is None:
        frame = pd.DataFrame({"patient": [float(value)]})
    skewed = FEATURE_BY_NAME[feature].skewed
    scale = value_scale(values, skewed)

    base = alt.Chart(frame)
    x = alt.X("low:Q", scale=scale, axis=value_axis(values, skewed))
    layers = [
        base.mark_rule().encode(x=x, x2="high:Q"),
        base.mark_bar(size=12, opacity=0.5).encode(x="q1:Q", x2="q3:Q"),
        base.mark_tick(color="black", thickness=2).encode(x="median:Q"),
        base.mark_point(color="#d62728", filled=True, size=90).encode(
            x=alt.X("patient:Q", scale=scale),
            tooltip=[alt.Tooltip("patient:Q", title="Patient"), "median:Q"],
        ),
    ]
    return alt.layer(*layers).properties(
        title=alt.TitleParams(feature_label(feature), anchor="start", fontSize=12),
        width=640,
        height=24,
    )


def smd_chart(smd: pd.DataFrame, threshold: float = 0.1):
    """Build bars of each feature's standardised mean difference with +-threshold.

    Parameters
    ----------
    smd : pandas.DataFrame
        Indexed by feature with columns ``smd`` and ``imbalanced``, as
        ``core.replication.smd_table`` returns (eight rows at most).
    threshold : float
        Absolute SMD drawn as two dashed rules.

    Returns
    -------
    altair.LayerChart
        Infinite or missing differences are left out of the bars. A solid
        rule marks 0 and dashed rules mark +-threshold.
    """
    frame = pd.DataFrame(
        {
            "feature": [feature_label(name) for name in smd.index],
            "smd": smd["smd"].to_numpy(dtype=float),
            "imbalanced": smd["imbalanced"].to_numpy(dtype=bool),
        }
    )
    frame = frame[np.isfinite(frame["smd"])]
    bars = (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X("smd:Q", title="Standardised mean difference (new - reference)"),
            y=alt.Y(
                "feature:N",
                title=None,
                sort=None,
                axis=alt.Axis(labelLimit=LABEL_LIMIT),
            ),
            color=alt.condition(
                "datum.imbalanced", alt.value("#d62728"), alt.value("#9ecae1")
            ),
            tooltip=["feature:N", alt.Tooltip("smd:Q", format=".3f")],
        )
    )
    limits = alt.Chart(pd.DataFrame({"limit": [-threshold, threshold]}))
    rules = limits.mark_rule(strokeDash=[4, 4], color="gray").encode(x="limit:Q")
    zero = alt.Chart(pd.DataFrame({"zero": [0.0]})).mark_rule(color="black")
    return alt.layer(bars, rules, zero.encode(x="zero:Q")).properties(
        height=alt.Step(ROW_STEP)
    )
