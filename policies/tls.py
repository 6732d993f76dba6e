"""The lowest TLS version a cloud's TLS setting admits, read from each cloud's policy names and enum values.

Each reader returns ``(major, minor)`` (``(1, 2)`` for TLS 1.2), the cloud's default when the setting is absent,
or None when the value is not one it knows (a policy of your own, by id or name, is judged where it is defined).
"""

from __future__ import annotations

import re

TLS12 = (1, 2)
Version = tuple[int, int]

_ELB = re.compile(r"(?:TLS13|TLS|FS)-1-(\d)")
_CLOUDFRONT = re.compile(r"^TLSv1(?:\.(\d))?(?:_\d{4})?$", re.IGNORECASE)
_APIGW = re.compile(r"TLS(?:13)?_1_(\d)", re.IGNORECASE)
_ENUM = re.compile(r"^(?:TLS|TLSV)?_?1[._]?(\d)$", re.IGNORECASE)
# Application Gateway's predefined policies (learn.microsoft.com: application-gateway-ssl-policy-overview)
APP_GATEWAY_PREDEFINED = {
    "appgwsslpolicy20150501": (1, 0), "appgwsslpolicy20170401": (1, 1), "appgwsslpolicy20170401s": (1, 2),
    "appgwsslpolicy20220101": (1, 2), "appgwsslpolicy20220101s": (1, 2),
}  # fmt: skip


def shown(version: Version) -> str:
    return f"TLS {version[0]}.{version[1]}"


def elb_policy(name: object) -> Version:
    """An ELB security policy (``ELBSecurityPolicy-TLS13-1-2-2021-06``); without one, ELB uses
    ``ELBSecurityPolicy-2016-08`` (TLS 1.0). Policies without a version in their name admit TLS 1.0."""
    match = _ELB.search(name) if isinstance(name, str) else None
    return (1, int(match.group(1))) if match else (1, 0)


def cloudfront(value: object) -> Version | None:
    """CloudFront's ``minimumProtocolVersion`` (``TLSv1.2_2021``); absent: TLSv1 (what CloudFront applies)."""
    if value is None:
        return (1, 0)
    if isinstance(value, str) and value.strip().upper() == "SSLV3":
        return (0, 3)
    match = _CLOUDFRONT.match(value.strip()) if isinstance(value, str) else None
    return (1, int(match.group(1) or 0)) if match else None


def api_gateway(value: object) -> Version | None:
    """An API Gateway domain's ``securityPolicy`` (``TLS_1_2``, ``SecurityPolicy_TLS13_1_2_2021_06``); absent:
    ``TLS_1_0``, the REST API default."""
    if value is None:
        return (1, 0)
    match = _APIGW.search(value) if isinstance(value, str) else None
    return (1, int(match.group(1))) if match else None


def enum(value: object, default: Version) -> Version | None:
    """An enum such as GCP's ``TLS_1_2``, Azure's ``TLS12`` / ``TLSv1_2`` / ``1.2``; ``default`` when absent."""
    if value is None:
        return default
    match = _ENUM.match(value.strip()) if isinstance(value, str) else None
    return (1, int(match.group(1))) if match else None
