"""S3 uploads end to end: the daemon against s3rver (npm) on loopback, behind a front of ours
that records every request and checks its SigV4 signature independently (s3rver does not).
Windows arrive under their keys, equal to the local files; an outage, a SIGKILL, a wrong
bucket, a full spool and a wrong region each lose nothing that should not be lost; no secret
ever appears in the daemon's output."""
import datetime
import gzip
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.request

import pytest

from conftest import REPO, Profile
from s3 import sigv4
from s3.front import S3Front
from s3.store import ACCESS_KEY, S3rver, ensure_s3rver, make_tls_files
from conftest import free_port
from test_daemon import Daemon, agentctl, busy  # noqa: F401 (busy: a fixture)

BUCKET = "profiles"
HOST = "testhost"  # test_daemon.Daemon's host.name
PREFIX = "pyprof/%s/" % HOST
# Distinctive values, so that finding one in any output is certain to be a leak.
SECRET = "Upl0adT3st-SECRET-kq7Zr2/Vw9+xYp4Lm8"
TOKEN = "Upl0adT3st-TOKEN-FwoGZXIvYXdzEJr//////////wEaDNq3"
CONTENT_TYPE = "text/plain; charset=utf-8"


def agent_version():
    with open(os.path.join(REPO, "agent", "util", "version.h")) as f:
        return re.search(r'#define PYPROF_VERSION "([^"]+)"', f.read()).group(1)


def wait_until(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while True:
        got = pred()
        if got:
            return got
        assert time.monotonic() < deadline, "%s: not within %d s" % (what, timeout)
        time.sleep(0.1)


def stamp_of(t):
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(t))


def key_time(key):
    """pyprof/testhost/YYYY/MM/DD/HHMMSSZ-MODE.folded.gz -> UTC seconds of the window start."""
    m = re.search(r"/(\d{4})/(\d\d)/(\d\d)/(\d\d)(\d\d)(\d\d)Z-[a-z]+\.folded\.gz$", key)
    assert m, key
    return int(datetime.datetime(*map(int, m.groups()),
                                 tzinfo=datetime.timezone.utc).timestamp())


def slot_of_key(key):
    """The local file's stamp of the window an object holds: both are named by the window's
    own start second (the grid boundary for whole windows, mid-slot for a first one)."""
    return stamp_of(key_time(key))


def key_of_spool_name(name):
    m = re.match(r"^(\d{4})(\d\d)(\d\d)T(\d{6}Z)-([a-z]+)\.folded\.gz$", name)
    assert m, name
    return "%s%s/%s/%s/%s-%s.folded.gz" % ((PREFIX,) + m.groups())


def spool_names(spool):
    """The windows in the spool ([] before the agent made it: it does after its socket)."""
    try:
        return sorted(n for n in os.listdir(spool) if n.endswith(".folded.gz"))
    except FileNotFoundError:
        return []


def status(d):
    st = agentctl("status", "--socket", d.sock)
    assert st.returncode == 0, st.stderr
    assert SECRET not in st.stdout and TOKEN not in st.stdout
    return st.stdout


def figure(text, name):
    m = re.search(r"^%s: ([0-9.e+]+)$" % re.escape(name), text, re.M)
    assert m, "no %s in status:\n%s" % (name, text)
    return float(m.group(1))


def upload_config(port, spool, bucket=BUCKET, region="us-east-1", max_bytes=268435456,
                  cred_file="", scheme="http", ca_file=""):
    return ("upload:\n  s3:\n    enabled: true\n    endpoint: %s://127.0.0.1:%d\n"
            "    region: %s\n    bucket: %s\n    prefix: pyprof/\n    path_style: true\n"
            "    interval_seconds: 1\n    ca_file: \"%s\"\n    credentials:\n      file: \"%s\"\n"
            "  spool:\n    directory: %s\n    max_bytes: %d\n"
            % (scheme, port, region, bucket, ca_file, cred_file, spool, max_bytes))


def check_objects_equal_local_windows(store, windows):
    """Every local window [(stamp, path)] is in the store once, gunzipping to the same bytes,
    valid folded stacks. Returns the keys."""
    keys = store.keys(PREFIX)
    by_slot = {}
    for k in keys:
        assert slot_of_key(k) not in by_slot, "two objects for one window: %s" % keys
        by_slot[slot_of_key(k)] = k
    for slot, path in windows:
        assert slot in by_slot, "window %s never arrived; objects: %s" % (slot, keys)
        headers, body = store.get(by_slot[slot])
        with open(path, "rb") as f:
            local = f.read()
        assert gzip.decompress(body) == local, slot
        Profile(local.decode())  # valid folded stacks: every line "frames COUNT"
        assert headers.get("content-encoding") == "gzip", headers
    return keys


@pytest.fixture
def aws_env(monkeypatch):
    """The daemon gets its keys from the environment, with a session token (s3rver knows one
    access key, and never checks the secret: our front does)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_SESSION_TOKEN", TOKEN)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def store(tmp_path):
    """(s3rver, front): s3rver with bucket `profiles`, behind a front expecting SECRET in
    us-east-1. The agent talks to the front."""
    ensure_s3rver()
    s3 = S3rver(str(tmp_path / "s3data"), BUCKET, free_port())
    s3.start()
    front = S3Front(free_port(), s3.port, SECRET, "us-east-1", ACCESS_KEY)
    front.start()
    yield s3, front
    front.stop()
    s3.stop()
    for r in front.requests:  # the secret itself never travels
        assert SECRET not in repr(r.headers) and SECRET.encode() not in r.body


@pytest.fixture
def agents(tmp_path):
    """agents(name, **Daemon kwargs) starts a daemon in tmp_path/name; at teardown every one is
    killed and its whole output checked for the secret and the token."""
    started = []

    def _start(name, **kw):
        run = tmp_path / name
        run.mkdir()
        d = Daemon(run, **kw)
        started.append(d)
        return d

    yield _start
    for d in started:
        d.kill()
        with open(d.log_path, "rb") as f:
            out = f.read().decode("utf-8", "replace")
        assert SECRET not in out, "the secret key leaked into the daemon's output"
        assert TOKEN not in out, "the session token leaked into the daemon's output"


def pid_targets(pid):
    return "  all_python: false\n  pids: [%d]\n" % pid


# ---- the signature checker itself --------------------------------------------------------------

AWS_EXAMPLE_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
AWS_EMPTY_SHA = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def aws_get_example():
    """The GET Object example of AWS's SigV4 documentation (us-east-1, s3, 2013-05-24)."""
    return {"host": "examplebucket.s3.amazonaws.com", "range": "bytes=0-9",
            "x-amz-content-sha256": AWS_EMPTY_SHA, "x-amz-date": "20130524T000000Z",
            "authorization": "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/"
            "us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;"
            "x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"}


def test_signature_checker_passes_aws_examples_and_fails_wrong_region_service_or_secret():
    h = aws_get_example()
    assert sigv4.check("GET", "/test.txt", h, b"", AWS_EXAMPLE_SECRET, "us-east-1") is None
    # AWS's PUT Object example, whose key needs encoding ("$")
    body = b"Welcome to Amazon S3."
    put = {"host": "examplebucket.s3.amazonaws.com", "date": "Fri, 24 May 2013 00:00:00 GMT",
           "x-amz-date": "20130524T000000Z", "x-amz-storage-class": "REDUCED_REDUNDANCY",
           "x-amz-content-sha256":
           "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
           "authorization": "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/"
           "us-east-1/s3/aws4_request,SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;"
           "x-amz-storage-class,Signature="
           "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"}
    assert sigv4.check("PUT", "/test%24file.text", put, body, AWS_EXAMPLE_SECRET,
                       "us-east-1") is None
    assert sigv4.check("PUT", "/test%24file.text", put, body + b"!", AWS_EXAMPLE_SECRET,
                       "us-east-1")
    # wrong secret; and a scope rewritten to another region or service, so that only the
    # HMAC can tell
    assert "mismatch" in sigv4.check("GET", "/test.txt", h, b"", AWS_EXAMPLE_SECRET + "x",
                                     "us-east-1")
    for region, service in (("eu-west-1", "s3"), ("us-east-1", "ec2")):
        forged = dict(h, authorization=h["authorization"].replace(
            "/us-east-1/s3/", "/%s/%s/" % (region, service)))
        assert "mismatch" in sigv4.check("GET", "/test.txt", forged, b"", AWS_EXAMPLE_SECRET,
                                         region, service)
        assert sigv4.check("GET", "/test.txt", forged, b"", AWS_EXAMPLE_SECRET, "us-east-1")


# ---- uploads ---------------------------------------------------------------------------------

def test_windows_arrive_under_their_keys_signed_and_equal_to_the_local_files(
        tmp_path, aws_env, store, agents, busy):
    s3, front = store
    spool = str(tmp_path / "spool")
    p = busy()
    d = agents("run", seconds=2, targets=pid_targets(p.pid), metrics=True,
               extra=upload_config(front.port, spool))
    d.wait_windows(3, 30)
    wait_until(lambda: len(s3.keys(PREFIX)) >= 3, 20, "three objects")
    st = status(d)
    assert figure(st, "uploads_total") >= 3
    assert "last upload: none yet" not in st and 'bucket "profiles"' in st, st
    metrics = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % d.port, timeout=10).read()
    for family in ("uploads_total", "upload_failures_total", "upload_retries_total",
                   "spool_bytes", "spool_windows", "spool_evictions_total",
                   "last_upload_success_timestamp_seconds"):
        assert b"\npyprof_" + family.encode() in metrics, family
    assert SECRET.encode() not in metrics and TOKEN.encode() not in metrics
    if shutil.which("promtool"):
        r = subprocess.run(["promtool", "check", "metrics"], input=metrics,
                           capture_output=True, timeout=30)
        assert r.returncode == 0, r.stdout + r.stderr
    assert d.stop() == 0, d.log()
    # the final window was spooled at SIGTERM and sent before exit
    windows = d.windows()
    keys = check_objects_equal_local_windows(s3, windows)
    assert len(keys) == len(windows)
    assert all(re.match(r"^pyprof/testhost/\d{4}/\d\d/\d\d/\d{6}Z-cpu\.folded\.gz$", k)
               for k in keys), keys
    assert any(s.pid == p.pid for s in Profile(gzip.decompress(s3.get(keys[-2])[1]).decode())
               .samples)
    # headers and metadata, as stored
    headers, _ = s3.get(keys[1])
    assert headers["content-type"] == CONTENT_TYPE
    assert headers["content-encoding"] == "gzip"
    assert headers["x-amz-meta-agent-version"] == agent_version()
    assert headers["x-amz-meta-window-seconds"] == "2"
    assert headers["x-amz-meta-frequency-hz"] == "99"
    assert headers["x-amz-meta-mode"] == "cpu"
    assert headers["x-amz-meta-host"] == HOST
    # every request was signed right (the front checked each), with every header we sent
    puts = front.puts()
    assert puts and all(r.problem is None and r.status == 200 for r in puts), puts
    for r in puts:
        signed = re.search(r"SignedHeaders=([^,]+)", r.headers["authorization"]).group(1)
        for h in ("content-type", "content-encoding", "x-amz-meta-mode",
                  "x-amz-security-token", "x-amz-content-sha256"):
            assert h in signed.split(";"), (h, signed)
        assert r.headers["x-amz-security-token"] == TOKEN
    assert spool_names(spool) == []


def test_an_outage_loses_no_window_and_sends_none_twice_in_order(
        tmp_path, aws_env, store, agents, busy):
    s3, front = store
    p = busy()
    d = agents("run", seconds=2, targets=pid_targets(p.pid),
               extra=upload_config(front.port, str(tmp_path / "spool")))
    wait_until(lambda: front.puts(200), 20, "a first upload")
    before = len(d.windows())
    front.stop()  # connection refused, for several intervals
    time.sleep(4)
    s3.stop()
    front.start()  # up again, but the store behind it is down: 503
    time.sleep(3)
    s3.start()
    during = len(d.windows()) - before
    assert during >= 3, "only %d windows during the outage" % during
    n = len(d.windows())
    wait_until(lambda: len(s3.keys(PREFIX)) >= n, 20, "the windows written during the outage")
    st = status(d)
    assert figure(st, "upload_failures_total{reason=network}") > 0, st
    assert figure(st, "upload_failures_total{reason=server_error}") > 0, st
    assert figure(st, "upload_retries_total") > 0, st
    assert 503 in front.statuses()
    assert d.stop() == 0, d.log()
    keys = check_objects_equal_local_windows(s3, d.windows())
    ok = [r.path for r in front.puts(200)]
    assert len(ok) == len(set(ok)) == len(keys), "a window was sent twice: %s" % ok
    assert ok == sorted(ok), "windows were not sent in order: %s" % ok
    assert all(r.problem is None for r in front.puts())


def test_windows_pending_at_sigkill_arrive_after_a_restart(tmp_path, aws_env, store, agents,
                                                           busy):
    s3, front = store
    spool = str(tmp_path / "spool")
    p = busy()
    front.stop()  # nothing can be uploaded by the first run
    first = agents("first", seconds=2, targets=pid_targets(p.pid),
                   extra=upload_config(front.port, spool))
    first.wait_windows(3, 30)
    # a window is written locally, then spooled: both, for each
    wait_until(lambda: len(spool_names(spool)) >= 3, 5, "three spooled windows")
    first.proc.kill()  # SIGKILL: no final window, no flush
    first.proc.wait()
    pending = first.windows()
    front.start()
    second = agents("second", seconds=2, targets=pid_targets(p.pid),
                    extra=upload_config(front.port, spool))
    wait_until(lambda: {slot_of_key(k) for k in s3.keys(PREFIX)} >= {s for s, _ in pending},
               60, "the windows left by the killed agent")
    assert re.search(r"spool \S+ holds [1-9]\d* windows", second.log()), second.log()
    check_objects_equal_local_windows(s3, pending)
    assert second.stop() == 0


def test_a_wrong_bucket_is_logged_with_its_code_and_name_and_windows_stay(
        tmp_path, aws_env, store, agents, busy):
    s3, front = store
    spool = str(tmp_path / "spool")
    p = busy()
    started = time.monotonic()
    d = agents("run", seconds=2, targets=pid_targets(p.pid),
               extra=upload_config(front.port, spool, bucket="no-such-bucket-4711"))
    d.wait_windows(3, 30)
    elapsed = time.monotonic() - started
    log = d.log()
    errors = [ln for ln in log.splitlines() if "NoSuchBucket" in ln]
    assert errors, log
    assert 'bucket "no-such-bucket-4711" refused: HTTP 404 NoSuchBucket: The specified bucket ' \
           'does not exist' in errors[0], errors[0]
    assert "error:" in errors[0] and re.search(r"stays? spooled in ", errors[0]), errors[0]
    # at most once per interval (1 s)
    assert len(errors) <= elapsed + 2, errors
    # every window is still spooled (each is written locally, then spooled); nothing went
    wait_until(lambda: len(spool_names(spool)) >= len(d.windows()), 5, "every window spooled")
    assert s3.keys() == []
    st = status(d)
    assert figure(st, "upload_failures_total{reason=refused}") > 0
    assert "NoSuchBucket" in st and figure(st, "uploads_total") == 0
    # fixed with SIGHUP: the kept windows go to the right bucket
    kept = spool_names(spool)
    d.write(hz=99, seconds=2, targets=pid_targets(p.pid),
            extra=upload_config(front.port, spool))
    d.proc.send_signal(signal.SIGHUP)
    want = {key_of_spool_name(n) for n in kept}
    wait_until(lambda: set(s3.keys(PREFIX)) >= want, 20, "the kept windows after the fix")


def test_a_full_spool_evicts_the_oldest_windows_and_counts_them_never_the_newest(
        tmp_path, aws_env, store, agents, busy):
    s3, front = store
    spool = str(tmp_path / "spool")
    p = busy()
    front.stop()  # the store is away: the spool fills
    cap = 900  # a few windows of one busy process (a few hundred bytes each, gzipped)
    d = agents("run", seconds=2, targets=pid_targets(p.pid),
               extra=upload_config(front.port, spool, max_bytes=cap))
    seen = set()  # every window that was ever in the spool (each stays >= 2 s)
    deadline = time.monotonic() + 40
    while len(seen) < 7:
        assert time.monotonic() < deadline, (seen, d.log())
        assert d.proc.poll() is None, d.log()
        seen.update(spool_names(spool))
        time.sleep(0.1)
    # the spool is a suffix of all windows: the newest stay, the oldest went, counted
    for _ in range(50):
        st = status(d)
        now = spool_names(spool)
        seen.update(now)
        evicted = figure(st, "spool_evictions_total")
        if evicted + len(now) == len(seen):
            break
        time.sleep(0.1)  # a window was spooled between the two readings
    everything = sorted(seen)
    assert now and now == everything[-len(now):], (now, everything)
    assert evicted == len(everything) - len(now) >= 3, (evicted, now, everything)
    sizes = [os.path.getsize(os.path.join(spool, n)) for n in now]
    assert len(now) == 1 or sum(sizes) <= cap, (sizes, cap)
    assert figure(st, "spool_bytes") <= max(cap, sizes[-1])
    assert "exceeded upload.spool.max_bytes" in d.log()
    # the store is back: the kept windows arrive, the evicted ones never
    front.start()
    want = {key_of_spool_name(n) for n in now}
    wait_until(lambda: set(s3.keys(PREFIX)) >= want, 20, "the kept windows")
    gone = {key_of_spool_name(n) for n in everything[:-len(now)]}
    assert not gone & set(s3.keys(PREFIX))


def test_a_wrong_region_is_refused_by_the_signature_check_and_windows_stay(
        tmp_path, aws_env, store, agents, busy):
    s3, front = store
    spool = str(tmp_path / "spool")
    p = busy()
    d = agents("run", seconds=2, targets=pid_targets(p.pid),
               extra=upload_config(front.port, spool, region="eu-west-1"))
    wait_until(lambda: front.puts(403), 20, "a refused upload")
    wait_until(lambda: "SignatureDoesNotMatch" in d.log(), 10, "the refusal in the log")
    assert s3.keys() == [] and spool_names(spool)
    # the request is signed right for eu-west-1, so the check is what refused it
    r = front.puts(403)[0]
    assert "scope eu-west-1/s3, expected us-east-1/s3" in r.problem
    assert sigv4.check("PUT", r.path, r.headers, r.body, SECRET, "eu-west-1") is None
    assert sigv4.check("PUT", r.path, r.headers, r.body, SECRET + "x", "eu-west-1")
    assert sigv4.check("PUT", r.path, r.headers, r.body, SECRET, "eu-west-1", "s3-outposts")
    d.stop()


def test_credentials_come_from_the_profile_aws_profile_names_in_the_file(
        tmp_path, monkeypatch, store, agents, busy):
    s3, front = store
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_PROFILE", "pyprof")
    creds = tmp_path / "credentials"
    creds.write_text("[default]\naws_access_key_id = %s\naws_secret_access_key = not-this-one\n"
                     "\n[pyprof]\naws_access_key_id = %s\naws_secret_access_key = %s\n"
                     % (ACCESS_KEY, ACCESS_KEY, SECRET))
    p = busy()
    d = agents("run", seconds=2, targets=pid_targets(p.pid),
               extra=upload_config(front.port, str(tmp_path / "spool"), cred_file=str(creds)))
    wait_until(lambda: len(s3.keys(PREFIX)) >= 2, 20, "uploads signed with the profile's keys")
    assert all(r.problem is None for r in front.puts()), front.puts()
    assert "x-amz-security-token" not in front.puts()[0].headers
    d.stop()


def test_https_is_verified_and_ca_file_adds_a_trusted_ca(tmp_path, aws_env, agents, busy):
    ensure_s3rver()
    (tmp_path / "tls").mkdir()
    ca, key, cert = make_tls_files(str(tmp_path / "tls"))
    s3 = S3rver(str(tmp_path / "s3data"), BUCKET, free_port(), tls=(key, cert))
    s3.start()
    try:
        spool = str(tmp_path / "spool")
        p = busy()
        d = agents("run", seconds=2, targets=pid_targets(p.pid),
                   extra=upload_config(s3.port, spool, scheme="https"))
        # a CA the system does not know: refused, counted, kept
        wait_until(lambda: "TLS failed" in d.log(), 20, "a TLS verification failure")
        assert s3.keys() == [] and spool_names(spool), d.log()
        assert figure(status(d), "upload_failures_total{reason=tls}") > 0
        # trusted through upload.s3.ca_file (SIGHUP): the kept windows arrive
        kept = spool_names(spool)
        d.write(hz=99, seconds=2, targets=pid_targets(p.pid),
                extra=upload_config(s3.port, spool, scheme="https", ca_file=ca))
        d.proc.send_signal(signal.SIGHUP)
        want = {key_of_spool_name(n) for n in kept}
        wait_until(lambda: set(s3.keys(PREFIX)) >= want, 20, "uploads over verified TLS")
        d.stop()
    finally:
        s3.stop()
