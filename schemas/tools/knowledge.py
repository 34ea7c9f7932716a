"""The knowledge server's tools: articles, the tenant's policy and reply templates."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from schemas._common import RecordId, ShortText, Slug
from schemas._tenant_file import Policy
from schemas._tools import Input, Output, ToolSpec


class Article(Output):
    id: str
    title: str
    body: str
    tags: list[str]


class ArticleHit(Output):
    id: str
    title: str
    snippet: str
    tags: list[str]
    score: float
    """Relevance in (0, 1]; higher is better. Comparable within one search only."""


class ArticleHits(Output):
    items: list[ArticleHit]


class TenantPolicy(Output):
    tenant: str
    name: str
    policy: Policy


class Template(Output):
    category: str
    body: str
    is_default: bool
    """True when the category has no template of its own and this is the tenant's default."""


class SearchArticlesIn(Input):
    query: ShortText
    limit: Annotated[int, Field(ge=1, le=20)] = 5


class GetArticleIn(Input):
    article_id: RecordId


class GetPolicyIn(Input):
    pass


class GetTemplateIn(Input):
    category: Slug


SEARCH_ARTICLES = ToolSpec(
    server="knowledge",
    name="search_articles",
    title="Search help articles",
    description="This tenant's help articles ranked by relevance to the query (BM25 over title, tags and body).",
    scope="kb:read",
    side_effect="read",
    input=SearchArticlesIn,
    output=ArticleHits,
    idempotent=True,
)
GET_ARTICLE = ToolSpec(
    server="knowledge",
    name="get_article",
    title="Get a help article",
    description="One help article in full.",
    scope="kb:read",
    side_effect="read",
    input=GetArticleIn,
    output=Article,
    idempotent=True,
)
GET_POLICY = ToolSpec(
    server="knowledge",
    name="get_policy",
    title="Get the support policy",
    description="The tenant's support policy: categories, priority and escalation rules, drafting and compliance.",
    scope="kb:read",
    side_effect="read",
    input=GetPolicyIn,
    output=TenantPolicy,
    idempotent=True,
)
GET_TEMPLATE = ToolSpec(
    server="knowledge",
    name="get_template",
    title="Get a reply template",
    description="The reply template for a category, or the tenant's default template.",
    scope="kb:read",
    side_effect="read",
    input=GetTemplateIn,
    output=Template,
    idempotent=True,
)

TOOLS = (SEARCH_ARTICLES, GET_ARTICLE, GET_POLICY, GET_TEMPLATE)
