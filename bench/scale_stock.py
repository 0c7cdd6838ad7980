"""The stock configuration of the comparison, and training measured the same way
for ours and for it.

The stock bot (bench/stock/): the pipeline and policies `rasa init` writes,
trained on our data and domain, with Rasa's own REST channel, Rasa's SQL tracker
store on SQLite and the in-memory lock store; our NLG and action server. Its
model is trained into bench/.cache/ and reused while data/, domain.yml,
bench/stock/config.yml and the Rasa version are unchanged (--retrain-stock
trains it again, to measure its training time).

    stock = stock_model()
    with stock_servers(Path(stock["model"]), log_dir) as (servers, startup):
        ...
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, Iterator, List

from bench.mix import SERVER_ENV
from bench.scale_machine import loadavg, log, tree_rss
from bench.scale_servers import running
from bot.launcher import VENV_BIN, BotServers
from bot.settings import ROOT

STOCK = ROOT / "bench" / "stock"
CACHE = ROOT / "bench" / ".cache"
STOCK_RASA_PORT, STOCK_ACTIONS_PORT = 5815, 5865


# --------------------------------------------------------------------------- training

def timed_training(command: List[str], log_file: Path) -> Dict[str, Any]:
    """Run a `rasa train`, sampling the peak RSS of its process tree every 0.2 s."""
    env = {**os.environ, **SERVER_ENV, "PYTHONPATH": str(ROOT)}
    log_file.parent.mkdir(parents=True, exist_ok=True)
    peak = 0
    with log_file.open("wb") as output:
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
        while process.poll() is None:
            peak = max(peak, tree_rss(process.pid))
            time.sleep(0.2)
        seconds = time.perf_counter() - started
    if process.returncode:
        raise RuntimeError(f"{' '.join(command)} failed ({process.returncode}); see {log_file}")
    return {"seconds": round(seconds, 1), "peak_rss_mb": round(peak / 2**20)}


def measure_training() -> Dict[str, Any]:
    """`make train`'s training, forced and into a temporary directory (models/ untouched)."""
    before = loadavg()
    with tempfile.TemporaryDirectory(prefix="scale-train-") as out:
        log("training config.yml (rasa train --force) ...")
        figures = timed_training([str(VENV_BIN / "rasa"), "train", "--force", "--fixed-model-name", "triage",
                                  "--out", out], CACHE / "logs" / "train.log")
        figures["model_mb"] = round((Path(out) / "triage.tar.gz").stat().st_size / 2**20, 1)
    figures["loadavg_before"] = before
    return figures


# --------------------------------------------------------------------------- the stock model

def stock_fingerprint() -> str:
    digest = hashlib.sha256()
    import rasa
    digest.update(rasa.__version__.encode())
    files = [ROOT / "domain.yml", STOCK / "config.yml", *sorted((ROOT / "data").rglob("*"))]
    for path in files:
        if path.is_file():
            digest.update(str(path.relative_to(ROOT)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def stock_model(retrain: bool = False) -> Dict[str, Any]:
    """The stock model in bench/.cache/, trained again only when data, domain or config changed."""
    model, meta_file = CACHE / "stock.tar.gz", CACHE / "stock.json"
    fingerprint = stock_fingerprint()
    meta = json.loads(meta_file.read_text()) if meta_file.exists() else {}
    if model.exists() and meta.get("fingerprint") == fingerprint and not retrain:
        log(f"stock model: reusing {model.relative_to(ROOT)}")
        return {**meta, "model": str(model), "reused": True}
    log("stock model: training bench/stock/config.yml on our data (a few minutes) ...")
    before = loadavg()
    meta = timed_training([str(VENV_BIN / "rasa"), "train", "--config", str(STOCK / "config.yml"),
                           "--out", str(CACHE), "--fixed-model-name", "stock", "--force"],
                          CACHE / "logs" / "stock-train.log")
    meta.update(fingerprint=fingerprint, model_mb=round(model.stat().st_size / 2**20, 1),
                trained_at=datetime.now(timezone.utc).isoformat(timespec="seconds"), loadavg_before=before,
                loadavg_after=loadavg())
    meta_file.write_text(json.dumps(meta, indent=2))
    return {**meta, "model": str(model), "reused": False}


# --------------------------------------------------------------------------- servers

class StockBotServers(BotServers):
    """The launcher's servers with Rasa's own REST channel (bench/stock/credentials.yml)."""

    def __init__(self, **settings: Any) -> None:
        super().__init__(credentials=STOCK / "credentials.yml", **settings)


@contextlib.contextmanager
def stock_servers(model: Path, log_dir: Path, rasa_port: int = STOCK_RASA_PORT,
                  actions_port: int = STOCK_ACTIONS_PORT) -> Iterator[Any]:
    """The stock bot on ``model``, on SQLite files of the run's own."""
    with tempfile.TemporaryDirectory(prefix="scale-stock-") as scratch:
        servers = StockBotServers(model=model, rasa_port=rasa_port, actions_port=actions_port,
                                  endpoints=STOCK / "endpoints.yml", tracker_db=Path(scratch) / "tracker.db",
                                  log_dir=log_dir,
                                  extra_env={**SERVER_ENV, "DATABASE_URL": f"sqlite:///{scratch}/service.db"})
        with running(servers, "stock configuration") as startup:
            yield servers, startup
