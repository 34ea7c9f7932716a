"""The tenant file (DESIGN §7): a business's policy and seed data, as YAML that people write.

`load_tenant_file(path)` is the only way in: every mistake comes back as a `ConfigError` that
names the file, the field and what was expected.
"""

from __future__ import annotations

import string
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails

from schemas._common import Email, ModelTier, Plan, Priority, RecordId, ShortText, Slug, text_of
from schemas._errors import ConfigError
from schemas._field_limits import form_of
from schemas._tenancy import BUILTIN_SCOPES, TenantId, unknown_scopes
from schemas._text_files import read_text_file

_Strict = ConfigDict(extra="forbid", frozen=True)

Name = Annotated[str, text_of(2_000)]
"""A person's, an account's, a business's or an article's name; tone and signature."""
Description = Annotated[str, text_of(4_000)]
Phrase = Annotated[str, text_of(2_000)]
"""An example, a keyword, a phrase to match or to forbid."""
Template = Annotated[str, text_of(10_000)]
Body = Annotated[str, text_of(50_000)]
"""An article's, a ticket's or an email's body."""
Subject = Annotated[str, text_of(300)]
"""An email's subject (as long as an inbound email's may be)."""

DEFAULT_PLANS = ("free", "starter", "pro", "business", "enterprise")
"""The plans of a tenant file that declares none (`policy.plans`), so files written before plans were declared
load unchanged."""
DEFAULT_PLAN = "starter"
"""The plan of a customer or account without one, when the file declares no plans (else the first declared)."""


class FieldProblem(ValueError):
    """A mistake found by a check across fields, located at `path` below the model that found it."""

    def __init__(self, path: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.path = path


class Category(BaseModel):
    model_config = _Strict

    name: Slug
    description: Description
    queue: Slug
    priority: Priority | None = None
    examples: list[Phrase] = Field(default_factory=list)
    keywords: list[Phrase] = Field(default_factory=list)


class PriorityRule(BaseModel):
    """A priority rule; it matches when every condition given matches. No condition: always."""

    model_config = _Strict

    priority: Priority
    when_any: list[Phrase] = Field(default_factory=list)
    """Phrases: the rule matches when the message contains any of them (case-insensitive)."""
    plan: Plan | None = None
    category: Slug | None = None

    @property
    def is_default(self) -> bool:
        return not self.when_any and self.plan is None and self.category is None


class EscalationPolicy(BaseModel):
    model_config = _Strict

    categories: list[Slug] = Field(default_factory=list)
    below_confidence: Annotated[float, Field(ge=0.0, le=1.0)] = 0.55


TEMPLATE_PLACEHOLDERS = frozenset({"customer_name", "answer", "signature"})


class DraftingPolicy(BaseModel):
    model_config = _Strict

    tone: Name = "friendly, concise"
    signature: Name
    templates: dict[Slug, Template] = Field(default_factory=dict)
    """Reply templates by category; `default` is used for a category without its own.
    Placeholders: {customer_name}, {answer}, {signature}."""

    @field_validator("templates")
    @classmethod
    def _known_placeholders(cls, templates: dict[str, str]) -> dict[str, str]:
        for name, body in templates.items():
            try:
                fields = {f for _, f, _, _ in string.Formatter().parse(body) if f is not None}
            except ValueError as exc:
                raise ValueError(f"template {name!r}: {exc} (write a literal brace as {{{{ or }}}})") from None
            unknown = sorted(fields - TEMPLATE_PLACEHOLDERS)
            if unknown:
                raise ValueError(
                    f"template {name!r}: unknown placeholder {unknown}; "
                    f"expected some of {sorted(TEMPLATE_PLACEHOLDERS)}"
                )
        return templates


class CompliancePolicy(BaseModel):
    model_config = _Strict

    forbidden_phrases: list[Phrase] = Field(default_factory=list)
    block_card_numbers: bool = True
    block_foreign_emails: bool = True
    """Refuse drafts that mention an email address other than the customer's own."""


class RunLimits(BaseModel):
    """What one run of the tenant may spend; a limit left out is the deployment's default."""

    model_config = _Strict

    tokens: Annotated[int, Field(ge=1)] | None = None
    cost_usd: Annotated[float, Field(gt=0)] | None = None
    tool_calls: Annotated[int, Field(ge=1)] | None = None
    wall_seconds: Annotated[float, Field(gt=0)] | None = None


class TenantLimits(BaseModel):
    """The tenant's own limits; a limit left out is the deployment's default (`RuntimeSettings`)."""

    model_config = _Strict

    daily_spend_usd: Annotated[float, Field(ge=0)] | None = None
    runs_in_flight: Annotated[int, Field(ge=1)] | None = None
    per_run: RunLimits = RunLimits()


class Policy(BaseModel):
    model_config = _Strict

    plans: list[Plan] | None = None
    """The business's own plan names; None: the five of `DEFAULT_PLANS`."""
    categories: Annotated[list[Category], Field(min_length=1)]
    priorities: Annotated[list[PriorityRule], Field(min_length=1)]
    escalate: EscalationPolicy = EscalationPolicy()
    approval_required_tools: list[str] = Field(default_factory=list)
    drafting: DraftingPolicy
    compliance: CompliancePolicy = CompliancePolicy()
    limits: TenantLimits = TenantLimits()
    models: dict[Slug, ModelTier] = Field(default_factory=dict)
    """The model tier of a step (a specialist's name), instead of the one its manifest asks for."""
    workflow: Slug = "support-inbox"
    """The workflow this tenant's runs go through: a built-in one or one in the home's `workflows/`."""

    @field_validator("approval_required_tools")
    @classmethod
    def _known_tools(cls, names: list[str]) -> list[str]:
        from schemas.tools import TOOLS_BY_NAME

        for name in names:
            if name not in TOOLS_BY_NAME:
                raise ValueError(f"unknown tool {name!r}; expected one of {sorted(TOOLS_BY_NAME)}")
        return names

    @property
    def plan_names(self) -> list[str]:
        """The plans customers, accounts and priority rules may name."""
        return list(self.plans) if self.plans is not None else list(DEFAULT_PLANS)

    @property
    def default_plan(self) -> str:
        """The plan of a customer or account that names none."""
        return self.plans[0] if self.plans else DEFAULT_PLAN

    def check_plan(self, path: tuple[str | int, ...], plan: str | None) -> None:
        """Refuse a plan the file does not declare, naming the field and the declared plans."""
        if plan is not None and plan not in self.plan_names:
            declared = "declared in policy.plans" if self.plans is not None else "the default plans"
            raise FieldProblem(path, f"plan {plan!r} is not declared; expected one of {self.plan_names} ({declared})")

    @model_validator(mode="after")
    def _consistent(self) -> Policy:
        if self.plans is not None:
            if not self.plans:
                raise FieldProblem(("plans",), "declare at least one plan, or leave plans out for the default ones")
            repeated = sorted({p for p in self.plans if self.plans.count(p) > 1})
            if repeated:
                raise FieldProblem(("plans",), f"plan names must be unique, repeated: {repeated}")
        names = [c.name for c in self.categories]
        if len(set(names)) != len(names):
            raise FieldProblem(("categories",), f"names must be unique, got {names}")
        for index, name in enumerate(self.escalate.categories):
            if name not in names:
                raise FieldProblem(
                    ("escalate", "categories", index), f"{name!r} is not a category; expected one of {names}"
                )
        for index, rule in enumerate(self.priorities):
            if rule.category is not None and rule.category not in names:
                raise FieldProblem(
                    ("priorities", index, "category"), f"{rule.category!r} is not a category; expected one of {names}"
                )
            self.check_plan(("priorities", index, "plan"), rule.plan)
        if not self.priorities[-1].is_default:
            raise FieldProblem(
                ("priorities", len(self.priorities) - 1), "the last rule is the default and must have no conditions"
            )
        return self

    def category(self, name: str) -> Category | None:
        return next((c for c in self.categories if c.name == name), None)


class AccountSeed(BaseModel):
    model_config = _Strict

    id: RecordId
    name: Name
    plan: Plan = DEFAULT_PLAN
    """Omitted in the file: the policy's default plan (`Policy.default_plan`)."""


class CustomerSeed(BaseModel):
    model_config = _Strict

    id: RecordId
    email: Email
    name: Name
    account: RecordId
    """Omitted in the file: an account of the customer's own, with the customer's id (`TenantFile.all_accounts`)."""
    plan: Plan = DEFAULT_PLAN
    """Omitted in the file: the policy's default plan (`Policy.default_plan`)."""
    phone: ShortText | None = None
    company: Name | None = None


class ArticleSeed(BaseModel):
    model_config = _Strict

    id: RecordId
    title: Name
    body: Body
    tags: list[Slug] = Field(default_factory=list)


class TicketSeed(BaseModel):
    model_config = _Strict

    id: RecordId
    customer: Email
    subject: Subject
    body: Body
    status: Literal["new", "open", "pending", "solved", "closed"] = "solved"
    category: Slug | None = None
    priority: Priority | None = None


class MessageSeed(BaseModel):
    """An email waiting in the tenant's inbox."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    id: RecordId
    sender: Email = Field(alias="from")
    subject: Subject
    body: Body


class TenantFile(BaseModel):
    model_config = _Strict

    tenant: TenantId
    name: Name
    policy: Policy
    roles: dict[Slug, list[str]] = Field(default_factory=dict)
    """Named bundles of scopes, for `deskhand token mint --role`; merged over the built-in roles."""
    accounts: list[AccountSeed] = Field(default_factory=list)
    customers: list[CustomerSeed] = Field(default_factory=list)
    articles: list[ArticleSeed] = Field(default_factory=list)
    tickets: list[TicketSeed] = Field(default_factory=list)
    inbox: list[MessageSeed] = Field(default_factory=list)

    @field_validator("roles")
    @classmethod
    def _known_scopes(cls, roles: dict[str, list[str]]) -> dict[str, list[str]]:
        for role, scopes in roles.items():
            unknown = unknown_scopes(scopes)
            if unknown:
                raise ValueError(
                    f"role {role!r}: unknown scopes {unknown}; expected server:action, a built-in server's of "
                    f"{list(BUILTIN_SCOPES)}"
                )
        return roles

    @model_validator(mode="before")
    @classmethod
    def _defaults(cls, data: Any) -> Any:
        """A customer without an account has one of their own (their id); a customer or account without a plan
        gets the file's default plan: the first it declares."""
        if not isinstance(data, dict):
            return data
        customers = data.get("customers")
        if isinstance(customers, list):
            data = dict(data)
            data["customers"] = [
                {**item, "account": item["id"]}
                if isinstance(item, dict) and "account" not in item and isinstance(item.get("id"), str)
                else item
                for item in customers
            ]
        policy = data.get("policy")
        plans = policy.get("plans") if isinstance(policy, dict) else None
        if not (isinstance(plans, list) and plans and isinstance(plans[0], str)):
            return data
        data = dict(data)
        for field in ("accounts", "customers"):
            items = data.get(field)
            if isinstance(items, list):
                data[field] = [
                    {**item, "plan": plans[0]} if isinstance(item, dict) and "plan" not in item else item
                    for item in items
                ]
        return data

    @model_validator(mode="after")
    def _unique_ids(self) -> TenantFile:
        for field in ("accounts", "customers", "articles", "tickets", "inbox"):
            ids = [item.id for item in getattr(self, field)]
            duplicates = sorted({i for i in ids if ids.count(i) > 1})
            if duplicates:
                raise ValueError(f"{field}: ids must be unique, repeated: {duplicates}")
        emails = [c.email for c in self.customers]
        if len(set(emails)) != len(emails):
            raise ValueError("customers: emails must be unique within a tenant")
        for field in ("accounts", "customers"):
            for index, seed in enumerate(getattr(self, field)):
                self.policy.check_plan((field, index, "plan"), seed.plan)
        categories = {c.name for c in self.policy.categories}
        for index, ticket in enumerate(self.tickets):
            if ticket.category is not None and ticket.category not in categories:
                raise FieldProblem(
                    ("tickets", index, "category"),
                    f"{ticket.category!r} is not a category; expected one of {sorted(categories)}",
                )
        unknown_templates = sorted(set(self.policy.drafting.templates) - categories - {"default"})
        if unknown_templates:
            raise FieldProblem(
                ("policy", "drafting", "templates"),
                f"{unknown_templates} are not categories (expected 'default' or one of {sorted(categories)})",
            )
        return self

    def all_accounts(self) -> list[AccountSeed]:
        """The accounts given, plus one for each customer's account that is not listed."""
        known = {a.id: a for a in self.accounts}
        for customer in self.customers:
            if customer.account not in known:
                name = customer.company or f"{customer.name}'s account"
                known[customer.account] = AccountSeed(id=customer.account, name=name, plan=customer.plan)
        return list(known.values())


BUILTIN_ROLES: dict[str, list[str]] = {
    "reader": ["crm:read", "helpdesk:read", "kb:read", "mail:read"],
    "agent": ["crm:read", "crm:write", "helpdesk:read", "helpdesk:write", "kb:read", "mail:read", "mail:draft"],
    "approver": list(BUILTIN_SCOPES),
}


def _location(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _problem(error: ErrorDetails) -> str:
    """What is wrong with one field and the form expected, in the words of docs/tenant-files.md."""
    ctx = error.get("ctx", {})
    value = error.get("input")
    if error["type"] == "string_pattern_mismatch":
        form = form_of(ctx.get("pattern"))
        return f"expected {'an' if form[0] in 'aeiou' else 'a'} {form} (got {value!r:.60})"
    if error["type"] == "string_too_long" and isinstance(value, str):
        return f"expected text of at most {ctx['max_length']:,} characters (got {len(value.strip()):,})"
    if error["type"] == "string_too_short":
        return f"expected text of at least {ctx['min_length']:,} character(s) (got {value!r:.60})"
    if error["type"] == "value_error" and "error" in ctx:
        return str(ctx["error"])
    got = "" if error["type"] == "missing" else f" (got {value!r:.60})"
    return f"{error['msg']}{got}"


def load_tenant_file(path: Path) -> TenantFile:
    """Read and validate a tenant file; `ConfigError` names the file, the field and what was expected."""
    text = read_text_file(path, "the tenant file")
    try:
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        raise ConfigError(f"{path}: not valid YAML{where}: {getattr(exc, 'problem', exc)}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping with keys tenant, name, policy, ...; got {type(data).__name__}")
    try:
        return TenantFile.model_validate(data)
    except ValidationError as exc:
        problems = []
        first_field = None
        for error in exc.errors(include_url=False):
            cause = error.get("ctx", {}).get("error")
            where = _location(error["loc"] + (cause.path if isinstance(cause, FieldProblem) else ()))
            first_field = first_field or where
            problems.append(f"{where}: {_problem(error)}")
        raise ConfigError(f"{path}: " + "; ".join(problems), field=first_field) from exc
