"""docs/triage-bot.service: systemd accepts it, and it runs what `make cluster` runs, stopped the way it stops cleanly."""
from __future__ import annotations

import configparser
import shutil
import subprocess

import pytest

from bot.settings import ROOT

UNIT = ROOT / "docs" / "triage-bot.service"


def unit() -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False)
    parser.optionxform = str
    parser.read_string(UNIT.read_text(encoding="utf-8"))
    return parser


def test_the_unit_starts_the_launcher_and_stops_it_with_sigterm_to_it_alone():
    service = unit()["Service"]
    assert service["ExecStart"].endswith("-m bot.launcher --profile production --instances 2")
    assert service["KillSignal"] == "SIGTERM" and service["KillMode"] == "mixed"
    assert int(service["TimeoutStopSec"]) > 15  # the launcher's own promise


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze not installed")
def test_systemd_accepts_the_unit_with_this_checkouts_paths(tmp_path):
    text = UNIT.read_text(encoding="utf-8").replace("/opt/triage-bot", str(ROOT))
    text = text.replace("User=triage", "User=root").replace("Group=triage", "Group=root")
    local = tmp_path / "triage-bot.service"
    local.write_text(text, encoding="utf-8")
    checked = subprocess.run(["systemd-analyze", "verify", str(local)], capture_output=True, text=True, cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
