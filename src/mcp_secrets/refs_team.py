"""References to team stores: ``vault://``, ``aws-sm://``, ``gcp-sm://`` and ``op://``.

Each scheme gets every reference of its kind from one `resolve_all` call: it makes one client,
reads each distinct secret once (two keys of one Vault secret are one read), and runs the reads
concurrently, so ten references cost about one round trip. The SDKs are imported only here,
only when a reference of that scheme is resolved.

Errors name the variable and the reference, never a value.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable, Sequence
from typing import Any, TypeVar

from mcp_secrets.backends.extras import concurrently
from mcp_secrets.errors import BackendError, SecretReferenceError
from mcp_secrets.refs import Reference, describe

_K = TypeVar("_K", bound=Hashable)


def _read_each(refs: Sequence[Reference], key: Callable[[Reference], _K],
               read: Callable[[_K], Any]) -> dict[_K, Any]:
    """`read` every distinct key once, concurrently; errors name the first reference."""
    first: dict[_K, Reference] = {}
    for ref in refs:
        first.setdefault(key(ref), ref)

    def one(k: _K) -> Any:
        try:
            return read(k)
        except BackendError as exc:
            raise SecretReferenceError(f"{describe(first[k])}: {exc}") from None

    keys = list(first)
    return dict(zip(keys, concurrently(one, keys), strict=True))


def _texts_or_fields(refs: Sequence[Reference], key: Callable[[Reference], _K],
                     read: Callable[[_K], str], what: Callable[[_K], str]) -> list[str]:
    """Each reference's secret text (each key read once), or, for a reference with ``#KEY``,
    that field of the text read as a JSON object (`what` names the secret in errors)."""
    texts = _read_each(refs, key, read)
    out = []
    for ref in refs:
        text = texts[key(ref)]
        if ref.fragment is None:
            out.append(text)
            continue
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        out.append(_pick(ref, data, ref.fragment, what(key(ref))))
    return out


def _only_query(ref: Reference, allowed: set[str]) -> None:
    extra = sorted(set(ref.query) - allowed)
    if extra:
        known = ", ".join(sorted(allowed)) or "none"
        raise SecretReferenceError(f"{describe(ref)}: unknown option(s) {', '.join(extra)} "
                                   f"(known: {known})")


def _pick(ref: Reference, data: Any, key: str | None, what: str) -> str:
    """Field `key` of `data` (a dict), as text; strings stay strings, other JSON is dumped."""
    if key is None:
        if isinstance(data, str):
            return data
        raise SecretReferenceError(f"{describe(ref)}: {what} holds several fields; name one "
                                   "after '#'")
    if not isinstance(data, dict):
        raise SecretReferenceError(f"{describe(ref)}: {what} is not a JSON object, so it has "
                                   f"no key {key!r}")
    if key not in data:
        names = ", ".join(sorted(str(k) for k in data)[:20]) or "none"
        raise SecretReferenceError(f"{describe(ref)}: {what} has no key {key!r} "
                                   f"(its keys: {names})")
    value = data[key]
    return value if isinstance(value, str) else json.dumps(value)


def _client(make: Callable[[], Any]) -> Any:
    try:
        return make()
    except BackendError as exc:
        raise SecretReferenceError(str(exc)) from None


# --------------------------------------------------------------------------- vault://


class VaultScheme:
    """``vault://MOUNT/PATH#KEY[?version=N]``: field KEY of KV v2 secret PATH on mount MOUNT."""

    def resolve_many(self, refs: Sequence[Reference]) -> list[str]:
        from mcp_secrets.backends import vault

        wanted: list[tuple[str, str, int | None]] = []
        for ref in refs:
            _only_query(ref, {"version"})
            if not ref.host or not ref.path or not ref.fragment:
                raise SecretReferenceError(f"{describe(ref)} is malformed: expected "
                                           "vault://MOUNT/PATH#KEY (e.g. vault://secret/app#token)")
            version = ref.query.get("version")
            if version is not None and not (version.isdigit() and int(version) > 0):
                raise SecretReferenceError(f"{describe(ref)}: version must be a positive "
                                           "whole number")
            wanted.append((ref.host, "/".join(ref.path), int(version) if version else None))
        client = _client(vault.make_client)

        def read(k: tuple[str, str, int | None]) -> Any:
            try:
                return vault.read(client, *k)
            except vault.NotFound:
                which = f"version {k[2]} of " if k[2] else ""
                raise BackendError(f"{which}secret {k[0]}/{k[1]} does not exist (or was "
                                   "deleted) in Vault/OpenBao") from None

        by_ref = dict(zip((r.text for r in refs), wanted, strict=True))
        data = _read_each(refs, lambda r: by_ref[r.text], read)
        return [_pick(r, data[by_ref[r.text]], r.fragment, f"secret {r.host}/"
                      f"{'/'.join(r.path)}") for r in refs]


# --------------------------------------------------------------------------- aws-sm://


def _aws_id(ref: Reference) -> str:
    """The secret name or ARN: everything between ``aws-sm://`` and ``?``/``#``."""
    body = ref.text[len("aws-sm://"):].split("#", 1)[0].split("?", 1)[0]
    from urllib.parse import unquote

    return unquote(body)


class AwsScheme:
    """``aws-sm://SECRET_ID[#JSON_KEY][?stage=AWSPREVIOUS|?version=ID]``."""

    def resolve_many(self, refs: Sequence[Reference]) -> list[str]:
        from mcp_secrets.backends import aws

        keys: dict[str, tuple[str, str | None, str | None]] = {}
        for ref in refs:
            _only_query(ref, {"stage", "version"})
            sid = _aws_id(ref)
            if not sid or sid.endswith("/"):
                raise SecretReferenceError(f"{describe(ref)} is malformed: expected "
                                           "aws-sm://SECRET_ID[#JSON_KEY]")
            if "stage" in ref.query and "version" in ref.query:
                raise SecretReferenceError(f"{describe(ref)}: give stage or version, not both")
            keys[ref.text] = (sid, ref.query.get("stage"), ref.query.get("version"))
        client = _client(aws.make_client)

        def read(k: tuple[str, str | None, str | None]) -> str:
            try:
                return aws.read(client, k[0], stage=k[1], version_id=k[2])
            except aws.NotFound:
                pin = f" at stage {k[1]}" if k[1] else f" version {k[2]}" if k[2] else ""
                raise BackendError(f"AWS secret {k[0]}{pin} does not exist") from None

        return _texts_or_fields(refs, lambda r: keys[r.text], read, lambda k: f"AWS secret {k[0]}")


# --------------------------------------------------------------------------- gcp-sm://


def gcp_version_name(ref: Reference) -> str:
    """``projects/P/secrets/S/versions/V`` (V defaults to ``latest``) from a reference."""
    parts = (ref.host, *ref.path)
    ok = (len(parts) in (4, 6) and parts[0] == "projects" and parts[2] == "secrets"
          and all(parts) and (len(parts) == 4 or parts[4] == "versions"))
    if not ok:
        raise SecretReferenceError(f"{describe(ref)} is malformed: expected "
                                   "gcp-sm://projects/P/secrets/S[/versions/V]")
    version = parts[5] if len(parts) == 6 else "latest"
    if not (version == "latest" or version.isdigit()):
        raise SecretReferenceError(f"{describe(ref)}: version must be a number or 'latest'")
    return f"projects/{parts[1]}/secrets/{parts[3]}/versions/{version}"


class GcpScheme:
    """``gcp-sm://projects/P/secrets/S[/versions/V][#JSON_KEY]``."""

    def resolve_many(self, refs: Sequence[Reference]) -> list[str]:
        from mcp_secrets.backends import gcp

        names = {}
        for ref in refs:
            _only_query(ref, set())
            names[ref.text] = gcp_version_name(ref)
        client = _client(gcp.make_client)

        def read(name: str) -> str:
            try:
                return gcp.read(client, name)
            except gcp.NotFound:
                raise BackendError(f"GCP secret version {name} does not exist") from None

        return _texts_or_fields(refs, lambda r: names[r.text], read, lambda n: f"GCP secret {n}")


# --------------------------------------------------------------------------- op://


class OnePasswordScheme:
    """``op://VAULT/ITEM/[SECTION/]FIELD``, through the same transports as OnePasswordStorage
    (the SDK with OP_SERVICE_ACCOUNT_TOKEN, else the `op` CLI). Fields are matched by label;
    a SECTION only documents where the field sits."""

    def resolve_many(self, refs: Sequence[Reference]) -> list[str]:
        from mcp_secrets.backends.onepassword import default_transport

        for ref in refs:
            _only_query(ref, set())
            if not ref.host or len(ref.path) not in (2, 3) or ref.fragment:
                raise SecretReferenceError(f"{describe(ref)} is malformed: expected "
                                           "op://VAULT/ITEM/[SECTION/]FIELD")
        transport = _client(default_transport)

        def read(k: tuple[str, str]) -> dict[str, Any]:
            item: dict[str, Any] | None = transport.get_item(*k)
            if item is None:
                raise BackendError(f"1Password has no item {k[1]!r} in vault {k[0]!r}")
            return item

        items = _read_each(refs, lambda r: (r.host, r.path[0]), read)
        return [_pick(r, items[(r.host, r.path[0])], r.path[-1],
                      f"1Password item {r.path[0]!r}") for r in refs]
