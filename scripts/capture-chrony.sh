#!/usr/bin/env bash
# Reproduces the captured NTP packets in ntp-wire/testdata/chrony/ and
# ntp-wire/testdata/ntpsec/ (described in ntp-wire/testdata/README.md).
#
#   sudo scripts/capture-chrony.sh [OUTPUT_ROOT]
#
# OUTPUT_ROOT defaults to ntp-wire/testdata of this checkout. Needs root (for
# port 123, capture on lo, and a private network namespace), the Debian
# packages chrony, tshark and ntpsec-ntpdig, python3, capsh and unshare.
# NTPsec's ntpd and ntpq are taken from the ntpsec .deb (apt-get download)
# without installing it: chrony and ntpsec conflict as Debian packages.
# Takes about 15 seconds.
#
# Safety: everything runs in a fresh network namespace that has nothing but
# its own loopback, so the daemons can neither reach nor collide with anything
# on the host (port 123 included). chronyd runs with -x and ntpd with
# `disable ntp` and without CAP_SYS_TIME, so neither can touch the system
# clock. Every process started here is stopped by its PID.
#
# Captures differ from run to run (timestamps, chrony's random transmit
# cookies); the tests in tests/tests/captured_packets.rs hold the values of the
# committed files, so re-running this script means updating those literals.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out_root=${1:-"$here/../ntp-wire/testdata"}
out_root=$(mkdir -p "$out_root" && cd "$out_root" && pwd)

# NTPsec's ntpd is taken from its .deb, fetched here while the host network
# is still in reach.
if [[ "${CAPTURE_IN_NETNS:-}" != 1 ]]; then
    if [[ $EUID -ne 0 ]]; then
        echo "capture-chrony.sh: run as root (port 123, packet capture, network namespace)" >&2
        exit 1
    fi
    deb_dir=$(mktemp -d /tmp/capture-chrony-deb.XXXXXX)
    trap 'rm -rf "$deb_dir"' EXIT
    (cd "$deb_dir" && apt-get download ntpsec >/dev/null 2>&1 && dpkg -x ntpsec_*.deb root)
    # Re-run inside a private network namespace: a fresh `lo` holding all of
    # 127.0.0.0/8, with no other interface and no other process bound to port 123.
    CAPTURE_IN_NETNS=1 NTPSEC_ROOT="$deb_dir/root" unshare --net -- "$0" "$out_root"
    exit
fi
# ntpd always listens on every loopback address it finds on an interface,
# and refuses a server at any 127.x address but 127.0.0.1 (ntp_config.c
# ISBADADR). So the chronyd server takes 127.0.0.1:123, and the namespace's
# lo carries 127.0.0.9/8 instead of 127.0.0.1/8: the 127/8 local route is
# the same, but ntpd sees (and binds) only 127.0.0.9.
ip link set lo up
ip addr del 127.0.0.1/8 dev lo
ip addr add 127.0.0.9/8 dev lo

for tool in chronyd tshark dumpcap ntpdig python3 capsh; do
    command -v "$tool" >/dev/null || { echo "capture-chrony.sh: missing $tool" >&2; exit 1; }
done

work=$(mktemp -d /tmp/capture-chrony.XXXXXX)
pids=()
cleanup() {
    local pid
    # Stop only what this script started, by PID.
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    if [[ -n "${KEEP_WORK:-}" ]]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

# ---------------------------------------------------------------------------
# Addresses. The server answers on port 123 so that tshark dissects NTP
# without `-d`, and so that ntpdig and ntpd (which have no port option) can
# reach it.
server_addr=127.0.0.1          # chronyd, the server
plain_client=127.0.0.2         # chronyd client, no authentication
md5_client=127.0.0.4           # chronyd client, key 1 (MD5)
sha1_client=127.0.0.5          # chronyd client, key 2 (SHA1)
ef_client=127.0.0.6            # chronyd client asking for an extension field
ntpd_addr=127.0.0.9            # NTPsec ntpd: client of the chronyd server, and a rate-limiting server
burst_client=127.0.0.7         # a burst of requests to ntpd, to draw a KoD RATE

# The keys, public on purpose: tests may check the captured MACs with them.
md5_key=interop-md5-key                               # ASCII, 15 characters
sha1_key=6e74702d776972652073686131206b6579212121     # 20 bytes, hex

# chronyd drops root for _chrony; its files must be readable by that user.
chrony_user=_chrony
id "$chrony_user" >/dev/null 2>&1 || chrony_user=root

cat >"$work/chrony.keys" <<EOF
1 MD5 ASCII:$md5_key
2 SHA1 HEX:$sha1_key
EOF

# NTPsec's key file format for ntpdig: `id type key` (a key of up to 20
# printable characters is taken as text, a longer one as hex).
cat >"$work/ntp.keys" <<EOF
1 md5 $md5_key
2 sha1 $sha1_key
EOF

# The server: a local reference at stratum 8, never disciplining the clock.
mkdir -p "$work/server"
cat >"$work/server/chrony.conf" <<EOF
port 123
bindaddress $server_addr
allow 127.0.0.0/8
local stratum 8
cmdport 0
keyfile $work/chrony.keys
driftfile $work/server/drift
pidfile $work/server/chronyd.pid
EOF

# A client polling every second (minpoll/maxpoll 0) so a few seconds of
# capture hold several exchanges. `port 0`: it serves nobody.
chrony_client() { # name source-address extra-server-options
    mkdir -p "$work/$1"
    cat >"$work/$1/chrony.conf" <<EOF
server $server_addr port 123 iburst minpoll 0 maxpoll 0 $3
bindacqaddress $2
port 0
cmdport 0
keyfile $work/chrony.keys
driftfile $work/$1/drift
pidfile $work/$1/chronyd.pid
EOF
}
chrony_client plain "$plain_client" ""
chrony_client md5 "$md5_client" "key 1"
chrony_client sha1 "$sha1_client" "key 2"
# F323 is chrony's own experimental extension field (finer root delay and
# dispersion, a monotonic receive timestamp); a chrony server that knows it
# answers with a field of the same type.
chrony_client ef "$ef_client" "extfield F323"

# The work dir stays root's (dumpcap gives up its root powers and must
# still write there); chronyd's own directories and the key file are its user's.
chmod 711 "$work"
chown -R "$chrony_user" "$work"/{server,plain,md5,sha1,ef} "$work/chrony.keys"
chmod 600 "$work/chrony.keys"

start_chronyd() { # name
    chronyd -d -x -u "$chrony_user" -f "$work/$1/chrony.conf" >"$work/$1/log" 2>&1 &
    pids+=($!)
}

# ---------------------------------------------------------------------------
# Capture everything to and from port 123 on the namespace's loopback.
mkdir -p "$work/capture"
dumpcap -q -i lo -f "udp port 123" -w "$work/capture/all.pcapng" >"$work/dumpcap.log" 2>&1 &
dumpcap_pid=$!
pids+=("$dumpcap_pid")
for _ in $(seq 50); do
    grep -q "Capturing on" "$work/dumpcap.log" 2>/dev/null && break
    sleep 0.1
done
sleep 0.5

start_chronyd server
sleep 1
# Four chronyd clients for a few polls each, then stopped, so that the
# capture stays small.
client_pids=()
for name in plain md5 sha1 ef; do
    start_chronyd "$name"
    client_pids+=("${pids[-1]}")
done
sleep 3.5
for pid in "${client_pids[@]}"; do
    kill "$pid"
    wait "$pid" 2>/dev/null || true
done

# ntpdig, unauthenticated and with the MD5 key. It has no port option: it
# always talks to port 123.
ntpdig -t 2 "$server_addr" >"$work/ntpdig-plain.log" 2>&1 || true
ntpdig -t 2 -k "$work/ntp.keys" -a 1 "$server_addr" >"$work/ntpdig-md5.log" 2>&1 || true

# ---------------------------------------------------------------------------
# NTPsec ntpd, unpacked from its .deb: a client of the chronyd server (its
# first iburst request is enough), and a server of its own that rate-limits
# everyone but that server and itself.
ntpd="$NTPSEC_ROOT/usr/sbin/ntpd"
cat >"$work/ntpd.conf" <<END_OF_NTPD_CONF
# Never discipline the clock (and the process has no CAP_SYS_TIME anyway).
disable ntp
disable kernel
interface ignore wildcard
server $server_addr iburst minpoll 3 maxpoll 3
# Everyone but our upstream and ntpq on our own address is rate limited,
# and told so with a KoD RATE. NTPsec 1.2.2 spells ntpd's \`discard\` as
# \`limit\`: here one packet per second on average, in bursts of one.
restrict default kod limited
restrict $server_addr
restrict $ntpd_addr
limit average 1 burst 1 kod 1
END_OF_NTPD_CONF
capsh --drop=cap_sys_time -- -c "exec '$ntpd' -n -c '$work/ntpd.conf' -l '$work/ntpd.log'" &
pids+=($!)
sleep 2

# A fast burst of client requests to ntpd: the first is answered (ntpd is
# not synchronized yet, so with stratum 0 and refid INIT), the second is over
# the rate limit and draws a KoD RATE; later ones are dropped, since ntpd
# rate-limits its KoDs too. The transmit timestamps are distinct, so each
# reply can be matched to its request.
python3 - "$burst_client" "$ntpd_addr" <<'END_OF_BURST'
import socket, struct, sys, time
src, dst = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((src, 0))
s.settimeout(0.2)
for i in range(4):
    now = time.time() + 2208988800
    xmt = (int(now) << 32) | int((now % 1) * 2**32)
    # LI 0, VN 4, mode 3; every other field zero but the transmit timestamp.
    s.sendto(bytes([0x23]) + bytes(39) + struct.pack("!Q", xmt), (dst, 123))
    try:
        s.recv(1024)
    except socket.timeout:
        pass
    time.sleep(0.05)
END_OF_BURST

# ntpq readvar against ntpd: a mode 6 request and its response.
"$NTPSEC_ROOT/usr/bin/ntpq" -c rv "$ntpd_addr" >"$work/ntpq.log" 2>&1 || true
sleep 0.5

kill "$dumpcap_pid"
wait "$dumpcap_pid" 2>/dev/null || true

# ---------------------------------------------------------------------------
# Pick one exchange of each kind and write the UDP payloads.
tshark -r "$work/capture/all.pcapng" -T fields -E separator=/t \
    -e frame.number -e ip.src -e udp.srcport -e ip.dst -e udp.dstport -e udp.payload \
    >"$work/packets.tsv"

mkdir -p "$out_root/chrony" "$out_root/ntpsec"
python3 - "$work/packets.tsv" "$out_root" \
    "$server_addr" "$plain_client" "$md5_client" "$sha1_client" "$ef_client" "$ntpd_addr" "$burst_client" \
    <<'END_OF_EXTRACT'
import sys

tsv, out, server, plain, md5, sha1, ef, ntpd, burst_client = sys.argv[1:]
packets = []
for line in open(tsv):
    frame, src, sport, dst, dport, payload = line.rstrip("\n").split("\t")
    packets.append((int(frame), src, int(sport), dst, int(dport), bytes.fromhex(payload)))


def write(path, packet):
    with open(f"{out}/{path}", "wb") as fh:
        fh.write(packet[5])
    print(f"{path:44} frame {packet[0]:4}  {packet[1]}:{packet[2]} -> {packet[3]}:{packet[4]}  {len(packet[5])} bytes")


def reply_to(request):
    """The first packet back to the request's source whose origin timestamp
    is the request's transmit timestamp."""
    f, src, sport, dst, dport, req = request
    for p in packets:
        if p[0] > f and p[1] == dst and p[2] == dport and p[3] == src and p[4] == sport and p[5][24:32] == req[40:48]:
            return p
    return None


def exchange(requests, request_path, reply_path):
    """Writes the first request in `requests` that was answered, and its answer."""
    for request in requests:
        reply = reply_to(request)
        if reply is not None:
            write(request_path, request)
            write(reply_path, reply)
            return
    sys.exit(f"no answered request for {request_path}")


def client_requests(src, sport=None):
    return [p for p in packets if p[1] == src and p[3] == server and p[4] == 123 and p[5][0] & 7 == 3
            and (sport is None or (p[2] == 123) == (sport == 123))]


exchange(client_requests(plain), "chrony/client-request.bin", "chrony/server-reply.bin")
exchange(client_requests(md5), "chrony/client-request-md5.bin", "chrony/server-reply-md5.bin")
exchange(client_requests(sha1), "chrony/client-request-sha1.bin", "chrony/server-reply-sha1.bin")
exchange(client_requests(ef), "chrony/client-request-extfield.bin", "chrony/server-reply-extfield.bin")

# ntpdig and ntpd both send from ntpd's address (the only one the
# namespace's lo carries): ntpd from port 123, ntpdig from an ephemeral port.
ntpdig = [p for p in client_requests(ntpd) if p[2] != 123]
exchange([p for p in ntpdig if len(p[5]) == 48], "ntpsec/ntpdig-request.bin", "chrony/reply-to-ntpdig.bin")
exchange([p for p in ntpdig if len(p[5]) > 48], "ntpsec/ntpdig-request-md5.bin", "chrony/reply-to-ntpdig-md5.bin")
exchange([p for p in client_requests(ntpd) if p[2] == 123], "ntpsec/ntpd-client-request.bin",
         "chrony/reply-to-ntpd.bin")

# The burst to ntpd: the first request and its answer, then the request that
# drew the KoD RATE and the KoD.
burst = [p for p in packets if p[1] == burst_client]
exchange(burst[:1], "ntpsec/burst-request-1.bin", "ntpsec/ntpd-reply-unsynchronized.bin")
exchange([p for p in burst[1:] if (r := reply_to(p)) and r[5][1] == 0 and r[5][12:16] == b"RATE"],
         "ntpsec/burst-request-2.bin", "ntpsec/ntpd-kod-rate.bin")

# ntpq's mode 6 readvar: the request and the first response fragment.
control = [p for p in packets if p[5] and p[5][0] & 7 == 6]
if len(control) < 2:
    sys.exit("no mode 6 exchange captured")
write("ntpsec/ntpq-readvar-request.bin", control[0])
write("ntpsec/ntpd-readvar-response.bin", control[1])
END_OF_EXTRACT

install -m 644 "$work/capture/all.pcapng" "$out_root/chrony/capture.pcapng"
echo "chronyd: $(chronyd -v)"
echo "ntpd:    $("$ntpd" --version 2>&1 | head -1)"
echo "ntpdig:  $(ntpdig -V 2>&1 | head -1)"
echo "tshark:  $(tshark -v 2>/dev/null | head -1)"
