"""Secret references: a string such as ``mcp-secrets://github/token`` that stands for a value
kept in a store, so a config file can hold the reference and never the value.

One resolver serves `mcp-secrets run`, the library and the proxy::

    from mcp_secrets.refs import resolve
    token = resolve("mcp-secrets://github/token")

Each scheme is a `Scheme` registered here by name. Built-in schemes are registered as
"module:attribute" strings and imported only when a reference of that scheme is resolved, so a
cloud SDK is never imported by a process that does not use it. A third-party scheme plugs in
through the ``mcp_secrets.schemes`` entry-point group (or `register()`), without editing us.

Errors name the reference and, when given, the variable it was for; never a value.
"""

from __future__ import annotations

import functools
import importlib
import re
from collections.abc import Mapping, Sequence
from typing import NamedTuple, Protocol

from mcp_secrets.errors import SecretReferenceError


class Reference(NamedTuple):
    """A parsed reference. ``path`` segments and the fragment are percent-decoded.

    (A NamedTuple, not a dataclass: `dataclasses` costs a launch through `run` an import.)"""

    text: str  # the reference as written (holds no value, so it is safe to show)
    scheme: str
    host: str
    path: tuple[str, ...]
    query: Mapping[str, str]
    fragment: str | None
    var: str | None = None  # the variable (or other label) this reference is for, for errors

    def __str__(self) -> str:
        return self.text


class Scheme(Protocol):
    """What a store does to turn references into values.

    `resolve_many` gets every reference of this scheme from one call of `resolve_all`, so a
    scheme that talks to a server can reuse one client and run the reads concurrently.
    It returns values in the same order, or raises SecretReferenceError naming the reference.
    """

    def resolve_many(self, refs: Sequence[Reference]) -> list[str]: ...


_BUILTIN: dict[str, str] = {
    "mcp-secrets": "mcp_secrets.refs_local:LocalScheme",
    "env": "mcp_secrets.refs_local:EnvScheme",
    "vault": "mcp_secrets.refs_team:VaultScheme",
    "aws-sm": "mcp_secrets.refs_team:AwsScheme",
    "gcp-sm": "mcp_secrets.refs_team:GcpScheme",
    "op": "mcp_secrets.refs_team:OnePasswordScheme",
}
_LOADED: dict[str, Scheme] = {}
_ENTRY_POINT_GROUP = "mcp_secrets.schemes"


def register(name: str, scheme: Scheme | str) -> None:
    """Make `name://…` references resolvable: a Scheme object, or "module:attr" to import lazily."""
    if name in URL_SCHEMES or not _SCHEME_RE.fullmatch(name):
        raise ValueError(f"{name!r} cannot be a reference scheme (lowercase, not a URL scheme)")
    if isinstance(scheme, str):
        _BUILTIN[name] = scheme
        _LOADED.pop(name, None)
    else:
        _LOADED[name] = scheme


def known_schemes() -> list[str]:
    return sorted({*_BUILTIN, *_LOADED, *_entry_points()})


_SCHEME_RE = re.compile(r"[a-z][a-z0-9+.-]{0,31}")
#: Ordinary URL schemes are never secret references. Environments are full of such URLs
#: (proxies, databases, endpoints); ruling them out here means `run` never scans installed
#: packages for a plugin scheme because of one, and no plugin can claim them.
URL_SCHEMES = frozenset({
    "http", "https", "ws", "wss", "ftp", "ftps", "sftp", "ssh", "git", "file", "data", "unix",
    "tcp", "udp", "grpc", "grpcs", "postgres", "postgresql", "mysql", "mariadb", "redis",
    "rediss", "mongodb", "mongodb+srv", "amqp", "amqps", "nats", "kafka", "sqlite", "ldap",
    "ldaps", "s3", "gs", "mailto", "smtp", "smtps", "imap", "imaps",
})


def is_reference(text: str) -> bool:
    """True when `text` looks like a reference of a scheme we know (``scheme://…``)."""
    scheme, sep, _ = text.partition("://")
    if not sep or scheme in URL_SCHEMES or not _SCHEME_RE.fullmatch(scheme):
        return False
    # Installed plugins are looked up only for a scheme that is not built in.
    return scheme in _BUILTIN or scheme in _LOADED or scheme in _entry_points()


def parse(text: str, *, var: str | None = None) -> Reference:
    """Split a reference into its parts; SecretReferenceError if it is not one.

    Malformed input is never quoted back unless it is certainly a reference of a known scheme
    (a reference names a secret; it holds none), since a value may have been pasted by mistake.
    """
    label = var or "the reference"
    if not isinstance(text, str) or "://" not in text:  # may be a value: never echo it
        raise SecretReferenceError(f"{label} is not a reference (expected scheme://…)")
    scheme = text.partition("://")[0]
    if not is_reference(text):
        shown = repr(scheme) if _SCHEME_RE.fullmatch(scheme) else "(not shown)"
        raise SecretReferenceError(
            f"{label} uses the unknown scheme {shown}; known: {', '.join(known_schemes())}"
        )
    if any(ch.isspace() or not ch.isprintable() for ch in text):
        raise SecretReferenceError(
            f"{label}: the reference contains spaces or control characters; percent-encode "
            "them (a space is %20)"
        )
    where = f"{var} ({text})" if var else text
    try:
        rest, hashed, fragment_text = text.partition("://")[2].partition("#")
        rest, asked, query_text = rest.partition("?")
        netloc, slashed, path_text = rest.partition("/")
        host = _unquote(netloc)
        path = tuple(_unquote(p) for p in path_text.split("/")) if slashed else ()
        query = _query(query_text) if asked else {}
        fragment = _unquote(fragment_text) if hashed else None
    except ValueError:  # UnicodeDecodeError included
        raise SecretReferenceError(f"{where} is malformed (bad percent-encoding, or a repeated "
                                   "or empty query parameter)") from None
    return Reference(text=text, scheme=scheme, host=host, path=path, query=query,
                     fragment=fragment, var=var)


_PERCENT = re.compile(rb"%([0-9A-Fa-f]{2})")


def _unquote(text: str) -> str:
    """Percent-decoding that refuses anything but %XX forming UTF-8 (urllib lets it pass)."""
    if "%" not in text:
        return text
    data = text.encode("utf-8")
    if data.count(b"%") != len(_PERCENT.findall(data)):
        raise ValueError("a % not followed by two hex digits")
    return _PERCENT.sub(lambda m: bytes([int(m.group(1), 16)]), data).decode("utf-8")


def _query(text: str) -> dict[str, str]:
    """``k=v&k2=v2`` (a ``+`` is a space, as in a form): every pair needs ``=``, none twice."""
    out: dict[str, str] = {}
    for pair in text.split("&"):
        key, eq, value = pair.partition("=")
        if not eq or not key:
            raise ValueError("a query parameter without a name or '='")
        key, value = _unquote(key.replace("+", " ")), _unquote(value.replace("+", " "))
        if key in out:
            raise ValueError("a query parameter is repeated")
        out[key] = value
    return out


def resolve(ref: str, *, var: str | None = None) -> str:
    """The value `ref` stands for. Raises SecretReferenceError (never holding a value)."""
    return resolve_all({var or ref: ref})[var or ref]


def resolve_all(refs: Mapping[str, str]) -> dict[str, str]:
    """Resolve many references at once: ``{label: reference}`` → ``{label: value}``.

    Labels are what errors name (usually the variable the reference is for). References of one
    scheme go to that scheme in one call. All or nothing: any failure raises, nothing returned.
    """
    parsed = {label: parse(text, var=label) for label, text in refs.items()}
    by_scheme: dict[str, list[tuple[str, Reference]]] = {}
    for label, ref in parsed.items():
        by_scheme.setdefault(ref.scheme, []).append((label, ref))
    out: dict[str, str] = {}
    for name, items in by_scheme.items():
        values = _scheme(name).resolve_many([r for _, r in items])
        if len(values) != len(items):
            raise SecretReferenceError(f"the {name}:// resolver returned {len(values)} values "
                                       f"for {len(items)} references")
        out.update({label: v for (label, _), v in zip(items, values, strict=True)})
    from mcp_secrets import audit

    audit.resolved(parsed)
    return out


def _scheme(name: str) -> Scheme:
    loaded = _LOADED.get(name)
    if loaded is not None:
        return loaded
    target = _BUILTIN.get(name) or _entry_points().get(name)
    if target is None:
        raise SecretReferenceError(f"no resolver for {name}:// references")
    module, _, attr = target.partition(":")
    scheme: Scheme = getattr(importlib.import_module(module), attr)()
    _LOADED[name] = scheme
    return scheme


@functools.cache
def _entry_points() -> dict[str, str]:
    from importlib.metadata import entry_points

    return {ep.name: ep.value for ep in entry_points(group=_ENTRY_POINT_GROUP)
            if ep.name not in URL_SCHEMES}


def describe(ref: Reference) -> str:
    """How an error names a reference: ``VAR (mcp-secrets://s/k)`` — a reference holds no value."""
    return f"{ref.var} ({ref.text})" if ref.var and ref.var != ref.text else ref.text
