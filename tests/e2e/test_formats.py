"""End-to-end tests of the output formats, each read by its real consumer: pprof by `go tool
pprof`, speedscope files by speedscope's own importer, SVG flame graphs in headless Chromium;
and `agentctl convert|diff|merge`, malformed inputs included.

Sources: committed fixtures (tests/fixtures/folded/) and a live `agentctl snapshot --threads
--kernel` of tests/workloads/threads.py. Screenshots go to build/test-artifacts/."""
import collections
import gzip
import json
import os
import random
import re
import resource
import shutil
import subprocess
import time

import pytest

from conftest import REPO, Process, run_agentctl, workload_path
from formats import png
from formats import speedscope as ss
from formats.cdp import CDPError, Chromium, find_chromium

BUILD = os.path.join(REPO, "build")
ARTIFACTS = os.path.join(BUILD, "test-artifacts")
FX = os.path.join(REPO, "tests", "fixtures", "folded")
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
PERIOD_NS = 1000000000 // 99
FULL_WIDTH = 1180  # FLAMEGRAPH_WIDTH minus the two 10 px margins
MAX_LINE = 1024 * 1024


# ---------------------------------------------------------------------------------------------
# Folded profiles and our frame naming conventions, on the Python side


def read_folded(path):
    """[(frames root first, count)] of a folded file, plain or gzipped."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt") as f:
        out = []
        for line in f:
            line = line.rstrip("\n")
            if line:
                stack, count = line.rsplit(" ", 1)
                out.append((stack.split(";"), int(count)))
        return out


def frame_kind(frame, depth):
    """The kind agentctl gives a frame (agent/profile/frame.c), for the checks here."""
    if frame.endswith("_[k]"):
        return "kernel"
    if frame.startswith("[") and frame.endswith("]"):
        return "marker"
    if frame.startswith("<") and frame.endswith(">") and " " not in frame:
        return "marker"
    if depth == 0 and re.match(r"^.* \(\d{1,10}\)$", frame):
        return "process"
    if depth == 1 and re.match(r"^thread \d{1,10} \(.*\)$", frame):
        return "thread"
    if re.match(r"^[^(]*?[^ (][^(]*? \(.+:\d{1,10}\)$", frame) or \
            re.match(r"^.+? \(.+:\d{1,10}\)$", frame):
        name, rest = frame.split(" (", 1)
        if name and re.match(r"^.+:\d{1,10}\)$", rest):
            return "python"
    return "native"


def python_parts(frame):
    """(qualname, file, line) of a Python frame: split at the first ' (' as agentctl does."""
    name, rest = frame.split(" (", 1)
    file, line = rest[:-1].rsplit(":", 1)
    return name, file, int(line)


def pprof_name(frame):
    """The function name go tool pprof shows for one of our frames."""
    return python_parts(frame)[0] if frame_kind(frame, 2) == "python" else frame


def total(stacks):
    return sum(c for _, c in stacks)


def write_folded(path, stacks):
    with open(path, "w") as f:
        for frames, count in stacks:
            f.write("%s %d\n" % (";".join(frames), count))


# ---------------------------------------------------------------------------------------------
# Sources


@pytest.fixture(scope="module")
def live(tmp_path_factory, any_interp):
    """A real profile: threads.py (8 spinning threads) under the newest CPython, snapshotted
    with --threads --kernel in each --format. Returns {format: path}."""
    work = str(tmp_path_factory.mktemp("formats-live"))
    env = dict(os.environ)
    for var in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV"):
        env.pop(var, None)
    env["E2E_WORKDIR"] = work
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    proc = Process([any_interp.path, workload_path("threads.py")], work, env, name="threads")
    out = {}
    try:
        proc.wait_ready()
        for fmt, ext, secs in (("folded", ".folded", 3), ("pprof", ".pb.gz", 2),
                               ("speedscope", ".speedscope.json", 2), ("svg", ".svg", 2)):
            path = os.path.join(work, "live" + ext)
            r = run_agentctl("snapshot", "--pid", proc.pid, "--duration", secs, "--threads",
                             "--kernel", "--format", fmt, "-o", path, timeout=secs + 60)
            assert r.rc == EXIT_OK, r.describe()
            out[fmt] = path
    finally:
        proc.kill()
    stacks = read_folded(out["folded"])
    assert total(stacks) >= 100, "too few samples in the live profile: %d" % total(stacks)
    os.makedirs(ARTIFACTS, exist_ok=True)
    shutil.copy(out["folded"], os.path.join(ARTIFACTS, "live.folded"))
    return out


SOURCES = ["mixed", "threads-3.12", "live"]


@pytest.fixture(params=SOURCES)
def source(request):
    """(name, folded path) of each source profile."""
    if request.param == "live":
        return "live", request.getfixturevalue("live")["folded"]
    return request.param, os.path.join(FX, request.param + ".folded")


def convert(src, fmt, dst, *extra):
    r = run_agentctl("convert", src, "--format", fmt, "-o", dst, *extra)
    assert r.rc == EXIT_OK, r.describe()
    return dst


# ---------------------------------------------------------------------------------------------
# pprof, read by go tool pprof


@pytest.fixture(scope="module")
def go_pprof(tmp_path_factory):
    go = shutil.which("go") or ("/usr/bin/go" if os.access("/usr/bin/go", os.X_OK) else None)
    if not go:
        pytest.fail("go is not installed (Debian golang-go is in DEB_TEST: run make deps)")
    home = str(tmp_path_factory.mktemp("gohome"))
    env = dict(os.environ, HOME=home, GOCACHE=os.path.join(home, "cache"),
               GOPATH=os.path.join(home, "gopath"), GOFLAGS="", GOPROXY="off",
               GOTOOLCHAIN="local", GOTELEMETRY="off")

    def run(*args):
        r = subprocess.run([go, "tool", "pprof"] + list(args), capture_output=True, text=True,
                           env=env, timeout=120)
        assert r.returncode == 0, "go tool pprof %s: %s" % (" ".join(args), r.stderr[-2000:])
        return r.stdout
    return run


def pprof_top(run, path, *extra):
    """{function: (flat, flat %, cum, cum %)} from `go tool pprof -top`."""
    out = run("-top", "-nodecount=1000000", "-nodefraction=0", "-edgefraction=0", *extra, path)
    rows, started = {}, False
    for line in out.splitlines():
        if line.strip().startswith("flat"):
            started = True
            continue
        if not started or not line.strip():
            continue
        parts = line.split(None, 5)
        assert len(parts) == 6, "unexpected -top line %r" % line
        flat, flat_pct, _, cum, cum_pct, name = parts
        old = rows.get(name)
        row = (flat, float(flat_pct.rstrip("%")), cum, float(cum_pct.rstrip("%")))
        rows[name] = row if old is None else ("+", old[1] + row[1], "+", old[3] + row[3])
    return rows


def expected_functions(stacks):
    """{pprof function name: (flat weight, cum weight)} of folded stacks."""
    flat, cum = collections.Counter(), collections.Counter()
    for frames, count in stacks:
        names = [pprof_name(f) for f in frames]
        flat[names[-1]] += count
        for n in set(names):
            cum[n] += count
    return flat, cum


def test_pprof_top_reports_the_folded_functions_with_the_same_shares(source, go_pprof, tmp_path):
    name, folded = source
    stacks = read_folded(folded)
    pb = convert(folded, "pprof", str(tmp_path / (name + ".pb.gz")))
    flat, cum = expected_functions(stacks)
    everything = total(stacks)

    # counts: exactly the folded weights, per function
    by_count = pprof_top(go_pprof, pb, "-sample_index=samples")
    assert set(by_count) == set(cum), "functions differ: only pprof %s, only folded %s" % (
        sorted(set(by_count) - set(cum))[:10], sorted(set(cum) - set(by_count))[:10])
    for fn, (f, _, c, _) in by_count.items():
        if f != "+":
            assert int(f) == flat[fn], "%s: pprof flat %s, folded %d" % (fn, f, flat[fn])
            assert int(c) == cum[fn], "%s: pprof cum %s, folded %d" % (fn, c, cum[fn])

    # the default sample type (cpu nanoseconds): same shares, same top function
    by_time = pprof_top(go_pprof, pb)
    for fn, (_, flat_pct, _, cum_pct) in by_time.items():
        assert abs(flat_pct - 100.0 * flat[fn] / everything) <= 0.01, (fn, flat_pct)
        assert abs(cum_pct - 100.0 * cum[fn] / everything) <= 0.01, (fn, cum_pct)
    top = max(flat.items(), key=lambda kv: (kv[1], kv[0]))
    assert by_time[top[0]][1] == max(v[1] for v in by_time.values())


def pprof_traces(run, path):
    """[(names root first, count, labels)] from `go tool pprof -traces -sample_index=samples`."""
    out = run("-traces", "-sample_index=samples", path)
    traces = []
    for block in out.split("-----------+-------------------------------------------------------")[1:]:
        labels, names, count = {}, [], None
        for line in block.splitlines():
            if not line.strip():
                continue
            if count is None:
                head = line.strip()
                if ":" in head and not head.split(":", 1)[0].strip().isdigit() and \
                        head.split()[0].endswith(":"):
                    key, value = head.split(":", 1)
                    labels[key.strip()] = value.strip()
                    continue
                count_str, leaf = line.strip().split(None, 1)
                count, names = int(count_str), [leaf]
            else:
                names.append(line.strip())
        if count is not None:
            traces.append((tuple(reversed(names)), count, labels))
    return traces


def test_pprof_traces_are_the_folded_stacks_with_their_labels(source, go_pprof, tmp_path):
    name, folded = source
    stacks = read_folded(folded)
    pb = convert(folded, "pprof", str(tmp_path / (name + ".pb.gz")))
    traces = pprof_traces(go_pprof, pb)
    want = sorted((tuple(pprof_name(f) for f in frames), count) for frames, count in stacks)
    got = sorted((names, count) for names, count, _ in traces)
    assert got == want
    for names, count, labels in traces:
        if frame_kind(names[0], 0) == "process":
            assert labels.get("pid") == names[0].rsplit("(", 1)[1].rstrip(")"), (names, labels)
        if len(names) > 1 and frame_kind(names[1], 1) == "thread":
            tid, tname = names[1][len("thread "):].split(" (", 1)
            assert labels.get("tid") == tid and labels.get("thread_name") == tname[:-1], labels


def test_snapshot_format_pprof_is_read_by_go_pprof(live, go_pprof):
    rows = pprof_top(go_pprof, live["pprof"], "-sample_index=samples")
    funcs = {n for n in rows if n.startswith("func_")}
    assert len(funcs) >= 4, "spinning thread functions in pprof -top: %s" % sorted(rows)[:30]
    out = go_pprof("-raw", live["pprof"])
    assert "PeriodType: cpu nanoseconds" in out and "Period: %d" % PERIOD_NS in out, out[:500]
    m = re.search(r"^Duration: ([0-9.]+)", out, re.M)
    assert m and 1.5 <= float(m.group(1)) <= 4, out[:500]


# ---------------------------------------------------------------------------------------------
# speedscope, read by speedscope's own importer in Chromium


@pytest.fixture(scope="module")
def chromium():
    if not find_chromium():
        pytest.fail("chromium is not installed (Debian chromium is in DEB_TEST: run make deps)")
    c = Chromium()
    yield c
    c.close()


@pytest.fixture
def page(chromium):
    p = chromium.new_page()
    yield p
    p.close()


@pytest.fixture(scope="module")
def speedscope_app(tmp_path_factory):
    try:
        release = ss.install(BUILD)
    except ss.Unavailable as e:
        pytest.skip("speedscope %s unavailable: %s" % (ss.VERSION, e))
    return ss.patched_copy(release, str(tmp_path_factory.mktemp("speedscope") / "app"))


def expected_speedscope(stacks):
    """{profile name: (total, set of frame names)}: one per thread, else per process."""
    groups = collections.defaultdict(lambda: [0, set()])
    for frames, count in stacks:
        skip = 0
        if frame_kind(frames[0], 0) == "process":
            skip = 2 if len(frames) > 1 and frame_kind(frames[1], 1) == "thread" else 1
        name = " ".join(frames[:skip]) if skip else "all stacks"
        rest = frames[skip:] or frames[-1:]
        g = groups[name]
        g[0] += count
        for f in rest:
            g[1].add(python_parts(f)[0] if frame_kind(f, 2) == "python" else f)
    return {k: (v[0], v[1]) for k, v in groups.items()}


def check_speedscope_import(page, app, stacks, path):
    group = ss.import_file(page, app, path)
    assert group is not None, "speedscope did not recognise %s" % path
    assert not page.errors, page.errors
    want = expected_speedscope(stacks)
    got = {p["name"]: (p["total"], {f["name"] for f in p["frames"]}) for p in group["profiles"]}
    assert sum(t for t, _ in got.values()) == total(stacks)
    assert set(got) == set(want)
    for name, (tot, frames) in want.items():
        assert got[name][0] == tot, name
        assert got[name][1] == frames, "%s: only speedscope %s, only folded %s" % (
            name, sorted(got[name][1] - frames)[:5], sorted(frames - got[name][1])[:5])
    return group


def test_speedscope_importer_loads_the_same_weights_and_frames(source, page, speedscope_app,
                                                               tmp_path):
    name, folded = source
    stacks = read_folded(folded)
    path = convert(folded, "speedscope", str(tmp_path / (name + ".speedscope.json")))
    group = check_speedscope_import(page, speedscope_app, stacks, path)
    python_frames = [f for p in group["profiles"] for f in p["frames"] if f["file"]]
    for f in python_frames:
        assert f["line"] is not None and f["file"].endswith(".py"), f


def test_speedscope_app_opens_the_snapshot(live, page, speedscope_app, tmp_path):
    title = ss.open_in_app(page, speedscope_app, live["speedscope"], str(tmp_path))
    assert title == "cpu profile - speedscope", title
    assert not page.errors, page.errors
    os.makedirs(ARTIFACTS, exist_ok=True)
    page.screenshot(os.path.join(ARTIFACTS, "speedscope-live.png"))
    group = ss.import_file(page, speedscope_app, live["speedscope"])
    assert len(group["profiles"]) >= 4  # one per spinning thread that was sampled
    assert all(p["name"].split(" thread ")[0].endswith(")") for p in group["profiles"])


# ---------------------------------------------------------------------------------------------
# SVG flame graphs, in headless Chromium


FRAMES_JS = """JSON.stringify(Array.from(document.querySelectorAll('#frames g')).map(function (g) {
  var r = g.querySelector('rect');
  return {i: g.hasAttribute('data-i') ? +g.getAttribute('data-i') : -1, cls: g.getAttribute('class'),
          title: g.querySelector('title').textContent, x: +r.getAttribute('x'),
          w: +r.getAttribute('width'), y: +r.getAttribute('y'), fill: r.getAttribute('fill')};
}))"""


def frames_on_page(page):
    return json.loads(page.evaluate(FRAMES_JS))


TITLE = re.compile(r"^(.*) \((?:Python|native|kernel|marker|process/thread|all)\): ")


def frame_name(title):
    """The frame name in a frame's title, 'NAME (KIND): weight, share'."""
    m = TITLE.match(title)
    assert m, "unexpected frame title %r" % title
    return m.group(1)


def open_svg(page, path, shot=None):
    page.navigate("file://" + path)
    assert not page.errors, page.errors
    if shot:
        os.makedirs(ARTIFACTS, exist_ok=True)
        height = int(float(page.evaluate("document.documentElement.getAttribute('height')")))
        data = page.screenshot(os.path.join(ARTIFACTS, shot), 1200, min(height, 4000))
        colours, busy = png.colour_stats(data)
        assert colours >= 8, "screenshot %s has %d colours" % (shot, colours)
        assert busy >= 0.05, "screenshot %s is %.1f%% background" % (shot, 100 * (1 - busy))
    return frames_on_page(page)


@pytest.mark.parametrize("which", ["mixed", "live-snapshot"])
def test_svg_renders_without_errors_and_is_not_blank(which, page, tmp_path, request):
    if which == "live-snapshot":
        path = request.getfixturevalue("live")["svg"]
    else:
        path = convert(os.path.join(FX, "mixed.folded"), "svg", str(tmp_path / "mixed.svg"))
    frames = open_svg(page, path, shot="flamegraph-%s.png" % which)
    assert len(frames) >= 5
    root = [f for f in frames if f["i"] == 0]
    assert root and abs(root[0]["w"] - FULL_WIDTH) < 0.01


def test_svg_frames_coloured_by_kind(page, tmp_path):
    path = convert(os.path.join(FX, "mixed.folded"), "svg", str(tmp_path / "mixed.svg"))
    frames = open_svg(page, path)

    def hue_of(title_prefix):
        hits = [f for f in frames if f["title"].startswith(title_prefix)]
        assert hits, title_prefix
        fill = hits[0]["fill"]
        assert fill.startswith("hsl("), fill
        return int(fill[4:].split(",")[0]), hits[0]["title"]

    py, t = hue_of("Handler.score (/srv/app.py:17)")
    assert 75 <= py < 120 and "(Python)" in t
    k, t = hue_of("__x64_sys_epoll_wait_[k]")
    assert 26 <= k < 38 and "(kernel)" in t
    n, t = hue_of("zlib_compress")
    assert n < 14 and "(native)" in t
    m, t = hue_of("[truncated]")
    assert m == 0 and "(marker)" in t
    th, t = hue_of("thread 101 (MainThread)")
    assert 205 <= th < 230 and "(process/thread)" in t


def test_svg_click_zooms_the_frame_to_full_width(page, tmp_path, request):
    path = request.getfixturevalue("live")["svg"]
    frames = open_svg(page, path)
    candidates = [f for f in frames if f["cls"] == "f" and 20 < f["w"] < FULL_WIDTH / 2]
    assert candidates, "no frame between 20 px and half the width to click"
    target = max(candidates, key=lambda f: f["y"])  # nearest the root: it has children
    page.click(target["x"] + target["w"] / 2, target["y"] + 7)
    after = {f["i"]: f for f in frames_on_page(page)}
    assert target["i"] in after, "the clicked frame is gone"
    assert abs(after[target["i"]]["w"] - FULL_WIDTH) < 0.01, after[target["i"]]
    assert abs(after[target["i"]]["x"] - 10) < 0.01
    # below it only its ancestors, dimmed, full width; above it only what it called, inside it
    for f in after.values():
        if f["i"] == target["i"]:
            continue
        if f["y"] > target["y"]:
            assert f["cls"] == "f dim" and abs(f["w"] - FULL_WIDTH) < 0.01, f
        else:
            # x and width are each drawn rounded to 0.01 px: their sum may pass by 0.01
            assert f["cls"] in ("f", "m") and f["x"] >= 10 - 0.01 and \
                f["x"] + f["w"] <= 10 + FULL_WIDTH + 0.02, f
    assert any(f["y"] < target["y"] for f in after.values()), "no callees drawn"
    assert page.evaluate("getComputedStyle(document.getElementById('unzoom')).display") != "none"
    # Escape (nothing searched) zooms back out
    page.send("Input.dispatchKeyEvent", type="keyDown", key="Escape", code="Escape",
              windowsVirtualKeyCode=27)
    back = {f["i"]: f for f in frames_on_page(page)}
    assert abs(back[target["i"]]["w"] - target["w"]) < 0.01


def test_svg_hover_shows_frame_count_and_share(page, tmp_path):
    path = convert(os.path.join(FX, "mixed.folded"), "svg", str(tmp_path / "mixed.svg"))
    frames = open_svg(page, path)
    f = [f for f in frames if f["title"].startswith("Handler.score (/srv/app.py:17)")][0]
    page.hover(f["x"] + f["w"] / 2, f["y"] + 7)
    details = page.evaluate("document.getElementById('details').textContent")
    assert details == "Handler.score (/srv/app.py:17) (Python): 212 samples, 42.40%", details


def test_svg_search_highlights_matches_and_reports_their_share(page, tmp_path):
    folded = os.path.join(FX, "mixed.folded")
    path = convert(folded, "svg", str(tmp_path / "mixed.svg"))
    open_svg(page, path)
    # Ctrl-F focuses the search box
    page.send("Input.dispatchKeyEvent", type="rawKeyDown", key="f", code="KeyF",
              windowsVirtualKeyCode=70, modifiers=2)
    assert page.evaluate("document.activeElement && document.activeElement.id") == "search"
    page.insert_text("main")
    frames = frames_on_page(page)
    matched = [f for f in frames if f["fill"] == "rgb(230,0,230)"]
    assert matched and all("main" in frame_name(f["title"]) for f in matched)
    assert all(f in matched for f in frames if f["i"] > 0 and frame_name(f["title"]).startswith("main "))
    # share: stacks with a matching frame (each once) over all; mixed.folded: 212+38+50+40
    stacks = read_folded(folded)
    want = sum(c for fr, c in stacks if any("main" in f for f in fr)) / float(total(stacks))
    share = float(page.evaluate("document.getElementById('matched').getAttribute('data-share')"))
    assert abs(share - want) < 1e-9 and abs(want - 0.68) < 1e-9
    text = page.evaluate("document.getElementById('matched').textContent")
    assert text.startswith("Matched: 68.00% of all"), text
    # a regex, matching several functions
    page.evaluate("(function(s){s.value='';s.focus();})(document.getElementById('search'))")
    page.insert_text("_\\[k\\]$")
    kernel = [f for f in frames_on_page(page) if f["fill"] == "rgb(230,0,230)"]
    assert {frame_name(f["title"]) for f in kernel} == {
        "__x64_sys_write_[k]", "do_syscall_64_[k]", "__x64_sys_epoll_wait_[k]"}


def busy_host_profile(path, seed=7, samples=380000, distinct=60000):
    """A 60 s window of a busy host: 64 CPUs at 99 Hz (~380k samples) over 60k distinct stacks
    up to 90 frames deep, drawn from a call graph of 4000 functions in 40 processes."""
    rnd = random.Random(seed)
    nfunc = 4000
    names = ["fn_%d (/srv/mod%d.py:%d)" % (i, i % 97, 10 + i % 500) for i in range(nfunc)]
    names += ["native_%d" % i for i in range(300)] + ["sys_%d_[k]" % i for i in range(200)]
    callees = [[rnd.randrange(len(names)) for _ in range(rnd.randint(1, 6))] for _ in names]
    stacks = {}
    while len(stacks) < distinct:
        proc = rnd.randrange(40)
        frames, f = ["app%d (%d)" % (proc, 1000 + proc)], rnd.randrange(50)
        for _ in range(rnd.randint(5, 90)):
            frames.append(names[f])
            f = rnd.choice(callees[f])
        stacks[tuple(frames)] = 0
    keys = list(stacks)
    for _ in range(samples):
        stacks[keys[int(len(keys) * rnd.random() ** 3)]] += 1
    write_folded(path, [(list(k), v) for k, v in stacks.items() if v])


def test_svg_of_a_busy_host_window_draws_at_most_a_pixel_budget(page, tmp_path):
    folded = str(tmp_path / "busy.folded")
    busy_host_profile(folded)
    path = convert(folded, "svg", str(tmp_path / "busy.svg"))
    size = os.path.getsize(path)
    t0 = time.monotonic()
    page.navigate("file://" + path)
    elapsed = time.monotonic() - t0
    assert not page.errors, page.errors
    frames = frames_on_page(page)
    # the page is 70 px of header, 16 px per level, 34 px of footer
    levels = (int(float(page.evaluate("document.documentElement.getAttribute('height')"))) - 104) // 16
    # every drawn frame is at least a pixel wide: at most FULL_WIDTH of them per level
    assert all(f["w"] >= 1 for f in frames)
    assert len(frames) <= FULL_WIDTH * levels
    assert any(f["cls"] == "m" for f in frames), "no merged sub-pixel frames in a busy profile"
    os.makedirs(ARTIFACTS, exist_ok=True)
    with open(os.path.join(ARTIFACTS, "flamegraph-busy-host.txt"), "w") as f:
        f.write("busy host window: %d bytes, %d frames drawn, load %.2f s (informational)\n"
                % (size, len(frames), elapsed))


# ---------------------------------------------------------------------------------------------
# diff


DIFF_BASE = [(["app (10)", "thread 11 (w)", "main (/a.py:1)", "hot (/a.py:10)"], 200),
             (["app (10)", "thread 11 (w)", "main (/a.py:1)", "hot (/a.py:11)"], 100),
             (["app (10)", "thread 11 (w)", "main (/a.py:1)", "cold (/a.py:20)"], 500),
             (["app (10)", "thread 11 (w)", "main (/a.py:1)", "steady (/a.py:30)"], 200)]
# hot: 30% -> 45% (+15 pp, lines aggregated), cold: 50% -> 35% (-15 pp), steady: 20% -> 20%;
# twice the samples and other PIDs/TIDs, which must not count as changes
DIFF_NEW = [(["app (20)", "thread 21 (w)", "main (/a.py:1)", "hot (/a.py:10)"], 600),
            (["app (20)", "thread 21 (w)", "main (/a.py:1)", "hot (/a.py:12)"], 300),
            (["app (20)", "thread 21 (w)", "main (/a.py:1)", "cold (/a.py:20)"], 700),
            (["app (20)", "thread 21 (w)", "main (/a.py:1)", "steady (/a.py:30)"], 400)]


@pytest.fixture
def diff_pair(tmp_path):
    base, new = str(tmp_path / "base.folded"), str(tmp_path / "new.folded.gz")
    write_folded(base, DIFF_BASE)
    with gzip.open(new, "wt") as f:
        for frames, count in DIFF_NEW:
            f.write("%s %d\n" % (";".join(frames), count))
    return base, new


def test_diff_ranks_the_known_change(diff_pair):
    r = run_agentctl("diff", *diff_pair)
    assert r.rc == EXIT_OK, r.describe()
    def section(title):  # the header line, then one line per function
        body = r.stdout.split(title + ":\n")[1].split("\n\n")[0]
        return [line for line in body.splitlines() if line.strip()]

    grew, shrank = section("Total share grew the most"), section("Total share shrank the most")
    assert grew[1].split() == ["+15.00pp", "+15.00pp", "30.00%", "->", "45.00%", "30.00%", "->",
                               "45.00%", "hot", "(/a.py)"], grew
    assert len(grew) == 2, "only hot grew: %s" % grew
    assert shrank[1].split()[:2] == ["-15.00pp", "-15.00pp"] and shrank[1].endswith("cold (/a.py)")
    assert len(shrank) == 2, shrank
    assert "app" not in r.stdout.split("Total share grew")[1]


@pytest.mark.parametrize("threshold,rc", [("14.9", EXIT_FAILED), ("15.1", EXIT_OK),
                                          ("0", EXIT_FAILED), ("100", EXIT_OK)])
def test_diff_fail_above_gates_on_the_largest_growth(diff_pair, threshold, rc):
    r = run_agentctl("diff", *diff_pair, "--fail-above", threshold)
    assert r.rc == rc, r.describe()
    if rc == EXIT_FAILED:
        assert "'hot (/a.py)' total share grew by 15.00 percentage points" in r.stderr, r.stderr
    # in reverse nothing grew by more than 15 points either
    r = run_agentctl("diff", diff_pair[1], diff_pair[0], "--fail-above", threshold)
    assert r.rc == rc, r.describe()


def test_diff_svg_colours_growth_red_and_shrink_blue(diff_pair, page, tmp_path):
    out = str(tmp_path / "diff.svg")
    r = run_agentctl("diff", *diff_pair, "--format", "svg", "-o", out)
    assert r.rc == EXIT_OK, r.describe()
    frames = open_svg(page, out, shot="flamegraph-diff.png")

    def fill(prefix):
        hits = [f for f in frames if f["title"].startswith(prefix)]
        assert hits, prefix
        return tuple(int(x) for x in hits[0]["fill"][4:-1].split(","))

    hot, cold = fill("hot (/a.py:10)"), fill("cold (/a.py:20)")
    assert hot[0] == 255 and hot[1] < 235 and hot[1] == hot[2], hot
    assert cold[2] == 255 and cold[0] < 235 and cold[0] == cold[1], cold
    assert fill("steady (/a.py:30)") == (235, 235, 235)
    names = {frame_name(f["title"]) for f in frames}
    assert "app" in names and "thread (w)" in names, "PIDs and TIDs not dropped: %s" % names


def test_diff_usage_errors_exit_2(diff_pair):
    assert run_agentctl("diff", diff_pair[0]).rc == EXIT_USAGE
    assert run_agentctl("diff", *diff_pair, "--fail-above", "-3").rc == EXIT_USAGE
    assert run_agentctl("diff", *diff_pair, "--format", "pprof").rc == EXIT_USAGE


# ---------------------------------------------------------------------------------------------
# convert and merge round trips


def test_folded_to_pprof_and_back_gives_the_same_stacks(source, tmp_path):
    name, folded = source
    pb = convert(folded, "pprof", str(tmp_path / (name + ".pb.gz")))
    back = convert(pb, "folded", str(tmp_path / (name + ".back.folded")))
    assert sorted(read_folded(back)) == sorted(read_folded(folded))
    with open(folded) as a, open(back) as b:
        assert a.read() == b.read()  # the same bytes, even: both sorted the same way


def test_snapshot_pprof_converts_back_to_folded(live, tmp_path):
    back = convert(live["pprof"], "folded", str(tmp_path / "live.back.folded"))
    stacks = read_folded(back)
    assert total(stacks) >= 50
    assert all(frame_kind(f[0], 0) == "process" and frame_kind(f[1], 1) == "thread"
               for f, _ in stacks)


def test_gzip_input_converts_like_plain(tmp_path):
    a = convert(os.path.join(FX, "threads-3.12.folded"), "folded", str(tmp_path / "a.folded"))
    b = convert(os.path.join(FX, "threads-3.12.folded.gz"), "folded", str(tmp_path / "b.folded"))
    with open(a) as fa, open(b) as fb:
        assert fa.read() == fb.read()


def test_merge_sums_plain_gzip_and_pprof_windows(tmp_path):
    mixed = os.path.join(FX, "mixed.folded")
    threads_gz = os.path.join(FX, "threads-3.12.folded.gz")
    pb = convert(mixed, "pprof", str(tmp_path / "mixed.pb.gz"))
    out = str(tmp_path / "merged.folded")
    r = run_agentctl("merge", mixed, threads_gz, pb, "-o", out)
    assert r.rc == EXIT_OK, r.describe()
    want = collections.Counter()
    for src in (mixed, threads_gz, mixed):
        for frames, count in read_folded(src):
            want[tuple(frames)] += count
    got = {tuple(f): c for f, c in read_folded(out)}
    assert got == dict(want)
    assert total(read_folded(out)) == 2 * 500 + 220


def test_merge_of_an_hour_of_windows_equals_their_sum(tmp_path):
    rnd = random.Random(3)
    frames = ["app (1);main (/a.py:1);f%d (/a.py:%d)" % (i, i) for i in range(50)]
    want = collections.Counter()
    paths = []
    for w in range(60):  # one window a minute
        p = str(tmp_path / ("w%02d.folded%s" % (w, ".gz" if w % 2 else "")))
        lines = collections.Counter(rnd.choice(frames) for _ in range(200))
        opener = gzip.open if p.endswith(".gz") else open
        with opener(p, "wt") as f:
            for stack, c in sorted(lines.items()):
                f.write("%s %d\n" % (stack, c))
        want.update(lines)
        paths.append(p)
    out = str(tmp_path / "hour.folded")
    r = run_agentctl("merge", *paths, "-o", out)
    assert r.rc == EXIT_OK, r.describe()
    got = {";".join(f): c for f, c in read_folded(out)}
    assert got == dict(want) and sum(got.values()) == 60 * 200


def test_convert_unknown_format_is_a_usage_error():
    r = run_agentctl("convert", os.path.join(FX, "mixed.folded"), "--format", "png")
    assert r.rc == EXIT_USAGE and "--format" in r.stderr, r.describe()


# ---------------------------------------------------------------------------------------------
# Malformed input: a clear error with the line number, exit 1, never a crash


def limit_memory():
    # 256 MiB of address space: enough for agentctl, not for buffering a 100 MB line twice
    resource.setrlimit(resource.RLIMIT_AS, (256 << 20, 256 << 20))


def run_limited(*args):
    argv = [os.environ.get("AGENTCTL", os.path.join(BUILD, "agentctl"))] + [str(a) for a in args]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=120, preexec_fn=limit_memory)
    assert 0 <= p.returncode < 128, "agentctl crashed (%d): %s" % (p.returncode, p.stderr)
    return p


MALFORMED = [
    ("garbage.bin", "line 1: binary data"),
    ("truncated.folded.gz", "truncated or corrupt gzip data"),
    ("no-count.folded", "line 3: no count at the end of the line"),
    ("negative-count.folded", "line 2: negative count '-3'"),
]


@pytest.mark.parametrize("fixture,message", MALFORMED, ids=[m[0] for m in MALFORMED])
@pytest.mark.parametrize("command", ["convert", "diff", "merge"])
def test_malformed_input_is_a_clear_error(fixture, message, command, tmp_path):
    bad = os.path.join(FX, fixture)
    good = os.path.join(FX, "mixed.folded")
    out = str(tmp_path / "out")
    args = {"convert": ("convert", bad, "--format", "svg", "-o", out),
            "diff": ("diff", good, bad),
            "merge": ("merge", good, bad, "-o", out)}[command]
    r = run_agentctl(*args)
    assert r.rc == EXIT_FAILED, r.describe()
    assert message in r.stderr and bad in r.stderr, r.stderr
    assert not os.path.exists(out), "output written from malformed input"


def test_truncated_gzip_error_says_where_it_broke():
    r = run_agentctl("convert", os.path.join(FX, "truncated.folded.gz"), "--format", "folded")
    assert r.rc == EXIT_FAILED
    assert "after line 7: truncated or corrupt gzip data (unexpected end of file)" in r.stderr, \
        r.stderr


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
def test_100mb_line_refused_with_bounded_memory(tmp_path, gz):
    path = str(tmp_path / ("huge.folded" + (".gz" if gz else "")))
    chunk = ("frame;" * 1000).encode()
    opener = gzip.open if gz else open
    with opener(path, "wb") as f:
        f.write(b"app (1);main (/a.py:1) 5\n")
        for _ in range((100 << 20) // len(chunk)):
            f.write(chunk)
        f.write(b" 7\n")
    r = run_limited("convert", path, "--format", "folded")
    assert r.returncode == EXIT_FAILED, r.stderr
    assert "line 2: longer than %d bytes" % MAX_LINE in r.stderr, r.stderr
