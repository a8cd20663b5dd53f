"""Exceptions for problems caused by the user's input.

Anything a researcher can fix (a missing file, a file that is not a video, a checkpoint for another
architecture) raises a ``ToolkitError``; the scripts (``core.cli.run_cli``) turn it into one line on stderr
and a non-zero exit code instead of a traceback. Programming errors still raise normally.
"""


class ToolkitError(Exception):
    """An error the user can act on; its message is shown alone, on one line."""


class InputError(ToolkitError):
    """A video, audio track or dataset folder that cannot be used."""


class CheckpointError(ToolkitError):
    """A checkpoint that is missing or does not fit the model it is loaded into."""


class SettingsError(ToolkitError, ValueError):
    """A setting that cannot work (e.g. a negative count): a ``ValueError`` for code that builds the objects, one
    ``error:`` line for a script."""
