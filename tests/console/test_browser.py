"""The console in a real browser (Debian's Chromium, driven by Playwright), served by the API's app over HTTP on
127.0.0.1, over runs the real runtime made through the four servers (SQLite and PostgreSQL): sign in with a
token, find a run, read its timeline, approve the pending credit and see the run complete; another tenant's
token sees none of it; the pages read without JavaScript."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.coordinator.api.conftest import Deployment

pytestmark = pytest.mark.slow
# `deployment` comes first in each test's arguments: it runs its own event loop while it is set up, which it
# cannot do inside Playwright's (the browser's fixture keeps one running in this thread)


def signed_in(browser: Browser, deployment: Deployment, token: str, *, javascript: bool = True) -> Page:
    context: BrowserContext = browser.new_context(base_url=deployment.url, java_script_enabled=javascript)
    page = context.new_page()
    page.goto("/console/")
    expect(page).to_have_url(re.compile(r"/console/login$"))  # nobody signed in yet
    page.fill("#token", token)
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/console/runs$"))
    return page


def test_an_approver_follows_a_run_and_approves_its_credit(deployment: Deployment, browser: Browser) -> None:
    page = signed_in(browser, deployment, deployment.token("acme", "viewer", "approver"))
    rows = page.locator("#runs tbody tr")
    expect(rows.filter(has_text=deployment.waiting)).to_have_count(1)
    expect(rows.filter(has_text=deployment.completed)).to_have_count(1)
    expect(rows.filter(has_text=deployment.northwind)).to_have_count(0)

    page.get_by_role("link", name=deployment.waiting).click()
    expect(page.locator("h1")).to_contain_text("awaiting_approval")
    expect(page.locator("dl.facts code")).to_have_text(re.compile(r"^[0-9a-f]{32}$"))  # the trace id a backend finds
    steps = page.locator(".timeline li.depth-0")
    expect(steps.first).to_contain_text("triage")
    assert steps.count() >= 3  # triage, drafting, compliance, ...: each a bar with its duration
    bar = steps.first.locator(".bar")
    assert re.search(r"width: [\d.]+%", bar.get_attribute("style") or "")
    expect(steps.first.locator(".took")).to_have_text(re.compile(r"^\d+\.\d{3} s$"))
    calls = page.locator(".timeline li.depth-1")  # each model judgment and tool call, under its step, timed
    expect(calls.filter(has_text="tool crm.find_customer")).to_have_count(1)
    expect(calls.filter(has_text="model triage.classify").locator(".took")).to_have_text(re.compile(r"^\d+\.\d{3} s$"))
    lefts = [
        float(re.findall(r"left: ([\d.]+)%", calls.nth(i).locator(".bar").get_attribute("style") or "")[0])
        for i in range(calls.count())
    ]
    assert max(lefts) > 0 and lefts != sorted(lefts, reverse=True)  # placed along the run, not stacked at its start

    approval = page.locator(f"article.approval#{deployment.approval}")
    expect(approval.locator(".arguments")).to_contain_text('"amount_cents": 12000')
    approval.get_by_role("button", name="Approve").click()
    expect(page.locator(".notice")).to_have_text(f"{deployment.approval}: executed")
    expect(page.locator("h1")).to_contain_text("completed")
    expect(page.locator(f"article.approval#{deployment.approval} .badge")).to_have_text("executed")


def test_another_tenants_token_sees_none_of_it(deployment: Deployment, browser: Browser) -> None:
    page = signed_in(browser, deployment, deployment.token("northwind", "viewer", "approver"))
    rows = page.locator("#runs tbody tr")
    expect(rows.filter(has_text=deployment.northwind)).to_have_count(1)
    expect(rows.filter(has_text=deployment.waiting)).to_have_count(0)
    for run in (deployment.waiting, deployment.completed, "R-does-not-exist"):
        response = page.goto(f"/console/runs/{run}")
        assert response is not None and response.status == 404
        expect(page.locator(".problem")).to_have_text(f"not_found: run {run!r} not found")
    page.goto("/console/approvals")
    expect(page.locator("article.approval")).to_have_count(0)
    page.goto("/console/usage")
    expect(page.locator("section.chart h2")).to_have_text(["northwind"])
    expect(page.locator("section.chart svg")).to_have_count(2)  # its cost and its tokens per day


def test_the_runs_table_refreshes_itself_and_reads_without_javascript(deployment: Deployment, browser: Browser) -> None:
    page = signed_in(browser, deployment, deployment.token(None, "viewer"))
    rows = page.locator("#runs tbody tr")
    before = rows.count()
    with deployment.client(deployment.token("acme", "operator")) as client:
        email = {"sender": "someone@example.com", "subject": "Hello", "body": "Where is my invoice?"}
        response = client.post("/v1/tenants/acme/events", json={"kind": "email", "event": email})
        assert response.status_code in (200, 201, 202), response.text
    expect(rows).to_have_count(before + 1, timeout=15_000)  # htmx polls the table every 5 s

    plain = signed_in(browser, deployment, deployment.token(None, "viewer"), javascript=False)
    expect(plain.locator("#runs tbody tr")).to_have_count(before + 1)
    plain.get_by_role("link", name=deployment.northwind).click()
    expect(plain.locator(".timeline li.depth-0").first).to_contain_text("triage")
    plain.goto("/console/usage")
    expect(plain.locator("section.chart h2")).to_have_text(["acme", "northwind"])
    expect(plain.locator("section.chart svg rect")).not_to_have_count(0)
