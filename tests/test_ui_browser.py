"""The access inspector (`/ui/`) in a real headless Chromium, against `acl-service serve` on the test's
PostgreSQL: sign in, pick a user by email, read levels, open a trace, list who has access, and check
what the page shows against `/v1/levels`, `/v1/explain` and `/v1/subjects`.

Chromium comes from the distribution (`apt-get install -y chromium`), driven by Playwright for
Python; these tests skip only when no `chromium` is on PATH. Set INSPECTOR_SCREENSHOT=<path> to save
a screenshot of the page with a trace open (how docs/inspector.png is made).
"""

import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from tests.fixtures.app import ADMIN_TOKEN, admin_headers
from tests.fixtures.seed import Seed, World
from tests.test_client import serving

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH (apt-get install -y chromium)")
TIMEOUT_MS = 15_000


@pytest.fixture
async def world(seed: Seed) -> tuple[World, dict[str, str]]:
    """SPEC §8 example 7, plus a notebook Bob may view: resource-wide `dashboard: editor`, a member row
    `none` for Bob on dashboard 8, dashboard 9 without rows."""
    world = await seed.spec_world(["advanced_permissions"])
    await seed.resource(1, "dashboard", 8, created_by=world["alice"], name="Revenue")
    await seed.resource(1, "dashboard", 9, created_by=world["dan"], restriction_level=37, name="KPIs")
    await seed.resource(1, "notebook", "n-17", created_by=world["dan"], name="Churn")
    rows = {
        "wide": str(await seed.access_control(1, "dashboard", None, "editor")),
        "bob_8": str(await seed.access_control(1, "dashboard", 8, "none", member=world.memberships["bob"])),
        "notebook": str(await seed.access_control(1, "notebook", "n-17", "none")),
        "bob_notebook": str(
            await seed.access_control(1, "notebook", "n-17", "viewer", member=world.memberships["bob"])
        ),
    }
    return world, rows


@pytest.fixture
def service_url(world: tuple[World, dict[str, str]], database_url: str, tmp_path: Path) -> Iterator[str]:
    with serving(database_url, tmp_path / "serve.log") as url:
        yield url


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        # --no-sandbox: CI runs as root, where Chromium's sandbox cannot start.
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        await launched.close()


@pytest.fixture
async def page(browser: Browser, service_url: str) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport={"width": 1440, "height": 900})
    opened = await context.new_page()
    opened.set_default_timeout(TIMEOUT_MS)
    requested: list[str] = []
    opened.on("request", lambda request: requested.append(request.url))
    yield opened
    # Offline by construction: the page loaded nothing from anywhere but the service.
    assert requested
    assert all(url.startswith(service_url) for url in requested), requested
    await context.close()


def decision_api(service_url: str, path: str, body: dict[str, Any] | None = None) -> Any:
    if body is None:
        response = httpx.get(f"{service_url}{path}", headers=admin_headers())
    else:
        response = httpx.post(f"{service_url}{path}", json=body, headers=admin_headers())
    assert response.status_code == 200, response.text
    return response.json()


async def sign_in_and_pick(page: Page, service_url: str, email_fragment: str) -> None:
    """Keyboard only: type the token and Enter, type in the search box, Tab to the match, Enter."""
    await page.goto(f"{service_url}/ui/")
    await page.locator("#token").fill(ADMIN_TOKEN)
    await page.keyboard.press("Enter")
    await expect(page.locator("#user-search")).to_be_focused()
    await page.keyboard.type(email_fragment)
    await expect(page.locator(".user-option")).to_have_count(1)
    await page.keyboard.press("Tab")
    await page.keyboard.press("Enter")
    await expect(page.locator("#status")).to_contain_text("Levels at revision")


async def cells(page: Page, row: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for td in await page.locator(f"{row} td[data-field]").all():
        field = await td.get_attribute("data-field")
        assert field is not None
        found[field] = await td.inner_text()
    return found


def shown(value: Any) -> str:
    """How the page prints a level value."""
    return "null" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


async def test_the_page_shows_the_levels_of_v1_levels_and_a_trace_of_v1_explain(
    page: Page, service_url: str, world: tuple[World, dict[str, str]]
) -> None:
    people, rows = world
    await sign_in_and_pick(page, service_url, "bob@")
    bob = str(people["bob"].uuid)
    levels = decision_api(
        service_url,
        "/v1/levels",
        {"user": bob, "project_id": 1, "dashboards": [8, 9], "resource_types": ["notebook"]},
    )
    project = await cells(page, "#project-levels tbody tr")
    assert project == {name: shown(value) for name, value in levels["project"].items()}
    for dashboard in levels["dashboards"]:
        on_page = await cells(page, f'#dashboards tbody tr[data-id="{dashboard["id"]}"]')
        expected = {name: shown(value) for name, value in dashboard.items() if name != "exists"}
        assert {name: on_page[name] for name in expected} == expected
    assert (await cells(page, '#dashboards tbody tr[data-id="8"]'))["user_access_level"] == "none"
    notebook_type = await cells(page, '#resource-types tbody tr[data-type="notebook"]')
    assert notebook_type["effective_access_level"] == shown(
        levels["resource_types"][0]["effective_access_level"]
    )

    await page.locator('#dashboards tbody tr[data-id="8"] button', has_text="Why?").click()
    await expect(page.locator("#trace-title")).to_be_focused()
    explained = decision_api(
        service_url,
        "/v1/explain",
        {"user": bob, "project_id": 1, "resource": {"type": "dashboard", "id": "8"}, "action": "read"},
    )
    await expect(page.locator("#trace-decision")).to_have_text(
        f"Denied: {explained['status']} {explained['detail']}"
    )
    policy = explained["trace"]["decided_by_policy"]
    await expect(page.locator("#trace-rule")).to_have_text(
        f"Decided by rule {explained['trace']['decided_by']} ({policy['file']}:{policy['line']})"
    )
    # Every step of the trace is on the page, and the row that denied is named by its id.
    await expect(page.locator("#trace li")).to_have_count(len(explained["trace"]["steps"]))
    await expect(page.locator("#trace li.step-fact", has_text=rows["bob_8"]).first).to_be_visible()
    await expect(page.locator("#trace li.refused")).to_have_count(1)
    screenshot = os.environ.get("INSPECTOR_SCREENSHOT")
    if screenshot:
        await page.screenshot(path=screenshot)
    await expect(page.locator("#trace .given").first).to_be_hidden()
    await page.locator("#trace-facts").check()
    await expect(page.locator("#trace .given").first).to_be_visible()


async def test_who_has_access_lists_v1_subjects_with_emails(
    page: Page, service_url: str, world: tuple[World, dict[str, str]]
) -> None:
    await sign_in_and_pick(page, service_url, "dan@")
    await page.locator('#resource-types tbody tr[data-type="notebook"] button', has_text="Objects").click()
    await expect(page.locator("#objects-title")).to_be_focused()
    await page.locator('#objects tbody tr[data-id="n-17"] button', has_text="Who?").click()
    await expect(page.locator("#subjects-title")).to_be_focused()
    subjects = decision_api(service_url, "/v1/subjects?project_id=1&resource=notebook&resource_id=n-17")
    emails = {str(user.uuid): f"{user.name}@example.com" for user in world[0].users.values()}
    expected = [[emails[u["user_id"]], u["access_level"], u["access_source"]] for u in subjects["users"]]
    shown_rows = [
        [
            await row.locator(f'td[data-field="{field}"]').inner_text()
            for field in ("user", "access_level", "access_source")
        ]
        for row in await page.locator("#subjects tbody tr").all()
    ]
    assert shown_rows == expected
    assert ["bob@example.com", "viewer", "explicit_member"] in shown_rows


async def test_a_wrong_token_is_refused_and_the_token_stays_in_the_tab(page: Page, service_url: str) -> None:
    await page.goto(f"{service_url}/ui/")
    await page.locator("#token").fill("not-the-token")
    await page.keyboard.press("Enter")
    await expect(page.locator("#login-error")).to_have_text("That token is not valid.")
    await page.locator("#token").fill(ADMIN_TOKEN)
    await page.keyboard.press("Enter")
    await expect(page.locator("#inspector")).to_be_visible()
    # Kept for the session of this tab only: a reload stays signed in, and nothing went to localStorage.
    await page.reload()
    await expect(page.locator("#inspector")).to_be_visible()
    assert await page.evaluate("localStorage.length") == 0
    assert await page.evaluate("sessionStorage.getItem('acl-inspector-token')") == ADMIN_TOKEN
