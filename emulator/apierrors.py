"""What the admin API's clients raise: the emulator's JSON errors, and no emulator at all."""

from __future__ import annotations

from typing import Any

URL_ENV = "WISHPOND_EMULATOR_URL"
TOKEN_ENV = "WISHPOND_EMULATOR_ADMIN_TOKEN"


class EmulatorAPIError(Exception):
    """The emulator answered with a JSON error; carries the status, code and whole body."""

    def __init__(self, method: str, url: str, status: int, body: Any) -> None:
        error = body.get("error") if isinstance(body, dict) else None
        error = error if isinstance(error, dict) else {}
        self.method, self.url, self.status, self.body = method, url, status, body
        self.code: str = str(error.get("code", "http_error"))
        self.message: str = str(error.get("message", body))
        hint = ""
        if self.code in ("admin_token_required", "invalid_admin_token"):
            hint = f" Pass admin_token= to EmulatorClient, or set {TOKEN_ENV}."
        super().__init__(f"{method} {url} -> {status} {self.code}: {self.message}{hint}")


class EmulatorUnreachable(ConnectionError):
    """No emulator answered at the URL."""
