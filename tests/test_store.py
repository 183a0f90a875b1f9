"""Storage on real databases: SQLite file and a real PostgreSQL server, through the same code."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from classifiers import PageVerdict
from classifiers.site import aggregate_site
from crawler.config import ConfigError
from crawler.extract import Extracted
from crawler.items import PageItem
from crawler.store import open_database
from crawler.store.db import normalize_url
from crawler.store.models import Entity, Page, PageEntity, Site
from crawler.store.queries import list_sites, save_pages, site_summary
from tests.conftest import own_postgres_database


class _Entity:
    def __init__(self, kind: str, value: str, context: str = "") -> None:
        self.kind, self.value, self.context = kind, value, context
        self.valid, self.detail = True, {}


def _item(url: str, site: str, score: float | None, text: str = "текст",
          entities: list[_Entity] | None = None) -> PageItem:
    verdict = None
    if score is not None:
        verdict = PageVerdict(label="drugs" if score >= 0.5 else "benign", score=score,
                              threshold=0.5, model_version="test-1",
                              reasons=[{"feature": "lexicon", "term": "клад", "weight": score}])
    return PageItem(url=url, site=site, status=200, body=text.encode(),
                    content_type="text/html", extracted=Extracted(title="t", text=text, lang="ru"),
                    verdict=verdict, entities=entities or [])


async def _exercise(url: str) -> None:
    db = await open_database(url)
    try:
        async with db.session() as session, session.begin():
            items = [_item(f"http://news.example/a{i}", "news.example", 0.02) for i in range(30)]
            items.append(_item("http://news.example/arrest", "news.example", 0.55))
            items.append(_item("http://shop.example/", "shop.example", 0.99,
                               entities=[_Entity("btc", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa")]))
            items.append(_item("http://shop.example/cities", "shop.example", 0.97,
                               entities=[_Entity("btc", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa")]))
            items.append(_item("http://shop.example/x.pdf", "shop.example", None))
            ids = await save_pages(session, items, None)
        assert len(set(ids)) == len(items) and all(i.page_id for i in items)

        async with db.session() as session:
            rows = {s.name: site_summary(s) for s in await list_sites(session)}
            flagged = [s.name for s in await list_sites(session, flagged_only=True)]
            assert flagged == ["shop.example"]
            shop, news = rows["shop.example"], rows["news.example"]
            assert shop["pages"] == 3 and shop["flagged_pages"] == 2 and shop["flagged"]
            assert shop["status"] == "unreviewed" and shop["reasons"][0]["term"] == "клад"
            assert news["pages"] == 31 and news["flagged_pages"] == 1 and not news["flagged"]
            # One entity row, linked to both pages.
            assert await session.scalar(select(func.count()).select_from(Entity)) == 1
            assert await session.scalar(select(func.count()).select_from(PageEntity)) == 2

        # A re-crawl updates the page in place instead of adding a second row; its entity link
        # keeps one row, with the context of the first sighting on the new fetch.
        wallet = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"
        recrawl = _item("http://shop.example/", "shop.example", 0.10, entities=[
            _Entity("btc", wallet, "оплата на кошелёк"), _Entity("btc", wallet, "ещё раз"),
            _Entity("telegram", "@shop_bot", "пишите")])
        async with db.session() as session, session.begin():
            await save_pages(session, [recrawl], None)
        async with db.session() as session:
            assert await session.scalar(select(func.count()).select_from(Page)) == 34
            shop_site = await session.scalar(select(Site).where(Site.name == "shop.example"))
            assert shop_site.flagged_pages == 1
            assert await session.scalar(select(func.count()).select_from(Entity)) == 2
            links = (await session.execute(
                select(Entity.kind, PageEntity.context).join(Entity)
                .where(PageEntity.page_id == recrawl.page_id))).all()
            assert sorted(links) == [("btc", "оплата на кошелёк"), ("telegram", "пишите")]
            assert await session.scalar(select(func.count()).select_from(PageEntity)) == 3
    finally:
        await db.close()


async def _sites_follow_their_pages(url: str) -> None:
    """Site score, flag, counts and language after every stored batch are those that all the
    site's page verdicts give (read off their rows here), as batches of pages accumulate."""
    rng = random.Random(3)
    db = await open_database(url)
    pages: dict[str, dict[str, tuple[float | None, str | None]]] = {}
    try:
        for batch in range(12):
            items = []
            for _ in range(rng.randint(1, 40)):
                site = rng.choice(["news.example", "shop.example", "tiny.example", "mixed.example"])
                n = rng.randint(0, 60)  # some pages come back and are overwritten
                score = rng.choice([None, rng.random(), rng.random() ** 6, 0.5, 0.99])
                lang = rng.choice(["ru", "en", "be", None, ""])
                item = _item(f"http://{site}/{n}", site, score)
                assert item.extracted is not None
                item.extracted.lang = lang
                if item.verdict is None:  # a page without a verdict keeps its earlier one
                    score = pages.get(site, {}).get(item.url, (None, None))[0]
                pages.setdefault(site, {})[item.url] = (score, lang)
                items.append(item)
            items = list({item.url: item for item in items}.values())  # one fetch per batch
            async with db.session() as session, session.begin():
                await save_pages(session, items, None)
            async with db.session() as session:
                stored = {s.name: s for s in await list_sites(session)}
            for name, site_pages in pages.items():
                scored = [(score, lang) for score, lang in site_pages.values() if score is not None]
                site = stored[name]
                assert site.pages_count == len(site_pages), (batch, name)
                if not scored:
                    continue
                scores = [score for score, _ in scored]
                assert (site.score, site.flagged) == aggregate_site(scores, 0.5), (batch, name)
                assert site.flagged_pages == sum(score >= 0.5 for score in scores)
                langs = Counter(lang for _, lang in scored if lang)
                top = max(langs.values(), default=0)
                assert site.lang in ({lang for lang, n in langs.items() if n == top} or {None})
    finally:
        await db.close()


async def test_site_verdicts_follow_their_pages_sqlite(tmp_path: Path) -> None:
    await _sites_follow_their_pages(f"sqlite:///{tmp_path / 'trawler.db'}")


@pytest.mark.postgres
async def test_site_verdicts_follow_their_pages_postgresql(postgres_url: str) -> None:
    await _sites_follow_their_pages(await own_postgres_database(postgres_url, "sites"))


async def test_sqlite(tmp_path: Path) -> None:
    await _exercise(f"sqlite:///{tmp_path / 'trawler.db'}")


@pytest.mark.postgres
async def test_postgresql(postgres_url: str) -> None:
    await _exercise(postgres_url)


def test_unsupported_or_broken_database_urls_are_refused_clearly() -> None:
    with pytest.raises(ConfigError, match="only SQLite and PostgreSQL"):
        normalize_url("mysql://x@y/z")
    with pytest.raises(ConfigError, match="not a database URL"):
        normalize_url("::nonsense::")
