"""The container image: built offline on a debootstrapped Debian base, run with podman."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import time
import tomllib
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import contract
from emulator.testing import EmulatorClient
from tests.conftest import require_tool

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
SUITE = "bookworm"
PACKAGES = "python3,python3-venv"
BASE_IMAGE = "localhost/base"
ROOTFS_LABEL = "wishpond-emulator.rootfs"
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "wishpond-emulator"
# Podman's default ulimits need a capability some CI machines lack; pin them instead.
CONTAINERS_CONF = """\
[containers]
default_ulimits = ["nofile=16384:16384", "nproc=16384:16384"]
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


@pytest.fixture(scope="module")
def podman(tmp_path_factory: pytest.TempPathFactory) -> Podman:
    """Return the podman runner, once podman and runc are installed."""
    require_tool("podman", "the container test builds and runs the image with podman")
    require_tool("runc", "podman runs the image with --runtime runc")
    return Podman(tmp_path_factory.mktemp("podman") / "containers.conf")


@pytest.fixture(scope="module")
def image(podman: Podman, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Build the image from the Dockerfile on a debootstrapped base, with no network."""
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
    tmp = tmp_path_factory.mktemp("build")
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
    yield tag
    podman("rmi", "--force", tag, check=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def container(podman: Podman, image: str, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """Start the image with env-only configuration, a volume for the export and a free port."""
    volume = tmp_path / "data"
    volume.mkdir()
    volume.chmod(0o777)  # the image runs as an unprivileged user
    port = free_port()
    name = f"wishpond-emulator-test-{os.getpid()}-{port}"
    podman(
        "run", "--detach", "--runtime", "runc", "--network", "host", "--name", name,
        "--env", f"WISHPOND_EMULATOR_PORT={port}",
        "--env", "WISHPOND_EMULATOR_EXPORT_ON_EXIT=/data/state.json",
        "--volume", f"{volume}:/data",
        image,
    )  # fmt: skip
    started = time.monotonic()
    yield {"name": name, "url": f"http://127.0.0.1:{port}", "volume": volume, "started": started}
    podman("rm", "--force", name, check=False)


def wait_healthy(podman: Podman, name: str, started: float, limit: float) -> float:
    """Run the image's HEALTHCHECK until it passes; return the seconds since start."""
    while True:
        check = podman("healthcheck", "run", name, check=False, timeout=10)
        elapsed = time.monotonic() - started
        if check.returncode == 0:
            return elapsed
        if elapsed > limit + 5:
            logs = podman("logs", name, check=False)
            pytest.fail(
                f"not healthy after {elapsed:.1f}s: {check.stderr}\n{logs.stdout}{logs.stderr}"
            )
        time.sleep(0.05)


def test_container_lifecycle(podman: Podman, container: dict[str, Any]) -> None:
    name, url = container["name"], container["url"]
    healthy_after = wait_healthy(podman, name, container["started"], 2.0)
    assert healthy_after < 2.0, f"healthy only {healthy_after:.2f}s after start"
    assert "ready on http://0.0.0.0:" in podman("logs", name).stdout
    health = json.loads(podman("inspect", name, "--format", "{{json .Config.Healthcheck}}").stdout)
    assert health["Test"][1:3] == ["wishpond-emulator", "ready"], health
    assert podman("exec", name, "id", "-u").stdout.strip() != "0"

    body = {
        "merchant_id": "m1", "write_key": "any-key", "anonymous_id": "visitor-1",
        "id": "container-lead", "attributes": {"email": "c@example.com", "plan": "Pro"},
    }  # fmt: skip
    request = urllib.request.Request(
        f"{url}/tracker/v1/identify",
        json.dumps(body).encode(),
        {"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200
    EmulatorClient(url).merchant("m1").assert_lead("container-lead", plan="Pro")
    # CI reaches a service container under names of its own: the image answers any Host.
    named = urllib.request.Request(f"{url}/_emulator/health", headers={"Host": "emulator:9474"})
    with urllib.request.urlopen(named, timeout=5) as response:
        assert response.status == 200

    stopping = time.monotonic()
    podman("stop", "--time", "10", name)
    stopped_after = time.monotonic() - stopping
    assert stopped_after < 2.0, f"podman stop took {stopped_after:.2f}s"
    exit_code = podman("inspect", name, "--format", "{{.State.ExitCode}}").stdout.strip()
    assert exit_code == "0", "the emulator did not exit cleanly on SIGTERM"

    exported = json.loads((container["volume"] / "state.json").read_text(encoding="utf-8"))
    contract.validate("state", exported)
    (lead,) = exported["merchants"]["m1"]["leads"]
    assert lead["id"] == "container-lead"
    assert lead["attributes"] == {"email": "c@example.com", "plan": "Pro"}


def test_documented_example_passes_against_the_container(
    podman: Podman, container: dict[str, Any], tmp_path: Path
) -> None:
    from tests.test_testing import documented_example

    wait_healthy(podman, container["name"], container["started"], 10.0)
    (tmp_path / "test_example.py").write_text(documented_example(), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("WISHPOND_EMULATOR_")}
    env["WISHPOND_EMULATOR_URL"] = container["url"]
    with contextlib.chdir(tmp_path):
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "test_example.py"],
            capture_output=True, text=True, env=env, timeout=120, check=False,
        )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"\b[1-9]\d* passed", done.stdout), done.stdout
