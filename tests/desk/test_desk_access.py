"""Nothing of the desk answers without a login; the session cookie and every POST are protected."""
from __future__ import annotations

import pytest
import requests

from bot.web.server import create_app
from tests.desk.conftest import PASSWORDS, DeskClient, new_sender, rest_say, ticket_in

PUBLIC = {"/agent/login", "/agent/login.css"}


def desk_routes():
    """Every route the web server has under /agent, with a ticket number where the path wants one."""
    found = set()
    for route in create_app(rasa_port=9).router.routes():
        path = route.resource.canonical if route.resource else ""
        if path.startswith("/agent") and route.method != "HEAD":
            found.add((route.method, path.replace("{number}", "T20261125-0001")))
    return sorted(found)


ROUTES = desk_routes()


def test_the_route_list_is_the_whole_desk():
    paths = {path for _, path in ROUTES}
    assert {"/agent/", "/agent/desk.js", "/agent/api/events", "/agent/api/queue",
            "/agent/api/conversations/T20261125-0001/claim"} <= paths


@pytest.mark.parametrize("method, path", [route for route in ROUTES if route[1] not in PUBLIC])
def test_without_a_session_pages_go_to_the_login_and_the_api_answers_401(desk_bot, method, path):
    answer = requests.request(method, desk_bot.web_url + path, allow_redirects=False, timeout=30)
    if path.startswith("/agent/api/"):
        assert (answer.status_code, answer.json()) == (401, {"error": "login_required"})
    else:
        assert answer.status_code in (301, 303)
        assert answer.headers["Location"] in ("/agent/login", "/agent/")


@pytest.mark.parametrize("path", ["/agent/unknown", "/agent/api/unknown"])
def test_unknown_desk_urls_also_need_a_session(desk_bot, path):
    answer = requests.get(desk_bot.web_url + path, allow_redirects=False, timeout=30)
    assert answer.status_code in (303, 401)


def test_a_wrong_password_or_unknown_agent_is_refused_with_the_form_again(desk_bot):
    for agent_id, password in (("wang", "wrong-password"), ("nobody", PASSWORDS["wang"]), ("wang", "")):
        answer = requests.post(f"{desk_bot.web_url}/agent/login", data={"id": agent_id, "password": password},
                               allow_redirects=False, timeout=30)
        assert answer.status_code == 401
        assert "desk_session" not in answer.cookies
        assert "账号或密码不对" in answer.text


def test_repeated_failures_pause_logins_for_that_agent(desk_bot):
    client = requests.Session()
    codes = [client.post(f"{desk_bot.web_url}/agent/login", data={"id": "zhao", "password": f"guess-{n}"},
                         allow_redirects=False, timeout=30).status_code for n in range(6)]
    assert codes == [401] * 5 + [429]
    # The right password does not get through the pause either; the other agents are not affected.
    assert client.post(f"{desk_bot.web_url}/agent/login", data={"id": "zhao", "password": PASSWORDS["zhao"]},
                       allow_redirects=False, timeout=30).status_code == 429
    assert DeskClient(desk_bot.web_url, "wang").login().queue() is not None


def test_the_session_cookie_is_http_only_same_site_and_scoped_to_the_desk(desk_bot):
    answer = requests.post(f"{desk_bot.web_url}/agent/login", data={"id": "wang", "password": PASSWORDS["wang"]},
                           allow_redirects=False, timeout=30)
    cookie = answer.headers["Set-Cookie"]
    assert answer.status_code == 303 and answer.headers["Location"] == "/agent/"
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/agent" in cookie


@pytest.mark.parametrize("origin, status", [
    ("https://evil.example", 403), ("null", 403),
    ("http://127.0.0.1", 303), ("http://127.0.0.1:8000", 303),  # the desk's host, also through a gateway's port
])
def test_a_login_posted_from_another_site_is_refused(desk_bot, origin, status):
    answer = requests.post(f"{desk_bot.web_url}/agent/login", data={"id": "wang", "password": PASSWORDS["wang"]},
                           headers={"Origin": origin}, allow_redirects=False, timeout=30)
    assert answer.status_code == status


def test_a_post_without_the_csrf_token_is_refused(desk_bot, wang):
    number = ticket_in(rest_say(desk_bot, new_sender("csrf"), "转人工"))
    for headers in ({"X-CSRF-Token": ""}, {"X-CSRF-Token": "forged"}):
        answer = wang.http.post(f"{wang.base}/api/conversations/{number}/claim", headers=headers, timeout=30)
        assert (answer.status_code, answer.json()) == (403, {"error": "csrf"})
    assert wang.waiting(number) is not None  # nothing happened
    assert wang.claim(number).status_code == 200
    assert wang.close(number).status_code == 200


def test_logging_out_ends_the_session_everywhere(desk_bot, wang):
    stolen = requests.Session()
    stolen.cookies.update(wang.http.cookies)
    assert wang.http.post(f"{wang.base}/logout", headers={"X-CSRF-Token": wang.csrf}, timeout=30).status_code == 200
    assert stolen.get(f"{wang.base}/api/queue", timeout=30).status_code == 401
    assert wang.get("queue").status_code == 401


def test_desk_pages_forbid_scripts_from_anywhere_else(desk_bot, wang):
    page = wang.http.get(f"{wang.base}/", timeout=30)
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert page.headers["X-Content-Type-Options"] == "nosniff"


def test_bad_requests_get_clear_errors(desk_bot, wang):
    assert wang.get("conversations/T20261125-9999").status_code == 404
    assert wang.get("conversations/not-a-ticket").status_code == 404
    number = ticket_in(rest_say(desk_bot, new_sender("bad"), "转人工"))
    assert wang.claim(number).status_code == 200
    broken = wang.http.post(f"{wang.base}/api/conversations/{number}/messages", data="{not json",
                            headers={"X-CSRF-Token": wang.csrf, "Content-Type": "application/json"}, timeout=30)
    assert (broken.status_code, broken.json()) == (400, {"error": "invalid_json"})
    assert wang.post(f"conversations/{number}/messages", ["a list"]).status_code == 400
    assert wang.post(f"conversations/{number}/transfer", {"agent": "nobody"}).status_code == 400
    assert wang.post(f"conversations/{number}/transfer", {"agent": "wang"}).status_code == 400
    assert wang.close(number).status_code == 200
