"""Cluster Profiles page: what each cluster looks like and its outcome rate."""

import streamlit as st

from core.errors import CohortError
from ui import profiles_view, state, widgets

st.set_page_config(page_title="Cluster profiles", layout="wide")
st.title("Cluster profiles")

cohort = state.ensure_cohort()
source = state.current_source()
settings = state.current_settings()
widgets.show_sidebar(source)
widgets.show_cohort_notices(cohort, source)
caption = widgets.cohort_caption(cohort, source)
st.caption(caption)

try:
    result = state.clusters_in_use(settings)
except CohortError as error:
    widgets.show_error(error)
    st.stop()

profiles = profiles_view.compute_profiles(result, cohort, settings)
profiles_view.summary_section(result)

profiles_view.table_section(profiles)
specs = profiles_view.compute_charts(result, cohort, profiles, settings)
profiles_view.heatmap_section(specs)
profiles_view.outcome_section(profiles, specs, caption)
profiles_view.spread_section(specs)
