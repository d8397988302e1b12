"""Agreement of filterd's SpamAssassin rule engine with the real SpamAssassin.

Debian's spamd (packages spamassassin, spamd, spamc) runs here on a free
loopback port from a private site directory, local tests only and no Bayes;
`spamc -y` gives the rules it hit for each message. `filterd scan` with the
stock rules (Bayes off) gives filterd's. Over the fixed 300-message sample
(tests/fixtures/rules/agreement/sample300.txt) precision and recall of
filterd's hits against SpamAssassin's must each be >= 0.97, counted over the
rules both run: SpamAssassin's own rules (not filterd's rules/default) that
`filterd rules --list` runs (engine hyperscan, pcre2, meta, exists, eval).

SA_AGREEMENT_FULL=1 also compares over the whole dev/ corpus (about 2.5
CPU-minutes of spamd) and prints that figure; it is not asserted.

SpamAssassin's hits are computed once per pytest session and kept in the
pytest cache (.pytest_cache), keyed by SpamAssassin's version, its rule
files, our site config and every message's bytes, so the second run of the
suite (the sanitizer build) and later runs do not start spamd at all.

The per-rule disagreements (rule, count, example file) are written to
sa-agreement-report.txt in the test's tmp dir; its path is printed.
"""
import collections
import glob
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import CORPUS, FILTERD, ROOT, RULES_CACHE, free_port

FIXTURES = ROOT / "tests" / "fixtures" / "rules" / "agreement"
SA_RULES = Path("/usr/share/spamassassin")
SPAMD = "/usr/sbin/spamd"
THRESHOLD = 0.97
SUPPORTED_ENGINES = {"hyperscan", "pcre2", "meta", "exists", "eval"}

# Network off, Bayes and auto-learn off: the configuration filterd runs in.
# `dns_available no` keeps the network plugins that are loaded (URIDNSBL,
# SPF, DKIM, ...) from trying lookups; their rules are not compared anyway
# (filterd skips those plugins' blocks).
SITE_CF = """\
use_bayes 0
bayes_auto_learn 0
skip_rbl_checks 1
use_razor2 0
use_pyzor 0
ifplugin Mail::SpamAssassin::Plugin::DCC
use_dcc 0
endif
dns_available no
"""

# Rules left out of the comparison, each with its reason. Nothing here may be
# added to make the figures fit: only rules whose result cannot agree by
# design. None is needed today:
# - rules relative to the current time (received_within_months, the
#   fetchmail hop's "not in the future") are eval: functions filterd does
#   not run, so they are not compared; DATE_IN_PAST_*/DATE_IN_FUTURE_*
#   compare the Date header with the Received times, not with now;
# - rules filterd deliberately does not run (network, Bayes, relay
#   pseudo-headers, unimplemented eval:) are "unsupported" in
#   `filterd rules --list` and so not compared;
# - SpamAssassin names that filterd's own checks also emit (GTUBE,
#   INVALID_DATE, INVALID_MSGID, MIME_HEADER_CTYPE_ONLY, MISSING_DATE,
#   MISSING_FROM, MISSING_MID, MISSING_SUBJECT) are compared as the scan
#   reports them: that is what a user sees under that name.
EXCLUDED = {
}


def sample_files():
    rel = [l.strip() for l in (FIXTURES / "sample300.txt").read_text().splitlines()
           if l.strip() and not l.startswith("#")]
    return [CORPUS / r for r in rel]


def dev_files():
    return sorted(p for label in ("ham", "spam") for p in (CORPUS / "dev" / label).iterdir()
                  if p.is_file() and not p.name.startswith("."))


def rel(path):
    return str(Path(path).relative_to(CORPUS))


def sa_cf_files():
    return sorted(SA_RULES.glob("*.cf"))


def score_override():
    """score lines giving every rule its score-set-2 value in all four sets.

    spamd without Bayes and without network tests scores with set 0;
    filterd runs set 2 (Bayes on, network off). A score of 0 disables a
    rule in SpamAssassin (it is not run and counts 0 in metas), and some
    rules are 0 in one set only, so without this the two would run
    different rules. The last score line of a rule wins, as in
    SpamAssassin's reading order (files in name order)."""
    last = {}
    for cf in sa_cf_files():
        for line in cf.read_text(encoding="latin-1").splitlines():
            w = line.split()
            if len(w) >= 6 and w[0] == "score" and not w[5].startswith("#"):
                last[w[1]] = w[2:6]
            elif len(w) >= 3 and w[0] == "score":
                last.pop(w[1], None)
    out = []
    for name, s in sorted(last.items()):
        if len(set(s)) > 1:
            out.append(f"score {name} {s[2]} {s[2]} {s[2]} {s[2]}")
    return "\n".join(out) + "\n"


def sa_version():
    r = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "spamd", "spamassassin"],
                       capture_output=True, text=True)
    return r.stdout


def cache_key(files, site_cf):
    h = hashlib.sha256()
    h.update(sa_version().encode())
    h.update(site_cf.encode())
    for cf in sa_cf_files():
        h.update(cf.name.encode())
        h.update(cf.read_bytes())
    for p in files:
        h.update(rel(p).encode())
        h.update(hashlib.sha256(p.read_bytes()).digest())
    return h.hexdigest()[:32]


class Spamd:
    """A private spamd: site config in DIR, loopback only, no user configs."""

    def __init__(self, children):
        # Started as root, spamd reads its configuration as nobody: the
        # directory must be reachable by it, which pytest's 0700 tmp
        # directories are not.
        self.dir = Path(tempfile.mkdtemp(prefix="filterd-spamd-"))
        os.chmod(self.dir, 0o755)
        for pre in glob.glob("/etc/spamassassin/*.pre"):
            (self.dir / Path(pre).name).write_bytes(Path(pre).read_bytes())
        (self.dir / "local.cf").write_text(SITE_CF)
        (self.dir / "zz_score_set2.cf").write_text(score_override())
        self.port = free_port()
        self.log = self.dir / "spamd.log"
        self.children = children
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            [SPAMD, "-L", "-x", "-C", str(SA_RULES), "--siteconfigpath", str(self.dir),
             "-i", f"127.0.0.1:{self.port}", "-A", "127.0.0.1", "--syslog=stderr",
             "-m", str(self.children), "--min-children", str(self.children),
             "--min-spare", str(self.children), "--max-spare", str(self.children),
             "--pidfile", str(self.dir / "spamd.pid")],
            stdout=open(self.log, "ab"), stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + 120
        while time.time() < deadline:
            assert self.proc.poll() is None, self.log.read_text(errors="replace")
            r = subprocess.run(["spamc", "-d", "127.0.0.1", "-p", str(self.port), "-K"],
                               capture_output=True)
            if r.returncode == 0:
                return self
            time.sleep(0.5)
        raise AssertionError("spamd did not answer:\n" + self.log.read_text(errors="replace"))

    def hits(self, path):
        with open(path, "rb") as f:
            r = subprocess.run(["spamc", "-d", "127.0.0.1", "-p", str(self.port), "-y",
                                "-s", str(64 << 20), "-x", "-t", "120"],
                               stdin=f, capture_output=True, timeout=180)
        assert r.returncode == 0, (path, r.stderr, self.log.read_text(errors="replace")[-2000:])
        return sorted(x for x in r.stdout.decode().strip().split(",") if x)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)

    def kill(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        # spamd's children leave with it: none may be left listening.
        for _ in range(50):
            left = subprocess.run(["pgrep", "-s", str(self.proc.pid)], capture_output=True,
                                  text=True).stdout.split()
            if not left:
                break
            time.sleep(0.1)
        assert not left, f"spamd children left running: {left}"


def sa_hits_for(files, cache):
    """{relative path: [rules]} from spamd, from the pytest cache when the
    same SpamAssassin, config and messages were scanned before."""
    key = "filterd/sa_agreement/" + cache_key(files, SITE_CF + score_override())
    got = cache.get(key, None) if cache is not None else None
    if got is not None:
        return got
    sa = Spamd(children=3)
    try:
        sa.start()
        with ThreadPoolExecutor(max_workers=3) as ex:
            res = list(ex.map(sa.hits, files))
    finally:
        sa.stop()
    got = {rel(p): h for p, h in zip(files, res)}
    if cache is not None:
        cache.set(key, got)
    return got


def filterd_config(tmp):
    tmp.mkdir(parents=True, exist_ok=True)
    cfg = tmp / "filterd.yaml"
    cfg.write_text(f"state_dir: {tmp / 'state'}\n"
                   f"rules:\n  cache_dir: {RULES_CACHE}\n"
                   "stats:\n  enabled: false\n")
    return cfg


def own_rule_names():
    names = set()
    for cf in (ROOT / "rules" / "default").glob("*.cf"):
        for line in cf.read_text(errors="replace").splitlines():
            m = re.match(r"\s*(?:header|mimeheader|body|rawbody|uri|full|meta)\s+(\S+)", line)
            if m:
                names.add(m.group(1))
    return names


def supported_rules(cfg):
    """SpamAssassin's rules that filterd runs, by `filterd rules --list`."""
    r = subprocess.run([FILTERD, "--config", str(cfg), "rules", "--list"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    own = own_rule_names()
    out = set()
    for line in r.stdout.splitlines():
        p = line.split("\t")
        if len(p) >= 3 and p[2].split(":")[0] in SUPPORTED_ENGINES and p[0] not in own:
            out.add(p[0])
    assert len(out) > 1000, r.stdout[-2000:]
    return out - set(EXCLUDED)


def filterd_hits(cfg, files):
    hits = {}
    chunk = 400
    for i in range(0, len(files), chunk):
        part = files[i:i + chunk]
        r = subprocess.run([FILTERD, "--config", str(cfg), "scan", *map(str, part)],
                           capture_output=True, text=True, timeout=900)
        assert r.returncode == 0, r.stderr[-3000:]
        for line in r.stdout.splitlines():
            j = json.loads(line)
            hits[rel(j["filename"])] = sorted(j["symbols"])
    assert len(hits) == len(files)
    return hits


def compare(sa, fd, supported):
    tp = fp = fn = 0
    per_fp, per_fn = collections.Counter(), collections.Counter()
    ex_fp, ex_fn = {}, {}
    for f in sorted(sa):
        s = set(sa[f]) & supported
        d = set(fd[f]) & supported
        tp += len(s & d)
        for r in d - s:
            fp += 1
            per_fp[r] += 1
            ex_fp.setdefault(r, f)
        for r in s - d:
            fn += 1
            per_fn[r] += 1
            ex_fn.setdefault(r, f)
    prec = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    lines = [f"messages {len(sa)} rules compared {len(supported)} "
             f"tp {tp} fp {fp} fn {fn} precision {prec:.4f} recall {recall:.4f}",
             "# filterd-only hits: FP<TAB>rule<TAB>count<TAB>example"]
    lines += [f"FP\t{r}\t{c}\t{ex_fp[r]}" for r, c in per_fp.most_common()]
    lines.append("# SpamAssassin-only hits: FN<TAB>rule<TAB>count<TAB>example")
    lines += [f"FN\t{r}\t{c}\t{ex_fn[r]}" for r, c in per_fn.most_common()]
    lines.append("# excluded rules and why")
    lines += [f"EXCLUDED\t{r}\t{why}" for r, why in sorted(EXCLUDED.items())]
    return prec, recall, "\n".join(lines) + "\n"


@pytest.fixture(scope="session")
def sa_cache(request):
    # None under -p no:cacheprovider: spamd then runs every session.
    return getattr(request.config, "cache", None)


def have_spamassassin():
    return Path(SPAMD).exists() and SA_RULES.is_dir()


@pytest.mark.skipif(not have_spamassassin(), reason="Debian's spamd is not installed")
def test_agreement_sample300(tmp_path, sa_cache):
    files = sample_files()
    assert len(files) == 300
    sa = sa_hits_for(files, sa_cache)
    cfg = filterd_config(tmp_path / "filterd")
    supported = supported_rules(cfg)
    fd = filterd_hits(cfg, files)
    prec, recall, report = compare(sa, fd, supported)
    out = tmp_path / "sa-agreement-report.txt"
    out.write_text(report)
    print(f"\nsample300: precision {prec:.4f} recall {recall:.4f}; report: {out}")
    if os.environ.get("SA_AGREEMENT_FULL"):
        files = dev_files()
        sa = sa_hits_for(files, sa_cache)
        fd = filterd_hits(cfg, files)
        p2, r2, rep2 = compare(sa, fd, supported)
        out2 = tmp_path / "sa-agreement-report-dev.txt"
        out2.write_text(rep2)
        print(f"whole dev ({len(files)}): precision {p2:.4f} recall {r2:.4f}; report: {out2}")
    assert prec >= THRESHOLD and recall >= THRESHOLD, report[:4000]
