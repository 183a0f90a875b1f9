"""How the classifier reads a page's text: lower-cased, cut into segments (lines and sentences),
its words normalised and numbered, so that the features look words up a page at a time.

Everything here is shared by the feature branches (``classifiers.features``) at training and at
serving time alike.
"""

from __future__ import annotations

import re
import threading
from bisect import bisect_right
from collections.abc import Callable
from contextlib import suppress
from itertools import islice
from typing import TypeVar

import numpy as np
from numpy.typing import DTypeLike

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
_TOKEN_OR_BREAK = re.compile(rf"{_RAW_TOKEN.pattern}|\0")  # tokens of pieces joined by "\0"
# Where a quantity or a price may start (``classifiers.features`` reads them in such segments).
AMOUNT_START = re.compile(r"[\d$€£₽]")
# Hyphen-joined parts from which a token is a URL slug, read word by word (unless most are
# single letters: "м-е-ф-е-д-р-о-н" is one word spelt out).
SLUG_PARTS = 5


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
    """A token as the features read it: one word, or for a URL slug
    ("nolvadex-20mg-500-pills-350-usd") its words separated by spaces; a hyphenated name
    ("a-pvp", "mdmb-4en-pinaca") stays one word."""
    folded = _FOLDED.get(token)
    if folded is None:
        if len(_FOLDED) > 500_000:  # bound the cache; it refills with the words in use
            _FOLDED.clear()
        parts = token.split("-")
        if len(parts) >= SLUG_PARTS and sum(len(part) > 1 for part in parts) >= 3:
            folded = " ".join(filter(None, map(_fold, parts)))
        else:
            # Long tokens are identifiers (wallets, hashes): never fold their digits.
            text = normalize(token) if len(token) <= 24 else token.translate(_CHARS)
            folded = "-".join(TOKEN.findall(text))
        _FOLDED[token] = folded
    return folded


# Sentence and line ends: a page is read as segments, so that "a substance named next to a price"
# can be told from "a substance named somewhere on a page that also has prices". A segment ends at
# a newline or at the whitespace after ".!?;", as ``\n|(?<=[.!?;])\s+`` would split a text.
# Within a line, the whitespace after ".!?;" (starting with ``\s``, the pattern lets the regex
# engine skip ahead to whitespace):
_SENTENCE_END = re.compile(r"\s(?<=[.!?;]\s)\s*")
# What a newline becomes, so that it is a space-separated chunk of its own.
_MARK = " \n "

# Ids in a page's stream that are not words: the end of a line, the end of a sentence, and a
# chunk holding a digit or currency sign.
LINE_END, SENTENCE_END, AMOUNT_SIGN = 0, 1, 2
_SURROGATES = range(0xD800, 0xE000)


class Vocabulary:
    """Normalised words numbered in the order they are first read, so that facts about a word
    (its hash, the lexicon features it hits) sit in arrays indexed by id (``WordFacts``).

    A page is read one space-separated chunk at a time ("мефедрон,", "1г", "2500₽."): pages share
    most of their chunks, so only chunks never seen before go through the tokenising regex. A
    word never spans a space, so this finds the words a scan of the whole text finds. A chunk's
    ids are kept as a string of code points (``chr(id)``): a page's ids are then one ``join``
    and one UTF-32 decode away from a numpy array, with no Python loop per word.

    Bounded: past ``limit`` words it starts afresh, with a new ``words`` list, so that ids read
    before keep their meaning for whoever holds that list; past ``limit`` chunks or
    ``16 * limit`` characters of them it forgets the chunks (not the words).
    """

    def __init__(self, limit: int = 500_000):
        self.limit = limit
        self._lock = threading.Lock()
        self._start()

    def _start(self) -> None:
        # id → word (the first three are no words), word → id, chunk → ids: replaced at once,
        # so that a reader never sees the words of one start with the chunks of another.
        self._state: tuple[list[str], dict[str, int], dict[str, str]] = (["", "", ""], {}, {})
        self._chunk_chars = 0  # in the chunks kept: what bounds their memory

    @property
    def words(self) -> list[str]:
        return self._state[0]

    def read(self, chunks: list[str]) -> tuple[np.ndarray, list[str]]:
        """The ids in a sequence of chunks (uint32; a chunk "\\n" reads as ``LINE_END``, and
        ``AMOUNT_SIGN`` comes before the words of a chunk holding a digit or currency sign), and
        the id → word list they refer to."""
        words, _, known = self._state
        found = list(map(known.get, chunks))
        try:
            ids = "".join(found)
        except TypeError:  # some chunks not seen before (None)
            with self._lock:
                if len(self.words) > self.limit:
                    self._start()
                elif len(self._state[2]) > self.limit or self._chunk_chars > 16 * self.limit:
                    self._state[2].clear()  # ids stay valid: the chunks in use come back
                    self._chunk_chars = 0
                if self.words is not words:  # started afresh: ids found before mean nothing
                    words, _, known = self._state
                    found = list(map(known.get, chunks))
                ids = "".join(self._fill(chunks, found))
        return np.frombuffer(ids.encode("utf-32-le"), dtype=np.uint32), words

    def _fill(self, chunks: list[str], found: list[str | None]) -> list[str]:
        """``found`` with the ids of the chunks it lacks (None) learnt."""
        missing, position = [], 0
        with suppress(ValueError):  # no more
            while True:
                position = found.index(None, position)
                missing.append(position)
                position += 1
        new = list(dict.fromkeys(chunks[i] for i in missing))
        learnt = dict(zip(new, self._learn(new), strict=True))
        self._state[2].update(learnt)
        for i in missing:
            found[i] = learnt[chunks[i]]
        return found

    def _learn(self, chunks: list[str]) -> list[str]:
        """The ids of chunks not seen before. A sentence ends inside a chunk at whitespace after
        ".!?;" other than a space (a printable chunk has none), and after a chunk that ends with
        ".!?;" (a space follows, or the text ends)."""
        self._chunk_chars += sum(map(len, chunks))
        if all(map(str.isprintable, chunks)):  # as most are: one piece each
            learnt = self._piece_ids(chunks)
        else:
            pieces = [[chunk] if chunk.isprintable() else _SENTENCE_END.split(chunk)
                      for chunk in chunks]
            ids = iter(self._piece_ids([piece for split in pieces for piece in split]))
            learnt = [chr(SENTENCE_END).join(islice(ids, len(split))) for split in pieces]
        ends = (".", "!", "?", ";")
        return [chr(LINE_END) if chunk == "\n"
                else chunk_ids + chr(SENTENCE_END) if chunk.endswith(ends) else chunk_ids
                for chunk, chunk_ids in zip(chunks, learnt, strict=True)]

    def _piece_ids(self, pieces: list[str]) -> list[str]:
        """The ids of the words of each piece of text (a chunk, or a sentence of one), with
        ``AMOUNT_SIGN`` first where it holds a digit or currency sign. One regex scan reads
        them all, joined by "\\0", which no word holds (pieces holding one are read alone)."""
        if not pieces:
            return []
        text = "\0".join(pieces)
        if len(pieces) > 1 and text.count("\0") >= len(pieces):
            return [ids for piece in pieces for ids in self._piece_ids([piece])]
        tokens = (_TOKEN_OR_BREAK if len(pieces) > 1 else _RAW_TOKEN).findall(text)
        folded, known = _FOLDED.get, self._state[1].get
        words = [token if token == "\0" else folded(token) or _fold(token) for token in tokens]
        ids = "".join([word if word == "\0" else chr(known(word) or self._new_id(word))
                       for token_words in words for word in token_words.split(" ") if word])
        return [chr(AMOUNT_SIGN) + piece_ids if AMOUNT_START.search(piece) else piece_ids
                for piece, piece_ids in zip(pieces, ids.split("\0"), strict=True)]

    def _new_id(self, word: str) -> int:
        words, ids, _ = self._state
        found = len(words)
        if found in _SURROGATES:  # not code points a str can encode: skip them
            words += [""] * (_SURROGATES.stop - found)
            found = _SURROGATES.stop
        if found > 0x10FFFF:
            raise ValueError("too many new words to read at once")
        ids[word] = found
        words.append(word)
        return found


VOCABULARY = Vocabulary()


class WordFacts:
    """One number per vocabulary word (its hash, what it is to the lexicon) in an array indexed
    by id: a page's numbers are one numpy lookup. Worked out for new words as they come."""

    def __init__(self, fact: Callable[[str], int], dtype: DTypeLike):
        self.fact = fact
        self.dtype = dtype
        self._lock = threading.Lock()
        self._state: tuple[list[str], np.ndarray, int] = ([], np.zeros(0, dtype), 0)

    def lookup(self, ids: np.ndarray, words: list[str]) -> np.ndarray:
        """The fact of each id, ids read against ``words``."""
        known, values, done = self._state
        if known is not words or done < len(words):
            if words is not VOCABULARY.words:  # read before the vocabulary started afresh
                return np.array([self.fact(words[i]) if words[i] else 0 for i in ids.tolist()],
                                dtype=self.dtype)
            values = self._update(words)
        return values[ids]

    def _update(self, words: list[str]) -> np.ndarray:
        with self._lock:
            known, values, done = self._state
            if known is not words:
                values, done = np.zeros(0, self.dtype), 0
            end = len(words)
            if end > len(values):
                grown = np.zeros(max(end, 2 * len(values)), self.dtype)
                grown[:done] = values[:done]
                values = grown
            values[done:end] = [self.fact(word) if word else 0 for word in words[done:end]]
            self._state = (words, values, end)
            return values


class Reading:
    """A text as the features read it.

    ``lower`` is the lower-cased text; ``stream`` the ids of its words in order, with
    ``LINE_END`` or ``SENTENCE_END`` between segments; ``number`` the number of the segment of
    each element of ``stream`` (counting only segments that have words: the others are no segment
    to the features); ``amounts`` the (number, lower-cased text) of segments holding a digit or
    currency sign, where quantities and prices may be; ``words`` the id → word list.
    """

    __slots__ = ("amounts", "lower", "number", "stream", "words")

    def __init__(self, text: str):
        self.lower = text.lower()
        ids, self.words = VOCABULARY.read(self.lower.replace("\n", _MARK).split(" "))
        ends = ids <= SENTENCE_END
        segment = ends.astype(np.intp).cumsum()  # of each id, counting every segment
        has_words = np.zeros(int(segment[-1]) + 1 if len(ids) else 0, dtype=bool)
        has_words[segment[ids > AMOUNT_SIGN]] = True
        number = has_words.cumsum() - 1  # of each segment, counting those with words
        sign = ids == AMOUNT_SIGN
        self.stream, self.number, self.amounts = ids, number[segment], []
        if sign.any():  # signs mark their segments, and leave the stream
            signed = np.unique(segment[sign])
            signed = signed[has_words[signed]].tolist()
            keep = ~sign
            self.stream, self.number = ids[keep], self.number[keep]
            self.amounts = list(zip(number[signed].tolist(), self._texts(signed, ids[ends]),
                                    strict=True))

    def _texts(self, segments: list[int], ends: np.ndarray) -> list[str]:
        """The text of these segments (numbered among all, the ``ends`` between them), found by
        their line and their sentence in it; a sentence may start with the whitespace a line
        began with, which no amount or card number depends on."""
        if not segments:
            return []
        lines = self.lower.split("\n")
        first_of_line = [0, *((ends == LINE_END).nonzero()[0] + 1).tolist(), len(ends) + 1]
        sentences: dict[int, list[str]] = {}
        texts = []
        for segment in segments:
            line = bisect_right(first_of_line, segment) - 1
            if first_of_line[line + 1] - first_of_line[line] == 1:  # one sentence
                texts.append(lines[line])
                continue
            if line not in sentences:
                sentences[line] = _SENTENCE_END.split(lines[line])
            texts.append(sentences[line][segment - first_of_line[line]])
        return texts

    def word_ids(self) -> np.ndarray:
        return self.stream[self.stream > AMOUNT_SIGN]

    def tokens(self) -> list[str]:
        """The normalised words, in order."""
        return list(map(self.words.__getitem__, self.word_ids().tolist()))


_READINGS: dict[str, Reading] = {}
_KEPT = TypeVar("_KEPT")


def remember(cache: dict[str, _KEPT], key: str, value: _KEPT, size: int = 256) -> _KEPT:
    """Keep ``value`` in a cache of the last ``size`` entries, the oldest going first: the
    pages of a batch, read by each feature branch in turn, stay in it together."""
    if len(cache) >= size:
        with suppress(KeyError, RuntimeError, StopIteration):  # another thread changed it meanwhile
            del cache[next(iter(cache))]
    cache[key] = value
    return value


def read(text: str) -> Reading:
    """The reading of a text. The feature branches of one pipeline read the same page, so the
    last few are kept."""
    found = _READINGS.get(text)
    if found is None or found.words is not VOCABULARY.words:
        found = remember(_READINGS, text, Reading(text))
    return found


def tokenize(text: str) -> list[str]:
    """Normalised words of a text, in order; a hyphenated name is one word."""
    return read(text).tokens()


def normalize_term(term: str) -> str:
    """A lexicon term as ``tokenize`` would read it, words joined by single spaces."""
    return " ".join(tokenize(term))


def page_window(text: str, head: int, tail: int) -> str:
    """The first ``head`` and last ``tail`` characters of a page: where titles, menus, offers and
    footers are. Long pages cost no more to read than a few kilobytes."""
    if len(text) <= head + tail:
        return text
    return f"{text[:head]}\n{text[len(text) - tail:]}" if tail else text[:head]
