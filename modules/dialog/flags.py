"""A dialog's dflags and iflags, with Kamailio's values (dlg_hash.h DLG_FLAG_* and
DLG_IFLAG_*): they are stored in the record and shown by dlg.list, so the bits must be
Kamailio's."""

DLG_FLAG_CALLERBYE = 1 << 4
DLG_FLAG_CALLEEBYE = 1 << 5
DLG_FLAG_EXPIRED = 1 << 10

IFLAG_TIMEOUTBYE = 1 << 0
IFLAG_KA_SRC = 1 << 1
IFLAG_KA_DST = 1 << 2
IFLAG_TIMER_NORESET = 1 << 3
IFLAG_CSEQ_DIFF = 1 << 4
IFLAG_PRACK = 1 << 5
