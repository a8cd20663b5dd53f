"""What became of one video in a batch run: one status type for every table, summary, plot and report.

A status has a ``kind`` and a ``reason``:

==========  =========================================  ======================================  =========
kind        when                                       written in a status column as           has score
==========  =========================================  ======================================  =========
ok          scored                                     ``ok``                                  yes
truncated   scored, but the file was cut short: the    ``truncated: decoded N of M frames``    yes
            score covers the frames that decoded
skipped     an input problem (an ``InputError``: a     the reason alone, e.g. ``file not       no
            missing file, no audio track, no face...)  found``
failed      anything else (a decoder or model error)   ``failed: ValueError: message``         no
==========  =========================================  ======================================  =========

A truncated file counts as scored everywhere: it is not retried (``--retry_failed``, the merge of parts), it is in
the metrics, the AUC, the ROC plot, the robustness table and the calibration inputs, and it is reported as
truncated. :func:`Status.parse` reads back any status column these scripts ever wrote (the text is unchanged),
``str(status)`` writes it.

Summaries list the videos without a score under ``skipped``, each as :func:`skipped_record` gives it. For users:
docs/score.md, "Statuses".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from core.errors import InputError

OK, TRUNCATED, SKIPPED, FAILED = "ok", "truncated", "skipped", "failed"
KINDS = (OK, TRUNCATED, SKIPPED, FAILED)
_SCORED = (OK, TRUNCATED)
_PREFIXED = (TRUNCATED, FAILED)  # kinds whose text is "<kind>: <reason>"; a skip's text is its reason alone


@dataclass(frozen=True)
class Status:
    """``kind`` (one of :data:`KINDS`) and ``reason`` (empty for ``ok``); see the module docstring."""

    kind: str = OK
    reason: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown status kind {self.kind!r}; known: {', '.join(KINDS)}")

    @classmethod
    def parse(cls, text: str) -> Status:
        """The status a status column's ``text`` says; ``str(Status.parse(text)) == text`` for any text."""
        if text == OK:
            return cls()
        for kind in _PREFIXED:
            if text == kind:
                return cls(kind)
            if text.startswith(f"{kind}: "):
                return cls(kind, text[len(kind) + 2 :])
        return cls(SKIPPED, text)

    @classmethod
    def from_exception(cls, exc: BaseException) -> Status:
        """An ``InputError`` is a skip (its message is the reason); anything else a failure naming its class."""
        if isinstance(exc, InputError):
            return cls(SKIPPED, str(exc).replace("\n", " "))
        return cls(FAILED, f"{exc.__class__.__name__}: {exc}".replace("\n", " "))

    @classmethod
    def from_warnings(cls, warnings: Iterable[str]) -> Status:
        """``truncated`` (the first truncation warning of an analysis, e.g. ``core.media.integrity``'s), else ``ok``."""
        return next((status for status in map(cls.parse, warnings) if status.kind == TRUNCATED), cls())

    def has_score(self) -> bool:
        """Whether the video has a score that counts: ``ok`` and ``truncated``."""
        return self.kind in _SCORED

    def __str__(self) -> str:
        if self.kind == OK:
            return OK
        if self.kind in _PREFIXED:
            return f"{self.kind}: {self.reason}" if self.reason else self.kind
        return self.reason


def has_score(text: str) -> bool:
    """Whether a status column's ``text`` says the video has a score (:meth:`Status.has_score`)."""
    return Status.parse(text).has_score()


def skipped_record(video: str, label: Any, reason: str | Status) -> dict[str, Any]:
    """One entry of a summary's ``skipped`` list: ``{"video", "label", "reason"}`` (label None when unknown)."""
    return {"video": str(video), "label": label, "reason": str(reason)}
