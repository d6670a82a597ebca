/*
 * ntpd-mini: a small NTP daemon in plain C on top of ntp.h.
 *
 * It is a client of any number of servers (-s), a symmetric peer (-P), and
 * a server to whoever asks; it authenticates with keys from a key file
 * (-k, ntp.keys or chrony.keys dialect), prints its status table on
 * SIGUSR1 and at exit, and disciplines a SOFTWARE clock: the system clock
 * is only ever read, never stepped, slewed or tuned.
 *
 * All protocol logic lives in the library; this file does sockets, poll(),
 * the software clock and printing.
 *
 * Usage: ntpd-mini [options]
 *   -b ADDR       IPv4 address to bind (default 127.0.0.1)
 *   -p PORT       UDP port to serve and send from (default 123)
 *   -s A.B.C.D:PORT[:KEYID]   poll this server (repeatable)
 *   -P A.B.C.D:PORT[:KEYID]   symmetric active peer (repeatable)
 *   -n MINPOLL    -x MAXPOLL  poll interval bounds, log2 s (default 6, 10)
 *   -m STRATUM    serve the local clock at this stratum when unsynchronized
 *   -k FILE       key file;  -K ntp|chrony  its dialect (default chrony)
 *   -T LIST       trusted key ids for an ntp.keys file ("1 2 (5 ... 9)")
 *   -a            use only authenticated packets for time
 *   -o SECONDS    start the software clock off by this much (a test aid)
 *   -t SECONDS    run this long, print the status and exit (default: forever)
 *   -v            log engine events
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ntp.h"

#define MAX_REMOTES 16

/* ---- the software clock ------------------------------------------------
 * Unix time = base + (monotonic elapsed since base) * (1 + freq_ppm/1e6).
 * Whole seconds and the fraction are kept apart so doubles never have to
 * hold 1.7e9 s with sub-microsecond resolution. */
struct softclock {
    int64_t base_sec;
    double base_frac;
    double mono_base;
    double freq_ppm;
};

static double monotonic_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void softclock_init(struct softclock *c, double initial_offset) {
    struct timespec ts;
    double frac;
    clock_gettime(CLOCK_REALTIME, &ts); /* read once, never written */
    frac = (double)ts.tv_nsec * 1e-9 + initial_offset;
    c->base_sec = (int64_t)ts.tv_sec + (int64_t)floor(frac);
    c->base_frac = frac - floor(frac);
    c->mono_base = monotonic_seconds();
    c->freq_ppm = 0.0;
}

/* Moves the base to "now", so later changes apply from here on. */
static void softclock_rebase(struct softclock *c, double extra) {
    double mono = monotonic_seconds();
    double frac = c->base_frac + (mono - c->mono_base) * (1.0 + c->freq_ppm * 1e-6) + extra;
    c->base_sec += (int64_t)floor(frac);
    c->base_frac = frac - floor(frac);
    c->mono_base = mono;
}

static ntp_timestamp softclock_now(const struct softclock *c) {
    double frac = c->base_frac + (monotonic_seconds() - c->mono_base) * (1.0 + c->freq_ppm * 1e-6);
    double whole = floor(frac);
    uint32_t nanos = (uint32_t)((frac - whole) * 1e9);
    ntp_timestamp ts = 0;
    if (nanos >= 1000000000u) {
        nanos = 999999999u;
    }
    ntp_timestamp_from_unix(c->base_sec + (int64_t)whole, nanos, &ts);
    return ts;
}

/* ---- helpers ------------------------------------------------------------ */
static volatile sig_atomic_t want_status;
static volatile sig_atomic_t want_exit;

static void on_usr1(int sig) {
    (void)sig;
    want_status = 1;
}

static void on_term(int sig) {
    (void)sig;
    want_exit = 1;
}

static void die_rc(const char *what, ntp_result rc) {
    char msg[256];
    size_t n;
    if (ntp_result_message((uint32_t)rc, msg, sizeof msg, &n) != NTP_RESULT_OK) {
        snprintf(msg, sizeof msg, "code %u", (unsigned)rc);
    }
    fprintf(stderr, "ntpd-mini: %s: %s (%u)\n", what, msg, (unsigned)rc);
    exit(2);
}

#define TRY(what, call)                     \
    do {                                    \
        ntp_result rc_ = (call);            \
        if (rc_ != NTP_RESULT_OK) {         \
            die_rc((what), rc_);            \
        }                                   \
    } while (0)

/* Parses "A.B.C.D:PORT[:KEYID]". */
static int parse_remote(const char *arg, ntp_sockaddr *addr, uint32_t *key_id) {
    char host[64];
    const char *colon = strchr(arg, ':');
    struct in_addr in;
    char *end;
    unsigned long port;
    if (colon == NULL || (size_t)(colon - arg) >= sizeof host) {
        return -1;
    }
    memcpy(host, arg, (size_t)(colon - arg));
    host[colon - arg] = '\0';
    if (inet_pton(AF_INET, host, &in) != 1) {
        return -1;
    }
    port = strtoul(colon + 1, &end, 10);
    if (port == 0 || port > 65535) {
        return -1;
    }
    *key_id = 0;
    if (*end == ':') {
        *key_id = (uint32_t)strtoul(end + 1, &end, 10);
    }
    if (*end != '\0') {
        return -1;
    }
    memset(addr, 0, sizeof *addr);
    addr->family = 4;
    addr->port = (uint16_t)port;
    memcpy(addr->addr, &in.s_addr, 4);
    return 0;
}

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    char *buf;
    long size;
    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        perror(path);
        exit(2);
    }
    buf = malloc((size_t)size + 1);
    if (buf == NULL || fread(buf, 1, (size_t)size, f) != (size_t)size) {
        perror(path);
        exit(2);
    }
    fclose(f);
    *len = (size_t)size;
    return buf;
}

static void format_addr(const ntp_sockaddr *a, char *out, size_t len) {
    char ip[INET6_ADDRSTRLEN] = "-";
    if (a->family == 4) {
        inet_ntop(AF_INET, a->addr, ip, sizeof ip);
    } else if (a->family == 6) {
        inet_ntop(AF_INET6, a->addr, ip, sizeof ip);
    }
    snprintf(out, len, "%s:%u", ip, (unsigned)a->port);
}

/* The status table: the system line, one line per association, and the
 * library's ntpq-style view. Machine-readable lines start with STATUS/PEER. */
static void print_status(const ntp_engine *engine, ntp_timestamp now) {
    ntp_system_status sys;
    ntp_peer_status peers[MAX_REMOTES * 4];
    size_t count = 0, i, written;
    static char text[16384];
    char addr[64];

    TRY("system status", ntp_engine_system_status(engine, now, &sys));
    TRY("peer status", ntp_engine_peer_status(engine, now, peers, sizeof peers / sizeof peers[0], &count));
    printf("STATUS synchronized=%d stratum=%u source=%u offset=%.9f frequency_ppm=%.3f jitter=%.9f "
           "root_delay=%.6f root_dispersion=%.6f\n",
           sys.synchronized ? 1 : 0, (unsigned)sys.stratum, (unsigned)sys.source, sys.offset, sys.frequency_ppm,
           sys.jitter, sys.root_delay, sys.root_dispersion);
    for (i = 0; i < count; i++) {
        format_addr(&peers[i].address, addr, sizeof addr);
        printf("PEER id=%u addr=%s mode=%u stratum=%u reach=%03o selection=%u offset=%.9f delay=%.9f "
               "jitter=%.9f\n",
               (unsigned)peers[i].id, addr, (unsigned)peers[i].mode, (unsigned)peers[i].stratum,
               (unsigned)peers[i].reach, (unsigned)peers[i].selection, peers[i].offset, peers[i].delay,
               peers[i].jitter);
    }
    {
        ntp_counters c;
        TRY("counters", ntp_engine_counters(engine, &c));
        printf("COUNTERS received=%llu replies_sent=%llu polls_sent=%llu auth_failed=%llu malformed=%llu\n",
               (unsigned long long)c.received, (unsigned long long)c.replies_sent,
               (unsigned long long)c.polls_sent, (unsigned long long)c.auth_failed,
               (unsigned long long)c.malformed);
    }
    if (ntp_engine_text_view(engine, now, NTP_TEXT_VIEW_NTPQ_PEERS, text, sizeof text, &written) == NTP_RESULT_OK) {
        fputs(text, stdout);
    }
    fflush(stdout);
}

static void log_event(const ntp_event *e) {
    char addr[64];
    format_addr(&e->address, addr, sizeof addr);
    printf("EVENT kind=%u assoc=%u other=%u addr=%s code=%u stratum=%u value=%.9f\n", (unsigned)e->kind,
           (unsigned)e->association_id, (unsigned)e->other_association_id, addr, (unsigned)e->code,
           (unsigned)e->stratum, e->value);
}

int main(int argc, char **argv) {
    const char *bind_addr = "127.0.0.1", *key_path = NULL, *trusted = NULL;
    uint32_t dialect = NTP_KEY_FILE_DIALECT_CHRONY_KEYS;
    uint16_t port = 123;
    ntp_sockaddr remotes[MAX_REMOTES];
    uint32_t remote_keys[MAX_REMOTES], remote_modes[MAX_REMOTES];
    int n_remotes = 0, verbose = 0, opt, fd, i;
    int8_t minpoll = 6, maxpoll = 10;
    double initial_offset = 0.0, run_for = -1.0, started;
    ntp_engine_options opts;
    ntp_keyring *ring = NULL;
    ntp_engine *engine = NULL;
    struct softclock clk;
    struct sockaddr_in local;
    ntp_timestamp deadline;
    ntp_sockaddr self;

    TRY("options", ntp_engine_options_init(&opts));
    while ((opt = getopt(argc, argv, "b:p:s:P:n:x:m:k:K:T:ao:t:v")) != -1) {
        switch (opt) {
        case 'b': bind_addr = optarg; break;
        case 'p': port = (uint16_t)atoi(optarg); break;
        case 's':
        case 'P':
            if (n_remotes == MAX_REMOTES || parse_remote(optarg, &remotes[n_remotes], &remote_keys[n_remotes]) != 0) {
                fprintf(stderr, "ntpd-mini: bad remote '%s' (A.B.C.D:PORT[:KEYID])\n", optarg);
                return 2;
            }
            remote_modes[n_remotes++] = opt == 's' ? NTP_ASSOCIATION_MODE_CLIENT : NTP_ASSOCIATION_MODE_SYMMETRIC_ACTIVE;
            break;
        case 'n': minpoll = (int8_t)atoi(optarg); break;
        case 'x': maxpoll = (int8_t)atoi(optarg); break;
        case 'm': opts.master_stratum = (uint8_t)atoi(optarg); break;
        case 'k': key_path = optarg; break;
        case 'K': dialect = strcmp(optarg, "ntp") == 0 ? NTP_KEY_FILE_DIALECT_NTP_KEYS : NTP_KEY_FILE_DIALECT_CHRONY_KEYS; break;
        case 'T': trusted = optarg; break;
        case 'a': opts.require_auth = true; break;
        case 'o': initial_offset = atof(optarg); break;
        case 't': run_for = atof(optarg); break;
        case 'v': verbose = 1; break;
        default:
            fprintf(stderr, "usage: see the comment at the top of ntpd-mini.c\n");
            return 2;
        }
    }

    /* Keys. */
    if (key_path != NULL) {
        size_t len, line = 0;
        char *text = read_file(key_path, &len);
        ntp_result rc = ntp_keyring_from_key_file((const uint8_t *)text, len, dialect, &ring, &line);
        free(text);
        if (rc != NTP_RESULT_OK) {
            fprintf(stderr, "ntpd-mini: %s line %zu:\n", key_path, line);
            die_rc("key file", rc);
        }
        if (trusted != NULL) {
            size_t count;
            TRY("trusted keys", ntp_keyring_trust_list(ring, (const uint8_t *)trusted, strlen(trusted), &count));
        }
    }

    /* The socket. */
    fd = socket(AF_INET, SOCK_DGRAM, 0);
    memset(&local, 0, sizeof local);
    local.sin_family = AF_INET;
    local.sin_port = htons(port);
    if (fd < 0 || inet_pton(AF_INET, bind_addr, &local.sin_addr) != 1 ||
        bind(fd, (struct sockaddr *)&local, sizeof local) != 0) {
        perror("ntpd-mini: socket/bind");
        return 2;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);

    /* Our own address: a source whose reference id names it is synchronized
     * to us, and the engine refuses it (a timing loop between peers). */
    memset(&self, 0, sizeof self);
    self.family = 4;
    self.port = port;
    memcpy(self.addr, &local.sin_addr, 4);
    opts.local_addresses = &self;
    opts.local_address_count = 1;

    /* The engine: it copies the keyring, which we free at once. */
    softclock_init(&clk, initial_offset);
    TRY("engine", ntp_engine_new(&opts, ring, softclock_now(&clk), &engine));
    ntp_keyring_free(ring);
    for (i = 0; i < n_remotes; i++) {
        ntp_association_config cfg;
        uint32_t id;
        TRY("association", ntp_association_config_init(&cfg));
        cfg.mode = remote_modes[i];
        cfg.address = remotes[i];
        cfg.key_id = remote_keys[i];
        cfg.minpoll = minpoll;
        cfg.maxpoll = maxpoll;
        cfg.iburst = remote_modes[i] == NTP_ASSOCIATION_MODE_CLIENT;
        TRY("add association", ntp_engine_add_association(engine, &cfg, softclock_now(&clk), &id));
    }

    /* sigaction, not signal(): in strict POSIX mode glibc's signal() resets
     * the handler after the first delivery, so a second SIGUSR1 would kill
     * the daemon. */
    {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sigemptyset(&sa.sa_mask);
        sa.sa_handler = on_usr1;
        sigaction(SIGUSR1, &sa, NULL);
        sa.sa_handler = on_term;
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
    }
    started = monotonic_seconds();
    printf("ntpd-mini %s on %s:%u, %d remote(s)\n", ntp_version(), bind_addr, (unsigned)port, n_remotes);
    fflush(stdout);

    for (;;) {
        uint8_t buf[NTP_MAX_DATAGRAM * 4];
        ntp_output out;
        struct pollfd pfd;
        double wait;
        int timeout_ms;

        /* Drain everything the engine wants done. */
        for (;;) {
            TRY("poll_output", ntp_engine_poll_output(engine, &out, buf, sizeof buf));
            if (out.kind == NTP_OUTPUT_KIND_TIMEOUT) {
                deadline = out.deadline;
                break;
            }
            switch (out.kind) {
            case NTP_OUTPUT_KIND_TRANSMIT: {
                struct sockaddr_in to;
                if (out.destination.family != 4) {
                    break; /* this socket is IPv4 only */
                }
                memset(&to, 0, sizeof to);
                to.sin_family = AF_INET;
                to.sin_port = htons(out.destination.port);
                memcpy(&to.sin_addr, out.destination.addr, 4);
                if (sendto(fd, buf, out.len, 0, (struct sockaddr *)&to, sizeof to) < 0 && verbose) {
                    perror("ntpd-mini: sendto");
                }
                break;
            }
            case NTP_OUTPUT_KIND_CLOCK_STEP:
                softclock_rebase(&clk, out.step_seconds);
                printf("STEP %.9f\n", out.step_seconds);
                break;
            case NTP_OUTPUT_KIND_CLOCK_FREQUENCY:
                softclock_rebase(&clk, 0.0);
                clk.freq_ppm = out.frequency_ppm;
                break;
            case NTP_OUTPUT_KIND_EVENT:
                if (verbose) {
                    log_event(&out.event);
                }
                break;
            default:
                break;
            }
        }

        if (want_status) {
            want_status = 0;
            print_status(engine, softclock_now(&clk));
        }
        if (want_exit || (run_for >= 0 && monotonic_seconds() - started >= run_for)) {
            break;
        }

        TRY("diff", ntp_timestamp_diff(deadline, softclock_now(&clk), &wait));
        timeout_ms = wait <= 0 ? 0 : wait > 0.5 ? 500 : (int)ceil(wait * 1000.0);
        pfd.fd = fd;
        pfd.events = POLLIN;
        pfd.revents = 0;
        if (poll(&pfd, 1, timeout_ms) < 0 && errno != EINTR) {
            perror("ntpd-mini: poll");
            break;
        }
        if (pfd.revents & POLLIN) {
            for (;;) {
                struct sockaddr_in from;
                socklen_t from_len = sizeof from;
                ssize_t n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &from_len);
                ntp_timestamp now = softclock_now(&clk); /* receive time, as early as we can */
                ntp_sockaddr src;
                if (n < 0) {
                    break;
                }
                memset(&src, 0, sizeof src);
                src.family = 4;
                src.port = ntohs(from.sin_port);
                memcpy(src.addr, &from.sin_addr, 4);
                TRY("datagram", ntp_engine_handle_datagram(engine, now, &src, buf, (size_t)n));
            }
        }
        {
            ntp_timestamp now = softclock_now(&clk);
            TRY("diff", ntp_timestamp_diff(deadline, now, &wait));
            if (wait <= 0) {
                TRY("timeout", ntp_engine_handle_timeout(engine, now));
            }
        }
    }

    print_status(engine, softclock_now(&clk));
    ntp_engine_free(engine);
    close(fd);
    return 0;
}
