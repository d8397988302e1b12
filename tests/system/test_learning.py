"""Learning over the controller with the real rspamc, and Bayes verdicts."""
import json
import subprocess

from conftest import ROOT, corpus_files, rspamc

FILTERC = str(ROOT / "build" / "learn" / "filterc")


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
            if b"success = true;" in r.stdout:
                learned[cmd].append(f)
            else:  # the only refusal allowed: a message with too few tokens
                assert b"contains less tokens than required" in r.stdout, r.stdout
            if len(learned[cmd]) == 5:
                break
        assert len(learned[cmd]) == 5
    f = learned["learn_spam"][0]
    j = json.loads(rspamc("-h", f"127.0.0.1:{d.scan_port}", "-d", "alice@example.test", "-j", str(f)).stdout)
    assert j["symbols"]["BAYES_SPAM"]["options"][1] == "user"
    r = subprocess.run([FILTERC, "-h", port, "stat"], capture_output=True)
    assert r.returncode == 0 and b"statfiles" in r.stdout


def test_learn_empty_body_is_400(make_filterd):
    d = make_filterd().start()
    r = rspamc("-h", f"127.0.0.1:{d.controller_port}", "learn_spam", input=b"")
    assert b"HTTP error: 400, Empty body is not permitted" in r.stdout
