"""Agent accounts of the desk, from configuration, with scrypt-hashed passwords.

Accounts come from a YAML file (``DESK_AGENTS_FILE``, default
``.data/desk_agents.yml``) and from ``DESK_AGENTS`` (the same YAML, or JSON,
as one variable: for containers and secret stores); an agent in
``DESK_AGENTS`` replaces the file's agent with the same id::

    agents:
      - id: wang            # letters, digits, . _ - (at most 24)
        name: 小王          # what users see: 「人工客服 小王 已接入」
        password_hash: "scrypt:16384:8:1:<salt hex>:<key hex>"

Only hashes are stored (hashlib.scrypt from the standard library, a random
salt per password). The file is read again when it changes, so an agent
added with the CLI can log in at once::

    python -m bot.desk.accounts add wang --name 小王   # asks for the password
    python -m bot.desk.accounts hash                   # a hash for DESK_AGENTS
    python -m bot.desk.accounts list | remove wang
"""

from __future__ import annotations

import argparse
import getpass
import hashlib
import hmac
import logging
import os
import re
import secrets
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import yaml

from bot.settings import desk_agents_file

logger = logging.getLogger(__name__)

SCHEME = "scrypt"
# 16 MB of memory and ~50 ms per check: slow for a password guesser, fine for a login.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
SALT_BYTES, KEY_BYTES = 16, 32
MIN_PASSWORD_CHARS = 8
MAX_PASSWORD_CHARS = 256
MAX_NAME_CHARS = 16
_AGENT_ID = re.compile(r"^[A-Za-z0-9._-]{1,24}$")


class AccountError(ValueError):
    """An account entry or password that cannot be used; the text says why."""


@dataclass(frozen=True)
class Agent:
    id: str
    name: str
    password_hash: str

    def public(self) -> dict[str, str]:
        return {"id": self.id, "name": self.name}


# --- passwords ---------------------------------------------------------------------


def hash_password(password: str, salt: Optional[bytes] = None) -> str:
    """``scrypt:N:r:p:salt:key`` (hex) for ``password``."""
    if not MIN_PASSWORD_CHARS <= len(password) <= MAX_PASSWORD_CHARS:
        raise AccountError(f"a password has {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters")
    salt = salt or secrets.token_bytes(SALT_BYTES)
    key = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"{SCHEME}:{SCRYPT_N}:{SCRYPT_R}:{SCRYPT_P}:{salt.hex()}:{key.hex()}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches the stored hash (constant-time; a malformed hash matches nothing)."""
    try:
        scheme, n, r, p, salt, key = stored.split(":")
        if scheme != SCHEME or len(password) > MAX_PASSWORD_CHARS:
            return False
        computed = _scrypt(password, bytes.fromhex(salt), int(n), int(r), int(p))
    except (ValueError, AttributeError):
        return False
    return hmac.compare_digest(computed, bytes.fromhex(key))


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    # maxmem: scrypt needs 128 * n * r bytes; twice that leaves room.
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=KEY_BYTES, maxmem=256 * n * r)


def is_hash(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(f"{SCHEME}:") and value.count(":") == 5


# --- reading the accounts ------------------------------------------------------------


def agent_from(entry: Any) -> Agent:
    """One account entry of the file or ``DESK_AGENTS``, checked."""
    if not isinstance(entry, dict):
        raise AccountError("an agent is a mapping with id, name and password_hash")
    agent_id, name, password_hash = (str(entry.get(key) or "").strip() for key in ("id", "name", "password_hash"))
    if not _AGENT_ID.match(agent_id):
        raise AccountError(f"agent id {agent_id!r}: letters, digits, '.', '_' or '-', at most 24")
    if not 0 < len(name) <= MAX_NAME_CHARS:
        raise AccountError(f"agent {agent_id}: a name of 1 to {MAX_NAME_CHARS} characters")
    if not is_hash(password_hash):
        raise AccountError(f"agent {agent_id}: password_hash must be a hash (python -m bot.desk.accounts hash)")
    return Agent(agent_id, name, password_hash)


def agents_in(text: str, source: str) -> dict[str, Agent]:
    """The valid agents of a YAML/JSON text; invalid entries are logged and left out."""
    try:
        content = yaml.safe_load(text) or {}
    except yaml.YAMLError as error:
        logger.error("Desk accounts in %s are not valid YAML: %s", source, error)
        return {}
    entries = content.get("agents") if isinstance(content, dict) else content
    found: dict[str, Agent] = {}
    for entry in entries if isinstance(entries, list) else []:
        try:
            agent = agent_from(entry)
        except AccountError as problem:
            logger.error("Desk account in %s left out: %s", source, problem)
            continue
        found[agent.id] = agent
    return found


class Accounts:
    """The configured agents, read again when the file changes."""

    def __init__(self, path: Optional[Path] = None, inline: Optional[str] = None) -> None:
        self.path = path or desk_agents_file()
        self._inline = os.environ.get("DESK_AGENTS", "") if inline is None else inline
        self._lock = threading.Lock()
        self._stamp: Optional[tuple[float, int]] = None
        self._agents: dict[str, Agent] = {}

    def all(self) -> dict[str, Agent]:
        with self._lock:
            stamp = _file_stamp(self.path)
            if stamp != self._stamp or self._stamp is None:
                self._agents = self._read()
                self._stamp = stamp
            return dict(self._agents)

    def get(self, agent_id: str) -> Optional[Agent]:
        return self.all().get(agent_id)

    def authenticate(self, agent_id: str, password: str) -> Optional[Agent]:
        """The agent whose id and password these are; None otherwise (same work either way)."""
        agent = self.get(agent_id)
        # An unknown id still costs one scrypt, so timing does not tell which ids exist.
        stored = agent.password_hash if agent else _DUMMY_HASH
        matches = verify_password(password, stored)
        return agent if agent and matches else None

    @property
    def configured(self) -> bool:
        return bool(self.all())

    def _read(self) -> dict[str, Agent]:
        agents: dict[str, Agent] = {}
        if self.path.is_file():
            agents.update(agents_in(self.path.read_text(encoding="utf-8"), str(self.path)))
        if self._inline.strip():
            agents.update(agents_in(self._inline, "DESK_AGENTS"))
        return agents


def _file_stamp(path: Path) -> tuple[float, int]:
    try:
        info = path.stat()
    except OSError:
        return (0.0, -1)
    return (info.st_mtime, info.st_size)


_DUMMY_HASH = hash_password("not-an-account-" + secrets.token_hex(8))


# --- the file, written by the CLI ---------------------------------------------------------


def read_entries(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    content = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    entries = content.get("agents") if isinstance(content, dict) else None
    return [entry for entry in entries or [] if isinstance(entry, dict)]


def write_entries(path: Path, entries: list[dict[str, Any]]) -> None:
    """Write the accounts file, readable by its owner only (it holds password hashes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump({"agents": entries}, allow_unicode=True, sort_keys=False)
    temporary = path.with_suffix(".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(temporary, path)


def add_agent(path: Path, agent_id: str, name: str, password: str) -> Agent:
    """Add or replace an agent in the file."""
    agent = agent_from({"id": agent_id, "name": name, "password_hash": hash_password(password)})
    entries = [entry for entry in read_entries(path) if entry.get("id") != agent.id]
    entries.append({"id": agent.id, "name": agent.name, "password_hash": agent.password_hash})
    write_entries(path, entries)
    return agent


def remove_agent(path: Path, agent_id: str) -> bool:
    entries = read_entries(path)
    kept = [entry for entry in entries if entry.get("id") != agent_id]
    if len(kept) == len(entries):
        return False
    write_entries(path, kept)
    return True


def _ask_password() -> str:
    if not sys.stdin.isatty():
        # Piped in (scripts, tests): the first line.
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise AccountError("the two passwords differ")
    return first


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.desk.accounts", description="The agent desk's accounts.")
    parser.add_argument("--file", type=Path, default=None, help="accounts file (default: DESK_AGENTS_FILE)")
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add", help="add or replace an agent (asks for the password)")
    add.add_argument("id")
    add.add_argument("--name", required=True, help="the name users see, e.g. 小王")
    commands.add_parser("hash", help="print a password hash (for DESK_AGENTS)")
    commands.add_parser("list", help="the agents of the file")
    remove = commands.add_parser("remove", help="remove an agent")
    remove.add_argument("id")
    args = parser.parse_args(argv)
    path = args.file or desk_agents_file()
    try:
        if args.command == "add":
            agent = add_agent(path, args.id, args.name, _ask_password())
            print(f"Agent {agent.id} ({agent.name}) saved in {path}.")
        elif args.command == "hash":
            print(hash_password(_ask_password()))
        elif args.command == "list":
            for entry in read_entries(path):
                print(f"{entry.get('id')}\t{entry.get('name')}")
        elif not remove_agent(path, args.id):
            print(f"No agent {args.id} in {path}.", file=sys.stderr)
            return 1
    except AccountError as problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
