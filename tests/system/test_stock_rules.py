"""The daemon with the stock SpamAssassin rules, loaded from the shared
warm cache (scripts/test compiles them once)."""
import glob
import json
import re
import time

from conftest import Filterd, corpus_files, rspamc


def stock_rule_names():
    names = set()
    for cf in glob.glob("/usr/share/spamassassin/*.cf"):
        for line in open(cf, errors="replace"):
            m = re.match(r"\s*(?:header|body|rawbody|uri|full|meta)\s+([A-Z][A-Z0-9_]+)", line)
            if m:
                names.add(m.group(1))
    return names


def test_stock_rules_from_cache_hit_real_spam(tmp_path):
    stock = stock_rule_names()
    assert len(stock) > 1000
    d = Filterd(tmp_path, stock_rules=True)
    t0 = time.time()
    d.start()
    startup = time.time() - t0
    try:
        assert "loaded from cache" in d.log_text(), d.log_text()
        assert startup < 10, startup
        sa_hits = 0
        scores = {"spam": [], "ham": []}
        for label in ("spam", "ham"):
            for f in corpus_files("dev", label, 15):
                j = json.loads(rspamc("-h", f"127.0.0.1:{d.scan_port}", "-j", str(f)).stdout)
                scores[label].append(j["score"])
                sa_hits += sum(1 for s in j["symbols"] if s in stock)
        # SpamAssassin rules fire and separate the classes on average.
        assert sa_hits > 30
        assert sum(scores["spam"]) / 15 > sum(scores["ham"]) / 15 + 3, scores
    finally:
        d.stop()
