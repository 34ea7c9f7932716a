"""The console: runs, a run's timeline, the approvals queue and usage, as server-rendered pages (Jinja2
templates and one vendored, pinned htmx file for the live refresh; readable without JavaScript).

It is served by the HTTP API's app (`deskhand api`), under `/console`, and signs people in with the same
bearer tokens as the API: the token is kept in an HttpOnly, SameSite=Strict cookie, and every page reads
the store with the token's tenant (a tenant's token sees nothing of another tenant's; a platform token,
bound to no tenant, sees all). Deciding an approval posts the hash the page showed, as the CLI and the
API do, and goes through the same `decide` as they do.
"""

from coordinator.console._pages import Console, Viewer

__all__ = ["Console", "Viewer"]
