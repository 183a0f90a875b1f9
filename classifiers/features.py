"""Feature transformers of the page classifier: word and character n-grams, lexicon hits,
selling patterns and payment-identifier counts.

Everything here runs inside the one Pipeline, at training and at serving time alike; reasons for a
verdict come from these same objects (``Ngrams.terms``, ``LexiconFeatures.explain``).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin

from classifiers.lexicon import load_cues, load_families

# Latin letters that look like Cyrillic ones and back; digits used as letters in obfuscated words.
_LAT_TO_CYR = str.maketrans("aeopcxykmhtbu", "аеорсхукмнтви")
_CYR_TO_LAT = str.maketrans("аеорсхукмнтв", "aeopcxykmhtb")
_DIGIT_TO_CYR = str.maketrans("0364@", "оебча")
_DIGIT_TO_LAT = str.maketrans("03145@$", "oeiasas")
_CHARS = str.maketrans({"ё": "е", "α": "a", "‑": "-", "–": "-", "—": "-", "’": "'", "\u0301": None})
# Where a word mixes scripts or hides a letter behind a digit ("к0кс", "мeф" with a Latin "e").
_JUNCTION = re.compile(r"[а-яі][a-z0-9@$]|[a-z0-9@$][а-яі]|[a-zа-яі][0-9@$][a-zа-яі]")
_CYR = re.compile(r"[а-яі]")
_LAT = re.compile(r"[a-z]")
_IN_WORD_DIGIT = re.compile(r"(?<=[^\W\d_])[0-9@$](?=[^\W\d_])")
TOKEN = re.compile(r"[^\W_](?:[\w'-]*[^\W_])?")
_RAW_TOKEN = re.compile(r"[\w@$]+(?:['\-‑][\w@$]+)*")
_DIGITS = re.compile(r"\d")
_SPACE = re.compile(r"\s+")


def _fold_word(token: str) -> str:
    cyr, lat = len(_CYR.findall(token)), len(_LAT.findall(token))
    if cyr >= lat and cyr:
        return _IN_WORD_DIGIT.sub(
            lambda m: m.group(0).translate(_DIGIT_TO_CYR), token).translate(_LAT_TO_CYR)
    if lat:
        return _IN_WORD_DIGIT.sub(
            lambda m: m.group(0).translate(_DIGIT_TO_LAT), token).translate(_CYR_TO_LAT)
    return token


def normalize(text: str) -> str:
    """Lower case, ``ё``→``е``, and mixed-script or digit-obfuscated words folded to one script."""
    text = text.lower().translate(_CHARS)
    parts, last, end = [], 0, len(text)
    for match in _JUNCTION.finditer(text):
        start = match.start()
        if start < last:
            continue
        while start > 0 and (text[start - 1].isalnum() or text[start - 1] in "@$"):
            start -= 1
        stop = match.end()
        while stop < end and (text[stop].isalnum() or text[stop] in "@$"):
            stop += 1
        parts += [text[last:start], _fold_word(text[start:stop])]
        last = stop
    if not parts:
        return text
    parts.append(text[last:])
    return "".join(parts)


_FOLDED: dict[str, str] = {}


def _fold(token: str) -> str:
    folded = _FOLDED.get(token)
    if folded is None:
        if len(_FOLDED) > 500_000:  # bound the cache; it refills with the words in use
            _FOLDED.clear()
        # Long tokens are identifiers (wallets, hashes): never fold their digits.
        text = normalize(token) if len(token) <= 24 else token.translate(_CHARS)
        folded = _FOLDED[token] = "-".join(TOKEN.findall(text))
    return folded


_RECENT: dict[tuple[int, str], list[str]] = {}


def tokenize(text: str, max_chars: int) -> list[str]:
    """Normalised words of the first ``max_chars`` characters; a hyphenated name is one word.

    The feature branches of one pipeline read the same page, so the last few results are kept.
    """
    key = (max_chars, text)
    words = _RECENT.get(key)
    if words is None:
        if len(_RECENT) >= 256:
            _RECENT.clear()
        folded = _FOLDED
        words = [folded.get(t) or _fold(t) for t in _RAW_TOKEN.findall(text[:max_chars].lower())]
        words = _RECENT[key] = [t for t in words if t]
    return words


def normalize_term(term: str) -> str:
    """A lexicon term as ``tokenize`` would read it, words joined by single spaces."""
    return " ".join(tokenize(term, len(term)))


_ZEROS: dict[str, str] = {}


def _zero(word: str) -> str:
    if len(_ZEROS) > 500_000:
        _ZEROS.clear()
    zeroed = _ZEROS[word] = _DIGITS.sub("0", word)
    return zeroed


class Ngrams(BaseEstimator, TransformerMixin):
    """Word or character n-grams with a vocabulary learned at ``fit`` (``min_df``,
    ``max_features``); rows are log-scaled counts, L2-normalised.

    Words are normalised (see ``normalize``) and, with ``digits``, every digit reads as 0 so
    "1гр 2000₽" and "5гр 8000₽" share n-grams. Characters are read from the raw lower-cased text,
    where obfuscations ("м3ф", "a-PVP") keep their shape. Only the first ``max_chars`` characters
    (and for words the first ``max_words`` words) are read.
    """

    def __init__(self, kind: str = "word", ngram_range: tuple[int, int] = (1, 2),
                 max_chars: int = 10_000, max_words: int = 800, min_df: int = 2,
                 max_features: int = 200_000, digits: bool = True):
        self.kind = kind
        self.ngram_range = ngram_range
        self.max_chars = max_chars
        self.max_words = max_words
        self.min_df = min_df
        self.max_features = max_features
        self.digits = digits

    def grams(self, text: str) -> list[str]:
        """The n-grams this transformer reads in one text, in order."""
        low, high = self.ngram_range
        if self.kind == "char":
            s = f" {_SPACE.sub(' ', text[: self.max_chars].lower())} "
            return [s[i:i + n] for n in range(low, high + 1) for i in range(len(s) - n + 1)]
        words = tokenize(text, self.max_chars)[: self.max_words]
        if self.digits:
            words = [_ZEROS.get(w) or _zero(w) for w in words]
        out = list(words) if low == 1 else []
        for n in range(max(low, 2), high + 1):
            out += [" ".join(words[i:i + n]) for i in range(len(words) - n + 1)]
        return out

    def fit(self, X: Iterable[str], y: object = None) -> Ngrams:
        if self.kind not in ("word", "char"):
            raise ValueError(f"kind must be 'word' or 'char', not {self.kind!r}")
        df: Counter = Counter()
        for text in X:
            df.update(set(self.grams(text)))
        kept = sorted((g for g, n in df.items() if n >= self.min_df), key=lambda g: (-df[g], g))
        self.vocabulary_ = {g: i for i, g in enumerate(kept[: self.max_features])}
        return self

    def transform(self, X: Iterable[str]) -> sp.csr_matrix:
        vocabulary = self.vocabulary_
        indptr, indices = [0], []
        for text in X:
            indices += [c for c in map(vocabulary.get, self.grams(text)) if c is not None]
            indptr.append(len(indices))
        matrix = sp.csr_matrix(
            (np.ones(len(indices)), np.asarray(indices, dtype=np.int32),
             np.asarray(indptr, dtype=np.int32)),
            shape=(len(indptr) - 1, len(vocabulary)))
        matrix.sum_duplicates()
        np.log1p(matrix.data, out=matrix.data)
        lengths = np.diff(matrix.indptr)
        rows = np.repeat(np.arange(matrix.shape[0]), lengths)
        norms = np.sqrt(np.bincount(rows, weights=matrix.data**2, minlength=matrix.shape[0]))
        norms[norms == 0] = 1.0
        matrix.data /= norms[rows]
        return matrix

    def terms(self) -> list[str]:
        """Column index → n-gram."""
        inverse = self.__dict__.get("_inverse")
        if inverse is None:
            inverse = [""] * len(self.vocabulary_)
            for gram, i in self.vocabulary_.items():
                inverse[i] = gram
            self.__dict__["_inverse"] = inverse
        return inverse

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state.pop("_inverse", None)
        return state

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        return np.asarray(self.terms(), dtype=object)


# Quantities and prices, over lower-cased text; a quantity with a price close after it (or a
# price "per gram") is a price-per-unit offer.
_UNIT = r"(?:г|гр|грамм\w*|g|gr|grams?|шт|pcs|mg|мг|мкг|ug|µg|kg|кг|oz|ml|мл|tabs?|pills?)"
_MONEY_AFTER = r"(?:₽|руб\w*|р\.|р\b|грн|uah|byn|usd|eur|usdt|btc|\$|€|£)"
# One scan for every amount (starting with a digit or a currency sign, which keeps it fast).
_AMOUNT = re.compile(
    rf"[\d$€£₽][\d.,]*\s?(?:(?P<unit>{_UNIT})(?![^\W\d_]|-)|(?P<money>{_MONEY_AFTER}))?")
# Payment and contact identifiers (case-folded approximations; the evidence extractor validates).
_LONG_IDS = {
    "btc": re.compile(r"(?:bc1[a-z0-9]{25,62}|[13][a-z0-9]{25,34})"),
    "eth": re.compile(r"0x[a-f0-9]{40}"),
    "trc20": re.compile(r"t[a-z0-9]{33}"),
    "xmr": re.compile(r"[48][a-z0-9]{94}"),
}
_TEXT_IDS = {
    "telegram": re.compile(r"@[a-z][a-z0-9_]{3,31}\b|t\.me/[a-z0-9_+]{3,}"),
    "onion": re.compile(r"\.onion\b"),
    "phone": re.compile(r"\+(?:7|375|380)[\s(-]*\d{2,3}[\s)-]*\d{3}[\s-]?\d{2}[\s-]?\d{2}(?!\d)"),
    "wallet_placeholder": re.compile(r"\{(?:bitcoin|btc|wallet|card|qiwi|address|usdt)\w*\}"),
}
_ONION_ADDRESS = re.compile(r"(?<![a-z2-7])(?:[a-z2-7]{56}|[a-z2-7]{16})$")
PAYMENT_ID_KINDS = (*_LONG_IDS, "card", *_TEXT_IDS)
_SELLING = ("cue:dead_drop", "cue:shop", "cue:shop_en", "cue:payment", "cue:darknet",
            "price_per_unit", "quantity", "price")
_BENIGN = ("cue:law_news", "cue:harm_reduction", "cue:pharmacy", "cue:other_goods")
DERIVED = ("substance_any", "payment_ids", "selling_any", "benign_context",
           "substance_and_selling", "slang_and_selling", "substance_and_dead_drop",
           "selling_without_benign", "substance_without_selling")


class LexiconFeatures(BaseEstimator, TransformerMixin):
    """Counts of lexicon hits per substance family and per selling / benign cue, price-per-unit,
    quantity and price patterns, and payment-identifier counts, log-scaled, plus a few
    combinations (substance words *with* selling words) a linear model cannot form itself.

    ``exclude_families`` drops families from the lexicon (for leave-one-family-out evaluation).
    The lexicon read at ``fit`` is stored in the estimator, so a saved model is self-contained.
    """

    def __init__(self, max_chars: int = 10_000, exclude_families: Sequence[str] = (),
                 lexicon_dir: str | None = None):
        self.max_chars = max_chars
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
        for cue in load_cues(directory).values():
            add(cue.terms, f"cue:{cue.name}", cue.patterns)
        names += ["price_per_unit", "quantity", "price"]
        names += [f"payment_id:{kind}" for kind in PAYMENT_ID_KINDS]
        names += DERIVED
        self.terms_ = terms
        self.patterns_ = patterns
        self.feature_names_ = names
        return self

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        for key in ("_compiled", "_token_features", "_recent_hits"):
            state.pop(key, None)
        return state

    def _tables(self) -> tuple:
        compiled = self.__dict__.get("_compiled")
        if compiled is None:
            multi: dict[str, list[tuple[str, ...]]] = {}
            for key in self.terms_:
                if " " in key:
                    words = tuple(key.split())
                    multi.setdefault(words[0], []).append(words)
            regex = [(f, re.compile("|".join(f"(?:{p})" for p in ps)))
                     for f, ps in self.patterns_.items()]
            index = {name: i for i, name in enumerate(self.feature_names_)}
            compiled = (multi, regex, index)
            self.__dict__["_compiled"] = compiled
            self.__dict__["_token_features"] = {}
        return compiled

    def _features_of(self, token: str) -> tuple[str, ...]:
        """Features one word hits on its own (terms and word patterns), memoised per model."""
        cache = self.__dict__["_token_features"]
        found = cache.get(token)
        if found is None:
            if len(cache) > 500_000:
                cache.clear()
            found = list(self.terms_.get(token, ()))
            for feature, pattern in self._tables()[1]:
                if feature not in found and pattern.search(token):
                    found.append(feature)
            if len(token) >= 26:
                found += [f"payment_id:{kind}" for kind, pattern in _LONG_IDS.items()
                          if pattern.fullmatch(token)]
            found = cache[token] = tuple(found)
        return found

    def _hits(self, text: str) -> dict[str, Counter]:
        """Matched terms per feature for one text (the last few are kept for ``explain``)."""
        recent = self.__dict__.setdefault("_recent_hits", {})
        hits = recent.get(text)
        if hits is None:
            if len(recent) >= 256:
                recent.clear()
            hits = recent[text] = self._match(text)
        return hits

    def _match(self, text: str) -> dict[str, Counter]:
        multi, _, _ = self._tables()
        lower = text[: self.max_chars].lower()
        tokens = tokenize(text, self.max_chars)
        hits: dict[str, Counter] = {}
        cache = self.__dict__["_token_features"]
        for token, n in Counter(tokens).items():
            found = cache.get(token)
            for feature in self._features_of(token) if found is None else found:
                hits.setdefault(feature, Counter())[token] += n
        for i in [i for i, t in enumerate(tokens) if t in multi]:
            for words in multi[tokens[i]]:
                if tuple(tokens[i:i + len(words)]) == words:
                    term = " ".join(words)
                    for feature in self.terms_[term]:
                        hits.setdefault(feature, Counter())[term] += 1
        cards = [i for i, t in enumerate(tokens) if len(t) in (4, 16) and t.isdigit()]
        for i in cards:
            if len(tokens[i]) == 16 or (tokens[i + 1:i + 4] and all(
                    len(t) == 4 and t.isdigit() for t in tokens[i + 1:i + 4])
                    and len(tokens[i + 1:i + 4]) == 3 and (i - 1 not in cards)):
                hits.setdefault("payment_id:card", Counter())[" ".join(tokens[i:i + 4])] += 1
        for kind, pattern in _TEXT_IDS.items():
            for m in pattern.finditer(lower):
                found = m.group(0)
                if kind == "onion":
                    address = _ONION_ADDRESS.search(lower, max(0, m.start() - 57), m.start())
                    if address is None:
                        continue
                    found = address.group(0) + found
                hits.setdefault(f"payment_id:{kind}", Counter())[found] += 1
        last_quantity = None
        for m in _AMOUNT.finditer(lower):
            found = m.group(0).strip()
            if m.group("unit"):
                kind = "quantity"
            elif m.group("money") or (found[0] in "$€£₽" and len(found) > 1):
                kind = "price"
            else:
                continue
            hits.setdefault(kind, Counter())[found] += 1
            if kind == "quantity":
                last_quantity = m
            elif last_quantity is not None and m.start() - last_quantity.end() <= 24 and (
                    "\n" not in lower[last_quantity.end():m.start()]):
                offer = lower[last_quantity.start():m.end()]
                hits.setdefault("price_per_unit", Counter())[offer] += 1
                last_quantity = None
        return hits

    def _row(self, hits: dict[str, Counter]) -> np.ndarray:
        index = self._tables()[2]
        row = np.zeros(len(self.feature_names_))
        total = {f: sum(c.values()) for f, c in hits.items()}
        for feature, n in total.items():
            row[index[feature]] = n

        def group(prefix: str) -> float:
            return float(sum(n for f, n in total.items() if f.startswith(prefix)))

        substance, slang, ids = group("substance:"), total.get("slang", 0), group("payment_id:")
        selling = sum(total.get(f, 0) for f in _SELLING) + ids
        benign = sum(total.get(f, 0) for f in _BENIGN)
        derived = {
            "substance_any": substance,
            "payment_ids": ids,
            "selling_any": selling,
            "benign_context": benign,
            "substance_and_selling": np.sqrt(substance * selling),
            "slang_and_selling": np.sqrt(slang * selling),
            "substance_and_dead_drop": np.sqrt(substance * total.get("cue:dead_drop", 0)),
            "selling_without_benign": max(0.0, selling - benign),
            "substance_without_selling": substance if selling == 0 else 0.0,
        }
        for name, value in derived.items():
            row[index[name]] = value
        return np.log1p(row)

    def transform(self, X: Iterable[str]) -> sp.csr_matrix:
        rows = [self._row(self._hits(text)) for text in X]
        if not rows:
            return sp.csr_matrix((0, len(self.feature_names_)))
        return sp.csr_matrix(np.vstack(rows))

    def explain(self, text: str) -> dict[str, list[str]]:
        """Matched terms behind each lexicon feature of one text, most frequent first."""
        hits = self._hits(text)
        terms = {f: [t for t, _ in c.most_common(5)] for f, c in hits.items()}

        def collect(features: Iterable[str]) -> list[str]:
            return list(dict.fromkeys(t for f in features for t in terms.get(f, ())))[:5]

        substances = collect(f for f in hits if f.startswith("substance:"))
        slang = terms.get("slang", [])
        ids = collect(f for f in hits if f.startswith("payment_id:"))
        sells = collect((*_SELLING, *(f for f in hits if f.startswith("payment_id:"))))
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
        })
        return terms

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        return np.asarray(self.feature_names_, dtype=object)
