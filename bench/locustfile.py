"""The scale benchmark's load in Locust: people running the case-flow mix of bench/mix.py.

Each simulated person runs conversations of ``--turns`` messages (the mix, in
order, so the refund gets its order number and the handoff its relayed
message), one conversation after the other, each with a new sender id. Two
ways in, as the bot's users come:

  RestConversation      POST /webhooks/rest/webhook (Locust's FastHttpUser)
  SocketIOConversation  the socket.io channel the widget uses, with
                        python-socketio's client inside the Locust user (one
                        socket; a session_request for each conversation, as
                        the widget's handshake), then each message emitted as
                        user_uttered with an acknowledgement. Rasa acknowledges
                        once it has sent every answer of that message, so the
                        time to the acknowledgement is the time to the last
                        answer, as over REST. Reported to Locust's statistics
                        as a custom request (type "socketio").

Options of our own (after Locust's):

  --mode typing|load    typing: each person reads and types for 0.5-1.5 s before
                        the next message (seeded per person); load: no pauses
  --turns N             messages per conversation (default 20, the whole mix)
  --messages N          stop once this many messages were answered (0: run until
                        --run-time); the run is bounded by --run-time as well

An answer with no message at all, an HTTP error or no acknowledgement within
60 s is a failure in Locust's statistics.

Run headless, as bench/scale.py does:

    .venv/bin/locust -f bench/locustfile.py --headless -u 10 -r 10 --run-time 120s \\
        --host http://127.0.0.1:5005 --csv /tmp/run --mode load --messages 400 RestConversation
"""

from __future__ import annotations

import itertools
import random
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Dict, List, Optional

import gevent
import gevent.event
from locust import FastHttpUser, User, events, task
from locust.stats import CSV_STATS_INTERVAL_SEC

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the project, when run by locust
from bench.mix import MESSAGES, message  # noqa: E402

ANSWER_TIMEOUT = 60.0
DISCONNECT_TIMEOUT = 5.0
REST_PATH = "/webhooks/rest/webhook"

_people = itertools.count()
_answered = itertools.count(1)
_stopping: List[bool] = []


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    parser.add_argument("--mode", choices=["typing", "load"], default="load",
                        help="typing: 0.5-1.5 s pauses before each message; load: none")
    parser.add_argument("--turns", type=int, default=len(MESSAGES), help="messages per conversation")
    parser.add_argument("--messages", type=int, default=0,
                        help="stop after this many answered messages (0: only --run-time stops the run)")


@events.quitting.add_listener
def _let_the_csv_catch_up(environment: Any, **_: Any) -> None:
    # Locust rewrites the --csv files every CSV_STATS_INTERVAL_SEC while it runs and not at exit:
    # the users have stopped by now, so one more rewrite holds every request.
    gevent.sleep(CSV_STATS_INTERVAL_SEC + 0.2)


class _Conversations:
    """What both channels share: the person's pauses, turn and sender, and the stop after --messages."""

    environment: Any

    def _start_person(self) -> None:
        self.index = next(_people)
        self.pauses = random.Random(self.index)
        self.tag = uuid.uuid4().hex[:8]
        self.conversation, self.turn = 0, 0

    def _options(self) -> Any:
        return self.environment.parsed_options

    def wait_time(self) -> float:
        return self.pauses.uniform(0.5, 1.5) if self._options().mode == "typing" else 0.0

    @property
    def sender(self) -> str:
        return f"locust-{self.tag}-{self.index}-{self.conversation}"

    def _next_text(self) -> str:
        """The next message; a new conversation (new sender) once one has had --turns messages."""
        if self.turn == self._options().turns:
            self.conversation, self.turn = self.conversation + 1, 0
            self._new_conversation()
        text = message(self.turn)
        self.turn += 1
        return text

    def _new_conversation(self) -> None:
        """Hook: a channel that keeps a session per conversation starts a new one."""

    def _count_answer(self) -> None:
        limit = self._options().messages
        if limit and next(_answered) >= limit and not _stopping:
            _stopping.append(True)
            # Quit from outside this user's greenlet (quit() stops every user, this one too).
            gevent.spawn(self.environment.runner.quit)
        while _stopping:  # until quit() stops this user: no message after the last counted
            gevent.sleep(1.0)


class RestConversation(_Conversations, FastHttpUser):
    """A person on the REST channel."""

    def on_start(self) -> None:
        self._start_person()

    @task
    def say(self) -> None:
        text = self._next_text()
        with self.client.post(REST_PATH, json={"sender": self.sender, "message": text}, name="rest",
                              catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}")
            else:
                try:
                    answers = response.json()
                except ValueError:
                    response.failure("not JSON")
                else:
                    if not answers:
                        response.failure("no answer")
        self._count_answer()


class SocketIOConversation(_Conversations, User):
    """A person on the socket.io channel (the widget's): one socket, a new session for each conversation."""

    def on_start(self) -> None:
        self._start_person()
        self.answers: List[Dict[str, Any]] = []
        self.confirmed = gevent.event.Event()
        self.socket = self._connect()
        self._request_session()

    def on_stop(self) -> None:
        # python-socketio waits for its reader to end; never let that hold up Locust's stop.
        with gevent.Timeout(DISCONNECT_TIMEOUT, False):
            self.socket.disconnect()

    def _connect(self) -> Any:
        import socketio

        # Connected once, in on_start: Locust may stop a user anywhere, and python-socketio's
        # connect does not let go of a stop that lands inside it.
        socket = socketio.Client(reconnection=False)
        socket.on("bot_uttered", self.answers.append)
        socket.on("session_confirm", lambda *_: self.confirmed.set())
        socket.connect(self.host, transports=["websocket"], wait_timeout=ANSWER_TIMEOUT)
        return socket

    def _request_session(self) -> None:
        """The widget's handshake: a session of its own, whose answers come to this socket."""
        self.confirmed.clear()
        self.socket.emit("session_request", {"session_id": self.sender, "shows_user_echo": True})
        if not self.confirmed.wait(ANSWER_TIMEOUT):
            raise RuntimeError("no session_confirm from the socket.io channel")

    def _new_conversation(self) -> None:
        self._request_session()

    @task
    def say(self) -> None:
        import socketio

        text = self._next_text()
        self.answers.clear()
        started = time.perf_counter()
        error: Optional[Exception] = None
        try:
            self.socket.call("user_uttered", {"message": text, "session_id": self.sender},
                             timeout=int(ANSWER_TIMEOUT))
        except socketio.exceptions.TimeoutError:
            error = TimeoutError(f"no acknowledgement within {ANSWER_TIMEOUT:.0f} s")
        except socketio.exceptions.SocketIOError as failure:
            error = failure
        took = (time.perf_counter() - started) * 1000
        if error is None and not self.answers:
            error = RuntimeError("no answer")
        self.environment.events.request.fire(
            request_type="socketio", name="socketio", response_time=took,
            response_length=sum(len(answer.get("text") or "") for answer in self.answers),
            exception=error, context={})
        self._count_answer()
