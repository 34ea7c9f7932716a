"""One OpenTelemetry trace from the email to the rows it wrote: the four servers and the coordinator as processes
of their own, exporting over OTLP/HTTP to a receiver this test runs on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from coordinator.cli._processes import running_servers
from coordinator.store import Store
from tests.coordinator.cli_helpers import ACME, deskhand, init_on_free_ports

MARK = "Quokka-7f3e"
"""In the email's subject and body: it must reach no span."""


class Receiver:
    """An OTLP/HTTP trace receiver: every span exported to it, flattened, with its service."""

    def __init__(self) -> None:
        self.spans: list[dict[str, Any]] = []
        self.raw: list[bytes] = []
        self.changed = threading.Condition()

    def take(self, body: bytes) -> None:
        request = ExportTraceServiceRequest.FromString(body)
        spans = []
        for resource_spans in request.resource_spans:
            resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    spans.append(
                        {
                            "service": resource.get("service.name"),
                            "scope": scope_spans.scope.name,
                            "name": span.name,
                            "kind": span.kind,
                            "trace_id": span.trace_id.hex(),
                            "span_id": span.span_id.hex(),
                            "parent_id": span.parent_span_id.hex(),
                            "attributes": {a.key: _value(a.value) for a in span.attributes},
                        }
                    )
        with self.changed:
            self.raw.append(body)
            self.spans.extend(spans)
            self.changed.notify_all()

    def wait_for(self, done: Any, timeout: float) -> list[dict[str, Any]]:
        """The spans once `done(spans)` holds (fails after `timeout` seconds)."""
        with self.changed:
            assert self.changed.wait_for(lambda: done(self.spans), timeout), sorted(
                {(s["service"], s["name"]) for s in self.spans}
            )
            return list(self.spans)


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


@contextmanager
def receiving() -> Iterator[tuple[Receiver, str]]:
    receiver = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if self.path == "/v1/traces":
                receiver.take(body)
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="otlp-receiver")
    thread.start()
    try:
        yield receiver, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


SERVICES = {"deskhand-coordinator", "deskhand-crm", "deskhand-helpdesk", "deskhand-knowledge", "deskhand-mailbox"}


@pytest.mark.slow  # four servers and the coordinator started as processes
def test_one_trace_spans_the_coordinator_and_the_four_servers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = init_on_free_ports(tmp_path / "home", ACME)
    email = tmp_path / "email.json"
    email.write_text(
        json.dumps(
            {
                "from": "priya.raman@brightloop.example.com",
                "subject": f"Charged twice {MARK}",
                "body": f"We were charged twice ({MARK}). Please refund the duplicate $80.00 charge.",
            }
        ),
        encoding="utf-8",
    )
    with receiving() as (receiver, endpoint):
        otel = {"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_BSP_SCHEDULE_DELAY": "200"}
        for name, value in otel.items():
            monkeypatch.setenv(name, value)  # the servers' processes inherit them
        with running_servers(home):
            submitted = deskhand("--home", str(home.path), "-o", "json", "submit", str(email), "--tenant", "acme")
            assert submitted.returncode == 0, submitted.stderr[-2000:]
            run_id = json.loads(submitted.stdout)["run"]
            worked = deskhand("--home", str(home.path), "work", "--until-idle")
            assert worked.returncode == 0, worked.stderr[-2000:]
            store = Store(home.coordinator_db)
            try:
                (approval,) = store.approvals(run_id=run_id)  # the refund's credit waits for a person
                approve = ("approvals", "approve", approval.id, "--hash", approval.args_hash)
                approved = deskhand("--home", str(home.path), *approve)
                assert approved.returncode == 0, approved.stderr[-2000:]
                run = store.run(run_id)
            finally:
                store.dispose()
        # the servers flush their spans as they exit; the coordinator's commands have exited already
        assert run.status == "completed"
        trace_id = run.trace.split("-")[1]

        def arrived(spans: list[dict[str, Any]]) -> bool:
            ours = [s for s in spans if s["trace_id"] == trace_id]
            approved_call = any(s["name"].startswith("approved_call ") for s in ours)
            return {s["service"] for s in ours} >= SERVICES and approved_call

        spans = receiver.wait_for(arrived, timeout=60)
        raw = b"".join(receiver.raw)

    in_trace = [s for s in spans if s["trace_id"] == trace_id]
    by_id = {s["span_id"]: s for s in in_trace}
    # the run's root span is the one its stored traceparent names
    root = by_id[run.trace.split("-")[2]]
    assert root["name"] == "run support-inbox" and root["parent_id"] == ""
    assert root["service"] == "deskhand-coordinator" and root["attributes"]["deskhand.run_id"] == run_id
    # each handoff is its child; its judgments and tool calls (execute_tool, around the MCP client spans) are its own
    handoffs = [s for s in in_trace if s["name"].startswith("invoke_agent ")]
    assert {h["attributes"]["deskhand.specialist"] for h in handoffs} >= {"triage", "drafting", "compliance"}
    assert all(h["parent_id"] == root["span_id"] for h in handoffs)
    judgments = [s for s in in_trace if s["name"].startswith("chat ")]
    assert judgments and all(by_id[j["parent_id"]]["name"].startswith("invoke_agent ") for j in judgments)
    assert all("gen_ai.usage.input_tokens" in j["attributes"] for j in judgments)
    # every server span is the child of a coordinator client span, and each tool's transaction of its server span
    served = [s for s in in_trace if s["service"] != "deskhand-coordinator" and s["scope"] == "mcp-python-sdk"]
    assert {s["service"] for s in served} == SERVICES - {"deskhand-coordinator"}
    for span in served:
        parent = by_id[span["parent_id"]]
        assert parent["service"] == "deskhand-coordinator" and parent["name"].startswith("MCP send ")
        assert parent["attributes"]["mcp.method.name"] == span["attributes"]["mcp.method.name"]
    for send in (s for s in in_trace if s["name"].startswith("MCP send tools/call ")):  # each try of a tool call
        tool = by_id[send["parent_id"]]  # a specialist's tool call, or the approved one (below)
        kind, name = tool["name"].split(" ", 1)
        assert name == tool["attributes"]["gen_ai.tool.name"] and name.endswith("." + send["name"].rsplit(" ", 1)[1])
        assert (kind == "execute_tool" and by_id[tool["parent_id"]] in handoffs) or kind == "approved_call"
    calls = [s for s in served if s["attributes"]["mcp.method.name"] == "tools/call"]
    assert all(c["attributes"]["deskhand.run_id"] == run_id and "gen_ai.tool.name" in c["attributes"] for c in calls)
    transactions = [s for s in in_trace if s["name"].startswith("transaction ")]
    assert transactions and all(by_id[t["parent_id"]] in calls for t in transactions)
    # the call a person approved later, from another process, is in the run's trace too, down to its transaction
    (approved_call,) = [s for s in in_trace if s["name"].startswith("approved_call ")]
    assert approved_call["parent_id"] == root["span_id"]
    assert approved_call["attributes"]["gen_ai.tool.name"] == "crm.issue_credit"
    (credit,) = [s for s in calls if s["attributes"]["gen_ai.tool.name"] == "issue_credit"]
    assert by_id[by_id[credit["parent_id"]]["parent_id"]] == approved_call
    assert any(t["parent_id"] == credit["span_id"] for t in transactions)
    # the tenant on every span (the run's, and the worker's reading of the policies at start); the email's text on none
    assert all(s["attributes"].get("deskhand.tenant") == "acme" for s in spans), [
        (s["service"], s["name"]) for s in spans if s["attributes"].get("deskhand.tenant") != "acme"
    ]
    assert MARK.encode() not in raw
