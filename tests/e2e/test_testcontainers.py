"""WishpondEmulatorContainer: the image started by testcontainers-python through podman's
Docker-compatible API, running the Testcontainers examples of docs/testing.md."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import LEAN_PLUGINS
from tests.e2e.image import REPO, Podman

DOCS = REPO / "docs" / "testing.md"
DOCUMENTED_IMAGE = "wishpond-emulator:latest"
# What docs/testing.md says testcontainers-python needs when the tests run inside a container.
INSIDE_A_CONTAINER = {
    "TESTCONTAINERS_RYUK_DISABLED": "true",
    "TESTCONTAINERS_CONNECTION_MODE": "docker_host",
    "TESTCONTAINERS_HOST_OVERRIDE": "127.0.0.1",
}


def example(name: str) -> str:
    """Return the python block after `<!-- example: name -->` in docs/testing.md."""
    found = re.search(
        rf"<!-- example: {name} -->\n```python\n(.*?)^```", DOCS.read_text(), re.S | re.M
    )
    assert found, f"docs/testing.md has no python block after <!-- example: {name} -->"
    return found.group(1)


@pytest.fixture(scope="module")
def docker_host(podman: Podman, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Serve podman's Docker-compatible API on a unix socket; return its DOCKER_HOST URL."""
    sock = tmp_path_factory.mktemp("docker") / "podman.sock"
    url = f"unix://{sock}"
    log = sock.with_name("service.log")
    with open(log, "w") as errors:
        service = subprocess.Popen(
            ["podman", "system", "service", "--time", "0", url],
            env=podman.env, stdout=errors, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        import docker

        deadline = time.monotonic() + 30
        while True:
            try:
                docker.DockerClient(base_url=url).ping()
                break
            except Exception:
                if service.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"podman system service did not answer: {log.read_text()}")
                time.sleep(0.1)
        yield url
    finally:
        service.terminate()
        service.wait(10)


@pytest.mark.e2e
def test_documented_testcontainers_examples_run_the_image(
    docker_host: str, image: str, podman: Podman, tmp_path: Path
) -> None:
    from tests.test_testing import documented_example

    files = {
        "conftest.py": example("testcontainers-conftest"),
        "tests/test_credentials.py": example("testcontainers-strict"),
        "tests/test_signup.py": documented_example(),
    }
    for name, text in files.items():
        assert name == "tests/test_signup.py" or DOCUMENTED_IMAGE in text, name
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text.replace(DOCUMENTED_IMAGE, image), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WISHPOND_", "PYTEST_"))}
    env.update(INSIDE_A_CONTAINER, DOCKER_HOST=docker_host)
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *LEAN_PLUGINS],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stdout[-8000:] + done.stderr[-4000:]
    # Four tests of the example through the plugin's fixtures, one strict-mode test of its own.
    assert re.search(r"\b5 passed", done.stdout), done.stdout
    left = podman("ps", "--all", "--quiet", "--filter", "label=org.testcontainers=true").stdout
    assert not left.strip(), f"containers left behind: {left}"
    print(f"two containers started, used and removed in {elapsed:.1f}s")


def test_importing_without_the_extra_says_what_to_install() -> None:
    blocked = "import sys; sys.modules['testcontainers'] = None; import emulator.testcontainers"
    done = subprocess.run(
        [sys.executable, "-c", blocked], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: emulator.testcontainers needs testcontainers-python"), last
    assert "pip install -e '.[testcontainers]'" in last and "git+URL" in last, last
