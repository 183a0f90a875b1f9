"""Forums: engine detection, posts (author, time, text), navigation, per-post verdicts, threads."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

import pytest

from classifiers import PageVerdict
from crawler.config import load_config
from crawler.extract import extract_page
from crawler.forums import read_forum_page, thread_url
from crawler.forums.pipeline import PostClassifyPipeline
from crawler.forums.store import flagged_threads, save_posts
from crawler.items import PageItem
from crawler.spiders.forum import ForumSpider
from crawler.store import open_database
from crawler.store.queries import save_pages
from tests import web as fictional
from tests.conftest import trawler
from tests.web.catalog import site_dir

needs_model = pytest.mark.skipif(not load_config().model_path.exists(),
                                 reason="no trained model in models/trawler")


def fictional_page(site: str, url_path: str) -> tuple[str, str]:
    """(html, url) of a page of a fictional forum, read from its files through its routes."""
    meta = fictional.sites()[site]
    file = (meta.get("routes") or {}).get(url_path)
    if file is None:
        relative = url_path.lstrip("/")
        file = relative + "index.html" if url_path.endswith("/") else relative + ".html"
    return (site_dir(site) / file).read_text(encoding="utf-8"), f"http://{site}{url_path}"


@pytest.mark.parametrize(("site", "path", "engine", "kind"), [
    ("rybak-gomel.example", "/index.php", "phpbb", "index"),
    ("rybak-gomel.example", "/viewforum.php?f=3", "phpbb", "board"),
    ("rybak-gomel.example", "/viewtopic.php?f=3&t=22&start=10", "phpbb", "thread"),
    ("garazh-club.example", "/index.php", "smf", "index"),
    ("garazh-club.example", "/index.php?board=2.0", "smf", "board"),
    ("garazh-club.example", "/index.php?topic=5.15", "smf", "thread"),
    ("mobila-talk.example", "/", "xenforo", "index"),
    ("mobila-talk.example", "/forums/kuplya-prodazha.4/", "xenforo", "board"),
    ("mobila-talk.example", "/threads/prodam-vsyakoe-minsk-srochno.130/page-2", "xenforo",
     "thread"),
])
def test_fictional_forum_engines_and_page_kinds(site: str, path: str, engine: str,
                                                 kind: str) -> None:
    page = read_forum_page(*fictional_page(site, path))
    assert page is not None and (page.engine, page.kind) == (engine, kind)
    if kind != "thread":
        assert page.links and not page.posts


def test_phpbb_posts_have_author_time_and_text() -> None:
    page = read_forum_page(*fictional_page("rybak-gomel.example", "/viewtopic.php?f=2&t=11"))
    assert page is not None and len(page.posts) == 3
    first = page.posts[0]
    assert (first.author, first.key, first.position) == ("Щукарь", "p101", 0)
    assert first.posted_at == "Сб май 11, 2024 9:14 pm"
    assert first.text.startswith("Съездили с сыном на Сож") and "Сообщения" not in first.text
    assert page.thread_title == "Отчёты: Сож, май 2024"
    assert "http://rybak-gomel.example/viewtopic.php?f=2&t=11&start=10" in page.page_links


def test_xenforo_and_smf_posts() -> None:
    xf = read_forum_page(*fictional_page("mobila-talk.example",
                                         "/threads/vybor-smartfona-do-700-rublej.101/"))
    assert xf is not None
    assert [p.author for p in xf.posts] == ["Alex_BY", "dron", "Марина К."]
    assert xf.posts[0].posted_at.startswith("2024-03-04T18:20")
    smf = read_forum_page(*fictional_page("garazh-club.example", "/index.php?topic=5.0"))
    assert smf is not None and smf.posts[1].author == "Механик_Петрович"
    assert smf.posts[1].posted_at == "14 Марта 2024, 19:40:53"


def _pages_of(name: str) -> list[tuple[str, str]]:
    """(html, url) of every page of a static fictional site."""
    meta = fictional.sites()[name]
    by_file = {file: url for url, file in (meta.get("routes") or {}).items() if "*" not in url}
    pages = []
    for file in sorted(site_dir(name).rglob("*.html")):
        relative = str(file.relative_to(site_dir(name)))
        path = by_file.get(relative) or "/" + relative.removesuffix("index.html")
        pages.append((file.read_text(encoding="utf-8"), f"http://{name}{path}"))
    return pages


def test_every_fictional_forum_is_read_with_its_engine() -> None:
    forums = {n: m["engine"] for n, m in fictional.sites().items() if m.get("engine")}
    assert len(set(forums.values())) >= 3
    for name, engine in forums.items():
        threads = 0
        for html, url in _pages_of(name):
            page = read_forum_page(html, url)
            if page is None:
                continue
            assert page.engine == engine, url
            threads += page.kind == "thread"
            assert all(p.author and p.text for p in page.posts), url
        assert threads >= 3, name


def test_shops_and_news_sites_are_not_forums() -> None:
    for name, meta in fictional.sites().items():
        if meta.get("engine") or meta.get("dynamic"):
            continue
        for html, url in _pages_of(name):
            page = read_forum_page(html, url)
            assert page is None or not page.posts, f"{url} read as a forum thread"


VBULLETIN = """<html><head><meta name="generator" content="vBulletin 4.2.5"></head><body>
<h1>Selling stuff</h1><ol id="posts">
<li class="postbitlegacy postcontainer" id="post_9001"><div class="username_container">
<a class="username" href="member.php?u=7">seller</a></div>
<span class="date">04-01-2024, 10:00</span>
<div id="post_message_9001"><blockquote class="postcontent restore">Hello there</blockquote>
</div></li>
<li class="postbitlegacy postcontainer" id="post_9002"><a class="username">reader</a>
<span class="date">04-01-2024, 11:00</span><div id="post_message_9002">
<div class="bbcode_container"><blockquote>quoted words</blockquote></div>my own reply</div></li>
</ol><div class="pagination"><a href="showthread.php?t=55&page=2">2</a></div></body></html>"""

IPB = """<html><body class="ipsApp"><h1 class="ipsType_pageTitle">Topic</h1>
<article id="elComment_1" class="ipsComment"><div class="cAuthorPane_author"><a>ivan</a></div>
<time datetime="2024-05-01T10:00:00Z">May 1</time>
<div data-role="commentContent"><p>first post text</p></div></article>
<article id="elComment_2" class="ipsComment"><div class="cAuthorPane_author"><a>olga</a></div>
<div data-role="commentContent"><div class="ipsQuote">ivan said</div><p>reply text</p></div>
</article><ul class="ipsPagination"><li><a href="/topic/12-topic/page/2/">2</a></li></ul>
</body></html>"""

DISCOURSE = """<html><head><meta name="generator" content="Discourse 3.2"></head><body>
<div id="topic-title"><h1><a href="/t/some-topic/42">Some topic</a></h1></div>
<div class="topic-body crawler-post" id="post_1"><div class="crawler-post-meta">
<span class="creator" itemprop="author"><a href="/u/anna"><span itemprop="name">anna</span></a>
</span><time class="post-time" datetime="2024-02-02T08:00:00Z">Feb 2</time></div>
<div class="post" itemprop="text"><p>discourse post body</p></div></div>
<a rel="next" href="/t/some-topic/42?page=2">next page</a></body></html>"""

GENERIC = """<html><body><h1>Thread: bikes</h1>
<div class="post" id="post-1"><span class="author">pedro</span><span class="date">today</span>
<div class="content">my bike is great</div></div>
<div class="post" id="post-2"><span class="author">lena</span>
<div class="content">mine too</div></div></body></html>"""


@pytest.mark.parametrize(("html", "url", "engine", "authors", "texts"), [
    (VBULLETIN, "http://vb.example/showthread.php?t=55", "vbulletin", ["seller", "reader"],
     ["Hello there", "my own reply"]),
    (IPB, "http://ipb.example/topic/12-topic/", "ipb", ["ivan", "olga"],
     ["first post text", "reply text"]),
    (DISCOURSE, "http://dc.example/t/some-topic/42", "discourse", ["anna"],
     ["discourse post body"]),
    (GENERIC, "http://g.example/forum/thread-7", "generic", ["pedro", "lena"],
     ["my bike is great", "mine too"]),
])
def test_other_engines(html: str, url: str, engine: str, authors: list[str],
                       texts: list[str]) -> None:
    page = read_forum_page(html, url)
    assert page is not None and page.engine == engine and page.kind == "thread"
    assert [p.author for p in page.posts] == authors
    assert [p.text for p in page.posts] == texts  # quotes are someone else's words


def test_discourse_and_ipb_times() -> None:
    assert read_forum_page(DISCOURSE, "http://dc.example/t/x/42").posts[0].posted_at \
        == "2024-02-02T08:00:00Z"
    assert read_forum_page(IPB, "http://ipb.example/topic/12-x/").posts[0].posted_at \
        == "2024-05-01T10:00:00Z"


@pytest.mark.parametrize(("url", "thread"), [
    ("http://f.example/viewtopic.php?t=7&f=2&start=20", "http://f.example/viewtopic.php?f=2&t=7"),
    ("http://f.example/index.php?topic=7.20", "http://f.example/index.php?topic=7.0"),
    ("http://f.example/threads/buy.12/page-3", "http://f.example/threads/buy.12"),
    ("http://f.example/threads/buy.12/", "http://f.example/threads/buy.12"),
    ("http://f.example/topic/5-x/page/2/", "http://f.example/topic/5-x"),
    ("http://f.example/t/slug/7/15", "http://f.example/t/slug/7"),
    ("http://f.example/showthread.php?t=4&page=2", "http://f.example/showthread.php?t=4"),
])
def test_every_page_of_a_thread_maps_to_its_first(url: str, thread: str) -> None:
    assert thread_url(url) == thread


def _item(site: str, path: str) -> PageItem:
    html, url = fictional_page(site, path)
    item = PageItem(url=url, site=site, status=200, body=html.encode(),
                    content_type="text/html; charset=utf-8", frontier_url=url)
    item.extracted = extract_page(item.body, url, item.content_type)
    item.forum = read_forum_page(html, url)
    return item


def test_forum_spider_walks_boards_threads_and_pages_without_using_depth() -> None:
    spider = ForumSpider(seeds=[{"url": "http://rybak-gomel.example/index.php"}], depth=0)
    board = _item("rybak-gomel.example", "/viewforum.php?f=3")
    urls = [r.url for r in spider._children(board, board.forum, 0, 0)]
    assert "http://rybak-gomel.example/viewtopic.php?f=3&t=22" in urls
    assert "http://rybak-gomel.example/viewtopic.php?f=3&t=22&start=10" in urls
    assert not any("memberlist" in u for u in urls)


@dataclass
class KeywordModel:
    """Stands in for the classifier: a post that mentions a price in dollars sells."""

    def classify(self, docs):  # type: ignore[no-untyped-def]
        return [PageVerdict(label="drugs" if "$" in d.text else "benign",
                            score=0.9 if "$" in d.text else 0.1, threshold=0.5,
                            model_version="keyword", reasons=[]) for d in docs]


async def test_posts_get_verdicts_and_the_page_is_judged_by_its_posts(tmp_path: Path) -> None:
    pytest.importorskip("classifiers.site", reason="site aggregation not written yet")
    pipeline = PostClassifyPipeline(None, "unused", threshold=0.8)  # type: ignore[arg-type]
    pipeline.model = KeywordModel()  # type: ignore[assignment]
    sale = await pipeline.process_item(_item("rybak-gomel.example", "/viewtopic.php?f=3&t=22"))
    plain = await pipeline.process_item(_item("rybak-gomel.example", "/viewtopic.php?f=2&t=12"))
    pipeline.close_spider()
    assert sale.verdict.label == "drugs"
    assert sale.verdict.reasons[0]["term"].startswith("post ")
    assert [p.flagged for p in sale.forum.posts] == ["$" in p.text for p in sale.forum.posts]
    assert plain.verdict is None and not any(p.flagged for p in plain.forum.posts)

    db = await open_database(f"sqlite:///{tmp_path / 'forum.db'}")
    try:
        async with db.session() as session, session.begin():
            await save_pages(session, [sale, plain], None)
            await save_posts(session, [sale, plain])
        async with db.session() as session:
            threads = await flagged_threads(session)
    finally:
        await db.close()
    assert [t["thread"] for t in threads] == ["http://rybak-gomel.example/viewtopic.php?f=3&t=22"]
    evidence = threads[0]["posts"]
    assert evidence and all(p["author"] and p["text"] and p["flagged"] for p in evidence)


@needs_model
def test_forum_spider_flags_the_sale_threads_and_none_of_the_ordinary(web,
                                                                    tmp_path: Path) -> None:
    forums = sorted(fictional.sale_threads())
    seeds = [f"http://{name}{fictional.sites()[name]['entry']}" for name in forums]
    result = trawler("crawl", *seeds, "--forum", "--job", "forums", "--proxy", web.proxy_url,
                     "--depth", "1", "-q", data=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    db = sqlite3.connect(tmp_path / "trawler.db")
    flagged = {thread_url(url) for (url,) in db.execute(
        "select distinct p.url from posts join pages p on p.id = posts.page_id "
        "where posts.flagged")}
    expected = {thread_url(url) for urls in fictional.sale_threads().values() for url in urls}
    assert flagged == expected
    stored = {url for (url,) in db.execute("select url from pages")}
    every_page = {url for urls in fictional.sale_threads().values() for url in urls}
    assert every_page <= stored  # every page of each sale thread was walked
    authors = db.execute("select count(*) from posts where flagged and author is null")
    assert authors.fetchone()[0] == 0
