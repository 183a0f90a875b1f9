"""Payment and contact identifiers in page text and links, each validated where its format allows.

Coins are checked with libraries made for their formats (``base58`` Base58Check, ``bech32m``
for BIP-173/BIP-350 segwit addresses, Keccak-256 from pycryptodome for EIP-55 and Monero),
phone numbers with ``phonenumbers``, e-mail with ``email-validator``; ``.onion`` v3 names are
checked against the checksum and version of Tor's rend-spec-v3. A candidate whose checksum
fails is not an entity and is never returned.

Values are canonical so one identifier is stored once: ``@name`` (lower case) for Telegram,
E.164 for phones and QIWI wallets, digits only for cards, EIP-55 case for Ethereum, lower case
for bech32, e-mail, Jabber and onion names.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

import base58
import bech32m
import phonenumbers
from Crypto.Hash import keccak
from email_validator import EmailNotValidError, validate_email

KINDS = ("btc", "xmr", "eth", "trc20", "ltc", "qiwi", "webmoney", "yoomoney", "card",
         "telegram", "jabber", "phone", "email", "onion")
CONTEXT_CHARS = 60


@dataclass(frozen=True)
class FoundEntity:
    """One identifier seen on a page (the shape ``store.save_entities`` stores)."""

    kind: str
    value: str
    valid: bool = True
    context: str = ""
    detail: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


# --- coins -----------------------------------------------------------------------------------

_B58 = "[1-9A-HJ-NP-Za-km-z]"
_BASE58_ADDRESS = re.compile(rf"(?<![0-9A-Za-z])[13LMT]{_B58}{{25,34}}(?![0-9A-Za-z])")
_SEGWIT_ADDRESS = re.compile(r"(?<![0-9A-Za-z])(?:bc|ltc)1[02-9ac-hj-np-z]{6,87}(?![0-9A-Za-z])",
                             re.IGNORECASE)
_ETH_ADDRESS = re.compile(r"(?<![0-9A-Za-z])0x[0-9a-fA-F]{40}(?![0-9A-Za-z])")
_XMR_ADDRESS = re.compile(rf"(?<![0-9A-Za-z])[48]{_B58}{{94}}(?:{_B58}{{11}})?(?![0-9A-Za-z])")

# Base58Check version byte -> (kind, address type)
_BASE58_VERSIONS = {
    0x00: ("btc", "p2pkh"), 0x05: ("btc", "p2sh"),
    0x30: ("ltc", "p2pkh"), 0x32: ("ltc", "p2sh"),
    0x41: ("trc20", "tron"),
}
_SEGWIT_KINDS = {"bc": "btc", "ltc": "ltc"}


def check_base58_address(text: str) -> FoundEntity | None:
    """Bitcoin, Litecoin or Tron address in Base58Check form (the version byte says which)."""
    try:
        raw = base58.b58decode_check(text)
    except ValueError:
        return None
    if len(raw) != 21 or raw[0] not in _BASE58_VERSIONS:
        return None
    kind, kind_detail = _BASE58_VERSIONS[raw[0]]
    return FoundEntity(kind, text, detail={"type": kind_detail, "checksum": "base58check"})


def check_segwit_address(text: str) -> FoundEntity | None:
    """Bech32 (witness v0) or Bech32m (v1+, taproot) address, per BIP-173 and BIP-350."""
    if text != text.lower() and text != text.upper():
        return None  # mixed case is invalid by BIP-173
    address = text.lower()
    hrp = address.split("1", 1)[0]
    if hrp not in _SEGWIT_KINDS:
        return None
    try:
        version, program = bech32m.decode(hrp, address)
    except (bech32m.DecodeError, ValueError):
        return None
    if version == 0:
        kind_detail = "p2wpkh" if len(program) == 20 else "p2wsh"
    else:
        kind_detail = "p2tr" if version == 1 and len(program) == 32 else f"witness-v{version}"
    return FoundEntity(_SEGWIT_KINDS[hrp], address, detail={
        "type": kind_detail, "checksum": "bech32" if version == 0 else "bech32m"})


def _keccak256(data: bytes) -> bytes:
    return keccak.new(digest_bits=256, data=data).digest()


def eip55(address: str) -> str:
    """The EIP-55 mixed-case checksum form of a 0x-prefixed Ethereum address."""
    hex_part = address[2:].lower()
    digest = _keccak256(hex_part.encode("ascii")).hex()
    return "0x" + "".join(c.upper() if int(digest[i], 16) >= 8 else c
                          for i, c in enumerate(hex_part))


def check_eth_address(text: str) -> FoundEntity | None:
    """Ethereum address; a mixed-case one must match its EIP-55 checksum."""
    if not _ETH_ADDRESS.fullmatch(text):
        return None
    hex_part = text[2:]
    mixed = hex_part != hex_part.lower() and hex_part != hex_part.upper()
    canonical = eip55(text)
    if mixed and canonical != text:
        return None
    return FoundEntity("eth", canonical, detail={"checksum": "eip55" if mixed else None})


_XMR_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_XMR_BLOCK_BYTES = {0: 0, 2: 1, 3: 2, 5: 3, 6: 4, 7: 5, 9: 6, 10: 7, 11: 8}
# Monero network byte -> address type (mainnet only: testnet coins are not payments).
_XMR_NETWORK = {18: "standard", 19: "integrated", 42: "subaddress"}


def _monero_base58_decode(text: str) -> bytes | None:
    """Monero's block Base58: 11 characters per 8 bytes, big-endian, short last block."""
    out = bytearray()
    for start in range(0, len(text), 11):
        block = text[start:start + 11]
        size = _XMR_BLOCK_BYTES.get(len(block))
        if size is None:
            return None
        number = 0
        for char in block:
            number = number * 58 + _XMR_ALPHABET.index(char)
        if number >= 1 << (8 * size):
            return None
        out += number.to_bytes(size, "big")
    return bytes(out)


def check_monero_address(text: str) -> FoundEntity | None:
    """Monero address: network byte, keys, Keccak-256 checksum in Monero's Base58."""
    if not _XMR_ADDRESS.fullmatch(text):
        return None
    raw = _monero_base58_decode(text)
    if raw is None or len(raw) < 69:
        return None
    body, checksum = raw[:-4], raw[-4:]
    if _keccak256(body)[:4] != checksum or body[0] not in _XMR_NETWORK:
        return None
    expected = 77 if body[0] == 19 else 69  # integrated addresses carry an 8-byte payment id
    if len(body) != expected - 4:
        return None
    return FoundEntity("xmr", text, detail={"type": _XMR_NETWORK[body[0]],
                                            "checksum": "keccak256"})


# --- cards and wallets -----------------------------------------------------------------------

_CARD = re.compile(r"(?<![\d-])(?:\d{4}[ -]){3}\d{4}(?:[ -]?\d{3})?(?![\d-])"
                   r"|(?<![\d-])\d{4}[ -]\d{6}[ -]\d{5}(?![\d-])"
                   r"|(?<![\d-])\d{13,19}(?![\d-])")
_YOOMONEY = re.compile(r"(?<!\d)41001\d{7,12}(?!\d)")
_WEBMONEY = re.compile(r"(?<![0-9A-Za-z])([ZEURBYGXKCDVHL])(\d{12})(?!\d)")
_WEBMONEY_CURRENCY = {"Z": "USD", "E": "EUR", "R": "RUB", "U": "UAH", "B": "BYN", "Y": "UZS",
                      "G": "gold", "X": "BTC", "K": "KZT", "C": "credit", "D": "credit",
                      "V": "VND", "H": "BTC", "L": "LTC"}
_CARD_NETWORKS = (("mir", re.compile(r"220[0-4]")), ("visa", re.compile(r"4")),
                  ("mastercard", re.compile(r"5[1-5]|2[2-7]")), ("amex", re.compile(r"3[47]")),
                  ("maestro", re.compile(r"5[06-9]|6")), ("jcb", re.compile(r"35")),
                  ("unionpay", re.compile(r"62")))


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, char in enumerate(reversed(digits)):
        n = int(char)
        if i % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def check_card(text: str) -> FoundEntity | None:
    """Bank card number: 13-19 digits passing the Luhn check, with a known leading digit."""
    digits = re.sub(r"[ -]", "", text)
    if not 13 <= len(digits) <= 19 or not digits.isdigit() or digits[0] not in "23456":
        return None
    if len(set(digits)) == 1 or not luhn_ok(digits):
        return None
    network = next((name for name, prefix in _CARD_NETWORKS if prefix.match(digits)), "other")
    return FoundEntity("card", digits, detail={"network": network, "checksum": "luhn"})


def check_yoomoney(text: str) -> FoundEntity | None:
    """YooMoney (ex Yandex.Money) wallet: 41001 followed by 7-12 digits (no public checksum)."""
    if not _YOOMONEY.fullmatch(text):
        return None
    return FoundEntity("yoomoney", text, detail={"checksum": None})


def check_webmoney(text: str) -> FoundEntity | None:
    """WebMoney purse: a currency letter and 12 digits (no public checksum)."""
    match = _WEBMONEY.fullmatch(text.upper())
    if not match:
        return None
    return FoundEntity("webmoney", match.group(0), detail={
        "currency": _WEBMONEY_CURRENCY[match.group(1)], "checksum": None})


# --- phones and QIWI -------------------------------------------------------------------------

_QIWI_WORD = re.compile(r"qiwi|киви|кiwi", re.IGNORECASE)
_QIWI_NUMBER = re.compile(r"(?:qiwi|киви)[^\d+]{0,30}(\+?\d[\d ()\-]{8,17}\d)", re.IGNORECASE)


def check_phone(text: str, kind: str = "phone") -> FoundEntity | None:
    """A phone number valid for its country (international form); QIWI wallets are phones too."""
    raw = text.strip()
    if not raw.startswith("+"):
        raw = "+" + raw
    try:
        number = phonenumbers.parse(raw, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return FoundEntity(kind, e164, detail={
        "region": phonenumbers.region_code_for_number(number),
        "type": _PHONE_TYPES.get(phonenumbers.number_type(number), "other")})


_PHONE_TYPES = {phonenumbers.PhoneNumberType.MOBILE: "mobile",
                phonenumbers.PhoneNumberType.FIXED_LINE: "fixed",
                phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE: "fixed-or-mobile",
                phonenumbers.PhoneNumberType.VOIP: "voip"}


# --- messengers, mail, onion -----------------------------------------------------------------

_TG_NAME = r"[A-Za-z][A-Za-z0-9_]{3,30}[A-Za-z0-9]"
# "@" first and then a look back: the regex engine jumps from one "@" to the next.
_TG_HANDLE = re.compile(rf"@(?<![\w@.\-/]@)({_TG_NAME})(?![\w@]|\.[A-Za-z])")
_TG_LINK = re.compile(
    rf"(?<![\w.])(?:https?://)?(?:t|telegram)\.me/(?:s/)?(\+[\w-]{{10,}}|joinchat/[\w-]{{10,}}"
    rf"|{_TG_NAME})(?![\w])", re.IGNORECASE)
_TG_RESOLVE = re.compile(rf"tg://resolve\?domain=({_TG_NAME})", re.IGNORECASE)
_TG_RESERVED = {"joinchat", "share", "addstickers", "proxy", "socks", "iv", "setlanguage",
                "addtheme", "login", "confirmphone"}
_ADDRESS = re.compile(r"(?<![\w.+%-])[A-Za-z0-9][\w.+%-]{0,63}@(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,24}"
                      r"(?![\w-])")
_JABBER_WORD = re.compile(r"jabber|xmpp|жаб|джаббер|jid|\botr\b", re.IGNORECASE)
_JABBER_SERVERS = {"xmpp.is", "xmpp.jp", "jabber.ru", "jabber.org", "jabber.de", "jabber.cz",
                   "jabber.fr", "jabber.at", "jabb.im", "exploit.im", "xmpp.ru", "default.rs",
                   "thesecure.biz", "creep.im", "404.city", "dukgo.com", "conversations.im",
                   "jabber.calyxinstitute.org", "draugr.de", "jabbim.com", "xabber.org", "qip.ru",
                   "jabber.sk", "blabber.im", "jabber.hot-chilli.net", "magicbroccoli.de"}
_ONION = re.compile(r"(?<![A-Za-z2-7])([A-Za-z2-7]{56})\.onion(?![\w-])", re.IGNORECASE)


def check_telegram(name: str) -> FoundEntity | None:
    """Telegram username (5-32 letters, digits, underscores) or invite link; bots end in "bot"."""
    name = name.lstrip("@")
    if name.startswith(("+", "joinchat/")):
        code = name.split("/", 1)[-1].lstrip("+")
        return FoundEntity("telegram", f"t.me/+{code}", detail={"invite": True})
    if not re.fullmatch(_TG_NAME, name) or "__" in name or name.lower() in _TG_RESERVED:
        return None
    lowered = name.lower()
    return FoundEntity("telegram", f"@{lowered}", detail={
        "bot": lowered.endswith("bot"), "link": f"https://t.me/{lowered}"})


def check_email(address: str, kind: str = "email") -> FoundEntity | None:
    """E-mail address (or, with kind="jabber", a Jabber ID of the same shape), syntax-checked."""
    try:
        result = validate_email(address, check_deliverability=False)
    except EmailNotValidError:
        return None
    return FoundEntity(kind, result.normalized.lower(), detail={"domain": result.domain.lower()})


def is_jabber_domain(domain: str) -> bool:
    domain = domain.lower()
    return domain in _JABBER_SERVERS or "jabber" in domain or "xmpp" in domain


def check_onion(name: str) -> FoundEntity | None:
    """A v3 onion service name: base32(pubkey | checksum | version), version 3 (rend-spec-v3)."""
    label = name.lower().removesuffix(".onion").rsplit(".", 1)[-1]
    if len(label) != 56:
        return None
    try:
        raw = base64.b32decode(label.upper())
    except ValueError:
        return None
    pubkey, checksum, version = raw[:32], raw[32:34], raw[34:]
    if version != b"\x03":
        return None
    if hashlib.sha3_256(b".onion checksum" + pubkey + version).digest()[:2] != checksum:
        return None
    return FoundEntity("onion", f"{label}.onion", detail={"version": 3})


# --- one page --------------------------------------------------------------------------------

def _context(text: str, start: int, end: int) -> str:
    snippet = text[max(0, start - CONTEXT_CHARS):end + CONTEXT_CHARS]
    return " ".join(snippet.split())


def _near_before(pattern: re.Pattern[str], text: str, start: int, span: int = 40) -> bool:
    """Whether ``pattern`` occurs shortly before ``start``, on its line or the one above.

    The line above counts because a heading often names the wallet ("QIWI" / "Кошелёк: +7...").
    """
    window = "\n".join(text[max(0, start - span):start].split("\n")[-2:])
    return bool(pattern.search(window))


_PLUS = re.compile(r"\+(?<![\w+]\+)(?=[ (]{0,2}\d)")  # a literal first: the engine jumps to it
_PHONE_SPAN = 40  # '+', up to 15 digits and their separators
# The least a number with its country code shows: 7 digits (3 for the country, 4 for the
# subscriber), each after at most 4 separators (what libphonenumber's matcher allows).
_PHONE_SHAPE = re.compile(r"\+(?:[^\w\n]{0,4}\d){7}")


def _international_numbers(text: str) -> Iterator[tuple[int, int, str]]:
    """Phone numbers written with their country code (``+375 29 ...``), with their spans.

    libphonenumber's matcher is slow on long pages full of other numbers (prices, dates), so it
    reads only a short window from each ``+`` that enough digits follow ("+4°C" is no number).
    """
    for plus in _PLUS.finditer(text):
        begin = plus.start()
        if not _PHONE_SHAPE.match(text, begin):
            continue
        window = text[begin:begin + _PHONE_SPAN].split("\n", 1)[0]
        for m in phonenumbers.PhoneNumberMatcher(window, None, phonenumbers.Leniency.VALID):
            if m.start == 0:
                yield begin, begin + m.end, m.raw_string
            break


_LONG_TOKEN = re.compile(r"[0-9A-Za-z]{25,}")  # where coin addresses and onion names can be
_DIGIT_RUN = re.compile(r"\d[\d -]{10,}\d")  # where card numbers and wallet purses can be


def _windows(pattern: re.Pattern[str], text: str, before: int = 0,
             after: int = 1) -> list[tuple[int, int]]:
    """Spans of ``pattern`` widened by ``before``/``after`` characters: the only places an
    identifier can be, so the slow validating patterns read a few short windows, not the page."""
    return [(max(0, m.start() - before), m.end() + after) for m in pattern.finditer(text)]


def _find(pattern: re.Pattern[str], text: str,
          windows: list[tuple[int, int]]) -> Iterator[re.Match[str]]:
    for begin, end in windows:
        yield from pattern.finditer(text, begin, end)


def _scan(text: str) -> Iterator[tuple[int, int, FoundEntity]]:
    """Every validated identifier in ``text`` with its span."""
    taken: list[tuple[int, int]] = []  # digit spans already used, so a wallet is not a card too
    lowered = text.lower()

    def free(start: int, end: int) -> bool:
        return all(end <= s or start >= e for s, e in taken)

    tokens = _windows(_LONG_TOKEN, text)
    for pattern, check in ((_BASE58_ADDRESS, check_base58_address),
                           (_SEGWIT_ADDRESS, check_segwit_address),
                           (_ETH_ADDRESS, check_eth_address),
                           (_XMR_ADDRESS, check_monero_address)):
        for m in _find(pattern, text, tokens):
            if (found := check(m.group(0))) is not None:
                yield m.start(), m.end(), found

    if "qiwi" in lowered or "киви" in lowered:
        for m in _QIWI_NUMBER.finditer(text):
            if (found := check_phone(m.group(1), "qiwi")) is not None:
                taken.append(m.span(1))
                yield m.start(1), m.end(1), found
    for start, end, raw in _international_numbers(text):
        if not free(start, end):
            continue
        kind = "qiwi" if _near_before(_QIWI_WORD, text, start) else "phone"
        if (found := check_phone(raw, kind)) is not None:
            taken.append((start, end))
            yield start, end, found

    runs = _windows(_DIGIT_RUN, text, before=1)  # WebMoney's letter stands before its digits
    for m in _find(_YOOMONEY, text, runs):
        if free(*m.span()) and (found := check_yoomoney(m.group(0))) is not None:
            taken.append(m.span())
            yield m.start(), m.end(), found
    for m in _find(_CARD, text, runs):
        if free(*m.span()) and (found := check_card(m.group(0))) is not None:
            taken.append(m.span())
            yield m.start(), m.end(), found
    for m in _find(_WEBMONEY, text, runs):
        if (found := check_webmoney(m.group(0))) is not None:
            yield m.start(), m.end(), found

    # Each pattern only where what all its matches hold is: most pages have none of it.
    for pattern, held in ((_TG_HANDLE, "@" in text), (_TG_LINK, ".me/" in lowered),
                          (_TG_RESOLVE, "tg://" in lowered)):
        for m in pattern.finditer(text) if held else ():
            if (found := check_telegram(m.group(1))) is not None:
                yield m.start(), m.end(), found
    previous_end = 0  # a keyword before an earlier address does not describe this one
    for m in _ADDRESS.finditer(text) if "@" in text else ():
        address = m.group(0)
        domain = address.rsplit("@", 1)[1]
        before, previous_end = text[previous_end:m.start()], m.end()
        if domain.lower().endswith(".onion"):
            continue
        jabber = is_jabber_domain(domain) or _near_before(_JABBER_WORD, before, len(before))
        if (found := check_email(address, "jabber" if jabber else "email")) is not None:
            yield m.start(), m.end(), found
    if ".onion" in lowered:
        for m in _find(_ONION, text, [(b, e + len(".onion")) for b, e in tokens]):
            if (found := check_onion(m.group(1))) is not None:
                yield m.start(), m.end(), found


@functools.lru_cache(maxsize=4096)  # a site's pages share their navigation links
def _link_text(link: str) -> str:
    """What a link says about identifiers: the host of web links, the target of the others."""
    scheme, _, rest = link.partition(":")
    scheme = scheme.lower()
    if scheme in ("http", "https"):
        parts = urlsplit(link)
        host = parts.hostname or ""
        if host in ("t.me", "telegram.me"):
            return f"t.me{parts.path}"
        return host
    target = unquote(rest.lstrip("/").split("?", 1)[0])
    if scheme == "xmpp":
        return f"jabber: {target}"
    if scheme == "tel":
        return target if target.startswith("+") else ""
    if scheme == "tg":
        return link
    return target


def extract_entities(text: str, links: Iterable[str] = ()) -> list[FoundEntity]:
    """Validated identifiers in a page's visible text and links, each once, in page order."""
    found: dict[tuple[str, str], FoundEntity] = {}
    for start, end, entity in sorted(_scan(text), key=lambda hit: hit[0]):
        key = (entity.kind, entity.value)
        if key not in found:
            found[key] = FoundEntity(entity.kind, entity.value, True,
                                     _context(text, start, end), entity.detail)
    scanned: dict[str, list[FoundEntity]] = {}  # a page's links mostly share a few hosts
    for link in links:
        described = _link_text(link)
        entities = scanned.get(described)
        if entities is None:
            entities = scanned[described] = [entity for _, _, entity in _scan(described)]
        for entity in entities:
            key = (entity.kind, entity.value)
            if key not in found:
                found[key] = FoundEntity(entity.kind, entity.value, True, f"link: {link}",
                                         entity.detail)
    return list(found.values())


# Matched in the lower-cased body (a case-blind pattern cannot skip ahead to "href" and costs
# several times more on a page); what it finds is read from the body as written.
_HREF = re.compile(rb"""href\s*=\s*["']?\s*((?:mailto|xmpp|tel|tg|bitcoin|litecoin|monero|"""
                   rb"""ethereum|tron):[^"'\s>]{3,300})""")


def non_web_links(body: bytes) -> list[str]:
    """``mailto:``, ``xmpp:``, ``tel:``, ``tg:`` and coin URIs from a page's hrefs.

    The HTML extractor keeps only http(s) links; identifiers are ASCII, so the raw bytes do.
    """
    return [body[m.start(1):m.end(1)].decode("ascii", "replace")
            for m in _HREF.finditer(body.lower())]


def check(kind: str, raw: str) -> FoundEntity | None:
    """Validate one identifier of a known kind written any accepted way; None when invalid.

    ``check(kind, raw).value`` is the canonical value stored for it.
    """
    raw = raw.strip()
    if kind in ("btc", "ltc", "trc20"):
        found = check_base58_address(raw) or check_segwit_address(raw)
    elif kind in ("qiwi", "phone"):
        found = check_phone(raw, kind)
    elif kind in ("email", "jabber"):
        found = check_email(raw, kind)
    elif kind == "telegram":
        match = _TG_LINK.fullmatch(raw)
        found = check_telegram(match.group(1) if match else raw)
    else:
        found = _SINGLE_CHECKS[kind](raw)
    return found if found is not None and found.kind == kind else None


_SINGLE_CHECKS = {"eth": check_eth_address, "xmr": check_monero_address, "card": check_card,
                  "yoomoney": check_yoomoney, "webmoney": check_webmoney, "onion": check_onion}
