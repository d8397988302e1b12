"""DNS block lists against Debian's real rbldnsd on a loopback port.

rbldnsd serves zones this file writes (ip4set with the RFC 5782 test point
127.0.0.2, an ip6trie, a dnset of domains, a SURBL-style multi list with
bitmask answers); filterd's rbl.resolver points at it. A small UDP proxy in
front of rbldnsd drops every query for one zone, to see a check time out.
"""
import json
import os
import select
import shutil
import socket
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import CORPUS, FILTERD, corpus_files, free_port, request, rspamc

pytestmark = pytest.mark.skipif(shutil.which("rbldnsd") is None, reason="rbldnsd not installed")

NZONES_MANY = 20
MANY_SCANS = 200


def free_udp_port():
    return free_port(udp=True)


def corpus_url_message():
    """A real spam message with a URL, and the registered domain of its first one."""
    for f in corpus_files("dev", "spam", 200):
        out = subprocess.run([FILTERD, "mime", str(f)], capture_output=True, timeout=30)
        if out.returncode != 0:
            continue
        urls = json.loads(out.stdout).get("urls") or []
        for u in urls:
            if "numeric_ip" not in u.get("flags", []) and u.get("tld"):
                return f, u["tld"]
    pytest.skip("no corpus message with a URL")


class Rbldnsd:
    def __init__(self, tmp, url_domain):
        self.dir = Path(tmp) / "rbldnsd"
        self.dir.mkdir()
        self.port = free_udp_port()
        (self.dir / "ip4").write_text(
            ":127.0.0.2:listed\n"
            "127.0.0.2\n"
            "192.0.2.99 :127.0.0.4:exploited host\n"
            "198.51.100.0/24 :127.0.0.10:dynamic range\n"
            "127.0.1.0/24 :127.0.0.3:concurrency range\n")
        (self.dir / "ip6").write_text(":127.0.0.2:listed v6\n2001:db8::1\n")
        (self.dir / "dom").write_text(f".{url_domain}\nbad-domain.com :127.0.1.2:\n")
        # SURBL multi: 127.0.0.X where X is a bitmask (8 = phishing, 64 = abuse)
        (self.dir / "multi").write_text(f":127.0.0.72:\n.{url_domain}\n")
        (self.dir / "dead").write_text("127.0.0.2\n")
        (self.dir / "all").write_text("127.0.0.0/8\n")  # lists its own test point
        args = ["rbldnsd", "-n", "-b", f"127.0.0.1/{self.port}", "-t", "300", "-w", str(self.dir),
                "bl.test:ip4set:ip4", "bl.test:ip6trie:ip6", "dbl.test:dnset:dom",
                "multi.test:dnset:multi", "dead.test:ip4set:dead", "all.test:ip4set:all"]
        args += [f"z{i:02d}.test:ip4set:ip4" for i in range(NZONES_MANY)]
        if os.geteuid() == 0:
            args[1:1] = ["-u", "nobody"]  # it refuses to run as root
        self.log = open(self.dir / "log", "wb")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 10
        while b"started" not in (self.dir / "log").read_bytes():
            assert self.proc.poll() is None, (self.dir / "log").read_text()
            assert time.time() < deadline, "rbldnsd did not start"
            time.sleep(0.05)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.log.close()


def qname(packet):
    """Lower-cased question name of a DNS query (evdns randomises case)."""
    labels, i = [], 12
    while i < len(packet) and packet[i] != 0:
        n = packet[i]
        labels.append(packet[i + 1:i + 1 + n].decode("latin-1").lower())
        i += 1 + n
    return ".".join(labels)


class DroppingProxy:
    """Forwards queries to rbldnsd except those under drop_zone (or all of
    them when upstream is None): a list whose server never answers."""

    def __init__(self, upstream_port, drop_zone):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.up = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.up.connect(("127.0.0.1", upstream_port))
        self.drop_zone = drop_zone
        self.dropped = 0
        self.pending = {}
        self.running = True
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        deadline = time.time() + 300  # bounded: never outlives a test run
        while self.running and time.time() < deadline:
            r, _, _ = select.select([self.sock, self.up], [], [], 0.1)
            if self.sock in r:
                data, addr = self.sock.recvfrom(4096)
                if qname(data).endswith(self.drop_zone):
                    self.dropped += 1
                else:
                    self.pending[data[:2]] = addr
                    self.up.send(data)
            if self.up in r:
                data = self.up.recv(4096)
                addr = self.pending.pop(data[:2], None)
                if addr:
                    self.sock.sendto(data, addr)

    def stop(self):
        self.running = False
        self.thread.join(timeout=5)
        self.sock.close()
        self.up.close()


@pytest.fixture(scope="module")
def url_message():
    return corpus_url_message()


@pytest.fixture
def dns(tmp_path, url_message):
    d = Rbldnsd(tmp_path, url_message[1])
    yield d
    d.stop()


def rbl_config(resolver, zones, timeout="1s", received=True, trusted=None, task_timeout="8s"):
    z = "".join(zones)
    trusted_line = f"  trusted_networks: [{', '.join(trusted)}]\n" if trusted else ""
    return (f"limits:\n  task_timeout: {task_timeout}\n  dns_timeout: {timeout}\n"
            f"rbl:\n  enabled: true\n  resolver: \"{resolver}\"\n  timeout: {timeout}\n"
            f"  received: {'true' if received else 'false'}\n{trusted_line}  zones:\n{z}")


ZONE_BL = ("    - symbol: TEST_RBL\n      zone: bl.test\n      checks: [from, received]\n"
           "      returncodes:\n        TEST_RBL_SBL: 127.0.0.2\n"
           "        TEST_RBL_XBL: \"127%.0%.0%.[4-7]\"\n        TEST_RBL_PBL: [127.0.0.10, 127.0.0.11]\n")
ZONE_DBL = ("    - symbol: TEST_DBL\n      zone: dbl.test\n      checks: [urls, emails]\n"
            "      weight: 2.5\n")
ZONE_MULTI = ("    - symbol: TEST_MULTI\n      zone: multi.test\n      checks: [urls]\n"
              "      unknown: false\n      returnbits:\n        MULTI_PH: 8\n        MULTI_ABUSE: 64\n"
              "        MULTI_MW: 16\n")
ZONE_URLIP = ("    - symbol: TEST_URL_IP\n      zone: bl.test\n      checks: [urls]\n")
ZONE_DEAD = ("    - symbol: TEST_DEAD\n      zone: dead.test\n      checks: [from]\n")


def scan(f, body, ip=None, extra=None):
    headers = dict(extra or {})
    if ip:
        headers["IP"] = ip
    st, _, out = request(f.scan_port, "POST", "/checkv2", body, headers)
    assert st == 200, out
    return json.loads(out)


def plain_message(body_text="Hello there.\r\n", received=()):
    hops = "".join(f"Received: from h{i}.example ([{ip}]) by mx{i}.example.org with ESMTP;"
                   f" Sun, 22 Nov 2026 10:0{i}:00 +0000\r\n" for i, ip in enumerate(received))
    return (hops + "From: Someone <someone@example.org>\r\nTo: you@example.net\r\n"
            "Subject: test\r\nDate: Sun, 22 Nov 2026 10:00:00 +0000\r\n"
            "Message-ID: <rbl-test@example.org>\r\n\r\n" + body_text).encode()


def test_listed_client_ip_with_rspamc(make_filterd, dns, tmp_path):
    f = make_filterd(rbl_config(f"127.0.0.1:{dns.port}", [ZONE_BL])).start()
    msg = tmp_path / "m.eml"
    msg.write_bytes(plain_message())
    r = rspamc("-h", f"127.0.0.1:{f.scan_port}", "-i", "127.0.0.2", "-j", str(msg))
    assert r.returncode == 0, r.stderr
    syms = json.loads(r.stdout)["symbols"]
    assert syms["TEST_RBL_SBL"]["options"] == ["127.0.0.2:from:127.0.0.2"]
    # code symbols get weight 1 unless symbols: says otherwise
    assert syms["TEST_RBL_SBL"]["score"] == 1.0
    assert "TEST_RBL" not in syms
    # RFC 5782 test point: 127.0.0.1 must not be listed
    r = rspamc("-h", f"127.0.0.1:{f.scan_port}", "-i", "127.0.0.1", "-j", str(msg))
    syms = json.loads(r.stdout)["symbols"]
    assert not [s for s in syms if s.startswith("TEST_RBL")], syms
    # pattern and list codes
    j = scan(f, plain_message(), ip="192.0.2.99")
    assert j["symbols"]["TEST_RBL_XBL"]["options"] == ["192.0.2.99:from:127.0.0.4"]
    j = scan(f, plain_message(), ip="198.51.100.7")
    assert j["symbols"]["TEST_RBL_PBL"]["options"] == ["198.51.100.7:from:127.0.0.10"]
    # IPv6 client: nibble query into the ip6trie
    j = scan(f, plain_message(), ip="2001:db8::1")
    assert j["symbols"]["TEST_RBL_SBL"]["options"] == ["2001:db8::1:from:127.0.0.2"]
    j = scan(f, plain_message(), ip="2001:db8::2")
    assert not [s for s in j["symbols"] if s.startswith("TEST_RBL")]
    # an authenticated sender's address is not looked up
    j = scan(f, plain_message(received=["192.0.2.99"]), ip="127.0.0.2", extra={"User": "alice"})
    assert not [s for s in j["symbols"] if s.startswith("TEST_RBL")], j["symbols"].keys()
    f.stop()
    assert "AddressSanitizer" not in f.log_text()


def test_url_domain_of_corpus_message(make_filterd, dns, url_message):
    path, domain = url_message
    f = make_filterd(rbl_config(f"127.0.0.1:{dns.port}", [ZONE_DBL, ZONE_MULTI, ZONE_URLIP])).start()
    j = scan(f, path.read_bytes(), ip="203.0.113.1")
    assert j["symbols"]["TEST_DBL"]["options"] == [f"{domain}:urls:127.0.0.2"], j["symbols"].keys()
    assert j["symbols"]["TEST_DBL"]["score"] == 2.5
    # 127.0.0.72 = 64 + 8: both bits, nothing for 16
    assert j["symbols"]["MULTI_PH"]["options"] == [f"{domain}:urls:127.0.0.72"]
    assert "MULTI_ABUSE" in j["symbols"]
    assert "MULTI_MW" not in j["symbols"] and "TEST_MULTI" not in j["symbols"]
    # an e-mail address: registered domain of its domain
    j = scan(f, plain_message("Write to sales@mail.bad-domain.com now.\r\n"))
    assert j["symbols"]["TEST_DBL"]["options"] == ["bad-domain.com:emails:127.0.1.2"]
    # a URL whose host is an address (here in hex) is looked up as that address
    j = scan(f, plain_message("Click http://0xc0000263/login now.\r\n"))
    assert j["symbols"]["TEST_URL_IP"]["options"] == ["192.0.2.99:urls:127.0.0.4"], j["symbols"].keys()
    assert "TEST_DBL" not in j["symbols"]
    # a clean link repeated many times does not push a listed one out
    padding = "".join(f"http://clean-site.com/page{i} " for i in range(200))
    j = scan(f, plain_message(padding + "\r\nand http://www.bad-domain.com/x\r\n"))
    assert j["symbols"]["TEST_DBL"]["options"] == ["bad-domain.com:urls:127.0.1.2"]
    # a clean message has none
    j = scan(f, plain_message("No links here.\r\n"))
    assert "TEST_DBL" not in j["symbols"]
    f.stop()
    assert "AddressSanitizer" not in f.log_text()


def test_received_hops(make_filterd, dns):
    msg = plain_message(received=["10.1.1.1", "192.0.2.99", "198.51.100.20"])
    f = make_filterd(rbl_config(f"127.0.0.1:{dns.port}", [ZONE_BL], trusted=["10.0.0.0/8"])).start()
    j = scan(f, msg, ip="10.1.1.1")
    assert j["symbols"]["TEST_RBL_XBL"]["options"] == ["192.0.2.99:received:127.0.0.4"]
    assert j["symbols"]["TEST_RBL_PBL"]["options"] == ["198.51.100.20:received:127.0.0.10"]
    f.stop()
    # 198.51.100.0/24 trusted: that hop is skipped
    g = make_filterd(rbl_config(f"127.0.0.1:{dns.port}", [ZONE_BL],
                                trusted=["10.0.0.0/8", "198.51.100.0/24"])).start()
    j = scan(g, msg, ip="10.1.1.1")
    assert "TEST_RBL_XBL" in j["symbols"] and "TEST_RBL_PBL" not in j["symbols"]
    g.stop()
    # rbl.received: false: only the client IP
    h = make_filterd(rbl_config(f"127.0.0.1:{dns.port}", [ZONE_BL], received=False)).start()
    j = scan(h, msg, ip="10.1.1.1")
    assert not [s for s in j["symbols"] if s.startswith("TEST_RBL")], j["symbols"].keys()
    h.stop()
    for d in (f, g, h):
        assert "AddressSanitizer" not in d.log_text()


def test_zone_that_never_answers_times_out(make_filterd, dns):
    proxy = DroppingProxy(dns.port, "dead.test")
    try:
        f = make_filterd(rbl_config(f"127.0.0.1:{proxy.port}", [ZONE_BL, ZONE_DEAD], timeout="1s")).start()
        t0 = time.monotonic()
        j = scan(f, plain_message(), ip="127.0.0.2")
        took = time.monotonic() - t0
        assert proxy.dropped >= 1
        # the answered zone still counts, the silent one is named
        assert j["symbols"]["TEST_RBL_SBL"]["options"] == ["127.0.0.2:from:127.0.0.2"]
        assert j["symbols"]["CHECK_TIMEOUT"]["options"] == ["TEST_DEAD"]
        assert "TEST_DEAD" not in j["symbols"]
        assert 0.9 <= took < 2.0, took
        f.stop()
        assert "check TEST_DEAD timed out" in f.log_text()
        assert "AddressSanitizer" not in f.log_text()
    finally:
        proxy.stop()


def test_resolver_down_costs_the_time_out(make_filterd, dns, url_message):
    # A bound UDP socket that never answers: every query is lost.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sink:
        sink.bind(("127.0.0.1", 0))
        port = sink.getsockname()[1]
        f = make_filterd(rbl_config(f"127.0.0.1:{port}", [ZONE_BL, ZONE_DBL, ZONE_MULTI],
                                    timeout="500ms")).start()
        for _ in range(3):
            t0 = time.monotonic()
            j = scan(f, url_message[0].read_bytes(), ip="127.0.0.2")
            took = time.monotonic() - t0
            assert took < 1.5, took
            assert sorted(j["symbols"]["CHECK_TIMEOUT"]["options"]) == ["TEST_DBL", "TEST_MULTI", "TEST_RBL"]
        # the task budget bounds everything even with longer zone time-outs
        f.stop()
        g = make_filterd(rbl_config(f"127.0.0.1:{port}", [ZONE_BL], timeout="5s", task_timeout="1s")).start()
        t0 = time.monotonic()
        j = scan(g, plain_message(), ip="127.0.0.2")
        assert time.monotonic() - t0 < 2.0
        assert j["symbols"]["CHECK_TIMEOUT"]["options"] == ["TEST_RBL"]
        g.stop()
        assert "limits.task_timeout reached" in g.log_text()
        for d in (f, g):
            assert "AddressSanitizer" not in d.log_text()
        # offline: the requests still in flight at exit are freed (LeakSanitizer)
        cfg = g.tmp / "offline.yaml"
        cfg.write_text(f"state_dir: {g.tmp / 'state'}\nrules:\n  enabled: false\n"
                       + rbl_config(f"127.0.0.1:{port}", [ZONE_BL, ZONE_DBL], timeout="300ms"))
        t0 = time.monotonic()
        r = subprocess.run([FILTERD, "--config", str(cfg), "scan", "-i", "127.0.0.2",
                            str(url_message[0]), str(url_message[0])], capture_output=True, timeout=60)
        assert r.returncode == 0, r.stderr[-3000:]
        assert time.monotonic() - t0 < 3.0
        lines = [json.loads(x) for x in r.stdout.splitlines()]
        assert [sorted(j["symbols"]["CHECK_TIMEOUT"]["options"]) for j in lines] == [["TEST_DBL", "TEST_RBL"]] * 2
        assert b"Sanitizer" not in r.stderr


def test_many_concurrent_scans_lose_no_answer(make_filterd, dns):
    zones = [f"    - symbol: Z{i:02d}\n      zone: z{i:02d}.test\n      checks: [from]\n"
             for i in range(NZONES_MANY)]
    f = make_filterd(rbl_config(f"127.0.0.1:{dns.port}", zones, timeout="5s", task_timeout="20s")).start()
    msg = plain_message()

    def one(i):
        ip = f"127.0.1.{i % 250 + 1}" if i < 250 else None
        return ip, scan(f, msg, ip=ip)

    with ThreadPoolExecutor(max_workers=MANY_SCANS) as ex:
        results = list(ex.map(one, range(MANY_SCANS)))
    for ip, j in results:
        for z in range(NZONES_MANY):
            sym = j["symbols"].get(f"Z{z:02d}")
            assert sym and sym["options"] == [f"{ip}:from:127.0.0.3"], (ip, z, j["symbols"].keys())
        assert "CHECK_TIMEOUT" not in j["symbols"]
    f.stop()
    assert "AddressSanitizer" not in f.log_text()


def test_zone_listing_its_test_point_is_skipped(make_filterd, dns):
    zone_all = "    - symbol: TEST_ALL\n      zone: all.test\n      checks: [from]\n"
    f = make_filterd(rbl_config(f"127.0.0.1:{dns.port}", [ZONE_BL, zone_all])).start()
    # every process with a scan engine (2 workers, the controller) probes at start
    deadline = time.time() + 10
    while f.log_text().count("all.test lists its test point 1.0.0.127.all.test") < 3:
        assert time.time() < deadline, f.log_text()
        time.sleep(0.05)
    for _ in range(4):
        j = scan(f, plain_message(), ip="127.0.0.2")
        assert "TEST_ALL" not in j["symbols"]
        assert "TEST_RBL_SBL" in j["symbols"]
    assert "bl.test lists its test point" not in f.log_text()
    f.stop()
    assert "AddressSanitizer" not in f.log_text()


def test_milter_client_ip(make_filterd, dns):
    from test_milter_raw import OPTNEG, OPTNEG_REPLY, pkt, recv_exact, send_message
    zone = ("    - symbol: TEST_RBL\n      zone: bl.test\n      checks: [from]\n"
            "      returncodes:\n        TEST_RBL_SBL: { codes: 127.0.0.2, weight: 20 }\n")
    f = make_filterd(rbl_config(f"127.0.0.1:{dns.port}", [zone])).start()

    def session(ip):
        s = socket.create_connection(("127.0.0.1", f.milter_port), timeout=10)
        s.sendall(pkt(b"O", OPTNEG))
        assert recv_exact(s, len(OPTNEG_REPLY)) == OPTNEG_REPLY
        s.sendall(pkt(b"C", b"client.example\0" + b"4" + b"\x10\x92" + ip + b"\0"))
        s.sendall(pkt(b"H", b"helo.example\0"))
        return s

    s = session(b"127.0.0.2")
    last = send_message(s, plain_message(), b"QIDRBL1")[-1]
    s.close()
    assert last[0] in (b"y", b"r"), last  # 20 points: rejected
    s = session(b"127.0.0.1")
    last = send_message(s, plain_message(), b"QIDRBL2")[-1]
    s.close()
    assert last[0] not in (b"y", b"r"), last
    f.stop()
    assert "TEST_RBL_SBL(20.00)" in f.log_text()
    assert "AddressSanitizer" not in f.log_text()


def test_offline_scan_runs_the_async_phase(dns, tmp_path):
    cfg = tmp_path / "offline.yaml"
    cfg.write_text(f"state_dir: {tmp_path / 'state'}\nrules:\n  enabled: false\nstats:\n  enabled: false\n"
                   + rbl_config(f"127.0.0.1:{dns.port}", [ZONE_BL]))
    msg = tmp_path / "m.eml"
    msg.write_bytes(plain_message(received=["192.0.2.99"]))
    r = subprocess.run([FILTERD, "--config", str(cfg), "scan", "-i", "127.0.0.2", str(msg)],
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    j = json.loads(r.stdout)
    assert j["symbols"]["TEST_RBL_SBL"]["options"] == ["127.0.0.2:from:127.0.0.2"]
    assert j["symbols"]["TEST_RBL_XBL"]["options"] == ["192.0.2.99:received:127.0.0.4"]
    assert b"AddressSanitizer" not in r.stderr and b"LeakSanitizer" not in r.stderr
