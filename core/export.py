"""Safe CSV downloads and fitted-model bundles with a checked manifest.

A bundle is two files in ``models/``. ``<name>.joblib`` contains the fitted
preprocessing pipeline, the k-means model, the settings and the centroids.
``<name>.json`` is its manifest: seed, library versions, features,
preprocessing settings, centroids, the sha256 of the training data and of
the joblib file, and optionally each feature's mean and standard deviation in
the training cohort. ``load_bundle`` checks the checksum and the library
versions before it unpickles anything. The bundle stores no patient rows: the
scaled matrix and the labels of a fit stay out of it.
"""

import dataclasses
import hashlib
import io
import json
import logging
import re
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import sklearn

from core.errors import ModelBundleError
from core.schema import FEATURE_NAMES

logger = logging.getLogger(__name__)

MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
MANIFEST_FORMAT = 1

# A spreadsheet runs a cell starting with one of these as a formula or command.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_BUNDLE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_CONTENT_KEYS = ("pipeline", "model", "settings", "used_features", "centroids", "names")


def neutralise_cell(value: Any) -> Any:
    """Prefix an apostrophe to text a spreadsheet would run as a formula.

    Text that is a plain number, such as ``"-5"`` or ``"+1.5"``, is left as it
    is because a spreadsheet reads it as that number. Values that are not text
    are returned unchanged.
    """
    if not isinstance(value, str) or not value.startswith(FORMULA_PREFIXES):
        return value
    if _PLAIN_NUMBER.fullmatch(value):
        return value
    return "'" + value


def to_safe_csv(frame: pd.DataFrame, index: bool = False) -> bytes:
    """Serialise a table as CSV with formula-like text cells neutralised.

    Parameters
    ----------
    frame : pandas.DataFrame
        Any table. Text cells and column names that start with ``=``, ``+``,
        ``-``, ``@``, a tab or a carriage return get a leading apostrophe.
        Numeric columns are written as numbers, negative ones included.
    index : bool, default False
        Write the index as the first column (neutralised like any text).

    Returns
    -------
    bytes
        UTF-8 CSV without a byte-order mark. Lines end in CRLF as RFC 4180
        specifies, which also makes the writer quote a cell containing a lone
        carriage return.
    """
    table = frame.reset_index() if index else frame.copy()
    table.columns = [neutralise_cell(str(name)) for name in table.columns]

    for position in range(table.shape[1]):
        column = table.iloc[:, position]
        if not pd.api.types.is_numeric_dtype(column):
            table.isetitem(position, column.map(neutralise_cell).astype(object))

    return table.to_csv(index=False, lineterminator="\r\n").encode("utf-8")


@dataclass(frozen=True)
class ModelBundle:
    """Fitted model read back from a bundle, without any patient rows.

    Attributes
    ----------
    pipeline : sklearn.pipeline.Pipeline
        Preprocessing fitted on the training cohort (imputation, log, scaling).
    model : sklearn.cluster.KMeans
        Fitted k-means on the scaled features.
    settings : object
        The ``ClusterSettings`` of the fit.
    used_features : list of str
        Canonical features the pipeline reads, in order.
    centroids : pandas.DataFrame
        Centroids in original units, indexed by 1-based cluster number.
    names : dict of int to str
        Readable cluster names by cluster number.
    manifest : dict
        The checked manifest.
    """

    pipeline: Any
    model: Any
    settings: Any
    used_features: list[str]
    centroids: pd.DataFrame
    names: dict[int, str]
    manifest: dict[str, Any]


def library_versions() -> dict[str, str]:
    """Return the versions of the libraries whose pickles a bundle depends on."""
    return {
        "scikit-learn": sklearn.__version__,
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "joblib": joblib.__version__,
    }


def save_bundle(
    result: Any,
    directory: Path,
    name: str,
    data_hash: str,
    features: pd.DataFrame | None = None,
) -> Path:
    """Write ``<name>.joblib`` and its manifest ``<name>.json`` to a directory.

    Parameters
    ----------
    result : ClusterResult
        Fitted result with ``pipeline``, ``model``, ``settings``,
        ``used_features`` and ``centroids``; ``names`` is optional.
    directory : pathlib.Path
        Existing directory to write to, usually ``MODELS_DIR``.
    name : str
        Plain bundle name: letters, digits, ``_`` and ``-``, at most 64.
    data_hash : str
        sha256 hex digest of the bytes the model was fitted on.
    features : pandas.DataFrame, optional
        The feature table the model was fitted on. When given, the manifest
        gets ``reference_cohort`` from ``reference_summary``, so that a later
        cohort can be compared with this one without any patient row.

    Returns
    -------
    pathlib.Path
        Path of the manifest written.
    """
    joblib_path, manifest_path = _bundle_paths(name, Path(directory))
    payload, manifest = _serialise(result, name, data_hash, features)

    joblib_path.write_bytes(payload)
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    logger.info("Saved model bundle %s (k=%d)", name, manifest["k"])
    return manifest_path


def bundle_bytes(
    result: Any, name: str, data_hash: str, features: pd.DataFrame | None = None
) -> bytes:
    """Return a zip archive, built in memory, of a bundle's joblib and manifest.

    Takes the same arguments as ``save_bundle`` without the directory and
    writes nothing to disk.
    """
    _validate_name(name)
    payload, manifest = _serialise(result, name, data_hash, features)

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{name}.joblib", payload)
        archive.writestr(f"{name}.json", json.dumps(manifest, indent=2) + "\n")
    return buffer.getvalue()


def load_bundle(name: str, models_dir: Path = MODELS_DIR) -> ModelBundle:
    """Check and load the bundle ``<name>`` from the models directory.

    The manifest is read first. The joblib file is unpickled only when its
    sha256 matches the manifest and the manifest's library versions match the
    running ones, because unpickling runs code from the file.

    NOTE: the checksum catches a damaged or swapped joblib file, not someone
    who can rewrite both files; only load bundles from a trusted ``models/``.

    Raises
    ------
    ModelBundleError
        The name is not a plain name, a file is missing, the manifest is
        invalid, the checksum or a library version differs, or the content is
        not a bundle.
    """
    joblib_path, manifest_path = _bundle_paths(name, Path(models_dir))
    manifest = _read_manifest(manifest_path)
    payload = _read_payload(joblib_path)

    _check_checksum(name, payload, manifest)
    _check_versions(name, manifest)
    content = joblib.load(io.BytesIO(payload))
    return _to_bundle(name, content, manifest)


def is_bundle_name(name: object) -> bool:
    """Return whether ``name`` is a plain bundle name that ``load_bundle`` accepts."""
    return isinstance(name, str) and bool(_BUNDLE_NAME.fullmatch(name))


def _validate_name(name: str) -> None:
    if not is_bundle_name(name):
        raise ModelBundleError(
            f"Invalid model bundle name {name!r}: use 1 to 64 letters, digits, "
            "'_' or '-', starting with a letter or digit, and no path."
        )


def _bundle_paths(name: str, directory: Path) -> tuple[Path, Path]:
    _validate_name(name)
    root = directory.resolve()
    joblib_path = (root / f"{name}.joblib").resolve()

    # The name pattern already excludes separators; this guards symlinks too.
    if joblib_path.parent != root:
        raise ModelBundleError(
            f"Model bundle {name!r} resolves outside {root}. "
            "Keep bundles as plain files in the models directory."
        )
    return joblib_path, root / f"{name}.json"


def reference_summary(features: pd.DataFrame) -> dict[str, Any]:
    """Summarise each feature of the fitting cohort for the manifest.

    Parameters
    ----------
    features : pandas.DataFrame
        Shape (n_patients, 8) with the ``FEATURE_NAMES`` columns in canonical
        units; NaN ignored.

    Returns
    -------
    dict
        ``n_patients`` and, per feature, ``n`` (non-missing values), ``mean``
        and ``sd`` (sample standard deviation, ddof=1). A statistic that
        cannot be computed is ``None``. No patient row is stored.
    """
    summary = {}
    for name in FEATURE_NAMES:
        column = pd.to_numeric(features[name], errors="coerce").dropna()
        mean = float(column.mean()) if len(column) else None
        sd = float(column.std(ddof=1)) if len(column) > 1 else None
        summary[name] = {"n": int(len(column)), "mean": mean, "sd": sd}
    return {"n_patients": int(len(features)), "features": summary}


def _serialise(
    result: Any, name: str, data_hash: str, features: pd.DataFrame | None = None
) -> tuple[bytes, dict]:
    if not re.fullmatch(r"[0-9a-f]{64}", str(data_hash)):
        raise ValueError(f"data_hash must be a sha256 hex digest, got {data_hash!r}.")

    content = {key: getattr(result, key) for key in _CONTENT_KEYS[:-1]}
    content["names"] = dict(getattr(result, "names", None) or {})
    buffer = io.BytesIO()
    joblib.dump(content, buffer)
    payload = buffer.getvalue()

    manifest = _build_manifest(content, name, data_hash)
    if features is not None:
        manifest["reference_cohort"] = reference_summary(features)
    manifest["joblib_sha256"] = hashlib.sha256(payload).hexdigest()
    return payload, manifest


def _build_manifest(content: dict, name: str, data_hash: str) -> dict[str, Any]:
    settings = content["settings"]
    preprocess = getattr(settings, "preprocess", None)
    centroids = content["centroids"]
    return {
        "format": MANIFEST_FORMAT,
        "name": name,
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "seed": getattr(settings, "seed", None),
        "k": int(len(centroids)),
        "library_versions": library_versions(),
        "features": list(content["used_features"]),
        "preprocessing": _as_plain_dict(preprocess),
        "settings": _as_plain_dict(settings),
        "centroids": {
            str(cluster): {str(key): float(value) for key, value in row.items()}
            for cluster, row in centroids.to_dict(orient="index").items()
        },
        "names": {str(key): str(value) for key, value in content["names"].items()},
        "data_sha256": data_hash,
        "joblib_file": f"{name}.joblib",
    }


def _as_plain_dict(settings: Any) -> dict[str, Any] | None:
    if settings is None:
        return None
    if dataclasses.is_dataclass(settings):
        values = dataclasses.asdict(settings)
    else:
        values = dict(vars(settings))
    return json.loads(json.dumps(values, default=str))


def _read_manifest(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ModelBundleError(
            f"Model bundle manifest {path.name} not found in {path.parent}. "
            "Save the model again or choose another bundle."
        )
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelBundleError(
            f"Model bundle manifest {path.name} is not valid JSON ({error}). "
            "Save the model again."
        ) from error

    required = ("format", "joblib_sha256", "library_versions", "features")
    missing = [key for key in required if key not in manifest]
    if not isinstance(manifest, dict) or missing:
        raise ModelBundleError(
            f"Model bundle manifest {path.name} lacks {missing or 'an object'}. "
            "Save the model again."
        )
    return manifest


def _read_payload(path: Path) -> bytes:
    if not path.is_file():
        raise ModelBundleError(
            f"Model file {path.name} not found in {path.parent}. "
            "Save the model again or choose another bundle."
        )
    return path.read_bytes()


def _check_checksum(name: str, payload: bytes, manifest: dict) -> None:
    actual = hashlib.sha256(payload).hexdigest()
    if actual != manifest["joblib_sha256"]:
        raise ModelBundleError(
            f"Model bundle {name!r} failed its checksum: the joblib file has sha256 "
            f"{actual}, the manifest expects {manifest['joblib_sha256']}. The file "
            "was changed or damaged after saving; it was not loaded. Save it again."
        )


def _check_versions(name: str, manifest: dict) -> None:
    saved = manifest["library_versions"]
    running = library_versions()
    differing = [
        f"{library} {saved.get(library)} (running {version})"
        for library, version in running.items()
        if saved.get(library) != version
    ]
    if differing:
        raise ModelBundleError(
            f"Model bundle {name!r} was saved with " + ", ".join(differing) + ", "
            "so it was not loaded. Refit the model with these versions, or install "
            "the versions it was saved with."
        )


def _to_bundle(name: str, content: Any, manifest: dict) -> ModelBundle:
    if not isinstance(content, dict) or any(k not in content for k in _CONTENT_KEYS):
        raise ModelBundleError(
            f"Model bundle {name!r} does not contain a fitted model. Save it again."
        )
    logger.info("Loaded model bundle %s", name)
    return ModelBundle(
        **{key: content[key] for key in _CONTENT_KEYS}, manifest=manifest
    )
