/* The engine group: options, associations, datagrams, timeouts, the
 * tagged outputs, status snapshots and text views, and misuse. Two engines
 * (a stratum-1 server and an authenticated client) exchange packets in
 * memory on a simulated timeline. */
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

static int same_addr(const ntp_sockaddr *x, const ntp_sockaddr *y) {
    return x->family == y->family && x->port == y->port && memcmp(x->addr, y->addr, 16) == 0;
}

/* Drains `from`, delivering its datagrams to `to` (if not NULL) at `now`.
 * Returns the number of outputs before the closing TIMEOUT. */
static int drain(ntp_engine *from, const ntp_sockaddr *from_addr, ntp_engine *to, ntp_timestamp now, int *events) {
    uint8_t buf[NTP_MAX_DATAGRAM];
    ntp_output out;
    int n = 0;
    for (;;) {
        CHECK_RC(ntp_engine_poll_output(from, &out, buf, sizeof buf), NTP_RESULT_OK);
        if (out.kind == NTP_OUTPUT_KIND_TIMEOUT) {
            return n;
        }
        n++;
        if (out.kind == NTP_OUTPUT_KIND_EVENT && events != NULL) {
            (*events)++;
        }
        if (out.kind == NTP_OUTPUT_KIND_TRANSMIT && to != NULL) {
            CHECK(out.len >= NTP_HEADER_LEN && out.len <= NTP_MAX_DATAGRAM);
            CHECK_RC(ntp_engine_handle_datagram(to, now, from_addr, buf, out.len), NTP_RESULT_OK);
        }
        if (n > 10000) {
            CHECK(!"poll_output never reached TIMEOUT");
            return n;
        }
    }
}

static void test_sync(void) {
    ntp_keyring *ring = NULL;
    ntp_engine *server = NULL, *client = NULL;
    ntp_engine_options opts;
    ntp_association_config cfg;
    ntp_sockaddr server_addr = v4(192, 0, 2, 1, 123), client_addr = v4(192, 0, 2, 2, 50123);
    ntp_timestamp t = 0;
    ntp_system_status sys;
    ntp_peer_status peers[4];
    size_t count = 0, written = 0;
    uint32_t id = 0;
    char text[4096];
    int i, events = 0;
    const uint8_t secret[] = "interop-secret";

    CHECK_RC(ntp_keyring_new(&ring), NTP_RESULT_OK);
    CHECK_RC(ntp_keyring_add_key(ring, 7, NTP_KEY_TYPE_MD5, secret, 14, true), NTP_RESULT_OK);
    CHECK_RC(ntp_timestamp_from_unix(1795219200, 0, &t), NTP_RESULT_OK);

    CHECK_RC(ntp_engine_options_init(&opts), NTP_RESULT_OK);
    opts.master_stratum = 1;
    CHECK_RC(ntp_engine_new(&opts, ring, t, &server), NTP_RESULT_OK);
    CHECK_RC(ntp_engine_options_init(&opts), NTP_RESULT_OK);
    opts.require_auth = true;
    CHECK_RC(ntp_engine_new(&opts, ring, t, &client), NTP_RESULT_OK);
    /* The engines copied the keyring: freeing it now must not matter. */
    ntp_keyring_free(ring);

    CHECK_RC(ntp_association_config_init(&cfg), NTP_RESULT_OK);
    cfg.address = server_addr;
    cfg.key_id = 7;
    cfg.iburst = true;
    cfg.minpoll = 4;
    cfg.maxpoll = 6;
    CHECK_RC(ntp_engine_add_association(client, &cfg, t, &id), NTP_RESULT_OK);
    CHECK(id != 0);

    for (i = 0; i < 60; i++) {
        CHECK_RC(ntp_engine_handle_timeout(client, t), NTP_RESULT_OK);
        CHECK_RC(ntp_engine_handle_timeout(server, t), NTP_RESULT_OK);
        {
            uint8_t buf[NTP_MAX_DATAGRAM];
            ntp_output out;
            for (;;) {
                CHECK_RC(ntp_engine_poll_output(client, &out, buf, sizeof buf), NTP_RESULT_OK);
                if (out.kind == NTP_OUTPUT_KIND_TIMEOUT) {
                    double wait = 0;
                    CHECK_RC(ntp_timestamp_diff(out.deadline, t, &wait), NTP_RESULT_OK);
                    CHECK(wait >= 0.0);
                    break;
                }
                if (out.kind == NTP_OUTPUT_KIND_EVENT) {
                    events++;
                }
                if (out.kind == NTP_OUTPUT_KIND_TRANSMIT) {
                    CHECK(same_addr(&out.destination, &server_addr));
                    CHECK_RC(ntp_engine_handle_datagram(server, t, &client_addr, buf, out.len), NTP_RESULT_OK);
                    drain(server, &server_addr, client, t, NULL);
                }
            }
        }
        CHECK_RC(ntp_timestamp_add_seconds(t, 0.5, &t), NTP_RESULT_OK);
    }
    CHECK(events > 0);

    CHECK_RC(ntp_engine_system_status(client, t, &sys), NTP_RESULT_OK);
    CHECK(sys.synchronized);
    CHECK(sys.stratum == 2);
    CHECK(sys.source == NTP_SYNC_SOURCE_PEER);
    CHECK(sys.system_peer_id == id);
    CHECK(same_addr(&sys.system_peer, &server_addr));
    CHECK(!isnan(sys.since_update));

    CHECK_RC(ntp_engine_association_count(client, &count), NTP_RESULT_OK);
    CHECK(count == 1);
    CHECK_RC(ntp_engine_peer_status(client, t, peers, 4, &count), NTP_RESULT_OK);
    CHECK(count == 1);
    CHECK(peers[0].id == id && peers[0].configured && peers[0].mode == NTP_ASSOCIATION_MODE_CLIENT);
    CHECK(peers[0].reach != 0 && peers[0].stratum == 1);
    CHECK(peers[0].selection == NTP_SELECTION_SYSTEM_PEER);
    CHECK(fabs(peers[0].offset) < 1e-6);
    count = 99;
    CHECK_RC(ntp_engine_peer_status(client, t, peers, 0, &count), NTP_RESULT_INSUFFICIENT_SIZE);
    CHECK(count == 99);

    CHECK_RC(ntp_engine_text_view(client, t, NTP_TEXT_VIEW_CISCO_STATUS, text, sizeof text, &written),
             NTP_RESULT_OK);
    CHECK(written == strlen(text) && strstr(text, "synchronized") != NULL);
    CHECK_RC(ntp_engine_text_view(client, t, NTP_TEXT_VIEW_CISCO_ASSOCIATIONS, text, sizeof text, &written),
             NTP_RESULT_OK);
    CHECK_RC(ntp_engine_text_view(client, t, NTP_TEXT_VIEW_HUAWEI_STATUS, text, sizeof text, &written),
             NTP_RESULT_OK);
    CHECK_RC(ntp_engine_text_view(client, t, NTP_TEXT_VIEW_NTPQ_PEERS, text, sizeof text, &written), NTP_RESULT_OK);
    CHECK(strstr(text, "192.0.2.1") != NULL);
    written = 5;
    CHECK_RC(ntp_engine_text_view(client, t, NTP_TEXT_VIEW_NTPQ_PEERS, text, 10, &written),
             NTP_RESULT_INSUFFICIENT_SIZE);
    CHECK(written == 5);

    {
        ntp_counters server_counters, client_counters;
        CHECK_RC(ntp_engine_counters(server, &server_counters), NTP_RESULT_OK);
        CHECK_RC(ntp_engine_counters(client, &client_counters), NTP_RESULT_OK);
        CHECK(server_counters.received > 0 && server_counters.replies_sent == server_counters.received);
        CHECK(client_counters.polls_sent == server_counters.received);
        CHECK(client_counters.auth_failed == 0);
        CHECK_RC(ntp_engine_counters(NULL, &client_counters), NTP_RESULT_NULL_PARAMETER);
        CHECK_RC(ntp_engine_counters(client, NULL), NTP_RESULT_NULL_PARAMETER);
    }
    CHECK_RC(ntp_engine_remove_association(client, id, t), NTP_RESULT_OK);
    CHECK_RC(ntp_engine_remove_association(client, id, t), NTP_RESULT_ENGINE_NO_SUCH_ASSOCIATION);
    events = 0;
    drain(client, &client_addr, NULL, t, &events);
    CHECK(events > 0); /* at least DEMOBILIZED */

    ntp_engine_free(client);
    ntp_engine_free(server);
}

static void test_misuse(void) {
    ntp_engine *e = NULL, *untouched = NULL;
    ntp_engine_options opts;
    ntp_association_config cfg;
    ntp_output out;
    ntp_system_status sys;
    uint8_t small[16], buf[NTP_MAX_DATAGRAM];
    ntp_sockaddr bad, locals[2];
    uint32_t id = 0;
    size_t n = 0;

    memset(small, 0, sizeof small);
    CHECK_RC(ntp_engine_options_init(NULL), NTP_RESULT_NULL_PARAMETER);
    CHECK_RC(ntp_engine_options_init(&opts), NTP_RESULT_OK);
    opts.struct_size = sizeof opts - 8;
    CHECK_RC(ntp_engine_new(&opts, NULL, 0, &untouched), NTP_RESULT_STRUCT_SIZE_MISMATCH);
    CHECK_RC(ntp_engine_options_init(&opts), NTP_RESULT_OK);
    opts.master_stratum = 16;
    CHECK_RC(ntp_engine_new(&opts, NULL, 0, &untouched), NTP_RESULT_INVALID_PARAMETER);
    CHECK_RC(ntp_engine_options_init(&opts), NTP_RESULT_OK);
    opts.local_address_count = 2;
    CHECK_RC(ntp_engine_new(&opts, NULL, 0, &untouched), NTP_RESULT_NULL_PARAMETER);
    locals[0] = v4(127, 0, 0, 1, 0);
    memset(&locals[1], 0, sizeof locals[1]);
    locals[1].family = 6;
    locals[1].addr[15] = 1;
    opts.local_addresses = locals;
    CHECK_RC(ntp_engine_new(&opts, NULL, 0, NULL), NTP_RESULT_NULL_PARAMETER);
    CHECK(untouched == NULL);
    CHECK_RC(ntp_engine_new(&opts, NULL, 0, &e), NTP_RESULT_OK);

    CHECK_RC(ntp_engine_poll_output(e, &out, small, sizeof small), NTP_RESULT_INSUFFICIENT_SIZE);
    CHECK_RC(ntp_engine_poll_output(e, NULL, buf, sizeof buf), NTP_RESULT_NULL_PARAMETER);
    CHECK_RC(ntp_engine_poll_output(NULL, &out, buf, sizeof buf), NTP_RESULT_NULL_PARAMETER);
    CHECK_RC(ntp_engine_poll_output(e, &out, buf, sizeof buf), NTP_RESULT_OK);
    CHECK(out.kind == NTP_OUTPUT_KIND_TIMEOUT);

    memset(&bad, 0, sizeof bad);
    bad.family = 5;
    CHECK_RC(ntp_engine_handle_datagram(e, 0, &bad, small, sizeof small), NTP_RESULT_INVALID_PARAMETER);
    CHECK_RC(ntp_engine_handle_datagram(e, 0, NULL, small, sizeof small), NTP_RESULT_NULL_PARAMETER);
    /* Garbage is counted and dropped, not an error. */
    bad = v4(198, 51, 100, 1, 123);
    CHECK_RC(ntp_engine_handle_datagram(e, 0, &bad, small, sizeof small), NTP_RESULT_OK);
    CHECK_RC(ntp_engine_handle_datagram(e, 0, &bad, NULL, 0), NTP_RESULT_OK);
    CHECK_RC(ntp_engine_handle_datagram(e, 0, &bad, NULL, 48), NTP_RESULT_NULL_PARAMETER);
    CHECK_RC(ntp_engine_handle_timeout(NULL, 0), NTP_RESULT_NULL_PARAMETER);

    CHECK_RC(ntp_association_config_init(&cfg), NTP_RESULT_OK);
    CHECK_RC(ntp_engine_add_association(e, &cfg, 0, &id), NTP_RESULT_INVALID_PARAMETER); /* family 0 */
    cfg.address = v4(192, 0, 2, 1, 123);
    cfg.mode = NTP_ASSOCIATION_MODE_SYMMETRIC_PASSIVE;
    CHECK_RC(ntp_engine_add_association(e, &cfg, 0, &id), NTP_RESULT_INVALID_PARAMETER);
    cfg.mode = NTP_ASSOCIATION_MODE_CLIENT;
    cfg.key_id = 3;
    CHECK_RC(ntp_engine_add_association(e, &cfg, 0, &id), NTP_RESULT_CONFIG_UNKNOWN_KEY);
    cfg.key_id = 0;
    cfg.maxpoll = 18;
    CHECK_RC(ntp_engine_add_association(e, &cfg, 0, &id), NTP_RESULT_CONFIG_POLL_OUT_OF_RANGE);
    cfg.maxpoll = 3;
    CHECK_RC(ntp_engine_add_association(e, &cfg, 0, &id), NTP_RESULT_CONFIG_POLL_ORDER);
    CHECK(id == 0);
    CHECK_RC(ntp_engine_add_association(e, NULL, 0, &id), NTP_RESULT_NULL_PARAMETER);
    CHECK_RC(ntp_engine_remove_association(e, 12345, 0), NTP_RESULT_ENGINE_NO_SUCH_ASSOCIATION);

    CHECK_RC(ntp_engine_system_status(NULL, 0, &sys), NTP_RESULT_NULL_PARAMETER);
    CHECK_RC(ntp_engine_system_status(e, 0, NULL), NTP_RESULT_NULL_PARAMETER);
    CHECK_RC(ntp_engine_system_status(e, 0, &sys), NTP_RESULT_OK);
    CHECK(!sys.synchronized && sys.stratum == 16);
    CHECK_RC(ntp_engine_association_count(e, NULL), NTP_RESULT_NULL_PARAMETER);
    CHECK_RC(ntp_engine_peer_status(e, 0, NULL, 0, &n), NTP_RESULT_OK);
    CHECK(n == 0);
    CHECK_RC(ntp_engine_peer_status(e, 0, NULL, 3, &n), NTP_RESULT_NULL_PARAMETER);
    CHECK_RC(ntp_engine_text_view(e, 0, 99, (char *)buf, sizeof buf, &n), NTP_RESULT_INVALID_PARAMETER);
    CHECK_RC(ntp_engine_text_view(e, 0, NTP_TEXT_VIEW_CISCO_STATUS, NULL, 100, &n), NTP_RESULT_NULL_PARAMETER);

    ntp_engine_free(e);
    ntp_engine_free(NULL);
}

int main(void) {
    test_sync();
    test_misuse();
    return check_finish("test_engine");
}
