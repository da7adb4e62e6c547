"""Real MCP client configs in a private HOME, written the way each client writes them (JSON with
2-space or tab indentation, JSONC with comments and trailing commas, TOML with comments, YAML in
each writer's sequence style), with planted keys of every known format, generic high-entropy
keys under key-like names, and benign values that must never be reported.

Every stdio entry runs tests/servers/probe.py, which records the environment and argv it was
given, so a test can launch a rewritten entry exactly as the client would and check the value.
"""

from __future__ import annotations

import json
import secrets
import string
import sys
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROBE = HERE / "servers" / "probe.py"
PY = sys.executable

_ALNUM = string.ascii_letters + string.digits


def rand(n: int, alphabet: str = _ALNUM) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


def keys() -> dict[str, str]:
    """Fresh canaries of every known format (unique per call, so a leak is unambiguous)."""
    return {
        "anthropic": "sk-ant-api03-" + rand(93, _ALNUM + "-_") + "AA",
        "openai": "sk-proj-" + rand(40) + "T3BlbkFJ" + rand(20),
        "github": "ghp_" + rand(36),
        "github_b": "ghp_" + rand(36),
        "github_pat": "github_pat_" + rand(22) + "_" + rand(59),
        "slack": f"xoxb-{rand(12, string.digits)}-{rand(13, string.digits)}-{rand(24)}",
        "aws_id": "AKIA" + rand(16, string.ascii_uppercase + string.digits),
        "aws_secret": rand(40, _ALNUM + "/+"),
        "stripe": "sk_live_" + rand(24),
        "google": "AIza" + rand(35, _ALNUM + "-_"),
        "generic": rand(32),
        "password": "Tr0ub4dor-" + rand(6),
        "bearer": rand(40),
        "query": rand(32),
        "remote_gh": "ghp_" + rand(36),
        "zed": "sk-ant-api03-" + rand(93) + "AA",
        "codex": "sk-proj-" + rand(40) + "T3BlbkFJ" + rand(20),
        "codex_inline": rand(28),
        "goose": "AIza" + rand(35),
        "continue": "sk-ant-api03-" + rand(93) + "AA",
        "continue_block": "ghp_" + rand(36),
        "lmstudio": "hf_" + rand(34),
        "gemini": "AIza" + rand(35),
        "cline": "xoxp-" + rand(12, string.digits) + "-" + rand(24),
        "roo": "sk_live_" + rand(24),
        "windsurf": "github_pat_" + rand(22) + "_" + rand(59),
        "vscode": "sk-ant-api03-" + rand(93) + "AA",
        "project": "sk-proj-" + rand(40) + "T3BlbkFJ" + rand(20),
    }


BENIGN_ENV = {
    "DEBUG": "true", "PORT": "8080", "LOG_LEVEL": "info", "MODEL": "claude-sonnet-4-5",
    "BASE_URL": "https://api.example.com/v1", "NODE_ENV": "production", "AWS_REGION": "us-east-1",
    "TEAM_ID": "T01234567", "PLACEHOLDER_TOKEN": "${GITHUB_TOKEN}",
    "CURSOR_STYLE_KEY": "${env:MY_KEY}",
    "USER_ID": "550e8400-e29b-41d4-a716-446655440000",
}


@dataclass
class Planted:
    home: Path
    project: Path
    out: Path  # where the probe writes what it received
    k: dict[str, str]
    #: (file, server, field) -> the value planted there
    secrets: dict[tuple[Path, str, str], str] = field(default_factory=dict)
    remote: set[tuple[Path, str, str]] = field(default_factory=set)
    files: dict[str, Path] = field(default_factory=dict)

    def plant(self, file: Path, server: str, field_: str, value: str, *,
              remote: bool = False) -> str:
        self.secrets[(file, server, field_)] = value
        if remote:
            self.remote.add((file, server, field_))
        return value


def probe_args(name: str, *extra: str) -> list[str]:
    return [str(PROBE), name, *extra]


def write_all(home: Path, project: Path) -> Planted:
    """Write one config per client location (user and project), return what was planted."""
    out = home / "probe-out"
    out.mkdir(parents=True, exist_ok=True)
    p = Planted(home, project, out, keys())
    k = p.k
    benign = {**BENIGN_ENV, "PROBE_OUT": str(out)}
    cfg = home / ".config"

    # Claude Desktop (Linux build): JSON.stringify(config, null, 2)
    f = p.files["claude_desktop"] = cfg / "Claude" / "claude_desktop_config.json"
    _json(f, {"mcpServers": {
        "github": {"command": PY, "args": probe_args("github"), "env": {
            "GITHUB_PERSONAL_ACCESS_TOKEN": p.plant(f, "github", "env.GITHUB_PERSONAL_ACCESS_TOKEN",
                                                    k["github"]), **benign}},
        "anthropic-tools": {"command": PY, "args": probe_args("anthropic-tools"), "env": {
            "PROBE_OUT": str(out),
            "ANTHROPIC_API_KEY": p.plant(f, "anthropic-tools", "env.ANTHROPIC_API_KEY",
                                         k["anthropic"]),
            "AWS_ACCESS_KEY_ID": p.plant(f, "anthropic-tools", "env.AWS_ACCESS_KEY_ID",
                                         k["aws_id"]),
            "AWS_SECRET_ACCESS_KEY": p.plant(f, "anthropic-tools", "env.AWS_SECRET_ACCESS_KEY",
                                             k["aws_secret"]),
        }},
        "filesystem": {"command": "npx", "args": [
            "-y", "@modelcontextprotocol/server-filesystem", "/home/me/Documents", "--verbose"]},
    }, "globalShortcut": "Ctrl+Space"})

    # Claude Code: ~/.claude.json, much unrelated state the app rewrites often
    f = p.files["claude_code"] = home / ".claude.json"
    _json(f, {
        "numStartups": 42, "installMethod": "native", "autoUpdates": True,
        "tipsHistory": {"new-user-warmup": 3, "memory-command": 7},
        "userID": rand(64, "0123456789abcdef"),
        "oauthAccount": {"emailAddress": "me@example.com", "organizationRole": "admin"},
        "mcpServers": {
            "slack": {"type": "stdio", "command": PY, "args": probe_args("slack"), "env": {
                "SLACK_BOT_TOKEN": p.plant(f, "slack", "env.SLACK_BOT_TOKEN", k["slack"]),
                "SLACK_TEAM_ID": "T01234567", "PROBE_OUT": str(out)}},
        },
        "projects": {
            str(project): {
                "allowedTools": [], "history": [{"display": "fix the tests", "pastedContents": {}}],
                "mcpServers": {
                    "stripe": {"type": "stdio", "command": PY,
                               "args": probe_args("stripe", "--api-key", p.plant(
                                   f, "stripe", "args[3]", k["stripe"])),
                               "env": {"PROBE_OUT": str(out)}},
                    "remote-github": {"type": "http", "url": "https://api.githubcopilot.com/mcp/",
                                      "headers": {"Authorization": p.plant(
                                          f, "remote-github", "headers.Authorization",
                                          "Bearer " + k["remote_gh"], remote=True)}},
                },
                "hasTrustDialogAccepted": True,
            },
            "/home/me/other": {"allowedTools": ["Bash"], "mcpServers": {}},
        },
        "cachedChangelog": "# Changelog\n\n## 2.0.0\n- things",
    })

    # Claude Code project file, in the project directory
    f = p.files["mcp_json"] = project / ".mcp.json"
    _json(f, {"mcpServers": {"openai": {"command": PY, "args": probe_args("openai"), "env": {
        "OPENAI_API_KEY": p.plant(f, "openai", "env.OPENAI_API_KEY", k["project"]),
        "PROBE_OUT": str(out)}}}})

    # Cursor: user-edited JSON, 2 spaces; a second "github" with another token
    f = p.files["cursor"] = home / ".cursor" / "mcp.json"
    _json(f, {"mcpServers": {
        "github": {"command": PY, "args": probe_args("github-cursor"), "env": {
            "GITHUB_PERSONAL_ACCESS_TOKEN": p.plant(f, "github", "env.GITHUB_PERSONAL_ACCESS_TOKEN",
                                                    k["github_b"]),
            "PROBE_OUT": str(out)}},
        "google-maps": {"command": PY, "args": probe_args("google-maps"), "env": {
            "GOOGLE_MAPS_API_KEY": p.plant(f, "google-maps", "env.GOOGLE_MAPS_API_KEY",
                                           k["google"]),
            "PROBE_OUT": str(out), "MAPS_KEY_PLACEHOLDER": "${env:GOOGLE_MAPS_API_KEY}"}},
        "search": {"url": "https://search.example.com/mcp?api_key=" + p.plant(
            f, "search", "url", k["query"], remote=True)},
    }})
    p.secrets[(f, "search", "url")] = "https://search.example.com/mcp?api_key=" + k["query"]

    # VS Code: user mcp.json, JSONC, tab-indented, comments, inputs
    f = p.files["vscode"] = cfg / "Code" / "User" / "mcp.json"
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_text(
        "{\n"
        "\t// Servers I use every day\n"
        "\t\"servers\": {\n"
        "\t\t\"anthropic\": {\n"
        "\t\t\t\"type\": \"stdio\",\n"
        f"\t\t\t\"command\": {json.dumps(PY)},\n"
        f"\t\t\t\"args\": {json.dumps(probe_args('vscode-anthropic'))},\n"
        "\t\t\t\"env\": {\n"
        f"\t\t\t\t\"ANTHROPIC_API_KEY\": \"{p.plant(f, 'anthropic', 'env.ANTHROPIC_API_KEY', k['vscode'])}\", // pasted, TODO move\n"  # noqa: E501
        f"\t\t\t\t\"PROBE_OUT\": {json.dumps(str(out))},\n"
        "\t\t\t\t\"OTHER_KEY\": \"${input:other-key}\"\n"
        "\t\t\t}\n"
        "\t\t},\n"
        "\t\t/* a remote one */\n"
        "\t\t\"remote\": {\"type\": \"http\", \"url\": \"https://mcp.example.com/mcp\"}\n"
        "\t},\n"
        "\t\"inputs\": [\n"
        "\t\t{\"type\": \"promptString\", \"id\": \"other-key\", \"description\": \"Key\", "
        "\"password\": true}\n"
        "\t]\n"
        "}\n")

    # Windsurf: serverUrl for remote entries
    f = p.files["windsurf"] = home / ".codeium" / "windsurf" / "mcp_config.json"
    _json(f, {"mcpServers": {
        "gh": {"command": PY, "args": probe_args("windsurf-gh"), "env": {
            "GITHUB_PERSONAL_ACCESS_TOKEN": p.plant(f, "gh", "env.GITHUB_PERSONAL_ACCESS_TOKEN",
                                                    k["windsurf"]), "PROBE_OUT": str(out)}},
        "docs": {"serverUrl": "https://docs.example.com/mcp"},
    }})

    # Zed: settings.json, JSONC with comments and trailing commas; flat and legacy nested forms
    f = p.files["zed"] = cfg / "zed" / "settings.json"
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_text(
        "// Zed settings\n"
        "//\n"
        "// For information on how to configure Zed, see the Zed documentation.\n"
        "{\n"
        "  \"theme\": \"One Dark\",\n"
        "  \"buffer_font_size\": 15,\n"
        "  \"context_servers\": {\n"
        "    \"claude-helper\": {\n"
        "      \"source\": \"custom\",\n"
        f"      \"command\": {json.dumps(PY)},\n"
        f"      \"args\": {json.dumps(probe_args('zed-claude'))},\n"
        "      \"env\": {\n"
        f"        \"ANTHROPIC_API_KEY\": \"{p.plant(f, 'claude-helper', 'env.ANTHROPIC_API_KEY', k['zed'])}\",\n"  # noqa: E501
        f"        \"PROBE_OUT\": {json.dumps(str(out))},\n"
        "      },\n"
        "    },\n"
        "    \"legacy\": {\n"
        "      \"command\": {\n"
        f"        \"path\": {json.dumps(PY)},\n"
        f"        \"args\": {json.dumps(probe_args('zed-legacy'))},\n"
        f"        \"env\": {{\"API_TOKEN\": \"{p.plant(f, 'legacy', 'env.API_TOKEN', k['generic'])}\", \"PROBE_OUT\": {json.dumps(str(out))}}}\n"  # noqa: E501
        "      },\n"
        "      \"settings\": {}\n"
        "    }, // trailing comma next\n"
        "  },\n"
        "  \"vim_mode\": false,\n"
        "}\n")

    # Cline (VS Code globalStorage)
    f = p.files["cline"] = (cfg / "Code" / "User" / "globalStorage" / "saoudrizwan.claude-dev" /
                            "settings" / "cline_mcp_settings.json")
    _json(f, {"mcpServers": {"slack-user": {
        "command": PY, "args": probe_args("cline-slack"), "disabled": False, "autoApprove": [],
        "env": {"SLACK_USER_TOKEN": p.plant(f, "slack-user", "env.SLACK_USER_TOKEN", k["cline"]),
                "PROBE_OUT": str(out)}}}})

    # Roo Code (VS Code globalStorage) and a project .roo/mcp.json
    f = p.files["roo"] = (cfg / "Code" / "User" / "globalStorage" / "rooveterinaryinc.roo-cline" /
                          "settings" / "mcp_settings.json")
    _json(f, {"mcpServers": {"payments": {
        "command": PY, "args": probe_args("roo-payments"), "alwaysAllow": [], "disabled": False,
        "env": {"STRIPE_SECRET_KEY": p.plant(f, "payments", "env.STRIPE_SECRET_KEY", k["roo"]),
                "PROBE_OUT": str(out)}}}})
    f = p.files["roo_project"] = project / ".roo" / "mcp.json"
    _json(f, {"mcpServers": {"db": {"command": PY, "args": probe_args("roo-db"), "env": {
        "DB_PASSWORD": p.plant(f, "db", "env.DB_PASSWORD", k["password"]),
        "DB_HOST": "localhost", "DB_PORT": "5432", "PROBE_OUT": str(out)}}}})

    # Continue: config.yaml (a list of servers; 2-space indented sequences)
    f = p.files["continue"] = home / ".continue" / "config.yaml"
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_text(
        "name: My Config\n"
        "version: 0.0.1\n"
        "schema: v1\n"
        "# models are not MCP servers: not ours to scan\n"
        "models:\n"
        "  - name: Claude\n"
        "    provider: anthropic\n"
        "    model: claude-sonnet-4-5\n"
        "mcpServers:\n"
        "  - name: Anthropic Helper\n"
        f"    command: {PY}\n"
        "    args:\n"
        + "".join(f"      - {a}\n" for a in probe_args("continue-helper")) +
        "    env:\n"
        f"      ANTHROPIC_API_KEY: {p.plant(f, 'Anthropic Helper', 'env.ANTHROPIC_API_KEY', k['continue'])}  # pasted\n"  # noqa: E501
        "      OTHER: ${{ secrets.OTHER_KEY }}\n"
        f"      PROBE_OUT: {out}\n"
        "  - name: Docs\n"
        "    type: streamable-http\n"
        "    url: https://docs.example.com/mcp\n")
    f = p.files["continue_block"] = project / ".continue" / "mcpServers" / "github.yaml"
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_text(
        "name: GitHub block\n"
        "version: 0.0.1\n"
        "schema: v1\n"
        "mcpServers:\n"
        "  - name: github-block\n"
        f"    command: {PY}\n"
        f"    args: [{', '.join(probe_args('continue-block'))}]\n"
        "    env:\n"
        f"      GITHUB_TOKEN: \"{p.plant(f, 'github-block', 'env.GITHUB_TOKEN', k['continue_block'])}\"\n"  # noqa: E501
        f"      PROBE_OUT: {out}\n")

    # OpenAI Codex CLI: TOML with comments, a sub-table env and an inline env
    f = p.files["codex"] = home / ".codex" / "config.toml"
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_text(
        "# Codex configuration\n"
        "model = \"gpt-5-codex\"\n"
        "approval_policy = \"on-request\"\n"
        "\n"
        "[mcp_servers.openai-docs]\n"
        f"command = {json.dumps(PY)}\n"
        f"args = {json.dumps(probe_args('codex-docs'))}\n"
        "startup_timeout_sec = 20  # slow start\n"
        "\n"
        "[mcp_servers.openai-docs.env]\n"
        "# the key I pasted from the dashboard\n"
        f"OPENAI_API_KEY = \"{p.plant(f, 'openai-docs', 'env.OPENAI_API_KEY', k['codex'])}\"\n"
        f"PROBE_OUT = {json.dumps(str(out))}\n"
        "\n"
        "[mcp_servers.linear]\n"
        f"command = {json.dumps(PY)}\n"
        f"args = {json.dumps(probe_args('codex-linear'))}\n"
        f"env = {{ LINEAR_API_KEY = \"{p.plant(f, 'linear', 'env.LINEAR_API_KEY', k['codex_inline'])}\", PROBE_OUT = {json.dumps(str(out))} }}\n"  # noqa: E501
        "\n"
        "[mcp_servers.figma]\n"
        "url = \"https://mcp.figma.com/mcp\"\n"
        "bearer_token_env_var = \"FIGMA_OAUTH_TOKEN\"\n"
        "\n"
        "[profiles.fast]\n"
        "model = \"gpt-5-mini\"\n")

    # Gemini CLI
    f = p.files["gemini"] = home / ".gemini" / "settings.json"
    _json(f, {"theme": "Default", "selectedAuthType": "oauth-personal", "mcpServers": {
        "maps": {"command": PY, "args": probe_args("gemini-maps"), "cwd": "./", "timeout": 30000,
                 "env": {"MAPS_API_KEY": p.plant(f, "maps", "env.MAPS_API_KEY", k["gemini"]),
                         "PROBE_OUT": str(out)}},
        "remote": {"httpUrl": "https://mcp.example.com/mcp", "headers": {
            "X-API-Key": p.plant(f, "remote", "headers.X-API-Key", k["bearer"], remote=True)}},
    }})

    # Goose: serde_yaml style (sequences not indented), cmd/envs
    f = p.files["goose"] = cfg / "goose" / "config.yaml"
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_text(
        "GOOSE_PROVIDER: anthropic\n"
        "GOOSE_MODEL: claude-sonnet-4-5\n"
        "extensions:\n"
        "  developer:\n"
        "    bundled: true\n"
        "    enabled: true\n"
        "    name: developer\n"
        "    timeout: 300\n"
        "    type: builtin\n"
        "  googlemaps:\n"
        "    args:\n"
        + "".join(f"    - {a}\n" for a in probe_args("goose-maps")) +
        f"    cmd: {PY}\n"
        "    description: Google Maps\n"
        "    enabled: true\n"
        "    env_keys: []\n"
        "    envs:\n"
        f"      GOOGLE_MAPS_API_KEY: {p.plant(f, 'googlemaps', 'env.GOOGLE_MAPS_API_KEY', k['goose'])}\n"  # noqa: E501
        f"      PROBE_OUT: {out}\n"
        "    name: googlemaps\n"
        "    timeout: 300\n"
        "    type: stdio\n")

    # LM Studio: Cursor's format
    f = p.files["lmstudio"] = home / ".lmstudio" / "mcp.json"
    _json(f, {"mcpServers": {"hf": {"command": PY, "args": probe_args("lmstudio-hf"), "env": {
        "HF_TOKEN": p.plant(f, "hf", "env.HF_TOKEN", k["lmstudio"]), "PROBE_OUT": str(out)}}}})
    return p


def _json(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")
