/* kp_sipscan: one pass over a received SIP datagram (Kamailio: parse_msg + the
 * parse_headers(HDR_VIA1|HDR_TO|HDR_CSEQ|HDR_CALLID|HDR_CONTENTLENGTH) receive_msg does).
 *
 * kp_sip_scan() writes a flat int32 array: the first line, every header line (id, spans,
 * the next line of the same id), the first line index of each known header id, and the
 * key fields of the first Via/To/From/Call-ID/CSeq/Content-Length. A key field is marked
 * OK only when it is in the simple form whose result the Python parsers would give
 * exactly the same; anything else (quotes with escapes, several vias in one header,
 * folding, odd whitespace, malformed input) is left to kamapy.sip's Python parsers,
 * which produce the object or the exact SipParseError. The scanner never fails on a
 * header: it stops at the first line it cannot index and says why (F_STOP), so errors
 * surface lazily, when a lookup reaches that line, as before.
 *
 * Layout: see the KP_SS_* offsets below; header records start at KP_SS_HDR, KP_SS_HREC
 * ints each: id, start, name_end, value_start, value_end, line_end (incl. the line
 * break), next line index with the same id (-1).
 */
#ifndef KP_SIPSCAN_H
#define KP_SIPSCAN_H

#include <stdint.h>

/* return / F_TYPE error codes */
#define KP_SS_ENOFL      -1   /* no end of first line */
#define KP_SS_EBADSTATUS -2   /* bad status line */
#define KP_SS_EBADREQ    -3   /* bad request line */
#define KP_SS_ECAP       -4   /* output array too small for the header lines */

/* why the header index stopped (F_STOP) */
#define KP_SS_STOP_END     0  /* the empty line: body_start is known */
#define KP_SS_STOP_FOLD    1  /* line n starts with SP/HTAB: a folded header (maybe unterminated) */
#define KP_SS_STOP_NOEOH   2  /* no end of header block */
#define KP_SS_STOP_NOCOLON 3  /* header without colon */
#define KP_SS_STOP_BADNAME 4  /* bad header name */

/* fixed fields */
#define KP_SS_TYPE   0   /* 1 request, 2 reply */
#define KP_SS_FLE    1   /* first line end */
#define KP_SS_NL     2   /* length of the line break (2 CRLF, 1 LF) */
#define KP_SS_A0     3   /* request: method span; reply: version span */
#define KP_SS_A1     4
#define KP_SS_B0     5   /* request: R-URI span; reply: status code in B0 */
#define KP_SS_B1     6
#define KP_SS_C0     7   /* request: version span; reply: reason span (C0 -1: none) */
#define KP_SS_C1     8
#define KP_SS_NHDR   9   /* header lines indexed */
#define KP_SS_STOP   10
#define KP_SS_BODY   11  /* body start, -1 unless STOP_END */
#define KP_SS_FIRST  12  /* KP_SS_NIDS ints: first line of each header id, -1 */
#define KP_SS_NIDS   64

#define KP_SS_MAXP   8   /* parameters a fast-path Via / name-addr may have */

/* top Via (first via-parm of the first Via header) */
#define KP_SS_V      80
#define KP_SS_V_OK    (KP_SS_V + 0)
#define KP_SS_V_S     (KP_SS_V + 1)   /* via span (start, end) */
#define KP_SS_V_E     (KP_SS_V + 2)
#define KP_SS_V_T0    (KP_SS_V + 3)   /* transport */
#define KP_SS_V_T1    (KP_SS_V + 4)
#define KP_SS_V_H0    (KP_SS_V + 5)   /* host (with [] for IPv6) */
#define KP_SS_V_H1    (KP_SS_V + 6)
#define KP_SS_V_PORT  (KP_SS_V + 7)   /* -1: none */
#define KP_SS_V_P0    (KP_SS_V + 8)   /* port as written */
#define KP_SS_V_P1    (KP_SS_V + 9)
#define KP_SS_V_SBE   (KP_SS_V + 10)  /* sent_by_end */
#define KP_SS_V_BRANCH (KP_SS_V + 11) /* parameter index, -1 */
#define KP_SS_V_RPORT (KP_SS_V + 12)
#define KP_SS_V_RECEIVED (KP_SS_V + 13)
#define KP_SS_V_LINE  (KP_SS_V + 14)  /* its header line */
#define KP_SS_V_NP    (KP_SS_V + 15)
#define KP_SS_V_P     (KP_SS_V + 16)  /* KP_SS_MAXP x (name_s, name_e, value_s|-1, end) */

/* To and From name-addr: KP_SS_TO / KP_SS_FROM + */
#define KP_SS_TO     130
#define KP_SS_FROM   180
#define KP_SS_N_OK    0
#define KP_SS_N_D0    1   /* display span, D0 -1: '' */
#define KP_SS_N_D1    2
#define KP_SS_N_U0    3   /* uri span */
#define KP_SS_N_U1    4
#define KP_SS_N_BR    5   /* bracketed */
#define KP_SS_N_TAG   6   /* parameter index of the first 'tag', -1 */
#define KP_SS_N_LINE  7
#define KP_SS_N_NP    8
#define KP_SS_N_P     9   /* KP_SS_MAXP x (name_s, name_e, value_s|-1, value_e) */

#define KP_SS_CID_OK  230  /* Call-ID value is a plain token */
#define KP_SS_CS_OK   231  /* CSeq: number span, method span */
#define KP_SS_CS_N0   232
#define KP_SS_CS_N1   233
#define KP_SS_CS_M0   234
#define KP_SS_CS_M1   235
#define KP_SS_CL_OK   236  /* Content-Length value */
#define KP_SS_CL_VAL  237
#define KP_SS_CRC_OK  238  /* sl To-tag CRCs over top Via and Call-ID */
#define KP_SS_CRC1    239
#define KP_SS_CRC2    240
#define KP_SS_EOH     241  /* offset of the empty line ending the block, -1 unless STOP_END */
/* no header line before this one can fail Kamailio's parse_headers (a duplicate
 * Call-ID/To/From/CSeq/Content-Length/Max-Forwards, a Via/To/CSeq/Content-Length the
 * fast path did not accept, a Retry-After): lines from here on need the Python check
 * (SipMsg._bad_line). NHDR when no line is suspect. */
#define KP_SS_BADMIN  242
/* the top Via line holds several via-parms (SIPp's replies: "Via: a, b"), every one in
 * the simple form: V_OK and the V fields are the first, V_NEXT the start of the second
 * (trimmed, as split_commas gives it); -1 when the line holds one via-parm */
#define KP_SS_V_NEXT  243
/* receive_checks' fast accept (the message is as parse_received wants it, no Python
 * check left): version exactly "SIP/2.0"; the top Via, first To, CSeq and Call-ID read
 * here; Content-Length read, or absent with the block complete; a From, not the last
 * line of a block that stopped at a fold; no suspect line (BADMIN) at or above the last
 * of those lines. 0 or 1. */
#define KP_SS_RECV_OK 244
/* every line indexed and none suspect: STOP_END and BADMIN == NHDR (SipMsg's _csc) */
#define KP_SS_CLEAN   245
/* the first Max-Forwards of a CLEAN scan when its value is 1 to 5 ASCII digits written
 * as received (":" or ": " before, the line break right after): the value's span, which
 * is SipMsg.hdr_value_span's answer; -1 otherwise (absent, or read the general way) */
#define KP_SS_MF_S    246
#define KP_SS_MF_E    247

/* the reply copy plan (build_reply): the lines a reply copies, in order, as segments
 * (kind, start, end); consecutive plain lines merged into one segment. Kinds:
 * 0 copy as is; 1 the top Via line (start, line end); 2 the first To line (start, line
 * end); 3 a Record-Route line (copied for 180..299 only); 4 a further Via line whose
 * ending is not a bare CRLF (start, end trimmed of whitespace: add CRLF).
 * KP_SS_SEG_N -1: more segments than fit (use the line index). */
#define KP_SS_SEG_N  248
#define KP_SS_SEG    249
#define KP_SS_SEG_MAX 34

#define KP_SS_HDR    352
#define KP_SS_HREC   7

/* header ids: 0 other, then these (canonical lowercase full names, same order as
 * kamapy.sip.sipscan.KEYS) */
enum {
    KP_H_OTHER = 0, KP_H_VIA, KP_H_FROM, KP_H_TO, KP_H_CALLID, KP_H_CSEQ,
    KP_H_CONTENT_LENGTH, KP_H_CONTACT, KP_H_MAX_FORWARDS, KP_H_ROUTE, KP_H_RECORD_ROUTE,
    KP_H_CONTENT_TYPE, KP_H_EXPIRES, KP_H_AUTHORIZATION, KP_H_PROXY_AUTHORIZATION,
    KP_H_WWW_AUTHENTICATE, KP_H_PROXY_AUTHENTICATE, KP_H_ALLOW, KP_H_SUPPORTED,
    KP_H_REQUIRE, KP_H_PROXY_REQUIRE, KP_H_UNSUPPORTED, KP_H_USER_AGENT, KP_H_SERVER,
    KP_H_EVENT, KP_H_SUBJECT, KP_H_PATH, KP_H_ACCEPT, KP_H_CONTENT_ENCODING,
    KP_H_ALLOW_EVENTS, KP_H_REFERRED_BY, KP_H_REFER_TO, KP_H_SESSION_EXPIRES,
    KP_H_IDENTITY, KP_H_IDENTITY_INFO, KP_H_ACCEPT_CONTACT, KP_H_REJECT_CONTACT,
    KP_H_REQUEST_DISPOSITION, KP_H_MIN_EXPIRES, KP_H_P_ASSERTED_IDENTITY,
    KP_H_P_PREFERRED_IDENTITY, KP_H_DIVERSION, KP_H_PRIVACY, KP_H_DATE,
    KP_H_SUBSCRIPTION_STATE, KP_H_RSEQ, KP_H_RACK, KP_H_SERVICE_ROUTE, KP_H_MIN_SE,
    KP_H_ACCEPT_LANGUAGE, KP_H_ACCEPT_ENCODING, KP_H_CONTENT_DISPOSITION,
    KP_H_ORGANIZATION, KP_H_TIMESTAMP, KP_H_RETRY_AFTER, KP_H_WARNING, KP_H_REASON,
    KP_H_SIP_IF_MATCH,
    KP_H_COUNT
};
#define KP_H_COUNT_ ((int)KP_H_COUNT)
_Static_assert(KP_H_COUNT <= KP_SS_NIDS, "header ids");

/* Scan buf[0:len). out must hold cap int32s (KP_SS_HDR + KP_SS_HREC * lines).
 * Returns the number of ints written (>= KP_SS_HDR), or a KP_SS_E* code. */
int kp_sip_scan(const char *buf, int len, int32_t *out, int cap);

/* CRC-16 as Kamailio's crcitt_string_array computes it, over buf[0:len). */
int kp_crc16(const char *buf, int len);

int kp_scan_via_parm(const char *buf, int s, int e, int32_t *out);

#endif
