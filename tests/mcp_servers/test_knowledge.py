"""The knowledge server through a real in-memory MCP client: articles, BM25 search, policy, templates."""

from __future__ import annotations

import math
from typing import Any

import pytest
from sqlmodel import select

from mcp_servers import knowledge
from mcp_servers.kit import Database, GuardedServer
from mcp_servers.knowledge._search import Document, bm25_scores, rank, snippet, tokenize
from schemas import Policy, TenantFile
from tests.conftest import Issuer, connect
from tests.mcp_servers.helpers import error_code, error_field, ok, seeded

pytestmark = pytest.mark.anyio
READ = ["kb:read"]


@pytest.fixture
def server(db: Database, tenants: list[TenantFile]) -> GuardedServer:
    return seeded(knowledge, db, tenants)


async def search(client: Any, query: str, **extra: Any) -> list[dict[str, Any]]:
    result = await client.call_tool("search_articles", {"query": query, **extra})
    items: list[dict[str, Any]] = ok(result)["items"]
    return items


# -- search_articles ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tenant", "query", "best"),
    [
        ("acme", "How do I add our VAT number to an invoice?", "KB-1"),
        ("acme", "SSO redirect loop after we rotated the IdP certificate", "KB-4"),
        ("acme", "Snowflake sync failed after a table was renamed", "KB-9"),
        ("northwind", "Tent pole snapped on the first night, is that covered by the warranty?", "NW-KB-7"),
        ("northwind", "When will I get my refund?", "NW-KB-5"),
    ],
)
async def test_search_ranks_the_obviously_relevant_article_first(
    server: GuardedServer, issuer: Issuer, tenant: str, query: str, best: str
) -> None:
    async with connect(server, issuer, tenant, READ) as client:
        hits = await search(client, query)
    assert hits[0]["id"] == best
    assert hits[0]["score"] == 1.0
    assert all(0 < h["score"] <= 1 for h in hits)
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)
    assert len(hits) == 1 or hits[1]["score"] < 1.0


async def test_search_hits_carry_title_tags_and_a_short_snippet_of_the_body(
    server: GuardedServer, issuer: Issuer, tenants: list[TenantFile]
) -> None:
    article = next(a for a in tenants[0].articles if a.id == "KB-4")
    async with connect(server, issuer, "acme", READ) as client:
        [hit] = await search(client, "SAML", limit=1)
    assert (hit["id"], hit["title"], hit["tags"]) == ("KB-4", article.title, article.tags)
    assert 150 <= len(hit["snippet"]) <= 201 and hit["snippet"].endswith("…")
    assert " ".join(article.body.split()).startswith(hit["snippet"].removesuffix("…"))


async def test_search_never_returns_another_tenants_articles(
    server: GuardedServer, issuer: Issuer, tenants: list[TenantFile]
) -> None:
    acme_ids = {a.id for a in tenants[0].articles}
    query = "tents sleeping bags warranty refund invoice"  # words of both tenants' articles
    async with connect(server, issuer, "acme", READ) as client:
        acme_hits = await search(client, query, limit=20)
        assert await search(client, "caring for tents and sleeping bags") == []  # only northwind has this
    async with connect(server, issuer, "northwind", READ) as client:
        northwind_hits = await search(client, query, limit=20)
        assert (await search(client, "caring for tents and sleeping bags"))[0]["id"] == "NW-KB-9"
    assert acme_hits and {h["id"] for h in acme_hits} <= acme_ids
    assert northwind_hits and not {h["id"] for h in northwind_hits} & acme_ids


async def test_search_returns_only_matches_within_the_limit(server: GuardedServer, issuer: Issuer) -> None:
    async with connect(server, issuer, "acme", READ) as client:
        assert await search(client, "how do I do it") == []  # stop words only
        assert await search(client, "zeppelin") == []
        assert len(await search(client, "settings", limit=3)) == 3
        everything = await search(client, "settings", limit=20)
        assert 3 < len(everything) < 13  # some articles never mention settings
        top_three = await search(client, "settings", limit=3)
        assert [h["id"] for h in top_three] == [h["id"] for h in everything[:3]]


# -- BM25 itself ----------------------------------------------------------------------------------


def test_bm25_scores_follow_the_okapi_formula_with_a_double_weighted_title() -> None:
    docs = [
        Document("a", "Refunds", ["billing"], "refund policy and refund times"),
        Document("b", "Shipping", [], "the parcel ships in two days"),
        Document("c", "Returns", ["refunds"], "start a return for a refund"),
    ]
    # Bags: a = refunds refunds billing refund policy refund times (7), b = shipping shipping parcel ships
    # two days (6; "the" and "in" are stop words), c = returns returns refunds start return refund (6).
    n, avgdl, k1, b = 3, 19 / 3, 1.2, 0.75

    def term(df: int, tf: int, length: int) -> float:
        idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
        return idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * length / avgdl))

    scores = bm25_scores("refund refunds", docs)
    assert scores["a"] == pytest.approx(term(2, 2, 7) + term(2, 2, 7))
    assert scores["c"] == pytest.approx(term(2, 1, 6) + term(2, 1, 6))
    assert scores["b"] == 0.0
    assert rank("refund refunds", docs) == [("a", 1.0), ("c", pytest.approx(scores["c"] / scores["a"]))]


def test_ties_are_ordered_by_id_and_a_title_match_outweighs_a_body_match() -> None:
    twins = [Document("z", "Same", [], "same words"), Document("m", "Same", [], "same words")]
    assert [h.id for h in rank("same", twins)] == ["m", "z"]
    docs = [Document("body", "Other", [], "passwords"), Document("title", "Passwords", [], "other")]
    assert [h.id for h in rank("passwords", docs)] == ["title", "body"]


def test_tokenizer_lowercases_splits_on_punctuation_and_drops_stop_words() -> None:
    assert tokenize("How do I connect PostgreSQL_DB (v16) to the API?") == [
        "connect",
        "postgresql",
        "db",
        "v16",
        "api",
    ]
    assert snippet("short  body\n text") == "short body text"


# -- get_article ----------------------------------------------------------------------------------


async def test_get_article_returns_the_whole_article(
    server: GuardedServer, issuer: Issuer, tenants: list[TenantFile]
) -> None:
    article = tenants[0].articles[9]
    async with connect(server, issuer, "acme", READ) as client:
        got = ok(await client.call_tool("get_article", {"article_id": article.id}))
    assert got == {"id": article.id, "title": article.title, "body": article.body, "tags": article.tags}


async def test_another_tenants_article_is_not_found(server: GuardedServer, issuer: Issuer) -> None:
    async with connect(server, issuer, "acme", READ) as client:
        assert error_code(await client.call_tool("get_article", {"article_id": "NW-KB-1"})) == "not_found"
        assert error_code(await client.call_tool("get_article", {"article_id": "KB-99"})) == "not_found"
    async with connect(server, issuer, "northwind", READ) as client:
        theirs = ok(await client.call_tool("get_article", {"article_id": "NW-KB-1"}))
        assert theirs["title"] == "Tracking your order"
        assert error_code(await client.call_tool("get_article", {"article_id": "KB-1"})) == "not_found"


# -- get_policy -----------------------------------------------------------------------------------


async def test_get_policy_returns_the_callers_tenant_policy(
    server: GuardedServer, issuer: Issuer, tenants: list[TenantFile]
) -> None:
    for tenant in tenants:
        async with connect(server, issuer, tenant.tenant, READ) as client:
            got = ok(await client.call_tool("get_policy", {}))
        assert (got["tenant"], got["name"]) == (tenant.tenant, tenant.name)
        assert Policy.model_validate(got["policy"]) == tenant.policy


async def test_policy_of_another_tenant_cannot_be_asked_for(server: GuardedServer, issuer: Issuer) -> None:
    async with connect(server, issuer, "acme", READ) as client:
        assert error_field(await client.call_tool("get_policy", {"tenant": "northwind"})) == "tenant"


async def test_a_tenant_never_seeded_has_no_policy(server: GuardedServer, issuer: Issuer) -> None:
    async with connect(server, issuer, "globex", READ) as client:
        assert error_code(await client.call_tool("get_policy", {})) == "not_found"
        assert error_code(await client.call_tool("get_template", {"category": "billing"})) == "not_found"
        assert await search(client, "invoice") == []


# -- get_template ---------------------------------------------------------------------------------


async def test_get_template_prefers_the_categorys_own_then_the_default(
    server: GuardedServer, issuer: Issuer, tenants: list[TenantFile]
) -> None:
    templates = tenants[0].policy.drafting.templates
    async with connect(server, issuer, "acme", READ) as client:
        own = ok(await client.call_tool("get_template", {"category": "billing"}))
        default = ok(await client.call_tool("get_template", {"category": "technical"}))
    assert own == {"category": "billing", "body": templates["billing"], "is_default": False}
    assert default == {"category": "technical", "body": templates["default"], "is_default": True}


async def test_unknown_or_another_tenants_category_is_an_invalid_argument(
    server: GuardedServer, issuer: Issuer
) -> None:
    async with connect(server, issuer, "acme", READ) as client:
        for category in ["warranty", "shipping", "default", "Billing!"]:  # warranty is northwind's
            assert error_field(await client.call_tool("get_template", {"category": category})) == "category"
        assert error_field(await client.call_tool("get_template", {})) == "category"
    async with connect(server, issuer, "northwind", READ) as client:
        assert ok(await client.call_tool("get_template", {"category": "warranty"}))["is_default"] is False


async def test_category_without_a_template_and_no_default_is_not_found(
    server: GuardedServer, db: Database, issuer: Issuer, tenants: list[TenantFile]
) -> None:
    acme = tenants[0]
    drafting = acme.policy.drafting.model_copy(update={"templates": {"billing": "Hi {customer_name}"}})
    globex = acme.model_copy(
        update={"tenant": "globex", "policy": acme.policy.model_copy(update={"drafting": drafting})}
    )
    knowledge.seed(db, globex)
    async with connect(server, issuer, "globex", READ) as client:
        own = ok(await client.call_tool("get_template", {"category": "billing"}))
        assert (own["body"], own["is_default"]) == ("Hi {customer_name}", False)
        assert error_code(await client.call_tool("get_template", {"category": "technical"})) == "not_found"
    async with connect(server, issuer, "acme", READ) as client:
        assert ok(await client.call_tool("get_template", {"category": "technical"}))["is_default"] is True


# -- arguments, scopes, seeding -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tool", "args", "field"),
    [
        ("search_articles", {"query": "   "}, "query"),
        ("search_articles", {}, "query"),
        ("search_articles", {"query": "invoice", "limit": 21}, "limit"),
        ("search_articles", {"query": "invoice", "tenant": "northwind"}, "tenant"),
        ("get_article", {"article_id": ""}, "article_id"),
        ("get_article", {"article_id": "KB 1"}, "article_id"),
        ("get_policy", {"verbose": True}, "verbose"),
        ("get_template", {"category": "x" * 65}, "category"),
    ],
)
async def test_invalid_arguments_name_the_field(
    server: GuardedServer, issuer: Issuer, tool: str, args: dict[str, Any], field: str
) -> None:
    async with connect(server, issuer, "acme", READ) as client:
        assert error_field(await client.call_tool(tool, args)) == field


async def test_without_kb_read_no_tool_is_listed_or_callable(server: GuardedServer, issuer: Issuer) -> None:
    async with connect(server, issuer, "acme", ["mail:read", "helpdesk:read"]) as client:
        assert (await client.list_tools()).tools == []
        assert error_code(await client.call_tool("get_policy", {})) == "insufficient_scope"
    async with connect(server, issuer, "acme", READ) as client:
        names = {t.name for t in (await client.list_tools()).tools}
    assert names == {"search_articles", "get_article", "get_policy", "get_template"}


async def test_seeding_twice_keeps_one_copy(server: GuardedServer, db: Database, tenants: list[TenantFile]) -> None:
    knowledge.seed(db, tenants[0])
    with db.admin_session() as session:
        articles = session.exec(select(knowledge.ArticleRow)).all()
        policies = session.exec(select(knowledge.TenantPolicyRow)).all()
    assert len(articles) == len(tenants[0].articles) + len(tenants[1].articles)
    assert sorted(p.id for p in policies) == ["acme", "northwind"]
