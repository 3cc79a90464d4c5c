"""Why a REGISTER was refused: Kamailio's rerrno codes with their reply code and the
P-Registrar-Error text (registrar/rerrno.h, reply.c)."""

from __future__ import annotations


class RegError(Exception):
    """Raised inside save(); the reply and return code come from `code`."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


# name: (status, P-Registrar-Error text)
ERRORS = {
    "R_UL_DEL_R": (500, "usrloc_record_delete failed"),
    "R_UL_GET_R": (500, "usrloc_record_get failed"),
    "R_UL_NEW_R": (500, "usrloc_record_new failed"),
    "R_INV_CSEQ": (400, "Invalid CSeq number"),
    "R_UL_INS_C": (500, "usrloc_contact_insert failed"),
    "R_UL_INS_R": (500, "usrloc_record_insert failed"),
    "R_UL_DEL_C": (500, "usrloc_contact_delete failed"),
    "R_UL_UPD_C": (500, "usrloc_contact_update failed"),
    "R_TO_USER": (400, "No username in To URI"),
    "R_AOR_LEN": (500, "Address Of Record too long"),
    "R_AOR_PARSE": (400, "Error while parsing AOR"),
    "R_INV_EXP": (400, "Invalid expires param in contact"),
    "R_INV_Q": (400, "Invalid q param in contact"),
    "R_PARSE": (400, "Message parse error"),
    "R_TO_MISS": (400, "To header not found"),
    "R_CID_MISS": (400, "Call-ID header not found"),
    "R_CS_MISS": (400, "CSeq header not found"),
    "R_PARSE_EXP": (400, "Expires parse error"),
    "R_PARSE_CONT": (400, "Contact parse error"),
    "R_STAR_EXP": (400, "* used in contact and expires is not zero"),
    "R_STAR_CONT": (400, "* used in contact and more than 1 contact"),
    "R_OOO": (200, "Out of order request"),
    "R_RETRANS": (200, "Retransmission"),
    "R_UNESCAPE": (400, "Error while unescaping username"),
    "R_TOO_MANY": (503, "Too many registered contacts"),
    "R_CONTACT_LEN": (400, "Contact/received too long"),
    "R_CALLID_LEN": (400, "Callid too long"),
    "R_PARSE_PATH": (400, "Path parse error"),
    "R_PATH_UNSUP": (420, "No support for found Path indicated"),
    "R_OB_UNSUP": (421, "No support for Outbound indicated"),
    "R_OB_REQD": (420, "No support for Outbound on server"),
    "R_OB_UNSUP_EDGE": (439, "No support for Outbound on edge proxy"),
    "R_INV_REGID": (400, "Invalid Reg-Id number"),
    "R_LOW_EXP": (423, "Interval too brief"),
}

REASONS = {200: "OK", 400: "Bad Request", 420: "Bad Extension", 421: "Extension Required",
           423: "Interval Too Brief", 439: "First Hop Lacks Outbound Support",
           500: "Server Internal Error", 503: "Service Unavailable"}
