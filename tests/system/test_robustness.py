"""Bad input, limits, time-outs and process supervision: each case gets its
error or time-out, and a normal request right after still succeeds."""
import json
import os
import signal
import socket
import subprocess
import time

from conftest import FILTERD, ROOT, http, read_reply, request

MSG = (b"From: Alice <a@example.com>\r\nTo: b@example.com\r\nSubject: hello\r\n"
       b"Message-ID: <m1@example.com>\r\nDate: Sun, 22 Nov 2026 12:00:00 +0000\r\n\r\nHello there.\r\n")


def assert_normal_request_works(d):
    st, hdrs, body = request(d.scan_port, "POST", "/checkv2", MSG)
    assert st == 200, body
    j = json.loads(body)
    assert j["message-id"] == "m1@example.com"
    assert hdrs["connection"] == "close" and int(hdrs["content-length"]) == len(body)


def test_ping(filterd):
    st, hdrs, body = request(filterd.scan_port, "GET", "/ping")
    assert st == 200 and body == b"pong\r\n" and hdrs["content-type"] == "text/plain"


def test_empty_body_is_a_normal_empty_result(filterd):
    st, _, body = request(filterd.scan_port, "POST", "/checkv2", b"")
    j = json.loads(body)
    assert st == 200 and j["score"] == 0.0 and j["action"] == "no action" and j["symbols"] == {}
    assert "message-id" not in j
    assert_normal_request_works(filterd)


def test_unknown_path_is_rspamd_error(filterd):
    st, _, body = request(filterd.scan_port, "GET", "/nosuch")
    assert st == 500
    assert json.loads(body) == {"error": "invalid command", "error_domain": "protocol-error"}


def test_body_over_limit_is_413_before_reading_it(make_filterd):
    d = make_filterd("limits:\n  max_message: 64k\n").start()
    with socket.create_connection(("127.0.0.1", d.scan_port), timeout=10) as s:
        # Announce 10 MB, send only the head: the answer must come without the body.
        s.sendall(b"POST /checkv2 HTTP/1.0\r\nContent-Length: 10000000\r\n\r\n")
        st, _, body = read_reply(s)
    assert st == 413 and "error" in json.loads(body)
    assert_normal_request_works(d)


def test_garbage_request_line_is_400(filterd):
    st, _, body = http(filterd.scan_port, b"\x01\x02garbage\r\n\r\n")
    assert st == 400 and "error" in json.loads(body)
    st, _, _ = http(filterd.scan_port, b"GET /ping HTTP/9.9\r\n\r\n")
    assert st == 505
    st, _, _ = http(filterd.scan_port, b"POST /checkv2 HTTP/1.0\r\nContent-Length: abc\r\n\r\n")
    assert st == 400
    assert_normal_request_works(filterd)


def test_truncated_body_is_answered(filterd):
    with socket.create_connection(("127.0.0.1", filterd.scan_port), timeout=10) as s:
        s.sendall(b"POST /checkv2 HTTP/1.0\r\nContent-Length: 1000\r\n\r\n" + MSG)
        s.shutdown(socket.SHUT_WR)
        st, _, body = read_reply(s)
    assert st == 400 and json.loads(body)["error"] == "Truncated request"
    assert_normal_request_works(filterd)


def test_chunked_request_body(filterd):
    body = MSG
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    st, _, reply = http(filterd.scan_port, b"POST /checkv2 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked)
    assert st == 200 and json.loads(reply)["message-id"] == "m1@example.com"


def test_silent_client_times_out(make_filterd):
    d = make_filterd("limits:\n  io_timeout: 1s\n").start()
    start = time.time()
    with socket.create_connection(("127.0.0.1", d.scan_port), timeout=10) as s:
        st, _, body = read_reply(s)
    assert st == 408 and 0.8 < time.time() - start < 5
    assert_normal_request_works(d)


def test_500_idle_connections_do_not_block_others(make_filterd):
    d = make_filterd("limits:\n  io_timeout: 3s\n").start()
    idle = [socket.create_connection(("127.0.0.1", d.scan_port), timeout=10) for _ in range(500)]
    try:
        idle[0].sendall(b"POST /checkv2 HTTP/1.0\r\nContent-Length: 50\r\n\r\n")  # a stalled body too
        assert_normal_request_works(d)
        st, _, _ = read_reply(idle[1])  # each idle one is answered 408 in time
        assert st == 408
    finally:
        for s in idle:
            s.close()
    assert_normal_request_works(d)


def test_out_of_descriptors_pauses_accepting(make_filterd):
    """A worker that runs out of file descriptors rests and accepts again:
    it neither spins on the error nor stops listening."""
    d = make_filterd(workers=2).start(max_fds=48)
    idle = [socket.create_connection(("127.0.0.1", d.scan_port), timeout=10) for _ in range(150)]
    try:
        time.sleep(1.0)
        log = d.log_text()
        pauses = log.count("accepting again in 100 ms")
        # each worker rests 100 ms per failure: some ten a second, not one a turn
        assert 2 <= pauses <= 40, log[-2000:]
        assert "Too many open files" in log
    finally:
        for s in idle:
            s.close()
    deadline = time.time() + 10
    while True:
        try:
            assert_normal_request_works(d)
            break
        except (AssertionError, OSError):
            if time.time() > deadline:
                raise
            time.sleep(0.1)


def test_killed_worker_is_restarted(filterd):
    before = filterd.children()
    assert len(before) == 3  # two scan workers and the controller
    os.kill(before[0], signal.SIGKILL)
    deadline = time.time() + 10
    while time.time() < deadline:
        now = filterd.children()
        if len(now) == 3 and before[0] not in now:
            break
        time.sleep(0.1)
    assert len(filterd.children()) == 3
    assert "died on signal 9" in filterd.log_text()
    for _ in range(5):
        assert_normal_request_works(filterd)


def test_sighup_reload_good_and_bad(filterd):
    st, _, body = request(filterd.controller_port, "GET", "/actions")
    assert {a["action"]: a["value"] for a in json.loads(body)}["reject"] == 15.0
    filterd.write_config("actions:\n  reject: 20\n")
    filterd.proc.send_signal(signal.SIGHUP)
    deadline = time.time() + 10
    value = None
    while time.time() < deadline:
        time.sleep(0.2)
        try:
            st, _, body = request(filterd.controller_port, "GET", "/actions")
            value = {a["action"]: a["value"] for a in json.loads(body)}["reject"]
        except (OSError, ValueError):
            continue
        if value == 20.0:
            break
    assert value == 20.0, filterd.log_text()
    filterd.write_config("actions:\n  reject: [oops\n")
    filterd.proc.send_signal(signal.SIGHUP)
    time.sleep(0.5)
    assert "reload failed, keeping the running configuration" in filterd.log_text()
    st, _, body = request(filterd.controller_port, "GET", "/actions")
    assert {a["action"]: a["value"] for a in json.loads(body)}["reject"] == 20.0
    assert_normal_request_works(filterd)


def symbols_of(d, text):
    st, _, body = request(d.scan_port, "POST", "/checkv2", MSG.replace(b"Hello there.", text))
    assert st == 200, body
    return set(json.loads(body)["symbols"])


def test_sighup_recompiles_changed_rules(make_filterd, tmp_path):
    """A reload compiles the changed rules in the supervisor's child
    processes (rules/hs_jobs.c): the new rule runs, the old one is gone, and
    no compile process is left behind."""
    cf = tmp_path / "local.cf"
    long_alt = "|".join("w%d" % k for k in range(300))  # a database of its own
    cf.write_text("body RELOAD_A /reloadalpha/\nscore RELOAD_A 2\n")
    d = make_filterd()
    d.base_config = d.base_config.replace(f"paths: [{ROOT / 'rules' / 'default'}]",
                                          f"paths: [{cf}]")
    d.write_config()
    d.start()
    try:
        assert "RELOAD_A" in symbols_of(d, b"reloadalpha")
        cf.write_text("body RELOAD_B /reloadbeta/\nscore RELOAD_B 2\n"
                      f"body RELOAD_LONG /reloadlongz(?:{long_alt})/\nscore RELOAD_LONG 2\n")
        d.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 20
        syms = set()
        while time.time() < deadline and "RELOAD_B" not in syms:
            time.sleep(0.2)
            try:
                syms = symbols_of(d, b"reloadbeta reloadlongzw299")
            except (OSError, ValueError):
                continue
        assert {"RELOAD_B", "RELOAD_LONG"} <= syms, d.log_text()
        assert "RELOAD_A" not in symbols_of(d, b"reloadalpha")
        assert len(d.children()) == 3, d.log_text()
        assert "not built" not in d.log_text()
        assert_normal_request_works(d)
    finally:
        d.stop()


def test_sigterm_finishes_request_in_flight(filterd):
    s = socket.create_connection(("127.0.0.1", filterd.scan_port), timeout=10)
    s.sendall(b"POST /checkv2 HTTP/1.0\r\nContent-Length: %d\r\n\r\n" % len(MSG) + MSG[:20])
    time.sleep(0.3)
    filterd.proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    s.sendall(MSG[20:])
    st, _, body = read_reply(s)
    s.close()
    assert st == 200 and json.loads(body)["message-id"] == "m1@example.com"
    assert filterd.proc.wait(timeout=15) == 0


def test_check_config(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text("workers: 1\nactions:\n  reject: 12\n")
    r = subprocess.run([FILTERD, "--config", str(good), "--check-config"], capture_output=True)
    assert r.returncode == 0, r.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("workers: 1\nlimits:\n  mime_depth: 0\n")
    r = subprocess.run([FILTERD, "--config", str(bad), "--check-config"], capture_output=True)
    assert r.returncode == 1
    assert f"{bad}:3:" in r.stderr.decode()
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("workers: 1\nno_such_key: 2\n")
    r = subprocess.run([FILTERD, "--config", str(unknown), "--check-config"], capture_output=True)
    assert r.returncode == 1 and f"{unknown}:2:" in r.stderr.decode()


def test_controller_auth(make_filterd):
    d = make_filterd(controller_extra='  password: "ro"\n  enable_password: "en"\n  secure_ip: []\n').start()
    st, _, body = request(d.controller_port, "GET", "/stat")
    assert st == 401 and json.loads(body) == {"error": "Unauthorized"}
    st, _, body = request(d.controller_port, "GET", "/stat", headers={"Password": "ro"})
    assert st == 200 and json.loads(body)["read_only"] is True
    st, _, body = request(d.controller_port, "GET", "/stat", headers={"Password": "en"})
    assert st == 200 and json.loads(body)["read_only"] is False
    st, _, _ = request(d.controller_port, "POST", "/learnspam", MSG, headers={"Password": "ro"})
    assert st == 401
    st, _, _ = request(d.controller_port, "GET", "/stat", headers={"Password": "q1"})
    assert st == 401
    st, _, body = request(d.controller_port, "GET", "/ping")
    assert st == 200 and body == b"pong\r\n"
