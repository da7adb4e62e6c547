"""MCPSecretsStorage (FIRST CUT: the storage helper replaces this with index locking,
chunking, the cross-process cache and crash repair)."""

from __future__ import annotations

import json

from mcp_secrets.backends.base import Backend
from mcp_secrets.names import service_name, validate_name

INDEX_KEY = "__secret_index__"


class MCPSecretsStorage:
    def __init__(self, server_name: str, backend: Backend | None = None) -> None:
        self.service = service_name(server_name)
        self.server_name = server_name
        if backend is None:
            from mcp_secrets.selection import default_backend

            backend = default_backend()
        self.backend = backend

    def _index(self) -> list[str]:
        raw = self.backend.get(self.service, INDEX_KEY)
        return json.loads(raw) if raw else []

    def store_secret(self, name: str, value: str) -> None:
        validate_name(name)
        if not isinstance(value, str):
            raise TypeError("secret values must be str")
        idx = self._index()
        if name not in idx:
            self.backend.set(self.service, INDEX_KEY, json.dumps([*idx, name]))
        self.backend.set(self.service, name, value)

    def retrieve_secret(self, name: str) -> str | None:
        return self.backend.get(self.service, validate_name(name))

    def secret_exists(self, name: str) -> bool:
        return self.retrieve_secret(name) is not None

    def delete_secret(self, name: str) -> bool:
        existed = self.backend.delete(self.service, validate_name(name))
        idx = self._index()
        if name in idx:
            idx.remove(name)
            self.backend.set(self.service, INDEX_KEY, json.dumps(idx))
        return existed

    def list_secrets(self) -> list[str]:
        return sorted(self._index())

    def clear_secrets(self) -> int:
        names = self._index()
        for n in names:
            self.backend.delete(self.service, n)
        self.backend.delete(self.service, INDEX_KEY)
        return len(names)

    def __repr__(self) -> str:
        return f"<MCPSecretsStorage {self.service} on {self.backend.name}>"
