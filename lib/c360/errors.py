"""Errors that c360 reports to a user as a message, not a traceback.

Every error a user can cause (bad config, bad input, a missing engine) derives from `C360Error`; the CLI
prints its message and exits non-zero. Anything else is a bug and keeps its traceback.
"""


class C360Error(Exception):
    """Base for user-facing errors: the message must say what, where and how to fix it."""


class ConfigError(C360Error):
    """The configuration file is missing, unreadable or invalid; the message names the file and key."""


class EngineError(C360Error):
    """The requested Delta engine cannot be used in this Spark session."""


class TableNotFoundError(C360Error):
    """A Delta table that a stage needs does not exist yet."""
