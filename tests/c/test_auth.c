/* The authentication group: keyrings from entries and key files (both
 * dialects), trust, sign in place, verify with every failure reason, and
 * misuse (NULL, short buffers, bad lengths, freeing NULL). */
#include <string.h>

#include "ntp.h"
#include "check.h"

static size_t request(uint8_t *buf, size_t len) {
    ntp_packet_header h;
    size_t n = 0;
    ntp_packet_header_init(&h);
    h.mode = 3;
    h.transmit_time = 0xE9F0A0B000000001ull;
    CHECK_RC(ntp_packet_encode(&h, buf, len, &n), NTP_RESULT_OK);
    return n;
}

static void test_entries(void) {
    ntp_keyring *ring = NULL;
    uint8_t md5[] = "0123456789";
    uint8_t aes[16], aes256[32];
    uint8_t buf[NTP_MAX_DATAGRAM];
    size_t off, len = 0, count = 0;
    uint32_t id = 0;

    memset(aes, 0x11, sizeof aes);
    memset(aes256, 0x22, sizeof aes256);
    CHECK_RC(ntp_keyring_new(&ring), NTP_RESULT_OK);
    CHECK_RC(ntp_keyring_add_key(ring, 1, NTP_KEY_TYPE_MD5, md5, 10, true), NTP_RESULT_OK);
    CHECK_RC(ntp_keyring_add_key(ring, 2, NTP_KEY_TYPE_AES128_CMAC, aes, 16, true), NTP_RESULT_OK);
    CHECK_RC(ntp_keyring_add_key(ring, 3, NTP_KEY_TYPE_SHA256, md5, 10, false), NTP_RESULT_OK);
    CHECK_RC(ntp_keyring_add_key(ring, 4, NTP_KEY_TYPE_AES256_CMAC, aes256, 32, true), NTP_RESULT_OK);
    CHECK_RC(ntp_keyring_len(ring, &count), NTP_RESULT_OK);
    CHECK(count == 4);

    /* Misuse of add_key. */
    CHECK_RC(ntp_keyring_add_key(ring, 0, NTP_KEY_TYPE_MD5, md5, 10, true), NTP_RESULT_AUTH_ZERO_KEY_ID);
    CHECK_RC(ntp_keyring_add_key(ring, 5, NTP_KEY_TYPE_AES128_CMAC, aes, 15, true),
             NTP_RESULT_AUTH_WRONG_SECRET_LENGTH);
    CHECK_RC(ntp_keyring_add_key(ring, 5, NTP_KEY_TYPE_MD5, md5, 0, true), NTP_RESULT_AUTH_EMPTY_SECRET);
    CHECK_RC(ntp_keyring_add_key(ring, 5, NTP_KEY_TYPE_MD5, NULL, 10, true), NTP_RESULT_NULL_PARAMETER);
    CHECK_RC(ntp_keyring_add_key(ring, 5, 0, md5, 10, true), NTP_RESULT_INVALID_PARAMETER);
    CHECK_RC(ntp_keyring_add_key(NULL, 5, NTP_KEY_TYPE_MD5, md5, 10, true), NTP_RESULT_NULL_PARAMETER);

    off = request(buf, sizeof buf);
    CHECK_RC(ntp_verify(ring, buf, off, &id), NTP_RESULT_AUTH_NO_MAC);

    /* Each key type signs and verifies; the MAC length follows the digest. */
    CHECK_RC(ntp_sign(ring, 1, buf, sizeof buf, off, &len), NTP_RESULT_OK);
    CHECK(len == 68);
    CHECK_RC(ntp_verify(ring, buf, len, &id), NTP_RESULT_OK);
    CHECK(id == 1);
    CHECK_RC(ntp_sign(ring, 2, buf, sizeof buf, off, &len), NTP_RESULT_OK);
    CHECK(len == 68);
    CHECK_RC(ntp_verify(ring, buf, len, &id), NTP_RESULT_OK);
    CHECK(id == 2);
    CHECK_RC(ntp_sign(ring, 4, buf, sizeof buf, off, &len), NTP_RESULT_OK);
    CHECK_RC(ntp_verify(ring, buf, len, &id), NTP_RESULT_OK);
    CHECK(id == 4);

    /* Every failure reason. */
    buf[40] ^= 0x01;
    CHECK_RC(ntp_verify(ring, buf, len, &id), NTP_RESULT_AUTH_BAD_MAC);
    buf[40] ^= 0x01;
    CHECK_RC(ntp_sign(ring, 3, buf, sizeof buf, off, &len), NTP_RESULT_OK);
    CHECK(len == 72);
    CHECK_RC(ntp_verify(ring, buf, len, &id), NTP_RESULT_AUTH_UNTRUSTED);
    CHECK_RC(ntp_keyring_set_trusted(ring, 3, true), NTP_RESULT_OK);
    CHECK_RC(ntp_verify(ring, buf, len, &id), NTP_RESULT_OK);
    CHECK(id == 3);
    /* A 16-byte digest under a key whose type makes 20: type mismatch. */
    CHECK_RC(ntp_sign(ring, 1, buf, sizeof buf, off, &len), NTP_RESULT_OK);
    buf[off + 3] = 3;
    CHECK_RC(ntp_verify(ring, buf, len, &id), NTP_RESULT_AUTH_KEY_TYPE_MISMATCH);
    buf[off + 3] = 99;
    CHECK_RC(ntp_verify(ring, buf, len, &id), NTP_RESULT_AUTH_UNKNOWN_KEY);
    CHECK_RC(ntp_crypto_nak_emit(buf, sizeof buf, off, &len), NTP_RESULT_OK);
    CHECK(len == off + 4);
    CHECK_RC(ntp_verify(ring, buf, len, &id), NTP_RESULT_AUTH_CRYPTO_NAK);
    CHECK_RC(ntp_verify(ring, buf, 30, &id), NTP_RESULT_WIRE_TRUNCATED);
    CHECK_RC(ntp_verify(ring, buf, off + 7, &id), NTP_RESULT_WIRE_BAD_TRAILER_LENGTH);

    /* Misuse of sign/verify; outputs left alone. */
    len = 777;
    CHECK_RC(ntp_sign(ring, 1, buf, off + 19, off, &len), NTP_RESULT_INSUFFICIENT_SIZE);
    CHECK_RC(ntp_sign(ring, 1, buf, sizeof buf, 20, &len), NTP_RESULT_WIRE_TRUNCATED);
    CHECK_RC(ntp_sign(ring, 42, buf, sizeof buf, off, &len), NTP_RESULT_AUTH_UNKNOWN_KEY);
    CHECK_RC(ntp_sign(NULL, 1, buf, sizeof buf, off, &len), NTP_RESULT_NULL_PARAMETER);
    CHECK_RC(ntp_sign(ring, 1, NULL, sizeof buf, off, &len), NTP_RESULT_NULL_PARAMETER);
    CHECK_RC(ntp_sign(ring, 1, buf, sizeof buf, off, NULL), NTP_RESULT_NULL_PARAMETER);
    CHECK(len == 777);
    CHECK_RC(ntp_verify(NULL, buf, off, &id), NTP_RESULT_NULL_PARAMETER);
    CHECK_RC(ntp_verify(ring, buf, off, NULL), NTP_RESULT_NULL_PARAMETER);
    CHECK_RC(ntp_crypto_nak_emit(buf, off + 3, off, &len), NTP_RESULT_INSUFFICIENT_SIZE);
    CHECK_RC(ntp_keyring_set_trusted(ring, 77, true), NTP_RESULT_NOT_FOUND);
    CHECK_RC(ntp_keyring_remove_key(ring, 1), NTP_RESULT_OK);
    CHECK_RC(ntp_keyring_remove_key(ring, 1), NTP_RESULT_NOT_FOUND);
    CHECK_RC(ntp_keyring_len(NULL, &count), NTP_RESULT_NULL_PARAMETER);
    CHECK_RC(ntp_keyring_new(NULL), NTP_RESULT_NULL_PARAMETER);

    ntp_keyring_free(ring);
    ntp_keyring_free(NULL);
}

static void test_key_files(void) {
    static const char ntp_keys[] =
        "# ntpd key file\n"
        "1 M hello\n"
        "2 SHA1 0102030405060708090a0b0c0d0e0f1011121314\n"
        "3 AES128CMAC 000102030405060708090a0b0c0d0e0f\n";
    static const char chrony_keys[] =
        "1 MD5 HEX:0102030405060708090a0b0c0d0e0f10\n"
        "2 AES128 HEX:000102030405060708090a0b0c0d0e0f\n"
        "3 ASCII:plainsecret\n";
    static const char bad[] = "1 MD5 one\n2 NOPE two\n";
    ntp_keyring *ring = NULL, *untouched = NULL;
    size_t count = 0, line = 0;
    uint8_t buf[NTP_MAX_DATAGRAM];
    size_t off, len;
    uint32_t id;

    CHECK_RC(ntp_keyring_from_key_file((const uint8_t *)ntp_keys, strlen(ntp_keys), NTP_KEY_FILE_DIALECT_NTP_KEYS,
                                       &ring, &line),
             NTP_RESULT_OK);
    CHECK_RC(ntp_keyring_len(ring, &count), NTP_RESULT_OK);
    CHECK(count == 3);
    /* ntp.keys trusts nothing until the trusted list says so. */
    off = request(buf, sizeof buf);
    CHECK_RC(ntp_sign(ring, 3, buf, sizeof buf, off, &len), NTP_RESULT_OK);
    CHECK_RC(ntp_verify(ring, buf, len, &id), NTP_RESULT_AUTH_UNTRUSTED);
    CHECK_RC(ntp_keyring_trust_list(ring, (const uint8_t *)"1 3", 3, &count), NTP_RESULT_OK);
    CHECK(count == 2);
    CHECK_RC(ntp_verify(ring, buf, len, &id), NTP_RESULT_OK);
    CHECK_RC(ntp_keyring_trust_list(ring, (const uint8_t *)"1 x", 3, &count), NTP_RESULT_CONFIG_TRUSTED_KEYS_SYNTAX);
    ntp_keyring_free(ring);

    ring = NULL;
    CHECK_RC(ntp_keyring_from_key_file((const uint8_t *)chrony_keys, strlen(chrony_keys),
                                       NTP_KEY_FILE_DIALECT_CHRONY_KEYS, &ring, NULL),
             NTP_RESULT_OK);
    CHECK_RC(ntp_sign(ring, 2, buf, sizeof buf, off, &len), NTP_RESULT_OK);
    CHECK_RC(ntp_verify(ring, buf, len, &id), NTP_RESULT_OK);
    CHECK(id == 2);
    ntp_keyring_free(ring);

    line = 0;
    CHECK_RC(ntp_keyring_from_key_file((const uint8_t *)bad, strlen(bad), NTP_KEY_FILE_DIALECT_NTP_KEYS, &untouched,
                                       &line),
             NTP_RESULT_CONFIG_KEY_FILE_SYNTAX);
    CHECK(line == 2);
    CHECK(untouched == NULL);
    CHECK_RC(ntp_keyring_from_key_file((const uint8_t *)bad, strlen(bad), 0, &untouched, NULL),
             NTP_RESULT_INVALID_PARAMETER);
    CHECK_RC(ntp_keyring_from_key_file((const uint8_t *)"\xff\xfe", 2, NTP_KEY_FILE_DIALECT_NTP_KEYS, &untouched,
                                       NULL),
             NTP_RESULT_INVALID_UTF8);
    CHECK_RC(ntp_keyring_from_key_file(NULL, 5, NTP_KEY_FILE_DIALECT_NTP_KEYS, &untouched, NULL),
             NTP_RESULT_NULL_PARAMETER);
    CHECK_RC(ntp_keyring_from_key_file((const uint8_t *)bad, strlen(bad), NTP_KEY_FILE_DIALECT_NTP_KEYS, NULL, NULL),
             NTP_RESULT_NULL_PARAMETER);
    CHECK(untouched == NULL);
}

int main(void) {
    test_entries();
    test_key_files();
    return check_finish("test_auth");
}
