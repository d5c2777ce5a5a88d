"""The package's errors about what users give it.

The command line turns an :class:`EngageError` into its message and exit status 2; anything else is a bug
and keeps its traceback. Each subclass is also a :class:`ValueError`, as the errors it replaces were.
"""

from __future__ import annotations


class EngageError(Exception):
    """A problem with the input, the parameters or the environment that the user can fix."""


class DataError(EngageError, ValueError):
    """Data that cannot be used as given: the message names the file or table, the column and the rows."""


class ConfigError(EngageError, ValueError):
    """A parameter, configuration file or playbook that is not valid: the message names the setting."""


class InsufficientData(EngageError, ValueError):
    """Too little data to compute a result (no churner, one answer, too few dates): reports say so in words
    and publish the rest."""
