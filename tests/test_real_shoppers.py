"""Real shoppers' openings end to end over REST (issue 14, points 1-6).

Each test is a new shopper typing the way people write to customer service:
greetings glued to requests, venting instead of 投诉, bare digits after the
rating question, chat slang, and a priority complaint in the first message.
"""
from __future__ import annotations

import pytest

from tests.test_case_conversations import ticket_in
from tests.test_conversations import new_sender, say, texts

HUMAN_ROUTE = ["400-8822-528", "个人中心", "转人工"]
TOPIC_BUTTONS = "不太确定"


def assert_human_route(answer: str) -> None:
    for expected in HUMAN_ROUTE:
        assert expected in answer, answer
    assert TOPIC_BUTTONS not in answer
    ticket_in(answer)


@pytest.mark.parametrize("message", ["人工客服 在不在呀", "您好 人工", "哈喽 有人工吗", "在吗 转人工", "你好，找下真人客服"])
def test_a_greeting_with_a_request_for_a_person_gets_the_person(bot_servers, message):
    answer = texts(say(bot_servers, message, new_sender()))
    assert_human_route(answer)
    assert "请问有什么可以帮您" not in answer


@pytest.mark.parametrize("message", ["你好", "在吗", "您好 请问在吗", "哈喽 亲"])
def test_a_message_that_is_only_a_greeting_gets_the_greeting(bot_servers, message):
    assert "请问有什么可以帮您" in texts(say(bot_servers, message, new_sender()))


def test_a_greeting_with_a_parcel_question_gets_the_parcel_case(bot_servers):
    answer = texts(say(bot_servers, "您好 我的快递到哪了", new_sender()))
    assert "订单编号或快递单号" in answer


@pytest.mark.parametrize("message", ["垃圾客服", "你们这服务太差了", "再不处理我就去12315了", "等半天了 没人回", "这什么烂平台 客服都找不到人"])
def test_venting_without_a_subject_is_acknowledged_then_goes_to_a_person(bot_servers, message):
    replies = say(bot_servers, message, new_sender())
    first = replies[0]["text"]
    assert "抱歉" in first and "转人工客服" in first, first
    assert_human_route(texts(replies[1:]))


def test_venting_about_a_parcel_is_acknowledged_then_the_parcel_case_goes_on_with_priority(bot_servers):
    replies = say(bot_servers, "等了八天了还不发货 你们还做不做生意", new_sender())
    assert "抱歉" in replies[0]["text"] and "优先" in replies[0]["text"]
    assert "订单编号或快递单号" in texts(replies[1:])


def test_venting_with_the_order_number_gets_the_answer_after_the_acknowledgement(bot_servers):
    replies = say(bot_servers, "订单261124-710356284019935 都一个礼拜了还不发货 气死了", new_sender())
    assert "优先" in replies[0]["text"]
    assert "还在等商家发货" in texts(replies[1:])


def test_a_second_angry_message_inside_a_case_goes_to_a_person(bot_servers):
    sender = new_sender()
    first = say(bot_servers, "等了五天了还没到 什么破快递", sender)
    assert "订单编号或快递单号" in texts(first)
    replies = say(bot_servers, "你们到底管不管 气死了", sender)
    assert "转人工客服" in replies[0]["text"]
    assert_human_route(texts(replies[1:]))


@pytest.mark.parametrize("message,expected", [
    ("物流呢", "订单编号或快递单号"),
    ("啥时候能到", "订单编号或快递单号"),
    ("还没发货", "订单编号或快递单号"),
])
def test_terse_parcel_fragments_and_timing_questions_get_the_parcel_case(bot_servers, message, expected):
    answer = texts(say(bot_servers, message, new_sender()))
    assert expected in answer
    assert "客服每天" not in answer


@pytest.mark.parametrize("message", ["花呗分期怎么开通", "信用卡额度怎么提高", "京东白条怎么还款"])
def test_money_questions_are_not_treated_as_fraud(bot_servers, message):
    answer = texts(say(bot_servers, message, new_sender()))
    assert "风险判断" not in answer and "对方是怎么联系您的" not in answer


def test_a_real_fraud_story_with_money_words_is_still_checked(bot_servers):
    answer = texts(say(bot_servers, "有个自称拼多多客服的让我开通花呗备用金 还要验证码", new_sender()))
    assert "风险判断" in answer


@pytest.mark.parametrize("score,stored", [("4", 4), ("５", 5), ("4分", 4), ("五星", 5)])
def test_a_bare_score_after_the_rating_question_is_the_rating(bot_servers, ticket_store, score, stored):
    sender = new_sender()
    case = say(bot_servers, "订单261117-228410735906618 退款到哪一步了", sender)
    assert [button["title"] for button in case[-1]["buttons"]][0] == "1分"
    assert "谢谢您的评价" in texts(say(bot_servers, score, sender))
    [rating] = ticket_store.ratings_for(sender)
    assert rating.score == stored


def test_an_order_number_typed_at_the_rating_question_is_still_an_order_number(bot_servers, ticket_store):
    sender = new_sender()
    say(bot_servers, "订单261117-228410735906618 退款到哪一步了", sender)
    answer = texts(say(bot_servers, "261122-482913004417265", sender))
    assert "谢谢您的评价" not in answer
    assert ticket_store.ratings_for(sender) == []


def test_a_bare_digit_out_of_the_blue_is_not_a_rating(bot_servers, ticket_store):
    sender = new_sender()
    answer = texts(say(bot_servers, "4", sender))
    assert "谢谢您的评价" not in answer
    assert ticket_store.ratings_for(sender) == []


@pytest.mark.parametrize("message", ["886", "88", "拜了", "溜了"])
def test_chat_slang_goodbyes_are_goodbye(bot_servers, message):
    assert "祝您购物愉快" in texts(say(bot_servers, message, new_sender()))


def test_a_health_complaint_hears_priority_and_see_a_doctor_before_the_order_question(bot_servers, ticket_store):
    sender = new_sender()
    replies = say(bot_servers, "孩子吃了你们卖的零食上吐下泻 我要投诉", sender)
    promise, question = replies[0]["text"], texts(replies[1:])
    assert "优先处理" in promise and "24小时内" in promise and "就诊" in promise
    assert "哪笔订单" in question
    answer = texts(say(bot_servers, "261119-559027316840153", sender))
    assert "优先处理" in answer
    ticket = ticket_store.get(ticket_in(answer))
    assert ticket.priority


def test_a_large_sum_complaint_hears_priority_without_medical_advice(bot_servers):
    replies = say(bot_servers, "商家收了我3000块钱不发货 我要投诉", new_sender())
    assert "优先处理" in replies[0]["text"] and "就诊" not in replies[0]["text"]
    assert "哪笔订单" in texts(replies[1:])


def test_an_ordinary_complaint_gets_no_priority_promise(bot_servers):
    replies = say(bot_servers, "商家发错颜色了 我要投诉", new_sender())
    assert "优先处理" not in texts(replies)
    assert "哪笔订单" in texts(replies)
