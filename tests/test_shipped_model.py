"""The shipped model (models/trawler) on kinds of page the labelled corpus lacks: ordinary legal
shops and licensed pharmacies, which sell by weight, with prices, carts and delivery, a drug
user's report of a dose, harm-reduction advice, shops of legal goods named by words that are
also drug slang, and shops of substances named or never named. None of these texts is
training data (authored text included). Needs no ../shared: the model is in the repository."""

from __future__ import annotations

import pytest

from classifiers import Document, TrawlerModel, load_model
from classifiers.corpus import AUTHORED_FILE, AUTHORED_SOURCE, read_corpus
from crawler.config import PROJECT_ROOT

MODEL = PROJECT_ROOT / "models" / "trawler"

pytestmark = pytest.mark.skipif(not (MODEL / "model.json").is_file(),
                                reason="no shipped model in models/trawler (run `make eval`)")

LEGAL_SHOPS = [
    "Coffee beans, Ethiopia Yirgacheffe, 1kg $32. Freshly roasted. Add to cart. Free shipping.",
    "Whey protein isolate 2kg €49.90, creatine monohydrate 500g €19.90. Lab tested, 99.9% pure. "
    "Add to cart, free shipping across the EU.",
    "Acetone ACS reagent 99.5%, 1L €34. Sodium hydroxide pellets 500g €18. Add to cart. "
    "For laboratory use only.",
    "Organic loose leaf green tea, Sencha, 100g $14.50. In stock. Add to cart. Free shipping "
    "over $50. Pay with Visa, Mastercard or PayPal.",
    "Hydroponic nutrients for tomatoes and lettuce, 1L bottle €12.99. Grow tent 120x120 €89. "
    "Express delivery in 2 days.",
    "Ibuprofen 200mg tablets, 24 pack £2.49. Add to basket. Free delivery over £20. Registered "
    "pharmacy, GPhC number 1234567.",
    "Кофейня «Зерно»: эспрессо 4 BYN, капучино 6 BYN. Свежая обжарка, зерно 250 г — 18 BYN. "
    "Доставка по Минску курьером.",
    "Смартфон Xiaomi 13, 256 ГБ — 1299 руб. В наличии. Оформить заказ. Доставка курьером по "
    "всей Беларуси.",
    "Шины зимние 205/55 R16, комплект 4 шт — 600 BYN. Доставка, шиномонтаж. Звоните "
    "+375 29 123-45-67.",
    "Бот доставки цветов 💐 Выберите город → Выберите букет → Оплата картой или USDT. Розы 25 шт — "
    "95 BYN. Доставка в течение часа.",
    "Купить Нурофен 200 мг №24 в аптеке — 8,50 руб. Отпускается без рецепта. Доставка по Минску.",
]
# Use told, not sold: a dose next to a substance, in a first-person report.
USE_REPORTS = [
    "Trip report: I took 150ug of LSD and 2g of mushrooms at a festival. The come-up took an "
    "hour.",
]
# Harm reduction: drug names and doses, no offer.
HARM_REDUCTION = [
    "Free fentanyl test strips at our booth tonight. MDMA: most people need 1-1.5 mg/kg; wait "
    "two hours before redosing. Drink water, take breaks, never mix with alcohol.",
    "Снижение вреда: если ты употребляешь соли или мефедрон, не смешивай с алкоголем, пей воду, "
    "спи. Бесплатные тест-полоски и налоксон в нашем пункте, анонимно.",
]
# Legal goods named by words that are also drug slang: nicotine salt ("соль"), a hair dryer ("фен").
HOMONYM_SHOPS = [
    "Солевые жидкости оптом и в розницу! Соль 20мг и 50мг, 30мл от 9 руб. Поды, картриджи, "
    "испарители. Доставка по всей Беларуси, самовывоз.",
    "Фен для волос Aeris 2200 Вт, 3 скорости — 119 BYN. В наличии, в корзину. Доставка по Минску.",
]
DRUG_SHOPS = [
    "Buy 3-CMC crystals online. Research chemicals for sale, not for human consumption. "
    "10g €60, 50g €220. Discreet packaging, EU shipping, payment via Bitcoin.",
    # A substance no lexicon lists: caught by its NPS-style name and how it is sold.
    "New research chemical: 4F-MPH-X now in stock. 1g $25, 5g $90. Pay with Monero. "
    "Worldwide stealth shipping.",
    "🍁 Бошки 1г — 40 BYN\n❄️ Меф 1г — 90 BYN\nГорода: Минск, Гродно. Оплата: карта, USDT. "
    "Тип клада: магнит, прикоп.",
    "Крама працуе кругласутачна. Шышкі, мефедрон, амфетамін. Клады па ўсім Мінску. Аплата BTC.",
    "Отзыв: брал 2 гр в Серебрянке, клад забрал за 5 минут, магнит под подоконником, вес ровный, "
    "качество огонь. Магазу респект.",
    "LSD blotters 150ug, 10 tabs $80, 25 tabs $170. Shipping from Netherlands, tracking "
    "included. PGP encrypted orders only.",
]


@pytest.fixture(scope="module")
def model() -> TrawlerModel:
    return load_model(MODEL)


def test_pages_that_sell_no_drugs_are_not_flagged(model: TrawlerModel) -> None:
    pages = LEGAL_SHOPS + USE_REPORTS + HARM_REDUCTION + HOMONYM_SHOPS
    verdicts = model.classify([Document(text=t) for t in pages])
    flagged = [(round(v.score, 3), t[:60]) for t, v in zip(pages, verdicts, strict=True)
               if v.label == "drugs"]
    assert flagged == []


def test_drug_shops_are_flagged_named_or_not(model: TrawlerModel) -> None:
    verdicts = model.classify([Document(text=t) for t in DRUG_SHOPS])
    missed = [(round(v.score, 3), t[:60]) for t, v in zip(DRUG_SHOPS, verdicts, strict=True)
              if v.label != "drugs"]
    assert missed == []


def test_authored_text_is_well_formed_and_not_test_text() -> None:
    examples = read_corpus([AUTHORED_FILE])  # as training reads it: a bad line raises
    assert len({e.id for e in examples}) == len(examples)
    assert {e.source for e in examples} == {AUTHORED_SOURCE}
    assert {e.label for e in examples} == {"drugs", "benign"}  # no gray: it is never trained on
    assert all(e.text.strip() for e in examples)
    texts = {e.text for e in examples}
    assert len(texts) == len(examples)
    # What these tests read was never trained on.
    assert not texts & set(LEGAL_SHOPS + USE_REPORTS + HARM_REDUCTION + HOMONYM_SHOPS + DRUG_SHOPS)
