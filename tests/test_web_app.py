"""The review web app over HTTP, against a real SQLite file and a real server on 127.0.0.1:
sign-in, roles, CSRF, throttling, security headers, JSON twins, the keyset queue, decisions."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from lxml import html as lxml_html
from sqlalchemy import select, text
from sqlalchemy.dialects import sqlite

from crawler.config import load_config
from crawler.review import create_app
from crawler.review.queue import QueueFilter, queue_query
from crawler.review.sanitize import sanitized_html
from crawler.store import open_database
from crawler.store.models import Review, Site, Verdict
from tests.review_fixtures import (
    HOSTILE_HTML,
    PASSWORD,
    FakeEvidence,
    ReviewData,
    make_review_db,
    png_image,
)

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
EXTRA_SITES = 60  # more flagged sites than one queue page holds
Client = Callable[..., Awaitable[TestClient]]


@pytest.fixture
async def data(tmp_path: Path) -> ReviewData:
    data = await make_review_db(tmp_path)
    db = await open_database(data.db_url)
    async with db.session() as session, session.begin():
        for n in range(EXTRA_SITES):
            session.add(Site(name=f"bulk-{n:02d}.example", score=0.6 + (n % 7) / 100,
                             flagged=True, lang="uk" if n % 2 else "ru", pages_count=1))
    await db.close()
    return data


@pytest.fixture
async def client_for(data: ReviewData, tmp_path: Path) -> AsyncIterator[Client]:
    """Start the app (four-eyes on or off) and return a client signed in as ``user``."""
    clients: list[TestClient] = []
    evidence = FakeEvidence(
        screenshots={"http://shop-minsk.example/": png_image()},
        html={"http://bazar-grodno.example/": HOSTILE_HTML})

    async def start(user: str | None = "alice", four_eyes: bool = False) -> TestClient:
        config = replace(load_config(data=tmp_path, db=data.db_url), four_eyes=four_eyes)
        client = TestClient(TestServer(create_app(config, evidence=evidence), host="127.0.0.1"))
        await client.start_server()
        clients.append(client)
        if user is not None:
            response = await login(client, user)
            assert response.status == 302, await response.text()
        return client

    yield start
    for client in clients:
        await client.close()


async def login(client: TestClient, name: str, password: str = PASSWORD, **extra: str):
    page = await client.get("/login")
    token = CSRF.search(await page.text()).group(1)
    return await client.post("/login", data={"name": name, "password": password,
                                             "csrf_token": token, **extra},
                             allow_redirects=False)


async def csrf_of(client: TestClient, path: str = "/") -> str:
    response = await client.get(path)
    return CSRF.search(await response.text()).group(1)


async def test_anonymous_users_get_the_login_page(client_for: Client, data: ReviewData) -> None:
    client = await client_for(user=None)
    for path in ("/", "/sites", f"/sites/{data.sites['shop-minsk.example']}", "/jobs",
                 "/exports", "/users", "/pages/1", "/pages/1/archived", "/no-such-page"):
        response = await client.get(path, allow_redirects=False)
        assert response.status == 302, path
        assert response.headers["Location"].startswith("/login?next="), path
    followed = await client.get("/sites")
    assert followed.url.path == "/login" and "Sign in" in await followed.text()
    api = await client.get("/sites.json")
    assert api.status == 401 and "sign in" in (await api.json())["error"]


async def test_sign_in_sets_a_strict_http_only_cookie_and_goes_to_next(
        client_for: Client) -> None:
    client = await client_for(user=None)
    response = await login(client, "alice", next="/sites?state=")
    assert response.status == 302 and response.headers["Location"] == "/sites?state="
    cookie = response.headers["Set-Cookie"]
    assert "trawler_session=" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert (await client.get("/sites")).status == 200
    away = await login(await client_for(user=None), "bob", next="//evil.example/x")
    assert away.headers["Location"] == "/sites"


async def test_sign_out_ends_the_session(client_for: Client) -> None:
    client = await client_for()
    token = await csrf_of(client, "/sites")
    assert (await client.post("/logout", data={"csrf_token": token},
                              allow_redirects=False)).status == 302
    assert (await client.get("/sites", allow_redirects=False)).status == 302


async def test_wrong_passwords_are_throttled(client_for: Client) -> None:
    client = await client_for(user=None)
    for _ in range(5):
        assert (await login(client, "bob", "not the password")).status == 401
    refused = await login(client, "bob")
    assert refused.status == 429 and "Too many failed sign-ins" in await refused.text()
    assert (await login(client, "alice")).status == 302  # other names still sign in


async def test_forms_without_their_csrf_token_are_refused(client_for: Client,
                                                          data: ReviewData) -> None:
    anonymous = await client_for(user=None)
    await anonymous.get("/login")
    no_token = await anonymous.post("/login", data={"name": "alice", "password": PASSWORD},
                                    allow_redirects=False)
    assert no_token.status == 403 and "CSRF" in await no_token.text()

    client = await client_for()
    site_id = data.sites["shop-minsk.example"]
    for form in ({}, {"csrf_token": "forged"}):
        response = await client.post(f"/sites/{site_id}/decisions", data={
            "decision": "approve", "reason": "sells-drugs", **form}, allow_redirects=False)
        assert response.status == 403
    assert await _reviews(data) == []


async def test_roles_keep_users_to_their_pages(client_for: Client) -> None:
    reviewer, operator, admin = (await client_for("alice"), await client_for("olga"),
                                 await client_for("root"))
    for path in ("/users", "/users.json", "/exports", "/exports.json", "/jobs"):
        response = await reviewer.get(path)
        assert response.status == 403, path
    forbidden = await reviewer.get("/users")
    assert "alice is an reviewer" in await forbidden.text()
    add = await reviewer.post("/users", data={"csrf_token": await csrf_of(reviewer, "/sites"),
                                              "name": "mallory", "role": "admin",
                                              "password": "0123456789abc"})
    assert add.status == 403
    assert (await operator.get("/sites")).status == 403
    assert (await operator.get("/jobs")).status == 200
    for path in ("/sites", "/jobs", "/exports", "/users", "/users.json"):
        assert (await admin.get(path)).status == 200, path
    assert [u["name"] for u in await (await admin.get("/users.json")).json()] == [
        "alice", "bob", "olga", "root"]


async def test_admin_adds_a_user_from_the_users_page(client_for: Client) -> None:
    admin = await client_for("root")
    token = await csrf_of(admin, "/users")
    response = await admin.post("/users", data={"csrf_token": token, "name": "vera",
                                                "role": "reviewer", "password": "long enough pw"})
    assert response.status == 200 and "vera" in await response.text()
    short = await admin.post("/users", data={"csrf_token": token, "name": "ivan",
                                             "role": "reviewer", "password": "short"})
    assert "at least 10" in await short.text()
    assert (await login(await client_for(user=None), "vera", "long enough pw")).status == 302


async def test_every_response_carries_a_content_security_policy(client_for: Client,
                                                                 data: ReviewData) -> None:
    anonymous, reviewer = await client_for(user=None), await client_for()
    page = data.pages["http://shop-minsk.example/"]
    checks = [(anonymous, p) for p in ("/login", "/static/style.css", "/sites", "/sites.json")]
    checks += [(reviewer, p) for p in (
        "/sites", "/sites.json", f"/sites/{data.sites['shop-minsk.example']}", "/sites/99999",
        f"/pages/{page}", f"/pages/{page}.json", f"/pages/{page}/screenshot.png",
        f"/pages/{page}/archived", "/users", "/nothing-here", "/sites?sort=bogus")]
    for client, path in checks:
        response = await client.get(path, allow_redirects=False)
        csp = response.headers.get("Content-Security-Policy", "")
        assert "default-src 'none'" in csp, (path, response.status)
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        if response.content_type == "text/html" and not path.endswith("/archived"):
            assert "script-src" not in csp and "frame-ancestors 'none'" in csp, path


async def test_errors_are_pages_with_a_message(client_for: Client) -> None:
    client = await client_for()
    missing = await client.get("/sites/99999")
    assert missing.status == 404 and "There is no site 99999" in await missing.text()
    bad = await client.get("/sites.json?sort=bogus")
    assert bad.status == 400 and "sort='bogus'" in (await bad.json())["error"]


async def test_json_twins_come_from_the_same_query(client_for: Client, data: ReviewData) -> None:
    client = await client_for()
    html = await (await client.get("/sites?limit=25")).text()
    linked = [int(i) for i in re.findall(r'<td><a href="/sites/(\d+)">', html)]
    listed = await (await client.get("/sites.json?limit=25")).json()
    assert [s["id"] for s in listed["sites"]] == linked and len(linked) == 25
    assert set(listed["sites"][0]) >= {"site", "flagged", "score", "pages", "flagged_pages",
                                       "status", "approvals"}

    shop = data.sites["shop-minsk.example"]
    detail = await (await client.get(f"/sites/{shop}.json")).json()
    assert detail["site"]["site"] == "shop-minsk.example"
    assert {e["kind"]: e["valid"] for e in detail["entities"]} == {
        "btc": True, "telegram": True, "card": False}
    assert [r["site"] for r in detail["related_sites"]] == ["gomel-klad.example"]
    assert detail["screenshot"] == f"/pages/{detail['entry_page']['id']}/screenshot.png"
    assert {e["action"] for e in detail["custody"]} == {"captured"}
    page_html = await (await client.get(f"/sites/{shop}")).text()
    assert "gomel-klad.example" in page_html and "Luhn checksum fails" in page_html
    assert '<mark>Закладки</mark>' in page_html

    page_id = detail["pages"][0]["id"]
    page = await (await client.get(f"/pages/{page_id}.json")).json()
    assert page["url"] == detail["pages"][0]["url"] and page["site"]["id"] == shop


async def _walk(client: TestClient, url: str) -> list[dict]:
    sites: list[dict] = []
    while url:
        body = await (await client.get(url)).json()
        sites += body["sites"]
        url = body["next"]
        if url:
            assert url.startswith("/sites.json?") and "after=" in url
    return sites


async def test_queue_pages_by_keyset_in_score_and_uncertainty_order(client_for: Client) -> None:
    client = await client_for()
    by_score = await _walk(client, "/sites.json?limit=25")
    assert len(by_score) == 5 + EXTRA_SITES and len({s["id"] for s in by_score}) == len(by_score)
    keys = [(s["score"], s["id"]) for s in by_score]
    assert keys == sorted(keys, reverse=True)

    by_doubt = await _walk(client, "/sites.json?limit=25&sort=uncertainty")
    doubts = [(round(abs(s["score"] - 0.5), 6), s["id"]) for s in by_doubt]
    assert doubts == sorted(doubts) and by_doubt[0]["site"] == "harm-help.example"
    html = await (await client.get("/sites?limit=25")).text()
    assert 'rel="next"' in html


@pytest.mark.parametrize(("query", "expected"), [
    ("lang=en", {"3l7u3eurnas7m2yxjeegipwwehg35z46yxxxtxcqxu4b6f7qndewunid.onion"}),
    ("kind=btc", {"shop-minsk.example", "gomel-klad.example"}),
    ("kind=card&lang=ru", {"shop-minsk.example"}),
    ("job=demo-job&lang=ru", {"shop-minsk.example", "gomel-klad.example",
                              "bazar-grodno.example", "harm-help.example"}),
    ("flagged=any&lang=ru&job=demo-job&state=", {
        "shop-minsk.example", "gomel-klad.example", "bazar-grodno.example",
        "harm-help.example", "news-by.example"}),
    ("state=approved", set()),
])
async def test_queue_filters(client_for: Client, query: str, expected: set[str]) -> None:
    client = await client_for()
    assert {s["site"] for s in await _walk(client, f"/sites.json?{query}")} == expected


async def test_queue_query_walks_the_score_index(data: ReviewData) -> None:
    """No sort step: the next page costs the same however many sites are stored."""
    statement = queue_query(QueueFilter(after="0.9:10"), None, None)
    compiled = statement.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True})
    db = await open_database(data.db_url)
    try:
        async with db.engine.connect() as conn:
            plan = " ".join(row[-1] for row in await conn.execute(
                text(f"EXPLAIN QUERY PLAN {compiled}")))
    finally:
        await db.close()
    assert "ix_sites_flagged_score" in plan and "TEMP B-TREE" not in plan, plan


async def test_decisions_from_the_site_page(client_for: Client, data: ReviewData) -> None:
    client = await client_for("alice", four_eyes=True)
    shop = data.sites["shop-minsk.example"]
    token = await csrf_of(client, f"/sites/{shop}")
    first = await client.post(f"/sites/{shop}/decisions", data={
        "csrf_token": token, "decision": "approve", "reason": "sells-drugs", "note": "price list"})
    assert first.url.path.startswith("/sites/") and first.url.path != f"/sites/{shop}"
    assert "approval 1 of 2 recorded" in await first.text()
    again = await client.post(f"/sites/{shop}/decisions", data={
        "csrf_token": token, "decision": "approve", "reason": "sells-drugs"})
    assert again.url.path == f"/sites/{shop}"
    assert "Refused: alice already approved" in await again.text()
    bob = await client_for("bob", four_eyes=True)
    second = await bob.post(f"/sites/{shop}/decisions", data={
        "csrf_token": await csrf_of(bob, "/sites"), "decision": "approve",
        "reason": "dead-drop-shop"})
    assert "approved (2 of 2 approvals)" in await second.text()
    detail = await (await bob.get(f"/sites/{shop}.json")).json()
    assert detail["site"]["status"] == "approved"
    assert [(r["user"], r["decision"]) for r in detail["reviews"]] == [
        ("alice", "approve"), ("bob", "approve")]
    assert [e["action"] for e in detail["custody"]][:2] == ["reviewed", "reviewed"]
    bad = await bob.post(f"/sites/{shop}/decisions", data={
        "csrf_token": await csrf_of(bob, "/sites"), "decision": "reject", "reason": "nonsense"})
    assert "does not fit reject" in await bad.text()


async def test_api_tokens_work_without_cookies_or_csrf(client_for: Client,
                                                       data: ReviewData) -> None:
    from crawler.review.accounts import find_user, issue_api_token

    db = await open_database(data.db_url)
    async with db.session() as session, session.begin():
        token = await issue_api_token(session, await find_user(session, "bob"))
    await db.close()
    client = await client_for(user=None)
    headers = {"Authorization": f"Bearer {token}"}
    assert (await client.get("/sites.json", headers=headers)).status == 200
    decided = await client.post(f"/sites/{data.sites['gomel-klad.example']}/decisions",
                                headers=headers, data={"decision": "reject",
                                                       "reason": "misclassified"})
    assert decided.status == 201 and (await decided.json())["status"] == "rejected"
    wrong = await client.get("/sites.json", headers={"Authorization": "Bearer trw_nope"})
    assert wrong.status == 401


async def test_a_page_shows_which_reasons_count_for_and_against_a_shop(
        client_for: Client, data: ReviewData) -> None:
    """Reasons as the classifier stores them (several terms joined in one reason, weights of
    either sign): each term is marked in the text on its own, apart by direction."""
    page_id = data.pages["http://shop-minsk.example/"]
    db = await open_database(data.db_url)
    async with db.session() as session, session.begin():
        verdict = await session.scalar(select(Verdict).where(Verdict.page_id == page_id))
        verdict.reasons = [
            {"feature": "cue:dead_drop", "term": "закладки, мефедрон", "weight": 3.1},
            {"feature": "substance:cannabis", "term": "шишки", "weight": -0.4}]
    await db.close()
    client = await client_for()
    html = await (await client.get(f"/pages/{page_id}")).text()
    assert "<mark>Закладки</mark>" in html and "<mark>мефедрон</mark>" in html
    assert '<mark class="against">шишки</mark>' in html
    assert '<span class="term against">шишки</span>' in html and "(against)" in html
    twin = await (await client.get(f"/pages/{page_id}.json")).json()
    assert twin["terms"] == ["закладки", "мефедрон"]
    assert twin["terms_against"] == ["шишки"]


async def test_hostile_page_text_is_escaped(client_for: Client, data: ReviewData) -> None:
    client = await client_for()
    site = await (await client.get(f"/sites/{data.sites['bazar-grodno.example']}")).text()
    page = await (await client.get(f"/pages/{data.pages['http://bazar-grodno.example/']}")).text()
    for html in (site, page):
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert "<script" not in html and "<img src=x" not in html and "<svg" not in html
        assert 'href="javascript:' not in html
    assert '<iframe class="archived" sandbox src=' in page


async def test_archived_html_is_sanitized_sandboxed_and_requests_nothing(
        client_for: Client, data: ReviewData) -> None:
    client = await client_for()
    response = await client.get(f"/pages/{data.pages['http://bazar-grodno.example/']}/archived")
    assert response.headers["Content-Security-Policy"].startswith(
        "default-src 'none'; img-src data:; style-src 'unsafe-inline'; sandbox")
    body = await response.text()
    assert "Archived shop" in body
    for active in ("<script", "onload", "onerror", "javascript:", "<iframe", "198.51.100.7"):
        assert active not in body, active
    missing = await client.get(f"/pages/{data.pages['http://gomel-klad.example/']}/archived")
    assert "No archived HTML" in await missing.text()


def test_sanitizer_strips_active_and_remote_content() -> None:
    cleaned = sanitized_html(b'<p style="background:url(http://x/)">a</p><form action="http://x">'
                             b'<input></form><object data="http://x"></object>'
                             b'<a href="http://shop.example/">shop</a><base href="http://x/">')
    assert "http://x" not in cleaned and "<form" not in cleaned and "<object" not in cleaned
    assert '<a title="http://shop.example/">shop</a>' in cleaned
    assert sanitized_html(b"   ") == sanitized_html(b"<html></html>")


async def test_screenshot_is_served_as_png(client_for: Client, data: ReviewData) -> None:
    client = await client_for()
    shot = await client.get(f"/pages/{data.pages['http://shop-minsk.example/']}/screenshot.png")
    assert shot.status == 200 and shot.content_type == "image/png"
    assert (await shot.read()).startswith(b"\x89PNG")
    none = await client.get(f"/sites/{data.sites['gomel-klad.example']}")
    assert "No screenshot." in await none.text()


async def _reviews(data: ReviewData) -> list[Review]:
    db = await open_database(data.db_url)
    try:
        async with db.session() as session:
            return list((await session.scalars(select(Review))).all())
    finally:
        await db.close()


def test_sanitizer_disarms_the_fictional_webs_hostile_shop() -> None:
    shop = Path(__file__).parent / "web" / "sites" / "bazar-grodno.example"
    pages = sorted(shop.glob("*.html"))
    assert pages, "the fictional web's hostile shop is missing"
    for page in pages:
        tree = lxml_html.fragment_fromstring(sanitized_html(page.read_bytes()), create_parent="div")
        for element in tree.iter():
            assert element.tag not in ("script", "iframe", "object", "embed", "form"), page.name
            assert not [a for a in element.attrib
                        if a.startswith("on") or a in ("src", "href", "style")], page.name
