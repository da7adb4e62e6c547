"""Session-wide real components. Every test runs against a private HOME, a real Secret Service
(gnome-keyring on its own D-Bus session) and a real X server (Xvfb). Nothing is mocked here;
a missing component fails the run loudly with the command that installs it."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests import rig

_components: list[rig.Component] = []


def pytest_configure(config: pytest.Config) -> None:
    # Started before collection so even import-time code sees the private environment.
    home = rig.private_home()
    os.environ.update(home)
    os.environ.pop("DBUS_SESSION_BUS_ADDRESS", None)
    os.environ.pop("DISPLAY", None)
    for var in ("SECRETS_STORAGE_CLEAR", "MCP_BYPASS_SECRET_USE_CONFIRM", "MCP_SECRETS_BACKEND",
                "MCP_SECRETS_PASSPHRASE", "MCP_SECRETS_DIALOG", "MCP_SECRETS_DIALOG_KIND"):
        os.environ.pop(var, None)
    try:
        for start in (lambda: rig.start_secret_service(home), rig.start_xvfb):
            comp = start()
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


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [f"real component: {c.name} {c.env}" for c in _components]


@pytest.fixture
def server_name(request: pytest.FixtureRequest) -> Iterator[str]:
    """A server name unique to this test, so tests never see each other's secrets."""
    import uuid

    yield f"test-{request.node.name[:40]}-{uuid.uuid4().hex[:8]}".replace("[", "-").replace("]", "")
