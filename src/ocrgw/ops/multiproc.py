"""prometheus_client's multi-process mode, switched on by the CLI before anything imports prometheus_client:
every process of one deployment (the API and its local workers, or a Celery worker's children) writes its
samples to files in one directory, and whichever process serves /metrics adds them up. The library reads
the directory's variable when it is imported, hence a module of its own without that import."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ENV = "PROMETHEUS_MULTIPROC_DIR"


def prepare(default_dir: Path) -> Path:
    """Use ``$PROMETHEUS_MULTIPROC_DIR`` if the operator set it, else ``default_dir``; empty it of an earlier
    run's samples (counters would otherwise carry over, and files of dead processes pile up) and export it
    so processes spawned or forked later inherit it."""
    if "prometheus_client" in sys.modules and ENV not in os.environ:
        raise RuntimeError("multiproc.prepare() must run before prometheus_client is imported")
    directory = Path(os.environ.get(ENV) or default_dir)
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink(missing_ok=True)
    os.environ[ENV] = str(directory)
    return directory


def enabled() -> bool:
    return bool(os.environ.get(ENV))
