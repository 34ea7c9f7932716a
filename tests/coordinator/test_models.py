"""Model backends come from the `deskhand.models` entry points, the built-ins and another package's alike."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from coordinator.models import DEFAULT_MODEL, AnthropicModel, OfflineModel, backend_names, build_model
from schemas import ConfigError


def test_the_offline_and_anthropic_backends_are_registered_and_the_test_script_is_not() -> None:
    names = backend_names()
    assert {"offline", "anthropic"} <= set(names) and DEFAULT_MODEL in names
    assert "scripted" not in names
    assert list(names) == sorted(names)


def test_an_unknown_backend_is_a_config_error_naming_the_known_ones() -> None:
    with pytest.raises(ConfigError) as caught:
        build_model("gpt-nine")
    assert caught.value.code == "config_error" and caught.value.field == "model"
    assert "gpt-nine" in caught.value.message
    assert all(name in caught.value.message for name in backend_names())


def test_the_offline_backend_is_built_by_name() -> None:
    assert isinstance(build_model("offline"), OfflineModel)


def test_the_anthropic_backend_is_built_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with pytest.raises(ConfigError) as caught:
        build_model("anthropic")
    assert caught.value.code == "config_error"
    assert "ANTHROPIC_API_KEY" in caught.value.message  # names what to set
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:9")
    assert isinstance(build_model("anthropic"), AnthropicModel)


def test_naming_the_backends_and_building_the_offline_one_imports_no_anthropic_sdk() -> None:
    code = (
        "import sys\n"
        "from coordinator.models import backend_names, build_model\n"
        "assert 'anthropic' in backend_names()\n"
        "build_model('offline')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'anthropic'))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "[]"


def _install(site: Path, module: str, source: str, entry: str) -> None:
    """A package with a `deskhand.models` entry point, installed in `site` as pip would (a dist-info beside it)."""
    (site / f"{module}.py").write_text(source, encoding="utf-8")
    info = site / f"{module}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 0.1\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(f"[deskhand.models]\n{entry}\n", encoding="utf-8")


def test_a_backend_registered_by_another_package_is_built_like_a_built_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = (
        "from coordinator.models import OfflineModel\n\n"
        "class Patient(OfflineModel):\n"
        "    name = 'patient'\n\n"
        "def build():\n"
        "    return Patient(latency=0.5)\n"
    )
    _install(tmp_path, "patient_backend", source, "patient = patient_backend:build")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert "patient" in backend_names()
    model = build_model("patient")
    assert isinstance(model, OfflineModel) and model.name == "patient" and model.latency == 0.5


def test_an_entry_point_that_builds_no_model_is_a_config_error_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _install(tmp_path, "not_a_backend", "def build():\n    return 'hello'\n", "hello = not_a_backend:build")
    _install(tmp_path, "missing_backend", "", "gone = missing_backend:nothing_here")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ConfigError) as caught:
        build_model("hello")
    assert caught.value.field == "model" and "not_a_backend:build" in caught.value.message
    with pytest.raises(ConfigError) as caught:
        build_model("gone")
    assert caught.value.field == "model" and "missing_backend:nothing_here" in caught.value.message
