"""Home page: what the dashboard does, the cohort in use and where to go next."""

import streamlit as st

from ui import state, widgets

st.set_page_config(page_title="Heart patient clusters", layout="wide")

st.title("Heart patient clusters")
widgets.show_disclaimer()

st.markdown(
    "This dashboard groups emergency heart patients into clusters of similar "
    "patients with k-means, using eight measurements: age, gender, heart rate, "
    "systolic and diastolic blood pressure, blood sugar, CK-MB and troponin. "
    "The outcome column (heart attack positive or negative) never shapes the "
    "clusters; it is used only afterwards, to describe them."
)

cohort = state.ensure_cohort()
source = state.current_source()
widgets.show_sidebar(source)

st.subheader("Cohort in use")
widgets.show_cohort_summary(cohort, source)

st.subheader("Pages")
st.page_link(
    "pages/1_Data.py",
    label="Data: upload a cohort, check the mapping and the quality report",
    icon=":material/table:",
)
st.page_link(
    "pages/2_Clustering.py",
    label="Clustering: choose k, see how strong the structure is",
    icon=":material/bubble_chart:",
)
st.page_link(
    "pages/3_Cluster_Profiles.py",
    label="Cluster profiles: what each cluster looks like, outcome rates",
    icon=":material/analytics:",
)
st.page_link(
    "pages/4_Patient_Lookup.py",
    label="Patient lookup: place one patient among the clusters",
    icon=":material/person_search:",
)
st.page_link(
    "pages/5_Replication.py",
    label="Replication: apply a saved model to this cohort and compare",
    icon=":material/compare:",
)

st.caption(
    "Uploaded data stays in this browser session's memory; the app writes no "
    "patient data to disk."
)
