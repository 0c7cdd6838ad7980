"""Start the bot's servers together and keep them up (``make run``, ``make cluster``, tests, benchmarks).

- programs.py: what runs (action server, Rasa instances, widget page, gateway) for a profile and ports;
- supervisor.py: those programs under supervisord, restarted when they die;
- gateway.py: nginx in front of the instances in the cluster;
- servers.py: :class:`BotServers`, the same set-up on private ports for tests and benchmarks;
- cli.py: ``python -m bot.launcher``, in the foreground until Ctrl-C or SIGTERM.
"""

from bot.launcher.programs import VENV_BIN
from bot.launcher.servers import BotServers

__all__ = ["VENV_BIN", "BotServers"]
