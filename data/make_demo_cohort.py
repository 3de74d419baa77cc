"""Write the synthetic demo cohort to data/demo_cohort.csv.

Run from the repository root with ``python -m data.make_demo_cohort`` or
``python data/make_demo_cohort.py``. The output is the same byte for byte on
every run with the same seed, size and library versions.
"""

import argparse
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.demo import (  # noqa: E402
    DEMO_PATH,
    DEMO_SEED,
    DEMO_SIZE,
    demo_csv_bytes,
    make_demo_cohort,
)


def main(argv: list[str] | None = None) -> int:
    """Generate the demo cohort, write it and return the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=DEMO_SEED, help="generator seed")
    parser.add_argument("--size", type=int, default=DEMO_SIZE, help="number of rows")
    parser.add_argument("--output", type=Path, default=DEMO_PATH, help="CSV path")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    frame = make_demo_cohort(seed=args.seed, n_patients=args.size)
    args.output.write_bytes(demo_csv_bytes(frame))
    print(f"Wrote {len(frame)} synthetic rows to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
