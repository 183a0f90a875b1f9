"""Russian case forms of lexicon terms: "мефедрона", "героином", "оплату", "моментальных покупок".

A lexicon lists a name once ("героин", "марихуана"); Russian text declines it, and makes
adjectives of it ("кокаиновый", "конопляное"). Rather than list every form, a word is read as a
name when it is the name's stem with a noun ending of the name's gender, or with an adjective
ending (after "ов", "ев", "н" or "ян"). Only Cyrillic one-word names whose stem is at least
``MIN_STEM`` letters long are declined: short stems ("меф", "гаш") would catch unrelated words.

Names are mostly words no dictionary holds, hence the endings. Cues and phrases are everyday
words, which a dictionary does hold: ``dictionary_forms`` lists their forms ("оплату" →
"оплата") with pymorphy3.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

MIN_STEM = 5
_CYRILLIC = re.compile(r"[а-яі]+")
# Noun endings: masculine names ("героин", "мефедрон", "гашиш"; plural "и" only after г, к, х and
# hushing consonants, as in "анаболики"), feminine ones ("марихуана", "конопля").
_MASCULINE = frozenset(("а", "у", "ом", "ем", "е", "ы", "ов", "ам", "ами", "ах"))
_SOFT_PLURAL = frozenset("гкхжшчщ")
_FEMININE = frozenset(("ы", "и", "е", "у", "ю", "ой", "ей", "ою", "ам", "ами", "ах"))
_ADJECTIVE = frozenset(suffix + ending for suffix in ("", "ов", "ев", "н", "ян")
                       for ending in ("ый", "ий", "ой", "ая", "ое", "ые", "ого", "ому", "ым",
                                      "ых", "ую", "ыми"))
# Names whose forms are everyday words: "реактивный" (jet), "в экстазе" (in rapture),
# "гидропоника" (a grow shop's hydroponics), "конопляное масло" (hemp-seed oil, a grocery),
# "наборы реагентов" (a chemist's reagents, as the "реагент" spice shops sell). They match as
# listed, undeclined.
_NOT_DECLINED = frozenset(("реактив", "реагент", "экстаз", "гидропоник", "конопл"))
# Forms of other words that a name's forms spell: "героине" is also "to the heroine".
_HOMONYMS = frozenset(("героине",))


class Declension:
    """Reads a word as a form of one of the names it was made from (``features`` of the name)."""

    def __init__(self, names: Mapping[str, Iterable[str]]):
        """``names``: one-word names and the features each hits; names in other scripts, of
        several words, or with short stems are left out."""
        self._stems: dict[str, tuple[str, ...]] = {}
        feminine: set[str] = set()
        for name, features in names.items():
            if not _CYRILLIC.fullmatch(name):
                continue
            stem = name[:-1] if name[-1] in "аяыи" else name
            if len(stem) < MIN_STEM or stem in _NOT_DECLINED:
                continue
            self._stems[stem] = tuple(dict.fromkeys((*self._stems.get(stem, ()), *features)))
            if name[-1] in "ая" and stem not in names:  # "марихуана"; "героина" is "героин"'s
                feminine.add(stem)
        self._feminine = frozenset(feminine)

    def features(self, word: str) -> tuple[str, ...]:
        """The features of the name ``word`` is a form of (the longest stem it starts with
        decides), or none."""
        if word in _HOMONYMS or not _CYRILLIC.fullmatch(word):
            return ()
        for cut in range(len(word) - 1, MIN_STEM - 1, -1):
            stem, ending = word[:cut], word[cut:]
            features = self._stems.get(stem)
            if features is None:
                continue
            if ending in _ADJECTIVE:
                return features
            if stem in self._feminine:
                return features if ending in _FEMININE else ()
            if ending in _MASCULINE or (ending == "и" and word[cut - 1] in _SOFT_PLURAL):
                return features
        return ()


# Parts of speech whose case and number forms a lexicon term stands for: nouns and full
# adjectives ("оплату", "оплаты" → "оплата"; "моментальных покупок" → "моментальный покупка").
# Verbs keep the forms they are listed in: tense and person are what tell "продавал" (a report)
# from "продаем" (an offer).
_DECLINED_POS = frozenset(("NOUN", "ADJF"))


def dictionary_forms(words: Iterable[str]) -> dict[str, str]:
    """Every case and number form of each Russian noun or adjective among ``words`` → its
    dictionary form, as pymorphy3 and its OpenCorpora dictionary decline the word's most likely
    reading (a word the dictionary lacks is declined by analogy: "ненаход", "ненахода"). Words of
    other parts of speech, or not Cyrillic, are left out; so is a form of two dictionary forms.

    Worked out when a lexicon is fitted and stored with it: reading a page is then a lookup,
    with no dictionary at hand."""
    import pymorphy3  # only where a lexicon is fitted

    parse = pymorphy3.MorphAnalyzer(lang="ru").parse
    found: dict[str, set[str]] = {}
    for word in dict.fromkeys(words):
        if not _CYRILLIC.fullmatch(word):
            continue
        best = parse(word)[0]
        if best.tag.POS not in _DECLINED_POS:
            continue
        lemma = best.normal_form.replace("ё", "е")
        for form in best.lexeme:
            if form.tag.POS in _DECLINED_POS:
                found.setdefault(form.word.replace("ё", "е"), set()).add(lemma)
    return {form: next(iter(lemmas)) for form, lemmas in sorted(found.items())
            if len(lemmas) == 1}
