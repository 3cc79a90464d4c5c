/* kp_sipreply: the bytes of a locally generated reply to a scanned request, in one
 * pass over the scan's reply copy plan (kp_sipscan.h KP_SS_SEG). Same rules and same
 * output as kamapy.sip.reply.build_reply's Python path (RFC 3261 §8.2.6 as Kamailio's
 * build_res_buf_from_sip_req applies it, rport/received per RFC 3581):
 *
 *   <version> SP <code> SP <reason> CRLF
 *   the plan's lines (top Via with ;rport/;received, To with the tag, Record-Route
 *   only for 180..299)
 *   <extra header lines> [<server header> CRLF] Content-Length: <n> CRLF CRLF <body>
 *
 * It answers only what the plan covers: the whole header block scanned, the top Via in
 * the scan's simple form, and (when a tag is to be added) the To parsed by the scan.
 * Anything else returns KP_SR_FALLBACK and the Python path builds the reply. */
#ifndef KP_SIPREPLY_H
#define KP_SIPREPLY_H

#include <stdint.h>

#define KP_SR_FALLBACK -1  /* not a case for the plan: build it in Python */
#define KP_SR_ECAP     -2  /* out is too small */

/* buf/len: the request; scan: its kp_sip_scan() output (int32s, as bytes);
 * to_tag: NULL or the tag to add (code >= 180, To without a tag);
 * src_ip/src_port: where the request came from; force_rport: as the core flag. */
int kp_sip_reply(const char *buf, int len, const char *scan, int code,
        const char *reason, int reason_len, const char *to_tag, int to_tag_len,
        const char *src_ip, int src_ip_len, int src_port, int force_rport,
        const char *extra, int extra_len, const char *server, int server_len,
        const char *body, int body_len, char *out, int cap);

/* sl's reply in one call: the To-tag (when the reply needs one: code >= 180 and the To
 * has none) is sl_tag_prefix followed by sl's CRC suffix over the top Via and Call-ID
 * (kp_sipscan's CRC1/CRC2, as kamapy.sip.reply.sl_to_tag); the reply is built as
 * kp_sip_reply() builds it and sent on fd to where a reply goes: the source IP; the
 * source port with rport or force_rport, else the Via's port (5060 when none).
 * af: 4 or 6, the family of src_ip. Returns the bytes sent, KP_SR_FALLBACK (also when
 * src_ip is not a plain address, or a tag is needed and the CRCs are unknown),
 * KP_SR_ECAP, or KP_SR_ESEND - errno when sendto() failed. */
#define KP_SR_ESEND -1000
int kp_sl_reply_send(int fd, int af, const char *buf, int len, const char *scan, int code,
        const char *reason, int reason_len, const char *sl_tag_prefix, int prefix_len,
        const char *src_ip, int src_ip_len, int src_port, int force_rport,
        const char *extra, int extra_len, const char *server, int server_len,
        const char *body, int body_len, char *out, int cap);

#endif
