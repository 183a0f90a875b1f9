"""Feature transformers of the page classifier: word and character n-grams, lexicon hits,
selling patterns and payment-identifier counts.

Everything here runs inside the one Pipeline, at training and at serving time alike; reasons for a
verdict come from these same objects (``Ngrams.terms``, ``LexiconFeatures.explain``).
"""

from __future__ import annotations

import math
import re
import zlib
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import partial
from itertools import accumulate
from operator import itemgetter
from pathlib import Path
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin

from classifiers.inflection import Declension, dictionary_forms
from classifiers.lexicon import load_cues, load_families
from classifiers.reading import (
    AMOUNT_SIGN,
    Reading,
    WordFacts,
    normalize_term,
    page_window,
    read,
    remember,
)

_DIGITS = re.compile(r"\d")


def _summed(cols: np.ndarray, per_row: np.ndarray, shape: tuple[int, int]) -> sp.csr_matrix:
    """Rows of ``per_row[i]`` columns each, as counts of each column (sorted within a row)."""
    dtype = np.uint32 if shape[0] * shape[1] <= 2**32 else np.int64  # 32 bits sort faster
    rows = np.repeat(np.arange(len(per_row), dtype=dtype), per_row)
    keys, counts = np.unique(rows * dtype(shape[1]) + cols.astype(dtype), return_counts=True)
    indptr = np.concatenate([[0], np.cumsum(np.bincount(keys // shape[1], minlength=shape[0]))])
    return sp.csr_matrix((counts.astype(np.float64), (keys % shape[1]).astype(np.int32),
                          indptr.astype(np.int32)), shape=shape)


def _log_l2(matrix: sp.csr_matrix) -> sp.csr_matrix:
    """Log-scaled counts, each row L2-normalised."""
    matrix.sum_duplicates()
    np.log1p(matrix.data, out=matrix.data)
    lengths = np.diff(matrix.indptr)
    rows = np.repeat(np.arange(matrix.shape[0]), lengths)
    norms = np.sqrt(np.bincount(rows, weights=matrix.data**2, minlength=matrix.shape[0]))
    norms[norms == 0] = 1.0
    matrix.data /= norms[rows]
    return matrix


def _word_hash(word: str, digits: bool) -> int:
    """A stable hash of one word, with every digit read as 0 when ``digits`` (Python's
    own ``hash`` changes between processes); n-gram hashing mixes it to 64 bits."""
    shown = _DIGITS.sub("0", word) if digits and not word.isalpha() else word
    return zlib.crc32(shown.encode("utf-8"))


_WORD_HASHES = {digits: WordFacts(partial(_word_hash, digits=digits), np.uint64)
                for digits in (False, True)}


def _mix(h: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: every input bit moves every output bit (uint64, wrapping).
    Works in place (callers pass an array of their own): long pages make long arrays."""
    h ^= h >> np.uint64(30)
    h *= np.uint64(0xBF58476D1CE4E5B9)
    h ^= h >> np.uint64(27)
    h *= np.uint64(0x94D049BB133111EB)
    h ^= h >> np.uint64(31)
    return h


# One odd multiplier per position in an n-gram, so "ab" and "ba" hash apart.
_POSITION = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9,
                      0xD6E8FEB86659FD93, 0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53],
                     dtype=np.uint64)


def _gram_hashes(units: np.ndarray, low: int, high: int) -> list[tuple[int, np.ndarray]]:
    """(n, hashes of every run of n consecutive units, in text order) for n in low..high; units
    are characters or word hashes. Each length reuses the sums of the one before."""
    out, acc = [], None
    for n in range(1, high + 1):
        count = len(units) - n + 1
        if count <= 0:
            break
        term = units[n - 1:n - 1 + count] * _POSITION[n - 1]
        if acc is not None:
            term += acc[:count]
        acc = term
        if n >= low:
            out.append((n, _mix(acc + np.uint64(n))))
    return out


def _padded(window: str) -> str:
    """A window's lower-cased characters, each run of whitespace one space, between spaces.
    (``str.split`` cuts at the whitespace ``\\s`` matches, at a third of a regex's cost.)"""
    text = window.lower()
    words = text.split()
    if not words:
        return "   " if text else "  "
    return (f"{'  ' if text[0].isspace() else ' '}{' '.join(words)}"
            f"{'  ' if text[-1].isspace() else ' '}")


class Ngrams(BaseEstimator, TransformerMixin):
    """Word or character n-grams, hashed into ``n_features`` columns (nothing to learn or store);
    rows are log-scaled counts, L2-normalised, or with ``sublinear=False`` counts divided by the
    square root of the page's number of n-grams (no sorting: cheap for many character n-grams).

    Words are normalised (see ``normalize``) and, with ``digits``, every digit reads as 0 so
    "1гр 2000₽" and "5гр 8000₽" share n-grams. Characters are read from the raw lower-cased text,
    where obfuscations ("м3ф", "a-PVP") keep their shape. Only the first ``head_chars`` and last
    ``tail_chars`` characters of a page (and for words the first ``max_words`` words) are read.
    Hashing runs over whole arrays of characters or word hashes at once, which keeps it cheap.
    """

    def __init__(self, kind: str = "word", ngram_range: tuple[int, int] = (1, 2),
                 head_chars: int = 6_000, tail_chars: int = 1_000, max_words: int = 800,
                 n_features: int = 2**19, digits: bool = True, sublinear: bool = True):
        self.kind = kind
        self.sublinear = sublinear
        self.ngram_range = ngram_range
        self.head_chars = head_chars
        self.tail_chars = tail_chars
        self.max_words = max_words
        self.n_features = n_features
        self.digits = digits

    def _codes(self, text: str) -> np.ndarray:
        """One uint64 per unit the n-grams are made of: a character, or a word's hash. The last
        few are kept: reasons for a page read them again."""
        recent = self.__dict__.setdefault("_recent_codes", {})
        found = recent.get(text)
        if found is None:
            window = page_window(text, self.head_chars, self.tail_chars)
            if self.kind == "char":
                chars = np.frombuffer(_padded(window).encode("utf-32-le"), dtype=np.uint32)
                found = chars.astype(np.uint64)
            else:
                reading = read(window)
                ids = reading.word_ids()[: self.max_words]
                found = _WORD_HASHES[self.digits].lookup(ids, reading.words)
            remember(recent, text, found)
        return found

    def _speller(self, text: str) -> Callable[[int, int], str]:
        """Spells the n-gram of ``n`` units at ``i`` as it was hashed: characters, or words (with
        digits as 0 when ``digits``)."""
        window = page_window(text, self.head_chars, self.tail_chars)
        if self.kind == "char":
            padded = _padded(window)
            return lambda i, n: padded[i:i + n]
        reading = read(window)
        ids, words = reading.word_ids()[: self.max_words].tolist(), reading.words

        def spell(i: int, n: int) -> str:
            gram = " ".join([words[j] for j in ids[i:i + n]])
            return _DIGITS.sub("0", gram) if self.digits else gram
        return spell

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state.pop("_recent_codes", None)
        state.pop("_recent_columns", None)
        return state

    def grams(self, text: str) -> list[str]:
        """The n-grams this transformer reads in one text, in the order ``columns`` gives."""
        spell, count = self._speller(text), len(self._codes(text))
        low, high = self.ngram_range
        return [spell(i, n) for n in range(low, high + 1) for i in range(count - n + 1)]

    def columns(self, text: str) -> np.ndarray:
        """The column of each n-gram of one text."""
        hashes = [h for _, h in _gram_hashes(self._codes(text), *self.ngram_range)]
        if not hashes:
            return np.zeros(0, dtype=np.int64)
        return self._column_of(np.concatenate(hashes)).astype(np.int64)

    def _column_of(self, hashes: np.ndarray) -> np.ndarray:
        """Hashes modulo ``n_features`` (a mask when it is a power of two: far cheaper)."""
        if self.n_features & (self.n_features - 1) == 0:
            return hashes & np.uint64(self.n_features - 1)
        return hashes % np.uint64(self.n_features)

    def fit(self, X: Iterable[str], y: object = None) -> Ngrams:
        if self.kind not in ("word", "char"):
            raise ValueError(f"kind must be 'word' or 'char', not {self.kind!r}")
        self.n_features_out_ = int(self.n_features)
        return self

    def transform(self, X: Iterable[str]) -> sp.csr_matrix:
        """All pages of a batch are hashed as one array; n-grams across two pages are dropped.
        A row holds its page's n-grams shortest first, each length in text order."""
        codes = [self._codes(text) for text in X]
        units = np.concatenate(codes) if codes else np.zeros(0, dtype=np.uint64)
        columns = [(n, self._column_of(h)) for n, h in _gram_hashes(units, *self.ngram_range)]
        recent = self.__dict__.setdefault("_recent_columns", {})
        pieces, per_row, start = [np.zeros(0, dtype=np.uint64)], [], 0
        for text, page in zip(X, codes, strict=True):
            inside = [(n, columns_n[start:start + len(page) - n + 1]) for n, columns_n in columns
                      if len(page) >= n]
            remember(recent, text, inside)  # for ``terms``, the reasons of this page
            pieces += [columns_n for _, columns_n in inside]
            per_row.append(sum(len(columns_n) for _, columns_n in inside))
            start += len(page)
        cols = np.concatenate(pieces).astype(np.int32)
        counts = np.array(per_row, dtype=np.int64)
        shape = (len(codes), self.n_features)
        if self.sublinear:
            return _log_l2(_summed(cols, counts, shape))
        # Counts without sorting or merging repeats (a product of a row with weights adds them
        # up anyway), scaled by the page's number of n-grams.
        indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
        data = np.repeat(1.0 / np.sqrt(np.maximum(counts, 1)), counts)
        return sp.csr_matrix((data, cols, indptr), shape=shape)

    def terms(self, text: str, columns: Iterable[int]) -> dict[int, str]:
        """Column → the first n-gram of ``text`` hashed to it, for the given columns."""
        wanted = sorted({int(c) for c in columns})
        if not wanted:
            return {}
        targets = np.array(wanted, dtype=np.uint64)
        grams = self.__dict__.get("_recent_columns", {}).get(text)
        if grams is None:
            grams = [(n, self._column_of(h))
                     for n, h in _gram_hashes(self._codes(text), *self.ngram_range)]
        columns = np.concatenate([columns_n for _, columns_n in grams] or [targets[:0]])
        nearest = targets[np.minimum(np.searchsorted(targets, columns), len(targets) - 1)]
        starts = list(accumulate((len(columns_n) for _, columns_n in grams), initial=0))
        spell = None  # made only when an n-gram is asked for
        found: dict[int, str] = {}
        for at in (nearest == columns).nonzero()[0].tolist():  # in order: n, then position
            column = int(columns[at])
            if column not in found:
                which = bisect_right(starts, at) - 1
                spell = self._speller(text) if spell is None else spell
                found[column] = spell(at - starts[which], grams[which][0])
        return found

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        return np.asarray([f"{self.kind}{i}" for i in range(self.n_features)], dtype=object)


# Quantities and prices, over lower-cased text; a quantity with a price close after it (or a
# price "per gram") is a price-per-unit offer. Each kind of unit is listed once: the amount
# pattern reads them all, and an amount's kind and the price-per-unit rule go by the unit found.
_GRAMS = r"г|гр|грамм\w*|g|gr|gms?|grams?|mg|мг"
_MICROGRAMS = r"мкг|mcg|ug|µg"
_OUNCES = r"oz|ounces?"
_BULK = r"kg|кг|lbs?"
# The weights of the English trade: a quarter pound ("1qp", "2 qps") and a fraction of an ounce
# ("1/8th"; "th" is a unit only after a fraction's "/", so "5th" and "May 4th" are none).
_TRADE = r"qps?|th"
_TRADE_AFTER_FRACTION = r"qps?|(?<=/\d)th|(?<=/\d\d)th"
# Counts of items: any shop sells by the piece (cartridges, bags, notes), so they are their own
# feature, apart from weights and volumes. LSD is sold by the hit ("10 Hits LSD - 150ug").
_PIECE = r"шт|pcs|tabs?|pills?|hits?"
_UNIT = (rf"(?:{_GRAMS}|{_MICROGRAMS}|{_OUNCES}|{_BULK}|{_TRADE_AFTER_FRACTION}|{_PIECE}"
         r"|ml|мл)")
_PIECES = re.compile(rf"(?:{_PIECE})$")
# Weights: what drugs are sold by, whatever the substance ("7g $70" is an offer of a drug the
# lexicon may never have heard of; "25pcs $10" may be anything).
_MASS = re.compile(rf"(?:{_GRAMS}|{_MICROGRAMS}|{_OUNCES}|{_BULK}|{_TRADE})$")
# A sign with digits right after it is the next price's ("3.5 $60": "$60", not "3.5 $").
_MONEY_AFTER = r"(?:₽|руб\w*|р\.|р\b|грн|uah|byn|usd|eur|usdt|btc|[$€£](?!\d))"
# One scan for every amount, starting with a digit or a currency sign (the characters of
# ``reading.AMOUNT_START``, so only segments the reading marks with one can hold an amount) not
# after a letter or digit (but after the "x" of a count, "50x40mg", as pills are listed):
# written as the sign and then a look back, so that the regex engine tries the look back only
# where a sign is (first, it would try it at every character). A unit is no unit before a letter
# or a hyphen, unless a number or a price follows the hyphen ("1гр-220грн", as bot menus write
# it).
_AMOUNT = re.compile(
    rf"[\d$€£₽](?:(?<!\w[\d$€£₽])|(?<=\d[xх][\d$€£₽]))[\d.,]*\s?"
    rf"(?:(?P<unit>{_UNIT})(?!\w|-(?![\d$€£₽]))|(?P<money>{_MONEY_AFTER}))?")
# A price for one unit, written price first ("$12/tab", "45$/g", "0.5 btc per gram", "2500 руб
# за 1 г"), is an offer too. Not per kilogram, pound or litre: that is how food and fuel are
# priced.
_PER_UNIT = re.compile(
    rf"\s?(?:/|per\s|за\s|an?\s)\s?(?:1\s?)?(?P<unit>{_GRAMS}|{_PIECE}|{_OUNCES})(?!\w)")
# The shortest part of a hyphenated word read on its own ("e-mail", "a-pvp" are not split), and
# the features its parts do not count for (``LexiconFeatures._word_features``).
_PART_CHARS = 3
_NOT_IN_PARTS = frozenset({"slang", "cue:shop"})
# Payment and contact identifiers (case-folded approximations; the evidence extractor validates).
_LONG_IDS = {
    "btc": re.compile(r"(?:bc1[a-z0-9]{25,62}|[13][a-z0-9]{25,34})"),
    "eth": re.compile(r"0x[a-f0-9]{40}"),
    "trc20": re.compile(r"t[a-z0-9]{33}"),
    "xmr": re.compile(r"[48][a-z0-9]{94}"),
}
# Each with what any match holds, which rules most pages out without a regex scan.
_TEXT_IDS = {
    "telegram": (re.compile(r"@[a-z][a-z0-9_]{3,31}\b|t\.me/[a-z0-9_+]{3,}"), ("@", "t.me/")),
    "onion": (re.compile(r"\.onion\b"), (".onion",)),
    "phone": (re.compile(r"\+(?:7|375|380)[\s(-]*\d{2,3}[\s)-]*\d{3}[\s-]?\d{2}[\s-]?\d{2}(?!\d)"),
              ("+",)),
    "wallet_placeholder": (re.compile(r"\{(?:bitcoin|btc|wallet|card|qiwi|address|usdt)\w*\}"),
                           ("{",)),
}
# Four groups of four digits, not inside a word or a number: ``(?<![\w.])(\d{4})`` at the start,
# written as a digit and then a look back, so that the regex engine skips ahead to digits.
_CARD = re.compile(r"(\d(?<![\w.]\d)\d{3})[ -]?(\d{4})[ -]?(\d{4})[ -]?(\d{4})(?![\w.])")

_ONION_ADDRESS = re.compile(r"(?<![a-z2-7])(?:[a-z2-7]{56}|[a-z2-7]{16})$")
PAYMENT_ID_KINDS = (*_LONG_IDS, "card", *_TEXT_IDS)
_SELLING = ("cue:dead_drop", "cue:shop", "cue:shop_en", "cue:payment", "cue:darknet",
            "price_per_unit", "price_per_weight", "quantity", "pieces", "price")
# What makes a segment an offer: a price for an amount, a dead drop, a cart or a payment.
_OFFER = ("price_per_unit", "price_per_weight", "price", "cue:dead_drop", "cue:shop",
          "cue:shop_en", "cue:payment")
# Someone reporting on drugs (police, courts, "he sold"), not someone selling them.
_REPORTING = ("cue:law_news", "cue:reporting")
_BENIGN = ("cue:law_news", "cue:reporting", "cue:harm_reduction", "cue:pharmacy",
           "cue:other_goods", "cue:forum")
DERIVED = ("substance_any", "payment_ids", "selling_any", "benign_context",
           "substance_and_selling", "slang_and_selling", "substance_and_dead_drop",
           "selling_without_benign", "substance_without_selling", "selling_without_substance",
           "substance_offers", "substance_offers_unreported", "substance_reported",
           "other_goods_offers", "other_goods_without_substance", "forum_without_offers",
           "form_offers")
# Family-agnostic signs of a substance: how it is packed and graded, how new ones are named.
_FORM = ("cue:drug_form", "cue:nps_shape")
# What a lexicon feature may say, whatever the training text's sources teach (``feature_signs``):
# naming a substance, selling, a price and a payment identifier only ever count *for* a shop, and
# benign context only *against* one. Without this the model learnt the corpus's accidents: its
# market listings carry their price in a field the text lacks, while legal shops and news print
# many, so a price counted against a shop (a Tor shop's cart of 40 prices sank to 0.01).
# Features that may mean either stay free: forum words (drug forums sell; they are benign
# context too), offers of other goods, a substance named where nothing is sold (a listing's
# title alone), selling without a substance (any shop), and each family's own count: with
# ``substance_any`` they tell a page naming forty substances of eight families (an encyclopedia)
# from one naming a few (bound, a PsychonautWiki effects page went from 0.002 to 0.50).
_FOR_A_SHOP = frozenset({*_SELLING, *_FORM, "slang", "substance_any", "payment_ids",
                         "selling_any", "substance_and_selling", "slang_and_selling",
                         "substance_and_dead_drop", "selling_without_benign", "substance_offers",
                         "substance_offers_unreported", "form_offers"})
_AGAINST_A_SHOP = frozenset({*_BENIGN, "benign_context", "substance_reported",
                             "other_goods_without_substance", "forum_without_offers"}
                            - {"cue:forum"})
# Segments either side of a substance's segment that count as "near" it.
NEAR = 1
# What a word can be to the lexicon: a hit on its own, a term's first word, a term's second word;
# the bits from ``_DIGITS_SHIFT`` on count its digits.
_ALONE, _FIRST, _SECOND, _DIGITS_SHIFT = 1, 2, 4, 3
# Lexicon hits are counted by segment, then words before terms of several words before amounts,
# then position in the segment (and which term, where several start at one word).
_EVENT_ORDER = itemgetter(0, 1, 2, 3)


def _spelt(forms: dict[str, str], lemmas: Iterable[str]) -> set[str]:
    """The words that read as these dictionary forms (``forms``), the forms themselves too."""
    lemmas = set(lemmas)
    return lemmas | {form for form, lemma in forms.items() if lemma in lemmas}


class _Tables(NamedTuple):
    """What a fitted lexicon compiles once to read words and terms (``LexiconFeatures._tables``).
    """

    regex: list[tuple[str, re.Pattern]]  # feature → its word patterns, as one regex
    index: dict[str, int]  # feature name → column
    any_pattern: re.Pattern  # any word pattern: rules most words out in one search
    declension: Declension  # case forms of one-word substance names
    forms: dict[str, str]  # a form of a term's Russian noun or adjective → its dictionary form
    declined: dict[str, tuple[str, ...]]  # a form of a one-word selling cue → its features
    # A word that may start a term of several words → the length of its longest such term, and
    # the terms: (length, words as listed or None, dictionary forms or None, the term as listed
    # or None, features, ``_kinds``), those as listed first.
    starts: dict[str, tuple[int, list[tuple]]]
    seconds: frozenset[str]  # words that may be the second word of a term of several words


class LexiconFeatures(BaseEstimator, TransformerMixin):
    """Counts of lexicon hits per substance family and per selling / benign cue, price-per-unit,
    quantity and price patterns, and payment-identifier counts, log-scaled, plus combinations a
    linear model cannot form itself: substance words *near* an offer (a price, a dead drop, a
    cart; within ``NEAR`` lines or sentences), with and without police or court reporting nearby,
    and offers of other goods (accounts, documents, weapons) on pages that name no substance, and
    offers of something shaped like a drug (a form, a purity, an NPS-style code) whatever its name.

    ``exclude_families`` drops families from the lexicon (for leave-one-family-out evaluation).
    ``scale`` multiplies every lexicon column: with a larger scale the same regularisation costs
    these few general features less than the many n-grams, so the model leans on them more.
    The lexicon read at ``fit`` is stored in the estimator, with the case and number forms of its
    Russian terms (``forms_``, from the dictionary), so a saved model is self-contained.
    """

    def __init__(self, head_chars: int = 6_000, tail_chars: int = 1_000,
                 exclude_families: Sequence[str] = (), lexicon_dir: str | None = None,
                 scale: float = 1.0):
        self.head_chars = head_chars
        self.scale = scale
        self.tail_chars = tail_chars
        self.exclude_families = exclude_families
        self.lexicon_dir = lexicon_dir

    def fit(self, X: Iterable[str], y: object = None) -> LexiconFeatures:
        directory = Path(self.lexicon_dir) if self.lexicon_dir else None
        families = load_families(directory)
        unknown = set(self.exclude_families) - set(families)
        if unknown:
            raise ValueError(f"unknown substance family: {', '.join(sorted(unknown))}")
        terms: dict[str, list[str]] = {}
        patterns: dict[str, list[str]] = {}

        def add(words: Iterable[str], feature: str, extra: Iterable[str]) -> None:
            if feature not in names:
                names.append(feature)
            for term in words:
                key = normalize_term(term)
                if key and feature not in terms.setdefault(key, []):
                    terms[key].append(feature)
            if extra:
                patterns[feature] = list(extra)

        names: list[str] = []
        for family in families.values():
            if family.name not in self.exclude_families:
                add(family.terms, f"substance:{family.name}", family.patterns)
                add(family.slang, "slang", ())
        as_listed = []
        for cue in load_cues(directory).values():
            add((*cue.terms, *cue.as_listed), f"cue:{cue.name}", cue.patterns)
            as_listed += [normalize_term(term) for term in cue.as_listed]
        names += ["price_per_unit", "price_per_weight", "quantity", "pieces", "price"]
        names += [f"payment_id:{kind}" for kind in PAYMENT_ID_KINDS]
        names += DERIVED
        self.terms_ = terms
        self.as_listed_ = sorted(set(as_listed))
        self.forms_ = dictionary_forms(word for words, _ in self._declinable() for word in words)
        self.patterns_ = patterns
        self.feature_names_ = names
        return self

    def feature_signs(self) -> np.ndarray:
        """Per feature, the sign its weight must have: +1 for a selling, amount or payment
        feature and for a substance named at all (they may only count for a shop), -1 for benign
        context, 0 where the data decide (each family's own count among them).
        """
        return np.array([1.0 if name in _FOR_A_SHOP or name.startswith("payment_id:")
                         else -1.0 if name in _AGAINST_A_SHOP else 0.0
                         for name in self.feature_names_])

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        for key in ("_compiled", "_token_features", "_roles", "_recent_hits"):
            state.pop(key, None)
        return state

    def _tables(self) -> _Tables:
        compiled = self.__dict__.get("_compiled")
        if compiled is None:
            forms = getattr(self, "forms_", {})  # none in a model trained before them
            declined_words, declined_phrases = self._declined()
            starts, seconds = self._phrases(forms, declined_phrases)
            regex = [(f, re.compile("|".join(f"(?:{p})" for p in ps)))
                     for f, ps in self.patterns_.items()]
            compiled = _Tables(
                regex=regex,
                index={name: i for i, name in enumerate(self.feature_names_)},
                any_pattern=re.compile("|".join(f"(?:{p})" for ps in self.patterns_.values()
                                                for p in ps) or "(?!)"),
                declension=Declension({term: features for term, features in self.terms_.items()
                                       if all(f.startswith("substance:") for f in features)}),
                forms=forms,
                declined={word: declined_words[forms.get(word, word)]
                          for word in _spelt(forms, declined_words)},
                starts=starts, seconds=seconds)
            self.__dict__["_compiled"] = compiled
            self.__dict__["_token_features"] = {}
            self.__dict__["_roles"] = WordFacts(self._role, np.uint8)
        return compiled

    def _phrases(self, forms: dict[str, str], declined: dict[tuple[str, ...], tuple[str, ...]]
                 ) -> tuple[dict[str, tuple[int, list[tuple]]], frozenset[str]]:
        """The terms of several words by the words they may start with (``_Tables.starts``), as
        listed and, ``declined``, in their dictionary forms; and the words that may be their
        second words."""
        listed: dict[str, list[tuple[str, ...]]] = {}
        for term in self.terms_:
            if " " in term:
                words = tuple(term.split())
                listed.setdefault(words[0], []).append(words)
        by_first: dict[str, list[tuple[tuple[str, ...], tuple[str, ...]]]] = {}
        for key, features in declined.items():
            by_first.setdefault(key[0], []).append((key, features))
        starts = {}
        for first in listed.keys() | _spelt(forms, by_first):
            terms = [(len(words), words, None, " ".join(words),
                      tuple(self.terms_[" ".join(words)])) for words in listed.get(first, ())]
            terms += [(len(key), None, key, None, features)
                      for key, features in by_first.get(forms.get(first, first), ())]
            starts[first] = (max(term[0] for term in terms),
                             [(*term, _kinds(term[4])) for term in terms])
        seconds = ({words[1] for terms in listed.values() for words in terms}
                   | _spelt(forms, (key[1] for key in declined)))
        return starts, frozenset(seconds)

    def _declinable(self) -> Iterator[tuple[list[str], tuple[str, ...]]]:
        """(words, features) of each term read in any case and number: selling cues
        and terms of several words. Not one-word benign cues, whose forms the lexicon lists one
        by one: their other forms are everyday words on shop pages too ("права" is a licence,
        "право" a right; "сообщение" a forum post, "ждем ваших сообщений" a shop's support), nor
        terms ``as_listed``."""
        as_listed = set(getattr(self, "as_listed_", ()))
        for term, features in self.terms_.items():
            words = term.split()
            if term not in as_listed and (len(words) > 1 or all(
                    f.startswith("cue:") and f not in _BENIGN for f in features)):
                yield words, tuple(features)

    def _declined(self) -> tuple[dict[str, tuple[str, ...]],
                                 dict[tuple[str, ...], tuple[str, ...]]]:
        """The declinable terms (``_declinable``) by their dictionary forms, one-word and of
        several words, each with its features; terms whose dictionary forms are another term's
        with other features are left out: the lexicon tells them apart by their forms
        ("банковские карты" are goods, "банковской картой" a payment)."""
        forms = getattr(self, "forms_", {})
        found: dict[tuple[str, ...], dict[tuple[str, ...], None]] = {}
        for words, features in self._declinable():
            found.setdefault(tuple(forms.get(w, w) for w in words), {})[features] = None
        unique = {key: next(iter(features)) for key, features in found.items()
                  if len(features) == 1}
        return ({key[0]: features for key, features in unique.items() if len(key) == 1},
                {key: features for key, features in unique.items() if len(key) > 1})

    def _word_features(self, token: str) -> tuple[str, ...]:
        """Features one word hits on its own: terms (Russian substance names, and selling cues
        that are nouns or adjectives, in any case form), word patterns, long payment ids. A
        hyphenated word the lexicon does not know hits what its parts hit ("курьеры-закладчики",
        "pharma-grade"), except slang and the Russian shop words: in a compound they name
        everyday things ("альфа-банк", "ice-cream", "acid-free"; the news's "интернет-магазин",
        "telegram-бот", in 22 and 21 benign training documents and no drug one)."""
        tables = self._tables()
        found = list(self.terms_.get(token, ()) or tables.declension.features(token)
                     or tables.declined.get(token, ()))
        if tables.any_pattern.search(token):
            found += [f for f, pattern in tables.regex if f not in found and pattern.search(token)]
        if len(token) >= 26:
            found += [f"payment_id:{kind}" for kind, pattern in _LONG_IDS.items()
                      if pattern.fullmatch(token)]
        if not found and "-" in token:
            for part in token.split("-"):
                if len(part) >= _PART_CHARS:
                    found += [f for f in self._word_features(part)
                              if f not in _NOT_IN_PARTS and f not in found]
        return tuple(found)

    def _features_of(self, token: str) -> tuple[tuple[str, ...], int]:
        """``_word_features`` and what they say a segment holds (``_kinds``), memoised per model
        (asked only of words that hit something)."""
        cache = self.__dict__["_token_features"]
        found = cache.get(token)
        if found is None:
            if len(cache) > 500_000:
                cache.clear()
            features = self._word_features(token)
            found = cache[token] = (features, _kinds(features))
        return found

    def _role(self, word: str) -> int:
        """What a word can be to the lexicon (bits): a hit on its own, the first or the second
        word of a term of several words; and above those, how many digits it has (up to 31,
        enough to tell where a card number may be). Most words are nothing to the lexicon, and
        are ruled out a page at a time."""
        tables = self._tables()
        return ((_ALONE if self._word_features(word) else 0)
                | (_FIRST if word in tables.starts else 0)
                | (_SECOND if word in tables.seconds else 0) | _digit_count(word) << _DIGITS_SHIFT)

    def _roles_of(self, reading: Reading) -> np.ndarray:
        """``_role`` of each element of ``reading.stream`` (0 for the ends of segments)."""
        self._tables()
        return self.__dict__["_roles"].lookup(reading.stream, reading.words)

    def _hits(self, text: str) -> tuple[dict[str, Counter], dict[str, float]]:
        """Matched terms per feature and the segment co-occurrence counts of one text (the last
        few are kept for ``explain``)."""
        recent = self.__dict__.setdefault("_recent_hits", {})
        hits = recent.get(text)
        if hits is None:
            hits = remember(recent, text, self._match(text))
        return hits

    def _match(self, text: str) -> tuple[dict[str, Counter], dict[str, float]]:
        """Hits are counted in text order, segment by segment: a segment's words, then its terms
        of several words, then its amounts; that order is the order ``explain`` lists terms in.
        Most words hit nothing, so they are ruled out a page at a time (numpy over word ids)."""
        reading = read(page_window(text, self.head_chars, self.tail_chars))
        roles = self._roles_of(reading)
        phrases = self._term_events(reading, roles)
        # A listed phrase that says a word means something else overrides it: "сосновые шишки"
        # are cones, not cannabis; "закладки для книг" are bookmarks, not dead drops. (A word
        # inside a phrase of its own kind, "клада" in "адрес клада", still counts.)
        meaning: dict[int, set[str]] = {}
        for _, _, start, _, term, features, _ in phrases:
            for at in range(start, start + term.count(" ") + 1):
                meaning.setdefault(at, set()).update(features)
        events = [event for event in self._word_events(reading, roles)
                  if event[2] not in meaning or not meaning[event[2]].isdisjoint(event[5])]
        events += phrases
        numbers = [number for number, _ in reading.amounts]
        events += [(numbers[index], 2, i, 0, term, (feature,), _kinds((feature,)))
                   for i, (index, feature, term) in
                   enumerate(_amounts([part for _, part in reading.amounts]))]
        events.sort(key=_EVENT_ORDER)
        terms: dict[str, list[str]] = {}  # feature → its terms, each time one is found
        kinds: dict[int, int] = {}  # segment number → what it holds
        for number, _, _, _, term, features, held in events:
            for feature in features:
                listed = terms.get(feature)
                if listed is None:
                    listed = terms[feature] = []
                listed.append(term)
            kinds[number] = kinds.get(number, 0) | held
        hits = {feature: Counter(listed) for feature, listed in terms.items()}
        _payment_ids(reading, roles, hits)
        return hits, _near_counts(kinds)

    def _word_events(self, reading: Reading, roles: np.ndarray) -> list[tuple]:
        """(segment number, 0, position, 0, word, its features, what they say the segment holds)
        for each word that hits a feature on its own."""
        stream, words = reading.stream, reading.words
        at = (roles & _ALONE).nonzero()[0]
        tokens = [words[i] for i in stream[at].tolist()]
        features_of = self._features_of
        return [(number, 0, position, 0, token, *features_of(token))
                for number, position, token in zip(reading.number[at].tolist(), at.tolist(),
                                                   tokens, strict=True)]

    def _term_events(self, reading: Reading, roles: np.ndarray) -> list[tuple]:
        """(segment number, 1, position, which term, the page's words, the term's features, what
        they say the segment holds) for each term of several words, its Russian nouns and
        adjectives in any case and number ("моментальных покупок" is "моментальные покупки");
        words are compared only where a term's first word is followed by a second word."""
        tables = self._tables()
        starts, forms = tables.starts, tables.forms
        stream, words = reading.stream, reading.words
        at = ((roles[:-1] << 1) & roles[1:] & _SECOND).nonzero()[0]
        events = []
        for position, number in zip(at.tolist(), reading.number[at].tolist(), strict=True):
            longest, terms = starts[words[stream[position]]]
            following = [words[i] for i in stream[position:position + longest].tolist()]
            spelt, found = None, []  # lengths of the terms found here as listed
            for which, (length, listed, key, term, features, kinds) in enumerate(terms):
                if listed is not None:
                    if tuple(following[:length]) == listed:
                        events.append((number, 1, position, which, term, features, kinds))
                        found.append(length)
                # A term found as listed here is not found again in its dictionary forms.
                elif length not in found:
                    if spelt is None:
                        spelt = tuple(map(forms.get, following, following))
                    if spelt[:length] == key:
                        events.append((number, 1, position, which,
                                       " ".join(following[:length]), features, kinds))
        return events

    def _row(self, hits: dict[str, Counter], near: dict[str, float]) -> np.ndarray:
        index = self._tables().index
        row = np.zeros(len(self.feature_names_))
        total = {f: sum(c.values()) for f, c in hits.items()}
        for feature, n in total.items():
            if feature in index:  # a model trained before a feature existed ignores it
                row[index[feature]] = n

        def group(prefix: str) -> float:
            return float(sum(n for f, n in total.items() if f.startswith(prefix)))

        substance, slang, ids = group("substance:"), total.get("slang", 0), group("payment_id:")
        selling = sum(total.get(f, 0) for f in _SELLING) + ids
        benign = sum(total.get(f, 0) for f in _BENIGN)
        goods = total.get("cue:other_goods", 0)
        derived = {
            "substance_any": substance,
            "payment_ids": ids,
            "selling_any": selling,
            "benign_context": benign,
            "substance_and_selling": math.sqrt(substance * selling),
            "slang_and_selling": math.sqrt(slang * selling),
            "substance_and_dead_drop": math.sqrt(substance * total.get("cue:dead_drop", 0)),
            "selling_without_benign": max(0.0, selling - benign),
            "substance_without_selling": substance if selling == 0 else 0.0,
            "selling_without_substance": selling if substance == 0 else 0.0,
            "other_goods_without_substance": goods if substance == 0 else 0.0,
            "forum_without_offers": (total.get("cue:forum", 0)
                                     if not near["substance_offers"] else 0.0),
            **near,
        }
        for name, value in derived.items():
            if name in index:
                row[index[name]] = value
        return np.log1p(row) * self.scale

    def transform(self, X: Iterable[str]) -> sp.csr_matrix:
        rows = [self._row(*self._hits(text)) for text in X]
        if not rows:
            return sp.csr_matrix((0, len(self.feature_names_)))
        return sp.csr_matrix(np.vstack(rows))

    def explain(self, text: str) -> dict[str, list[str]]:
        """Matched terms behind each lexicon feature of one text, most frequent first."""
        hits, _ = self._hits(text)
        terms = {f: [t for t, _ in _most_common(c, 5)] for f, c in hits.items()}

        def collect(features: Iterable[str]) -> list[str]:
            return list(dict.fromkeys(t for f in features for t in terms.get(f, ())))[:5]

        substances = collect(f for f in hits if f.startswith("substance:"))
        slang = terms.get("slang", [])
        ids = collect(f for f in hits if f.startswith("payment_id:"))
        sells = collect((*_SELLING, *(f for f in hits if f.startswith("payment_id:"))))
        offers = collect(_OFFER)
        reported = collect(_REPORTING)
        goods = terms.get("cue:other_goods", [])
        terms.update({
            "substance_any": substances,
            "payment_ids": ids,
            "selling_any": sells,
            "benign_context": collect(_BENIGN),
            "substance_and_selling": substances[:3] + sells[:2],
            "slang_and_selling": slang[:3] + sells[:2],
            "substance_and_dead_drop": substances[:3] + terms.get("cue:dead_drop", [])[:2],
            "selling_without_benign": sells,
            "substance_without_selling": substances,
            "selling_without_substance": sells,
            "substance_offers": substances[:3] + offers[:2],
            "substance_offers_unreported": substances[:3] + offers[:2],
            "substance_reported": substances[:3] + reported[:2],
            "form_offers": collect(_FORM)[:3] + offers[:2],
            "other_goods_offers": goods[:3] + offers[:2],
            "other_goods_without_substance": goods,
            "forum_without_offers": terms.get("cue:forum", []),
        })
        return terms

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        return np.asarray(self.feature_names_, dtype=object)


def _most_common(counter: Counter, n: int) -> list[tuple[str, int]]:
    """``counter.most_common(n)`` (ties in first-seen order), without a heap: counters are small.
    """
    return sorted(counter.items(), key=itemgetter(1), reverse=True)[:n]


def _digit_count(word: str) -> int:
    """Decimal digits in a word (up to 31). Folding a word reads a digit as a letter only
    between two letters, where no card number's digit is."""
    return 0 if word.isalpha() else min(sum(map(str.isdecimal, word)), 31)


def _payment_ids(reading: Reading, roles: np.ndarray, hits: dict[str, Counter]) -> None:
    """Card numbers, Telegram handles, onion addresses, phones and wallet placeholders anywhere in
    a text. A card number holds no segment end (its spaces follow digits), and its sixteen
    digits are all in the words of its segment (``roles`` counts them), so only segments with as
    many are searched."""
    if reading.amounts:
        at = (reading.stream > AMOUNT_SIGN).nonzero()[0]  # words: only they are in a segment
        digits = np.bincount(reading.number[at], roles[at] >> _DIGITS_SHIFT)
        cards = [" ".join(m.groups()) for number, part in reading.amounts if digits[number] >= 16
                 for m in _CARD.finditer(part)]
        if cards:
            hits.setdefault("payment_id:card", Counter()).update(cards)
    lower = reading.lower
    for kind, (pattern, signs) in _TEXT_IDS.items():
        if any(sign in lower for sign in signs):
            found = (_onion_addresses(lower, pattern) if kind == "onion"
                     else [m.group(0) for m in pattern.finditer(lower)])
            if found:
                hits.setdefault(f"payment_id:{kind}", Counter()).update(found)


def _onion_addresses(lower: str, pattern: re.Pattern) -> list[str]:
    """Each ".onion" with the v2 or v3 address before it (those without one are no address)."""
    found = []
    for m in pattern.finditer(lower):
        address = _ONION_ADDRESS.search(lower, max(0, m.start() - 57), m.start())
        if address is not None:
            found.append(address.group(0) + m.group(0))
    return found


_YEAR = re.compile(r"(?:19|20)\d\d")
_PER_BODY_WEIGHT = re.compile(r"\s?(?:/|per\s|на\s)\s?(?:kg|кг)\b")


def _not_a_quantity(text: str, m: re.Match) -> bool:
    """A number with a unit that holds no amount for sale: a dose by body weight ("1-1.5
    mg/kg", as dosing guides give it); and as "г." is also "город" (town) and "год" (year), a
    number ending in a comma or a full stop before its unit ("220030, г. Минск", in every
    Belarusian site's address), after "№" ("школа № 47 г. Витебска"), or a year before "г."
    ("в 2023 г.")."""
    number = text[m.start():m.start("unit")].rstrip()
    return (_PER_BODY_WEIGHT.match(text, m.end()) is not None
            or number[-1] in ".,"
            or text[max(0, m.start() - 2):m.start()].rstrip().endswith("№")
            or (m.group("unit") == "г" and text[m.end():m.end() + 1] == "."
                and _YEAR.fullmatch(number) is not None))


# The punctuation a price written sign first ends with ("$70," in "10 hits $70, 25 hits $150."):
# part of the number to the pattern, not to the reviewer reading the reasons.
_AFTER_NUMBER = re.compile(r"(?<=\d)[.,]+$")


def _amounts(parts: list[str]) -> list[tuple[int, str, str]]:
    """(which part, feature, text) of the quantities, prices and price-per-unit offers in these
    lower-cased segments, in text order. One scan reads them all, joined by "\\0": no amount
    holds one, and the pattern reads one as it reads the end of a text."""
    text = "\0".join(parts)
    ends = list(accumulate(len(part) + 1 for part in parts))
    found: list[tuple[int, str, str]] = []
    last_quantity = last_unit = None
    index = 0
    for m in _AMOUNT.finditer(text):
        unit, money = m.groups()
        if not (unit or money or m.group(0)[0] in "$€£₽"):
            continue  # a number alone, as most are
        if m.start() >= ends[index]:  # a part further on: no offer spans two
            index = bisect_right(ends, m.start(), index)
            last_quantity = None
        amount = m.group(0).strip()
        if unit and _not_a_quantity(text, m):
            continue
        if unit:
            kind = "pieces" if _PIECES.match(unit) else "quantity"
        elif money or (amount[0] in "$€£₽" and len(amount) > 1):
            kind = "price"
        else:
            continue
        found.append((index, kind, _AFTER_NUMBER.sub("", amount)))  # shown without "," or "."
        if unit:
            last_quantity, last_unit = m, unit
            continue
        if last_quantity is not None and m.start() - last_quantity.end() <= 24:
            offer = _AFTER_NUMBER.sub("", text[last_quantity.start():m.end()].rstrip())
            found += _offer(index, offer, last_unit)
            last_quantity = None
        per = _PER_UNIT.match(text, m.end())
        if per is not None:
            found += _offer(index, text[m.start():per.end()], per.group("unit"))
    return found


def _offer(index: int, offer: str, unit: str) -> list[tuple[int, str, str]]:
    """A price for an amount: per unit, and per weight where the unit is one."""
    if _MASS.match(unit):
        return [(index, "price_per_unit", offer), (index, "price_per_weight", offer)]
    return [(index, "price_per_unit", offer)]


# What a segment holds, as bits: a substance, an offer, reporting, other goods, a drug's form.
_SUBSTANCE, _OFFERED, _REPORTED, _GOODS, _SHAPED = 1, 2, 4, 8, 16
_KINDS: dict[tuple[str, ...], int] = {}


def _kinds(features: tuple[str, ...]) -> int:
    """What a hit on these features says a segment holds (memoised: few combinations occur).
    A segment holds what any of its hits says."""
    kinds = _KINDS.get(features)
    if kinds is None:
        kinds = _KINDS[features] = (
            (_SUBSTANCE if any(f.startswith("substance:") for f in features) else 0)
            | (_OFFERED if any(f in features for f in _OFFER) else 0)
            | (_REPORTED if any(f in features for f in _REPORTING) else 0)
            | (_GOODS if "cue:other_goods" in features else 0)
            | (_SHAPED if any(f in features for f in _FORM) else 0))
    return kinds


def _near_counts(kinds: dict[int, int]) -> dict[str, float]:
    """Segments naming a substance (or other goods, or a drug's form) with an offer or reporting
    within ``NEAR`` segments of them; ``kinds`` by segment number, segments holding none left out.
    """
    counts = dict.fromkeys(("substance_offers", "substance_offers_unreported",
                            "substance_reported", "other_goods_offers", "form_offers"), 0.0)
    for i, own in kinds.items():
        if not own & (_SUBSTANCE | _GOODS | _SHAPED):
            continue
        near = 0
        for j in range(i - NEAR, i + NEAR + 1):
            near |= kinds.get(j, 0)
        offered, reported = near & _OFFERED, near & _REPORTED
        if own & _SHAPED and offered and not reported:
            counts["form_offers"] += 1
        if own & _SUBSTANCE:
            if offered:
                counts["substance_offers"] += 1
                if not reported:
                    counts["substance_offers_unreported"] += 1
            if reported:
                counts["substance_reported"] += 1
        if own & _GOODS and offered:
            counts["other_goods_offers"] += 1
    return counts
