"""The milter port with hand-made packets: malformed input closes only its
own connection, the others go on; the bytes filterd answers are exact."""
import socket
import struct
import time

from conftest import corpus_files, rspamc

GTUBE = b"XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
OPTNEG = struct.pack(">III", 6, 0x1FF, 0x1FFFFF)
# v6; actions ADDHDRS|CHGHDRS|QUARANTINE; every NR_* bit, NOUNKNOWN, NODATA.
OPTNEG_REPLY = b"\0\0\0\x0dO" + struct.pack(">III", 6, 0x31, 0xFF380)


def pkt(cmd, data=b""):
    return struct.pack(">I", len(data) + 1) + cmd + data


def connect(f):
    s = socket.create_connection(("127.0.0.1", f.milter_port), timeout=10)
    s.sendall(pkt(b"O", OPTNEG))
    assert recv_exact(s, len(OPTNEG_REPLY)) == OPTNEG_REPLY
    s.sendall(pkt(b"C", b"client.example\0" + b"4" + struct.pack(">H", 4242) + b"192.0.2.5\0"))
    s.sendall(pkt(b"H", b"helo.example\0"))
    return s


def recv_exact(s, n):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        assert chunk, f"closed after {data!r}"
        data += chunk
    return data


def replies(s):
    """Packets up to and including the verdict."""
    out = []
    while True:
        (n,) = struct.unpack(">I", recv_exact(s, 4))
        body = recv_exact(s, n)
        out.append((body[:1], body[1:]))
        if body[:1] in (b"a", b"r", b"t", b"y", b"d"):
            return out


def send_message(s, raw, qid, mail_macros=b"", rcpts=(b"user@example.test",)):
    head, _, body = raw.partition(b"\r\n\r\n")
    s.sendall(pkt(b"D", b"M" + mail_macros) + pkt(b"M", b"<sender@example.org>\0"))
    for r in rcpts:
        s.sendall(pkt(b"R", b"<" + r + b">\0"))
    s.sendall(pkt(b"D", b"Ti\0" + qid + b"\0"))
    for line in head.replace(b"\r\n\t", b"\n\t").replace(b"\r\n ", b"\n ").split(b"\r\n"):
        name, _, value = line.partition(b":")
        s.sendall(pkt(b"L", name + b"\0" + value.lstrip(b" ") + b"\0"))
    s.sendall(pkt(b"N") + pkt(b"B", body) + pkt(b"E"))
    r = replies(s)
    s.sendall(pkt(b"A"))
    return r


def closed_soon(s, timeout=5.0):
    s.settimeout(timeout)
    try:
        return s.recv(100) == b""
    except ConnectionResetError:
        return True


def test_malformed_input_closes_only_that_connection(filterd):
    good = connect(filterd)
    bad_inputs = [
        b"\0\0\0\0",                               # length 0
        struct.pack(">I", 1 << 30) + b"B",         # over limits.milter_packet
        pkt(b"Z", b"junk"),                        # unknown command
        pkt(b"R", b"<early@example.org>\0"),       # RCPT before MAIL
    ]
    for bad in bad_inputs:
        s = connect(filterd)
        s.sendall(bad)
        assert closed_soon(s), bad
        s.close()
    # A packet cut short by EOF.
    s = connect(filterd)
    s.sendall(pkt(b"M", b"<a@b>\0")[:6])
    s.shutdown(socket.SHUT_WR)
    assert closed_soon(s)
    s.close()
    # The first connection never noticed.
    msg = (b"From: a@example.org\r\nTo: user@example.test\r\nSubject: g\r\n\r\n" + GTUBE + b"\r\n")
    r = send_message(good, msg, b"QIDRAW1")
    assert r[-1] == (b"y", b"554 5.7.1 Spam message rejected (GTUBE)\0")
    ham = corpus_files("dev", "ham", 1)[0].read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    r = send_message(good, ham, b"QIDRAW2")
    assert r[-1] == (b"a", b"")
    names = [body.split(b"\0")[0] for cmd, body in r if cmd == b"h"]
    assert b"X-Spam-Status" in names and b"X-Spamd-Result" in names
    good.sendall(pkt(b"Q"))
    assert closed_soon(good)
    log = filterd.log_text()
    assert "qid=QIDRAW1" in log and "qid=QIDRAW2" in log
    assert "died on signal" not in log


def test_idle_connections_do_not_block_scans(filterd):
    idle = [connect(filterd) for _ in range(20)]
    s = connect(filterd)
    t0 = time.time()
    msg = b"From: a@example.org\r\nSubject: x\r\n\r\nhello\r\n"
    assert send_message(s, msg, b"QIDIDLE")[-1] == (b"a", b"")
    assert time.time() - t0 < 5
    for c in idle + [s]:
        c.close()


def test_authenticated_sender_skips_greylisting(make_filterd):
    f = make_filterd("greylist:\n  enabled: true\n  mode: always\n").start()
    s = connect(f)
    msg = (b"From: a@example.org\r\nTo: user@example.test\r\nSubject: auth\r\n"
           b"Date: Sun, 22 Nov 2026 12:00:00 +0000\r\nMessage-ID: <auth1@example.org>\r\n"
           b"\r\nhello\r\n")
    # {auth_authen} set (SASL login): accepted, nothing recorded.
    r = send_message(s, msg, b"QIDAUTH1", b"{auth_authen}\0alice\0")
    assert r[-1] == (b"a", b"")
    # The same triplet unauthenticated: greylisted as a new record.
    r = send_message(s, msg, b"QIDAUTH2")
    assert r[-1] == (b"y", b"451 4.7.1 Try again later\0")
    r = send_message(s, msg, b"QIDAUTH3", b"{auth_authen}\0alice\0")
    assert r[-1] == (b"a", b"")
    s.close()
    log = f.log_text()
    assert "GREYLIST" not in line(log, "QIDAUTH1") and "GREYLIST" not in line(log, "QIDAUTH3")
    assert "GREYLIST(0.00)" in line(log, "QIDAUTH2")
    assert "action=soft reject" in line(log, "QIDAUTH2")


def line(log, qid):
    return next(x for x in log.splitlines() if f"qid={qid} " in x)


def header_of(r, name):
    for cmd, body in r:
        if cmd == b"h" and body.split(b"\0")[0] == name:
            return body.split(b"\0")[1].decode()
    return None


def test_multi_rcpt_each_classifies_per_recipient(make_filterd):
    """carol has trained her own Bayes store, bob has none (and the global
    store is empty): "first" with bob first misses her verdict, "each"
    classifies for both and answers the strictest."""
    f = make_filterd("stats:\n  min_learns: 3\n  learn_global: false\n",
                     milter_extra="  multi_rcpt: each\n").start()
    learned = []
    for cmd, label in (("learn_spam", "spam"), ("learn_ham", "ham")):
        for p in corpus_files("train", label, 30):
            r = rspamc("-h", f"127.0.0.1:{f.controller_port}", "-d", "carol@example.test", cmd, str(p))
            if b"success = true;" in r.stdout:
                learned.append((label, p))
            if sum(1 for x in learned if x[0] == label) == 5:
                break
    assert len(learned) == 10, learned
    spam = next(p for label, p in learned if label == "spam").read_bytes()
    spam = spam.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    both = (b"bob@example.test", b"carol@example.test")

    s = connect(f)
    r = send_message(s, spam, b"QIDEACH1", rcpts=both)
    result = header_of(r, b"X-Spamd-Result")
    assert "BAYES_SPAM" in result, result
    log = f.log_text()
    users = [x.split(" user=")[1].split()[0] for x in log.splitlines() if "qid=QIDEACH1 " in x]
    assert users == ["bob@example.test", "carol@example.test"], users
    s.close()

    f.stop()
    f.base_config = f.base_config.replace("multi_rcpt: each", "multi_rcpt: first")
    f.write_config("stats:\n  min_learns: 3\n  learn_global: false\n")
    f.start()
    s = connect(f)
    r = send_message(s, spam, b"QIDFIRST1", rcpts=both)
    assert "BAYES_SPAM" not in header_of(r, b"X-Spamd-Result")
    r = send_message(s, spam, b"QIDFIRST2", rcpts=both[::-1])
    assert "BAYES_SPAM" in header_of(r, b"X-Spamd-Result")
    s.close()
