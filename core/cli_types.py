"""Argument types shared by the ``haverford`` subcommands: each rejects a bad value in one line."""

from __future__ import annotations

import argparse

from haverford.core.errors import HaverfordError


class UsageError(HaverfordError):
    """Bad command-line arguments."""


def labeller_name(text: str) -> str:
    """A labeller's name as given on the command line, trimmed: 1-100 characters.

    Raises
    ------
    UsageError
        When it is empty or longer than 100 characters.
    """
    text = text.strip()
    if not text or len(text) > 100:
        raise UsageError("labeller name must be 1-100 characters")
    return text


def positive_int(text: str) -> int:
    """A whole number ≥ 1."""
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def port(text: str) -> int:
    """A TCP port, 1-65535."""
    value = int(text)
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 1-65535, got {text}")
    return value


def threshold(text: str) -> float:
    """A decision threshold in [0, 1]."""
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"threshold must be between 0 and 1, got {text}")
    return value
