/*
 * loadgen: NTP server throughput on loopback.
 *
 * Sends NTP mode-3 (client) requests to one loopback server as fast as one
 * core allows, from many UDP sockets (each its own source port), in batches
 * with sendmmsg/recvmmsg, and counts the valid replies: mode 4, and an origin
 * timestamp equal to the transmit timestamp of a request this socket sent
 * (RFC 5905 section 8). With a key, every request carries a legacy MAC
 * (RFC 5905 section 7.3, appendix A: 4-byte key id, then MD5(key || packet))
 * and a reply counts only when it carries a correct MAC with the same key id.
 *
 * It stops by itself: after the time limit or after the request limit,
 * whichever comes first, plus a short drain for replies still in flight.
 *
 *   cc -O2 -o loadgen loadgen.c
 *   ./loadgen -p 11123 [-t 3] [-n 50000000] [-s 64] [-b 32] [-w 4]
 *             [-k KEYID -K ASCIIKEY] [-a 127.0.0.1]
 *   ./loadgen --selftest       # checks the MD5 code against RFC 1321 vectors
 *
 * Output, one line: `replies=N sent=N invalid=N seconds=S rate=R` where rate
 * is valid replies per second of the sending phase.
 *
 * Only loopback destinations are accepted: this is a flood by design.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define NTP_LEN 48
#define MAC_LEN 20 /* 4-byte key id + 16-byte MD5 digest */
#define MAX_SOCKETS 1024
#define MAX_BATCH 256
#define MAX_KEY 64
#define SLOT 128
/* High 32 bits of our transmit timestamps: a tag plus the socket index, so a
 * reply's origin tells which socket sent the request. */
#define TAG 0xC0000000u

/* ---- MD5 (RFC 1321), enough for short messages ------------------------- */

static const uint32_t md5_k[64] = {
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
};
static const uint8_t md5_r[64] = {
    7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
    5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20,
    4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
    6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
};

static void md5_block(uint32_t h[4], const uint8_t *p)
{
    uint32_t w[16], a = h[0], b = h[1], c = h[2], d = h[3];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 | (uint32_t)p[4 * i + 2] << 16 |
               (uint32_t)p[4 * i + 3] << 24;
    for (int i = 0; i < 64; i++) {
        uint32_t f;
        int g;
        if (i < 16) {
            f = (b & c) | (~b & d);
            g = i;
        } else if (i < 32) {
            f = (d & b) | (~d & c);
            g = (5 * i + 1) & 15;
        } else if (i < 48) {
            f = b ^ c ^ d;
            g = (3 * i + 5) & 15;
        } else {
            f = c ^ (b | ~d);
            g = (7 * i) & 15;
        }
        uint32_t t = a + f + md5_k[i] + w[g];
        a = d;
        d = c;
        c = b;
        b += (t << md5_r[i]) | (t >> (32 - md5_r[i]));
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
}

/* MD5 of a || b (a and b together at most 200 bytes: key plus packet). */
static void md5_two(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen, uint8_t out[16])
{
    uint8_t buf[256];
    uint32_t h[4] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476};
    size_t len = alen + blen, padded = (len + 8) / 64 * 64 + 64;
    uint64_t bits = (uint64_t)len * 8;

    memcpy(buf, a, alen);
    memcpy(buf + alen, b, blen);
    memset(buf + len, 0, padded - len);
    buf[len] = 0x80;
    for (int i = 0; i < 8; i++)
        buf[padded - 8 + i] = (uint8_t)(bits >> (8 * i));
    for (size_t off = 0; off < padded; off += 64)
        md5_block(h, buf + off);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            out[4 * i + j] = (uint8_t)(h[i] >> (8 * j));
}

static int md5_selftest(void)
{
    static const struct {
        const char *in, *hex;
    } v[] = {
        {"", "d41d8cd98f00b204e9800998ecf8427e"},
        {"abc", "900150983cd24fb0d6963f7d28e17f72"},
        {"message digest", "f96b697d7cb7938d525a2f31aaf161d0"},
        {"12345678901234567890123456789012345678901234567890123456789012345678901234567890",
         "57edf4a22be3c955ac49da2e2107b67a"},
    };
    int bad = 0;
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        uint8_t d[16];
        char hex[33];
        size_t n = strlen(v[i].in), half = n / 2;
        /* split the input to exercise the two-part interface */
        md5_two((const uint8_t *)v[i].in, half, (const uint8_t *)v[i].in + half, n - half, d);
        for (int j = 0; j < 16; j++)
            sprintf(hex + 2 * j, "%02x", d[j]);
        if (strcmp(hex, v[i].hex) != 0) {
            fprintf(stderr, "md5(\"%s\") = %s, expected %s\n", v[i].in, hex, v[i].hex);
            bad = 1;
        }
    }
    puts(bad ? "md5 selftest FAILED" : "md5 selftest ok");
    return bad;
}

/* ---- load generation ---------------------------------------------------- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void usage(void)
{
    fprintf(stderr,
            "usage: loadgen -p PORT [-a ADDR] [-t SECONDS] [-n MAX_REQUESTS] [-s SOCKETS]\n"
            "               [-b BATCH] [-w WINDOW] [-k KEYID -K KEY]\n"
            "       loadgen --selftest\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *addr = "127.0.0.1";
    int port = 0, nsock = 64, batch = 32, window = 4, use_key = 0;
    double seconds = 3.0;
    unsigned long long max_requests = 50000000ULL;
    uint32_t keyid = 0;
    uint8_t key[MAX_KEY];
    size_t keylen = 0;

    if (argc == 2 && strcmp(argv[1], "--selftest") == 0)
        return md5_selftest();
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            usage();
        i++;
        if (!strcmp(o, "-p"))
            port = atoi(v);
        else if (!strcmp(o, "-a"))
            addr = v;
        else if (!strcmp(o, "-t"))
            seconds = atof(v);
        else if (!strcmp(o, "-n"))
            max_requests = strtoull(v, NULL, 10);
        else if (!strcmp(o, "-s"))
            nsock = atoi(v);
        else if (!strcmp(o, "-b"))
            batch = atoi(v);
        else if (!strcmp(o, "-w"))
            window = atoi(v);
        else if (!strcmp(o, "-k")) {
            keyid = (uint32_t)strtoul(v, NULL, 10);
            use_key = 1;
        } else if (!strcmp(o, "-K")) {
            keylen = strlen(v);
            if (keylen == 0 || keylen > MAX_KEY) {
                fprintf(stderr, "loadgen: key must be 1..%d bytes\n", MAX_KEY);
                return 2;
            }
            memcpy(key, v, keylen);
        } else
            usage();
    }
    if (port <= 0 || port > 65535 || nsock < 1 || nsock > MAX_SOCKETS || batch < 1 || batch > MAX_BATCH ||
        window < 1 || seconds <= 0 || seconds > 600 || (use_key && keylen == 0))
        usage();
    if (window < batch)
        batch = window;

    struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, addr, &dst.sin_addr) != 1) {
        fprintf(stderr, "loadgen: bad address %s\n", addr);
        return 2;
    }
    if ((ntohl(dst.sin_addr.s_addr) >> 24) != 127) {
        fprintf(stderr, "loadgen: %s is not a loopback address; refusing to flood it\n", addr);
        return 2;
    }

    static int fds[MAX_SOCKETS];
    static uint32_t sent_seq[MAX_SOCKETS]; /* requests sent so far per socket */
    static int outstanding[MAX_SOCKETS];
    static double progress[MAX_SOCKETS]; /* last send or reply on this socket */
    for (int i = 0; i < nsock; i++) {
        int rcvbuf = 1 << 20;
        struct sockaddr_in src = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        fds[i] = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fds[i] < 0 || bind(fds[i], (struct sockaddr *)&src, sizeof src) < 0 ||
            connect(fds[i], (struct sockaddr *)&dst, sizeof dst) < 0) {
            perror("loadgen: socket");
            return 1;
        }
        setsockopt(fds[i], SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    }

    /* Request and reply buffers, set up once: only the transmit timestamp
     * (and the MAC) change per request. */
    static uint8_t txbuf[MAX_BATCH][SLOT], rxbuf[MAX_BATCH][SLOT];
    static struct iovec txiov[MAX_BATCH], rxiov[MAX_BATCH];
    static struct mmsghdr txmsg[MAX_BATCH], rxmsg[MAX_BATCH];
    size_t req_len = NTP_LEN + (use_key ? MAC_LEN : 0);
    for (int j = 0; j < batch; j++) {
        memset(txbuf[j], 0, SLOT);
        txbuf[j][0] = (0 << 6) | (4 << 3) | 3; /* LI 0, version 4, mode 3 */
        txbuf[j][2] = 6;                       /* poll 64 s */
        txbuf[j][3] = 0xEC;                    /* precision -20 */
        if (use_key)
            put_be32(txbuf[j] + NTP_LEN, keyid);
        txiov[j] = (struct iovec){.iov_base = txbuf[j], .iov_len = req_len};
        txmsg[j].msg_hdr = (struct msghdr){.msg_iov = &txiov[j], .msg_iovlen = 1};
        rxiov[j] = (struct iovec){.iov_base = rxbuf[j], .iov_len = SLOT};
        rxmsg[j].msg_hdr = (struct msghdr){.msg_iov = &rxiov[j], .msg_iovlen = 1};
    }

    unsigned long long sent = 0, valid = 0, invalid = 0;
    double start = now_s(), t = start, deadline = start + seconds, last_reply = start;
    double drain_until = 0;
    int sending = 1;

    for (;;) {
        for (int i = 0; i < nsock; i++) {
            int n;
            while ((n = recvmmsg(fds[i], rxmsg, (unsigned)batch, MSG_DONTWAIT, NULL)) > 0) {
                for (int j = 0; j < n; j++) {
                    const uint8_t *r = rxbuf[j];
                    size_t len = rxmsg[j].msg_len;
                    uint32_t hi = get_be32(r + 24), lo = get_be32(r + 28);
                    int ok = len >= NTP_LEN && (r[0] & 7) == 4 && hi == TAG + (uint32_t)i &&
                             lo < sent_seq[i];
                    if (ok && use_key) {
                        uint8_t d[16];
                        ok = len == NTP_LEN + MAC_LEN && get_be32(r + NTP_LEN) == keyid;
                        if (ok) {
                            md5_two(key, keylen, r, NTP_LEN, d);
                            ok = memcmp(d, r + NTP_LEN + 4, 16) == 0;
                        }
                    }
                    if (ok)
                        valid++;
                    else
                        invalid++;
                    if (outstanding[i] > 0)
                        outstanding[i]--;
                }
                last_reply = t;
                progress[i] = t;
            }
            if (!sending)
                continue;
            /* A socket whose requests all went unanswered for 5 ms lost them
             * (the server's queue was full): give it its window back. */
            if (outstanding[i] >= window && t - progress[i] > 0.005)
                outstanding[i] = 0;
            int k = window - outstanding[i];
            if (k > batch)
                k = batch;
            if ((unsigned long long)k > max_requests - sent)
                k = (int)(max_requests - sent);
            if (k <= 0)
                continue;
            for (int j = 0; j < k; j++) {
                uint8_t *p = txbuf[j];
                put_be32(p + 40, TAG + (uint32_t)i);
                put_be32(p + 44, sent_seq[i] + (uint32_t)j);
                if (use_key)
                    md5_two(key, keylen, p, NTP_LEN, p + NTP_LEN + 4);
            }
            int m = sendmmsg(fds[i], txmsg, (unsigned)k, 0);
            if (m > 0) {
                sent_seq[i] += (uint32_t)m;
                outstanding[i] += m;
                sent += (unsigned long long)m;
                progress[i] = t;
            } else if (m < 0 && errno != EAGAIN && errno != ECONNREFUSED && errno != ENOBUFS) {
                perror("loadgen: sendmmsg");
                return 1;
            }
        }
        t = now_s();
        if (sending && (t >= deadline || sent >= max_requests)) {
            sending = 0;
            drain_until = t + 0.1; /* replies still in flight */
        }
        if (!sending && t >= drain_until)
            break;
    }

    double elapsed = (last_reply > start ? last_reply : t) - start;
    printf("replies=%llu sent=%llu invalid=%llu seconds=%.3f rate=%.0f\n", valid, sent, invalid, elapsed,
           elapsed > 0 ? (double)valid / elapsed : 0.0);
    return 0;
}
