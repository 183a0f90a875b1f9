"""Reason terms marked in page text: each term of a reason on its own, and terms that count
against a drug shop marked apart from those that count for one."""

from __future__ import annotations

from classifiers.model import TERMS_JOINED_BY
from crawler.review import highlight as highlighting
from crawler.review.highlight import highlight, reason_terms

# Reasons as the classifier gives them: a lexicon reason names its terms joined by ", ", and
# only features the model leaves free (a family's own count) or bounds below zero (benign
# context) push the score down.
REASONS = [
    {"feature": "cue:dead_drop", "term": "клад, магнит, прикоп", "weight": 3.7},
    {"feature": "cue:law_news", "term": "задержан, изъято", "weight": -2.2},
    {"feature": "substance_any", "term": "мефедрон", "weight": 1.4},
    {"feature": "substance:cathinones", "term": "мефедрон, крис", "weight": -1.05},
    {"feature": "benign_context", "term": "новости", "weight": -0.8},
    {"feature": "char_ngrams", "term": None, "weight": 0.7},
]
TEXT = "Мефедрон крис 1г 2500₽. Клад магнит, прикоп. Задержан курьер, изъято. Новости района."


def test_each_term_of_a_reason_counts_on_its_own_by_the_sum_of_its_weights() -> None:
    assert highlighting.TERMS_JOINED_BY == TERMS_JOINED_BY  # split as the classifier joins
    assert reason_terms(REASONS) == ["клад", "магнит", "прикоп", "мефедрон"]
    # "мефедрон" is in a reason against too, but its reasons together count for a shop.
    assert reason_terms(REASONS, against=True) == ["задержан", "изъято", "крис", "новости"]
    assert reason_terms(None) == [] and reason_terms([{"feature": "x", "weight": 1}]) == []


def test_terms_for_and_against_are_marked_apart_in_escaped_text() -> None:
    marked = str(highlight(TEXT + " <b>", reason_terms(REASONS),
                           against=reason_terms(REASONS, against=True)))
    for term in ("Мефедрон", "Клад", "магнит", "прикоп"):
        assert f"<mark>{term}</mark>" in marked
    for term in ("крис", "Задержан", "изъято", "Новости"):
        assert f'<mark class="against">{term}</mark>' in marked
    assert "&lt;b&gt;" in marked and "<b>" not in marked
    # A joined reason used to be searched for as one string, which the text never holds.
    assert "<mark>клад, магнит, прикоп</mark>" not in marked
    assert str(highlight(TEXT, [])) == TEXT
