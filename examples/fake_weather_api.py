"""A FAKE weather API (no network): stands in for a real service that checks an API key.

It proves the tool really used the stored key without the key ever leaving the server: the
demo registers only the key's SHA-256 (`WEATHER_API_KEY_SHA256`), and the fake "API" compares
hashes. Nothing here returns or logs the key.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import zlib

ENV_EXPECTED = "WEATHER_API_KEY_SHA256"


class InvalidAPIKey(Exception):
    """What a real API's 401 would become."""


def key_fingerprint(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def _authenticate(api_key: str) -> str:
    if not api_key:
        raise InvalidAPIKey("the weather API rejected an empty key (401)")
    expected = os.environ.get(ENV_EXPECTED)
    if expected is None:
        return "accepted (this fake API takes any key when no fingerprint is registered)"
    if not hmac.compare_digest(key_fingerprint(api_key), expected.strip().lower()):
        raise InvalidAPIKey("the weather API rejected the key (401): fingerprint mismatch")
    return "accepted: its SHA-256 matches the fingerprint registered with the API"


def forecast(city: str, api_key: str) -> str:
    auth = _authenticate(api_key)
    seed = zlib.crc32(city.strip().lower().encode())
    temp, sky = 8 + seed % 20, ("sunny", "cloudy", "light rain", "windy")[seed % 4]
    return f"Forecast for {city}: {temp} °C, {sky}. API key {auth}."


def alerts(region: str, api_key: str) -> str:
    auth = _authenticate(api_key)
    return f"No weather alerts for {region}. API key {auth}."
