import pytest


def pytest_collection_modifyitems(config, items):
    """Long runs only when asked for (`-m slow`), so `pytest tests/sip` stays quick."""
    if "slow" in (config.option.markexpr or ""):
        return
    skip = pytest.mark.skip(reason="slow: run with -m slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
