"""Sections of the Clustering page: settings, sweep, verdict, map, stability."""

import pandas as pd
import streamlit as st

from core import cluster_charts
from core.algorithms import ALGORITHMS, LOOKUP_NOTE, UNASSIGNED
from core.clustering import VERDICT_BANDS, ClusterResult
from core.cohort import Cohort
from core.errors import CohortError
from core.export import bundle_bytes, to_safe_csv
from core.preprocessing import GENDER_REASON, LOG_TRANSFORM_REASON
from core.schema import PATIENT_ID
from core.stability import SMALL_CLUSTER_NOTE, StabilityResult, bootstrap_stability
from ui import state
from ui.state import AppSettings
from ui.widgets import escape_markdown, show_basis, show_error

K_CHOICES = [None, *range(2, 11)]
K_REASON = (
    "By default k is the one with the highest mean silhouette among k = 2 to 10; "
    "the sweep below shows how the other criteria compare."
)
IMPLAUSIBLE_REASON = (
    "Rows with an impossible value (such as a heart rate of 1111/min, a diastolic "
    "pressure at or above the systolic, or a negative troponin) are data-entry "
    "errors, so they are kept out by default. Switched off, those cells are set "
    "to missing and imputed, and the rows are clustered."
)
SEED_REASON = (
    "k-means starts from random centres; a fixed seed makes every run give the "
    "same clusters. Changing it shows how much the result depends on the start."
)
ALGORITHM_REASON = (
    "k-means by default. Another algorithm's clusters are compared with k-means "
    "under Algorithm comparison and are described on the Cluster Profiles and "
    "Patient Lookup pages. The map, verdict, stability and downloads on this "
    "page stay k-means."
)


def settings_section() -> AppSettings:
    """Show the clustering settings, each with the reason for its default."""
    current = state.current_settings()
    left, right = st.columns(2)
    with left:
        k = st.selectbox(
            "Number of clusters k",
            K_CHOICES,
            index=K_CHOICES.index(current.k) if current.k in K_CHOICES else 0,
            format_func=lambda k: "recommended" if k is None else str(k),
            key=state.K_SELECT,
        )
        st.caption(K_REASON)
        seed = st.number_input(
            "Random seed",
            min_value=0,
            max_value=2**31 - 1,
            value=current.seed,
            step=1,
            key=state.SEED_INPUT,
        )
        st.caption(SEED_REASON)
        algorithm = _algorithm_choice(current.algorithm)
    with right:
        log_transform = st.toggle(
            "Log-transform blood sugar, CK-MB and troponin",
            value=current.log_transform,
            key=state.LOG_TOGGLE,
        )
        st.caption(LOG_TRANSFORM_REASON)
        include_gender = st.toggle(
            "Include gender", value=current.include_gender, key=state.GENDER_TOGGLE
        )
        st.caption(GENDER_REASON)
        exclude = st.toggle(
            "Exclude rows with implausible values",
            value=current.exclude_implausible,
            key=state.IMPLAUSIBLE_TOGGLE,
        )
        st.caption(IMPLAUSIBLE_REASON)

    settings = AppSettings(
        k, log_transform, include_gender, exclude, int(seed), algorithm
    )
    state.store_settings(settings)
    return settings


def _algorithm_choice(current: str) -> str:
    choices = list(ALGORITHMS)
    algorithm = st.selectbox(
        "Algorithm for profiles and lookup",
        choices,
        index=choices.index(current) if current in choices else 0,
        format_func=ALGORITHMS.get,
        key=state.ALGORITHM_SELECT,
    )
    st.caption(ALGORITHM_REASON)
    return algorithm


def sweep_section(result: ClusterResult) -> None:
    """Show the criteria over k and the recommended k."""
    recommendation = result.recommendation
    st.subheader("Choosing k")
    st.altair_chart(cluster_charts.sweep_chart(result.sweep, recommendation.k))
    st.markdown(f"**Recommended k = {recommendation.k}.** {recommendation.reason}")
    if recommendation.agree:
        st.markdown("Agree: " + ", ".join(recommendation.agree) + ".")
    if recommendation.disagree:
        st.markdown("Disagree: " + "; ".join(recommendation.disagree) + ".")
    if result.settings.k is not None and result.settings.k != recommendation.k:
        st.info(f"You chose k = {result.settings.k} instead of the recommended k.")


def verdict_section(result: ClusterResult) -> None:
    """Show the mean silhouette and the structure verdict it gives."""
    label, explanation = result.verdict
    estimate = " (estimated on a sample)" if result.silhouette_estimated else ""
    st.metric(f"Mean silhouette{estimate}", f"{result.silhouette:.2f}")
    st.markdown(f"### Verdict: {label}")
    st.markdown(explanation)
    st.dataframe(verdict_bands(label), hide_index=True)
    show_basis(
        "structure verdict",
        [
            "Bands of the mean silhouette width from Kaufman and Rousseeuw (1990), "
            "Finding Groups in Data: at most 0.25 no substantial structure, up to "
            "0.50 weak, up to 0.70 reasonable, above 0.70 strong.",
            f"Silhouette {result.silhouette:.3f} for k = {result.k} on "
            f"{len(result.labels):,} patients{estimate}.",
        ],
    )


def verdict_bands(current: str) -> pd.DataFrame:
    """Return the Kaufman and Rousseeuw bands as a table, marking ``current``."""
    rows, lower = [], None
    for upper, label, _ in VERDICT_BANDS:
        if lower is None:
            span = f"{upper:.2f} or less"
        elif upper == float("inf"):
            span = f"above {lower:.2f}"
        else:
            span = f"above {lower:.2f} to {upper:.2f}"
        marker = "yes" if label == current else ""
        rows.append({"mean silhouette": span, "verdict": label, "this run": marker})
        lower = upper
    return pd.DataFrame(rows)


def map_section(result: ClusterResult, seed: int) -> None:
    """Show the 2-D PCA map coloured by cluster."""
    chart = cluster_charts.pca_chart(result.X, result.labels, result.names, seed=seed)
    st.altair_chart(chart, height=520)
    names = "; ".join(f"{c}: {n}" for c, n in result.names.items())
    st.caption(escape_markdown(f"Clusters: {names}. {result.ordering_rule}"))


def _run_stability(result: ClusterResult, settings: AppSettings) -> StabilityResult:
    bar = st.progress(0.0, text="Resampling...")
    stability = bootstrap_stability(
        result.X,
        result.labels,
        seed=settings.seed,
        on_progress=lambda i, n: bar.progress(i / n, text=f"Resample {i} of {n}"),
    )
    bar.empty()
    return stability


def stability_section(result: ClusterResult, cohort: Cohort, settings) -> None:
    """Run the bootstrap on request and show how stable each cluster is.

    Results are kept per session under the cohort fingerprint and settings,
    not in ``st.cache_data``, because the progress bar cannot be replayed
    from a cache.
    """
    st.subheader("Stability")
    runs = st.session_state.setdefault(state.STABILITY_RUNS, {})
    run_key = (cohort.fingerprint, settings.for_kmeans())
    if st.button("Run bootstrap stability (takes seconds)", key=state.STABILITY_BUTTON):
        if run_key not in runs:
            runs[run_key] = _run_stability(result, settings)
    if run_key not in runs:
        st.caption("Refits k-means on resamples of the cohort; runs on request.")
        return

    stability = runs[run_key]
    st.metric("Mean adjusted Rand index", f"{stability.mean_ari:.2f}")
    config = {
        "share": st.column_config.NumberColumn("share", format="percent"),
        "mean_jaccard": st.column_config.NumberColumn("mean Jaccard", format="%.2f"),
        "small": st.column_config.CheckboxColumn("possible outlier group"),
    }
    st.dataframe(stability.clusters, column_config=config)
    show_basis(
        "stability",
        [
            f"{stability.n_resamples} bootstrap resamples of "
            f"{stability.sample_size:,} patients, seed {settings.seed}.",
            "Per-cluster reading of the mean Jaccard similarity after Hennig "
            "(2007): below 0.6 dissolved, 0.6 to 0.75 a pattern, above 0.75 "
            "stable, above 0.85 highly stable.",
            SMALL_CLUSTER_NOTE,
        ],
    )


def assignments_frame(result: ClusterResult, cohort: Cohort) -> pd.DataFrame:
    """Return the cluster number and name of each clustered row."""
    frame = pd.DataFrame(
        {
            "row": result.index,
            "cluster": result.labels,
            "cluster_name": [result.names[int(c)] for c in result.labels],
        }
    )
    if PATIENT_ID in cohort.table.columns:
        frame.insert(1, PATIENT_ID, cohort.table.loc[result.index, PATIENT_ID].values)
    return frame


def download_section(result: ClusterResult, cohort: Cohort) -> None:
    """Offer the cluster assignments as a CSV file."""
    st.download_button(
        "Download cluster assignments (CSV)",
        # Built on click: on 1,000,000 patients the CSV takes about 2 s.
        data=lambda: to_safe_csv(assignments_frame(result, cohort)),
        file_name="cluster_assignments.csv",
        mime="text/csv",
        key=state.ASSIGNMENTS_DOWNLOAD,
        on_click="ignore",
    )


def bundle_download_section(result: ClusterResult, cohort: Cohort) -> None:
    """Offer the fitted model as a bundle zip (joblib file and JSON manifest)."""
    name = f"kmeans_k{result.k}_seed{result.settings.seed}"
    features = cohort.features.loc[result.index]

    # The zip is built only when the button is clicked, not on every rerun.
    st.download_button(
        "Download model bundle (zip)",
        data=lambda: bundle_bytes(result, name, cohort.content_hash, features),
        file_name=f"{name}.zip",
        mime="application/zip",
        key=state.BUNDLE_DOWNLOAD,
        on_click="ignore",
    )
    st.caption(
        "The zip contains the fitted pipeline and k-means model (joblib) and a JSON "
        "manifest: seed, library versions, features, preprocessing, centroids, "
        "each feature's mean and SD in this cohort, the data's sha256 and the "
        "time. No patient rows. Put both files in models/ to use the bundle on "
        "the Replication page; unpickling runs code, so load only bundles you trust."
    )


def comparison_section(result: ClusterResult, settings: AppSettings) -> None:
    """Compare k-means with the algorithm chosen for profiles and lookup."""
    st.subheader("Algorithm comparison")
    if settings.algorithm == "kmeans":
        st.caption(
            "Choose another algorithm for profiles and lookup above to see how "
            "far its grouping agrees with k-means."
        )
        return

    try:
        alternative = state.fit_alternative(result, settings)
    except CohortError as error:
        show_error(error)
        return
    found = len([c for c in alternative.names if c != UNASSIGNED])
    if alternative.note:
        show = st.warning if found == 0 else st.caption
        show(alternative.note)
    if found == 0:
        return
    left, right = st.columns([2, 3])
    left.metric("Adjusted Rand index vs k-means", f"{alternative.ari_vs_kmeans:.2f}")
    left.metric("Clusters found", found)
    left.caption(
        "1 means the same grouping, about 0 means no more agreement than chance."
    )
    if alternative.table is not None:
        left.dataframe(alternative.table, hide_index=True)
    chart = cluster_charts.pca_chart(
        result.X, alternative.labels, alternative.names, seed=settings.seed
    )
    right.altair_chart(chart, height=520)
    right.caption(
        "The Cluster Profiles and Patient Lookup pages describe these clusters. "
        + LOOKUP_NOTE
    )
