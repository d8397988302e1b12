"""The real rspamc (Debian's rspamd 3.4 package) against filterd."""
import json
import re

from conftest import CORPUS, corpus_files, request, rspamc

GTUBE = b"XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"


def gtube_message(lead=b"X"):
    return (b"From: a@example.com\r\nTo: b@example.com\r\nSubject: test\r\n"
            b"Message-ID: <gtube1@example.com>\r\nDate: Sun, 22 Nov 2026 12:00:00 +0000\r\n\r\n"
            b"This is the GTUBE:\r\n" + lead + GTUBE[1:] + b"\r\n")


def test_symbols_on_corpus_messages(filterd):
    files = corpus_files("dev", "ham", 5) + corpus_files("dev", "spam", 5)
    for f in files:
        r = rspamc("-h", f"127.0.0.1:{filterd.scan_port}", "symbols", str(f))
        out = r.stdout.decode()
        assert r.returncode == 0, out + r.stderr.decode()
        assert f"Results for file: {f}" in out
        assert re.search(r"^Action: (no action|greylist|add header|rewrite subject|soft reject|reject)$", out, re.M)
        assert re.search(r"^Score: \d+\.\d\d / 15\.00$", out, re.M)
        # Every corpus message has Received headers: the count symbol must be there.
        assert re.search(r"^Symbol: RCVD_COUNT_[A-Z]+ \(0\.00\)\[\d+\]$", out, re.M), out


def test_gtube_is_rejected(filterd, tmp_path):
    p = tmp_path / "gtube.eml"
    p.write_bytes(gtube_message())
    r = rspamc("-h", f"127.0.0.1:{filterd.scan_port}", str(p))
    out = r.stdout.decode()
    assert r.returncode == 0
    assert "Action: reject" in out
    assert "Spam: true" in out
    assert "Score: 15.00 / 15.00" in out
    assert "Symbol: GTUBE (0.00)" in out
    assert "Message - smtp_message: Gtube pattern" in out


def test_gtube_json_is_skipped(filterd):
    st, _, body = request(filterd.scan_port, "POST", "/checkv2", gtube_message())
    assert st == 200
    j = json.loads(body)
    assert j["is_skipped"] is True and j["action"] == "reject" and j["score"] == 15.0
    assert list(j)[:4] == ["is_skipped", "score", "required_score", "action"]


def test_stat_counts_scans_of_every_worker(filterd, tmp_path):
    p = tmp_path / "gtube.eml"
    p.write_bytes(gtube_message())
    for _ in range(6):
        assert rspamc("-h", f"127.0.0.1:{filterd.scan_port}", str(p)).returncode == 0
    r = rspamc("-h", f"127.0.0.1:{filterd.controller_port}", "stat")
    out = r.stdout.decode()
    assert r.returncode == 0, out
    assert "Messages scanned: 6" in out
    assert "Messages with action reject: 6, 100.00%" in out
    assert "Statfile: BAYES_SPAM" in out


def test_rspamc_without_port_uses_controller(make_filterd, tmp_path):
    d = make_filterd(controller_port=11334).start()
    p = tmp_path / "gtube.eml"
    p.write_bytes(gtube_message())
    r = rspamc(str(p))
    assert r.returncode == 0, r.stdout + r.stderr
    assert b"Action: reject" in r.stdout
    st, _, body = request(d.controller_port, "GET", "/stat")
    assert json.loads(body)["scanned"] == 1


def test_request_headers_reach_the_task(filterd):
    msg = corpus_files("dev", "ham", 1)[0]
    r = rspamc("-h", f"127.0.0.1:{filterd.scan_port}", "-i", "192.0.2.7", "-F", "envelope@example.org",
               "-r", "r1@example.net", "-r", "r2@example.net", "-d", "owner@example.net",
               "--helo", "mx.example.org", "--header", "Queue-Id=QID77", "-j", "symbols", str(msg))
    assert r.returncode == 0, r.stderr
    j = json.loads(r.stdout)
    syms = j["symbols"]
    assert syms["RCPT_COUNT_TWO"]["options"] == ["2"]
    assert "envelope@example.org" in syms["FROM_NEQ_ENVFROM"]["options"]
    assert j["milter"]["add_headers"]["X-Rspamd-Queue-Id"]["value"] == "QID77"
    log = filterd.log_text()
    line = [l for l in log.splitlines() if "qid=QID77" in l]
    assert line, log
    assert "ip=192.0.2.7" in line[0] and "helo=mx.example.org" in line[0]
    assert "user=owner@example.net" in line[0] and "from=envelope@example.org" in line[0]


def test_settings_header_changes_thresholds(filterd, tmp_path):
    msg = corpus_files("dev", "ham", 1)[0]
    r = rspamc("-h", f"127.0.0.1:{filterd.scan_port}", "--header",
               'Settings={"actions":{"reject":0.5,"add header":0.2,"greylist":0.1}}', "-j", str(msg))
    j = json.loads(r.stdout)
    assert j["required_score"] == 0.5
    assert (j["action"] == "reject") == (j["score"] >= 0.5)


def test_legacy_v1_reply(filterd):
    st, _, body = request(filterd.scan_port, "POST", "/symbols", gtube_message())
    j = json.loads(body)
    assert st == 200 and j["default"]["is_spam"] is True and j["default"]["GTUBE"]["score"] == 0.0


def test_offline_scan_prints_one_line_per_file(filterd):
    import subprocess
    from conftest import FILTERD
    d = CORPUS / "dev" / "spam"
    out = subprocess.run([FILTERD, "--config", str(filterd.config), "scan", str(d)],
                         capture_output=True, check=True).stdout.decode().splitlines()
    assert len(out) == len([p for p in d.iterdir() if not p.name.startswith(".")])
    first = json.loads(out[0])
    assert first["filename"].startswith(str(d)) and "symbols" in first and "action" in first
