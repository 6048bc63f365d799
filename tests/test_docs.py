"""The repository documents itself: no file points outside it, and every citation of
docs/rules.md names a rule or an anchor that exists there."""

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.credit_policy.schemas import CreditPolicyCreate, CreditPolicyDefinition, KindRuleSchema

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "docs" / "rules.md"
THIS = Path(__file__).resolve()

# A clone has none of these: the reference that lived beside the repository is docs/rules.md now.
OUTSIDE = ("../shared", "SPEC.md", "EXAMPLES.md", "SPEC §", "SPEC rule")

# `docs/rules.md#rule-5`, `docs/rules.md#example-2`
_ANCHOR_CITATION = re.compile(r"docs/rules\.md#([\w-]+)")
# `docs/rules.md rule 5`, `docs/rules.md, rule 2 and rule 10`, `docs/rules.md rules 4–6`,
# "`docs/rules.md` rule 9"
_RULE_CITATION = re.compile(
    r"docs/rules\.md[`),;:]*\s+(?:§\s*)?rules?\s+"
    r"(\d+(?:\s*(?:[-–—]|to|and|or|,|&)\s*(?:rules?\s+)?\d+)*)"
)
# Links between the files of docs/: `](rules.md#rule-5)`, and inside rules.md `](#rule-5)`
_LOCAL_LINK = re.compile(r"\]\((rules\.md)?#([\w-]+)\)")
_HTML_ANCHOR = re.compile(r"<a\s+(?:id|name)=\"([^\"]+)\"")
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)


def _repository_files() -> list[Path]:
    """Tracked files, and new ones not yet added that git does not ignore. Without git (an
    exported tree), every file outside hidden and cache directories."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        ).stdout.decode()
        paths = [ROOT / name for name in listed.split("\0") if name]
    except (OSError, subprocess.CalledProcessError):
        paths = [
            path
            for path in ROOT.rglob("*")
            if not any(
                part.startswith(".") or part == "__pycache__"
                for part in path.relative_to(ROOT).parts
            )
        ]
    return sorted({path for path in paths if path.is_file() and path.resolve() != THIS})


def _text_lines(path: Path) -> Iterator[tuple[int, str]]:
    data = path.read_bytes()
    if b"\0" in data:
        return  # binary
    yield from enumerate(data.decode("utf-8", errors="replace").splitlines(), 1)


def _text(path: Path) -> str:
    data = path.read_bytes()
    return "" if b"\0" in data else data.decode("utf-8", errors="replace")


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading: lower case, punctuation dropped (word
    characters, hyphens and spaces kept), spaces turned into hyphens."""
    text = re.sub(r"`|\*\*|__|\[([^]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def rules_anchors() -> set[str]:
    """Every anchor of docs/rules.md: the explicit `<a id>`s and the headings' own."""
    text = RULES.read_text(encoding="utf-8")
    anchors = set(_HTML_ANCHOR.findall(text))
    seen: dict[str, int] = {}
    for heading in _HEADING.findall(text):
        slug = github_slug(heading)
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def _rule_numbers(listed: str) -> list[int]:
    """`2 and rule 10` → [2, 10]; `4–6` → [4, 5, 6]."""
    numbers: list[int] = []
    for match in re.finditer(r"(\d+)(?:\s*(?:[-–—]|to)\s*(\d+))?", listed):
        first = int(match.group(1))
        last = int(match.group(2)) if match.group(2) else first
        numbers.extend(range(first, max(first, last) + 1))
    return numbers


def test_no_file_points_outside_the_repository() -> None:
    offending = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()[:120]}"
        for path in _repository_files()
        for number, line in _text_lines(path)
        if any(needle in line for needle in OUTSIDE)
    ]
    assert not offending, (
        "these lines cite a file outside the repository; cite docs/rules.md (rule N, or an "
        "anchor such as docs/rules.md#example-2) instead:\n" + "\n".join(offending)
    )


def test_every_citation_of_the_rules_exists() -> None:
    anchors = rules_anchors()
    broken: list[str] = []
    for path in _repository_files():
        text = _text(path)
        where = path.relative_to(ROOT)
        for match in _ANCHOR_CITATION.finditer(text):
            if match.group(1) not in anchors:
                broken.append(f"{where}: {match.group(0)} (no such anchor)")
        for match in _RULE_CITATION.finditer(text):
            for number in _rule_numbers(match.group(1)):
                if f"rule-{number}" not in anchors:
                    broken.append(f"{where}: {' '.join(match.group(0).split())} (no rule {number})")
        if path.parent == RULES.parent and path.suffix == ".md":
            for match in _LOCAL_LINK.finditer(text):
                target_is_rules = match.group(1) is not None or path == RULES
                if target_is_rules and match.group(2) not in anchors:
                    broken.append(f"{where}: {match.group(0)} (no such anchor)")
    assert not broken, "citations of docs/rules.md that name nothing:\n" + "\n".join(broken)


@pytest.mark.parametrize(
    "anchor",
    [
        *(f"rule-{number}" for number in range(1, 11)),
        *(f"n{number}" for number in (1, 2, 3, 5, 6)),
        "seed",
        *(f"example-{number}" for number in range(1, 7)),
        "credit-policy",
        "policy-fields",
        "cn-2023",
        "chuzhou-2007",
        "api-map",
    ],
)
def test_rules_has_a_stable_anchor_for(anchor: str) -> None:
    assert anchor in rules_anchors()


def test_every_policy_field_is_documented() -> None:
    """A field added to the credit policy without a line in docs/rules.md fails here."""
    text = RULES.read_text(encoding="utf-8")
    section = text[text.index('<a id="policy-fields">') : text.index('<a id="cn-2023">')]
    fields = [
        *CreditPolicyCreate.model_fields,
        *(f"kind_rules[].{name}" for name in KindRuleSchema.model_fields),
    ]
    assert set(CreditPolicyDefinition.model_fields) <= set(CreditPolicyCreate.model_fields)
    missing = [name for name in fields if f"| `{name}` |" not in section]
    assert not missing, f"credit-policy fields missing from docs/rules.md: {missing}"


@pytest.mark.parametrize(
    ("heading", "slug"),
    [
        ("Rule 5. Annual requirement (other ranks)", "rule-5-annual-requirement-other-ranks"),
        ("`cn-2023`, the default policy", "cn-2023-the-default-policy"),
        ("N1. Leading cadres: 3 months or 550 学时", "n1-leading-cadres-3-months-or-550-学时"),
    ],
)
def test_github_slug(heading: str, slug: str) -> None:
    assert github_slug(heading) == slug


@pytest.mark.parametrize(
    ("cited", "numbers"),
    [
        ("docs/rules.md rule 5", [5]),
        ("docs/rules.md, rule 2\nand rule 10", [2, 10]),
        ("docs/rules.md rules 4–6", [4, 5, 6]),
        ("(docs/rules.md) rule 11", [11]),
        ("`docs/rules.md` rule 9", [9]),
    ],
)
def test_rule_citations_are_read(cited: str, numbers: list[int]) -> None:
    match = _RULE_CITATION.search(cited)
    assert match is not None
    assert _rule_numbers(match.group(1)) == numbers
