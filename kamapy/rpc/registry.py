"""The RPC command table: the core's commands plus every loaded module's (Kamailio:
rpc_lookup.c).

Names are unique; a module exporting a name already taken is a start-up error, as
rpc_register() refuses duplicates. The table of this server process is built on first
use from the loaded modules (kamapy.loader.registry) and inherited by forked children.
"""

from __future__ import annotations

from ..module import RpcCommand


class DuplicateRpcCommand(ValueError):
    pass


class RpcRegistry:
    def __init__(self):
        self._commands: dict[str, RpcCommand] = {}
        self._owners: dict[str, str] = {}

    def register(self, command: RpcCommand, owner: str = "core"):
        if command.name in self._commands:
            raise DuplicateRpcCommand(
                f"RPC command {command.name!r} of {owner} is already exported by {self._owners[command.name]}")
        self._commands[command.name] = command
        self._owners[command.name] = owner

    def register_all(self, commands, owner: str = "core"):
        for command in commands:
            self.register(command, owner)

    def lookup(self, name: str) -> RpcCommand | None:
        return self._commands.get(name)

    def owner(self, name: str) -> str | None:
        return self._owners.get(name)

    def names(self) -> list[str]:
        """Every command name, sorted (the order system.listMethods prints)."""
        return sorted(self._commands)

    def help(self, name: str) -> str | None:
        """The doc string of a command ("undocumented" when it has none); None when
        there is no such command."""
        command = self._commands.get(name)
        if command is None:
            return None
        return command.doc or "undocumented"

    def __contains__(self, name: str) -> bool:
        return name in self._commands

    def __len__(self):
        return len(self._commands)


def core_registry() -> RpcRegistry:
    """A table with the core's own commands only (core.*, system.*, stats.*, dns.*,
    dst_blocklist.*)."""
    from .core_commands import CORE_COMMANDS
    from .stats_commands import STATS_COMMANDS

    table = RpcRegistry()
    table.register_all(CORE_COMMANDS)
    table.register_all(STATS_COMMANDS)
    from ..dns.rpc import COMMANDS as DNS_COMMANDS
    table.register_all(DNS_COMMANDS)
    from ..net.tcp_rpc import COMMANDS as TCP_COMMANDS
    table.register_all(TCP_COMMANDS)
    return table


def build_registry(module_registry=None) -> RpcRegistry:
    """The core's commands plus those of every module in `module_registry` (the
    loader's registry when None), in load order."""
    if module_registry is None:
        from ..loader import registry as module_registry
    table = core_registry()
    for name in module_registry.order:
        table.register_all(module_registry.modules[name].rpc, owner=f"module {name}")
    return table


_table: RpcRegistry | None = None


def commands() -> RpcRegistry:
    """The command table of this server process (built once, on first use)."""
    global _table
    if _table is None:
        _table = build_registry()
    return _table


def reset():
    """Forget the table, so the next commands() rebuilds it (tests; a new config)."""
    global _table
    _table = None
