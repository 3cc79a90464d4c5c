# kamapy - the routing logic of the reference bench config
# (/work/shared/bench/kamailio/kamailio-bench.cfg) as a KEMI script, in the shape of
# Kamailio's own examples (misc/examples/kemi/kamailio-basic-kemi-python.py):
# (Named kamapy-kemi.py, not kamapy.py: a kamapy.py in the working directory would
# shadow the kamapy package for `python -m kamapy`.)
#
#   loadmodule "app_python3.so"
#   modparam("app_python3", "load", "/etc/kamapy/kamapy-kemi.py")
#   cfgengine "python"
#
# The same script runs under Kamailio 5.6 with app_python3 and these modules:
# tm tmx sl rr pv maxfwd siputils textops usrloc registrar.
#
# Return -255 from a helper means "exit" to the caller, as in Kamailio's examples;
# KSR.x.exit() stops the whole callback at once.

import KSR as KSR


def mod_init():
    KSR.info("===== kamapy.py: KEMI script loaded\n")
    return kamailio()


class kamailio:
    def __init__(self):
        pass

    def child_init(self, rank):
        return 0

    # request_route {}
    def ksr_request_route(self, msg):
        if KSR.maxfwd.process_maxfwd(10) < 0:
            KSR.sl.sl_send_reply(483, "Too Many Hops")
            return 1

        # [options] stateless reply
        if KSR.is_OPTIONS():
            KSR.sl.sl_send_reply(200, "OK")
            return 1

        # [register] store the binding in memory; save() sends the 200 itself
        if KSR.is_REGISTER():
            if KSR.registrar.save("location", 0) < 0:
                KSR.sl.sl_reply_error()
            return 1

        # [call] in-dialog requests (ACK, BYE) follow the Route set
        if KSR.siputils.has_totag() > 0:
            self.ksr_route_withindlg(msg)
            return 1

        if KSR.is_CANCEL():
            if KSR.tm.t_check_trans() > 0:
                KSR.tm.t_relay()
            return 1

        # absorb retransmissions of requests that already have a transaction
        if not KSR.is_ACK():
            if KSR.tmx.t_precheck_trans() > 0:
                KSR.tm.t_check_trans()
                return 1
            KSR.tm.t_check_trans()

        # [call] initial INVITE: stay on the path, relay statefully to the R-URI
        if KSR.is_INVITE():
            KSR.rr.record_route()
        if KSR.tm.t_relay() < 0:
            KSR.sl.sl_reply_error()
        return 1

    def ksr_route_withindlg(self, msg):
        if KSR.rr.loose_route() > 0:
            if KSR.tm.t_relay() < 0:
                KSR.sl.sl_reply_error()
            return -255
        if KSR.is_ACK():
            # ACK for a negative reply: absorbed by tm
            if KSR.tm.t_check_trans() > 0:
                KSR.tm.t_relay()
            return -255
        KSR.sl.sl_send_reply(404, "Not here")
        return -255

    # reply_route {}: nothing to do, tm and the core relay the replies
    def ksr_reply_route(self, msg):
        return 1
