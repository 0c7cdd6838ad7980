"""Rasa's own commands work in the project root with no environment variable set.

``rasa run`` and ``rasa shell`` read credentials.yml and endpoints.yml first;
a ``${VAR}`` that is not set stops them there. This reads both files and
builds the channels exactly as ``rasa run`` does, in a fresh interpreter whose
environment has nothing but PATH and HOME.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

from bot.settings import ROOT

LOAD_AS_RASA_RUN_DOES = r"""
import json
from rasa.core.run import create_http_input_channels
from rasa.core.utils import AvailableEndpoints

channels = create_http_input_channels(None, "credentials.yml")
endpoints = AvailableEndpoints.read_endpoints("endpoints.yml")
wechat = next(channel for channel in channels if channel.name() == "wechat")
chatwoot = next(channel for channel in channels if channel.name() == "chatwoot")
print(json.dumps({"channels": sorted(channel.name() for channel in channels), "wechat_token": wechat.token,
                  "wechat_api": wechat.api.configured, "chatwoot": chatwoot.configured, "nlg": endpoints.nlg.type,
                  "tracker_store": endpoints.tracker_store.type}))
"""


def load_as_rasa_run_does(extra_env=None):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp"),
           **(extra_env or {})}
    result = subprocess.run([sys.executable, "-W", "ignore", "-c", LOAD_AS_RASA_RUN_DOES], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_credentials_and_endpoints_load_with_an_empty_environment_and_wechat_stays_off():
    loaded = load_as_rasa_run_does()
    assert loaded["channels"] == ["chatwoot", "operations", "rest", "socketio", "wechat"]
    assert loaded["wechat_token"] == "" and loaded["wechat_api"] is False
    assert loaded["chatwoot"] is False
    assert loaded["nlg"] == "bot.nlg.ServiceNaturalLanguageGenerator"
    assert loaded["tracker_store"] == "bot.stores.tracker_store.CachingSQLTrackerStore"


def test_the_wechat_variables_switch_the_channel_on():
    loaded = load_as_rasa_run_does({"WECHAT_TOKEN": "tok", "WECHAT_APP_ID": "wx", "WECHAT_APP_SECRET": "s"})
    assert loaded["wechat_token"] == "tok" and loaded["wechat_api"] is True
