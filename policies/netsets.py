"""Who a firewall rule lets in, and on which TCP ports, read the way the clouds read them.

Sources are sets of addresses (unions of ``ipaddress`` ranges), never strings: ``0.0.0.0/1`` + ``128.0.0.0/1``
is the internet, and so is ``::/1`` + ``8000::/1``. A set is *the internet* when it holds every public address
(what it leaves out may only be private, loopback, link-local, shared, documentation, multicast or reserved
space). ``*``, ``Any`` and Azure's ``Internet`` service tag are the internet too. Ports come as ints, strings,
``"20-25"`` ranges, ``"*"`` or from/to spans; protocols as names or numbers in any case.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from mbops.policies.values import as_list, known

Interval = tuple[int, int]
ALL_PORTS: Interval = (0, 65535)
ANYWHERE_WORDS = frozenset({"*", "any", "internet", "0.0.0.0"})  # "0.0.0.0": Azure's spelling of any
ALL_PROTOCOLS = frozenset({"-1", "all", "*", "any", "asterisk"})
TCP = frozenset({"tcp", "6"})

_V4_MAX = 2**32 - 1
_V6_MAX = 2**128 - 1
# IANA special-purpose space that is not "the internet" (RFC 6890 and successors).
_NOT_PUBLIC_V4 = (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
    "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24",
    "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
)  # fmt: skip
_GLOBAL_UNICAST_V6 = "2000::/3"
_NOT_PUBLIC_V6 = ("2001:db8::/32",)


def _interval(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> Interval:
    return int(network.network_address), int(network.broadcast_address)


def _merge(intervals: Iterable[Interval]) -> tuple[Interval, ...]:
    merged: list[Interval] = []
    for low, high in sorted(intervals):
        if merged and low <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], high))
        else:
            merged.append((low, high))
    return tuple(merged)


def _subtract(these: tuple[Interval, ...], those: tuple[Interval, ...]) -> tuple[Interval, ...]:
    out: list[Interval] = []
    for low, high in these:
        for cut_low, cut_high in those:
            if cut_high < low or cut_low > high:
                continue
            if cut_low > low:
                out.append((low, cut_low - 1))
            low = cut_high + 1
            if low > high:
                break
        if low <= high:
            out.append((low, high))
    return _merge(out)


def _ranges(*cidrs: str) -> tuple[Interval, ...]:
    return _merge(_interval(ipaddress.ip_network(c)) for c in cidrs)


PUBLIC_V4 = _subtract(((0, _V4_MAX),), _ranges(*_NOT_PUBLIC_V4))
PUBLIC_V6 = _subtract(_ranges(_GLOBAL_UNICAST_V6), _ranges(*_NOT_PUBLIC_V6))


@dataclass(frozen=True)
class AddressSet:
    """IPv4 and IPv6 addresses as sorted, disjoint, inclusive integer intervals."""

    v4: tuple[Interval, ...] = ()
    v6: tuple[Interval, ...] = ()

    @classmethod
    def everything(cls) -> AddressSet:
        return cls(((0, _V4_MAX),), ((0, _V6_MAX),))

    def __or__(self, other: AddressSet) -> AddressSet:
        return AddressSet(_merge(self.v4 + other.v4), _merge(self.v6 + other.v6))

    def __sub__(self, other: AddressSet) -> AddressSet:
        return AddressSet(_subtract(self.v4, other.v4), _subtract(self.v6, other.v6))

    def __bool__(self) -> bool:
        return bool(self.v4 or self.v6)

    def internet(self) -> list[str]:
        """``["IPv4", "IPv6"]``, the address families whose whole public space this set covers."""
        found = []
        if not _subtract(PUBLIC_V4, self.v4):
            found.append("IPv4")
        if not _subtract(PUBLIC_V6, self.v6):
            found.append("IPv6")
        return found


def source(text: object) -> AddressSet | None:
    """One source as an address set: a CIDR, an address, or a word for anywhere; None when it names something
    else (a service tag, a prefix list, a security group, a value computed at deploy time)."""
    if not isinstance(text, str) or not known(text):
        return None
    word = text.strip()
    if word.lower() in ANYWHERE_WORDS:
        return AddressSet.everything()
    try:
        network = ipaddress.ip_network(word, strict=False)
    except ValueError:
        return None
    if network.version == 4:
        return AddressSet(v4=(_interval(network),))
    return AddressSet(v6=(_interval(network),))


def sources(values: Iterable[object]) -> tuple[AddressSet, list[str]]:
    """The union of ``values`` as an address set, and the values that are addresses (for messages)."""
    union, shown = AddressSet(), []
    for value in values:
        found = source(value)
        if found is not None:
            union, shown = union | found, [*shown, str(value).strip()]
    return union, shown


def port_ranges(value: object) -> Iterator[Interval]:
    """Port ranges from ``22``, ``"22"``, ``"1000-2000"``, ``"*"``/``"any"`` or lists of those."""
    for entry in as_list(value):
        if isinstance(entry, bool):
            continue
        if isinstance(entry, int | float):
            yield int(entry), int(entry)
            continue
        if not isinstance(entry, str) or not known(entry):
            continue
        text = entry.strip()
        if text.lower() in ("*", "", "any", "all"):
            yield ALL_PORTS
            continue
        match = re.fullmatch(r"(\d+)\s*(?:-\s*(\d+))?", text)
        if match:
            low = int(match.group(1))
            yield low, int(match.group(2) or low)


def span(low: object, high: object) -> list[Interval] | None:
    """A fromPort/toPort span (numbers or numeric strings); None when either end is unknown. AWS's -1 (or a
    0-0 span with protocol all) means every port: callers pass protocol "all" for that."""
    ends = [_int(low), _int(high)]
    if ends[0] is None and ends[1] is None:
        return [ALL_PORTS]
    if ends[0] is None or ends[1] is None:
        return None
    if ends[0] < 0 or ends[1] < 0:
        return [ALL_PORTS]
    return [(min(ends), max(ends))]


def _int(value: object) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    return None


def tcp_ports(protocol: object, ports: list[Interval] | None) -> list[Interval]:
    """The TCP ports a rule admits: every port for "all"/"-1"/"*", ``ports`` for TCP, none for other protocols
    (UDP, ICMP...). ``ports`` None means "not limited" (every port)."""
    name = str(protocol).strip().lower() if protocol is not None else "all"
    if name in ALL_PROTOCOLS:
        return [ALL_PORTS]
    if name in TCP:
        return [ALL_PORTS] if ports is None else ports
    return []


def covers(ranges: Iterable[Interval], port: int) -> bool:
    return any(low <= port <= high for low, high in ranges)
