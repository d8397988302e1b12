"""Learning over the controller with the real rspamc, and Bayes verdicts."""
import json
import subprocess
import time

from conftest import FILTERD, corpus_files, rspamc
from test_filterc import FILTERC


def learn(d, cmd, path, *extra):
    return rspamc("-h", f"127.0.0.1:{d.controller_port}", *extra, cmd, str(path))


def test_learn_already_learned_and_move(make_filterd):
    d = make_filterd("stats:\n  min_learns: 5\n").start()
    spam = corpus_files("train", "spam", 1)[0]
    r = learn(d, "learn_spam", spam)
    assert r.returncode == 0 and b"success = true;" in r.stdout, r.stdout + r.stderr
    r = learn(d, "learn_spam", spam)
    out = r.stdout.decode()
    assert r.returncode == 0
    assert "has been already learned as spam, ignore it" in out, out
    r = learn(d, "learn_ham", spam)  # moved to the other class
    assert r.returncode == 0 and b"success = true;" in r.stdout
    st = json.loads(rspamc("-h", f"127.0.0.1:{d.controller_port}", "-j", "stat").stdout)
    files = {f["symbol"]: f for f in st["statfiles"]}
    assert files["BAYES_HAM"]["revision"] == 1 and files["BAYES_SPAM"]["revision"] == 0
    assert files["BAYES_SPAM"]["used"] > 0


def test_bayes_verdict_after_training(make_filterd):
    d = make_filterd("stats:\n  min_learns: 20\n").start()
    for f in corpus_files("train", "spam", 40):
        assert learn(d, "learn_spam", f).returncode == 0
    for f in corpus_files("train", "ham", 40):
        assert learn(d, "learn_ham", f).returncode == 0
    hits = {"spam": 0, "ham": 0}
    for label in ("spam", "ham"):
        for f in corpus_files("dev", label, 10):
            r = rspamc("-h", f"127.0.0.1:{d.scan_port}", "-j", str(f))
            j = json.loads(r.stdout)
            sym = "BAYES_SPAM" if label == "spam" else "BAYES_HAM"
            if sym in j["symbols"]:
                hits[label] += 1
                opts = j["symbols"][sym]["options"]
                assert opts[0].endswith("%") and opts[1] == "global"
    # 40+40 messages are little training; most must still be right.
    assert hits["spam"] >= 6 and hits["ham"] >= 6, hits


def scan_symbols(d, files):
    out = {}
    for f in files:
        j = json.loads(rspamc("-h", f"127.0.0.1:{d.scan_port}", "-j", str(f)).stdout)
        out[f.name] = (j["score"], sorted((k, v["score"], tuple(v.get("options", [])))
                                          for k, v in j["symbols"].items()))
    return out


def wait_snapshot(d, newer_than, old_mtime=None):
    snap = d.state / "bayes.sqlite.snap"
    deadline = time.monotonic() + 15
    while not (snap.exists() and snap.stat().st_mtime >= newer_than and snap.stat().st_mtime != old_mtime):
        assert time.monotonic() < deadline, "no new Bayes snapshot"
        time.sleep(0.1)
    return snap.stat().st_mtime


def test_snapshot_follows_learning(make_filterd):
    """The controller rewrites the Bayes snapshot about a second after the
    last learn. Until then the workers read SQLite, so a learn counts at the
    next scan, and the answers are the same once the snapshot is back."""
    d = make_filterd("stats:\n  min_learns: 30\n").start()
    for f in corpus_files("train", "spam", 40):
        assert learn(d, "learn_spam", f).returncode == 0
    dev = corpus_files("dev", "spam", 5) + corpus_files("dev", "ham", 5)
    hams = iter(corpus_files("train", "ham", 60))

    def why():
        j = json.loads(rspamc("-h", f"127.0.0.1:{d.scan_port}", "-j", str(dev[0])).stdout)
        return j["messages"].get("bayes", "")
    # ham learns up to one short of min_learns (a few messages may be
    # refused as too short)
    while "ham class needs more training samples (29 of 30" not in why():
        assert learn(d, "learn_ham", next(hams)).returncode == 0
    mtime = wait_snapshot(d, time.time() + 0.5)
    assert "(29 of 30 learned)" in why()  # read from the snapshot
    # the 30th ham: the snapshot is now stale, and the next scans classify
    r = learn(d, "learn_ham", next(hams))
    assert r.returncode == 0 and b"success = true" in r.stdout, r.stdout
    from_sqlite = scan_symbols(d, dev)
    verdicts = sum(any(k.startswith("BAYES_") for k, *_ in v[1]) for v in from_sqlite.values())
    assert verdicts >= 6, from_sqlite
    wait_snapshot(d, 0, mtime)
    assert scan_symbols(d, dev) == from_sqlite
    log = d.log_text()
    assert "snapshot:" not in log and ".snap:" not in log, log


def test_too_few_learns_says_why(make_filterd):
    d = make_filterd("stats:\n  min_learns: 200\n").start()
    f = corpus_files("dev", "spam", 1)[0]
    j = json.loads(rspamc("-h", f"127.0.0.1:{d.scan_port}", "-j", str(f)).stdout)
    assert "BAYES_SPAM" not in j["symbols"] and "BAYES_HAM" not in j["symbols"]
    assert "training" in j["messages"]["bayes"]


def test_per_user_learning_with_filterc(make_filterd):
    d = make_filterd("stats:\n  min_learns: 3\n").start()
    port = f"127.0.0.1:{d.controller_port}"
    learned = {"learn_spam": [], "learn_ham": []}
    for cmd, label in (("learn_spam", "spam"), ("learn_ham", "ham")):
        for f in corpus_files("train", label, 20):
            r = subprocess.run([FILTERC, "-h", port, "-d", "alice@example.test", cmd, str(f)],
                               capture_output=True)
            assert r.returncode == 0, r.stdout + r.stderr
            if r.stdout.endswith(b": learned as " + label.encode() + b"\n"):
                learned[cmd].append(f)
            else:  # the only refusal allowed: a message with too few tokens
                assert b": not learned: " in r.stdout and b"contains less tokens than required" in r.stdout, r.stdout
            if len(learned[cmd]) == 5:
                break
        assert len(learned[cmd]) == 5
    f = learned["learn_spam"][0]
    j = json.loads(rspamc("-h", f"127.0.0.1:{d.scan_port}", "-d", "alice@example.test", "-j", str(f)).stdout)
    assert j["symbols"]["BAYES_SPAM"]["options"][1] == "user"
    r = subprocess.run([FILTERC, "-h", port, "-j", "stat"], capture_output=True)
    assert r.returncode == 0
    assert {f["symbol"]: f["revision"] for f in json.loads(r.stdout)["statfiles"]} == \
        {"BAYES_SPAM": 5, "BAYES_HAM": 5}


def test_learn_empty_body_is_400(make_filterd):
    d = make_filterd().start()
    r = rspamc("-h", f"127.0.0.1:{d.controller_port}", "learn_spam", input=b"")
    assert b"HTTP error: 400, Empty body is not permitted" in r.stdout


def bayes(d, f, user=None):
    """(symbol, options) of the Bayes verdict for file f, or (None, reason)."""
    args = ["-h", f"127.0.0.1:{d.scan_port}", "-j"] + (["-d", user] if user else []) + [str(f)]
    r = rspamc(*args)
    assert r.returncode == 0, r.stdout + r.stderr
    j = json.loads(r.stdout)
    for sym in ("BAYES_SPAM", "BAYES_HAM"):
        if sym in j["symbols"]:
            return sym, j["symbols"][sym]["options"]
    return None, j["messages"].get("bayes")


def test_per_user_isolation_with_rspamc(make_filterd):
    """A learn for user A (rspamc -d A, the Deliver-To header) moves A's
    verdict and leaves B's, answered by the global store, as it was."""
    d = make_filterd("stats:\n  min_learns: 3\n  learn_global: false\n").start()
    ctl = f"127.0.0.1:{d.controller_port}"
    for label in ("spam", "ham"):
        for f in corpus_files("train", label, 30):
            assert rspamc("-h", ctl, f"learn_{label}", str(f)).returncode == 0
    target = corpus_files("dev", "spam", 1)[0]
    before_a, before_b = bayes(d, target, "a@example.test"), bayes(d, target, "b@example.test")
    assert before_a == before_b and before_b[0] == "BAYES_SPAM" and before_b[1][1] == "global", before_b
    # A calls the message ham, with just enough other learns for A's own store.
    r = rspamc("-h", ctl, "-d", "a@example.test", "learn_ham", str(target))
    assert b"success = true;" in r.stdout, r.stdout
    for label, files in (("spam", corpus_files("dev", "spam", 6)[1:]), ("ham", corpus_files("dev", "ham", 4))):
        n = 0
        for f in files:
            r = rspamc("-h", ctl, "-d", "a@example.test", f"learn_{label}", str(f))
            n += b"success = true;" in r.stdout
        assert n >= 3
    after_a, after_b = bayes(d, target, "a@example.test"), bayes(d, target, "b@example.test")
    assert after_a[0] == "BAYES_HAM" and after_a[1][1] == "user", after_a
    assert after_b == before_b
    # The global counts did not move (learn_global: false); A has a store.
    st = json.loads(rspamc("-h", ctl, "-j", "stat").stdout)
    assert st["statfiles"][0]["users"] == 1


def test_offline_learn_then_daemon(make_filterd):
    """`filterd learn` into the state_dir, then the daemon on the same state
    sees the counts and gives Bayes verdicts."""
    d = make_filterd("stats:\n  min_learns: 20\n")
    counts = {}
    for label in ("spam", "ham"):
        r = subprocess.run([FILTERD, "--config", str(d.config), "learn", f"--{label}", "--batch", "16",
                            *map(str, corpus_files("train", label, 60))], capture_output=True, timeout=120)
        out = r.stdout.decode()
        assert r.returncode == 0, out + r.stderr.decode()
        assert out.startswith(f"{label}: "), out
        counts[label] = int(out.split(": ")[1].split(" learned")[0])
        assert counts[label] >= 50, out
    # Again: all already learned, nothing added.
    r = subprocess.run([FILTERD, "--config", str(d.config), "learn", "--spam",
                        *map(str, corpus_files("train", "spam", 60))], capture_output=True, timeout=120)
    assert f"spam: 0 learned, {counts['spam']} already learned".encode() in r.stdout, r.stdout
    # A missing file is an error (exit 1), the rest is still learned.
    r = subprocess.run([FILTERD, "--config", str(d.config), "learn", "--ham", str(d.tmp / "missing"),
                        *map(str, corpus_files("train", "ham", 61))], capture_output=True, timeout=120)
    assert r.returncode == 1 and b"missing: No such file or directory" in r.stderr, r.stderr
    counts["ham"] += int(r.stdout.decode().split(": ")[1].split(" learned")[0])
    d.start()
    st = json.loads(rspamc("-h", f"127.0.0.1:{d.controller_port}", "-j", "stat").stdout)
    files = {f["symbol"]: f["revision"] for f in st["statfiles"]}
    assert files == {"BAYES_SPAM": counts["spam"], "BAYES_HAM": counts["ham"]}
    assert st["total_learns"] == counts["spam"] + counts["ham"]
    hits = {"spam": 0, "ham": 0}
    for label in ("spam", "ham"):
        for f in corpus_files("dev", label, 10):
            sym, opts = bayes(d, f)
            if sym == ("BAYES_SPAM" if label == "spam" else "BAYES_HAM"):
                hits[label] += 1
                assert opts[1] == "global"
    assert hits["spam"] >= 7 and hits["ham"] >= 7, hits
    # The daemon's controller says the offline learns are already there.
    f = corpus_files("train", "spam", 1)[0]
    r = rspamc("-h", f"127.0.0.1:{d.controller_port}", "learn_spam", str(f))
    assert b"has been already learned as spam" in r.stdout, r.stdout


def test_offline_learn_for_a_user(make_filterd):
    """`filterd learn -d user` fills that user's store: the daemon answers
    from it for that user only."""
    d = make_filterd("stats:\n  min_learns: 5\n  learn_global: false\n")
    for label in ("spam", "ham"):
        r = subprocess.run([FILTERD, "--config", str(d.config), "learn", f"--{label}", "-d", "carol@example.test",
                            *map(str, corpus_files("train", label, 30))], capture_output=True, timeout=120)
        assert r.returncode == 0 and b" 0 error(s)" in r.stdout, r.stdout + r.stderr
    d.start()
    f = corpus_files("dev", "spam", 1)[0]
    sym, opts = bayes(d, f, "carol@example.test")
    assert sym is not None and opts[1] == "user", (sym, opts)
    sym, why = bayes(d, f, "dave@example.test")
    assert sym is None and "training" in why, why
