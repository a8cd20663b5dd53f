"""Keep freed CPU memory in the process, so large tensors stop paying for fresh pages.

glibc serves every allocation above 32 MB with its own ``mmap`` and gives it back with ``munmap`` when
freed. RAFT at 720p allocates such blocks dozens of times per frame pair (the 830 MB correlation
volume, 60-240 MB encoder activations), so each one is page-faulted in and zero-filled again by the
kernel: on the 2-core VM we measured, that was over a quarter of a 720p demo's time (19.1 s -> 13.7 s
for 3 frames). Telling glibc to serve large blocks from its heap and not to trim it lets them be reused
instead. The arithmetic is untouched (same kernels, same inputs, bit-identical outputs); the process
simply keeps its peak memory until it exits, which for a command-line run is what it needs anyway.

The command-line scripts call :func:`reuse_freed_cpu_memory` once at start. Set the environment
variable ``VIDEO_FORENSICS_DEFAULT_MALLOC=1`` to keep glibc's defaults. Other C libraries (macOS,
musl) are left alone.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import sys

log = logging.getLogger(__name__)

OPT_OUT_ENV = "VIDEO_FORENSICS_DEFAULT_MALLOC"

# mallopt parameters, from glibc's <malloc.h>.
M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4
# mallopt takes an int: keep up to 2 GiB free at the top of the heap before giving it back.
TRIM_THRESHOLD_BYTES = 2**31 - 1

_applied = False


def _glibc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    name = ctypes.util.find_library("c") or "libc.so.6"
    try:
        libc = ctypes.CDLL(name)
        # Only glibc has gnu_get_libc_version (musl does not); both are looked up to fail here, not later.
        getattr(libc, "gnu_get_libc_version")  # noqa: B009
        getattr(libc, "mallopt")  # noqa: B009
    except (OSError, AttributeError):
        return None
    return libc


def reuse_freed_cpu_memory() -> bool:
    """Make glibc keep and reuse freed large blocks; returns whether the setting is in effect.

    Idempotent. Does nothing (returns False) off glibc or when ``VIDEO_FORENSICS_DEFAULT_MALLOC`` is set
    to a non-empty value other than ``0``.
    """
    global _applied
    if _applied:
        return True
    if os.environ.get(OPT_OUT_ENV, "0") not in ("", "0"):
        log.debug("%s is set: keeping glibc's allocator defaults", OPT_OUT_ENV)
        return False
    libc = _glibc()
    if libc is None:
        return False
    # mallopt returns 1 on success, 0 on error.
    if libc.mallopt(M_MMAP_MAX, 0) != 1 or libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES) != 1:
        log.debug("mallopt refused the settings: keeping glibc's allocator defaults")
        return False
    _applied = True
    return True
