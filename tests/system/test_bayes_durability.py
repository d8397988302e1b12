"""Bayes durability: parallel learners next to scanning lose no learn, and a
controller killed with SIGKILL in the middle of learning leaves a database
that opens and holds each learn whole or not at all."""
import json
import os
import signal
import sqlite3
import subprocess
import threading
import time

from conftest import FILTERD, corpus_files, rspamc
from test_filterc import FILTERC


def stat_learned(d):
    st = json.loads(rspamc("-h", f"127.0.0.1:{d.controller_port}", "-j", "stat").stdout)
    files = {f["symbol"]: f["revision"] for f in st["statfiles"]}
    return files["BAYES_SPAM"], files["BAYES_HAM"]


def test_parallel_learners_and_scans_lose_nothing(make_filterd):
    d = make_filterd("stats:\n  min_learns: 5\n").start()
    ctl, scan = f"127.0.0.1:{d.controller_port}", f"127.0.0.1:{d.scan_port}"
    spam, ham = corpus_files("train", "spam", 2000), corpus_files("train", "ham", 2000)
    # Four learners on disjoint lists, two per class, a batch of files per filterc run.
    lists = [("learn_spam", spam[0::2]), ("learn_spam", spam[1::2]),
             ("learn_ham", ham[0::2]), ("learn_ham", ham[1::2])]
    deadline = time.monotonic() + 20
    ok = [0, 0, 0, 0]
    failures = []

    def learner(i):
        cmd, files = lists[i]
        word = b": learned as " + cmd[6:].encode() + b"\n"
        for k in range(0, len(files), 10):
            if time.monotonic() >= deadline:
                break
            r = subprocess.run([FILTERC, "-h", ctl, cmd, *map(str, files[k:k + 10])],
                               capture_output=True, timeout=120)
            if r.returncode != 0:
                failures.append(r.stdout + r.stderr)
                return
            ok[i] += r.stdout.count(word)

    scans = [0]

    def scanner():
        dev = corpus_files("dev", "spam", 20) + corpus_files("dev", "ham", 20)
        while time.monotonic() < deadline:
            for f in dev:
                r = rspamc("-h", scan, str(f))
                if r.returncode != 0 or b"Action:" not in r.stdout:
                    failures.append(r.stdout + r.stderr)
                    return
                scans[0] += 1

    threads = [threading.Thread(target=learner, args=(i,)) for i in range(4)]
    threads.append(threading.Thread(target=scanner))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures[0]
    assert scans[0] > 0 and min(ok) > 0, (scans, ok)
    # Every acknowledged learn is in the database, and nothing else.
    assert stat_learned(d) == (ok[0] + ok[1], ok[2] + ok[3])
    d.stop()
    d.start()
    assert stat_learned(d) == (ok[0] + ok[1], ok[2] + ok[3])


def controller_pid(d):
    """The one writer: the supervisor's child holding bayes.sqlite read-write
    (the scan workers open it read-only)."""
    for pid in d.children():
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                flags = open(f"/proc/{pid}/fdinfo/{fd}").read().split("flags:")[1].split()[0]
            except OSError:
                continue
            if target.endswith("/bayes.sqlite") and int(flags, 8) & os.O_ACCMODE == os.O_RDWR:
                return pid
    raise AssertionError("no child holds bayes.sqlite read-write")


def db_state(path):
    con = sqlite3.connect(path)
    try:
        assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        rows = con.execute("SELECT spam, count(*) FROM learned GROUP BY spam").fetchall()
        counts = con.execute("SELECT learned_spam, learned_ham FROM users WHERE id = 0").fetchone()
        tokens = con.execute("SELECT user_id, hash, spam, ham FROM tokens ORDER BY user_id, hash").fetchall()
    finally:
        con.close()
    learned = dict(rows)
    # The learned-message rows and the per-class counters moved together.
    assert counts == (learned.get(1, 0), learned.get(0, 0)), (counts, learned)
    return counts[0], tokens


def reference(tmp, files):
    """The store that learning exactly these files gives, built offline."""
    tmp.mkdir(parents=True, exist_ok=True)
    cfg = tmp / "ref.yaml"
    cfg.write_text(f"state_dir: {tmp}\n")
    r = subprocess.run([FILTERD, "--config", str(cfg), "learn", "--spam", *map(str, files)],
                       capture_output=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    return db_state(str(tmp / "bayes.sqlite"))


def test_kill_9_controller_during_learning(make_filterd, tmp_path):
    files = corpus_files("train", "spam", 400)
    for rnd, delay in enumerate((0.2, 0.6)):
        d = make_filterd("stats:\n  min_learns: 5\n").start()
        ctl = controller_pid(d)
        p = subprocess.Popen([FILTERC, "-h", f"127.0.0.1:{d.controller_port}", "learn_spam",
                              *map(str, files)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        lines = []
        reader = threading.Thread(target=lambda: lines.extend(iter(p.stdout.readline, b"")))
        reader.start()
        t0 = time.monotonic()
        while len(lines) < 5 and time.monotonic() - t0 < 30:
            time.sleep(0.01)
        time.sleep(delay)
        # The supervisor is stopped first so no new controller touches the
        # files; then the writer dies in the middle of its stream of learns.
        os.kill(d.proc.pid, signal.SIGSTOP)
        os.kill(ctl, signal.SIGKILL)
        p.kill()
        p.wait()
        reader.join()
        for pid in d.children():
            os.kill(pid, signal.SIGKILL)
        os.kill(d.proc.pid, signal.SIGKILL)
        d.proc.wait()
        answered = sum(1 for x in lines if b": learned as spam" in x or b": not learned" in x)
        assert answered < len(files), "the kill came after the last learn"
        nspam, tokens = db_state(str(d.state / "bayes.sqlite"))
        # Acknowledged learns are all there; the one in flight is whole or absent.
        ref_n, ref_tokens = reference(tmp_path / f"ref{rnd}a", files[:answered])
        if nspam != ref_n:
            ref_n, ref_tokens = reference(tmp_path / f"ref{rnd}b", files[:answered + 1])
        assert nspam == ref_n and tokens == ref_tokens, (nspam, ref_n, answered)
        # And the daemon starts on it and counts the same.
        d.start()
        st = json.loads(rspamc("-h", f"127.0.0.1:{d.controller_port}", "-j", "stat").stdout)
        assert st["statfiles"][0]["revision"] == nspam
        d.stop()
