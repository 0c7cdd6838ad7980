"""An agent takes over a REST user's conversation through the desk's API, and gives it back to the bot."""
from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa

from tests.desk.conftest import bot_texts, new_sender, rest_say, ticket_in, tracker, wait_until

REFUSED_ORDER = "261112-405829173664021"


def ask_for_a_person_about_a_refund(bot, sender: str) -> str:
    rest_say(bot, sender, "我要退款")
    rest_say(bot, sender, REFUSED_ORDER)
    return ticket_in(rest_say(bot, sender, "转人工"))


def ticket_row(service_db, number: str):
    with service_db.connect() as connection:
        return connection.execute(sa.text("SELECT status, priority FROM service_tickets WHERE number = :n"),
                                  {"n": number}).one()


def test_the_waiting_user_is_first_in_the_queue_with_what_the_agent_needs(desk_bot, wang, empty_queue):
    sender = new_sender("rest")
    number = ask_for_a_person_about_a_refund(desk_bot, sender)

    first = wang.queue()["queue"][0]
    assert first["number"] == number
    assert (first["topic"], first["order_id"], first["channel"], first["kind"]) == (
        "退款/退货", REFUSED_ORDER, "rest", "handoff")
    assert "我要退款" in first["summary"] and "转人工" in first["summary"]
    assert first["waited_seconds"] >= 0 and first["priority"] is False


def test_an_agent_answers_a_rest_user_through_the_tracker_and_closes_with_the_rating(desk_bot, wang, service_db):
    sender = new_sender("rest")
    number = ask_for_a_person_about_a_refund(desk_bot, sender)
    assert any("接入后会直接在这里回复您" in text for text in bot_texts(desk_bot, sender))

    claimed = wang.claim(number)
    assert claimed.status_code == 200, claimed.text
    transcript = claimed.json()["transcript"]
    assert [item["text"] for item in transcript if item["from"] == "user"][:2] == ["我要退款", REFUSED_ORDER]
    assert any(number in item["text"] for item in transcript if item["from"] == "bot")
    assert "人工客服 小王 已接入" in bot_texts(desk_bot, sender)[-1]
    assert ticket_row(service_db, number).status == "in_progress"

    assert wang.say(number, "您好，我看到商家拒绝了退款，我来帮您申请平台介入。").status_code == 200
    agent_event = [event for event in tracker(desk_bot, sender)["events"] if event["event"] == "bot"][-1]
    assert agent_event["text"] == "您好，我看到商家拒绝了退款，我来帮您申请平台介入。"
    assert agent_event["metadata"]["desk"] == {"kind": "reply", "agent": "wang"}

    # The user's answer reaches the agent; the bot says nothing in between.
    assert rest_say(desk_bot, sender, "好的，麻烦您了") == []
    last = wang.conversation(number)["transcript"][-1]
    assert (last["from"], last["text"]) == ("user", "好的，麻烦您了")

    assert wang.close(number).status_code == 200
    closing = bot_texts(desk_bot, sender)[-1]
    assert "人工客服已结束本次服务" in closing and "请给我打个分" in closing
    assert ticket_row(service_db, number).status == "resolved"
    assert wang.conversation(number)["handlers"] == ["wang"]

    # The bot is back: a bare 5 is the rating of the handoff ticket.
    assert "谢谢您的评价" in rest_say(desk_bot, sender, "5")[0]["text"]
    with service_db.connect() as connection:
        rating = connection.execute(sa.text(
            "SELECT score, ticket_number, service_case FROM service_ratings WHERE sender_id = :s"), {"s": sender}).one()
    assert tuple(rating) == (5, number, "handoff")
    assert "400-8822-528" in rest_say(desk_bot, sender, "客服电话多少")[0]["text"]


def test_two_agents_claiming_at_once_one_gets_it(desk_bot, wang, li):
    sender = new_sender("rest")
    number = ticket_in(rest_say(desk_bot, sender, "转人工"))
    start = threading.Barrier(2)
    answers = {}

    def claim(client):
        start.wait()
        answers[client.agent_id] = client.claim(number)

    threads = [threading.Thread(target=claim, args=(client,)) for client in (wang, li)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    codes = sorted(answer.status_code for answer in answers.values())
    assert codes == [200, 409]
    winner = next(agent for agent, answer in answers.items() if answer.status_code == 200)
    loser = next(agent for agent, answer in answers.items() if answer.status_code == 409)
    assert answers[loser].json() == {"error": "taken", "holder": winner}
    joined = [text for text in bot_texts(desk_bot, sender) if "已接入" in text]
    assert len(joined) == 1
    # Only the holder may answer.
    loser_client, winner_client = (wang, li) if loser == "wang" else (li, wang)
    assert loser_client.say(number, "我也来").status_code == 403
    assert winner_client.close(number).status_code == 200


def test_the_user_going_back_to_the_bot_ends_the_agents_session(desk_bot, wang):
    sender = new_sender("rest")
    number = ticket_in(rest_say(desk_bot, sender, "转人工"))
    assert wang.claim(number).status_code == 200

    back = rest_say(desk_bot, sender, "回到机器人")
    assert "人工服务已结束" in back[0]["text"]
    assert number not in [entry["number"] for entry in wang.queue()["mine"]]
    assert wang.say(number, "还在吗").status_code == 403


def test_an_agent_hands_the_conversation_to_a_colleague(desk_bot, wang, li):
    sender = new_sender("rest")
    number = ticket_in(rest_say(desk_bot, sender, "转人工"))
    assert wang.claim(number).status_code == 200

    moved = wang.post(f"conversations/{number}/transfer", {"agent": "li"})
    assert moved.status_code == 200, moved.text
    assert "已为您转接人工客服 小李" in bot_texts(desk_bot, sender)[-1]
    assert wang.say(number, "…").status_code == 403
    assert li.say(number, "您好，我是小李，接着帮您处理。").status_code == 200
    assert number in [entry["number"] for entry in li.queue()["mine"]]
    assert number not in [entry["number"] for entry in wang.queue()["mine"]]
    assert li.close(number).status_code == 200
    assert li.conversation(number)["handlers"] == ["wang", "li"]


def test_a_handoff_nobody_claims_in_time_offers_a_callback_or_a_message(desk_bot, wang, service_db):
    sender = new_sender("rest")
    number = ticket_in(rest_say(desk_bot, sender, "转人工"))
    # Eleven minutes pass (the clock is pinned: the ticket is made older instead).
    with service_db.begin() as connection:
        connection.execute(sa.text("UPDATE service_tickets SET created_at = :t WHERE number = :n"),
                           {"t": "2026-11-25 02:19:00.000000", "n": number})

    notice = wait_until(lambda: [text for text in bot_texts(desk_bot, sender) if "人工客服暂时都在忙" in text])
    assert "手机号" in notice[0] and "留言" in notice[0] and number in notice[0]
    entry = wang.waiting(number)
    assert entry["timed_out"] is True  # still waiting for a person, flagged
    # Told once, however many sweeps run.
    time.sleep(2.5)
    assert len([text for text in bot_texts(desk_bot, sender) if "人工客服暂时都在忙" in text]) == 1
    # A phone number now becomes a callback request, as during any handoff.
    assert "138****5678" in rest_say(desk_bot, sender, "13812345678")[0]["text"]


@pytest.mark.parametrize("text", ["", "   ", None])
def test_an_empty_reply_is_refused(desk_bot, wang, text):
    sender = new_sender("rest")
    number = ticket_in(rest_say(desk_bot, sender, "转人工"))
    assert wang.claim(number).status_code == 200
    answer = wang.say(number, text)
    assert (answer.status_code, answer.json()) == (400, {"error": "empty_message"})
    assert wang.close(number).status_code == 200
