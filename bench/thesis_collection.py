"""How long a 论文汇编 takes to render, how large it is and how much memory it takes: PDF and DOCX,
for 10 to 500 excellent texts (500 is APP_THESIS__COLLECTION_MAX's default) of about 3,000
characters each. Pure rendering (no database, no HTTP).

    .venv/bin/python -m bench.thesis_collection [--repeat 3] [--length 3000]
"""

import argparse
import statistics
import time
import tracemalloc
from collections.abc import Callable

from app.documents.thesis_collection import (
    Collection,
    CollectionEntry,
    CollectionWords,
    collection_docx,
    collection_pdf,
)

SIZES = [10, 100, 500]
UNITS = ["滁州市委组织部", "来安县委组织部", "全椒县委组织部", "定远县人民政府办公室"]
SENTENCE = "坚持以学员为中心，提高组工干部教育培训工作的质量和效益，推动培训成果转化为工作实效。"
WORDS = CollectionWords("目录", "作者", "单位", "类别", "第 {page} 页", "共 {count} 篇")


def collection(texts: int, length: int) -> Collection:
    paragraph = (SENTENCE * (300 // len(SENTENCE) + 1))[:300]
    body = "\n".join([paragraph] * max(1, length // 300))
    entries = [
        CollectionEntry(
            title=f"关于基层干部教育培训第{n}个问题的调研报告",
            author=f"作者{n:03d}",
            unit=UNITS[n % len(UNITS)],
            kind="调研文章",
            body=body,
        )
        for n in range(texts)
    ]
    return Collection("2026年度优秀调研文章汇编", entries, WORDS)


def _run(
    render: Callable[[Collection], bytes], c: Collection, repeat: int
) -> tuple[float, int, int]:
    times = []
    out = b""
    for _ in range(repeat):
        start = time.perf_counter()
        out = render(c)
        times.append(time.perf_counter() - start)
    tracemalloc.start()
    render(c)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return statistics.median(times), len(out), peak


def measure(repeat: int, length: int) -> None:
    print(
        f"{'texts':>5} {'pdf s':>7} {'pdf KB':>8} {'pdf peak MB':>11} "
        f"{'docx s':>7} {'docx KB':>8} {'docx peak MB':>12}"
    )
    for texts in SIZES:
        c = collection(texts, length)
        pdf_s, pdf_size, pdf_peak = _run(collection_pdf, c, repeat)
        docx_s, docx_size, docx_peak = _run(collection_docx, c, repeat)
        print(
            f"{texts:>5} {pdf_s:>7.2f} {pdf_size / 1024:>8.0f} {pdf_peak / 2**20:>11.1f} "
            f"{docx_s:>7.2f} {docx_size / 1024:>8.0f} {docx_peak / 2**20:>12.1f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--length", type=int, default=3000, help="characters per text")
    args = parser.parse_args()
    measure(args.repeat, args.length)


if __name__ == "__main__":
    main()
