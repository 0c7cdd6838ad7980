"""Bad input over the REST channel of the running bot: a clear answer or a clear 4xx, and the next message works."""
from __future__ import annotations

import json
import socket
import sqlite3
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.test_conversations import new_sender, say, texts

CARD = "6222021234567894"


def post(servers, body: bytes, content_type: str = "application/json"):
    request = urllib.request.Request(f"{servers.url}/webhooks/rest/webhook", data=body,
                                     headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def still_answers(servers) -> None:
    assert "400-8822-528" in texts(say(servers, "客服电话多少", new_sender()))


@pytest.mark.parametrize("body, problem", [
    (b"{not json", "not valid JSON"),
    (b"\xff\xfe\x00bad", "not valid UTF-8"),
    (b'["sender", "message"]', "must be a JSON object"),
    (b'{"message": "hi"}', '"sender" is required'),
    (b'{"sender": "", "message": "hi"}', '"sender" must be 1 to'),
    (b'{"sender": {"a": 1}, "message": "hi"}', '"sender" is required'),
    (b'{"sender": "x"}', '"message" is required'),
    (b'{"sender": "x", "message": 42}', '"message" is required and must be a string'),
    (b'{"sender": "x", "message": "hi", "metadata": "oops"}', '"metadata" must be a JSON object'),
])
def test_malformed_requests_get_a_400_that_says_why(bot_servers, body, problem):
    status, answer = post(bot_servers, body)
    assert status == 400
    assert problem in json.loads(answer)["error"]
    still_answers(bot_servers)


def test_a_5_mb_body_is_refused_with_413(bot_servers):
    assert status_of_a_huge_post(bot_servers, 5 * 1024 * 1024) == 413
    still_answers(bot_servers)


def status_of_a_huge_post(servers, size: int) -> int:
    """Send the headers and the start of the body, then read what the server says."""
    host, port = servers.url.replace("http://", "").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as connection:
        connection.sendall(
            f"POST /webhooks/rest/webhook HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {size}\r\n\r\n".encode() + b'{"sender": "x", "message": "' + b"a" * 65536
        )
        status_line = connection.makefile("rb").readline().decode()
    return int(status_line.split()[1])


@pytest.mark.parametrize("text", ["", "    ", "\u200b\u200b"])
def test_empty_messages_get_a_polite_answer(bot_servers, text):
    assert texts(say(bot_servers, text, new_sender())) == "您好像发了一条空消息～请问有什么可以帮您？"


def test_a_20000_character_message_is_answered_quickly_with_a_note(bot_servers):
    started = time.monotonic()
    answer = say(bot_servers, "客服电话多少" + "，" * 20_000, new_sender())
    assert time.monotonic() - started < 10
    assert answer[0]["text"] == "您的消息比较长，我先看了前 500 个字；没说到的可以分几条再发给我。"
    assert len(answer) > 1
    still_answers(bot_servers)


@pytest.mark.parametrize("text", ["😀😀😀", "\u202e\u202d客服电话\u2066多少\u2069", "'; DROP TABLE events; --", "<script>alert(1)</script>"])
def test_odd_text_gets_an_answer(bot_servers, text):
    assert texts(say(bot_servers, text, new_sender())).strip()


def test_html_and_sql_text_is_stored_as_written(bot_servers, ticket_store):
    sender = new_sender()
    say(bot_servers, "我要投诉", sender)
    attack = "<script>alert(1)</script> 商家'; DROP TABLE service_tickets; -- 卖假货"
    say(bot_servers, attack, sender)
    say(bot_servers, "/deny", sender)
    [ticket] = ticket_store.for_sender(sender)
    assert ticket.summary == attack
    still_answers(bot_servers)


def test_secrets_are_warned_about_and_never_stored(bot_servers, ticket_store):
    sender = new_sender()
    say(bot_servers, "我要投诉", sender)
    answer = texts(say(bot_servers, f"商家客服让我报卡号{CARD}和验证码 482913 说给我退款 结果钱被转走了", sender))
    assert "不要发给任何人，包括客服" in answer
    say(bot_servers, "/deny", sender)

    tracker = json.loads(urllib.request.urlopen(f"{bot_servers.url}/conversations/{sender}/tracker").read())
    stored = json.dumps(tracker, ensure_ascii=False)
    assert "6222 **** **** 7894" in stored
    assert CARD not in stored and "482913" not in stored
    stored_rows = tracker_db_text(bot_servers, sender)
    assert "6222 **** **** 7894" in stored_rows
    assert CARD not in stored_rows and "482913" not in stored_rows
    [ticket] = ticket_store.for_sender(sender)
    assert CARD not in ticket.summary and "6222 **** **** 7894" in ticket.summary
    for log in Path(bot_servers.log_dir).glob("*.log"):
        assert CARD not in log.read_text(errors="replace")


def test_one_sender_flooding_is_slowed_down_and_others_are_not(bot_servers):
    flood, calm = new_sender(), new_sender()
    answers = [texts(say(bot_servers, f"你好{n}", flood)) for n in range(24)]
    assert sum("您发得太快啦" in answer for answer in answers) >= 4
    assert "400-8822-528" in texts(say(bot_servers, "客服电话多少", calm))


def tracker_db_text(servers, sender: str) -> str:
    """This sender's events as the SQLite tracker store holds them."""
    with sqlite3.connect(servers.tracker_db) as db:
        rows = db.execute("SELECT data FROM events WHERE sender_id = ?", (sender,))
        return "\n".join(row[0] or "" for row in rows)
