"""The layers of docs/architecture.md, checked on every import of bot/ and actions/.

Each module belongs to one layer (:data:`LAYERS`, by the longest matching
name); a layer may import its own modules and those of the layers in
:data:`MAY_IMPORT`, nothing else of the project. Imports inside functions
count too. A new module outside every layer fails here until it is given one.
"""
from __future__ import annotations

import ast
from pathlib import Path
from typing import Iterator, List, Optional, Tuple

import pytest

from bot.settings import ROOT

# Module name (or the package it is in) -> layer.
LAYERS = {
    "bot.settings": "settings",
    # The Prometheus metrics and the health answers: counted from every layer that runs in a server.
    "bot.metrics": "metrics",
    "bot.health": "health",
    "bot.knowledge": "knowledge",
    # Reading text and time: the knowledge files made into rules every layer shares.
    "bot.text": "language",
    "bot.clock": "language",
    "bot.entities": "language",
    "bot.greetings": "language",
    "bot.frustration": "language",
    "bot.security": "security",
    "bot.rasa_compat": "rasa_compat",
    "bot.stores": "stores",
    "bot.services": "services",
    "actions": "actions",
    "bot.components": "components",
    "bot.policies": "policies",
    "bot.nlg": "nlg",
    "bot.channels": "channels",
    "bot.report": "report",
    "bot.evaluation": "evaluation",
    "bot.launcher": "launcher",
    "bot.action_server": "action_server",
    "bot.web": "web",
    "bot.desk": "desk",
    "bot": "package",  # bot/__init__.py alone
}
# Layer -> the other layers it may import.
MAY_IMPORT = {
    "settings": set(),
    "metrics": set(),
    "health": set(),
    "knowledge": {"settings"},
    "language": {"settings", "knowledge"},
    "security": {"settings", "knowledge", "language"},
    "rasa_compat": {"settings", "knowledge", "metrics"},
    "stores": {"settings", "knowledge", "language", "rasa_compat", "metrics"},
    "services": {"settings", "knowledge", "language", "stores", "metrics"},
    # Actions call services and send what they return: no stores, no knowledge of their own.
    "actions": {"services"},
    "components": {"settings", "knowledge", "language"},
    "policies": {"settings", "knowledge", "language"},
    "nlg": {"settings", "knowledge", "language", "rasa_compat"},
    "channels": {"settings", "knowledge", "language", "security", "metrics", "health"},
    "report": {"settings", "knowledge", "language", "stores"},
    "evaluation": {"settings", "knowledge", "language"},
    "launcher": {"settings"},
    # rasa_sdk's server with /metrics and /health/ready (the service database); it loads actions/ by name.
    "action_server": {"settings", "metrics", "health", "stores"},
    # The page server mounts the agent desk.
    "web": {"settings", "desk"},
    # The desk's pages act through services, like the actions, and reach the
    # conversations only through Rasa's HTTP API (never the Rasa server's code).
    "desk": {"settings", "knowledge", "language", "services"},
    "package": set(),
}
# Single modules a layer may import beyond MAY_IMPORT, and why.
ALSO_MAY_IMPORT = {
    # RatingReplyPolicy reads a bare 「4」 by the rule the rating action uses;
    # bot.services.rating reads text only (no stores), so the Rasa server stays free of them.
    "policies": {"bot.services.rating"},
    # The guard's rate limit and the WeChat channel's MsgIds and choices are kept in the
    # state the instances share; the channels reach no other store (no tickets, no orders).
    "channels": {"bot.stores.shared_state"},
}
# Modules no module of a layer may import, although their layer is allowed.
NEVER = {
    # The stores' factory: actions reach data only through the services that use it.
    "actions": {"bot.services.backends"},
    "desk": {"bot.services.backends"},
}
# The evaluation modules depend in one direction: a module imports only lower ranks.
EVALUATION_RANKS = {
    "bot.evaluation": 0,
    "bot.evaluation.common": 0,
    "bot.evaluation.nlu": 1,
    "bot.evaluation.robustness": 2,
    "bot.evaluation.threshold_curve": 2,
    "bot.evaluation.benchmark": 3,
}

Import = Tuple[str, int]  # imported module, line


def layer_of(module: str) -> Optional[str]:
    """The layer of ``module``: its own entry, else its closest package's (``bot`` itself is no package layer)."""
    if module in LAYERS:
        return LAYERS[module]
    parts = module.split(".")
    for end in range(len(parts) - 1, 0, -1):
        package = ".".join(parts[:end])
        if package != "bot" and package in LAYERS:
            return LAYERS[package]
    return None


def is_project(module: str) -> bool:
    return module.split(".")[0] in ("bot", "actions")


def module_of(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_module(name: str) -> bool:
    base = ROOT.joinpath(*name.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def imports_of(module: str, source: str, is_package: bool = False) -> Iterator[Import]:
    """Every module ``source`` imports (``from bot import knowledge`` is bot.knowledge), with its line."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                yield (candidate if _is_module(candidate) else base), node.lineno


def violations(module: str, source: str, is_package: bool = False) -> List[str]:
    """What ``module`` imports across a line it may not cross."""
    layer = layer_of(module)
    if layer is None:
        return [f"{module} is in no layer: give it one in tests/test_architecture.py and docs/architecture.md"]
    found = []
    for imported, line in sorted(set(imports_of(module, source, is_package)), key=lambda item: item[1]):
        if not is_project(imported) or imported == module:
            continue
        target = layer_of(imported)
        allowed = (target == layer or target in MAY_IMPORT[layer]
                   or any(imported == name or imported.startswith(name + ".") for name in ALSO_MAY_IMPORT.get(layer, ())))
        if imported in NEVER.get(layer, ()):
            allowed = False
        if allowed and layer == target == "evaluation":
            allowed = EVALUATION_RANKS.get(imported, 99) < EVALUATION_RANKS.get(module, -1)
        if not allowed:
            found.append(f"{module}:{line} ({layer}) imports {imported} ({target})")
    return found


def project_modules() -> Iterator[Tuple[str, Path]]:
    for folder in ("bot", "actions"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if "node_modules" not in path.parts:
                yield module_of(path), path


MODULES = list(project_modules())


def test_every_module_of_bot_and_actions_is_checked():
    names = {module for module, _ in MODULES}
    assert {"actions.cases", "bot.services.tickets", "bot.knowledge", "bot.channels.guard",
            "bot.report.labels", "bot.evaluation.benchmark"} <= names


@pytest.mark.parametrize("module, path", MODULES, ids=[module for module, _ in MODULES])
def test_imports_stay_within_the_layers(module, path):
    assert violations(module, path.read_text(encoding="utf-8"), path.name == "__init__.py") == []


@pytest.mark.parametrize("module, source", [
    ("actions.cases", "from bot.stores.tickets import TicketKind"),
    ("actions.cases", "from bot.services.backends import tickets"),
    ("actions.cases", "from bot import clock"),
    ("bot.channels.guard", "from bot.services.replies import reply"),
    ("bot.report.labels", "from bot.services import rules"),
    ("bot.report.sources", "from bot.launcher import ROOT"),
    ("bot.stores.orders", "from bot.services import backends"),
    ("bot.stores.tickets", "import actions.cases"),
    ("bot.knowledge", "from bot import clock"),
    ("bot.knowledge.texts", "from bot.services.replies import reply"),
    ("bot.services.cases", "def f():\n    from actions.forms import NO_ORDER"),
    ("bot.evaluation.robustness", "from bot.evaluation.benchmark import standalone_arguments"),
    ("bot.evaluation.robustness", "from bot.evaluation import threshold_curve"),
    ("bot.evaluation.nlu", "from bot.evaluation import robustness"),
    ("bot.policies", "from bot.services import cases"),
    ("bot.channels.wechat", "from bot.stores.tickets import TicketStore"),
    ("bot.somewhere_new", "import os"),
    ("bot.metrics", "from bot.settings import env_number"),
    ("bot.channels.operations", "from bot.stores.database import shared_engine"),
    ("actions.handoff", "from bot import metrics"),
    ("bot.desk.app", "from bot.stores.desk import DeskStore"),
    ("bot.desk.app", "from bot.services.backends import desk"),
    ("bot.desk.app", "from bot.channels.socketio import PersistentSocketIOInput"),
    ("bot.services.desk", "from bot.desk.accounts import Accounts"),
])
def test_an_import_across_a_line_is_reported(module, source):
    assert violations(module, source)


@pytest.mark.parametrize("module, source", [
    ("actions.cases", "from bot.services import cases, tickets\nfrom rasa_sdk import Action"),
    ("bot.channels.guard", "from bot.knowledge.texts import reply_text"),
    ("bot.report.labels", "from bot import knowledge"),
    ("bot.services.tickets", "from bot.stores.tickets import parse_ticket_number"),
    ("bot.evaluation.benchmark", "from bot.evaluation import robustness, threshold_curve"),
    ("bot.evaluation.robustness", "from bot.evaluation.common import standalone_arguments"),
    ("bot.policies", "from bot.services import rating"),
    ("bot.channels.guard", "from bot.stores.shared_state import shared_state"),
    ("bot.channels.guard", "from bot import metrics"),
    ("bot.rasa_compat.turn_metrics", "from bot import metrics"),
    ("bot.services.handoff", "from bot import metrics"),
    ("bot.action_server", "from bot.stores.database import shared_engine"),
    ("bot.desk.app", "from bot.services import desk"),
    ("bot.web.server", "from bot.desk.app import add_desk"),
])
def test_an_import_within_the_lines_is_not(module, source):
    assert violations(module, source) == []
