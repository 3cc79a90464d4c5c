"""The config language: preprocessor, Lark grammar, AST, compiler to closures, checks.

    ast = parse_config(path, defines)             # preprocess + parse (ConfigError on problems)
    params = apply_core_params(ast)               # CoreParams (debug, children, listen ...)
    routes = compile_routes(ast, registry)        # Routes of compiled callables
    code = run_route(routes.request, msg, REQUEST_ROUTE)
    ok, text = check_config(path, defines, syntax_only=True)
"""

from ..net.listen_spec import ListenSpec
from .core_params import CoreParams, apply_core_params
from .errors import ConfigError, Position, Problem
from .parser import parse_config, parse_text


def __getattr__(name):
    # the compiler and runtime import lazily, so `-c --syntax-only` never needs the PV layer
    if name in ("compile_routes", "Routes", "DictRegistry"):
        from . import compiler
        return getattr(compiler, name)
    if name in ("run_route", "RunContext"):
        from . import run_context
        return getattr(run_context, name)
    if name == "check_config":
        from .check import check_config
        return check_config
    raise AttributeError(name)


__all__ = ["ConfigError", "Position", "Problem", "CoreParams", "ListenSpec", "apply_core_params",
           "parse_config", "parse_text", "compile_routes", "Routes", "DictRegistry", "run_route",
           "RunContext", "check_config"]
