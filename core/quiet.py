"""TensorFlow imported without its native start-up messages on stderr.

TensorFlow's C++ code logs to file descriptor 2 before absl's logging is initialised ("All log
messages before absl::InitializeLog() ...", oneDNN and CUDA notices), and
``TF_CPP_MIN_LOG_LEVEL`` cannot stop those: the only way is to point descriptor 2 elsewhere while
``tensorflow`` and ``keras`` are first imported. Level 3 then keeps later native messages (a
failed ``cuInit`` on a machine without a GPU, at the first operation) off it too; Python's own
errors still reach the caller as exceptions. Every module that imports TensorFlow calls
``import_tensorflow_quietly()`` first, so a command or page prints one line on a user error.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator

_fd_lock = threading.RLock()  # descriptor 2 is process-wide: one redirection at a time


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Descriptor 2 points at ``os.devnull`` inside the block (re-entrant, one thread at a time)."""
    with _fd_lock:
        sys.stderr.flush()
        saved = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 2)
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(devnull)


def import_tensorflow_quietly() -> None:
    """Import ``tensorflow`` and ``keras`` once, with native stderr silenced (see the module)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "keras" in sys.modules and "tensorflow" in sys.modules:
        return
    with native_stderr_silenced():
        import keras  # noqa: F401
        import tensorflow  # noqa: F401
