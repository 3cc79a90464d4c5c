/* kp_sipscan: the SIP tokenizer behind kamapy.sip.msg (see kp_sipscan.h).
 *
 * Every rule here mirrors a Python parser in kamapy/sip (msg.py _scan, via.py
 * _parse_one, nameaddr.py parse_nameaddr, cseq.py, header_values.py): where the input
 * is not in the simple form, the field is simply not marked OK and Python decides.
 */
#include <string.h>
#include <strings.h>
#include "kp_sipscan.h"

typedef unsigned char u8;

/* str.isspace() for latin-1 characters (what Python's strip() removes) */
static const u8 PYSPACE[256] = {
    ['\t'] = 1, ['\n'] = 1, [0x0b] = 1, [0x0c] = 1, ['\r'] = 1, [0x1c] = 1, [0x1d] = 1,
    [0x1e] = 1, [0x1f] = 1, [' '] = 1, [0x85] = 1, [0xa0] = 1,
};
#define PYSP(c) (PYSPACE[(u8)(c)])
/* kamapy.sip.scan.WS: " \t\r\n" */
#define WS(c) ((c) == ' ' || (c) == '\t' || (c) == '\r' || (c) == '\n')
#define DIGIT(c) ((u8)(c) >= '0' && (u8)(c) <= '9')
#define ALNUM(c) (DIGIT(c) || ((u8)((c) | 0x20) >= 'a' && (u8)((c) | 0x20) <= 'z'))

/* characters a header name may not hold (kamapy.sip.headers._NAME_BAD) */
static int name_bad(u8 c)
{
    if (c >= 0x80)
        return 1;
    switch (c) {
    case ' ': case '\t': case '\r': case '\n': case '"': case '<': case '>': case '@':
    case ':': case ',': case ';': case '(': case ')': case '[': case ']': case '{':
    case '}': case '/': case '\\': case '?': case '=':
        return 1;
    }
    return 0;
}

/* characters a Via parameter name may not hold (via.py _token_ok) */
static int vparam_bad(u8 c)
{
    if (c >= 0x80)
        return 1;
    switch (c) {
    case ' ': case '\t': case '\r': case '\n': case '"': case '<': case '>': case '@':
    case ':': case ',': case ';': case '/': case '[': case ']': case '?': case '=':
        return 1;
    }
    return 0;
}

struct hname { const char *name; int len; int id; };

static const struct hname HNAMES[] = {
    {"via", 3, KP_H_VIA}, {"v", 1, KP_H_VIA},
    {"from", 4, KP_H_FROM}, {"f", 1, KP_H_FROM},
    {"to", 2, KP_H_TO}, {"t", 1, KP_H_TO},
    {"call-id", 7, KP_H_CALLID}, {"i", 1, KP_H_CALLID},
    {"cseq", 4, KP_H_CSEQ},
    {"content-length", 14, KP_H_CONTENT_LENGTH}, {"l", 1, KP_H_CONTENT_LENGTH},
    {"contact", 7, KP_H_CONTACT}, {"m", 1, KP_H_CONTACT},
    {"max-forwards", 12, KP_H_MAX_FORWARDS},
    {"route", 5, KP_H_ROUTE},
    {"record-route", 12, KP_H_RECORD_ROUTE},
    {"content-type", 12, KP_H_CONTENT_TYPE}, {"c", 1, KP_H_CONTENT_TYPE},
    {"expires", 7, KP_H_EXPIRES},
    {"authorization", 13, KP_H_AUTHORIZATION},
    {"proxy-authorization", 19, KP_H_PROXY_AUTHORIZATION},
    {"www-authenticate", 16, KP_H_WWW_AUTHENTICATE},
    {"proxy-authenticate", 18, KP_H_PROXY_AUTHENTICATE},
    {"allow", 5, KP_H_ALLOW},
    {"supported", 9, KP_H_SUPPORTED}, {"k", 1, KP_H_SUPPORTED},
    {"require", 7, KP_H_REQUIRE},
    {"proxy-require", 13, KP_H_PROXY_REQUIRE},
    {"unsupported", 11, KP_H_UNSUPPORTED},
    {"user-agent", 10, KP_H_USER_AGENT},
    {"server", 6, KP_H_SERVER},
    {"event", 5, KP_H_EVENT}, {"o", 1, KP_H_EVENT},
    {"subject", 7, KP_H_SUBJECT}, {"s", 1, KP_H_SUBJECT},
    {"path", 4, KP_H_PATH},
    {"accept", 6, KP_H_ACCEPT},
    {"content-encoding", 16, KP_H_CONTENT_ENCODING}, {"e", 1, KP_H_CONTENT_ENCODING},
    {"allow-events", 12, KP_H_ALLOW_EVENTS}, {"u", 1, KP_H_ALLOW_EVENTS},
    {"referred-by", 11, KP_H_REFERRED_BY}, {"b", 1, KP_H_REFERRED_BY},
    {"refer-to", 8, KP_H_REFER_TO}, {"r", 1, KP_H_REFER_TO},
    {"session-expires", 15, KP_H_SESSION_EXPIRES}, {"x", 1, KP_H_SESSION_EXPIRES},
    {"identity", 8, KP_H_IDENTITY}, {"y", 1, KP_H_IDENTITY},
    {"identity-info", 13, KP_H_IDENTITY_INFO}, {"n", 1, KP_H_IDENTITY_INFO},
    {"accept-contact", 14, KP_H_ACCEPT_CONTACT}, {"a", 1, KP_H_ACCEPT_CONTACT},
    {"reject-contact", 14, KP_H_REJECT_CONTACT}, {"j", 1, KP_H_REJECT_CONTACT},
    {"request-disposition", 19, KP_H_REQUEST_DISPOSITION}, {"d", 1, KP_H_REQUEST_DISPOSITION},
    {"min-expires", 11, KP_H_MIN_EXPIRES},
    {"p-asserted-identity", 19, KP_H_P_ASSERTED_IDENTITY},
    {"p-preferred-identity", 20, KP_H_P_PREFERRED_IDENTITY},
    {"diversion", 9, KP_H_DIVERSION},
    {"privacy", 7, KP_H_PRIVACY},
    {"date", 4, KP_H_DATE},
    {"subscription-state", 18, KP_H_SUBSCRIPTION_STATE},
    {"rseq", 4, KP_H_RSEQ},
    {"rack", 4, KP_H_RACK},
    {"service-route", 13, KP_H_SERVICE_ROUTE},
    {"min-se", 6, KP_H_MIN_SE},
    {"accept-language", 15, KP_H_ACCEPT_LANGUAGE},
    {"accept-encoding", 15, KP_H_ACCEPT_ENCODING},
    {"content-disposition", 19, KP_H_CONTENT_DISPOSITION},
    {"organization", 12, KP_H_ORGANIZATION},
    {"timestamp", 9, KP_H_TIMESTAMP},
    {"retry-after", 11, KP_H_RETRY_AFTER},
    {"warning", 7, KP_H_WARNING},
    {"reason", 6, KP_H_REASON},
    {"sip-if-match", 12, KP_H_SIP_IF_MATCH},
    {0, 0, 0}
};

/* header-name characters: 0xff when not allowed in a name (name_bad), else the
 * character lowercased (NUL is allowed, as in Python) */
static u8 NAMECH[256];

/* HNAMES bucketed by (first letter, length): a name is compared with 0-2 entries */
#define HB_LEN 24
static uint8_t HB[26][HB_LEN + 1][3];  /* up to 2 entry numbers + 1, 0-terminated */
static int tables_ready;
static void crc_init(void);

static void tables_init(void)
{
    for (int k = 0; HNAMES[k].name; k++) {
        const struct hname *h = &HNAMES[k];
        uint8_t *slot = HB[h->name[0] - 'a'][h->len];
        int j = 0;
        while (slot[j])
            j++;
        slot[j] = (uint8_t)(k + 1);  /* (no bucket holds more than 2: checked by the tests) */
    }
    for (int c = 0; c < 256; c++)
        NAMECH[c] = name_bad((u8)c) ? 0xff : (u8)((c >= 'A' && c <= 'Z') ? c | 0x20 : c);
    crc_init();
    tables_ready = 1;
}

/* -1 for a bad name (kamapy.sip.headers.name_key refuses it), else the id of the name
 * (lowercased match), KP_H_OTHER when unknown */
static int header_id(const u8 *p, int n)
{
    char low[HB_LEN];
    int known = n <= HB_LEN;
    for (int i = 0; i < n; i++) {
        u8 c = NAMECH[p[i]];
        if (c == 0xff)
            return -1;
        if (i < HB_LEN)
            low[i] = (char)c;
    }
    if (!known || low[0] < 'a' || low[0] > 'z')
        return KP_H_OTHER;
    const uint8_t *slot = HB[low[0] - 'a'][n];
    for (int j = 0; j < 2 && slot[j]; j++) {
        const struct hname *h = &HNAMES[slot[j] - 1];
        if (memcmp(h->name, low, n) == 0)
            return h->id;
    }
    return KP_H_OTHER;
}

static const u8 *findc(const u8 *p, const u8 *end, u8 c)
{
    return p < end ? memchr(p, c, end - p) : NULL;
}

/* ------------------------------------------------------------------ Via */

/* via.py parse_via + _parse_one over b[s:e] (already trimmed of WS), simple form only */
static int scan_via(const u8 *b, int s, int e, int32_t *o)
{
    int i, semi = -1;
    if (s >= e)
        return 0;
    for (i = s; i < e; i++) {
        if (b[i] == ',')
            return 0;  /* several via-parms: Python */
        if (b[i] == ';' && semi < 0)
            semi = i;
    }
    int head_end = semi < 0 ? e : semi;
    if (head_end - s < 8 || memcmp(b + s, "SIP/2.0/", 8) != 0)
        return 0;
    int t0 = s + 8, t1 = t0;
    while (t1 < head_end && ALNUM(b[t1]))
        t1++;
    if (t1 == t0 || t1 >= head_end || (b[t1] != ' ' && b[t1] != '\t'))
        return 0;
    int h0 = t1;
    while (h0 < head_end && (b[h0] == ' ' || b[h0] == '\t'))
        h0++;
    if (h0 >= head_end || PYSP(b[h0]))
        return 0;
    int sbe = head_end;
    while (sbe > h0 && WS(b[sbe - 1]))
        sbe--;
    int h1, port = -1, p0 = -1, p1 = -1;
    if (b[h0] == '[') {
        h1 = h0 + 1;
        while (h1 < sbe && (DIGIT(b[h1]) || b[h1] == ':' || b[h1] == '.' ||
                ((b[h1] | 0x20) >= 'a' && (b[h1] | 0x20) <= 'f')))
            h1++;
        if (h1 >= sbe || b[h1] != ']' || h1 - h0 < 4)
            return 0;
        h1++;
    } else {
        int alnum = 0;
        h1 = h0;
        while (h1 < sbe && (ALNUM(b[h1]) || b[h1] == '.' || b[h1] == '-' || b[h1] == '_')) {
            alnum |= ALNUM(b[h1]);
            h1++;
        }
        if (!alnum)
            return 0;
    }
    if (h1 < sbe) {
        if (b[h1] != ':')
            return 0;
        p0 = h1 + 1;
        p1 = p0;
        port = 0;
        while (p1 < sbe && DIGIT(b[p1])) {
            port = port * 10 + (b[p1] - '0');
            p1++;
            if (p1 - p0 > 5)
                return 0;
        }
        if (p1 != sbe || p1 == p0 || port > 65535)
            return 0;
    }
    o[KP_SS_V_S - KP_SS_V] = s;
    o[KP_SS_V_E - KP_SS_V] = e;
    o[KP_SS_V_T0 - KP_SS_V] = t0;
    o[KP_SS_V_T1 - KP_SS_V] = t1;
    o[KP_SS_V_H0 - KP_SS_V] = h0;
    o[KP_SS_V_H1 - KP_SS_V] = h1;
    o[KP_SS_V_PORT - KP_SS_V] = port;
    o[KP_SS_V_P0 - KP_SS_V] = p0;
    o[KP_SS_V_P1 - KP_SS_V] = p1;
    o[KP_SS_V_SBE - KP_SS_V] = sbe;
    o[KP_SS_V_BRANCH - KP_SS_V] = -1;
    o[KP_SS_V_RPORT - KP_SS_V] = -1;
    o[KP_SS_V_RECEIVED - KP_SS_V] = -1;
    int np = 0;
    int32_t *pp = o + (KP_SS_V_P - KP_SS_V);
    if (semi >= 0) {
        if (findc(b + semi + 1, b + e, '"'))
            return 0;
        int ps = semi + 1;
        while (ps <= e) {
            const u8 *q = findc(b + ps, b + e, ';');
            int pe = q ? (int)(q - b) : e;
            int next = pe + 1;
            while (ps < pe && WS(b[ps]))
                ps++;
            while (pe > ps && WS(b[pe - 1]))
                pe--;
            if (pe == ps && q != NULL)
                return 0;  /* ";;": an error to Kamailio, Python raises it */
            if (pe > ps) {
                if (np >= KP_SS_MAXP)
                    return 0;
                const u8 *eqp = findc(b + ps, b + pe, '=');
                int ne, vs;
                if (eqp == NULL) {
                    ne = pe;
                    vs = -1;
                } else {
                    ne = (int)(eqp - b);
                    vs = ne + 1;
                    while (ne > ps && WS(b[ne - 1]))
                        ne--;
                    while (vs < pe && WS(b[vs]))
                        vs++;
                }
                if (ne == ps)
                    return 0;
                for (i = ps; i < ne; i++)
                    if (vparam_bad(b[i]))
                        return 0;
                int nlen = ne - ps;
                int32_t *slot = NULL;
                if (nlen == 6 && (b[ps] | 0x20) == 'b') {
                    static const char br[] = "branch";
                    int k;
                    for (k = 0; k < 6 && (b[ps + k] | 0x20) == br[k]; k++)
                        ;
                    if (k == 6)
                        slot = &o[KP_SS_V_BRANCH - KP_SS_V];
                } else if (nlen == 5 && (b[ps] | 0x20) == 'r') {
                    static const char rp[] = "rport";
                    int k;
                    for (k = 0; k < 5 && (b[ps + k] | 0x20) == rp[k]; k++)
                        ;
                    if (k == 5)
                        slot = &o[KP_SS_V_RPORT - KP_SS_V];
                } else if (nlen == 8 && (b[ps] | 0x20) == 'r') {
                    static const char rc[] = "received";
                    int k;
                    for (k = 0; k < 8 && (b[ps + k] | 0x20) == rc[k]; k++)
                        ;
                    if (k == 8)
                        slot = &o[KP_SS_V_RECEIVED - KP_SS_V];
                }
                if (slot && *slot < 0)
                    *slot = np;
                pp[4 * np] = ps;
                pp[4 * np + 1] = ne;
                pp[4 * np + 2] = vs;
                pp[4 * np + 3] = pe;
                np++;
            }
            ps = next;
        }
    }
    o[KP_SS_V_NP - KP_SS_V] = np;
    return 1;
}

/* one via-parm, buf[s:e] already trimmed, as the fast path reads the top Via: 1 and
 * out[KP_SS_V..] filled (out holds at least KP_SS_V_P + 4 * KP_SS_MAXP ints), or 0
 * when it is not in the simple form (Python's parser decides then). */
int kp_scan_via_parm(const char *buf, int s, int e, int32_t *out)
{
    return scan_via((const u8 *)buf, s, e, out + KP_SS_V);
}

/* a Via header line whose every via-parm the fast path takes: no quote or bracket
 * (so commas separate via-parms), each comma-separated piece, trimmed, a scan_via
 * success. Python's parse_via then gives the same via-parms without raising, so the
 * line need not be a suspect for SipMsg._bad_line. SIPp's [last_Via:] writes the
 * Vias of a reply on one line like this. */
static int via_line_ok(const u8 *b, int s, int e, int32_t *scratch)
{
    if (findc(b + s, b + e, '"') || findc(b + s, b + e, '<'))
        return 0;
    int ps = s;
    while (ps <= e) {
        const u8 *q = findc(b + ps, b + e, ',');
        int pe = q ? (int)(q - b) : e;
        int next = pe + 1;
        while (ps < pe && WS(b[ps]))
            ps++;
        while (pe > ps && WS(b[pe - 1]))
            pe--;
        if (pe == ps || !scan_via(b, ps, pe, scratch))
            return 0;  /* an empty piece (Python skips it) is left to Python too */
        ps = next;
    }
    return 1;
}

/* ------------------------------------------------------------------ name-addr */

/* nameaddr.py parse_to_body over b[s:e] (the header value, stripped), simple form only:
 * whatever its strict To/From rules look at (NUL, blanks in <uri> or in a parameter,
 * ',', empty parameters) is left to Python */
static int has_blank(const u8 *b, int s, int e)
{
    for (int k = s; k < e; k++)
        if (b[k] == ' ' || b[k] == '\t')
            return 1;
    return 0;
}

static int scan_nameaddr(const u8 *b, int s, int e, int32_t *o)
{
    int i = s, d0 = -1, d1 = -1, u0, u1, br, rs, re;
    const u8 *q;
    while (s < e && WS(b[s]))
        s++;
    while (e > s && WS(b[e - 1]))
        e--;
    if (s >= e || memchr(b + s, 0, e - s))
        return 0;
    i = s;
    if (b[i] == '"') {
        q = findc(b + i + 1, b + e, '"');
        if (q == NULL || memchr(b + i + 1, '\\', q - (b + i + 1)))
            return 0;
        d0 = i;
        d1 = (int)(q - b) + 1;
        i = d1;
        while (i < e && WS(b[i]))
            i++;
        if (i >= e || b[i] != '<')
            return 0;
    }
    q = findc(b + i, b + e, '<');
    if (q) {
        int lt = (int)(q - b);
        if (d0 < 0) {
            int a = i, z = lt;
            while (a < z && PYSP(b[a]))
                a++;
            while (z > a && PYSP(b[z - 1]))
                z--;
            if (findc(b + a, b + z, '"') || findc(b + a, b + z, '>'))
                return 0;
            if (z > a) {
                d0 = a;
                d1 = z;
            }
        }
        q = findc(b + lt + 1, b + e, '>');
        if (q == NULL)
            return 0;
        int gt = (int)(q - b);
        u0 = lt + 1;
        u1 = gt;
        while (u0 < u1 && PYSP(b[u0]))
            u0++;
        while (u1 > u0 && PYSP(b[u1 - 1]))
            u1--;
        if (has_blank(b, u0, u1))
            return 0;
        rs = gt + 1;
        re = e;
        br = 1;
    } else {
        if (findc(b + i, b + e, '>'))
            return 0;
        q = findc(b + i, b + e, ';');
        u0 = i;
        if (q == NULL) {
            u1 = e;
            rs = re = e;
        } else {
            u1 = (int)(q - b);
            while (u1 > u0 && PYSP(b[u1 - 1]))
                u1--;
            rs = (int)(q - b);
            re = e;
        }
        if (findc(b + u0, b + u1, ' ') || findc(b + u0, b + u1, '\t'))
            return 0;
        br = 0;
    }
    if (u1 <= u0)
        return 0;
    while (rs < re && PYSP(b[rs]))
        rs++;
    while (re > rs && PYSP(b[re - 1]))
        re--;
    int np = 0, tag = -1;
    int32_t *pp = o + KP_SS_N_P;
    if (rs < re) {
        if (b[rs] != ';')
            return 0;
        rs++;
        if (findc(b + rs, b + re, '"') || findc(b + rs, b + re, ','))
            return 0;
        int ps = rs;
        while (ps <= re) {
            q = findc(b + ps, b + re, ';');
            int pe = q ? (int)(q - b) : re;
            int next = pe + 1;
            const u8 *eqp = findc(b + ps, b + pe, '=');
            int ns = ps, ne = eqp ? (int)(eqp - b) : pe, vs = -1, ve = -1;
            while (ns < ne && WS(b[ns]))
                ns++;
            while (ne > ns && WS(b[ne - 1]))
                ne--;
            if (eqp) {
                vs = (int)(eqp - b) + 1;
                ve = pe;
                while (vs < ve && WS(b[vs]))
                    vs++;
                while (ve > vs && WS(b[ve - 1]))
                    ve--;
                if (ne == ns || has_blank(b, vs, ve) || findc(b + vs, b + ve, '='))
                    return 0;  /* empty parameter name, or a value Python refuses */
            }
            if (ne == ns || has_blank(b, ns, ne))
                return 0;  /* ';;', a trailing ';', a blank inside a name */
            {
                if (np >= KP_SS_MAXP)
                    return 0;
                if (tag < 0 && ne - ns == 3 && (b[ns] | 0x20) == 't' && (b[ns + 1] | 0x20) == 'a'
                        && (b[ns + 2] | 0x20) == 'g')
                    tag = np;
                pp[4 * np] = ns;
                pp[4 * np + 1] = ne;
                pp[4 * np + 2] = vs;
                pp[4 * np + 3] = ve;
                np++;
            }
            ps = next;
        }
    }
    o[KP_SS_N_D0] = d0;
    o[KP_SS_N_D1] = d1;
    o[KP_SS_N_U0] = u0;
    o[KP_SS_N_U1] = u1;
    o[KP_SS_N_BR] = br;
    o[KP_SS_N_TAG] = tag;
    o[KP_SS_N_NP] = np;
    return 1;
}

/* ------------------------------------------------------------------ CRC */

/* CRC-16/X-25: reflected CCITT polynomial (0x8408), init 0xffff, output inverted */
static uint16_t CRC_TAB[256], CRC_TAB2[256];  /* one byte / the byte before it (slice-by-2) */

static void crc_init(void)
{
    for (unsigned i = 0; i < 256; i++) {
        unsigned c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ 0x8408 : c >> 1;
        CRC_TAB[i] = (uint16_t)c;
    }
    for (unsigned i = 0; i < 256; i++)
        CRC_TAB2[i] = (uint16_t)((CRC_TAB[i] >> 8) ^ CRC_TAB[CRC_TAB[i] & 0xff]);
}

static unsigned crc_feed(unsigned crc, const u8 *p, int n)
{
    while (n >= 2) {
        crc ^= (unsigned)p[0] | ((unsigned)p[1] << 8);
        crc = CRC_TAB2[crc & 0xff] ^ CRC_TAB[crc >> 8];
        p += 2;
        n -= 2;
    }
    if (n)
        crc = (crc >> 8) ^ CRC_TAB[(crc ^ *p) & 0xff];
    return crc;
}

int kp_crc16(const char *buf, int len)
{
    if (!tables_ready)
        tables_init();
    return (int)(~crc_feed(0xffff, (const u8 *)buf, len) & 0xffff);
}

/* ------------------------------------------------------------------ the scan */

static int first_line(const u8 *b, int len, int32_t *out)
{
    const u8 *end = b + len, *p = b, *q;
    int eol = -1, nl = 2;
    while ((q = findc(p, end, '\r')) != NULL) {
        if (q + 1 < end && q[1] == '\n') {
            eol = (int)(q - b);
            break;
        }
        p = q + 1;
    }
    if (eol < 0) {
        q = findc(b, end, '\n');
        if (q == NULL)
            return KP_SS_ENOFL;
        eol = (int)(q - b);
        nl = 1;
    }
    out[KP_SS_FLE] = eol;
    out[KP_SS_NL] = nl;
    if (eol >= 4 && memcmp(b, "SIP/", 4) == 0) {
        q = findc(b, b + eol, ' ');
        if (q == NULL)
            return KP_SS_EBADSTATUS;
        int v1 = (int)(q - b), c0 = v1 + 1;
        q = findc(b + c0, b + eol, ' ');
        int c1 = q ? (int)(q - b) : eol;
        if (c1 - c0 != 3 || !DIGIT(b[c0]) || !DIGIT(b[c0 + 1]) || !DIGIT(b[c0 + 2]))
            return KP_SS_EBADSTATUS;
        out[KP_SS_TYPE] = 2;
        out[KP_SS_A0] = 0;
        out[KP_SS_A1] = v1;
        out[KP_SS_B0] = (b[c0] - '0') * 100 + (b[c0 + 1] - '0') * 10 + (b[c0 + 2] - '0');
        out[KP_SS_B1] = 0;
        out[KP_SS_C0] = q ? c1 + 1 : -1;
        out[KP_SS_C1] = eol;
        return 0;
    }
    q = findc(b, b + eol, ' ');
    if (q == NULL)
        return KP_SS_EBADREQ;
    int m1 = (int)(q - b);
    q = findc(b + m1 + 1, b + eol, ' ');
    if (q == NULL)
        return KP_SS_EBADREQ;
    int r1 = (int)(q - b), v0 = r1 + 1, v1 = eol;
    q = findc(b + v0, b + eol, ' ');
    if (q) {
        /* Kamailio takes "SIP/2.0 " with trailing blanks: the version ends at them */
        v1 = (int)(q - b);
        for (; q < b + eol; q++)
            if (*q != ' ' && *q != '\t')
                return KP_SS_EBADREQ;
    }
    if (!((v1 - v0 >= 4 && strncasecmp((const char *)b + v0, "SIP/", 4) == 0)
            || (v1 - v0 >= 5 && memcmp(b + v0, "HTTP/", 5) == 0)))
        return KP_SS_EBADREQ;
    if (m1 == 0 || r1 == m1 + 1)
        return KP_SS_EBADREQ;
    out[KP_SS_TYPE] = 1;
    out[KP_SS_A0] = 0;
    out[KP_SS_A1] = m1;
    out[KP_SS_B0] = m1 + 1;
    out[KP_SS_B1] = r1;
    out[KP_SS_C0] = v0;
    out[KP_SS_C1] = v1;
    return 0;
}

/* KP_SS_RECV_OK and KP_SS_CLEAN from the rest of the scan (see kp_sipscan.h) */
static void scan_verdicts(const u8 *b, int32_t *out)
{
    int n = out[KP_SS_NHDR], stop = out[KP_SS_STOP];
    int vs = out[KP_SS_TYPE] == 1 ? out[KP_SS_C0] : out[KP_SS_A0];
    int ve = out[KP_SS_TYPE] == 1 ? out[KP_SS_C1] : out[KP_SS_A1];
    int badmin = out[KP_SS_BADMIN], frm = out[KP_SS_FIRST + KP_H_FROM];
    int cl = out[KP_SS_FIRST + KP_H_CONTENT_LENGTH], last, ok;

    out[KP_SS_CLEAN] = stop == KP_SS_STOP_END && badmin >= n;
    out[KP_SS_MF_S] = out[KP_SS_MF_E] = -1;
    int mf = out[KP_SS_FIRST + KP_H_MAX_FORWARDS];
    if (out[KP_SS_CLEAN] && mf >= 0) {
        const int32_t *r = out + KP_SS_HDR + KP_SS_HREC * mf;
        int s = r[3], e = r[4], le = r[5], k;
        if (s < e && e - s <= 5 && s >= 2 && (b[s - 1] == ':' || (b[s - 1] == ' ' && b[s - 2] == ':'))
                && b[le - 1] == '\n' && (e + 1 == le || (e + 2 == le && b[e] == '\r'))) {
            for (k = s; k < e && b[k] >= '0' && b[k] <= '9'; k++)
                ;
            if (k == e) {
                out[KP_SS_MF_S] = s;
                out[KP_SS_MF_E] = e;
            }
        }
    }
    ok = vs >= 0 && ve - vs == 7 && memcmp(b + vs, "SIP/2.0", 7) == 0
        && out[KP_SS_V_OK] && out[KP_SS_TO + KP_SS_N_OK] && out[KP_SS_CS_OK] && out[KP_SS_CID_OK]
        && (out[KP_SS_CL_OK] || (cl < 0 && stop == KP_SS_STOP_END))
        && frm >= 0 && (frm != n - 1 || stop != KP_SS_STOP_FOLD);
    if (ok && badmin < n) {
        static const int ids[4] = {KP_H_TO, KP_H_CALLID, KP_H_CSEQ, KP_H_VIA};
        last = frm > (cl >= 0 ? cl : n - 1) ? frm : (cl >= 0 ? cl : n - 1);
        for (int k = 0; k < 4; k++)
            if (out[KP_SS_FIRST + ids[k]] > last)
                last = out[KP_SS_FIRST + ids[k]];
        ok = badmin > last;
    }
    out[KP_SS_RECV_OK] = ok;
}

int kp_sip_scan(const char *buf, int len, int32_t *out, int cap)
{
    const u8 *b = (const u8 *)buf, *end = b + len;
    int rc, i;
    if (cap < KP_SS_HDR)
        return KP_SS_ECAP;
    if (!tables_ready)
        tables_init();
    rc = first_line(b, len, out);
    if (rc < 0) {
        out[KP_SS_TYPE] = rc;
        return rc;
    }
    for (i = KP_SS_FIRST; i < KP_SS_FIRST + KP_SS_NIDS; i++)
        out[i] = -1;
    out[KP_SS_V_OK] = 0;
    out[KP_SS_V_NEXT] = -1;
    out[KP_SS_TO + KP_SS_N_OK] = 0;
    out[KP_SS_FROM + KP_SS_N_OK] = 0;
    out[KP_SS_CID_OK] = out[KP_SS_CS_OK] = out[KP_SS_CL_OK] = out[KP_SS_CRC_OK] = 0;
    out[KP_SS_BODY] = -1;
    out[KP_SS_EOH] = -1;

    int nl = out[KP_SS_NL];
    int pos = out[KP_SS_FLE] + nl;
    int n = 0, stop, nseg = 0, badmin = -1, first_via_parses = 0;
    int32_t vscratch[KP_SS_V_P - KP_SS_V + 4 * KP_SS_MAXP];
    int32_t last[KP_H_COUNT];
    int32_t *rec = out + KP_SS_HDR;
    int maxn = (cap - KP_SS_HDR) / KP_SS_HREC;
    for (;;) {
        /* each line ends at its own LF, with or without CR before it (Kamailio reads
         * lines so; the first line's ending does not bind the others) */
        const u8 *q = pos < len ? memchr(b + pos, '\n', len - pos) : NULL;
        int lb = 1;
        if (q != NULL && q > b + pos && q[-1] == '\r') {
            q--;
            lb = 2;
        }
        if (q == NULL && pos == len && n > 0) {
            /* the datagram ends right after a header line, without the empty line:
             * Kamailio's parse_headers stops at the end of the buffer without an
             * error, so the block ends here and the body is empty */
            stop = KP_SS_STOP_END;
            out[KP_SS_EOH] = len;
            out[KP_SS_BODY] = len;
            break;
        }
        if (q == NULL) {
            /* an unterminated last line that starts with SP/HTAB still continues the
             * header above it: Python's re-index reports the missing end */
            stop = pos < len && (b[pos] == ' ' || b[pos] == '\t') ? KP_SS_STOP_FOLD
                : KP_SS_STOP_NOEOH;
            break;
        }
        int e = (int)(q - b);
        if (e == pos) {
            stop = KP_SS_STOP_END;
            out[KP_SS_EOH] = e;
            out[KP_SS_BODY] = e + lb;
            break;
        }
        if (b[pos] == ' ' || b[pos] == '\t') {
            stop = KP_SS_STOP_FOLD;
            break;
        }
        q = findc(b + pos, b + e, ':');
        if (q == NULL) {
            stop = KP_SS_STOP_NOCOLON;
            break;
        }
        int c = (int)(q - b);
        int nt = c;  /* name.rstrip(" \t") must be a token */
        while (nt > pos && (b[nt - 1] == ' ' || b[nt - 1] == '\t'))
            nt--;
        int id = nt == pos ? -1 : header_id(b + pos, nt - pos);
        if (id < 0) {
            stop = KP_SS_STOP_BADNAME;
            break;
        }
        if (n >= maxn)
            return KP_SS_ECAP;
        int ne = c;
        while (ne > pos && PYSP(b[ne - 1]))
            ne--;
        int vs = c + 1, ve = e;
        while (vs < ve && PYSP(b[vs]))
            vs++;
        while (ve > vs && PYSP(b[ve - 1]))
            ve--;
        int32_t *r = rec + KP_SS_HREC * n;
        r[0] = id;
        r[1] = pos;
        r[2] = ne;
        r[3] = vs;
        r[4] = ve;
        r[5] = e + lb;
        r[6] = -1;
        int kind = -1, first = id && out[KP_SS_FIRST + id] < 0, send = e + lb;
        if (id) {
            if (first)
                out[KP_SS_FIRST + id] = n;
            else
                rec[KP_SS_HREC * last[id] + 6] = n;
            last[id] = n;
            switch (id) {
            case KP_H_VIA:
                if (first) {
                    kind = 1;
                } else {
                    int te = e + lb;
                    while (te > pos && WS(b[te - 1]))
                        te--;
                    kind = (lb == 2 && te == e) ? 0 : 4;
                    if (kind == 4)
                        send = te;
                    /* a further Via line is parsed by get_hdr_field too: suspect
                     * unless the fast path takes it (the raw span as Python's) */
                    if (badmin < 0) {
                        int s2 = c + 1, e2 = e + lb;
                        while (e2 > s2 && WS(b[e2 - 1]))
                            e2--;
                        while (s2 < e2 && WS(b[s2]))
                            s2++;
                        if (!via_line_ok(b, s2, e2, vscratch))
                            badmin = n;
                    }
                }
                break;
            case KP_H_TO:
                kind = first ? 2 : 0;
                break;
            case KP_H_FROM: case KP_H_CALLID: case KP_H_CSEQ:
                kind = 0;
                break;
            case KP_H_RECORD_ROUTE:
                kind = 3;
                break;
            case KP_H_RETRY_AFTER:
                if (badmin < 0)
                    badmin = n;
                break;
            }
            /* Kamailio's parse_headers refuses a second one of these (strict mode) */
            if (!first && badmin < 0 && (id == KP_H_CALLID || id == KP_H_TO || id == KP_H_FROM
                    || id == KP_H_CSEQ || id == KP_H_CONTENT_LENGTH || id == KP_H_MAX_FORWARDS))
                badmin = n;
        }
        if (kind >= 0 && nseg >= 0) {
            int32_t *sg = out + KP_SS_SEG + 3 * (nseg - 1);
            if (kind == 0 && nseg > 0 && sg[0] == 0 && sg[2] == pos) {
                sg[2] = send;
            } else if (nseg < KP_SS_SEG_MAX) {
                sg += 3;
                sg[0] = kind;
                sg[1] = pos;
                sg[2] = send;
                nseg++;
            } else {
                nseg = -1;
            }
        }
        n++;
        pos = e + lb;
    }
    out[KP_SS_NHDR] = n;
    out[KP_SS_STOP] = stop;
    out[KP_SS_SEG_N] = nseg;

    /* the key fields, on the first header of each (not when a folded line follows it:
     * then Python joins the lines first) */
    int folded_at = stop == KP_SS_STOP_FOLD ? n - 1 : -1;
    int li;
    li = out[KP_SS_FIRST + KP_H_VIA];
    if (li >= 0 && li != folded_at) {
        int32_t *r = rec + KP_SS_HREC * li;
        /* raw_value_span: after the colon to the line end, trimmed of WS */
        int s = r[2];
        while (b[s] != ':')
            s++;
        s++;
        int e = r[5];
        while (e > s && WS(b[e - 1]))
            e--;
        while (s < e && WS(b[s]))
            s++;
        if (scan_via(b, s, e, out + KP_SS_V)) {
            out[KP_SS_V_OK] = 1;
            out[KP_SS_V_LINE] = li;
        } else if (via_line_ok(b, s, e, vscratch)) {
            first_via_parses = 1;  /* several via-parms: Python builds the others, none raises */
            /* the first via-parm is the top Via (s is trimmed already; a comma is there,
             * or the whole span would have passed scan_via) */
            const u8 *q = findc(b + s, b + e, ',');
            if (q != NULL) {
                int pe = (int)(q - b), ns = pe + 1;
                while (pe > s && WS(b[pe - 1]))
                    pe--;
                while (ns < e && WS(b[ns]))
                    ns++;
                if (scan_via(b, s, pe, out + KP_SS_V)) {
                    out[KP_SS_V_OK] = 1;
                    out[KP_SS_V_LINE] = li;
                    out[KP_SS_V_NEXT] = ns;
                }
            }
        }
    }
    li = out[KP_SS_FIRST + KP_H_TO];
    if (li >= 0 && li != folded_at) {
        int32_t *r = rec + KP_SS_HREC * li;
        if (scan_nameaddr(b, r[3], r[4], out + KP_SS_TO)) {
            out[KP_SS_TO + KP_SS_N_OK] = 1;
            out[KP_SS_TO + KP_SS_N_LINE] = li;
        }
    }
    li = out[KP_SS_FIRST + KP_H_FROM];
    if (li >= 0 && li != folded_at) {
        int32_t *r = rec + KP_SS_HREC * li;
        if (scan_nameaddr(b, r[3], r[4], out + KP_SS_FROM)) {
            out[KP_SS_FROM + KP_SS_N_OK] = 1;
            out[KP_SS_FROM + KP_SS_N_LINE] = li;
        }
    }
    li = out[KP_SS_FIRST + KP_H_CALLID];
    if (li >= 0 && li != folded_at) {
        int32_t *r = rec + KP_SS_HREC * li;
        int ok = r[4] > r[3];
        for (i = r[3]; i < r[4] && ok; i++)
            ok = !WS(b[i]);
        out[KP_SS_CID_OK] = ok;
    }
    li = out[KP_SS_FIRST + KP_H_CSEQ];
    if (li >= 0 && li != folded_at) {
        int32_t *r = rec + KP_SS_HREC * li;
        int p = r[3], e = r[4], n0 = p;
        uint64_t num = 0;
        while (p < e && DIGIT(b[p]))
            num = num * 10 + (b[p++] - '0');
        int n1 = p;
        while (p < e && (b[p] == ' ' || b[p] == '\t'))
            p++;
        int m0 = p, alnum = 0;
        while (p < e && (ALNUM(b[p]) || b[p] == '-' || b[p] == '_' || b[p] == '.')) {
            alnum |= ALNUM(b[p]);
            p++;
        }
        /* the Python parser reads the raw span (trimmed of " \t\r\n" only): a \v or
         * \x85 the value trim dropped is part of the method there */
        int raw = 1;
        for (int k = r[4]; k < r[5] && raw; k++)
            raw = WS(b[k]);
        for (int k = r[3] - 1; k >= 0 && b[k] != ':' && raw; k--)
            raw = WS(b[k]);
        if (raw && n1 > n0 && n1 - n0 <= 10 && num < 4294967296ULL && m0 > n1 && p == e && alnum) {
            out[KP_SS_CS_OK] = 1;
            out[KP_SS_CS_N0] = n0;
            out[KP_SS_CS_N1] = n1;
            out[KP_SS_CS_M0] = m0;
            out[KP_SS_CS_M1] = e;
        }
    }
    li = out[KP_SS_FIRST + KP_H_CONTENT_LENGTH];
    if (li >= 0 && li != folded_at) {
        int32_t *r = rec + KP_SS_HREC * li;
        int p = r[3], e = r[4];
        int64_t v = 0;
        while (p < e && DIGIT(b[p]) && p - r[3] < 10)
            v = v * 10 + (b[p++] - '0');
        if (p == e && e > r[3] && v <= 2147483647LL) {
            out[KP_SS_CL_OK] = 1;
            out[KP_SS_CL_VAL] = (int32_t)v;
        }
    }
    /* the first Via/To/CSeq/Content-Length the fast path did not take: Python decides */
    {
        static const int ids[4] = {KP_H_VIA, KP_H_TO, KP_H_CSEQ, KP_H_CONTENT_LENGTH};
        int ok[4] = {out[KP_SS_V_OK], out[KP_SS_TO + KP_SS_N_OK], out[KP_SS_CS_OK],
                     out[KP_SS_CL_OK]};
        for (int k = 0; k < 4; k++) {
            int f = out[KP_SS_FIRST + ids[k]];
            if (f >= 0 && !ok[k] && !(k == 0 && first_via_parses) && (badmin < 0 || f < badmin))
                badmin = f;
        }
    }
    out[KP_SS_BADMIN] = badmin < 0 ? n : badmin;
    if (out[KP_SS_V_OK] && out[KP_SS_CID_OK]) {
        /* sl's To-tag: crc(host, port, branch) and crc(port, host, call-id) */
        const u8 *h = b + out[KP_SS_V_H0];
        int hl = out[KP_SS_V_H1] - out[KP_SS_V_H0];
        const u8 *pt = b + (out[KP_SS_V_P0] >= 0 ? out[KP_SS_V_P0] : 0);
        int pl = out[KP_SS_V_P0] >= 0 ? out[KP_SS_V_P1] - out[KP_SS_V_P0] : 0;
        unsigned crc = crc_feed(0xffff, h, hl);
        crc = crc_feed(crc, pt, pl);
        int bi = out[KP_SS_V_BRANCH];
        if (bi >= 0) {
            int32_t *pp = out + KP_SS_V_P + 4 * bi;
            if (pp[2] >= 0)
                crc = crc_feed(crc, b + pp[2], pp[3] - pp[2]);
        }
        out[KP_SS_CRC1] = (int32_t)(~crc & 0xffff);
        int32_t *r = rec + KP_SS_HREC * out[KP_SS_FIRST + KP_H_CALLID];
        crc = crc_feed(0xffff, pt, pl);
        crc = crc_feed(crc, h, hl);
        crc = crc_feed(crc, b + r[3], r[4] - r[3]);
        out[KP_SS_CRC2] = (int32_t)(~crc & 0xffff);
        out[KP_SS_CRC_OK] = 1;
    }
    scan_verdicts(b, out);
    return KP_SS_HDR + KP_SS_HREC * n;
}
