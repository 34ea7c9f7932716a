"""The drafting specialist (entry point `drafting = specialists.drafting:specialist`).

Retrieves articles (knowledge.search_articles, get_article) and the category's template
(knowledge.get_template), then asks the model to write (`drafting.write`; offline: the template
filled with the best article's opening sentences, the customer's name and the signature).
Scopes: kb:read.
"""

from specialists.drafting._draft import WRITE, ArticleText, DraftRequest, DraftText, draft_offline
from specialists.drafting._specialist import DraftingSpecialist, specialist

__all__ = ["WRITE", "ArticleText", "DraftRequest", "DraftText", "DraftingSpecialist", "draft_offline", "specialist"]
