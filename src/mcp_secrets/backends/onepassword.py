"""1Password transports for `OnePasswordStorage`: the `op` CLI, or the official SDK.

An item (addressed by vault + title) is a dict of fields. Mapping, both ways:

* a ``str`` value is a concealed field whose label is the dict key;
* any other JSON value (number, bool, null, list, dict) is a concealed field holding its JSON,
  placed in the section ``mcp-secrets JSON`` so it is decoded on the way back — so dicts
  round-trip exactly, and items made by hand (Login, API Credential…) read as plain strings;
* items we write carry the tag ``mcp-secrets/<name>``, which `list()` filters on.

Secret values never go in argv nor in any file: the CLI gets the item template through a
pipe on its stdin (a temp file, however private, outlives a process killed mid-save). The SDK
gets them in-process.

No 1Password account is reachable where this was written: the CLI path is tested against a
*fake* ``op`` (tests/fake_op/op), the SDK path against a *fake* SDK client (tests) and the
real SDK's offline edges (a malformed token).
"""

from __future__ import annotations

import abc
import asyncio
import hashlib
import json
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, TypeVar

from mcp_secrets import config
from mcp_secrets.errors import BackendError
from mcp_secrets.paths import ForkSafeLock

ENV_TOKEN = config.OP_TOKEN.name
JSON_SECTION_ID = "mcp_secrets_json"
JSON_SECTION_LABEL = "mcp-secrets JSON"
CLI_TIMEOUT = 120.0  # `op` may wait for a biometric unlock
_NOT_FOUND = re.compile(r"isn't an item|not found|no item", re.IGNORECASE)
_SIGNED_OUT = re.compile(r"not (currently )?signed in|no accounts configured|sign ?in", re.I)

T = TypeVar("T")


def tag_for(name: str) -> str:
    return f"mcp-secrets/{name}"


def encode_fields(value: Mapping[str, Any]) -> list[tuple[str, str, bool]]:
    """(label, text, is_json) for each dict entry; strings stay strings."""
    out = []
    for label, v in value.items():
        if isinstance(v, str):
            out.append((label, v, False))
        else:
            out.append((label, json.dumps(v, ensure_ascii=False, allow_nan=False), True))
    return out


def decode_field(text: str, is_json: bool, label: str, item: str) -> Any:
    if not is_json:
        return text
    try:
        return json.loads(text)
    except ValueError:
        raise BackendError(
            f"1Password item {item!r}: field {label!r} is in the {JSON_SECTION_LABEL!r} section "
            "but does not hold JSON"
        ) from None


def _scrub(text: str, values: list[str]) -> str:
    """A one-line, bounded excerpt of a tool's message with any known value removed."""
    for v in sorted(values, key=len, reverse=True):
        if v:
            text = text.replace(v, "***")
    line = " ".join(text.split())
    return line[:300]


class OnePasswordTransport(abc.ABC):
    """Item-level operations on one vault; values are field dicts."""

    name: str = "abstract"

    @abc.abstractmethod
    def get_item(self, vault: str, title: str) -> dict[str, Any] | None: ...

    @abc.abstractmethod
    def save_item(self, vault: str, title: str, value: Mapping[str, Any], tag: str) -> None: ...

    @abc.abstractmethod
    def delete_item(self, vault: str, title: str) -> bool: ...

    @abc.abstractmethod
    def list_items(self, vault: str, tag: str) -> list[str]: ...


# --------------------------------------------------------------------------- op CLI


def _fields_from_cli_item(item: Any, title: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in item.get("fields", []) if isinstance(item, dict) else []:
        if not isinstance(f, dict) or "value" not in f or not isinstance(f.get("value"), str):
            continue
        label = f.get("label") or f.get("id")
        if not isinstance(label, str) or not label:
            continue
        if f.get("purpose") == "NOTES" and not f["value"]:
            continue
        section = f.get("section")
        is_json = isinstance(section, dict) and section.get("id") == JSON_SECTION_ID
        out[label] = decode_field(f["value"], is_json, label, title)
    return out


class OpCLI(OnePasswordTransport):
    """The 1Password CLI (`op` v2). Uses whatever session or account `op` itself has."""

    name = "op-cli"

    def __init__(self, op_path: str | None = None) -> None:
        self._op_path = op_path

    def _binary(self) -> str:
        found = self._op_path or shutil.which("op")
        if not found:
            raise BackendError(
                "the 1Password CLI `op` is not on PATH: install it "
                "(https://developer.1password.com/docs/cli/get-started/) and run `op signin`, "
                f"or set {ENV_TOKEN} to use the 1Password SDK "
                "(pip install 'mcp-secrets[onepassword]')"
            )
        return found

    def _run(self, args: list[str], *, what: str,
             stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run `op`; `stdin` (an item template holding values) goes through a pipe, never a
        file or argv, so a kill at any moment leaves no copy of a value behind."""
        from mcp_secrets import config
        from mcp_secrets.children import child_environ

        try:
            proc = subprocess.run(
                [self._binary(), *args], capture_output=True, text=True, input=stdin,
                stdin=subprocess.DEVNULL if stdin is None else None,
                timeout=CLI_TIMEOUT, check=False, env=child_environ(keep=(config.OP_TOKEN,)),
            )
        except subprocess.TimeoutExpired:
            raise BackendError(
                f"1Password CLI timed out after {CLI_TIMEOUT:.0f} s ({what})"
            ) from None
        except OSError as exc:
            raise BackendError(
                f"cannot run the 1Password CLI: {exc.strerror or type(exc).__name__}"
            ) from None
        return proc

    def _fail(
        self, proc: subprocess.CompletedProcess[str], what: str, scrub: list[str]
    ) -> BackendError:
        message = _scrub(proc.stderr or proc.stdout or "", scrub)
        if _SIGNED_OUT.search(message):
            return BackendError(
                f"1Password CLI is not signed in ({what}): run `op signin`, or set {ENV_TOKEN} "
                "for a service account"
            )
        return BackendError(f"1Password CLI failed to {what} (exit {proc.returncode}): {message}")

    def get_item(self, vault: str, title: str) -> dict[str, Any] | None:
        what = f"read item {title!r} in vault {vault!r}"
        proc = self._run(["item", "get", title, "--vault", vault, "--format", "json"], what=what)
        if proc.returncode != 0:
            if _NOT_FOUND.search(proc.stderr or ""):
                return None
            raise self._fail(proc, what, [])
        try:
            item = json.loads(proc.stdout)
        except ValueError:
            raise BackendError(f"1Password CLI returned non-JSON output ({what})") from None
        return _fields_from_cli_item(item, title)

    def _exists(self, vault: str, title: str) -> bool:
        what = f"look up item {title!r} in vault {vault!r}"
        proc = self._run(["item", "get", title, "--vault", vault, "--format", "json"], what=what)
        if proc.returncode == 0:
            return True
        if _NOT_FOUND.search(proc.stderr or ""):
            return False
        raise self._fail(proc, what, [])

    def save_item(self, vault: str, title: str, value: Mapping[str, Any], tag: str) -> None:
        encoded = encode_fields(value)
        fields: list[dict[str, Any]] = []
        for label, text, is_json in encoded:
            field: dict[str, Any] = {
                "id": label, "label": label, "type": "CONCEALED", "value": text,
            }
            if is_json:
                field["section"] = {"id": JSON_SECTION_ID, "label": JSON_SECTION_LABEL}
            fields.append(field)
        document: dict[str, Any] = {
            "title": title,
            "category": "SECURE_NOTE",
            "tags": [tag],
            "fields": fields,
        }
        if any(is_json for _, _, is_json in encoded):
            document["sections"] = [{"id": JSON_SECTION_ID, "label": JSON_SECTION_LABEL}]
        scrub = [text for _, text, _ in encoded]
        exists = self._exists(vault, title)
        what = f"{'edit' if exists else 'create'} item {title!r} in vault {vault!r}"
        # `op` reads an item template piped on stdin (create and edit alike).
        args = (["item", "edit", title, "--vault", vault] if exists
                else ["item", "create", "--vault", vault])
        proc = self._run([*args, "--format", "json"], what=what,
                         stdin=json.dumps(document, ensure_ascii=False))
        if proc.returncode != 0:
            raise self._fail(proc, what, scrub)

    def delete_item(self, vault: str, title: str) -> bool:
        what = f"delete item {title!r} in vault {vault!r}"
        proc = self._run(["item", "delete", title, "--vault", vault], what=what)
        if proc.returncode == 0:
            return True
        if _NOT_FOUND.search(proc.stderr or ""):
            return False
        raise self._fail(proc, what, [])

    def list_items(self, vault: str, tag: str) -> list[str]:
        what = f"list items in vault {vault!r}"
        proc = self._run(
            ["item", "list", "--vault", vault, "--tags", tag, "--format", "json"], what=what
        )
        if proc.returncode != 0:
            raise self._fail(proc, what, [])
        try:
            items = json.loads(proc.stdout or "[]")
        except ValueError:
            raise BackendError(f"1Password CLI returned non-JSON output ({what})") from None
        return sorted(
            i["title"]
            for i in items or []
            if isinstance(i, dict) and isinstance(i.get("title"), str)
        )


# --------------------------------------------------------------------------- SDK


class _LoopThread:
    """One event loop on a daemon thread, for the life of an `OnePasswordSDK`: the SDK's
    client is bound to the loop it was made on, so every call must run there. Sync callers
    (even ones inside a running event loop) submit coroutines and wait for the result."""

    def __init__(self) -> None:
        self._pid = -1
        self._loop: asyncio.AbstractEventLoop | None = None
        self._guard = ForkSafeLock()

    def run(self, factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
        return asyncio.run_coroutine_threadsafe(factory(), self._ensure()).result()

    def _ensure(self) -> asyncio.AbstractEventLoop:
        with self._guard:
            if self._loop is None or self._pid != os.getpid():  # a forked child has no thread
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="mcp-secrets-1password",
                                 daemon=True).start()
                self._loop, self._pid = loop, os.getpid()
            return self._loop


class OnePasswordSDK(OnePasswordTransport):
    """The official `onepassword-sdk` with a service-account token (reads and writes).

    One client, authenticated on first use and kept for the life of this object, on one
    background event loop: authenticating costs a round trip to 1Password, so doing it (and
    starting an event loop) per call made every read pay for it. A failed authentication is
    not kept, so a fixed token works on the next call.

    Untested against a live account here: the suite drives it with a FAKE SDK client.
    """

    name = "op-sdk"

    def __init__(self, token: str) -> None:
        try:
            import onepassword  # noqa: F401
        except ImportError:
            raise BackendError(
                f"{ENV_TOKEN} is set but the 1Password SDK is not installed: "
                "pip install 'mcp-secrets[onepassword]' (or unset the token to use the `op` CLI)"
            ) from None
        self._token = token
        self._loop = _LoopThread()
        self._client_obj: Any = None

    def __repr__(self) -> str:
        return "<OnePasswordSDK service-account token=***>"

    def _sdk_error(self, exc: BaseException, what: str) -> BackendError:
        return BackendError(f"1Password SDK could not {what}: {_scrub(str(exc), [self._token])}")

    async def _client(self) -> Any:
        # Only ever runs on our one loop thread, one coroutine at a time up to the await:
        # concurrent first calls may both authenticate once; the last one is kept.
        if self._client_obj is None:
            from onepassword.client import Client

            from mcp_secrets import __version__

            self._client_obj = await Client.authenticate(self._token, "mcp-secrets", __version__)
        return self._client_obj

    def _call(self, what: str, body: Callable[[Any], Coroutine[Any, Any, T]]) -> T:
        async def run() -> T:
            client = await self._client()
            return await body(client)

        try:
            return self._loop.run(run)
        except BackendError:
            raise
        except Exception as exc:
            raise self._sdk_error(exc, what) from None

    @staticmethod
    async def _vault_id(client: Any, vault: str) -> str:
        for v in await client.vaults.list():
            if vault in (v.id, v.title):
                return str(v.id)
        raise BackendError(f"1Password vault {vault!r} is not visible to this service account")

    @staticmethod
    async def _item_id(client: Any, vault_id: str, title: str) -> str | None:
        for item in await client.items.list(vault_id):
            if title in (item.id, item.title):
                return str(item.id)
        return None

    def get_item(self, vault: str, title: str) -> dict[str, Any] | None:
        async def body(client: Any) -> dict[str, Any] | None:
            vid = await self._vault_id(client, vault)
            iid = await self._item_id(client, vid, title)
            if iid is None:
                return None
            item = await client.items.get(vid, iid)
            return {
                f.title: decode_field(f.value, f.section_id == JSON_SECTION_ID, f.title, title)
                for f in item.fields
                if f.title
            }

        return self._call(f"read item {title!r} in vault {vault!r}", body)

    def save_item(self, vault: str, title: str, value: Mapping[str, Any], tag: str) -> None:
        from onepassword.types import (
            ItemCategory,
            ItemCreateParams,
            ItemField,
            ItemFieldType,
            ItemSection,
        )

        encoded = encode_fields(value)
        fields = [
            ItemField(id=label, title=label, section_id=JSON_SECTION_ID if is_json else None,
                      field_type=ItemFieldType.CONCEALED, value=text)
            for label, text, is_json in encoded
        ]
        sections = (
            [ItemSection(id=JSON_SECTION_ID, title=JSON_SECTION_LABEL)]
            if any(j for _, _, j in encoded) else []
        )

        async def body(client: Any) -> None:
            vid = await self._vault_id(client, vault)
            iid = await self._item_id(client, vid, title)
            if iid is None:
                await client.items.create(ItemCreateParams(
                    category=ItemCategory.SECURENOTE, vault_id=vid, title=title,
                    fields=fields, sections=sections, tags=[tag],
                ))
                return
            item = await client.items.get(vid, iid)
            item.fields = fields
            item.sections = sections
            if tag not in item.tags:
                item.tags = [*item.tags, tag]
            await client.items.put(item)

        try:
            self._call(f"save item {title!r} in vault {vault!r}", body)
        except BackendError as exc:
            raise BackendError(_scrub(str(exc), [t for _, t, _ in encoded])) from None

    def delete_item(self, vault: str, title: str) -> bool:
        async def body(client: Any) -> bool:
            vid = await self._vault_id(client, vault)
            iid = await self._item_id(client, vid, title)
            if iid is None:
                return False
            await client.items.delete(vid, iid)
            return True

        return self._call(f"delete item {title!r} in vault {vault!r}", body)

    def list_items(self, vault: str, tag: str) -> list[str]:
        async def body(client: Any) -> list[str]:
            vid = await self._vault_id(client, vault)
            return sorted(i.title for i in await client.items.list(vid) if tag in i.tags)

        return self._call(f"list items in vault {vault!r}", body)


#: One SDK transport (so one authenticated client) per token for the whole process, keyed by
#: the token's digest so the dict holds no token.
_sdk_transports: dict[bytes, OnePasswordSDK] = {}


def default_transport(op_path: str | None = None) -> OnePasswordTransport:
    """The SDK when a service-account token is set (shared by every store using that token),
    else the `op` CLI."""
    token = config.OP_TOKEN.get()
    if token:
        key = hashlib.sha256(token.encode("utf-8")).digest()
        found = _sdk_transports.get(key)
        return found if found is not None else _sdk_transports.setdefault(
            key, OnePasswordSDK(token))
    return OpCLI(op_path)
