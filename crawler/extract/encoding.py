"""Decoding page bytes: BOM, then header and <meta> claims checked against the bytes themselves.

Russian-language shops are still served in cp1251 and koi8-r, and their headers often lie.
A claim is believed only when the bytes decode cleanly under it and read like real text.
"""

from __future__ import annotations

import codecs
import re

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-zA-Z0-9_.:-]+)""", re.I)
_CYRILLIC_CANDIDATES = ("utf-8", "cp1251", "koi8-r")
_LOWER = "абвгдеёжзийклмнопрстуфхцчшщъыьэюяіўїєґ"
_LOWER_CYR = re.compile(f"[{_LOWER}]")
_UPPER_CYR = re.compile(f"[{_LOWER.upper()}]")
# The most frequent Russian letters; a correct decoding has many of them in lower case.
_COMMON = re.compile("[оеаинтсрвл]")
_BAD = re.compile("[\ufffd\x80-\x9f]")
_SAMPLE = 65536  # bytes judged; a page's first 64 kB tell its encoding


def _canonical(name: str | None) -> str | None:
    if not name:
        return None
    try:
        return codecs.lookup(name.strip().lower()).name
    except LookupError:
        return None


def header_charset(content_type: str | None) -> str | None:
    if not content_type:
        return None
    match = re.search(r"charset\s*=\s*[\"']?([^\s;\"']+)", content_type, re.I)
    return _canonical(match.group(1)) if match else None


def meta_charset(body: bytes) -> str | None:
    match = _META_CHARSET.search(body[:4096])
    return _canonical(match.group(1).decode("ascii", "ignore")) if match else None


def _plausibility(text: str) -> float:
    """How much a decoded string looks like natural text (higher is better)."""
    lower, upper = len(_LOWER_CYR.findall(text)), len(_UPPER_CYR.findall(text))
    bad = len(_BAD.findall(text))
    if lower + upper == 0:
        return -bad
    common = len(_COMMON.findall(text))
    # Mis-decoded koi8-r/cp1251 swaps letter case and scatters rare letters.
    return (lower - 2 * upper + 2 * common - 20 * bad) / (lower + upper + bad)


def _clean_utf8(sample: bytes, whole: bool) -> bool:
    """True when the bytes are valid UTF-8 (a character cut at the sample's end is allowed)."""
    for cut in (0, 1, 2, 3) if not whole else (0,):
        try:
            sample[:len(sample) - cut].decode("utf-8")
            return True
        except UnicodeDecodeError as error:
            if error.start < len(sample) - 4:  # broken inside, not at the cut
                return False
    return False


def decode_body(body: bytes, content_type: str | None = None) -> tuple[str, str]:
    """Return ``(text, encoding)`` for a page body, never raising on bad bytes."""
    for bom, name in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"),
                      (codecs.BOM_UTF16_BE, "utf-16-be")):
        if body.startswith(bom):
            return body[len(bom):].decode(name, "replace"), name

    claims = [c for c in (header_charset(content_type), meta_charset(body)) if c]
    sample = body[:_SAMPLE]
    if sample.isascii():
        name = claims[0] if claims and claims[0] not in ("utf-16-le", "utf-16-be") else "utf-8"
        return body.decode(name, "replace"), name

    # Valid UTF-8 with non-ASCII bytes is practically never a single-byte Cyrillic page
    # (cp1251/koi8-r letters are not valid continuation sequences), whatever the headers say.
    if _clean_utf8(sample, whole=len(body) <= _SAMPLE):
        return body.decode("utf-8", "replace"), "utf-8"
    candidates: list[str] = []
    for name in (*claims, *_CYRILLIC_CANDIDATES):
        if name not in candidates:
            candidates.append(name)
    best_name, best_score = "utf-8", float("-inf")
    for rank, name in enumerate(candidates):
        try:
            # utf-8 with a few broken bytes is still utf-8; single-byte codecs never fail.
            decoded = sample.decode(name, "replace" if name == "utf-8" else "strict")
        except (UnicodeDecodeError, LookupError):
            continue
        # A stated claim wins ties; utf-8 that decodes cleanly is almost never wrong.
        score = _plausibility(decoded) + (0.05 if rank < len(claims) else 0)
        if name == "utf-8":
            score += 0.5
        if score > best_score:
            best_name, best_score = name, score
    return body.decode(best_name, "replace"), best_name
