"""Exceptions for problems caused by the user's input, and the CLI wrapper that reports them.

Anything a researcher can fix (a missing file, a file that is not a video, a checkpoint for another
architecture) raises a ``ToolkitError``; scripts turn it into one line on stderr and a non-zero exit
code instead of a traceback. Programming errors still raise normally.
"""

from __future__ import annotations

import logging
import sys
from typing import Callable, Sequence

from core.memory import reuse_freed_cpu_memory


class ToolkitError(Exception):
    """An error the user can act on; its message is shown alone, on one line."""


class InputError(ToolkitError):
    """A video, audio track or dataset folder that cannot be used."""


class CheckpointError(ToolkitError):
    """A checkpoint that is missing or does not fit the model it is loaded into."""


def run_cli(main: Callable[[object], int | None], parser, argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` with ``parser``, call ``main(args)`` and map user errors to exit codes.

    Also sets up the process: logging, and glibc's handling of large freed blocks (``core.memory``).
    Returns the exit code: ``main``'s return value (``None`` means 0), 1 for a ``ToolkitError``
    (printed as ``error: <message>`` on stderr), 130 when interrupted.
    """
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    reuse_freed_cpu_memory()  # large CPU tensors reuse memory instead of fresh pages (see core.memory)
    try:
        code = main(args)
    except ToolkitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    return 0 if code is None else int(code)
