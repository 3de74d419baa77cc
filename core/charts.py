"""Altair charts whose data stays bounded whatever the cohort size.

Every builder summarises on the server before it hands data to Altair:
histograms send bin counts, box plots send quantiles, and scatter plots send a
seeded sample of at most ``MAX_SCATTER_POINTS`` rows. The browser therefore
never receives one row per patient.
"""

import altair as alt
import numpy as np
import pandas as pd
from sklearn.decomposition import PCA

from core.schema import FEATURE_BY_NAME, feature_label

MAX_SCATTER_POINTS = 5_000
DEFAULT_BINS = 30

# Whiskers of the server-side box plots span the 5th to 95th percentile, so
# one extreme laboratory value does not stretch the axis.
BOX_QUANTILES = {"low": 0.05, "q1": 0.25, "median": 0.5, "q3": 0.75, "high": 0.95}

SWEEP_CRITERIA = {
    "silhouette": "Silhouette (higher is better)",
    "calinski_harabasz": "Calinski-Harabasz (higher is better)",
    "davies_bouldin": "Davies-Bouldin (lower is better)",
    "inertia": "Inertia (look for the elbow)",
    "gap": "Gap statistic (higher is better)",
}


def _cluster_title(cluster: int, names: dict[int, str] | None) -> str:
    if names and cluster in names:
        return f"{cluster}: {names[cluster]}"
    return str(cluster)


def histogram_frame(values: pd.Series, bins: int = DEFAULT_BINS) -> pd.DataFrame:
    """Count values into equal-width bins.

    Parameters
    ----------
    values : pandas.Series
        Numeric values of one feature, any length; NaN is ignored.
    bins : int
        Number of bins.

    Returns
    -------
    pandas.DataFrame
        One row per bin (at most ``bins`` rows) with columns ``start``,
        ``end`` and ``count``. Empty when no value is finite.
    """
    finite = values.to_numpy(dtype=float)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return pd.DataFrame({"start": [], "end": [], "count": []})

    counts, edges = np.histogram(finite, bins=bins)
    return pd.DataFrame({"start": edges[:-1], "end": edges[1:], "count": counts})


def histogram_chart(values: pd.Series, feature: str, bins: int = DEFAULT_BINS):
    """Build a histogram of one feature from server-side bin counts.

    Parameters
    ----------
    values : pandas.Series
        Values of ``feature`` in its canonical unit.
    feature : str
        Canonical feature name, used for the axis label.
    bins : int
        Number of equal-width bins; the chart data has at most this many rows.

    Returns
    -------
    altair.Chart
    """
    frame = histogram_frame(values, bins)
    label = feature_label(feature)
    return (
        alt.Chart(frame, title=FEATURE_BY_NAME[feature].label)
        .mark_bar()
        .encode(
            x=alt.X("start:Q", bin="binned", title=label),
            x2="end:Q",
            y=alt.Y("count:Q", title="Patients"),
            tooltip=[
                alt.Tooltip("start:Q", format=".3g", title="From"),
                alt.Tooltip("end:Q", format=".3g", title="To"),
                alt.Tooltip("count:Q", title="Patients"),
            ],
        )
        .properties(height=180)
    )


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
    frame["cluster"] = [_cluster_title(int(c), names) for c in frame["cluster"]]
    title = f"PCA map: {len(frame):,} of {len(X):,} patients shown"
    if len(frame) < len(X):
        title += " (random sample)"

    return (
        alt.Chart(frame, title=title)
        .mark_circle(size=28, opacity=0.6)
        .encode(
            x=alt.X("pc1:Q", title=f"PC1 ({explained[0]:.0%} of variance)"),
            y=alt.Y("pc2:Q", title=f"PC2 ({explained[1]:.0%} of variance)"),
            color=alt.Color("cluster:N", title="Cluster"),
            tooltip=["cluster:N"],
        )
        .properties(height=420)
    )


def centroid_heatmap(centroids_scaled: pd.DataFrame, names: dict[int, str] | None):
    """Build a heatmap of cluster centres in standard deviations from the mean.

    Parameters
    ----------
    centroids_scaled : pandas.DataFrame, shape (k, n_used_features)
        Centre of each cluster on the scaled axes; index is the cluster
        number, columns are canonical feature names.
    names : dict of int to str, optional
        Cluster names for the row labels.

    Returns
    -------
    altair.LayerChart
        k x n_used_features cells, each with its z-score written on it.
    """
    long = centroids_scaled.rename_axis("cluster").reset_index()
    long = long.melt(id_vars="cluster", var_name="feature", value_name="z")
    long["cluster"] = [_cluster_title(int(c), names) for c in long["cluster"]]
    long["feature"] = [FEATURE_BY_NAME[f].label for f in long["feature"]]
    limit = max(1.0, float(np.nanmax(np.abs(long["z"]))) if len(long) else 1.0)

    base = alt.Chart(long).encode(
        x=alt.X("feature:N", title=None, sort=None),
        y=alt.Y("cluster:N", title=None),
    )
    cells = base.mark_rect().encode(
        color=alt.Color(
            "z:Q",
            title="z-score",
            scale=alt.Scale(scheme="redblue", domain=[limit, -limit]),
        ),
        tooltip=["cluster:N", "feature:N", alt.Tooltip("z:Q", format="+.2f")],
    )
    text = base.mark_text(fontSize=12).encode(text=alt.Text("z:Q", format="+.1f"))
    return alt.layer(cells, text).properties(height=max(120, 45 * len(names or {})))


def box_frame(values: pd.Series, groups: pd.Series | np.ndarray) -> pd.DataFrame:
    """Summarise one feature per group by the quantiles in ``BOX_QUANTILES``.

    Parameters
    ----------
    values : pandas.Series, shape (n_patients,)
        Values of one feature; NaN is ignored.
    groups : array-like, shape (n_patients,)
        Group (cluster number) of each value.

    Returns
    -------
    pandas.DataFrame
        One row per group: ``group``, ``n`` and one column per quantile.
    """
    frame = pd.DataFrame({"value": np.asarray(values, dtype=float), "group": groups})
    grouped = frame.dropna().groupby("group")["value"]
    summary = grouped.quantile(list(BOX_QUANTILES.values())).unstack()
    summary.columns = list(BOX_QUANTILES)
    summary["n"] = grouped.size()
    return summary.reset_index()


def box_chart(
    values: pd.Series,
    labels: np.ndarray,
    feature: str,
    names: dict[int, str] | None = None,
    log_scale: bool = False,
):
    """Build box plots of one feature by cluster from server-side quantiles.

    Parameters
    ----------
    values : pandas.Series, shape (n_patients,)
        Values of ``feature`` in its canonical unit.
    labels : numpy.ndarray, shape (n_patients,)
        Cluster number of each row.
    feature : str
        Canonical feature name.
    names : dict of int to str, optional
        Cluster names for the axis.
    log_scale : bool
        Draw the value axis on a symmetric log scale (for skewed labs).

    Returns
    -------
    altair.LayerChart
        One row of data per cluster. Whiskers run from the 5th to the 95th
        percentile and the box from the 25th to the 75th.
    """
    frame = box_frame(values, labels)
    frame["group"] = [_cluster_title(int(g), names) for g in frame["group"]]
    scale = alt.Scale(type="symlog" if log_scale else "linear", zero=False)
    label = feature_label(feature)

    base = alt.Chart(frame, title=FEATURE_BY_NAME[feature].label).encode(
        y=alt.Y("group:N", title=None)
    )
    whisker = base.mark_rule().encode(
        x=alt.X("low:Q", title=label, scale=scale), x2="high:Q"
    )
    box = base.mark_bar(size=14, opacity=0.7).encode(x="q1:Q", x2="q3:Q")
    median = base.mark_tick(color="black", thickness=2, size=14).encode(
        x="median:Q",
        tooltip=[
            "group:N",
            "n:Q",
            *[alt.Tooltip(f"{q}:Q", format=".3g") for q in BOX_QUANTILES],
        ],
    )
    return alt.layer(whisker, box, median).properties(height=40 + 28 * len(frame))


def outcome_rate_chart(rates: pd.DataFrame, names: dict[int, str] | None = None):
    """Build outcome rate per cluster with its interval and the cohort rate.

    Parameters
    ----------
    rates : pandas.DataFrame
        Output of ``core.profiles.outcome_by_cluster``: index ``cluster``,
        one row per cluster, columns ``rate``, ``rate_low``, ``rate_high``
        (Wilson 95 % interval) and ``cohort_rate``, all shares 0-1.
    names : dict of int to str, optional
        Cluster names for the axis.

    Returns
    -------
    altair.LayerChart
        Bars with interval whiskers and a dashed rule at the cohort rate.
    """
    frame = rates.reset_index()[["cluster", "rate", "rate_low", "rate_high"]]
    frame["cluster"] = [_cluster_title(int(c), names) for c in frame["cluster"]]
    axis = alt.Axis(format="%")

    base = alt.Chart(frame).encode(y=alt.Y("cluster:N", title=None, sort=None))
    bars = base.mark_bar(opacity=0.7).encode(
        x=alt.X("rate:Q", title="Outcome rate (95 % Wilson interval)", axis=axis),
        tooltip=[
            "cluster:N",
            alt.Tooltip("rate:Q", format=".1%"),
            alt.Tooltip("rate_low:Q", format=".1%", title="Lower limit"),
            alt.Tooltip("rate_high:Q", format=".1%", title="Upper limit"),
        ],
    )
    interval = base.mark_errorbar(ticks=True).encode(
        x=alt.X("rate_low:Q", axis=axis), x2="rate_high:Q"
    )
    cohort_rate = float(rates["cohort_rate"].iloc[0]) if len(rates) else 0.0
    rule = (
        alt.Chart(pd.DataFrame({"cohort_rate": [cohort_rate]}))
        .mark_rule(color="black", strokeDash=[4, 4])
        .encode(
            x="cohort_rate:Q",
            tooltip=[alt.Tooltip("cohort_rate:Q", format=".1%", title="Cohort rate")],
        )
    )
    return alt.layer(bars, interval, rule).properties(height=40 + 32 * len(frame))


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
            "cluster": [_cluster_title(int(c), names) for c in distances.index],
            "distance": distances.to_numpy(dtype=float),
            "assigned": [int(c) == int(assigned) for c in distances.index],
        }
    )
    return (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X("distance:Q", title="Distance to centre (scaled units)"),
            y=alt.Y("cluster:N", title=None, sort=None),
            color=alt.condition(
                "datum.assigned", alt.value("#d62728"), alt.value("#9ecae1")
            ),
            tooltip=["cluster:N", alt.Tooltip("distance:Q", format=".2f")],
        )
        .properties(height=40 + 28 * len(frame))
    )


def patient_against_cluster_chart(
    cluster_features: pd.DataFrame, patient: dict[str, float]
):
    """Build one panel per feature: the cluster's spread and the patient's value.

    Parameters
    ----------
    cluster_features : pandas.DataFrame
        Rows of the patient's cluster with canonical feature columns.
    patient : dict of str to float
        The patient's value of each feature shown, in canonical units.

    Returns
    -------
    altair.FacetChart
        One data row per feature; the red point is the patient, the bar the
        cluster's 25th-75th percentile and the rule its 5th-95th.
    """
    rows = []
    for feature, value in patient.items():
        stats = box_frame(cluster_features[feature], np.zeros(len(cluster_features)))
        row = stats.iloc[0].to_dict() if len(stats) else {}
        row.update(feature=feature_label(feature), patient=float(value))
        rows.append(row)
    frame = pd.DataFrame(rows)

    base = alt.Chart().encode(y=alt.Y("feature:N", title=None, axis=None))
    x = alt.X("low:Q", title=None, scale=alt.Scale(zero=False))
    layers = [
        base.mark_rule().encode(x=x, x2="high:Q"),
        base.mark_bar(size=12, opacity=0.5).encode(x="q1:Q", x2="q3:Q"),
        base.mark_tick(color="black", thickness=2).encode(x="median:Q"),
        base.mark_point(color="#d62728", filled=True, size=90).encode(
            x="patient:Q", tooltip=["feature:N", "patient:Q", "median:Q"]
        ),
    ]
    return (
        alt.layer(*layers, data=frame)
        .properties(width=520, height=34)
        .facet(row=alt.Row("feature:N", title=None, header=alt.Header(labelAngle=0)))
        .resolve_scale(x="independent")
    )
