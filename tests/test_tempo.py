"""The tempo suggestion's background worker."""

import subprocess
import sys
import time
from pathlib import Path

PARENT = """
import os
from haverford.core import tempo
assert tempo.warm().result(timeout=120) is not None  # the worker is up and has answered
print(*tempo._tempo_pool._processes, flush=True)
os._exit(0)  # as a killed server or a test worker leaves: no clean shutdown of the pool
"""


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie that nobody reaped has ended)."""
    status = Path(f"/proc/{pid}/status")
    try:
        return "\nState:\tZ" not in status.read_text()
    except FileNotFoundError:
        return False


def test_the_worker_ends_when_its_parent_dies_without_shutting_it_down():
    # without the watch, the worker would hold the pipes open: the timeout ends the wait
    proc = subprocess.run([sys.executable, "-c", PARENT], capture_output=True, text=True, timeout=90)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (worker,) = [int(pid) for pid in proc.stdout.split()]
    deadline = time.monotonic() + 15
    while alive(worker) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not alive(worker), f"tempo worker {worker} outlived its parent"
