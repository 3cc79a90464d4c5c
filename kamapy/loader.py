"""Finding, importing and initialising modules (Kamailio: sr_module.c, modparam.c).

`loadmodule "tm.so"`, `loadmodule "tm"` and `loadmodule "/usr/lib/.../tm.so"` all name
the module `tm`. Where it is looked for, in order:

1. every folder of `-L` and `mpath` that holds a Python package `<name>/` (a third-party
   module dropped in beside a config);
2. kamapy's own tree: the package `kamapy_modules.<name>` (modules/<name> here);
3. an installed distribution advertising the entry point group `kamapy.modules`.

A folder of Kamailio's own `.so` files in `mpath` is simply not a place where Python
packages are found, so one config can serve both servers.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import re
import sys
from dataclasses import dataclass
from importlib.metadata import entry_points

from .module import Function, ModuleExports

log = logging.getLogger("kamapy.loader")

ENTRY_POINT_GROUP = "kamapy.modules"


@dataclass
class Problem:
    """One load-time problem, at a config position when known."""

    message: str
    file: str | None = None
    line: int = 0
    col: int = 0

    def __str__(self):
        if self.file:
            return f"{self.file}:{self.line}:{self.col}: {self.message}"
        return self.message


class ModuleLoadError(Exception):
    def __init__(self, problems: list[Problem]):
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


def module_name(spec: str) -> str:
    """The module name a loadmodule argument means: basename without .so."""
    base = os.path.basename(spec.strip())
    return base[:-3] if base.endswith(".so") else base


def _ensure_module_tree():
    """Make `kamapy_modules` importable even when kamapy runs from a source tree that
    was not installed (PYTHONPATH=.): it is the modules/ folder beside kamapy/."""
    try:
        importlib.import_module("kamapy_modules")
        return
    except ImportError:
        pass
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    tree = os.path.join(here, "modules")
    spec = importlib.util.spec_from_file_location(
        "kamapy_modules", os.path.join(tree, "__init__.py"), submodule_search_locations=[tree])
    mod = importlib.util.module_from_spec(spec)
    sys.modules["kamapy_modules"] = mod
    spec.loader.exec_module(mod)


def _pos(pos):
    """(file, line, col) from whatever position object the config AST carries."""
    if pos is None:
        return None, 0, 0
    if isinstance(pos, tuple):
        return pos
    return getattr(pos, "file", None), getattr(pos, "line", 0), getattr(pos, "col", 0)


class ModuleRegistry:
    """The loaded modules of this server and everything they export."""

    def __init__(self, search_dirs: list[str] | None = None):
        self.search_dirs = list(search_dirs or [])
        self.modules: dict[str, ModuleExports] = {}
        self.functions: dict[str, tuple[Function, str]] = {}
        self.order: list[str] = []

    # ------------------------------------------------------------------ finding
    def _import(self, name: str):
        for folder in self.search_dirs:
            pkg = os.path.join(folder, name, "__init__.py")
            if os.path.isfile(pkg):
                full = f"kamapy_modules.{name}"
                if full in sys.modules:
                    return sys.modules[full]
                spec = importlib.util.spec_from_file_location(
                    full, pkg, submodule_search_locations=[os.path.dirname(pkg)])
                mod = importlib.util.module_from_spec(spec)
                sys.modules[full] = mod
                try:
                    spec.loader.exec_module(mod)
                except Exception:
                    del sys.modules[full]
                    raise
                return mod
        _ensure_module_tree()
        try:
            return importlib.import_module(f"kamapy_modules.{name}")
        except ModuleNotFoundError as e:
            if e.name not in (f"kamapy_modules.{name}",):
                raise
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            if ep.name == name:
                return ep.load()
        return None

    def exporter_of(self, function: str) -> str | None:
        """Which shipped module (not loaded) exports `function`: for the hint of an
        unknown-function error only, so importing every module here costs nothing
        on a good config."""
        import pkgutil
        _ensure_module_tree()
        tree = importlib.import_module("kamapy_modules")
        for info in sorted(pkgutil.iter_modules(tree.__path__), key=lambda i: i.name):
            if info.name in self.modules:
                continue
            try:
                exports = getattr(importlib.import_module(f"kamapy_modules.{info.name}"), "exports", None)
            except Exception:  # a module that cannot even import gives no hint
                continue
            if exports is not None and exports.function(function) is not None:
                return info.name
        return None

    def find(self, name: str) -> ModuleExports | None:
        mod = self._import(name)
        if mod is None:
            return None
        exports = getattr(mod, "exports", mod if isinstance(mod, ModuleExports) else None)
        if not isinstance(exports, ModuleExports):
            raise ModuleLoadError([Problem(f"module {name!r} has no `exports = ModuleExports(...)`")])
        return exports

    # ------------------------------------------------------------------ loading
    def add(self, exports: ModuleExports):
        """Register an already imported module (the core functions use this too)."""
        if exports.name in self.modules:
            return exports
        exports.values = {p.name: ([] if p.multi else p.default) for p in exports.params}
        self.modules[exports.name] = exports
        self.order.append(exports.name)
        for f in exports.functions:
            self.functions.setdefault(f.name, (f, exports.name))
        from . import log as kamapy_log
        kamapy_log.register_module_name(exports.name)
        self._register_pvs(exports)
        if exports.stats:
            from . import stats
            stats.declare(exports.name, exports.stats)
        return exports

    def _register_pvs(self, exports: ModuleExports):
        if not (exports.pvs or exports.transformations):
            return
        from .pv import registry as pv_registry
        pv_registry.register_module_exports(exports)

    def load_all(self, entries):
        """Load every (spec, pos) of the config's loadmodule lines; one error naming every
        module that could not be found."""
        missing = []
        problems = []
        seen: dict[str, object] = {}
        for spec, pos in entries:
            name = module_name(spec)
            if name in seen:  # Kamailio: "failed to load module" on the second line
                f, ln, c = _pos(pos)
                first = str(Problem("", *_pos(seen[name])))[:-2] if seen[name] is not None else "earlier"
                problems.append(Problem(f"module {name!r} is loaded twice (first at {first}): "
                                        "remove one of the loadmodule lines", f, ln, c))
                continue
            seen[name] = pos
            if name in self.modules:
                continue
            try:
                exports = self.find(name)
            except ModuleLoadError as e:
                f, ln, c = _pos(pos)
                problems.extend(Problem(p.message, f, ln, c) for p in e.problems)
                continue
            except Exception as e:  # a module that fails to import is a config-time error
                f, ln, c = _pos(pos)
                problems.append(Problem(f"module {name!r} failed to import: {type(e).__name__}: {e}", f, ln, c))
                continue
            if exports is None:
                missing.append((name, pos))
                continue
            self.add(exports)
        if missing:
            f, ln, c = _pos(missing[0][1])
            names = ", ".join(n for n, _ in missing)
            where = "; ".join(str(Problem("", *_pos(p)))[:-2] for _, p in missing if p is not None)
            problems.insert(0, Problem(
                f"module(s) not available in kamapy: {names}" + (f" (loadmodule at {where})" if where else ""),
                f, ln, c))
        if problems:
            raise ModuleLoadError(problems)

    def loaded(self, name: str) -> bool:
        return name in self.modules

    # ------------------------------------------------------------------ modparam
    def set_param(self, mod_regex: str, pname: str, value, pos=None):
        """modparam("mod|mod2", "name", value): the module part is a regular expression
        matched (case-insensitively) against whole module names, as in Kamailio; every
        matching module must have the parameter."""
        f, ln, c = _pos(pos)
        try:
            rx = re.compile(f"^(?:{mod_regex})$", re.IGNORECASE)
        except re.error as e:
            raise ModuleLoadError([Problem(f"modparam: bad module regex {mod_regex!r}: {e}", f, ln, c)]) from None
        matched = [n for n in self.order if rx.match(n)]
        if not matched:
            raise ModuleLoadError([Problem(f"modparam: no loaded module matches {mod_regex!r}", f, ln, c)])
        for name in matched:
            exports = self.modules[name]
            param = next((p for p in exports.params if p.name == pname), None)
            if param is None:
                raise ModuleLoadError([Problem(f"modparam: module {name!r} has no parameter {pname!r}", f, ln, c)])
            try:
                v = _convert_param(param, value)
                if param.validate:
                    param.validate(v)
            except (ValueError, TypeError) as e:
                raise ModuleLoadError([Problem(
                    f"modparam({mod_regex!r}, {pname!r}): bad value {value!r}: {e}", f, ln, c)]) from None
            if param.unsupported and v != param.default:
                log.warning("%s:%s:%s: modparam(%r, %r): not implemented in kamapy, the value is "
                            "ignored: %s", f, ln, c, name, pname, param.unsupported)
            if param.multi:
                exports.values[pname].append(v)
            else:
                exports.values[pname] = v
            exports.param_pos[pname] = pos

    # ------------------------------------------------------------------ lookups
    def lookup_function(self, name: str) -> Function | None:
        entry = self.functions.get(name)
        return entry[0] if entry else None

    def function_module(self, name: str) -> str | None:
        entry = self.functions.get(name)
        return entry[1] if entry else None

    def rpc_commands(self):
        for name in self.order:
            for cmd in self.modules[name].rpc:
                yield cmd

    # ------------------------------------------------------------------ lifecycle
    def check_all(self) -> list[Problem]:
        """Every module's parameter checks (ModuleExports.check), at the modparam that
        caused each problem when the module names one."""
        problems = []
        for name in self.order:
            exports = self.modules[name]
            if exports.check is None:
                continue
            for pname, message in exports.check() or ():
                f, ln, c = _pos(exports.param_pos.get(pname) if pname else None)
                problems.append(Problem(f"module {name!r}: {message}", f, ln, c))
        return problems

    def mod_init_all(self):
        for name in self.order:
            exports = self.modules[name]
            if exports.mod_init is not None:
                rc = exports.mod_init()
                if rc is not None and rc < 0:
                    raise ModuleLoadError([Problem(f"module {name!r}: mod_init failed ({rc})")])
        self._install_hooks()

    def _install_hooks(self):
        """The response functions and script callbacks the modules declare, into the
        lists receive_msg walks (once each: tests run mod_init_all more than once)."""
        from .module import PRE_SCRIPT
        from .runtime import rt
        for name in reversed(self.order):  # Kamailio's module list: the newest first
            fn = self.modules[name].response
            if fn is not None and fn not in rt.reply_hooks:
                rt.reply_hooks.append(fn)
        for name in self.order:
            for cb in self.modules[name].script_callbacks:
                hooks = rt.pre_script_hooks if cb.when == PRE_SCRIPT else rt.post_script_hooks
                if cb.fn not in hooks:
                    hooks.append(cb.fn)
                if cb.when == PRE_SCRIPT:
                    rt.pre_script_methods |= cb.methods

    def child_init_all(self, rank: int):
        for name in self.order:
            exports = self.modules[name]
            if exports.child_init is not None:
                rc = exports.child_init(rank)
                if rc is not None and rc < 0:
                    raise RuntimeError(f"module {name!r}: child_init({rank}) failed ({rc})")

    def destroy_all(self):
        for name in reversed(self.order):
            exports = self.modules[name]
            if exports.destroy is not None:
                try:
                    exports.destroy()
                except Exception:
                    log.exception("module %s: destroy failed", name)


def _convert_param(param, value):
    if param.type is int:
        if isinstance(value, int):
            return value
        s = str(value).strip()
        try:
            return int(s, 0)
        except ValueError:
            raise ValueError("an integer is expected") from None
    if param.type is str:
        return value if isinstance(value, str) else str(value)
    return param.type(value)


# The registry of this server process (set up by the master; children inherit it).
registry = ModuleRegistry()


def loaded(name: str) -> bool:
    """Is module `name` loaded in this server? (Kamailio's find_export / load_*_api)."""
    return registry.loaded(name)


def get(name: str) -> ModuleExports | None:
    return registry.modules.get(name)


def bind_api(name: str):
    """The API module `name` declares in its exports (Kamailio's load_<name>_api);
    None when the module is not loaded or offers none."""
    exports = registry.modules.get(name)
    return exports.api if exports is not None else None


class BoundApi:
    """Another module's API as a module holds it: `slb = BoundApi("sl")` at import, then
    `slb().freply(...)` binds on first use (fixups run before mod_init) and keeps it, as a
    Kamailio module keeps the struct its load_*_api filled. RuntimeError when `name` is
    not loaded; `bind()` in mod_init gives the refusal at start-up instead."""

    __slots__ = ("name", "api")

    def __init__(self, name: str):
        self.name = name
        self.api = None

    def bind(self):
        self.api = bind_api(self.name)
        return self.api

    def __call__(self):
        api = self.api
        if api is None:
            api = self.bind()
            if api is None:
                raise RuntimeError(f"module {self.name!r} is not loaded (no API to bind)")
        return api
