"""Extraction: decoding (utf-8, cp1251, koi8-r, lying headers), text, title, links, language."""

from __future__ import annotations

import random
import time
from collections import Counter

import pytest

from crawler.extract import extract_page, site_of_url
from crawler.extract.encoding import decode_body
from crawler.extract.html import link_resolver, normalize_link
from crawler.extract.lang import _WORD, _words, detect_language

RU = "Купить закладку в Минске: мефедрон 1г - 45$, оплата биткоином, оператор в телеграме."
PAGE = f"""<!doctype html><html><head><title>Клад-шоп</title>
<style>.x {{ color: red }}</style><script>var tracking = "не текст";</script></head>
<body><nav><a href="/menu">Главное меню навигации</a></nav>
<div><p>{RU}</p><ul><li>Центральный</li><li>Фрунзенский</li></ul></div>
<a href="/catalog?city=minsk#top">Каталог</a> <a href="javascript:alert(1)">x</a>
<a href="mailto:a@b.c">почта</a> <a href="http://other.example/x">другой</a>
<!-- комментарий --></body></html>"""


@pytest.mark.parametrize("encoding", ["utf-8", "cp1251", "koi8-r"])
def test_decodes_each_cyrillic_encoding_with_honest_header(encoding: str) -> None:
    body = PAGE.encode(encoding)
    page = extract_page(body, "http://shop.example/", f"text/html; charset={encoding}")
    assert RU in page.text
    assert page.encoding == encoding.replace("utf-8", "utf-8")


@pytest.mark.parametrize(("actual", "claimed"), [
    ("cp1251", "utf-8"), ("koi8-r", "windows-1251"), ("cp1251", "koi8-r"), ("utf-8", "cp1251"),
    ("koi8-r", None), ("cp1251", None),
])
def test_header_that_lies_about_the_charset_is_not_believed(
    actual: str, claimed: str | None
) -> None:
    body = PAGE.encode(actual)
    content_type = f"text/html; charset={claimed}" if claimed else "text/html"
    page = extract_page(body, "http://shop.example/", content_type)
    assert RU in page.text, page.text[:200]


def test_meta_charset_is_used_when_header_is_silent() -> None:
    html = PAGE.replace("<head>", '<head><meta charset="koi8-r">')
    text, encoding = decode_body(html.encode("koi8-r"), "text/html")
    assert encoding == "koi8-r"
    assert RU in text


def test_cyrillic_text_after_a_long_ascii_head_is_still_sniffed() -> None:
    """A big inline script before the text: the bytes judged must reach the Cyrillic."""
    html = PAGE.replace("<head>", '<head><meta charset="windows-1251"><script>'
                        + "var x = 1;\n" * 2000 + "</script>")
    text, encoding = decode_body(html.encode("cp1251"), "text/html")
    assert encoding == "cp1251"
    assert RU in text


def test_broken_bytes_do_not_raise_and_keep_the_readable_text() -> None:
    body = PAGE.encode("utf-8")
    broken = body[:200] + b"\xff\xfe\xc3" + body[200:]
    page = extract_page(broken, "http://shop.example/", "text/html; charset=utf-8")
    assert "оплата биткоином" in page.text


def test_text_drops_scripts_styles_navigation_and_comments() -> None:
    page = extract_page(PAGE.encode(), "http://shop.example/", "text/html")
    assert page.title == "Клад-шоп"
    for hidden in ("tracking", "color: red", "Главное меню", "комментарий"):
        assert hidden not in page.text
    assert "Центральный\nФрунзенский" in page.text  # list items do not run together


def test_links_are_absolute_http_without_fragments_or_scripts() -> None:
    page = extract_page(PAGE.encode(), "http://shop.example/a/b", "text/html")
    assert page.links == ["http://shop.example/menu", "http://shop.example/catalog?city=minsk",
                          "http://other.example/x"]


def test_base_href_is_honoured() -> None:
    html = '<html><head><base href="http://mirror.example/root/"></head><body><a href="p">p</a>'
    assert extract_page(html.encode(), "http://shop.example/", "text/html").links == [
        "http://mirror.example/root/p"]


def test_plain_text_passes_through_and_binary_has_no_links() -> None:
    page = extract_page("Просто текст про клад".encode(), "http://x.example/a.txt", "text/plain")
    assert page.text == "Просто текст про клад" and page.links == []


@pytest.mark.parametrize(("text", "lang"), [
    ("Мы продаём лучшие товары в городе, и это не шутка. Все заказы только через оператора.", "ru"),
    ("Мы прадаём лепшыя тавары ў горадзе, і гэта не жарт. Усе заказы толькі праз аператара.", "be"),
    ("Ми продаємо найкращі товари в місті, і це не жарт. Всі замовлення тільки через оператора.",
     "uk"),
    ("We sell the best products in the city and this is not a joke. All orders go through us.",
     "en"),
    ("", None),
])
def test_language(text: str, lang: str | None) -> None:
    assert detect_language(text) == lang


@pytest.mark.parametrize(("url", "site"), [
    ("http://a.b.shop-minsk.example/x", "shop-minsk.example"),
    ("https://news.bbc.co.uk/x", "bbc.co.uk"),
    ("http://forum.abcdefghijklmnop.onion/t/1", "abcdefghijklmnop.onion"),
    ("http://127.0.0.1:8080/", "127.0.0.1"),
    ("http://магазин.рф/", "xn--80aairftm.xn--p1ai"),
    ("http://shop.com.by/", "shop.com.by"),
])
def test_site_of_url(url: str, site: str) -> None:
    assert site_of_url(url) == site


_BASES = ["http://h.example/a/b?q=1", "https://u:p@h.example:8080/x/", "http://h.example",
          "ftp://files.example/y", "http://[::1]:80/a"]
_HREFS = ["/p/1", "/", "/a/b/", "/a//b", "/a/./b", "/a/../b", "/a/.", "/.well-known/x", "/a;b",
          "/a;", "/a?", "/a?b=1&c=2", "/a#f", "/a?b#f", " /a/b ", "//other.example/x", "/п/1",
          "/a%20b", "/index.html", "/a/b.c/d", "/..", "/?x", "/a/?", "/a'b(c)", "/a b", "/a..b/",
          "/a/..b", "/a:b@c", "/~u/", "/a?b?c", "/a?/..", "//", "///a", "/a///", "rel/x",
          "../up", "?only=query", "#top", "mailto:x@y.example", "javascript:void(0)",
          "HTTP://Upper.example/Path", ""]


@pytest.mark.parametrize("base", _BASES)
def test_link_resolver_agrees_with_normalize_link(base: str) -> None:
    resolve = link_resolver(base)
    assert [resolve(href) for href in _HREFS] == [normalize_link(base, href) for href in _HREFS]


def test_plain_link_check_is_linear_on_hostile_hrefs() -> None:
    started = time.perf_counter()
    link_resolver("http://h.example/")("/" + "a/" * 20_000 + "#")
    assert time.perf_counter() - started < 0.5


def test_language_words_are_the_letter_runs_of_the_text() -> None:
    """``detect_language`` takes whole chunks of letters as they are and reads only the rest
    with the regex: the same words, counted alike, as the regex over the whole text."""
    rng = random.Random(7)
    alphabet = "абвгдеёжзиіўїєґ abcxyz 0123 ² ½ _ -.,;:!?«»()\n\t\u0301\u00a0ﬁ"
    for _ in range(2000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60))).lower()
        assert Counter(_words(text)) == Counter(_WORD.findall(text)), text
