"""Where each MCP client keeps its server list, on each OS, and in what shape: one table.

`scan` and `migrate` read this table and nothing else to find configs. A path template may use
``~`` (the home directory), ``{config}`` (``$XDG_CONFIG_HOME`` or ``~/.config``), ``{appdata}``
(Windows ``%APPDATA%``), ``{appsupport}`` (``~/Library/Application Support``) and glob patterns.
``project`` paths are relative to a project directory (the current one by default).

``servers`` names where the server entries sit inside the document: a dotted key path whose
``*`` matches every key at that level (``projects.*.mcpServers`` in ``~/.claude.json``), or
``.`` for a file that is itself one entry named after the file (Continue's JSON blocks).
"""

from __future__ import annotations

import glob
import os
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

OSName = str  # "macos" | "windows" | "linux"
OSES: tuple[OSName, ...] = ("macos", "windows", "linux")


@dataclass(frozen=True)
class Location:
    client: str
    fmt: str  # "json", "jsonc", "toml" or "yaml"
    servers: tuple[str, ...]  # key paths of the server containers (see the module docstring)
    user: Mapping[OSName, tuple[str, ...]]  # per-OS path templates
    project: tuple[str, ...] = ()


def _every_os(*paths: str) -> dict[OSName, tuple[str, ...]]:
    return dict.fromkeys(OSES, paths)


def _editor_dirs(*tails: str) -> dict[OSName, tuple[str, ...]]:
    """Paths inside the user dir of VS Code and its forks (extensions run in all of them)."""
    apps = ("Code", "Code - Insiders", "VSCodium", "Cursor", "Windsurf")
    roots = {"macos": "{appsupport}", "windows": "{appdata}", "linux": "{config}"}
    return {os_: tuple(f"{root}/{app}/User/{tail}" for app in apps for tail in tails)
            for os_, root in roots.items()}


MCP = ("mcpServers",)

LOCATIONS: tuple[Location, ...] = (
    Location("Claude Desktop", "json", MCP, {
        "macos": ("{appsupport}/Claude/claude_desktop_config.json",),
        "windows": ("{appdata}/Claude/claude_desktop_config.json",),
        "linux": ("{config}/Claude/claude_desktop_config.json",),
    }),
    Location("Claude Code", "json", ("mcpServers", "projects.*.mcpServers"),
             _every_os("~/.claude.json")),
    Location("Claude Code", "json", MCP, {}, project=(".mcp.json",)),
    Location("Cursor", "json", MCP, _every_os("~/.cursor/mcp.json"), project=(".cursor/mcp.json",)),
    Location("VS Code", "jsonc", ("servers",), {
        "macos": ("{appsupport}/Code/User/mcp.json", "{appsupport}/Code/User/profiles/*/mcp.json",
                  "{appsupport}/Code - Insiders/User/mcp.json"),
        "windows": ("{appdata}/Code/User/mcp.json", "{appdata}/Code/User/profiles/*/mcp.json",
                    "{appdata}/Code - Insiders/User/mcp.json"),
        "linux": ("{config}/Code/User/mcp.json", "{config}/Code/User/profiles/*/mcp.json",
                  "{config}/Code - Insiders/User/mcp.json"),
    }, project=(".vscode/mcp.json",)),
    Location("Windsurf", "json", MCP, _every_os("~/.codeium/windsurf/mcp_config.json")),
    Location("Zed", "jsonc", ("context_servers",), {
        "macos": ("~/.config/zed/settings.json",),
        "windows": ("{appdata}/Zed/settings.json",),
        "linux": ("{config}/zed/settings.json",),
    }, project=(".zed/settings.json",)),
    Location("Cline", "json", MCP, {
        os_: (*paths, "~/.cline/data/settings/cline_mcp_settings.json")
        for os_, paths in _editor_dirs(
            "globalStorage/saoudrizwan.claude-dev/settings/cline_mcp_settings.json").items()
    }),
    Location("Roo Code", "json", MCP,
             _editor_dirs("globalStorage/rooveterinaryinc.roo-cline/settings/mcp_settings.json"),
             project=(".roo/mcp.json",)),
    Location("Continue", "yaml", MCP, _every_os("~/.continue/config.yaml")),
    Location("Continue", "yaml", MCP,
             _every_os("~/.continue/mcpServers/*.yaml", "~/.continue/mcpServers/*.yml"),
             project=(".continue/mcpServers/*.yaml", ".continue/mcpServers/*.yml")),
    Location("Continue", "json", ("mcpServers", "."), _every_os("~/.continue/mcpServers/*.json"),
             project=(".continue/mcpServers/*.json",)),
    Location("Codex CLI", "toml", ("mcp_servers",), _every_os("~/.codex/config.toml"),
             project=(".codex/config.toml",)),
    Location("Gemini CLI", "json", MCP, _every_os("~/.gemini/settings.json"),
             project=(".gemini/settings.json",)),
    Location("Goose", "yaml", ("extensions",), {
        "macos": ("~/.config/goose/config.yaml",),
        "windows": ("{appdata}/Block/goose/config/config.yaml",),
        "linux": ("{config}/goose/config.yaml",),
    }),
    Location("LM Studio", "json", MCP, _every_os("~/.lmstudio/mcp.json")),
)

# The keys a server entry uses, across clients: Goose says `cmd`/`envs`/`uri`, Windsurf
# `serverUrl`, Gemini `httpUrl`, Codex `http_headers`; Zed's older form nests
# `{"command": {"path", "args", "env"}}`.
COMMAND_KEYS = ("command", "cmd")
ENV_KEYS = ("env", "envs")
URL_KEYS = ("url", "serverUrl", "httpUrl", "uri")
HEADER_KEYS = ("headers", "http_headers")


def current_os() -> OSName:
    if sys.platform == "darwin":
        return "macos"
    return "windows" if sys.platform.startswith("win") else "linux"


def expand(template: str, environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    home = env.get("HOME") or env.get("USERPROFILE") or str(Path.home())
    values = {
        "config": env.get("XDG_CONFIG_HOME") or os.path.join(home, ".config"),
        "appdata": env.get("APPDATA") or os.path.join(home, "AppData", "Roaming"),
        "appsupport": os.path.join(home, "Library", "Application Support"),
    }
    out = template.format(**values)
    if out.startswith("~"):
        out = home + out[1:]
    return out


@dataclass(frozen=True)
class ConfigFile:
    path: Path
    location: Location


def discover(project_dirs: tuple[Path, ...] = (), *, user: bool = True,
             os_name: OSName | None = None,
             environ: Mapping[str, str] | None = None) -> Iterator[ConfigFile]:
    """Every existing config file: user-level ones for this OS (unless `user` is False), then
    each project's. A file reached twice (a symlink, a project that is the home) counts once."""
    os_name = os_name or current_os()
    seen: set[str] = set()
    for loc in LOCATIONS:
        templates = [expand(t, environ) for t in loc.user.get(os_name, ())] if user else []
        for root in project_dirs:
            templates += [str(root / p) for p in loc.project]
        for pattern in templates:
            for found in sorted(glob.glob(_glob_safe(pattern))):
                real = os.path.realpath(found)
                if real not in seen and os.path.isfile(found):
                    seen.add(real)
                    yield ConfigFile(Path(found), loc)


def _glob_safe(pattern: str) -> str:
    """Escape glob characters in everything but the `*` we put there ourselves."""
    return "*".join(glob.escape(part) for part in pattern.split("*"))


def for_path(path: Path) -> Location:
    """The table row for a file named on the command line (by its path), else a best guess."""
    real = os.path.realpath(path)
    for loc in LOCATIONS:
        for os_name in OSES:
            for t in loc.user.get(os_name, ()):
                if _matches(real, os.path.realpath(expand(t))):
                    return loc
        for p in loc.project:
            if _matches(real, "*/" + p):
                return loc
    suffix = path.suffix.lower()
    if suffix == ".toml":
        return Location("unknown (TOML)", "toml", ("mcp_servers",), {})
    if suffix in (".yaml", ".yml"):
        return Location("unknown (YAML)", "yaml", ("mcpServers", "extensions"), {})
    return Location("unknown (JSON)", "jsonc", ("mcpServers", "servers", "context_servers",
                                                "projects.*.mcpServers"), {})


def _matches(path: str, pattern: str) -> bool:
    import fnmatch

    return fnmatch.fnmatchcase(path, pattern)
