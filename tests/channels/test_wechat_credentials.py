"""The WeChat channel reads its settings from the environment variables credentials.yml names.

credentials.yml names them (``token_env: WECHAT_TOKEN``) instead of writing
``${WECHAT_TOKEN}``, which Rasa expands while reading the file and refuses when
unset: with nothing exported, Rasa starts and the channel refuses every request.
"""
from __future__ import annotations

import asyncio

import pytest
from rasa.shared.utils.io import read_config_file

from bot.channels.wechat import NOT_CONFIGURED, WeChatInput
from bot.channels.wechat_api import DEFAULT_API_BASE
from bot.settings import ROOT
from tests.channels.conftest import new_openid, text_message
from tests.channels.test_wechat_slow_path import StubBot, post, serving

WECHAT_VARIABLES = ("WECHAT_TOKEN", "WECHAT_APP_ID", "WECHAT_APP_SECRET", "WECHAT_API_BASE")


def shipped_settings():
    """The channel's block of credentials.yml, read as Rasa reads it."""
    return read_config_file(str(ROOT / "credentials.yml"))["bot.channels.wechat.WeChatInput"]


@pytest.fixture
def no_wechat_environment(monkeypatch):
    for name in WECHAT_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def test_credentials_yml_names_the_variables_instead_of_expanding_them():
    settings = shipped_settings()
    assert settings == {"token_env": "WECHAT_TOKEN", "app_id_env": "WECHAT_APP_ID",
                        "app_secret_env": "WECHAT_APP_SECRET", "api_base_env": "WECHAT_API_BASE"}
    settings_lines = [line for line in (ROOT / "credentials.yml").read_text(encoding="utf-8").splitlines()
                      if not line.lstrip().startswith("#")]
    assert not [line for line in settings_lines if "${" in line]


def test_with_the_variables_set_the_channel_takes_them(monkeypatch):
    monkeypatch.setenv("WECHAT_TOKEN", " tok ")
    monkeypatch.setenv("WECHAT_APP_ID", "wx-app")
    monkeypatch.setenv("WECHAT_APP_SECRET", "secret")
    monkeypatch.setenv("WECHAT_API_BASE", "http://127.0.0.1:9")
    channel = WeChatInput.from_credentials(shipped_settings())
    assert channel.token == "tok"
    assert (channel.api.app_id, channel.api._app_secret, channel.api.api_base) == ("wx-app", "secret", "http://127.0.0.1:9")
    assert channel.api.configured


def test_without_them_the_channel_has_no_token_and_the_default_api(no_wechat_environment):
    channel = WeChatInput.from_credentials(shipped_settings())
    assert channel.token == "" and not channel.api.configured
    assert channel.api.api_base == DEFAULT_API_BASE


def test_a_value_written_in_the_credentials_wins_over_a_variable(monkeypatch):
    monkeypatch.setenv("WECHAT_TOKEN", "from-env")
    channel = WeChatInput.from_credentials({"token": "written", "token_env": "WECHAT_TOKEN"})
    assert channel.token == "written"


@pytest.mark.asyncio
async def test_without_the_variables_every_request_is_refused(no_wechat_environment):
    bot = StubBot()
    async with serving(WeChatInput.from_credentials(shipped_settings()), bot) as wechat:
        handshake = await asyncio.to_thread(wechat.handshake, "echo")
        message = await post(wechat, text_message(new_openid(), "你好"))
    for reply in (handshake, message):
        assert (reply.status, reply.body) == (403, NOT_CONFIGURED)
    assert bot.received == []
