"""bot/launcher.py: the servers it starts talk to each other on the ports it was given."""
from __future__ import annotations

import yaml

from bot.launcher import BotServers
from bot.settings import ROOT


def test_the_rasa_server_calls_the_action_server_on_its_port_also_with_the_projects_endpoints_file():
    servers = BotServers(actions_port=5992, endpoints=ROOT / "endpoints.yml")
    endpoints = yaml.safe_load(servers._endpoints_file().read_text(encoding="utf-8"))
    assert endpoints["action_endpoint"]["url"] == "http://127.0.0.1:5992/webhook"
    assert endpoints["tracker_store"]["db"] == ".data/tracker.db"
    servers._workdir.cleanup()


def test_the_production_profile_takes_the_action_server_from_its_environment():
    servers = BotServers(actions_port=5992, profile="production")
    assert servers._endpoints_file() == ROOT / "endpoints.production.yml"
    assert servers._env["ACTION_ENDPOINT_URL"].endswith(":5992/webhook")
    servers._workdir.cleanup()
