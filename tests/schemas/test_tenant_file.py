"""Tenant files: the examples load, and every mistake names the file, the field and what was expected."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from schemas import ConfigError, TenantFile, load_tenant_file
from tests.conftest import EXAMPLE_TENANTS, REPO


def write(tmp_path: Path, data: object, name: str = "tenant.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data) if not isinstance(data, str) else data, encoding="utf-8")
    return path


def minimal() -> dict[str, object]:
    return {
        "tenant": "acme",
        "name": "Acme",
        "policy": {
            "categories": [{"name": "billing", "queue": "billing", "description": "Invoices and charges"}],
            "priorities": [{"priority": "P1", "when_any": ["outage"]}, {"priority": "P3"}],
            "drafting": {
                "signature": "Acme Support",
                "templates": {"default": "Hi {customer_name},\n{answer}\n{signature}"},
            },
        },
    }


def test_example_tenants_are_realistic() -> None:
    files = [load_tenant_file(p) for p in sorted(EXAMPLE_TENANTS.glob("*.yaml"))]
    assert {f.tenant for f in files} == {"acme", "northwind"}
    for f in files:
        assert len(f.policy.categories) >= 6
        assert all(c.description and c.examples for c in f.policy.categories)
        assert len(f.customers) >= 6 and len(f.articles) >= 8
        assert f.policy.priorities[-1].is_default
    emails = [c.email for f in files for c in f.customers]
    assert len(emails) == len(set(emails))


def test_minimal_file_loads_with_defaults(tmp_path: Path) -> None:
    tenant = load_tenant_file(write(tmp_path, minimal()))
    assert isinstance(tenant, TenantFile)
    assert tenant.policy.escalate.below_confidence == 0.55
    assert tenant.policy.compliance.block_card_numbers is True


@pytest.mark.parametrize(
    ("change", "field", "expected"),
    [
        (lambda d: d["policy"]["categories"][0].pop("queue"), "policy.categories[0].queue", "Field required"),
        (lambda d: d.update(tenant="Acme Corp"), "tenant", "expected a tenant id: a-z first"),
        (lambda d: d["policy"]["priorities"].append({"priority": "P9"}), "policy.priorities[2].priority", "'P1'"),
        (
            lambda d: d["policy"].update(approval_required_tools=["crm.delete_everything"]),
            "policy.approval_required_tools",
            "unknown tool 'crm.delete_everything'",
        ),
        (
            lambda d: d["policy"].update(escalate={"categories": ["security"]}),
            "policy.escalate.categories[0]",
            "'security' is not a category",
        ),
        (lambda d: d["policy"]["priorities"].reverse(), "policy.priorities[1]", "last rule is the default"),
        (
            lambda d: d.update(customers=[{"id": "C-1", "email": "nope", "name": "N", "account": "A-1"}]),
            "customers[0].email",
            "expected an email address (got 'nope')",
        ),
        (lambda d: d.update(colour="blue"), "colour", "Extra inputs are not permitted"),
        (
            lambda d: d["policy"]["drafting"]["templates"].update(billing="Hi {name}"),
            "policy.drafting.templates",
            "unknown placeholder",
        ),
        (
            lambda d: d["policy"]["categories"][0].update(description="x" * 4_001),
            "policy.categories[0].description",
            "expected text of at most 4,000 characters (got 4,001)",
        ),
        (
            lambda d: d["policy"]["categories"][0].update(queue="Billing Team"),
            "policy.categories[0].queue",
            "expected a name: a-z, 0-9, - and _ (got 'Billing Team')",
        ),
        (
            lambda d: d["policy"].update(plans=["Gold"]),
            "policy.plans[0]",
            "expected a name: a-z, 0-9, - and _ (got 'Gold')",
        ),
        (
            lambda d: d.update(articles=[{"id": "KB 1", "title": "T", "body": "B"}]),
            "articles[0].id",
            "expected an id: letters, digits, _ . : - (got 'KB 1')",
        ),
        (
            lambda d: d["policy"]["drafting"].update(signature=""),
            "policy.drafting.signature",
            "expected text of at least 1 character(s)",
        ),
    ],
)
def test_bad_tenant_file_names_file_field_and_expectation(tmp_path: Path, change, field: str, expected: str) -> None:  # type: ignore[no-untyped-def]
    data = minimal()
    change(data)
    path = write(tmp_path, data)
    with pytest.raises(ConfigError) as info:
        load_tenant_file(path)
    assert info.value.code == "config_error"
    assert str(path) in info.value.message
    assert info.value.field == field
    assert f"{path}: {field}: " in info.value.message and expected in info.value.message


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "tenant: acme\npolicy: [unclosed\n")
    with pytest.raises(ConfigError) as info:
        load_tenant_file(path)
    assert info.value.code == "config_error"
    assert str(path) in info.value.message and "line" in info.value.message  # names the file and the line


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_tenant_file(tmp_path / "nope.yaml")
    assert info.value.code == "config_error"
    assert "nope.yaml" in info.value.message  # names the file


def test_a_file_saved_in_another_encoding_names_the_byte_line_and_column(tmp_path: Path) -> None:
    data = minimal()
    data["name"] = "Acme Café"
    text = yaml.safe_dump(data, allow_unicode=True) + "# prices: £5 a month\n"
    path = tmp_path / "windows.yaml"
    path.write_bytes(text.encode("cp1252"))  # what an editor on Windows may save
    with pytest.raises(ConfigError) as info:
        load_tenant_file(path)
    lines = text.splitlines()
    cafe = next(n for n, line in enumerate(lines, 1) if "Café" in line)
    column = lines[cafe - 1].index("é") + 1
    assert info.value.message == (
        f"{path}: the tenant file is not UTF-8 text: byte 0xe9 at line {cafe}, column {column} (save it as UTF-8)"
    )


def test_a_list_instead_of_a_mapping_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_tenant_file(write(tmp_path, "- tenant: acme\n"))
    assert info.value.code == "config_error"
    assert "expected a mapping" in info.value.message  # says what was expected


def test_a_file_without_plans_keeps_the_default_plans(tmp_path: Path) -> None:
    data = minimal()
    data["customers"] = [{"id": "C-1", "email": "a@example.com", "name": "A", "account": "A-1", "plan": "enterprise"}]
    data["accounts"] = [{"id": "A-2", "name": "Two"}]
    tenant = load_tenant_file(write(tmp_path, data))
    assert tenant.policy.plan_names == ["free", "starter", "pro", "business", "enterprise"]
    assert tenant.customers[0].plan == "enterprise"
    assert tenant.accounts[0].plan == "starter"


def test_declared_plans_are_the_business_names_and_the_first_is_the_default(tmp_path: Path) -> None:
    data = minimal()
    policy = data["policy"]
    assert isinstance(policy, dict)
    policy["plans"] = ["pay-as-you-go", "fleet_gold"]
    policy["priorities"] = [{"priority": "P2", "plan": "fleet_gold"}, {"priority": "P3"}]
    data["customers"] = [
        {"id": "C-1", "email": "a@example.com", "name": "A", "account": "A-1", "plan": "fleet_gold"},
        {"id": "C-2", "email": "b@example.com", "name": "B", "account": "A-2"},
    ]
    tenant = load_tenant_file(write(tmp_path, data))
    assert [c.plan for c in tenant.customers] == ["fleet_gold", "pay-as-you-go"]
    assert {a.id: a.plan for a in tenant.all_accounts()} == {"A-1": "fleet_gold", "A-2": "pay-as-you-go"}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (
            lambda d: d["policy"]["priorities"].insert(1, {"priority": "P2", "plan": "gold"}),
            "policy.priorities[1].plan",
        ),
        (
            lambda d: d.update(
                customers=[{"id": "C-1", "email": "a@b.co", "name": "A", "account": "A-1", "plan": "gold"}]
            ),
            "customers[0].plan",
        ),
        (
            lambda d: d.update(accounts=[{"id": "A-1", "name": "A"}, {"id": "A-2", "name": "B", "plan": "gold"}]),
            "accounts[1].plan",
        ),
    ],
)
def test_a_plan_that_is_not_declared_names_the_field_and_the_declared_plans(tmp_path: Path, change, field: str) -> None:  # type: ignore[no-untyped-def]
    data = minimal()
    data["policy"]["plans"] = ["basic", "fleet"]  # type: ignore[index]
    change(data)
    path = write(tmp_path, data)
    with pytest.raises(ConfigError) as info:
        load_tenant_file(path)
    assert info.value.field == field
    assert str(path) in info.value.message
    assert "'gold' is not declared" in info.value.message and "['basic', 'fleet']" in info.value.message


def test_an_undeclared_plan_in_a_file_without_plans_names_the_default_plans(tmp_path: Path) -> None:
    data = minimal()
    data["policy"]["priorities"].insert(0, {"priority": "P1", "plan": "platinum"})  # type: ignore[index]
    with pytest.raises(ConfigError) as info:
        load_tenant_file(write(tmp_path, data))
    assert info.value.field == "policy.priorities[0].plan"
    assert "the default plans" in info.value.message and "'enterprise'" in info.value.message


def test_a_customer_without_an_account_has_one_of_their_own(tmp_path: Path) -> None:
    data = minimal()
    data["customers"] = [
        {"id": "C-1", "email": "ann@example.org", "name": "Ann"},
        {"id": "C-2", "email": "bo@example.org", "name": "Bo", "account": "A-9"},
    ]
    tenant = load_tenant_file(write(tmp_path, data))
    assert [c.account for c in tenant.customers] == ["C-1", "A-9"]
    assert {a.id: a.name for a in tenant.all_accounts()} == {"C-1": "Ann's account", "A-9": "Bo's account"}


def test_long_descriptions_examples_and_articles_load(tmp_path: Path) -> None:
    data = minimal()
    category = data["policy"]["categories"][0]  # type: ignore[index]
    category["description"] = "Invoices, charges and refunds. " * 120  # 3,720 characters
    category["examples"] = ["I was charged twice for the same repair and nobody answers my calls. " * 25]
    data["articles"] = [{"id": "KB-1", "title": "Refunds", "body": "How refunds work. " * 2_500}]
    tenant = load_tenant_file(write(tmp_path, data))
    assert len(tenant.policy.categories[0].description) > 3_600
    assert len(tenant.articles[0].body) > 40_000


def test_a_business_tenant_with_its_own_plans_long_descriptions_and_plain_templates_loads() -> None:
    tenant = load_tenant_file(REPO / "tests" / "data" / "tenants" / "wheelhouse.yaml")
    assert tenant.policy.plan_names == ["pay-per-repair", "ride-care", "fleet-care"]
    assert all(len(c.description) >= 1_000 for c in tenant.policy.categories)
    assert "{" not in tenant.policy.drafting.templates["default"]
    assert tenant.customers[1].plan == "pay-per-repair"  # none given: the first declared
