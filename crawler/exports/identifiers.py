"""What an export carries: identifiers (domains, URLs, wallets, contacts) in the form blockers read.

Domains go out in punycode (IDNA 2008, falling back to IDNA 2003 for names it refuses), URLs
with non-ASCII characters percent-encoded, ``.onion`` addresses exactly as seen.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import quote, urlsplit, urlunsplit

import idna

PAYMENT_KINDS = ("btc", "xmr", "eth", "trc20", "ltc", "qiwi", "webmoney", "yoomoney", "card")
CONTACT_KINDS = ("telegram", "jabber", "phone", "email")
SITE_TYPES = ("domain", "onion", "ip")
# Order of identifier types in every export file.
TYPE_ORDER = (*SITE_TYPES, "url", *PAYMENT_KINDS, *CONTACT_KINDS)

_DNS_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
_BARE_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
# RFC 3986 reserved and unreserved characters stay as they are; everything else is escaped.
_URL_SAFE = "/:@!$&'()*+,;=~%"
_QUERY_SAFE = _URL_SAFE + "?"


def as_utc(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def is_onion(host: str) -> bool:
    return host.rstrip(".").lower().endswith(".onion")


def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def domain_ascii(name: str) -> str:
    """A host name in punycode; ``.onion`` names and IP addresses unchanged."""
    name = name.strip().rstrip(".").lower()
    if is_onion(name) or is_ip(name) or (name.isascii() and "xn--" not in name):
        return name
    try:
        return idna.encode(name, uts46=True).decode("ascii")
    except idna.IDNAError:
        try:
            return name.encode("idna").decode("ascii")
        except UnicodeError:
            return name


def is_dns_name(name: str) -> bool:
    """Whether a name can be written into a zone or hosts file (ASCII, sane labels, not .onion)."""
    if not name.isascii() or is_onion(name) or is_ip(name) or len(name) > 253:
        return False
    return all(_DNS_LABEL.match(label) for label in name.split("."))


def url_ascii(url: str) -> str:
    """The URL with its host in punycode and non-ASCII path, query and fragment percent-encoded."""
    parts = urlsplit(url.strip())
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else domain_ascii(host)
    if parts.port is not None:
        netloc = f"{netloc}:{parts.port}"
    if parts.username is not None:
        userinfo = quote(parts.username, safe="!$&'()*+,;=%")
        if parts.password is not None:
            userinfo += ":" + quote(parts.password, safe="!$&'()*+,;=%")
        netloc = f"{userinfo}@{netloc}"

    def encode(component: str, safe: str) -> str:
        return quote(_BARE_PERCENT.sub("%25", component), safe=safe)

    return urlunsplit((parts.scheme.lower(), netloc, encode(parts.path, _URL_SAFE),
                       encode(parts.query, _QUERY_SAFE), encode(parts.fragment, _QUERY_SAFE)))


def site_type(name: str) -> str:
    if is_onion(name):
        return "onion"
    return "ip" if is_ip(name) else "domain"


@dataclass
class Identifier:
    """One thing to block: an approved site, one of its flagged URLs, or an identifier on it.

    An identifier seen on several approved sites is one ``Identifier`` listing all of them.
    """

    type: str
    value: str
    sites: list[str] = field(default_factory=list)
    site_ids: list[int] = field(default_factory=list)
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    approved_at: datetime | None = None
    reviews: list[int] = field(default_factory=list)
    reviewers: list[str] = field(default_factory=list)
    evidence_sha256: list[str] = field(default_factory=list)
    validated: bool | None = None
    hosts: list[str] = field(default_factory=list)  # sites: host names seen under the domain
    ips: list[str] = field(default_factory=list)  # sites: addresses their pages came from

    @property
    def key(self) -> tuple[str, str]:
        return (self.type, self.value)

    @property
    def decision_ref(self) -> str:
        """The approving reviews, e.g. ``R12+R15`` (empty when approved without a review row)."""
        return "+".join(f"R{review}" for review in self.reviews)

    @property
    def decision_date(self) -> str:
        return self.approved_at.date().isoformat() if self.approved_at else ""

    def merge(self, other: Identifier) -> None:
        """Fold in the same identifier as seen on another approved site."""
        for mine, theirs in ((self.sites, other.sites), (self.site_ids, other.site_ids),
                             (self.reviews, other.reviews), (self.reviewers, other.reviewers),
                             (self.evidence_sha256, other.evidence_sha256)):
            mine.extend(x for x in theirs if x not in mine)
        self.first_seen = min(filter(None, (self.first_seen, other.first_seen)), default=None)
        self.last_seen = max(filter(None, (self.last_seen, other.last_seen)), default=None)
        self.approved_at = max(filter(None, (self.approved_at, other.approved_at)), default=None)


def sort_key(identifier: Identifier) -> tuple[int, str, str]:
    order = TYPE_ORDER.index(identifier.type) if identifier.type in TYPE_ORDER else len(TYPE_ORDER)
    return (order, identifier.type, identifier.value)


def iso(moment: datetime | None) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds") if moment else ""
