"""What an S3 bucket policy lets happen: who it opens the bucket to, and whether it refuses requests without TLS.

Public, as S3 reads it: an Allow to ``*`` (``"*"``, ``{"AWS": "*"}``, ``{"AWS": ["*"]}``, or any ``NotPrincipal``)
is public unless a condition pins the caller to fixed values: ``aws:SourceArn``, ``aws:SourceAccount``,
``aws:SourceOwner``, ``aws:SourceVpc(e)``, ``aws:PrincipalOrgID``, ``aws:PrincipalAccount``, ``aws:PrincipalArn``,
``aws:userid``, ... with a positive operator (``StringEquals``, ``ArnLike``, ...; not ``...IfExists``, not a
negation) and values without wildcards or policy variables, or ``aws:SourceIp`` with ranges that are not the
internet. ``aws:SecureTransport``, ``aws:UserAgent`` or ``aws:Referer`` do not restrict who calls.

TLS enforced: a Deny of every principal (``*``), every action (``s3:*`` or ``*``), on the bucket and all its
objects, whose only condition is ``Bool`` ``aws:SecureTransport`` = false. A Deny narrowed to some principals,
actions, objects or further conditions leaves the other requests open to plain HTTP.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from mbops.policies.netsets import sources
from mbops.policies.values import UNKNOWN, as_list, word

CALLER_KEYS = frozenset({
    "aws:sourcearn", "aws:sourceaccount", "aws:sourceowner", "aws:sourcevpc", "aws:sourcevpce",
    "aws:sourceorgid", "aws:sourceorgpaths", "aws:principalorgid", "aws:principalorgpaths", "aws:principalaccount",
    "aws:principalarn", "aws:principalservicename", "aws:userid", "s3:dataaccesspointarn",
    "s3:dataaccesspointaccount",
})  # fmt: skip
MATCHING = frozenset({
    "stringequals", "stringequalsignorecase", "stringlike", "arnequals", "arnlike",
})  # fmt: skip
ALL_ACTIONS = frozenset({"*", "s3:*"})


def statements(policy: Any) -> list[dict[str, Any]]:
    found = policy.get("Statement") if isinstance(policy, dict) else None
    return [s for s in as_list(found) if isinstance(s, dict)]


def label(statement: dict[str, Any], index: int) -> str:
    return str(statement.get("Sid") or f"#{index + 1}")


def everyone(principal: Any) -> bool:
    """``*`` as a principal, alone or in any principal list (``{"AWS": "*"}``, ``{"AWS": ["*", ...]}``)."""
    if isinstance(principal, str):
        return principal.strip() == "*"
    if isinstance(principal, dict):
        return any(isinstance(v, str) and v.strip() == "*" for values in principal.values() for v in as_list(values))
    return False


def _fixed(value: Any) -> bool:
    """A condition value that names one thing: no wildcard, no policy variable (a computed ARN is fixed)."""
    if value == UNKNOWN:
        return True
    return isinstance(value, str) and bool(value.strip()) and not any(c in value for c in "*?") and "${" not in value


def _operator(name: str) -> tuple[str, bool]:
    """The operator without its set qualifier, and whether the qualifier keeps it restrictive."""
    lowered = name.strip().lower()
    if lowered.startswith("forallvalues:"):
        return lowered.removeprefix("forallvalues:"), False  # true when the key is absent
    return lowered.removeprefix("foranyvalue:"), True


def restricts_caller(condition: Any) -> bool:
    """True when ``condition`` only lets through callers pinned to fixed identities, networks or sources."""
    if not isinstance(condition, dict):
        return False
    for operator, tests in condition.items():
        name, restrictive = _operator(str(operator))
        if not restrictive or not isinstance(tests, dict) or name.endswith("ifexists"):
            continue
        for key, value in tests.items():
            values = as_list(value)
            if not values:
                continue
            key = str(key).strip().lower()
            if key == "aws:sourceip" and name == "ipaddress":
                found, shown = sources(values)
                if shown and len(shown) == len(values) and not found.internet():
                    return True
            elif key in CALLER_KEYS and name in MATCHING and all(_fixed(v) for v in values):
                return True
    return False


def public_grants(policy: Any) -> Iterator[str]:
    """A message for each Allow statement that anyone on the internet can use."""
    for index, statement in enumerate(statements(policy)):
        if word(statement.get("Effect")) != "allow":
            continue
        if "NotPrincipal" in statement:
            who = "everyone except the NotPrincipal"
        elif everyone(statement.get("Principal")):
            who = "everyone (Principal *)"
        else:
            continue
        if restricts_caller(statement.get("Condition")):
            continue
        narrowed = " (its Condition does not restrict who calls)" if statement.get("Condition") else ""
        yield f"statement {label(statement, index)} allows {statement.get('Action')} to {who}{narrowed}"


def _secure_transport_only(condition: Any) -> bool | None:
    """True: exactly Bool aws:SecureTransport=false; False: that test plus others; None: no such test."""
    if not isinstance(condition, dict):
        return None
    found, others = False, False
    for operator, tests in condition.items():
        if not isinstance(tests, dict):
            others = True
            continue
        for key, value in tests.items():
            is_test = word(str(key)) == "aws:securetransport" and word(str(operator)) in ("bool", "boolifexists")
            if is_test and [str(v).strip().lower() for v in as_list(value)] == ["false"]:
                found = True
            else:
                others = True
    return (not others) if found else None


def _objects_and_bucket(resources: list[Any], bucket_name: str | None) -> bool:
    if "*" in resources:
        return True
    bucket_level = [r for r in resources if isinstance(r, str) and "/" not in r.split(":::", 1)[-1]]
    for bucket in bucket_level:
        named = bucket.split(":::", 1)[-1]
        if bucket_name and bucket != UNKNOWN and named != bucket_name and named != "*":
            continue
        if f"{bucket}/*" in resources:
            return True
    return False


def tls_gaps(statement: dict[str, Any], bucket_name: str | None = None) -> list[str] | None:
    """For a Deny statement on aws:SecureTransport=false: what narrows it ([] when it covers every request);
    None when the statement is not such a Deny."""
    if word(statement.get("Effect")) != "deny" or _secure_transport_only(statement.get("Condition")) is None:
        return None
    gaps = []
    if "NotPrincipal" in statement or statement.get("Principal") not in ("*", {"AWS": "*"}, {"AWS": ["*"]}):
        gaps.append("Principal is not *")
    actions = [word(a) for a in as_list(statement.get("Action"))]
    if "NotAction" in statement or not ALL_ACTIONS & set(actions):
        gaps.append("Action is not s3:*")
    if "NotResource" in statement or not _objects_and_bucket(as_list(statement.get("Resource")), bucket_name):
        gaps.append("Resource is not the bucket and all its objects")
    if not _secure_transport_only(statement.get("Condition")):
        gaps.append("other conditions narrow it")
    return gaps


def enforces_tls(policy: Any, bucket_name: str | None = None) -> bool:
    return any(tls_gaps(s, bucket_name) == [] for s in statements(policy))


def tls_problem(policy: Any, bucket_name: str | None = None) -> str | None:
    """Why ``policy`` does not refuse plain HTTP, or None when it does."""
    if enforces_tls(policy, bucket_name):
        return None
    for index, statement in enumerate(statements(policy)):
        gaps = tls_gaps(statement, bucket_name)
        if gaps:
            return (
                f"statement {label(statement, index)} denies requests without TLS only in part ({'; '.join(gaps)}): "
                "the rest may use plain HTTP"
            )
    return "the bucket policy has no Deny statement for aws:SecureTransport = false"
