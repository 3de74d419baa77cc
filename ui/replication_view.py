"""Sections of the Replication page: choose a saved bundle, compare, show shifts."""

import pandas as pd
import streamlit as st

from core import cluster_charts
from core.cohort import Cohort
from core.errors import ModelBundleError
from core.export import MODELS_DIR, ModelBundle, load_bundle
from core.replication import (
    ARI_READING,
    SMD_SOURCE,
    SMD_THRESHOLD,
    Replication,
    list_bundles,
    replicate,
)
from core.schema import FEATURE_BY_NAME, feature_label
from ui import state
from ui.widgets import escape_markdown, show_basis, show_error

# Module attribute, so that tests can point the page at another directory.
BUNDLE_DIR = MODELS_DIR


def bundle_section() -> ModelBundle | None:
    """Offer the bundles in ``models/``; return the chosen one once it is checked.

    A bundle that fails its checksum, version or content check is shown as an
    error and ``None`` is returned.
    """
    names = list_bundles(BUNDLE_DIR)
    if not names:
        st.info(
            "No model bundle found in models/. Download one from the Clustering "
            "page and put its .joblib and .json files in models/."
        )
        return None
    name = st.selectbox(
        "Saved model bundle",
        names,
        key=state.REPLICATION_BUNDLE,
        help="Bundles in models/; each is checked (sha256, library versions) "
        "before it is loaded.",
    )
    try:
        bundle = load_bundle(name, models_dir=BUNDLE_DIR)
    except ModelBundleError as error:
        show_error(error)
        return None
    config = {"value": st.column_config.TextColumn("value", width="large")}
    st.dataframe(manifest_facts(bundle), hide_index=True, column_config=config)
    return bundle


def manifest_facts(bundle: ModelBundle) -> pd.DataFrame:
    """Return the manifest's headline facts as a two-column table of text."""
    manifest = bundle.manifest
    preprocessing = manifest.get("preprocessing") or {}
    reference = manifest.get("reference_cohort") or {}
    facts = {
        "Bundle": manifest.get("name", ""),
        "k": len(bundle.centroids),
        "Seed": manifest.get("seed"),
        "Created (UTC)": manifest.get("created_utc", "unknown"),
        "Features": ", ".join(FEATURE_BY_NAME[f].label for f in bundle.used_features),
        "Log-transformed labs": _yes_no(preprocessing.get("log_transform")),
        "Gender included": _yes_no(preprocessing.get("include_gender")),
        "Reference cohort patients": _count(reference.get("n_patients")),
        "Reference data sha256": manifest.get("data_sha256", "not recorded"),
    }
    return pd.DataFrame(
        {"fact": list(facts), "value": [str(value) for value in facts.values()]}
    )


def _yes_no(value: object) -> str:
    return {True: "yes", False: "no"}.get(value, "not recorded")


def _count(value: object) -> str:
    return f"{value:,}" if isinstance(value, int) else "not recorded"


@st.cache_data(
    max_entries=state.CACHE_ENTRIES, ttl=state.CACHE_TTL_SECONDS, show_spinner=False
)
def _replicate_cached(
    _bundle: ModelBundle, bundle_key: str, _cohort: Cohort, cohort_key: str
) -> Replication:
    return replicate(_bundle, _cohort.features)


def compute(bundle: ModelBundle, cohort: Cohort) -> Replication:
    """Replicate (or fetch from the cache) the bundle on the cohort in use."""
    bundle_key = str(bundle.manifest.get("joblib_sha256"))
    with st.spinner("Applying the saved model and refitting..."):
        return _replicate_cached(bundle, bundle_key, cohort, cohort.fingerprint)


def same_data_note(bundle: ModelBundle, cohort: Cohort) -> None:
    """Say so when the cohort in use is the file the bundle was fitted on."""
    if bundle.manifest.get("data_sha256") == cohort.content_hash:
        st.info(
            "The cohort in use is the file this bundle was fitted on, so the "
            "saved model and the fresh fit are expected to agree fully and "
            "every standardised difference to be about 0.",
            icon=":material/info:",
        )


def agreement_section(replication: Replication, caption: str) -> None:
    """Show the adjusted Rand index and the cluster sizes under both groupings."""
    st.subheader("Saved model against a fresh fit")
    left, right = st.columns([1, 3])
    left.metric("Adjusted Rand index", f"{replication.ari:.2f}")
    right.caption(ARI_READING)
    sizes = replication.sizes.rename(
        columns={
            "saved_size": "saved model: patients",
            "matched_fresh": "matched fresh cluster",
            "fresh_size": "fresh fit: patients",
            "shared": "in both",
        }
    )
    st.dataframe(sizes)
    st.caption(
        "Fresh clusters are numbered by size and paired with the saved cluster "
        "they share most patients with, over all one-to-one pairings."
    )
    show_basis(
        "agreement",
        [
            caption,
            f"Saved model: bundle {escape_markdown(replication.bundle_name)}, "
            f"k = {replication.k}; each of the {replication.n_patients:,} patients "
            "is scaled with the saved pipeline and assigned to the nearest saved "
            "centre.",
            f"Fresh fit: k-means with k = {replication.k}, the bundle's seed and "
            "preprocessing settings, fitted on this cohort alone.",
            "Adjusted Rand index from scikit-learn (adjusted_rand_score).",
        ],
    )


def smd_section(replication: Replication, caption: str) -> None:
    """Show each feature's standardised mean difference and flag imbalances."""
    st.subheader("How the cohort differs from the reference cohort")
    if replication.smd is None:
        st.info(
            "This bundle's manifest has no mean and SD per feature of its "
            "reference cohort, so the differences cannot be computed. Save the "
            "model again from the Clustering page to record them."
        )
        return
    smd = replication.smd
    flagged = [feature_label(name) for name in smd.index[smd["imbalanced"]]]
    if flagged:
        st.warning(
            f"Meaningful imbalance (|SMD| > {SMD_THRESHOLD:g}): "
            + ", ".join(flagged)
            + ". The saved clusters may describe this cohort less well there.",
            icon=":material/balance:",
        )
    else:
        st.success(f"No feature differs by more than {SMD_THRESHOLD:g} SMD.")
    st.dataframe(_smd_display(smd), column_config=_smd_config())
    st.altair_chart(cluster_charts.smd_chart(smd, SMD_THRESHOLD))
    show_basis(
        "standardised mean differences",
        [
            caption,
            "Reference means and SDs come from the bundle manifest "
            "(reference_cohort); the new cohort's from the rows kept for "
            "clustering, missing values ignored, sample SD.",
            SMD_SOURCE,
        ],
    )


def _smd_display(smd: pd.DataFrame) -> pd.DataFrame:
    table = smd.copy()
    table.index = [feature_label(name) for name in table.index]
    return table


def _smd_config() -> dict:
    number = {
        column: st.column_config.NumberColumn(column.replace("_", " "), format="%.3g")
        for column in ("mean_reference", "sd_reference", "mean_new", "sd_new")
    }
    number["smd"] = st.column_config.NumberColumn("SMD", format="%.3f")
    number["imbalanced"] = st.column_config.CheckboxColumn("|SMD| > 0.1")
    return number
