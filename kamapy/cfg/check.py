"""`kamapy -c`: check a config and say `config file ok` or list every problem.

check_config(path, defines, syntax_only) preprocesses and parses (and applies the core
parameters); without syntax_only it also calls `load_modules(ast, core_params)` — the
loader's hook, which loads the modules, applies the modparams and returns a registry
(lookup_function) — and compiles the routes against it.
"""

from __future__ import annotations

from typing import Callable

from .core_params import apply_core_params
from .errors import ConfigError, Position, Problem
from .parser import parse_config


def check_config(path: str, defines: dict | None = None, syntax_only: bool = False,
                 load_modules: Callable | None = None) -> tuple[bool, str]:
    try:
        cfg = parse_config(path, defines)
        params = apply_core_params(cfg, cfg.sources)
        if not syntax_only:
            if load_modules is None:
                raise ConfigError(Problem(None, "module loading is not available for a full check",
                                          "use --syntax-only"))
            registry = load_modules(cfg, params)
            from .compiler import compile_routes

            problems = []
            try:
                compile_routes(cfg, registry, params)
            except ConfigError as e:
                problems.extend(e.problems)
            # what mod_init would refuse at start-up (Kamailio finds it only then)
            for p in (registry.check_all() if hasattr(registry, "check_all") else []):
                pos = Position(p.file, p.line, p.col) if p.file else None
                problems.append(cfg.sources.problem(pos, p.message) if cfg.sources else Problem(pos, p.message))
            if problems:
                raise ConfigError(problems)
    except ConfigError as e:
        n = len(e.problems)
        return False, f"{e.report()}\nERROR: bad config file ({n} error{'s' if n != 1 else ''})"
    return True, "config file ok"
