"""Cohorts to benchmark: seeded synthetic ones of any size and the real one."""

from pathlib import Path

from core.demo import demo_csv_bytes, make_demo_cohort

REPO_ROOT = Path(__file__).resolve().parents[1]
REAL_COHORT_PATH = REPO_ROOT.parent / "shared" / "datasets" / "heart_attack_zheen.csv"
REAL = "real"
SYNTHETIC_SEED = 7


def synthetic_csv(n_patients: int, seed: int = SYNTHETIC_SEED) -> bytes:
    """Generate ``n_patients`` synthetic patients as CSV bytes, in memory only."""
    return demo_csv_bytes(make_demo_cohort(seed=seed, n_patients=n_patients))


def cohort_bytes(size: str) -> tuple[bytes, str]:
    """Return the CSV bytes and a file name for ``"real"`` or a patient count.

    Raises
    ------
    FileNotFoundError
        When ``size`` is ``"real"`` and the real cohort file is absent.
    """
    if size == REAL:
        if not REAL_COHORT_PATH.is_file():
            raise FileNotFoundError(
                f"The real cohort is not at {REAL_COHORT_PATH}; place it there or "
                "leave 'real' out of --sizes."
            )
        return REAL_COHORT_PATH.read_bytes(), REAL_COHORT_PATH.name
    return synthetic_csv(int(size)), f"synthetic_{int(size)}.csv"
