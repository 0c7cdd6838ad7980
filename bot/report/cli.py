"""Write the service-insight report (``make report``, ``python -m bot.report``).

Reads the tracker store and the ticket store, writes ``<out>/triage-report.html``
and the figures as CSV in ``<out>/triage-report-data/``. An empty store or
period gives a page saying there is nothing yet (exit 0); an unreadable store
or a missing Chinese font exits 1 with the reason.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Optional

from bot import clock, knowledge
from bot.report import charts, labels
from bot.report.conversations import conversations_from
from bot.report.csv_files import DATA_DIR_NAME, write_csv_files
from bot.report.figures import Figures, compute_figures
from bot.report.html import PageContext, render_page
from bot.report.period import Period
from bot.report.reading import PAGE_SIZE, StoreUnavailable, open_store, read_events, read_ratings, read_tickets
from bot.report.sources import printable_url, service_database_url, sqlite_file, tracker_store_url

REPORT_NAME = "triage-report.html"
NLU_IMAGES = (
    ("混淆矩阵 confusion matrix", "confusion_matrix.png"),
    ("置信度分布 confidence histogram", "confidence_histogram.png"),
)


@dataclass(frozen=True)
class Written:
    page: Path
    csv_dir: Path
    figures: Figures
    context: PageContext


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = _parser().parse_args(argv)
    try:
        period = Period(args.date_from, args.date_to)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        charts.use_cjk_font()  # before reading: a long read must not end in boxes
        written = write_report(
            period,
            args.out,
            tracker_store_url(args.tracker_db, args.profile),
            service_database_url(args.service_db, args.profile),
            args.nlu_dir,
            args.page_size,
        )
    except (StoreUnavailable, charts.MissingCJKFont) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    _tell(written)
    return 0


def write_report(
    period: Period,
    out_dir: Path,
    tracker_url: str,
    service_url: str,
    nlu_dir: Path = Path("reports/nlu/heldout"),
    page_size: int = PAGE_SIZE,
) -> Written:
    """Read both stores and write the page and the CSV files."""
    figures = read_figures(period, tracker_url, service_url, page_size)
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_dir = write_csv_files(figures, out_dir)
    context = PageContext(
        generated_at=clock.now(),
        tracker_source=_described_source(tracker_url),
        service_source=_described_source(service_url),
        csv_href=DATA_DIR_NAME,
        nlu_images=nlu_image_links(nlu_dir, out_dir),
    )
    drawn = {} if figures.is_empty else charts.all_charts(figures)
    page = out_dir / REPORT_NAME
    page.write_text(render_page(figures, drawn, context), encoding="utf-8")
    return Written(page, csv_dir, figures, context)


def read_figures(period: Period, tracker_url: str, service_url: str, page_size: int = PAGE_SIZE) -> Figures:
    service = open_store(service_url)
    tickets = read_tickets(service, period, page_size)
    ratings = read_ratings(service, period, page_size)
    fraud_labels = labels.fraud_level_labels()
    events = read_events(open_store(tracker_url), period, page_size)
    conversations = conversations_from(events, tickets, fraud_labels)
    return compute_figures(
        conversations,
        tickets,
        ratings,
        period,
        fraud_levels=list(fraud_labels),
        ticket_kinds=list(labels.ticket_kind_labels()),
        promised_share=knowledge.load("facts")["smart_service_share"],
    )


def nlu_image_links(nlu_dir: Path, out_dir: Path) -> list[tuple[str, str]]:
    """``make eval``'s images that exist, as links relative to the page."""
    return [
        (label, Path(os.path.relpath(nlu_dir / name, out_dir)).as_posix())
        for label, name in NLU_IMAGES
        if (nlu_dir / name).exists()
    ]


def _described_source(url: str) -> str:
    path = sqlite_file(url)
    if path is not None and not path.exists():
        return f"{path}（尚不存在 does not exist yet）"
    return printable_url(url)


def _tell(written: Written) -> None:
    figures = written.figures
    if figures.is_empty:
        print(
            f"Nothing to report yet: no conversations, tickets or ratings in {figures.period.describe()}.\n"
            f"  tracker store: {written.context.tracker_source}\n  ticket store: {written.context.service_source}"
        )
    else:
        rate = figures.containment_rate
        print(
            f"{figures.conversations} conversations, {figures.messages} messages; containment "
            f"{'n/a' if rate is None else f'{rate:.1%}'}, {figures.escalation_total} escalations, "
            f"{figures.ticket_total} tickets, {figures.rated} ratings."
        )
    print(f"Wrote {written.page} and {written.csv_dir}/")


def _shanghai_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot.report", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--from",
        dest="date_from",
        type=_shanghai_date,
        metavar="YYYY-MM-DD",
        help="first day (Shanghai date, inclusive)",
    )
    parser.add_argument(
        "--to", dest="date_to", type=_shanghai_date, metavar="YYYY-MM-DD", help="last day (Shanghai date, inclusive)"
    )
    parser.add_argument("--out", type=Path, default=Path("reports"), help="output folder (default: reports)")
    parser.add_argument(
        "--profile",
        choices=("embedded", "production"),
        default="embedded",
        help="which endpoints file gives the default stores (default: embedded)",
    )
    parser.add_argument(
        "--tracker-db",
        metavar="URL_OR_PATH",
        help="tracker store: SQLAlchemy URL or SQLite file (default: the profile's endpoints file)",
    )
    parser.add_argument(
        "--service-db", metavar="URL", help="tickets and ratings (default: DATABASE_URL, or the profile's database)"
    )
    parser.add_argument(
        "--nlu-dir",
        type=Path,
        default=Path("reports/nlu/heldout"),
        help="where make eval wrote the held-out set's images (default: reports/nlu/heldout)",
    )
    parser.add_argument("--page-size", type=int, default=PAGE_SIZE, help=argparse.SUPPRESS)
    return parser
