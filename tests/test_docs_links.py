"""Every relative link in README.md and docs/ leads to a file that exists.

`make docs` builds the site with warnings as errors, so a link to a page that
has not landed breaks CI; this catches it in `make test`, without Sphinx.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# [text](target) and ![alt](target), not inside code spans or fences.
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
CODE = re.compile(r"`[^`\n]*`")


def relative_links(page: Path) -> list[str]:
    text = CODE.sub("", FENCE.sub("", page.read_text(encoding="utf-8")))
    return [target for target in LINK.findall(text)
            if not re.match(r"[a-z][a-z0-9+.-]*:", target) and not target.startswith("#")]


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_relative_links_lead_to_files(page: Path) -> None:
    missing = [target for target in relative_links(page)
               if not (page.parent / target.partition("#")[0]).exists()]
    assert missing == [], f"{page.name} links to files that do not exist: {missing}"


def test_the_check_finds_a_broken_link(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("[ok](page.md) [gone](gone.md#x) `[code](no.md)` <http://x> [web](https://x)\n")
    assert relative_links(page) == ["page.md", "gone.md#x"]
