"""Two pages in Debian's Chromium: a user in the chat widget, an agent at the desk (Playwright, /usr/bin/chromium)."""
from __future__ import annotations

import re

from tests.conftest import ROOT
from tests.desk.conftest import PASSWORDS, new_sender, rest_say

# Written on every run (reports/ is not versioned); docs/agent-desk.png, the README's, is a copy of one.
SCREENSHOT = ROOT / "reports" / "agent-desk.png"
WAIT_MS = 20_000
ORDER = "261112-405829173664021"
USER_ATTACK = '<img src=x onerror="window.__xss=1">我的退款被拒了'
AGENT_ATTACK = '<b onmouseover="window.__xss=2">注意</b>：看到商家拒绝了您的退款，我来处理。'


def widget(browser, bot):
    context = browser.new_context(locale="zh-CN", viewport={"width": 480, "height": 760})
    page = context.new_page()
    page.goto(bot.web_url + "/")
    page.wait_for_selector(".tb-input:not([disabled])", timeout=WAIT_MS)
    return page


def ask(page, text: str) -> None:
    page.fill(".tb-input", text)
    page.click(".tb-send")


def bot_says(page, text: str):
    found = page.locator(".tb-message.tb-bot", has_text=text).last
    found.wait_for(timeout=WAIT_MS)
    return found


def log_in(browser, bot, agent_id: str = "wang"):
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(bot.web_url + "/agent/")
    assert page.url.endswith("/agent/login")  # no session: the login page
    page.fill("input[name=id]", agent_id)
    page.fill("input[name=password]", PASSWORDS[agent_id])
    page.click("button[type=submit]")
    page.wait_for_selector(".dk-me", state="attached", timeout=WAIT_MS)
    page.locator(".dk-status", has_text="实时连接正常").wait_for(timeout=WAIT_MS)
    return page


def agent_sees(page, text: str, kind: str = "user"):
    found = page.locator(f".dk-transcript .dk-msg.dk-{kind} .dk-text", has_text=text).last
    found.wait_for(timeout=WAIT_MS)
    return found


def test_a_person_takes_over_the_widget_conversation_and_gives_it_back(browser, desk_bot, empty_queue):
    user = widget(browser, desk_bot)
    ask(user, "我要退款")
    bot_says(user, "订单编号")
    ask(user, ORDER)
    bot_says(user, "纠纷工单号")
    ask(user, "转人工")
    number = re.search(r"T\d{8}-\d{4}", bot_says(user, "接入后会直接在这里回复您").inner_text()).group(0)

    # The agent logs in and finds the conversation first in the queue, with its summary.
    agent = log_in(browser, desk_bot)
    first = agent.locator(".dk-queue .dk-item").first
    first.wait_for(timeout=WAIT_MS)
    assert first.get_attribute("data-number") == number
    assert "我要退款" in first.locator(".dk-summary").inner_text()
    assert "退款/退货" in first.inner_text() and "网页聊天" in first.inner_text() and ORDER in first.inner_text()
    first.locator(".dk-claim").click()

    agent_sees(agent, "我要退款")
    agent_sees(agent, number, kind="bot")
    bot_says(user, "人工客服 小王 已接入")

    # The agent answers: the user's page shows it, in every tab and after a reload.
    agent.fill(".dk-input", "您好，我是小王，看到商家拒绝了您的退款，我来帮您处理。")
    agent.press(".dk-input", "Enter")
    bot_says(user, "我是小王")
    second = user.context.new_page()
    second.goto(user.url)
    bot_says(second, "我是小王")
    agent.fill(".dk-input", "我已经帮您申请平台介入，3-7个工作日内会有结果。")
    agent.click(".dk-send")
    bot_says(user, "申请平台介入")
    bot_says(second, "申请平台介入")
    user.reload()
    user.wait_for_selector(".tb-input:not([disabled])", timeout=WAIT_MS)
    bot_says(user, "我是小王")

    # The user replies: the agent sees it live.
    ask(user, "好的，谢谢，那我等结果")
    assert agent_sees(agent, "那我等结果").inner_text() == "好的，谢谢，那我等结果"

    # Others wait meanwhile: a fraud case with money gone goes first.
    fraud = new_sender("fraud")
    rest_say(desk_bot, fraud, "有人冒充拼多多客服打电话让我转账 我已经转了3000")
    rest_say(desk_bot, fraud, "转人工")
    rest_say(desk_bot, new_sender("plain"), "转人工")
    agent.locator(".dk-queue .dk-item").nth(1).wait_for(timeout=WAIT_MS)
    assert "被骗已转账" in agent.locator(".dk-queue .dk-item").first.inner_text()
    SCREENSHOT.parent.mkdir(exist_ok=True)
    agent.screenshot(path=str(SCREENSHOT))

    # Text is text, both ways: an agent's markup reaches the user as characters, a user's reaches the agent so.
    agent.fill(".dk-input", AGENT_ATTACK)
    agent.press(".dk-input", "Enter")
    answer = bot_says(user, "看到商家拒绝了您的退款，我来处理")
    assert answer.inner_text() == AGENT_ATTACK
    assert answer.locator("b").count() == 0
    ask(user, USER_ATTACK)
    shown = agent_sees(agent, "我的退款被拒了")
    assert shown.inner_text() == USER_ATTACK
    assert agent.locator(".dk-transcript img").count() == 0
    assert agent.evaluate("window.__xss") is None and user.evaluate("window.__xss") is None

    # The agent closes: the user gets the bot back and the rating question.
    agent.on("dialog", lambda dialog: dialog.accept())
    agent.click(".dk-close")
    agent.locator(".dk-notice", has_text="机器人已接回").wait_for(timeout=WAIT_MS)
    closing = bot_says(user, "人工客服已结束本次服务")
    closing.locator(".tb-choice", has_text="5分").click()
    bot_says(user, "谢谢您的评价")
    ask(user, "客服电话多少")
    bot_says(user, "400-8822-528")
    user.context.close()
    agent.context.close()
