import pytest

from tests.support.netlab import LabUnavailable, NatLab, unavailable_reason


@pytest.fixture
def nat_lab(request):
    """A NatLab; parametrize indirectly with a dict of NatLab's arguments."""
    why = unavailable_reason()
    if why:
        pytest.skip(f"no NAT lab here: {why}")
    kwargs = getattr(request, "param", {}) or {}
    lab = NatLab(**kwargs)
    try:
        lab.up()
    except LabUnavailable as e:
        pytest.skip(f"no NAT lab here: {e}")
    try:
        yield lab
    finally:
        lab.down()
