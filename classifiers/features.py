"""Feature transformers of the page classifier: word and character n-grams, lexicon hits,
selling patterns and payment-identifier counts.

Everything here runs inside the one Pipeline, at training and at serving time alike; reasons for a
verdict come from these same objects (``Ngrams.terms``, ``LexiconFeatures.explain``).
"""

from __future__ import annotations

import re
import zlib
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


# Sentence and line ends: a page is read as segments, so that "a substance named next to a price"
# can be told from "a substance named somewhere on a page that also has prices".
_SEGMENT_END = re.compile(r"\n|(?<=[.!?;])\s+")


def page_window(text: str, head: int, tail: int) -> str:
    """The first ``head`` and last ``tail`` characters of a page: where titles, menus, offers and
    footers are. Long pages cost no more to read than a few kilobytes."""
    if len(text) <= head + tail:
        return text
    return f"{text[:head]}\n{text[len(text) - tail:]}" if tail else text[:head]


Segment = tuple[str, list[str]]
_RECENT: dict[str, list[Segment]] = {}


def segments(text: str) -> list[Segment]:
    """(lower-cased text, normalised words) of each line or sentence; a hyphenated name is one
    word. The feature branches of one pipeline read the same page, so the last few are kept."""
    found = _RECENT.get(text)
    if found is None:
        if len(_RECENT) >= 256:
            _RECENT.clear()
        folded = _FOLDED
        found = []
        for part in _SEGMENT_END.split(text.lower()):
            words = [folded.get(t) or _fold(t) for t in _RAW_TOKEN.findall(part)]
            words = [t for t in words if t]
            if words:
                found.append((part, words))
        _RECENT[text] = found
    return found


def tokenize(text: str) -> list[str]:
    """Normalised words of a text, in order."""
    return [word for _, words in segments(text) for word in words]


def normalize_term(term: str) -> str:
    """A lexicon term as ``tokenize`` would read it, words joined by single spaces."""
    return " ".join(tokenize(term))


_ZEROS: dict[str, str] = {}


def _zero(word: str) -> str:
    if len(_ZEROS) > 500_000:
        _ZEROS.clear()
    zeroed = _ZEROS[word] = _DIGITS.sub("0", word)
    return zeroed


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


_WORD_HASHES: dict[bool, dict[str, int]] = {False: {}, True: {}}


def _word_hash(word: str, digits: bool) -> int:
    """A stable hash of one word, with every digit read as 0 when ``digits`` (Python's
    own ``hash`` changes between processes)."""
    cache = _WORD_HASHES[digits]
    if len(cache) > 500_000:
        cache.clear()
    shown = _zero(word) if digits else word
    h = cache[word] = zlib.crc32(shown.encode("utf-8"))  # n-gram hashing mixes it to 64 bits
    return h


def _mix(h: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: every input bit moves every output bit (uint64, wrapping)."""
    h = h ^ (h >> np.uint64(30))
    h = h * np.uint64(0xBF58476D1CE4E5B9)
    h = h ^ (h >> np.uint64(27))
    h = h * np.uint64(0x94D049BB133111EB)
    return h ^ (h >> np.uint64(31))


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
        acc = term if acc is None else acc[:count] + term
        if n >= low:
            out.append((n, _mix(acc + np.uint64(n))))
    return out


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

    def _units(self, text: str) -> tuple[str | list[str], np.ndarray]:
        """What the n-grams are made of (the padded text, or its words) and one uint64 each.
        The last few are kept: reasons for a page read the same units again."""
        recent = self.__dict__.setdefault("_recent_units", {})
        found = recent.get(text)
        if found is not None:
            return found
        if len(recent) >= 256:
            recent.clear()
        window = page_window(text, self.head_chars, self.tail_chars)
        if self.kind == "char":
            padded = f" {_SPACE.sub(' ', window.lower())} "
            codes = np.frombuffer(padded.encode("utf-32-le"), dtype=np.uint32)
            found = recent[text] = (padded, codes.astype(np.uint64))
            return found
        words = tokenize(window)[: self.max_words]
        hashes, digits = _WORD_HASHES[self.digits], self.digits
        codes = np.array([hashes.get(w) or _word_hash(w, digits) for w in words],
                         dtype=np.uint64)
        if digits:
            words = [_ZEROS.get(w) or _zero(w) for w in words]
        found = recent[text] = (words, codes)
        return found

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state.pop("_recent_units", None)
        return state

    def grams(self, text: str) -> list[str]:
        """The n-grams this transformer reads in one text, in the order ``columns`` gives."""
        units, _ = self._units(text)
        low, high = self.ngram_range
        joiner = "" if self.kind == "char" else " "
        return [joiner.join(units[i:i + n]) for n in range(low, high + 1)
                for i in range(len(units) - n + 1)]

    def columns(self, text: str) -> np.ndarray:
        """The column of each n-gram of one text."""
        _, codes = self._units(text)
        hashes = [h for _, h in _gram_hashes(codes, *self.ngram_range)]
        if not hashes:
            return np.zeros(0, dtype=np.int64)
        return (np.concatenate(hashes) % np.uint64(self.n_features)).astype(np.int64)

    def fit(self, X: Iterable[str], y: object = None) -> Ngrams:
        if self.kind not in ("word", "char"):
            raise ValueError(f"kind must be 'word' or 'char', not {self.kind!r}")
        self.n_features_out_ = int(self.n_features)
        return self

    def transform(self, X: Iterable[str]) -> sp.csr_matrix:
        """All pages of a batch are hashed as one array; n-grams across two pages are dropped."""
        codes = [self._units(text)[1] for text in X]
        lengths = np.array([len(c) for c in codes], dtype=np.int64)
        ends = np.cumsum(lengths)
        page = np.repeat(np.arange(len(codes)), lengths)
        units = np.concatenate(codes) if codes else np.zeros(0, dtype=np.uint64)
        rows, cols = [np.zeros(0, dtype=np.int64)], [np.zeros(0, dtype=np.uint64)]
        for n, hashes in _gram_hashes(units, *self.ngram_range):
            first = page[:len(hashes)]
            inside = np.arange(len(hashes)) + n <= ends[first]
            rows.append(first[inside])
            cols.append(hashes[inside] % np.uint64(self.n_features))
        rows_all = np.concatenate(rows)
        cols_all = np.concatenate(cols).astype(np.int32)
        shape = (len(codes), self.n_features)
        if self.sublinear:
            return _log_l2(sp.csr_matrix((np.ones(len(cols_all)), (rows_all, cols_all)),
                                         shape=shape))
        # Counts without sorting or merging repeats (a product of a row with weights adds them
        # up anyway), scaled by the page's number of n-grams.
        order = np.argsort(rows_all, kind="stable")  # a few sorted runs: close to linear
        per_row = np.bincount(rows_all, minlength=len(codes))
        indptr = np.concatenate([[0], np.cumsum(per_row)]).astype(np.int32)
        data = 1.0 / np.sqrt(np.maximum(per_row, 1))[rows_all[order]]
        return sp.csr_matrix((data, cols_all[order], indptr), shape=shape)

    def terms(self, text: str, columns: Iterable[int]) -> dict[int, str]:
        """Column → the first n-gram of ``text`` hashed to it, for the given columns."""
        wanted = {int(c) for c in columns}
        if not wanted:
            return {}
        units, codes = self._units(text)
        joiner = "" if self.kind == "char" else " "
        found: dict[int, str] = {}
        for n, hashes in _gram_hashes(codes, *self.ngram_range):
            for i, column in enumerate((hashes % np.uint64(self.n_features)).tolist()):
                if column in wanted and column not in found:
                    found[column] = joiner.join(units[i:i + n])
        return found

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        return np.asarray([f"{self.kind}{i}" for i in range(self.n_features)], dtype=object)


# Quantities and prices, over lower-cased text; a quantity with a price close after it (or a
# price "per gram") is a price-per-unit offer.
_UNIT = (r"(?:г|гр|грамм\w*|g|gr|gms?|grams?|шт|pcs|mg|мг|мкг|ug|µg|kg|кг|oz|ounces?|lbs?|ml|мл"
         r"|tabs?|pills?)")
# Weights: what drugs are sold by, whatever the substance ("7g $70" is an offer of a drug the
# lexicon may never have heard of; "25pcs $10" may be anything).
# Counts of items: any shop sells by the piece (cartridges, bags, notes), so they are their own
# feature, apart from weights and volumes.
_PIECES = re.compile(r"(?:шт|pcs|tabs?|pills?)$")
_MASS = re.compile(r"(?:г|гр|грамм\w*|g|gr|gms?|grams?|mg|мг|мкг|ug|µg|kg|кг|oz|ounces?|lbs?)$")
_MONEY_AFTER = r"(?:₽|руб\w*|р\.|р\b|грн|uah|byn|usd|eur|usdt|btc|\$|€|£)"
# One scan for every amount (starting with a digit or a currency sign, which keeps it fast).
_AMOUNT = re.compile(
    rf"(?<!\w)[\d$€£₽][\d.,]*\s?(?:(?P<unit>{_UNIT})(?!\w|-)|(?P<money>{_MONEY_AFTER}))?")
_AMOUNT_START = re.compile(r"[\d$€£₽]")
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
_CARD = re.compile(r"(?<![\w.])(\d{4})[ -]?(\d{4})[ -]?(\d{4})[ -]?(\d{4})(?![\w.])")
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
# Segments either side of a substance's segment that count as "near" it.
NEAR = 1


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
    The lexicon read at ``fit`` is stored in the estimator, so a saved model is self-contained.
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
        for cue in load_cues(directory).values():
            add(cue.terms, f"cue:{cue.name}", cue.patterns)
        names += ["price_per_unit", "price_per_weight", "quantity", "pieces", "price"]
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
            # One pass that rules most words out before each feature's patterns are tried.
            any_pattern = re.compile("|".join(f"(?:{p})" for ps in self.patterns_.values()
                                              for p in ps) or "(?!)")
            index = {name: i for i, name in enumerate(self.feature_names_)}
            compiled = (multi, regex, index, any_pattern)
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
            _, regex, _, any_pattern = self._tables()
            if any_pattern.search(token):
                found += [f for f, pattern in regex if f not in found and pattern.search(token)]
            if len(token) >= 26:
                found += [f"payment_id:{kind}" for kind, pattern in _LONG_IDS.items()
                          if pattern.fullmatch(token)]
            found = cache[token] = tuple(found)
        return found

    def _hits(self, text: str) -> tuple[dict[str, Counter], dict[str, float]]:
        """Matched terms per feature and the segment co-occurrence counts of one text (the last
        few are kept for ``explain``)."""
        recent = self.__dict__.setdefault("_recent_hits", {})
        hits = recent.get(text)
        if hits is None:
            if len(recent) >= 256:
                recent.clear()
            hits = recent[text] = self._match(text)
        return hits

    def _match(self, text: str) -> tuple[dict[str, Counter], dict[str, float]]:
        multi = self._tables()[0]
        window = page_window(text, self.head_chars, self.tail_chars)
        hits: dict[str, Counter] = {}
        cache = self.__dict__["_token_features"]
        kinds: list[frozenset[str]] = []  # per segment: "substance", "offer", "reported", ...
        for part, tokens in segments(window):
            found_here: set[str] = set()
            for token in tokens:
                found = cache.get(token)
                if found is None:
                    found = self._features_of(token)
                if found:
                    for feature in found:
                        counter = hits.get(feature)
                        if counter is None:
                            counter = hits[feature] = Counter()
                        counter[token] += 1
                    found_here.update(found)
            starts = multi.keys() & tokens
            for i in [i for i, t in enumerate(tokens) if t in starts] if starts else ():
                for words in multi[tokens[i]]:
                    if tuple(tokens[i:i + len(words)]) == words:
                        term = " ".join(words)
                        for feature in self.terms_[term]:
                            hits.setdefault(feature, Counter())[term] += 1
                            found_here.add(feature)
            found_here.update(_amounts(part, hits))
            kinds.append(_segment_kinds(found_here))
        lower = window.lower()
        for m in _CARD.finditer(lower):
            hits.setdefault("payment_id:card", Counter())[" ".join(m.group(1, 2, 3, 4))] += 1
        for kind, pattern in _TEXT_IDS.items():
            for m in pattern.finditer(lower):
                found = m.group(0)
                if kind == "onion":
                    address = _ONION_ADDRESS.search(lower, max(0, m.start() - 57), m.start())
                    if address is None:
                        continue
                    found = address.group(0) + found
                hits.setdefault(f"payment_id:{kind}", Counter())[found] += 1
        return hits, _near_counts(kinds)

    def _row(self, hits: dict[str, Counter], near: dict[str, float]) -> np.ndarray:
        index = self._tables()[2]
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
            "substance_and_selling": np.sqrt(substance * selling),
            "slang_and_selling": np.sqrt(slang * selling),
            "substance_and_dead_drop": np.sqrt(substance * total.get("cue:dead_drop", 0)),
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
        terms = {f: [t for t, _ in c.most_common(5)] for f, c in hits.items()}

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


def _amounts(part: str, hits: dict[str, Counter]) -> set[str]:
    """Quantities, prices and price-per-unit offers in one lower-cased segment."""
    found: set[str] = set()
    if not _AMOUNT_START.search(part):
        return found
    last_quantity = None
    for m in _AMOUNT.finditer(part):
        amount = m.group(0).strip()
        if m.group("unit"):
            kind = "pieces" if _PIECES.match(m.group("unit")) else "quantity"
        elif m.group("money") or (amount[0] in "$€£₽" and len(amount) > 1):
            kind = "price"
        else:
            continue
        hits.setdefault(kind, Counter())[amount] += 1
        found.add(kind)
        if kind in ("quantity", "pieces"):
            last_quantity = m
        elif last_quantity is not None and m.start() - last_quantity.end() <= 24:
            offer = part[last_quantity.start():m.end()]
            hits.setdefault("price_per_unit", Counter())[offer] += 1
            found.add("price_per_unit")
            if _MASS.match(last_quantity.group("unit")):
                hits.setdefault("price_per_weight", Counter())[offer] += 1
                found.add("price_per_weight")
            last_quantity = None
    return found


_KINDS: dict[frozenset[str], frozenset[str]] = {}


def _segment_kinds(features: set[str]) -> frozenset[str]:
    """What a segment holds (substance, offer, reported, goods, form), memoised: pages repeat
    the same few combinations of features line after line."""
    key = frozenset(features)
    kinds = _KINDS.get(key)
    if kinds is None:
        if len(_KINDS) > 100_000:
            _KINDS.clear()
        kinds = _KINDS[key] = frozenset(_kinds_of(features))
    return kinds


def _kinds_of(features: set[str]) -> set[str]:
    kinds = set()
    if any(f.startswith("substance:") for f in features):
        kinds.add("substance")
    if any(f in features for f in _OFFER):
        kinds.add("offer")
    if any(f in features for f in _REPORTING):
        kinds.add("reported")
    if "cue:other_goods" in features:
        kinds.add("goods")
    if any(f in features for f in _FORM):
        kinds.add("form")
    return kinds


def _near_counts(kinds: list[frozenset[str]]) -> dict[str, float]:
    """Segments naming a substance (or other goods, or a drug's form) with an offer or reporting
    within ``NEAR`` segments of them."""
    counts = dict.fromkeys(("substance_offers", "substance_offers_unreported",
                            "substance_reported", "other_goods_offers", "form_offers"), 0.0)
    for i, own in enumerate(kinds):
        if not own & {"substance", "goods", "form"}:
            continue
        near = set().union(*kinds[max(0, i - NEAR):i + NEAR + 1])
        if "form" in own and "offer" in near and "reported" not in near:
            counts["form_offers"] += 1
        if "substance" in own:
            if "offer" in near:
                counts["substance_offers"] += 1
                if "reported" not in near:
                    counts["substance_offers_unreported"] += 1
            if "reported" in near:
                counts["substance_reported"] += 1
        if "goods" in own and "offer" in near:
            counts["other_goods_offers"] += 1
    return counts
