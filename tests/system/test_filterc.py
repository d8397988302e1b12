"""filterc, the command-line client: learning a directory, already learned,
the daemon down, bad files; one result line per message, exit 0 / 1."""
import json
import os
import shutil
import subprocess
from pathlib import Path

from conftest import FILTERD, corpus_files, free_port, rspamc

# filterc is built next to the filterd under test (build/ or build-asan/).
FILTERC = os.environ.get("FILTERC", str(Path(FILTERD).resolve().parents[1] / "learn" / "filterc"))


def filterc(*args, input=None, timeout=60):
    return subprocess.run([FILTERC, *map(str, args)], capture_output=True, input=input, timeout=timeout)


def stat(d):
    return json.loads(rspamc("-h", f"127.0.0.1:{d.controller_port}", "-j", "stat").stdout)


def learned(d):
    files = {f["symbol"]: f["revision"] for f in stat(d)["statfiles"]}
    return files["BAYES_SPAM"], files["BAYES_HAM"]


def copy_tree(tmp, n):
    """A directory of n spam messages, one level nested, plus a dot-file that
    must be skipped."""
    top = tmp / "maildir"
    (top / "sub").mkdir(parents=True)
    files = corpus_files("train", "spam", n)
    for i, f in enumerate(files):
        shutil.copy(f, (top / "sub" if i % 2 else top) / f.name)
    (top / ".hidden").write_bytes(files[0].read_bytes() + b"\nhidden copy\n")
    return top, files


def test_learn_directory_then_already_learned(make_filterd, tmp_path):
    d = make_filterd("stats:\n  min_learns: 5\n").start()
    top, files = copy_tree(tmp_path, 12)
    r = filterc("-h", f"127.0.0.1:{d.controller_port}", "learn_spam", top)
    out = r.stdout.decode()
    assert r.returncode == 0, out + r.stderr.decode()
    lines = out.splitlines()
    assert len(lines) == len(files), out  # one line per message, .hidden skipped
    ok = [x for x in lines if x.endswith(": learned as spam")]
    few = [x for x in lines if ": not learned: " in x]
    assert len(ok) + len(few) == len(files), out
    assert len(ok) >= 8
    assert learned(d) == (len(ok), 0)
    # Name order, subdirectories included.
    names = [x.split(": ")[0] for x in lines]
    assert names == sorted(names) and any("/sub/" in x for x in names)

    r = filterc("-h", f"127.0.0.1:{d.controller_port}", "learn_spam", top)
    out = r.stdout.decode()
    assert r.returncode == 0, out
    assert out.count(": already learned: ") == len(ok), out
    assert "has been already learned as spam" in out
    assert learned(d) == (len(ok), 0)

    # Moved to ham from stdin: one line naming stdin.
    first = top / files[0].name
    r = filterc("-h", f"127.0.0.1:{d.controller_port}", "learn_ham", input=first.read_bytes())
    assert r.returncode == 0 and r.stdout.decode() == "stdin: learned as ham\n", r.stdout
    assert learned(d) == (len(ok) - 1, 1)


def test_daemon_down_exits_1_with_message(tmp_path):
    port = free_port()  # nothing listens there
    f = corpus_files("train", "spam", 1)[0]
    r = filterc("-h", f"127.0.0.1:{port}", "learn_spam", f, f)
    assert r.returncode == 1
    err = r.stderr.decode()
    assert f"cannot connect to 127.0.0.1:{port}" in err and "is filterd running?" in err, err
    assert err.count("cannot connect") == 1, err  # the walk stops at the first failure
    r = filterc("-h", f"127.0.0.1:{port}", "stat")
    assert r.returncode == 1 and b"cannot connect" in r.stderr


def test_bad_files_exit_1_and_the_rest_is_learned(make_filterd, tmp_path):
    d = make_filterd("stats:\n  min_learns: 5\n").start()
    good = corpus_files("train", "ham", 3)
    empty = tmp_path / "empty.eml"
    empty.write_bytes(b"")
    missing = tmp_path / "no-such-file.eml"
    r = filterc("-h", f"127.0.0.1:{d.controller_port}", "learn_ham", missing, empty, *good)
    out, err = r.stdout.decode(), r.stderr.decode()
    assert r.returncode == 1, out + err
    assert f"filterc: {missing}: No such file or directory" in err, err
    assert f"{empty}: error: HTTP 400, Empty body is not permitted" in out, out
    assert out.count(": learned as ham") + out.count(": not learned: ") == len(good), out
    assert learned(d)[1] == out.count(": learned as ham") >= 2


def test_wrong_password_is_refused(make_filterd):
    d = make_filterd("stats:\n  min_learns: 5\n", controller_extra="  password: s3cret\n  secure_ip: []\n").start()
    f = corpus_files("train", "spam", 1)[0]
    r = filterc("-h", f"127.0.0.1:{d.controller_port}", "-P", "wrong", "learn_spam", f)
    assert r.returncode == 1
    assert b"refused: HTTP 401 Unauthorized" in r.stderr, r.stderr
    r = filterc("-h", f"127.0.0.1:{d.controller_port}", "-P", "s3cret", "learn_spam", f)
    assert r.returncode == 0 and r.stdout.endswith(b": learned as spam\n"), r.stdout + r.stderr


def test_check_and_stat(make_filterd):
    d = make_filterd().start()
    gtube = b"Subject: t\r\n\r\nXJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X\r\n"
    r = filterc("-h", f"127.0.0.1:{d.scan_port}", "check", input=gtube)
    assert r.returncode == 0 and b"Action: reject" in r.stdout and b"Symbol: GTUBE" in r.stdout, r.stdout
    r = filterc("-h", f"127.0.0.1:{d.controller_port}", "-j", "stat")
    assert r.returncode == 0 and json.loads(r.stdout)["total_learns"] == 0
