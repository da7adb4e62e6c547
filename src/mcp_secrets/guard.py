"""The output guard: secret values this process knows never leave it in a result or a log line.

A tool that returns, raises with, or logs its API key would hand it to the client (and so to a
model) or to whoever reads the logs. `secrets_manager.initialize(server)` turns the guard on:

* **Results**: the framework glue passes every tool result, resource read, prompt, error
  message and notification through `mask()` before it is sent. `mask()` walks str, bytes,
  list, tuple, dict, dataclasses and pydantic models (every MCP result type, FastMCP's own
  result types) and returns a copy with each value replaced by `masking.MARKER`; the object
  itself when there was nothing to hide.
* **Logs**: a log-record factory masks each record as it is made (message, args, traceback,
  stack), so every logger and handler in the process sees the masked record, including
  FastMCP's loggers, which do not propagate to the root logger, and handlers added later.

Which values: every value this process has read from a store or written to one
(`storage.handled_values`), for any server, since that is where a tool gets its secrets; a
deleted or rotated value stays on the list (a tool may still hold it). They are noted on the
store-read and write paths, never on the cached read, which stays as fast as before. Nothing is
read just to guard it: no keychain prompt, no audit "first read" for a secret no tool used.
The guard is process-wide, like the module-level `secrets_manager`.

Values shorter than `masking.MIN_LENGTH` characters are not masked (masking "1" everywhere
would mangle every result), nor is a value the tool transformed (base64, hashed, split): the
guard is a net, not a licence to return secrets.

This module knows no MCP types: the glue in `integrations/` decides where to call it.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

from mcp_secrets.masking import Masker
from mcp_secrets.storage import handled_count, handled_values

__all__ = [
    "active", "current_masker", "disable", "enable", "guard_notifications", "mask", "masked_error",
]

_T = TypeVar("_T")

_enabled = False
#: (how many values it was built from, the masker): rebuilt only when a value was added.
_built: tuple[int, Masker] = (0, Masker(()))
_factory_installed = False


def enable() -> None:
    """Turn the guard on for this process (idempotent): results via `mask()`, logs at once."""
    global _enabled
    _install_record_factory()
    _enabled = True


def disable() -> None:
    """Turn the guard off: `mask()` returns its argument and log records pass unchanged."""
    global _enabled
    _enabled = False


def active() -> bool:
    return _enabled


def current_masker() -> Masker | None:
    """The masker of every value known now, or None when the guard is off or knows nothing."""
    global _built
    if not _enabled:
        return None
    count, masker = _built
    n = handled_count()
    if n != count:
        masker = Masker(handled_values())
        _built = (n, masker)
    return masker if masker else None


def mask(obj: _T, masker: Masker | None = None) -> _T:
    """`obj` with every known value replaced by the marker, as a copy; `obj` itself when there
    was nothing to hide or the guard is off. `obj` is never changed in place.

    Handles str (raw and JSON-escaped forms), bytes, list, tuple, dict (keys too), dataclasses
    and pydantic models (fields, extra fields, private attributes): CallToolResult,
    TextContent, EmbeddedResource, TextResourceContents, GetPromptResult, notifications,
    structured content, FastMCP's ToolResult/ResourceResult/PromptResult. Other objects pass
    unchanged.
    """
    m = current_masker() if masker is None else masker
    if not m or _clean(obj, m):
        return obj
    new, changed = _walk(obj, m)
    return new if changed else obj


def masked_error(exc: BaseException,
                 fallback: Callable[[str], BaseException] = RuntimeError) -> BaseException | None:
    """None when `exc`'s message and args hold no known value; else a new exception with them
    masked: the same type rebuilt from masked args when that works, else `fallback(message)`.
    Raise it ``from None``: the original's chain still holds the value."""
    m = current_masker()
    if not m:
        return None
    text = _safe_str(exc)
    args, args_changed = _walk(exc.args, m)
    masked_text = m.mask_string(text)
    if not args_changed and masked_text == text:
        return None
    try:
        new = type(exc)(*args)
        if m.mask_string(_safe_str(new)) != _safe_str(new):
            raise ValueError("rebuilt error still holds a value")
    except Exception:
        new = fallback(masked_text)
    return new


def guard_notifications(ctx: Any) -> None:
    """Mask what `ctx.info()`/`ctx.report_progress()` send the client: in FastMCP and the
    official SDK alike every notification of a session passes through its `_notify`, wrapped
    here once per session (a context outside a request has no session: nothing to do)."""
    try:
        session = ctx.session if ctx is not None else None
    except Exception:
        return
    notify = getattr(session, "_notify", None)
    if session is None or notify is None or getattr(notify, "mcp_secrets_guarded", False):
        return

    async def guarded_notify(notification: Any, *args: Any, **kwargs: Any) -> None:
        await notify(mask(notification), *args, **kwargs)

    guarded_notify.mcp_secrets_guarded = True  # type: ignore[attr-defined]
    session._notify = guarded_notify


# ------------------------------------------------------------------------------ walking


def _clean(obj: Any, m: Masker) -> bool:
    """True when `obj` surely holds no value: one search of its JSON form, which is what goes on
    the wire (pydantic-core's encoder: ~10 us for 2 KB, against ~70 us to walk it in Python),
    for a part of each value that survives any depth of JSON escaping. False means "walk it":
    a value may be there, or the object has no JSON form, or it keeps private attributes
    (FastMCP sends a proxied ToolResult's private wire copy)."""
    if isinstance(obj, str):
        return not m.finds(obj)
    private = getattr(obj, "__pydantic_private__", None)
    if private and any(v is not None for v in private.values()):
        return False
    try:
        from pydantic_core import to_json

        blob = to_json(obj)
    except Exception:  # no pydantic, or something it cannot encode: walk it instead
        return False
    return not m.may_hold(blob)



def _walk(obj: Any, m: Masker) -> tuple[Any, bool]:
    """(masked obj, whether anything changed); unchanged parts are shared, not copied."""
    if isinstance(obj, str):
        if not m.finds(obj):
            return obj, False
        return m.mask_string(obj), True
    if isinstance(obj, (bytes, bytearray)):
        masked = m.mask_bytes(bytes(obj))
        return (masked, True) if masked != obj else (obj, False)
    if isinstance(obj, (list, tuple)):
        items, changed = _walk_items(obj, m)
        if not changed:
            return obj, False
        return (items if isinstance(obj, list) else tuple(items)), True
    if isinstance(obj, dict):
        return _walk_dict(obj, m)
    if getattr(type(obj), "__pydantic_fields__", None) is not None:
        return _walk_model(obj, m)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return _walk_dataclass(obj, m)
    return obj, False


def _walk_items(items: Any, m: Masker) -> tuple[list[Any], bool]:
    out = []
    changed = False
    for item in items:
        new, c = _walk(item, m)
        out.append(new)
        changed |= c
    return out, changed


def _walk_dict(obj: dict[Any, Any], m: Masker) -> tuple[Any, bool]:
    out: dict[Any, Any] | None = None  # built from the first change on
    for i, (key, value) in enumerate(obj.items()):
        new_key, c1 = _walk(key, m)
        new, c2 = _walk(value, m)
        if (c1 or c2) and out is None:
            out = dict(list(obj.items())[:i])
        if out is not None:
            out[new_key] = new
    return (out, True) if out is not None else (obj, False)


def _walk_model(obj: Any, m: Masker) -> tuple[Any, bool]:
    """A pydantic model: its fields, extra fields and private attributes, masked in a shallow
    copy (FastMCP's ToolResult keeps the wire result of a proxied call in a private one)."""
    fields, f_changed = _walk_dict(obj.__dict__, m)
    extra = getattr(obj, "__pydantic_extra__", None)
    extra_new, e_changed = _walk_dict(extra, m) if extra else (extra, False)
    private = getattr(obj, "__pydantic_private__", None)
    private_new, p_changed = _walk_dict(private, m) if private else (private, False)
    if not (f_changed or e_changed or p_changed):
        return obj, False
    new = obj.model_copy()
    if f_changed:
        new.__dict__.update(fields)
    if e_changed:
        object.__setattr__(new, "__pydantic_extra__", extra_new)
    if p_changed:
        object.__setattr__(new, "__pydantic_private__", private_new)
    return new, True


def _walk_dataclass(obj: Any, m: Masker) -> tuple[Any, bool]:
    """A dataclass instance (FastMCP's LogData, say): a shallow copy with its fields masked."""
    changes = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        new, changed = _walk(value, m)
        if changed:
            changes[f.name] = new
    if not changes:
        return obj, False
    new_obj = copy.copy(obj)
    for name, value in changes.items():
        object.__setattr__(new_obj, name, value)  # frozen dataclasses too
    return new_obj, True


def _safe_str(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:
        return type(exc).__name__


# ------------------------------------------------------------------------------ logging


def _install_record_factory() -> None:
    """Wrap the process's log-record factory once. A factory, not a filter on some handlers:
    it sees records of every logger (FastMCP's own do not propagate to the root), reaches
    handlers added later, and costs nothing for records below a logger's level."""
    global _factory_installed
    if _factory_installed:
        return
    make = logging.getLogRecordFactory()

    def guarded_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make(*args, **kwargs)
        if _enabled:
            masker = current_masker()
            if masker:
                _mask_record(record, masker)
        return record

    logging.setLogRecordFactory(guarded_record)
    _factory_installed = True


def _mask_record(record: logging.LogRecord, m: Masker) -> None:
    """Mask one record in place: the formatted message and any traceback. A record holding no
    value is left exactly as it was (msg and args intact for structured handlers)."""
    try:
        message = record.getMessage()
    except Exception:  # a bad format string: logging would print msg and args as they are
        message = f"{record.msg} {record.args!r}"
    masked = m.mask_string(message)
    leaked = masked != message
    if record.exc_info and record.exc_info[0] is not None:
        text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        masked_tb = m.mask_string(text)
        if masked_tb != text:
            # The traceback goes into the message: handlers that render exc_info themselves
            # (rich tracebacks) would otherwise show the unmasked exception.
            masked = f"{masked}\n{masked_tb}"
            record.exc_info = None
            record.exc_text = None
            leaked = True
    if leaked:
        record.msg = masked
        record.args = ()
    if record.stack_info:
        record.stack_info = m.mask_string(record.stack_info)
    # Not `extra=` fields: Logger.makeRecord sets them after the factory returns.
