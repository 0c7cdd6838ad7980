"""bot/launcher/: the servers it plans talk to each other on the ports given; supervisord and nginx get what they need."""
from __future__ import annotations

import configparser
import shutil
import subprocess

import pytest
import yaml

from bot.launcher.gateway import nginx_config
from bot.launcher.programs import Layout, plan
from bot.launcher.supervisor import render_config
from bot.settings import ROOT


def test_the_rasa_server_calls_the_action_server_on_its_port_also_with_the_projects_endpoints_file(tmp_path):
    programs = {p.name: p for p in plan(Layout(actions_port=5992, endpoints=ROOT / "endpoints.yml"), tmp_path)}
    endpoints_path = programs["rasa-5005"].command[programs["rasa-5005"].command.index("--endpoints") + 1]
    endpoints = yaml.safe_load(open(endpoints_path, encoding="utf-8"))
    assert endpoints["action_endpoint"]["url"] == "http://127.0.0.1:5992/webhook"
    assert endpoints["tracker_store"]["db"] == ".data/tracker.db"
    assert programs["actions"].ready_url == "http://127.0.0.1:5992/health"


def test_the_production_profile_takes_the_action_server_from_its_environment(tmp_path):
    layout = Layout(profile="production", actions_port=5992)
    command = plan(layout, tmp_path)[1].command
    assert command[command.index("--endpoints") + 1] == str(ROOT / "endpoints.production.yml")
    assert layout.environment()["ACTION_ENDPOINT_URL"].endswith(":5992/webhook")


def test_with_a_gateway_the_widget_page_talks_to_the_gateway_not_to_one_instance(tmp_path):
    layout = Layout(profile="production", rasa_ports=[5005, 5006], web_port=8080, gateway_port=8000)
    programs = {p.name: p for p in plan(layout, tmp_path)}
    assert set(programs) == {"actions", "rasa-5005", "rasa-5006", "web", "gateway"}
    web = programs["web"].command
    assert web[web.index("--rasa-port") + 1] == "8000"


def test_every_program_is_restarted_and_stopped_at_once_within_fifteen_seconds(tmp_path):
    layout = Layout(profile="production", rasa_ports=[5005, 5006], web_port=8080, gateway_port=8000)
    parser = configparser.RawConfigParser()
    parser.read_string(render_config(plan(layout, tmp_path), tmp_path, log_dir=None))
    programs = [section for section in parser.sections() if section.startswith("program:")]
    assert len(programs) == 5
    # One group: supervisord stops a group's programs together, groups one after another.
    assert len(parser.get("group:bot", "programs").split(",")) == 5
    for section in programs:
        assert parser.get(section, "autorestart") == "true"
        assert int(parser.get(section, "stopwaitsecs")) <= 10
        assert parser.get(section, "stopasgroup") == "true"


def test_the_agent_desk_gets_the_http_apis_token_the_rasa_servers_are_started_with():
    assert Layout(auth_token="s3cret,\"x").environment()["RASA_AUTH_TOKEN"] == "s3cret,\"x"


def test_a_percent_sign_in_a_command_reaches_the_program_as_one(tmp_path):
    layout = Layout(auth_token="tok%en")
    text = render_config(plan(layout, tmp_path), tmp_path, log_dir=None)
    assert "tok%%en" in text  # supervisord's own interpolation turns %% back into %


@pytest.mark.skipif(not shutil.which("nginx") and not shutil.which("/usr/sbin/nginx"), reason="make gateway installs nginx")
def test_nginx_accepts_the_gateway_configuration(tmp_path):
    layout = Layout(profile="production", rasa_ports=[5005, 5006], web_port=8080, gateway_port=8000)
    config = tmp_path / "nginx.conf"
    config.write_text(nginx_config(layout, tmp_path), encoding="utf-8")
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    checked = subprocess.run([nginx, "-t", "-p", str(tmp_path), "-c", str(config)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
