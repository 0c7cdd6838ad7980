"""The scale benchmark's report: the goals check, the Markdown tables, the
capacity model and the cluster plot, from the results of a run
(bench/results/scale.json, whose load rows were read from Locust's CSV files),
and the files it writes.

    write(results, out)       scale.json and scale.md (the tables) next to it; returns the tables
    render(out, plot)         the tables of an earlier run again, and its plot (`bench/scale.py --render`)
    plot_cluster(results, png)  messages/s and p95 against people, one line per instance count
"""
from __future__ import annotations

import json
import math
import re
import statistics
from pathlib import Path
from typing import Any, Dict, List, Optional

LABELS = {"production-1": "ours (production, 1 instance)", "embedded": "ours (embedded, SQLite)", "stock": "stock",
          "production-1-before": "ours (production, 1 instance), issue 19's Rasa patches left out",
          **{f"cluster-{n}": f"ours (production, {n} instance{'s' if n > 1 else ''} behind the gateway)"
             for n in range(1, 10)}}
SHORT = {"production-1": "1 instance", "embedded": "embedded", "stock": "stock", "production-1-before": "before",
         **{f"cluster-{n}": f"gateway, {n}" for n in range(1, 10)}}
# The goals (issue 19).
TYPING_P95_MS, LOAD_P95_MS, TIMES_STOCK = 50, 150, 10
# Capacity model: a shopper's message every this many seconds at peak (reading the answer, typing
# on a phone), and the share of the CPU to plan for (queueing makes the p95 climb well before 100%).
SECONDS_BETWEEN_MESSAGES, PLANNED_UTILISATION = 15, 0.6
SHOP_SIZES = (100, 500, 1000, 2000, 5000)


def find(results: Dict[str, Any], setup: str, users: int, mode: str, channel: str = "rest") -> Optional[Dict[str, Any]]:
    return next((row for row in results["scale"]
                 if row["setup"] == setup and row["conversations"] == users and row["mode"] == mode
                 and row.get("channel", "rest") == channel), None)


def compare_level(results: Dict[str, Any]) -> int:
    """The people of the comparison with stock: 10 if measured, else the first level measured."""
    levels = [row["conversations"] for row in results["scale"] if row["setup"] == "production-1"]
    return 10 if 10 in levels or not levels else levels[0]


def goals(results: Dict[str, Any]) -> List[Dict[str, Any]]:
    found = []
    users = compare_level(results)
    typing = find(results, "production-1", users, "typing")
    if typing:
        found.append({"goal": f"p95 ≤ {TYPING_P95_MS} ms with {users} people typing (production, 1 instance, REST)",
                      "measured": f"{typing['p95_ms']} ms", "met": typing["p95_ms"] <= TYPING_P95_MS})
    load = find(results, "production-1", users, "load")
    if load:
        found.append({"goal": f"p95 ≤ {LOAD_P95_MS} ms with {users} conversations without pauses "
                              "(production, 1 instance, REST)",
                      "measured": f"{load['p95_ms']} ms", "met": load["p95_ms"] <= LOAD_P95_MS})
    stock = find(results, "stock", users, "load")
    if load and stock:
        ratio = load["messages_per_second"] / stock["messages_per_second"]
        found.append({"goal": f"at least {TIMES_STOCK}x the stock configuration's messages/s "
                              f"({users} conversations, no pauses, same run)",
                      "measured": f"{ratio:.1f}x ({load['messages_per_second']} vs "
                                  f"{stock['messages_per_second']} msg/s)", "met": ratio >= TIMES_STOCK})
        embedded = find(results, "embedded", users, "load")
        if embedded:
            found[-1]["measured"] += (f"; embedded profile "
                                      f"{embedded['messages_per_second'] / stock['messages_per_second']:.1f}x")
    long = results["long"].get("production-1")
    if long:
        found.append({"goal": f"turn {long['turns']} no slower than turn 1 (within 5%)",
                      "measured": f"{long['last_window']} {long['last_window_mean_ms']} ms vs "
                                  f"{long['first_window']} {long['first_window_mean_ms']} ms "
                                  f"({long['last_over_first']}x)",
                      "met": long["last_window_mean_ms"] <= long["first_window_mean_ms"] * 1.05})
        embedded_long = results["long"].get("embedded")
        if embedded_long:
            found[-1]["measured"] += (f"; embedded profile {embedded_long['last_window_mean_ms']} vs "
                                      f"{embedded_long['first_window_mean_ms']} ms "
                                      f"({embedded_long['last_over_first']}x)")
    return found


def _no_tickets(texts: List[str]) -> List[str]:
    return [re.sub(r"T\d{8}-\d{4}", "T…", text) for text in texts]


def _unit(value: Any, unit: str) -> str:
    return "" if value in (None, "") else value if isinstance(value, str) else f"{value} {unit}"


def ms(value: Optional[float]) -> str:
    return "" if value is None else f"{value:.1f} ms"


def cluster_setups(results: Dict[str, Any]) -> List[str]:
    return sorted({row["setup"] for row in results["scale"] if row["setup"].startswith("cluster-")},
                  key=lambda setup: int(setup.split("-")[1]))


def rasa_ms(row: Dict[str, Any]) -> float:
    """CPU ms per message of all Rasa instances together."""
    return round(sum(ms for role, ms in row["cpu"]["cpu_ms_per_message"].items()
                     if role == "rasa" or role.startswith("rasa, ")), 1)


def peak_rasa_mb(row: Dict[str, Any]) -> Optional[float]:
    peaks = [figures["peak_mb"] for role, figures in row.get("memory", {}).items()
             if role == "rasa" or role.startswith("rasa, ")]
    return max(peaks) if peaks else None


def _header(results: Dict[str, Any], out: List[str]) -> None:
    machine = results["machine"]
    others = [row["cpu"].get("other_busy_percent", 0.0) for row in results["scale"]]
    out.append(f"Measured on {machine['cores']} cores, Rasa {machine['rasa']}, Locust {machine.get('locust', '?')}; "
               f"load average {machine['loadavg_at_start'][0]} at the start, {machine['loadavg_at_end'][0]} at the end"
               + (f"; other work on the machine during the load runs: at most {max(others):.0f}% of the "
                  f"CPU (median {statistics.median(others):.0f}%)" if others else "") + ".\n")
    retried = [row for row in [*results["scale"], *results["long"].values()] if row.get("attempts", 1) > 1]
    disturbed = [row for row in [*results["scale"], *results["long"].values()] if row.get("disturbed")]
    if retried or disturbed:
        out.append(f"{len(retried)} run(s) measured again because other work used the CPU meanwhile; "
                   f"{len(disturbed)} still disturbed after {results['settings'].get('attempts', 3)} attempts.\n")


def _one_instance(results: Dict[str, Any], out: List[str]) -> None:
    order = ["production-1", "production-1-before", "embedded", "stock"]
    rows = [row for row in results["scale"] if row["setup"] in order]
    if not rows:
        return
    out.append("#### One instance: ours and stock, REST and socket.io (Locust, action server in the loop)\n")
    out.append("| configuration | channel | people | mode | p50 | p95 | p99 | messages/s | errors | CPU busy | "
               "CPU ms per message (bot + stores) |")
    out.append("|---|---|---|---|---|---|---|---|---|---|---|")
    for row in sorted(rows, key=lambda r: (order.index(r["setup"]), r.get("channel", "rest") != "rest",
                                           r["conversations"], r["mode"] != "typing")):
        out.append(f"| {LABELS[row['setup']]} | {row.get('channel', 'rest')} | {row['conversations']} | "
                   f"{row['mode']} | {ms(row['p50_ms'])} | {ms(row['p95_ms'])} | {ms(row['p99_ms'])} | "
                   f"{row['messages_per_second']} | {row['errors']} | {row['cpu']['busy_percent']:.0f}% | "
                   f"{row['cpu']['cpu_ms_per_message_total']} |")
    out.append("\ntyping: each person pauses 0.5-1.5 s before the next message; load: no pauses. REST: "
               "Locust's FastHttpUser; socket.io: python-socketio's client in a Locust user, timed to the "
               "acknowledgement Rasa sends after the message's last answer. CPU busy: share of all cores in "
               "use during the run.\n")


def _before_after(results: Dict[str, Any], out: List[str]) -> None:
    users = compare_level(results)
    pairs = [(mode, find(results, "production-1-before", users, mode), find(results, "production-1", users, mode))
             for mode in ("typing", "load")]
    pairs = [(mode, before, after) for mode, before, after in pairs if before and after]
    if not pairs:
        return
    out.append("#### Issue 19's Rasa patches: left out and in, same run (production, 1 instance, REST)\n")
    out.append("| mode | p50 before / after | p95 before / after | messages/s before / after | "
               "Rasa CPU ms per message before / after | CPU ms per message (bot + stores) before / after |")
    out.append("|---|---|---|---|---|---|")
    for mode, before, after in pairs:
        out.append(f"| {users} {'people typing' if mode == 'typing' else 'conversations, no pauses'} | "
                   f"{before['p50_ms']:.0f} / {after['p50_ms']:.0f} ms | "
                   f"{before['p95_ms']:.0f} / {after['p95_ms']:.0f} ms | {before['messages_per_second']} / {after['messages_per_second']} | {rasa_ms(before)} / "
                   f"{rasa_ms(after)} | {before['cpu']['cpu_ms_per_message_total']} / "
                   f"{after['cpu']['cpu_ms_per_message_total']} |")
    out.append("\nbefore: RASA_COMPAT_SKIP=pika_publish,memoization_debug,prediction_states,diet_predict,"
               "endpoint_session (Rasa's own code for those five); the rows after are the scale part's.\n")


def _cpu_per_message(results: Dict[str, Any], out: List[str]) -> None:
    users = compare_level(results)
    order = ["production-1", "embedded", "stock"]
    picks = [row for setup in order for row in [find(results, setup, users, "load")] if row]
    if not picks:
        return
    roles = sorted({role for row in picks for role in row["cpu"]["cpu_ms_per_message"]} - {"other"},
                   key=lambda role: -max(row["cpu"]["cpu_ms_per_message"].get(role, 0) for row in picks))
    out.append(f"#### CPU time per message, {users} conversations without pauses (REST)\n")
    out.append("| process | " + " | ".join(SHORT[row["setup"]] for row in picks) + " |")
    out.append("|---|" + "---|" * len(picks))
    for role in roles:
        out.append(f"| {role} | " + " | ".join(
            f"{row['cpu']['cpu_ms_per_message'].get(role, 0):.1f}" for row in picks) + " |")
    out.append("| **total, bot and stores (ms)** | " + " | ".join(
        f"**{row['cpu']['cpu_ms_per_message_total']:.1f}**" for row in picks) + " |")
    out.append("| other processes, not the bot (ms) | " + " | ".join(
        f"{row['cpu']['other_cpu_ms_per_message']:.1f}" for row in picks) + " |")
    out.append("| messages/s | " + " | ".join(f"{row['messages_per_second']}" for row in picks) + " |")
    out.append("\nms of CPU per answered message, from /proc (utime + stime) over the run; the load generator "
               "is Locust.\n")


def _long(results: Dict[str, Any], out: List[str]) -> None:
    if not results["long"]:
        return
    out.append("#### One long conversation\n")
    out.append("| configuration | turns | first 20 turns (mean) | last 20 turns (mean) | last / first | p50 | p95 "
               "| messages calling the action server |")
    out.append("|---|---|---|---|---|---|---|---|")
    for setup, row in results["long"].items():
        out.append(f"| {LABELS[setup]} | {row['turns']} | {ms(row['first_window_mean_ms'])} | "
                   f"{ms(row['last_window_mean_ms'])} | {row['last_over_first']}x | {ms(row['p50_ms'])} | "
                   f"{ms(row['p95_ms'])} | {row['turns_calling_action_server']:.0%} |")
    out.append("")


def _against_stock(results: Dict[str, Any], out: List[str]) -> None:
    users = compare_level(results)
    if not ("stock" in results["long"] or find(results, "stock", users, "load")):
        return
    setups = [setup for setup in ("production-1", "embedded", "stock")
              if find(results, setup, users, "load") or setup in results["long"]]
    out.append("#### Against the stock configuration (same data, domain, NLG, action server and Locust scenario)\n")
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

    for mode, title in (("typing", f"{users} people typing"), ("load", f"{users} conversations, no pauses")):
        for key in ("p50_ms", "p95_ms", "p99_ms"):
            line(f"{title}: {key[:3]}", [(find(results, s, users, mode) or {}).get(key) for s in setups], " ms", False)
        line(f"{title}: messages/s", [(find(results, s, users, mode) or {}).get("messages_per_second")
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


def _cluster(results: Dict[str, Any], out: List[str]) -> None:
    setups = cluster_setups(results)
    if not setups:
        return
    out.append("#### The cluster behind its single entry point (nginx round robin, production profile, REST)\n")
    out.append("| instances | people | mode | p50 | p95 | p99 | messages/s | errors | CPU busy | "
               "Rasa CPU ms per message | CPU ms per message (bot + stores) | peak RSS of a Rasa instance |")
    out.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
    rows = [row for row in results["scale"] if row["setup"] in setups]
    for row in sorted(rows, key=lambda r: (r["mode"] != "typing", r["conversations"], r["instances"])):
        peak = peak_rasa_mb(row)
        out.append(f"| {row['instances']} | {row['conversations']} | {row['mode']} | {ms(row['p50_ms'])} | "
                   f"{ms(row['p95_ms'])} | {ms(row['p99_ms'])} | {row['messages_per_second']} | {row['errors']} | "
                   f"{row['cpu']['busy_percent']:.0f}% | {rasa_ms(row)} | {row['cpu']['cpu_ms_per_message_total']} | "
                   f"{'' if peak is None else f'{peak:.0f} MB'} |")
    out.append("\nEvery request goes to the gateway, which sends it to the next instance in turn, so a "
               "conversation's messages alternate between the instances. Plot: docs/scale_cluster.png.\n")


def _memory(results: Dict[str, Any], out: List[str]) -> None:
    at_rest = results.get("memory_at_rest") or {}
    if not at_rest:
        return
    out.append("#### Resident memory (RSS, from /proc)\n")
    out.append("| configuration | process | at rest (after the warm-up) | under load: mean | under load: peak |")
    out.append("|---|---|---|---|---|")
    for setup, rest in at_rest.items():
        rows = [row for row in results["scale"] if row["setup"] == setup]
        for role in sorted(rest, key=lambda role: (not role.startswith("rasa"), role)):
            under = [row["memory"][role] for row in rows if role in row.get("memory", {})]
            mean = f"{max(item['mean_mb'] for item in under):.0f} MB" if under else ""
            peak = f"{max(item['peak_mb'] for item in under):.0f} MB" if under else ""
            out.append(f"| {LABELS.get(setup, setup)} | {role} | {rest[role]:.0f} MB | {mean} | {peak} |")
    out.append("\nUnder load: over every level of that configuration (the largest mean, the largest peak).\n")


def capacity(results: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """Messages/s per core and per Rasa instance, from the loaded run that kept the CPU busiest."""
    loaded = [row for row in results["scale"]
              if row["mode"] == "load" and row["setup"] in ("production-1", *cluster_setups(results))
              and row["cpu"]["cpu_ms_per_message_total"] > 0]
    if not loaded:
        return None
    busiest = max(loaded, key=lambda row: row["messages_per_second"])
    total_ms, per_rasa_ms = busiest["cpu"]["cpu_ms_per_message_total"], rasa_ms(busiest)
    cores = results["machine"]["cores"]
    return {"from": f"{busiest['instances']} instance(s), {busiest['conversations']} conversations without pauses",
            "messages_per_second": busiest["messages_per_second"], "cpu_busy_percent": busiest["cpu"]["busy_percent"],
            "cpu_ms_per_message": total_ms, "rasa_cpu_ms_per_message": per_rasa_ms,
            "messages_per_second_per_core": round(1000 / total_ms, 1),
            "messages_per_second_per_rasa_instance": round(1000 / per_rasa_ms, 1) if per_rasa_ms else None,
            "machine_ceiling": round(cores * 1000 / total_ms, 1), "cores": cores}


def sizing(model: Dict[str, Any], conversations: int) -> Dict[str, Any]:
    """Rasa instances and cores for ``conversations`` at once at peak (a message each every
    SECONDS_BETWEEN_MESSAGES s), planning for PLANNED_UTILISATION of the CPU."""
    rate = conversations / SECONDS_BETWEEN_MESSAGES
    rasa_cores = rate * model["rasa_cpu_ms_per_message"] / 1000 / PLANNED_UTILISATION
    all_cores = rate * model["cpu_ms_per_message"] / 1000 / PLANNED_UTILISATION
    return {"conversations": conversations, "messages_per_second": round(rate, 1),
            # One Rasa instance is one event loop: it uses at most one core.
            "rasa_instances": max(1, math.ceil(rasa_cores)), "cores": max(1, math.ceil(all_cores)),
            "machines": max(1, math.ceil(all_cores / model["cores"]))}


def _model(results: Dict[str, Any], out: List[str]) -> None:
    model = capacity(results)
    if not model:
        return
    out.append("#### The capacity model\n")
    out.append(f"From {model['from']} ({model['messages_per_second']} msg/s, CPU {model['cpu_busy_percent']:.0f}% "
               f"busy): a message costs **{model['cpu_ms_per_message']} ms of CPU** (Rasa "
               f"{model['rasa_cpu_ms_per_message']} ms, the rest the action server and the stores), so "
               f"**{model['messages_per_second_per_core']} messages/s per core**, "
               f"{model['machine_ceiling']} msg/s for this machine's {model['cores']} cores at most; one Rasa "
               f"instance (one event loop, one core) tops out at {model['messages_per_second_per_rasa_instance']} "
               f"msg/s.\n")
    out.append(f"A shop with N conversations at once at its peak (10:00-12:00 and 14:00-17:00), each shopper "
               f"sending a message every {SECONDS_BETWEEN_MESSAGES} s, planning for {PLANNED_UTILISATION:.0%} of "
               f"the CPU (the p95 climbs fast beyond):\n")
    out.append("| conversations at peak | messages/s | Rasa instances | cores (bot and stores) | "
               f"{model['cores']}-core machines |")
    out.append("|---|---|---|---|---|")
    for size in SHOP_SIZES:
        need = sizing(model, size)
        out.append(f"| {size} | {need['messages_per_second']} | {need['rasa_instances']} | {need['cores']} | "
                   f"{need['machines']} |")
    out.append("")


def _training(results: Dict[str, Any], out: List[str]) -> None:
    if "training" not in results and not results.get("startup_seconds"):
        return
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


def markdown(results: Dict[str, Any]) -> str:
    out: List[str] = []
    _header(results, out)
    for section in (_one_instance, _before_after, _cpu_per_message, _long, _against_stock, _cluster, _memory, _model,
                    _training):
        section(results, out)
    if results["goals"]:
        out.append("#### Goals\n")
        out.append("| goal | measured | met |")
        out.append("|---|---|---|")
        for goal in results["goals"]:
            out.append(f"| {goal['goal']} | {goal['measured']} | {'yes' if goal['met'] else '**no**'} |")
        out.append("")
    return "\n".join(out)


def plot_cluster(results: Dict[str, Any], png: Path) -> Optional[Path]:
    """Messages/s and p95 against people, one line per instance count (typing and without pauses)."""
    setups = cluster_setups(results)
    if not setups:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import ScalarFormatter

    modes = [mode for mode in ("load", "typing") if any(row["mode"] == mode for row in results["scale"])]
    figure, axes = plt.subplots(len(modes), 2, figsize=(11, 4.2 * len(modes)), squeeze=False)
    titles = {"load": "no pauses", "typing": "people typing (0.5-1.5 s pauses)"}
    for line, mode in enumerate(modes):
        for setup in setups:
            rows = sorted((row for row in results["scale"] if row["setup"] == setup and row["mode"] == mode),
                          key=lambda row: row["conversations"])
            if not rows:
                continue
            people = [row["conversations"] for row in rows]
            label = f"{rows[0]['instances']} instance{'s' if rows[0]['instances'] > 1 else ''}"
            axes[line][0].plot(people, [row["messages_per_second"] for row in rows], marker="o", label=label)
            axes[line][1].plot(people, [row["p95_ms"] for row in rows], marker="o", label=label)
        axes[line][0].set_title(f"messages/s, {titles[mode]}")
        axes[line][1].set_title(f"p95 latency, {titles[mode]}")
        axes[line][0].set_ylabel("messages per second")
        axes[line][1].set_ylabel("p95 (ms, log scale)")
        axes[line][1].set_yscale("log")
        axes[line][1].yaxis.set_major_formatter(ScalarFormatter())
        axes[line][0].set_ylim(bottom=0)
        for axis in axes[line]:
            axis.set_xscale("log")
            axis.set_xlabel("people at once")
            ticks = sorted({row["conversations"] for row in results["scale"] if row["setup"] in setups})
            axis.set_xticks(ticks)
            axis.set_xticklabels([str(tick) for tick in ticks])
            axis.grid(True, which="both", alpha=0.3)
            axis.legend()
    machine = results["machine"]
    figure.suptitle(f"The cluster behind nginx on one {machine['cores']}-core machine "
                    f"(production profile, REST, Locust; {machine.get('started_at', '')[:10]})")
    figure.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(png, dpi=100)
    plt.close(figure)
    return png


def write(results: Dict[str, Any], out: Path) -> str:
    """Write the results to ``out`` (JSON) and the tables to ``out`` with .md; return the tables."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8")
    tables = markdown(results)
    out.with_suffix(".md").write_text(tables + "\n", encoding="utf-8")
    return tables


def render(out: Path, plot: Optional[Path] = None) -> str:
    """The tables of the run in ``out``, with the goals checked again (and its cluster plot, with ``plot``)."""
    results = json.loads(out.read_text(encoding="utf-8"))
    results["goals"] = goals(results)
    if plot:
        plot_cluster(results, plot)
    return markdown(results)
