"""Export batches: every format parsed by its own reader, incremental / --all / --since, records."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import dns.rdatatype
import dns.zone
import pytest
import stix2
from lxml import etree
from sqlalchemy import select

from crawler.evidence.custody import record_event, verify_chain
from crawler.exports import ExportError, ExportRequest, export_batch
from crawler.exports.formats.registry import XSD_PATH
from crawler.exports.identifiers import domain_ascii, url_ascii
from crawler.store import open_database
from crawler.store.db import Database
from crawler.store.models import (
    APPROVED,
    REJECTED,
    UNREVIEWED,
    CustodyEvent,
    Entity,
    ExportBatch,
    ExportItem,
    Page,
    PageEntity,
    Review,
    Site,
    Verdict,
)
from crawler.store.queries import url_hash
from tests.conftest import own_postgres_database

ONION = "3l7u3eurnas7m2yxjeegipwwehg35z46yxxxtxcqxu4b6f7qndewunid.onion"
BTC = "bc1q89arlf4w36etg5ea45cezg9qe4xxxrkmmyk0qp"
XMR = ("42TpY7sE99cefRJAPQtogBbR8fpvXqPbk7L4LxdU8m7sDnzfPL8A8UXfsiXo6tFjvU1zcgkzXzaPBbRoB"
       "fp63kdDEpCp2pu")
LTC = "LM2WMpR1Rp6j3Sa59cMXMs1SPzj9eXpGc1"
BUNDLE_SHA = "ab" * 32
IDN = "кристалл.рф"
IDN_ASCII = "xn--80apfga0aii.xn--p1ai"
FORMATS = ("csv", "json", "rpz", "hosts", "stix", "registry-xml", "wallets")


async def add_site(db: Database, name: str, pages: Sequence[tuple[str, str, str | None]],
                   entities: Sequence[tuple[str, str, bool]] = ()) -> int:
    """A site with pages (url, verdict label, ip) and entities seen on its first page."""
    async with db.session() as session:
        site = Site(name=name, is_onion=name.endswith(".onion"), flagged=True, score=0.9)
        session.add(site)
        await session.flush()
        page_ids = []
        for url, label, ip in pages:
            page = Page(site_id=site.id, url=url, url_hash=url_hash(url), status=200,
                        ip_address=ip, fetched_at=datetime(2025, 3, 1, 12, tzinfo=UTC))
            session.add(page)
            await session.flush()
            session.add(Verdict(page_id=page.id, label=label, score=0.9 if label == "drugs"
                                else 0.1, threshold=0.5, model_version="test"))
            page_ids.append(page.id)
        for kind, value, valid in entities:
            entity = await session.scalar(
                select(Entity).where(Entity.kind == kind, Entity.value == value))
            if entity is None:
                entity = Entity(kind=kind, value=value, valid=valid)
                session.add(entity)
                await session.flush()
            session.add(PageEntity(page_id=page_ids[0], entity_id=entity.id))
        await session.commit()
        return site.id


async def decide(db: Database, site_id: int, decision: str, *users: str) -> None:
    """Append reviews the way the review module does and set the site's status."""
    async with db.session() as session:
        site = await session.get(Site, site_id)
        assert site is not None
        latest = await session.scalar(select(Review).where(Review.site_id == site_id)
                                      .order_by(Review.id.desc()).limit(1))
        round_ = 0 if latest is None else latest.approval_round + (latest.decision != "approve")
        for user in users:
            session.add(Review(site_id=site_id, decision=decision, reason="test", user=user,
                               approval_round=round_))
        site.status = {"approve": APPROVED, "reject": REJECTED}.get(decision, UNREVIEWED)
        await session.commit()


async def fill(db: Database) -> dict[str, int]:
    """Approved: a shop with Cyrillic URLs, an IDN shop, an onion market; plus noise."""
    ids = {
        "shop": await add_site(db, "shop-minsk.example", [
            ("http://shop-minsk.example/", "drugs", "203.0.113.5"),
            ("http://www.shop-minsk.example/каталог/мефедрон?город=Минск", "drugs", "203.0.113.5"),
            ("http://shop-minsk.example/about", "benign", None),
        ], [("btc", BTC, True), ("qiwi", "+375291234567", True), ("telegram", "@minsk_klad", True),
            ("btc", "1BoatSLRHtKNngkdXEeobR76b53LETtpyT", False)]),
        "idn": await add_site(db, IDN, [(f"http://{IDN}/товар", "drugs", None)],
                              [("btc", BTC, True), ("card", "4111111111111111", True)]),
        "onion": await add_site(db, ONION, [(f"http://{ONION}/listing/1", "drugs", None)],
                                [("xmr", XMR, True), ("jabber", "meridian@xmpp.is", True)]),
        "rejected": await add_site(db, "legal-cbd.example", [
            ("http://legal-cbd.example/", "drugs", None)], [("yoomoney", "410011234567890", True)]),
        "unreviewed": await add_site(db, "gomel-klad.example", [
            ("http://gomel-klad.example/", "drugs", None)], [("ltc", LTC, True)]),
        "reopened": await add_site(db, "brest-magnit.example", [
            ("http://brest-magnit.example/", "drugs", None)]),
    }
    await decide(db, ids["shop"], "approve", "alice", "bob")
    await decide(db, ids["idn"], "approve", "alice")
    await decide(db, ids["onion"], "approve", "bob")
    await decide(db, ids["rejected"], "reject", "alice")
    await decide(db, ids["reopened"], "approve", "alice")
    await decide(db, ids["reopened"], "reject", "bob")
    async with db.session() as session:
        await record_event(session, "bundled", "alice", "site", "shop-minsk.example",
                           {"sha256": BUNDLE_SHA})
        await session.commit()
    return ids


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await open_database(f"sqlite:///{tmp_path / 'trawler.db'}")
    yield database
    await database.close()


@pytest.fixture
async def filled(db: Database) -> dict[str, int]:
    return await fill(db)


async def run(db: Database, fmt: str, out: Path | None,
              **options: object) -> tuple[ExportBatch, Path]:
    async with db.session() as session:
        result = await export_batch(session, ExportRequest(format=fmt, user="carol", out=out,
                                                           **options))  # type: ignore[arg-type]
    return result.batch, result.path


# -- identifiers -------------------------------------------------------------------------------

def test_domains_go_out_in_punycode_and_onions_as_they_are() -> None:
    assert domain_ascii(IDN) == IDN_ASCII
    assert domain_ascii("Пример.РФ.") == "xn--e1afmkfd.xn--p1ai"
    assert domain_ascii(IDN_ASCII) == IDN_ASCII
    assert domain_ascii(ONION.upper()) == ONION
    assert domain_ascii("under_score.example") == "under_score.example"
    # IDNA 2008 (the idna package) keeps ß; IDNA 2003 would have mapped it to "ss".
    assert domain_ascii("straße.de") == "xn--strae-oqa.de"


def test_urls_are_percent_encoded_with_punycode_hosts() -> None:
    assert (url_ascii("http://www.shop-minsk.example/каталог/мефедрон?город=Минск")
            == "http://www.shop-minsk.example/%D0%BA%D0%B0%D1%82%D0%B0%D0%BB%D0%BE%D0%B3/"
               "%D0%BC%D0%B5%D1%84%D0%B5%D0%B4%D1%80%D0%BE%D0%BD"
               "?%D0%B3%D0%BE%D1%80%D0%BE%D0%B4=%D0%9C%D0%B8%D0%BD%D1%81%D0%BA")
    assert url_ascii(f"https://{IDN}:8443/a%20b c#x") == f"https://{IDN_ASCII}:8443/a%20b%20c#x"
    assert url_ascii(f"http://{ONION}/listing/1") == f"http://{ONION}/listing/1"
    assert url_ascii("http://a.example/100%") == "http://a.example/100%25"


# -- each format, read back by its own parser ----------------------------------------------------

async def test_csv_lists_every_identifier_of_approved_sites(db, filled, tmp_path) -> None:
    batch, path = await run(db, "csv", tmp_path / "out.csv")
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))
    assert batch.items_count == len(rows)
    got = {(r["type"], r["value"]) for r in rows}
    assert ("domain", "shop-minsk.example") in got
    assert ("domain", IDN_ASCII) in got
    assert ("onion", ONION) in got
    assert ("url", url_ascii("http://www.shop-minsk.example/каталог/мефедрон?город=Минск")) in got
    assert ("telegram", "@minsk_klad") in got and ("jabber", "meridian@xmpp.is") in got
    assert not any(r["value"].startswith("http://shop-minsk.example/about") for r in rows)
    assert ("btc", "1BoatSLRHtKNngkdXEeobR76b53LETtpyT") not in got  # failed its checksum
    assert not {v for _, v in got} & {"legal-cbd.example", "gomel-klad.example",
                                      "brest-magnit.example", "410011234567890"}
    assert all(r["value"].isascii() for r in rows)
    shop = next(r for r in rows if r["value"] == "shop-minsk.example")
    assert shop["reviewers"] == "alice bob"
    assert shop["decision_ref"].count("R") == 2 and shop["decision_date"]
    assert shop["evidence_sha256"] == BUNDLE_SHA
    assert shop["first_seen"] and shop["last_seen"]
    onion = next(r for r in rows if r["value"] == ONION)
    assert onion["evidence_sha256"] == ""  # no bundle made for it yet
    btc = next(r for r in rows if r["type"] == "btc")
    assert btc["site"].split() == ["shop-minsk.example", IDN_ASCII]  # one row, both sites


async def test_json_is_a_document_with_items(db, filled, tmp_path) -> None:
    batch, path = await run(db, "json", tmp_path / "out.json")
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["batch"] == batch.id and document["created_by"] == "carol"
    items = {(i["type"], i["value"]): i for i in document["items"]}
    assert len(items) == batch.items_count
    shop = items[("domain", "shop-minsk.example")]
    assert shop["reviewers"] == ["alice", "bob"]
    assert len(shop["decision"]["reviews"]) == 2
    assert shop["evidence_sha256"] == [BUNDLE_SHA]


async def test_rpz_parses_as_a_zone_without_onions(db, filled, tmp_path) -> None:
    batch, path = await run(db, "rpz", tmp_path / "block.rpz")
    zone = dns.zone.from_text(path.read_text(), relativize=False, check_origin=True)
    soa = zone.find_rdataset(zone.origin, dns.rdatatype.SOA)[0]
    assert soa.serial == batch.id
    names = {name.to_text() for name, node in zone.nodes.items()
             if node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.CNAME)}
    origin = zone.origin.to_text()
    for domain in ("shop-minsk.example", IDN_ASCII):
        assert f"{domain}.{origin}" in names and f"*.{domain}.{origin}" in names
    assert not any("onion" in name for name in names)
    for name in names:
        target = zone.find_rdataset(name, dns.rdatatype.CNAME)[0].target
        assert target == dns.name.root
    assert batch.items_count == 2


async def test_hosts_file_has_zero_address_lines(db, filled, tmp_path) -> None:
    _, path = await run(db, "hosts", tmp_path / "block.hosts")
    lines = [line.split() for line in path.read_text().splitlines()
             if line and not line.startswith("#")]
    assert all(len(parts) == 2 and parts[0] == "0.0.0.0" for parts in lines)
    hosts = {parts[1] for parts in lines}
    assert {"shop-minsk.example", "www.shop-minsk.example", IDN_ASCII} <= hosts
    assert not any(h.endswith(".onion") for h in hosts)


async def test_stix_bundle_parses_with_indicators_and_wallets(db, filled, tmp_path) -> None:
    _, path = await run(db, "stix", tmp_path / "bundle.json")
    bundle = stix2.parse(path.read_text(encoding="utf-8"), allow_custom=True)
    assert bundle.type == "bundle"
    indicators = [o for o in bundle.objects if o.type == "indicator"]
    patterns = {i.pattern for i in indicators}
    assert "[domain-name:value = 'shop-minsk.example']" in patterns
    assert f"[domain-name:value = '{IDN_ASCII}']" in patterns
    assert f"[domain-name:value = '{ONION}']" in patterns
    assert f"[url:value = 'http://{ONION}/listing/1']" in patterns
    wallets = {(o["currency"], o["value"]): o for o in bundle.objects
               if o.type == "x-crypto-wallet"}
    assert set(wallets) == {("btc", BTC), ("xmr", XMR), ("qiwi", "+375291234567"),
                            ("card", "4111111111111111")}
    assert wallets[("btc", BTC)]["sites"] == ["shop-minsk.example", IDN_ASCII]
    shop = next(i for i in indicators if i.pattern.endswith("'shop-minsk.example']"))
    hashes = [r.hashes["SHA-256"] for r in shop.external_references if "hashes" in r]
    assert hashes == [BUNDLE_SHA]


async def test_registry_xml_validates_against_the_xsd(db, filled, tmp_path) -> None:
    _, path = await run(db, "registry-xml", tmp_path / "register.xml")
    schema = etree.XMLSchema(etree.parse(str(XSD_PATH)))
    document = etree.parse(str(path))
    schema.assertValid(document)
    contents = {c.findtext("domain"): c for c in document.getroot().iter("content")}
    assert set(contents) == {"shop-minsk.example", IDN_ASCII, ONION}
    shop = contents["shop-minsk.example"]
    assert shop.get("blockType") == "domain"
    assert shop.find("decision").get("number").count("R") == 2
    assert [ip.text for ip in shop.iter("ip")] == ["203.0.113.5"]
    assert len(shop.findall("url")) == 2
    assert all(url.text.isascii() for url in document.getroot().iter("url"))


async def test_wallets_lists_payment_identifiers_only(db, filled, tmp_path) -> None:
    _, path = await run(db, "wallets", tmp_path / "wallets.csv")
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))
    assert {(r["type"], r["value"]) for r in rows} == {
        ("btc", BTC), ("xmr", XMR), ("qiwi", "+375291234567"), ("card", "4111111111111111")}
    assert all(r["validated"] == "yes" and r["first_seen"] for r in rows)
    assert next(r for r in rows if r["type"] == "btc")["sites"].split() == [
        "shop-minsk.example", IDN_ASCII]


# -- batches: incremental, --all, --since, records ----------------------------------------------

@pytest.mark.parametrize("fmt", FORMATS)
async def test_second_incremental_export_is_empty_until_a_new_approval(
        db, filled, tmp_path, fmt) -> None:
    first, _ = await run(db, fmt, tmp_path / "1")
    assert first.items_count > 0
    second, second_path = await run(db, fmt, tmp_path / "2")
    assert second.items_count == 0
    parse_any(fmt, second_path)  # an empty batch is still a valid file
    await decide(db, filled["unreviewed"], "approve", "alice")
    third, third_path = await run(db, fmt, tmp_path / "3")
    assert third.items_count > 0
    assert "gomel-klad.example" in third_path.read_text(encoding="utf-8")
    assert "shop-minsk.example" not in third_path.read_text(encoding="utf-8")
    parse_any(fmt, third_path)


async def test_all_and_since(db, filled, tmp_path) -> None:
    first, _ = await run(db, "csv", tmp_path / "1.csv")
    again, _ = await run(db, "csv", tmp_path / "2.csv", mode="all")
    assert again.items_count == first.items_count
    await decide(db, filled["unreviewed"], "approve", "alice")
    _, path = await run(db, "csv", tmp_path / "3.csv", mode="since", since=first.id)
    values = {row["value"] for row in csv.DictReader(path.open(encoding="utf-8"))}
    assert values == {"gomel-klad.example", "http://gomel-klad.example/", LTC}
    # --since ignores what other formats or batches already carried.
    hosts, _ = await run(db, "hosts", tmp_path / "4.hosts", mode="since", since=first.id)
    assert hosts.items_count == 1


async def test_batch_is_recorded_with_manifest_and_custody(db, filled, tmp_path) -> None:
    batch, path = await run(db, "json", tmp_path / "out.json")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    manifest = json.loads((tmp_path / "out.json.manifest.json").read_text())
    assert manifest["sha256"] == digest == batch.sha256
    assert manifest["batch"] == batch.id and manifest["items"] == batch.items_count
    assert manifest["created_by"] == "carol" and manifest["format"] == "json"
    assert manifest["counts"]["domain"] == 2
    async with db.session() as session:
        stored = await session.get(ExportBatch, batch.id)
        assert stored is not None and stored.path == str(path)
        assert stored.size == path.stat().st_size
        items = (await session.scalars(select(ExportItem).where(
            ExportItem.batch_id == batch.id))).all()
        assert len(items) == batch.items_count
        event = await session.scalar(select(CustodyEvent).where(
            CustodyEvent.action == "exported"))
        assert event is not None and event.object_id == str(batch.id)
        assert event.detail["sha256"] == digest and event.actor == "carol"
        assert "shop-minsk.example" in event.detail["sites"]
        assert await verify_chain(session) is None


async def test_empty_database_exports_a_valid_empty_file(db, tmp_path) -> None:
    for fmt in FORMATS:
        batch, path = await run(db, fmt, tmp_path / f"empty.{fmt}")
        assert batch.items_count == 0
        parse_any(fmt, path)


async def test_refusals_leave_no_batch(db, filled, tmp_path) -> None:
    existing = tmp_path / "exists.csv"
    existing.write_text("earlier batch")
    with pytest.raises(ExportError, match="exists"):
        await run(db, "csv", existing)
    with pytest.raises(ExportError, match="no export batch 99"):
        await run(db, "csv", tmp_path / "x.csv", mode="since", since=99)
    with pytest.raises(ExportError, match="unknown export format"):
        await run(db, "pdf", tmp_path / "x.pdf")
    old = tmp_path / "exports"
    old.mkdir()
    (old / "trawler-batch-00001-csv.csv").write_text("from an earlier database")
    with pytest.raises(ExportError, match="earlier database"):
        await run(db, "csv", None, exports_dir=old)
    async with db.session() as session:
        assert (await session.scalars(select(ExportBatch))).all() == []
    assert existing.read_text() == "earlier batch"
    assert (old / "trawler-batch-00001-csv.csv").read_text() == "from an earlier database"
    assert not (tmp_path / "x.csv").exists()


def parse_any(fmt: str, path: Path) -> None:
    """Read a batch file with the parser its recipients use; raises if it is not valid."""
    text = path.read_text(encoding="utf-8")
    if fmt in ("csv", "wallets"):
        rows = list(csv.reader(io.StringIO(text, newline="")))
        assert rows and len({len(row) for row in rows}) == 1
    elif fmt == "json":
        assert isinstance(json.loads(text)["items"], list)
    elif fmt == "rpz":
        dns.zone.from_text(text, relativize=False, check_origin=True)
    elif fmt == "hosts":
        for line in text.splitlines():
            assert line.startswith("#") or line.split()[0] == "0.0.0.0"
    elif fmt == "stix":
        assert stix2.parse(text, allow_custom=True).type == "bundle"
    elif fmt == "registry-xml":
        etree.XMLSchema(etree.parse(str(XSD_PATH))).assertValid(etree.parse(str(path)))


@pytest.mark.postgres
async def test_incremental_export_on_postgresql(postgres_url: str, tmp_path: Path) -> None:
    """The same queries on PostgreSQL (asyncpg), in a database of this test's own."""
    pg = await open_database(await own_postgres_database(postgres_url, "export"))
    try:
        await fill(pg)
        for fmt in FORMATS:
            first, path = await run(pg, fmt, tmp_path / f"1.{fmt}")
            parse_any(fmt, path)
            assert first.items_count > 0
            second, _ = await run(pg, fmt, tmp_path / f"2.{fmt}")
            assert second.items_count == 0
        async with pg.session() as session:
            assert await verify_chain(session) is None
    finally:
        await pg.close()
