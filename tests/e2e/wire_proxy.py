"""A man in the middle for vigil's secure channel (src/wire), for tests: it relays a client's
connection to a server and, after the handshake, alters one frame in the chosen direction.

    python3 wire_proxy.py MODE LISTEN_PORT UPSTREAM_HOST UPSTREAM_PORT

MODE: pass, flip-c2s, flip-s2c (flip one bit in the second frame: the first application
message, after the key confirmation), replay-c2s, replay-s2c (send that frame twice),
reorder-s2c (swap the third and fourth frames: two replies to pipelined requests). One
connection, then exit. Prints "ready" once listening.

Frames on the wire: after each side's 72-byte hello and 24-byte stream header, a 4-byte
big-endian length and that many bytes of ciphertext (wire.h).
"""
import socket
import struct
import sys
import threading

HANDSHAKE = 72 + 24


def read_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def relay(src, dst, mode, direction):
    """Copies src to dst frame by frame, altering per MODE in DIRECTION ("c2s"/"s2c")."""
    try:
        # the handshake goes through as it comes: each side waits for the other's part
        left = HANDSHAKE
        while left:
            chunk = src.recv(left)
            if not chunk:
                return
            dst.sendall(chunk)
            left -= len(chunk)
        n = 0
        held = None
        while True:
            hdr = read_exact(src, 4)
            if hdr is None:
                break
            body = read_exact(src, struct.unpack(">I", hdr)[0])
            if body is None:
                break
            frame = hdr + body
            n += 1
            mine = mode.endswith(direction)
            if mine and n == 2 and mode.startswith("flip"):
                b = bytearray(frame)
                b[len(b) // 2] ^= 0x10
                frame = bytes(b)
            if mine and n == 2 and mode.startswith("replay"):
                dst.sendall(frame)
            if mine and mode.startswith("reorder") and n == 3:
                held = frame
                continue
            dst.sendall(frame)
            if held is not None:
                dst.sendall(held)
                held = None
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def main():
    mode, lport, host, port = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", lport))
    ls.listen(1)
    print("ready", flush=True)
    c, _ = ls.accept()
    s = socket.create_connection((host, port))
    t = threading.Thread(target=relay, args=(s, c, mode, "s2c"), daemon=True)
    t.start()
    relay(c, s, mode, "c2s")
    t.join(5)


if __name__ == "__main__":
    main()
