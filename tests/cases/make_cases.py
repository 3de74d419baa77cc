"""Write the synthetic upload files in this folder; run it to regenerate them.

Each file exercises one kind of upload that the reader handles. The values
come from a seeded generator, so every file has the same 30 patients unless
its name says otherwise. Run: ``.venv/bin/python tests/cases/make_cases.py``.
"""

import io
from pathlib import Path

import numpy as np
from openpyxl import Workbook

HERE = Path(__file__).resolve().parent
HEADER = [
    "Age",
    "Gender",
    "Heart rate",
    "Systolic blood pressure",
    "Diastolic blood pressure",
    "Blood sugar",
    "CK-MB",
    "Troponin",
    "Result",
]
N_ROWS = 30


def make_rows(seed: int = 7) -> list[list[str]]:
    """Return seeded patient rows as text, in the units of the canonical schema."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(N_ROWS):
        systolic = int(rng.integers(95, 180))
        rows.append(
            [
                str(int(rng.integers(25, 90))),
                str(int(rng.integers(0, 2))),
                str(int(rng.integers(50, 120))),
                str(systolic),
                str(int(rng.integers(50, systolic - 20))),
                f"{rng.uniform(80, 300):.1f}",
                f"{rng.lognormal(1.2, 1.0):.2f}",
                f"{rng.lognormal(-3.5, 1.5):.3f}",
                str(rng.choice(["positive", "negative"])),
            ]
        )
    return rows


def join(rows: list[list[str]], separator: str = ",", newline: str = "\n") -> str:
    """Return the header and rows as delimited text."""
    lines = [separator.join(row) for row in [HEADER, *rows]]
    return newline.join(lines) + newline


def xlsx_bytes(rows: list[list[str]]) -> bytes:
    """Return a one-sheet workbook with numbers stored as numbers."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(HEADER)
    for row in rows:
        sheet.append([float(cell) if i < 8 else cell for i, cell in enumerate(row)])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def write_cases() -> None:
    """Write every case file from the seeded rows."""
    rows = make_rows()
    files: dict[str, bytes] = {}
    files["tab_separated.csv"] = join(rows, "\t").encode()
    files["pipe_separated.csv"] = join(rows, "|").encode()
    files["crlf_line_endings.csv"] = join(rows, newline="\r\n").encode()

    # 0x81 is undefined in Windows-1252, so only Latin-1 decodes this file.
    notes = [HEADER + ["Notes"]] + [r + ["r\xe9vision\x81"] for r in rows]
    files["latin1_extra_column.csv"] = "\n".join(",".join(r) for r in notes).encode(
        "latin-1"
    )
    files["utf16_tab_text.txt"] = join(rows, "\t").encode("utf-16")

    censored = [
        r[:6] + [">300" if i == 0 else r[6], "<0.01" if i == 1 else r[7], r[8]]
        for i, r in enumerate(rows)
    ]
    files["censored_bounds.csv"] = join(censored).encode()

    yes_no = [r[:8] + ["yes" if r[8] == "positive" else "no"] for r in rows]
    files["yes_no_outcome.csv"] = join(yes_no).encode()

    words = [r[:1] + ["male" if r[1] == "1" else "female"] + r[2:] for r in rows]
    files["male_female_gender.csv"] = join(words).encode()

    text = [r[:2] + (["abc"] if i == 0 else [r[2]]) + r[3:] for i, r in enumerate(rows)]
    files["text_in_numbers.csv"] = join(text).encode()

    sparse = [
        (["", r[1], "", "", "", "", r[6], r[7]] + r[8:]) if i == 0 else r
        for i, r in enumerate(rows)
    ]
    files["sparse_row.csv"] = join(sparse).encode()

    trailing = join([r + [""] for r in rows]).replace("Result\n", "Result,\n")
    files["trailing_separators.csv"] = (trailing + ",,,,,,,,,\n").encode()

    unit_header = (
        "Age,Gender,HR (bpm),SBP (mmHg),DBP (mmHg),Glucose (mmol/L),"
        "CK-MB (ng/mL),hs-TnT (ng/L),Outcome"
    )
    converted = [
        r[:5] + [f"{float(r[5]) / 18.016:.2f}", r[6], f"{float(r[7]) * 1000:.0f}", r[8]]
        for r in rows
    ]
    files["units_in_headers.csv"] = (
        join(converted).replace(",".join(HEADER), unit_header).encode()
    )

    files["workbook_named_csv.csv"] = xlsx_bytes(rows)
    files["text_named_xlsx.xlsx"] = join(rows).encode()
    files["ragged_rows.csv"] = (join(rows[:3]) + "1,2,3,4,5,6,7,8,9,10,11\n").encode()
    files["legacy_xls.xls"] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(200)
    files["zip_not_workbook.xlsx"] = _plain_zip()
    files["whitespace_only.csv"] = b" \n\r\n\t\n"
    wide_header = ",".join(f"c{i}" for i in range(201))
    wide_row = ",".join("1" * 201)
    files["too_many_columns.csv"] = f"{wide_header}\n{wide_row}\n".encode()

    for name, content in files.items():
        (HERE / name).write_bytes(content)


def _plain_zip() -> bytes:
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "not a workbook")
    return buffer.getvalue()


if __name__ == "__main__":
    write_cases()
