"""The cases end to end over the REST channel, with the action server and its database."""
from __future__ import annotations

import json
import re
import urllib.request

from tests.test_conversations import new_sender, say, texts

RATE_FIVE = '/rate{"rating": "5"}'
TICKET = re.compile(r"T\d{8}-\d{4}")


def ticket_in(answer: str) -> str:
    found = TICKET.search(answer)
    assert found, answer
    return found.group()


def test_refund_form_asks_for_the_order_reads_full_width_digits_and_reports_the_state(bot_servers, ticket_store):
    sender = new_sender()
    question = texts(say(bot_servers, "我要退款", sender))
    assert "请把订单编号发给我" in question

    replies = say(bot_servers, "２６１１１７－２２８４１０７３５９０６６１８", sender)
    assert "订单 261117-228410735906618（李宁 赤兔6 跑步鞋 男款 43码）的退款申请已提交" in replies[0]["text"]
    assert "1-3个工作日" in replies[0]["text"]
    assert [button["title"] for button in replies[-1]["buttons"]] == ["1分", "2分", "3分", "4分", "5分"]

    assert texts(say(bot_servers, RATE_FIVE, sender)) == "谢谢您的评价！还有其他问题随时告诉我。"
    [rating] = ticket_store.ratings_for(sender)
    assert (rating.score, rating.case) == (5, "refund")


def test_refund_with_the_order_in_the_first_message_needs_no_question(bot_servers):
    answer = texts(say(bot_servers, "订单261108-816240579331846 退款怎么还没好", new_sender()))
    assert "平台介入处理中" in answer and "3-7个工作日" in answer
    ticket_in(answer)


def test_wrong_order_number_twice_points_to_a_person(bot_servers):
    sender = new_sender()
    say(bot_servers, "我要退款", sender)
    assert "没有看到有效的订单编号" in texts(say(bot_servers, "12345", sender))
    answer = texts(say(bot_servers, "261101-000000000000001", sender))
    assert "两次都没能查到这笔订单" in answer and "400-8822-528" in answer
    # The form is over: the next question is answered on its own.
    assert "400-8822-528" in texts(say(bot_servers, "客服电话是多少", sender))


def test_a_question_mid_form_is_answered_and_the_form_asks_again(bot_servers):
    sender = new_sender()
    say(bot_servers, "我要退款", sender)
    replies = say(bot_servers, "客服电话是多少", sender)
    assert "400-8822-528" in replies[0]["text"]
    assert "请把订单编号发给我" in replies[-1]["text"]


def test_changing_topic_mid_form_starts_the_new_case(bot_servers):
    sender = new_sender()
    say(bot_servers, "我要退款", sender)
    assert "请发一下订单编号或快递单号" in texts(say(bot_servers, "算了 先帮我查下快递到哪了", sender))
    answer = texts(say(bot_servers, "YT7512348806123", sender))
    assert "运输中" in answer and "退款" not in answer


def test_stale_parcel_opens_a_ticket_the_user_can_look_up(bot_servers, ticket_store):
    sender = new_sender()
    answer = texts(say(bot_servers, "快递好几天没动了 单号YD4318827305516", sender))
    assert "超过 48 小时没有更新" in answer
    number = ticket_in(answer)
    assert ticket_store.get(number).kind == "logistics"

    mine = texts(say(bot_servers, "我的工单", sender))
    assert f"· {number} 物流问题：待处理" in mine
    detail = texts(say(bot_servers, f"工单{number}进度怎么样了", sender))
    assert detail.startswith(f"工单 {number}（物流问题）：待处理")


def test_food_safety_complaint_is_priority(bot_servers, ticket_store):
    sender = new_sender()
    assert "具体发生了什么" in texts(say(bot_servers, "我要投诉", sender))
    assert "哪笔订单" in texts(say(bot_servers, "买的坚果发霉了 孩子吃了拉肚子", sender))
    answer = texts(say(bot_servers, "/deny", sender))
    assert "已标记为优先处理，24小时内会有专人跟进" in answer
    ticket = ticket_store.get(ticket_in(answer))
    assert ticket.priority and ticket.summary == "买的坚果发霉了 孩子吃了拉肚子"


def test_fraud_check_scores_signals_and_distrusts_a_spoofed_number(bot_servers):
    answer = texts(say(bot_servers, "有人打电话说是拼多多客服 来电显示4008822528 让我提供验证码再转账", new_sender()))
    assert "风险判断：高风险" in answer
    assert "验证码" in answer and "转账" in answer
    assert "来电显示可以伪造" in answer
    assert "96110" in answer


def test_vague_fraud_question_is_asked_about_once(bot_servers):
    sender = new_sender()
    assert "对方是怎么联系您的" in texts(say(bot_servers, "我是不是被骗了", sender))
    answer = texts(say(bot_servers, "对方让我下载一个会议软件共享屏幕", sender))
    assert "风险判断：高风险" in answer and "屏幕共享" in answer


def test_handoff_pauses_the_bot_until_an_agent_gives_it_back(bot_servers, ticket_store):
    sender = new_sender()
    say(bot_servers, "订单261112-405829173664021 商家拒绝退款", sender)
    answer = texts(say(bot_servers, "转人工", sender))
    assert "400-8822-528" in answer and "转人工工单" in answer
    number = ticket_in(answer)
    ticket = ticket_store.get(number)
    assert ticket.kind == "handoff" and ticket.order_id == "261112-405829173664021"
    assert "- 订单261112-405829173664021 商家拒绝退款" in ticket.summary

    # While a person has the conversation the bot only files the messages.
    assert "已记在工单" in texts(say(bot_servers, "客服电话是多少", sender))
    callback = texts(say(bot_servers, "回电打 13812345678", sender))
    assert "138****5678" in callback
    assert [message.text for message in ticket_store.messages(number)] == ["客服电话是多少", "回电打 13812345678"]
    assert ticket_store.get(number).phone == "13812345678"

    give_back_to_the_bot(bot_servers, sender)
    assert "400-8822-528" in texts(say(bot_servers, "客服电话是多少", sender))


def test_the_user_can_take_the_bot_back(bot_servers):
    sender = new_sender()
    say(bot_servers, "转人工", sender)
    assert "智能客服回来啦" in texts(say(bot_servers, "回到机器人", sender))
    assert "021-5339-5288" in texts(say(bot_servers, "客服电话多少", sender))


def test_asking_for_a_human_mid_form_ends_the_form(bot_servers):
    sender = new_sender()
    say(bot_servers, "我要退款", sender)
    answer = texts(say(bot_servers, "别问了 直接转人工", sender))
    assert "转人工工单" in answer and "订单编号发给我" not in answer


def give_back_to_the_bot(servers, sender: str) -> None:
    """What an agent's tool does: clear the handoff slot through Rasa's HTTP API."""
    request = urllib.request.Request(
        f"{servers.url}/conversations/{sender}/tracker/events",
        data=json.dumps({"event": "slot", "name": "handoff_ticket", "value": None}).encode("utf-8"),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200
