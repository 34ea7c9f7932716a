"""`deskhand tenant check`: errors with their field and exit 1; warnings (confusable categories on their own
examples, escalating categories without examples, ordinary examples that read as risk reports, templates without
greeting or signature, rules that never match) with exit 0; `-o json` for tooling."""

from __future__ import annotations

import copy
import json
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import given
from hypothesis import strategies as st

from coordinator._tenant_check import check_tenant_file
from schemas import ConfigError, load_tenant_file
from tests.conftest import REPO
from tests.coordinator.cli_helpers import cli
from tests.mcp_servers.fuzzing import fuzz_settings

# A tenant of a kind the examples are not (a bicycle repair chain), written for these tests.
TENANT: dict[str, Any] = {
    "tenant": "spokes",
    "name": "Spokes Cycle Repair",
    "policy": {
        "categories": [
            {
                "name": "repairs",
                "description": "Booking a bike in for repair, repair quotes, parts on order and collection times",
                "queue": "workshop",
                "examples": [
                    "Can I book my road bike in for a gear service next week?",
                    "How much would a new rear wheel cost fitted?",
                    "Is my bike ready to collect? You said the part was on order.",
                ],
                "keywords": ["repair", "service", "collect", "quote"],
            },
            {
                "name": "rentals",
                "description": "Hiring bikes by the day or week: availability, deposits, helmets and returns",
                "queue": "front-desk",
                "examples": [
                    "Do you have two e-bikes free to hire this Saturday?",
                    "How much is the deposit for a week's hire?",
                    "Can we return the hire bikes at the other shop?",
                ],
                "keywords": ["hire", "rent", "deposit", "e-bike"],
            },
            {
                "name": "safety",
                "description": "A bike we repaired failed in use, or someone was hurt",
                "queue": "manager",
                "keywords": ["injured", "brakes failed", "accident"],
            },
        ],
        "priorities": [{"priority": "P2", "category": "safety"}, {"priority": "P3"}],
        "escalate": {"categories": ["safety"]},
        "drafting": {
            "signature": "Spokes Workshop Team",
            "templates": {"default": "Thanks for getting in touch with Spokes about your bike."},
        },
    },
}


def write(tmp_path: Path, data: dict[str, Any], name: str = "spokes.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_a_sound_file_passes_with_its_warnings(tmp_path: Path) -> None:
    result = cli("-o", "json", "tenant", "check", str(write(tmp_path, TENANT)))
    assert result.exit_code == 0, result.stderr
    [report] = json.loads(result.stdout)
    assert report["ok"] and report["tenant"] == "spokes"
    accuracy = report["accuracy"]
    assert 0 <= accuracy["repairs"] <= 1 and 0 <= accuracy["rentals"] <= 1 and accuracy["safety"] is None
    warned = {(f["field"], f["message"].split(":")[0]) for f in report["findings"]}
    assert ("policy.escalate.categories", "'safety' always goes to a person but has no examples") in warned
    fields = [f["field"] for f in report["findings"]]
    assert fields.count("policy.drafting.templates.default") == 2  # no greeting, no signature


def test_a_planted_confusable_pair_is_reported(tmp_path: Path) -> None:
    data = copy.deepcopy(TENANT)
    repairs, rentals = data["policy"]["categories"][0], data["policy"]["categories"][1]
    # rentals written in repairs' words: its own examples now read as repairs
    rentals["description"] = repairs["description"]
    rentals["keywords"] = repairs["keywords"]
    rentals["examples"] = [e.replace("hire", "repair") for e in repairs["examples"]]
    result = cli("-o", "json", "tenant", "check", str(write(tmp_path, data)))
    [report] = json.loads(result.stdout)
    assert result.exit_code == 0 and report["ok"]
    pairs = {(c["category"], c["read_as"]) for c in report["confused"]}
    assert pairs & {("rentals", "repairs"), ("repairs", "rentals")}
    assert any(
        f["field"].startswith("policy.categories[") and "confused with" in f["message"] for f in report["findings"]
    )


def test_a_rule_that_never_matches_is_a_warning(tmp_path: Path) -> None:
    data = copy.deepcopy(TENANT)
    data["policy"]["priorities"] = [
        {"priority": "P2", "when_any": ["broken"]},
        {"priority": "P1", "when_any": ["broken frame"], "category": "safety"},
        {"priority": "P3"},
    ]
    [report] = json.loads(cli("-o", "json", "tenant", "check", str(write(tmp_path, data))).stdout)
    assert any(f["field"] == "policy.priorities[1]" and "never matches" in f["message"] for f in report["findings"])


def test_a_planted_error_names_its_field_and_exits_1(tmp_path: Path) -> None:
    data = copy.deepcopy(TENANT)
    del data["policy"]["categories"][1]["queue"]
    good = write(tmp_path, TENANT, "good.yaml")
    bad = write(tmp_path, data, "bad.yaml")
    result = cli("tenant", "check", str(good), str(bad))
    assert result.exit_code == 1
    assert "errors" in result.stdout and "policy.categories" in result.stdout and "queue" in result.stdout
    as_json = json.loads(cli("-o", "json", "tenant", "check", str(bad)).stdout)
    assert as_json[0]["ok"] is False and as_json[0]["findings"][0]["level"] == "error"


def test_a_file_that_is_not_utf8_is_an_error_naming_where_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "latin.yaml"
    path.write_bytes(yaml.safe_dump(TENANT, allow_unicode=True).encode("utf-8") + "# £5\n".encode("cp1252"))
    result = cli("-o", "json", "tenant", "check", str(path))
    assert result.exit_code == 1
    [report] = json.loads(result.stdout)
    [finding] = report["findings"]
    assert finding["level"] == "error" and "not UTF-8 text: byte 0xa3 at line" in finding["message"]


def test_an_ordinary_example_that_reads_as_a_risk_report_is_a_warning(tmp_path: Path) -> None:
    data = copy.deepcopy(TENANT)
    repairs = data["policy"]["categories"][0]
    repairs["examples"] = [*repairs["examples"], "The brakes failed on the way home after the service."]
    [report] = json.loads(cli("-o", "json", "tenant", "check", str(write(tmp_path, data))).stdout)
    [warned] = [f for f in report["findings"] if f["field"] == "policy.categories[0].examples[3]"]
    assert warned["level"] == "warning" and "always goes to a person" in warned["message"]
    assert "'safety' covers" in warned["message"]
    [clean] = json.loads(cli("-o", "json", "tenant", "check", str(write(tmp_path, TENANT))).stdout)
    assert not any(".examples[" in f["field"] or ".keywords[" in f["field"] for f in clean["findings"])


def test_an_ordinary_example_that_says_an_escalating_keyword_by_its_root_is_a_warning(tmp_path: Path) -> None:
    """A riding school's security keyword `hacked` is also every hack (a ride out) its customers book."""
    data = copy.deepcopy(TENANT)
    data["policy"]["categories"][2]["keywords"] = [*data["policy"]["categories"][2]["keywords"], "hacked"]
    rentals = data["policy"]["categories"][1]
    rentals["examples"] = [*rentals["examples"], "Can we book a hack along the river on Sunday?"]
    [report] = json.loads(cli("-o", "json", "tenant", "check", str(write(tmp_path, data))).stdout)
    [warned] = [f for f in report["findings"] if f["field"] == "policy.categories[1].examples[3]"]
    assert warned["level"] == "warning" and "'hacked', a keyword of 'safety'" in warned["message"]
    assert "always goes to a person" in warned["message"]


def test_it_shows_which_escalating_category_each_kind_of_risk_report_goes_to(tmp_path: Path) -> None:
    [report] = json.loads(cli("-o", "json", "tenant", "check", str(write(tmp_path, TENANT))).stdout)
    risks = report["risks"]
    assert risks["danger to someone's health or safety"] == "safety"  # "hurt", "injured": its own words
    assert risks["legal action, a regulator or a payment disputed with the bank"] is None  # nothing covers it
    shown = cli("tenant", "check", str(write(tmp_path, TENANT))).stdout
    assert "danger to someone's health or safety → safety" in shown


def test_read_shows_how_triage_reads_one_email_by_the_file(tmp_path: Path) -> None:
    tenant = str(write(tmp_path, TENANT))
    report = tmp_path / "report.json"
    report.write_text(
        json.dumps(
            {
                "from": "rider@example.org",
                "subject": "Collection",
                "body": "Picked my bike up yesterday. On the way home the brakes did nothing and I came off.",
            }
        ),
        encoding="utf-8",
    )
    read = json.loads(cli("-o", "json", "tenant", "read", tenant, str(report)).stdout)
    assert read["tenant"] == "spokes" and read["category"] == "safety" and read["escalate"]
    assert [r["category"] for r in read["risks"]] == ["safety"] and read["priority"] == "P2"
    question = tmp_path / "question.json"
    question.write_text(
        json.dumps({"from": "rider@example.org", "subject": "Service", "body": "Can I book my bike in for a service?"}),
        encoding="utf-8",
    )
    shown = cli("tenant", "read", tenant, str(question))
    assert shown.exit_code == 0 and "category repairs" in shown.stdout and "completed by triage" in shown.stdout


def test_read_names_the_field_of_a_malformed_email(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"from": 3, "subject": "x", "body": "y"}), encoding="utf-8")
    result = cli("tenant", "read", str(write(tmp_path, TENANT)), str(bad))
    assert result.exit_code != 0 and "from" in result.stderr and "Traceback" not in result.stderr


def _fields(data: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into a tenant file's data (a key or an index at each step)."""
    inner = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else ()
    return [at, *(path for key, value in inner for path in _fields(value, (*at, key)))]


WHEELHOUSE: dict[str, Any] = yaml.safe_load((REPO / "tests/data/tenants/wheelhouse.yaml").read_text(encoding="utf-8"))
ODD_TEXT = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", " ", "\u200b", "e\u0301", "\u202erlo", "{answer}", "{", "{0}", "{signature.__class__}", "%s"]),
    st.text(min_size=1, max_size=3).map(lambda s: s * 3000),
)
ANY_VALUE = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), ODD_TEXT),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(ODD_TEXT, inner, max_size=3),
    max_leaves=12,
)


@fuzz_settings(max_examples=60)
@given(st.data())
def test_any_field_of_a_tenant_file_replaced_by_anything_is_a_finding_never_a_crash(data: st.DataObject) -> None:
    """Odd unicode, wrong types, deep nesting and huge text in any field of a sound file: the file loads, or its
    error names the file; and `tenant check` of what loads runs to its end."""
    tenant = copy.deepcopy(WHEELHOUSE)
    for _ in range(data.draw(st.integers(1, 3))):
        *parents, last = data.draw(st.sampled_from([p for p in _fields(tenant) if p]))
        holder = tenant
        for key in parents:
            holder = holder[key]
        holder[last] = data.draw(ANY_VALUE)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzzed.yaml"
        path.write_text(yaml.safe_dump(tenant, allow_unicode=True), encoding="utf-8")
        try:
            load_tenant_file(path)
        except ConfigError as refused:
            assert str(path) in refused.message
        result = check_tenant_file(path)
        assert result.findings or result.tenant == tenant.get("tenant")


def test_the_leave_one_out_tells_its_progress_example_by_example(tmp_path: Path) -> None:
    told: list[tuple[int, int]] = []
    result = check_tenant_file(write(tmp_path, TENANT), lambda done, total: told.append((done, total)))
    examples = sum(len(c.get("examples", [])) for c in TENANT["policy"]["categories"] if len(c.get("examples", [])) > 1)
    assert told == [(n, examples) for n in range(1, examples + 1)]
    assert result.accuracy["safety"] is None  # no examples: nothing to leave out, nothing told
