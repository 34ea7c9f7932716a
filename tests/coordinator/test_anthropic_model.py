"""The Anthropic backend through the real SDK against a loopback Messages API, with the real MCP servers."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from coordinator.models import AnthropicModel, AnthropicSettings
from schemas import Classification, InboundEmail, ModelOutputError, TenantFile, Unavailable
from specialists.drafting import DraftText
from specialists.kit import WrapperToolbox
from specialists.triage import CLASSIFY, ClassifyRequest
from specialists.triage import specialist as triage
from tests.anthropic_loopback import FAST_RETRY, LoopbackAnthropic, error, malformed, refusal, text, tool_use
from tests.specialists.harness import World
from tests.specialists.plain_tenant import KNOWN, SIGNATURE, vet_world

__all__ = ["vet_world"]

pytestmark = pytest.mark.anyio
BILLING = json.dumps(
    {
        "category": "billing",
        "confidence": 0.87,
        "matched_terms": ["charged twice"],
        "injection_signals": [],
        "rationale": "a double charge",
    }
)


@pytest.fixture
async def api() -> AsyncIterator[LoopbackAnthropic]:
    async with LoopbackAnthropic() as server:
        yield server


@pytest.fixture
async def backend(api: LoopbackAnthropic) -> AsyncIterator[AnthropicModel]:
    """The backend on a real SDK client pointed at the loopback API (retries on: scripted errors say
    whether to retry with their headers)."""
    model = AnthropicModel(api.client(max_retries=2), AnthropicSettings(max_retries=2))
    yield model
    await model.aclose()


def request(tenants: list[TenantFile]) -> ClassifyRequest:
    return ClassifyRequest(email=InboundEmail(sender="a@b.test", subject="Charged twice", body="Two charges."))


async def test_structured_output_with_cached_policy_usage_and_cost(
    api: LoopbackAnthropic, backend: AnthropicModel, tenants: list[TenantFile]
) -> None:
    api.script(
        text(BILLING, input_tokens=1200, output_tokens=60, cache_creation_input_tokens=900, cache_read_input_tokens=0)
    )
    generation = await backend.judge(CLASSIFY, request(tenants), policy=tenants[0].policy, tier="small")
    assert generation.output == Classification.model_validate_json(BILLING)
    usage = generation.usage
    assert (usage.model, usage.input_tokens, usage.output_tokens, usage.cache_creation_tokens) == (
        "claude-haiku-4-5",
        1200,
        60,
        900,
    )
    assert usage.cost_usd == pytest.approx((1200 * 1.0 + 60 * 5.0 + 900 * 1.25) / 1_000_000)
    [sent] = api.requests
    policy_block, instructions = sent.body["system"]
    assert policy_block["cache_control"] == {"type": "ephemeral"}
    assert tenants[0].policy.categories[0].description in policy_block["text"]
    assert "triage.classify" in instructions["text"]
    assert sent.body["output_config"]["format"]["type"] == "json_schema"
    assert "confidence" in sent.body["output_config"]["format"]["schema"]["properties"]
    assert "Charged twice" in sent.body["messages"][0]["content"]


async def test_rate_limit_is_retried_by_the_sdk(
    api: LoopbackAnthropic, backend: AnthropicModel, tenants: list[TenantFile]
) -> None:
    api.script(
        error(429, "rate_limit_error", "slow down", headers=FAST_RETRY), text(BILLING, input_tokens=5, output_tokens=5)
    )
    generation = await backend.judge(CLASSIFY, request(tenants), policy=tenants[0].policy, tier="small")
    assert generation.output.category == "billing" and len(api.requests) == 2


@pytest.mark.parametrize(("status", "kind"), [(500, "api_error"), (529, "overloaded_error"), (429, "rate_limit_error")])
async def test_server_errors_after_retries_are_unavailable(
    api: LoopbackAnthropic, backend: AnthropicModel, tenants: list[TenantFile], status: int, kind: str
) -> None:
    api.script(error(status, kind, "try later", headers={"x-should-retry": "false"}))
    with pytest.raises(Unavailable) as info:
        await backend.judge(CLASSIFY, request(tenants), policy=tenants[0].policy, tier="small")
    assert info.value.code == "unavailable"
    assert str(status) in info.value.message  # the API's status, for the operator


@pytest.mark.parametrize(
    ("reply", "words"),
    [
        (malformed(), "not JSON"),
        (text('{"category": "billing"}', input_tokens=5, output_tokens=5), "not Classification"),
        (text("I think it is billing.", input_tokens=5, output_tokens=5), "not Classification"),
        (refusal(), "refused"),
        (text(BILLING[:20], input_tokens=5, output_tokens=1024, stop_reason="max_tokens"), "ran out of tokens"),
    ],
    ids=["malformed body", "missing fields", "prose", "refusal", "truncated"],
)
async def test_bad_model_output_is_a_clear_model_output_error(
    api: LoopbackAnthropic, backend: AnthropicModel, tenants: list[TenantFile], reply: object, words: str
) -> None:
    api.script(reply)  # type: ignore[arg-type]
    with pytest.raises(ModelOutputError) as info:
        await backend.judge(CLASSIFY, request(tenants), policy=tenants[0].policy, tier="small")
    assert info.value.code == "model_output_invalid" and words in info.value.message


async def test_triage_runs_with_the_anthropic_backend_through_the_real_servers(
    api: LoopbackAnthropic, backend: AnthropicModel, world: World
) -> None:
    acme = world.tenants["acme"]
    api.script(text(BILLING, input_tokens=800, output_tokens=40, cache_read_input_tokens=700))
    email = InboundEmail(sender=acme.customers[0].email, subject="Charged twice", body="My card was charged twice.")
    async with world.context(triage, "acme", backend) as ctx:
        result = await triage.run(email, ctx)
    assert result.classification.category == "billing" and result.customer is not None
    assert ctx.budget.used_tokens == 1540 and ctx.budget.used_cost_usd > 0
    assert '"customer_plan":"enterprise"' in api.requests[0].body["messages"][0]["content"]


async def test_drafting_uses_the_large_tier(
    api: LoopbackAnthropic, backend: AnthropicModel, tenants: list[TenantFile]
) -> None:
    from specialists.drafting import WRITE, DraftRequest

    api.script(
        text(json.dumps({"subject": "Re: x", "body": "Hi", "used_articles": []}), input_tokens=5, output_tokens=5)
    )
    value = DraftRequest(
        email=InboundEmail(sender="a@b.test", subject="x", body="y"),
        customer_name="A",
        category="billing",
        queue="billing",
        template="{answer}",
    )
    generation = await backend.judge(WRITE, value, policy=tenants[0].policy, tier="large")
    assert generation.output == DraftText(subject="Re: x", body="Hi")
    assert api.requests[0].body["model"] == "claude-sonnet-4-6"


async def test_tool_use_loop_calls_only_allowed_tools_through_the_toolbox(
    api: LoopbackAnthropic, backend: AnthropicModel, world: World
) -> None:
    acme = world.tenants["acme"]
    email = InboundEmail(sender=acme.customers[0].email, subject="Charged twice", body="Two charges on my card.")
    api.script(
        tool_use("find_customer", {"email": acme.customers[0].email}),
        tool_use("issue_credit", {"account_id": "A-1", "amount_cents": 100, "reason": "x"}),
        text(BILLING, input_tokens=50, output_tokens=20),
    )
    async with world.context(triage, "acme", backend) as ctx:
        from coordinator._toolbox import McpToolbox

        assert isinstance(ctx.toolbox, WrapperToolbox)
        inner = ctx.toolbox.inner
        assert isinstance(inner, McpToolbox)
        with pytest.warns(UserWarning, match="'issue_credit' not found in tool runner"):  # the SDK's own refusal
            generation = await backend.use_tools(
                CLASSIFY,
                ClassifyRequest(email=email),
                policy=acme.policy,
                tier="small",
                toolbox=ctx.toolbox,
                tools=inner.definitions(ctx.toolbox.available),
                max_iterations=triage.manifest.max_iterations + 2,
            )
    assert generation.output.category == "billing"
    assert ctx.budget.used_tool_calls == 1  # find_customer ran; issue_credit never reached a server
    sent_tools = api.requests[0].body["tools"]
    assert "issue_credit" not in {t["name"] for t in sent_tools} and "find_customer" in {t["name"] for t in sent_tools}
    assert sent_tools[-1]["cache_control"] == {"type": "ephemeral"}
    found = [b for b in api.requests[1].body["messages"][-1]["content"] if b["type"] == "tool_result"]
    assert found and not found[0].get("is_error") and "customer" in json.dumps(found[0])
    refused = [b for b in api.requests[2].body["messages"][-1]["content"] if b["type"] == "tool_result"]
    assert refused and refused[0].get("is_error") is True


async def test_the_whole_pipeline_runs_with_the_anthropic_backend(
    api: LoopbackAnthropic, backend: AnthropicModel, world: World
) -> None:
    from schemas import ComplianceInput, DraftingInput, WriterInput
    from specialists.compliance import specialist as compliance
    from specialists.crm_writer import specialist as crm_writer
    from specialists.drafting import specialist as drafting

    acme = world.tenants["acme"]
    email = InboundEmail(
        message_id="M-1",
        sender=acme.customers[0].email,
        subject="Charged twice",
        body="My card was charged twice this month.",
    )
    api.script(
        text(BILLING, input_tokens=900, output_tokens=50),
        text(
            json.dumps(
                {
                    "subject": "Re: Charged twice",
                    "body": "Hi Priya, we refunded the second charge.",
                    "used_articles": [],
                }
            ),
            input_tokens=1500,
            output_tokens=120,
        ),
        text(json.dumps({"findings": []}), input_tokens=700, output_tokens=10),
    )
    async with world.context(triage, "acme", backend) as ctx:
        result = await triage.run(email, ctx)
    async with world.context(drafting, "acme", backend) as ctx:
        draft = await drafting.run(DraftingInput(triage=result), ctx)
    async with world.context(compliance, "acme", backend) as ctx:
        verdict = await compliance.run(ComplianceInput(triage=result, draft=draft), ctx)
    async with world.context(crm_writer, "acme", backend) as ctx:
        report = await crm_writer.run(WriterInput(run_id="r-1", triage=result, draft=draft, verdict=verdict), ctx)
    assert draft.body == "Hi Priya, we refunded the second charge.\n\nThe Acme Analytics Support Team"
    assert verdict.verdict == "pass"
    assert report.ticket_id and len(report.writes) == 7
    assert [r.body["model"] for r in api.requests] == ["claude-haiku-4-5", "claude-sonnet-4-6", "claude-haiku-4-5"]


@pytest.mark.parametrize(
    ("written", "answer"),
    [
        (
            f"Open the booking link to move it.\n\n{SIGNATURE}\n\nBest,\n{SIGNATURE}",
            "Open the booking link to move it.",
        ),
        ("", "choose a new time"),  # nothing written: the articles' answer
        (f"Hi Maya,\n\n{SIGNATURE}", "choose a new time"),  # a greeting and a signature, no answer
    ],
    ids=["no greeting, signed twice", "empty", "no answer"],
)
async def test_a_draft_from_the_model_is_greeted_answered_and_signed_once(
    api: LoopbackAnthropic, backend: AnthropicModel, vet_world: World, written: str, answer: str
) -> None:
    from schemas import Classification, DraftingInput, TriageResult
    from specialists.drafting import specialist as drafting

    email = InboundEmail(sender=KNOWN, subject="Move my appointment", body="Can I move Luna's appointment?")
    result = TriageResult(
        email=email,
        customer=None,
        classification=Classification(category="bookings", confidence=0.9, matched_terms=["appointment"]),
        queue="appointments",
        priority="P3",
        priority_rule="priorities[0]",
        escalate=False,
    )
    api.script(text(json.dumps({"subject": "", "body": written, "used_articles": []}), input_tokens=9, output_tokens=9))
    async with vet_world.context(drafting, "harbour-vet", backend) as ctx:
        draft = await drafting.run(DraftingInput(triage=result), ctx)
    greeting = written.splitlines()[0] if written.startswith("Hi") else "Hello,"  # the sender is unknown here
    assert draft.body.startswith(greeting + "\n") and answer in draft.body
    assert draft.body.count(SIGNATURE) == 1 and draft.body.endswith(SIGNATURE)
    assert draft.subject == "Re: Move my appointment"
    assert any(r.startswith("completed the draft: ") for r in draft.reasons)
    instructions = api.requests[0].body["system"][1]["text"]
    assert "greeting" in instructions and "exactly once" in instructions
