"""The chat widget in a real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright)."""
from __future__ import annotations

import json
import random
import re
import shutil
import tempfile
from pathlib import Path

import pytest

from bot.channels.markdown import as_markdown
from tests.conftest import ROOT

SCREENSHOT = ROOT / "reports" / "widget.png"
WAIT_MS = 20_000


@pytest.fixture
def page(browser, bot_servers):
    context = browser.new_context(locale="zh-CN", viewport={"width": 1100, "height": 800})
    page = context.new_page()
    page.goto(bot_servers.web_url + "/")
    wait_until_connected(page)
    yield page
    context.close()


def wait_until_connected(page) -> None:
    page.wait_for_selector(".tb-input:not([disabled])", timeout=WAIT_MS)


def ask(page, text: str) -> None:
    page.fill(".tb-input", text)
    page.click(".tb-send")


def bot_messages(page):
    return page.locator(".tb-message.tb-bot")


def test_hotline_question_button_click_and_reload_keep_the_conversation(page):
    ask(page, "客服电话多少")
    bot_messages(page).filter(has_text="400-8822-528").first.wait_for(timeout=WAIT_MS)

    ask(page, "你好")
    page.locator(".tb-choice", has_text="查物流").last.click()
    page.locator(".tb-message.tb-user", has_text="查物流").wait_for(timeout=WAIT_MS)
    bot_messages(page).filter(has_text="请发一下订单编号或快递单号").wait_for(timeout=WAIT_MS)

    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT))

    page.reload()
    wait_until_connected(page)
    bot_messages(page).filter(has_text="400-8822-528").first.wait_for(timeout=WAIT_MS)
    assert page.locator(".tb-message.tb-user").all_inner_texts()[:3] == ["客服电话多少", "你好", "查物流"]


def test_a_new_tab_shows_the_same_conversation(page):
    ask(page, "人工客服几点下班")
    bot_messages(page).filter(has_text="23:00").first.wait_for(timeout=WAIT_MS)
    second = page.context.new_page()
    second.goto(page.url)
    wait_until_connected(second)
    second.locator(".tb-message.tb-user", has_text="人工客服几点下班").wait_for(timeout=WAIT_MS)


def test_text_is_shown_as_text_never_as_html(page):
    attack = '<img src=x onerror="window.__xss=1"><b>粗体</b>'
    ask(page, attack)
    bot_messages(page).nth(0).wait_for(timeout=WAIT_MS)
    user = page.locator(".tb-message.tb-user").last
    assert user.inner_text() == attack
    assert user.locator("img, b").count() == 0
    assert page.evaluate("window.__xss") is None


def test_links_are_clickable_and_only_http(page):
    ask(page, "这个链接是你们的吗 https://example.com/pay?id=1 javascript:alert(1)")
    link = page.locator(".tb-message.tb-user .tb-link").last
    assert link.get_attribute("href") == "https://example.com/pay?id=1"
    assert link.get_attribute("rel") == "noopener noreferrer"
    assert page.locator(".tb-message.tb-user a[href^='javascript']").count() == 0


def test_phone_width_fills_the_screen(browser, bot_servers):
    context = browser.new_context(viewport={"width": 375, "height": 667}, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.goto(bot_servers.web_url + "/")
    wait_until_connected(page)
    box = page.locator(".tb-panel").bounding_box()
    assert (box["width"], box["height"]) == (375, 667)
    assert page.locator(".tb-input").is_visible() and page.locator(".tb-send").is_visible()
    context.close()


def test_unreachable_server_gives_a_clear_notice(browser, bot_servers):
    context = browser.new_context()
    page = context.new_page()
    page.set_content(f'<html><body><script src="{bot_servers.web_url}/widget.js" data-port="9" data-open="true"></script></body></html>')
    notice = page.locator(".tb-status")
    notice.filter(has_text="暂时连接不上客服").wait_for(timeout=WAIT_MS)
    assert page.locator(".tb-input").is_disabled()
    context.close()


def test_the_page_reconnects_after_the_server_restarts(browser, trained_model):
    from bot.launcher import BotServers

    scratch = Path(tempfile.mkdtemp(prefix="widget-restart-"))
    servers = dict(model=trained_model, rasa_port=5405, actions_port=5455, web_port=5480,
                   tracker_db=scratch / "tracker.db", log_dir=scratch / "logs",
                   extra_env={"DATABASE_URL": f"sqlite:///{scratch / 'service.db'}"})
    bot = BotServers(**servers).start()
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(bot.web_url + "/")
        wait_until_connected(page)
        ask(page, "客服电话多少")
        bot_messages(page).filter(has_text="400-8822-528").first.wait_for(timeout=WAIT_MS)

        bot.stop()
        page.locator(".tb-status", has_text="暂时连接不上客服").wait_for(timeout=WAIT_MS)

        bot = BotServers(**servers).start()
        wait_until_connected(page)
        assert not page.locator(".tb-status").is_visible()
        ask(page, "人工客服几点下班")
        bot_messages(page).filter(has_text="23:00").first.wait_for(timeout=60_000)
        assert page.locator(".tb-message.tb-user").first.inner_text() == "客服电话多少"
    finally:
        context.close()
        bot.stop()
        shutil.rmtree(scratch, ignore_errors=True)


def test_the_bots_lines_show_exactly_as_rest_gives_them(page, bot_servers):
    import urllib.request

    ask(page, "客服电话多少")
    bubble = bot_messages(page).filter(has_text="400-8822-528").first
    bubble.wait_for(timeout=WAIT_MS)
    request = urllib.request.Request(f"{bot_servers.url}/webhooks/rest/webhook", method="POST",
                                     data=json.dumps({"sender": "widget-rest", "message": "客服电话多少"}).encode())
    with urllib.request.urlopen(request, timeout=30) as answer:
        [plain] = [message["text"] for message in json.loads(answer.read()) if "400-8822-528" in message["text"]]
    assert bubble.inner_text() == plain


def widget_plain_text_function() -> str:
    """widget.js's ``plainText`` (and its pattern), to run on its own in the page."""
    source = (ROOT / "bot" / "web" / "static" / "widget.js").read_text(encoding="utf-8")
    return re.search(r"  var MARKDOWN_ESCAPE = .*?\n  function plainText\(markdown\) \{.*?\n  \}\n", source, re.S).group(0)


def test_the_widget_takes_off_exactly_the_markdown_the_channel_puts_on(page):
    rng = random.Random(18)
    alphabet = list("\\`*_[]~|#>+-.)(=&<;0123456789 \t\nab中文·") + ["&amp;", "&#32;", "  \n", "1. ", "\\-", "138****5678"]
    texts = ["拼多多官方客服热线：\n· 消费者热线：400-8822-528\n1. 退款", "  缩进\n\t制表\n===\n---", "&lt; &#61; \\\\"]
    texts += ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) for _ in range(3000)]
    shown = page.evaluate(f"(texts) => {{ {widget_plain_text_function()} return texts.map(plainText); }}",
                          [as_markdown(text) for text in texts])
    assert [text for text, seen in zip(texts, shown) if seen != text] == []
