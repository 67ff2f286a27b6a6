"""Frames and pcap files for the switch's tests, standard library only.

Frames are built byte by byte (Ethernet, VLAN, ARP, IPv4/IPv6, TCP, UDP, ICMP) with correct
IPv4 header checksums, so a capture opens cleanly in Wireshark; pcap files are libpcap's
classic format (microsecond timestamps). read_pcap() parses one back.
"""
import ipaddress
import struct


def mac(last):
    return bytes([0x52, 0x54, 0, 0, 0, last])


def eth(dst, src, etype, payload, vlans=()):
    tags = b"".join(struct.pack(">HH", 0x8100, v) for v in vlans)
    frame = dst + src + tags + struct.pack(">H", etype) + payload
    return frame + b"\0" * max(0, 60 - len(frame))


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f">{len(b) // 2}H", b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ip4(src, dst, proto, payload, ident=1, flags_frag=0x4000, ttl=64, ihl=5, total=None):
    total = 20 + len(payload) if total is None else total
    h = struct.pack(">BBHHHBBH4s4s", 0x40 | ihl, 0, total, ident, flags_frag, ttl, proto, 0,
                    ipaddress.IPv4Address(src).packed, ipaddress.IPv4Address(dst).packed)
    h = h[:10] + struct.pack(">H", csum(h)) + h[12:]
    return h + payload


def ip6(src, dst, nh, payload, hops=64):
    return struct.pack(">IHBB16s16s", 6 << 28, len(payload), nh, hops,
                       ipaddress.IPv6Address(src).packed, ipaddress.IPv6Address(dst).packed) + payload


def tcp(sport, dport, flags, payload=b"", seq=1000, ack=0):
    return struct.pack(">HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0) + payload


def udp(sport, dport, payload):
    return struct.pack(">HHHH", sport, dport, 8 + len(payload), 0) + payload


SYN, ACK, PSH, FIN, RST = 0x02, 0x10, 0x08, 0x01, 0x04


def host_mac(ip):
    return mac(int(ip.split(".")[-1]))


def tcp4(src, dst, sport, dport, flags, payload=b"", src_mac=None):
    return eth(host_mac(dst), src_mac or host_mac(src), 0x0800,
               ip4(src, dst, 6, tcp(sport, dport, flags, payload)))


def udp4(src, dst, sport, dport, payload, src_mac=None):
    return eth(host_mac(dst), src_mac or host_mac(src), 0x0800, ip4(src, dst, 17, udp(sport, dport, payload)))


def arp(op, frame_src, sha, spa, tpa):
    body = struct.pack(">HHBBH6s4s6s4s", 1, 0x0800, 6, 4, op, sha,
                       ipaddress.IPv4Address(spa).packed, b"\0" * 6,
                       ipaddress.IPv4Address(tpa).packed)
    return eth(b"\xff" * 6, frame_src, 0x0806, body)


def session(c, s, cport, sport, data=b"x", answer=b""):
    """A whole TCP conversation: handshake, data, (answer), FIN both ways."""
    f = [tcp4(c, s, cport, sport, SYN), tcp4(s, c, sport, cport, SYN | ACK),
         tcp4(c, s, cport, sport, ACK), tcp4(c, s, cport, sport, PSH | ACK, data)]
    if answer:
        f.append(tcp4(s, c, sport, cport, PSH | ACK, answer))
    f += [tcp4(c, s, cport, sport, FIN | ACK), tcp4(s, c, sport, cport, FIN | ACK),
          tcp4(c, s, cport, sport, ACK)]
    return f


def dns_query(name):
    q = struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\0" + struct.pack(">HH", 1, 1)


def write_pcap(path, frames, start=1_700_000_000.0, step=0.001, linktype=1, snaplen=65535):
    """frames: bytes, or (bytes, wire_len) for frames cut by a snap length."""
    out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, linktype))
    t = start
    for f in frames:
        data, wire = (f, len(f)) if isinstance(f, (bytes, bytearray)) else f
        sec = int(t)
        out += struct.pack("<IIII", sec, int(round((t - sec) * 1e6)), len(data), wire) + data
        t += step
    with open(path, "wb") as fh:
        fh.write(out)
    return path


def read_pcap(path):
    """[(ts, bytes)] of a classic little-endian microsecond pcap."""
    data = open(path, "rb").read()
    magic, _, _, _, _, _, link = struct.unpack("<IHHiIII", data[:24])
    assert magic == 0xA1B2C3D4 and link == 1, (hex(magic), link)
    pos, out = 24, []
    while pos + 16 <= len(data):
        sec, usec, incl, _ = struct.unpack("<IIII", data[pos:pos + 16])
        out.append((sec + usec / 1e6, data[pos + 16:pos + 16 + incl]))
        pos += 16 + incl
    return out
