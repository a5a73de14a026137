"""Command-line options of the contract suite, registered as a pytest plugin.

They are registered through an entry point rather than contract/conftest.py so that
`pytest --pyargs contract --base-url URL` accepts them before collection starts.
"""

from __future__ import annotations

import contextlib

import pytest


def _add(group: pytest.OptionGroup, name: str, help: str) -> None:
    # Another plugin may own the name (pytest-base-url has --base-url); its value is used.
    with contextlib.suppress(ValueError):
        group.addoption(name, default=None, help=help)


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add the contract suite's options."""
    group = parser.getgroup("wishpond-contract", "Wishpond emulator contract suite")
    _add(group, "--base-url", "URL of the server under test, e.g. http://127.0.0.1:9474")
    _add(group, "--admin-token", "bearer token for /_emulator/*")
    _add(group, "--segment-write-key", "a Segment source write key connected to --merchant")
    _add(group, "--merchant", "ID:KEY of a merchant the server is configured with (strict mode)")
