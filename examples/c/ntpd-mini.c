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
 *   -b ADDR       IPv4 or IPv6 address to bind (repeatable, one socket
 *                 each; default 127.0.0.1)
 *   -p PORT       UDP port to serve and send from (default 123)
 *   -s HOST:PORT[:KEYID]   poll this server (repeatable); HOST is A.B.C.D
 *                 or [IPv6]
 *   -P HOST:PORT[:KEYID]   symmetric active peer (repeatable)
 *   -q HOST:PORT[:KEYID]   do not run: ask that server (an ntpd-mini,
 *                 ntp-node or ntpd) for its system and peer variables over
 *                 mode 6, as `ntpq -p` does, print them and exit
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
#define MAX_SOCKETS 4

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

/* Parses an IP address, IPv4 dotted or IPv6 (without brackets). */
static int parse_ip(const char *text, ntp_sockaddr *addr) {
    struct in_addr in;
    struct in6_addr in6;
    memset(addr, 0, sizeof *addr);
    if (inet_pton(AF_INET, text, &in) == 1) {
        addr->family = 4;
        memcpy(addr->addr, &in.s_addr, 4);
        return 0;
    }
    if (inet_pton(AF_INET6, text, &in6) == 1) {
        addr->family = 6;
        memcpy(addr->addr, in6.s6_addr, 16);
        return 0;
    }
    return -1;
}

/* Parses "A.B.C.D:PORT[:KEYID]" or "[IPv6]:PORT[:KEYID]". */
static int parse_remote(const char *arg, ntp_sockaddr *addr, uint32_t *key_id) {
    char host[64];
    const char *start = arg, *stop, *colon;
    char *end;
    unsigned long port;
    if (*arg == '[') {
        start = arg + 1;
        stop = strchr(start, ']');
        if (stop == NULL || stop[1] != ':') {
            return -1;
        }
        colon = stop + 1;
    } else {
        stop = colon = strchr(arg, ':');
        if (colon == NULL) {
            return -1;
        }
    }
    if ((size_t)(stop - start) >= sizeof host) {
        return -1;
    }
    memcpy(host, start, (size_t)(stop - start));
    host[stop - start] = '\0';
    if (parse_ip(host, addr) != 0) {
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
    addr->port = (uint16_t)port;
    return 0;
}

/* ntp_sockaddr <-> the platform's sockaddr (the library never sees the
 * latter). */
static socklen_t to_platform(const ntp_sockaddr *a, struct sockaddr_storage *out) {
    memset(out, 0, sizeof *out);
    if (a->family == 4) {
        struct sockaddr_in *in = (struct sockaddr_in *)out;
        in->sin_family = AF_INET;
        in->sin_port = htons(a->port);
        memcpy(&in->sin_addr, a->addr, 4);
        return sizeof *in;
    }
    if (a->family == 6) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)out;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(a->port);
        memcpy(&in6->sin6_addr, a->addr, 16);
        return sizeof *in6;
    }
    return 0;
}

static int from_platform(const struct sockaddr_storage *in, ntp_sockaddr *out) {
    memset(out, 0, sizeof *out);
    if (in->ss_family == AF_INET) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)in;
        out->family = 4;
        out->port = ntohs(v4->sin_port);
        memcpy(out->addr, &v4->sin_addr, 4);
        return 0;
    }
    if (in->ss_family == AF_INET6) {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)in;
        out->family = 6;
        out->port = ntohs(v6->sin6_port);
        memcpy(out->addr, &v6->sin6_addr, 16);
        return 0;
    }
    return -1;
}

/* A non-blocking UDP socket bound to `a`, or -1. */
static int open_socket(const ntp_sockaddr *a) {
    struct sockaddr_storage ss;
    socklen_t len = to_platform(a, &ss);
    int one = 1;
    int fd = socket(a->family == 6 ? AF_INET6 : AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) {
        return -1;
    }
    /* An IPv6 socket takes IPv6 only: IPv4 has its own socket. */
    if (a->family == 6) {
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    }
    if (bind(fd, (struct sockaddr *)&ss, len) != 0) {
        close(fd);
        return -1;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
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
        snprintf(out, len, "[%s]:%u", ip, (unsigned)a->port);
        return;
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

/* ---- -q: a mode 6 query, as `ntpq -p` --------------------------------- */

/* One request and its response over the connected socket `fd`: the
 * library builds the request, reassembles the response and keeps the
 * deadlines (5 s, one retry); this function only moves datagrams. */
static ntp_result ask(int fd, ntp_control_client *c, uint8_t opcode, uint16_t association) {
    uint8_t buf[2048];
    size_t n = 0;
    ntp_result rc = ntp_control_client_request(c, opcode, association, NULL, 0, monotonic_seconds(), buf, sizeof buf, &n);
    if (rc != NTP_RESULT_OK) {
        return rc;
    }
    if (send(fd, buf, n, 0) < 0) {
        perror("ntpd-mini: send");
    }
    for (;;) {
        double deadline, wait;
        struct pollfd pfd;
        if (ntp_control_client_deadline(c, &deadline) != NTP_RESULT_OK) {
            return NTP_RESULT_CONTROL_TIMEOUT;
        }
        wait = deadline - monotonic_seconds();
        pfd.fd = fd;
        pfd.events = POLLIN;
        pfd.revents = 0;
        if (poll(&pfd, 1, wait <= 0 ? 0 : (int)ceil(wait * 1000.0)) < 0 && errno != EINTR) {
            return NTP_RESULT_CONTROL_TIMEOUT;
        }
        if (pfd.revents & POLLIN) {
            ssize_t got = recv(fd, buf, sizeof buf, 0);
            uint32_t event = 0;
            if (got < 0) {
                continue; /* e.g. a port unreachable: the deadline decides */
            }
            rc = ntp_control_client_handle_datagram(c, buf, (size_t)got, monotonic_seconds(), &event);
            if (rc != NTP_RESULT_OK || event == NTP_CONTROL_EVENT_COMPLETE) {
                return rc;
            }
            continue;
        }
        rc = ntp_control_client_handle_timeout(c, monotonic_seconds(), buf, sizeof buf, &n);
        if (rc != NTP_RESULT_OK) {
            return rc;
        }
        if (n > 0 && send(fd, buf, n, 0) < 0) {
            perror("ntpd-mini: send");
        }
    }
}

static int query(const ntp_sockaddr *server, const ntp_keyring *ring, uint32_t key_id) {
    ntp_control_client *c = NULL;
    ntp_control_association list[64];
    ntp_control_system_vars sys;
    size_t count = 0, i;
    struct sockaddr_storage ss;
    socklen_t len = to_platform(server, &ss);
    ntp_sockaddr any;
    int fd;
    char addr[64];

    memset(&any, 0, sizeof any);
    any.family = server->family;
    fd = open_socket(&any);
    if (fd < 0 || connect(fd, (struct sockaddr *)&ss, len) != 0) {
        perror("ntpd-mini: query socket");
        return 2;
    }
    TRY("control client", ntp_control_client_new(ring, key_id, &c));
    TRY("READSTAT", ask(fd, c, NTP_CONTROL_OP_READ_STATUS, 0));
    TRY("association list", ntp_control_client_associations(c, list, sizeof list / sizeof list[0], &count));
    TRY("READVAR", ask(fd, c, NTP_CONTROL_OP_READ_VARIABLES, 0));
    TRY("system variables", ntp_control_client_system_vars(c, &sys));
    printf("QSYS stratum=%d leap=%d refid=%s peer=%d offset=%.9f sys_jitter=%.9f root_delay=%.6f version=\"%s\"\n",
           sys.stratum, sys.leap, sys.refid, sys.peer, sys.offset, sys.sys_jitter, sys.root_delay, sys.version);
    printf("     remote                refid       st t poll reach    delay   offset   jitter\n");
    for (i = 0; i < count; i++) {
        ntp_control_peer_vars p;
        TRY("READVAR association", ask(fd, c, NTP_CONTROL_OP_READ_VARIABLES, list[i].association_id));
        TRY("peer variables", ntp_control_client_peer_vars(c, &p));
        format_addr(&p.address, addr, sizeof addr);
        printf("%c%-21s %-11s %2d %c %4d %5o %8.3f %8.3f %8.3f\n", p.tally, addr, p.refid, p.stratum,
               p.hmode == 1 || p.hmode == 2 ? 's' : 'u', p.hpoll >= 0 && p.hpoll < 31 ? 1 << p.hpoll : -1,
               p.reach < 0 ? 0u : (unsigned)p.reach, p.delay * 1e3, p.offset * 1e3, p.jitter * 1e3);
        printf("QPEER id=%u addr=%s tally=%c stratum=%d reach=%03o hmode=%d offset=%.9f delay=%.9f\n",
               (unsigned)p.association_id, addr, p.tally, p.stratum, p.reach < 0 ? 0u : (unsigned)p.reach, p.hmode,
               p.offset, p.delay);
    }
    fflush(stdout);
    ntp_control_client_free(c);
    close(fd);
    return 0;
}

int main(int argc, char **argv) {
    const char *bind_addrs[MAX_SOCKETS], *key_path = NULL, *trusted = NULL, *query_target = NULL;
    int n_binds = 0, fds[MAX_SOCKETS], n_fds = 0;
    ntp_sockaddr selves[MAX_SOCKETS];
    uint32_t dialect = NTP_KEY_FILE_DIALECT_CHRONY_KEYS;
    uint16_t port = 123;
    ntp_sockaddr remotes[MAX_REMOTES];
    uint32_t remote_keys[MAX_REMOTES], remote_modes[MAX_REMOTES];
    int n_remotes = 0, verbose = 0, opt, i;
    int8_t minpoll = 6, maxpoll = 10;
    double initial_offset = 0.0, run_for = -1.0, started;
    ntp_engine_options opts;
    ntp_keyring *ring = NULL;
    ntp_engine *engine = NULL;
    struct softclock clk;
    ntp_timestamp deadline;

    TRY("options", ntp_engine_options_init(&opts));
    while ((opt = getopt(argc, argv, "b:p:s:P:q:n:x:m:k:K:T:ao:t:v")) != -1) {
        switch (opt) {
        case 'b':
            if (n_binds == MAX_SOCKETS) {
                fprintf(stderr, "ntpd-mini: at most %d -b addresses\n", MAX_SOCKETS);
                return 2;
            }
            bind_addrs[n_binds++] = optarg;
            break;
        case 'q': query_target = optarg; break;
        case 'p': port = (uint16_t)atoi(optarg); break;
        case 's':
        case 'P':
            if (n_remotes == MAX_REMOTES || parse_remote(optarg, &remotes[n_remotes], &remote_keys[n_remotes]) != 0) {
                fprintf(stderr, "ntpd-mini: bad remote '%s' (A.B.C.D:PORT[:KEYID] or [IPv6]:PORT[:KEYID])\n", optarg);
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

    if (query_target != NULL) {
        ntp_sockaddr server;
        uint32_t key_id;
        int rc;
        if (parse_remote(query_target, &server, &key_id) != 0) {
            fprintf(stderr, "ntpd-mini: bad -q '%s' (A.B.C.D:PORT[:KEYID] or [IPv6]:PORT[:KEYID])\n", query_target);
            return 2;
        }
        rc = query(&server, ring, key_id);
        ntp_keyring_free(ring);
        return rc;
    }

    /* One socket per bound address, IPv4 or IPv6. */
    if (n_binds == 0) {
        bind_addrs[n_binds++] = "127.0.0.1";
    }
    for (i = 0; i < n_binds; i++) {
        if (parse_ip(bind_addrs[i], &selves[i]) != 0) {
            fprintf(stderr, "ntpd-mini: bad -b address '%s'\n", bind_addrs[i]);
            return 2;
        }
        selves[i].port = port;
        if ((fds[n_fds++] = open_socket(&selves[i])) < 0) {
            fprintf(stderr, "ntpd-mini: socket/bind %s: %s\n", bind_addrs[i], strerror(errno));
            return 2;
        }
    }

    /* Our own addresses: a source whose reference id names one is
     * synchronized to us, and the engine refuses it (a timing loop between
     * peers). */
    opts.local_addresses = selves;
    opts.local_address_count = (size_t)n_binds;

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
    printf("ntpd-mini %s on %d socket(s) (first %s), port %u, %d remote(s)\n", ntp_version(), n_fds, bind_addrs[0],
           (unsigned)port, n_remotes);
    fflush(stdout);

    for (;;) {
        uint8_t buf[NTP_MAX_DATAGRAM * 4];
        ntp_output out;
        struct pollfd pfds[MAX_SOCKETS];
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
                /* From the first socket of the destination's family. */
                struct sockaddr_storage to;
                socklen_t to_len = to_platform(&out.destination, &to);
                int k, sent = 0;
                for (k = 0; k < n_fds && !sent; k++) {
                    if (selves[k].family == out.destination.family) {
                        sent = 1;
                        if (sendto(fds[k], buf, out.len, 0, (struct sockaddr *)&to, to_len) < 0 && verbose) {
                            perror("ntpd-mini: sendto");
                        }
                    }
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
        for (i = 0; i < n_fds; i++) {
            pfds[i].fd = fds[i];
            pfds[i].events = POLLIN;
            pfds[i].revents = 0;
        }
        if (poll(pfds, (nfds_t)n_fds, timeout_ms) < 0 && errno != EINTR) {
            perror("ntpd-mini: poll");
            break;
        }
        for (i = 0; i < n_fds; i++) {
            if (!(pfds[i].revents & POLLIN)) {
                continue;
            }
            for (;;) {
                struct sockaddr_storage from;
                socklen_t from_len = sizeof from;
                ssize_t n = recvfrom(fds[i], buf, sizeof buf, 0, (struct sockaddr *)&from, &from_len);
                ntp_timestamp now = softclock_now(&clk); /* receive time, as early as we can */
                ntp_sockaddr src;
                if (n < 0) {
                    break;
                }
                if (from_platform(&from, &src) != 0) {
                    continue;
                }
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
    for (i = 0; i < n_fds; i++) {
        close(fds[i]);
    }
    return 0;
}
