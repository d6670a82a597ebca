/* The wire group: header decode/encode, trailer, extension fields,
 * timestamps and result messages, with every kind of misuse. */
#include <string.h>

#include "ntp.h"
#include "check.h"

static void test_encode_decode(void) {
    ntp_packet_header h, back;
    uint8_t buf[NTP_HEADER_LEN];
    size_t n = 0;

    CHECK_RC(ntp_packet_header_init(&h), NTP_RESULT_OK);
    CHECK(h.version == 4);
    h.mode = 3;
    h.stratum = 2;
    h.poll = 6;
    h.precision = -20;
    h.root_delay = 0x00010000u;
    memcpy(h.reference_id, "GPS\0", 4);
    h.transmit_time = 0xE9F0A0B012345678ull;
    CHECK_RC(ntp_packet_encode(&h, buf, sizeof buf, &n), NTP_RESULT_OK);
    CHECK(n == NTP_HEADER_LEN);
    CHECK(buf[0] == ((0 << 6) | (4 << 3) | 3));
    CHECK_RC(ntp_packet_decode(buf, n, &back), NTP_RESULT_OK);
    /* Field by field: struct padding is not part of the value. */
    CHECK(back.leap == h.leap && back.version == h.version && back.mode == h.mode);
    CHECK(back.stratum == h.stratum && back.poll == h.poll && back.precision == h.precision);
    CHECK(back.root_delay == h.root_delay && back.root_dispersion == h.root_dispersion);
    CHECK(memcmp(back.reference_id, h.reference_id, 4) == 0);
    CHECK(back.reference_time == h.reference_time && back.origin_time == h.origin_time);
    CHECK(back.receive_time == h.receive_time && back.transmit_time == h.transmit_time);

    /* Misuse: short buffers, NULLs, out-of-range fields; outputs untouched. */
    n = 12345;
    CHECK_RC(ntp_packet_encode(&h, buf, NTP_HEADER_LEN - 1, &n), NTP_RESULT_INSUFFICIENT_SIZE);
    CHECK(n == 12345);
    CHECK_RC(ntp_packet_encode(NULL, buf, sizeof buf, &n), NTP_RESULT_NULL_PARAMETER);
    CHECK_RC(ntp_packet_encode(&h, NULL, sizeof buf, &n), NTP_RESULT_NULL_PARAMETER);
    CHECK_RC(ntp_packet_encode(&h, buf, sizeof buf, NULL), NTP_RESULT_NULL_PARAMETER);
    h.leap = 4;
    CHECK_RC(ntp_packet_encode(&h, buf, sizeof buf, &n), NTP_RESULT_INVALID_PARAMETER);
    h.leap = 0;
    h.mode = 8;
    CHECK_RC(ntp_packet_encode(&h, buf, sizeof buf, &n), NTP_RESULT_INVALID_PARAMETER);
    CHECK_RC(ntp_packet_decode(buf, 47, &back), NTP_RESULT_WIRE_TRUNCATED);
    CHECK_RC(ntp_packet_decode(NULL, 48, &back), NTP_RESULT_NULL_PARAMETER);
    CHECK_RC(ntp_packet_decode(NULL, 0, &back), NTP_RESULT_WIRE_TRUNCATED);
    CHECK_RC(ntp_packet_decode(buf, 48, NULL), NTP_RESULT_NULL_PARAMETER);
    CHECK_RC(ntp_packet_header_init(NULL), NTP_RESULT_NULL_PARAMETER);
}

static void test_trailer(void) {
    uint8_t pkt[48 + 20 + 4];
    ntp_packet_header h;
    ntp_trailer_info t;
    ntp_extension_field f;
    size_t n;

    memset(pkt, 0, sizeof pkt);
    ntp_packet_header_init(&h);
    h.mode = 3;
    CHECK_RC(ntp_packet_encode(&h, pkt, sizeof pkt, &n), NTP_RESULT_OK);

    /* Bare header: no trailer. */
    CHECK_RC(ntp_packet_trailer(pkt, 48, &t), NTP_RESULT_OK);
    CHECK(t.auth_kind == NTP_AUTH_KIND_NONE && t.extension_count == 0 && t.auth_offset == 48);
    CHECK_RC(ntp_packet_extension(pkt, 48, 0, &f), NTP_RESULT_NOT_FOUND);

    /* A 20-byte MAC: key id 9, 16-byte digest. */
    pkt[48 + 3] = 9;
    memset(pkt + 52, 0xCD, 16);
    CHECK_RC(ntp_packet_trailer(pkt, 68, &t), NTP_RESULT_OK);
    CHECK(t.auth_kind == NTP_AUTH_KIND_MAC && t.mac_key_id == 9 && t.mac_digest_len == 16);
    CHECK(t.mac_digest[0] == 0xCD && t.mac_digest[15] == 0xCD && t.mac_digest[16] == 0);

    /* A crypto-NAK and a broken one. */
    memset(pkt + 48, 0, 4);
    CHECK_RC(ntp_packet_trailer(pkt, 52, &t), NTP_RESULT_OK);
    CHECK(t.auth_kind == NTP_AUTH_KIND_CRYPTO_NAK);
    pkt[51] = 1;
    CHECK_RC(ntp_packet_trailer(pkt, 52, &t), NTP_RESULT_WIRE_BAD_CRYPTO_NAK);
    CHECK_RC(ntp_packet_trailer(pkt, 55, &t), NTP_RESULT_WIRE_BAD_TRAILER_LENGTH);
    CHECK_RC(ntp_packet_trailer(pkt, 10, &t), NTP_RESULT_WIRE_TRUNCATED);
    CHECK_RC(ntp_packet_trailer(pkt, 48, NULL), NTP_RESULT_NULL_PARAMETER);
}

static void test_extensions(void) {
    /* Header + one 28-byte extension field (type 0x0104) and no MAC. */
    uint8_t pkt[48 + 28];
    ntp_trailer_info t;
    ntp_extension_field f;

    memset(pkt, 0, sizeof pkt);
    pkt[0] = (4 << 3) | 3;
    pkt[48] = 0x01;
    pkt[49] = 0x04;
    pkt[51] = 28;
    memset(pkt + 52, 0x5A, 24);
    CHECK_RC(ntp_packet_trailer(pkt, sizeof pkt, &t), NTP_RESULT_OK);
    CHECK(t.extension_count == 1 && t.auth_kind == NTP_AUTH_KIND_NONE);
    CHECK_RC(ntp_packet_extension(pkt, sizeof pkt, 0, &f), NTP_RESULT_OK);
    CHECK(f.field_type == 0x0104 && f.value_offset == 52 && f.value_len == 24);
    CHECK_RC(ntp_packet_extension(pkt, sizeof pkt, 1, &f), NTP_RESULT_NOT_FOUND);
    /* Declared length past the end. */
    pkt[51] = 32;
    CHECK_RC(ntp_packet_extension(pkt, sizeof pkt, 0, &f), NTP_RESULT_WIRE_EXTENSION_OVERRUN);
}

static void test_timestamps(void) {
    ntp_timestamp ts = 0, sum = 0;
    int64_t s = 0;
    uint32_t ns = 0;
    int32_t era = -9;
    double d = 0;
    /* 2036-02-07 06:28:16 UTC: era 1 begins. */
    const int64_t era1 = 2085978496;

    CHECK_RC(ntp_timestamp_from_unix(0, 0, &ts), NTP_RESULT_OK);
    CHECK(ts >> 32 == 2208988800u);
    CHECK_RC(ntp_timestamp_from_unix(era1 + 5, 500000000u, &ts), NTP_RESULT_OK);
    CHECK(ts >> 32 == 5 && (uint32_t)ts == 0x80000000u);
    CHECK_RC(ntp_timestamp_to_unix(ts, era1, &s, &ns), NTP_RESULT_OK);
    CHECK(s == era1 + 5 && ns == 500000000u);
    CHECK_RC(ntp_timestamp_era(ts, era1 - 100, &era), NTP_RESULT_OK);
    CHECK(era == 1);
    CHECK_RC(ntp_timestamp_era(ts, -2208988800LL, &era), NTP_RESULT_OK);
    CHECK(era == 0);
    /* Differences and sums across the rollover. */
    CHECK_RC(ntp_timestamp_add_seconds(ts, -10.0, &sum), NTP_RESULT_OK);
    CHECK(sum >> 32 == 0xFFFFFFFBu);
    CHECK_RC(ntp_timestamp_diff(ts, sum, &d), NTP_RESULT_OK);
    CHECK(d > 9.999999 && d < 10.000001);

    /* Misuse. */
    ts = 42;
    CHECK_RC(ntp_timestamp_from_unix(0, 1000000000u, &ts), NTP_RESULT_INVALID_PARAMETER);
    CHECK(ts == 42);
    CHECK_RC(ntp_timestamp_from_unix(0, 0, NULL), NTP_RESULT_NULL_PARAMETER);
    CHECK_RC(ntp_timestamp_to_unix(ts, 0, NULL, &ns), NTP_RESULT_NULL_PARAMETER);
    CHECK_RC(ntp_timestamp_to_unix(ts, 0, &s, NULL), NTP_RESULT_NULL_PARAMETER);
    CHECK_RC(ntp_timestamp_add_seconds(ts, 1e300, &sum), NTP_RESULT_INVALID_PARAMETER);
    CHECK_RC(ntp_timestamp_diff(ts, ts, NULL), NTP_RESULT_NULL_PARAMETER);
}

static void test_messages(void) {
    char buf[256];
    size_t n = 0;
    CHECK_RC(ntp_result_message(NTP_RESULT_AUTH_BAD_MAC, buf, sizeof buf, &n), NTP_RESULT_OK);
    CHECK(n == strlen(buf) && n > 0);
    CHECK_RC(ntp_result_message(123456u, buf, sizeof buf, &n), NTP_RESULT_OK);
    CHECK(strstr(buf, "unknown") != NULL);
    n = 7;
    CHECK_RC(ntp_result_message(NTP_RESULT_AUTH_BAD_MAC, buf, 3, &n), NTP_RESULT_INSUFFICIENT_SIZE);
    CHECK(n == 7);
    CHECK_RC(ntp_result_message(0, NULL, 10, &n), NTP_RESULT_NULL_PARAMETER);
    CHECK_RC(ntp_result_message(0, buf, 0, &n), NTP_RESULT_INSUFFICIENT_SIZE);
    CHECK_RC(ntp_result_message(0, buf, sizeof buf, NULL), NTP_RESULT_NULL_PARAMETER);
    {
        char expect[64];
        snprintf(expect, sizeof expect, "%d.%d.%d", NTP_FFI_VERSION_MAJOR, NTP_FFI_VERSION_MINOR,
                 NTP_FFI_VERSION_PATCH);
        CHECK(strcmp(ntp_version(), expect) == 0);
    }
}

int main(void) {
    test_encode_decode();
    test_trailer();
    test_extensions();
    test_timestamps();
    test_messages();
    return check_finish("test_wire");
}
