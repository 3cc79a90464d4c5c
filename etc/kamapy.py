# kamapy default config's routing logic (etc/kamapy.cfg) as a KEMI script, in the
# shape of Kamailio's misc/examples/kemi/kamailio-basic-kemi-python.py: mod_init()
# returns the object whose ksr_request_route(msg) routes every request, and tm's
# branch/reply/failure handlers are its methods, named by string.
#
#   kamapy -f etc/kamapy.cfg -A WITH_KEMI -A 'KEMI_SCRIPT="etc/kamapy.py"' -DD -E
#
# etc/kamapy.cfg still loads the modules and sets their parameters; WITH_KEMI loads
# app_python3 with this script and switches its route blocks off (as Kamailio's
# kamailio-basic-kemi.cfg does with WITH_CFGPYTHON3). The WITH_* switches given on the
# command line reach the script as $def(NAME): it reads them once, at mod_init.
# Each route[X] of the cfg is a method ksr_route_x; a method returning -255 means the
# cfg's `exit` (the caller returns at once), as in Kamailio's examples.
#
# Reload it without a restart: kamapyctl rpc app_python.reload

import KSR as KSR

# flags, as etc/kamapy.cfg defines them
FLT_ACC = 1
FLT_ACCMISSED = 2
FLT_ACCFAILED = 3
FLT_NATS = 5
FLB_NATB = 6
FLB_NATSIPPING = 7

EXIT = -255


def defined(name):
    """#!define NAME (or -A NAME) in the config."""
    return not KSR.pv.is_null("$def(" + name + ")")


def mod_init():
    return kamailio()


class kamailio:
    def __init__(self):
        # the switches the script depends on, as the cfg's #!ifdef lines saw them
        self.websockets = defined("WITH_WEBSOCKETS")
        self.rtpengine = defined("WITH_RTPENGINE")
        self.nat = defined("WITH_NAT") or self.websockets or self.rtpengine
        self.natsipping = defined("WITH_NATSIPPING")
        self.auth = defined("WITH_AUTH")
        self.dialog = defined("WITH_DIALOG")
        self.dlg_max_calls = int(KSR.pv.get("$defn(DLG_MAX_CALLS)") or 2) if self.dialog else 0
        self.ws_ports = ()
        if self.websockets:
            self.ws_ports = (int(KSR.pv.get("$defn(WS_PORT)") or 8080),
                             int(KSR.pv.get("$defn(WSS_PORT)") or 4443))

    def child_init(self, rank):
        return 0

    # request_route: every request starts here
    def ksr_request_route(self, msg):
        # per-request checks: loops, malformed requests, scanners
        if self.ksr_route_reqinit(msg) == EXIT:
            return 1

        if self.websockets:
            # SIP on the WebSocket ports only inside a WebSocket
            if (KSR.pv.get("$Rp") in self.ws_ports
                    and KSR.pv.get("$proto") not in ("ws", "wss")):
                KSR.warn("SIP request received on " + str(KSR.pv.get("$Rp")) + "\n")
                KSR.sl.sl_send_reply(403, "Forbidden")
                return 1

        # NAT detection
        if self.ksr_route_natdetect(msg) == EXIT:
            return 1

        # CANCEL: relay it to the same place as the INVITE it cancels
        if KSR.is_CANCEL():
            if KSR.tm.t_check_trans() > 0:
                self.ksr_route_relay(msg)
            return 1

        # a retransmission of a request we already handle: tm absorbs it
        if not KSR.is_ACK():
            if KSR.tmx.t_precheck_trans() > 0:
                KSR.tm.t_check_trans()
                return 1
            if KSR.tm.t_check_trans() == 0:
                return 1

        # requests inside a dialog (they carry a To-tag)
        if self.ksr_route_withindlg(msg) == EXIT:
            return 1

        # -- only initial requests (no To-tag) from here on

        # authentication
        if self.ksr_route_auth(msg) == EXIT:
            return 1

        # remove a pre-loaded Route set that is ours; record-route the dialogs we stay in
        KSR.hdr.remove("Route")
        if KSR.is_method_in("IS"):
            KSR.rr.record_route()

        # registrations
        if self.ksr_route_registrar(msg) == EXIT:
            return 1

        # a request with no user in the R-URI is for the server itself
        if KSR.pv.is_null("$rU"):
            if KSR.is_OPTIONS():
                KSR.siputils.options_reply()  # 200 with our Accept / Supported headers
                return 1
            KSR.sl.sl_send_reply(484, "Address Incomplete")
            return 1

        # user location service: where is the callee registered?
        self.ksr_route_location(msg)
        return 1

    # route[RELAY]: the request once its next hop is known
    def ksr_route_relay(self, msg):
        # handlers for the replies and failures of this transaction
        if KSR.is_method_in("IBSU"):
            if KSR.tm.t_is_set("branch_route") < 0:
                KSR.tm.t_on_branch("ksr_branch_manage")
        if KSR.is_method_in("ISU"):
            if KSR.tm.t_is_set("onreply_route") < 0:
                KSR.tm.t_on_reply("ksr_onreply_manage")
        if KSR.is_INVITE():
            if KSR.tm.t_is_set("failure_route") < 0:
                KSR.tm.t_on_failure("ksr_failure_manage")

        if KSR.tm.t_relay() < 0:
            KSR.sl.sl_reply_error()
        return EXIT

    # route[REQINIT]: per-request initial checks
    def ksr_route_reqinit(self, msg):
        # Max-Forwards: add it when missing, decrement it, stop loops at 0
        if KSR.maxfwd.process_maxfwd(10) < 0:
            KSR.sl.sl_send_reply(483, "Too Many Hops")
            return EXIT

        # keepalive OPTIONS addressed to us get a 200 at once
        if KSR.is_OPTIONS() and KSR.is_myself_ruri() and KSR.pv.is_null("$rU"):
            KSR.sl.sl_send_reply(200, "Keepalive")
            return EXIT

        # malformed requests are answered (400, 420 ...) by sanity_check itself
        if KSR.sanity.sanity_check(17895, 7) < 0:
            KSR.warn("malformed request from " + KSR.pv.get("$si") + ":"
                     + str(KSR.pv.get("$sp")) + "\n")
            return EXIT
        return 1

    # route[WITHINDLG]: follow the Route set the dialog's first request built
    def ksr_route_withindlg(self, msg):
        if KSR.siputils.has_totag() < 0:
            return 1

        # sequential request within a dialog should take the path determined by
        # record-routing
        if KSR.rr.loose_route() > 0:
            self.ksr_route_dlguri(msg)
            if KSR.is_BYE():
                KSR.setflag(FLT_ACC)        # accounting of the call's end
                KSR.setflag(FLT_ACCFAILED)
            elif KSR.is_ACK():
                # an ACK is forwarded statelessly
                self.ksr_route_natmanage(msg)
            elif KSR.is_NOTIFY():
                # add Record-Route for in-dialog NOTIFY as per RFC 6665
                KSR.rr.record_route()
            self.ksr_route_relay(msg)
            return EXIT

        if KSR.is_SUBSCRIBE() and KSR.is_myself_ruri():
            # in-dialog subscribe requests: no presence server here
            KSR.sl.sl_send_reply(404, "Not here")
            return EXIT
        if KSR.is_ACK():
            if KSR.tm.t_check_trans() > 0:
                # no loose-route, but stateful ACK: an ACK after a 487 or another
                # non-2xx final reply
                self.ksr_route_relay(msg)
            # else an ACK without matching transaction: ignore and discard
            return EXIT
        KSR.sl.sl_send_reply(404, "Not here")
        return EXIT

    # route[REGISTRAR]: SIP registrations
    def ksr_route_registrar(self, msg):
        if not KSR.is_REGISTER():
            return 1
        if KSR.isflagset(FLT_NATS):
            KSR.setbflag(FLB_NATB)
            if self.natsipping:
                # do SIP NAT pinging
                KSR.setbflag(FLB_NATSIPPING)
        if KSR.registrar.save("location", 0) < 0:
            KSR.sl.sl_reply_error()
        return EXIT

    # route[LOCATION]: user location service
    def ksr_route_location(self, msg):
        KSR.pv.sets("$avp(oexten)", KSR.pv.gete("$rU"))
        rc = KSR.registrar.lookup("location")
        if rc < 0:
            KSR.tm.t_newtran()
            if rc == -1 or rc == -3:
                KSR.sl.send_reply(404, "Not Found")
                return EXIT
            if rc == -2:
                KSR.sl.send_reply(405, "Method Not Allowed")
                return EXIT

        # when routing via usrloc, log the missed calls also
        if KSR.is_INVITE():
            KSR.setflag(FLT_ACCMISSED)

        if self.dialog and KSR.is_INVITE():
            # a call to a registered user: track it, within the caller's limit
            if self.ksr_route_dialog(msg) == EXIT:
                return EXIT

        self.ksr_route_relay(msg)
        return EXIT

    # route[DIALOG] (WITH_DIALOG): a new call, refused when its caller already has
    # DLG_MAX_CALLS calls going, else tracked and counted in the caller's profile
    def ksr_route_dialog(self, msg):
        caller = KSR.pv.gete("$fU") + "@" + KSR.pv.gete("$fd")
        KSR.dialog.get_profile_size("caller", caller, "$var(calls)")
        calls = KSR.pv.geti("$var(calls)")
        if calls >= self.dlg_max_calls:
            KSR.info("call from " + caller + " refused: " + str(calls) + " calls already\n")
            KSR.sl.send_reply(403, "Simultaneous calls limit reached")
            return EXIT
        KSR.dialog.dlg_manage()
        KSR.dialog.set_dlg_profile("caller", caller)
        return 1

    # route[AUTH]: authentication of the initial requests
    def ksr_route_auth(self, msg):
        if self.auth:
            if KSR.is_REGISTER() or KSR.is_myself_furi():
                # authenticate requests
                if KSR.auth_db.auth_check(KSR.pv.get("$fd"), "subscriber", 1) < 0:
                    KSR.auth.auth_challenge(KSR.pv.get("$fd"), 0)
                    return EXIT
                # user authenticated - remove auth header
                if not KSR.is_method_in("RP"):
                    KSR.auth.consume_credentials()
            # if caller is not local subscriber, then check if it calls a local
            # destination, otherwise deny, not an open relay here
            if not KSR.is_myself_furi() and not KSR.is_myself_ruri():
                KSR.sl.sl_send_reply(403, "Not relaying")
                return EXIT
        elif not KSR.is_myself_furi() and not KSR.is_myself_ruri() and not KSR.is_REGISTER():
            # no authentication: at least do not be an open relay
            KSR.sl.sl_send_reply(403, "Not relaying")
            return EXIT
        return 1

    # route[NATDETECT]: caller NAT detection
    def ksr_route_natdetect(self, msg):
        if self.websockets and KSR.nathelper.nat_uac_test(64) > 0:
            # a WebSocket phone: its Contact (...invalid;transport=ws) is reached only
            # over its connection, NAT or not
            KSR.force_rport()
            if KSR.is_REGISTER():
                KSR.nathelper.fix_nated_register()
            elif KSR.nathelper.add_contact_alias() < 0:
                KSR.err("Error aliasing contact <" + KSR.pv.gete("$ct") + ">\n")
                KSR.sl.sl_send_reply(400, "Bad Request")
                return EXIT
            return 1
        if self.nat and KSR.nathelper.nat_uac_test(19) > 0:
            if KSR.is_REGISTER():
                KSR.nathelper.fix_nated_register()
            elif KSR.siputils.is_first_hop() > 0:
                KSR.nathelper.set_contact_alias()
            KSR.setflag(FLT_NATS)
        return 1

    # route[NATMANAGE]: RTP relay and Contact fixing for NATed UAs
    def ksr_route_natmanage(self, msg):
        if not self.nat:
            return 1
        if KSR.siputils.is_request() > 0:
            if KSR.siputils.has_totag() > 0:
                if KSR.rr.check_route_param("nat=yes") > 0:
                    KSR.setbflag(FLB_NATB)
        if not (KSR.isflagset(FLT_NATS) or KSR.isbflagset(FLB_NATB)):
            return 1
        if self.rtpengine:
            if KSR.nathelper.nat_uac_test(8) > 0:
                KSR.rtpengine.rtpengine_manage("SIP-source-address replace-origin replace-session-connection")
            else:
                KSR.rtpengine.rtpengine_manage("replace-origin replace-session-connection")
        if KSR.siputils.is_request() > 0:
            if KSR.siputils.has_totag() < 0:
                if KSR.tmx.t_is_branch_route() > 0:
                    KSR.rr.add_rr_param(";nat=yes")
        if KSR.siputils.is_reply() > 0:
            if KSR.isbflagset(FLB_NATB):
                if KSR.siputils.is_first_hop() > 0:
                    KSR.nathelper.set_contact_alias()
        if KSR.isbflagset(FLB_NATB):
            # no connect message in a dialog involving NAT traversal
            if KSR.siputils.is_request() > 0:
                if KSR.siputils.has_totag() > 0:
                    KSR.set_forward_no_connect()
        return 1

    # route[DLGURI]: URI update for dialog requests
    def ksr_route_dlguri(self, msg):
        if self.nat and not KSR.isdsturiset():
            KSR.nathelper.handle_ruri_alias()
        return 1

    # branch_route[MANAGE_BRANCH]: outgoing branches
    def ksr_branch_manage(self, msg):
        KSR.dbg("new branch [" + str(KSR.pv.get("$T_branch_idx")) + "] to " + KSR.pv.get("$ru") + "\n")
        self.ksr_route_natmanage(msg)
        return 1

    # onreply_route[MANAGE_REPLY]: incoming replies
    def ksr_onreply_manage(self, msg):
        KSR.dbg("incoming reply\n")
        if self.websockets and KSR.nathelper.nat_uac_test(64) > 0:
            # a reply from a WebSocket phone: in-dialog requests reach it by the alias
            KSR.nathelper.add_contact_alias()
        scode = KSR.pv.get("$rs")
        if 100 <= scode < 300:
            self.ksr_route_natmanage(msg)
        return 1

    # failure_route[MANAGE_FAILURE]: failure routing cases
    def ksr_failure_manage(self, msg):
        self.ksr_route_natmanage(msg)
        if KSR.tm.t_is_canceled() > 0:
            return 1
        return 1

    # event_route[xhttp:request] (modparam("xhttp", "event_callback", "ksr_xhttp_event")):
    # HTTP on the WebSocket ports, the upgrade to SIP over WebSocket (RFC 7118)
    def ksr_xhttp_event(self, msg, evname):
        KSR.set_reply_close()
        KSR.set_reply_no_connect()
        if KSR.pv.get("$Rp") not in self.ws_ports:
            KSR.warn("HTTP request received on " + str(KSR.pv.get("$Rp")) + "\n")
            KSR.xhttp.xhttp_reply(403, "Forbidden", "", "")
            return EXIT
        upgrade = KSR.hdr.gete("Upgrade").lower()
        connection = KSR.hdr.gete("Connection").lower()
        if "websocket" in upgrade and "upgrade" in connection and "get" in KSR.pv.get("$rm").lower():
            # the client must use one of our names for the WebSocket
            host = KSR.hdr.get("Host")
            if host is None or not KSR.is_myself("sip:" + host):
                KSR.warn("Bad host " + KSR.pv.getw("$hdr(Host)") + "\n")
                KSR.xhttp.xhttp_reply(403, "Forbidden", "", "")
                return EXIT
            # 1: upgraded; 0: refused, its reply sent (the cfg's `if` exits on both)
            if KSR.websocket.handle_handshake() >= 0:
                return EXIT
        KSR.xhttp.xhttp_reply(404, "Not Found", "", "")
        return 1
