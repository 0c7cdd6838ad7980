"""``python -m bot.report`` end to end: the page, its charts, the CSV files, the empty case."""
from __future__ import annotations

import base64
import csv
import io
import os
import re
import subprocess
import sys
import warnings
from datetime import date
from pathlib import Path

import matplotlib.pyplot as plt
from PIL import Image

from bot.report import charts
from bot.report.conversations import Conversation, UserMessage
from bot.report.figures import compute_figures
from bot.report.html import PageContext, render_page
from bot.report.period import Period
from bot.settings import ROOT
from tests.bot.report.scenario import at

EMBEDDED_PNG = re.compile(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"')


def run_report(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, "-m", "bot.report", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def read_csv(path: Path) -> list:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle))


def test_report_is_one_self_contained_page_with_chinese_charts(sqlite_stores, tmp_path):
    out, nlu = tmp_path / "out", tmp_path / "nlu"
    nlu.mkdir()
    (nlu / "confusion_matrix.png").write_bytes(b"png")
    (nlu / "confidence_histogram.png").write_bytes(b"png")

    done = run_report("--tracker-db", sqlite_stores.tracker_url, "--service-db", sqlite_stores.service_url,
                      "--out", str(out), "--nlu-dir", str(nlu))

    assert done.returncode == 0, done.stderr
    page = (out / "triage-report.html").read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page, re.IGNORECASE)
    assert "<link" not in page and "<script" not in page
    for label in ("独立解决率", "用户要求转人工", "选了「都不是」", "高风险", "交易纠纷", "45.5%"):
        assert label in page
    assert 'href="../nlu/confusion_matrix.png"' in page and 'href="../nlu/confidence_histogram.png"' in page
    images = EMBEDDED_PNG.findall(page)
    assert len(images) == 8
    for image in images:
        assert Image.open(io.BytesIO(base64.b64decode(image))).format == "PNG"
    summary = dict(read_csv(out / "triage-report-data" / "summary.csv")[1:])
    assert summary["conversations"] == "11"
    assert (summary["containment_rate"], summary["average_rating"]) == ("0.4545", "3.6667")
    assert read_csv(out / "triage-report-data" / "escalations_by_reason.csv")[1] == [
        "asked_for_human", "用户要求转人工", "1", "1", "2"]


def test_date_options_limit_the_page(sqlite_stores, tmp_path):
    done = run_report("--tracker-db", sqlite_stores.tracker_url, "--service-db", sqlite_stores.service_url,
                      "--out", str(tmp_path), "--from", "2026-11-24", "--to", "2026-11-24")
    assert done.returncode == 0, done.stderr
    assert "1 conversations" in done.stdout
    assert read_csv(tmp_path / "triage-report-data" / "daily.csv")[1:] == [["2026-11-24", "1", "1"]]


def test_empty_store_gives_a_page_saying_so(tmp_path):
    tracker = tmp_path / "no-tracker.db"
    done = run_report("--tracker-db", str(tracker), "--service-db", f"sqlite:///{tmp_path / 'no-service.db'}",
                      "--out", str(tmp_path / "out"))

    assert done.returncode == 0, done.stderr
    assert "Nothing to report yet" in done.stdout and "does not exist yet" in done.stdout
    page = (tmp_path / "out" / "triage-report.html").read_text(encoding="utf-8")
    assert "暂无数据" in page and "Nothing to report yet" in page
    assert not EMBEDDED_PNG.search(page)
    assert not tracker.exists()  # reading never creates a store


def test_unreachable_store_is_an_error_naming_it(tmp_path):
    done = run_report("--tracker-db", "postgresql://nobody:secret@127.0.0.1:1/none",
                      "--service-db", f"sqlite:///{tmp_path / 's.db'}", "--out", str(tmp_path))
    assert done.returncode == 1
    assert "cannot read postgresql://nobody:***@127.0.0.1:1/none" in done.stderr
    assert "secret" not in done.stderr


def test_stored_text_is_escaped_on_the_page():
    hostile = "<script>alert(1)</script>"
    conversation = Conversation("x", at(10), (UserMessage(at(10), hostile, relayed=False),))
    figures = compute_figures([conversation], [], [], Period(), ["high"], ["complaint"], "约70%")
    context = PageContext(at(12), "sqlite:///t.db", "sqlite:///s.db", "triage-report-data")
    page = render_page(figures, {}, context)
    assert hostile not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_chinese_labels_have_glyphs_in_the_chart_font(sqlite_stores):
    charts.use_cjk_font()
    figure, axes = plt.subplots()
    axes.set_title("暂未发现明显风险 转人工 都不是")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns "Glyph ... missing from current font"
        figure.canvas.draw()
    plt.close(figure)


def test_daily_rows_cover_the_whole_period(tmp_path):
    figures = compute_figures([], [], [], Period(date(2026, 11, 1), date(2026, 11, 3)), [], [])
    assert [row.day.day for row in figures.daily] == [1, 2, 3]
    assert figures.is_empty
