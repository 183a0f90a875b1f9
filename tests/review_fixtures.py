"""A small, real review database for the web app and review tests: users, a job, flagged and
benign sites with pages, verdicts, entities (one wallet shared by two shops) and a hostile page."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from crawler.evidence.custody import record_event
from crawler.review.accounts import add_user
from crawler.store import Database, open_database
from crawler.store.models import Entity, Job, Page, PageEntity, Site, Verdict
from crawler.store.queries import url_hash

PASSWORD = "correct horse battery"
USERS = {"alice": "reviewer", "bob": "reviewer", "olga": "operator", "root": "admin"}
SHARED_BTC = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"
HOSTILE_TITLE = 'Базар <script>alert("title")</script>'
HOSTILE_TEXT = ('Закладки мефедрон <script>alert(1)</script> <img src=x onerror=alert(2)> '
                '<a href="javascript:alert(3)">жми</a> <svg onload=alert(4)>')
HOSTILE_HTML = (b'<html><head><title>x</title><script>alert("archived")</script></head>'
                b'<body onload="alert(5)"><h1>Archived shop</h1><img src=x onerror=alert(6)>'
                b'<a href="javascript:alert(7)">link</a><iframe src="javascript:alert(8)">'
                b'</iframe><img src="http://198.51.100.7/track.png"></body></html>')

# name, score, flagged, lang, onion, pages: (path, title, text, label, score, terms)
SITES = [
    ("shop-minsk.example", 0.97, True, "ru", False, [
        ("/", "Магазин Минск", "Закладки в Минске: мефедрон, шишки. Оплата BTC.", "drugs",
         0.97, ["закладки", "мефедрон"]),
        ("/oplata", "Оплата", "Оплата на кошелёк, оператор в Telegram.", "drugs", 0.81,
         ["оплата"])]),
    ("3l7u3eurnas7m2yxjeegipwwehg35z46yxxxtxcqxu4b6f7qndewunid.onion", 0.95, True, "en", True, [
        ("/", "Dark Bazaar", "Buy MDMA and cocaine, stealth shipping, escrow.", "drugs", 0.95,
         ["mdma", "cocaine"])]),
    ("gomel-klad.example", 0.91, True, "ru", False, [
        ("/", "Гомель клад", "Клад в Гомеле, соль и меф, быстрые закладки.", "drugs", 0.91,
         ["закладки", "соль"])]),
    ("bazar-grodno.example", 0.88, True, "ru", False, [
        ("/", HOSTILE_TITLE, HOSTILE_TEXT, "drugs", 0.88, ["закладки", "мефедрон"])]),
    ("harm-help.example", 0.55, True, "ru", False, [
        ("/", "Снижение вреда", "Как снизить вред: тест-полоски, мефедрон и риски.", "drugs",
         0.55, ["мефедрон"])]),
    ("news-by.example", 0.08, False, "ru", False, [
        ("/", "Новости", "Милиция задержала курьера закладок.", "benign", 0.08, [])]),
]


@dataclass
class ReviewData:
    db_url: str
    sites: dict[str, int] = field(default_factory=dict)
    pages: dict[str, int] = field(default_factory=dict)  # url -> page id
    job: str = "demo-job"


async def build(db: Database, db_url: str) -> ReviewData:
    data = ReviewData(db_url)
    async with db.session() as session, session.begin():
        for name, role in USERS.items():
            await add_user(session, name, role, PASSWORD)
        job = Job(name=data.job, status="finished", seeds=[{"url": "http://hub.example/"}],
                  created_by="olga", stats={"pages": 7, "flagged_pages": 6})
        session.add(job)
        await session.flush()
        for name, score, flagged, lang, onion, pages in SITES:
            site = Site(name=name, score=score, flagged=flagged, lang=lang, is_onion=onion,
                        pages_count=len(pages),
                        flagged_pages=sum(1 for p in pages if p[3] == "drugs"),
                        reasons=[{"feature": "lexicon", "term": t, "weight": 1.0}
                                 for t in pages[0][5]])
            session.add(site)
            await session.flush()
            data.sites[name] = site.id
            for depth, (path, title, text, label, page_score, terms) in enumerate(pages):
                url = f"http://{name}{path}"
                page = Page(site_id=site.id, job_id=job.id, url=url, url_hash=url_hash(url),
                            status=200, content_type="text/html", title=title, text=text,
                            lang=lang, depth=depth, size=len(text.encode()),
                            content_sha256="0" * 64, fetched_at=datetime.now(UTC),
                            route="tor" if onion else "direct")
                session.add(page)
                await session.flush()
                data.pages[url] = page.id
                session.add(Verdict(page_id=page.id, label=label, score=page_score,
                                    threshold=0.5, model_version="test-1",
                                    reasons=[{"feature": "lexicon", "term": t, "weight": 1.0}
                                             for t in terms]))
                await record_event(session, "captured", "crawler", "page", page.id,
                                   {"url": url})
        wallet = Entity(kind="btc", value=SHARED_BTC, valid=True, detail={"network": "mainnet"})
        bot = Entity(kind="telegram", value="@minsk_shop_bot", valid=True)
        card = Entity(kind="card", value="4111111111111112", valid=False,
                      detail={"why": "Luhn checksum fails"})
        session.add_all([wallet, bot, card])
        await session.flush()
        for url, entity, context in [
            ("http://shop-minsk.example/oplata", wallet, "BTC: " + SHARED_BTC),
            ("http://shop-minsk.example/oplata", bot, "оператор @minsk_shop_bot"),
            ("http://shop-minsk.example/oplata", card, "карта 4111 1111 1111 1112"),
            ("http://gomel-klad.example/", wallet, "кошелёк " + SHARED_BTC),
        ]:
            session.add(PageEntity(page_id=data.pages[url], entity_id=entity.id,
                                   context=context))
    return data


_built: dict[str, tuple[Path, ReviewData]] = {}


async def make_review_db(directory: Path) -> ReviewData:
    """A fresh copy of the review database in ``directory`` (argon2 hashes are slow on
    purpose, so the database is built once per test run and copied)."""
    if "template" not in _built:
        template = Path(tempfile.mkdtemp(prefix="trawler-review-")) / "review.db"
        atexit.register(shutil.rmtree, template.parent, True)
        db = await open_database(f"sqlite:///{template}")
        try:
            _built["template"] = (template, await build(db, f"sqlite:///{template}"))
        finally:
            await db.close()
    template, data = _built["template"]
    target = directory / "review.db"
    shutil.copyfile(template, target)
    return replace(data, db_url=f"sqlite:///{target}")


class FakeEvidence:
    """Archived HTML and screenshots as the evidence module would return them."""

    def __init__(self, screenshots: dict[str, bytes] | None = None,
                 html: dict[str, bytes] | None = None) -> None:
        self.screenshots = screenshots or {}
        self.html = html or {}

    async def screenshot(self, url: str) -> bytes | None:
        return self.screenshots.get(url)

    async def archived_html(self, url: str) -> bytes | None:
        return self.html.get(url)


def png_image(width: int = 480, height: int = 300) -> bytes:
    """A real PNG (a grey gradient), standing in for a captured screenshot."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))

    row = b"\x00" + b"".join(bytes((x * 255 // width,)) * 3 for x in range(width))
    rows = row * height
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
