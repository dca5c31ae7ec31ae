"""The tempo suggestion's background worker."""

import subprocess
import sys
import time
from pathlib import Path

import pytest

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


def test_a_worker_that_died_is_replaced_at_the_next_request(tmp_path):
    import os
    import signal

    from conftest import clicks, write_audio

    from haverford.core import tempo

    path = str(write_audio(tmp_path / "kick.wav", clicks(120, seconds=6.0)))
    assert tempo.warm().result(timeout=120) is not None
    for pid in list(tempo._tempo_pool._processes):
        os.kill(pid, signal.SIGKILL)  # as the kernel's out-of-memory killer would
    first = tempo.tempo_job(path, offset=0.0, duration=5.0)
    try:
        first.result(timeout=60)
        lost = False
    except tempo.WorkerLost:
        lost = True
    again = tempo.tempo_job(path, offset=0.0, duration=5.0)
    assert (again is not first) == lost  # a lost job is asked again; an answered one is kept
    assert again.result(timeout=120) == pytest.approx(120, rel=0.05)


CTRL_C = """
import signal, sys, time
# as a shell gives `haverford serve`: a test runner's worker (xdist's) may ignore SIGINT, and a
# child inherits an ignored signal
signal.signal(signal.SIGINT, signal.default_int_handler)
from haverford.core import tempo
assert tempo.warm().result(timeout=120) is not None
time.sleep(1)  # the worker is back waiting on its queue, where the signal finds it
print("ready", flush=True)
try:
    time.sleep(60)
except KeyboardInterrupt:  # as `haverford serve` stops on Ctrl-C: the pool shuts down at exit
    sys.exit(0)
"""


def test_ctrl_c_stops_the_worker_without_a_traceback():
    """Found by an outside check: Ctrl-C on `haverford serve` printed the worker's 20-line
    KeyboardInterrupt traceback (the terminal sends SIGINT to the whole process group)."""
    import os
    import signal

    proc = subprocess.Popen([sys.executable, "-c", CTRL_C], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0 and "KeyboardInterrupt" not in err, err
