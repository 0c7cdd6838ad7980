"""bot/rasa_compat: the patches are switched on by install() only, for Rasa 3.6.21 only, each checked against its upstream source."""
from __future__ import annotations

import ast
import dataclasses
import json
import os
import subprocess
import sys

import pytest

from bot import rasa_compat
from bot.rasa_compat.patch import source_sha256
from bot.settings import ROOT

PATCHES = rasa_compat.patches()
IDS = list(rasa_compat.PATCH_MODULES)


@pytest.fixture
def restored():
    """Whatever a test does to the patches, they are installed again afterwards (other tests rely on them).

    Listed before ``monkeypatch``, so this runs after monkeypatch has undone its changes.
    """
    yield
    rasa_compat.install()


def test_there_is_one_module_per_patch_and_each_names_a_different_attribute():
    assert len(PATCHES) == len(rasa_compat.PATCH_MODULES) == 15
    assert len({patch.name for patch in PATCHES}) == len(PATCHES)
    for name, patch in zip(rasa_compat.PATCH_MODULES, PATCHES):
        module = sys.modules[f"bot.rasa_compat.{name}"]
        assert module.PATCH is patch
        assert "Replaces:" in module.__doc__ and "Why:" in module.__doc__ and "Measured:" in module.__doc__


@pytest.mark.parametrize("patch", PATCHES, ids=IDS)
def test_the_patch_is_installed_after_install(patch):
    rasa_compat.install()
    assert getattr(patch.target(), patch.attribute) is patch.replacement
    assert patch.is_installed()
    record = rasa_compat.patch.INSTALLED[patch.name]
    assert (record.target, record.attribute, record.replacement) == (patch.target(), patch.attribute, patch.replacement)
    assert record.original is patch.original() and record.original is not patch.replacement
    assert record.original.__module__.startswith("rasa.")


@pytest.mark.parametrize("patch", PATCHES, ids=IDS)
def test_the_upstream_original_has_the_source_the_patch_was_written_against(patch):
    # When this fails after a Rasa upgrade, read the patch against Rasa's new
    # source before updating its upstream_sha256.
    assert source_sha256(patch.original()) == patch.upstream_sha256, (
        f"{patch.name} changed upstream: check {patch.replacement.__module__} against it"
    )


def test_install_twice_changes_nothing_the_second_time():
    first = rasa_compat.install()
    second = rasa_compat.install()
    assert first == second and len(second) == len(PATCHES)
    for patch in PATCHES:
        assert getattr(patch.target(), patch.attribute) is patch.replacement


def test_uninstall_puts_every_original_back(restored):
    rasa_compat.install()
    originals = {patch.name: patch.original() for patch in PATCHES}
    rasa_compat.uninstall()
    assert rasa_compat.installed() == []
    for patch in PATCHES:
        assert getattr(patch.target(), patch.attribute) is originals[patch.name]
        assert not patch.is_installed()
    rasa_compat.install()
    assert all(patch.is_installed() for patch in PATCHES)


def test_install_refuses_another_rasa_version_and_changes_nothing(restored, monkeypatch):
    import rasa

    rasa_compat.uninstall()
    monkeypatch.setattr(rasa, "__version__", "3.6.22")
    with pytest.raises(RuntimeError, match=r"Rasa 3\.6\.21 internals, but Rasa 3\.6\.22 is installed"):
        rasa_compat.install()
    assert rasa_compat.installed() == []
    assert not any(patch.is_installed() for patch in PATCHES)


def test_a_target_rasa_no_longer_defines_fails_loudly_before_anything_changes(restored, monkeypatch):
    rasa_compat.uninstall()
    renamed = dataclasses.replace(PATCHES[-1], attribute="run_renamed_upstream")
    monkeypatch.setattr(rasa_compat, "patches", lambda: (*PATCHES[:-1], renamed))
    with pytest.raises(AttributeError, match="run_renamed_upstream"):
        rasa_compat.install()
    assert rasa_compat.installed() == []
    assert not any(patch.is_installed() for patch in PATCHES)
    assert not hasattr(renamed.target(), "run_renamed_upstream")


def test_rasa_compat_skip_leaves_the_named_patches_out_and_installs_the_others(restored, monkeypatch):
    rasa_compat.uninstall()
    monkeypatch.setenv("RASA_COMPAT_SKIP", "diet_predict, pika_publish")
    rasa_compat.install()
    left_out = {name for name, patch in zip(IDS, PATCHES) if not patch.is_installed()}
    assert left_out == {"diet_predict", "pika_publish"}
    assert rasa_compat.installed_names() == [patch.name for name, patch in zip(IDS, PATCHES) if name not in left_out]
    rasa_compat.uninstall()
    monkeypatch.delenv("RASA_COMPAT_SKIP")


def test_rasa_compat_skip_naming_no_patch_is_refused_before_anything_changes(restored, monkeypatch):
    rasa_compat.uninstall()
    monkeypatch.setenv("RASA_COMPAT_SKIP", "diet_predict,dietpredict")
    with pytest.raises(ValueError, match="RASA_COMPAT_SKIP names no patch: dietpredict"):
        rasa_compat.install()
    assert rasa_compat.installed() == []
    monkeypatch.delenv("RASA_COMPAT_SKIP")


def test_install_is_called_from_one_place_only_the_nlg_rasa_builds_from_the_endpoints():
    callers = []
    for folder in ("bot", "actions", "bench"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if "node_modules" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("bot.rasa_compat"):
                    assert "install" not in {alias.name for alias in node.names}, path
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "install" \
                        and isinstance(node.func.value, ast.Name) and node.func.value.id == "rasa_compat":
                    callers.append(str(path.relative_to(ROOT)))
    assert callers == ["bot/nlg.py"]


# Runs in a fresh interpreter: which of Rasa's attributes change, and when.
PROBE = r"""
import importlib, json, pkgutil, sys, types

patches = json.loads(sys.argv[1])
for patch in patches:
    importlib.import_module(patch["module"])


def snapshot():
    seen = {}
    for name, module in list(sys.modules.items()):
        if not (name == "rasa" or name.startswith("rasa.")) or module is None:
            continue
        for attribute, value in list(vars(module).items()):
            if isinstance(value, types.ModuleType):
                continue
            seen[f"{name}:{attribute}"] = id(value)
            if isinstance(value, type) and value.__module__ == name:
                for member, inner in list(vars(value).items()):
                    seen[f"{name}:{attribute}.{member}"] = id(inner)
    return seen


def changed(before):
    after = snapshot()
    return sorted(key for key, value in before.items() if after.get(key) != value)


before = snapshot()
import bot
imported = []
for info in pkgutil.walk_packages(bot.__path__, "bot."):
    if info.name.endswith(".__main__"):
        continue
    importlib.import_module(info.name)
    imported.append(info.name)
after_imports = changed(before)

from rasa.core.agent import Agent
from rasa.core.utils import AvailableEndpoints
from bot import rasa_compat

Agent(generator=AvailableEndpoints.read_endpoints("bench/stock/endpoints.yml").nlg)
after_stock_nlg = changed(before)
installed_after_stock_nlg = rasa_compat.installed_names()

Agent(generator=AvailableEndpoints.read_endpoints("endpoints.yml").nlg)
after_bot_nlg = changed(before)
print(json.dumps({
    "imported": imported,
    "after_imports": after_imports,
    "after_stock_nlg": after_stock_nlg,
    "installed_after_stock_nlg": installed_after_stock_nlg,
    "after_bot_nlg": after_bot_nlg,
    "installed": rasa_compat.installed_names(),
}))
"""


@pytest.fixture(scope="module")
def probe():
    patches = [{"module": patch.module} for patch in PATCHES]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONWARNINGS": "ignore"}
    result = subprocess.run([sys.executable, "-c", PROBE, json.dumps(patches)], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def key_of(patch):
    return f"{patch.module}:{'.'.join(part for part in (patch.owner, patch.attribute) if part)}"


def test_importing_every_module_of_bot_changes_nothing_in_rasa(probe):
    expected = {f"bot.{path.stem}" for path in (ROOT / "bot").glob("*.py") if path.stem != "__init__"}
    assert expected | {"bot.nlg", "bot.rasa_compat", "bot.rasa_compat.action_timeout",
                       "bot.stores.tracker_store", "bot.channels.wechat"} <= set(probe["imported"])
    assert probe["after_imports"] == []


def test_the_stock_benchmarks_nlg_changes_nothing_in_rasa(probe):
    assert probe["after_stock_nlg"] == [] and probe["installed_after_stock_nlg"] == []


def test_the_nlg_rasa_builds_from_endpoints_yml_installs_every_patch_and_nothing_else(probe):
    assert probe["after_bot_nlg"] == sorted(key_of(patch) for patch in PATCHES)
    assert probe["installed"] == [patch.name for patch in PATCHES]


def test_every_endpoints_file_of_the_bot_names_the_nlg_that_installs_the_patches():
    import yaml

    for name in ("endpoints.yml", "endpoints.production.yml"):
        endpoints = yaml.safe_load((ROOT / name).read_text(encoding="utf-8"))
        assert endpoints["nlg"]["type"] == "bot.nlg.ServiceNaturalLanguageGenerator", name
