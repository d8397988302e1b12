"""Fixtures for system tests: a real filterd on loopback ports, driven by
real clients (rspamc from Debian's rspamd package, raw sockets)."""
import os
import random
import resource
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FILTERD = os.environ.get("FILTERD", str(ROOT / "build" / "filterd" / "filterd"))
CORPUS = Path(os.environ.get("CORPUS", str(ROOT.parent / "shared" / "corpus")))
# The stock SpamAssassin rules take minutes to compile cold: tests that use
# them share one cache, warmed once by scripts/test (`filterd rules`).
RULES_CACHE = Path(os.environ.get("RULES_CACHE", str(ROOT / "build" / "rules-cache")))


# Below Linux's ephemeral range (32768-60999): a port the kernel handed out
# for a moment can be taken by any outgoing connection before the daemon
# binds it ("Address already in use"); these are never handed out.
_PORT_LOW, _PORT_HIGH = 20000, 32000
_ports_given = set()


def free_port(udp=False):
    rnd = random.Random(os.getpid() ^ time.monotonic_ns())
    for _ in range(1000):
        port = rnd.randrange(_PORT_LOW, _PORT_HIGH)
        if port in _ports_given:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM if udp else socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _ports_given.add(port)
        return port
    raise RuntimeError("no free loopback port in %d-%d" % (_PORT_LOW, _PORT_HIGH))


def http(port, raw, timeout=10.0):
    """Sends raw bytes, returns (status, headers dict, body bytes)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(raw)
        return read_reply(s)


def read_reply(s):
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1]) if lines and lines[0].startswith("HTTP/") else 0
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return status, headers, body


def request(port, method, path, body=b"", headers=None):
    hdrs = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    raw = f"{method} {path} HTTP/1.0\r\nContent-Length: {len(body)}\r\n{hdrs}\r\n".encode() + body
    return http(port, raw)


class Filterd:
    def __init__(self, tmp, extra_config="", controller_port=None, workers=2, controller_extra="",
                 milter_extra="", stock_rules=False):
        self.tmp = Path(tmp)
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.scan_port = free_port()
        self.controller_port = controller_port or free_port()
        self.milter_port = free_port()
        self.state = self.tmp / "state"
        self.config = self.tmp / "filterd.yaml"
        self.log_path = self.tmp / "filterd.log"
        self.base_config = (
            f"workers: {workers}\n"
            f"state_dir: {self.state}\n"
            f"scan:\n  listen: \"127.0.0.1:{self.scan_port}\"\n"
            f"controller:\n  listen: \"127.0.0.1:{self.controller_port}\"\n{controller_extra}"
            f"milter:\n  listen: \"127.0.0.1:{self.milter_port}\"\n{milter_extra}"
            + (f"rules:\n  cache_dir: {RULES_CACHE}\n" if stock_rules
               else f"rules:\n  paths: [{ROOT / 'rules' / 'default'}]\n")
        )
        self.write_config(extra_config)
        self.proc = None

    def write_config(self, extra=""):
        self.config.write_text(self.base_config + extra)

    def start(self, max_fds=None):
        """max_fds: the daemon's RLIMIT_NOFILE (inherited by its workers)."""
        self.log = open(self.log_path, "ab")
        limit = (lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (max_fds, max_fds))) if max_fds else None
        self.proc = subprocess.Popen([FILTERD, "--config", str(self.config)],
                                     stdout=self.log, stderr=subprocess.STDOUT, preexec_fn=limit)
        self.wait_ready()
        return self

    def wait_ready(self, timeout=20.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            assert self.proc.poll() is None, self.log_text()
            try:
                st, _, body = request(self.scan_port, "GET", "/ping")
                st2, _, _ = request(self.controller_port, "GET", "/ping")
                if st == 200 and st2 == 200 and body == b"pong\r\n":
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError("filterd did not answer /ping:\n" + self.log_text())

    def log_text(self):
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def children(self):
        out = subprocess.run(["ps", "--ppid", str(self.proc.pid), "-o", "pid="],
                             capture_output=True, text=True).stdout
        return [int(x) for x in out.split()]

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.log.close()


@pytest.fixture
def filterd(tmp_path):
    d = Filterd(tmp_path).start()
    yield d
    d.stop()
    assert "AddressSanitizer" not in d.log_text()


@pytest.fixture
def make_filterd(tmp_path):
    made = []

    def make(extra_config="", **kw):
        d = Filterd(tmp_path / f"f{len(made)}", extra_config, **kw)
        made.append(d)
        return d

    yield make
    for d in made:
        d.stop()


def corpus_files(split, label, n):
    d = CORPUS / split / label
    return sorted(p for p in d.iterdir() if p.is_file())[:n]


def rspamc(*args, input=None, timeout=30):
    return subprocess.run(["rspamc", *args], capture_output=True, input=input, timeout=timeout)
