/* kp_sipreply: a reply built from the scan's copy plan (see kp_sipreply.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "kp_sipreply.h"
#include "kp_sockaddr.h"
#include "kp_sipscan.h"

/* the output cursor: every write checks the room left once, at the end */
typedef struct {
    char *p;
    char *end;
    int over;
} kp_out_t;

static inline void put(kp_out_t *o, const char *s, int n)
{
    if (n <= 0)
        return;
    if (o->end - o->p < n) {
        o->over = 1;
        return;
    }
    memcpy(o->p, s, n);
    o->p += n;
}

static inline void put_uint(kp_out_t *o, unsigned v)
{
    char tmp[12];
    int i = sizeof(tmp);

    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    put(o, tmp + i, (int)sizeof(tmp) - i);
}

#define WS(c) ((c) == ' ' || (c) == '\t' || (c) == '\r' || (c) == '\n')

static int trim_end(const char *b, int start, int end)
{
    while (end > start && WS(b[end - 1]))
        end--;
    return end;
}

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* kamapy.sip.reply.same_host: the Via host is the source IP (IPv6: either case,
 * with or without brackets) */
static int same_host(const char *h, int hl, const char *ip, int il)
{
    int i;

    if (hl == il && memcmp(h, ip, il) == 0)
        return 1;
    if (memchr(ip, ':', il) == NULL)
        return 0;
    if (hl >= 1 && h[0] == '[') {
        h++;
        hl = hl >= 2 ? hl - 2 : 0;
    }
    if (hl != il)
        return 0;
    for (i = 0; i < il; i++)
        if (lower((unsigned char)h[i]) != lower((unsigned char)ip[i]))
            return 0;
    return 1;
}

/* the top Via header (start .. end of its body, the line break not included) as
 * Kamailio's build_res_buf_from_sip_req copies it: an rport parameter is replaced in
 * place by ;rport=<source port>; without one, force_rport appends ;rport=<port> at the
 * end of the header body (after any further vias on the same line); ;received=<source
 * IP> is appended at the very end when received_test() says so (a received or rport
 * parameter, or a Via host other than the source IP). */
static void top_via(kp_out_t *o, const char *b, const int32_t *sc, int start, int line_end,
        const char *ip, int il, int port, int force_rport)
{
    int ri = sc[KP_SS_V_RPORT];
    int add_received = sc[KP_SS_V_RECEIVED] >= 0 || ri >= 0
        || !same_host(b + sc[KP_SS_V_H0], sc[KP_SS_V_H1] - sc[KP_SS_V_H0], ip, il);

    if (ri >= 0) {
        const int32_t *pp = sc + KP_SS_V_P + 4 * ri;
        put(o, b + start, pp[0] - 1 - start); /* up to the ';' before the old rport */
        put(o, ";rport=", 7);
        put_uint(o, (unsigned)port);
        put(o, b + pp[3], line_end - pp[3]);
    } else {
        put(o, b + start, line_end - start);
        if (force_rport) {
            put(o, ";rport=", 7);
            put_uint(o, (unsigned)port);
        }
    }
    if (add_received) {
        put(o, ";received=", 10);
        put(o, ip, il);
    }
}

int kp_sip_reply(const char *buf, int len, const char *scan, int code,
        const char *reason, int reason_len, const char *to_tag, int to_tag_len,
        const char *src_ip, int src_ip_len, int src_port, int force_rport,
        const char *extra, int extra_len, const char *server, int server_len,
        const char *body, int body_len, char *out, int cap)
{
    const int32_t *sc = (const int32_t *)scan;
    kp_out_t o = {out, out + cap, 0};
    int nseg = sc[KP_SS_SEG_N], k;
    int with_tag = to_tag != NULL && code >= 180;

    (void)len;
    if (sc[KP_SS_TYPE] != 1 || sc[KP_SS_STOP] != KP_SS_STOP_END || nseg < 0 || !sc[KP_SS_V_OK]
            || code < 100 || code > 999)
        return KP_SR_FALLBACK;
    if (with_tag && !sc[KP_SS_TO + KP_SS_N_OK] && sc[KP_SS_FIRST + KP_H_TO] >= 0)
        return KP_SR_FALLBACK;  /* the To's tag needs the Python parser */

    put(&o, buf + sc[KP_SS_C0], sc[KP_SS_C1] - sc[KP_SS_C0]);
    put(&o, " ", 1);
    put_uint(&o, (unsigned)code);
    put(&o, " ", 1);
    put(&o, reason, reason_len);
    put(&o, "\r\n", 2);
    for (k = 0; k < nseg; k++) {
        const int32_t *sg = sc + KP_SS_SEG + 3 * k;
        int start = sg[1], end = sg[2];

        switch (sg[0]) {
        case 0:
            put(&o, buf + start, end - start);
            break;
        case 1:
            top_via(&o, buf, sc, start, trim_end(buf, start, end), src_ip, src_ip_len,
                    src_port, force_rport);
            put(&o, "\r\n", 2);
            break;
        case 2: {
            int has_tag = 0;
            if (with_tag) {
                int ti = sc[KP_SS_TO + KP_SS_N_TAG];
                /* scan_to_tag(): a tag without a value counts as none */
                has_tag = ti >= 0 && sc[KP_SS_TO + KP_SS_N_P + 4 * ti + 2] >= 0;
            }
            if (with_tag && !has_tag) {
                int body_end = trim_end(buf, start, end);
                put(&o, buf + start, body_end - start);
                put(&o, ";tag=", 5);
                put(&o, to_tag, to_tag_len);
                put(&o, buf + body_end, end - body_end);
            } else {
                put(&o, buf + start, end - start);
            }
            break;
        }
        case 3:
            if (code >= 180 && code < 300)
                put(&o, buf + start, end - start);
            break;
        case 4:
            put(&o, buf + start, end - start);
            put(&o, "\r\n", 2);
            break;
        default:
            return KP_SR_FALLBACK;
        }
    }
    put(&o, extra, extra_len);
    if (server_len > 0) {
        put(&o, server, server_len);
        put(&o, "\r\n", 2);
    }
    put(&o, "Content-Length: ", 16);
    put_uint(&o, (unsigned)(body_len > 0 ? body_len : 0));
    put(&o, "\r\n\r\n", 4);
    put(&o, body, body_len);
    return o.over ? KP_SR_ECAP : (int)(o.p - out);
}

int kp_sl_reply_send(int fd, int af, const char *buf, int len, const char *scan, int code,
        const char *reason, int reason_len, const char *sl_tag_prefix, int prefix_len,
        const char *src_ip, int src_ip_len, int src_port, int force_rport,
        const char *extra, int extra_len, const char *server, int server_len,
        const char *body, int body_len, char *out, int cap)
{
    static const char hex[] = "0123456789abcdef";
    const int32_t *sc = (const int32_t *)scan;
    char tag[160], ip[64];
    const char *t = NULL;
    int tl = 0, n, port, k;
    kp_sockaddr_t to;
    socklen_t to_len;

    if (code >= 180 && sl_tag_prefix != NULL) {
        /* computed whenever the reply may need it; kp_sip_reply() decides whether the
         * To has a tag already */
        if (!sc[KP_SS_CRC_OK] || prefix_len < 0 || prefix_len > (int)sizeof(tag) - 8)
            return KP_SR_FALLBACK;
        memcpy(tag, sl_tag_prefix, prefix_len);
        tl = prefix_len;
        for (k = 0; k < 2; k++) {
            unsigned crc = (unsigned)sc[k ? KP_SS_CRC2 : KP_SS_CRC1];
            tag[tl++] = hex[crc & 0xf];
            tag[tl++] = hex[(crc >> 4) & 0xf];
            tag[tl++] = hex[(crc >> 8) & 0xf];
            tag[tl++] = hex[(crc >> 12) & 0xf];
        }
        t = tag;
    }
    if (src_ip_len <= 0 || src_ip_len >= (int)sizeof(ip))
        return KP_SR_FALLBACK;
    memcpy(ip, src_ip, src_ip_len);
    ip[src_ip_len] = 0;
    if (sc[KP_SS_TYPE] != 1 || !sc[KP_SS_V_OK])
        return KP_SR_FALLBACK;
    port = (sc[KP_SS_V_RPORT] >= 0 || force_rport) ? src_port
        : (sc[KP_SS_V_PORT] > 0 ? sc[KP_SS_V_PORT] : 5060);
    to_len = kp_sockaddr_set(&to, ip, port, af == 6 ? AF_INET6 : AF_INET, NULL);
    if (!to_len)
        return KP_SR_FALLBACK;
    n = kp_sip_reply(buf, len, scan, code, reason, reason_len, t, tl, src_ip, src_ip_len,
            src_port, force_rport, extra, extra_len, server, server_len, body, body_len, out, cap);
    if (n < 0)
        return n;
    for (;;) {
        if (sendto(fd, out, n, 0, &to.sa, to_len) >= 0)
            return n;
        if (errno != EINTR)
            return KP_SR_ESEND - errno;
    }
}
