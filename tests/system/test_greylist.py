"""Greylisting (protocols.md 6.1, 6.2) through /checkv2 and the real rspamc.

The clock is moved with greylist.clock_offset and a SIGHUP (or a restart),
never by sleeping. rspamc always sends `User-Agent: rspamc`, which exempts
the request from greylisting, so the greylisted requests go over plain HTTP
with an MTA-like User-Agent.
"""
import json
import signal
import time

from conftest import ROOT, http, rspamc

IP = "198.51.100.23"
SENDER = "alice@example.org"
RCPT = "bob@example.com"
MESSAGE = (b"From: Alice <alice@example.org>\r\nTo: bob@example.com\r\nSubject: lunch\r\n"
           b"Date: Sun, 22 Nov 2026 12:00:00 +0000\r\nMessage-ID: <gl1@example.org>\r\n"
           b"\r\nSee you at noon.\r\n")
MARKED = MESSAGE.replace(b"Subject: lunch", b"Subject: lunch\r\nX-Greylist-Me: yes")
MARKER_CF = ("header   TEST_GREYLIST_ME  X-Greylist-Me =~ /yes/\n"
             "describe TEST_GREYLIST_ME  test marker: lands in the greylist band\n"
             "score    TEST_GREYLIST_ME  5.0\n")


def config(mode="always", offset=0, extra=""):
    return ("greylist:\n  enabled: true\n"
            f"  mode: {mode}\n  auto_whitelist: 2\n  clock_offset: {offset}\n{extra}")


def scan(f, body=MESSAGE, ip=IP, sender=SENDER, rcpts=(RCPT,), **hdrs):
    headers = {"IP": ip, "From": sender, "User-Agent": "Postfix 3.7.11", **hdrs}
    raw_rcpts = "".join(f"Rcpt: {r}\r\n" for r in rcpts)
    h = "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + raw_rcpts
    raw = (f"POST /checkv2 HTTP/1.0\r\nContent-Length: {len(body)}\r\n{h}\r\n").encode() + body
    st, _, out = http(f.scan_port, raw)
    assert st == 200, out
    return json.loads(out)


def greylist_opts(j):
    return j["symbols"].get("GREYLIST", {}).get("options")


def reload(f, text):
    """New config by SIGHUP; returns once only new workers serve."""
    old = set(f.children())
    f.write_config(text)
    f.proc.send_signal(signal.SIGHUP)
    deadline = time.time() + 30
    while time.time() < deadline:
        now = set(f.children())
        if not (old & now) and len(now) >= 2:
            f.wait_ready()
            return
        time.sleep(0.05)
    raise AssertionError("reload did not replace the workers:\n" + f.log_text()[-3000:])


def test_first_attempt_early_retry_then_pass(make_filterd):
    f = make_filterd(config()).start()
    j = scan(f)
    assert j["action"] == "soft reject", j
    assert j["messages"]["smtp_message"] == "Try again later"
    assert greylist_opts(j) == ["greylisted", "new record", "retry in 300 s"]
    assert j["symbols"]["GREYLIST"]["score"] == 0.0
    j = scan(f)
    assert j["action"] == "soft reject"
    assert greylist_opts(j)[:2] == ["greylisted", "too early"]
    # Five minutes later (clock moved, not slept): the retry passes.
    reload(f, config(offset=301))
    j = scan(f)
    assert j["action"] == "no action", j
    assert "smtp_message" not in j["messages"]
    opts = greylist_opts(j)
    assert opts[0] == "pass" and opts[1].startswith("delayed 30"), opts
    # Another recipient of the same message is a new triplet: the message
    # waits until every triplet has passed, and all of them are recorded.
    j = scan(f, rcpts=(RCPT, "carol@example.com"))
    assert j["action"] == "soft reject" and greylist_opts(j)[1] == "new record"
    reload(f, config(offset=602))
    assert scan(f, rcpts=(RCPT, "carol@example.com"))["action"] == "no action"


def test_state_survives_restart(make_filterd):
    f = make_filterd(config()).start()
    assert scan(f)["action"] == "soft reject"
    f.stop()
    f.start()
    j = scan(f)
    assert greylist_opts(j)[:2] == ["greylisted", "too early"], j
    f.stop()
    f.write_config(config(offset=400))
    f.start()
    j = scan(f)
    assert j["action"] == "no action" and greylist_opts(j)[0] == "pass", j


def test_auto_whitelist_after_passes(make_filterd):
    f = make_filterd(config()).start()
    assert scan(f)["action"] == "soft reject"
    reload(f, config(offset=301))
    assert greylist_opts(scan(f))[0] == "pass"            # client pass 1
    # A new sender from this client is still greylisted...
    assert scan(f, sender="dave@example.net")["action"] == "soft reject"
    # ...until the second counted pass (postgrey counts one per hour).
    reload(f, config(offset=301 + 3600))
    assert greylist_opts(scan(f))[0] == "pass"            # client pass 2
    j = scan(f, sender="erin@example.net", ip="198.51.100.200")  # same /24
    assert j["action"] == "no action" and greylist_opts(j) == ["whitelisted"], j
    # Another /24 is another client.
    assert scan(f, sender="erin@example.net", ip="198.51.101.1")["action"] == "soft reject"


def test_authenticated_and_rspamc_never_greylisted(make_filterd, tmp_path):
    f = make_filterd(config()).start()
    j = scan(f, User="alice")
    assert j["action"] == "no action" and "GREYLIST" not in j["symbols"], j
    j = scan(f, **{"User-Agent": "rspamc"})
    assert j["action"] == "no action" and "GREYLIST" not in j["symbols"], j
    msg = tmp_path / "m.eml"
    msg.write_bytes(MESSAGE)
    r = rspamc("-h", f"127.0.0.1:{f.scan_port}", "-i", IP, "-F", SENDER, "-r", RCPT, str(msg))
    out = r.stdout.decode()
    assert r.returncode == 0, out + r.stderr.decode()
    assert "Action: no action" in out and "GREYLIST" not in out, out
    # rspamc with a User (-u): exempt too.
    r = rspamc("-h", f"127.0.0.1:{f.scan_port}", "-i", IP, "-F", SENDER, "-r", RCPT,
               "-u", "alice", str(msg))
    assert "Action: no action" in r.stdout.decode()
    # None of them wrote a record: the first MTA attempt is new.
    assert greylist_opts(scan(f))[1] == "new record"


def test_rspamc_with_an_mta_user_agent_is_greylisted(make_filterd, tmp_path):
    f = make_filterd(config()).start()
    msg = tmp_path / "m.eml"
    msg.write_bytes(MESSAGE)
    r = rspamc("-h", f"127.0.0.1:{f.scan_port}", "-i", IP, "-F", SENDER, "-r", RCPT,
               "-U", "Postfix 3.7.11", str(msg))
    out = r.stdout.decode()
    assert r.returncode == 0, out + r.stderr.decode()
    assert "Action: soft reject" in out, out
    assert "Message - smtp_message: Try again later" in out, out
    assert "Symbol: GREYLIST (0.00)[greylisted, new record, retry in 300 s]" in out, out


def test_score_mode_only_in_the_band(make_filterd, tmp_path):
    cf = tmp_path / "local.cf"
    cf.write_text(MARKER_CF)
    f = make_filterd()
    paths = f"rules:\n  paths: [{ROOT / 'rules' / 'default'}]\n"
    f.base_config = f.base_config.replace(paths, paths + f"  local: [{cf}]\n")
    f.write_config(config(mode="score"))
    f.start()
    j = scan(f)
    assert j["action"] == "no action" and "GREYLIST" not in j["symbols"], j
    j = scan(f, body=MARKED)
    assert "TEST_GREYLIST_ME" in j["symbols"], j
    assert j["action"] == "soft reject", j
    assert j["score"] >= 4.0
    assert greylist_opts(j)[:2] == ["greylisted", "new record"]
    reload(f, config(mode="score", offset=301))
    j = scan(f, body=MARKED)
    assert j["action"] in ("greylist", "add header") and greylist_opts(j)[0] == "pass", j
