"""The exception root of Haverford: every user-facing failure is a ``HaverfordError``."""


class HaverfordError(Exception):
    """A failure caused by the user's input or environment, reported as one line, no traceback."""


class AudioError(HaverfordError):
    """An audio file cannot be used: unreadable, corrupt, empty, too short, silent or non-finite."""


class NotFoundError(HaverfordError):
    """A track, segment, question or model that was asked for does not exist."""
