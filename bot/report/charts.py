"""The report's charts: matplotlib (Agg, no display), PNG as base64 for the page.

Chinese labels need a CJK font: matplotlib's own DejaVu has no Chinese
glyphs and would draw boxes. We use Debian's WenQuanYi Micro Hei (package
fonts-wqy-microhei, installed by ``make browser``), or another CJK font
matplotlib can find, and stop with a message naming the package otherwise.
"""

from __future__ import annotations

import base64
import io
import math
from pathlib import Path
from typing import Optional

import matplotlib

from bot import knowledge
from bot.report import labels
from bot.report.figures import STATUS_ORDER, Figures

matplotlib.use("Agg")  # before pyplot: no display on servers and in CI

import matplotlib.pyplot as plt  # noqa: E402  pyplot must come after matplotlib.use("Agg")
import matplotlib.ticker  # noqa: E402  imported with pyplot, after the backend is chosen
from matplotlib import font_manager  # noqa: E402  imported with pyplot, after the backend is chosen

CJK_FONT_FILE = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
CJK_FONT_PACKAGE = "fonts-wqy-microhei"
# Other CJK fonts that render Simplified Chinese, if the Debian one is absent.
OTHER_CJK_FAMILIES = (
    "WenQuanYi Zen Hei",
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Droid Sans Fallback",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
)
TOP_INTENTS_SHOWN = 12
MAX_DAY_LABELS = 16
BLUE, ORANGE, GREY, GREEN, RED = "#3b78c2", "#e8883a", "#9aa5b1", "#4caf50", "#d9534f"
FRAUD_COLOURS = {"high": RED, "medium": ORANGE, "low": GREEN}
STATUS_COLOURS = {"open": RED, "in_progress": ORANGE, "resolved": GREEN, "closed": GREY}


class MissingCJKFont(RuntimeError):
    pass


def use_cjk_font(font_file: Path = CJK_FONT_FILE) -> str:
    """Make a CJK font matplotlib's default; its family name."""
    family = _registered_family(font_file) or _installed_cjk_family()
    if family is None:
        raise MissingCJKFont(
            f"No Chinese (CJK) font found, so the charts would show boxes instead of characters. "
            f"Install Debian's {CJK_FONT_PACKAGE} (`apt-get install {CJK_FONT_PACKAGE}`, "
            f"or `make browser`), which provides {font_file}."
        )
    plt.rcParams["font.family"] = "sans-serif"
    plt.rcParams["font.sans-serif"] = [family, "DejaVu Sans"]
    plt.rcParams["axes.unicode_minus"] = False  # the CJK font has no U+2212 minus
    return family


def _registered_family(font_file: Path) -> Optional[str]:
    if not font_file.exists():
        return None
    font_manager.fontManager.addfont(str(font_file))
    return font_manager.FontProperties(fname=str(font_file)).get_name()


def _installed_cjk_family() -> Optional[str]:
    installed = {font.name for font in font_manager.fontManager.ttflist}
    return next((family for family in OTHER_CJK_FAMILIES if family in installed), None)


# --- the charts: each takes the figures, returns a base64 PNG or None ---------------


def activity_over_time(figures: Figures) -> Optional[str]:
    if not figures.daily:
        return None
    positions = range(len(figures.daily))
    figure, axes = plt.subplots(figsize=(9, 3.6))
    axes.bar(positions, [row.conversations for row in figures.daily], color=BLUE, label="对话数 conversations")
    axes.plot(positions, [row.messages for row in figures.daily], color=ORANGE, marker="o", label="用户消息数 messages")
    # Days as categories: a single day would otherwise fill the axis with hour ticks.
    step = max(1, math.ceil(len(figures.daily) / MAX_DAY_LABELS))
    axes.set_xticks(list(positions)[::step])
    axes.set_xticklabels([row.day.strftime("%m-%d") for row in figures.daily][::step], rotation=45, ha="right")
    axes.set_title("每天的对话和消息 Conversations and messages per day")
    axes.legend(loc="upper left", fontsize=8)
    _integer_axis(axes)
    return _png(figure)


def hour_of_day(figures: Figures) -> str:
    hours = [row.hour for row in figures.hourly]
    figure, axes = plt.subplots(figsize=(9, 3.6))
    _shade_service_hours(axes)
    axes.bar(hours, [row.messages for row in figures.hourly], color=BLUE, label="用户消息数 messages")
    axes.plot(
        hours,
        [row.conversations for row in figures.hourly],
        color=ORANGE,
        marker="o",
        label="开始的对话数 conversations started",
    )
    axes.set_xticks(range(24))
    axes.set_xlim(-0.6, 23.6)
    axes.set_xlabel("小时（上海时间）hour, Shanghai")
    axes.set_title("按小时分布（阴影：工作日高峰；灰色：人工下班）By hour of day")
    axes.legend(loc="upper left", fontsize=8)
    _integer_axis(axes)
    return _png(figure)


def containment(figures: Figures) -> Optional[str]:
    if not figures.conversations:
        return None
    rows = [("全部 all", figures.contained, figures.conversations)] + [
        (labels.intent_label(row.topic), row.contained, row.conversations) for row in figures.containment_by_topic
    ]
    names = [name for name, _, _ in rows][::-1]
    rates = [contained / total for _, contained, total in rows][::-1]
    figure, axes = plt.subplots(figsize=(9, 0.45 * len(rows) + 1.4))
    bars = axes.barh(names, rates, color=[BLUE] * (len(rows) - 1) + ["#1f4e8c"])
    for bar, (_, contained, total) in zip(bars, rows[::-1], strict=True):
        axes.text(
            bar.get_width() + 0.01, bar.get_y() + bar.get_height() / 2, f"{contained}/{total}", va="center", fontsize=8
        )
    if figures.promised_containment is not None:
        axes.axvline(
            figures.promised_containment,
            color=RED,
            linestyle="--",
            label=f"文章承诺 {knowledge.load('facts')['smart_service_share']} promise",
        )
        axes.legend(loc="lower right", fontsize=8)
    axes.set_xlim(0, 1.12)
    axes.xaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    axes.set_title("机器人独立解决率（按主题）Containment by topic")
    return _png(figure)


def escalations(figures: Figures) -> Optional[str]:
    if not figures.escalation_total:
        return None
    rows = figures.escalations[::-1]
    names = [labels.reason_label(row.reason) for row in rows]
    in_hours = [row.in_hours for row in rows]
    figure, axes = plt.subplots(figsize=(9, 3.4))
    axes.barh(names, in_hours, color=BLUE, label=labels.in_hours_label())
    axes.barh(names, [row.off_hours for row in rows], left=in_hours, color=GREY, label=labels.off_hours_label())
    axes.margins(x=0.1)
    axes.set_title("转人工原因 Escalations by reason")
    axes.legend(loc="lower right", fontsize=8)
    _integer_axis(axes, "x")
    return _png(figure)


def top_intents(figures: Figures) -> Optional[str]:
    shown = figures.intents[:TOP_INTENTS_SHOWN][::-1]
    if not shown:
        return None
    figure, axes = plt.subplots(figsize=(9, 0.4 * len(shown) + 1.2))
    colours = [RED if intent == "nlu_fallback" else BLUE for intent, _ in shown]
    axes.barh([labels.intent_label(intent) for intent, _ in shown], [count for _, count in shown], color=colours)
    axes.set_title(f"最常见的意图（前 {TOP_INTENTS_SHOWN}）Top intents")
    _integer_axis(axes, "x")
    return _png(figure)


def fraud_checks(figures: Figures) -> Optional[str]:
    if not sum(count for _, count in figures.fraud_levels):
        return None
    levels = figures.fraud_levels
    figure, axes = plt.subplots(figsize=(6, 3.2))
    axes.bar(
        [labels.fraud_level_label(level) for level, _ in levels],
        [count for _, count in levels],
        color=[FRAUD_COLOURS.get(level, GREY) for level, _ in levels],
    )
    axes.set_title("防骗核实的风险等级 Fraud checks by risk level")
    _integer_axis(axes)
    return _png(figure)


def ratings(figures: Figures) -> Optional[str]:
    if not figures.rated:
        return None
    figure, axes = plt.subplots(figsize=(6, 3.2))
    axes.bar([f"{score}分" for score, _ in figures.ratings], [count for _, count in figures.ratings], color=BLUE)
    axes.set_title(f"用户评分 Ratings（平均 {figures.average_rating:.2f}，共 {figures.rated} 条）")
    _integer_axis(axes)
    return _png(figure)


def tickets(figures: Figures) -> Optional[str]:
    if not figures.ticket_total:
        return None
    kinds = list(dict.fromkeys(row.kind for row in figures.tickets))
    present = {row.status for row in figures.tickets}
    statuses = [status for status in STATUS_ORDER if status in present] + sorted(present - set(STATUS_ORDER))
    figure, axes = plt.subplots(figsize=(9, 3.4))
    bottoms = [0] * len(kinds)
    for status in statuses:
        counts = [_ticket_count(figures, kind, status) for kind in kinds]
        axes.bar(
            [labels.ticket_kind_label(kind) for kind in kinds],
            counts,
            bottom=bottoms,
            color=STATUS_COLOURS.get(status, GREY),
            label=labels.ticket_status_label(status),
        )
        bottoms = [bottom + count for bottom, count in zip(bottoms, counts, strict=True)]
    axes.set_title("工单（按类型和状态）Tickets by type and state")
    axes.legend(fontsize=8)
    _integer_axis(axes)
    return _png(figure)


def _ticket_count(figures: Figures, kind: str, status: str) -> int:
    return sum(row.count for row in figures.tickets if row.kind == kind and row.status == status)


def _shade_service_hours(axes) -> None:
    for start, end in _peak_spans():
        axes.axvspan(start - 0.5, end - 0.5, color="#fde9c8", zorder=0)
    hours = knowledge.load("facts")["service_hours"]
    opens, closes = _hour_of(hours["open"]), _hour_of(hours["close"])
    axes.axvspan(-0.6, opens - 0.5, color="#e6e6e6", zorder=0)
    axes.axvspan(closes - 0.5, 23.6, color="#e6e6e6", zorder=0)


def _peak_spans() -> list[tuple[float, float]]:
    """facts.yml peak_hours ("10:00-12:00") as hour spans."""
    spans = []
    for text in knowledge.load("facts")["peak_hours"]:
        start, end = text.split("-")
        spans.append((_hour_of(start), _hour_of(end)))
    return spans


def _hour_of(clock_time: str) -> float:
    hours, minutes = clock_time.split(":")
    return int(hours) + int(minutes) / 60


def _integer_axis(axes, which: str = "y") -> None:
    axis = axes.yaxis if which == "y" else axes.xaxis
    axis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))


def _png(figure) -> str:
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=100)
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def all_charts(figures: Figures) -> dict[str, Optional[str]]:
    """Chart name -> base64 PNG (None when there is nothing to draw)."""
    return {
        "activity": activity_over_time(figures),
        "hours": hour_of_day(figures),
        "containment": containment(figures),
        "escalations": escalations(figures),
        "intents": top_intents(figures),
        "fraud": fraud_checks(figures),
        "ratings": ratings(figures),
        "tickets": tickets(figures),
    }
