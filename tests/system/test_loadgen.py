"""bench/loadgen counts a reply that is not one whole JSON object as an
error, whether it checks the reply with its own scanner (load runs) or reads
its fields with jansson (-o): the figures bench/run prints are only worth
something if every counted success was a real answer (issue 8)."""
import http.server
import json
import subprocess
import threading
from pathlib import Path

import pytest

from conftest import CORPUS, FILTERD, free_port

LOADGEN = Path(FILTERD).resolve().parents[1] / "bench" / "loadgen"

GOOD = [
    b'{"score":1.5,"action":"no action","symbols":{"BAYES_HAM":{"score":-3.0}}}',
    b' {"a":[1,-2.5e+3,true,false,null,{"b":"x\\"y\\u00e9"}],"c":{}} ',
]
BAD = [
    b'{"score":1.5,"action":"no action"',       # cut short
    b'{"score":1.5}{"score":2}',                 # two values
    b'{"score":01}',                             # leading zero
    b'{"score":1,}',                             # trailing comma
    b'{"a":"\\q"}',                              # bad escape
    b'{"a":tru}',
    b'[1,2]',                                    # not an object
    b'{"a":"tab\tinside"}',                      # control character in a string
    b'{' * 100 + b'}' * 100,                     # objects without member names
]


class Replier(http.server.BaseHTTPRequestHandler):
    body = b"{}"

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *a):
        pass


@pytest.fixture
def server():
    port = free_port()
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), Replier)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv, port
    srv.shutdown()
    srv.server_close()


def run(port, body, tmp_path, with_fields):
    Replier.body = body
    files = sorted((CORPUS / "dev" / "ham").iterdir())[:3]
    cmd = [str(LOADGEN), "-j", "-p", str(port), "-c", "2"]
    if with_fields:
        cmd += ["-o", str(tmp_path / "out.tsv")]
    p = subprocess.run(cmd + [str(f) for f in files], capture_output=True, text=True,
                       timeout=60)
    return json.loads(p.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("with_fields", [False, True], ids=["scanner", "jansson"])
def test_whole_json_objects_pass(server, tmp_path, with_fields):
    for body in GOOD:
        s = run(server[1], body, tmp_path, with_fields)
        assert s["ok"] == 3 and s["errors"] == 0, (body, s)


@pytest.mark.parametrize("with_fields", [False, True], ids=["scanner", "jansson"])
def test_broken_replies_are_errors(server, tmp_path, with_fields):
    for body in BAD:
        s = run(server[1], body, tmp_path, with_fields)
        assert s["ok"] == 0 and s["error_kinds"].get("bad_reply") == 3, (body, s)
