/* The mode 6 control client group: requests into caller buffers, responses
 * fed back from an engine in memory (the engine is the server, reached
 * from 127.0.0.1, which its control access list allows), typed results,
 * the text view, retries and timeouts, authentication, and misuse. */
#include <math.h>
#include <string.h>

#include "ntp.h"
#include "check.h"

static ntp_sockaddr v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t port) {
    ntp_sockaddr s;
    memset(&s, 0, sizeof s);
    s.family = 4;
    s.port = port;
    s.addr[0] = a;
    s.addr[1] = b;
    s.addr[2] = c;
    s.addr[3] = d;
    return s;
}

static int same_family_loopback(const ntp_sockaddr *a) {
    return a->family == 4 && a->addr[0] == 127 && a->port == 40123;
}

/* Sends `req` to `engine` from 127.0.0.1 and feeds every answer to
 * `client`; returns the result of the last handle_datagram (or of the
 * first that failed) and the last event in `*event`. */
static ntp_result exchange(ntp_engine *engine, ntp_control_client *client, const uint8_t *req, size_t len,
                           ntp_timestamp now, double mono, uint32_t *event) {
    ntp_sockaddr from = v4(127, 0, 0, 1, 40123);
    uint8_t buf[NTP_MAX_DATAGRAM];
    ntp_output out;
    ntp_result rc = NTP_RESULT_OK;
    /* Each exchange a second later: the engine's clock must move on. */
    static double later;
    later += 1.0;
    CHECK_RC(ntp_timestamp_add_seconds(now, later, &now), NTP_RESULT_OK);
    *event = 999;
    CHECK_RC(ntp_engine_handle_datagram(engine, now, &from, req, len), NTP_RESULT_OK);
    for (;;) {
        CHECK_RC(ntp_engine_poll_output(engine, &out, buf, sizeof buf), NTP_RESULT_OK);
        if (out.kind == NTP_OUTPUT_KIND_TIMEOUT) {
            return rc;
        }
        /* The engine's own NTP polls go elsewhere; only answers come back. */
        if (out.kind == NTP_OUTPUT_KIND_TRANSMIT && rc == NTP_RESULT_OK && same_family_loopback(&out.destination)) {
            rc = ntp_control_client_handle_datagram(client, buf, out.len, mono, event);
        }
    }
}

static ntp_engine *server_engine(const ntp_keyring *ring, ntp_timestamp t, uint32_t *assoc) {
    ntp_engine *e = NULL;
    ntp_engine_options opts;
    ntp_association_config cfg;
    CHECK_RC(ntp_engine_options_init(&opts), NTP_RESULT_OK);
    opts.master_stratum = 3;
    CHECK_RC(ntp_engine_new(&opts, ring, t, &e), NTP_RESULT_OK);
    CHECK_RC(ntp_association_config_init(&cfg), NTP_RESULT_OK);
    cfg.address = v4(192, 0, 2, 9, 123);
    CHECK_RC(ntp_engine_add_association(e, &cfg, t, assoc), NTP_RESULT_OK);
    return e;
}

static void test_queries(void) {
    ntp_timestamp t = 0;
    ntp_engine *engine;
    ntp_control_client *client = NULL;
    uint8_t req[NTP_MAX_DATAGRAM], data[2048];
    size_t n = 0, count = 99;
    uint32_t assoc = 0, event = 0;
    ntp_control_response resp;
    ntp_control_association list[4];
    ntp_control_system_vars sys;
    ntp_control_peer_vars peer;
    char text[4096];
    uint8_t code = 0;

    CHECK_RC(ntp_timestamp_from_unix(1795219200, 0, &t), NTP_RESULT_OK);
    engine = server_engine(NULL, t, &assoc);
    CHECK_RC(ntp_control_client_new(NULL, 0, &client), NTP_RESULT_OK);

    /* READSTAT: the association list. */
    CHECK_RC(ntp_control_client_request(client, NTP_CONTROL_OP_READ_STATUS, 0, NULL, 0, 10.0, req, sizeof req, &n),
             NTP_RESULT_OK);
    CHECK(n == 12);
    CHECK((req[0] & 7) == 6); /* mode 6 */
    CHECK_RC(exchange(engine, client, req, n, t, 10.1, &event), NTP_RESULT_OK);
    CHECK(event == NTP_CONTROL_EVENT_COMPLETE);
    CHECK_RC(ntp_control_client_response(client, &resp), NTP_RESULT_OK);
    CHECK(resp.opcode == NTP_CONTROL_OP_READ_STATUS && resp.association_id == 0 && !resp.authenticated);
    CHECK(resp.data_len == 4);
    CHECK_RC(ntp_control_client_response_data(client, data, sizeof data, &n), NTP_RESULT_OK);
    CHECK(n == 4 && data[0] == (assoc >> 8) && data[1] == (assoc & 0xff));
    CHECK_RC(ntp_control_client_associations(client, list, 4, &count), NTP_RESULT_OK);
    CHECK(count == 1 && list[0].association_id == assoc && list[0].selection <= 7 && list[0].tally != 0);
    CHECK_RC(ntp_control_client_response_text(client, text, sizeof text, &n), NTP_RESULT_OK);
    CHECK(strncmp(text, "associd=", 8) == 0 && strlen(text) == n);
    /* READSTAT is no variable list. */
    CHECK_RC(ntp_control_client_system_vars(client, &sys), NTP_RESULT_INVALID_PARAMETER);
    CHECK_RC(ntp_control_client_peer_vars(client, &peer), NTP_RESULT_INVALID_PARAMETER);
    /* Too small an array: nothing written. */
    count = 77;
    CHECK_RC(ntp_control_client_associations(client, list, 0, &count), NTP_RESULT_INSUFFICIENT_SIZE);
    CHECK(count == 77);

    /* READVAR 0: the system variables. */
    CHECK_RC(ntp_control_client_request(client, NTP_CONTROL_OP_READ_VARIABLES, 0, NULL, 0, 11.0, req, sizeof req, &n),
             NTP_RESULT_OK);
    CHECK_RC(ntp_control_client_response(client, &resp), NTP_RESULT_CONTROL_NO_RESPONSE); /* dropped by the request */
    CHECK_RC(exchange(engine, client, req, n, t, 11.1, &event), NTP_RESULT_OK);
    CHECK(event == NTP_CONTROL_EVENT_COMPLETE);
    CHECK_RC(ntp_control_client_system_vars(client, &sys), NTP_RESULT_OK);
    CHECK(sys.stratum == 3);
    CHECK(sys.leap >= 0 && sys.leap <= 3);
    CHECK(sys.precision < 0);
    CHECK(!isnan(sys.root_dispersion));
    CHECK(sys.clock != 0);
    CHECK(strlen(sys.version) > 0 && strlen(sys.version) < NTP_CONTROL_TEXT_LEN);
    CHECK_RC(ntp_control_client_response_text(client, text, sizeof text, &n), NTP_RESULT_OK);
    CHECK(strstr(text, "stratum=3\n") != NULL);
    CHECK_RC(ntp_control_client_response_text(client, text, 5, &n), NTP_RESULT_INSUFFICIENT_SIZE);
    CHECK_RC(ntp_control_client_peer_vars(client, &peer), NTP_RESULT_INVALID_PARAMETER);

    /* Named variables only. */
    CHECK_RC(ntp_control_client_request(client, NTP_CONTROL_OP_READ_VARIABLES, 0, (const uint8_t *)"stratum", 7, 12.0,
                                        req, sizeof req, &n),
             NTP_RESULT_OK);
    CHECK_RC(exchange(engine, client, req, n, t, 12.1, &event), NTP_RESULT_OK);
    CHECK_RC(ntp_control_client_system_vars(client, &sys), NTP_RESULT_OK);
    CHECK(sys.stratum == 3 && sys.leap == -1 && isnan(sys.offset) && sys.refid[0] == '\0');

    /* READVAR N: one association. */
    CHECK_RC(ntp_control_client_request(client, NTP_CONTROL_OP_READ_VARIABLES, (uint16_t)assoc, NULL, 0, 13.0, req,
                                        sizeof req, &n),
             NTP_RESULT_OK);
    CHECK_RC(exchange(engine, client, req, n, t, 13.1, &event), NTP_RESULT_OK);
    CHECK(event == NTP_CONTROL_EVENT_COMPLETE);
    CHECK_RC(ntp_control_client_peer_vars(client, &peer), NTP_RESULT_OK);
    CHECK(peer.association_id == assoc);
    CHECK(peer.address.family == 4 && peer.address.addr[0] == 192 && peer.address.addr[3] == 9);
    CHECK(peer.address.port == 123);
    CHECK(peer.hmode == 3);
    CHECK(peer.reach == 0);
    CHECK(peer.filter_count <= NTP_CONTROL_FILTER_LEN);
    CHECK_RC(ntp_control_client_system_vars(client, &sys), NTP_RESULT_INVALID_PARAMETER);
    CHECK_RC(ntp_control_client_response_text(client, text, sizeof text, &n), NTP_RESULT_OK);
    CHECK(strstr(text, "srcadr=192.0.2.9\n") != NULL);

    /* An unknown association: the server's error code comes back. */
    CHECK_RC(ntp_control_client_request(client, NTP_CONTROL_OP_READ_VARIABLES, 999, NULL, 0, 14.0, req, sizeof req, &n),
             NTP_RESULT_OK);
    CHECK_RC(exchange(engine, client, req, n, t, 14.1, &event), NTP_RESULT_CONTROL_SERVER_ERROR);
    CHECK_RC(ntp_control_client_server_error(client, &code), NTP_RESULT_OK);
    CHECK(code == 4);
    CHECK_RC(ntp_control_client_deadline(client, &(double){0}), NTP_RESULT_NOT_FOUND); /* the request ended */

    ntp_control_client_free(client);
    ntp_engine_free(engine);
}

static void test_retry_and_timeout(void) {
    ntp_control_client *client = NULL;
    uint8_t req[NTP_MAX_DATAGRAM], again[NTP_MAX_DATAGRAM];
    size_t n = 0, m = 99;
    double deadline = 0;
    uint32_t event = 99;
    const uint8_t garbage[3] = {1, 2, 3};

    CHECK_RC(ntp_control_client_new(NULL, 0, &client), NTP_RESULT_OK);
    CHECK_RC(ntp_control_client_deadline(client, &deadline), NTP_RESULT_NOT_FOUND);
    CHECK_RC(ntp_control_client_handle_timeout(client, 1.0, again, sizeof again, &m), NTP_RESULT_OK);
    CHECK(m == 0);
    CHECK_RC(ntp_control_client_request(client, NTP_CONTROL_OP_READ_VARIABLES, 0, NULL, 0, 100.0, req, sizeof req, &n),
             NTP_RESULT_OK);
    CHECK_RC(ntp_control_client_deadline(client, &deadline), NTP_RESULT_OK);
    CHECK(deadline == 105.0);
    /* One request at a time. */
    CHECK_RC(ntp_control_client_request(client, NTP_CONTROL_OP_READ_VARIABLES, 0, NULL, 0, 100.0, again, sizeof again,
                                        &m),
             NTP_RESULT_CONTROL_BUSY);
    /* Not a response: ignored, the request stays. */
    CHECK_RC(ntp_control_client_handle_datagram(client, garbage, sizeof garbage, 101.0, &event), NTP_RESULT_OK);
    CHECK(event == NTP_CONTROL_EVENT_IGNORED);
    CHECK_RC(ntp_control_client_handle_datagram(client, req, n, 101.0, &event), NTP_RESULT_OK); /* our own request */
    CHECK(event == NTP_CONTROL_EVENT_IGNORED);
    /* Not due yet. */
    m = 99;
    CHECK_RC(ntp_control_client_handle_timeout(client, 104.0, again, sizeof again, &m), NTP_RESULT_OK);
    CHECK(m == 0);
    /* A retry must fit the caller's buffer: refused, nothing changed. */
    CHECK_RC(ntp_control_client_handle_timeout(client, 105.0, again, n - 1, &m), NTP_RESULT_INSUFFICIENT_SIZE);
    CHECK(m == 0);
    /* Due: the same request again (same sequence number). */
    CHECK_RC(ntp_control_client_handle_timeout(client, 105.0, again, sizeof again, &m), NTP_RESULT_OK);
    CHECK(m == n && memcmp(req, again, n) == 0);
    CHECK_RC(ntp_control_client_deadline(client, &deadline), NTP_RESULT_OK);
    CHECK(deadline == 110.0);
    /* Second expiry: the request fails. */
    CHECK_RC(ntp_control_client_handle_timeout(client, 110.0, again, sizeof again, &m), NTP_RESULT_CONTROL_TIMEOUT);
    CHECK_RC(ntp_control_client_deadline(client, &deadline), NTP_RESULT_NOT_FOUND);
    /* Cancel frees the slot. */
    CHECK_RC(ntp_control_client_request(client, NTP_CONTROL_OP_READ_STATUS, 0, NULL, 0, 200.0, req, sizeof req, &n),
             NTP_RESULT_OK);
    CHECK_RC(ntp_control_client_cancel(client), NTP_RESULT_OK);
    CHECK_RC(ntp_control_client_request(client, NTP_CONTROL_OP_READ_STATUS, 0, NULL, 0, 200.0, req, sizeof req, &n),
             NTP_RESULT_OK);
    ntp_control_client_free(client);
}

static void test_authenticated(void) {
    ntp_timestamp t = 0;
    ntp_keyring *ring = NULL, *other = NULL;
    ntp_engine *engine;
    ntp_control_client *client = NULL, *wrong = NULL;
    uint8_t req[NTP_MAX_DATAGRAM];
    size_t n = 0;
    uint32_t assoc = 0, event = 0;
    ntp_control_response resp;
    ntp_control_system_vars sys;
    const uint8_t secret[] = "control-secret", bad_secret[] = "control-secreT";

    CHECK_RC(ntp_timestamp_from_unix(1795219200, 0, &t), NTP_RESULT_OK);
    CHECK_RC(ntp_keyring_new(&ring), NTP_RESULT_OK);
    CHECK_RC(ntp_keyring_add_key(ring, 5, NTP_KEY_TYPE_MD5, secret, 14, true), NTP_RESULT_OK);
    CHECK_RC(ntp_keyring_new(&other), NTP_RESULT_OK);
    CHECK_RC(ntp_keyring_add_key(other, 5, NTP_KEY_TYPE_MD5, bad_secret, 14, true), NTP_RESULT_OK);
    engine = server_engine(ring, t, &assoc);

    CHECK_RC(ntp_control_client_new(ring, 6, &client), NTP_RESULT_AUTH_UNKNOWN_KEY);
    CHECK_RC(ntp_control_client_new(ring, 5, &client), NTP_RESULT_OK);
    CHECK_RC(ntp_control_client_new(other, 5, &wrong), NTP_RESULT_OK);
    /* The clients copied their keys. */
    ntp_keyring_free(ring);
    ntp_keyring_free(other);

    CHECK_RC(ntp_control_client_request(client, NTP_CONTROL_OP_READ_VARIABLES, 0, NULL, 0, 1.0, req, sizeof req, &n),
             NTP_RESULT_OK);
    CHECK(n == 16 + 4 + 16); /* header padded to 8, key id, MD5 digest */
    CHECK_RC(exchange(engine, client, req, n, t, 1.1, &event), NTP_RESULT_OK);
    CHECK(event == NTP_CONTROL_EVENT_COMPLETE);
    CHECK_RC(ntp_control_client_response(client, &resp), NTP_RESULT_OK);
    CHECK(resp.authenticated);
    CHECK_RC(ntp_control_client_system_vars(client, &sys), NTP_RESULT_OK);
    CHECK(sys.stratum == 3);

    /* A wrong secret: the server answers unsigned, which a keyed client refuses. */
    CHECK_RC(ntp_control_client_request(wrong, NTP_CONTROL_OP_READ_VARIABLES, 0, NULL, 0, 2.0, req, sizeof req, &n),
             NTP_RESULT_OK);
    CHECK_RC(exchange(engine, wrong, req, n, t, 2.1, &event), NTP_RESULT_CONTROL_UNAUTHENTICATED);
    CHECK_RC(ntp_control_client_response(wrong, &resp), NTP_RESULT_CONTROL_NO_RESPONSE);

    ntp_control_client_free(client);
    ntp_control_client_free(wrong);
    ntp_engine_free(engine);
}

static void test_misuse(void) {
    ntp_control_client *client = NULL;
    uint8_t req[NTP_MAX_DATAGRAM], big[600];
    size_t n = 1234;
    double d = 0;
    uint32_t event = 0;
    uint8_t code = 0;
    ntp_control_response resp;
    ntp_control_association list[1];
    ntp_control_system_vars sys;
    ntp_control_peer_vars peer;
    char text[16];

    ntp_control_client_free(NULL);
    CHECK_RC(ntp_control_client_new(NULL, 0, NULL), NTP_RESULT_NULL_PARAMETER);
    CHECK_RC(ntp_control_client_request(NULL, 1, 0, NULL, 0, 0.0, req, sizeof req, &n), NTP_RESULT_NULL_PARAMETER);
    CHECK_RC(ntp_control_client_cancel(NULL), NTP_RESULT_NULL_PARAMETER);
    CHECK_RC(ntp_control_client_deadline(NULL, &d), NTP_RESULT_NULL_PARAMETER);
    CHECK_RC(ntp_control_client_handle_timeout(NULL, 0.0, req, sizeof req, &n), NTP_RESULT_NULL_PARAMETER);
    CHECK_RC(ntp_control_client_handle_datagram(NULL, req, 12, 0.0, &event), NTP_RESULT_NULL_PARAMETER);
    CHECK_RC(ntp_control_client_server_error(NULL, &code), NTP_RESULT_NULL_PARAMETER);
    CHECK_RC(ntp_control_client_response(NULL, &resp), NTP_RESULT_NULL_PARAMETER);
    CHECK_RC(ntp_control_client_response_data(NULL, req, sizeof req, &n), NTP_RESULT_NULL_PARAMETER);
    CHECK_RC(ntp_control_client_associations(NULL, list, 1, &n), NTP_RESULT_NULL_PARAMETER);
    CHECK_RC(ntp_control_client_system_vars(NULL, &sys), NTP_RESULT_NULL_PARAMETER);
    CHECK_RC(ntp_control_client_peer_vars(NULL, &peer), NTP_RESULT_NULL_PARAMETER);
    CHECK_RC(ntp_control_client_response_text(NULL, text, sizeof text, &n), NTP_RESULT_NULL_PARAMETER);

    CHECK_RC(ntp_control_client_new(NULL, 0, &client), NTP_RESULT_OK);
    /* Nothing held yet. */
    CHECK_RC(ntp_control_client_response(client, &resp), NTP_RESULT_CONTROL_NO_RESPONSE);
    CHECK_RC(ntp_control_client_response_data(client, req, sizeof req, &n), NTP_RESULT_CONTROL_NO_RESPONSE);
    CHECK_RC(ntp_control_client_associations(client, list, 1, &n), NTP_RESULT_CONTROL_NO_RESPONSE);
    CHECK_RC(ntp_control_client_system_vars(client, &sys), NTP_RESULT_CONTROL_NO_RESPONSE);
    CHECK_RC(ntp_control_client_peer_vars(client, &peer), NTP_RESULT_CONTROL_NO_RESPONSE);
    CHECK_RC(ntp_control_client_response_text(client, text, sizeof text, &n), NTP_RESULT_CONTROL_NO_RESPONSE);
    CHECK_RC(ntp_control_client_server_error(client, &code), NTP_RESULT_NOT_FOUND);
    /* Bad arguments: nothing started, so the next good request goes through. */
    CHECK_RC(ntp_control_client_request(client, 1, 0, NULL, 0, 0.0, NULL, 512, &n), NTP_RESULT_NULL_PARAMETER);
    CHECK_RC(ntp_control_client_request(client, 1, 0, NULL, 0, 0.0, req, sizeof req, NULL), NTP_RESULT_NULL_PARAMETER);
    CHECK_RC(ntp_control_client_request(client, 1, 0, NULL, 5, 0.0, req, sizeof req, &n), NTP_RESULT_NULL_PARAMETER);
    CHECK_RC(ntp_control_client_request(client, 32, 0, NULL, 0, 0.0, req, sizeof req, &n),
             NTP_RESULT_INVALID_PARAMETER);
    CHECK_RC(ntp_control_client_request(client, 1, 0, NULL, 0, NAN, req, sizeof req, &n), NTP_RESULT_INVALID_PARAMETER);
    memset(big, 'a', sizeof big);
    CHECK_RC(ntp_control_client_request(client, 2, 0, big, 469, 0.0, req, sizeof req, &n),
             NTP_RESULT_INVALID_PARAMETER);
    CHECK_RC(ntp_control_client_deadline(client, &d), NTP_RESULT_NOT_FOUND);
    CHECK_RC(ntp_control_client_request(client, 1, 0, NULL, 0, 0.0, req, 11, &n), NTP_RESULT_INSUFFICIENT_SIZE);
    CHECK(n == 1234);
    CHECK_RC(ntp_control_client_deadline(client, &d), NTP_RESULT_NOT_FOUND);
    /* 468 data bytes are the most a request carries. */
    CHECK_RC(ntp_control_client_request(client, 2, 0, big, 468, 0.0, req, sizeof req, &n), NTP_RESULT_OK);
    CHECK(n == 12 + 468);
    CHECK_RC(ntp_control_client_deadline(client, NULL), NTP_RESULT_NULL_PARAMETER);
    CHECK_RC(ntp_control_client_handle_datagram(client, NULL, 12, 0.0, &event), NTP_RESULT_NULL_PARAMETER);
    CHECK_RC(ntp_control_client_handle_datagram(client, req, 12, 0.0, NULL), NTP_RESULT_NULL_PARAMETER);
    CHECK_RC(ntp_control_client_handle_datagram(client, req, 12, INFINITY, &event), NTP_RESULT_INVALID_PARAMETER);
    CHECK_RC(ntp_control_client_handle_datagram(client, NULL, 0, 0.0, &event), NTP_RESULT_OK);
    CHECK(event == NTP_CONTROL_EVENT_IGNORED);
    CHECK_RC(ntp_control_client_handle_timeout(client, NAN, req, sizeof req, &n), NTP_RESULT_INVALID_PARAMETER);
    CHECK_RC(ntp_control_client_handle_timeout(client, 0.0, req, sizeof req, NULL), NTP_RESULT_NULL_PARAMETER);
    ntp_control_client_free(client);
}

int main(void) {
    test_queries();
    test_retry_and_timeout();
    test_authenticated();
    test_misuse();
    return check_finish("test_control");
}
