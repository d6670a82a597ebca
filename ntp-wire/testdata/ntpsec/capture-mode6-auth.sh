#!/usr/bin/env bash
# Captures signed mode 6 exchanges between NTPsec's ntpq and ntpd, as
# described in ../README.md ("Signed mode 6 exchanges"). Run as root:
#
#   NTPSEC_ROOT=/path/to/unpacked/ntpsec-deb ntp-wire/testdata/ntpsec/capture-mode6-auth.sh
#
# NTPSEC_ROOT is `dpkg -x ntpsec_*.deb DIR`; ntpq also needs the python3-ntp
# library (installed with ntpsec-ntpdig). Everything runs in a network
# namespace of its own (`unshare --net`), on its loopback only; ntpd runs
# without CAP_SYS_TIME and cannot touch the clock. Writes the .bin files and
# mode6-auth.pcapng next to this script.
set -euo pipefail

OUT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
: "${NTPSEC_ROOT:?set NTPSEC_ROOT to an unpacked ntpsec .deb}"

if [ -z "${IN_NETNS:-}" ]; then
    exec env IN_NETNS=1 NTPSEC_ROOT="$NTPSEC_ROOT" unshare --net -- "$0"
fi

W="$(mktemp -d)"
trap 'rm -rf "$W"' EXIT
ip link set lo up
# The public test keys of ../README.md.
cat >"$W/ntp.keys" <<END
1 md5 interop-md5-key
2 sha1 6e74702d776972652073686131206b6579212121
END
cat >"$W/ntpd.conf" <<END
keys $W/ntp.keys
trustedkey 1 2
controlkey 1
driftfile $W/drift
restrict default
restrict 127.0.0.1
END
dumpcap -q -i lo -f "udp port 123" -w "$W/cap.pcapng" >/dev/null 2>&1 &
dump=$!
sleep 1
capsh --drop=cap_sys_time -- -c "exec '$NTPSEC_ROOT/usr/sbin/ntpd' -n -c '$W/ntpd.conf' -l '$W/ntpd.log'" &
ntpd=$!
sleep 2
# ntpq reads the password from standard input; a secret over 20 characters is hex.
ntpq() { /usr/bin/python3 "$NTPSEC_ROOT/usr/bin/ntpq" "$@" 127.0.0.1 || true; }
echo interop-md5-key | ntpq -c "keyid 1" -c "keytype md5" -c passwd -c "authenticate yes" -c "rv 0 stratum,offset"
echo 6e74702d776972652073686131206b6579212121 |
    ntpq -c "keyid 2" -c "keytype sha1" -c passwd -c "authenticate yes" -c "rv 0 stratum,offset" -c "rv 0 nosuchvar"
sleep 1
kill "$ntpd" "$dump"
wait || true

cp "$W/cap.pcapng" "$OUT/mode6-auth.pcapng"
tshark -r "$W/cap.pcapng" -T fields -e frame.number -e udp.payload | python3 -c '
import binascii, sys
out = sys.argv[1]
names = {1: "ntpq-readstat-request-md5.bin", 2: "ntpd-readstat-response-md5.bin",
         3: "ntpq-readvar-request-md5.bin", 4: "ntpd-readvar-response-md5.bin",
         7: "ntpq-readvar-request-sha1.bin", 8: "ntpd-readvar-response-sha1.bin",
         11: "ntpq-readvar-unknown-request-sha1.bin", 12: "ntpd-error-unknownvar-sha1.bin"}
for line in sys.stdin:
    number, payload = line.split()
    if int(number) in names:
        with open(out + "/" + names[int(number)], "wb") as f:
            f.write(binascii.unhexlify(payload))
' "$OUT"
