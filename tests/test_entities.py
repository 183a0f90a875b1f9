"""Entity extraction: every identifier kind with valid and invalid cases, published test vectors
(BIP-173, BIP-350, EIP-55), and the shop pages of the fictional web."""

from __future__ import annotations

import hashlib
import random
import re
from pathlib import Path

import base58
import bech32m
import pytest

import tests.web as fictional
from crawler.extract import entities, extract_page
from crawler.extract.entities import (
    KINDS,
    check,
    eip55,
    extract_entities,
    non_web_links,
)
from crawler.items import PageItem
from crawler.pipelines.entities import EntitiesPipeline

SITES = Path(__file__).parent / "web" / "sites"


def _base58check(version: int, payload: bytes = bytes(range(20))) -> str:
    return base58.b58encode_check(bytes([version]) + payload).decode()


def _onion(version: int = 3, good_checksum: bool = True) -> str:
    import base64

    pubkey = hashlib.sha256(b"trawler test key").digest()
    v = bytes([version])
    checksum = hashlib.sha3_256(b".onion checksum" + pubkey + v).digest()[:2]
    if not good_checksum:
        checksum = bytes([checksum[0] ^ 1, checksum[1]])
    return base64.b32encode(pubkey + checksum + v).decode().lower() + ".onion"


# BIP-173 (bech32, witness v0) and BIP-350 (bech32m, v1+) valid mainnet addresses.
BIP_VALID = [
    "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4",
    "bc1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qccfmv3",
    "bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kt5nd6y",
    "BC1SW50QGDZ25J",
    "bc1zw508d6qejxtdg4y5r3zarvaryvaxxpcs",
    "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0",
]
# BIP-350 invalid addresses (wrong checksum variant, bad version, bad lengths, padding) and
# BIP-173 ones (bad checksum, mixed case, bad v0 program length).
BIP_INVALID = [
    "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd",
    "BC1S0XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ54WELL",
    "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh",
    "BC130XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ7ZWS8R",
    "bc1pw5dgrnzv",
    "bc1zw508d6qejxtdg4y5r3zarvaryvqyzf3du",
    "bc1gmk9yu",
    "bc1rw5uspcuh",
    "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5",
    "BC1QR508D6QEJXTDG4Y5R3ZARVARYV98GJ9P",
    "bc1qW508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
]
# EIP-55's own examples: all caps, all lower, and checksummed mixed case.
EIP55_EXAMPLES = [
    "0x52908400098527886E0F7030069857D2E4169EE7",
    "0x8617E340B3D01FA5F11F306F4090FD50E238070D",
    "0xde709f2102306220921060314715629080e2fb77",
    "0x27b1fdb04752bbc536007a920d24acb045561c26",
    "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
    "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
    "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
    "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
]

VALID = {
    "btc": ["1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy",
            *BIP_VALID],
    "eth": EIP55_EXAMPLES,
    "trc20": ["TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", _base58check(0x41)],
    "ltc": [_base58check(0x30), _base58check(0x32), bech32m.encode("ltc", 0, bytes(range(20)))],
    "xmr": ["44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2"
            "wfn3RVGQBEP3A"],
    "card": ["4111 1111 1111 1111", "5500-0000-0000-0004", "2200000000000053", "378282246310005"],
    "qiwi": ["+375 29 614-27-83", "+7 926 117-40-58"],
    "phone": ["+7 915 482-33-19", "+375 17 222-33-44"],
    "webmoney": ["Z123456789012", "E904417265530"],
    "yoomoney": ["410017384652913", "4100118273645091"],
    "telegram": ["@minsk247_bot", "https://t.me/kladmen_news", "t.me/+AbCdEfGhIjKlMn"],
    "jabber": ["gomel_klad@xmpp.jp"],
    "email": ["brestmagnit@protonmail.com"],
    "onion": ["duckduckgogg42xjoc72x3sjasowoarfbgcmvfimaftt6twagswzczad.onion", _onion()],
}
INVALID = {
    "btc": ["1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3", _base58check(0x30), *BIP_INVALID],
    "eth": ["0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD",
            "0xfb6916095ca1df60bB79Ce92cE3Ea74c37c5d35",
            "0xZZ6916095ca1df60bB79Ce92cE3Ea74c37c5d359"],
    "trc20": ["TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6u", _base58check(0x00)],
    "ltc": [_base58check(0x31), bech32m.encode("ltc", 0, bytes(range(20)))[:-1] + "q"],
    "xmr": ["44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2"
            "wfn3RVGQBEP3B", "4" * 95],
    "card": ["4111 1111 1111 1112", "1234567812345670", "0000000000000000"],
    "qiwi": ["+7 926 117", "+999 1234567890"],
    "phone": ["+375 29 61", "12345"],
    "webmoney": ["Z12345678901", "Q123456789012"],
    "yoomoney": ["41001", "4100212345678901"],
    "telegram": ["@abc", "@1startsdigit", "@bad__double"],
    "jabber": ["no-at-sign.example", "a..b@jabber.ru"],
    "email": ["a..b@mail.example", "@mail.example"],
    "onion": [_onion(good_checksum=False), _onion(version=2),
              "duckduckgogg42xjoc72x3sjasowoarfbgcmvfimaftt6twagswzczae.onion",
              "expyuzz4wqqyqhjn.onion"],
}


def test_every_kind_has_cases() -> None:
    assert set(VALID) == set(KINDS) == set(INVALID)


@pytest.mark.parametrize(("kind", "raw"), [(k, v) for k, vs in VALID.items() for v in vs])
def test_valid_identifiers(kind: str, raw: str) -> None:
    found = check(kind, raw)
    assert found is not None, f"{kind} {raw} should be valid"
    assert found.kind == kind and found.valid


@pytest.mark.parametrize(("kind", "raw"), [(k, v) for k, vs in INVALID.items() for v in vs])
def test_invalid_identifiers(kind: str, raw: str) -> None:
    assert check(kind, raw) is None


def test_canonical_values() -> None:
    assert check("btc", BIP_VALID[0]).value == BIP_VALID[0].lower()  # type: ignore[union-attr]
    assert check("eth", "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed").value == \
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"  # type: ignore[union-attr]
    assert eip55("0xFB6916095CA1DF60BB79CE92CE3EA74C37C5D359") == EIP55_EXAMPLES[5]
    assert check("card", "4111 1111 1111 1111").value == "4111111111111111"  # type: ignore[union-attr]
    assert check("qiwi", "+375 29 614-27-83").value == "+375296142783"  # type: ignore[union-attr]
    tg = check("telegram", "https://t.me/Kladmen_By_Bot")
    assert tg is not None and tg.value == "@kladmen_by_bot" and tg.detail["bot"] is True
    assert check("telegram", "@kladmen_news").detail["bot"] is False  # type: ignore[union-attr]


def test_extract_from_text_and_links() -> None:
    text = ("Оплата: BTC 1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2 или "
            "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3.\n"
            "QIWI\nКошелёк: +375 29 614-27-83\nгорячая линия +7 915 482-33-19\n"
            "Карта 4111 1111 1111 1112 не работает, пишите на 4111 1111 1111 1111.\n"
            "ЮMoney 410017384652913, WMZ Z123456789012\n"
            "Жаба: mogilev420@jabber.ru, почта shop@mail.example, бот @minsk247_bot")
    links = ["https://t.me/minsk247_operator", "http://" + VALID["onion"][0] + "/market",
             "mailto:support@mail.example", "xmpp:ops@chat.example"]
    found = {(e.kind, e.value): e for e in extract_entities(text, links)}
    assert set(found) == {
        ("btc", "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"), ("qiwi", "+375296142783"),
        ("phone", "+79154823319"), ("card", "4111111111111111"),
        ("yoomoney", "410017384652913"), ("webmoney", "Z123456789012"),
        ("jabber", "mogilev420@jabber.ru"), ("email", "shop@mail.example"),
        ("telegram", "@minsk247_bot"), ("telegram", "@minsk247_operator"),
        ("onion", VALID["onion"][0]), ("email", "support@mail.example"),
        ("jabber", "ops@chat.example"),
    }
    assert "BTC 1BvBMSEY" in found[("btc", "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2")].context
    assert found[("telegram", "@minsk247_operator")].context.startswith("link: https://t.me/")


def test_non_web_links_from_raw_html() -> None:
    body = b'<a href="mailto:a@b.example">m</a> <a href=\'xmpp:x@jabber.ru\'>j</a> <a href="/x">'
    assert non_web_links(body) == ["mailto:a@b.example", "xmpp:x@jabber.ru"]
    # Attribute and scheme in any case; the identifier comes back as the page wrote it.
    body = b'<A HREF = "MailTo:Shop.Owner@B.example">m</A><a Href=TG:resolve?domain=Shop_Bot>t'
    assert non_web_links(body) == ["MailTo:Shop.Owner@B.example", "TG:resolve?domain=Shop_Bot"]


def _site_entities(name: str) -> set[tuple[str, str]]:
    root = SITES / name
    found: set[tuple[str, str]] = set()
    for file in root.rglob("*.html"):
        body = file.read_bytes()
        url = f"http://{name}/{file.relative_to(root).as_posix()}"
        extracted = extract_page(body, url, "text/html; charset=utf-8")
        found |= {(e.kind, e.value) for e in extract_entities(
            f"{extracted.title}\n{extracted.text}", extracted.links + non_web_links(body))}
    return found


SHOPS = sorted(name for name in fictional.sites() if fictional.entities(name))


@pytest.mark.parametrize("name", SHOPS)
def test_fictional_shop_entities(name: str) -> None:
    """Every identifier a shop of the fictional web shows is found; the look-alikes are not."""
    found = _site_entities(name)
    for kind, values in fictional.entities(name).items():
        for value in values:
            expected = check(kind, value)
            assert expected is not None, f"{name}: {kind} {value} listed as valid but is not"
            assert (kind, expected.value) in found, f"{name}: {kind} {value} not extracted"
    for kind, values in fictional.invalid_entities(name).items():
        for value in values:
            assert all(v != value and v != value.replace(" ", "") for _, v in found), \
                f"{name}: invalid {kind} {value} was extracted"


async def test_entities_pipeline_sets_item_entities() -> None:
    body = (SITES / "shop-minsk.example" / "oplata.html").read_bytes()
    url = "http://shop-minsk.example/oplata.html"
    item = PageItem(url=url, site="shop-minsk.example", status=200, body=body,
                    extracted=extract_page(body, url, "text/html; charset=utf-8"))
    item = await EntitiesPipeline().process_item(item)
    kinds = {e.kind for e in item.entities}
    assert {"btc", "card", "qiwi", "telegram", "onion"} <= kinds
    assert all(e.valid and e.context for e in item.entities)


def test_telegram_handles_are_found_as_a_look_back_first_pattern_finds_them() -> None:
    """The handle pattern starts with "@" and looks back after it (the regex engine jumps to each
    "@"): it finds what the same pattern with its look back first finds."""
    written = re.compile(entities._TG_HANDLE.pattern.replace(
        r"@(?<![\w@.\-/]@)", r"(?<![\w@.\-/])@", 1))
    assert written.pattern != entities._TG_HANDLE.pattern
    rng = random.Random(5)
    pieces = ["@", "@", "kladmen", "Bot_7", "_", "9", ".", ".ru", "-", "/", " ", "\n", "я"]
    for _ in range(3000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        assert ([m.span() for m in entities._TG_HANDLE.finditer(text)]
                == [m.span() for m in written.finditer(text)]), text
