"""Write ``docs/cli.md`` from privacyctl's commands themselves (their help, options and
examples), so the manual's reference cannot drift from the program:

    python -m devtools.cli_docs          # rewrite docs/cli.md
    python -m devtools.cli_docs --check  # exit 1 if it is out of date
"""

import argparse
import sys
from typing import Any

from typer.main import get_command

from devtools.stack import ROOT
from privacyctl.core import EXIT_MEANINGS, Exit
from privacyctl.main import app

TARGET = ROOT / "docs" / "cli.md"
WIDTH = 100

INTRO = """\
# privacyctl: the command reference

Generated from the commands themselves by `python -m devtools.cli_docs` (`make docs`
checks it is current); do not edit by hand. The guide to using it is in the README's
tour; every command's `--help` says the same as this page.

Every command takes `--json` (one JSON document, or JSON lines for lists and streams,
and nothing else on stdout), `--quiet` (no messages on stderr) and `--profile NAME`
(or `PRIVACYCTL_PROFILE`). Colour is used only on a terminal, never with `NO_COLOR`.
Shell completion: `privacyctl --install-completion`.

## Exit codes

| code | meaning |
|---|---|
"""


def _context(command: Any, path: list[str]) -> Any:
    # Typer carries its own copy of click: its context class, not click's
    return command.context_class(
        command,
        info_name=" ".join(["privacyctl", *path]),
        terminal_width=WIDTH,
        max_content_width=WIDTH,
    )


def _walk(command: Any, path: list[str]) -> list[tuple[list[str], Any]]:
    found = [(path, command)]
    if hasattr(command, "list_commands"):
        context = _context(command, path)
        for name in command.list_commands(context):
            found += _walk(command.get_command(context, name), [*path, name])
    return found


def _help(path: list[str], command: Any) -> str:
    return str(command.get_help(_context(command, path)))


def render() -> str:
    """The page."""
    lines = [INTRO]
    for code in Exit:
        lines.append(f"| {code.value} | {EXIT_MEANINGS[code]} |\n")
    lines.append("")
    for path, command in _walk(get_command(app), []):
        title = " ".join(["privacyctl", *path])
        lines.append(f"\n## `{title}`\n\n```text\n{_help(path, command).rstrip()}\n```\n")
    return "".join(lines).replace("\n\n\n", "\n\n")


def main() -> int:
    parser = argparse.ArgumentParser(description="Write docs/cli.md from privacyctl's commands.")
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    if parser.parse_args().check:
        if TARGET.read_text() != render():
            sys.stderr.write("docs/cli.md is out of date: run python -m devtools.cli_docs\n")
            return 1
        return 0
    TARGET.write_text(render())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
