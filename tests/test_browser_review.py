"""The review app in a real browser (Playwright driving Debian's chromium): sign in, work the
queue, approve and reject, four-eyes refusing a second approval by the same reviewer, a hostile
page that must not run anything, and authorization. Screenshots go to docs/screenshots/."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp import web

from crawler.config import load_config
from crawler.review import create_app
from tests.review_fixtures import (
    HOSTILE_HTML,
    PASSWORD,
    FakeEvidence,
    ReviewData,
    make_review_db,
    png_image,
)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
SCREENSHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.asyncio(loop_scope="module"),
    pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="needs Debian's chromium"),
]
playwright_api = pytest.importorskip("playwright.async_api")


@dataclass
class Server:
    url: str
    data: ReviewData
    runner: web.AppRunner


@dataclass
class Browser:
    browser: object
    events: list[str] = field(default_factory=list)  # dialogs and console messages seen

    async def page(self, server: Server, user: str | None = "alice"):  # type: ignore[no-untyped-def]
        """A fresh browser context (own cookies), signed in as ``user``."""
        context = await self.browser.new_context(viewport={"width": 1280, "height": 900},
                                                 base_url=server.url)
        page = await context.new_page()
        page.on("dialog", lambda d: self._dialog(d))
        page.on("console", lambda m: self.events.append(f"console {m.type}: {m.text}"))
        page.on("pageerror", lambda e: self.events.append(f"page error: {e}"))
        if user is not None:
            await sign_in(page, user)
        return page

    def _dialog(self, dialog) -> None:  # type: ignore[no-untyped-def]
        self.events.append(f"dialog {dialog.type}: {dialog.message}")
        dialog.dismiss()


async def sign_in(page, user: str) -> None:  # type: ignore[no-untyped-def]
    await page.goto("/login")
    await page.fill("input[name=name]", user)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")


async def _serve(directory: Path, four_eyes: bool) -> Server:
    data = await make_review_db(directory)
    config = replace(load_config(data=directory, db=data.db_url), four_eyes=four_eyes)
    evidence = FakeEvidence(screenshots={"http://shop-minsk.example/": png_image()},
                            html={"http://bazar-grodno.example/": HOSTILE_HTML})
    runner = web.AppRunner(create_app(config, evidence=evidence))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    return Server(f"http://{host}:{port}", data, runner)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def four_eyes(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Server]:
    server = await _serve(tmp_path_factory.mktemp("four-eyes"), four_eyes=True)
    yield server
    await server.runner.cleanup()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def single(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Server]:
    server = await _serve(tmp_path_factory.mktemp("single"), four_eyes=False)
    yield server
    await server.runner.cleanup()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def chromium() -> AsyncIterator[Browser]:
    async with playwright_api.async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield Browser(browser)
        await browser.close()


async def shoot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


async def test_anonymous_user_gets_the_login_page_and_signs_in(chromium: Browser,
                                                               four_eyes: Server) -> None:
    page = await chromium.page(four_eyes, user=None)
    await page.goto("/sites")
    assert page.url.startswith(f"{four_eyes.url}/login?next=")
    await page.fill("input[name=name]", "alice")
    await page.fill("input[name=password]", PASSWORD)
    await shoot(page, "login")
    await page.click("button[type=submit]")
    assert page.url == f"{four_eyes.url}/sites"
    assert await page.locator("h1").inner_text() == "Review queue"
    await page.context.close()


async def test_reviewer_works_the_queue_and_four_eyes_refuses_a_second_approval(
        chromium: Browser, four_eyes: Server) -> None:
    alice = await chromium.page(four_eyes, "alice")
    await alice.goto("/sites")
    rows = alice.locator("table.queue tbody tr")
    assert await rows.count() == 5
    await shoot(alice, "queue")
    await rows.first.locator("a").first.click()
    assert await alice.locator("h1").inner_text() == "shop-minsk.example"
    await shoot(alice, "site")

    await alice.select_option("form.approve select[name=reason]", "sells-drugs")
    await alice.fill("form.approve input[name=note]", "price list and dead drops")
    await alice.click("form.approve button")
    assert "approval 1 of 2 recorded" in await alice.locator(".flash").inner_text()
    assert await alice.locator("h1").inner_text() != "shop-minsk.example"  # moved on

    await alice.goto(f"/sites/{four_eyes.data.sites['shop-minsk.example']}")
    assert "1 of 2 approvals (alice)" in await alice.locator(".four-eyes").inner_text()
    await alice.click("form.approve button")
    refusal = await alice.locator(".flash.error").inner_text()
    assert "alice already approved shop-minsk.example" in refusal
    await shoot(alice, "four-eyes-refused")

    bob = await chromium.page(four_eyes, "bob")
    await bob.goto(f"/sites/{four_eyes.data.sites['shop-minsk.example']}")
    await bob.select_option("form.approve select[name=reason]", "dead-drop-shop")
    await bob.click("form.approve button")
    assert "approved (2 of 2 approvals)" in await bob.locator(".flash").inner_text()

    await bob.goto(f"/sites/{four_eyes.data.sites['harm-help.example']}")
    await bob.select_option("form.reject select[name=reason]", "harm-reduction")
    await bob.click("form.reject button")
    assert "harm-help.example: rejected" in await bob.locator(".flash").inner_text()

    await bob.goto("/sites?state=")
    states = dict(zip(await bob.locator("table.queue td:first-child a").all_inner_texts(),
                      await bob.locator("table.queue .state").all_inner_texts(), strict=True))
    assert states["shop-minsk.example"] == "approved"
    assert states["harm-help.example"] == "rejected"
    await alice.context.close()
    await bob.context.close()
    assert chromium.events == []


async def test_reviewer_decides_every_flagged_site_in_turn(chromium: Browser,
                                                           single: Server) -> None:
    page = await chromium.page(single, "bob")
    await page.goto("/sites")
    await page.locator("table.queue tbody tr a").first.click()
    decided = []
    while page.url.rstrip("/").rsplit("/", 1)[-1].isdigit():
        name = await page.locator("h1").inner_text()
        decision = "reject" if name.startswith("harm-") else "approve"
        await page.click(f"form.{decision} button")
        decided.append((name, decision))
    assert page.url.endswith("/sites")
    assert "No sites match" in await page.locator("main").inner_text()
    assert len(decided) == 5 and ("harm-help.example", "reject") in decided
    await page.goto("/sites?state=approved")
    assert await page.locator("table.queue tbody tr").count() == 4
    await page.context.close()


async def test_hostile_page_runs_nothing(chromium: Browser, four_eyes: Server) -> None:
    chromium.events.clear()
    page = await chromium.page(four_eyes, "alice")
    await page.goto(f"/sites/{four_eyes.data.sites['bazar-grodno.example']}")
    assert "<script>alert(1)</script>" in await page.locator("article.page").first.inner_text()
    await page.goto(f"/pages/{four_eyes.data.pages['http://bazar-grodno.example/']}")
    frame = page.frame_locator("iframe.archived")
    assert await frame.locator("h1").inner_text() == "Archived shop"
    await page.wait_for_timeout(300)
    await shoot(page, "page")
    assert await page.evaluate("document.querySelectorAll('script').length") == 0
    assert chromium.events == []
    await page.context.close()


async def test_authorization_in_the_browser(chromium: Browser, four_eyes: Server) -> None:
    chromium.events.clear()
    reviewer = await chromium.page(four_eyes, "alice")
    response = await reviewer.goto("/users")
    assert response.status == 403
    assert "this page is for" in await reviewer.locator("main").inner_text()

    gomel = four_eyes.data.sites["gomel-klad.example"]
    await reviewer.goto(f"/sites/{gomel}")
    await reviewer.evaluate(  # a forged form: the same fields, no CSRF token
        "document.querySelectorAll('input[name=csrf_token]').forEach(e => e.remove())")
    async with reviewer.expect_navigation() as navigation:
        await reviewer.click("form.reject button")
    assert (await navigation.value).status == 403
    assert "CSRF token is missing" in await reviewer.locator("main").inner_text()
    stored = await reviewer.request.get(f"/sites/{gomel}.json")
    assert (await stored.json())["reviews"] == []
    await reviewer.context.close()

    admin = await chromium.page(four_eyes, "root")
    await admin.goto("/users")
    await shoot(admin, "users")
    await admin.goto("/jobs")
    await shoot(admin, "jobs")
    await admin.context.close()
    chromium.events.clear()  # 403 responses are logged by the browser as failed loads
