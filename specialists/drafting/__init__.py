"""The drafting specialist (entry point `drafting = specialists.drafting:specialist`).

Retrieves articles (knowledge.search_articles, get_article) and the category's template
(knowledge.get_template), then asks the model to write (`drafting.write`; offline: the template
filled with the best article's opening sentences, the customer's name and the signature). Whatever
the template or the model wrote, the draft is made whole (`make_whole`): it greets the customer,
answers (or says which team will follow up) and ends with the tenant's signature exactly once.
Scopes: kb:read.
"""

from specialists.drafting._draft import WRITE, ArticleText, DraftRequest, DraftText, draft_offline
from specialists.drafting._specialist import DraftingSpecialist, specialist
from specialists.drafting._whole import Whole, make_whole, render, starts_with_greeting

__all__ = [
    "WRITE",
    "ArticleText",
    "DraftRequest",
    "DraftText",
    "DraftingSpecialist",
    "Whole",
    "draft_offline",
    "make_whole",
    "render",
    "specialist",
    "starts_with_greeting",
]
