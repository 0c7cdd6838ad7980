"""WECHAT_TRANSFER_CUSTOMER_SERVICE: a WeChat handoff goes to the account's own customer-service agents."""
from __future__ import annotations

import pytest
from rasa_sdk.events import SlotSet

from actions.handoff import ActionHandoff
from bot import clock
from bot.channels.wechat import TRANSFER_MESSAGE
from bot.services import handoff
from bot.services.replies import reply
from tests.actions.conftest import NIGHT, tracker_with, user_event
from tests.actions.test_case_actions import FIRST_TICKET, run


def asks_for_a_person(channel: str):
    return tracker_with(events=[{**user_event("转人工", "request_human"), "input_channel": channel}])


def test_the_action_and_the_channel_agree_on_the_transfer_message():
    assert handoff.WECHAT_TRANSFER == TRANSFER_MESSAGE


@pytest.mark.asyncio
async def test_with_the_option_a_wechat_handoff_transfers_and_does_not_pause_the_bot(service_db, monkeypatch):
    monkeypatch.setenv("WECHAT_TRANSFER_CUSTOMER_SERVICE", "1")
    messages, events = await run(ActionHandoff(), asks_for_a_person("wechat"))

    assert messages[0]["text"] == reply("handoff_wechat_agents", ticket_number=FIRST_TICKET)["text"]
    assert messages[1]["custom"] == TRANSFER_MESSAGE
    assert not any(event == SlotSet("handoff_ticket", FIRST_TICKET) for event in events)
    ticket = service_db.get(FIRST_TICKET)
    assert (ticket.kind, ticket.status, ticket.details["channel"]) == ("handoff", "in_progress", "wechat")


@pytest.mark.asyncio
@pytest.mark.parametrize("setting, channel", [("", "wechat"), ("1", "socketio"), ("1", "rest")])
async def test_without_the_option_or_outside_wechat_the_bot_pauses_for_the_desk(service_db, monkeypatch, setting,
                                                                                 channel):
    monkeypatch.setenv("WECHAT_TRANSFER_CUSTOMER_SERVICE", setting)
    messages, events = await run(ActionHandoff(), asks_for_a_person(channel))
    assert events[-1] == SlotSet("handoff_ticket", FIRST_TICKET)
    assert all(not message.get("custom") for message in messages)
    assert service_db.get(FIRST_TICKET).status == "open"


@pytest.mark.asyncio
async def test_off_hours_a_wechat_user_leaves_a_message_for_the_morning_instead(service_db, monkeypatch):
    monkeypatch.setenv("WECHAT_TRANSFER_CUSTOMER_SERVICE", "1")
    with clock.frozen_at(NIGHT):
        messages, events = await run(ActionHandoff(), asks_for_a_person("wechat"))
    assert events[-1] == SlotSet("handoff_ticket", FIRST_TICKET)
    assert service_db.get(FIRST_TICKET).kind == "message"
