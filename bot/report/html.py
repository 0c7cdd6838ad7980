"""The report as one self-contained HTML page (Chinese, English alongside).

Charts are embedded as base64 PNG data URIs and the style is inline, so the
page opens offline and can be mailed as one file. The only links are local
and relative (the CSV folder, ``make eval``'s images). Every value that comes
from a store is escaped: intent names and ticket kinds are data, not markup.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence, Set
from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import Any, Optional

from bot import knowledge
from bot.report import labels
from bot.report.figures import Figures

TITLE = "智能客服服务报告 · Service-insight report"


@dataclass(frozen=True)
class PageContext:
    generated_at: datetime
    tracker_source: str  # printable, without password
    service_source: str
    csv_href: str
    # (label, relative href) of make eval's images; empty when not made yet.
    nlu_images: Sequence[tuple[str, str]] = ()


def render_page(figures: Figures, charts: dict[str, Optional[str]], context: PageContext) -> str:
    body = _empty_notice(figures) if figures.is_empty else _report_body(figures, charts, context)
    return _page(_header(figures, context) + body + _footnotes(context))


def _page(content: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="zh-CN">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(TITLE)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        f"{content}\n</body>\n</html>\n"
    )


def _header(figures: Figures, context: PageContext) -> str:
    return (
        f"<h1>智能客服服务报告 <small>Service-insight report</small></h1>\n"
        f'<p class="meta">统计期间 Period：{escape(figures.period.describe())}（上海时间）'
        f" · 生成于 Generated：{escape(context.generated_at.strftime('%Y-%m-%d %H:%M'))}<br>"
        f"对话库 Tracker store：<code>{escape(context.tracker_source)}</code>"
        f" · 工单库 Ticket store：<code>{escape(context.service_source)}</code></p>\n"
    )


def _empty_notice(figures: Figures) -> str:
    return (
        '<section class="empty"><h2>暂无数据 · Nothing to report yet</h2>'
        f"<p>在 {escape(figures.period.describe())} 期间，对话库里还没有对话，工单库里也没有工单和评价。"
        "机器人开始接待用户后再生成报告即可。</p>"
        "<p>No conversations, tickets or ratings in this period yet. Check the period "
        "(<code>--from</code>/<code>--to</code>) and the stores (<code>--tracker-db</code>, "
        "<code>--service-db</code>, <code>--profile production</code>) if you expected some.</p></section>\n"
    )


def _report_body(figures: Figures, charts: dict[str, Optional[str]], context: PageContext) -> str:
    return "".join(
        [
            _verdict(figures),
            _kpis(figures),
            _section(
                "对话量 · Conversations and messages",
                [charts.get("activity"), charts.get("hours")],
                "",
                "def-conversations",
            ),
            _section(
                "独立解决率 · Containment", [charts.get("containment")], _containment_table(figures), "def-containment"
            ),
            _section(
                "转人工原因 · Escalations by reason",
                [charts.get("escalations")],
                _escalation_table(figures),
                "def-escalations",
            ),
            _section("用户不满 · Frustrated conversations", [], _frustration_table(figures), "def-frustration"),
            _section("人工接待 · Handled by agents", [], _agent_table(figures), "def-agents"),
            _section(
                "意图与未识别率 · Intents and NLU fallback",
                [charts.get("intents")],
                _intent_table(figures) + _nlu_links(context),
                "def-nlu",
            ),
            _section("防骗核实 · Fraud checks", [charts.get("fraud")], _fraud_table(figures), "def-fraud"),
            _section("用户评分 · Ratings", [charts.get("ratings")], _ratings_table(figures), "def-stores"),
            _section("工单 · Tickets", [charts.get("tickets")], _ticket_table(figures), "def-stores"),
            f'<p class="csv">同样的数字（CSV，Excel 可直接打开）· The same figures as CSV：'
            f'<a href="{escape(context.csv_href)}/">{escape(context.csv_href)}/</a></p>\n',
        ]
    )


def _verdict(figures: Figures) -> str:
    rate, promised = figures.containment_rate, figures.promised_containment
    if rate is None or promised is None:
        return ""
    share = knowledge.load("facts")["smart_service_share"]
    kept = rate >= promised
    words = "达到" if kept else "低于"
    english = "meets" if kept else "falls short of"
    return (
        f'<p class="verdict {"good" if kept else "bad"}">机器人独立解决了 {_percent(rate)} 的对话，'
        f"{words}文章承诺的「智能客服解决{escape(share)}常见问题」。"
        f"<br><small>The bot contained {_percent(rate)} of conversations: it {english} the promised "
        f"{escape(share)}.</small></p>\n"
    )


def _kpis(figures: Figures) -> str:
    cards = [
        (
            "独立解决率",
            "containment",
            _percent(figures.containment_rate),
            f"{figures.contained}/{figures.conversations} 个对话",
        ),
        ("对话数", "conversations", str(figures.conversations), f"{figures.messages} 条用户消息"),
        (
            "NLU 未识别率",
            "NLU fallback rate",
            _percent(figures.fallback_rate),
            f"{figures.fallback_messages}/{figures.classified_messages} 条消息",
        ),
        ("转人工", "escalations", str(figures.escalation_total), f"涉及 {figures.escalated_conversations} 个对话"),
        (
            "转人工前的对话时长（中位数）",
            "median time before escalation",
            _duration(figures.median_seconds_before_escalation),
            "",
        ),
        ("平均评分", "average rating", _score(figures.average_rating), f"{figures.rated} 条评价"),
    ]
    html = "".join(
        f'<div class="kpi"><div class="label">{escape(zh)}<br><small>{escape(en)}</small></div>'
        f'<div class="value">{escape(value)}</div><div class="note">{escape(note)}</div></div>'
        for zh, en, value, note in cards
    )
    return f'<div class="kpis">{html}</div>\n'


def _section(title: str, images: Iterable[Optional[str]], extra: str, note: str) -> str:
    pictures = "".join(f'<img alt="{escape(title)}" src="data:image/png;base64,{image}">' for image in images if image)
    if not pictures and not extra:
        extra = '<p class="none">本期没有数据 · no data in this period</p>'
    heading = f'<h2>{escape(title)} <a class="note-ref" href="#{note}">定义</a></h2>'
    return f"<section>{heading}{pictures}{extra}</section>\n"


def _containment_table(figures: Figures) -> str:
    promised = figures.promised_containment
    rows = [
        [
            labels.intent_label(row.topic),
            row.topic,
            row.conversations,
            row.contained,
            _flagged(_percent(row.rate), promised is not None and row.rate < promised),
        ]
        for row in figures.containment_by_topic
    ]
    return _table(["主题", "topic", "对话数", "独立解决", "独立解决率"], rows, raw_columns={4})


def _escalation_table(figures: Figures) -> str:
    rows = [
        [labels.reason_label(row.reason), row.reason, row.in_hours, row.off_hours, row.total]
        for row in figures.escalations
    ]
    rows.append(
        [
            "合计",
            "total",
            sum(r.in_hours for r in figures.escalations),
            sum(r.off_hours for r in figures.escalations),
            figures.escalation_total,
        ]
    )
    return _table(["原因", "reason", labels.in_hours_label(), labels.off_hours_label(), "合计"], rows)


def _frustration_table(figures: Figures) -> str:
    frustration = figures.frustration
    rows: list[list[Any]] = [
        ["不满的对话", "frustrated conversations", frustration.conversations],
        ["占全部对话", "share of conversations", _percent(figures.frustrated_share)],
        ["转到人工", "reached a person", frustration.reached],
        ["未转到人工", "did not reach a person", frustration.not_reached],
        ["到人工的轮数（中位数）", "median turns to a person", _turns(frustration.median_turns)],
        ["到人工的轮数（最多）", "max turns to a person", _turns(frustration.max_turns)],
    ]
    return _table(["指标", "metric", "数值"], rows)


def _agent_table(figures: Figures) -> str:
    handling = figures.agent_handling
    rows: list[list[Any]] = [
        ["人工接待的对话", "conversations an agent took over", handling.conversations],
        ["占转人工的对话", "share of escalated conversations", _percent(figures.agent_share_of_escalated)],
        ["客服发出的消息", "messages the agents sent", handling.messages],
        ["处理时长（中位数）", "median handling time", _duration(handling.median_seconds)],
        ["处理时长（最长）", "longest handling time", _duration(handling.max_seconds)],
    ]
    return _table(["指标", "metric", "数值"], rows)


def _intent_table(figures: Figures) -> str:
    rows = [[labels.intent_label(intent), intent, count] for intent, count in figures.intents]
    summary = (
        f"<p>NLU 未识别率 fallback rate：<b>{_percent(figures.fallback_rate)}</b>"
        f"（{figures.fallback_messages}/{figures.classified_messages}）</p>"
    )
    return summary + _table(["意图", "intent", "消息数"], rows)


def _fraud_table(figures: Figures) -> str:
    rows = [[labels.fraud_level_label(level), level, count] for level, count in figures.fraud_levels]
    return _table(["风险等级", "level", "次数"], rows)


def _ratings_table(figures: Figures) -> str:
    rows = [[f"{score}分", count] for score, count in figures.ratings]
    rows.append(["平均 average", _score(figures.average_rating)])
    return _table(["评分", "条数"], rows)


def _ticket_table(figures: Figures) -> str:
    rows = [
        [
            labels.ticket_kind_label(row.kind),
            labels.ticket_status_label(row.status),
            "优先" if row.priority else "普通",
            row.count,
        ]
        for row in figures.tickets
    ]
    return _table(["类型 type", "状态 state", "优先级 priority", "工单数"], rows)


def _nlu_links(context: PageContext) -> str:
    if not context.nlu_images:
        return '<p class="none">NLU 评估图（混淆矩阵、置信度分布）还没有生成：运行 <code>make eval</code>。</p>'
    links = " · ".join(f'<a href="{escape(href)}">{escape(label)}</a>' for label, href in context.nlu_images)
    return f"<p>离线评估 NLU evaluation（<code>make eval</code>）：{links}</p>"


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]], raw_columns: Set[int] = frozenset()) -> str:
    """A table of escaped cells; ``raw_columns`` hold markup we built ourselves."""
    head = "".join(f"<th>{escape(str(cell))}</th>" for cell in header)
    body = "".join(
        "<tr>"
        + "".join(f"<td>{cell if index in raw_columns else escape(str(cell))}</td>" for index, cell in enumerate(row))
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _flagged(text: str, below_promise: bool) -> str:
    """Markup for a raw table column: the text escaped, red when below the promise."""
    return f'<span class="below">{escape(text)}</span>' if below_promise else escape(text)


def _footnotes(context: PageContext) -> str:
    hours = labels.service_hours_text()
    notes = [
        (
            "def-conversations",
            "对话 Conversation：同一用户的一次会话（两次 session_started 之间），至少有一条用户消息；"
            "从第一条用户消息算起，按上海时间归到那一天和那个小时。消息 Message：用户发的消息。"
            "A conversation is one sender's session with at least one user message; it starts at its "
            "first user message (Shanghai time). Messages are user messages.",
        ),
        (
            "def-nlu",
            "NLU 未识别率：被分类为 nlu_fallback 的用户消息 ÷ 用户消息；转人工期间（handoff_ticket 已设置）"
            "发给客服的消息不计入意图统计。NLU fallback rate = messages classified nlu_fallback / messages, "
            "both leaving out messages relayed to an agent during a handoff.",
        ),
        (
            "def-containment",
            "独立解决 Contained：对话中没有转人工，并且这次对话期间（本次会话开始到该用户下一次会话开始）"
            "创建的工单没有仍处于「待处理」或「处理中」的。独立解决率 = 独立解决的对话 ÷ 对话。"
            "主题 = 对话中第一个表明来意的意图（问候、道别、感谢、肯定、否定、问是不是机器人、只发编号、"
            "没听懂除外），没有时取第一个意图。红色：低于文章承诺。"
            "Contained = no escalation and no ticket created during the conversation still open or in "
            "progress; topic = the first intent naming a subject.",
        ),
        (
            "def-escalations",
            "转人工 Escalation：utter_escalate（用户要求转人工）；action_ask_which_topic 之后的 utter_default"
            "（用户选「都不是」单独统计，否则为两次没听懂）；action_default_fallback（对话策略低置信度）；"
            f"对话期间创建的优先投诉工单。发生在 {hours}（上海时间）以外的计为非服务时间。"
            "Each escalation event counts; off hours = outside the service hours of facts.yml.",
        ),
        (
            "def-time",
            "转人工前的对话时长：从第一条用户消息到第一次转人工，取所有转人工对话的中位数。"
            "Median time from a conversation's first user message to its first escalation.",
        ),
        (
            "def-frustration",
            "用户不满 Frustrated：NLU 在用户消息上标出 frustration 实体（辱骂、威胁、不耐烦、无奈等）即为不满的消息；"
            "对话中有任何一条用户消息不满，即为不满的对话。到人工的轮数：从第一条不满的消息起，到其后第一次转人工"
            "（上面任何一种转人工）为止的用户消息数，含转人工前的最后一条；第一条不满的消息就直接转人工 = 1 轮，"
            "发这条消息时已经在人工客服那里 = 0 轮。之后没有转人工的计为未转到人工。"
            "A conversation is frustrated when the NLU tagged any of its user messages with a frustration "
            "entity; turns to a person = user messages from the first frustrated one up to the first "
            "escalation after it (1 = escalated at once; 0 = already with an agent).",
        ),
        (
            "def-agents",
            "人工接待：客服在工作台（/agent/）接入的对话（机器人以客服名义发出的「已接入」消息）。"
            "处理时长：从接入到客服结束对话、交还机器人（或用户说「回到机器人」）为止，只计已结束的对话。"
            "Agent-handled = an agent joined the conversation at the desk; handling time = from joining to "
            "handing back to the bot (or the user taking it back); only conversations handed back count.",
        ),
        (
            "def-fraud",
            "防骗核实：action_fraud_check 的次数，按其答复中的风险等级（cases.yml fraud.level_labels）。"
            "Fraud checks by the risk level named in the answer.",
        ),
        (
            "def-stores",
            "评分和工单：按创建时间计入统计期间；工单状态为生成报告时的状态。"
            "Ratings and tickets count by creation time; ticket states are as of now.",
        ),
        (
            "def-period",
            "统计期间：--from/--to 为上海日期（含首尾）。"
            "对话类数字按对话开始时间，消息、防骗核实、工单、评价按各自时间。"
            "Period: Shanghai dates, inclusive; conversation figures by start, the rest by their own time.",
        ),
    ]
    items = "".join(f'<li id="{key}">{escape(text)}</li>' for key, text in notes)
    return f"<footer><h2>定义 · Definitions</h2><ol>{items}</ol></footer>\n"


def _percent(value: Optional[float]) -> str:
    return "—" if value is None else f"{value:.1%}"


def _score(value: Optional[float]) -> str:
    return "—" if value is None else f"{value:.2f}"


def _turns(value: Optional[float]) -> str:
    return "—" if value is None else f"{value:g} 轮"


def _duration(seconds: Optional[float]) -> str:
    if seconds is None:
        return "—"
    minutes, rest = divmod(int(round(seconds)), 60)
    return f"{minutes}分{rest:02d}秒" if minutes else f"{rest}秒"


STYLE = """
body{font-family:"PingFang SC","Microsoft YaHei","WenQuanYi Micro Hei","Noto Sans CJK SC",sans-serif;
 max-width:1000px;margin:2em auto;padding:0 1em;color:#222;line-height:1.5}
h1 small,h2 small{font-weight:normal;color:#666;font-size:.6em}
.meta{color:#555;font-size:.9em} code{font-size:.85em;background:#f3f3f3;padding:0 .2em}
.verdict{font-size:1.15em;padding:.6em 1em;border-radius:6px}
.verdict.good{background:#e8f5e9}.verdict.bad{background:#fdecea}
.kpis{display:flex;flex-wrap:wrap;gap:.8em;margin:1em 0}
.kpi{flex:1 1 140px;border:1px solid #ddd;border-radius:6px;padding:.6em}
.kpi .label{font-size:.85em;color:#555}.kpi .value{font-size:1.6em;font-weight:bold}
.kpi .note{font-size:.8em;color:#777}
section{margin:2em 0} img{max-width:100%;display:block;margin:.5em 0}
table{border-collapse:collapse;margin:.5em 0;font-size:.9em}
th,td{border:1px solid #ddd;padding:.25em .6em;text-align:left}
th{background:#f5f7fa} .below{color:#c62828;font-weight:bold}
.none{color:#777} .note-ref{font-size:.6em;font-weight:normal}
.empty{background:#fff8e1;padding:1em 1.5em;border-radius:6px}
footer{border-top:1px solid #ddd;margin-top:3em;font-size:.85em;color:#444}
"""
