"""Session-state keys, cached engine calls and the cohort in use.

The cohort lives per session in ``st.session_state``: the uploaded bytes, the
column mapping and the built ``Cohort``. Nothing is written to disk. Engine
results are cached with ``st.cache_data``. The key is the cohort fingerprint
(content hash, mapping, accepted unit conversions, build options) plus the
clustering settings. So the engine runs once per cohort and settings, and a
page change or a chart option does not refit. Cached functions take the
large objects with a leading underscore (not hashed) next to the key that
identifies them.
"""

import hashlib
import logging
from dataclasses import dataclass, field, replace

import streamlit as st
from streamlit.elements.vega_charts import _convert_altair_to_vega_lite_spec

from core.algorithms import (
    ALGORITHMS,
    AlternativeResult,
    as_cluster_result,
    gaussian_mixture,
    hdbscan,
    ward,
)
from core.clustering import ClusterResult, ClusterSettings, fit_clusters
from core.cohort import Cohort, build_cohort
from core.demo import DEMO_LABEL, DEMO_PATH
from core.errors import CohortError, ColumnMappingError
from core.mapping import ColumnMapping, suggest_mapping
from core.preprocessing import PreprocessSettings
from core.reading import SEPARATOR_NAMES, RawTable, read_table

logger = logging.getLogger(__name__)

# Session-state keys that are not widgets.
SOURCE = "cohort_source"
COHORT = "cohort"
COHORT_EXCLUDES = "cohort_excludes_implausible"
PENDING = "pending_source"
UPLOAD_ERROR = "upload_error"
LAST_UPLOAD_ID = "last_upload_id"
SETTINGS = "cluster_settings"
STABILITY_RUNS = "stability_runs"
LOOKUP_PATIENT = "lookup_patient"

# Widget keys.
UPLOADER = "data_uploader"
DEMO_BUTTON = "data_demo_button"
MAPPING_FORM = "data_mapping_form"
MAPPING_PREFIX = "data_mapping_"
MAPPING_APPLY = "data_mapping_apply"
UNITS_FORM = "data_units_form"
UNITS_PREFIX = "data_units_"
UNITS_APPLY = "data_units_apply"
QUALITY_DOWNLOAD = "data_quality_download"
K_SELECT = "clustering_k"
LOG_TOGGLE = "clustering_log"
GENDER_TOGGLE = "clustering_gender"
IMPLAUSIBLE_TOGGLE = "clustering_implausible"
SEED_INPUT = "clustering_seed"
STABILITY_BUTTON = "clustering_stability"
ALGORITHM_SELECT = "clustering_algorithm"
ASSIGNMENTS_DOWNLOAD = "clustering_assignments_download"
BUNDLE_DOWNLOAD = "clustering_bundle_download"
PROFILES_DOWNLOAD = "profiles_download"
LOOKUP_FORM = "lookup_form"
LOOKUP_PICK = "lookup_pick"
LOOKUP_PREFIX = "lookup_"
LOOKUP_SUBMIT = "lookup_submit"
REFERENCE_EDITOR = "lookup_reference_editor"
REPORT_DOWNLOAD = "lookup_report_download"
REPLICATION_BUNDLE = "replication_bundle"

CACHE_ENTRIES = 8
CACHE_TTL_SECONDS = 3600


@dataclass(frozen=True)
class AppSettings:
    """Clustering choices made on the Clustering page and used by every page."""

    k: int | None = None
    log_transform: bool = True
    include_gender: bool = False
    exclude_implausible: bool = True
    seed: int = 42
    algorithm: str = "kmeans"

    def cluster_settings(self) -> ClusterSettings:
        """Return the k-means engine settings for these choices."""
        preprocess = PreprocessSettings(self.log_transform, self.include_gender)
        return ClusterSettings(k=self.k, seed=self.seed, preprocess=preprocess)

    def for_kmeans(self) -> "AppSettings":
        """Return these choices with k-means, the cache key of the k-means fit.

        The algorithm for profiles and lookup does not change the k-means fit,
        so choosing another one reuses the fitted k-means result.
        """
        return replace(self, algorithm="kmeans")


@dataclass(frozen=True)
class CohortSource:
    """Bytes of one cohort file with the choices that turn it into a ``Cohort``."""

    data: bytes = field(repr=False)
    filename: str
    digest: str
    mapping: ColumnMapping | None = None
    convert: tuple[str, ...] = ()
    is_demo: bool = False
    columns: tuple[str, ...] = ()
    file_format: tuple[tuple[str, str], ...] = ()

    @property
    def key(self) -> str:
        """Cache key: content hash, mapping and accepted unit conversions."""
        return f"{self.digest}|{mapping_key(self.mapping)}|{','.join(self.convert)}"

    @property
    def display_name(self) -> str:
        """File name, labelled as synthetic for the demo cohort."""
        if self.is_demo:
            return f"SYNTHETIC: {DEMO_LABEL}"
        return self.filename


def mapping_key(mapping: ColumnMapping | None) -> str:
    """Return a stable text form of a column mapping for cache keys."""
    if mapping is None:
        return "suggested"
    items = sorted(mapping.features.items(), key=lambda item: item[0])
    return repr((items, mapping.outcome, mapping.patient_id))


def make_source(data: bytes, filename: str, is_demo: bool = False) -> CohortSource:
    """Wrap uploaded bytes with their sha256 digest."""
    digest = hashlib.sha256(data).hexdigest()
    return CohortSource(data, filename, digest, is_demo=is_demo)


@st.cache_data(max_entries=CACHE_ENTRIES, ttl=CACHE_TTL_SECONDS, show_spinner=False)
def _build_cached(
    _source: CohortSource,
    key: str,
    exclude_implausible: bool,
    _raw: RawTable | None = None,
) -> Cohort:
    # A table already read by inspect_source is reused, so a new upload is
    # parsed once; reading 1,000,000 rows takes seconds.
    raw = _raw if _raw is not None else read_table(_source.data, _source.filename)
    mapping = _source.mapping or suggest_mapping(list(raw.frame.columns))
    return build_cohort(
        raw, mapping, _source.convert, exclude_implausible=exclude_implausible
    )


def build_from_source(
    source: CohortSource, exclude_implausible: bool, raw: RawTable | None = None
) -> Cohort:
    """Build (or fetch from the cache) the cohort described by ``source``.

    ``raw`` is the table read from ``source.data``, when the caller has it.
    """
    with st.spinner("Reading the cohort..."):
        return _build_cached(source, source.key, exclude_implausible, raw)


def inspect_source(source: CohortSource) -> tuple[CohortSource, RawTable]:
    """Read the file to fill in its columns and suggested mapping.

    Returns the completed source and the table read, which ``activate`` passes
    on to the build so that the file is parsed only once.
    """
    raw = read_table(source.data, source.filename)
    columns = tuple(str(c) for c in raw.frame.columns)
    mapping = source.mapping or suggest_mapping(list(columns))
    completed = replace(
        source, columns=columns, mapping=mapping, file_format=describe_format(raw)
    )
    return completed, raw


def describe_format(raw: RawTable) -> tuple[tuple[str, str], ...]:
    """Return the detected file format as (fact, value) pairs for display."""
    separator = SEPARATOR_NAMES.get(raw.separator, repr(raw.separator))
    facts = [("Kind", "Excel workbook" if raw.kind == "xlsx" else "CSV text")]
    if raw.kind == "csv":
        facts += [("Encoding", raw.encoding), ("Separator", separator)]
    decimal = "comma (,)" if raw.decimal == "," else "point (.)"
    facts += [("Decimal mark", decimal), ("Data rows", f"{len(raw.frame):,}")]
    if raw.empty_rows_dropped:
        facts.append(("Empty rows skipped", f"{raw.empty_rows_dropped:,}"))
    return tuple(facts)


def activate(source: CohortSource) -> None:
    """Make ``source`` the cohort in use, or keep the previous one on failure.

    A ``ColumnMappingError`` keeps the source as pending so that the Data page
    can offer the mapping form; any other ``CohortError`` stores its message.
    """
    state = st.session_state
    state.pop(UPLOAD_ERROR, None)
    try:
        source, raw = inspect_source(source)
        exclude = current_settings().exclude_implausible
        cohort = build_from_source(source, exclude, raw)
    except ColumnMappingError as error:
        state[PENDING] = source
        state[UPLOAD_ERROR] = str(error)
        return
    except CohortError as error:
        state[UPLOAD_ERROR] = str(error)
        return

    state[SOURCE] = source
    state[COHORT] = cohort
    state[COHORT_EXCLUDES] = current_settings().exclude_implausible
    state.pop(PENDING, None)
    state[STABILITY_RUNS] = {}
    # A patient placed against the previous cohort must not show with this one.
    state.pop(LOOKUP_PATIENT, None)
    state.pop(LOOKUP_PICK, None)
    logger.info("Cohort activated (%d rows read)", cohort.report.rows_read)


def accept_upload(data: bytes, filename: str, upload_id: str | None = None) -> None:
    """Load uploaded bytes as the new cohort once per upload.

    ``upload_id`` identifies the uploaded file. A rerun with the same id is
    ignored, because the uploader still contains the file after the user
    goes back to the demo cohort.
    """
    upload_id = upload_id or hashlib.sha256(data).hexdigest()
    if st.session_state.get(LAST_UPLOAD_ID) == upload_id:
        return
    st.session_state[LAST_UPLOAD_ID] = upload_id
    activate(make_source(data, filename))


def load_demo() -> None:
    """Make the synthetic demo cohort in ``data/`` the cohort in use."""
    activate(make_source(DEMO_PATH.read_bytes(), DEMO_PATH.name, is_demo=True))


def ensure_cohort() -> Cohort:
    """Return the cohort in use, loading the demo cohort on the first visit.

    The cohort is rebuilt when the "exclude implausible rows" choice changed
    since it was built.
    """
    state = st.session_state
    if COHORT not in state:
        load_demo()
    if COHORT not in state:
        st.error("The synthetic demo cohort failed to load.")
        # Plain text, because the message can quote the file name.
        st.text(state.get(UPLOAD_ERROR, ""))
        st.stop()

    exclude = current_settings().exclude_implausible
    if state.get(COHORT_EXCLUDES) != exclude:
        state[COHORT] = build_from_source(state[SOURCE], exclude)
        state[COHORT_EXCLUDES] = exclude
    return state[COHORT]


def current_source() -> CohortSource:
    """Return the source of the cohort in use."""
    return st.session_state[SOURCE]


def current_settings() -> AppSettings:
    """Return the clustering choices of this session (defaults at first)."""
    return st.session_state.get(SETTINGS, AppSettings())


def store_settings(settings: AppSettings) -> None:
    """Store new clustering choices for every page of this session."""
    st.session_state[SETTINGS] = settings


@st.cache_data(max_entries=CACHE_ENTRIES, ttl=CACHE_TTL_SECONDS, show_spinner=False)
def _fit_cached(
    _cohort: Cohort, cohort_key: str, settings: AppSettings
) -> ClusterResult:
    return fit_clusters(_cohort.features, settings.cluster_settings())


def fit_current(settings: AppSettings | None = None) -> ClusterResult:
    """Fit (or fetch from the cache) the k-means clusters of the cohort in use."""
    settings = settings or current_settings()
    cohort = ensure_cohort()
    with st.spinner("Clustering the cohort..."):
        return _fit_cached(cohort, cohort.fingerprint, settings.for_kmeans())


@st.cache_data(max_entries=CACHE_ENTRIES, ttl=CACHE_TTL_SECONDS, show_spinner=False)
def _alternative_cached(
    _result: ClusterResult, cohort_key: str, settings: AppSettings
) -> AlternativeResult:
    X, labels, used = _result.X, _result.labels, _result.used_features
    if settings.algorithm == "gmm":
        k_values = [int(k) for k in _result.sweep["k"]]
        return gaussian_mixture(X, k_values, settings.seed, labels, used)
    if settings.algorithm == "ward":
        return ward(X, _result.k, labels, used)
    if settings.algorithm == "hdbscan":
        return hdbscan(X, labels, used)
    raise ValueError(f"No alternative algorithm {settings.algorithm!r}.")


def fit_alternative(
    result: ClusterResult, settings: AppSettings | None = None
) -> AlternativeResult:
    """Run (or fetch from the cache) ``settings.algorithm`` beside k-means.

    ``result`` is the k-means result of ``fit_current(settings)``. Raises
    ``CohortError`` when Ward or HDBSCAN get more patients than their limit.
    """
    settings = settings or current_settings()
    cohort = ensure_cohort()
    with st.spinner(f"Running {ALGORITHMS[settings.algorithm]}..."):
        return _alternative_cached(result, cohort.fingerprint, settings)


@st.cache_data(max_entries=CACHE_ENTRIES, ttl=CACHE_TTL_SECONDS, show_spinner=False)
def _in_use_cached(
    _result: ClusterResult,
    _alternative: AlternativeResult,
    _cohort: Cohort,
    cohort_key: str,
    settings: AppSettings,
) -> ClusterResult:
    features = _cohort.features.loc[_result.index]
    return as_cluster_result(_result, _alternative, features)


def clusters_in_use(settings: AppSettings | None = None) -> ClusterResult:
    """Return the clusters of the algorithm chosen for profiles and lookup.

    That is the k-means result, or the chosen algorithm's clusters put in a
    ``ClusterResult`` by ``core.algorithms.as_cluster_result``. Raises
    ``CohortError`` when the algorithm cannot run on this cohort or puts no
    patient in a cluster.
    """
    settings = settings or current_settings()
    result = fit_current(settings)
    if settings.algorithm == "kmeans":
        return result

    alternative = fit_alternative(result, settings)
    cohort = ensure_cohort()
    return _in_use_cached(result, alternative, cohort, cohort.fingerprint, settings)


def vega_lite_spec(chart) -> dict:
    """Convert an Altair chart to the Vega-Lite spec ``st.altair_chart`` sends.

    Altair validates the spec against its JSON schema while converting, which
    is most of a chart's cost. Cached chart functions store this spec, so a
    rerun draws it with ``st.vega_lite_chart`` and skips the validation. The
    spec keeps Streamlit's chart theme and its chart data as Arrow bytes.
    """
    # NOTE: a private Streamlit function (checked with streamlit 1.67), used
    # so that the cached spec equals the one st.altair_chart would draw.
    return _convert_altair_to_vega_lite_spec(chart)
