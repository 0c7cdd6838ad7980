"""bot/nlg.py: responses with the facts filled in and the wording for the hour."""
from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker

from bot.clock import frozen_at
from bot.nlg import ServiceNaturalLanguageGenerator
from bot.settings import ROOT

DOMAIN_FILE = str(ROOT / "domain.yml")
SHANGHAI = ZoneInfo("Asia/Shanghai")
DAYTIME = datetime(2026, 11, 25, 10, 0, tzinfo=SHANGHAI)
NIGHT = datetime(2026, 11, 25, 2, 0, tzinfo=SHANGHAI)


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(DOMAIN_FILE)


@pytest.fixture(scope="module")
def generator(domain) -> ServiceNaturalLanguageGenerator:
    return ServiceNaturalLanguageGenerator(domain=domain)


@pytest.fixture
def tracker(domain) -> DialogueStateTracker:
    return DialogueStateTracker("t", domain.slots)


async def say(generator, tracker, action: str, moment: datetime) -> str:
    with frozen_at(moment):
        response = await generator.generate(action, tracker, "rest")
    assert response is not None, action
    return response["text"]


@pytest.mark.asyncio
async def test_escalation_in_service_hours_sends_the_user_to_a_human(generator, tracker):
    text = await say(generator, tracker, "utter_escalate", DAYTIME)

    for expected in ("400-8822-528", "个人中心", "转人工", "排队回拨", "021-5339-5288", "7:00-23:00"):
        assert expected in text
    assert "下班" not in text


@pytest.mark.asyncio
async def test_escalation_at_night_says_agents_are_off_and_offers_a_message(generator, tracker):
    text = await say(generator, tracker, "utter_escalate", NIGHT)

    for expected in ("下班", "留言", "7:00", "400-8822-528"):
        assert expected in text
    assert "排队回拨" not in text


@pytest.mark.asyncio
async def test_default_in_service_hours_apologises_and_sends_the_user_to_a_human(generator, tracker):
    text = await say(generator, tracker, "utter_default", DAYTIME)

    assert text.startswith("抱歉")
    for expected in ("400-8822-528", "个人中心", "转人工", "排队回拨"):
        assert expected in text
    assert "下班" not in text


@pytest.mark.asyncio
async def test_default_at_night_apologises_and_says_agents_are_off(generator, tracker):
    text = await say(generator, tracker, "utter_default", NIGHT)

    assert text.startswith("抱歉")
    for expected in ("下班", "留言", "7:00", "400-8822-528"):
        assert expected in text
    assert "排队回拨" not in text


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("moment", "off_hours"),
    [
        (datetime(2026, 11, 25, 6, 59, tzinfo=SHANGHAI), True),
        (datetime(2026, 11, 25, 7, 0, tzinfo=SHANGHAI), False),
        (datetime(2026, 11, 25, 22, 59, tzinfo=SHANGHAI), False),
        (datetime(2026, 11, 25, 23, 0, tzinfo=SHANGHAI), True),
        # 02:00 UTC is 10:00 in Shanghai.
        (datetime(2026, 11, 25, 2, 0, tzinfo=ZoneInfo("UTC")), False),
    ],
)
async def test_escalation_wording_switches_at_opening_and_closing_time(generator, tracker, moment, off_hours):
    text = await say(generator, tracker, "utter_escalate", moment)
    assert ("下班" in text) is off_hours


@pytest.mark.asyncio
async def test_stale_service_open_slot_does_not_override_the_clock(generator, domain):
    tracker = DialogueStateTracker("t", domain.slots)
    tracker.slots["service_open"].value = True

    text = await say(generator, tracker, "utter_escalate", NIGHT)

    assert "下班" in text


@pytest.mark.asyncio
async def test_hotline_answer_quotes_both_numbers_and_hours(generator, tracker):
    text = await say(generator, tracker, "utter_hotline", DAYTIME)

    for expected in ("400-8822-528", "021-5339-5288", "7:00-23:00"):
        assert expected in text


@pytest.mark.asyncio
async def test_off_hours_after_midnight_says_agents_are_back_this_morning(generator, tracker):
    text = await say(generator, tracker, "utter_escalate", NIGHT)

    assert "今早 7:00 后拨打" in text


@pytest.mark.asyncio
async def test_off_hours_before_midnight_says_tomorrow_morning(generator, tracker):
    text = await say(generator, tracker, "utter_escalate", datetime(2026, 11, 25, 23, 30, tzinfo=SHANGHAI))

    assert "明早 7:00 后拨打" in text


@pytest.mark.asyncio
async def test_unknown_response_gives_nothing(generator, tracker):
    with frozen_at(DAYTIME):
        assert await generator.generate("utter_does_not_exist", tracker, "rest") is None


def all_responses():
    return sorted(Domain.load(DOMAIN_FILE).responses)


@pytest.mark.asyncio
@pytest.mark.parametrize("moment", [DAYTIME, NIGHT], ids=["day", "night"])
@pytest.mark.parametrize("action", all_responses())
async def test_every_response_renders_without_leftover_placeholders(generator, tracker, action, moment):
    with frozen_at(moment):
        response = await generator.generate(action, tracker, "rest")

    assert response is not None
    assert response["text"].strip()
    pieces = [response["text"]] + [
        value for button in response.get("buttons") or [] for value in button.values()
    ]
    for piece in pieces:
        assert "{" not in piece and "}" not in piece, piece
        assert not re.search(r"None|True|False", piece), piece
