"""Build the emulator's image offline: a debootstrapped Debian base, a host wheelhouse, podman."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require_tool

REPO = Path(__file__).resolve().parents[2]
SUITE = "bookworm"
PACKAGES = "python3,python3-venv"
BASE_IMAGE = "localhost/base"
ROOTFS_LABEL = "wishpond-emulator.rootfs"
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "wishpond-emulator"
# Podman's default ulimits need a capability some CI machines lack; pin them instead. And runc as
# the runtime, also for containers started through the Docker-compatible API (no --runtime there).
CONTAINERS_CONF = """\
[containers]
default_ulimits = ["nofile=16384:16384", "nproc=16384:16384"]

[engine]
runtime = "runc"
"""


def require(condition: bool, message: str) -> None:
    """Skip unless condition holds, or fail under EMULATOR_REQUIRE_E2E=1."""
    if condition:
        return
    if os.environ.get("EMULATOR_REQUIRE_E2E") == "1":
        pytest.fail(message + "; EMULATOR_REQUIRE_E2E=1 makes this a failure")
    pytest.skip(message)


def run(*args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run a command, failing with its output if it fails."""
    kwargs.setdefault("timeout", 300)
    done = subprocess.run(args, capture_output=True, text=True, check=False, **kwargs)
    if done.returncode != 0:
        pytest.fail(f"{' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done


def apt_sources() -> Iterator[tuple[str, list[str]]]:
    """Yield (URI, suites) of every enabled 'deb' entry in apt's sources."""
    sources = Path("/etc/apt/sources.list.d")
    files = [
        Path("/etc/apt/sources.list"),
        *(sorted(sources.iterdir()) if sources.is_dir() else []),
    ]
    for path in files:
        if not path.is_file() or path.suffix not in (".list", ".sources", ""):
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        if path.suffix == ".sources":
            for stanza in re.split(r"\n\s*\n", text):
                fields = {}
                for line in stanza.splitlines():
                    if ":" in line and not line.startswith(("#", " ", "\t")):
                        key, _, value = line.partition(":")
                        fields[key.strip().lower()] = value.strip()
                if "deb" in fields.get("types", "").split() and fields.get("enabled") != "no":
                    for uri in fields.get("uris", "").split():
                        yield uri, fields.get("suites", "").split()
        else:
            for line in text.splitlines():
                words = re.sub(r"\[[^]]*\]", " ", line.split("#", 1)[0]).split()
                if len(words) >= 3 and words[0] == "deb":
                    yield words[1], [words[2]]


def apt_mirror() -> str:
    """Return the Debian mirror apt already uses for the suite; hard-code no host."""
    entries = list(apt_sources())
    for uri, suites in entries:
        if SUITE in suites:
            return uri
    pockets = ("-security", "-updates", "-backports")
    for uri, suites in entries:
        if suites and not any(s.endswith(pockets) for s in suites):
            return uri
    require(False, f"no Debian 'deb' source in /etc/apt/sources.list* to debootstrap {SUITE} from")
    raise AssertionError("unreachable")


def unmount_under(path: Path) -> None:
    """Unmount anything a failed debootstrap left mounted inside path."""
    mounts = Path("/proc/mounts").read_text().splitlines()
    inside = [m.split()[1] for m in mounts if m.split()[1].startswith(str(path) + "/")]
    for point in sorted(inside, key=len, reverse=True):
        subprocess.run(["umount", "-l", point], check=False)


def rootfs(mirror: str) -> tuple[Path, str]:
    """Return a cached minbase rootfs with python3 and its cache key, building it if needed."""
    key = hashlib.sha256(f"{mirror} {SUITE} {PACKAGES} minbase".encode()).hexdigest()[:16]
    home = CACHE / f"debootstrap-{key}"
    home.mkdir(parents=True, exist_ok=True)
    done = home / "rootfs"
    with open(home / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.is_dir():
            partial = home / "partial"
            if partial.exists():
                unmount_under(partial)
                shutil.rmtree(partial)
            run(
                "debootstrap",
                "--variant=minbase",
                f"--include={PACKAGES}",
                SUITE,
                str(partial),
                mirror,
                timeout=900,
            )
            partial.rename(done)
    return done, key


def container_python(root: Path) -> str:
    """Return the base's Python version, e.g. '3.11'."""
    target = os.readlink(root / "usr/bin/python3")
    match = re.search(r"python(\d+\.\d+)", target)
    assert match, f"cannot tell the Python version of the base from usr/bin/python3 -> {target}"
    return match.group(1)


def wheelhouse(dest: Path, python: str, tmp: Path) -> None:
    """Build the project and its dependencies as wheels for the base's Python, on the host."""
    source = tmp / "source"
    source.mkdir()
    meta = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    tops = {p.split(".")[0] for p in meta["tool"]["setuptools"]["packages"]}
    for name in ["pyproject.toml", "README.md", *sorted(tops)]:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, source / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    if python == "{}.{}".format(*sys.version_info[:2]):
        run(*pip, "wheel", "--wheel-dir", str(dest), str(source))
        return
    # The host's Python differs from the base's: fetch dependency wheels built for the base.
    run(*pip, "wheel", "--no-deps", "--wheel-dir", str(dest), str(source))
    (project,) = dest.glob("wishpond_emulator-*.whl")
    run(
        *pip,
        "download",
        "--only-binary=:all:",
        "--python-version",
        python,
        "--platform",
        f"manylinux2014_{platform.machine()}",
        "--dest",
        str(dest),
        str(project),
    )


class Podman:
    """Run podman commands under a containers.conf that pins the ulimits."""

    def __init__(self, conf: Path) -> None:
        conf.write_text(CONTAINERS_CONF, encoding="utf-8")
        self.env = {**os.environ, "CONTAINERS_CONF": str(conf)}

    def __call__(
        self, *args: str, check: bool = True, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        if check:
            return run("podman", *args, env=self.env, timeout=timeout)
        return subprocess.run(
            ["podman", *args], capture_output=True, text=True, env=self.env, timeout=timeout,
            check=False,
        )  # fmt: skip


def build(podman: Podman, tmp: Path) -> str:
    """Build the image from the Dockerfile on a debootstrapped base, offline; return its tag."""
    require_tool("debootstrap", "the base image is a debootstrapped Debian")
    require(os.geteuid() == 0, "debootstrap and rootful podman need root")
    root, key = rootfs(apt_mirror())
    labels = podman(
        "image", "inspect", BASE_IMAGE, "--format", "{{json .Config.Labels}}", check=False
    )
    if labels.returncode != 0 or (json.loads(labels.stdout) or {}).get(ROOTFS_LABEL) != key:
        # tar -C rootfs -c . | podman import - localhost/base
        tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
        podman_import = subprocess.run(
            ["podman", "import", "--change", f"LABEL {ROOTFS_LABEL}={key}", "-", BASE_IMAGE],
            stdin=tar.stdout,
            capture_output=True,
            text=True,
            env=podman.env,
            check=False,
        )
        assert tar.wait() == 0 and podman_import.returncode == 0, podman_import.stderr
    context = tmp / "context"
    context.mkdir()
    wheelhouse(context / "wheelhouse", container_python(root), tmp)
    shutil.copy2(REPO / "Dockerfile", context / "Dockerfile")
    shutil.copy2(REPO / ".dockerignore", context / ".dockerignore")
    tag = f"localhost/wishpond-emulator-test:{os.getpid()}"
    podman(
        "build",
        "--runtime", "runc",
        "--network", "none",  # the wheelhouse is all it installs
        "--build-arg", f"BASE={BASE_IMAGE}",
        "--format", "docker",
        "--tag", tag,
        str(context),
    )  # fmt: skip
    return tag
