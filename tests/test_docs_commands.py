"""Every command in README.md and docs/*.md runs as written: each ``python`` line of a ```bash block is parsed by
its script's own argument parser, so a renamed or removed flag, or a choice that no longer exists, fails here.

Commands are parsed, not run (they name the user's videos and weights); ``torchrun`` lines are checked as the
script they launch. Shell variables defined in a block (``AV="..."``) are expanded as the shell would.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
NOT_PYTHON = ("pip", "bash", "chromium", "sed", "cd", "export", "ls", "cat", "apt-get", "git", "lint-imports", "ruff")


def bash_commands(page: Path) -> list[tuple[int, str]]:
    """(line number, command) of each command line in the page's ```bash blocks, continuations joined."""
    commands, inside, pending, start = [], False, "", 0
    for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
        if line.startswith("```"):
            inside = line.strip() == "```bash" if not inside else False
            continue
        if not inside:
            continue
        if not pending:
            start = number
        text = line.rstrip()
        if text.endswith("\\"):
            pending += text[:-1] + " "
            continue
        command = (pending + text).strip()
        try:
            shlex.split(command, comments=True)
        except ValueError:  # a quoted string goes on on the next line
            pending = command + " "
            continue
        pending = ""
        if command and not command.startswith("#"):
            commands.append((start, command))
    return commands


def split(command: str, variables: dict[str, str]) -> list[str]:
    words = shlex.split(command, comments=True)
    expanded = []
    for word in words:
        # $NAME expands to several words (unquoted in the docs); ${NAME} likewise.
        match = re.fullmatch(r"\$\{?(\w+)\}?", word)
        expanded.extend(shlex.split(variables[match.group(1)]) if match and match.group(1) in variables else [word])
    return expanded


def parser_of(words: list[str]) -> tuple[argparse.ArgumentParser, list[str]] | None:
    """The argument parser of the script or module a command runs, and its arguments; None: not ours."""
    if words and words[0] == "torchrun":  # its own options, then a script or -m module and the script's arguments
        script = next(i for i, word in enumerate(words) if word.endswith(".py") or word == "-m")
        words = ["python", *words[script:]]
    while words and re.fullmatch(r"\w+=\S*", words[0]):  # VAR=value before the command
        words = words[1:]
    if not words or words[0] not in ("python", "python3"):
        return None
    if words[1] == "-m":
        module, args = words[2], words[3:]
    else:
        module, args = words[1].removesuffix(".py").replace("/", "."), words[2:]
    if module == "pytest":
        return None
    # A package run with -m has its parser in __main__ or in the cli module __main__ calls.
    for name in (module, f"{module}.__main__", f"{module}.cli"):
        loaded = importlib.import_module(name)
        if hasattr(loaded, "get_args_parser"):
            return loaded.get_args_parser(), args
    raise AssertionError(f"{module} has no get_args_parser()")


CASES = [
    pytest.param(page, number, command, id=f"{page.name}:{number}")
    for page in PAGES
    for number, command in bash_commands(page)
]


def test_the_docs_have_commands():
    assert len(CASES) > 40 and {page.name for page, _, _ in (case.values for case in CASES)} >= {"README.md"}


@pytest.mark.parametrize("page, number, command", CASES)
def test_each_command_parses(page, number, command, monkeypatch):
    variables = {}
    for _, earlier in bash_commands(page):  # variables defined anywhere in the page (blocks are read top down)
        match = re.fullmatch(r"(\w+)=(.*)", earlier)
        if match:
            variables[match.group(1)] = shlex.split(match.group(2))[0] if match.group(2) else ""
    if re.fullmatch(r"\w+=.*", command) or command.split()[0] in NOT_PYTHON:
        return
    found = parser_of(split(command, variables))
    if found is None:
        return
    parser, args = found
    monkeypatch.setattr(parser, "exit", _raise)  # argparse reports an unknown flag by exiting: make it an error
    monkeypatch.chdir(ROOT)
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
    try:
        parser.parse_args(args)
    except _ParserExit as exc:
        pytest.fail(f"{page.name}:{number}: `{command}` does not parse: {exc}")


class _ParserExit(Exception):
    pass


def _raise(status: int = 0, message: str | None = None):
    raise _ParserExit(message or f"exit {status}")
