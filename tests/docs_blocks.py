"""Find the fenced code blocks of a Markdown page and the markers that say how to treat them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHELL = frozenset({"sh", "bash", "shell"})
PYTHON = frozenset({"python", "py", "python3"})
# A marker is an HTML comment alone on a line: <!-- name --> or <!-- name: value -->.
MARKER = re.compile(r"^\s*<!--\s*([\w-]+)\s*(?::\s*(.*?))?\s*-->\s*$")
OPENING = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
DIRECTIVES = ("not-run", "file", "http-errors-ok")


def pages() -> list[Path]:
    """Return README.md and every docs/*.md, the pages whose examples must run."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


@dataclass(frozen=True)
class Block:
    """One fenced block: where it is, its language, its text and the markers above it."""

    page: Path
    line: int  # 1-based line of the opening fence
    lang: str
    text: str
    markers: tuple[tuple[str, str], ...] = ()

    def marker(self, name: str) -> str | None:
        """Return the value of a marker above the block ('' if it has none), or None."""
        return next((value for key, value in self.markers if key == name), None)

    @property
    def kind(self) -> str | None:
        """Return 'shell' or 'python' for a block the runner would run, else None."""
        if self.lang in SHELL:
            return "shell"
        if self.lang in PYTHON:
            return "python"
        return None

    @property
    def where(self) -> str:
        """Return page:line, relative to the repository."""
        page = self.page.relative_to(ROOT) if self.page.is_relative_to(ROOT) else self.page
        return f"{page}:{self.line}"


@dataclass(frozen=True)
class StrayMarker:
    """A runner directive that no fence follows, so it applies to nothing."""

    page: Path
    line: int
    name: str


def _markers_above(lines: list[str], index: int) -> tuple[list[tuple[str, str]], list[int]]:
    """Collect the marker comments just above line index (blank lines may separate them)."""
    found: list[tuple[str, str]] = []
    used: list[int] = []
    i = index - 1
    while i >= 0 and not lines[i].strip():
        i -= 1
    while i >= 0 and (match := MARKER.match(lines[i])):
        found.insert(0, (match.group(1), match.group(2) or ""))
        used.append(i)
        i -= 1
    return found, used


def parse(text: str, page: Path) -> tuple[list[Block], list[StrayMarker]]:
    """Return the page's fenced blocks, and the directives that are attached to no block."""
    lines = text.splitlines()
    blocks: list[Block] = []
    attached: set[int] = set()
    inside: set[int] = set()
    i = 0
    while i < len(lines):
        opening = OPENING.match(lines[i])
        if not opening or (opening["fence"][0] == "`" and "`" in opening["info"]):
            i += 1
            continue
        indent, fence = len(opening["indent"]), opening["fence"]
        closing = re.compile(rf"^\s*{re.escape(fence[0])}{{{len(fence)},}}\s*$")
        body: list[str] = []
        j = i + 1
        while j < len(lines) and not closing.match(lines[j]):
            line = lines[j]
            cut = min(indent, len(line) - len(line.lstrip(" ")))
            body.append(line[cut:])
            j += 1
        inside.update(range(i, j + 1))
        markers, used = _markers_above(lines, i)
        attached.update(used)
        info = opening["info"].strip()
        lang = info.split()[0].lower() if info else ""
        blocks.append(Block(page, i + 1, lang, "\n".join(body) + "\n", tuple(markers)))
        i = j + 1
    stray = [
        StrayMarker(page, n + 1, match.group(1))
        for n, line in enumerate(lines)
        if (match := MARKER.match(line))
        and match.group(1) in DIRECTIVES
        and n not in attached | inside
    ]
    return blocks, stray


def blocks_of(page: Path) -> list[Block]:
    """Return the fenced blocks of a page file."""
    return parse(page.read_text(encoding="utf-8"), page)[0]
