"""botfront's rasa-webchat 1.0.1, the community's usual Rasa widget, on our socket.io channel in Chromium.

The widget is its prebuilt ``lib/index.js`` from the npm registry
(bot/web/package.json), served by our web server on /rasa-webchat.html.
Every request that leaves this machine is blocked and recorded: the page must
render without any (rasa-webchat's CSS imports a Google font; our server cuts
that import).
"""
from __future__ import annotations

import json
import urllib.parse
import urllib.request
import uuid
from typing import List

import pytest

from bot.knowledge import load
from tests.channels.test_widget_browser import WAIT_MS

LOCAL_HOSTS = {"127.0.0.1", "localhost"}


@pytest.fixture
def context(browser):
    """A browser profile whose requests outside this machine are refused and listed in ``context.external``."""
    context = browser.new_context(locale="zh-CN", viewport={"width": 1100, "height": 800})
    context.external = []

    def only_local(route):
        if urllib.parse.urlsplit(route.request.url).hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            context.external.append(route.request.url)
            route.abort()

    context.route("**/*", only_local)
    yield context
    context.close()


def open_webchat(context, bot_servers):
    page = context.new_page()
    page.goto(bot_servers.web_url + "/rasa-webchat.html")
    show_conversation(page)
    return page


def show_conversation(page) -> None:
    page.locator(".rw-launcher").wait_for(timeout=WAIT_MS)
    if page.locator(".rw-conversation-container").count() == 0:
        page.click(".rw-launcher")
    page.locator(".rw-new-message").wait_for(timeout=WAIT_MS)


def ask(page, text: str) -> None:
    page.fill(".rw-new-message", text)
    page.keyboard.press("Enter")


def bot_bubble(page, text: str):
    bubble = page.locator(".rw-response", has_text=text).last
    bubble.wait_for(timeout=WAIT_MS)
    return bubble


def rest_texts(url: str, message: str) -> List[str]:
    request = urllib.request.Request(f"{url}/webhooks/rest/webhook", method="POST", data=json.dumps(
        {"sender": uuid.uuid4().hex, "message": message}).encode("utf-8"))
    with urllib.request.urlopen(request, timeout=30) as answer:
        return [message["text"] for message in json.loads(answer.read()) if "text" in message]


def test_hotline_lines_button_click_reload_and_second_tab(context, bot_servers):
    page = open_webchat(context, bot_servers)
    # The start payload (/greet) brings the greeting with its buttons.
    page.locator(".rw-reply", has_text="查物流").wait_for(timeout=WAIT_MS)

    ask(page, "客服电话多少")
    hotline = bot_bubble(page, "400-8822-528")
    [plain] = [text for text in rest_texts(bot_servers.url, "客服电话多少") if "400-8822-528" in text]
    # Each of the bot's lines on its own line, exactly the text REST gives.
    assert hotline.inner_text() == plain
    assert hotline.locator("br").count() == plain.count("\n") > 0

    ask(page, "你好")
    page.locator(".rw-reply", has_text="查物流").last.click()
    bot_bubble(page, "请发一下订单编号或快递单号")
    assert page.locator(".rw-client").all_inner_texts()[-1] == "查物流"

    page.reload()
    show_conversation(page)
    bot_bubble(page, "400-8822-528")
    assert page.locator(".rw-client").all_inner_texts()[:3] == ["客服电话多少", "你好", "查物流"]

    second = context.new_page()
    second.goto(page.url)
    show_conversation(second)
    ask(page, "人工客服几点下班")
    template = load("channel_texts")["socketio"]["other_tab_message"]
    bot_bubble(second, template.format(message="人工客服几点下班"))
    bot_bubble(second, "23:00")
    assert context.external == []


def test_what_a_user_types_is_shown_in_the_other_tab_as_typed_never_as_markup(context, bot_servers):
    typing = open_webchat(context, bot_servers)
    watching = context.new_page()
    watching.goto(typing.url)
    show_conversation(watching)
    typed = "**粗体** _斜体_ [点我](javascript:alert(1)) `代码` <b>x</b> # 标题 138****5678"
    ask(typing, typed)

    quote = bot_bubble(watching, "点我")
    template = load("channel_texts")["socketio"]["other_tab_message"]
    assert quote.inner_text() == template.format(message=typed)
    assert quote.locator("a, strong, em, code, b, h1").count() == 0
    assert context.external == []


def test_the_stock_widget_needs_nothing_from_outside_this_machine(context, bot_servers):
    page = open_webchat(context, bot_servers)
    page.locator(".rw-reply").first.wait_for(timeout=WAIT_MS)
    fonts = page.evaluate("() => [...document.styleSheets].flatMap(s => [...s.cssRules].map(r => r.cssText))")
    assert not [rule for rule in fonts if "googleapis" in rule]
    assert context.external == []
