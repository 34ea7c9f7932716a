"""The loopback Messages API server, driven through the real `anthropic` SDK."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import anthropic
import anyio
import pydantic
import pytest
from anthropic.types import TextBlock, ToolUseBlock

from tests.anthropic_loopback import FAST_RETRY, LoopbackAnthropic, error, malformed, refusal, text, tool_use

pytestmark = pytest.mark.anyio

MODEL = "claude-sonnet-4-6"  # not in the SDK's DEPRECATED_MODELS, which warn (and warnings are errors here)
HELLO: list[anthropic.types.MessageParam] = [{"role": "user", "content": "hello"}]


class Triage(pydantic.BaseModel):
    queue: str
    urgent: bool


@pytest.fixture
async def api() -> AsyncIterator[LoopbackAnthropic]:
    async with LoopbackAnthropic() as server:
        yield server


async def test_text_reply_maps_usage_including_cache_fields(api: LoopbackAnthropic) -> None:
    api.script(
        text("hi there", input_tokens=11, output_tokens=3, cache_creation_input_tokens=7, cache_read_input_tokens=5)
    )
    with anyio.fail_after(10):
        async with api.client() as client:
            message = await client.messages.create(model=MODEL, max_tokens=64, messages=HELLO)

    assert message.type == "message" and message.role == "assistant" and message.model == MODEL
    assert message.id.startswith("msg_") and message.stop_reason == "end_turn" and message.stop_sequence is None
    assert message.content == [TextBlock(type="text", text="hi there", citations=None)]
    usage = message.usage
    assert (usage.input_tokens, usage.output_tokens) == (11, 3)
    assert (usage.cache_creation_input_tokens, usage.cache_read_input_tokens) == (7, 5)
    assert message._request_id is not None and message._request_id.startswith("req_")


async def test_request_body_and_headers_are_recorded(api: LoopbackAnthropic) -> None:
    api.script(text("ok", input_tokens=1, output_tokens=1))
    async with api.client() as client:
        await client.messages.create(model=MODEL, max_tokens=64, messages=HELLO)

    [request] = api.requests
    assert (request.path, request.query) == ("/v1/messages", "")
    assert request.body == {"model": MODEL, "max_tokens": 64, "messages": HELLO}
    # SDK 2.12 sends the api key as a bearer token, not as x-api-key.
    assert request.headers["authorization"] == "Bearer test"
    assert "x-api-key" not in request.headers
    assert request.headers["anthropic-version"] == anthropic._constants.ANTHROPIC_API_VERSION
    assert request.headers["x-stainless-retry-count"] == "0"


async def test_parse_returns_the_model_and_sends_the_schema_in_output_config(api: LoopbackAnthropic) -> None:
    api.script(text('{"queue": "billing", "urgent": true}', input_tokens=20, output_tokens=9))
    async with api.client() as client:
        message = await client.messages.parse(model=MODEL, max_tokens=64, messages=HELLO, output_format=Triage)

    assert message.parsed_output == Triage(queue="billing", urgent=True)
    body = api.requests[0].body
    assert "output_format" not in body
    assert body["output_config"] == {
        "format": {
            "type": "json_schema",
            "schema": {
                "type": "object",
                "title": "Triage",
                "properties": {
                    "queue": {"type": "string", "title": "Queue"},
                    "urgent": {"type": "boolean", "title": "Urgent"},
                },
                "required": ["queue", "urgent"],
                "additionalProperties": False,
            },
        }
    }
    assert api.requests[0].headers["x-stainless-helper"] == "messages.parse"


@pytest.mark.parametrize(
    ("reply_text", "error_type"),
    [('{"queue": "billing", "urgent": "maybe"}', "bool_parsing"), ("not json", "json_invalid")],
)
async def test_parse_raises_pydantic_validation_error_on_a_bad_reply(
    api: LoopbackAnthropic, reply_text: str, error_type: str
) -> None:
    api.script(text(reply_text, input_tokens=20, output_tokens=9))
    async with api.client(max_retries=2) as client:
        with pytest.raises(pydantic.ValidationError) as caught:
            await client.messages.parse(model=MODEL, max_tokens=64, messages=HELLO, output_format=Triage)

    assert not isinstance(caught.value, anthropic.APIError)
    assert caught.value.errors()[0]["type"] == error_type
    assert len(api.requests) == 1  # not retried


async def test_tool_use_reply_is_a_tool_use_block(api: LoopbackAnthropic) -> None:
    api.script(tool_use("lookup_customer", {"email": "a@example.com"}, id="toolu_01"))
    tools: list[anthropic.types.ToolParam] = [
        {"name": "lookup_customer", "description": "Find a customer.", "input_schema": {"type": "object"}}
    ]
    async with api.client() as client:
        message = await client.messages.create(
            model=MODEL, max_tokens=64, messages=HELLO, tools=tools, tool_choice={"type": "any"}
        )

    assert message.stop_reason == "tool_use"
    [block] = message.content
    assert isinstance(block, ToolUseBlock)
    assert (block.id, block.name, block.input) == ("toolu_01", "lookup_customer", {"email": "a@example.com"})
    assert api.requests[0].body["tools"] == tools
    assert api.requests[0].body["tool_choice"] == {"type": "any"}


async def test_refusal_reply_has_stop_reason_refusal(api: LoopbackAnthropic) -> None:
    api.script(refusal())
    async with api.client() as client:
        message = await client.messages.create(model=MODEL, max_tokens=64, messages=HELLO)

    assert message.stop_reason == "refusal"
    assert message.stop_details is not None and message.stop_details.type == "refusal"
    assert isinstance(message.content[0], TextBlock)


async def test_rate_limit_is_retried_then_succeeds(api: LoopbackAnthropic) -> None:
    api.script(
        error(429, "rate_limit_error", "slow down", headers=FAST_RETRY), text("ok", input_tokens=1, output_tokens=1)
    )
    with anyio.fail_after(10):
        async with api.client(max_retries=2) as client:
            message = await client.messages.create(model=MODEL, max_tokens=64, messages=HELLO)

    assert message.content == [TextBlock(type="text", text="ok", citations=None)]
    assert [r.headers["x-stainless-retry-count"] for r in api.requests] == ["0", "1"]
    assert api.requests[0].body == api.requests[1].body


async def test_rate_limit_without_retries_raises_rate_limit_error(api: LoopbackAnthropic) -> None:
    api.script(error(429, "rate_limit_error", "slow down", headers={"retry-after": "1"}))
    async with api.client(max_retries=0) as client:
        with pytest.raises(anthropic.RateLimitError) as caught:
            await client.messages.create(model=MODEL, max_tokens=64, messages=HELLO)

    failure = caught.value
    assert (failure.status_code, failure.type, failure.api_message) == (429, "rate_limit_error", "slow down")
    assert failure.response.headers["retry-after"] == "1"


async def test_500_raises_internal_server_error_without_retries(api: LoopbackAnthropic) -> None:
    api.script(error(500, "api_error", "boom"))
    async with api.client(max_retries=0) as client:
        with pytest.raises(anthropic.InternalServerError) as caught:
            await client.messages.create(model=MODEL, max_tokens=64, messages=HELLO)

    assert type(caught.value) is anthropic.InternalServerError
    assert caught.value.body == {"type": "error", "error": {"type": "api_error", "message": "boom"}}
    assert len(api.requests) == 1


async def test_529_raises_overloaded_error_a_kind_of_internal_server_error(api: LoopbackAnthropic) -> None:
    api.script(error(529, "overloaded_error", "Overloaded"))
    async with api.client(max_retries=0) as client:
        with pytest.raises(anthropic.OverloadedError) as caught:
            await client.messages.create(model=MODEL, max_tokens=64, messages=HELLO)

    assert isinstance(caught.value, anthropic.InternalServerError)
    assert (caught.value.status_code, caught.value.type) == (529, "overloaded_error")
    assert len(api.requests) == 1


async def test_malformed_json_body_raises_json_decode_error(api: LoopbackAnthropic) -> None:
    api.script(malformed())
    async with api.client(max_retries=2) as client:
        with pytest.raises(json.JSONDecodeError):
            await client.messages.create(model=MODEL, max_tokens=64, messages=HELLO)

    assert len(api.requests) == 1  # not retried


async def test_system_blocks_with_cache_control_arrive_as_sent(api: LoopbackAnthropic) -> None:
    system: list[anthropic.types.TextBlockParam] = [
        {"type": "text", "text": "You triage support mail."},
        {"type": "text", "text": "Policy: be brief.", "cache_control": {"type": "ephemeral"}},
    ]
    api.script(text("ok", input_tokens=1, output_tokens=1, cache_read_input_tokens=900))
    async with api.client() as client:
        message = await client.messages.create(model=MODEL, max_tokens=64, messages=HELLO, system=system)

    assert api.requests[0].body["system"] == system
    assert message.usage.cache_read_input_tokens == 900


async def test_beta_messages_and_the_beta_query_are_served(api: LoopbackAnthropic) -> None:
    api.script(text("ok", input_tokens=1, output_tokens=1), text("ok", input_tokens=1, output_tokens=1))
    async with api.client() as client:
        beta = await client.beta.messages.create(
            model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "hello"}]
        )
        plain = await client.messages.create(model=MODEL, max_tokens=64, messages=HELLO, extra_query={"beta": "true"})

    assert beta.content[0].type == "text" and plain.content[0].type == "text"
    # SDK 2.12's beta client posts to /v1/messages without `?beta=true`; older SDKs added it.
    assert [(r.path, r.query) for r in api.requests] == [("/v1/messages", ""), ("/v1/messages", "beta=true")]


async def test_unscripted_request_fails_at_once_even_with_retries(api: LoopbackAnthropic) -> None:
    async with api.client(max_retries=2) as client:
        with pytest.raises(anthropic.InternalServerError, match="loopback: no scripted reply"):
            await client.messages.create(model=MODEL, max_tokens=64, messages=HELLO)

    assert len(api.requests) == 1


async def test_leaving_with_unused_replies_fails() -> None:
    with pytest.raises(AssertionError, match="1 scripted replies were never requested"):
        async with LoopbackAnthropic() as server:
            server.script(text("never asked for", input_tokens=1, output_tokens=1))


async def test_base_url_is_only_available_while_running() -> None:
    server = LoopbackAnthropic()
    with pytest.raises(RuntimeError, match="not running"):
        _ = server.base_url
    async with server:
        assert server.base_url.startswith("http://127.0.0.1:")
