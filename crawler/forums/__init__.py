"""Forums: recognise the engine of a page, read its posts, and find board, thread and page links.

``read_forum_page(html, url)`` returns a ``ForumPage`` for forum pages (a thread with posts, a
board listing threads, or an index listing boards) and ``None`` for anything else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import lxml.html
from lxml.etree import ParserError

from crawler.extract.sites import site_of_url
from crawler.forums.engines import BY_NAME, ENGINES, EngineShape
from crawler.forums.threads import thread_url

__all__ = ["ForumPage", "ForumPost", "detect_engine", "read_forum_page", "thread_url"]

MAX_POST_CHARS = 20_000
_URL_HINT = re.compile(r"forum|thread|topic|board|форум|тема", re.IGNORECASE)
# What the generic shape selects: post-like classes or ids, thread and board links. Matched
# against the lower-cased page, one pattern per literal start (an alternation or a leading \b
# would make the regex engine try every position of the page).
_GENERIC_HINTS = tuple(re.compile(p) for p in (
    r"""class\s*=\s*["']?[^"'>]*\b(?:post|message|reply|forum|thread|topic|board)""",
    r"""id\s*=\s*["']?[^"'>]*\b(?:post|message|reply|forum|thread|topic|board)""",
    r"""href\s*=\s*["']?[^"'>]*(?:thread|topic|forum|board)"""))
_ENGINE_HEAD = 200_000  # characters of a page that engine markers are looked for in
_HINT_HEAD = 50_000
_SPACE = re.compile(r"\s+")
_REPLY_PREFIX = re.compile(r"^(?:ответ|reply)\s*#\s*\d+\s*(?:on)?\s*:?\s*", re.IGNORECASE)


@dataclass
class ForumPost:
    position: int
    text: str
    author: str | None = None
    posted_at: str | None = None
    key: str | None = None
    # Set by the post classification pipeline.
    label: str | None = None
    score: float | None = None
    reasons: list[dict[str, object]] = field(default_factory=list)
    flagged: bool = False


@dataclass
class ForumPage:
    engine: str
    kind: str  # thread / board / index
    url: str
    thread_url: str | None = None
    thread_title: str | None = None
    posts: list[ForumPost] = field(default_factory=list)
    board_links: list[str] = field(default_factory=list)
    thread_links: list[str] = field(default_factory=list)
    page_links: list[str] = field(default_factory=list)

    @property
    def links(self) -> list[str]:
        """Forum navigation: boards, threads and pages, each once."""
        return list(dict.fromkeys(self.board_links + self.thread_links + self.page_links))


def detect_engine(html: str) -> str | None:
    """The named engine whose markers the page shows most, or None."""
    return _engine_of(html[:_ENGINE_HEAD].lower())


def _engine_of(head: str) -> str | None:
    scores = {shape.name: sum(1 for m in shape.markers if m.search(head)) for shape in ENGINES}
    best = max(scores, key=lambda name: scores[name])
    return best if scores[best] else None


def _looks_generic(head: str, url: str) -> bool:
    """Whether a page with no engine's markers may still be a hand-made forum."""
    return bool(_URL_HINT.search(url)) or any(p.search(head, 0, _HINT_HEAD)
                                               for p in _GENERIC_HINTS)


def _clean(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def _first(element: lxml.html.HtmlElement, selector: str) -> lxml.html.HtmlElement | None:
    for part in selector.split(","):
        found = element.cssselect(part.strip())
        if found:
            return found[0]
    return None


def _attribute_or(element: lxml.html.HtmlElement, selector: str) -> str | None:
    """A value for a field: ``@attr`` parts read the post element, the rest are CSS."""
    for part in (p.strip() for p in selector.split(",")):
        if part.startswith("@"):
            value = element.get(part[1:])
            if value:
                return value.strip()
            continue
        found = element.cssselect(part)
        if found:
            return _clean(found[0].text_content()) or None
    return None


def _time_of(post: lxml.html.HtmlElement, selector: str) -> str | None:
    found = _first(post, selector)
    if found is None:
        return None
    value = found.get("datetime") or found.get("content") or found.get("title")
    if not value:
        value = _clean(found.text_content())
        if "»" in value.rstrip("» "):  # phpBB: "by NAME » DATE"
            value = value.rstrip("» ").rsplit("»", 1)[-1]
        value = _REPLY_PREFIX.sub("", value.strip("«» "))  # SMF: "« Reply #1 : DATE »"
    return value[:100] or None


def _outermost(elements: list[lxml.html.HtmlElement]) -> list[lxml.html.HtmlElement]:
    chosen = set(elements)
    return [e for e in elements if not any(a in chosen for a in e.iterancestors())]


def _posts(doc: lxml.html.HtmlElement, shape: EngineShape, require_author: bool) -> list[ForumPost]:
    posts: list[ForumPost] = []
    for element in _outermost(doc.cssselect(shape.post)):
        body = _first(element, shape.body)
        if body is None:
            continue
        author = _attribute_or(element, shape.author)
        if require_author and not author:
            continue
        posted_at = _time_of(element, shape.time)
        for skipped in body.cssselect(shape.skip):
            if skipped is not body:
                skipped.drop_tree()
        text = _clean(body.text_content())[:MAX_POST_CHARS]
        if not text:
            continue
        posts.append(ForumPost(position=len(posts), text=text, author=author,
                               posted_at=posted_at, key=_attribute_or(element, shape.post_key)))
    return posts


def _links(doc: lxml.html.HtmlElement, selector: str, base: str, site: str) -> list[str]:
    found: dict[str, None] = {}
    for anchor in doc.cssselect(selector):
        href = anchor.get("href")
        if not href or href.startswith(("#", "javascript:", "mailto:")):
            continue
        url = urljoin(base, href.strip()).split("#", 1)[0]
        if urlsplit(url).scheme in ("http", "https") and site_of_url(url) == site:
            found[url] = None
    return list(found)


def read_forum_page(html: str, url: str) -> ForumPage | None:
    """Read a page as a forum page; None when it is not one."""
    head = html[:_ENGINE_HEAD].lower()
    engine = _engine_of(head)
    if engine is None and not _looks_generic(head, url):
        return None
    try:
        doc = lxml.html.fromstring(html)
    except (ParserError, ValueError):
        return None
    shape = BY_NAME[engine or "generic"]
    base = urljoin(url, (doc.xpath("//base/@href") or [url])[0])
    site = site_of_url(url)
    thread_links = _links(doc, shape.thread_links, base, site)
    board_links = _links(doc, shape.board_links, base, site)
    page_links = _links(doc, shape.page_links, base, site)
    title_element = _first(doc, shape.thread_title)
    title = _clean(title_element.text_content()) if title_element is not None else None
    posts = _posts(doc, shape, require_author=engine is None)
    if posts:
        kind = "thread"
    elif thread_links and (engine is not None or len(thread_links) >= 3):
        kind = "board"
    elif board_links and engine is not None:
        kind = "index"
    else:
        return None
    return ForumPage(
        engine=engine or "generic", kind=kind, url=url,
        thread_url=thread_url(url) if kind == "thread" else None,
        thread_title=title if kind == "thread" else None, posts=posts,
        board_links=board_links, thread_links=thread_links, page_links=page_links)
