"""Internal per-message flags (msg.xflags), with Kamailio's bit values (msg_parser.h FL_*).

They are kamapy's own bookkeeping, not the script's flags (setflag works on msg.flags).
"""

FL_FORCE_RPORT = 1 << 0       # force_rport(): answer/relay to the source port
FL_FORCE_ACTIVE = 1 << 1
FL_SDP_IP_AFS = 1 << 2
FL_SDP_PORT_AFS = 1 << 3
FL_ADD_LOCAL_RPORT = 1 << 11  # add_local_rport(): put rport in our own Via
FL_SDP_BODY = 1 << 12
FL_TM_RPL_MATCHED = 1 << 15
FL_RR_ADDED = 1 << 18         # record_route() already added a Record-Route
FL_MSG_NOREPLY = 1 << 23      # never send a reply to this request
FL_ROUTE_ADDR = 1 << 25       # rr: the Route header held an address that is ours
FL_FINAL_REPLY = 1 << 32      # a final reply was sent locally
