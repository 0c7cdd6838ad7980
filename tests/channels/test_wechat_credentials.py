"""The WeChat channel reads its settings from the environment variables credentials.yml names.

credentials.yml names them (``token_env: WECHAT_TOKEN``) instead of writing
``${WECHAT_TOKEN}``, which Rasa expands while reading the file and refuses when
unset: with nothing exported, Rasa starts and the channel refuses every request.
"""
from __future__ import annotations

import asyncio
import base64
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from rasa.shared.utils.io import read_config_file

from bot.channels.wechat import NOT_CONFIGURED, WeChatInput
from bot.channels.wechat_api import DEFAULT_API_BASE
from bot.settings import ROOT
from tests.channels.conftest import new_openid, text_message
from tests.channels.test_wechat_slow_path import StubBot, post, serving

WECHAT_VARIABLES = ("WECHAT_TOKEN", "WECHAT_APP_ID", "WECHAT_APP_SECRET", "WECHAT_API_BASE", "WECHAT_MODE",
                    "WECHAT_ENCODING_AES_KEY", "WECHAT_PREVIOUS_ENCODING_AES_KEY")
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


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
                        "app_secret_env": "WECHAT_APP_SECRET", "api_base_env": "WECHAT_API_BASE",
                        "mode_env": "WECHAT_MODE", "encoding_aes_key_env": "WECHAT_ENCODING_AES_KEY",
                        "previous_encoding_aes_key_env": "WECHAT_PREVIOUS_ENCODING_AES_KEY"}
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
    assert channel.mode == "plain" and channel.crypto is None


def test_the_mode_and_both_keys_come_from_their_variables(monkeypatch, no_wechat_environment):
    new_key = AES_KEY[::-1]
    for name, value in {"WECHAT_TOKEN": "tok", "WECHAT_APP_ID": "wx-app", "WECHAT_MODE": "safe",
                        "WECHAT_ENCODING_AES_KEY": new_key, "WECHAT_PREVIOUS_ENCODING_AES_KEY": AES_KEY}.items():
        monkeypatch.setenv(name, value)
    channel = WeChatInput.from_credentials(shipped_settings())
    assert channel.mode == "safe"
    assert channel.crypto._keys == [base64.b64decode(new_key + "="), base64.b64decode(AES_KEY + "=")]


def test_rasa_run_in_safe_mode_without_a_key_serves_with_the_wechat_channel_off_saying_why(tmp_path):
    """Rasa keeps its other channels; WeChat's requests get a 503 naming what to set, and so does the log."""
    port = free_port()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp"),
           "PYTHONPATH": str(ROOT), "WECHAT_TOKEN": "tok", "WECHAT_APP_ID": "wx-app", "WECHAT_MODE": "safe"}
    log = tmp_path / "rasa.log"
    with log.open("wb") as output:
        rasa = subprocess.Popen(
            [sys.executable, "-W", "ignore", "-m", "rasa", "run", "--port", str(port), "--credentials",
             "credentials.yml", "--model", str(tmp_path / "no-model-needed"), "--endpoints", "endpoints.yml"],
            cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        status, body = wait_for_answer(f"http://127.0.0.1:{port}/webhooks/wechat/webhook?signature=x", rasa)
        assert status == 503 and "WECHAT_MODE=safe needs WECHAT_ENCODING_AES_KEY" in body
        assert wait_for_answer(f"http://127.0.0.1:{port}/", rasa)[0] == 200
    finally:
        rasa.terminate()
        rasa.wait(timeout=60)
    text = log.read_text(errors="replace")
    assert "WeChat channel not started: WECHAT_MODE=safe needs WECHAT_ENCODING_AES_KEY" in text
    assert "Traceback" not in text


def wait_for_answer(url: str, process: subprocess.Popen, timeout: float = 240) -> tuple:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "rasa run exited"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.status, response.read().decode("utf-8")
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode("utf-8")
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(0.5)
    raise TimeoutError(url)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


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
