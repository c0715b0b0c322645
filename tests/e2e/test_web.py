"""agentctl compare and agentctl serve over a store of windows (the daemon's output directory
layout, written here with known stacks): compare prints what diff prints for the merged ranges,
the JSON API's shares are those of `agentctl merge`, bad requests get clear errors and no crash,
and the page works in real Chromium (playwright-core from npm). Screenshots go to
build/test-artifacts/."""
import calendar
import collections
import gzip
import json
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from conftest import AGENTCTL, REPO, npm_packages, run_agentctl
from formats.cdp import find_chromium

BUILD = os.path.join(REPO, "build")
ARTIFACTS = os.path.join(BUILD, "test-artifacts")
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
NPM_PACKAGES = {"playwright-core": "1.65.2"}

BASE_RANGE = "2026-12-01T10:00Z/5m"
NEW_RANGE = "2026-12-02T10:00Z/5m"
HOST = "web-1"


def stacks(f_share, n=200):
    """One window's stacks: handle() calls f (its share set here) or g, under main."""
    f = round(n * f_share)
    return {
        "app (100);main (/srv/app.py:1);handle (/srv/app.py:10);f (/srv/app.py:20)": f - f // 4,
        "app (100);main (/srv/app.py:1);handle (/srv/app.py:11);f (/srv/app.py:21)": f // 4,
        "app (100);main (/srv/app.py:1);handle (/srv/app.py:12);g (/srv/app.py:30)": n - f,
        "app (100);main (/srv/app.py:1);h (/srv/app.py:40)": 7,
    }


def folded(st):
    return "".join("%s %d\n" % (k, v) for k, v in sorted(st.items()) if v)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """Five 60 s windows a day apart, f's share 30% then 70%; plain, gzipped, and one written
    in pprof too (folded is read); another host, an offcpu window, other files around."""
    d = tmp_path_factory.mktemp("store")
    files = {"base": [], "new": []}
    for day, share, which in ((1, 0.3, "base"), (2, 0.7, "new")):
        for minute in range(5):
            name = "%s_202612%02dT10%02d00Z_cpu.folded" % (HOST, day, minute)
            text = folded(stacks(share + 0.01 * minute))
            if minute == 3:
                name += ".gz"
                (d / name).write_bytes(gzip.compress(text.encode()))
            else:
                (d / name).write_text(text)
            files[which].append(str(d / name))
    # the same window in pprof too: one file per window is read
    r = run_agentctl("convert", files["base"][0], "--format", "pprof", "-o",
                     str(d / ("%s_20261201T100000Z_cpu.pb.gz" % HOST)))
    assert r.rc == EXIT_OK, r.describe()
    (d / ("%s_20261201T100000Z_offcpu.folded" % HOST)).write_text("app (100);main (/srv/app.py:1) 5000\n")
    (d / ("%s_20261201T100000Z_cpu.svg" % HOST)).write_text("<svg/>")
    (d / "db_1_20261201T100000Z_cpu.folded").write_text(folded(stacks(0.5)))
    (d / "notes.txt").write_text("not a window\n")
    # a corrupt window, on a day of its own
    (d / ("%s_20261203T100000Z_cpu.folded" % HOST)).write_text("app (100);main (/srv/app.py:1) ten\n")
    return str(d), files


def merged(paths, out):
    r = run_agentctl("merge", *paths, "-o", out)
    assert r.rc == EXIT_OK, r.describe()
    return out


# ---------------------------------------------------------------------------------------------
# agentctl compare


@pytest.mark.parametrize("fail_above,rc", [("5", EXIT_FAILED), ("60", EXIT_OK)])
def test_compare_prints_what_diff_prints_for_the_merged_ranges(store, tmp_path, fail_above, rc):
    d, files = store
    base = merged(files["base"], str(tmp_path / "base.folded"))
    new = merged(files["new"], str(tmp_path / "new.folded"))
    want = run_agentctl("diff", base, new, "--top", "3", "--fail-above", fail_above)
    got = run_agentctl("compare", "--from", d, "--host", HOST, "--base", BASE_RANGE, "--new",
                       NEW_RANGE, "--top", "3", "--fail-above", fail_above)
    assert want.rc == rc and got.rc == rc, got.describe()
    assert got.stdout == want.stdout
    assert got.stderr == want.stderr.replace("agentctl diff:", "agentctl compare:")
    assert "f (/srv/app.py)" in got.stdout


def test_compare_svg_is_diffs_svg(store, tmp_path):
    d, files = store
    base = merged(files["base"], str(tmp_path / "base.folded"))
    new = merged(files["new"], str(tmp_path / "new.folded"))
    assert run_agentctl("diff", base, new, "--format", "svg", "-o", str(tmp_path / "d.svg")).rc == 0
    r = run_agentctl("compare", "--from", d, "--host", HOST, "--base", BASE_RANGE, "--new",
                     NEW_RANGE, "--format", "svg", "-o", str(tmp_path / "c.svg"))
    assert r.rc == EXIT_OK, r.describe()
    assert (tmp_path / "c.svg").read_bytes() == (tmp_path / "d.svg").read_bytes()


@pytest.mark.parametrize("args,needle", [
    (["--base", "2026-12-01T10:00Z/1x"], "--base: expected START/DURATION"),
    (["--base", "2026-12-01T10:00Z/400d"], "--base: expected START/DURATION"),
    (["--base", "2026-12-01 10:00/1h"], "--base: expected START/DURATION"),
    (["--host", "../etc"], "--host: expected a host name"),
    (["--host", "a/b"], "--host: expected a host name"),
    (["--kind", "disk"], "--kind: expected cpu, offcpu or wall"),
    (["--fail-above", "x"], "--fail-above: expected"),
    (["--format", "pprof"], "--format: expected text or svg"),
])
def test_compare_usage_errors_exit_2(store, args, needle):
    d, _ = store
    argv = {"--from": d, "--host": HOST, "--base": BASE_RANGE, "--new": NEW_RANGE}
    for i in range(0, len(args), 2):
        argv[args[i]] = args[i + 1]
    r = run_agentctl("compare", *[x for kv in argv.items() for x in kv])
    assert r.rc == EXIT_USAGE, r.describe()
    assert needle in r.stderr, r.describe()


def test_compare_two_hosts_over_one_range_is_diff_of_their_windows(store, server):
    d, files = store
    one = "2026-12-01T10:00Z/1m"
    want = run_agentctl("diff", files["base"][0], os.path.join(d, "db_1_20261201T100000Z_cpu.folded"))
    got = run_agentctl("compare", "--from", d, "--host", HOST, "--new-host", "db_1", "--base",
                       one, "--new", one)
    assert got.rc == want.rc == EXIT_OK and got.stdout == want.stdout, got.describe()
    j = server.json("/api/compare" + q(host=HOST, new_host="db_1", base=one, new=one))
    assert j["total_grew"][0]["name"] in got.stdout.split("Total share grew the most:")[1]
    assert "%+.2fpp" % j["total_grew"][0]["total_change"] in got.stdout
    r = run_agentctl("compare", "--from", d, "--host", HOST, "--new-host", "../db", "--base",
                     one, "--new", one)
    assert r.rc == EXIT_USAGE and "--new-host: expected a host name" in r.stderr
    code, _, body = server.get("/api/compare" + q(host=HOST, new_host="a/b", base=one, new=one))
    assert code == 400 and b"new_host: expected a host name" in body


def test_compare_without_host_or_range_is_a_usage_error(store):
    d, _ = store
    r = run_agentctl("compare", "--from", d, "--base", BASE_RANGE, "--new", NEW_RANGE)
    assert r.rc == EXIT_USAGE and "--host is required" in r.stderr, r.describe()
    r = run_agentctl("compare", "--from", d, "--host", HOST, "--base", BASE_RANGE)
    assert r.rc == EXIT_USAGE and "--base and --new are required" in r.stderr, r.describe()


def test_compare_range_without_windows_fails_naming_it(store):
    d, _ = store
    r = run_agentctl("compare", "--from", d, "--host", HOST, "--base", "2026-11-01T10:00Z/1h",
                     "--new", NEW_RANGE)
    assert r.rc == EXIT_FAILED, r.describe()
    assert "base range 2026-11-01T10:00:00Z/3600s: no cpu windows of host web-1" in r.stderr
    r = run_agentctl("compare", "--from", d, "--host", "nosuchhost", "--base", BASE_RANGE,
                     "--new", NEW_RANGE)
    assert r.rc == EXIT_FAILED and "no cpu windows of host nosuchhost" in r.stderr, r.describe()


def test_compare_corrupt_window_fails_naming_file_and_line(store):
    d, _ = store
    r = run_agentctl("compare", "--from", d, "--host", HOST, "--base", BASE_RANGE, "--new",
                     "2026-12-03T10:00Z/1h")
    assert r.rc == EXIT_FAILED, r.describe()
    assert "web-1_20261203T100000Z_cpu.folded: line 1:" in r.stderr, r.describe()


def test_compare_reads_the_kind_asked_for(store):
    d, _ = store
    r = run_agentctl("compare", "--from", d, "--host", HOST, "--kind", "offcpu", "--base",
                     "2026-12-01T10:00Z/1m", "--new", "2026-12-01T10:00Z/1m")
    assert r.rc == EXIT_OK, r.describe()
    assert "base: 5000, new: 5000" in r.stdout


# ---------------------------------------------------------------------------------------------
# agentctl serve


class Server:
    """agentctl serve on a port the kernel picks, stopped (and killed if need be) at the end.
    directory: --from (None: none, as with --config in extra)."""

    def __init__(self, directory, listen="127.0.0.1:0", env=None, log=None, extra=()):
        self.log = open(log or os.path.join(directory + ".serve.log"), "w+")
        self.proc = subprocess.Popen([AGENTCTL, "serve", "--listen", listen]
                                     + (["--from", directory] if directory else []) + list(extra),
                                     stdout=subprocess.DEVNULL, stderr=self.log, env=env)
        deadline = time.monotonic() + 10
        self.url = None
        while time.monotonic() < deadline and self.url is None:
            self.log.seek(0)
            m = re.search(r"on (http://\S+/)", self.log.read())
            if m:
                self.url = m.group(1)
            elif self.proc.poll() is not None:
                break
            else:
                time.sleep(0.05)
        if self.url is None:
            self.stop()
            pytest.fail("agentctl serve did not start: " + self.stderr())

    def stderr(self):
        self.log.seek(0)
        return self.log.read()

    def get(self, path, method="GET", data=None):
        req = urllib.request.Request(self.url.rstrip("/") + path, method=method, data=data)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def json(self, path, status=200):
        code, _, body = self.get(path)
        assert code == status, "%s: %d %s" % (path, code, body[:500])
        return json.loads(body)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


@pytest.fixture(scope="module")
def server(store):
    s = Server(store[0])
    yield s
    rc = s.proc.poll()
    s.stop()
    assert rc is None, "agentctl serve exited during the tests (%s)" % rc
    assert s.proc.returncode == 0, "agentctl serve did not stop cleanly on SIGTERM"


def q(**kw):
    return "?" + urllib.parse.urlencode(kw)


def shares_of(folded_text):
    """Each function's self and total share, by diff's rules: lines aggregated, the process
    frame (the root) left out, a function counted once per stack."""
    self_w, total_w, total = collections.Counter(), collections.Counter(), 0
    for line in folded_text.splitlines():
        stack, w = line.rsplit(" ", 1)
        w = int(w)
        total += w
        fns = [re.sub(r":\d+\)$", ")", f) for f in stack.split(";")[1:]]
        for fn in set(fns):
            total_w[fn] += w
        self_w[fns[-1]] += w
    return {fn: (100.0 * self_w[fn] / total, 100.0 * total_w[fn] / total) for fn in total_w}


def test_hosts_and_timeline_list_the_windows(server, store):
    hosts = server.json("/api/hosts")["hosts"]
    assert [h["name"] for h in hosts] == ["db_1", HOST]
    tl = server.json("/api/windows" + q(host=HOST))
    starts = [w["start"] for w in tl["windows"]]
    assert starts[:5] == ["2026-12-01T10:%02d:00Z" % m for m in range(5)]
    assert len(starts) == 11  # 5 + 5 + the corrupt one; the pprof twin counted once
    for w, path in zip(tl["windows"], store[1]["base"] + store[1]["new"]):
        assert w["name"] == os.path.basename(path)
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rt") as f:
            assert w["samples"] == sum(int(l.rsplit(" ", 1)[1]) for l in f)
    assert tl["windows"][-1]["samples"] is None and tl["windows"][-1]["error"]
    off = server.json("/api/windows" + q(host=HOST, kind="offcpu"))["windows"]
    assert [w["samples"] for w in off] == [5000]


def test_profile_shares_match_agentctl_merge(server, store, tmp_path):
    merged(store[1]["base"], str(tmp_path / "m.folded"))
    want = shares_of((tmp_path / "m.folded").read_text())
    got = server.json("/api/profile" + q(host=HOST, range=BASE_RANGE))
    assert got["windows"] == 5 and got["range"] == "2026-12-01T10:00:00Z/300s"
    assert got["functions_count"] == len(want)
    assert {f["name"] for f in got["functions"]} == set(want)
    for f in got["functions"]:
        assert abs(f["self"] - want[f["name"]][0]) < 1e-4, f
        assert abs(f["total"] - want[f["name"]][1]) < 1e-4, f
    assert [f["total"] for f in got["functions"]] == sorted(
        (f["total"] for f in got["functions"]), reverse=True)


def test_filters_keep_the_stacks_of_a_process_thread_or_container(tmp_path):
    lines = {
        "web (1);thread 11 (MainThread);main (/w.py:1);serve (/w.py:5)": 60,
        "web (1);thread 12 (pool-1);main (/w.py:1);query (/w.py:9)": 20,
        "worker (2);thread 21 (MainThread);[container abc123];run (/k.py:3)": 20,
    }
    d = tmp_path / "fstore"
    d.mkdir()
    (d / "h_20261201T100000Z_cpu.folded").write_text(folded(lines))
    s = Server(str(d))
    try:
        sel = dict(host="h", range="2026-12-01T10:00Z/1m")
        for flt, keep in ((dict(comm="web"), 0.8), (dict(thread="pool"), 0.2),
                          (dict(container="abc"), 0.2), (dict(comm="web", thread="Main"), 0.6)):
            kept = {k: v for k, v in lines.items()
                    if all(any(f.startswith(pre) and val in f for f in k.split(";"))
                           for pre, val in ((p, flt[n]) for n, p in (
                               ("comm", ""), ("thread", "thread "), ("container", "[container "))
                               if n in flt))}
            j = s.json("/api/profile" + q(**sel, **flt))
            assert j["total"] == round(100 * keep), (flt, j)
            want = shares_of(folded(kept))
            for f in j["functions"]:
                assert abs(f["total"] - want[f["name"]][1]) < 1e-4, (flt, f)
            code, _, body = s.get("/api/profile" + q(format="folded", **sel, **flt))
            assert code == 200 and body.decode() == folded(kept)
        code, _, body = s.get("/api/profile" + q(comm="nosuch", **sel))
        assert code == 404 and b"no stacks of the selection match the filter" in body
        j = s.json("/api/compare" + q(host="h", base=sel["range"], new=sel["range"], comm="web"))
        assert j["base"]["total"] == j["new"]["total"] == 80
    finally:
        s.stop()


def test_downloads_are_the_merged_profile(server, store, tmp_path):
    sel = dict(host=HOST, range=BASE_RANGE)
    code, headers, body = server.get("/api/profile" + q(format="folded", download=1, **sel))
    assert code == 200
    assert 'filename="web-1_1796119200-300s_cpu.folded"' in headers["Content-Disposition"]
    merged(store[1]["base"], str(tmp_path / "m.folded"))
    assert body.decode() == (tmp_path / "m.folded").read_text()
    code, headers, body = server.get("/api/profile" + q(format="pprof", download=1, **sel))
    assert code == 200 and body[:2] == b"\x1f\x8b" and "pb.gz" in headers["Content-Disposition"]
    (tmp_path / "d.pb.gz").write_bytes(body)
    back = run_agentctl("convert", str(tmp_path / "d.pb.gz"), "--format", "folded")
    assert back.rc == EXIT_OK and back.stdout == body_folded(server, sel)
    code, _, body = server.get("/api/profile" + q(format="speedscope", **sel))
    assert code == 200 and "speedscope" in json.loads(body)["$schema"]
    code, headers, body = server.get("/api/profile" + q(format="svg", **sel))
    assert code == 200 and headers["Content-Type"] == "image/svg+xml" and b"<svg" in body[:400]


def pprof_flat(path, tmp_path):
    """Each function's (name without file) flat share in `go tool pprof -top` of path."""
    go = shutil.which("go") or "/usr/bin/go"
    if not os.access(go, os.X_OK):
        pytest.fail("go is not installed (Debian golang-go is in DEB_TEST: run make deps)")
    home = str(tmp_path / "gohome")
    env = dict(os.environ, HOME=home, GOCACHE=os.path.join(home, "cache"), GOFLAGS="",
               GOPROXY="off", GOTOOLCHAIN="local", GOTELEMETRY="off")
    r = subprocess.run([go, "tool", "pprof", "-top", "-nodefraction=0", path],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    flat = {}
    for line in r.stdout.splitlines():
        m = re.match(r"\s*\S+\s+([\d.]+)%\s+\S+\s+\S+\s+[\d.]+%\s+(.+)$", line)
        if m:
            flat[m.group(2)] = float(m.group(1))
    return flat


def test_downloaded_pprof_opens_in_go_tool_pprof_with_the_tables_shares(server, tmp_path):
    sel = dict(host=HOST, range=BASE_RANGE)
    code, _, body = server.get("/api/profile" + q(format="pprof", download=1, **sel))
    assert code == 200
    (tmp_path / "sel.pb.gz").write_bytes(body)
    flat = pprof_flat(str(tmp_path / "sel.pb.gz"), tmp_path)
    table = {f["name"].split(" (")[0]: f["self"]
             for f in server.json("/api/profile" + q(**sel))["functions"]}
    for fn in ("f", "g", "h"):
        assert abs(flat[fn] - table[fn]) < 0.01, (fn, flat, table)


def body_folded(server, sel):
    return server.get("/api/profile" + q(format="folded", **sel))[2].decode()


def grew_rows(report):
    """The rows of a diff report's "Total share grew the most" list: (total change, self change,
    base total, new total, base self, new self, function), as printed."""
    section = report.split("Total share grew the most:")[1].split("\n\n")[0]
    return re.findall(r"([+-]\d+\.\d\d)pp\s+([+-]\d+\.\d\d)pp\s+(\d+\.\d\d)% ->\s+(\d+\.\d\d)%.*?"
                      r"(\d+\.\d\d)% ->\s+(\d+\.\d\d)%  (.+)", section)


def test_compare_api_gives_compares_numbers(server, store):
    j = server.json("/api/compare" + q(host=HOST, base=BASE_RANGE, new=NEW_RANGE))
    r = run_agentctl("compare", "--from", store[0], "--host", HOST, "--base", BASE_RANGE,
                     "--new", NEW_RANGE, "--top", "500")
    assert r.rc == EXIT_OK, r.describe()
    rows = grew_rows(r.stdout)
    assert rows and len(rows) == len(j["total_grew"])
    assert j["total_grew"][0]["name"] == "f (/srv/app.py)"
    for row, g in zip(rows, j["total_grew"]):
        assert row[6] == g["name"]
        assert row[0] == "%+.2f" % g["total_change"] and row[1] == "%+.2f" % g["self_change"]
        assert row[2:4] == ("%.2f" % g["base_total"], "%.2f" % g["new_total"])
    assert j["base"]["windows"] == 5 and j["new"]["windows"] == 5
    code, headers, body = server.get("/api/compare" + q(host=HOST, base=BASE_RANGE,
                                                        new=NEW_RANGE, format="svg"))
    assert code == 200 and b"<svg" in body[:400]


@pytest.mark.parametrize("path,status,needle", [
    ("/api/profile" + q(host="..", range=BASE_RANGE), 400, "host: expected a host name"),
    ("/api/profile?host=%2e%2e&range=" + BASE_RANGE, 400, "host: expected a host name"),
    ("/api/profile?host=a%2fb&range=" + BASE_RANGE, 400, "host: expected a host name"),
    ("/api/profile" + q(host="../../etc/passwd", range=BASE_RANGE), 400, "host"),
    ("/api/profile" + q(host=HOST), 400, "range: expected START/DURATION"),
    ("/api/profile" + q(host=HOST, range="2026-12-01T10:00Z/9999d"), 400, "at most a year"),
    ("/api/profile" + q(host=HOST, range="yesterday"), 400, "range: expected"),
    ("/api/profile" + q(host=HOST, range=BASE_RANGE, kind="disk"), 400, "kind: expected"),
    ("/api/profile" + q(host=HOST, range=BASE_RANGE, format="exe"), 400, "format: expected"),
    ("/api/profile" + q(host=HOST, range="2026-11-01T10:00Z/1h"), 404,
     "no cpu windows of host web-1 in 2026-11-01T10:00:00Z/3600s"),
    ("/api/profile" + q(host=HOST, range="2026-12-03T10:00Z/1h"), 500,
     "cannot read window web-1_20261203T100000Z_cpu.folded: line 1"),
    ("/api/compare" + q(host=HOST, base=BASE_RANGE, new="2026-12-03T10:00Z/1h"), 500,
     "web-1_20261203T100000Z_cpu.folded"),
    ("/api/profile" + q(host="h" * 300, range=BASE_RANGE), 413, "longer than 256 bytes"),
    ("/../../etc/passwd", 404, "no such page"),
    ("/api/windows" + q(host=".hidden"), 400, "host"),
])
def test_bad_requests_get_clear_errors(server, store, path, status, needle):
    code, headers, body = server.get(path)
    assert code == status, body
    err = json.loads(body)["error"]
    assert needle in err
    assert store[0] not in err  # where the store lives is not the page's business
    assert server.proc.poll() is None


def test_oversized_and_write_requests_are_refused(server):
    code, _, _ = server.get("/api/hosts" + q(x="a" * 40000))
    assert code in (413, 414, 431)
    code, _, body = server.get("/api/hosts", method="POST", data=b"x" * 1000)
    assert code in (405, 413), body
    code, _, body = server.get("/api/hosts", method="DELETE")
    assert code == 405 and b"read-only" in body
    assert server.proc.poll() is None
    assert server.json("/api/hosts")["hosts"]  # still serving


def test_page_is_self_contained(server):
    code, headers, body = server.get("/")
    assert code == 200 and headers["Content-Type"].startswith("text/html")
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    page = body.decode()
    # no resource from anywhere but this server: the only URL is the SVG namespace
    assert set(re.findall(r"https?://[^\s'\"<>)]+", page)) <= {"http://www.w3.org/2000/svg"}
    assert "/api/profile" in page and "/api/compare" in page


def test_serve_usage_and_unreadable_directory(tmp_path):
    r = run_agentctl("serve")
    assert r.rc == EXIT_USAGE and "usage: agentctl serve --from DIR" in r.stderr
    r = run_agentctl("serve", "--from", str(tmp_path), "--listen", "localhost")
    assert r.rc == EXIT_USAGE and "--listen: expected ADDRESS:PORT" in r.stderr
    r = run_agentctl("serve", "--from", str(tmp_path / "missing"), "--listen", "127.0.0.1:0")
    assert r.rc == EXIT_FAILED and "No such file or directory" in r.stderr


def test_serve_beyond_loopback_warns_of_no_authentication(store):
    s = Server(store[0], listen="0.0.0.0:0")
    try:
        assert "no authentication" in s.stderr()
    finally:
        s.stop()


# ---------------------------------------------------------------------------------------------
# The page in real Chromium


@pytest.fixture(scope="module")
def playwright_modules():
    """build/npm with playwright-core (the driver only: the browser is Debian's chromium)."""
    modules, why = npm_packages(NPM_PACKAGES)
    if why:
        pytest.skip("playwright-core is unavailable, so the page is not tried in a browser: " + why)
    if not find_chromium():
        pytest.fail("chromium is not installed (Debian chromium is in DEB_TEST: run make deps)")
    return modules


def browse(modules, url, host, base, new, **opts):
    """What browse.mjs saw of the page at url in Chromium (its options: windows, fnsearch,
    zoom, shots)."""
    os.makedirs(ARTIFACTS, exist_ok=True)
    script = os.path.join(REPO, "tests", "e2e", "web", "browse.mjs")
    p = subprocess.Popen(["node", script, modules, url, host, base, new, ARTIFACTS,
                          json.dumps(opts)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, start_new_session=True)
    try:
        out, err = p.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)  # node and the chromium it started
        p.communicate()
        pytest.fail("the browser test did not finish within 120 s")
    # a failed wait: browse.mjs printed what the page showed and the API's answers first
    shown = [l for l in err.splitlines() if l.startswith("{")]
    assert p.returncode == 0, "\n".join(shown[-1:] + [err[-1500:]])
    seen = json.loads(out.strip().splitlines()[-1])
    assert seen["outside"] == [] and seen["page_errors"] == []
    # the host's windows came while the user was in the empty range field: left empty for them
    assert seen["range_left_to_user"] == "", seen
    # the one error the page meets on purpose: the range without windows at the end (404)
    assert all("404" in e for e in seen["console_errors"]) and len(seen["console_errors"]) <= 1, seen
    assert "no cpu windows" in seen["error_text"]
    # the table's click on the function searched for zooms the graph to its widest frame
    assert abs(seen["focus_width"] - 1180) < 1, seen
    for shot in ("profile", "focus", "zoomed", "compare"):
        assert os.path.getsize(os.path.join(ARTIFACTS, "%s-%s.png" % (opts["shots"], shot))) > 10000
    return seen


def test_page_in_chromium_shows_flame_graph_table_and_compare(server, playwright_modules):
    seen = browse(playwright_modules, server.url, HOST, BASE_RANGE, NEW_RANGE, windows=11,
                  fnsearch="handle", zoom="g (/srv/app.py:30)", shots="web")
    assert seen["hosts"] == ["db_1", HOST] and seen["timeline_bars"] == 11
    assert "5 windows" in seen["summary"]
    table = {row[0]: row for row in seen["table"]}
    api = {f["name"]: f for f in server.json("/api/profile" + q(host=HOST, range=BASE_RANGE))["functions"]}
    for name, f in api.items():
        assert table[name][2] == "%.2f%%" % f["total"] and table[name][1] == "%.2f%%" % f["self"]
    assert any(t.startswith("f (") or t.startswith("handle") for t in seen["graph_frames"])
    assert seen["search"] == seen["table"][0][0].split(" (")[0]
    assert seen["filtered"] == ["handle (/srv/app.py)"] and seen["graph_search"] == "handle"
    # a click on g's frame zooms it to the graph's full width (1200 px less the margins)
    assert seen["g_width_before"] < 1000 and abs(seen["g_width_zoomed"] - 1180) < 1, seen
    assert seen["compare_table"][0][0] == "f (/srv/app.py)"
    grew = server.json("/api/compare" + q(host=HOST, base=BASE_RANGE, new=NEW_RANGE))["total_grew"][0]
    assert seen["compare_table"][0][1] == "%+.2fpp" % grew["total_change"]
    assert any("base" in t and "-> new" in t for t in seen["diff_frames"])
    assert seen["download_name"].endswith(".pb.gz")
    assert os.path.getsize(seen["download"]) > 100


def test_a_window_written_again_is_read_again(store, tmp_path):
    """The server keeps merges and totals between requests, keyed by each file's name, size and
    modification time: a window rewritten in place is not served from the cache."""
    d = tmp_path / "store"
    shutil.copytree(store[0], d)
    s = Server(str(d))
    try:
        sel = "/api/profile" + q(host=HOST, range=BASE_RANGE)
        first = s.json(sel)
        assert s.json(sel) == first  # served again, from the cache
        windows = s.json("/api/windows" + q(host=HOST))["windows"]
        victim = d / windows[0]["name"]
        victim.write_text("app (100);main (/srv/app.py:1);z (/srv/z.py:1) 1000\n")
        again = s.json(sel)
        assert again["total"] == first["total"] - windows[0]["samples"] + 1000
        assert "z (/srv/z.py)" in {f["name"] for f in again["functions"]}
        assert s.json("/api/windows" + q(host=HOST))["windows"][0]["samples"] == 1000
    finally:
        s.stop()
    assert s.proc.returncode == 0


# ---------------------------------------------------------------------------------------------
# agentctl compare --from s3://


S3_BUCKET, S3_SECRET = "fleet-profiles", "compare-secret-not-for-logs"


@pytest.fixture
def s3_store(store, tmp_path):
    """The store's windows under s3://fleet-profiles/pyprof/ as the uploader keys them, in
    s3rver, behind the front that checks every request's SigV4 signature."""
    from conftest import free_port
    from s3.front import S3Front
    from s3.store import ACCESS_KEY, S3rver, ensure_s3rver

    ensure_s3rver()
    s3 = S3rver(str(tmp_path / "s3data"), S3_BUCKET, free_port())
    s3.start()
    front = S3Front(free_port(), s3.port, S3_SECRET, "us-east-1", ACCESS_KEY)
    front.start()
    try:
        for path in store[1]["base"] + store[1]["new"] + [
                os.path.join(store[0], "web-1_20261203T100000Z_cpu.folded")]:
            m = re.match(r"(.+)_(\d{4})(\d\d)(\d\d)T(\d{6})Z_(\w+)\.folded", os.path.basename(path))
            host, y, mo, d, hms, kind = m.groups()
            data = open(path, "rb").read()
            if not path.endswith(".gz"):
                data = gzip.compress(data)
            key = "pyprof/%s/%s/%s/%s/%sZ-%s.folded.gz" % (host, y, mo, d, hms, kind)
            req = urllib.request.Request("http://127.0.0.1:%d/%s/%s" % (s3.port, S3_BUCKET, key),
                                         data=data, method="PUT")
            urllib.request.urlopen(req, timeout=10).close()
        # s3rver (its filesystem walk, lib/stores/filesystem.js) prunes folders under a common
        # prefix before it sees their objects, so a delimited listing names a host's folder only
        # when an object sits directly in it (S3 itself lists it anyway): one is put there,
        # which is no window and must never be fetched
        req = urllib.request.Request("http://127.0.0.1:%d/%s/pyprof/%s/README" % (
            s3.port, S3_BUCKET, HOST), data=b"not a window", method="PUT")
        urllib.request.urlopen(req, timeout=10).close()
        # a key outside the day's folder, which must never be fetched
        req = urllib.request.Request("http://127.0.0.1:%d/%s/pyprof/web-1/2026/12/01/x/100000Z-cpu.folded.gz"
                                     % (s3.port, S3_BUCKET), data=b"junk", method="PUT")
        urllib.request.urlopen(req, timeout=10).close()
        env = dict(os.environ, AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=S3_SECRET,
                   AWS_ENDPOINT_URL="http://127.0.0.1:%d" % front.port, AWS_REGION="us-east-1",
                   XDG_CACHE_HOME=str(tmp_path / "cache"))
        env.pop("AWS_SESSION_TOKEN", None)
        yield env, front
    finally:
        front.stop()
        s3.stop()
    for r in front.requests:  # the secret itself never travels
        assert S3_SECRET not in repr(r.headers)


def run_env(env, *args):
    p = subprocess.run([AGENTCTL] + [str(a) for a in args],
                       capture_output=True, text=True, timeout=120, env=env)
    assert 0 <= p.returncode < 128, p.stderr
    return p


def test_compare_from_s3_prints_what_it_prints_from_a_directory(store, s3_store, tmp_path):
    env, front = s3_store
    args = ["--host", HOST, "--base", BASE_RANGE, "--new", NEW_RANGE, "--fail-above", "5"]
    local = run_agentctl("compare", "--from", store[0], *args)
    remote = run_env(env, "compare", "--from", "s3://%s/pyprof/" % S3_BUCKET, *args)
    assert remote.returncode == local.rc == EXIT_FAILED, remote.stderr
    assert remote.stdout == local.stdout
    assert "FAIL: 'f (/srv/app.py)'" in remote.stderr
    assert front.requests and all(not r.problem for r in front.requests), \
        [(r.path, r.problem) for r in front.requests if r.problem]
    gets = [r.path for r in front.requests if "list-type" not in r.path]
    assert len(gets) == 10 and not any("/x/" in g for g in gets)
    assert S3_SECRET not in remote.stderr
    # a second run reads the cache: listings only, no object fetched again
    n = len(front.requests)
    again = run_env(env, "compare", "--from", "s3://%s/pyprof" % S3_BUCKET, *args)
    assert again.stdout == local.stdout
    assert all("list-type" in r.path for r in front.requests[n:])


def s3_config(path, env, cred_file):
    """A daemon config whose upload.s3 names s3_store's endpoint, bucket and prefix, and
    cred_file (written here with env's keys)."""
    with open(cred_file, "w") as f:
        f.write("[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n"
                % (env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]))
    with open(path, "w") as f:
        f.write("upload:\n  s3:\n    enabled: true\n    endpoint: %s\n    region: us-east-1\n"
                "    bucket: %s\n    prefix: pyprof/\n    path_style: true\n"
                "    credentials:\n      file: %s\n" % (env["AWS_ENDPOINT_URL"], S3_BUCKET, cred_file))
    return path


def test_compare_and_serve_take_s3_settings_from_the_daemons_config(store, s3_store, tmp_path):
    """--config: endpoint, path style, region and credentials file from upload.s3, and without
    --from its bucket and prefix too; the environment's endpoint and keys are not needed."""
    env, front = s3_store
    config = s3_config(str(tmp_path / "agent.yaml"), env, str(tmp_path / "credentials"))
    bare = {k: v for k, v in env.items() if not k.startswith("AWS_")}
    args = ["--host", HOST, "--base", BASE_RANGE, "--new", NEW_RANGE]
    local = run_agentctl("compare", "--from", store[0], *args)
    r = run_env(bare, "compare", "--config", config, *args)
    assert r.returncode == local.rc == EXIT_OK, r.stderr
    assert r.stdout == local.stdout and "from s3://fleet-profiles/pyprof/" in r.stderr, r.stderr
    # --from names another prefix of the same bucket: the config gives only the settings
    r = run_env(bare, "compare", "--config", config, "--from", "s3://%s/other/" % S3_BUCKET,
                "--cache", str(tmp_path / "c2"), *args)
    assert r.returncode == EXIT_FAILED and "no cpu windows of host web-1" in r.stderr, r.stderr
    # a config that does not load: its own message, exit 1; neither --from nor --config: 2
    (tmp_path / "bad.yaml").write_text("upload:\n  s3:\n    endpoint: ftp://x\n")
    r = run_env(bare, "compare", "--config", str(tmp_path / "bad.yaml"), *args)
    assert r.returncode == EXIT_FAILED and "--config: upload.s3.endpoint" in r.stderr, r.stderr
    r = run_env(bare, "compare", *args)
    assert r.returncode == EXIT_USAGE and "--from DIR|s3://BUCKET/PREFIX/ or --config" in r.stderr
    s = Server(None, env=bare, log=str(tmp_path / "serve.log"),
               extra=["--config", config, "--cache", str(tmp_path / "c3")])
    try:
        assert [h["name"] for h in s.json("/api/hosts")["hosts"]] == [HOST]
        path = "/api/profile" + q(host=HOST, range=BASE_RANGE)
        local = Server(store[0], log=str(tmp_path / "local.log"))
        try:
            assert s.json(path) == local.json(path)
        finally:
            local.stop()
    finally:
        s.stop()
    assert all(not r.problem for r in front.requests), [r.problem for r in front.requests]
    assert S3_SECRET not in open(str(tmp_path / "serve.log")).read()


def test_compare_from_s3_names_what_failed(store, s3_store, tmp_path):
    env, front = s3_store
    r = run_env(env, "compare", "--from", "s3://%s/pyprof/" % S3_BUCKET, "--host", HOST,
                "--base", BASE_RANGE, "--new", "2026-12-03T10:00Z/1h")
    assert r.returncode == EXIT_FAILED
    assert "web-1_20261203T100000Z_cpu.folded.gz: line 1" in r.stderr, r.stderr
    r = run_env(dict(env, AWS_SECRET_ACCESS_KEY="wrong"), "compare", "--from",
                "s3://%s/pyprof/" % S3_BUCKET, "--host", HOST, "--base", BASE_RANGE,
                "--new", NEW_RANGE, "--cache", str(tmp_path / "other"))
    assert r.returncode == EXIT_FAILED
    assert "cannot list s3://fleet-profiles/pyprof/web-1/2026/12/01/" in r.stderr, r.stderr
    assert "403" in r.stderr and "wrong" not in r.stderr
    r = run_env(dict(env, AWS_ENDPOINT_URL="http://127.0.0.1:1"), "compare", "--from",
                "s3://%s/pyprof/" % S3_BUCKET, "--host", HOST, "--base", BASE_RANGE,
                "--new", NEW_RANGE, "--cache", str(tmp_path / "other2"))
    assert r.returncode == EXIT_FAILED and "cannot list" in r.stderr, r.stderr


def test_serve_from_s3_gives_what_it_gives_from_a_directory(server, s3_store, tmp_path):
    env, front = s3_store
    s = Server("s3://%s/pyprof/" % S3_BUCKET, env=env, log=str(tmp_path / "serve.log"))
    try:
        assert [h["name"] for h in s.json("/api/hosts")["hosts"]] == [HOST]
        for path in ("/api/profile" + q(host=HOST, range=BASE_RANGE),
                     "/api/compare" + q(host=HOST, base=BASE_RANGE, new=NEW_RANGE)):
            assert s.json(path) == server.json(path)
        code, _, body = s.get("/api/profile" + q(host=HOST, range=NEW_RANGE, format="folded"))
        assert code == 200 and body == server.get("/api/profile" + q(
            host=HOST, range=NEW_RANGE, format="folded"))[2]
        # the whole timeline: every window of the host fetched, the corrupt one shown as such
        remote = s.json("/api/windows" + q(host=HOST))["windows"]
        local = server.json("/api/windows" + q(host=HOST))["windows"]
        assert [(w["start"], w["samples"]) for w in remote] == \
            [(w["start"], w["samples"]) for w in local]
        code, _, body = s.get("/api/profile" + q(host=HOST, range="2026-12-03T10:00Z/1h"))
        assert code == 500 and b"web-1_20261203T100000Z_cpu.folded.gz: line 1" in body
        assert s.proc.poll() is None
        assert not any("README" in r.path or "/x/" in r.path for r in front.requests
                       if "list-type" not in r.path)
    finally:
        s.stop()
    assert all(not r.problem for r in front.requests), [r.problem for r in front.requests]
    assert S3_SECRET not in open(str(tmp_path / "serve.log")).read()


def test_serve_from_an_unreachable_s3_says_so(s3_store, tmp_path):
    env, _ = s3_store
    s = Server("s3://%s/pyprof/" % S3_BUCKET, env=dict(env, AWS_ENDPOINT_URL="http://127.0.0.1:1"),
               log=str(tmp_path / "serve.log"), extra=["--cache", str(tmp_path / "c")])
    try:
        code, _, body = s.get("/api/hosts")
        assert code == 502 and b"the store: cannot list s3://fleet-profiles/pyprof/" in body
        code, _, body = s.get("/api/profile" + q(host=HOST, range=BASE_RANGE))
        assert code == 502 and b"cannot list" in body
        assert s.proc.poll() is None
    finally:
        s.stop()


def test_compare_from_s3_reads_a_day_of_more_than_one_listing_page(s3_store, tmp_path):
    """1,100 windows in one day's folder: two ListObjectsV2 pages, the continuation token
    (with characters that need encoding) signed and sent back, every window fetched."""
    env, front = s3_store
    port = int(env["AWS_ENDPOINT_URL"].rsplit(":", 1)[1])
    upstream = front.upstream_port
    body = gzip.compress(b"app (100);main (/srv/app.py:1);f (/srv/app.py:20) 3\n")
    for i in range(1100):
        key = "pyprof/big/2026/12/05/%02d%02d%02dZ-cpu.folded.gz" % (i // 3600, i // 60 % 60, i % 60)
        urllib.request.urlopen(urllib.request.Request(
            "http://127.0.0.1:%d/%s/%s" % (upstream, S3_BUCKET, key), data=body, method="PUT"),
            timeout=10).close()
    n = len(front.requests)
    r = run_env(env, "compare", "--from", "s3://%s/pyprof/" % S3_BUCKET, "--host", "big",
                "--base", "2026-12-05T00:00Z/10m", "--new", "2026-12-05T00:10Z/1h")
    assert r.returncode == EXIT_OK, r.stderr
    assert "base: 1800, new: 1500 (weights)" in r.stdout  # 600 and 500 windows of 3
    lists = [q.path for q in front.requests[n:] if "list-type" in q.path]
    assert any("continuation-token=" in p for p in lists), lists
    assert all(not q.problem for q in front.requests[n:])
    assert port == front.port


# ---------------------------------------------------------------------------------------------
# the whole way: the daemon uploads, agentctl serve --config reads, Chromium shows


def stamp_seconds(stamp):
    """'YYYYmmddTHHMMSSZ' -> UTC seconds."""
    return calendar.timegm(time.strptime(stamp, "%Y%m%dT%H%M%SZ"))


def range_of(stamps):
    """START/DURATION covering the window starts stamps (sorted) and no other."""
    first, last = stamp_seconds(stamps[0]), stamp_seconds(stamps[-1])
    return "%s/%ds" % (time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(first)), last - first + 1)


def test_page_over_what_the_daemon_uploaded_to_s3(tmp_path, playwright_modules, any_interp):
    """The daemon profiles tests/workloads/phases.py (grows() about a fifth of the time, then
    about four fifths) and uploads its windows to s3rver; agentctl serve --config, with the
    daemon's own config file (endpoint, path style, credentials file), shows them in Chromium.
    The table's shares are `agentctl merge`'s of the same objects, the page's pprof download has
    the table's shares in `go tool pprof`, and comparing the phases puts grows() first with the
    number `agentctl diff` prints."""
    from conftest import free_port, workload_path
    from s3.front import S3Front
    from s3.store import ACCESS_KEY, S3rver, ensure_s3rver
    from test_daemon import Daemon
    from test_upload import upload_config

    ensure_s3rver()
    s3 = S3rver(str(tmp_path / "s3data"), S3_BUCKET, free_port())
    s3.start()
    front = S3Front(free_port(), s3.port, S3_SECRET, "us-east-1", ACCESS_KEY)
    front.start()
    cred = tmp_path / "credentials"
    cred.write_text("[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n"
                    % (ACCESS_KEY, S3_SECRET))
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    work = subprocess.Popen([any_interp.path, workload_path("phases.py")],
                            env=dict(env, E2E_WORKDIR=str(tmp_path)),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    d = s = None
    try:
        deadline = time.monotonic() + 20
        while not (tmp_path / "ready.json").exists():
            assert work.poll() is None and time.monotonic() < deadline, "phases.py not ready"
            time.sleep(0.05)
        (tmp_path / "agent").mkdir()
        d = Daemon(tmp_path / "agent", seconds=2,
                   targets="  all_python: false\n  pids: [%d]\n" % work.pid,
                   extra=upload_config(front.port, str(tmp_path / "spool"), bucket=S3_BUCKET,
                                       cred_file=str(cred)))
        # the first windows may hold the time before the target was found: left out
        skip = len(d.wait_windows(1, 30))
        base = [w[0] for w in d.wait_windows(skip + 3, 30)[skip:]]
        work.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + 10
        while not (tmp_path / "switched.json").exists():
            assert time.monotonic() < deadline, "phases.py never switched"
            time.sleep(0.02)
        switched = time.time()
        deadline = time.monotonic() + 30
        while True:
            new = [w[0] for w in d.windows() if stamp_seconds(w[0]) >= switched]
            if len(new) >= 3:
                break
            assert time.monotonic() < deadline, "no three windows after the switch"
            time.sleep(0.1)
        assert d.stop() == 0, d.log()  # the last windows are sent before it exits
        stamps = {stamp_seconds(st) for st, _ in d.windows()}
        keys = [k for k in s3.keys("pyprof/testhost/")]
        assert len(keys) == len(stamps), (keys, sorted(stamps))
        # s3rver lists a host's folder only with an object directly in it (see s3_store)
        urllib.request.urlopen(urllib.request.Request(
            "http://127.0.0.1:%d/%s/pyprof/testhost/README" % (s3.port, S3_BUCKET),
            data=b"not a window", method="PUT"), timeout=10).close()

        def objects(stamps, name):
            paths = []
            for st in stamps:
                key = "pyprof/testhost/%s/%s/%s/%sZ-cpu.folded.gz" % (st[:4], st[4:6], st[6:8], st[9:15])
                path = tmp_path / ("%s-%s.folded" % (name, st))
                path.write_bytes(gzip.decompress(s3.get(key)[1]))
                paths.append(str(path))
            return merged(paths, str(tmp_path / ("%s.folded" % name)))

        base_folded, new_folded = objects(base, "base"), objects(new, "new")
        diff = run_agentctl("diff", base_folded, new_folded, "--top", "500")
        assert diff.rc == EXIT_OK, diff.describe()

        s = Server(None, env=dict(env, XDG_CACHE_HOME=str(tmp_path / "cache")),
                   log=str(tmp_path / "serve.log"), extra=["--config", d.config])
        assert "serving s3://%s/pyprof/" % S3_BUCKET in s.stderr()
        seen = browse(playwright_modules, s.url, "testhost", range_of(base), range_of(new),
                      windows=len(keys), fnsearch="grows", zoom="grows (", shots="web-s3")
    finally:
        if s:
            s.stop()
        if d:
            d.kill()
        work.kill()
        work.wait()
        front.stop()
        s3.stop()
    assert seen["hosts"] == ["testhost"] and seen["timeline_bars"] == len(keys)
    assert "%d windows" % len(base) in seen["summary"], seen["summary"]
    want = shares_of(open(base_folded).read())
    table = {row[0]: row for row in seen["table"]}
    assert set(table) == set(want), (sorted(table), sorted(want))
    for name, (self_share, total) in want.items():  # as shown, to two decimals
        assert abs(float(table[name][1].rstrip("%")) - self_share) < 0.0051, (name, table[name])
        assert abs(float(table[name][2].rstrip("%")) - total) < 0.0051, (name, table[name])
    grows = next(n for n in want if n.startswith("grows ("))
    assert 10 < want[grows][1] < 35, want  # the workload's first phase, as designed
    flat = pprof_flat(seen["download"], tmp_path)
    for name, (self_share, _) in want.items():
        assert abs(flat.get(name.split(" (")[0], 0.0) - self_share) < 0.01, (name, flat)
    # the zoom takes grows() to the graph's full width (1200 px less the margins)
    assert seen["g_width_before"] < 600 and abs(seen["g_width_zoomed"] - 1180) < 1, seen
    top = grew_rows(diff.stdout)[0]
    assert top[6] == grows and seen["compare_table"][0][0] == grows
    assert seen["compare_table"][0][1] == top[0] + "pp", (seen["compare_table"][0], top)
    assert float(top[0]) > 30  # from about a fifth to about four fifths
    assert all(not r.problem for r in front.requests), [r.problem for r in front.requests]
    assert S3_SECRET not in open(str(tmp_path / "serve.log")).read()
