"""Handing a conversation to a person: the ticket, the summary they read, the callback number."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from typing import Any, Optional

from bot import clock, metrics
from bot.entities import number_entities
from bot.services import complaints, conversation, desk, fraud, tickets
from bot.services.clarification import topic_label
from bot.services.replies import reply
from bot.settings import desk_enabled
from bot.stores.tickets import TicketKind, TicketStatus
from bot.text import normalize

SUMMARY_MESSAGES = 6
# The cases whose topic the handoff ticket names (the latest one the user raised).
CASE_INTENTS = ("refund", "logistics", "complaint", "fraud_check", "merchant_support", "ticket_status")
_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_LANDLINE = re.compile(r"^0\d{2,3}\d{7,8}$")
# Seven or more digits in a row, with the usual separators: someone typed a number.
_NUMBER_ATTEMPT = re.compile(r"\d[\d\s-]{5,}\d")
# Channels whose handoffs a helpdesk of their own takes (bot/channels/chatwoot.py):
# its agents have the conversation, so the ticket is in progress, not in the desk's queue.
HELPDESK_CHANNELS = frozenset({"chatwoot"})
# WeChat accounts whose own customer-service agents (微信客服) take handoffs
# (WECHAT_TRANSFER_CUSTOMER_SERVICE=1): the handoff action sends this custom
# message, which the WeChat channel (TRANSFER_MESSAGE there) turns into the
# transfer_customer_service reply; the bot is not paused and the desk is not used.
WECHAT_CHANNEL = "wechat"
WECHAT_TRANSFER = {"wechat": "transfer_customer_service"}
# Why a handoff goes first in the agents' queue.
PRIORITY_COMPLAINT = "priority_complaint"
FRAUD_MONEY_LOST = "fraud_money_lost"


def open_handoff(
    sender_id: str, events: Iterable[dict[str, Any]], order_id: Optional[str], channel: Optional[str] = None
) -> tuple[dict[str, Any], str]:
    """A handoff ticket in service hours, a leave-a-message ticket off hours: the reply and the ticket number.

    Priority complaints and fraud with the money already gone go first in
    the agents' queue; ``channel`` (the user's) is shown there too.
    """
    events = list(events)
    topic = conversation.latest_case_intent(events, CASE_INTENTS)
    texts = conversation.user_texts(events, last=SUMMARY_MESSAGES)
    in_hours = clock.is_service_open()
    reason = priority_reason(sender_id, events, topic)
    ticket = tickets.open_ticket(
        TicketKind.HANDOFF if in_hours else TicketKind.MESSAGE,
        sender_id,
        handoff_summary(topic_label(topic) if topic else None, order_id, texts),
        order_id=order_id,
        priority=reason is not None,
        details={"intent": topic, "messages": texts, "channel": channel, "priority_reason": reason},
    )
    metrics.HANDOFFS.labels("open" if in_hours else "closed").inc()
    if channel in HELPDESK_CHANNELS or to_wechat_agents(channel):
        tickets.set_status(ticket.number, TicketStatus.IN_PROGRESS)
    message = reply(_opening_reply(in_hours, channel), ticket_number=ticket.number, reopen_day=clock.reopen_day())
    return message, ticket.number


def to_wechat_agents(channel: Optional[str]) -> bool:
    """This WeChat handoff goes to the account's own customer-service agents (in service hours)."""
    enabled = os.environ.get("WECHAT_TRANSFER_CUSTOMER_SERVICE", "").strip().lower() in ("1", "true", "yes", "on")
    return enabled and channel == WECHAT_CHANNEL and clock.is_service_open()


def _opening_reply(in_hours: bool, channel: Optional[str]) -> str:
    if not in_hours:
        return "handoff_closed"
    if to_wechat_agents(channel):
        return "handoff_wechat_agents"
    # With the agent desk running, or a helpdesk's agents, a person answers right here.
    return "handoff_open_desk" if desk_enabled() or channel in HELPDESK_CHANNELS else "handoff_open"


def priority_reason(sender_id: str, events: list[dict[str, Any]], topic: Optional[str]) -> Optional[str]:
    """Why this handoff goes first: a priority complaint, or fraud with the money gone; None otherwise."""
    session = conversation.user_messages(events)
    if (topic == "fraud_check" or conversation.entity_values(session, "fraud_signal")) and fraud.mentions_money_lost(
        conversation.joined_text(session)
    ):
        return FRAUD_MONEY_LOST
    if topic == "complaint" and _complaint_is_priority(conversation.messages_since_intent(events, ["complaint"])):
        return PRIORITY_COMPLAINT
    if tickets.has_open_priority_complaint(sender_id):
        return PRIORITY_COMPLAINT
    return None


def _complaint_is_priority(messages: list[dict[str, Any]]) -> bool:
    amounts = [complaints.amount_in_yuan(value) for value in conversation.entity_values(messages, "amount")]
    return complaints.is_priority(conversation.entity_values(messages, "safety_signal"), amounts)


def relay_to_agent(sender_id: str, ticket_number: str, text: str) -> Optional[dict[str, Any]]:
    """Files the user's message in the handoff ticket; a phone number in it becomes a callback request.

    While an agent holds the conversation the agent reads it live and answers
    themselves: the bot says nothing (None).
    """
    tickets.add_message(ticket_number, text)
    if desk.is_held(ticket_number):
        return None
    phone = callback_number(text)
    if phone:
        callback = tickets.open_ticket(
            TicketKind.CALLBACK,
            sender_id,
            f"回电请求（转人工工单 {ticket_number}）",
            phone=phone,
            details={"handoff_ticket": ticket_number},
        )
        tickets.set_phone(ticket_number, phone)
        return reply("callback_saved", masked_phone=masked_number(phone), ticket_number=callback.number)
    if looks_like_a_number(text):
        return reply("callback_invalid")
    return reply("relay_ack", ticket_number=ticket_number)


def resume_bot(ticket_number: str, text: str) -> dict[str, Any]:
    """The user takes the conversation back: noted in the ticket.

    If an agent had joined, that session is over (the ticket resolved);
    otherwise the ticket stays for a person to follow up.
    """
    tickets.add_message(ticket_number, text, author="user")
    if _in_helpdesk(ticket_number):
        # The helpdesk's agent gave the conversation back: that handoff is done.
        tickets.set_status(ticket_number, TicketStatus.RESOLVED)
        return reply("resumed_after_agent")
    if desk.user_resumed(ticket_number):
        return reply("resumed_after_agent")
    return reply("resumed", ticket_number=ticket_number)


def _in_helpdesk(ticket_number: str) -> bool:
    ticket = tickets.get(ticket_number)
    return bool(ticket and ticket.details.get("channel") in HELPDESK_CHANNELS)


def handoff_summary(topic: Optional[str], order_reference: Optional[str], recent_texts: Iterable[str]) -> str:
    """What the agent reads first, so the user need not repeat themselves."""
    lines = [f"话题：{topic or '未识别'}", f"订单：{order_reference or '未提供'}", "最近的消息："]
    lines.extend(f"- {text}" for text in list(recent_texts)[-SUMMARY_MESSAGES:])
    return "\n".join(lines)


def callback_number(text: str) -> Optional[str]:
    """A mainland mobile or landline number in ``text``, digits only; None if there is none."""
    clean = normalize(text or "")
    for match in number_entities(clean, ("phone_number",)):
        digits = re.sub(r"\D", "", match.value)
        if _MOBILE.match(digits) or _LANDLINE.match(digits):
            return digits
    return None


def looks_like_a_number(text: str) -> bool:
    """The user typed a long run of digits (perhaps a mistyped phone number)."""
    return bool(_NUMBER_ATTEMPT.search(normalize(text or "")))


def masked_number(digits: str) -> str:
    """138****5678: enough to recognise, not enough to misuse."""
    if len(digits) < 7:
        return "*" * len(digits)
    return f"{digits[:3]}{'*' * (len(digits) - 7)}{digits[-4:]}"
