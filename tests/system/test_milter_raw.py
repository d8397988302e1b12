"""The milter port with hand-made packets: malformed input closes only its
own connection, the others go on; the bytes filterd answers are exact."""
import socket
import struct
import time

from conftest import corpus_files

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


def send_message(s, raw, qid, mail_macros=b""):
    head, _, body = raw.partition(b"\r\n\r\n")
    s.sendall(pkt(b"D", b"M" + mail_macros) + pkt(b"M", b"<sender@example.org>\0"))
    s.sendall(pkt(b"R", b"<user@example.test>\0") + pkt(b"D", b"Ti\0" + qid + b"\0"))
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
