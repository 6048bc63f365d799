"""How long a sign-in sheet takes to render, and how large it is: PDF and XLSX, for classes of
30 to 500 trainees with 1 to 20 class parts. Pure rendering (no database, no HTTP).

    .venv/bin/python -m bench.sign_in_sheet [--repeat 5]
"""

import argparse
import io
import statistics
import time
from datetime import date, timedelta

from pypdf import PdfReader

from app.documents.sign_in_sheet import SheetPart, SheetRow, SignInSheet

SIZES = [(30, 1), (60, 10), (200, 10), (500, 20)]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国志文"
UNITS = ["滁州市委组织部", "来安县委组织部", "全椒县委组织部", "定远县人民政府办公室"]


def sheet(trainees: int, parts: int) -> SignInSheet:
    part_list = [
        SheetPart(date(2026, 11, 2) + timedelta(days=i // 2), "上午" if i % 2 == 0 else "下午")
        for i in range(parts if parts > 1 else 0)
    ]
    rows = [
        SheetRow(
            SURNAMES[i % len(SURNAMES)] + GIVEN[(i * 7) % len(GIVEN)] + GIVEN[(i * 3) % len(GIVEN)],
            UNITS[i % len(UNITS)],
            [("请假" if (i + j) % 11 == 0 else None) for j in range(max(len(part_list), 1))],
        )
        for i in range(trainees)
    ]
    return SignInSheet(
        "2026年度县处级干部进修班",
        "滁州市委组织部",
        date(2026, 11, 2),
        date(2026, 11, 13),
        part_list,
        rows,
    )


def measure(repeat: int) -> None:
    print(
        f"{'trainees':>8} {'parts':>5} {'pdf ms':>8} {'pdf KB':>7} {'pages':>5} "
        f"{'xlsx ms':>8} {'xlsx KB':>7}"
    )
    for trainees, parts in SIZES:
        s = sheet(trainees, parts)
        pdf_times, xlsx_times = [], []
        for _ in range(repeat):
            start = time.perf_counter()
            pdf = s.to_pdf()
            pdf_times.append(time.perf_counter() - start)
            start = time.perf_counter()
            xlsx = s.to_xlsx()
            xlsx_times.append(time.perf_counter() - start)
        pages = len(PdfReader(io.BytesIO(pdf)).pages)
        print(
            f"{trainees:>8} {parts:>5} {statistics.median(pdf_times) * 1000:>8.0f} "
            f"{len(pdf) / 1024:>7.1f} {pages:>5} {statistics.median(xlsx_times) * 1000:>8.0f} "
            f"{len(xlsx) / 1024:>7.1f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    measure(parser.parse_args().repeat)


if __name__ == "__main__":
    main()
