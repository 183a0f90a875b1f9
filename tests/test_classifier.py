"""The classifier pipeline on a tiny hand-written corpus: no ../shared needed."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from classifiers import Document, PageVerdict, TrawlerModel, load_model
from classifiers.corpus import Example, read_corpus, training_weights
from classifiers.evaluate import evaluate, metrics
from classifiers.features import LexiconFeatures, Ngrams, normalize
from classifiers.model import ModelError, model_version, save_model
from classifiers.site import aggregate_site
from classifiers.train import choose_threshold, fit_pipeline

SHOPS = [
    "Мефедрон крис 1г 2500₽ | 2г 4500₽. Выберите район. Клад: магнит или прикоп. Оплата BTC.",
    "Альфа-PVP 0,5г 1600₽, гашиш 1гр 2000₽. Пополнить баланс, адрес клада после оплаты.",
    "Кокаин VHQ 1г 9000₽. Закладки по Минску, перезаклад при ненаходе. Оператор @shop_op",
    "Шишки AK-47 2г 3500₽, амфетамин 1г 1500₽. В наличии, выберите город. Оплата USDT.",
    "Экстази 5шт 6000₽, ЛСД марки 2шт 3000₽. Тип клада: прикоп. Гарантия на клад 24 часа.",
    "4-MMC 5g $120, 3-CMC 10g $200 - add to cart, stealth shipping worldwide, pay BTC.",
    "Cocaine 90% 1g $90 in stock. Escrow, free shipping, vendor PGP. Buy now.",
    "MDMA crystal 1g $40, ketamine 5g $150. Checkout with Monero. Reship guaranteed.",
]
BENIGN = [
    "В Минске задержали закладчика с мефедроном. Возбуждено уголовное дело, сообщает МВД.",
    "Милиция предупреждает: за закладки наркотиков грозит до 15 лет лишения свободы.",
    "Реабилитационный центр: лечение зависимости, консультация нарколога, помощь семьям.",
    "Аптека: ибупрофен 200 мг №20 — 5 BYN, бронирование лекарств, инструкция по применению.",
    "Такси: выберите район подачи, эконом 7 BYN, оплата картой. Отзывы и бонусы.",
    "Police arrested two men and seized cocaine; they were charged and sentenced in court.",
    "Herb grinder 4-piece aluminium $19.99, free shipping, add to cart.",
    "Mephedrone: effects, dosage, toxicity and harm reduction; the history and chemistry.",
]
STRONG_SHOP = ("Мефедрон крис 1г 2500₽, 2г 4500₽, альфа-PVP 0,5г 1600₽. Выберите район. "
               "Клад магнит, перезаклад при ненаходе. Пополнить баланс: BTC.")


def corpus() -> list[Example]:
    out = []
    for i, text in enumerate(SHOPS + BENIGN):
        label = "drugs" if i < len(SHOPS) else "benign"
        out.append(Example(id=f"t{i}", source="shops" if label == "drugs" else "news",
                           lang="ru", label=label, kind="test", group=f"g{i // 2}", text=text))
    return out


@pytest.fixture(scope="module")
def model() -> TrawlerModel:
    pipeline = fit_pipeline(corpus(), n_splits=2)
    return TrawlerModel(pipeline, 0.5, model_version(pipeline))


def test_normalize_folds_obfuscations() -> None:
    assert normalize("к0кс") == "кокс"
    assert normalize("м3ф") == "меф"
    assert normalize("мeф") == "меф"  # Latin "e"
    assert normalize("c0caine") == "cocaine"
    assert normalize("4-MMC") == "4-mmc"  # a name with digits stays as it is


def test_lexicon_counts_substances_selling_and_payment_ids() -> None:
    lexicon = LexiconFeatures().fit([])
    hits = lexicon.explain("Мефедрон 1г 2500₽, клад магнит, к0кс. "
                           "BTC bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq")
    assert "мефедрон" in hits["substance:cathinones"]
    assert "кокс" in hits["substance:stimulants"]
    assert "магнит" in hits["cue:dead_drop"]
    assert hits["price_per_unit"]
    assert hits["payment_id:btc"]
    X = lexicon.transform(["Мефедрон 1г 2500₽", "погода в Минске"])
    assert X.shape == (2, len(lexicon.feature_names_))
    assert X[0].sum() > 0


def test_nps_patterns_catch_unlisted_names() -> None:
    lexicon = LexiconFeatures().fit([])
    hits = lexicon.explain("new: 5-MMC, ADB-4en-PINACA, flubromazolam, 25x-NBOMe, protonitazepyne")
    assert "5-mmc" not in lexicon.terms_  # found by pattern, not by name
    assert hits.get("substance:synthetic-cannabinoids")
    assert hits.get("substance:benzodiazepines")
    assert hits.get("substance:opioids")


def test_leave_out_family_drops_its_terms() -> None:
    lexicon = LexiconFeatures(exclude_families=("cathinones",)).fit([])
    assert "substance:cathinones" not in lexicon.feature_names_
    assert "мефедрон" not in lexicon.terms_
    with pytest.raises(ValueError, match="unknown substance family"):
        LexiconFeatures(exclude_families=("nope",)).fit([])


def test_char_ngrams_read_raw_text() -> None:
    ngrams = Ngrams(kind="char", ngram_range=(3, 3), min_df=1).fit(["м3ф"])
    assert "м3ф" in ngrams.vocabulary_


def test_verdicts_scores_and_reasons(model: TrawlerModel) -> None:
    verdicts = model.classify([Document(text=STRONG_SHOP, title="Магазин"),
                               Document(text=BENIGN[0])])
    assert [type(v) for v in verdicts] == [PageVerdict, PageVerdict]
    shop, news = verdicts
    assert 0.0 <= news.score < shop.score <= 1.0
    assert shop.label == "drugs"
    assert shop.model_version == model.version and shop.threshold == model.threshold
    assert 0 < len(shop.reasons) <= 10
    weights = [abs(r["weight"]) for r in shop.reasons]
    assert weights == sorted(weights, reverse=True)
    assert set(shop.reasons[0]) == {"feature", "term", "weight"}
    terms = " ".join(str(r["term"]) for r in shop.reasons)
    assert any(w in terms for w in ("мефедрон", "клад", "магнит", "2500₽", "баланс", "1г"))
    assert json.loads(json.dumps(shop.to_dict()))["label"] == "drugs"
    assert model.classify([]) == []


def test_save_load_round_trip(model: TrawlerModel, tmp_path: Path) -> None:
    save_model(model, tmp_path)
    loaded = load_model(tmp_path)
    assert loaded.version == model.version and loaded.threshold == model.threshold
    docs = [Document(text=t) for t in (STRONG_SHOP, BENIGN[2])]
    assert [v.score for v in loaded.classify(docs)] == [v.score for v in model.classify(docs)]


def test_load_refuses_untrusted_types(model: TrawlerModel, tmp_path: Path) -> None:
    import skops.io

    evil = tmp_path / "evil" / "model.skops"
    evil.parent.mkdir()
    skops.io.dump({"pipeline": model.pipeline, "threshold": 0.5, "version": "x",
                   "payload": Path("/etc/passwd")}, evil)
    with pytest.raises(ModelError, match="untrusted"):
        load_model(evil.parent)
    with pytest.raises(ModelError, match="no model"):
        load_model(tmp_path / "missing")
    bad = tmp_path / "bad" / "model.skops"
    bad.parent.mkdir()
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("schema.json", "not json")
    with pytest.raises(ModelError):
        load_model(bad)


def test_site_aggregation() -> None:
    threshold = 0.6
    news = [0.01] * 499 + [0.55]
    assert aggregate_site(news, threshold)[1] is False
    borderline = [0.01] * 499 + [0.65]
    assert aggregate_site(borderline, threshold)[1] is False
    shop_page = [0.01] * 499 + [0.995]
    score, flagged = aggregate_site(shop_page, threshold)
    assert flagged and score >= 0.99
    assert aggregate_site([0.7], threshold)[1] is True
    assert aggregate_site([], threshold) == (0.0, False)
    assert aggregate_site([0.4] * 1000, threshold)[1] is False  # many weak pages do not add up
    several = [0.01] * 497 + [0.8, 0.8, 0.8]
    assert aggregate_site(several, threshold)[1] is True
    low, _ = aggregate_site([0.9], threshold)
    high, _ = aggregate_site([0.9, 0.9], threshold)
    assert high >= low  # more evidence never lowers the score


def test_evaluate_json_shape(model: TrawlerModel) -> None:
    gray = Example(id="g", source="rx", lang="en", label="gray", kind="x", group="gx",
                   text="steroids")
    examples = [*corpus(), gray]
    result = evaluate(model, examples)
    assert set(result) == {"n", "precision", "recall", "f1", "threshold", "model", "by_source",
                           "by_lang", "gray"}
    assert result["n"] == len(examples) - 1 and result["gray"] == 1
    assert result["by_source"]["shops"]["false_positive_rate"] is None
    assert result["by_source"]["news"]["recall"] is None
    assert set(result["by_lang"]["ru"]) == {"n", "positives", "recall", "false_positive_rate"}
    assert "rx" not in result["by_source"]
    perfect = metrics(corpus(), [1.0] * len(SHOPS) + [0.0] * len(BENIGN), 0.5, "m")
    assert perfect["precision"] == perfect["recall"] == perfect["f1"] == 1.0


def test_threshold_rule() -> None:
    y = [0, 0, 0, 1, 1, 1, 1]
    scores = [0.1, 0.55, 0.7, 0.6, 0.8, 0.9, 0.95]
    assert choose_threshold(y, scores, min_precision=0.97) == pytest.approx(0.8)
    assert choose_threshold([1, 1], [0.2, 0.3]) == 0.5  # never below 0.5


def test_corpus_reading_and_weights(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    rows = [{"id": "1", "source": "a", "lang": "ru", "label": "drugs", "kind": "k", "group": "g1",
             "text": "x", "url": None, "meta": {"category": "Drugs/RCs"}},
            {"id": "2", "source": "b", "lang": "en", "label": "benign", "kind": "k",
             "group": "g2", "text": "y", "url": None, "meta": {}}]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    examples = read_corpus([path])
    assert [e.category for e in examples] == ["Drugs/RCs", None]
    weights = training_weights(examples)
    assert weights.mean() == pytest.approx(1.0)
    path.write_text('{"label": "maybe"}\n', encoding="utf-8")
    with pytest.raises(Exception, match=r"c\.jsonl:1"):
        read_corpus([path])
