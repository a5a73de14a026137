"""Stand-ins the doc runner puts first on PATH: `pip` checks instead of installing, and
`wishpond-emulator` asks the runner to serve, returning once the server is ready.

Run as `python tests/docs_shims.py pip|wishpond-emulator ARGS...`; standard library and
`packaging` only, so it starts fast and needs nothing from the test process.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shlex
import socket
import sys
import tomllib
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "wishpond-emulator"
SOCKET_ENV = "DOCS_RUNNER_SOCKET"
CLI_ENV = "DOCS_RUNNER_CLI"
READ_ONLY = frozenset({"show", "list", "freeze", "check", "--version", "-V", "help"})
# Options of `pip install` that take a value, so the value is not read as a requirement.
VALUED = frozenset({"-c", "--constraint", "-i", "--index-url", "--extra-index-url", "-t",
                    "--target", "--prefix", "--root", "-f", "--find-links"})  # fmt: skip


def extras_known() -> set[str]:
    """Return the project's extras, from pyproject.toml."""
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return set(meta["project"].get("optional-dependencies", {}))


def _extras(spec: str) -> set[str]:
    inside = spec.partition("[")[2].partition("]")[0]
    return {e.strip() for e in inside.split(",") if e.strip()}


def requirement_problem(token: str) -> str | None:
    """Return what is wrong with one `pip install` requirement as the docs give it, or None."""
    if token.startswith("git+") or "://" in token.partition(" @ ")[0]:
        egg = token.partition("#egg=")[2]
        if not egg.startswith(PROJECT):
            return f"{token!r}: name the project, e.g. '{PROJECT}[test] @ git+https://...'"
        return _extras_problem(token, _extras(egg))
    if token.startswith((".", "/", "~")) or ("/" in token and "@" not in token):
        return _extras_problem(token, _extras(token))  # a checkout of the project
    try:
        req = Requirement(token)
    except InvalidRequirement as exc:
        return f"{token!r} is not a requirement pip understands ({exc})"
    if req.name.lower().replace("_", "-") == PROJECT:
        if not req.url:
            return (
                f"{token!r}: {PROJECT} is on no package index; install it from a checkout "
                f"(pip install -e '.[test]') or a git URL ('{PROJECT}[test] @ git+https://...')"
            )
        return _extras_problem(token, set(req.extras))
    try:
        version = importlib.metadata.version(req.name)
    except importlib.metadata.PackageNotFoundError:
        return (
            f"{req.name} is not installed here: add it to one of the project's extras, or mark "
            "the block <!-- not-run: REASON -->"
        )
    if req.specifier and not req.specifier.contains(version, prereleases=True):
        return f"{token!r} wants {req.specifier}, but {req.name} {version} is installed"
    return None


def _extras_problem(token: str, extras: set[str]) -> str | None:
    unknown = extras - extras_known()
    if unknown:
        known = ", ".join(sorted(extras_known()))
        return f"{token!r} names extras the project lacks: {', '.join(sorted(unknown))} ({known})"
    return None


def install_problems(args: list[str], cwd: Path) -> list[str]:
    """Return the problems of one `pip install ARGS` command (empty when it would do nothing)."""
    problems: list[str] = []
    tokens = iter(args)
    for token in tokens:
        if token in ("-r", "--requirement"):
            path = cwd / next(tokens, "")
            if not path.is_file():
                problems.append(f"-r {path.name}: no such file")
                continue
            for line in path.read_text(encoding="utf-8").splitlines():
                line = line.split(" #", 1)[0].strip()
                if line and not line.startswith("#"):
                    problems += install_problems(shlex.split(line), path.parent)
        elif token in ("-e", "--editable"):
            problems += filter(None, [requirement_problem(next(tokens, "."))])
        elif token in VALUED:
            next(tokens, None)
        elif not token.startswith("-"):
            problems += filter(None, [requirement_problem(token)])
    return problems


def pip(args: list[str]) -> int:
    """Check a `pip` command the docs give, without changing the environment."""
    if not args or args[0] in READ_ONLY:
        os.execv(sys.executable, [sys.executable, "-m", "pip", *args])
    if args[0] != "install":
        print(f"docs runner: only `pip install` is checked, not `pip {args[0]}`; mark the block "
              "<!-- not-run: REASON --> or use `pip install`", file=sys.stderr)  # fmt: skip
        return 2
    problems = install_problems(args[1:], Path.cwd())
    for problem in problems:
        print(f"docs runner: pip install {shlex.join(args[1:])}: {problem}", file=sys.stderr)
    if not problems:
        print(f"docs runner: pip install {shlex.join(args[1:])}: already satisfied")
    return 1 if problems else 0


def serve(args: list[str]) -> int:
    """Ask the runner to start the emulator with these arguments; return once it is ready."""
    if args[:1] == ["ready"] or {"-h", "--help", "--version"} & set(args):
        cli = json.loads(os.environ[CLI_ENV])
        os.execv(cli[0], [*cli, *args])
    request = {"args": args, "cwd": os.getcwd(), "env": dict(os.environ)}
    with socket.socket(socket.AF_UNIX) as conn:
        conn.connect(os.environ[SOCKET_ENV])
        conn.sendall(json.dumps(request).encode() + b"\n")
        answer = json.loads(conn.makefile("rb").readline())
    sys.stdout.write(answer["stdout"])
    sys.stderr.write(answer["stderr"])
    return int(answer["status"])


if __name__ == "__main__":
    tool, *rest = sys.argv[1:]
    sys.exit(pip(rest) if tool == "pip" else serve(rest))
