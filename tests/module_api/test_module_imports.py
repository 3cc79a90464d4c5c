"""Modules reach each other through bound APIs (kamapy.loader.bind_api / BoundApi,
Kamailio's load_<name>_api), not by importing each other's internals. What a module
may import from another is that module's `api` submodule: its API struct and the data
types a binder reads (Kamailio's <module>_load.h / usrloc.h). Everything else is on
ALLOWED below with why it stays; a new cross-module import fails here, and so does an
ALLOWED entry nothing uses any more."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support.tree_grep import ROOT

# why, for each kind of import that stays (importer, imported module under kamapy_modules)
_TMX = "tmx is tm's extension: Kamailio's tmx includes tm's own headers and reads struct cell"
_DLG = ("dialog's callbacks/store (Kamailio: load_dlg_api); dialog is being reworked, "
        "its API comes with that")
_CFG = ("the cfg framework's variable tables: Kamailio declares cfg groups in the core "
        "(cfg_declare); kamapy has no core cfg group registry yet")
_ALIAS = "app_python is app_python3 under Kamailio's older name (one implementation)"
_AUTH = "auth's credential parsing (Kamailio: auth_api_s, bind_auth_s): to move onto an auth api"
_RTP = ("rtpproxy shares rtpengine's node sets and SDP marks (both are one relay client "
        "in Kamailio too): to move into a shared kamapy package")
_RR = "rr's route params (Kamailio: rr_api get_route_param): to add to rr's api"

ALLOWED = {
    ("acc", "dialog.callbacks"): _DLG,
    ("app_python", "app_python3"): _ALIAS,
    ("auth_db", "auth"): _AUTH, ("auth_db", "auth.creds"): _AUTH,
    ("cfg_rpc", "tm"): _CFG, ("cfg_rpc", "tm.config"): _CFG, ("cfg_rpc", "registrar.settings"): _CFG,
    ("debugger", "cfg_rpc.framework"): _CFG,
    ("dispatcher", "auth.creds"): _AUTH,
    ("nat_traversal", "dialog.callbacks"): _DLG, ("nat_traversal", "dialog.state"): _DLG,
    ("nat_traversal", "dialog.store"): _DLG,
    ("rtpproxy", "rtpengine.sdp_marks"): _RTP,
    ("rtpproxy", "rtpengine.functions"): _RTP, ("rtpproxy", "rtpengine.nodes"): _RTP,
    ("tmx", "tm.context"): _TMX, ("tmx", "tm.stats"): _TMX, ("tmx", "tm.store"): _TMX,
    ("tmx", "tm.transaction"): _TMX, ("tmx", "tm.uas"): _TMX, ("tmx", "tm.functions"): _TMX,
    ("tmx", "tm.relay"): _TMX, ("tmx", "tm.failure"): _TMX,
    ("uac", "rr.route_params"): _RR, ("uac", "dialog.callbacks"): _DLG,
    ("uac", "dialog.store"): _DLG, ("uac", "dialog.handlers"): _DLG,
}


def _targets(tree: ast.AST, pkg: list[str], root: Path):
    """(line, dotted module under kamapy_modules) for every import in a file of package
    modules/<pkg...>; `from X import name` counts name as a submodule when it is one."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("kamapy_modules."):
                    yield node.lineno, a.name.split(".", 1)[1]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg[:len(pkg) - (node.level - 1)] if node.level > 1 else list(pkg)
                mod = base + (node.module.split(".") if node.module else [])
            elif node.module and (node.module == "kamapy_modules" or node.module.startswith("kamapy_modules.")):
                mod = node.module.split(".")[1:]
            else:
                continue
            for a in node.names:
                full = mod + [a.name]
                sub = root.joinpath("modules", *full)
                yield node.lineno, ".".join(full if (sub.is_dir() or sub.with_suffix(".py").exists())
                                            else mod)


def cross_imports(root: Path = ROOT) -> list[tuple[str, int, str, str]]:
    """(file, line, importing module, imported module) for each import of another module."""
    found = []
    for path in sorted((root / "modules").rglob("*.py")):
        rel = path.relative_to(root / "modules")
        pkg = list(rel.parts[:-1])
        if not pkg:
            continue
        own = pkg[0]
        for line, target in _targets(ast.parse(path.read_text(encoding="utf-8")), pkg, root):
            other = target.split(".")[0]
            if other and other != own:
                found.append((f"modules/{rel.as_posix()}", line, own, target))
    return found


def offenders(root: Path = ROOT, allowed=None):
    allowed = ALLOWED if allowed is None else allowed
    bad, used = [], set()
    for f, line, own, target in cross_imports(root):
        if target.split(".")[1:2] == ["api"]:  # the module's declared API and data types
            continue
        if (own, target) in allowed:
            used.add((own, target))
            continue
        bad.append(f"{f}:{line}: {own} imports {target}")
    return bad, used


def test_modules_reach_each_other_through_bound_apis():
    bad, _ = offenders()
    assert not bad, ("bind the other module's API (kamapy.loader.BoundApi / bind_api) and import "
                     "only its `api` submodule, or add the import to ALLOWED with why:\n" + "\n".join(bad))


def test_every_allowed_import_is_still_there():
    _, used = offenders()
    stale = sorted(set(ALLOWED) - used)
    assert not stale, f"ALLOWED entries nothing imports any more (remove them): {stale}"


def test_the_check_finds_what_it_looks_for():
    """Planted files: every import form is caught, the `api` submodule is let through."""
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        for m in ("a", "b"):
            (root / "modules" / m).mkdir(parents=True)
            (root / "modules" / m / "__init__.py").write_text("")
        (root / "modules" / "a" / "x.py").write_text(
            "from kamapy_modules import b\n"
            "from kamapy_modules.b.api import B\n"
            "def f():\n"
            "    from ..b import inner\n"
            "    import kamapy_modules.b.deep\n"
            "from . import own\n")
        bad, _ = offenders(root, allowed={})
        assert [b.split(": ", 1)[1] for b in bad] == ["a imports b", "a imports b", "a imports b.deep"], bad
