"""Names and values that carry credentials: what an env var, a script or an output must not hold in plaintext.

Names: PASSWORD, SECRET, TOKEN, API_KEY, PRIVATE_KEY, ... (but not pointers to a secret such as ``DB_SECRET_ARN``).
Values: AWS access key ids, private key PEM blocks, URLs and connection strings with a password, JSON Web Tokens,
well-known API token formats, and (for values a person typed, such as ``app.env``) long random-looking strings.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Any

from mbops.policies.values import SECRET, UNKNOWN

SECRET_NAME = re.compile(
    r"PASSWORD|PASSWD|PASSPHRASE|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY|CREDENTIAL|CONN(ECTION)?_?STR"
    r"|(^|_)KEY$|(^|_)DSN$|^DATABASE_URL$",
    re.IGNORECASE,
)
# Names that point at a secret rather than hold one: SECRETS_PREFIX, DB_SECRET_ARN, KEY_VAULT_URI, ...
REFERENCE_NAME = re.compile(
    r"_(ARN|NAMES?|IDS?|REF|PATH|FILE|URI|PREFIX|STORE|VERSION|ENDPOINT|REGION|VAULT|LOCATION)$",
    re.IGNORECASE,
)
ALWAYS_SECRET = frozenset({"DATABASE_URL"})
CREDENTIAL_URL = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@\"']+:[^/\s@\"']+@", re.IGNORECASE)
SECRET_REFERENCE = re.compile(
    r"^(arn:aws[a-z-]*:(secretsmanager|ssm|kms):|projects/[^/]+/secrets/|https://[^/]+\.vault\.azure\.net/"
    r"|@Microsoft\.KeyVault\(|secretref:|\$\{|\$\(|(awskms|gcpkms|azurekeyvault|hashivault)://)",
    re.IGNORECASE,
)
# Shapes that are credentials wherever they appear (high precision: safe on any value, even computed ones).
CREDENTIAL_SHAPES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("an AWS access key id", re.compile(r"(?<![A-Z0-9])(AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])")),
    ("a private key", re.compile(r"-----BEGIN ([A-Z0-9]+ )*PRIVATE KEY( BLOCK)?-----")),
    ("a URL with an embedded password", CREDENTIAL_URL),
    ("a connection string with a password or account key",
     re.compile(r"(?:^|;)\s*(password|pwd|accountkey|sharedaccesskey)\s*=\s*[^;\s]+", re.IGNORECASE)),
    ("a JSON Web Token", re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")),
    ("an API token", re.compile(
        r"(?<![A-Za-z0-9])((sk|rk)_(live|test)_[0-9A-Za-z]{10,}|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_\w{30,}"
        r"|xox[abposr]-[A-Za-z0-9-]{10,}|AIza[0-9A-Za-z_-]{35}|SG\.[\w-]{16,}\.[\w-]{16,}|glpat-[\w-]{20,})")),
)  # fmt: skip
TOKEN_CHARS = re.compile(r"[A-Za-z0-9+/=_\-.~]{20,4096}")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
# Names whose values are long random-looking strings that are not secrets (hashes, versions, ids).
NOT_SECRET_NAME = re.compile(r"SHA|COMMIT|REVISION|VERSION|BUILD|DIGEST|HASH|CHECKSUM|ETAG|(^|_)IDS?$", re.I)


def secret_like_name(name: str) -> bool:
    """True when a variable or output name says it holds a credential (and is not a pointer to one)."""
    upper = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).upper().replace("-", "_")
    if upper in ALWAYS_SECRET:
        return True
    return bool(SECRET_NAME.search(upper)) and not REFERENCE_NAME.search(upper)


def credential_shape(text: str) -> str | None:
    """What credential ``text`` contains ("a private key", ...), from shapes that are never anything else."""
    for what, pattern in CREDENTIAL_SHAPES:
        if pattern.search(text):
            return what
    return None


def _entropy(text: str) -> float:
    counts, size = Counter(text), len(text)
    return -sum(n / size * math.log2(n / size) for n in counts.values())


def _class_changes(text: str) -> int:
    """Changes between lower case, upper case and digits, not counting a capital starting a word."""
    def kind(ch: str) -> str | None:
        return "l" if ch.islower() else "u" if ch.isupper() else "d" if ch.isdigit() else None

    changes = 0
    for a, b in zip(text, text[1:], strict=False):
        ka, kb = kind(a), kind(b)
        if ka and kb and ka != kb and (ka, kb) != ("u", "l"):
            changes += 1
    return changes


def random_looking(text: str) -> bool:
    """True for a long token-shaped string that reads like random key material, not words or versions."""
    if not TOKEN_CHARS.fullmatch(text) or UUID.fullmatch(text) or text.startswith(("/", ".")):
        return False
    if len(text) >= 32 and _entropy(text) >= 4.3:
        return True
    mixed = re.search(r"[A-Za-z]", text) and re.search(r"[0-9]", text)
    return bool(mixed) and _class_changes(text) >= 0.3 * len(text) and _entropy(text) >= 3.0


def typed_secret(name: str, value: str) -> str | None:
    """Why a value a person wrote into the stack file (``app.env``) is a credential, or None."""
    text = value.strip()
    if not text or SECRET_REFERENCE.search(text):
        return None
    shape = credential_shape(text)
    if shape:
        return f"holds {shape}"
    if secret_like_name(name):
        return "is named like a credential"
    if not NOT_SECRET_NAME.search(name) and random_looking(text):
        return "holds a long random-looking string (a key or token)"
    return None


def plaintext_credential(name: str, value: Any, *, secrets_visible: bool) -> str | None:
    """Why a plain (non-secret-store) env var or output leaks a credential, or None when it does not."""
    if value is None or value == "":
        return None
    if secrets_visible and value == SECRET:
        return f"{name} is a Pulumi secret written into a plaintext setting (visible to whoever reads it)"
    if isinstance(value, str):
        shape = credential_shape(value)
        if shape:
            return f"{name} holds {shape}"
    if secret_like_name(name):
        if isinstance(value, str) and SECRET_REFERENCE.search(value):
            return None
        shown = "a value computed at deploy time" if value in (UNKNOWN, SECRET) else "a literal value"
        return f"{name} looks like a credential and is set to {shown} instead of a secret-store reference"
    return None
