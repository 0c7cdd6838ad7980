"""``python -m bot.report``: see bot/report/cli.py."""

from bot.report.cli import main

raise SystemExit(main())
