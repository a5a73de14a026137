"""WishpondEmulatorContainer: the emulator's image as a testcontainers-python container."""

from __future__ import annotations

from typing import Any, Self

try:
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.wait_strategies import HttpWaitStrategy
except ImportError as exc:  # pragma: no cover - depends on what is installed
    raise ImportError(
        "emulator.testcontainers needs testcontainers-python 4.13 or later, which the "
        "'testcontainers' extra installs: pip install -e '.[testcontainers]' in a checkout of "
        "wishpond-emulator, or pip install 'wishpond-emulator[testcontainers] @ git+URL' "
        f"({exc})"
    ) from exc

from emulator.client import DEFAULT_TIMEOUT, EmulatorClient

__all__ = ["WishpondEmulatorContainer"]

DEFAULT_IMAGE = "wishpond-emulator:latest"
PORT = 9474
HEALTH = "/_emulator/health"
MERCHANTS_ENV = "WISHPOND_EMULATOR_MERCHANTS"
SOURCES_ENV = "WISHPOND_EMULATOR_SOURCES"
TOKEN_ENV = "WISHPOND_EMULATOR_ADMIN_TOKEN"


class WishpondEmulatorContainer(DockerContainer):
    """The wishpond-emulator image, configured by environment and waited on until healthy.

    Use it as a context manager: `with WishpondEmulatorContainer() as emulator:` starts the
    container, waits until `/_emulator/health` answers 200, and removes the container on exit;
    `emulator.get_url()` is the URL to hand the app under test, `emulator.client()` inspects it.
    """

    def __init__(self, image: str = DEFAULT_IMAGE, *, port: int = PORT, **kwargs: Any) -> None:
        self.port = port
        self._health = HttpWaitStrategy(port, HEALTH).for_status_code(200)
        kwargs.setdefault("_wait_strategy", self._health)
        super().__init__(image, **kwargs)
        self._merchants: dict[str, str] = {}
        self._sources: dict[str, str] = {}
        self.with_exposed_ports(port)
        self.with_env("WISHPOND_EMULATOR_PORT", str(port))

    def with_merchant(self, merchant_id: str, write_key: str) -> Self:
        """Configure a merchant and its write key; any merchant turns on strict mode."""
        self._merchants[merchant_id] = write_key
        return self

    def with_source(self, write_key: str, merchant_id: str) -> Self:
        """Connect a Segment source's write key to a merchant."""
        self._sources[write_key] = merchant_id
        return self

    def with_admin_token(self, token: str) -> Self:
        """Require this bearer token on the admin API; get_url() clients send it."""
        return self.with_env(TOKEN_ENV, token)

    def _configure(self) -> None:
        """Write the merchants and sources into the environment before the container starts."""
        for name, pairs in ((MERCHANTS_ENV, self._merchants), (SOURCES_ENV, self._sources)):
            items = [self.env[name]] if self.env.get(name) else []
            items += [f"{left}:{right}" for left, right in pairs.items()]
            if items:
                self.with_env(name, ",".join(items))
        token = self.env.get(TOKEN_ENV)
        if token:
            self._health.with_header("Authorization", f"Bearer {token}")

    def get_url(self) -> str:
        """Return the emulator's base URL as reachable from this process."""
        host = self.get_container_host_ip()
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.get_exposed_port(self.port)}"

    def client(self, timeout: float = DEFAULT_TIMEOUT) -> EmulatorClient:
        """Return an EmulatorClient for this container, with its admin token if one is set."""
        return EmulatorClient(self.get_url(), self.env.get(TOKEN_ENV, ""), timeout=timeout)
