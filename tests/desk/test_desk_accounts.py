"""Agent accounts: configured in a file or DESK_AGENTS, only password hashes stored, a CLI to add agents."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import pytest

from bot.desk.accounts import Accounts, AccountError, agents_in, hash_password, verify_password
from bot.settings import ROOT


def test_a_password_matches_its_hash_and_nothing_else():
    stored = hash_password("correct horse")
    assert stored.startswith("scrypt:16384:8:1:") and "correct horse" not in stored
    assert verify_password("correct horse", stored)
    assert not verify_password("correct hors", stored)
    assert hash_password("correct horse") != stored  # a new salt each time


@pytest.mark.parametrize("stored", ["", "plain-text-password", "scrypt:1:2:3", "md5:0:0:0:00:00", None])
def test_a_malformed_hash_matches_nothing(stored):
    assert verify_password("whatever", stored) is False


def test_too_short_a_password_is_refused():
    with pytest.raises(AccountError):
        hash_password("short")


def test_the_file_and_the_variable_both_give_agents_the_variable_winning(tmp_path):
    path = tmp_path / "agents.yml"
    path.write_text(json.dumps({"agents": [
        {"id": "wang", "name": "小王", "password_hash": hash_password("file-password")},
        {"id": "zhao", "name": "小赵", "password_hash": hash_password("zhao-password")},
    ]}, ensure_ascii=False), encoding="utf-8")
    inline = f"agents:\n  - {{id: wang, name: 王姐, password_hash: '{hash_password('env-password')}'}}\n"
    accounts = Accounts(path, inline)

    assert {agent.id: agent.name for agent in accounts.all().values()} == {"wang": "王姐", "zhao": "小赵"}
    assert accounts.authenticate("wang", "env-password").name == "王姐"
    assert accounts.authenticate("wang", "file-password") is None
    assert accounts.authenticate("nobody", "env-password") is None


def test_an_invalid_entry_is_left_out_not_the_others(caplog):
    good = {"id": "li", "name": "小李", "password_hash": hash_password("li-password")}
    text = json.dumps({"agents": [good, {"id": "bad id!", "name": "x", "password_hash": good["password_hash"]},
                                  {"id": "plain", "name": "明文", "password_hash": "secret123"}]})
    assert list(agents_in(text, "test")) == ["li"]
    assert "plain" in caplog.text and "bad id!" in caplog.text


def test_an_agent_added_with_the_cli_can_log_in_without_a_restart(tmp_path):
    path = tmp_path / "agents.yml"
    accounts = Accounts(path, "")
    assert accounts.configured is False

    def cli(*args, password=""):
        return subprocess.run([sys.executable, "-m", "bot.desk.accounts", "--file", str(path), *args],
                              input=password + "\n", capture_output=True, text=True, timeout=60,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})

    added = cli("add", "wang", "--name", "小王", password="a-good-password")
    assert added.returncode == 0, added.stderr
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # it holds password hashes
    assert "a-good-password" not in path.read_text(encoding="utf-8")
    assert accounts.authenticate("wang", "a-good-password").name == "小王"
    assert cli("list").stdout.strip() == "wang\t小王"

    hashed = cli("hash", password="another-password").stdout.strip()
    assert verify_password("another-password", hashed)
    assert cli("add", "li", "--name", "小李", password="short").returncode == 2

    assert cli("remove", "wang").returncode == 0
    assert accounts.get("wang") is None
    assert cli("remove", "wang").returncode == 1
