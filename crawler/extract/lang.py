"""Language of a page's text: ru, be, uk, en, or None when it cannot tell.

Cyrillic languages are told apart by letters (ъ/и: ru; ў, і without и: be; ї/є/ґ: uk)
and by frequent short words; Latin text is checked against English function words.
"""

from __future__ import annotations

import re
from collections import Counter
from itertools import filterfalse
from operator import itemgetter

_WORD = re.compile(r"[^\W\d_]+", re.U)
_CYRILLIC = "абвгдеёжзийклмнопрстуфхцчшщъыьэюяіўїєґ"
_STOP = {
    "ru": {"и", "в", "не", "на", "что", "с", "по", "как", "это", "для", "от", "вы", "мы", "все",
           "или", "у", "так", "же", "только", "при", "наш", "есть", "если", "уже", "его"},
    "be": {"і", "ў", "не", "на", "што", "з", "па", "як", "гэта", "для", "ад", "вы", "мы", "усе",
           "або", "ці", "таксама", "толькі", "пры", "наш", "ёсць", "калі", "ужо", "яго", "да"},
    "uk": {"і", "в", "не", "на", "що", "з", "по", "як", "це", "для", "від", "ви", "ми", "всі",
           "або", "чи", "також", "тільки", "при", "наш", "є", "якщо", "вже", "його", "та"},
    "en": {"the", "and", "of", "to", "in", "is", "for", "you", "with", "on", "that", "this",
           "are", "we", "be", "or", "at", "your", "from", "it", "by", "as", "our", "all"},
}
_ANY_STOP = frozenset().union(*_STOP.values())


def _letter_evidence(letters: str) -> dict[str, float]:
    """Letters that one of the three languages has and the others lack (or rarely use).

    ``letters`` may hold other characters too: only these letters are counted.
    """
    n = {ch: letters.count(ch) for ch in "иыэъёщіўїєґ"}
    ukr_only, be_only = n["ї"] + n["є"] + n["ґ"], n["ў"]
    shared_be_uk = n["і"]
    ru_be = n["ы"] + n["э"] + n["ё"]
    return {
        "ru": ru_be + n["ъ"] + 0.5 * n["и"] - 3 * (shared_be_uk + be_only + ukr_only),
        "be": 3 * be_only + (ru_be if shared_be_uk else 0) - 3 * (n["и"] + n["щ"] + n["ъ"])
        - 3 * ukr_only,
        "uk": 3 * ukr_only + shared_be_uk - 3 * (ru_be + n["ъ"]) - 3 * be_only,
    }


def _words(lowered: str) -> list[str]:
    """The runs of letters in a text, in no particular order. Most whitespace-separated chunks
    are letters only and are taken as they are; the regex reads only the others."""
    chunks = lowered.split()
    return [*filter(str.isalpha, chunks),
            *_WORD.findall(" ".join(filterfalse(str.isalpha, chunks)))]


def detect_language(text: str, sample: int = 3000) -> str | None:
    lowered = text[:sample].lower()
    words = _words(lowered)
    if not words:
        return None
    counts = Counter(filter(_ANY_STOP.__contains__, words))  # C loops: no Python per word
    initials = "".join(map(itemgetter(0), words))
    cyr = sum(initials.count(letter) for letter in _CYRILLIC)
    latin = len(initials.encode("ascii", "ignore"))
    if cyr >= latin:
        evidence = _letter_evidence(lowered)
        scores = {lang: sum(counts[w] for w in _STOP[lang]) + evidence[lang]
                  for lang in ("ru", "be", "uk")}
        lang = max(scores, key=scores.__getitem__)
        return lang if scores[lang] > 0 else "ru"
    hits = sum(counts[w] for w in _STOP["en"])
    return "en" if hits >= max(1, len(words) // 50) else None
