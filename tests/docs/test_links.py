"""Every relative link in README.md and docs/*.md reaches a file of the repository and, with a `#fragment`, a heading
of that file, named as GitHub names its anchors.

Markdown is parsed with markdown-it-py (a dependency of rich), so links inside code blocks and code spans are not
links, as on GitHub.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import cache
from itertools import pairwise
from pathlib import Path
from typing import NamedTuple
from urllib.parse import unquote, urlsplit

import pytest
from markdown_it import MarkdownIt
from markdown_it.token import Token

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = (ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")))
_MARKDOWN = MarkdownIt("commonmark").enable("table")


class Link(NamedTuple):
    source: Path
    target: str  # as written: path, path#fragment or #fragment


def _inline_tokens(text: str) -> list[Token]:
    return [token for token in _MARKDOWN.parse(text) if token.type == "inline"]


def links(document: Path) -> list[Link]:
    """The links and images of `document` that point into the repository (no scheme, no `//` host)."""
    found = []
    for inline in _inline_tokens(document.read_text(encoding="utf-8")):
        for child in inline.children or ():
            target = child.attrs.get("href" if child.type == "link_open" else "src")
            if child.type in ("link_open", "image") and isinstance(target, str):
                parts = urlsplit(target)
                if not parts.scheme and not parts.netloc:
                    found.append(Link(document, target))
    return found


def github_anchor(heading: str) -> str:
    """GitHub's anchor for a heading's text: lower case, punctuation removed (letters, digits, `_`, `-` and spaces
    kept), each space a `-`."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


@cache
def anchors(document: Path) -> frozenset[str]:
    """The anchors of `document`'s headings; a repeated heading's anchor gets `-1`, `-2`, ... as on GitHub."""
    tokens = _MARKDOWN.parse(document.read_text(encoding="utf-8"))
    seen: Counter[str] = Counter()
    names = set()
    for opening, inline in pairwise(tokens):
        if opening.type == "heading_open":
            text = "".join(child.content for child in inline.children or () if child.type in ("text", "code_inline"))
            anchor = github_anchor(text)
            names.add(f"{anchor}-{seen[anchor]}" if seen[anchor] else anchor)
            seen[anchor] += 1
    return frozenset(names)


def problem(link: Link) -> str | None:
    """Why `link` does not resolve, or None when it does."""
    parts = urlsplit(link.target)
    target = (link.source.parent / unquote(parts.path)).resolve() if parts.path else link.source
    if not target.exists():
        return f"{target.relative_to(ROOT) if target.is_relative_to(ROOT) else target} does not exist"
    if parts.fragment and (target.suffix != ".md" or unquote(parts.fragment) not in anchors(target)):
        return f"{target.name} has no heading with the anchor #{parts.fragment}"
    return None


ALL_LINKS = [link for document in DOCUMENTS for link in links(document)]


@pytest.mark.parametrize(
    "link", ALL_LINKS, ids=[f"{link.source.relative_to(ROOT)} -> {link.target}" for link in ALL_LINKS]
)
def test_relative_link_resolves(link: Link) -> None:
    assert problem(link) is None


def test_the_readme_links_into_every_doc() -> None:
    linked = {(ROOT / urlsplit(link.target).path).resolve() for link in links(ROOT / "README.md")}
    assert [path.name for path in DOCUMENTS[1:] if path not in linked] == []


def test_a_missing_file_and_a_missing_heading_are_reported(tmp_path: Path) -> None:
    # given a document with a good link, a link to a missing file and a link to a missing heading
    heading = "## Times: `YYYY-MM-DD` and more\n\n"
    (tmp_path / "other.md").write_text("# Other\n\n" + heading + heading)
    source = tmp_path / "source.md"
    source.write_text(
        "[ok](other.md#times-yyyy-mm-dd-and-more-1) [gone](missing.md) [nowhere](other.md#timez)\n\n"
        "```\n[in a code block](missing-too.md)\n```\n\n`[in a code span](missing-too.md)` [web](https://example.com/x)\n"
    )
    # when its links are checked
    found = links(source)
    # then exactly the two broken ones are reported, with why
    assert [link.target for link in found] == ["other.md#times-yyyy-mm-dd-and-more-1", "missing.md", "other.md#timez"]
    assert [problem(link) for link in found] == [
        None,
        f"{tmp_path / 'missing.md'} does not exist",
        "other.md has no heading with the anchor #timez",
    ]
