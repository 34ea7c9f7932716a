"""The drafting specialist: retrieve articles and the template, write the reply."""

from __future__ import annotations

from schemas import ArticleRef, DraftingInput, DraftReply
from schemas.tools import knowledge
from specialists.drafting._draft import WRITE, ArticleText, DraftRequest, offline_answer, reply_subject
from specialists.drafting._whole import make_whole
from specialists.kit import Manifest, SpecialistContext, call, call_or_none, gather

MIN_RELATIVE_SCORE = 0.35


class DraftingSpecialist:
    manifest = Manifest(
        name="drafting",
        version="0.1.0",
        description="Retrieve help articles and the category's template, and write the reply.",
        input=DraftingInput,
        output=DraftReply,
        scopes=("kb:read",),
        model_tier="large",
        max_iterations=3,
    )

    async def run(self, task: DraftingInput, ctx: SpecialistContext) -> DraftReply:
        triage = task.triage
        terms = " ".join(triage.classification.matched_terms[:4])
        query = f"{triage.email.subject} {terms}".strip()[:300]
        hits = await call(
            ctx.toolbox,
            knowledge.SEARCH_ARTICLES,
            knowledge.SearchArticlesIn(query=query, limit=3),
            knowledge.ArticleHits,
        )
        category = triage.classification.category
        relevant = [h for h in hits.items if h.score >= MIN_RELATIVE_SCORE][:2]
        # the articles and the template need only the search's hits: fetched at once
        found = await gather(
            call_or_none(
                ctx.toolbox, knowledge.GET_TEMPLATE, knowledge.GetTemplateIn(category=category), knowledge.Template
            ),
            *(
                call(ctx.toolbox, knowledge.GET_ARTICLE, knowledge.GetArticleIn(article_id=hit.id), knowledge.Article)
                for hit in relevant
            ),
        )
        chosen: knowledge.Template | None = found[0]
        fetched: tuple[knowledge.Article, ...] = found[1:]
        articles = [
            ArticleText(id=article.id, title=article.title, body=article.body, score=hit.score)
            for hit, article in zip(relevant, fetched, strict=True)
        ]
        if chosen is not None:
            template_name, template_body = (category if not chosen.is_default else "default"), chosen.body
        else:
            template_name, template_body = "builtin", "Hi {customer_name},\n\n{answer}\n\n{signature}"
        names = triage.customer.name.split() if triage.customer else []
        request = DraftRequest(
            email=triage.email,
            customer_name=names[0] if names else None,
            category=category,
            queue=triage.queue,
            template=template_body,
            articles=articles,
            avoid=task.feedback,
        )
        text = (await ctx.judge(WRITE, request)).output
        # whatever the model wrote, the draft greets, answers and is signed once, at the end
        answer, answered_from = offline_answer(request)
        whole = make_whole(
            text.body, name=request.customer_name, signature=ctx.policy.drafting.signature, answer=answer
        )
        used_ids = [*text.used_articles, *(i for i in answered_from if whole.answered and i not in text.used_articles)]
        by_id = {a.id: a for a in articles}
        used = [ArticleRef(id=a.id, title=a.title, score=a.score) for i in used_ids if (a := by_id.get(i))]
        reasons = [f"template: {template_name}"]
        if whole.fixes:
            reasons.append(f"completed the draft: {'; '.join(whole.fixes)}")
        reasons += [f"article {a.id} '{a.title}' (relevance {a.score:.2f})" for a in used]
        if task.feedback:
            reasons.append(f"revision {task.revision}: avoided {len(task.feedback)} flagged passage(s)")
        subject = text.subject.strip() or reply_subject(triage.email)
        return DraftReply(subject=subject, body=whole.body, template=template_name, articles=used, reasons=reasons)


specialist = DraftingSpecialist()
