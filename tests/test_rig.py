"""The rig itself: the real daemons are up and private to this run."""

import os
import subprocess

import pytest


@pytest.mark.keychain
def test_secret_service_is_real_and_unlocked() -> None:
    import secretstorage

    conn = secretstorage.dbus_init()
    collection = secretstorage.get_default_collection(conn)
    assert not collection.is_locked()
    assert os.environ["HOME"].startswith(("/tmp", "/var"))  # never the developer's keychain


@pytest.mark.display
def test_display_is_real() -> None:
    out = subprocess.run(["xdpyinfo"], capture_output=True, text=True, check=True).stdout
    assert "1280x800" in out
