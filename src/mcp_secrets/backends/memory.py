"""In-process store: for tests and for EphemeralStorage. Gone when the process exits."""

from __future__ import annotations

import threading

from mcp_secrets.backends.base import Backend, Probe


class MemoryBackend(Backend):
    name = "memory"
    priority = 0.0  # never chosen automatically: a server's secrets would vanish on exit

    @classmethod
    def probe(cls, *, explicit: bool = False) -> Probe:
        return Probe(True, "in-process only, every secret is lost when the process exits")

    def __init__(self) -> None:
        self._data: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()

    def get(self, service: str, key: str) -> str | None:
        return self._data.get((service, key))

    def set(self, service: str, key: str, value: str) -> None:
        with self._lock:
            self._data[(service, key)] = value

    def delete(self, service: str, key: str) -> bool:
        with self._lock:
            return self._data.pop((service, key), None) is not None

    def keys(self, service: str) -> list[str]:
        with self._lock:
            return [k for (s, k) in self._data if s == service]

    def describe(self) -> str:
        return "memory (this process only; lost on exit)"
