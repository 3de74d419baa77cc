"""Fit k-means on the synthetic demo cohort and save it as a model bundle.

Run from the repository root with ``python models/build_demo_model.py``. The
cohort goes through the same reading, mapping and quality checks as an upload,
then ``fit_clusters`` with the default settings (recommended k, seed 42). The
bundle is written to ``models/demo_kmeans.joblib`` with its manifest
``models/demo_kmeans.json``. The manifest keeps each feature's mean and
standard deviation in the demo cohort for the Replication page; the bundle
stores no patient rows.
"""

import argparse
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.clustering import ClusterSettings, fit_clusters  # noqa: E402
from core.cohort import load_cohort  # noqa: E402
from core.demo import DEMO_PATH  # noqa: E402
from core.export import MODELS_DIR, save_bundle  # noqa: E402

DEMO_BUNDLE = "demo_kmeans"


def main(argv: list[str] | None = None) -> int:
    """Fit the demo model, save its bundle and return the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", default=DEMO_BUNDLE, help="bundle name")
    parser.add_argument("--output", type=Path, default=MODELS_DIR, help="directory")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    cohort = load_cohort(DEMO_PATH.read_bytes(), DEMO_PATH.name)
    result = fit_clusters(cohort.features, ClusterSettings())

    manifest = save_bundle(
        result, args.output, args.name, cohort.content_hash, cohort.features
    )
    print(f"Saved k={len(result.centroids)} bundle; manifest at {manifest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
