"""The scale benchmark reads Locust's CSV as Locust wrote it, and sizes a shop from what it measured."""
from __future__ import annotations

from bench import scale_locust, scale_report

# The first lines of a --csv run of bench/locustfile.py (Locust 2.39.1, both channels).
STATS_CSV = """Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%
POST,rest,19,0,50,104.32857284213003,17.0,839.7,686.8,9.545217017392773,0.0,50,61,70,77,230,840,840,840,840,840,840
socketio,socketio,9,1,82,98.6121721110875,30.5,224.8,122.1,4.521418587186051,0.0,82,110,130,150,220,220,220,220,220,220,220
,Aggregated,28,1,52,102.49115832143778,17.0,839.7,505.3,14.066635604578824,0.0,54,70,110,130,230,230,840,840,840,840,840
"""
FAILURES_CSV = """Method,Name,Error,Occurrences
socketio,socketio,no answer,1
"""


def test_a_locust_run_is_read_from_its_csv_files(tmp_path):
    out = tmp_path / "run"
    (tmp_path / "run_stats.csv").write_text(STATS_CSV, encoding="utf-8")
    (tmp_path / "run_failures.csv").write_text(FAILURES_CSV, encoding="utf-8")
    stats = scale_locust.read_stats(out)
    assert set(stats) == {"rest", "socketio", "Aggregated"}
    assert scale_locust.figures(stats["Aggregated"]) == {
        "messages": 28, "p50_ms": 54.0, "p95_ms": 230.0, "p99_ms": 840.0, "mean_ms": 102.5,
        "messages_per_second": 14.1, "errors": 1}
    assert scale_locust.read_failures(out) == {"no answer": 1}


def test_every_person_finishes_whole_conversations():
    assert scale_locust.whole_conversations(200, 10, 20) == 200
    assert scale_locust.whole_conversations(200, 200, 20) == 4000  # not 200 greetings
    assert scale_locust.whole_conversations(250, 10, 20) == 400


def test_the_headless_command_names_the_channel_mode_and_stop():
    command = scale_locust.locust_command("http://127.0.0.1:6900", 50, 1000, 20, True, "socketio",
                                          scale_locust.ROOT / "x", 600)
    assert command[-1] == "SocketIOConversation"
    for option, value in (("--users", "50"), ("--mode", "typing"), ("--messages", "1000"), ("--run-time", "600s"),
                          ("--host", "http://127.0.0.1:6900")):
        assert command[command.index(option) + 1] == value


def test_the_capacity_model_sizes_rasa_instances_and_cores_from_the_cpu_per_message():
    row = {"setup": "cluster-2", "instances": 2, "conversations": 200, "mode": "load", "messages_per_second": 60.0,
           "cpu": {"busy_percent": 98.0, "cpu_ms_per_message_total": 30.0,
                   "cpu_ms_per_message": {"rasa": 10.0, "rasa, 2nd instance": 10.0, "postgresql": 6.0,
                                          "action server": 4.0, "load generator": 3.0}}}
    results = {"machine": {"cores": 2}, "scale": [row]}
    model = scale_report.capacity(results)
    assert model["messages_per_second_per_core"] == 33.3 and model["machine_ceiling"] == 66.7
    assert model["rasa_cpu_ms_per_message"] == 20.0
    # 1000 shoppers, a message each every 15 s: 66.7 msg/s, 1.33 s of Rasa CPU per second at 60%.
    need = scale_report.sizing(model, 1000)
    assert (need["messages_per_second"], need["rasa_instances"], need["cores"], need["machines"]) == (66.7, 3, 4, 2)
