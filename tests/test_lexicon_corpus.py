"""The lexicon's rules that are counted on the real training corpus in ../shared/corpus."""

from __future__ import annotations

from collections import Counter

import pytest

from classifiers.corpus import AUTHORED_FILE, read_corpus
from classifiers.features import _BENIGN, LexiconFeatures
from crawler.config import PROJECT_ROOT

TRAIN = PROJECT_ROOT.parent / "shared" / "corpus" / "train.jsonl"

pytestmark = [
    pytest.mark.corpus,
    pytest.mark.skipif(not TRAIN.is_file(), reason=f"{TRAIN} absent: the labelled corpus lives "
                       "in ../shared, outside the repository"),
]


def _cyrillic(example) -> bool:
    return (example.lang or "en") != "en"


def test_no_benign_cue_is_a_word_of_drug_shops() -> None:
    """configs/lexicons/selling.toml: a benign cue is no word that the training text holds in
    more drug documents than benign ones, and in five or more ("silver" names LSD, "pharmacy"
    grades pills); nor, among Russian documents, few of which are drug ones, a word found in a
    larger share of the drug documents than of the benign ones, and in three or more ("помощь":
    a bot's help menu; "раздел": "перейдите в раздел «Профиль»")."""
    lexicon = LexiconFeatures().fit([])
    documents: dict[str, Counter] = {}
    russian: dict[str, Counter] = {}
    sizes: Counter = Counter()
    for e in read_corpus([TRAIN, AUTHORED_FILE]):
        if e.label == "gray":
            continue
        hits, _ = lexicon._hits(e.as_text())
        sizes[e.label] += _cyrillic(e)
        for term in {t for feature in _BENIGN for t in hits.get(feature, ())}:
            documents.setdefault(term, Counter())[e.label] += 1
            if _cyrillic(e):
                russian.setdefault(term, Counter())[e.label] += 1
    assert documents["dosage"]["benign"] > 100  # the count reads the corpus
    shop_words = {term: dict(n) for term, n in documents.items()
                  if n["drugs"] >= 5 and n["drugs"] > n["benign"]}
    shop_words |= {term: dict(n) for term, n in russian.items() if n["drugs"] >= 3
                   and n["drugs"] / sizes["drugs"] > n["benign"] / sizes["benign"]}
    assert not shop_words


def test_no_selling_cue_is_declined_into_words_of_other_pages() -> None:
    """configs/lexicons/selling.toml: a selling cue found in other case forms than those listed
    is found so in no larger share of the Russian benign documents than of the Russian drug ones
    (counted where it is in five or more benign documents): "работы", "корзину", "оператора
    связи" are everyday words; "as_listed" keeps such cues to their listed forms."""
    lexicon = LexiconFeatures().fit([])
    examples = [e for e in read_corpus([TRAIN, AUTHORED_FILE])
                if e.label != "gray" and _cyrillic(e)]
    sizes = Counter(e.label for e in examples)
    documents: dict[str, Counter] = {}
    for e in examples:
        hits, _ = lexicon._hits(e.as_text())
        declined = {(feature, tuple(lexicon.forms_.get(w, w) for w in term.split()))
                    for feature, terms in hits.items()
                    if feature.startswith("cue:") and feature not in _BENIGN
                    for term in terms if term not in lexicon.terms_}
        for feature, key in declined:
            documents.setdefault(f"{feature} {' '.join(key)}", Counter())[e.label] += 1
    assert documents["cue:shop оплата"]["drugs"] > 10  # the count reads the corpus
    everyday = {cue: dict(n) for cue, n in documents.items() if n["benign"] >= 5
                and n["benign"] / sizes["benign"] > n["drugs"] / sizes["drugs"]}
    assert not everyday
