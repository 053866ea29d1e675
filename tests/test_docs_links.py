"""Every link between the project's documents leads somewhere: a file that exists, a heading it has."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = sorted(
    path
    for pattern in ("*.md", "docs/**/*.md", "examples/**/*.md", "benchmarks/*.md", "sdk/**/README.md")
    for path in REPO_ROOT.glob(pattern)
    if "node_modules" not in path.parts
)
_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
_FENCE = re.compile(r"^```.*?^```", re.S | re.M)


def _anchors(document: Path) -> set[str]:
    """The anchors GitHub gives a document's headings."""
    text = _FENCE.sub("", document.read_text(encoding="utf-8"))
    anchors = set()
    for heading in re.findall(r"^#+\s+(.*)$", text, re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        anchors.add(slug)
    return anchors


def _links(document: Path) -> list[str]:
    return _LINK.findall(_FENCE.sub("", document.read_text(encoding="utf-8")))


def test_there_are_documents_to_check() -> None:
    names = {path.relative_to(REPO_ROOT).as_posix() for path in DOCUMENTS}
    assert {"README.md", "CONTRIBUTING.md", "docs/reference.md"} <= names


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: path.relative_to(REPO_ROOT).as_posix())
def test_every_relative_link_leads_to_a_file_and_heading_that_exist(document: Path) -> None:
    broken = []
    for link in _links(document):
        if re.match(r"^[a-z]+:", link):  # https:, mailto: and the like are not checked offline
            continue
        target_text, _, anchor = link.partition("#")
        target = (document.parent / target_text).resolve() if target_text else document
        if not target.exists():
            broken.append(f"{link}: no such file")
        elif anchor and target.suffix == ".md" and anchor not in _anchors(target):
            broken.append(f"{link}: no heading #{anchor} in {target.name}")
    assert broken == []
