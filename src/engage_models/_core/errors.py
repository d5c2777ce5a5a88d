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


class MachineError(EngageError):
    """The machine, not the data, stopped the run: the disk full or read-only, an input/output error. The run stops
    (exit status 1): a stage that failed for it would otherwise be published as "not computed" over the last good
    reports. (Memory is not among them: a stage that runs out of it is recorded and the others are published.)"""

    exit_code = 1


#: ``errno`` values and the words an error's text carries for them (DuckDB's IOException is not an OSError).
_MACHINE = {
    "ENOSPC": ("No space left on device", "the disk is full"),
    "EDQUOT": ("Disk quota exceeded", "the disk quota is used up"),
    "EROFS": ("Read-only file system", "the disk is read-only"),
    "EIO": ("Input/output error", "an input/output error of the disk"),
}


def machine_trouble(exc: BaseException) -> str | None:
    """What the machine ran out of or into, if ``exc`` (or an error it was raised from) is such an error, in
    words; None for anything else."""
    import errno

    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        for name, (said, words) in _MACHINE.items():
            number = getattr(errno, name, None)
            if (isinstance(exc, OSError) and number is not None and exc.errno == number) or said in str(exc)[:2000]:
                return words
        exc = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
    return None
