"""In-process tests that call a module's mod_init without a server: put the modules it
binds (kamapy.loader.bind_api) into the loader's registry for the test. The APIs are
module-level objects, so a binding a module kept from an earlier test is still right."""

from __future__ import annotations


def load_for_test(monkeypatch, *names: str):
    import importlib

    from kamapy import loader
    for name in names:
        exports = importlib.import_module(f"kamapy_modules.{name}").exports
        monkeypatch.setitem(loader.registry.modules, name, exports)
