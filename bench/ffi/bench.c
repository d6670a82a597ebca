/* The C side of the ABI overhead benchmark (scripts/test-c.sh step 8).
 * Times the same work as ntp-ffi/examples/ffi_bench_rust.rs through the C
 * ABI, reads the Rust figures from the file named on the command line, and
 * prints RATIO ffi.<metric> ours_c=<ns> rust=<ns> x<rust/c>
 * (x1.00 = no overhead; below 1 the ABI costs that fraction).
 *
 * Built twice by the script: with gcc against the plain static library
 * (what most C programs get), and with clang and cross-language LTO
 * (-DBENCH_SUFFIX='"_lto"'), where the linker inlines the library's entry
 * points into this file; the suffix names the second set of lines. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ntp.h"

#ifndef BENCH_SUFFIX
#define BENCH_SUFFIX ""
#endif

/* What std::hint::black_box is to the Rust side: the compiler must assume
 * that the object behind P is read and may have changed here. Without it
 * an LTO build, which sees through both calls, decodes the constant packet
 * once at compile time and the loop times an addition. The plain build
 * cannot see into the library, where the barrier costs nothing. */
#define OPAQUE(p) __asm__ volatile("" : : "r"(p) : "memory")

/* Short rounds, fastest one counts: see ffi_bench_rust.rs. */
#define ROUNDS 200

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static double fastest(const double *v) {
    double best = v[0];
    int i;
    for (i = 1; i < ROUNDS; i++) {
        if (v[i] < best) {
            best = v[i];
        }
    }
    return best;
}

static volatile uint64_t sink;

static double rust_figure(const char *path, const char *name) {
    char line[256];
    size_t n = strlen(name);
    FILE *f = fopen(path, "r");
    double v = -1;
    if (f == NULL) {
        perror(path);
        exit(2);
    }
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, name, n) == 0 && line[n] == '=') {
            v = atof(line + n + 1);
        }
    }
    fclose(f);
    if (v <= 0) {
        fprintf(stderr, "no figure %s in %s\n", name, path);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv) {
    uint8_t packet[48], out[48], buf[NTP_MAX_DATAGRAM];
    ntp_packet_header h;
    ntp_timestamp now;
    ntp_engine *server;
    ntp_engine_options opts;
    ntp_sockaddr client;
    ntp_output o;
    double samples[ROUNDS], codec, engine, rust;
    size_t n;
    long i, iters;
    int r;

    if (argc != 2) {
        fprintf(stderr, "usage: bench RUST_FIGURES_FILE\n");
        return 2;
    }
    ntp_timestamp_from_unix(1795219200, 0, &now);
    ntp_packet_header_init(&h);
    h.mode = 3;
    h.poll = 6;
    h.transmit_time = now;
    ntp_packet_encode(&h, packet, sizeof packet, &n);

    iters = 20000;
    for (r = 0; r < ROUNDS; r++) {
        double start = now_ns();
        for (i = 0; i < iters; i++) {
            OPAQUE(packet);
            if (ntp_packet_decode(packet, sizeof packet, &h) != NTP_RESULT_OK) {
                return 1;
            }
            OPAQUE(&h);
            if (ntp_packet_encode(&h, out, sizeof out, &n) != NTP_RESULT_OK) {
                return 1;
            }
            OPAQUE(out);
            sink += out[0];
        }
        samples[r] = (now_ns() - start) / (double)iters;
    }
    codec = fastest(samples);
    rust = rust_figure(argv[1], "decode_encode");
    printf("RATIO ffi.decode_encode%s ours_c=%.1f rust=%.1f x%.2f\n", BENCH_SUFFIX, codec, rust, rust / codec);

    ntp_engine_options_init(&opts);
    opts.master_stratum = 1;
    ntp_engine_new(&opts, NULL, now, &server);
    memset(&client, 0, sizeof client);
    client.family = 4;
    client.port = 123;
    client.addr[0] = 192;
    client.addr[2] = 2;
    client.addr[3] = 2;
    iters = 2000;
    for (r = 0; r < ROUNDS; r++) {
        double start = now_ns();
        for (i = 0; i < iters; i++) {
            ntp_engine_handle_datagram(server, now, &client, packet, sizeof packet);
            do {
                ntp_engine_poll_output(server, &o, buf, sizeof buf);
                sink += o.kind;
            } while (o.kind != NTP_OUTPUT_KIND_TIMEOUT);
        }
        samples[r] = (now_ns() - start) / (double)iters;
    }
    engine = fastest(samples);
    rust = rust_figure(argv[1], "engine_datagram");
    printf("RATIO ffi.engine_datagram%s ours_c=%.1f rust=%.1f x%.2f\n", BENCH_SUFFIX, engine, rust,
           rust / engine);
    ntp_engine_free(server);
    return 0;
}
