"""filterd scan --timing: where the time of a scan goes, per stage, as
totals over the files and per message (issue 8, bench/)."""
import json
import re
import subprocess

from conftest import CORPUS, FILTERD

STAGES = ["parse", "extract", "checks", "rules header", "rules mimeheader", "rules body",
          "rules rawbody", "rules uri", "rules full", "rules eval", "rules meta", "bayes",
          "async", "score", "json"]


def scan(filterd, *args):
    files = sorted(p for p in (CORPUS / "dev" / "spam").iterdir()
                   if not p.name.startswith("."))[:20]
    p = subprocess.run([FILTERD, "--config", str(filterd.config), "scan", *args]
                       + [str(f) for f in files], capture_output=True, check=True)
    return files, p.stdout.decode().splitlines(), p.stderr.decode()


def stage_table(err):
    rows = {}
    for line in err.splitlines():
        m = re.match(r"^(\w+(?: \w+)?)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)%$", line)
        if m:
            rows[m.group(1)] = tuple(float(x) for x in m.group(2, 3, 4))
    return rows


def test_timing_table_and_per_message_stages(filterd):
    files, out, err = scan(filterd, "--timing")
    assert len(out) == len(files)
    rows = stage_table(err)
    assert list(rows) == STAGES + ["total"]
    total_ms, per_msg, share = rows["total"]
    assert share == 100.0 and total_ms > 0
    assert abs(per_msg - total_ms / len(files)) < 0.01
    assert abs(sum(rows[s][0] for s in STAGES) - total_ms) < 0.5
    assert abs(sum(rows[s][2] for s in STAGES) - 100.0) < 1.0
    # these stages always do work on a real message; the per-message column
    # is read because it has four decimals: the header rules of
    # rules/default take a few microseconds per message, so their total over
    # 20 files can print as 0.0 on a fast machine
    for s in ("parse", "extract", "rules header", "rules body", "json"):
        assert rows[s][1] > 0, s
    assert re.search(r"scanned %d file\(s\) in [\d.]+ s: [\d.]+ ms per message" % len(files), err)
    # the same stages per message, summing to about its own scan time
    for line in out:
        o = json.loads(line)
        st = o["stages_ms"]
        assert set(st) <= set(STAGES) and st["rules body"] > 0
        inside = sum(v for k, v in st.items() if k != "json")
        assert inside <= o["time_real"] * 1e3 * 1.05 + 0.05


def test_no_timing_no_stages(filterd):
    files, out, err = scan(filterd)
    assert "stages_ms" not in json.loads(out[0])
    assert stage_table(err) == {}
