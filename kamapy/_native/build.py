"""cffi (API mode, out of line) build of kamapy's native part: the shm pool (TLSF),
robust lock sets, the shared hash table, atomic counters and the process table.

setup.py names this file in cffi_modules; `python kamapy/_native/build.py` builds the
module in place too. The cdef below is the whole C surface Python sees.
"""

import os

from cffi import FFI

SOURCES = ["kp_shm.c", "kp_lock.c", "kp_htable.c", "kp_counters.c", "kp_proctable.c"]
HEADERS = ["kp_shm.h", "kp_lock.h", "kp_htable.h", "kp_counters.h", "kp_proctable.h"]
SOURCES.append("kp_sipscan.c")  # the SIP tokenizer (kamapy.sip.sipscan)
HEADERS.append("kp_sipscan.h")
SOURCES.append("kp_sipreply.c")  # replies built from the scan (kamapy.sip.reply)
HEADERS.append("kp_sipreply.h")
SOURCES.append("kp_ulrefresh.c")  # usrloc's quick REGISTER refresh (registrar save)
HEADERS.append("kp_ulrefresh.h")
SOURCES.append("kp_regrefresh.c")  # ... with the REGISTER read from the scan
HEADERS.append("kp_regrefresh.h")
SOURCES.append("kp_htwheel.c")  # the timing wheel of timed hash tables
HEADERS.append("kp_htwheel.h")
SOURCES.append("kp_udpsend.c")  # batched UDP sends (the NAT pingers)
HEADERS.append("kp_udpsend.h")
SOURCES.append("kp_tmreply.c")  # tm's relayed 1xx/2xx in one call (modules/tm/fast_reply.py)
HEADERS.append("kp_tmreply.h")

CDEF = """
/* kp_shm.h */
typedef struct kp_pool kp_pool_t;
typedef struct kp_shm_stats {
    size_t total; size_t used; size_t real_used; size_t max_used; size_t free;
    size_t fragments; uint64_t recoveries; int32_t corrupted;
} kp_shm_stats_t;
kp_pool_t *kp_pool_create(size_t size);
void kp_pool_destroy(kp_pool_t *pool);
uintptr_t kp_pool_base(const kp_pool_t *pool);
size_t kp_pool_size(const kp_pool_t *pool);
void *kp_shm_malloc(kp_pool_t *pool, size_t size);
void *kp_shm_realloc(kp_pool_t *pool, void *ptr, size_t size);
int kp_shm_free(kp_pool_t *pool, void *ptr);
size_t kp_shm_usable_size(const void *ptr);
uintptr_t kp_shm_malloc_addr(kp_pool_t *pool, size_t size);
uintptr_t kp_shm_realloc_addr(kp_pool_t *pool, uintptr_t addr, size_t size);
int kp_shm_free_addr(kp_pool_t *pool, uintptr_t addr);
void kp_shm_stats(kp_pool_t *pool, kp_shm_stats_t *out);
size_t kp_shm_free_blocks(kp_pool_t *pool);
int kp_shm_check(kp_pool_t *pool);
const char *kp_shm_strerror(int code);
void kp_shm_test_hold_lock(kp_pool_t *pool);
#define KP_SHM_ECORRUPT ...

/* kp_lock.h */
typedef ... kp_lock_t;
typedef ... kp_lockset_t;
int kp_lock_get(kp_lock_t *lock);
int kp_lock_try(kp_lock_t *lock);
int kp_lock_release(kp_lock_t *lock);
uint64_t kp_lock_recoveries(const kp_lock_t *lock);
kp_lock_t *kp_lock_new(kp_pool_t *pool);
void kp_lock_free(kp_pool_t *pool, kp_lock_t *lock);
kp_lockset_t *kp_lockset_new(kp_pool_t *pool, uint32_t size);
void kp_lockset_free(kp_pool_t *pool, kp_lockset_t *set);
int kp_lockset_get(kp_lockset_t *set, uint32_t i);
int kp_lockset_try(kp_lockset_t *set, uint32_t i);
int kp_lockset_release(kp_lockset_t *set, uint32_t i);
uint64_t kp_lockset_recoveries(const kp_lockset_t *set);
kp_lock_t *kp_lockset_lock(kp_lockset_t *set, uint32_t i);

/* kp_htable.h */
typedef ... kp_ht_t;
#define KP_HT_SET ...
#define KP_HT_ADD ...
#define KP_HT_REPLACE ...
#define KP_HT_KEEP_EXPIRES ...
#define KP_HT_KEEP_FLAGS ...
#define KP_HT_ELOCK ...
#define KP_HT_GREW ...
#define KP_HT_WALK_END ...
typedef struct kp_ht_growth {
    uint64_t old_buckets; uint64_t new_buckets; uint64_t entries; uint64_t usec;
    int32_t ok; int32_t pid;
} kp_ht_growth_t;
kp_ht_t *kp_ht_new(kp_pool_t *pool, uint32_t size_log2, kp_lockset_t *locks, uint32_t nlocks);
kp_ht_t *kp_ht_new_growing(kp_pool_t *pool, uint32_t size_log2, kp_lockset_t *locks,
        uint32_t nlocks, uint32_t max_log2);
uint64_t kp_ht_growth(const kp_ht_t *ht, kp_ht_growth_t *out);
void kp_ht_free(kp_ht_t *ht);
uint64_t kp_ht_hash(const char *key, size_t klen);
int kp_ht_put(kp_ht_t *ht, const char *key, uint32_t klen, const char *val, uint32_t vlen,
        double expires, uint32_t flags, int mode, const char *expect, uint32_t elen);
int64_t kp_ht_get(kp_ht_t *ht, const char *key, uint32_t klen, char *buf, size_t cap,
        double *expires, uint32_t *flags);
int64_t kp_ht_get_locking(kp_ht_t *ht, kp_lock_t *outer, int *outer_rc, const char *key,
        uint32_t klen, char *buf, size_t cap, double *expires, uint32_t *flags);
int kp_ht_put_releasing(kp_ht_t *ht, kp_lock_t *outer, int *outer_rc, const char *key,
        uint32_t klen, const char *val, uint32_t vlen, double expires, uint32_t flags);
int64_t kp_ht_take(kp_ht_t *ht, const char *key, uint32_t klen, char *buf, size_t cap,
        double *expires, uint32_t *flags);
int kp_ht_delete(kp_ht_t *ht, const char *key, uint32_t klen);
int kp_ht_contains(kp_ht_t *ht, const char *key, uint32_t klen);
uint64_t kp_ht_count(const kp_ht_t *ht);
uint64_t kp_ht_buckets(const kp_ht_t *ht);
int64_t kp_ht_dump(kp_ht_t *ht, uint64_t *bucket, char *buf, size_t cap);
int64_t kp_ht_expire(kp_ht_t *ht, double now, uint64_t *bucket, char *buf, size_t cap);
kp_ht_t *kp_ht_new_timed(kp_pool_t *pool, uint32_t size_log2, kp_lockset_t *locks);
uint64_t kp_ht_expire_visits(const kp_ht_t *ht);

/* kp_counters.h */
typedef ... kp_counters_t;
kp_counters_t *kp_counters_new(kp_pool_t *pool, uint64_t size);
void kp_counters_free(kp_pool_t *pool, kp_counters_t *c);
int64_t kp_counter_add(kp_counters_t *c, uint64_t i, int64_t delta);
int64_t kp_counter_get(const kp_counters_t *c, uint64_t i);
void kp_counter_set(kp_counters_t *c, uint64_t i, int64_t v);
int64_t kp_counter_reset(kp_counters_t *c, uint64_t i);
void kp_counters_read(const kp_counters_t *c, uint64_t first, uint64_t n, int64_t *out);

/* kp_proctable.h */
#define KP_PROC_DESC_MAX ...
typedef struct kp_proc {
    int32_t pid; int32_t rank; uint32_t desc_len; char desc[...];
} kp_proc_t;
typedef ... kp_proctable_t;
kp_proctable_t *kp_proctable_new(kp_pool_t *pool, uint32_t size);
void kp_proctable_free(kp_pool_t *pool, kp_proctable_t *pt);
void kp_proctable_set(kp_proctable_t *pt, uint32_t slot, int32_t pid, int32_t rank,
        const char *desc, uint32_t desc_len);
void kp_proctable_clear(kp_proctable_t *pt, uint32_t slot);
void kp_proctable_read(kp_proctable_t *pt, kp_proc_t *out);
"""

CDEF += """
/* kp_sipscan.h (offsets: kamapy.sip.sipscan reads the header's #defines) */
int kp_sip_scan(const char *buf, int len, int32_t *out, int cap);
int kp_crc16(const char *buf, int len);
int kp_scan_via_parm(const char *buf, int s, int e, int32_t *out);

/* kp_sipreply.h */
#define KP_SR_FALLBACK ...
#define KP_SR_ECAP ...
int kp_sip_reply(const char *buf, int len, const char *scan, int code,
        const char *reason, int reason_len, const char *to_tag, int to_tag_len,
        const char *src_ip, int src_ip_len, int src_port, int force_rport,
        const char *extra, int extra_len, const char *server, int server_len,
        const char *body, int body_len, char *out, int cap);
#define KP_SR_ESEND ...
int kp_sl_reply_send(int fd, int af, const char *buf, int len, const char *scan, int code,
        const char *reason, int reason_len, const char *sl_tag_prefix, int prefix_len,
        const char *src_ip, int src_ip_len, int src_port, int force_rport,
        const char *extra, int extra_len, const char *server, int server_len,
        const char *body, int body_len, char *out, int cap);
"""
CDEF += """
/* kp_ulrefresh.h, kp_regrefresh.h */
#define KP_UL_DECLINE ...
#define KP_UL_RECOVERED ...
#define KP_UL_ENOLOCK ...
#define KP_UL_ESHM ...
#define KP_UL_DESC_TIME ...
#define KP_UL_WRITE_BACK ...
#define KP_UL_OUT_CONTACT ...
#define KP_UL_OUT_RECORD ...
#define KP_UL_NRES ...
#define KP_UN_NARGS ...
#define KP_RN_Q ...
#define KP_RN_NARGS ...
int kp_reg_refresh(kp_ht_t *ht, kp_lock_t *lock, const char *key, const char *ul_nums,
        const char *data, const char *scan, const char *sock, const char *reg_nums, char *work,
        char *out, int *res);
"""
CDEF += """
/* kp_udpsend.h */
int kp_udp_send_many(int fd, const char *data, int len, const char *addrs, int addr_len,
        int n, int *failed, int *last_errno);
"""
CDEF += """
/* kp_tmreply.h */
typedef struct kp_tmr_sock {
    char address[48]; int32_t port; int32_t proto; int32_t af; int32_t fd;
} kp_tmr_sock_t;
#define KP_TMR_ABSORBED ...
#define KP_TMR_RELAYED ...
#define KP_TMR_DECLINE ...
#define KP_TMR_RECOVERED ...
#define KP_TMR_ENOLOCK ...
#define KP_TMR_ESHM ...
#define KP_TMR_ADDR_MAX ...
#define KP_TMN_NARGS ...
#define KP_TMR_NRES ...
int kp_tm_reply(kp_ht_t *cells, kp_ht_t *due, kp_lockset_t *locks, uint32_t nlocks,
        const char *data, uint32_t dlen, const char *scan, const double *nums,
        const kp_tmr_sock_t *socks, char *work, int *res);
"""
# every KP_SS_* offset and code of kp_sipscan.h, so Python reads them from lib
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "kp_sipscan.h")) as _h:
    CDEF += "".join(f"#define {ln.split()[1]} ...\n" for ln in _h
                    if ln.startswith("#define KP_SS_"))
CDEF += "#define KP_H_COUNT_ ...\n"


def _source_path(name):
    # Relative to the working directory when possible: setuptools builds from the
    # project root and wants relative source paths.
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), name)
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel


ffibuilder = FFI()
ffibuilder.cdef(CDEF)
ffibuilder.set_source(
    "kamapy._native._kamapy_native",
    "".join(f'#include "{h}"\n' for h in HEADERS),
    sources=[_source_path(s) for s in SOURCES],
    include_dirs=[_source_path(".")],
    depends=[_source_path(h) for h in HEADERS + ["kp_hash.h", "kp_msgpack.h", "kp_sockaddr.h"]],
    extra_compile_args=["-O2", "-Wall", "-std=gnu11"],
    libraries=["pthread"],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
