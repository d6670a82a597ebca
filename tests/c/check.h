/* A minimal assertion harness for the C tests: counts checks and
 * failures, prints each failure with its line, and exits non-zero if any
 * failed. */
#ifndef NTP_TEST_CHECK_H
#define NTP_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>

static int check_total;
static int check_failed;

#define CHECK(cond)                                                        \
    do {                                                                   \
        check_total++;                                                     \
        if (!(cond)) {                                                     \
            check_failed++;                                                \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__,         \
                    __LINE__, #cond);                                      \
        }                                                                  \
    } while (0)

/* The call returns the expected ntp_result. */
#define CHECK_RC(call, expected)                                           \
    do {                                                                   \
        unsigned rc_ = (unsigned)(call);                                   \
        check_total++;                                                     \
        if (rc_ != (unsigned)(expected)) {                                 \
            check_failed++;                                                \
            fprintf(stderr, "%s:%d: %s returned %u, expected %u\n",        \
                    __FILE__, __LINE__, #call, rc_, (unsigned)(expected)); \
        }                                                                  \
    } while (0)

static int check_finish(const char *name) {
    printf("%s: %d checks, %d failed\n", name, check_total, check_failed);
    return check_failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif
