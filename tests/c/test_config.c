/* The configuration group: an engine built from a Cisco IOS and a Huawei
 * VRP configuration text, and check-config's text for C (the meaning, or
 * the refused line, never a secret). */
#include <string.h>

#include "ntp.h"
#include "check.h"

static const char IOS[] =
    "hostname R1\n"
    "ntp authentication-key 1 md5 tulip\n"
    "ntp authenticate\n"
    "ntp trusted-key 1\n"
    "ntp server 192.0.2.1 key 1 iburst\n"
    "ntp peer 192.0.2.2 key 1\n"
    "ntp master 3\n";

static const char VRP[] =
    "[~DeviceD] ntp-service unicast-server 10.0.1.31\n"
    "[*DeviceD] ntp-service refclock-master 4\n"
    "[*DeviceD] commit\n";

static ntp_timestamp start(void) {
    ntp_timestamp t = 0;
    CHECK_RC(ntp_timestamp_from_unix(1800000000, 0, &t), NTP_RESULT_OK);
    return t;
}

static void test_engine_from_config(void) {
    ntp_engine *engine = NULL;
    size_t count = 0;
    ntp_timestamp now = start();

    CHECK_RC(ntp_engine_new_from_config(IOS, strlen(IOS), NTP_DIALECT_DETECT, now, &engine), NTP_RESULT_OK);
    CHECK(engine != NULL);
    CHECK_RC(ntp_engine_association_count(engine, &count), NTP_RESULT_OK);
    CHECK(count == 2);
    ntp_engine_free(engine);

    engine = NULL;
    CHECK_RC(ntp_engine_new_from_config(VRP, strlen(VRP), NTP_DIALECT_VRP, now, &engine), NTP_RESULT_OK);
    CHECK_RC(ntp_engine_association_count(engine, &count), NTP_RESULT_OK);
    CHECK(count == 1);
    ntp_engine_free(engine);
}

static void test_refusals(void) {
    ntp_engine *engine = NULL;
    static const char bad[] = "ntp server 192.0.2.1 sometimes\n";
    static const char placeholder[] = "ntp server <I-TS-1>\n";
    static const char key_file[] = "keys /etc/ntp.keys\nserver 192.0.2.1\n";
    ntp_timestamp now = start();

    CHECK_RC(ntp_engine_new_from_config(bad, strlen(bad), NTP_DIALECT_IOS, now, &engine), NTP_RESULT_CONFIG_SYNTAX);
    CHECK_RC(ntp_engine_new_from_config(placeholder, strlen(placeholder), NTP_DIALECT_IOS, now, &engine),
             NTP_RESULT_CONFIG_UNRESOLVED);
    CHECK_RC(ntp_engine_new_from_config(key_file, strlen(key_file), NTP_DIALECT_NTPCONF, now, &engine),
             NTP_RESULT_CONFIG_UNRESOLVED);
    CHECK_RC(ntp_engine_new_from_config(IOS, strlen(IOS), 99, now, &engine), NTP_RESULT_INVALID_PARAMETER);
    CHECK_RC(ntp_engine_new_from_config(NULL, 3, NTP_DIALECT_IOS, now, &engine), NTP_RESULT_NULL_PARAMETER);
    CHECK_RC(ntp_engine_new_from_config(IOS, strlen(IOS), NTP_DIALECT_IOS, now, NULL), NTP_RESULT_NULL_PARAMETER);
    CHECK(engine == NULL);
}

static void test_check(void) {
    char buf[4096];
    char small[8];
    size_t written = 0;
    static const char bad[] = "ntp authentication-key 1 md5 tulip\nntp frobnicate\n";

    CHECK_RC(ntp_config_check(IOS, strlen(IOS), buf, sizeof buf, &written), NTP_RESULT_OK);
    CHECK(written == strlen(buf));
    CHECK(strstr(buf, "dialect: ios") != NULL);
    CHECK(strstr(buf, "192.0.2.1") != NULL);
    CHECK(strstr(buf, "tulip") == NULL);

    CHECK_RC(ntp_config_check(bad, strlen(bad), buf, sizeof buf, &written), NTP_RESULT_CONFIG_SYNTAX);
    CHECK(strncmp(buf, "line 2", 6) == 0);
    CHECK(strstr(buf, "tulip") == NULL);

    /* Too small: the length needed is still reported. */
    CHECK_RC(ntp_config_check(IOS, strlen(IOS), small, sizeof small, &written), NTP_RESULT_INSUFFICIENT_SIZE);
    CHECK(written > sizeof small);
    CHECK_RC(ntp_config_check(IOS, strlen(IOS), buf, sizeof buf, NULL), NTP_RESULT_NULL_PARAMETER);
}

int main(void) {
    test_engine_from_config();
    test_refusals();
    test_check();
    return check_finish("test_config");
}
