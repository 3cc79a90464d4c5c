"""outbound warns at start-up that UDP flows need STUN unless stun is loaded, as
Kamailio's outbound mod_init does."""

from __future__ import annotations

import pytest

from tests.support.server import KamapyServer

pytestmark = [pytest.mark.wire]

WARNING = '"stun" module is not loaded. STUN is required to use outbound with UDP.'


@pytest.mark.parametrize("stun", [False, True])
def test_outbound_stun_warning(stun):
    cfg = ('listen=udp:127.0.0.1:{port}\nloadmodule "sl"\n' + ('loadmodule "stun"\n' if stun else "")
           + 'loadmodule "outbound"\nrequest_route { sl_send_reply("200", "OK"); exit; }\n')
    server = KamapyServer(cfg, children=1)
    try:
        server.start()
        log = server.log()
    finally:
        server.stop()
        server.tmp.cleanup()
    assert (WARNING in log) is not stun, log
