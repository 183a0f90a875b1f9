"""The model card: card.json (machine-readable) and card.md (for people), from one dict."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def _errors(r: dict[str, Any]) -> tuple[int, int]:
    """(missed positives, false positives) behind a row's rates."""
    missed = round((1 - r["recall"]) * r["positives"]) if r["recall"] is not None else 0
    negatives = r["n"] - r["positives"]
    false = round(r["false_positive_rate"] * negatives) if r["false_positive_rate"] else 0
    return missed, false


def _table(title: str, rows: dict[str, dict[str, Any]]) -> list[str]:
    lines = [f"| {title} | n | positives | recall | false-positive rate | missed | false "
             "positives |", "|---|---|---|---|---|---|---|"]
    for name, r in rows.items():
        missed, false = _errors(r)
        lines.append(f"| {name} | {r['n']} | {r['positives']} | {_pct(r['recall'])} | "
                     f"{_pct(r['false_positive_rate'])} | {missed} | {false} |")
    return lines


# How the model was improved and what limits it; figures are in the tables above.
METHOD = [
    "- Error analysis reads *out-of-fold* predictions on the training data (group-aware folds: "
    "copies and mirrors never straddle a fold), never dev errors; dev only measures, and picks "
    "the threshold. No rule or lexicon term was written for a dev document (one exception, "
    "told below: a dev false positive prompted the lexicon count that removed some words).",
    "- What the out-of-fold errors showed, and what was done: a market's non-drug listings "
    "(weapons, forgeries, guides) were outweighed by its thousands of drug listings, so "
    "training weights now count each market category as a stratum of its own (sources "
    "already were), which also lets the small negative sources weigh more; unseen "
    "substances are recognised by their shape (forms, purity, NPS-style codes) as well as by "
    "their names: out of fold and on the cannabis and RCs leave-outs these measured neutral; "
    "they stay as the only cue for an NPS name no lexicon lists yet. The category weights "
    "roughly halved false positives on non-drug market listings and cost a few points of "
    "leave-out recall (a stricter model for listings of unknown substances). Weight and grade "
    "words (\"half oz\", \"QP\", \"AAA\") were tried for unseen "
    "families and dropped: they did not raise leave-out recall.",
    "- Market listings titled by their URL slug (\"name-20mg-500-pills-350-usd\") were one "
    "hyphenated word to the word features, so their quantity, pill and price words went "
    "unseen; such listings were more than half of the prescription leave-out's misses among "
    "held-back training listings. A token of five or more hyphen-joined parts (most longer "
    "than a letter) is now read as its words, while names like \"a-pvp\" or "
    "\"mdmb-4en-pinaca\" and spelt-out obfuscations stay one word: prescription leave-out "
    "recall 0.902 to 0.949, opioids 0.920 to 0.923, dev precision unchanged.",
    "- Lexicon precision, counted on the training data: cue and slang words were counted in "
    "benign and drug training documents, and everyday words found only in benign ones went: "
    "\"поднять\" (to raise), \"подъем\", \"находка\", \"метка\", \"обход\" from the dead-drop "
    "cues (\"поднять клад\" and its forms stay; \"предзаказ\" is a shop cue now), \"vpn\" from "
    "the darknet cues, \"первый\" (first) and \"курс\" (course, exchange rate) from the slang "
    "lists; and the NPS-shape pattern no longer reads news compounds (\"31-year-old\", "
    "\"25-yard\", \"3rd-class\") as substance codes. The count was prompted by a dev false "
    "positive (a news item on egg prices, \"поднять цены\"); the training counts decided "
    "which words went. Dev: one false positive fewer (tg-news-ru); leave-out recall moved by "
    "one or two listings a family (prescription 0.949 to 0.950).",
    "- Ordinary legal shops and licensed pharmacies: the corpus has none, and the model read a "
    "price for a weight next to a cart as a drug shop. Of texts written for trawler and never "
    "trained on, the previous model flagged 39 of 70 English legal-shop pages (coffee, "
    "supplements, lab chemicals, seeds, tools...), 9 of 50 Russian, 1 of 10 Belarusian and 9 "
    "of 20 English licensed-pharmacy pages. These 150 texts are now authored training text "
    "(kinds `legal_shop` and `pharmacy_en`, each a stratum of its own). Measured on texts of "
    "this kind a model had not read (two halves by product, each model trained with the "
    "other half): 20 of 70 English legal shops, 4 of 50 Russian, 0 of 10 Belarusian and 3 of "
    "20 pharmacies flagged: fewer, not none. The cost: a shop of a substance the model has "
    "never heard of must now show more than a price and a weight, so leave-one-family-out "
    "recall fell for the families sold like pharmacy goods or groceries (benzodiazepines "
    "0.972 to 0.939, opioids 0.923 to 0.904, prescription 0.950 to 0.931, steroids 0.955 to "
    "0.925, ecstasy 0.957 to 0.944, cannabis 0.814 to 0.775, cathinones 0.982 to 0.950), "
    "while synthetic cannabinoids, RCs, phenethylamines and dissociatives held; dev: 3 more "
    "market listings caught, 2 more Tor shop pages missed (a market that also sells weapons "
    "and documents, and a shop page that reads like a blog), 2 Tor forum pages, 1 non-drug "
    "market listing and 1 bot string more flagged. Also tried and not adopted: 35 "
    "first-person posts of drug users (trip reports, recovery stories, moderated forums) as "
    "benign text: a short trip report with doses was still flagged, and one more Tor shop "
    "page was missed. Instead, first-person accounts of use (\"i took\", \"redosed\", "
    "\"trip report\", \"come-up\", \"трип-репорт\") joined the reporting cue, so that a dose "
    "next to a substance in such a post counts as use told, not sold: 6 of those 20 English "
    "posts (never trained on) flagged instead of 7; dev and leave-out unchanged but for two "
    "psychedelics listings more and one prescription listing fewer.",
    "- Leave-one-family-out recall used to count the family's *authored* shop texts among the "
    "held-back training listings (83 of 245 held-back cathinone listings, for one): text written "
    "for training was scored, against the rule that it never is, and it made the figures look "
    "better. It is held back but no longer scored; the figures in this card are without it "
    "(the before-and-after figures in the bullet above were both measured with it). Also tried "
    "and not adopted: 60 more authored shop texts in styles the corpus lacks (Russian "
    "mail-order shops, channel posts, forum vendor topics, landing pages; English vendor "
    "pages). The previous model, never trained on them, flagged 56 of the 60; trained on them, "
    "a model caught one more Tor shop page on dev but lost leave-out recall (cathinones 0.929 "
    "to 0.899, psychedelics 0.896 to 0.885).",
    "- Tried and not adopted, for unseen families: training on extra copies of the documents "
    "with every substance name cut out (at half or a quarter of the originals' weight, with "
    "benign copies weighing more, and for market listings only), so "
    "that listings must also be told apart without names. It raised the cannabis leave-out "
    "recall by 4 to 5 points (0.82 to 0.86-0.87) and dev recall by 0.2 to 0.5 points, but "
    "every variant flagged 2 to 3 more of 13 legal-forum pages on dev (3-fold models compared "
    "with a 3-fold model without copies), and most also 1 to 2 more market listings and news, "
    "harm-reduction or bot pages: a trade against the false-positive targets. Cutting "
    "the left-out family's names out of *all* training text (news included), so that the "
    "model has never read them at all, changed leave-out recall by under one point: what the "
    "missed listings lack is a selling shape, not unseen names.",
    "- Harm reduction, and legal goods named by drug slang: probed with 120 texts written for "
    "trawler and never trained on: 60 harm-reduction pages (drug checking, dosing and "
    "safer-use guides, legal reagent-kit and test-strip shops, naloxone, needle exchange, "
    "substitution therapy, clinics with price lists; 28 English, 28 Russian, 2 Ukrainian, 2 "
    "Belarusian) and 60 legal shops whose goods are drug-slang words (nicotine-salt "
    "e-liquids, \"соль\"; bath salts; flour, \"мука\"; hair dryers, \"фен\"; mushrooms, "
    "stamps, spices...; 40 Russian, 12 English, 4 Belarusian, 4 Ukrainian). The previous model "
    "flagged 9 of the harm-reduction pages and 3 of the shops. Lexicon: drug-checking and "
    "safer-use words joined the harm-reduction cue (\"test strips\", \"drug checking\", "
    "\"dosing\", \"start low\", \"обмен шприцев\", \"тест-полоски\", \"перегрев\"...; not "
    "\"reagent\", which RC vendors use, 79 drug listings to 1 benign document), nicotine and "
    "e-liquid words the other goods; a dose per "
    "kilogram of body weight (\"1.5 mg/kg\") is no amount; slang words that the training text "
    "uses mostly in their innocent sense went, by the training counts (benign : drug "
    "documents): \"test\" (93 : 22; \"test e\", \"test cyp\" and the like stay), \"doc\" "
    "(49 : 1), \"dob\", \"dom\", \"doi\", \"grass\", \"herb\", \"snow\", \"charlie\", "
    "\"glass\", \"план\" (20 : 0), \"снег\", \"белый\", \"черный\"; \"фен\" (a hair dryer "
    "in every appliance shop) and \"лирика\" (lyrics, and a lyrics site's name) moved from the "
    "names to the slang, as the lexicon's rule for words with an innocent sense says. Russian "
    "substance names are read in their case forms and as adjectives "
    "(\"героином\", \"гашишем\", \"псилоцибиновые\"; `classifiers/inflection.py`), except "
    "names whose forms are everyday words (\"реактивный\", \"в экстазе\", \"конопляное "
    "масло\", \"наборы реагентов\", \"героине\"). With the lexicon alone, 8 of the "
    "harm-reduction pages and none of the shops were flagged, still unseen. The 120 texts are "
    "now authored training text (kinds `harm_reduction_page` and `slang_homonym_shop`); two "
    "models each trained with one half (alternate texts) flagged 5 of the 120 in the half they "
    "had not read, all harm-reduction pages (two reagent-kit shops, two drug alerts: nitazenes "
    "in fake pills, bromazolam sold as Xanax; a programme listing syringes and naloxone doses), "
    "against 8 without them (measured before the cross-checks of the next bullet).",
    "- Cross-checks: \"шприцы\" left the harm-reduction cue again (a Russian mail-order shop "
    "of spore syringes and dried psilocybe fell from 0.61 to 0.06 among 60 shop texts written "
    "last session and never trained on; \"обмен шприцев\" stays), and the psilocybe strains "
    "(\"golden teacher\", 8 drug documents to 0 benign, \"penis envy\") became names; that "
    "set is back to 56 of 60 flagged, as with the previous model (54 in between). "
    "\"г.\" is also a town and a year: every Belarusian site's address (\"220030, г. "
    "Минск\"), \"школа № 47 г. Витебска\" and \"в 2023 г.\" were read as grams. A number "
    "ending in a comma or a full stop before its unit, after \"№\", or a year before \"г.\" "
    "is no quantity now. Found with a third probe of 60 texts written for trawler (rap lyrics "
    "about dead drops, lawyers for drug cases with price lists, shops of books and films about "
    "drugs, school prevention pages, journalism quoting shop menus, drug tests and rehab, "
    "forum threads, encyclopedia pages; 38 Russian, 16 English, 3 Belarusian, 3 Ukrainian): "
    "the previous model flagged 7, this one 4 (two lyrics pages, a Belarusian school's "
    "prevention week, a shop selling a book on a darknet market). Tried and not adopted: these "
    "60 as training text. Two models each trained with one half flagged 2 of 60 in the other "
    "half (against 4), but dev moved both ways (one Tor shop page more missed, one market "
    "listing more caught, one legal-forum page fewer flagged, one bot string more), and of 60 "
    "shop texts written last session and never trained on one fewer was flagged: rap about "
    "dead drops as benign text is a lesson a shop can use too.",
    "- The previous model (trawler-bd0564d20def) on dev, against the one before it: precision "
    "0.9892 to 0.9898, recall 0.9829 "
    "to 0.9823; psychonautwiki false positives 3 to 2, ru-bot-negatives 2 to 1, "
    "duta-drugs-illegal misses 3 to 2, duta-forums-legal false positives 2 to 3 (a carding "
    "forum at 0.51), agora misses 23 to 25 (two reagent test kits, which the market files "
    "under drugs, and an MDA production guide; a psilocybe spore swab is caught now). "
    "Leave-one-family-out: cathinones 0.929 to 0.9495 (188 of 198, a listing short of 0.95), "
    "psychedelics 0.896 to 0.907, opioids 0.899 to 0.905, benzodiazepines 0.936 to 0.943, "
    "synthetic cannabinoids 0.960 to 0.9495 (94 of 99), steroids 0.925 to 0.920, the rest "
    "within 0.004. These figures move with the calibration folds alone: the same training "
    "text under other ids (so other folds) gave cathinones 0.924 and the other families "
    "within one point; a difference of a listing or two is noise.",
    "- A fourth probe, 180 texts written for trawler and never trained on: 60 English legal "
    "shops that sell by weight or count with a cart (coffee, tea, supplements, nootropics, lab "
    "chemicals, minerals, bath salts, resins, seeds, bullion, soap-making, clays, aquarium, pet "
    "pharmacy, e-liquids), 60 legal shops in Russian, Belarusian and Ukrainian whose goods are "
    "dead-drop homonyms (bookmarks, \"закладки\"; magnets; metal detectors and treasure "
    "hunting, \"клад\"; pine cones, \"шишки\"; stamps) or are sold by the gram with "
    "pickup points and couriers, and 60 shop texts (36 Russian, 6 Belarusian or Ukrainian, 18 "
    "English; 33 name only substances no lexicon lists: invented NPS codes in the real naming "
    "styles, or street names). The previous model (trawler-bd0564d20def) flagged none of the "
    "English shops, one of the others (a decor shop selling pine cones, 0.72) and 56 of the 60 "
    "shop texts. Missed: an English vendor profile whose menu gives weights without units "
    "(\"3.5 $60 | 7 $100\", 0.01), an ecstasy listing whose pills are named \"Rolex gold\" "
    "and which reships on \"seizure\" (0.37), two Russian courier vacancies (0.30, 0.46). "
    "What they showed, and what changed: a currency sign before digits was read as the "
    "previous number's (\"3.5 $60\" gave the price \"3.5 $\"); it is the next price's now. "
    "A unit before a hyphen was no unit, so a bot menu's \"1гр-220грн\" held no offer (a dev "
    "bot menu scored 0.45 in a trial model); before a hyphen and a number or price it is a "
    "unit now (\"1 г-н\" still is not). A listed phrase that says a word means something "
    "else overrides that word: \"сосновые шишки\" are cones, not cannabis; \"закладки для "
    "книг\", \"магниты на холодильник\", \"поисковый магнит\", \"металлоискатель\" "
    "are other goods, not dead drops (a word inside a phrase of its own kind, \"клада\" in "
    "\"адрес клада\", still counts). Prevention and police words in Belarusian and "
    "Ukrainian (\"прафілактыка\", \"крымінальная адказнасць\", \"залежність\", "
    "\"вилучено\"...) and Russian \"наркомания\", \"уголовная ответственность\", "
    "\"телефон доверия\" are benign context; books (\"isbn\", \"книга\", "
    "\"издательство\"; \"book\": 75 benign training documents, 0 drug) are other goods. "
    "On the probes this model flags 58 of the 60 shop texts (the vendor profile, 0.01, and a "
    "courier vacancy, 0.41, still missed), no English legal shop, and 2 of the 60 others: the "
    "decor shop (0.91: its catalogue writes \"Шишки сосновые\" and \"Шишки\" alone) and "
    "a shop of search magnets (0.52); of last session's 60 unseen shop texts 57 (56 before); "
    "of the 60 pages about drugs that sell nothing (the third probe) 3 instead of 4: the "
    "Belarusian school's prevention week and the book shop no longer, an encyclopedia "
    "article on mephedrone now (0.58; two lyrics pages still). These changes were chosen "
    "with these probes, so those figures are no longer unseen measures. Dev, against the "
    "previous model: one Tor shop page more caught (0.43 to 0.57), three false positives more, "
    "all near the threshold: an Agora listing of a 1966 LP record about LSD (0.45 to 0.51), "
    "one of an \"anonymous drop point\" service (0.48 to 0.51) and a mobile-tariff discount "
    "bot (0.49 to 0.52). Leave-one-family-out: cathinones 0.9495 to 0.9545 (189 of 198), "
    "steroids 0.920 to 0.930, RCs 0.933 to 0.942, prescription 0.931 to 0.935, ecstasy 0.946 "
    "to 0.948, stimulants 0.954 to 0.956, cannabis 0.770 to 0.772, psychedelics 0.907 to "
    "0.904; the rest unchanged. An intermediate model of this session "
    "(trawler-bc1231a472e3, without the hyphen and phrase rules) was committed and replaced.",
    "- Tried and not adopted: counting prices as present or absent instead of by their number. "
    "Many prices count against a shop (market listings in training rarely show one, legal "
    "catalogues and news show many), which is why the vendor menu above scores 0.01. A model "
    "that counted them so, with everything else as in this one (trawler-e75da46caac1, "
    "retrained with every leave-out), flagged one legal-forum page and one bot string fewer on "
    "dev (precision 0.9892, recall unchanged) and caught 59 of the 60 probe shop texts, but "
    "flagged one more regional legal shop (a Ukrainian tea checkout), one fewer of last "
    "session's unseen shop texts, and lost leave-out recall where pharmacy-style and cannabis "
    "listings show many prices: prescription 0.935 to 0.925, cannabis 0.772 to 0.769, "
    "stimulants 0.956 to 0.954, psychedelics 0.904 to 0.901 (cathinones 0.9545 to 0.9596, "
    "phenethylamines 0.981 to 0.984, the rest unchanged).",
    "- Amounts the reader did not know, found in the listings that leave-one-family-out "
    "models miss among held-back *training* listings (cannabis, opioids, prescription; dev "
    "errors were not read for this): the weights of the English trade are quantities now "
    "(\"1QP\", \"2 qps\", \"1/8th\"; \"th\" only after a fraction's slash) and, as "
    "words (\"QP\", \"half lb\", \"quarter ounce\"), a drug's form (tried before as "
    "words alone and dropped; measured again with the units, below); micrograms "
    "(\"150mcg\", \"100 mcg/hr\") are a weight; a count before a strength (\"50x40mg\", "
    "\"10х2мг\") no longer hides the strength; a price for one unit written price first "
    "(\"$12/tab\", \"45$/g\", \"0.5 BTC per gram\", \"2500 руб за 1 г\") is a "
    "price-per-unit offer, not per kilogram, pound or litre, as food is priced. In train and "
    "dev text each of these occurs in drug documents only (126 trade weights, 52 documents "
    "with micrograms, 45 with counts times strengths, 45 with prices per unit; one "
    "mislabelled benign listing holds a \"1qp\"). Against the previous model "
    "(trawler-886a3cfbc654), leave-one-family-out: opioids 0.905 to 0.929, ecstasy 0.948 to "
    "0.952, cathinones 0.9545 to 0.9596, steroids 0.930 to 0.935, cannabis 0.772 to 0.776; "
    "psychedelics 0.904 to 0.901, stimulants 0.956 to 0.954, benzodiazepines 0.943 to 0.941 "
    "(one or two listings each); the rest unchanged. Dev (each model with its own code): two "
    "opioid listings more caught (\"1x20mg oxycodone\", a fentanyl patch \"100MCG/HR\"), "
    "one carisoprodol listing fewer (0.503 to 0.473), the LP record about LSD no longer "
    "flagged (0.507 to 0.481). Probes: 58 of the 60 shop texts of the fourth probe as before, "
    "1 of its 60 regional legal shops (the decor shop; the search magnets no longer), no "
    "English legal shop, 3 of the 60 topical pages as before, 56 of the 60 shop texts of the "
    "second probe (57 before: one at 0.53 now 0.49). Tried and not adopted: tablets and "
    "capsules counted as pieces (\"100 Tablets $85\", \"24 таблетки\") and a unit before "
    "a count (\"10mgX30\"): prescription leave-out unchanged, opioids and steroids one "
    "listing more, benzodiazepines one fewer, dev one market listing more missed, one probe "
    "shop text fewer; and \"dose\" out of the harm-reduction cue (68 drug and 97 benign training "
    "documents hold it): opioids 0.905 to 0.911 but prescription 0.935 to 0.927 in dev-only "
    "trials.",
    "- Benign cues that are words of drug shops: every term of the benign cues (law news, "
    "reporting, harm reduction, pharmacy, other goods, forum) was counted in drug and benign "
    "training documents, as the selling cues and slang were before, and the six found in more "
    "drug documents than benign ones (and in five or more) went: \"silver\" (40 drug "
    "documents : 23 benign; \"Czech Silver\" is an LSD), \"pharmacy\" (39 : 21, "
    "\"pharmacy grade\"), \"sticky\" (20 : 3), \"разделы\" (14 : 3), \"паспорт\" "
    "(10 : 6), \"review thread\" (5 : 3) and, from the other goods only, \"обменник\" "
    "(11 : 0; still a payment word). A test recounts them on the corpus. Found by reading "
    "what pulled leave-one-family-out misses down: one benign word anywhere on a page costs "
    "about 2 in log-odds (`benign_context`), so a vendor's \"silver\" or a customer's "
    "\"reported\" sank a listing. By the slang lists' rule, \"k\" (11 : 36) and \"ск\" "
    "(1 : 15; the Investigative Committee in news, still a reporting word) left the slang. "
    "Against the previous model (trawler-9ff5188686b0), leave-one-family-out: psychedelics "
    "0.901 to 0.918 (15 listings), ecstasy 0.952 to 0.956, opioids 0.929 to 0.934, stimulants "
    "0.954 to 0.956, prescription 0.935 to 0.936, cannabis 0.776 to 0.777; benzodiazepines "
    "0.941 to 0.931 (five listings, four of them copies of one \"xanax replicas\" listing "
    "near 0.5), steroids 0.935 to 0.925; the rest unchanged. Dev: exactly three verdicts "
    "changed, all forum or near the threshold: a legal Tor forum no longer flagged (0.58 to "
    "0.46), a drug market's forum index missed (0.60 to 0.42) and a THC truffle listing missed "
    "(0.500 to 0.488). Tried and not adopted: counting benign words only in segments with no "
    "offer within a segment (cannabis leave-out 20 listings fewer, ecstasy 6, prescription 5; "
    "steroids 3 more, opioids 5; dev two market false positives fewer, two misses more), "
    "character n-grams at half weight (dev recall 0.982 to 0.979, leave-outs mixed), and "
    "balancing drug and benign weight within each language (the Russian shop-bot sources, "
    "left out, 1 and 2 documents more found; nothing else moved).",
    "- Never-seen sources, measured for the first time (the table above): a model trained "
    "without a whole source. Without Agora, 52 % of its drug listings are found at 0.5 (3 % of "
    "its other listings flagged): the market's listing style, not only its substances, is "
    "learnt from Agora itself, which the leave-one-family-out figures cannot show (the other "
    "families' listings teach it). Without the legal Tor forums, 85 % of them are flagged "
    "(onion addresses and darknet words read as a shop); without PsychonautWiki, 15 % of its "
    "pages; without the Russian shop-bot sources, a third of their strings are found (menus "
    "that list only districts carry no drug or selling word). The hold-out's unseen sources "
    "will cost recall and precision in this way; more kinds of pages, not more rules, are "
    "what closes it.",
    "- Russian cues in every case and number: a selling cue was found only in the forms "
    "listed (\"оплата\", not \"оплату\"; \"моментальные покупки\", not \"моментальных "
    "покупок\"). Selling cues that are nouns or adjectives, and every phrase, now count in all "
    "their case and number forms, as the OpenCorpora dictionary declines them (pymorphy3, when "
    "a model is trained; the forms are stored in the model). Verbs count only as listed (tense "
    "tells \"продавал\", a report, from \"продаем\", an offer), and so do one-word benign "
    "cues: declining them put \"помощью\", \"право\" and \"сообщения\" on a shop's "
    "rules page as benign words, and took it from 0.99 to 0.46. A selling cue whose other forms "
    "are found in a larger share of the Russian benign training documents than of the Russian "
    "drug ones (in five or more) counts only as listed (\"работы\", \"корзину\", "
    "\"оператора связи\"; 39 listed forms), a rule a test recounts. Selling words found per "
    "Russian drug document rose by 12 to 37 % (shop-bot strings, market rules, authored "
    "text), per Russian news post from 0.17 to 0.28, per Russian hard negative by 0.25 to 1.2. "
    "Measured, nothing moved: dev the same, the Russian sources left out the same, the "
    "leave-one-family-out figures within a few listings (psychedelics and cannabis a few more, "
    "ecstasy 4 fewer); it is kept for Russian shops whose wording the corpus does not have. "
    "Character n-grams push unseen Russian shop strings towards benign (by 2.8 in log-odds on "
    "average), so a model without them was tried: the Russian sources left out gained one "
    "string, the Tor shops left out fell from 59 % to 51 % found, dev recall from 0.982 to "
    "0.979 and more benign pages were flagged; they stay. LSD blotters as a unit (\"100 "
    "blotter\", \"$7/blotter\") and \"mkg\" (мкг in Latin letters) as micrograms were "
    "tried too: the eight held-back psychedelics listings written so stayed below 0.5, "
    "ecstasy lost two; not adopted.",
    "- Benign cues counted within Russian: the rule that no benign cue is found in more drug "
    "than benign training documents compared counts, and Russian drug documents are few (222 "
    "against 3,608 benign), so Russian words that shops use more often than news did pass. Now a "
    "benign cue is also no word found in a larger share of the Russian drug documents than of the "
    "Russian benign ones (in three or more): \"помощь\" (a bot's help menu, 21 drug documents "
    "against 53 benign), \"раздел\" (\"перейдите в раздел «Профиль»\"), \"ставка\" and "
    "\"обучение\" (a courier's pay and training) left the benign cues. Against the previous "
    "model (trawler-b5a86f6e6c4a), leave-one-family-out: cannabis 0.778 to 0.787 (+22 "
    "listings), benzodiazepines +2, synthetic cannabinoids +1 (0.9495), opioids +1, steroids "
    "+1, ecstasy 2 fewer; dev: a dark-market page found (0.22 to 0.78), and a market listing "
    "of an LSD documentary record flagged (0.48 to 0.50); the Tor drug shops left out 59 % to "
    "60 % found.",
    "- Ammunition and records are other goods: \"fmj\", \"jhp\", \"hollow point(s)\", "
    "\"subsonic\", \"9mm\", \"22lr\", \"bullets\", \"holster\" (a bullet's weight in grains, "
    "\"40gr\", reads as grams) and \"documentary\", \"dvd\", \"vinyl\", \"audiobook\", "
    "\"biography\", each found in benign training documents only. Found by reading dev's false "
    "positives (a box of .22LR hollow points at 0.87, an LP record about LSD at 0.50), so those "
    "two are no unseen measure now. Against the previous model (trawler-a42aea10bd0b): dev "
    "precision 0.9885 to 0.9898, Agora's non-drug listings flagged 11 to 9 of 318 and its drug "
    "listings 2 more found; a Tor shop page none of these words is on went from 0.506 to 0.495 "
    "(retraining moves pages this close to the threshold), so the Tor drug shops are 25 of 28. "
    "Leave-one-family-out: cannabis +7 listings, psychedelics, ecstasy and opioids +1 each, the "
    "rest unchanged; leave one source out within a few documents (Tor shops 60 % to 58 %, Agora "
    "53.1 % to 53.2 %, eBay one page more flagged).",
    "- LSD is sold by the hit: \"10 Hits LSD - 150ug\", \"$7/hit\" and \"1 hit $7\" are a count "
    "of pieces and a price per unit now, as \"100 tabs\" were. A number of hits is in 58 drug "
    "training documents and 25 benign ones (PsychonautWiki's trip reports, \"1 hit LSD\", "
    "which no offer is near). Found among the listings the psychedelics leave-out missed. "
    "Against the previous model (trawler-dafb198daa65), leave-one-family-out: psychedelics "
    "0.922 to 0.930 (+7 listings), ecstasy and prescription +1; benzodiazepines and synthetic "
    "cannabinoids -1 each, listings within 0.005 of 0.5 either way (synthetic cannabinoids "
    "0.9495 to 0.939); dev: the Tor shop page of the previous bullet back above the threshold "
    "(26 of 28); PsychonautWiki left out, 72 of 480 flagged as before.",
    "- What dev's remaining errors are made of. 16 of Agora's dev listings say nothing but "
    "\"custom order for <buyer>\", \"special listing <buyer>\" or \"<name> hotel booking\"; the "
    "market filed 10 of them under drugs and 6 elsewhere, and only that category, which the "
    "text does not show, tells them apart (this model gets 7 of the 16 wrong). Four dev "
    "documents have a training document of near-identical text (TF-IDF cosine 0.92 to 1.0) "
    "with the other label: \"1OZHigh Grade Commercial\" (non-drug in dev, drugs in training), "
    "a glass bubbler \"packed with any of our strains\" (the other way round) and two custom "
    "listings. The legal-forum source holds the same forum page (\"DNM Avengers\", one "
    "template) that the drug-shop source holds under drugs, in training; dev's two flagged "
    "legal forums are one \"for the discussion of DNM vendors and products\" and a Tor gaming "
    "forum's ban page (an onion address, \"dank\"). The 1 % target on Agora allows 3 "
    "errors in 318, and on the 13 legal-forum pages none.",
    "- Lexicon weights bounded in sign: a selling, price, amount or payment feature, and a "
    "substance named at all, may only count for a shop, and benign context only against one "
    "(`LexiconFeatures.feature_signs`; the weights are fitted under those bounds by active "
    "sets, `CalibratedLinear._fit_bounded`, which a test checks against a general bounded "
    "optimiser). The previous model had learnt the corpus's accidents: Agora keeps a "
    "listing's price in a field its text lacks, while legal shops, pharmacies and news print "
    "many, so `price` weighed -2.0 (per log-count), `price_per_unit` -1.1, `form_offers` -1.3, "
    "a phone number -1.6, a Telegram handle -0.9 and a substance next to a dead drop -0.6; a "
    "Tor shop's catalogue page on dev scored 0.01, its prices alone costing 6.9 in log-odds "
    "(0.85 now). Left free: n-grams, forum words, offers of other goods, a substance where "
    "nothing is sold, selling where no substance is named, and each family's own count; "
    "bounding the families too was tried: a PsychonautWiki effects page naming forty "
    "substances of eight families went from 0.002 to 0.50, as the families' negative weights "
    "are what tell an encyclopedia from a shop. Against trawler-35698023605f, never-seen "
    "sources: Tor drug shops 57 % to 76 % found (27 pages more), Russian shop bots 15 to 14 of "
    "46 (ru-shop-bot alone 2 to 5 of 16, ru-shop-bot2 alone 23 to 20 of 30), Agora's drug "
    "listings 53 % to 50 % (its other listings flagged 3.2 % to 3.1 %); flagged: legal Tor "
    "forums 50 to 47 of 59, legal Russian bots 10 to 7 of 43, eBay 6 to 3 of 76, news 5 to 2 "
    "of 3,944, PsychonautWiki 72 to 71 of 480. Dev: recall 0.9836 to 0.9855, precision "
    "0.9898 unchanged (the Tor shop page above and three market listings found, a carisoprodol "
    "listing at 0.47 missed; a bot string fewer flagged, a six-word news post at 0.52 more, "
    "as a page with no features now sits nearer 0.5: 0.45 for an empty one, 0.39 before). "
    "Leave-one-family-out, the cost: where a price counted against a shop, an offer "
    "without one counted more for it, and Agora's listings show none, so bulk listings of an "
    "unknown substance (\"100g of Methylone Rock Crystals\") and cannabis by the ounce lost "
    "most: cannabis 0.790 to 0.767 (-60 listings), psychedelics 0.930 to 0.909 (-19), "
    "prescription 0.937 to 0.925, cathinones 0.960 to 0.924 (-7), stimulants 0.954 to 0.952, "
    "synthetic cannabinoids and dissociatives one listing fewer; benzodiazepines 0.931 to "
    "0.954 (+12), ecstasy 0.952 to 0.962 (+11), opioids 0.939 to 0.946, phenethylamines 0.981 "
    "to 0.991, steroids 0.930 to 0.935; RCs unchanged. Five families reach 0.95, as before "
    "(benzodiazepines now, cathinones no longer). Adopted for the sources the hold-out has and "
    "this corpus lacks, which print their prices; the leave-one-family-out figures measure "
    "Agora's listings, which do not.",
    "- Small dev sources (6 to 17 documents) make one error worth 6 to 17 points of recall or "
    "false-positive rate: the 1 % target on them means no error at all, and their figures are "
    "noisy estimates, not measurements of a rate.",
    "- Known hard cases (seen out of fold in training data): menu strings of legal Telegram "
    "bots (\"Личный кабинет\", \"Каталог товаров\") read like shop-bot menus; some drug-market "
    "positives are one-line fragments with no drug or selling word, or bare lists of cities "
    "and districts; a few \"legal forum\" pages are shops; harm-reduction recipes and "
    "trip-report lists put doses next to substance names; market guides and eBooks about drugs "
    "use a shop's words.",
    "- Leave-one-family-out: a family the model has never seen is caught by selling patterns "
    "and drug shapes only. Listings that carry neither (cannabis edibles, seeds, strain names "
    "with a weight; psychedelic spores) are missed, which bounds recall on large, "
    "vocabulary-specific families well below the target.",
]

# Issue #3's targets: what the card must show on dev, on unseen families, and in speed.
MIN_SOURCE_RECALL = 0.97
MAX_SOURCE_FPR = 0.01
MIN_LEAVE_OUT_RECALL = 0.95
MIN_PAGES_PER_SECOND = 1000


def _targets(card: dict[str, Any]) -> list[str]:
    """One line per target: met or not, and where not, which sources or families miss it."""
    lines = []
    dev = card.get("dev")
    if dev:
        rows = dev["by_source"].items()
        low = [f"{s} {r['recall']:.3f} ({_errors(r)[0]} of {r['positives']} missed)"
               for s, r in rows if r["recall"] is not None and r["recall"] < MIN_SOURCE_RECALL]
        high = [f"{s} {r['false_positive_rate']:.3f} ({_errors(r)[1]} of "
                f"{r['n'] - r['positives']})" for s, r in rows
                if r["false_positive_rate"] is not None
                and r["false_positive_rate"] > MAX_SOURCE_FPR]
        lines.append(f"- dev recall >= {MIN_SOURCE_RECALL} on every positive source: "
                     + ("**met**" if not low else "**not met**: " + "; ".join(low)))
        lines.append(f"- dev false-positive rate <= {MAX_SOURCE_FPR:.0%} on every negative "
                     "source: " + ("**met**" if not high else "**not met**: " + "; ".join(high)))
    leave = card.get("leave_one_family_out")
    if leave:
        # Four places and the count found: 0.9495 would show as 0.950 to three, yet misses 0.95.
        low = [f"{r['family']} {r['recall']:.4f} ({round(r['recall'] * r['listings'])} of "
               f"{r['listings']})" for r in leave
               if r["recall"] is not None and r["recall"] < MIN_LEAVE_OUT_RECALL]
        lines.append(f"- leave-one-family-out recall >= {MIN_LEAVE_OUT_RECALL} for each family: "
                     + ("**met**" if not low else "**not met**: " + "; ".join(low)))
    else:
        lines.append("- leave-one-family-out recall: not measured in this run (train with "
                     "`--leave-out all`, as `make eval` does)")
    rate = card.get("pages_per_second")
    if rate:
        lines.append(f"- >= {MIN_PAGES_PER_SECOND:,} pages/s on one core: "
                     + ("**met**" if rate >= MIN_PAGES_PER_SECOND else "**not met**")
                     + f" ({rate:,.0f} when the card was written; `bench/classifier.py` "
                     "measures it again)")
    return lines


def render_card(card: dict[str, Any]) -> str:
    data = card["data"]
    lines = [
        f"# Model card: {card['model']}",
        "",
        "trawler's page classifier: is this page an online shop selling illegal drugs or new "
        "psychoactive substances? Hashed word and character n-grams, trawler's own lexicons "
        "(configs/lexicons: substance families, NPS naming patterns, dead-drop and shop "
        "vocabulary, benign-context cues: police and court reporting, forums, harm reduction, "
        "other goods; family-agnostic drug shapes: forms and purity words, NPS-style codes "
        "such as \"4-fa\" or \"25i-nbome\"), price-per-unit patterns and payment-identifier "
        "counts feed one logistic "
        "regression with Platt calibration (group-aware folds); its lexicon weights are "
        "bounded in sign, so selling and payment features only count for a shop and benign "
        "context only against one. Co-occurrence features tell "
        "*selling a drug* (a substance named within a line or sentence of a price, dead drop or "
        "cart) from *reporting on drugs* (the same with police, court or reported-speech words "
        "nearby) and from *selling something else* (accounts, documents, weapons with no "
        "substance). Each branch reads only the head and tail of a long page (words and lexicon: "
        "first 6,000 and last 1,000 characters; characters: first 1,500 and last 300).",
        "",
        "Reasons: pages scoring at least 0.2 get their ten strongest contributions (lexicon "
        "features with the page's matched terms, word n-grams, and all character n-grams as one "
        "`char_ngrams` sum); lower-scoring pages get none (`TrawlerModel.explain` gives them on "
        "demand).",
        "",
        "Training weights: every stratum (source and label; a market's non-drug listings also by "
        "category: weapons, forgeries, guides...) weighs as the square root of its size, then "
        "drug and benign documents weigh the same in total, so small sources (forums, bot "
        "menus, eBay items, harm-reduction pages) and each kind of other illicit goods count.",
        "",
        f"- created: {card['created']}",
        f"- threshold: **{card['threshold']}** ({card['threshold_rule']})",
        f"- artifact: model.json + model.npz, {card['size_bytes'] / 1e6:.1f} MB (plain JSON and "
        "NumPy arrays, no pickle: loading rebuilds the Pipeline from trawler's own classes)",
        f"- load time: {card.get('load_seconds', '–')} s (`load_model`, imports excluded)",
        f"- training time: {card.get('training_seconds', '–')} s",
        "",
        "## Data",
        "",
        "Training files: " + ", ".join(
            f"`{f['path']}` (sha256 {f['sha256'][:12]}…)" for f in data["train_files"]),
        "",
        f"Authored text (`classifiers/data/authored.jsonl`, source `authored`): "
        f"{data['authored_share'] * 100:.1f}% of training documents; never used for evaluation.",
        f"Gray documents (unlicensed prescription / steroid shops) left out of training: "
        f"{data['gray_left_out_of_training']}.",
        "",
        "| source | lang | label | n |",
        "|---|---|---|---|",
    ]
    lines += [f"| {r['source']} | {r['lang']} | {r['label']} | {r['n']} |"
              for r in data["train_counts"]]
    dev = card.get("dev")
    if dev:
        lines += [
            "",
            "## Dev metrics",
            "",
            "Dev files: " + ", ".join(f"`{f['path']}`" for f in data["dev_files"]),
            "",
            f"n = {dev['n']}, precision {dev['precision']}, recall {dev['recall']}, "
            f"F1 {dev['f1']} at threshold {dev['threshold']} (gray left out: {dev['gray']}).",
            "",
            *_table("source", dev["by_source"]),
            "",
            *_table("lang", dev["by_lang"]),
            "",
            "![precision-recall curve](pr_curve.png) ![confusion matrix](confusion.png)",
        ]
    leave = card.get("leave_one_family_out")
    if leave:
        lines += [
            "",
            "## Never-seen substances (leave one family out)",
            "",
            "Each row: a model trained without the family's listings *and* without the family's "
            "lexicon terms and patterns, threshold re-chosen on dev without the family. Recall "
            "is on the family's listings in dev and on those held back from training (authored "
            "text of the family is held back too, but never scored: it is training text only).",
            "",
            "| family | threshold | dev listings | dev recall | held-back train listings | "
            "held-back recall | all listings | recall | dev FPR |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for r in leave:
            lines.append(
                f"| {r['family']} | {r['threshold']:.3f} | {r['dev_listings']} | "
                f"{_pct(r['dev_recall'])} | {r['held_out_train_listings']} | "
                f"{_pct(r['held_out_train_recall'])} | {r['listings']} | {_pct(r['recall'])} | "
                f"{_pct(r['dev_false_positive_rate'])} |")
    sources = card.get("leave_one_source_out")
    if sources:
        lines += [
            "",
            "## Never-seen sources (leave one source out)",
            "",
            "Each row: a model trained without every training document of the source (or of "
            "the sources joined by \"+\"), scoring the source's documents in dev and those "
            "held back from training, flagged at 0.5 (the calibrated score says \"drugs\" is "
            "as likely as not; a threshold re-chosen on dev without the source would rest on "
            "the few positives left: without Agora, at 0.98, it flagged 1 % of its drug "
            "listings). The hold-out "
            "that judges trawler comes partly from sources it was never trained on; these rows "
            "show what to expect there, source by source. No target: a source whose pages "
            "carry no drug or selling word (bot menus that list only districts) is out of "
            "any text classifier's reach once its own pages are not learnt.",
            "",
            "| left out | documents | in dev | drug documents | recall | missed | "
            "false-positive rate | false positives |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for r in sources:
            lines.append(
                f"| {r['source']} | {r['documents']} | "
                f"{r['dev_documents']} | {r['drug_documents']} | {_pct(r['recall'])} | "
                f"{r['missed']} | {_pct(r['false_positive_rate'])} | {r['false_positives']} |")
    if card.get("speed"):
        lines += ["", "## Speed", "", card["speed"]]
    lines += ["", "## Targets (issue #3)", "", *_targets(card)]
    lines += ["", "## Method and limitations", "", *METHOD]
    return "\n".join(lines) + "\n"


def write_card(directory: Path, card: dict[str, Any]) -> None:
    (directory / "card.json").write_text(
        json.dumps(card, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    (directory / "card.md").write_text(render_card(card), encoding="utf-8")
