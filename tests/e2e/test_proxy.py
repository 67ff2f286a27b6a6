"""vigil proxy: unmodified programs whose network calls run in another domain.

Three network namespaces per test file (names carry this process's pid):
  S  the servers: HTTP, HTTPS (openssl s_server), SSH (sshd), DNS (dnsmasq), on 10.203.N.1
  E  the executor's domain: a veth to S
  P  the protected domain: a veth to S as well, so the program *could* talk directly and a
     capture on P's interfaces would show it; the domain is P plus its own pid and mount
     namespaces (unshare), so processes beside the service see only the domain
Each program runs under `vigil proxy run --domain DOMAIN_PID --exec-netns E`. The hiding is
checked inside the domain with ss, /proc/net/tcp, lsof, /proc/PID/fd and tcpdump on P's
interfaces, and the same checks are shown to see an unproxied program (they can fail).
"""

import hashlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import VIGIL_BIN

N = 10 + os.getpid() % 200
SRV = f"10.203.{N}.1"
HTTP_PORT, HTTPS_PORT, SSH_PORT, SERVE_PORT, SLOW_PORT = 18080, 18443, 18022, 18090, 18081

# A paced HTTP/1.0 file server (about 1.6 MB/s) with byte ranges, so a transfer lasts long
# enough to look at, kill things in the middle of, and resume.
SLOW_SERVER = r"""
import socket, sys, threading, time, re
data = open(sys.argv[3], 'rb').read()
def serve(c):
    try:
        req = b''
        while b'\r\n\r\n' not in req:
            chunk = c.recv(4096)
            if not chunk:
                return
            req += chunk
        m = re.search(rb'Range: bytes=(\d+)-', req)
        start = int(m.group(1)) if m else 0
        body = data[start:]
        head = 'HTTP/1.0 %s\r\nContent-Length: %d\r\n' % ('206 Partial' if m else '200 OK',
                                                            len(body))
        if m:
            head += 'Content-Range: bytes %d-%d/%d\r\n' % (start, len(data) - 1, len(data))
        c.sendall((head + '\r\n').encode())
        for i in range(0, len(body), 65536):
            c.sendall(body[i:i + 65536])
            time.sleep(0.04)
    except OSError:
        pass
    finally:
        c.close()
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(16)
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
"""

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for namespaces")


def sh(*cmd, check=True, timeout=60, **kw):
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=timeout,
                       **kw)
    if check and r.returncode:
        raise AssertionError(f"{' '.join(map(str, cmd))} -> {r.returncode}: {r.stderr}")
    return r


class Net:
    def __init__(self, tag):
        self.tag = tag
        self.s, self.e, self.p = f"vgpx{tag}s", f"vgpx{tag}e", f"vgpx{tag}p"
        self.tmp = Path(tempfile.mkdtemp(prefix=f"vgpx{tag}-"))
        self.procs = []
        self.domain = None

    # ---- topology ----
    def up(self):
        for ns in (self.s, self.e, self.p):
            sh("ip", "netns", "add", ns)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        for peer, net in ((self.e, 201), (self.p, 202)):
            a, b = f"{peer[-1]}{self.tag}a", f"{peer[-1]}{self.tag}b"
            sh("ip", "link", "add", a, "netns", self.s, "type", "veth", "peer", "name", b,
               "netns", peer)
            sh("ip", "-n", self.s, "addr", "add", f"10.{net}.{N}.2/24", "dev", a)
            sh("ip", "-n", peer, "addr", "add", f"10.{net}.{N}.1/24", "dev", b)
            sh("ip", "-n", self.s, "link", "set", a, "up")
            sh("ip", "-n", peer, "link", "set", b, "up")
            sh("ip", "-n", peer, "route", "add", f"10.203.{N}.0/24", "via", f"10.{net}.{N}.2")
        sh("ip", "-n", self.s, "addr", "add", f"{SRV}/32", "dev", "lo")
        sh("ip", "netns", "exec", self.s, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        # the domain's resolver: `ip netns exec` binds /etc/netns/P/* over /etc
        self.etc = Path("/etc/netns") / self.p
        self.etc.mkdir(parents=True, exist_ok=True)
        (self.etc / "resolv.conf").write_text(f"nameserver {SRV}\n")
        (self.etc / "hosts").write_text("127.0.0.1 localhost\n")
        # the domain: P's network, its own pid and mount namespaces, an idle init
        d = subprocess.Popen(["ip", "netns", "exec", self.p, "unshare", "--pid", "--fork",
                              "--mount-proc", "sleep", "3600"])
        self.procs.append(d)
        for _ in range(100):
            # ip netns exec runs unshare in place; unshare's child is the domain's init
            kids = sh("pgrep", "-P", d.pid, check=False).stdout.split()
            if kids:
                self.domain = int(kids[0])
                break
            time.sleep(0.05)
        assert self.domain, "the protected domain did not start"

    def down(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.kill()
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    pass
        for ns in (self.s, self.e, self.p):
            for pid in sh("ip", "netns", "pids", ns, check=False).stdout.split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass
            sh("ip", "netns", "del", ns, check=False)
        shutil.rmtree(self.etc, ignore_errors=True)
        shutil.rmtree(self.tmp, ignore_errors=True)

    # ---- running things ----
    def bg(self, ns, *cmd, **kw):
        p = subprocess.Popen(["ip", "netns", "exec", ns, *map(str, cmd)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)
        self.procs.append(p)
        return p

    def in_domain(self, *cmd, check=False, timeout=60):
        return sh("nsenter", "-t", self.domain, "-n", "-m", "-p", *cmd, check=check,
                  timeout=timeout)

    def proxy_cmd(self, *cmd, mode="data", report=None):
        args = [str(VIGIL_BIN), "proxy", "run", "--mode", mode, "--domain", str(self.domain),
                "--exec-netns", f"/run/netns/{self.e}"]
        if report:
            args += ["--report", str(report), "-j"]
        return args + ["--", *map(str, cmd)]

    def proxied(self, *cmd, mode="data", timeout=60, report=None):
        return sh(*self.proxy_cmd(*cmd, mode=mode, report=report), check=False,
                  timeout=timeout)

    def wait_port(self, ns, port, proto="t"):
        for _ in range(200):
            r = sh("ip", "netns", "exec", ns, "ss", f"-{proto}lnH", f"sport = :{port}",
                   check=False)
            if r.stdout.strip():
                return
            time.sleep(0.05)
        raise AssertionError(f"nothing listens on {port} in {ns}")

    # ---- servers ----
    def servers(self):
        www = self.tmp / "www"
        www.mkdir()
        (www / "hello.txt").write_text("hello through the proxy\n")
        self.big = os.urandom(8 << 20)
        (www / "big.bin").write_bytes(self.big)
        self.big_sha = hashlib.sha256(self.big).hexdigest()
        self.bg(self.s, "python3", "-m", "http.server", HTTP_PORT, "--bind", SRV,
                "--directory", www)
        key, crt = self.tmp / "tls.key", self.tmp / "tls.crt"
        sh("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out",
           crt, "-days", "2", "-subj", "/CN=svc.test")
        self.bg(self.s, "openssl", "s_server", "-quiet", "-accept", f"{SRV}:{HTTPS_PORT}",
                "-cert", crt, "-key", key, "-WWW", cwd=www)
        self.bg(self.s, "dnsmasq", "--no-daemon", "--no-resolv", "--no-hosts",
                "--bind-interfaces", f"--listen-address={SRV}", "--user=root",
                "--pid-file=" + str(self.tmp / "dnsmasq.pid"),
                f"--address=/svc.test/{SRV}")
        self.bg(self.s, "python3", "-c", SLOW_SERVER, SRV, SLOW_PORT, www / "big.bin")
        self.sshd()
        self.wait_port(self.s, SLOW_PORT)
        self.wait_port(self.s, HTTP_PORT)
        self.wait_port(self.s, HTTPS_PORT)
        self.wait_port(self.s, 53, "u")
        self.wait_port(self.s, SSH_PORT)

    def sshd(self):
        d = self.tmp / "ssh"
        d.mkdir()
        hk, ck = d / "host_ed25519", d / "client_ed25519"
        sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", hk)
        sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", ck)
        auth = d / "authorized_keys"
        auth.write_text((d / "client_ed25519.pub").read_text())
        auth.chmod(0o600)
        os.chmod(d, 0o700)
        Path("/run/sshd").mkdir(exist_ok=True)
        cfg = d / "sshd_config"
        cfg.write_text(f"Port {SSH_PORT}\nListenAddress {SRV}\nHostKey {hk}\n"
                       f"AuthorizedKeysFile {auth}\nPermitRootLogin prohibit-password\n"
                       "PasswordAuthentication no\nUsePAM no\nStrictModes no\n"
                       f"PidFile {d}/sshd.pid\n")
        self.bg(self.s, "/usr/sbin/sshd", "-D", "-e", "-f", cfg)
        self.client_key = ck


@pytest.fixture(scope="module")
def net():
    for tool in ("ip", "unshare", "nsenter", "curl", "ss", "tcpdump", "lsof", "dnsmasq",
                 "openssl", "ssh", "busybox"):
        if not shutil.which(tool) and not Path("/usr/sbin", tool).exists():
            pytest.fail(f"{tool} missing: install scripts/packages.txt")
    n = Net(os.getpid())
    try:
        n.up()
        n.servers()
        yield n
    finally:
        n.down()


# ---- what a person inside the domain can see ----

def domain_pids(net, name):
    r = net.in_domain("pgrep", "-x", name)
    return [int(p) for p in r.stdout.split()]


def visible(net, port):
    """What the domain's own tools show of a connection to SRV:PORT (empty: nothing)."""
    seen = []
    ss = net.in_domain("ss", "-tanpH").stdout
    if f"{SRV}:{port}" in ss:
        seen.append("ss")
    hexport = f":{port:04X}"
    for f in ("/proc/net/tcp", "/proc/net/tcp6"):
        rows = net.in_domain("cat", f).stdout.splitlines()[1:]
        if any(r.split()[2].endswith(hexport) for r in rows if len(r.split()) > 2):
            seen.append(f)
    lsof = net.in_domain("lsof", "-nP", "-i").stdout
    if SRV in lsof or f":{port}" in lsof:
        seen.append("lsof -i")
    return seen


def socket_fds(net, name):
    """The process's sockets other than its own Unix ones (curl keeps a socketpair)."""
    unix = {row.split()[6] for row in net.in_domain("cat", "/proc/net/unix").stdout
            .splitlines()[1:] if len(row.split()) > 6}
    out = []
    for pid in domain_pids(net, name):
        r = net.in_domain("sh", "-c", f"ls -l /proc/{pid}/fd")
        out += [line for line in r.stdout.splitlines()
                if "socket:[" in line and line.split("socket:[")[1].rstrip("]") not in unix]
    return out


class Capture:
    """tcpdump on every interface of the protected domain's network namespace."""

    def __init__(self, net):
        self.file = net.tmp / f"cap{time.monotonic_ns()}.pcap"
        self.p = subprocess.Popen(["ip", "netns", "exec", net.p, "tcpdump", "-i", "any", "-n",
                                   "-U", "-w", str(self.file), "host", SRV],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for _ in range(100):  # tcpdump says "listening on" once capturing
            if self.file.exists():
                break
            time.sleep(0.05)
        time.sleep(0.3)

    def packets(self):
        self.p.send_signal(signal.SIGINT)
        self.p.wait(timeout=10)
        r = sh("tcpdump", "-n", "-r", self.file, check=False)
        return len(r.stdout.splitlines())


def slow_download(net, proxied, mode="data"):
    cmd = ["curl", "-sS", "-o", str(net.tmp / f"dl-{mode}-{proxied}"),
           f"http://{SRV}:{SLOW_PORT}/big.bin"]
    full = net.proxy_cmd(*cmd, mode=mode) if proxied else \
        ["nsenter", "-t", str(net.domain), "-n", "-m", "-p", *cmd]
    p = subprocess.Popen(full, stderr=subprocess.PIPE, text=True)
    for _ in range(100):
        if domain_pids(net, "curl"):
            break
        time.sleep(0.05)
    time.sleep(0.5)
    return p


@pytest.mark.parametrize("mode", ["data", "fd", None])
def test_hidden_from_the_domain(net, mode):
    """A download through the proxy is invisible to ss, /proc/net, lsof and a capture on the
    domain's interfaces; it exists in the executor's namespace. Without the proxy (None) the
    same checks see it, so they can fail."""
    cap = Capture(net)
    p = slow_download(net, mode is not None, mode or "none")
    try:
        seen = visible(net, SLOW_PORT)
        fds = socket_fds(net, "curl")
        in_e = sh("ip", "netns", "exec", net.e, "ss", "-tnH", "dst", SRV).stdout
    finally:
        _, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    out = net.tmp / f"dl-{mode or 'none'}-{mode is not None}"
    assert hashlib.sha256(out.read_bytes()).hexdigest() == net.big_sha
    packets = cap.packets()
    if mode is None:
        assert "ss" in seen and "/proc/net/tcp" in seen and packets > 0 and fds
        return
    assert seen == [], f"{mode} mode: the domain sees the connection through {seen}"
    assert packets == 0, f"{mode} mode: {packets} packets on the domain's interfaces"
    assert f"{SRV}:{SLOW_PORT}" in in_e, "the connection should live in the executor's netns"
    if mode == "data":
        assert fds == [], f"data mode: the service holds sockets: {fds}"
    else:
        assert fds, "fd mode installs the real socket into the service (documented)"


@pytest.mark.parametrize("mode", ["data", "fd"])
def test_curl_https_by_name(net, mode):
    """HTTPS to a name: the DNS query and the TLS connection both go through the proxy."""
    rep = net.tmp / f"https-{mode}.json"
    r = net.proxied("curl", "-sS", "-k", f"https://svc.test:{HTTPS_PORT}/hello.txt",
                    mode=mode, report=rep)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "hello through the proxy\n"
    import json
    st = json.loads(rep.read_text())
    assert st["sockets"] >= 2  # the resolver's UDP socket and the TCP connection


@pytest.mark.parametrize("mode", ["data", "fd"])
def test_busybox_wget(net, mode):
    r = net.proxied("busybox", "wget", "-q", "-O", "-", f"http://{SRV}:{HTTP_PORT}/hello.txt",
                    mode=mode)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "hello through the proxy\n"


@pytest.mark.parametrize("mode", ["data", "fd"])
def test_ssh_client(net, mode):
    r = net.proxied("ssh", "-i", net.client_key, "-p", SSH_PORT, "-o", "BatchMode=yes",
                    "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                    f"root@{SRV}", "echo", "ssh-ok", "$((6*7))", mode=mode)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["ssh-ok", "42"]


@pytest.mark.parametrize("mode", ["data", "fd"])
def test_dns_lookups(net, mode):
    """glibc's resolver (getent, through the domain's resolv.conf) and busybox nslookup."""
    r = net.proxied("getent", "hosts", "svc.test", mode=mode)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[0] == SRV
    r = net.proxied("busybox", "nslookup", "-type=a", "svc.test", SRV, mode=mode)
    assert r.returncode == 0, r.stderr + r.stdout
    assert SRV in r.stdout.split("svc.test", 1)[-1]


@pytest.mark.parametrize("mode", ["data", "fd"])
def test_server_accepts_in_the_executors_domain(net, mode):
    """A small server under the proxy listens in the executor's namespace: clients there reach
    it, while nothing listens in the protected domain."""
    port = SERVE_PORT + (mode == "fd")
    srv = subprocess.Popen(net.proxy_cmd("python3", "-m", "http.server", port, "--directory",
                                         net.tmp / "www", mode=mode),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        net.wait_port(net.e, port)
        for _ in range(3):  # three connections, each accepted through the proxy
            r = sh("ip", "netns", "exec", net.s, "curl", "-sS",
                   f"http://10.201.{N}.1:{port}/hello.txt", check=False)
            assert r.stdout == "hello through the proxy\n", r.stderr
        listening = net.in_domain("ss", "-tlnH").stdout
        assert f":{port}" not in listening
    finally:
        srv.terminate()
        srv.wait(timeout=20)
