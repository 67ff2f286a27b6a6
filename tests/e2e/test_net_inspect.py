"""vigil net inspect over crafted captures: the switch's engine offline.

Spoofed, fragmented and malformed frames each raise the check a user would expect, with the
evidence they would look for; a capture of random garbage, a damaged file and a capture of the
wrong link type end with a clear answer, never a crash; a clean conversation raises nothing.
No guests: captures are written here (tests/e2e/netpcap.py).
"""
import json
import os
import random
import struct
from pathlib import Path

import pytest

import netpcap as N
from conftest import run_vigil as vigil


def inspect(pcap, *args):
    rc, out, err = vigil("net", "inspect", str(pcap), "-j", *map(str, args), timeout=300)
    alerts = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return rc, alerts, err


def checks(alerts):
    return [a["check"] for a in alerts]


@pytest.fixture
def tmp(tmp_path):
    return tmp_path


def test_clean_conversation_raises_nothing(tmp):
    frames = N.session("10.0.0.1", "10.0.0.2", 40000, 80,
                       b"GET / HTTP/1.1\r\nHost: cam\r\n\r\n", b"HTTP/1.1 200 OK\r\n\r\nhi")
    frames += [N.arp(1, N.mac(1), N.mac(1), "10.0.0.1", "10.0.0.2"),
               N.arp(2, N.mac(2), N.mac(2), "10.0.0.2", "10.0.0.1")]
    pcap = N.write_pcap(tmp / "clean.pcap", frames)
    rc, alerts, err = inspect(pcap, "--flows", tmp / "flows.jsonl", "--stats")
    assert (rc, alerts) == (0, []), err
    flows = [json.loads(x) for x in (tmp / "flows.jsonl").read_text().splitlines()]
    http = [f for f in flows if f["dst_port"] == 80]
    assert len(http) == 1 and http[0]["app"] == "HTTP", flows
    assert http[0]["src_ip"] == "10.0.0.1" and http[0]["state"] == "closed"
    stats = json.loads(err.strip().splitlines()[-1])
    assert stats["frames"] == len(frames) and stats["alerts"] == 0


def test_spoofed_frames(tmp):
    frames = [
        # 10.0.0.5 announces itself; then another MAC claims its address (ARP poisoning)
        N.arp(2, N.mac(5), N.mac(5), "10.0.0.5", "10.0.0.1"),
        N.arp(2, N.mac(66), N.mac(66), "10.0.0.5", "10.0.0.1"),
        # 10.0.0.7 talks; then the same address arrives from another MAC
        N.tcp4("10.0.0.7", "10.0.0.2", 40000, 80, N.SYN),
        N.tcp4("10.0.0.7", "10.0.0.3", 40001, 80, N.SYN, src_mac=N.mac(99)),
        # a source no host can have, and a land attack
        N.tcp4("127.0.0.1", "10.0.0.2", 1, 80, N.SYN, src_mac=N.mac(98)),
        N.tcp4("10.0.0.9", "10.0.0.9", 139, 139, N.SYN),
    ]
    rc, alerts, err = inspect(N.write_pcap(tmp / "spoof.pcap", frames))
    assert rc == 1, err
    arp = [a for a in alerts if a["check"] == "arp-spoof"]
    assert len(arp) == 1 and arp[0]["evidence"]["owner_mac"] == "52:54:00:00:00:05"
    assert arp[0]["evidence"]["claimed_by_mac"] == "52:54:00:00:00:42"
    assert arp[0]["attack"] == ["T1557.002"]
    ip = {a["evidence"]["reason"]: a for a in alerts if a["check"] == "ip-spoof"}
    assert set(ip) == {"binding-conflict", "martian", "land"}, alerts
    assert ip["binding-conflict"]["evidence"]["flow"]["src_ip"] == "10.0.0.7"
    assert all(a["source"] == "switch" for a in alerts)


def test_fragment_attacks(tmp):
    payload = b"A" * 48
    first = N.ip4("10.0.0.1", "10.0.0.2", 17, N.udp(5000, 53, payload)[:32], ident=7,
                  flags_frag=0x2000)
    # Teardrop: the second fragment starts inside the first
    overlap = N.ip4("10.0.0.1", "10.0.0.2", 17, payload[:24], ident=7, flags_frag=0x0002)
    # the first fragment of a TCP datagram too short to hold the TCP header (RFC 1858)
    tiny = N.ip4("10.0.0.3", "10.0.0.2", 6, N.tcp(5000, 22, N.SYN)[:8], ident=9,
                 flags_frag=0x2000)
    # ping of death: a fragment reaching past 65535 bytes
    pod = N.ip4("10.0.0.4", "10.0.0.2", 1, b"\0" * 40, ident=11, flags_frag=8190)
    # IPv6: two fragments of one datagram overlapping
    frag6 = lambda off, m, data: N.ip6("fd00::1", "fd00::2", 44,
                                      struct.pack(">BBHI", 17, 0, off | m, 0x42) + data)
    frames = [N.eth(N.mac(2), N.mac(1), 0x0800, first), N.eth(N.mac(2), N.mac(1), 0x0800, overlap),
              N.eth(N.mac(2), N.mac(3), 0x0800, tiny), N.eth(N.mac(2), N.mac(4), 0x0800, pod),
              N.eth(N.mac(2), N.mac(6), 0x86DD, frag6(0, 1, N.udp(1, 2, b"B" * 24))),
              N.eth(N.mac(2), N.mac(6), 0x86DD, frag6(16, 0, b"C" * 24))]
    rc, alerts, err = inspect(N.write_pcap(tmp / "frag.pcap", frames))
    assert rc == 1, err
    found = {a["target"]["id"]: a["evidence"]["anomalies"] for a in alerts
             if a["check"] == "malformed-frame"}
    assert "frag-overlap" in found["10.0.0.1"]
    assert "frag-tiny" in found["10.0.0.3"]
    assert "frag-oversize" in found["10.0.0.4"]
    assert "frag-overlap" in found["fd00::1"]


def test_malformed_and_random_frames_never_crash(tmp):
    rnd = random.Random(1234)
    good = N.tcp4("10.0.0.1", "10.0.0.2", 1, 2, N.SYN)
    frames = [
        good[:10],                                            # shorter than Ethernet
        good[:14] + b"\x44" + good[15:],                      # IHL 4
        good[:14] + b"\x65" + good[15:],                      # version 6 in an IPv4 frame
        N.eth(N.mac(2), N.mac(7), 0x0800, N.ip4("10.0.0.7", "10.0.0.2", 6, N.tcp(1, 2, N.SYN),
                                                   total=1500)),  # length beyond the frame
        N.eth(N.mac(2), N.mac(8), 0x0800, N.ip4("10.0.0.8", "10.0.0.2", 6, b"\0" * 12 +
                                                   b"\xf0" + b"\0" * 7)),  # data offset 60
        N.eth(N.mac(2), N.mac(9), 0x0800, b"\x45", vlans=(1, 2, 3)),  # three VLAN tags
        N.tcp4("10.0.0.10", "10.0.0.2", 1, 2, N.FIN | N.PSH | 0x20),  # Xmas
    ]
    frames += [bytes(rnd.getrandbits(8) for _ in range(rnd.randint(0, 200))) for _ in range(2000)]
    # random bytes behind valid Ethernet+IPv4/IPv6 headers reach deeper into the decoder
    for _ in range(2000):
        body = bytes(rnd.getrandbits(8) for _ in range(rnd.randint(0, 120)))
        etype = rnd.choice([0x0800, 0x86DD, 0x0806, 0x8100])
        if etype == 0x0800 and body:
            body = bytes([0x45]) + body[1:]
        frames.append(N.eth(N.mac(2), N.mac(rnd.randint(1, 250)), etype, body))
    rc, alerts, err = inspect(N.write_pcap(tmp / "bad.pcap", frames), "--ips", "--stats")
    assert rc == 1, err
    stats = json.loads(err.strip().splitlines()[-1])
    assert stats["frames"] == len(frames)
    assert stats["decode_anomalies"] > 1000
    names = ",".join(a["evidence"].get("anomalies", "") for a in alerts)
    for want in ("eth-truncated", "ip-header-length", "ip-version", "ip-length",
                 "tcp-truncated", "vlan-depth", "tcp-flags"):
        assert want in names, (want, names[:500])


def test_scan_and_brute_force_from_capture(tmp):
    frames = [N.tcp4("10.0.0.66", "10.0.0.2", 50000, p, N.SYN) for p in range(1, 101)]
    frames += [N.tcp4("10.0.0.2", "10.0.0.66", p, 50000, N.RST | N.ACK) for p in range(1, 101)]
    for i in range(12):
        frames += N.session("10.0.0.77", "10.0.0.2", 41000 + i, 23, b"root\r\nxc3511\r\n",
                            b"\xff\xfb\x01\xff\xfb\x03login: ")
    pcap = N.write_pcap(tmp / "attack.pcap", frames, step=0.01)
    rc, alerts, err = inspect(pcap, "--pcap-dir", tmp / "pcaps")
    assert rc == 1, err
    scan = [a for a in alerts if a["check"] == "vertical-scan"]
    assert len(scan) == 1 and scan[0]["evidence"]["flow"]["src_ip"] == "10.0.0.66"
    brute = [a for a in alerts if a["check"] == "brute-force"]
    assert len(brute) == 1 and brute[0]["evidence"]["sessions"] == 10
    assert brute[0]["attack"] == ["T1110.001"]
    creds = [a for a in alerts if a["check"] == "default-credentials"]
    assert len(creds) == 1  # threshold limit: one a minute per source
    # each flagged flow's frames are in a pcap of its own, the alert's frame included
    cap = N.read_pcap(brute[0]["evidence"]["pcap"])
    assert len(cap) == 8
    assert all(struct.unpack(">HH", f[34:38]) in [(41009, 23), (23, 41009)] for _, f in cap)
    # the IPS would have dropped the flagged flows and then everything from the sources
    rc, ips, err = inspect(pcap, "--ips", "--stats")
    stats = json.loads(err.strip().splitlines()[-1])
    assert stats["dropped"] > 20


def test_dns_to_unexpected_resolver_and_blocklist(tmp):
    (tmp / "bad.txt").write_text("# blocklist\n203.0.113.0/24\n198.51.100.66\n")
    frames = [N.udp4("10.0.0.1", "10.0.0.53", 33000, 53, N.dns_query("vigil.example")),
              N.udp4("10.0.0.1", "8.8.8.8", 33001, 53, N.dns_query("evil.example")),
              N.tcp4("10.0.0.1", "203.0.113.9", 40000, 443, N.SYN),
              N.tcp4("10.0.0.1", "198.51.100.67", 40001, 443, N.SYN)]
    rc, alerts, err = inspect(N.write_pcap(tmp / "dns.pcap", frames), "--var",
                              "HOME_NET=[10.0.0.0/24]", "--var", "DNS_SERVERS=10.0.0.53",
                              "--var", f"BLOCKLIST=@{tmp / 'bad.txt'}")
    assert rc == 1, err
    assert sorted(checks(alerts)) == ["blocklist", "dns-resolver"], alerts
    dns = next(a for a in alerts if a["check"] == "dns-resolver")
    assert dns["evidence"]["flow"]["dst_ip"] == "8.8.8.8"
    assert dns["evidence"]["flow"]["app"].startswith("DNS")
    bl = next(a for a in alerts if a["check"] == "blocklist")
    assert bl["evidence"]["flow"]["dst_ip"] == "203.0.113.9"


def test_suricata_rules_reused_and_unsupported_listed(tmp):
    rules = tmp / "et.rules"
    rules.write_text(
        "alert tcp $HOME_NET any -> $EXTERNAL_NET $HTTP_PORTS (msg:\"ET POLICY curl UA\"; "
        "flow:established,to_server; content:\"User-Agent|3a 20|curl/\"; nocase; "
        "classtype:policy-violation; sid:2013028; rev:6;)\n"
        "alert http $HOME_NET any -> any any (msg:\"uses http.uri\"; http.uri; "
        "content:\"/x\"; sid:1;)\n"
        "alert tcp any any -> any any (msg:\"pcre\"; pcre:\"/a/\"; sid:2;)\n")
    rc, out, err = vigil("net", "rules", rules, "-j")
    assert rc == 0, err
    info = json.loads(out)
    assert [r["sid"] for r in info["rules"]] == [2013028]
    assert info["skipped"] == 2
    assert "http.uri" in info["skipped_rules"][0] and "pcre" in info["skipped_rules"][1]
    frames = N.session("10.0.0.1", "10.0.0.2", 40000, 80,
                       b"GET / HTTP/1.1\r\nUser-Agent: CURL/7.88\r\n\r\n")
    rc, alerts, err = inspect(N.write_pcap(tmp / "ua.pcap", frames), "--rules", rules)
    assert rc == 1 and "2 rule(s) use keywords outside the supported subset" in err
    assert [(a["check"], a["evidence"]["rule"]["sid"]) for a in alerts] == [("signature", 2013028)]
    assert alerts[0]["severity"] == "high"  # policy-violation: priority 1


def test_bad_captures_fail_clearly(tmp):
    good = N.write_pcap(tmp / "good.pcap",
                        [N.tcp4("10.0.0.1", "10.0.0.2", 1, 31337, N.SYN)] * 3)
    damaged = tmp / "damaged.pcap"
    data = good.read_bytes()
    # the third record claims 4000 bytes: past the end of the file
    third = 24 + 2 * (16 + 60)
    damaged.write_bytes(data[:third + 8] + struct.pack("<II", 4000, 4000) + data[third + 16:])
    rc, alerts, err = inspect(damaged)
    assert rc == 2 and "damaged after frame 2" in err, err
    assert checks(alerts) == ["backdoor-port"]  # what came before the damage was inspected
    raw = N.write_pcap(tmp / "raw.pcap", [b"\x45" + b"\0" * 39], linktype=101)
    rc, _, err = inspect(raw)
    assert rc == 2 and "only Ethernet" in err
    (tmp / "text.pcap").write_text("not a capture\n")
    rc, _, err = inspect(tmp / "text.pcap")
    assert rc == 2 and "cannot read capture" in err
    rc, _, err = inspect(tmp / "missing.pcap")
    assert rc == 2
    rc, out, err = vigil("net", "inspect", good, "--port", "a=/tmp/x")
    assert rc == 2 and "is for 'net switch'" in err
    # a capture cut by a snap length is not malformed
    cut = N.write_pcap(tmp / "cut.pcap", [(N.tcp4("10.0.0.1", "10.0.0.2", 1, 2, N.PSH | N.ACK,
                                                  b"x" * 500)[:54], 554)], snaplen=54)
    rc, alerts, err = inspect(cut)
    assert (rc, alerts) == (0, []), err
