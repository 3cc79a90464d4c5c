#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "kp_udpsend.h"

#define KP_BATCH 64

int kp_udp_send_many(int fd, const char *data, int len, const char *addrs, int addr_len,
        int n, int *failed, int *last_errno)
{
    struct mmsghdr msgs[KP_BATCH];
    struct iovec iov;
    int sent = 0, i = 0;

    *failed = 0;
    *last_errno = 0;
    iov.iov_base = (void *)data;
    iov.iov_len = (size_t)len;
    while (i < n) {
        int k = n - i < KP_BATCH ? n - i : KP_BATCH;
        memset(msgs, 0, sizeof(struct mmsghdr) * (size_t)k);
        for (int j = 0; j < k; j++) {
            msgs[j].msg_hdr.msg_name = (void *)(addrs + (size_t)(i + j) * (size_t)addr_len);
            msgs[j].msg_hdr.msg_namelen = (socklen_t)addr_len;
            msgs[j].msg_hdr.msg_iov = &iov;
            msgs[j].msg_hdr.msg_iovlen = 1;
        }
        int r = sendmmsg(fd, msgs, (unsigned)k, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            /* the first of this batch failed: skip it, go on with the rest */
            *last_errno = errno;
            (*failed)++;
            i++;
            continue;
        }
        sent += r;
        i += r;
    }
    return sent;
}
