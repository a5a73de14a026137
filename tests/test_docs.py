"""Every shell and Python example of README.md and docs/*.md runs, so no page drifts."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from tests.conftest import require_tool
from tests.docs_blocks import ROOT, Block, blocks_of, pages, parse
from tests.docs_runner import PageRun
from tests.docs_shims import install_problems

PAGES = pages()
# What the static check holds every install to: how it names this project (the rest, such as
# another package being installed here, is for the runner to find when the block runs).
ABOUT_US = ("no package index", "extras the project lacks", "name the project")
# `pip install ARGS` in a block or in inline code, up to the end of the command.
INSTALL = re.compile(r"\bpip3? install ((?:[^`&;|\n#]|(?<=\S)#)*)")


def runnable(blocks: list[Block]) -> list[Block]:
    """Return the blocks the runner runs or writes as files."""
    return [b for b in blocks if b.marker("not-run") is None and (b.kind or b.marker("file"))]


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_the_pages_examples_run(
    page: Path, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    blocks = runnable(blocks_of(page))
    if not any(b.kind for b in blocks):
        return
    require_tool("curl", "the shell examples call the admin API with curl")
    work, state = tmp_path / "work", tmp_path / "state"
    work.mkdir()
    state.mkdir()
    # A short path: a unix socket's name is limited to about 100 bytes.
    sock = tmp_path_factory.mktemp("sock", numbered=True) / "serve.sock"
    PageRun(work, state, sock).run(blocks)


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_markers_are_attached_and_explained(page: Path) -> None:
    blocks, stray = parse(page.read_text(encoding="utf-8"), page)
    assert not stray, [f"{s.name} marker on line {s.line} is followed by no fence" for s in stray]
    for block in blocks:
        reason = block.marker("not-run")
        assert reason is None or reason.strip(), f"{block.where}: say why it does not run"
        target = block.marker("file")
        if target is not None:
            assert target and not Path(target).is_absolute() and ".." not in Path(target).parts, (
                f"{block.where}: <!-- file: {target} --> must be a relative path inside the page"
            )


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_installs_name_what_exists(page: Path) -> None:
    """Every `pip install` on the page, run or not, names a checkout, a git URL or a real extra."""
    for n, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
        for match in INSTALL.finditer(line):
            words = shlex.split(match.group(1))
            found = [p for p in install_problems(words, ROOT) if any(w in p for w in ABOUT_US)]
            assert not found, f"{page.relative_to(ROOT)}:{n}: {found}"


def test_the_parser_reads_markers_fences_and_indented_blocks() -> None:
    text = "\n".join(
        [
            "<!-- not-run: needs docker -->",
            "<!-- example: x -->",
            "",
            "```sh",
            "docker run it",
            "```",
            "- a list item:",
            "",
            "  ````python title",
            "  print('hi')",
            "  ```",
            "  ````",
            "<!-- file: conftest.py -->",
            "~~~python",
            "import pytest",
            "~~~",
            "<!-- not-run: lost -->",
            "text",
        ]
    )
    blocks, stray = parse(text, ROOT / "page.md")
    assert [(b.line, b.lang, b.kind) for b in blocks] == [
        (4, "sh", "shell"),
        (9, "python", "python"),
        (14, "python", "python"),
    ]
    assert blocks[0].marker("not-run") == "needs docker" and blocks[0].marker("example") == "x"
    assert blocks[1].text == "print('hi')\n```\n" and blocks[1].markers == ()
    assert blocks[2].marker("file") == "conftest.py"
    assert [(s.line, s.name) for s in stray] == [(17, "not-run")]


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["wishpond-emulator"], "is on no package index"),
        (["wishpond-emulator[test]"], "is on no package index"),
        (["-e", ".[test,nope]"], "names extras the project lacks: nope"),
        (["wishpond-emulator[tests] @ git+https://example.org/x.git"], "lacks: tests"),
        (["no-such-package-for-the-docs"], "is not installed here"),
        (["pytest<1"], "but pytest"),
        (["-e", ".[test,e2e]"], None),
        (["'wishpond-emulator[testcontainers] @ git+https://example.org/x.git'"], None),
        (["pytest", "requests>=2"], None),
    ],
)
def test_the_pip_stand_in_checks_what_an_install_names(
    args: list[str], problem: str | None
) -> None:
    found = install_problems([a.strip("'") for a in args], ROOT)
    if problem is None:
        assert found == []
    else:
        assert len(found) == 1 and problem in found[0], found


SYNTHETIC = """
<!-- file: tests/test_it.py -->
```python
def test_sees_the_emulator():
    import urllib.request
    urllib.request.urlopen("http://127.0.0.1:9474/_emulator/health").close()
```

```sh
python -m pytest -q tests
wishpond-emulator --port 9474 --merchant shop:key &   # replaces the page's emulator
curl -s localhost:9474/_emulator/merchants | grep -q '"configured":true'
```

<!-- http-errors-ok -->
```sh
curl -s localhost:9474/tracker/v1/identify -H 'Content-Type: application/json' \\
  -d '{"merchant_id": "shop", "write_key": "wrong", "id": "u", "attributes": {}}'
```

```python
print("a script, not a test")
```
"""


def run_page(text: str, tmp_path: Path, factory: pytest.TempPathFactory) -> None:
    """Run a page's blocks the way test_the_pages_examples_run does."""
    require_tool("curl", "the shell examples call the admin API with curl")
    page = tmp_path / "page.md"
    page.write_text(text, encoding="utf-8")
    (tmp_path / "work").mkdir()
    (tmp_path / "state").mkdir()
    sock = factory.mktemp("sock", numbered=True) / "serve.sock"
    PageRun(tmp_path / "work", tmp_path / "state", sock).run(runnable(blocks_of(page)))


def test_the_runner_writes_files_replaces_servers_and_allows_marked_errors(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    run_page(SYNTHETIC, tmp_path, tmp_path_factory)


def test_the_runner_fails_on_an_http_error_and_says_how_to_mark_a_block(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    with pytest.raises(AssertionError) as failed:
        run_page("```sh\ncurl -s localhost:9474/_emulator/no-such-route\n```\n", tmp_path,
                 tmp_path_factory)  # fmt: skip
    message = str(failed.value)
    assert "page.md:1: the sh example exited 22" in message
    assert '"code":"not_found"' in message.replace(" ", "")
    assert "<!-- not-run: REASON -->" in message
