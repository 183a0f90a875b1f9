"""Visible text, title and outgoing links of an HTML page, with lxml.

Scripts, styles and navigation boilerplate are dropped; block elements become line breaks so
that words from neighbouring cells and list items never run together.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urldefrag, urljoin, urlsplit

import lxml.etree
import lxml.html

from crawler.extract.encoding import decode_body
from crawler.extract.lang import detect_language

_DROP = ("script", "style", "noscript", "template", "svg", "math", "nav", "head", "iframe",
         "object", "embed", "canvas", "select")
_BLOCK = ("p", "div", "br", "li", "tr", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6", "ul",
          "ol", "table", "section", "article", "header", "footer", "main", "form", "blockquote",
          "pre", "dt", "dd", "option", "label", "button", "hr", "address", "figure", "figcaption")
_LINK_ATTRS = (("a", "href"), ("area", "href"), ("frame", "src"), ("iframe", "src"))
HTML_TYPES = ("text/html", "application/xhtml+xml")


@dataclass
class Extracted:
    """What trawler reads from one page."""

    title: str = ""
    text: str = ""
    lang: str | None = None
    links: list[str] = field(default_factory=list)
    encoding: str | None = None


def is_html(content_type: str | None, body: bytes) -> bool:
    if content_type:
        return content_type.split(";")[0].strip().lower() in HTML_TYPES
    head = body[:1024].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html")) or b"<body" in head


def normalize_link(base: str, href: str) -> str | None:
    """Absolute http(s) URL without fragment, or None for mailto:, javascript: and the like."""
    href = href.strip()
    if not href or href.startswith("#"):
        return None
    try:
        url = urldefrag(urljoin(base, href)).url
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return url


# Root-relative links that urljoin answers with the base's origin followed by the link itself:
# no fragment, no empty query, no "//" or ";" (which it rewrites), no "." or ".." segment.
_PLAIN_ROOT_LINK = re.compile(r"/(?!/)(?:[A-Za-z0-9_.~%!$&'()*+,=:@-]|/(?!/))*"
                              r"(?:\?[A-Za-z0-9_.~%!$&'()*+,=:@/?-]+)?")


def link_resolver(base: str) -> Callable[[str], str | None]:
    """``normalize_link`` for the links of one page: plain root-relative links ("/p/12",
    "/shop?page=2"), most of a page's links, skip urljoin's parsing."""
    parts = urlsplit(base)
    origin = (f"{parts.scheme}://{parts.netloc}"
              if parts.scheme in ("http", "https") and parts.hostname else None)

    def resolve(href: str) -> str | None:
        href = href.strip()
        if origin and _PLAIN_ROOT_LINK.fullmatch(href) and "/." not in href:
            return origin + href
        return normalize_link(base, href)

    return resolve


def clean_text(raw: str) -> str:
    """Runs of white space made one space, lines stripped, blank lines dropped."""
    lines = (" ".join(line.split()) for line in raw.replace("\u200b", " ").split("\n"))
    return "\n".join(line for line in lines if line)


def extract_html(html: str, url: str) -> Extracted:
    """Extract title, visible text, language and links from decoded HTML."""
    try:
        doc = lxml.html.document_fromstring(html)
    except (lxml.etree.ParserError, ValueError):
        return Extracted(text=clean_text(html), lang=detect_language(html))

    title_el = doc.find(".//title")
    title = clean_text(title_el.text_content()) if title_el is not None else ""

    base = url
    base_el = doc.find(".//base[@href]")
    if base_el is not None:
        base = normalize_link(url, base_el.get("href", "")) or url

    links: list[str] = []
    seen: set[str] = set()
    resolve = link_resolver(base)
    for tag, attr in _LINK_ATTRS:
        for el in doc.iter(tag):
            link = resolve(el.get(attr) or "")
            if link and link not in seen:
                seen.add(link)
                links.append(link)

    for el in list(doc.iter(*_DROP)):
        el.drop_tree()
    for el in doc.xpath("//*[@role='navigation' or @hidden or @aria-hidden='true']"):
        el.drop_tree()
    for el in doc.iter(*_BLOCK):
        el.tail = "\n" + el.tail if el.tail else "\n"
    text = clean_text(doc.text_content())
    return Extracted(title=title, text=text, lang=detect_language(f"{title}\n{text}"),
                     links=links)


def extract_page(body: bytes, url: str, content_type: str | None = None,
                 decoded: tuple[str, str] | None = None) -> Extracted:
    """Decode and extract one fetched body; plain text passes through as text.

    ``decoded`` is ``decode_body``'s answer when the caller already has it.
    """
    decoded, encoding = decoded or decode_body(body, content_type)
    if is_html(content_type, body):
        result = extract_html(decoded, url)
    else:
        text = clean_text(decoded)
        result = Extracted(text=text, lang=detect_language(text))
    result.encoding = encoding
    return result
