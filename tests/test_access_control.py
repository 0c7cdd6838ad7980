"""Who may talk to what: the HTTP API's token, the action server on loopback only."""
from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from bot.launcher import BotServers

TOKEN = "test-secret-token"


def status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.fixture(scope="module")
def guarded_bot(trained_model, tmp_path_factory):
    scratch = tmp_path_factory.mktemp("token-bot")
    servers = BotServers(model=trained_model, rasa_port=5505, actions_port=5555, auth_token=TOKEN,
                         tracker_db=scratch / "tracker.db", log_dir=scratch / "logs",
                         extra_env={"DATABASE_URL": f"sqlite:///{scratch / 'service.db'}"})
    with servers:
        yield servers


def test_with_a_token_set_the_http_api_refuses_requests_without_it(guarded_bot):
    assert status(f"{guarded_bot.url}/conversations/someone/tracker") == 401
    assert status(f"{guarded_bot.url}/conversations/someone/tracker?token=wrong") == 401
    assert status(f"{guarded_bot.url}/conversations/someone/tracker?token={TOKEN}") == 200
    assert status(f"{guarded_bot.url}/status") == 401


def test_the_chat_channels_stay_open_to_users(guarded_bot):
    request = urllib.request.Request(f"{guarded_bot.url}/webhooks/rest/webhook",
                                     data=json.dumps({"sender": "u1", "message": "客服电话多少"}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert "400-8822-528" in response.read().decode()


def listening_addresses(port: int):
    """Local addresses with a listening TCP socket on ``port`` (from /proc/net/tcp)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = open(table).read().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            address, local_port = local.split(":")
            if state == "0A" and int(local_port, 16) == port:
                found.add(address)
    return found


def test_the_action_server_listens_on_loopback_only(bot_servers):
    # 0100007F is 127.0.0.1 in /proc/net/tcp's byte order.
    assert listening_addresses(bot_servers.actions_port) == {"0100007F"}
