"""The knowledge server's tool handlers: plain functions in a tenant-bound session."""

from __future__ import annotations

from mcp_servers.kit import GuardedServer, TenantSession
from mcp_servers.knowledge._models import ArticleRow, TenantPolicyRow
from mcp_servers.knowledge._search import Document, rank, snippet
from schemas import InvalidArgument, NotFound, Policy
from schemas.tools import knowledge
from schemas.tools.knowledge import (
    Article,
    ArticleHit,
    ArticleHits,
    GetArticleIn,
    GetPolicyIn,
    GetTemplateIn,
    SearchArticlesIn,
    Template,
    TenantPolicy,
)

DEFAULT_TEMPLATE = "default"


def _policy_row(db: TenantSession) -> TenantPolicyRow:
    return db.one(TenantPolicyRow, db.tenant, what="policy of tenant")


def search_articles(args: SearchArticlesIn, db: TenantSession) -> ArticleHits:
    rows = {row.id: row for row in db.exec(db.select(ArticleRow)).all()}
    hits = rank(args.query, [Document(r.id, r.title, r.tags, r.body) for r in rows.values()])[: args.limit]
    return ArticleHits(
        items=[
            ArticleHit(
                id=hit.id,
                title=rows[hit.id].title,
                snippet=snippet(rows[hit.id].body),
                tags=rows[hit.id].tags,
                score=hit.score,
            )
            for hit in hits
        ]
    )


def get_article(args: GetArticleIn, db: TenantSession) -> Article:
    return Article.model_validate(db.one(ArticleRow, args.article_id, what="article"), from_attributes=True)


def get_policy(args: GetPolicyIn, db: TenantSession) -> TenantPolicy:
    del args
    row = _policy_row(db)
    return TenantPolicy(tenant=row.tenant_id, name=row.name, policy=Policy.model_validate(row.policy))


def get_template(args: GetTemplateIn, db: TenantSession) -> Template:
    policy = Policy.model_validate(_policy_row(db).policy)
    if policy.category(args.category) is None:
        names = [c.name for c in policy.categories]
        raise InvalidArgument(f"unknown category {args.category!r}; expected one of {names}", field="category")
    templates = policy.drafting.templates
    if args.category in templates:
        return Template(category=args.category, body=templates[args.category], is_default=False)
    if DEFAULT_TEMPLATE in templates:
        return Template(category=args.category, body=templates[DEFAULT_TEMPLATE], is_default=True)
    raise NotFound(f"no template for category {args.category!r} and no default template", field="category")


def register(server: GuardedServer) -> None:
    server.add_tool(knowledge.SEARCH_ARTICLES, search_articles)
    server.add_tool(knowledge.GET_ARTICLE, get_article)
    server.add_tool(knowledge.GET_POLICY, get_policy)
    server.add_tool(knowledge.GET_TEMPLATE, get_template)
