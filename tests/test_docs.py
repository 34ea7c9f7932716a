"""The README, docs/ and bench/README.md hold together: links resolve, the README stays short, and every
command and config block runs as written, in the test `RUN_BY` names for it.

A fenced block is either runnable (sh, python, json, yaml, toml: a test runs, or parses and validates, it)
or shown (text, console: output samples and diagrams, read and not run). A new runnable block fails
`test_every_block_in_the_docs_runs_in_a_named_test_or_is_fenced_as_output` until a test takes it.

Sh blocks run in bash from the root of a fresh copy of the repository (what a reader has after a clone),
with DESKHAND_HOME and TMPDIR in the test's temporary folder. The only thing a test changes in a block is
the machine's: the servers' default ports become free ones (the home's deskhand.toml says the same), and
the PostgreSQL URL becomes a schema of the test's own.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from coordinator.cli._processes import READY_CEILING, ServerProcess, wait_ready
from schemas import AccountReviewRequest, InboundEmail
from tests.conftest import REPO

PAGES = [REPO / "README.md", REPO / "CHANGELOG.md", REPO / "bench" / "README.md", *sorted((REPO / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", flags=re.S | re.M)
RUNNABLE = ("sh", "python", "json", "yaml", "toml")
SHOWN = ("text", "console")

RUNNING = "tests.coordinator.test_readme_configs::"
RUN_BY: dict[str, list[str]] = {
    "README.md": [
        "test_readme_set_up_runs_the_demo_in_a_fresh_checkout",
        "test_readme_keeps_the_test_command_that_ci_runs_verbatim",
        "test_readme_guarded_server_serves_its_tenant_only",
    ],
    "bench/README.md": ["test_bench_guide_commands_parse"],
    "docs/running.md": ["test_running_guide_runs_as_written"] * 9,
    "docs/ide-clients.md": [
        RUNNING + "test_claude_desktop_config_runs_the_stdio_server",
        RUNNING + "test_vscode_config_reaches_the_http_server_with_the_bearer_token",
    ],
    "docs/evaluation.md": ["test_evaluation_guide_runs_as_written"],
    "docs/api.md": ["test_api_guide_runs_as_written"] * 2,
    "docs/scaling.md": ["test_scaling_guide_runs_as_written"],
    "docs/writing-a-server.md": ["test_writing_a_server_guide_serves_its_tenant_only"]
    + ["test_writing_a_server_guide_serves_over_http_as_written"] * 4
    + ["test_server_entry_point_block_names_the_servers_group"],
    "docs/writing-a-specialist.md": [
        "test_specialist_entry_point_block_is_the_example_packages",
        "test_writing_a_specialist_guide_scaffolds_one_that_installs_and_passes_its_tests",
    ],
    "docs/tenant-files.md": ["test_tenant_files_guide_limits_block_is_a_policy_that_loads"],
    "docs/observability.md": ["test_observability_guide_scrapes_the_default_ports_with_a_token"],
    "docs/mail.md": ["tests.coordinator.test_mailbox_config::test_mail_guide_configuration_loads_as_written"],
    "docs/workflows.md": [
        "test_workflows_guide_example_is_the_example_file_and_loads",
        "test_workflows_guide_graph_prints_the_built_in_workflow",
    ],
}
"""For each page, the test that runs each of its runnable blocks, in the page's order."""


def fenced(page: Path) -> list[tuple[str, str]]:
    """Every fenced block of `page`: (language, text)."""
    return [(m.group(1).strip(), m.group(2)) for m in FENCE.finditer(page.read_text(encoding="utf-8"))]


def blocks(page: str, language: str) -> list[str]:
    """The `language` blocks of `page` (a path relative to the repository), in order."""
    return [text for lang, text in fenced(REPO / page) if lang == language]


def code_blocks(page: Path, language: str) -> list[str]:
    return blocks(page.relative_to(REPO).as_posix(), language)


def test_every_block_in_the_docs_runs_in_a_named_test_or_is_fenced_as_output() -> None:
    for page in PAGES:
        name = page.relative_to(REPO).as_posix()
        languages = [language for language, _ in fenced(page)]
        assert [lang for lang in languages if lang not in RUNNABLE + SHOWN] == [], f"{name}: fence it as text"
        runnable = [lang for lang in languages if lang in RUNNABLE]
        tests = RUN_BY.get(name, [])
        assert len(runnable) == len(tests), f"{name}: {runnable} blocks, run by {tests}"
        for ref in tests:
            module, _, function = ref.rpartition("::")
            test = getattr(importlib.import_module(module or __name__), function)
            assert name in inspect.getsource(test), f"{ref} does not read {name}"


def test_each_tenant_file_exists_once_in_the_repository() -> None:
    """evals/golden runs on examples/tenants through its suite.toml: a copy of a tenant file would drift."""
    seen: dict[str, Path] = {}
    copies: list[tuple[Path, Path]] = []
    for path in sorted(REPO.rglob("*.y*ml")):
        if any(part.startswith(".") or part in ("build", "__pycache__") for part in path.relative_to(REPO).parts):
            continue
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest in seen:
            copies.append((seen[digest], path))
        seen.setdefault(digest, path)
    assert copies == []
    golden = tomllib.loads((REPO / "evals" / "golden" / "suite.toml").read_text(encoding="utf-8"))
    assert (REPO / "evals" / "golden" / golden["tenants"]).resolve() == REPO / "examples" / "tenants"


def test_docs_has_one_page_per_guide() -> None:
    names = {p.name for p in (REPO / "docs").glob("*.md")}
    assert names >= {
        "running.md",
        "boundary.md",
        "ide-clients.md",
        "writing-a-server.md",
        "writing-a-specialist.md",
        "tenant-files.md",
        "evaluation.md",
        "scaling.md",
        "architecture.md",
    }


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_points_to_a_file_that_exists(page: Path) -> None:
    targets = [t for t in LINK.findall(page.read_text(encoding="utf-8")) if not re.match(r"[a-z]+:", t)]
    missing = [t for t in targets if not t.startswith("#") and not (page.parent / t.split("#")[0]).exists()]
    assert missing == []


def test_every_page_is_linked_from_the_readme() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    linked = {(REPO / t.split("#")[0]).resolve() for t in LINK.findall(readme) if not re.match(r"[a-z]+:", t)}
    assert {p.resolve() for p in PAGES[1:]} <= linked


def test_readme_stays_a_short_users_guide() -> None:
    assert len((REPO / "README.md").read_text(encoding="utf-8").splitlines()) <= 220


def test_readme_keeps_the_test_command_that_ci_runs_verbatim() -> None:
    """The README's test command is not run here (it runs this very suite): CI runs it, exactly (.ci/run)."""
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()[-1]
    assert blocks("README.md", "sh")[1].strip() == ci


def test_no_two_guides_start_a_server_on_the_same_port() -> None:
    ports: list[str] = []
    for page in PAGES:
        for block in code_blocks(page, "sh"):
            ports += re.findall(r"--http 127\.0\.0\.1:(\d+)", block)
            loop = re.search(r"for s in ([^;]+); do\s+deskhand serve", block)
            ports += re.findall(r":(\d+)", loop.group(1)) if loop else []
        for block in code_blocks(page, "python"):
            ports += re.findall(r"\bport=(\d+)", block)  # uvicorn.run(..., port=N)
    assert len(ports) >= 5 and len(ports) == len(set(ports)), ports


def test_running_guide_sample_events_are_valid_events() -> None:
    page = (REPO / "docs" / "running.md").read_text(encoding="utf-8")
    assert set(re.findall(r"deskhand submit (\S+\.json)", page)) == {"docs/email.json", "docs/account-review.json"}
    data = json.loads((REPO / "docs" / "email.json").read_text(encoding="utf-8"))
    assert InboundEmail.model_validate({"sender": data.pop("from"), **data}).subject
    review = json.loads((REPO / "docs" / "account-review.json").read_text(encoding="utf-8"))
    assert AccountReviewRequest.model_validate(review).contacts


def test_specialist_entry_point_block_is_the_example_packages() -> None:
    """The block in docs/writing-a-specialist.md is the example package's own entry point, in the group the
    registry reads (tests/coordinator/test_registry.py installs that package and runs it)."""
    from specialists.kit import ENTRY_POINT_GROUP

    [block] = blocks("docs/writing-a-specialist.md", "toml")
    package = tomllib.loads((REPO / "examples" / "specialist-package" / "pyproject.toml").read_text(encoding="utf-8"))
    entry_points = tomllib.loads(block)["project"]["entry-points"]
    assert list(entry_points) == [ENTRY_POINT_GROUP]
    assert entry_points == {ENTRY_POINT_GROUP: package["project"]["entry-points"][ENTRY_POINT_GROUP]}


def test_server_entry_point_block_names_the_servers_group() -> None:
    """The block in docs/writing-a-server.md declares a server in the group deskhand loads servers from
    (tests/coordinator/test_server_packages.py installs such a package, serves it and calls it)."""
    from mcp_servers.kit import SERVERS_ENTRY_POINT_GROUP

    [block] = blocks("docs/writing-a-server.md", "toml")
    entry_points = tomllib.loads(block)["project"]["entry-points"]
    assert entry_points == {SERVERS_ENTRY_POINT_GROUP: {"orders": "acme_orders:package"}}


def test_workflows_guide_example_is_the_example_file_and_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/workflows.md's example is examples/workflows/support-mood.yaml, and it loads with the example
    sentiment package importable (tests/coordinator/test_workflows.py installs it and runs the workflow)."""
    import yaml

    from coordinator._registry import load_specialists
    from coordinator.workflow import parse_workflow

    [block] = blocks("docs/workflows.md", "yaml")
    assert block == (REPO / "examples" / "workflows" / "support-mood.yaml").read_text(encoding="utf-8")
    monkeypatch.syspath_prepend(str(REPO / "examples" / "specialist-package"))
    sentiment = importlib.import_module("deskhand_sentiment").specialist
    manifests = {name: s.manifest for name, s in load_specialists().items()} | {"sentiment": sentiment.manifest}
    assert parse_workflow(yaml.safe_load(block), manifests, where="docs/workflows.md").name == "support-mood"


def test_workflows_guide_graph_prints_the_built_in_workflow(tmp_path: Path) -> None:
    [block] = blocks("docs/workflows.md", "sh")
    printed = Reader(tmp_path).sh(block)
    assert (
        printed.startswith("flowchart TD")
        and '-->|"compliance.verdict == revise (at most 2 times)"| drafting' in printed
    )


@pytest.mark.slow
def test_writing_a_specialist_guide_scaffolds_one_that_installs_and_passes_its_tests(tmp_path: Path) -> None:
    """docs/writing-a-specialist.md's "Scaffold a specialist": the package written in the reader's checkout,
    installed into this venv with pip (uninstalled after), and its own tests pass."""
    [block] = blocks("docs/writing-a-specialist.md", "sh")
    reader = Reader(tmp_path)
    try:
        printed = reader.sh(block)
    finally:
        reader.sh("pip uninstall --yes --quiet deskhand-tone-check")
    assert re.search(r"\b4 passed\b", printed), printed[-3000:]
    assert (reader.root / "deskhand-tone_check" / "deskhand_tone_check" / "__init__.py").is_file()


def test_tenant_files_guide_error_samples_are_what_a_missing_queue_and_an_undeclared_plan_give(
    tmp_path: Path,
) -> None:
    import yaml

    from schemas import ConfigError, load_tenant_file

    samples = [text for language, text in fenced(REPO / "docs" / "tenant-files.md") if language == "text"]
    acme = yaml.safe_load((REPO / "examples" / "tenants" / "acme.yaml").read_text(encoding="utf-8"))
    del acme["policy"]["categories"][0]["queue"]
    bikes = yaml.safe_load((REPO / "tests" / "data" / "tenants" / "wheelhouse.yaml").read_text(encoding="utf-8"))
    bikes["policy"]["priorities"].insert(1, {"priority": "P2", "plan": "gold"})
    said = []
    for name, data in (("acme.yaml", acme), ("wheelhouse.yaml", bikes)):
        (tmp_path / name).write_text(yaml.safe_dump(data), encoding="utf-8")
        with pytest.raises(ConfigError) as caught:
            load_tenant_file(tmp_path / name)
        said.append(f"error ({caught.value.code}): {str(caught.value).replace(str(tmp_path) + '/', '')}")
    assert said == [sample.strip() for sample in samples]


def test_tenant_files_guide_lists_each_risk_kinds_words_as_the_code_has_them() -> None:
    from specialists.triage._risk import KINDS

    page = (REPO / "docs" / "tenant-files.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\s*\| ([^|]+?) \| ([^|]+?) \|$", page, re.MULTILINE)
    listed = {kind: tuple(words.split(", ")) for kind, words in rows}
    assert {k.name: listed.get(k.name) for k in KINDS} == {k.name: k.words for k in KINDS}


def test_observability_guide_scrapes_the_default_ports_with_a_token(tmp_path: Path) -> None:
    import yaml

    from coordinator import Home

    (config,) = blocks("docs/observability.md", "yaml")
    jobs = {job["job_name"]: job for job in yaml.safe_load(config)["scrape_configs"]}
    assert all(j["metrics_path"] == "/metrics" and j["authorization"]["credentials_file"] for j in jobs.values())
    servers = [s.url.split("://")[1].removesuffix("/mcp") for s in Home.defaults(tmp_path).servers.values()]
    assert jobs["deskhand-servers"]["static_configs"][0]["targets"] == servers
    assert "127.0.0.1:9464" in jobs["deskhand-coordinator"]["static_configs"][0]["targets"]


def test_tenant_files_guide_limits_block_is_a_policy_that_loads(tmp_path: Path) -> None:
    import yaml

    from schemas import load_tenant_file

    [block] = blocks("docs/tenant-files.md", "yaml")
    data = yaml.safe_load((REPO / "tests" / "data" / "tenants" / "wheelhouse.yaml").read_text(encoding="utf-8"))
    data["policy"].update(yaml.safe_load(block)["policy"])
    (tmp_path / "wheelhouse.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    policy = load_tenant_file(tmp_path / "wheelhouse.yaml").policy
    assert policy.limits.daily_spend_usd == 20 and policy.limits.per_run.tool_calls == 40
    assert policy.models == {"drafting": "small"}
    from coordinator.runtime import RuntimeSettings

    defaults, page = RuntimeSettings(), (REPO / "docs" / "tenant-files.md").read_text(encoding="utf-8")
    budget = defaults.run_budget
    said = (
        f"{budget.tokens:,} tokens, ${budget.cost_usd:.2f}, {budget.tool_calls} tool calls and {budget.wall_seconds:g}"
    )
    assert said in page.replace("\n", " ")  # the defaults the guide gives are the runtime's
    assert f"${defaults.tenant_daily_spend_usd:g} a day and have {defaults.tenant_max_running} runs" in page.replace(
        "\n", " "
    )


# --- running the blocks ---------------------------------------------------------------------------------------


class Reader:
    """A reader of the guides: a fresh copy of the repository, a home of their own, and bash."""

    def __init__(self, tmp_path: Path) -> None:
        self.root = tmp_path / "checkout"
        self.home = tmp_path / "home"
        (tmp_path / "tmp").mkdir()
        _copy_checkout(self.root)
        self.env = {**os.environ, "DESKHAND_HOME": str(self.home), "TMPDIR": str(tmp_path / "tmp")}
        self.env["COLUMNS"] = "80"  # ids are printed whole at any width: the guides copy them from the output
        self.env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{self.env['PATH']}"
        self.env.pop("VIRTUAL_ENV", None)
        self.ports: dict[int, int] = {}

    def sh(self, script: str, timeout: float = 600) -> str:
        done = subprocess.run(
            ["bash", "-ec", script], cwd=self.root, env=self.env, capture_output=True, text=True, timeout=timeout
        )
        assert done.returncode == 0, f"{script}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        assert "deprecated:" not in done.stderr, f"the guides use today's spellings:\n{done.stderr}"
        return done.stdout

    def move_servers_to_free_ports(self) -> None:
        """The guides' ports may be taken here: the home's servers move to free ones, and so do the blocks."""
        from coordinator import Home
        from coordinator.cli._processes import free_port

        home = Home.load(self.home)
        moved = {}
        for name, server in home.servers.items():
            port = free_port()
            self.ports[int(server.url.split(":")[2].split("/")[0])] = port
            moved[name] = type(server)(name, f"http://127.0.0.1:{port}/mcp", server.db)
        home.with_servers(moved).save()

    def on_free_ports(self, block: str) -> str:
        for default, free in self.ports.items():
            block = re.sub(rf"\b{default}\b", str(free), block)
        return block

    @contextmanager
    def background(self, script: str, log: Path) -> Iterator[subprocess.Popen[bytes]]:
        """Run `script` (which starts servers with `&`) until the end of the block; then stop what it started."""
        with log.open("wb") as handle:
            process = subprocess.Popen(
                ["bash", "-c", f"trap 'kill $(jobs -p) 2>/dev/null; wait' TERM\n{script}\nwait"],
                cwd=self.root,
                env=self.env,
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def _copy_checkout(root: Path) -> None:
    """The repository's files as a clone has them (tracked, plus new ones not ignored), without venv or caches."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, capture_output=True, check=True
        ).stdout.decode()
        files = [REPO / name for name in listed.split("\0") if name]
    except (OSError, subprocess.CalledProcessError):
        skip = {".git", ".venv", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache"}
        files = [p for p in REPO.rglob("*") if p.is_file() and not skip & set(p.relative_to(REPO).parts)]
    for source in files:
        if source.is_file():
            target = root / source.relative_to(REPO)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def answering(process: subprocess.Popen[bytes], log: Path, urls: dict[str, str]) -> None:
    """Wait until the servers `process` started answer at `urls` (name -> URL), for as long as it lives."""
    wait_ready([ServerProcess(name, url, process, log) for name, url in urls.items()], READY_CEILING, lambda _: None)


@pytest.mark.slow
def test_running_guide_runs_as_written(tmp_path: Path) -> None:
    """Every block of docs/running.md, in order, in one reader's shell: init, the servers (in the background),
    a token and the MCP client, the coordinator, the approval decided by the ids the commands print (as the home's
    local operator), and the list a remote approver's token sees."""
    from coordinator import Home
    from coordinator.store import Store

    init, serve, mint, coordinate, decide, remote, review = blocks("docs/running.md", "sh")
    [client] = blocks("docs/running.md", "python")
    [shown] = blocks("docs/running.md", "json")
    assert json.loads(shown) == json.loads((REPO / "docs" / "account-review.json").read_text(encoding="utf-8"))
    reader = Reader(tmp_path)
    reader.sh(init)
    reader.move_servers_to_free_ports()
    (tmp_path / "client.py").write_text(reader.on_free_ports(client), encoding="utf-8")
    log = tmp_path / "servers.log"
    with reader.background(reader.on_free_ports(serve), log) as servers:
        answering(servers, log, {name: server.url for name, server in Home.load(reader.home).servers.items()})
        printed = reader.sh(f"{mint}\npython {tmp_path / 'client.py'}")
        assert "get_account" in printed and "issue_credit" not in printed and "C-101" in printed
        reader.sh(f"{coordinate}\n{decide}")  # as the home's local operator
        assert "0 approvals waiting (acme)" in reader.sh(remote)  # a remote approver's token: acme's, none left
        assert "account_summary" in reader.sh(review)
    store = Store(f"sqlite:///{reader.home / 'data' / 'coordinator.db'}")
    try:
        [approval] = store.approvals(tenant="acme", status=None)
        assert approval.status == "executed"
        [reviewed] = [run for run in store.runs(tenant="acme") if run.event.get("account_id") == "A-2"]
        assert reviewed.status in ("completed", "escalated") and reviewed.result["account_summary"]["written"]
    finally:
        store.dispose()


@pytest.mark.slow
def test_api_guide_runs_as_written(tmp_path: Path) -> None:
    """docs/api.md's blocks in one reader's shell, the servers of docs/running.md up: the API served in the
    background, an email submitted over it, worked, and its credit approved over it; the run completes."""
    from coordinator import Home
    from coordinator.cli._processes import free_port, running_servers
    from coordinator.store import Store

    serve, use = blocks("docs/api.md", "sh")
    reader = Reader(tmp_path)
    reader.sh(blocks("docs/running.md", "sh")[0])
    reader.move_servers_to_free_ports()
    reader.ports[8710] = free_port()
    with running_servers(Home.load(reader.home)), reader.background(reader.on_free_ports(serve), tmp_path / "api.log"):
        printed = reader.sh(reader.on_free_ports(use))
    assert '"status":"ready"' in printed and '"status":"executed"' in printed, printed
    store = Store(f"sqlite:///{reader.home / 'data' / 'coordinator.db'}")
    try:
        [run] = store.runs(tenant="acme")
        assert run.status == "completed" and f'"id":"{run.id}"' in printed.splitlines()[-1]
    finally:
        store.dispose()


@pytest.mark.slow
def test_evaluation_guide_runs_as_written(tmp_path: Path) -> None:
    """docs/evaluation.md's command: the golden suite, gated on its committed baseline (about 10 s)."""
    [command] = blocks("docs/evaluation.md", "sh")
    reader = Reader(tmp_path)
    reader.sh(command)
    scores = json.loads((reader.root / "report.json").read_text(encoding="utf-8"))["scores"]
    assert scores["scenarios"] >= 60 and scores["unsafe_actions"] == 0


@pytest.mark.slow
@pytest.mark.postgres
def test_scaling_guide_runs_as_written(tmp_path: Path, pg_store_url: str) -> None:
    """docs/scaling.md's block, with the servers of docs/running.md up and its URL pointed at a schema of the
    test's own: the run is recorded in PostgreSQL and waits there for its approval."""
    from coordinator import Home
    from coordinator.cli._processes import running_servers
    from coordinator.store import Store

    [block] = blocks("docs/scaling.md", "sh")
    [documented] = re.findall(r"^export DESKHAND_DB=(\S+)", block, flags=re.M)
    reader = Reader(tmp_path)
    reader.sh(blocks("docs/running.md", "sh")[0])
    reader.move_servers_to_free_ports()
    with running_servers(Home.load(reader.home)):
        reader.sh(block.replace(documented, pg_store_url))
    store = Store(pg_store_url)
    try:
        [approval] = store.approvals(tenant="acme")
        assert approval.tool == "crm.issue_credit"
    finally:
        store.dispose()


@pytest.mark.slow
def test_readme_set_up_runs_the_demo_in_a_fresh_checkout(tmp_path: Path) -> None:
    """README.md's first command, in a copy of the repository: a new venv, `pip install -e .` (from the
    package indexes pip is configured with) and the demo (about a minute)."""
    demo = blocks("README.md", "sh")[0]
    reader = Reader(tmp_path)
    printed = reader.sh(demo, timeout=1800)
    [workspace] = (tmp_path / "tmp").glob("deskhand-demo-*")
    assert (workspace / "data" / "coordinator.db").is_file()
    assert "(workflow support-inbox)" in printed and "(workflow support-mood)" in printed  # one tenant each
    assert (reader.root / ".venv" / "bin" / "deskhand").is_file()


EXERCISE = """
import json, sys
from pathlib import Path

import anyio

import guide  # the page's block, as written
from coordinator._tokens import DevKeys
from tests.conftest import Issuer, connect

fields = json.loads(sys.argv[1])
guide.server.create_tables()
with guide.server.db.admin_session() as session:
    session.add(guide.Order(tenant_id="acme", id="O-1", **fields))
    session.add(guide.Order(tenant_id="northwind", id="O-2", **fields))
    session.commit()


async def main() -> None:
    async with connect(guide.server, Issuer(DevKeys.create(Path("keys"))), "acme", ["orders:read"]) as client:
        mine = await client.call_tool("get_order", {"order_id": "O-1"})
        theirs = await client.call_tool("get_order", {"order_id": "O-2"})
    print(json.dumps([mine.structured_content, theirs.is_error, theirs.structured_content]))


anyio.run(main)
"""


def exercise_guarded_server(block: str, tmp_path: Path, fields: dict[str, str]) -> tuple[object, bool, object]:
    """Run a page's server block as written (its own process: the `Order` table is defined once there), then
    seed an order for two tenants and call its tool with an acme token through a real MCP client."""
    (tmp_path / "guide.py").write_text(block, encoding="utf-8")
    (tmp_path / "exercise.py").write_text(EXERCISE, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO)])}
    done = subprocess.run(
        [sys.executable, "exercise.py", json.dumps(fields)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    mine, refused, theirs = json.loads(done.stdout.splitlines()[-1])
    return mine, refused, theirs


def test_readme_guarded_server_serves_its_tenant_only(tmp_path: Path) -> None:
    [block] = blocks("README.md", "python")
    assert len(block.splitlines()) <= 30
    mine, refused, theirs = exercise_guarded_server(block, tmp_path, {"status": "shipped"})
    assert mine == {"id": "O-1", "status": "shipped"}
    assert refused and theirs["code"] == "not_found"  # type: ignore[index]


def test_writing_a_server_guide_serves_its_tenant_only(tmp_path: Path) -> None:
    block, _serve, _client = blocks("docs/writing-a-server.md", "python")[:3]  # the next two: over HTTP, below
    fields = {"status": "shipped", "customer": "C-1", "placed_at": "2026-01-02"}
    mine, refused, theirs = exercise_guarded_server(block, tmp_path, fields)
    assert mine == {"id": "O-1", "status": "shipped"}
    assert refused and theirs["code"] == "not_found"  # type: ignore[index]


@pytest.mark.slow
def test_writing_a_server_guide_serves_over_http_as_written(tmp_path: Path) -> None:
    """docs/writing-a-server.md from "Serve it": the two files saved, the server started in the background with
    a home made as docs/running.md makes it, a token minted, and the client reads acme's order."""
    from coordinator.cli._processes import free_port

    orders, serve, client = blocks("docs/writing-a-server.md", "python")[:3]
    start, mint = blocks("docs/writing-a-server.md", "sh")[:2]
    reader = Reader(tmp_path)
    reader.sh(blocks("docs/running.md", "sh")[0])
    reader.ports[8801] = free_port()
    (reader.root / "orders.py").write_text(orders, encoding="utf-8")
    (reader.root / "serve_orders.py").write_text(reader.on_free_ports(serve), encoding="utf-8")
    (tmp_path / "client.py").write_text(reader.on_free_ports(client), encoding="utf-8")
    log = tmp_path / "orders.log"
    with reader.background(start, log) as process:
        url = f"http://127.0.0.1:{reader.ports[8801]}/mcp"
        answering(process, log, {"orders": url})
        printed = reader.sh(f"{reader.on_free_ports(mint)}\npython {tmp_path / 'client.py'}")
    assert "'id': 'O-1'" in printed and "'status': 'shipped'" in printed


@pytest.mark.slow
def test_bench_guide_commands_parse(tmp_path: Path) -> None:
    """bench/README.md's commands are checked for parsing, not run (a run takes minutes; tests/test_bench.py runs
    each benchmark at `tiny`): each line, with --help after its arguments, is accepted by `python -m bench`,
    which checks the subcommand and every flag before it."""
    [block] = blocks("bench/README.md", "sh")
    reader = Reader(tmp_path)
    commands = [line.split("#")[0].strip() for line in block.splitlines() if line.strip()]
    assert commands and all(c.startswith("python -m bench ") for c in commands)
    for command in commands:
        assert "usage: python -m bench" in reader.sh(f"{command} --help")
    with pytest.raises(AssertionError):
        reader.sh("python -m bench e2e --size huge --help")
