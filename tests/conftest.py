"""Session-wide real components. Every test runs against a private HOME; a test marked
``keychain`` gets a real Secret Service (gnome-keyring on its own D-Bus session), one marked
``display`` a real X server (Xvfb). Nothing is mocked here; a missing component fails the run
loudly with the command that installs it.

Each component starts only when a collected test carries its mark, so
``pytest -m "not keychain and not display"`` runs on a bare machine (no D-Bus, no X) in
seconds, while the full run (scripts/test, CI) starts both and runs everything."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests import rig

_components: list[rig.Component] = []


_home: dict[str, str] = {}


def pytest_configure(config: pytest.Config) -> None:
    # Before collection, so even import-time code sees the private environment. No test ever
    # reaches the developer's own keychain or display: both variables are dropped here.
    _home.update(rig.private_home())
    os.environ.update(_home)
    for var in ("DBUS_SESSION_BUS_ADDRESS", "DISPLAY", "WAYLAND_DISPLAY"):
        os.environ.pop(var, None)
    for var in ("SECRETS_STORAGE_CLEAR", "MCP_BYPASS_SECRET_USE_CONFIRM", "MCP_SECRETS_BACKEND",
                "MCP_SECRETS_PASSPHRASE", "MCP_SECRETS_PASSPHRASE_FILE", "MCP_SECRETS_DIALOG",
                "MCP_SECRETS_DIALOG_KIND"):
        os.environ.pop(var, None)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the components the selected tests need (after -m/-k deselection)."""
    wanted = {mark for item in session.items for mark in ("keychain", "display")
              if item.get_closest_marker(mark) is not None}
    starters = {"keychain": lambda: rig.start_secret_service(_home), "display": rig.start_xvfb}
    try:
        for mark in ("keychain", "display"):
            if mark in wanted:
                comp = starters[mark]()
                _components.append(comp)
                os.environ.update(comp.env)
    except rig.MissingComponent as exc:
        _stop_all()
        raise pytest.UsageError(f"\n\n*** REAL COMPONENT MISSING: {exc} ***\n") from exc


def pytest_unconfigure(config: pytest.Config) -> None:
    _stop_all()


def _stop_all() -> None:
    while _components:
        _components.pop().stop()


@pytest.fixture
def server_name(request: pytest.FixtureRequest) -> Iterator[str]:
    """A server name unique to this test, so tests never see each other's secrets."""
    import uuid

    yield f"test-{request.node.name[:40]}-{uuid.uuid4().hex[:8]}".replace("[", "-").replace("]", "")


@pytest.fixture(autouse=True)
def _guard_off_after_each_test() -> Iterator[None]:
    """`initialize(server)` turns the process-wide output guard on; left on, it would mask the
    very leaks that later tests look for in logs and results. Each test ends with it off."""
    yield
    import sys

    guard = sys.modules.get("mcp_secrets.guard")
    if guard is not None:
        guard.disable()
