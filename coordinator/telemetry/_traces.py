"""The coordinator's spans: a run (opened where it is submitted), each handoff (continued from the run's stored
`traceparent`, in whichever worker claims it), each judgment of the model and each tool call. The MCP SDK adds a
client span for each try of a call under them, and the Anthropic SDK one for each API call;
`mcp_servers.kit.setup_tracing` sets up where they go. With traces off they are the OpenTelemetry API's no-ops.

A failure sets `error.type` (a `DeskhandError`'s code, else the exception's class) and the error status, but no
message: messages may quote what a customer wrote or a tool was given, which spans do not carry."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import AttributeValue

from mcp_servers.kit import RUN_ID, SPECIALIST, TENANT
from schemas import DeskhandError, Handoff
from specialists.kit import Usage

_tracer = trace.get_tracer("deskhand.coordinator")
_w3c = TraceContextTextMapPropagator()
"""The run's `traceparent` is kept in W3C form whatever `OTEL_PROPAGATORS` says: the servers' audit reads it."""


@contextmanager
def _span(
    name: str,
    attributes: Mapping[str, AttributeValue],
    *,
    parent: Context | None = None,
    kind: trace.SpanKind = trace.SpanKind.INTERNAL,
    root: bool = False,
) -> Iterator[trace.Span]:
    """A span of the coordinator. Skipped (yielding the invalid span) when it would record nothing: a `root` span
    (of a run, a handoff: a new trace, or one continued from the store) when no tracer provider is set up, any
    other when its parent records nothing: the API's no-op span costs far more than this check."""
    if not (_set_up() if root else trace.get_current_span().is_recording()):
        yield trace.INVALID_SPAN
        return
    with _tracer.start_as_current_span(
        name, context=parent, kind=kind, attributes=attributes, record_exception=False, set_status_on_exception=False
    ) as span:
        try:
            yield span
        except Exception as exc:
            span.set_attribute("error.type", exc.code if isinstance(exc, DeskhandError) else type(exc).__qualname__)
            span.set_status(trace.StatusCode.ERROR)
            raise


def _set_up() -> bool:
    return not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)


def _run_context(traceparent: str) -> Context | None:
    return _w3c.extract({"traceparent": traceparent}) if traceparent else None


@contextmanager
def run_span(tenant: str, workflow: str) -> Iterator[trace.Span]:
    """The root span of a run, around its intake: the run's stored `traceparent` (`current_traceparent`, read
    inside it) names it, so every handoff of the run, in any worker and however much later, is its child."""
    attributes = {TENANT: tenant, "deskhand.workflow": workflow}
    with _span(f"run {workflow}" if workflow else "run", attributes, root=True) as span:
        yield span


def mark_run(span: trace.Span, run_id: str, new: bool) -> None:
    """The run a run span started (or found already started: the same event submitted again)."""
    if span.is_recording():
        span.set_attributes({RUN_ID: run_id, "deskhand.run.new": new})


def current_traceparent() -> str | None:
    """The W3C `traceparent` of the current span, or None when there is none (traces off)."""
    carrier: dict[str, str] = {}
    _w3c.inject(carrier)
    return carrier.get("traceparent")


def trace_id_of(traceparent: str) -> str:
    """The 32-hex trace id of a W3C `traceparent`, what a tracing backend finds the trace by ("" if not one)."""
    context = trace.get_current_span(_w3c.extract({"traceparent": traceparent})).get_span_context()
    return trace.format_trace_id(context.trace_id) if context.is_valid else ""


@contextmanager
def handoff_span(handoff: Handoff) -> Iterator[trace.Span]:
    """A handoff's span, `invoke_agent {specialist}` (GenAI semantic conventions), a child of its run's span."""
    if not _set_up():  # before reading the run's traceparent
        yield trace.INVALID_SPAN
        return
    attributes: dict[str, AttributeValue] = {
        TENANT: handoff.tenant,
        RUN_ID: handoff.run_id,
        SPECIALIST: handoff.recipient,
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": handoff.recipient,
        "deskhand.handoff.attempt": handoff.attempt,
    }
    with _span(f"invoke_agent {handoff.recipient}", attributes, parent=_run_context(handoff.trace), root=True) as span:
        yield span


@contextmanager
def approved_call_span(tenant: str, run_id: str, tool: str, traceparent: str) -> Iterator[trace.Span]:
    """An approved call, made when a person approves it (by the API or the CLI): a child of its run's span, so
    the call's server span and its audit row keep the run's trace id."""
    attributes = {TENANT: tenant, RUN_ID: run_id, "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": tool}
    with _span(f"approved_call {tool}", attributes, parent=_run_context(traceparent), root=True) as span:
        yield span


@contextmanager
def tenant_span(tenant: str, name: str) -> Iterator[trace.Span]:
    """A span for work of one tenant outside any run (a worker reading its policy or inbox at start)."""
    with _span(name, {TENANT: tenant}, root=True) as span:
        yield span


@contextmanager
def tool_span(tool: str) -> Iterator[trace.Span]:
    """A specialist's tool call (`execute_tool {server.tool}`), around its retries: the MCP SDK's client span of
    each try is its child."""
    attributes = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": tool}
    with _span(f"execute_tool {tool}", attributes) as span:
        yield span


@contextmanager
def judgment_span(judgment: str, model: str, tier: str) -> Iterator[trace.Span]:
    """One judgment asked of the model (`chat {model}`), with its tier; `record_usage` adds its tokens."""
    attributes = {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": model,
        "deskhand.judgment": judgment,
        "deskhand.model.tier": tier,
    }
    with _span(f"chat {model}", attributes, kind=trace.SpanKind.CLIENT) as span:
        yield span


def record_usage(span: trace.Span, usage: Usage) -> None:
    """A generation's model, tokens and cost on its judgment's span."""
    if span.is_recording():
        span.set_attributes(
            {
                "gen_ai.response.model": usage.model,
                "gen_ai.usage.input_tokens": usage.input_tokens,
                "gen_ai.usage.output_tokens": usage.output_tokens,
                "gen_ai.usage.cache_creation.input_tokens": usage.cache_creation_tokens,
                "gen_ai.usage.cache_read.input_tokens": usage.cache_read_tokens,
                "deskhand.cost_usd": usage.cost_usd,
            }
        )
