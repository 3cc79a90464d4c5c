"""A click group that finds its commands as files (kamcli's structure): each
kamapy/ctl/commands/cmd_<name>.py defines `cli`, imported only when that command runs
(or help lists it), so `kamapyctl ps` does not import the whole tree."""

from __future__ import annotations

import importlib
import os

import click

from .clients import CtlError

COMMANDS_DIR = os.path.join(os.path.dirname(__file__), "commands")
COMMANDS_PACKAGE = "kamapy.ctl.commands"


def _file_to_command(filename: str) -> str | None:
    if filename.startswith("cmd_") and filename.endswith(".py"):
        return filename[4:-3].replace("_", "-")
    return None


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        names = [_file_to_command(f) for f in os.listdir(COMMANDS_DIR)]
        return sorted(set(n for n in names if n) | set(self.commands))

    def get_command(self, ctx, name):
        if name in self.commands:
            return self.commands[name]
        if not name or "/" in name or "." in name:
            return None
        module_name = f"{COMMANDS_PACKAGE}.cmd_{name.replace('-', '_')}"
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as e:
            if e.name == module_name:
                return None
            raise
        return module.cli

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except CtlError as e:
            raise click.ClickException(str(e)) from None
