"""Clustering page: settings, choice of k, structure verdict, map, stability."""

import streamlit as st

from core.errors import CohortError
from ui import clustering_view, state, widgets

st.set_page_config(page_title="Clustering", layout="wide")
st.title("Clustering")

settings = clustering_view.settings_section()
cohort = state.ensure_cohort()
source = state.current_source()
widgets.show_sidebar(source)
widgets.show_cohort_notices(cohort, source)
st.caption(widgets.cohort_caption(cohort, source))

try:
    result = state.fit_current(settings)
except CohortError as error:
    widgets.show_error(error)
    st.stop()

st.divider()
map_column, verdict_column = st.columns([3, 2])
with map_column:
    st.subheader(f"{result.k} clusters")
    clustering_view.map_section(result, settings.seed)
with verdict_column:
    clustering_view.verdict_section(result)

clustering_view.sweep_section(result)
clustering_view.stability_section(result, cohort, settings)
clustering_view.comparison_section(result, settings)
st.subheader("Downloads")
clustering_view.download_section(result, cohort)
clustering_view.bundle_download_section(result, cohort)
