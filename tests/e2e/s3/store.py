"""s3rver (the npm package) on loopback: installed into build/npm on first use, started and
stopped as a process, read back through its S3 API (ListObjectsV2, GetObject)."""
import os
import shutil
import socket
import ssl
import subprocess
import time
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
NPM_PREFIX = os.path.join(REPO, "build", "npm")
S3RVER_VERSION = "3.7.1"  # its SigV4 handling (accepts, never verifies) is what the tests know
S3RVER_JS = os.path.join(NPM_PREFIX, "node_modules", "s3rver", "bin", "s3rver.js")
ACCESS_KEY = "S3RVER"  # the one account s3rver knows (it never checks the SigV4 secret)


def ensure_s3rver():
    """The path of s3rver's entry point, installing it with npm if it is missing."""
    if os.path.exists(S3RVER_JS):
        return S3RVER_JS
    npm, node = shutil.which("npm"), shutil.which("node")
    if not npm or not node:
        pytest.fail("node and npm are needed to run s3rver (the machine image has them)")
    os.makedirs(NPM_PREFIX, exist_ok=True)
    r = subprocess.run([npm, "install", "--prefix", NPM_PREFIX, "--no-audit", "--no-fund",
                        "s3rver@" + S3RVER_VERSION], capture_output=True, text=True,
                       timeout=300)
    if r.returncode != 0 or not os.path.exists(S3RVER_JS):
        pytest.fail("npm install s3rver failed (%d):\n%s" % (r.returncode, r.stderr[-2000:]))
    return S3RVER_JS


def make_tls_files(directory):
    """A throw-away CA and a certificate for 127.0.0.1 signed by it (openssl CLI):
    (ca_pem, server_key, server_cert)."""
    openssl = shutil.which("openssl")
    if not openssl:
        pytest.fail("the openssl command is needed to make test certificates")
    ca_key, ca_pem = os.path.join(directory, "ca.key"), os.path.join(directory, "ca.pem")
    key, csr = os.path.join(directory, "server.key"), os.path.join(directory, "server.csr")
    cert, ext = os.path.join(directory, "server.pem"), os.path.join(directory, "server.ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    for argv in ([openssl, "req", "-x509"] + ec + ["-keyout", ca_key, "-out", ca_pem, "-days",
                                                  "2", "-subj", "/CN=pyprof test CA"],
                 [openssl, "req"] + ec + ["-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1"],
                 [openssl, "x509", "-req", "-in", csr, "-CA", ca_pem, "-CAkey", ca_key,
                  "-CAcreateserial", "-out", cert, "-days", "2", "-extfile", ext]):
        r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, (argv, r.stderr)
    return ca_pem, key, cert


class S3rver:
    def __init__(self, data_dir, bucket, port, tls=None):
        """tls: (key, cert) to serve https."""
        self.dir, self.bucket, self.port, self.tls = data_dir, bucket, port, tls
        self.proc = None
        self.log_path = os.path.join(os.path.dirname(data_dir), "s3rver.log")

    def start(self):
        js = ensure_s3rver()
        os.makedirs(self.dir, exist_ok=True)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [shutil.which("node"), js, "-d", self.dir, "-a", "127.0.0.1", "-p", str(self.port),
             "--configure-bucket", self.bucket, "--silent"] +
            (["--key", self.tls[0], "--cert", self.tls[1]] if self.tls else []),
            stdout=log, stderr=subprocess.STDOUT,
            # s3rver makes continuation tokens with a cipher OpenSSL 3 keeps in its legacy
            # provider: without it, a listing of more than one page is an InternalError
            env=dict(os.environ, NODE_OPTIONS="--openssl-legacy-provider"))
        log.close()
        deadline = time.monotonic() + 30
        while True:
            assert self.proc.poll() is None, "s3rver exited %s" % self.proc.returncode
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                assert time.monotonic() < deadline, "s3rver not listening after 30 s"
                time.sleep(0.1)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def _get(self, path):
        ctx = None
        if self.tls:
            ctx = ssl.create_default_context(cafile=os.path.join(os.path.dirname(self.tls[1]),
                                                                 "ca.pem"))
        with urllib.request.urlopen("%s://127.0.0.1:%d%s" % ("https" if self.tls else "http",
                                                              self.port, path),
                                    timeout=10, context=ctx) as r:
            return dict((k.lower(), v) for k, v in r.getheaders()), r.read()

    def keys(self, prefix=""):
        """Every key in the bucket under prefix, sorted."""
        keys, token = [], None
        while True:
            q = {"list-type": "2", "prefix": prefix}
            if token:
                q["continuation-token"] = token
            _, body = self._get("/%s?%s" % (self.bucket, urllib.parse.urlencode(q)))
            root = ET.fromstring(body)
            ns = root.tag[:root.tag.index("}") + 1] if root.tag.startswith("{") else ""
            keys += [c.find(ns + "Key").text for c in root.findall(ns + "Contents")]
            token_el = root.find(ns + "NextContinuationToken")
            if root.findtext(ns + "IsTruncated") != "true" or token_el is None:
                return sorted(keys)
            token = token_el.text

    def get(self, key):
        """(headers with lowercase names, body bytes as stored)."""
        return self._get("/%s/%s" % (self.bucket, urllib.parse.quote(key)))
