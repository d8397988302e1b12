"""filterd behind a real Postfix (Debian's 3.7) over the milter protocol.

The test starts a private Postfix instance as root: its own config, queue
and data directories under a scratch directory, smtpd on a free loopback
port, virtual delivery into a Maildir there, smtpd_milters pointing at
filterd's milter port, milter_default_action = tempfail, SASL AUTH PLAIN
against a fake Dovecot auth server in this process. Messages go in with
swaks (one per SMTP session) or smtplib (several per session); what Postfix
delivered is read back from the Maildir.
"""
import base64
import email
import email.policy
import json
import os
import re
import shutil
import smtplib
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

from conftest import CORPUS, ROOT, Filterd, corpus_files, free_port, request

GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
SENDER = "sender@example.org"
RCPT = "user@example.test"
HELO = "client.example.org"

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("postfix") or not shutil.which("swaks"),
    reason="needs root, postfix and swaks (scripts/install-deps --test)")

MASTER_CF = """\
127.0.0.1:{port} inet n - n - - smtpd
pickup    unix  n - n 60   1 pickup
cleanup   unix  n - n -    0 cleanup
qmgr      unix  n - n 300  1 qmgr
rewrite   unix  - - n -    - trivial-rewrite
bounce    unix  - - n -    0 bounce
defer     unix  - - n -    0 bounce
trace     unix  - - n -    0 bounce
verify    unix  - - n -    1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n -    - proxymap
showq     unix  n - n -    - showq
error     unix  - - n -    - error
retry     unix  - - n -    - error
discard   unix  - - n -    - discard
local     unix  - n n -    - local
virtual   unix  - n n -    - virtual
anvil     unix  - - n -    1 anvil
scache    unix  - - n -    1 scache
postlog   unix-dgram n - n - 1 postlogd
"""


class Postfix:
    """A throw-away Postfix (protocols.md 4.9) delivering to a Maildir."""

    def __init__(self, milter_port, sasl_port=None):
        # Not under pytest's tmp_path: that is 0700 root, and Postfix's
        # daemons (user postfix, delivery as nobody) must reach their dirs.
        self.root = Path(tempfile.mkdtemp(prefix="filterd-postfix-", dir="/tmp"))
        self.root.chmod(0o755)
        self.conf = self.root / "conf"
        self.maildir = self.root / "mail" / "box"
        self.maillog = self.root / "maillog"
        self.port = free_port()
        for d in ("conf", "spool", "data", "mail"):
            (self.root / d).mkdir()
        shutil.chown(self.root / "data", "postfix")
        shutil.chown(self.root / "mail", "nobody", "nogroup")
        r = self.root
        (self.conf / "main.cf").write_text(f"""\
compatibility_level = 3.6
queue_directory = {r}/spool
data_directory = {r}/data
maillog_file = {self.maillog}
maillog_file_prefixes = /var, /dev/stdout, {r}
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mx.example.test
mydestination =
mynetworks = 127.0.0.0/8
virtual_mailbox_domains = example.test
virtual_mailbox_base = {r}/mail
virtual_mailbox_maps = static:box/
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
alias_maps =
alias_database =
smtputf8_enable = no
biff = no
smtpd_milters = inet:127.0.0.1:{milter_port}
milter_default_action = tempfail
milter_protocol = 6
""" + (f"""smtpd_sasl_auth_enable = yes
smtpd_sasl_type = dovecot
smtpd_sasl_path = inet:127.0.0.1:{sasl_port}
""" if sasl_port else ""))
        (self.conf / "master.cf").write_text(MASTER_CF.format(port=self.port))

    def postfix(self, *args):
        # postfix(1) prints fatal errors only to a tty (protocols.md 4.9).
        cmd = " ".join(["postfix", "-c", str(self.conf), *args])
        return subprocess.run(["script", "-qc", cmd, "/dev/null"], capture_output=True,
                              text=True, timeout=60)

    def start(self):
        r = self.postfix("start")
        assert r.returncode == 0, r.stdout + r.stderr + self.log()
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
                    if s.recv(256).startswith(b"220"):
                        return self
            except OSError:
                time.sleep(0.1)
        raise AssertionError("postfix smtpd did not answer:\n" + self.log())

    def master_pid(self):
        try:
            return int((self.root / "spool" / "pid" / "master.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def stop(self):
        pid = self.master_pid()
        self.postfix("stop")
        deadline = time.time() + 20
        while pid and alive(pid) and time.time() < deadline:
            time.sleep(0.1)
        if pid and alive(pid):
            os.kill(pid, 9)
        assert not (pid and alive(pid)), "postfix master outlived the test"
        shutil.rmtree(self.root, ignore_errors=True)

    def log(self):
        return self.maillog.read_text(errors="replace") if self.maillog.exists() else ""

    def delivered(self):
        new = self.maildir / "new"
        return sorted(new.iterdir()) if new.exists() else []


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class FakeDovecotAuth:
    """Just enough of Dovecot's auth protocol (version 1.2) for Postfix's
    smtpd_sasl_type = dovecot: PLAIN, one fixed password."""

    PASSWORD = "secret"

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.session, args=(c,), daemon=True).start()

    def session(self, c):
        with c, c.makefile("rwb", buffering=0) as io:
            io.write(b"VERSION\t1\t2\nMECH\tPLAIN\tplaintext\nSPID\t1\nCUID\t1\n"
                     b"COOKIE\t" + b"0" * 32 + b"\nDONE\n")
            for line in io:
                f = line.rstrip(b"\n").split(b"\t")
                if f[0] == b"AUTH":
                    resp = [x[5:] for x in f if x.startswith(b"resp=")]
                    io.write(self.answer(f[1], resp[0]) if resp else b"CONT\t" + f[1] + b"\t\n")
                elif f[0] == b"CONT":
                    io.write(self.answer(f[1], f[2] if len(f) > 2 else b""))

    def answer(self, rid, b64):
        try:
            _, user, pw = base64.b64decode(b64).split(b"\0")
        except ValueError:
            return b"FAIL\t" + rid + b"\n"
        if pw.decode() != self.PASSWORD:
            return b"FAIL\t" + rid + b"\tuser=" + user + b"\n"
        return b"OK\t" + rid + b"\tuser=" + user + b"\n"

    def close(self):
        self.sock.close()


@pytest.fixture(scope="module")
def mta(tmp_path_factory):
    f = Filterd(tmp_path_factory.mktemp("filterd")).start()
    auth = FakeDovecotAuth()
    p = Postfix(f.milter_port, auth.port).start()
    yield f, p
    p.stop()
    f.stop()
    auth.close()
    assert "AddressSanitizer" not in f.log_text()
    assert "runtime error" not in f.log_text()


def swaks(port, data, *extra):
    return subprocess.run(["swaks", "--server", "127.0.0.1", "--port", str(port),
                           "--helo", HELO, "--from", SENDER, "--to", RCPT, "--data", str(data),
                           "--timeout", "60", *extra],
                          capture_output=True, text=True, timeout=120)


def wait_delivered(p, before, n=1, timeout=20.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        got = [x for x in p.delivered() if x not in before]
        if len(got) >= n:
            return got
        time.sleep(0.05)
    raise AssertionError(f"{n} message(s) not delivered:\n" + p.log()[-3000:])


def parse(path):
    return email.message_from_bytes(path.read_bytes(), policy=email.policy.compat32)


def spam_score(value):
    m = re.match(r"(Yes|No), score=(-?\d+\.\d\d)$", value.strip())
    assert m, value
    return float(m.group(2))


def checkv2(f, data):
    st, _, body = request(f.scan_port, "POST", "/checkv2", data, {
        "IP": "127.0.0.1", "Helo": HELO, "Hostname": "localhost", "From": SENDER,
        "Rcpt": RCPT, "Deliver-To": RCPT, "Flags": "milter"})
    assert st == 200, body
    return json.loads(body)


def crlf(data):
    return re.sub(rb"\r?\n", b"\r\n", data)


def test_ham_delivered_with_headers_matching_checkv2(mta):
    f, p = mta
    ham = corpus_files("dev", "ham", 1)[0]
    before = p.delivered()
    r = swaks(p.port, ham)
    assert r.returncode == 0, r.stdout + r.stderr
    assert re.search(r"<-  250 2\.0\.0 Ok: queued as [0-9A-F]+", r.stdout), r.stdout
    msg = parse(wait_delivered(p, before)[0])
    statuses = msg.get_all("X-Spam-Status")
    assert statuses and len(statuses) == 1, msg.keys()
    # The same message and envelope over HTTP scores the same.
    j = checkv2(f, crlf(ham.read_bytes()))
    spam = j["action"] in ("reject", "soft reject", "rewrite subject", "add header")
    assert msg["X-Spamd-Result"].startswith(f"default: {spam} [")
    assert msg["X-Rspamd-Action"] == j["action"]
    assert abs(spam_score(statuses[0]) - j["score"]) < 0.006, (statuses[0], j["score"], j["symbols"])
    assert j["milter"]["add_headers"]["X-Spam-Status"]["value"] == statuses[0].strip()


def test_gtube_rejected_554_and_not_delivered(mta, tmp_path):
    f, p = mta
    g = tmp_path / "gtube.eml"
    g.write_text("From: a@example.org\r\nTo: user@example.test\r\nSubject: gtube\r\n\r\n"
                 f"This is the GTUBE:\r\n{GTUBE}\r\n")
    before = p.delivered()
    r = swaks(p.port, g)
    assert "<** 554 5.7.1 Spam message rejected (GTUBE)" in r.stdout, r.stdout
    assert r.returncode != 0
    time.sleep(0.5)
    assert [x for x in p.delivered() if x not in before] == []
    assert "milter-reject: END-OF-MESSAGE" in p.log()


def test_forged_spam_headers_replaced(mta, tmp_path):
    f, p = mta
    m = tmp_path / "forged.eml"
    m.write_text("From: a@example.org\r\nTo: user@example.test\r\nSubject: forged\r\n"
                 "Date: Sun, 22 Nov 2026 12:00:00 +0000\r\nMessage-ID: <forged1@example.org>\r\n"
                 "X-Spam-Status: No, score=-99.00\r\nX-Spam: No\r\nX-Spamd-Result: forged\r\n"
                 "X-Spam-Status: No, score=-98.00\r\n\r\nhello\r\n")
    before = p.delivered()
    r = swaks(p.port, m)
    assert r.returncode == 0, r.stdout
    msg = parse(wait_delivered(p, before)[0])
    statuses = msg.get_all("X-Spam-Status")
    assert len(statuses) == 1 and "-99" not in statuses[0] and "-98" not in statuses[0], statuses
    assert msg.get_all("X-Spam") is None
    results = msg.get_all("X-Spamd-Result")
    assert len(results) == 1 and results[0].startswith("default: "), results


def smtp_batch(port, bodies):
    """Sends several messages over one SMTP connection; returns queue ids."""
    qids = []
    with smtplib.SMTP("127.0.0.1", port, local_hostname=HELO, timeout=60) as s:
        s.ehlo(HELO)
        for body in bodies:
            s.mail(SENDER)
            s.rcpt(RCPT)
            code, resp = s.data(body)
            assert code == 250, (code, resp)
            qids.append(re.search(rb"queued as ([0-9A-F]+)", resp).group(1).decode())
            s.rset()
    return qids


def test_several_messages_on_one_connection(mta):
    f, p = mta
    files = corpus_files("dev", "ham", 4)[1:4]
    before = p.delivered()
    qids = smtp_batch(p.port, [crlf(x.read_bytes()) for x in files])
    assert len(set(qids)) == 3
    wait_delivered(p, before, 3)
    log = f.log_text()
    for q in qids:
        assert len(re.findall(rf"scan id={q} qid={q} ", log)) == 1, (q, log[-2000:])
    # All three came through one smtpd session, so one milter connection.
    pids = {re.search(rf"smtpd\[(\d+)\]: {q}: client=", p.log()).group(1) for q in qids}
    assert len(pids) == 1, pids


def test_200_messages_over_10_sessions_all_accounted_for(mta):
    f, p = mta
    n_threads, per_thread = 10, 20
    hams = [crlf(x.read_bytes()) for x in corpus_files("dev", "ham", 12)]
    gtube = (f"From: a@example.org\r\nTo: {RCPT}\r\nSubject: g\r\n\r\n{GTUBE}\r\n").encode()
    outcome = {"delivered": 0, "rejected": 0, "errors": []}
    lock = threading.Lock()

    def worker(k):
        try:
            with smtplib.SMTP("127.0.0.1", p.port, local_hostname=HELO, timeout=60) as s:
                for i in range(per_thread):
                    body = gtube if (k + i) % 3 == 0 else hams[(k * per_thread + i) % len(hams)]
                    s.mail(SENDER)
                    s.rcpt(RCPT)
                    code, resp = s.data(body)
                    with lock:
                        if code == 250:
                            outcome["delivered"] += 1
                        elif code == 554 and b"5.7.1" in resp:
                            outcome["rejected"] += 1
                        else:
                            outcome["errors"].append((code, resp))
                    s.rset()
        except Exception as e:  # noqa: BLE001 - reported below
            with lock:
                outcome["errors"].append(repr(e))

    before = p.delivered()
    t0 = time.time()
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
    elapsed = time.time() - t0
    total = n_threads * per_thread
    want_rejected = sum(1 for k in range(n_threads) for i in range(per_thread) if (k + i) % 3 == 0)
    assert outcome["errors"] == [], outcome["errors"][:5]
    assert outcome["rejected"] == want_rejected
    assert outcome["delivered"] == total - want_rejected
    got = wait_delivered(p, before, outcome["delivered"], timeout=60)
    assert len(got) == outcome["delivered"]  # none lost, none duplicated
    print(f"milter through Postfix: {total} messages in {elapsed:.2f}s "
          f"({total / elapsed:.1f} msg/s, {n_threads} sessions)")


def test_oversize_accepted_unscanned(mta, tmp_path):
    f, p = mta
    f.stop()
    f.write_config("limits:\n  max_message: 4k\n")
    f.start()
    try:
        big = tmp_path / "big.eml"
        big.write_text("From: a@example.org\r\nTo: user@example.test\r\nSubject: big\r\n\r\n"
                       + ("x" * 70 + "\r\n") * 200)
        before = p.delivered()
        r = swaks(p.port, big)
        assert r.returncode == 0, r.stdout
        msg = parse(wait_delivered(p, before)[0])
        assert msg.get_all("X-Spam-Status") is None
        assert "over limits.max_message" in f.log_text()
    finally:
        f.stop()
        f.write_config()
        f.start()


def test_filterd_down_tempfails_and_keeps_mail(mta, tmp_path):
    f, p = mta
    f.stop()
    try:
        ham = corpus_files("dev", "ham", 1)[0]
        before = p.delivered()
        r = swaks(p.port, ham)
        assert re.search(r"<\*\* +451 4\.7\.1 ", r.stdout), r.stdout
        assert r.returncode != 0
        time.sleep(0.5)
        assert [x for x in p.delivered() if x not in before] == []
        # Not queued either: the client keeps it and retries.
        q = subprocess.run(["postqueue", "-c", str(p.conf), "-p"], capture_output=True, text=True)
        assert "Mail queue is empty" in q.stdout, q.stdout
    finally:
        f.start()
    # Back up: the same message goes through.
    before = p.delivered()
    assert swaks(p.port, corpus_files("dev", "ham", 1)[0]).returncode == 0
    wait_delivered(p, before)


GREYLIST_CF = ("header   TEST_GREYLIST_ME  X-Greylist-Me =~ /yes/\n"
               "describe TEST_GREYLIST_ME  test marker: lands in the greylist band\n"
               "score    TEST_GREYLIST_ME  4.5\n")


def restart_with(f, base, extra, fresh_greylist=False):
    f.stop()
    if fresh_greylist:  # the module's earlier tests may know the triplet
        for x in f.state.glob("greylist.sqlite*"):
            x.unlink()
    f.base_config = base
    f.write_config(extra)
    f.start()


def test_greylist_band_gets_451_then_retry_delivered(mta, tmp_path):
    f, p = mta
    cf = f.tmp / "greylist-local.cf"
    cf.write_text(GREYLIST_CF)
    saved = f.base_config
    paths = f"rules:\n  paths: [{ROOT / 'rules' / 'default'}]\n"
    base = saved.replace(paths, paths + f"  local: [{cf}]\n")
    greylist = "greylist:\n  enabled: true\n  mode: score\n  clock_offset: {}\n"
    marked = tmp_path / "marked.eml"
    marked.write_text("From: a@example.org\r\nTo: user@example.test\r\nSubject: band\r\n"
                      "Date: Sun, 22 Nov 2026 12:00:00 +0000\r\nMessage-ID: <band1@example.org>\r\n"
                      "X-Greylist-Me: yes\r\n\r\nhello\r\n")
    try:
        # Without greylisting the band is only a hint: accepted (protocols.md 6.2).
        restart_with(f, base, "")
        before = p.delivered()
        r = swaks(p.port, marked)
        assert r.returncode == 0, r.stdout
        msg = parse(wait_delivered(p, before)[0])
        assert msg["X-Rspamd-Action"] == "greylist", msg["X-Spamd-Result"]
        # With greylisting: the first attempt is refused with 451.
        restart_with(f, base, greylist.format(0), True)
        before = p.delivered()
        r = swaks(p.port, marked)
        assert "<** 451 4.7.1 Try again later" in r.stdout, r.stdout
        assert r.returncode != 0
        assert "milter-reject: END-OF-MESSAGE" in p.log()
        # An early retry too.
        r = swaks(p.port, marked)
        assert "<** 451 4.7.1 Try again later" in r.stdout, r.stdout
        # Below the band: not greylisted at all.
        ham = corpus_files("dev", "ham", 1)[0]
        r = swaks(p.port, ham)
        assert r.returncode == 0, r.stdout
        time.sleep(0.5)
        assert len([x for x in p.delivered() if x not in before]) == 1
        # Five minutes later (clock moved; the restart also shows the state
        # is kept): the retry is delivered.
        restart_with(f, base, greylist.format(301))
        before = p.delivered()
        r = swaks(p.port, marked)
        assert r.returncode == 0, r.stdout
        msg = parse(wait_delivered(p, before)[0])
        assert re.search(r"GREYLIST\(0\.00\)\[pass,delayed 30\d s\]", msg["X-Spamd-Result"]), \
            msg["X-Spamd-Result"]
    finally:
        restart_with(f, saved, "")


@pytest.mark.skipif(not os.environ.get("MILTER_BENCH"),
                    reason="throughput figure only: MILTER_BENCH=1 (default rules) or "
                           "MILTER_BENCH=stock (stock SpamAssassin rules)")
def test_bench_200_messages_over_10_parallel_swaks(tmp_path):
    """One SMTP session (and milter connection) per message, as from the
    Internet; prints messages/s through Postfix + filterd."""
    f = Filterd(tmp_path / "f", stock_rules=os.environ["MILTER_BENCH"] == "stock").start()
    p = Postfix(f.milter_port).start()
    try:
        files = corpus_files("dev", "ham", 40) + corpus_files("dev", "spam", 10)
        codes = []
        lock = threading.Lock()

        def worker(k):
            for i in range(20):
                r = subprocess.run(["swaks", "--server", "127.0.0.1", "--port", str(p.port),
                                    "--helo", HELO, "--from", SENDER, "--to", RCPT,
                                    "--data", str(files[(k * 20 + i) % len(files)]),
                                    "--timeout", "60"], capture_output=True, timeout=120)
                out = r.stdout.decode(errors="replace")
                m = re.search(r"<-  250 2\.0\.0 Ok: queued|<\*\* +(\d{3}) ", out)
                with lock:
                    codes.append("none" if m is None else m.group(1) or "250")

        before = p.delivered()
        t0 = time.time()
        threads = [threading.Thread(target=worker, args=(k,)) for k in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(600)
        elapsed = time.time() - t0
        ok = codes.count("250")
        assert len(codes) == 200 and ok + codes.count("554") == 200, codes
        assert len(wait_delivered(p, before, ok, timeout=60)) == ok
        print(f"\nmilter via Postfix, 200 messages over 10 parallel swaks "
              f"({'stock' if os.environ['MILTER_BENCH'] == 'stock' else 'default'} rules, "
              f"{ok} delivered, {200 - ok} rejected): {elapsed:.2f} s, {200 / elapsed:.1f} msg/s")
    finally:
        p.stop()
        f.stop()


def test_authenticated_sender_not_greylisted(mta, tmp_path):
    """Postfix passes the SASL login as {auth_authen}: no greylisting, no
    result headers; the same message unauthenticated gets 451."""
    f, p = mta
    saved = f.base_config
    m = tmp_path / "auth.eml"
    m.write_text("From: a@example.org\r\nTo: user@example.test\r\nSubject: auth\r\n"
                 "Date: Sun, 22 Nov 2026 12:00:00 +0000\r\nMessage-ID: <auth1@example.org>\r\n"
                 "\r\nhello\r\n")
    try:
        restart_with(f, saved, "greylist:\n  enabled: true\n  mode: always\n", True)
        before = p.delivered()
        r = swaks(p.port, m, "--auth", "PLAIN", "--auth-user", "alice",
                  "--auth-password", FakeDovecotAuth.PASSWORD)
        assert "<~  235 2.7.0 Authentication successful" in r.stdout \
            or "<-  235 2.7.0 Authentication successful" in r.stdout, r.stdout
        assert r.returncode == 0, r.stdout
        msg = parse(wait_delivered(p, before)[0])
        assert msg.get_all("X-Spam-Status") is None, msg.keys()
        assert "sasl_username=alice" in p.log()
        r = swaks(p.port, m)
        assert "<** 451 4.7.1 Try again later" in r.stdout, r.stdout
    finally:
        restart_with(f, saved, "")
