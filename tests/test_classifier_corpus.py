"""The shipped model (models/trawler) against the real dev corpus in ../shared/corpus."""

from __future__ import annotations

import json
import os

import pytest

from classifiers import Document, load_model
from classifiers.corpus import read_corpus
from classifiers.evaluate import evaluate
from crawler.config import PROJECT_ROOT

DEV = PROJECT_ROOT.parent / "shared" / "corpus" / "dev.jsonl"
MODEL = PROJECT_ROOT / "models" / "trawler"

pytestmark = [
    pytest.mark.corpus,
    pytest.mark.skipif(not DEV.is_file(), reason=f"{DEV} absent: the labelled corpus lives in "
                       "../shared, outside the repository"),
    pytest.mark.skipif(not (MODEL / "model.json").is_file(),
                       reason="no shipped model in models/trawler (run `make eval`)"),
]


@pytest.fixture(scope="module")
def report() -> dict:
    return evaluate(load_model(MODEL), read_corpus([DEV]))


def test_dev_metrics_reproduce_the_card(report: dict) -> None:
    card = json.loads((MODEL / "card.json").read_text(encoding="utf-8"))
    assert report == card["dev"]


def test_dev_overall_quality(report: dict) -> None:
    assert report["precision"] >= 0.97
    assert report["recall"] >= 0.95
    for source, r in report["by_source"].items():
        # Guards against regressions, not the targets (0.97 recall: duta-drugs-illegal
        # has 25 of 28 since legal shops became training negatives; 1 % false positives:
        # agora-2014's non-drug illicit listings have 9 of 318, at the time of writing).
        if r["recall"] is not None and r["positives"] >= 10:
            assert r["recall"] >= 0.85, source
        if r["false_positive_rate"] is not None and r["n"] >= 100:
            assert r["false_positive_rate"] <= 0.06, source


def test_default_model_is_the_shipped_one() -> None:
    os.environ.pop("TRAWLER_MODEL", None)
    model = load_model()
    assert model.version == load_model(MODEL).version
    verdict = model.classify([Document(text="Мефедрон крис 1г 2500₽, 2г 4500₽. Выберите район. "
                                            "Клад: магнит. Оплата BTC, перезаклад при ненаходе.")])
    assert verdict[0].label == "drugs"
