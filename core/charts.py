"""Altair charts of the cohort and its clusters with bounded data.

Every builder summarises on the server before it hands data to Altair:
histograms send bin counts, box plots send quantiles, heatmaps and outcome
charts one row per cluster. The browser therefore never receives one row per
patient. ``core.cluster_charts`` contains the k sweep, the PCA map and the
patient charts.
"""

import altair as alt
import numpy as np
import pandas as pd

from core.schema import FEATURE_BY_NAME, feature_label

DEFAULT_BINS = 30

# Whiskers of the server-side box plots span the 5th to 95th percentile, so
# one extreme laboratory value does not stretch the axis.
BOX_QUANTILES = {"low": 0.05, "q1": 0.25, "median": 0.5, "q3": 0.75, "high": 0.95}

# Height of one row of a chart with one band per cluster, in pixels, and the
# longest axis label (cluster names) shown before it is cut with an ellipsis.
ROW_STEP = 30
LABEL_LIMIT = 260


def cluster_title(cluster: int, names: dict[int, str] | None) -> str:
    """Return ``"2: high troponin"`` for cluster 2, or ``"2"`` without a name."""
    if names and cluster in names:
        return f"{cluster}: {names[cluster]}"
    return str(cluster)


def value_scale(values: pd.Series | np.ndarray, log_scale: bool) -> alt.Scale:
    """Return a linear scale, or a symmetric log scale fitted to ``values``.

    The symlog constant (where the axis turns from linear to logarithmic) is
    the 25th percentile of the positive values, so troponin in hundredths of
    a ng/mL and CK-MB in ng/mL both spread out.
    """
    if not log_scale:
        return alt.Scale(zero=False)
    return alt.Scale(type="symlog", constant=symlog_constant(values), zero=False)


def symlog_constant(values: pd.Series | np.ndarray) -> float:
    """Return the 25th percentile of the positive values, or 1 without any."""
    finite = np.asarray(values, dtype=float)
    positive = finite[np.isfinite(finite) & (finite > 0)]
    return float(np.percentile(positive, 25)) if positive.size else 1.0


def value_axis(values: pd.Series | np.ndarray, log_scale: bool, title=None):
    """Return an axis, with 1-2-5 ticks per decade on a symmetric log scale.

    Vega-Lite puts only a few ticks on a symlog axis, so skewed labs get
    explicit tick values between 0 and the maximum of ``values``.
    """
    if not log_scale:
        return alt.Axis(title=title)
    finite = np.asarray(values, dtype=float)
    positive = finite[np.isfinite(finite) & (finite > 0)]
    if positive.size == 0:
        return alt.Axis(title=title)

    low = int(np.floor(np.log10(positive.min())))
    high = int(np.ceil(np.log10(positive.max())))
    ticks = [m * 10.0**e for e in range(low, high + 1) for m in (1, 2, 5)]
    ticks = [0.0] + [t for t in ticks if t <= positive.max()]
    return alt.Axis(title=title, values=ticks, format="~r", labelOverlap=True)


def histogram_frame(
    values: pd.Series, bins: int = DEFAULT_BINS, log_bins: bool = False
) -> pd.DataFrame:
    """Count values into bins of equal width, or of equal width in log(1 + x).

    Parameters
    ----------
    values : pandas.Series
        Numeric values of one feature, any length; NaN is ignored.
    bins : int
        Number of bins.
    log_bins : bool
        Space the bin edges evenly in ``log1p(x / c)``, with ``c`` from
        ``symlog_constant``, so that a right-skewed lab does not fall into
        one bin. Negative values are counted in the
        first bin.

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

    edges: int | np.ndarray = bins
    if log_bins and finite.max() > 0:
        # Edges even in log(1 + x / c) match the symlog axis with constant c.
        c = symlog_constant(finite)
        low, high = np.log1p(max(finite.min(), 0.0) / c), np.log1p(finite.max() / c)
        edges = c * np.expm1(np.linspace(low, high, bins + 1))
        finite = np.clip(finite, edges[0], None)
    counts, edges = np.histogram(finite, bins=edges)
    return pd.DataFrame({"start": edges[:-1], "end": edges[1:], "count": counts})


def histogram_chart(values: pd.Series, feature: str, bins: int = DEFAULT_BINS):
    """Build a histogram of one feature from server-side bin counts.

    Parameters
    ----------
    values : pandas.Series
        Values of ``feature`` in its canonical unit.
    feature : str
        Canonical feature name. Gender gets two bins; skewed labs get bins
        even in ``log1p`` and a symmetric log axis.
    bins : int
        Number of bins; the chart data has at most this many rows.

    Returns
    -------
    altair.Chart
    """
    spec = FEATURE_BY_NAME[feature]
    if feature == "gender":
        bins = 2
    frame = histogram_frame(values, bins, log_bins=spec.skewed)
    scale = value_scale(values, spec.skewed)
    return (
        alt.Chart(frame, title=spec.label)
        .mark_bar(stroke="white", strokeWidth=0.5)
        .encode(
            x=alt.X(
                "start:Q", scale=scale, axis=value_axis(values, spec.skewed, spec.unit)
            ),
            x2="end:Q",
            y=alt.Y("count:Q", title="Patients"),
            # Bars rise from zero; without y2 Vega-Lite would draw each bin as
            # a thin horizontal bar from start to end at the height of count.
            y2=alt.datum(0),
            tooltip=[
                alt.Tooltip("start:Q", format=".3g", title="From"),
                alt.Tooltip("end:Q", format=".3g", title="To"),
                alt.Tooltip("count:Q", title="Patients"),
            ],
        )
        .properties(height=180)
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
        One column per cluster and one row per feature, each cell with its
        z-score written on it.
    """
    long = centroids_scaled.rename_axis("cluster").reset_index()
    long = long.melt(id_vars="cluster", var_name="feature", value_name="z")
    long["name"] = [cluster_title(int(c), names) for c in long["cluster"]]
    long["cluster"] = [f"Cluster {int(c)}" for c in long["cluster"]]
    long["feature"] = [FEATURE_BY_NAME[f].label for f in long["feature"]]
    limit = max(1.0, float(np.nanmax(np.abs(long["z"]))) if len(long) else 1.0)

    base = alt.Chart(long).encode(
        x=alt.X("cluster:N", title=None, axis=alt.Axis(labelAngle=0, orient="top")),
        y=alt.Y(
            "feature:N", title=None, sort=None, axis=alt.Axis(labelLimit=LABEL_LIMIT)
        ),
    )
    cells = base.mark_rect().encode(
        color=alt.Color(
            "z:Q",
            title="z-score",
            scale=alt.Scale(scheme="redblue", domain=[limit, -limit]),
        ),
        tooltip=["name:N", "feature:N", alt.Tooltip("z:Q", format="+.2f")],
    )
    text = base.mark_text(fontSize=12).encode(
        text=alt.Text("z:Q", format="+.1f"),
        color=alt.condition(
            f"abs(datum.z) > {limit / 2}", alt.value("white"), alt.value("black")
        ),
    )
    return alt.layer(cells, text).properties(height=alt.Step(ROW_STEP))


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
    frame = frame.dropna()
    if frame.empty:
        return pd.DataFrame(columns=["group", *BOX_QUANTILES, "n"])
    grouped = frame.groupby("group")["value"]
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
    frame["group"] = [cluster_title(int(g), names) for g in frame["group"]]
    scale = value_scale(values, log_scale)
    label = feature_label(feature)

    base = alt.Chart(frame, title=FEATURE_BY_NAME[feature].label).encode(
        y=alt.Y("group:N", title=None, axis=alt.Axis(labelLimit=LABEL_LIMIT))
    )
    whisker = base.mark_rule().encode(
        x=alt.X("low:Q", scale=scale, axis=value_axis(values, log_scale, label)),
        x2="high:Q",
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
    return alt.layer(whisker, box, median).properties(height=alt.Step(ROW_STEP))


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
    frame["cluster"] = [cluster_title(int(c), names) for c in frame["cluster"]]
    axis = alt.Axis(format="%")
    title = "Outcome rate (95 % Wilson interval)"

    y_axis = alt.Axis(labelLimit=LABEL_LIMIT)
    base = alt.Chart(frame).encode(
        y=alt.Y("cluster:N", title=None, sort=None, axis=y_axis)
    )
    bars = base.mark_bar(opacity=0.7).encode(
        x=alt.X("rate:Q", title=title, axis=axis),
        tooltip=[
            "cluster:N",
            alt.Tooltip("rate:Q", format=".1%"),
            alt.Tooltip("rate_low:Q", format=".1%", title="Lower limit"),
            alt.Tooltip("rate_high:Q", format=".1%", title="Upper limit"),
        ],
    )
    interval = base.mark_errorbar(ticks=True).encode(
        x=alt.X("rate_low:Q", title=title, axis=axis), x2="rate_high:Q"
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
    return alt.layer(bars, interval, rule).properties(height=alt.Step(ROW_STEP))
