"""The classifier pipeline on a tiny hand-written corpus: no ../shared needed."""

from __future__ import annotations

import dataclasses
import json
import random
import re
import zipfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from classifiers import Document, PageVerdict, TrawlerModel, features, load_model, reading
from classifiers.artifact import ModelError, save_model
from classifiers.corpus import AUTHORED_SOURCE, Example, read_corpus, training_weights
from classifiers.evaluate import (
    evaluate,
    family_members,
    leave_family_out,
    leave_outs,
    leave_source_out,
    metrics,
    source_groups,
)
from classifiers.features import LexiconFeatures, Ngrams
from classifiers.lexicon import LEXICON_DIR, LexiconError
from classifiers.model import REASONS_FROM, CalibratedLinear, column_signs, model_version
from classifiers.reading import AMOUNT_SIGN, Reading, WordFacts, normalize, tokenize
from classifiers.site import SiteTally, aggregate_site, required_score
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


def test_cues_are_not_everyday_words() -> None:
    """Raising prices or a find is no dead drop (picking up a stash is), a VPN no darknet,
    "first" or an exchange rate no slang."""
    lexicon = LexiconFeatures().fit([])
    everyday = lexicon.explain("Фабрики решили поднять цены; подъем, находка, метка, обход. "
                               "Роскомнадзор блокирует VPN. Первый курс доллара.")
    assert not any(everyday.get(f) for f in ("cue:dead_drop", "cue:darknet", "slang"))
    assert {"поднял клад", "координаты"} <= set(
        lexicon.explain("Поднял клад за 5 минут, координаты точные")["cue:dead_drop"])


def test_slang_is_not_everyday_words() -> None:
    """Slang terms that training text uses mostly in their innocent sense (a document, a date of
    birth, a test, grass, snow, a plan, white) are no slang hits; the steroid shop's "test e" is."""
    lexicon = LexiconFeatures().fit([])
    everyday = lexicon.explain("Upload a doc with your DOB. COVID test results. Grass seed, "
                               "fresh herb, snow and glass. План на неделю: белый и черный снег.")
    assert not everyday.get("slang"), everyday.get("slang")
    assert lexicon.explain("Test E 250mg/ml 10ml vial $45")["slang"] == ["test e"]
    # "фен" is a hair dryer in every appliance shop: slang, weaker evidence than a name.
    dryer = lexicon.explain("Фен для волос 2200 Вт — 119 BYN, в корзину")
    assert dryer["slang"] == ["фен"] and not dryer.get("substance_any")


def test_harm_reduction_and_nicotine_are_benign_context() -> None:
    """Drug checking and safer-use advice are harm reduction; nicotine salt ("соль" to a vape
    shop) is other goods."""
    lexicon = LexiconFeatures().fit([])
    advice = lexicon.explain("Free fentanyl test strips and drug checking at our booth. Dosing: "
                             "start low, stay hydrated.")
    assert {"test strips", "drug checking", "dosing", "start low", "hydrated"} <= set(
        advice["cue:harm_reduction"])  # (explain lists up to five terms a feature)
    assert lexicon.explain("Бесплатные тест-полоски, риск перегрева.")["cue:harm_reduction"] == [
        "тест-полоски", "перегрева"]
    # A syringe exchange is harm reduction; syringes for sale (of spores, with steroids) are not.
    assert lexicon.explain("Обмен шприцев, анонимно")["cue:harm_reduction"] == ["обмен шприцев"]
    assert not lexicon.explain("Шприцы со спорами 10 мл — 1 200 ₽").get("cue:harm_reduction")
    vape = lexicon.explain("Солевой никотин 20мг, жидкость для вейпа 30мл.")
    assert {"солевой никотин", "жидкость для вейпа"} <= set(vape["cue:other_goods"])
    assert "e-liquid" in lexicon.explain("E-liquid, 20mg nic salt, 10ml")["cue:other_goods"]


def test_prevention_in_belarusian_and_ukrainian_and_books_are_benign_context() -> None:
    """A Belarusian school's prevention week and a Ukrainian police report read as benign
    context as their Russian versions do; a book shop is other goods."""
    lexicon = LexiconFeatures().fit([])
    school = lexicon.explain("Тыдзень прафілактыкі наркаманіі: крымінальная адказнасць з 14 "
                             "гадоў, тэлефон даверу.")
    assert set(school["benign_context"]) == {"прафілактыкі", "наркаманіі",
                                             "крымінальная адказнасць", "тэлефон даверу"}
    police = lexicon.explain("Поліція затримала кур'єра, вилучено 40 згортків.")
    assert police["cue:law_news"] == ["поліція", "вилучено"]  # not "затримала": forms are listed
    shop = lexicon.explain("Книга в твёрдом переплете, издательство «Вектор», ISBN 978-5-00.")
    assert shop["cue:other_goods"] == ["книга", "переплете", "издательство", "isbn"]


def test_a_listed_phrase_overrides_the_words_it_gives_another_meaning() -> None:
    """Pine cones, bookmarks and fridge magnets are other goods, not cannabis or dead drops;
    the same words alone still are, and so is a word inside a phrase of its own kind."""
    lexicon = LexiconFeatures().fit([])
    cones = lexicon.explain("Сосновые шишки для декора, 1 кг — 150 ₽")
    assert cones["cue:other_goods"] == ["сосновые шишки", "шишки для декора"]
    assert not cones.get("substance_any")
    shop = lexicon.explain("Закладки для книг — 9 BYN. Магниты на холодильник. Поисковый магнит.")
    assert shop["cue:other_goods"] == ["закладки для книг", "магниты на холодильник",
                                       "поисковый магнит"]
    assert not shop.get("cue:dead_drop")
    offer = lexicon.explain("Шишки 1г — 45 BYN, закладка магнит")
    assert offer["substance:cannabis"] == ["шишки"]
    assert offer["cue:dead_drop"] == ["закладка", "магнит"]
    assert lexicon.explain("Адрес клада в боте")["cue:dead_drop"] == ["клада", "адрес клада"]


def test_russian_names_are_read_in_every_case_form() -> None:
    """A name listed once is found declined and as an adjective, by the gender of its ending;
    words that only look like its forms ("героиня", a heroine; "реактивный", jet) are not."""
    lexicon = LexiconFeatures().fit([])
    forms = [("героином", "opioids"), ("марихуаной", "cannabis"), ("гашишем", "cannabis"),
             ("кокаиновый", "stimulants"), ("псилоцибиновые", "psychedelics"),
             ("анаболиками", "steroids"), ("феназепамом", "benzodiazepines"),
             ("спайсами", "synthetic-cannabinoids")]
    for word, family in forms:
        assert word not in lexicon.terms_
        assert lexicon.explain(f"Продам {word}").get(f"substance:{family}") == [word], word
    for word in ("героиня", "героине", "героиней", "героини", "реактивные", "экстазе",
                 "конопляное", "лирики", "реагентов", "мефедронщик"):
        assert not lexicon.explain(f"Продам {word}").get("substance_any"), word
    left_out = LexiconFeatures(exclude_families=("opioids",)).fit([])
    assert not left_out.explain("Продам героином").get("substance_any")


def test_russian_selling_cues_and_phrases_count_in_every_case_and_number() -> None:
    """A selling cue or a phrase listed once is found declined, and reported as the page spells
    it (the review UI marks that text). Verbs keep their listed forms, and so do one-word benign
    cues, cues listed ``as_listed`` and forms the lexicon files under two cues."""
    lexicon = LexiconFeatures().fit([])
    for word in ("оплату", "магазине", "моментальных", "ненаходе", "районов"):
        assert word not in lexicon.terms_, word
    hits = lexicon.explain("Площадка моментальных покупок. Оплату принимаем в нашем магазине.")
    assert hits["cue:dead_drop"] == ["моментальных покупок"]
    assert hits["cue:shop"] == ["оплату", "магазине"]
    assert lexicon.explain("При ненаходе")["cue:dead_drop"] == ["ненаходе"]  # not in dictionaries
    assert lexicon.explain("По уголовному делу")["cue:law_news"] == ["уголовному делу"]
    assert lexicon.explain("Работа курьером")["cue:shop"] == ["работа", "курьером"]
    assert lexicon.explain("Работы нет").get("cue:shop") is None  # "работа" is as_listed
    assert lexicon.explain("Лечение")["cue:harm_reduction"] == ["лечение"]
    assert lexicon.explain("Перед лечением").get("cue:harm_reduction") is None
    assert lexicon.explain("Продаем, продавать").get("cue:reporting") is None
    assert lexicon.explain("Он продавал").get("cue:reporting") == ["продавал"]
    cards = lexicon.explain("Банковские карты. Банковской картой. Банковская карта.")
    assert cards["cue:other_goods"] == ["карты", "банковские карты"]
    assert cards["cue:payment"] == ["банковской картой"]  # and the third form is neither


@pytest.mark.parametrize(("table", "error"), [
    ('[shop]\nterms = "купить"\n', "[shop] terms must be a list of strings"),
    ('[shop]\nterms = ["купить"]\nas_listd = ["цена"]\n', "[shop] has unknown keys as_listd"),
    ('shop = ["купить"]\n', "shop is not a table"),
    ('[nps]\npatterns = ["^(4-"]\n', "[nps] pattern '^(4-' is not a regular expression"),
    ('[shop\nterms = []\n', "is not valid TOML"),
])
def test_a_broken_lexicon_is_refused_by_name(tmp_path: Path, table: str, error: str) -> None:
    """A lexicon someone edited wrongly fails training with the file, table and key named (a
    ValueError, which the CLI prints as an error, not a traceback)."""
    (tmp_path / "substances.toml").write_text(
        (LEXICON_DIR / "substances.toml").read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "selling.toml").write_text(table, encoding="utf-8")
    with pytest.raises(LexiconError, match=re.escape(error)) as raised:
        LexiconFeatures(lexicon_dir=str(tmp_path)).fit([])
    assert isinstance(raised.value, ValueError) and "selling.toml" in str(raised.value)


def test_nps_patterns_catch_unlisted_names() -> None:
    lexicon = LexiconFeatures().fit([])
    hits = lexicon.explain("new: 5-MMC, ADB-4en-PINACA, flubromazolam, 25x-NBOMe, protonitazepyne")
    assert "5-mmc" not in lexicon.terms_  # found by pattern, not by name
    assert hits.get("substance:synthetic-cannabinoids")
    assert hits.get("substance:benzodiazepines")
    assert hits.get("substance:opioids")


def test_drug_shapes_are_read_whatever_the_name() -> None:
    lexicon = LexiconFeatures(exclude_families=("stimulants",)).fit([])
    names = lexicon.feature_names_
    offer = "4-FA crystals 1g $40, 5g $150. Stealth shipping."
    hits = lexicon.explain(offer)
    assert hits["cue:nps_shape"] == ["4-fa"] and "crystals" in hits["cue:drug_form"]
    assert float(lexicon.transform([offer])[0, names.index("form_offers")]) > 0
    assert not lexicon.explain("3-day shipping, 5-star seller, covid-19, ak-47").get(
        "cue:nps_shape")
    # News: ages, ordinals and measures joined to a number are no substance codes.
    news = "A 31-year-old man, 18-year-olds, a 3rd-class cabin, a 25-yard run, a 15-man squad"
    assert not lexicon.explain(news).get("cue:nps_shape")
    assert lexicon.explain("2C-B-FLY, 5-MeO-DMT, 25i-NBOMe")["cue:nps_shape"] == [
        "2c-b-fly", "5-meo-dmt", "25i-nbome"]


def test_leave_out_never_scores_authored_text() -> None:
    """Authored shop text of the left-out family is held back from training like the rest, and
    counted in no recall: it is training text only."""
    authored = Example(id="a1", source=AUTHORED_SOURCE, lang="ru", label="drugs", kind="test",
                       group="a1", text="Мефедрон крис 1г 2500₽, клад магнит, оплата BTC.")
    assert family_members("cathinones", [authored]) == [True]
    members = sum(family_members("cathinones", corpus()))
    assert members >= 2
    result = leave_family_out("cathinones", [*corpus(), authored], [*corpus(), authored])
    assert result["held_out_train_listings"] == result["dev_listings"] == members


def test_leave_out_source_scores_its_documents_in_dev_and_held_back() -> None:
    """A source left out is scored where it is in dev and where it was held back from
    training; sources are named as the corpus names them, two joined by "+", or all in turn."""
    examples = [dataclasses.replace(e, source="bots") if e.id in ("t0", "t1", "t8") else e
                for e in corpus()]
    result = leave_source_out(["bots"], examples, examples)
    assert (result["source"], result["documents"], result["dev_documents"]) == ("bots", 6, 3)
    assert result["drug_documents"] == 4
    assert result["missed"] == round((1 - result["recall"]) * 4)
    assert result["false_positives"] == round(result["false_positive_rate"] * 2)
    assert result["threshold"] == 0.5  # calibrated "as likely as not", not re-chosen
    assert source_groups(["all"], examples) == [["bots"], ["news"], ["shops"]]
    assert source_groups(["news+bots", "bots+news", "shops"], examples) == [
        ["bots", "news"], ["shops"]]
    for wrong in ("authored", "nope", "shops+nope"):
        with pytest.raises(ValueError, match="unknown training source"):
            source_groups([wrong], examples)
    with pytest.raises(ValueError, match="unknown training source: nope; choose from: all, "):
        leave_source_out(["nope"], examples, examples)
    with pytest.raises(ValueError, match="both drugs and benign"):  # nothing left to learn
        leave_source_out(["bots", "shops"], examples, examples)


def test_leave_outs_side_by_side_are_the_leave_outs_one_by_one() -> None:
    """Leave-outs trained in worker processes give the rows trained in this one, in order; a
    leave-out that fails fails the whole run."""
    examples = [dataclasses.replace(e, source="bots") if e.id in ("t0", "t1", "t8") else e
                for e in corpus()]
    args = (["cathinones", "stimulants"], [["bots"], ["news"]], examples, examples)
    alone = list(leave_outs(*args, jobs=1))
    assert [key for key, _ in alone] == ["leave_one_family_out"] * 2 + ["leave_one_source_out"] * 2
    assert [row.get("family", row.get("source")) for _, row in alone] == [
        "cathinones", "stimulants", "bots", "news"]
    assert list(leave_outs(*args, jobs=2)) == alone
    with pytest.raises(ValueError, match="both drugs and benign"):
        list(leave_outs([], [["bots", "shops"], ["news"]], examples, examples, jobs=2))


def test_a_hyphenated_word_hits_what_its_parts_hit_but_slang_and_shop_words() -> None:
    """A compound the lexicon does not know counts its parts' cues ("курьеры-закладчики" is a
    dead drop, "pharma-grade" a grade); a name it knows counts once, as itself; slang and the
    Russian shop words in a compound are everyday words ("альфа-банк" is a bank, "ice-cream" a
    dessert, "интернет-магазин" the news's word for any web shop)."""
    lexicon = LexiconFeatures().fit([])
    hits = lexicon.explain("Требуются курьеры-закладчики, работа в интернет-магазине. "
                           "Pharma-grade.")
    assert hits["cue:dead_drop"] == ["курьеры-закладчики"]
    assert hits["cue:shop_en"] == ["pharma-grade"]
    assert "интернет-магазине" not in hits.get("cue:shop", [])
    assert lexicon.explain("a-PVP 1г")["substance:cathinones"] == ["a-pvp"]
    everyday = lexicon.explain("Карта Альфа-Банка, ice-cream и e-mail")
    assert not everyday.get("slang") and not everyday.get("substance_any"), everyday
    # Synthetic cannabinoids spelt in Cyrillic, as Russian shops write them.
    assert lexicon.explain("МДМБ-4ен-пинака 1г")["substance:synthetic-cannabinoids"]


def test_leave_out_family_drops_its_terms() -> None:
    lexicon = LexiconFeatures(exclude_families=("cathinones",)).fit([])
    assert "substance:cathinones" not in lexicon.feature_names_
    assert "мефедрон" not in lexicon.terms_
    with pytest.raises(ValueError, match="unknown substance family"):
        LexiconFeatures(exclude_families=("nope",)).fit([])


# Texts where a reading could go wrong: obfuscated and mixed-script words, hyphens and
# apostrophes, identifiers, every kind of whitespace around sentence ends, empty text.
TRICKY = [
    "", " ", "\n", ".", "a.", "a. ", ". . .", "\n\nслово", "a\n\n\nb",
    "Мефедрон крис 1г 2500₽.\nКлад магнит, оплата BTC.",
    "м3ф и мeф, a-PVP, альфа‑PVP, к0кс; it's O'Neil's ёлка — «кавычки» 'quoted'",
    "BTC bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq, XMR " + "4" * 95 + " " + "x" * 300,
    "a.\tb", "a. \n  b", "a.\r\nb\r\n", "a\xa0b. c\u2028d! e?\x1cf; g", "1г. 2500₽!? $40;5g",
    "4276 1234 5678 9012.\n$1 000 000; 10mg/20mg @shop_op t.me/abc_d +375 29 123-45-67",
    "nul\x00inside 1г\x00$5\x00. next", "\x00",
    "nolvadex-20mg-500-pills-350-usd. 5f-mdmb-2201, м-е-ф-е-д-р-о-н, a--b--c--d--e-",
]


def test_a_url_slug_is_read_as_words_and_a_hyphenated_name_as_one() -> None:
    """Market listings titled by their URL slug show their quantity and price to the words;
    NPS names and obfuscations spelt out letter by letter stay one word."""
    assert tokenize("Buy nolvadex-20mg-500-pills-350-usd") == [
        "buy", "nolvadex", "20mg", "500", "pills", "350", "usd"]
    assert tokenize("A-PVP, 5F-MDMB-2201, mdmb-4en-pinaca, альфа-пвп, м-е-ф-е-д-р-о-н") == [
        "a-pvp", "5f-mdmb-2201", "mdmb-4en-pinaca", "альфа-пвп", "м-е-ф-е-д-р-о-н"]
    # Words of a slug are folded like any word (a digit for a letter: "x4nax" reads "xanax").
    assert tokenize("x4nax-2mg-10-pills-50-usd")[:3] == ["xanax", "2mg", "10"]


def _plain_segments(text: str) -> list[tuple[str, list[str]]]:
    """Segments as a plain scan reads them: split at newlines and after sentence ends, each
    part's words found by the tokenising regex and folded. ``Reading`` must agree."""
    found = []
    for part in re.split(r"\n|(?<=[.!?;])\s+", text.lower()):
        words = [w for token in reading._RAW_TOKEN.findall(part)
                 for w in reading._fold(token).split(" ") if w]
        if words:
            found.append((part, words))
    return found


def _random_texts(n: int, seed: int = 0) -> list[str]:
    pieces = [*"абвгдеёжмф abcxyz 0123456789 .!?;\n\t\r\xa0\u2028\x00$€₽-'@", "  ", ". ", ".\n",
              "1г 2500₽", "м3ф", "a-PVP", "xanax-2mg-100-pills-$90-usd", "к0кс",
              "4276 1234 5678 9012", "мефедрон", "в наличии"]
    rng = random.Random(seed)
    return ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 40))) for _ in range(n)]


def _assert_reads_like_a_plain_scan(text: str) -> None:
    plain = _plain_segments(text)
    page = Reading(text)
    by_number: dict[int, list[str]] = {}
    for i, number in zip(page.stream.tolist(), page.number.tolist(), strict=True):
        if i > AMOUNT_SIGN:
            by_number.setdefault(number, []).append(page.words[i])
    assert list(by_number) == list(range(len(plain))), text
    assert list(by_number.values()) == [words for _, words in plain], text
    assert tokenize(text) == [w for _, words in plain for w in words]
    signed = [(i, part) for i, (part, _) in enumerate(plain) if reading.AMOUNT_START.search(part)]
    assert [number for number, _ in page.amounts] == [i for i, _ in signed], text
    for (_, got), (_, want) in zip(page.amounts, signed, strict=True):
        assert got.endswith(want) and not got[:len(got) - len(want)].strip(), (text, got, want)


@pytest.mark.parametrize("text", TRICKY)
def test_reading_agrees_with_a_plain_scan(text: str) -> None:
    """Words come from cached chunks and segments from line and sentence ends: the same words,
    segments and amount texts (give or take a line's leading whitespace) as a plain scan."""
    _assert_reads_like_a_plain_scan(text)


def test_reading_agrees_with_a_plain_scan_on_random_text() -> None:
    for text in _random_texts(500):
        _assert_reads_like_a_plain_scan(text)


def test_vocabulary_starts_afresh_and_old_readings_keep_their_words(
        monkeypatch: pytest.MonkeyPatch) -> None:
    vocabulary = reading.Vocabulary(limit=10)
    monkeypatch.setattr(reading, "VOCABULARY", vocabulary)
    first = Reading("один два три четыре пять шесть семь восемь девять десять одиннадцать")
    words = first.tokens()
    second = Reading("совсем другие слова")  # past the limit: ids start afresh
    assert vocabulary.words is second.words and vocabulary.words is not first.words
    assert first.tokens() == words and second.tokens() == ["совсем", "другие", "слова"]
    lengths = WordFacts(len, np.int64)
    assert lengths.lookup(second.word_ids(), second.words).tolist() == [6, 6, 5]
    assert lengths.lookup(first.word_ids(), first.words).tolist() == [len(w) for w in words]


def test_reading_from_many_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Threads share the vocabulary, also while it starts afresh."""
    monkeypatch.setattr(reading, "VOCABULARY", reading.Vocabulary(limit=200))
    texts = _random_texts(400, seed=1)
    with ThreadPoolExecutor(4) as pool:
        tokens = list(pool.map(lambda text: Reading(text).tokens(), texts))
    assert tokens == [[w for _, words in _plain_segments(t) for w in words] for t in texts]


def test_card_numbers_are_found_wherever_they_are() -> None:
    """Card numbers are looked for only in segments with sixteen digits in their words."""
    lexicon = LexiconFeatures().fit([])
    card = re.compile(r"(?<![\w.])(\d{4})[ -]?(\d{4})[ -]?(\d{4})[ -]?(\d{4})(?![\w.])")
    texts = ["карта 4276 1234 5678 9012", "$4276-1234-5678-9012.", "к$4276 1234 5678 9012",
             "4276123456789012; 5469 3800 1234 5678!", "٤٢٧٦ ١٢٣٤ ٥٦٧٨ ٩٠١٢",
             "x4276 1234 5678 9012", "4276 1234 5678 90123", "12.4276 1234 5678 9012",
             "a.\n4276 1234\n5678 9012", "1г 2500₽; '4276 1234 5678 9012'", *TRICKY]
    for text in texts:
        hits, _ = lexicon._hits(text)
        want = Counter(" ".join(m.groups()) for m in card.finditer(text.lower()))
        assert hits.get("payment_id:card", Counter()) == want, text


def test_offers_stay_within_a_segment() -> None:
    """Amounts of all segments are read in one scan; a quantity and a price an offer makes must
    still be in one segment."""
    lexicon = LexiconFeatures().fit([])
    assert lexicon.explain("мефедрон 1г 2500₽")["price_per_unit"] == ["1г 2500₽"]
    for text in ("мефедрон 1г\n2500₽", "1г. 2500₽", "1г\n\n$5 2г", "1г;\t$5"):
        assert not lexicon.explain(text).get("price_per_unit"), text
    assert lexicon.explain("1г.\n2г 5$ и 3г $7")["price_per_unit"] == ["2г 5$", "3г $7"]


def test_a_currency_sign_before_digits_is_the_next_price() -> None:
    """Vendor menus put the weight bare before its price ("3.5 $60 | 7 $100"): "$60" is the
    price, not "3.5 $"; a sign after a number ("50$", "90 $") is still that number's."""
    lexicon = LexiconFeatures().fit([])
    menu = lexicon.explain("CLEAR shards — 3.5 $60 | 7 $100 | QP €900")
    assert menu["price"] == ["$60", "$100", "€900"]
    assert lexicon.explain("1г 50$, 2г 90 $")["price_per_weight"] == ["1г 50$", "2г 90 $"]
    assert lexicon.explain("2г £5")["price_per_weight"] == ["2г £5"]


def test_a_weight_joined_to_its_price_by_a_hyphen_is_an_offer() -> None:
    """Bot menus write "1гр-220грн"; a unit before a hyphen and a word ("1 г-н", "5 g-string")
    is still no unit."""
    lexicon = LexiconFeatures().fit([])
    menu = lexicon.explain("1гр-220грн | 2гр-420грн")
    assert menu["price_per_weight"] == ["1гр-220грн", "2гр-420грн"]
    assert lexicon.explain("5г-10г")["quantity"] == ["5г", "10г"]
    for text in ("1 г-н Иванов", "5 g-string"):
        assert not lexicon.explain(text).get("quantity"), text


def test_the_weights_of_the_english_trade_are_quantities_and_forms() -> None:
    """Vendors sell by the quarter pound ("1QP", "2 qps") and by fractions of an ounce
    ("1/8th"); as words ("QP $650", "Half LB") they say how the goods are packed. "th" after a
    plain number ("5th", "May 4th") is no unit, nor is a fraction without one."""
    lexicon = LexiconFeatures().fit([])
    menu = lexicon.explain("MEDICINAL MARIJUANA 1/8TH £22 | 2 qps $1200 | 1QP")
    assert menu["quantity"] == ["8th", "2 qps", "1qp"]
    assert menu["price_per_weight"] == ["8th £22", "2 qps $1200"]
    words = lexicon.explain("Dank Nugs - QP - $650 w/ Free Ship. Half LB 1100")
    assert words["cue:drug_form"] == ["qp", "half lb"]
    assert words["form_offers"] == ["qp", "half lb", "$650"]
    assert not words.get("quantity")
    for text in ("the 5th of May, May 4th, 1/8 of the cake", "a Quarter Pounder, 3 qpr"):
        found = lexicon.explain(text)
        assert not found.get("quantity") and not found.get("cue:drug_form"), text


def test_a_price_for_one_unit_written_price_first_is_an_offer() -> None:
    """"$12/tab", "45$/g", "0.5 BTC per gram", "2500 руб за 1 г" price one unit of the goods;
    food is priced per kilogram or pound, and that is no offer."""
    lexicon = LexiconFeatures().fit([])
    menu = lexicon.explain("Xanax $12/tab. Crystal 45$/g or 0.5 BTC per gram. 2500 руб за 1 г")
    assert menu["price_per_unit"] == ["$12/tab", "45$/g", "0.5 btc per gram", "2500 руб за 1 г"]
    assert menu["price_per_weight"] == ["45$/g", "0.5 btc per gram", "2500 руб за 1 г"]
    for text in ("Apples $1.99/lb, rice €2.50/kg, milk 90 руб за 1 л", "$5 a month"):
        found = lexicon.explain(text)
        assert found["price"] and not found.get("price_per_unit"), text


def test_micrograms_and_counts_of_pills_are_quantities() -> None:
    """"150mcg" is a blotter's dose and "100 mcg/hr" a patch's; pills are listed as a count
    times a strength ("50x40mg", "10х2мг"). A number inside a word or a hex string is none."""
    lexicon = LexiconFeatures().fit([])
    assert lexicon.explain("LSD 150mcg $8/tab, fentanyl patch 100 mcg/hr")["quantity"] == [
        "150mcg", "100 mcg"]
    assert lexicon.explain("50x40mg Oxycodone | 10х2мг 500р")["quantity"] == ["40mg", "2мг"]
    for text in ("0x4f3a20mg", "ab40mg", "1920x1080px"):
        assert not lexicon.explain(text).get("quantity"), text


def test_blotter_doses_are_counted_in_hits_as_pills_in_tabs() -> None:
    """LSD is sold as a number of hits ("10 Hits LSD - 150ug", "$7/hit"); a hit with no number
    before it ("a big hit", "hit the market") is no count, nor a word that starts so."""
    lexicon = LexiconFeatures().fit([])
    menu = lexicon.explain("10 Hits Ultra Clean LSD - 150ug. 1 hit $7/hit, 25hits $120.")
    assert menu["pieces"] == ["10 hits", "1 hit", "25hits"]
    assert menu["price_per_unit"] == ["1 hit $7", "$7/hit", "25hits $120"]
    assert menu["price"] == ["$7", "$120"]  # without the full stop after it
    for text in ("a big hit, it will hit the market in 2 weeks", "3 hitch hikers", "5 hitters"):
        assert not lexicon.explain(text).get("pieces"), text


def test_a_dose_by_body_weight_is_no_amount_for_sale() -> None:
    """Dosing guides give doses per kilogram of body weight; a shop's "250mg/ml" is an amount."""
    lexicon = LexiconFeatures().fit([])
    for text in ("MDMA: 1-1.5 mg/kg", "1.5 mg / kg", "2 mg per kg", "0,5 мг на кг веса",
                 "3 мг/кг"):
        assert not lexicon.explain(text).get("quantity"), text
    assert lexicon.explain("MDMA: 1-1.5 mg/kg, at most 120 mg")["quantity"] == ["120 mg"]
    assert lexicon.explain("Test E 250mg/ml 10ml $45")["quantity"] == ["250mg", "10ml"]


def test_a_town_a_year_or_a_number_is_no_quantity() -> None:
    """"г." is also a town and a year: a Belarusian address ("220030, г. Минск"), "школа № 47
    г. Витебска" and "в 2023 г." hold no grams; "Меф 1 г. Цена" and "2000 г за 100$" do."""
    lexicon = LexiconFeatures().fit([])
    for text in ("ООО «Ромашка», 220030, г. Минск, ул. Ленина 5", "Средняя школа № 47 г. Витебска",
                 "в 2023 г. изъято", "Магазин №3 г. Гомель"):
        assert not lexicon.explain(text).get("quantity"), text
    assert lexicon.explain("Меф 1 г. Цена 50 руб")["quantity"] == ["1 г"]
    assert lexicon.explain("1,5 г — 50$")["price_per_weight"] == ["1,5 г — 50$"]
    assert lexicon.explain("2000 г за 100$")["price_per_weight"] == ["2000 г за 100$"]


def test_amounts_are_found_as_a_look_back_first_pattern_finds_them() -> None:
    """The amount pattern starts with its sign and looks back after it (so that the regex engine
    skips to signs): it finds what the same pattern with its look back first finds."""
    written = re.compile(features._AMOUNT.pattern.replace(
        r"[\d$€£₽](?:(?<!\w[\d$€£₽])|(?<=\d[xх][\d$€£₽]))", r"(?:(?<!\w)|(?<=\d[xх]))[\d$€£₽]", 1))
    assert written.pattern != features._AMOUNT.pattern
    rng = random.Random(3)
    alphabet = "0123456789 .,$€£₽гgrмкlbsрубusdpcs-_\nя١٢xх"
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
             for _ in range(3000)] + ["мефедрон 1г 2500₽, 2г-$45; x5g 10$ ₽5 1.5 oz 300 usd"]
    for text in texts:
        assert ([(m.span(), m.groups()) for m in features._AMOUNT.finditer(text)]
                == [(m.span(), m.groups()) for m in written.finditer(text)]), text


def test_batches_give_the_rows_of_single_pages() -> None:
    texts = ["", "а", "Мефедрон крис 1г 2500₽, клад магнит", "м3ф " * 300, "cocaine 1g $90"]
    for ngrams in (Ngrams(kind="word").fit([]), Ngrams(kind="char", ngram_range=(3, 5),
                                                      sublinear=False).fit([])):
        batch = ngrams.transform(texts)
        for i, text in enumerate(texts):
            single = ngrams.transform([text])
            assert batch[i].indices.tolist() == single.indices.tolist()
            assert batch[i].data.tolist() == single.data.tolist()


def test_padded_text_collapses_whitespace_as_a_regex_would() -> None:
    from classifiers.features import _padded

    space = re.compile(r"\s+")
    for text in ["", " ", "  ", "a", " a ", "a  b", "\ta\n\nB\xa0", "\u2028x\u3000", "\x1cz\x85"]:
        assert _padded(text) == " " + space.sub(" ", text.lower()) + " "


def test_char_ngrams_read_raw_text() -> None:
    ngrams = Ngrams(kind="char", ngram_range=(3, 3)).fit([])
    assert "м3ф" in ngrams.grams("м3ф")
    column = int(ngrams.columns("м3ф")[ngrams.grams("м3ф").index("м3ф")])
    assert ngrams.transform(["м3ф"])[0, column] > 0
    assert ngrams.terms("м3ф", [column]) == {column: "м3ф"}


def test_hashed_columns_follow_the_grams() -> None:
    ngrams = Ngrams(kind="word", n_features=2**10).fit([])
    text = "Мефедрон крис 1г 2500₽, клад магнит; cocaine 1g $90 in stock"
    X = ngrams.transform([text])
    columns = ngrams.columns(text)
    assert len(columns) == len(ngrams.grams(text))
    assert set(X.indices) == set(columns.tolist())
    assert ngrams.columns("клад магнит").tolist() == ngrams.columns("КЛАД магнит").tolist()


def test_long_pages_are_read_at_head_and_tail() -> None:
    ngrams = Ngrams(kind="word", head_chars=100, tail_chars=50).fit([])
    page = "начало " + "слово " * 5000 + "конец"
    grams = ngrams.grams(page)
    assert "начало" in grams and "конец" in grams and len(grams) < 60


def feature_value(lexicon: LexiconFeatures, text: str, feature: str) -> float:
    return float(lexicon.transform([text])[0, lexicon.feature_names_.index(feature)])


def test_offers_are_told_from_reports() -> None:
    lexicon = LexiconFeatures().fit([])
    value = partial(feature_value, lexicon)
    shop = "Мефедрон крис 1г 2500₽.\nКлад магнит, оплата BTC."
    news = ("В Минске задержан 25-летний житель. У него изъяли 50 г мефедрона.\n"
            "По данным МВД, он продавал наркотики через закладки по 2500 рублей.")
    assert value(shop, "substance_offers_unreported") > 0
    assert value(news, "substance_reported") > 0
    assert value(news, "substance_offers_unreported") == 0
    accounts = "Аккаунты Steam с играми, ключи активации — 300₽. В наличии, оплата на карту."
    assert value(accounts, "other_goods_offers") > 0
    assert value(accounts, "selling_without_substance") > 0
    assert value(shop, "selling_without_substance") == 0


def test_a_first_person_report_of_use_is_reported_not_offered() -> None:
    """"I took 150ug of LSD" puts a substance next to a quantity, as an offer does: the
    reporting cue nearby tells use told from use sold."""
    value = partial(feature_value, LexiconFeatures().fit([]))
    report = "Trip report: I took 150ug of LSD and 2g of mushrooms. The come-up took an hour."
    offer = "LSD 150ug blotters, 10 tabs $80, 2g mushrooms $30. Stealth shipping."
    assert value(report, "substance_reported") > 0
    assert value(report, "substance_offers_unreported") == 0
    assert value(offer, "substance_offers_unreported") > 0
    assert value(offer, "substance_reported") == 0


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
    if news.score < REASONS_FROM:  # nobody reviews clearly benign pages: reasons on demand
        assert news.reasons == []
    assert model.explain(BENIGN[0])


def test_verdicts_are_the_pipelines_scores_with_the_reasons_explain_gives(
        model: TrawlerModel) -> None:
    """``classify`` sums each feature branch's products and reads a page's row from the branches
    one by one, without stacking them: the same scores as the whole pipeline, and the same
    reasons as ``explain``, which reads the stacked row."""
    texts = [STRONG_SHOP, *BENIGN, "cocaine 1g $90, stealth shipping", "", "м3ф " * 400]
    verdicts = model.classify([Document(text=t) for t in texts])
    expected = model.pipeline.predict_proba(texts)[:, 1]
    assert [v.score for v in verdicts] == pytest.approx(expected.tolist(), abs=1e-6)
    assert model.scores(texts).tolist() == pytest.approx(expected.tolist(), abs=1e-12)
    explained = [v for v in verdicts if v.reasons]
    assert explained, "no page scored high enough to be given reasons"
    for text, verdict in zip(texts, verdicts, strict=True):
        if verdict.reasons:
            assert verdict.reasons == model.explain(text, 10)


def test_bounded_weights_are_the_bounded_optimum() -> None:
    """Weights held to a sign are the optimum of the same regularised loss under those bounds,
    as a general bounded optimiser finds it: a weight of the wrong sign is held at zero, and one
    held so is let go again where, with the others held, it would point the allowed way."""
    from scipy.optimize import minimize

    rng = np.random.default_rng(0)
    n, d, C = 400, 6, 0.5
    X = rng.normal(size=(n, d)) @ rng.normal(size=(d, d))  # correlated columns
    y = (X @ (rng.normal(size=d) * 2) + rng.logistic(size=n) > 0).astype(int)
    weight = rng.uniform(0.5, 2.0, size=n)
    signs = np.array([1.0, 0, 1.0, 1.0, 1.0, 1.0])
    bounded = CalibratedLinear(C=C, n_splits=2).fit(sp.csr_matrix(X), y, sample_weight=weight,
                                                     groups=np.arange(n) // 4, signs=signs)
    free = CalibratedLinear(C=C, n_splits=2).fit(sp.csr_matrix(X), y, sample_weight=weight)
    Xc = np.column_stack([X, np.ones(n)])

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        """liblinear's: the intercept is the weight of a constant column, and penalised."""
        z = Xc @ w
        value = 0.5 * w @ w + C * np.sum(weight * np.logaddexp(0, np.where(y, -z, z)))
        return value, w + C * Xc.T @ (weight * (1 / (1 + np.exp(-z)) - y))

    bounds = [(0, None) if sign > 0 else (None, None) for sign in signs]
    exact = minimize(loss, np.zeros(d + 1), jac=True, method="L-BFGS-B",
                     bounds=[*bounds, (None, None)], options={"gtol": 1e-10}).x
    assert bounded.coef_ == pytest.approx(exact[:d], abs=2e-3)
    assert bounded.intercept_ == pytest.approx(exact[d], abs=2e-3)
    assert np.all(signs * bounded.coef_ >= 0)
    # Columns 0 and 3 are negative unbounded and held at zero; column 2 is negative unbounded
    # too, but positive once the others are held: held in the first refit, then let go.
    assert free.coef_[[0, 2, 3]].max() < -0.2 and bounded.coef_[0] == bounded.coef_[3] == 0
    assert bounded.coef_[2] > 0.5
    # The free column and the calibration still work as without bounds.
    assert bounded.coef_[1] < 0 and 0.5 < bounded.calib_a_ < 2


def test_lexicon_weights_point_the_way_their_features_mean(model: TrawlerModel) -> None:
    """Selling and payment features and a substance named at all only count for a shop, benign
    context only against one, whatever the training text teaches; n-grams are free."""
    lexicon = dict(model.features.transformer_list)["lexicon"]
    names, signs = list(lexicon.feature_names_), lexicon.feature_signs()
    sign_of = dict(zip(names, signs, strict=True))
    assert sign_of["price"] == sign_of["cue:dead_drop"] == sign_of["payment_id:btc"] == 1
    assert sign_of["substance_any"] == sign_of["substance_offers"] == 1
    assert sign_of["benign_context"] == sign_of["cue:law_news"] == sign_of["cue:pharmacy"] == -1
    assert sign_of["cue:forum"] == sign_of["selling_without_substance"] == 0
    assert sign_of["substance:cathinones"] == 0
    _, start, _, width = model._blocks()[-1]
    weights = model.clf.coef_[start:start + width]
    assert np.all(signs * weights >= 0)
    assert np.any(weights[signs > 0] > 0) and np.any(weights[signs < 0] < 0)
    columns = column_signs(model.features)
    assert len(columns) == len(model.clf.coef_) and not columns[:start].any()


def test_save_load_round_trip(model: TrawlerModel, tmp_path: Path) -> None:
    save_model(model, tmp_path)
    loaded = load_model(tmp_path)
    assert loaded.version == model.version and loaded.threshold == model.threshold
    docs = [Document(text=t) for t in (STRONG_SHOP, BENIGN[2])]
    assert [v.score for v in loaded.classify(docs)] == [v.score for v in model.classify(docs)]
    lexicon = dict(loaded.features.transformer_list)["lexicon"]  # its forms travel with it
    assert lexicon.forms_["моментальных"] == "моментальный"
    assert lexicon.explain("Оплату картой")["cue:payment"] == ["оплату картой"]


def test_load_refuses_what_is_not_a_model(model: TrawlerModel, tmp_path: Path) -> None:
    import numpy as np

    with pytest.raises(ModelError, match="no model"):
        load_model(tmp_path / "missing")
    pickled = tmp_path / "pickled"
    save_model(model, pickled)
    np.savez(pickled / "model.npz", **{"clf.coef_": np.array([Path("/etc/passwd")])})
    with pytest.raises(ModelError, match="not a trawler model"):
        load_model(pickled)  # object arrays would need pickle: refused
    foreign = tmp_path / "foreign"
    save_model(model, foreign)
    payload = json.loads((foreign / "model.json").read_text(encoding="utf-8"))
    payload["steps"]["clf"]["type"] = "os.system"
    (foreign / "model.json").write_text(json.dumps(payload), encoding="utf-8")
    with pytest.raises(ModelError, match="refusing"):
        load_model(foreign)
    private = tmp_path / "private"
    save_model(model, private)
    payload = json.loads((private / "model.json").read_text(encoding="utf-8"))
    payload["steps"]["clf"]["learned"]["__class__"] = "x"
    (private / "model.json").write_text(json.dumps(payload), encoding="utf-8")
    with pytest.raises(ModelError, match="learned attribute"):
        load_model(private)
    bad = tmp_path / "bad"
    save_model(model, bad)
    with zipfile.ZipFile(bad / "model.npz", "w") as zf:
        zf.writestr("x.npy", "not an array")
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


def site_reference(scores: list[float], threshold: float) -> tuple[float, bool]:
    """The site rule read straight off its definition, over every page score: noisy-OR of the
    three strongest flagged pages, against a bar that rises with the benign pages."""
    ranked = sorted(scores, reverse=True)
    if not ranked:
        return 0.0, False
    evidence = [s for s in ranked[:3] if s >= threshold]
    if not evidence:
        return round(ranked[0], 6), False
    score = 1.0 - float(np.prod([1.0 - s for s in evidence]))
    return round(score, 6), score >= required_score(threshold, sum(s < threshold for s in ranked))


def test_site_tally_agrees_with_the_site_rule_page_by_page() -> None:
    """A crawl keeps three scores and a count per site, not every score: after each page its
    verdict is the one the rule gives over all pages so far."""
    rng = random.Random(7)
    for _ in range(200):
        threshold = rng.choice([0.5, 0.6, 0.97, 0.99])
        tally, seen = SiteTally(threshold), []
        for _ in range(rng.randint(1, 60)):
            score = rng.choice([rng.random(), rng.random() ** 8, 1 - rng.random() ** 8,
                                threshold, 0.0, 1.0])
            tally.add(score)
            seen.append(score)
            assert tally.verdict() == site_reference(seen, threshold) \
                == aggregate_site(seen, threshold), (seen, threshold)
    # Scores out of [0, 1] (a damaged row) count as clamped into it, whoever ranks them.
    raw = [1.4, -0.3, 0.7, 1.2, 0.2]
    clamped = [min(max(x, 0.0), 1.0) for x in raw]
    tally = SiteTally(0.6)
    for score in raw:
        tally.add(score)
    assert tally.verdict() == aggregate_site(raw, 0.6) == site_reference(clamped, 0.6)


@pytest.mark.parametrize("threshold", [0.5, 0.6, 0.8])
def test_one_drug_crime_article_does_not_flag_a_news_site(threshold: float) -> None:
    for benign in (4, 5, 20, 500):
        for article in (0.6, 0.65, 0.7):
            if article >= threshold:
                assert aggregate_site([article] + [0.05] * benign, threshold)[1] is False
    for benign in (0, 4, 500):
        assert aggregate_site([0.98] + [0.05] * benign, threshold)[1] is True
        assert aggregate_site([0.91, 0.91] + [0.05] * benign, threshold)[1] is True
    shop = [0.7] * 30 + [0.05] * 2  # a shop whose pages are all moderately sure
    assert aggregate_site(shop, min(threshold, 0.6))[1] is True


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
    assert training_weights(examples[:1]).mean() == pytest.approx(1.0)  # one label only
    path.write_text('{"label": "maybe"}\n', encoding="utf-8")
    with pytest.raises(Exception, match=r"c\.jsonl:1"):
        read_corpus([path])


def test_no_language_counts_for_or_against_a_shop_by_itself() -> None:
    """Within each language, shops and other pages weigh the same in all (Ukrainian and
    Belarusian with Russian), however many of each the corpus holds; a language with one label
    only is left as it is."""
    def doc(i: int, source: str, lang: str, label: str) -> Example:
        return Example(id=str(i), source=source, lang=lang, label=label, kind="k",
                       group=str(i), text="x")

    examples = [*(doc(i, "news", "ru", "benign") for i in range(0, 9)),
                doc(9, "bots", "ru", "drugs"), doc(10, "bots", "ru/uk", "drugs"),
                doc(11, "blogs", "be", "benign"),
                *(doc(i, "market", "en", "drugs") for i in range(12, 28)),
                doc(28, "wiki", "en", "benign"), doc(29, "wiki", "de", "benign")]
    w = training_weights(examples)
    y = np.array([e.y for e in examples])
    ru = np.array([e.lang.split("/")[0] in ("ru", "uk", "be") for e in examples])
    en = np.array([e.lang == "en" for e in examples])
    for group in (ru, en):
        assert w[group & (y == 1)].sum() == pytest.approx(w[group & (y == 0)].sum())
    assert w.mean() == pytest.approx(1.0)
    assert w[1] == pytest.approx(w[0]) and w[9] == pytest.approx(w[10])  # within strata, equal
    # Languages of one label each are balanced together.
    w = training_weights([doc(0, "bots", "ru", "drugs"), doc(1, "wiki", "en", "benign"),
                          doc(2, "wiki", "en", "benign")])
    assert w[0] == pytest.approx(w[1] + w[2]) and w.mean() == pytest.approx(1.0)


def test_market_categories_weigh_apart() -> None:
    """A market's benign listings weigh per category (one weapon listing as much as four guides);
    a source of one label (news sections) stays one stratum."""
    def doc(i: int, source: str, label: str, category: str) -> Example:
        return Example(id=str(i), source=source, lang="en", label=label, kind="k",
                       group=str(i), text="x", category=category)

    examples = [doc(0, "market", "drugs", "Drugs/RCs"), doc(1, "market", "benign", "Weapons"),
                *(doc(i, "market", "benign", "Information/Guides") for i in range(2, 6)),
                doc(6, "news", "benign", "Sports"),
                *(doc(i, "news", "benign", "Politics") for i in range(7, 10))]
    w = training_weights(examples)
    assert w[1] == pytest.approx(2 * w[2])  # 1 weapon listing vs 4 guides: 1/sqrt(1), 1/sqrt(4)
    assert w[6] == pytest.approx(w[7])  # news: one stratum of 4
