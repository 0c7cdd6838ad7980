"""The scale benchmark's report: the goals check and the Markdown tables, from
the results of a run (bench/results/scale.json), and the files it writes.

    write(results, out)   scale.json and scale.md (the tables) next to it; returns the tables
    render(out)           the tables of an earlier run again (`bench/scale.py --render`)
"""
from __future__ import annotations

import json
import re
import statistics
from pathlib import Path
from typing import Any, Dict, List, Optional

LABELS = {"production-1": "ours (production, 1 instance)", "production-2": "ours (production, 2 instances)",
          "production-2-sticky": "ours (production, 2 instances, sticky)",
          "embedded": "ours (embedded, SQLite)", "stock": "stock"}
SHORT = {"production-1": "1 instance", "production-2": "2 instances", "production-2-sticky": "2 sticky",
         "embedded": "embedded", "stock": "stock"}


def find(results: Dict[str, Any], setup: str, users: int, mode: str) -> Optional[Dict[str, Any]]:
    return next((row for row in results["scale"]
                 if row["setup"] == setup and row["conversations"] == users and row["mode"] == mode), None)


def goals(results: Dict[str, Any]) -> List[Dict[str, Any]]:
    found = []
    typing10 = find(results, "production-1", 10, "typing")
    if typing10:
        found.append({"goal": "p95 under 150 ms at 10 conversations (people typing, 1 instance)",
                      "measured": f"{typing10['p95_ms']} ms", "met": typing10["p95_ms"] < 150})
    load10 = find(results, "production-1", 10, "load")
    if load10:
        found.append({"goal": "p95 under 150 ms at 10 conversations (no pauses, 1 instance)",
                      "measured": f"{load10['p95_ms']} ms", "met": load10["p95_ms"] < 150})
    stock10 = find(results, "stock", 10, "load")
    if load10 and stock10:
        ratio = load10["messages_per_second"] / stock10["messages_per_second"]
        found.append({"goal": "at least 5x the stock configuration's throughput (10 conversations, no pauses)",
                      "measured": f"{ratio:.1f}x ({load10['messages_per_second']} vs "
                                  f"{stock10['messages_per_second']} msg/s)", "met": ratio >= 5})
        embedded10 = find(results, "embedded", 10, "load")
        if embedded10:
            found[-1]["measured"] += (f"; embedded profile "
                                      f"{embedded10['messages_per_second'] / stock10['messages_per_second']:.2f}x")
    long = results["long"].get("production-1")
    if long:
        found.append({"goal": f"turn {long['turns']} no slower than turn 1 (within 5%)",
                      "measured": f"{long['last_window']} {long['last_window_mean_ms']} ms vs "
                                  f"{long['first_window']} {long['first_window_mean_ms']} ms "
                                  f"({long['last_over_first']}x)",
                      "met": long["last_window_mean_ms"] <= long["first_window_mean_ms"] * 1.05})
        embedded = results["long"].get("embedded")
        if embedded:
            found[-1]["measured"] += (f"; embedded profile {embedded['last_window_mean_ms']} vs "
                                      f"{embedded['first_window_mean_ms']} ms ({embedded['last_over_first']}x)")
    # Faster: at least 5% more messages/s without a worse p95.
    for users in sorted({row["conversations"] for row in results["scale"] if row["setup"] == "production-2"}):
        one, two = find(results, "production-1", users, "typing"), find(results, "production-2", users, "typing")
        if one and two and users > 1:
            found.append({"goal": f"two instances faster than one (messages alternating; {users} people typing)",
                          "measured": f"p50 {two['p50_ms']:.0f} vs {one['p50_ms']:.0f} ms, "
                                      f"p95 {two['p95_ms']:.0f} vs {one['p95_ms']:.0f} ms",
                          "met": two["p95_ms"] < one["p95_ms"] and two["p50_ms"] <= one["p50_ms"] * 1.05})
    for setup, how in (("production-2", "messages alternating"), ("production-2-sticky", "sticky routing, extra")):
        for users in sorted({row["conversations"] for row in results["scale"] if row["setup"] == setup}):
            one, two = find(results, "production-1", users, "load"), find(results, setup, users, "load")
            if one and two and users > 1:
                found.append({"goal": f"two instances faster than one ({how}; {users} conversations, no pauses)",
                              "measured": f"{two['messages_per_second']} vs {one['messages_per_second']} msg/s "
                                          f"({two['messages_per_second'] / one['messages_per_second']:.2f}x), "
                                          f"p95 {two['p95_ms']:.0f} vs {one['p95_ms']:.0f} ms",
                              "met": two["messages_per_second"] > one["messages_per_second"] * 1.05
                              and two["p95_ms"] <= one["p95_ms"]})
    return found


def _no_tickets(texts: List[str]) -> List[str]:
    return [re.sub(r"T\d{8}-\d{4}", "T…", text) for text in texts]


def _unit(value: Any, unit: str) -> str:
    return "" if value in (None, "") else value if isinstance(value, str) else f"{value} {unit}"


def ms(value: Optional[float]) -> str:
    return "" if value is None else f"{value:.1f} ms"


def markdown(results: Dict[str, Any]) -> str:
    out: List[str] = []
    machine = results["machine"]
    others = [row["cpu"].get("other_busy_percent", 0.0) for row in results["scale"]]
    out.append(f"Measured on {machine['cores']} cores, Rasa {machine['rasa']}; load average "
               f"{machine['loadavg_at_start'][0]} at the start, {machine['loadavg_at_end'][0]} at the end"
               + (f"; other work on the machine during the load runs: at most {max(others):.0f}% of the "
                  f"CPU (median {statistics.median(others):.0f}%)" if others else "") + ".\n")
    retried = [row for row in [*results["scale"], *results["long"].values()] if row.get("attempts", 1) > 1]
    disturbed = [row for row in [*results["scale"], *results["long"].values()] if row.get("disturbed")]
    if retried or disturbed:
        out.append(f"{len(retried)} run(s) measured again because other work used the CPU meanwhile; "
                   f"{len(disturbed)} still disturbed after {results['settings'].get('attempts', 3)} attempts.\n")

    rows = [row for row in results["scale"] if row["setup"].startswith("production")]
    if rows:
        out.append("#### Scale-out (production profile: PostgreSQL, Redis locks, RabbitMQ; REST; action server in the loop)\n")
        out.append("| instances | conversations | mode | p50 | p95 | p99 | messages/s | CPU busy | CPU ms per message "
                   "(bot + stores) |")
        out.append("|---|---|---|---|---|---|---|---|---|")
        for row in sorted(rows, key=lambda r: (r["mode"] != "typing", r["conversations"], r["instances"])):
            instances = f"{row['instances']}{' (sticky)' if row['setup'].endswith('sticky') else ''}"
            out.append(f"| {instances} | {row['conversations']} | {row['mode']} | {ms(row['p50_ms'])} | "
                       f"{ms(row['p95_ms'])} | {ms(row['p99_ms'])} | {row['messages_per_second']} | "
                       f"{row['cpu']['busy_percent']:.0f}% | {row['cpu']['cpu_ms_per_message_total']} |")
        out.append("\ntyping: each person pauses 0.5-1.5 s before the next message; load: no pauses. With two "
                   "instances a conversation's messages alternate between them (sticky: each conversation stays "
                   "on one). CPU busy: share of both cores in use during the run.\n")
    heavy = [row for row in results["scale"] if row["mode"] == "load" and row["conversations"] > 1]
    if heavy:
        top = max(row["conversations"] for row in heavy)
        order = list(LABELS)
        picks = sorted([row for row in heavy if row["conversations"] in (10, top)],
                       key=lambda row: (row["conversations"], order.index(row["setup"])))
        roles = sorted({role for row in picks for role in row["cpu"]["cpu_ms_per_message"]} - {"other"},
                       key=lambda role: -max(row["cpu"]["cpu_ms_per_message"].get(role, 0) for row in picks))
        out.append("#### CPU time per message, no pauses\n")
        out.append("| process | " + " | ".join(f"{SHORT[row['setup']]}, {row['conversations']} conv."
                                               for row in picks) + " |")
        out.append("|---|" + "---|" * len(picks))
        for role in roles:
            out.append(f"| {role} | " + " | ".join(
                f"{row['cpu']['cpu_ms_per_message'].get(role, 0):.1f}" for row in picks) + " |")
        out.append("| **total, bot and stores (ms)** | " + " | ".join(
            f"**{row['cpu']['cpu_ms_per_message_total']:.1f}**" for row in picks) + " |")
        out.append("| other processes, not the bot (ms) | " + " | ".join(
            f"{row['cpu']['other_cpu_ms_per_message']:.1f}" for row in picks) + " |")
        out.append("| CPU busy (both cores) | " + " | ".join(f"{row['cpu']['busy_percent']:.0f}%" for row in picks)
                   + " |")
        out.append("| messages/s | " + " | ".join(f"{row['messages_per_second']}" for row in picks) + " |")
        out.append("\nms of CPU per answered message, from /proc (utime + stime) over the run.\n")

    if results["long"]:
        out.append("#### One long conversation\n")
        out.append("| configuration | turns | first 20 turns (mean) | last 20 turns (mean) | last / first | p50 | p95 "
                   "| messages calling the action server |")
        out.append("|---|---|---|---|---|---|---|---|")
        for setup, row in results["long"].items():
            out.append(f"| {LABELS[setup]} | {row['turns']} | {ms(row['first_window_mean_ms'])} | "
                       f"{ms(row['last_window_mean_ms'])} | {row['last_over_first']}x | {ms(row['p50_ms'])} | "
                       f"{ms(row['p95_ms'])} | {row['turns_calling_action_server']:.0%} |")
        out.append("")
        for setup, row in results["long"].items():
            if "per_message" not in row:
                continue
            growth = sorted(row["per_message"], key=lambda item: item["first_ms"] - item["last_ms"])[:4]
            first, last = row["cpu_first_window"]["cpu_ms_per_message"], row["cpu_last_window"]["cpu_ms_per_message"]
            cpu = ", ".join(f"{role} {first.get(role, 0):.0f} → {last.get(role, 0):.0f}"
                            for role in ("rasa", "action server", "postgresql") if role in first or role in last)
            out.append(f"- {LABELS[setup]}: most growth in " + ", ".join(
                f"「{item['text']}」 {item['first_ms']:.0f} → {item['last_ms']:.0f} ms" for item in growth)
                + f"; CPU ms per message, first → last 20 turns: {cpu}; at the end the tracker Rasa sends "
                f"to the action server has {row['tracker_events_at_end']} events "
                f"({row['tracker_json_kb_at_end']} KB of JSON).")
        out.append("")

    if "stock" in results["long"] or find(results, "stock", 10, "load"):
        setups = [setup for setup in ("production-1", "embedded", "stock")
                  if find(results, setup, 10, "load") or setup in results["long"]]
        out.append("#### Against the stock configuration (same data, domain, NLG and action server)\n")
        ratios = [setup for setup in ("production-1", "embedded") if setup in setups and "stock" in setups]
        out.append("| figure | " + " | ".join(LABELS[setup] for setup in setups) + " | "
                   + " | ".join(f"{SHORT[setup]} / stock" for setup in ratios) + " |")
        out.append("|---|" + "---|" * (len(setups) + len(ratios)))

        def line(label: str, values: List[Optional[float]], unit: str, higher_is_better: bool) -> None:
            cells = ["" if value is None else f"{value}{unit}" for value in values]
            stock = values[setups.index("stock")] if "stock" in setups else None
            for setup in ratios:
                ours = values[setups.index(setup)]
                cells.append(f"{(ours / stock if higher_is_better else stock / ours):.1f}x" if ours and stock else "")
            out.append(f"| {label} | " + " | ".join(cells) + " |")

        for mode, title in (("typing", "10 people typing"), ("load", "10 conversations, no pauses")):
            for key in ("p50_ms", "p95_ms", "p99_ms"):
                line(f"{title}: {key[:3]}", [(find(results, s, 10, mode) or {}).get(key) for s in setups], " ms", False)
            line(f"{title}: messages/s", [(find(results, s, 10, mode) or {}).get("messages_per_second")
                                          for s in setups], "", True)
        long_values = [results["long"].get(setup) for setup in setups]
        line("long conversation: turns 1-20 mean", [row and row["first_window_mean_ms"] for row in long_values],
             " ms", False)
        last = next((row for row in long_values if row), None)
        if last:
            line(f"long conversation: {last['last_window']} mean",
                 [row and row["last_window_mean_ms"] for row in long_values], " ms", False)
        starts = results["startup_seconds"]
        line("start-up to first answer", [starts.get({"production-1": "production, 1 instance"}.get(s, s))
                                          for s in setups], " s", False)
        out.append("\n... / stock: how many times faster (latency) or more (messages/s) ours is than stock.\n")
        if "stock" in results["long"] and "production-1" in results["long"]:
            ours, theirs = results["long"]["production-1"]["first_answers"], results["long"]["stock"]["first_answers"]
            same = sum(1 for a, b in zip(ours, theirs) if _no_tickets(a) == _no_tickets(b))
            out.append(f"The stock bot gave the same answers as ours to {same} of the {len(ours)} messages of "
                       f"the conversation.\n")

    if "training" in results or results.get("startup_seconds"):
        out.append("#### Training, model, start-up\n")
        out.append("| figure | ours | stock |")
        out.append("|---|---|---|")
        training, stock = results.get("training"), dict(results.get("stock_model") or {})
        if stock.get("reused") and stock.get("seconds"):
            stock["seconds"] = f"{stock['seconds']} s (cached model, trained {stock.get('trained_at', '?')})"
            stock["peak_rss_mb"] = f"{stock.get('peak_rss_mb')} MB (same)"
        if training:
            out.append(f"| `rasa train --force` wall time | {training['seconds']} s | {_unit(stock.get('seconds'), 's')} |")
            out.append(f"| peak RSS of the training process tree | {training['peak_rss_mb']} MB | "
                       f"{_unit(stock.get('peak_rss_mb'), 'MB')} |")
        out.append(f"| model size | {results['model_mb']} MB | {_unit(stock.get('model_mb'), 'MB')} |")
        starts = results["startup_seconds"]
        if "production, 1 instance" in starts:
            out.append(f"| start-up to first REST answer, one instance | {starts['production, 1 instance']} s "
                       f"(production profile) | {starts.get('stock', '')}{' s' if 'stock' in starts else ''} |")
        out.append("")

    if results["goals"]:
        out.append("#### Goals\n")
        out.append("| goal | measured | met |")
        out.append("|---|---|---|")
        for goal in results["goals"]:
            out.append(f"| {goal['goal']} | {goal['measured']} | {'yes' if goal['met'] else '**no**'} |")
        out.append("")
    return "\n".join(out)


def write(results: Dict[str, Any], out: Path) -> str:
    """Write the results to ``out`` (JSON) and the tables to ``out`` with .md; return the tables."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8")
    tables = markdown(results)
    out.with_suffix(".md").write_text(tables + "\n", encoding="utf-8")
    return tables


def render(out: Path) -> str:
    """The tables of the run in ``out``, with the goals checked again."""
    results = json.loads(out.read_text(encoding="utf-8"))
    results["goals"] = goals(results)
    return markdown(results)
