"""Is this config value a plaintext secret? Known key formats, then the name it sits under,
then entropy; benign values (booleans, ports, log levels, paths, model names, plain URLs,
placeholders and references) first, so they are never reported.

Known formats come from detect-secrets' plugins where it has one (imported lazily, on first
use) plus our own rules for the formats it lacks (Anthropic, Google, Hugging Face, …).
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

# Formats detect-secrets 1.5 lacks or matches too narrowly (OpenAI project keys without the
# legacy marker, fine-grained GitHub tokens). Prefixes are public facts, safe to preview.
_OWN_FORMATS: tuple[tuple[str, str, str], ...] = (
    ("Anthropic API key", "sk-ant-", r"sk-ant-(?:api|admin)\d\d-[A-Za-z0-9_-]{32,}"),
    ("OpenAI API key", "sk-proj-", r"sk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{32,}"),
    ("OpenRouter API key", "sk-or-", r"sk-or-v1-[a-f0-9]{48,}"),
    ("GitHub token", "github_pat_", r"github_pat_[A-Za-z0-9_]{60,}"),
    ("GitHub token", "gh", r"gh[pousr]_[A-Za-z0-9]{36,}"),
    ("Google API key", "AIza", r"AIza[0-9A-Za-z_-]{35}"),
    ("Hugging Face token", "hf_", r"hf_[A-Za-z0-9]{30,}"),
    ("Groq API key", "gsk_", r"gsk_[A-Za-z0-9]{40,}"),
    ("Perplexity API key", "pplx-", r"pplx-[A-Za-z0-9]{40,}"),
    ("Tavily API key", "tvly-", r"tvly-[A-Za-z0-9-]{24,}"),
    ("Linear API key", "lin_api_", r"lin_api_[A-Za-z0-9]{32,}"),
    ("Notion token", "ntn_", r"(?:ntn_|secret_)[A-Za-z0-9]{40,}"),
    ("Stripe key", "sk_live_", r"[sr]k_(?:live|test)_[A-Za-z0-9]{20,}"),
    ("Slack token", "xox", r"xox[abposr]-[A-Za-z0-9-]{10,}"),
    ("AWS access key ID", "AKIA", r"(?:AKIA|ASIA)[A-Z0-9]{16}"),
    ("Supabase key", "sbp_", r"sbp_[a-f0-9]{40}"),
    ("Replicate token", "r8_", r"r8_[A-Za-z0-9]{37}"),
)

# detect-secrets plugins whose regexes we reuse (class path, kind shown to the user).
_DS_PLUGINS: tuple[tuple[str, str, str], ...] = (
    ("aws", "AWSKeyDetector", "AWS key"),
    ("azure_storage_key", "AzureStorageKeyDetector", "Azure storage key"),
    ("discord", "DiscordBotTokenDetector", "Discord bot token"),
    ("github_token", "GitHubTokenDetector", "GitHub token"),
    ("gitlab_token", "GitLabTokenDetector", "GitLab token"),
    ("jwt", "JwtTokenDetector", "JSON Web Token"),
    ("mailchimp", "MailchimpDetector", "Mailchimp key"),
    ("npm", "NpmDetector", "npm token"),
    ("openai", "OpenAIDetector", "OpenAI API key"),
    ("private_key", "PrivateKeyDetector", "private key"),
    ("pypi_token", "PypiTokenDetector", "PyPI token"),
    ("sendgrid", "SendGridDetector", "SendGrid key"),
    ("slack", "SlackDetector", "Slack token"),
    ("square_oauth", "SquareOAuthDetector", "Square OAuth secret"),
    ("stripe", "StripeDetector", "Stripe key"),
    ("telegram_token", "TelegramBotTokenDetector", "Telegram bot token"),
    ("twilio", "TwilioKeyDetector", "Twilio key"),
)

_KEYLIKE = re.compile(
    r"(?:^|[_.-])(?:api[_.-]?key|apikey|key|token|secret|password|passwd|pass|pwd|credentials?"
    r"|pat|private[_.-]?key|access[_.-]?key|auth|bearer|cookie|session|signature|dsn)(?:$|[_.-])",
    re.IGNORECASE,
)
# Names that carry *where* or *which* a secret is, not the secret itself.
_NOT_A_SECRET_NAME = re.compile(
    r"(?:^|[_.-])(?:id|path|file|dir|url|uri|host|name|type|mode|header|var|env|enabled|"
    r"method|scheme|length|timeout|ttl|expiry|region|user(?:name)?|email|account)$",
    re.IGNORECASE,
)
_SECRET_HEADERS = frozenset({
    "authorization", "proxy-authorization", "x-api-key", "api-key", "apikey", "x-auth-token",
    "x-access-token", "cookie", "x-goog-api-key", "x-subscription-token", "private-token",
})
_PLACEHOLDER = re.compile(
    r"^\s*(?:\$\{\{[^}]*\}\}|\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*|\{env:[^}]*\}|%[A-Za-z_]+%"
    r"|<[^<>]{1,60}>|your[-_ a-z]*(?:key|token|here)|x{6,}|\*{3,}|\.{3,}|changeme|redacted)\s*$",
    re.IGNORECASE,
)
_CONTAINS_PLACEHOLDER = re.compile(r"\$\{\{?[^}]+\}|\{env:[^}]+\}")
_LOG_LEVELS = frozenset({"trace", "debug", "info", "notice", "warn", "warning", "error", "fatal",
                         "critical", "silent", "off", "verbose"})
_BOOLISH = frozenset({"true", "false", "yes", "no", "on", "off", "1", "0", "null", "none"})
_MODEL_NAME = re.compile(r"^[a-z][a-z0-9]*(?:[.:/_-][a-z0-9]+)+$")
_NUMBER = re.compile(r"^[+-]?\d+(?:\.\d+)?(?:ms|s|m|h|kb|mb|gb)?$", re.IGNORECASE)
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
_TOKENISH = re.compile(r"^[A-Za-z0-9+/=_.~:-]+$")
_SECRET_QUERY = re.compile(r"(?:key|token|secret|password|passwd|pwd|sig|signature|auth|"
                           r"access_token|api_key|apikey|code)$", re.IGNORECASE)
_OUR_REFERENCE = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)


@dataclass(frozen=True)
class Detection:
    kind: str
    preview: str  # a short, non-revealing hint: a public prefix and the length


def classify(value: object, name: str | None = None, *, header: bool = False,
             url: bool = False) -> Detection | None:
    """A Detection if `value` (under variable/header/flag `name`) looks like a secret."""
    if not isinstance(value, str):
        return None  # booleans, ports, numbers
    text = value.strip()
    if url or _looks_like_url(text):
        return _classify_url(text)
    if len(text) < 8 or is_benign(text):
        return None
    known = known_format(text)
    if known is not None:
        return known
    if header and name and name.lower() in _SECRET_HEADERS:
        token = text.split(None, 1)[-1] if " " in text else text
        if _CONTAINS_PLACEHOLDER.search(token) or len(token) < 8:
            return None
        return Detection(f"secret in the {name} header", _preview(text, ""))
    if name and key_like(name) and _plausible_secret(text):
        return Detection(f"value of a secret-like name ({name})", _preview(text, ""))
    if high_entropy(text):
        return Detection("high-entropy string", _preview(text, ""))
    return None


def key_like(name: str) -> bool:
    """True for names such as API_KEY, GITHUB_TOKEN, --api-key, client_secret (not *_PATH, *_ID)."""
    bare = name.lstrip("-")
    return bool(_KEYLIKE.search(bare)) and not _NOT_A_SECRET_NAME.search(bare)


def is_benign(text: str) -> bool:
    """Values that are never findings: placeholders, references, flags, numbers, paths, …"""
    lowered = text.lower()
    if _PLACEHOLDER.match(text) or lowered in _BOOLISH or lowered in _LOG_LEVELS:
        return True
    if _NUMBER.match(text) or _looks_like_path(text):
        return True
    if _looks_like_reference(text) or _looks_like_reference(text.partition("=")[2]):
        return True  # a reference, or `VAR=reference` as `mcp-secrets run --env` takes it
    if "${" in text and _CONTAINS_PLACEHOLDER.search(text) and not known_format(text):
        return True
    return bool(_MODEL_NAME.match(text)) and not known_format(text) and not high_entropy(text)


def known_format(text: str) -> Detection | None:
    for kind, prefix, pattern in _own_formats():
        if pattern.search(text):
            return Detection(kind, _preview(text, prefix))
    for kind, patterns in _ds_patterns():
        if any(p.search(text) for p in patterns):
            return Detection(kind, _preview(text, ""))
    return None


def high_entropy(text: str) -> bool:
    """Long token-like strings with the character spread of random keys."""
    if len(text) < 20 or not _TOKENISH.match(text) or _UUID.match(text):
        return False
    entropy = _shannon(text)
    if re.fullmatch(r"[0-9a-fA-F]+", text):
        return len(text) >= 32 and entropy >= 3.0
    if not re.search(r"[A-Z]", text) and (len(text) < 24 or re.search(r"[-.:/]", text)):
        return False  # lower-case words joined by separators: model names, slugs, hostnames
    classes = sum(bool(re.search(p, text)) for p in (r"[a-z]", r"[A-Z]", r"\d"))
    return classes >= 2 and entropy >= 3.7


def _plausible_secret(text: str) -> bool:
    """Under a key-like name: anything token-like that is not a plain word."""
    if any(c.isspace() for c in text.strip()):
        return False
    has_digit = any(c.isdigit() for c in text)
    mixed = any(c.islower() for c in text) and any(c.isupper() for c in text)
    return has_digit or mixed or _shannon(text) >= 3.5


def _classify_url(text: str) -> Detection | None:
    try:
        parts = urlsplit(text)
    except ValueError:
        return None
    if parts.password and not _CONTAINS_PLACEHOLDER.search(parts.password):
        return Detection("password in URL", f"{parts.scheme}://…")
    for key, val in parse_qsl(parts.query, keep_blank_values=True):
        named = _SECRET_QUERY.search(key) and len(val) >= 8 and not is_benign(val)
        if named or known_format(val):
            return Detection(f"token in URL query ({key})", f"{parts.scheme}://…")
    return None


def _looks_like_url(text: str) -> bool:
    return bool(re.match(r"^[a-z][a-z0-9+.-]*://", text, re.IGNORECASE)) and not \
        _looks_like_reference(text)


def _looks_like_reference(text: str) -> bool:
    """Our own (and every registered) secret reference: `mcp-secrets://…`, `env://…`, `op://…`."""
    if not _OUR_REFERENCE.match(text):
        return False
    from mcp_secrets.refs import is_reference

    return is_reference(text)


def _looks_like_path(text: str) -> bool:
    if text.startswith(("/", "~/", "./", "../", "\\\\")) or re.match(r"^[A-Za-z]:[\\/]", text):
        return not known_format(text)
    return False


def _preview(text: str, prefix: str) -> str:
    # A known format's public prefix, at least 4 characters of it ("ghp_", "xoxb"): no secret.
    shown = text[:max(len(prefix), 4)] if prefix and text.startswith(prefix) else ""
    return f"{shown}…({len(text)} chars)"


def _shannon(text: str) -> float:
    counts = Counter(text)
    n = len(text)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


@functools.cache
def _own_formats() -> tuple[tuple[str, str, re.Pattern[str]], ...]:
    return tuple((k, p, re.compile(r)) for k, p, r in _OWN_FORMATS)


@functools.cache
def _ds_patterns() -> tuple[tuple[str, tuple[re.Pattern[str], ...]], ...]:
    import importlib

    out = []
    for module, cls, kind in _DS_PLUGINS:
        plugin = getattr(importlib.import_module(f"detect_secrets.plugins.{module}"), cls)
        out.append((kind, tuple(plugin.denylist)))
    return tuple(out)
