/* NTS (RFC 8915) through the configuration dialects: an engine built from
 * a chrony.conf naming an NTS source reports the key-exchange need as its
 * own event kind and shows NTS in the peer status; one naming an NTS server
 * certificate and key turns NTS service on; check-config reads both. */
#include <string.h>

#include "ntp.h"
#include "check.h"

static const char CLIENT[] = "server 127.0.0.1 nts iburst\n";

static const char SERVER[] =
    "server 127.0.0.1 nts ntsport 4460\n"
    "ntsservercert /etc/chrony/server.crt\n"
    "ntsserverkey /etc/chrony/server.key\n"
    "ntsrotate 3600\n";

static ntp_timestamp start(void) {
    ntp_timestamp t = 0;
    CHECK_RC(ntp_timestamp_from_unix(1800000000, 0, &t), NTP_RESULT_OK);
    return t;
}

/* Drains the engine; returns the id of the association the NTS-KE event
 * named (0: none). */
static uint32_t drain_for_nts_event(ntp_engine *engine) {
    uint8_t buf[NTP_MAX_DATAGRAM];
    uint32_t id = 0;
    for (int i = 0; i < 64; i++) {
        ntp_output out;
        memset(&out, 0, sizeof out);
        CHECK_RC(ntp_engine_poll_output(engine, &out, buf, sizeof buf), NTP_RESULT_OK);
        if (out.kind == NTP_OUTPUT_KIND_TIMEOUT) {
            break;
        }
        /* An NTS association without cookies must not send in the clear. */
        CHECK(out.kind != NTP_OUTPUT_KIND_TRANSMIT);
        if (out.kind == NTP_OUTPUT_KIND_EVENT && out.event.kind == NTP_EVENT_KIND_NTS_KEY_EXCHANGE_NEEDED) {
            id = out.event.association_id;
        }
    }
    return id;
}

static void test_nts_client(void) {
    ntp_engine *engine = NULL;
    ntp_peer_status peers[2];
    ntp_system_status system;
    ntp_counters counters;
    size_t count = 0;
    ntp_timestamp now = start();

    CHECK_RC(ntp_engine_new_from_config(CLIENT, strlen(CLIENT), NTP_DIALECT_CHRONY, now, &engine), NTP_RESULT_OK);
    uint32_t id = drain_for_nts_event(engine);
    CHECK(id != 0);
    CHECK_RC(ntp_engine_peer_status(engine, now, peers, 2, &count), NTP_RESULT_OK);
    CHECK(count == 1);
    CHECK(peers[0].id == id);
    CHECK(peers[0].nts);
    CHECK(peers[0].nts_cookies == 0);
    CHECK_RC(ntp_engine_system_status(engine, now, &system), NTP_RESULT_OK);
    CHECK(!system.nts_server);
    CHECK(system.nts_master_key_id == 0);
    CHECK_RC(ntp_engine_counters(engine, &counters), NTP_RESULT_OK);
    CHECK(counters.nts_replies == 0 && counters.nts_dropped == 0);
    ntp_engine_free(engine);
}

static void test_nts_server(void) {
    ntp_engine *engine = NULL;
    ntp_system_status system;
    ntp_timestamp now = start();

    CHECK_RC(ntp_engine_new_from_config(SERVER, strlen(SERVER), NTP_DIALECT_DETECT, now, &engine), NTP_RESULT_OK);
    CHECK(drain_for_nts_event(engine) != 0);
    CHECK_RC(ntp_engine_system_status(engine, now, &system), NTP_RESULT_OK);
    CHECK(system.nts_server);
    ntp_engine_free(engine);
}

static void test_check(void) {
    char buf[4096];
    size_t written = 0;

    /* `server H nts` alone is also NTPsec's syntax: detection says ntp.conf. */
    CHECK_RC(ntp_config_check(CLIENT, strlen(CLIENT), buf, sizeof buf, &written), NTP_RESULT_OK);
    CHECK(strstr(buf, "127.0.0.1, iburst, nts") != NULL);
    CHECK_RC(ntp_config_check(SERVER, strlen(SERVER), buf, sizeof buf, &written), NTP_RESULT_OK);
    CHECK(strstr(buf, "dialect: chrony") != NULL);
    CHECK(strstr(buf, "certificate /etc/chrony/server.crt") != NULL);
    CHECK(strstr(buf, "ntsport 4460") != NULL);
}

int main(void) {
    test_nts_client();
    test_nts_server();
    test_check();
    return check_finish("test_nts");
}
