"""kamapy's modules, one package each (installed as kamapy_modules.<name>).

`loadmodule "tm.so"` and `loadmodule "tm"` both load kamapy_modules.tm; see
kamapy/loader.py for how mpath, -L and entry points extend the search.
"""
