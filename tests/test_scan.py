"""`mcp-secrets scan` over real configs of every client, written as each client writes them, in a
private HOME: every planted key found, no benign value reported, never a value in the output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mcp_secrets import clients, detect
from tests.mcp_configs import BENIGN_ENV, PY, Planted, write_all

EXE = str(Path(sys.executable).parent / "mcp-secrets")


def home_env(home: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_STATE_HOME": str(home / ".local/state"),
            "XDG_DATA_HOME": str(home / ".local/share"), **extra}


def cli(*args: str, home: Path, cwd: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([EXE, *args], capture_output=True, text=True, cwd=cwd,
                          env=home_env(home, **extra), stdin=subprocess.DEVNULL, timeout=120)


@pytest.fixture
def planted(tmp_path: Path) -> Planted:
    home, project = tmp_path / "home", tmp_path / "project"
    home.mkdir()
    project.mkdir()
    return write_all(home, project)


def assert_no_value(p: Planted, *texts: str) -> None:
    for value in p.k.values():
        for text in texts:
            assert value not in text


def test_scan_finds_every_planted_key_and_nothing_benign(planted: Planted) -> None:
    r = cli("scan", "--json", home=planted.home, cwd=planted.project)
    assert r.returncode == 1, r.stderr
    out = json.loads(r.stdout)
    got = {(Path(f["file"]), f["server"], f["field"]) for f in out["findings"]}
    assert got == set(planted.secrets)
    assert out["errors"] == []
    # every client of the table was looked at, user and project files alike
    assert len(out["files"]) == 16
    kinds = {(f["server"], f["field"]): f["kind"] for f in out["findings"]}
    assert kinds[("anthropic-tools", "env.ANTHROPIC_API_KEY")] == "Anthropic API key"
    assert kinds[("anthropic-tools", "env.AWS_ACCESS_KEY_ID")] == "AWS access key ID"
    assert kinds[("openai", "env.OPENAI_API_KEY")] == "OpenAI API key"
    assert kinds[("slack", "env.SLACK_BOT_TOKEN")] == "Slack token"
    assert kinds[("stripe", "args[3]")] == "Stripe key"
    assert kinds[("google-maps", "env.GOOGLE_MAPS_API_KEY")] == "Google API key"
    assert kinds[("gh", "env.GITHUB_PERSONAL_ACCESS_TOKEN")] == "GitHub token"
    assert kinds[("hf", "env.HF_TOKEN")] == "Hugging Face token"
    assert "secret-like name" in kinds[("db", "env.DB_PASSWORD")]
    remote = {(Path(f["file"]), f["server"], f["field"]) for f in out["findings"] if f["remote"]}
    assert remote == planted.remote
    assert_no_value(planted, r.stdout, r.stderr)


def test_scan_table_names_where_and_what_but_never_the_value(planted: Planted) -> None:
    r = cli("scan", home=planted.home, cwd=planted.project)
    assert r.returncode == 1
    header = r.stdout.splitlines()[0].split()
    assert header == ["client", "file", "server", "field", "kind", "preview"]
    assert "~/.codex/config.toml" in r.stdout and "sk-ant-…(" in r.stdout
    assert "mcp-secrets migrate" in r.stdout
    assert_no_value(planted, r.stdout, r.stderr)


def test_clean_configs_exit_0(tmp_path: Path) -> None:
    home = tmp_path / "home"
    f = home / ".cursor" / "mcp.json"
    f.parent.mkdir(parents=True)
    f.write_text(json.dumps({"mcpServers": {"ok": {
        "command": "npx", "args": ["-y", "@modelcontextprotocol/server-github", "--port", "3000"],
        "env": {**BENIGN_ENV, "VSCODE": "${input:api-key}", "CONTINUE": "${{ secrets.KEY }}",
                "RUN_REF": "mcp-secrets://ok/API_KEY", "ENV_REF": "env://HOME"}}}}, indent=2))
    r = cli("scan", home=home, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "no plaintext secrets found in 1 config file(s)" in r.stdout


@pytest.mark.parametrize(("name", "text"), [
    ("bad.json", '{"mcpServers": {"x": {"env": {"K": "CANARY-in-broken-json"}}\n'),
    ("config.toml", '[mcp_servers.x]\nenv = { K = "CANARY-in-broken-toml" \n'),
    ("config.yaml", "mcpServers:\n  - name: x\n    env: {K: CANARY-in-broken-yaml\n"),
])
def test_malformed_config_is_a_clear_error_exit_2(tmp_path: Path, name: str, text: str) -> None:
    f = tmp_path / name
    f.write_text(text)
    r = cli("scan", str(f), home=tmp_path, cwd=tmp_path)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and str(f) in lines[0] and "line" in lines[0], r.stderr
    assert "CANARY" not in r.stdout + r.stderr
    assert f.read_text() == text


def test_a_reference_as_a_whole_argument_is_pointed_out(tmp_path: Path) -> None:
    f = tmp_path / ".mcp.json"
    f.write_text(json.dumps({"mcpServers": {"s": {"command": PY, "args": [
        "server.py", "--api-key", "mcp-secrets://s/API_KEY"]}}}))
    r = cli("scan", "--json", str(f), home=tmp_path, cwd=tmp_path)
    assert r.returncode == 0
    out = json.loads(r.stdout)
    assert out["findings"] == []
    assert [(n["server"], n["field"]) for n in out["notices"]] == [("s", "args[2]")]
    assert "value enters argv" in out["notices"][0]["message"]


def test_a_directory_argument_scans_its_project_files(planted: Planted) -> None:
    r = cli("scan", "--json", str(planted.project), home=planted.home, cwd=planted.home)
    files = {Path(f) for f in json.loads(r.stdout)["files"]}
    assert files == {planted.files[k] for k in ("mcp_json", "roo_project", "continue_block")}


CLIENTS = ["Claude Desktop", "Claude Code", "Cursor", "VS Code", "Windsurf", "Zed", "Cline",
           "Roo Code", "Continue", "Codex CLI", "Gemini CLI", "Goose", "LM Studio"]


@pytest.mark.parametrize("os_name", clients.OSES)
def test_the_table_has_every_client_on_every_os(os_name: str) -> None:
    env = {"HOME": "/h", "APPDATA": "/h/AppData/Roaming"}
    paths: dict[str, list[str]] = {}
    for loc in clients.LOCATIONS:
        paths.setdefault(loc.client, []).extend(
            clients.expand(t, env) for t in loc.user.get(os_name, ()))
    assert set(paths) == set(CLIENTS)
    assert all(paths[c] for c in CLIENTS)
    desktop = paths["Claude Desktop"][0]
    assert desktop == {
        "macos": "/h/Library/Application Support/Claude/claude_desktop_config.json",
        "windows": "/h/AppData/Roaming/Claude/claude_desktop_config.json",
        "linux": "/h/.config/Claude/claude_desktop_config.json"}[os_name]
    assert "/h/.claude.json" in paths["Claude Code"]
    assert "/h/.codex/config.toml" in paths["Codex CLI"]


@pytest.mark.parametrize("value", [
    "true", "8080", "debug", "/usr/local/bin/thing", "C:\\Users\\me\\data", "claude-sonnet-4-5",
    "gpt-4o-mini", "https://api.example.com/v1?format=json", "${GITHUB_TOKEN}", "${input:key}",
    "${env:KEY}", "${{ secrets.KEY }}", "$API_KEY", "mcp-secrets://s/KEY", "env://HOME",
    "your-api-key-here", "<YOUR_TOKEN>", "us-east-1", "API_KEY=mcp-secrets://s/API_KEY",
])
def test_benign_values_are_not_findings(value: str) -> None:
    assert detect.classify(value, "API_KEY") is None


def test_an_id_is_not_a_finding_under_a_plain_name_but_is_under_a_key_name() -> None:
    uuid = "550e8400-e29b-41d4-a716-446655440000"
    assert detect.classify(uuid, "PROJECT_ID") is None
    assert detect.classify(uuid, "API_KEY") is not None


def test_key_like_names() -> None:
    assert all(detect.key_like(n) for n in ("API_KEY", "GITHUB_TOKEN", "--api-key",
                                            "client_secret", "DB_PASSWORD", "x-api-key"))
    assert not any(detect.key_like(n) for n in ("TOKEN_PATH", "API_KEY_FILE", "KEY_ID",
                                                "LOG_LEVEL", "MODEL", "AUTH_TYPE"))


def test_the_heavy_dependencies_load_only_when_scanning() -> None:
    code = ("import sys; import mcp_secrets, mcp_secrets.cli.main as m; m.build_parser(); "
            "heavy = [x for x in ('detect_secrets', 'tomlkit', 'ruamel') if x in sys.modules]; "
            "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
