"""A capturing HTTP front for an S3 server on loopback: it records every request (method, path,
headers, body), checks its SigV4 signature with sigv4.check, answers 403
SignatureDoesNotMatch (as S3 would) when it is wrong, and otherwise forwards the request to the
server behind it. It can be stopped (connection refused) and started again on the same port,
and answers 503 while the server behind it is down, as a load balancer does."""
import datetime
import http.client
import http.server
import threading
import time
from xml.sax.saxutils import escape

from . import sigv4


class Captured:
    def __init__(self, method, path, headers, body):
        self.method, self.path, self.headers, self.body = method, path, headers, body
        self.time = time.time()
        self.status = None
        self.problem = None  # what sigv4.check found wrong, or None

    def __repr__(self):
        return "%s %s -> %s%s" % (self.method, self.path, self.status,
                                  " (%s)" % self.problem.splitlines()[0] if self.problem else "")


def _error(code, message):
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s</Code><Message>%s'
            '</Message></Error>' % (code, escape(message))).encode()


class S3Front:
    def __init__(self, port, upstream_port, secret, region, access_key, service="s3"):
        self.port, self.upstream_port = port, upstream_port
        self.secret, self.region, self.access_key, self.service = (secret, region, access_key,
                                                                   service)
        self.requests = []
        self.lock = threading.Lock()
        self.server = None

    # ---- control ----

    def start(self):
        front = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # so "Expect: 100-continue" is answered

            def log_message(self, *args):
                pass

            def _any(self):
                front._handle(self)

            do_PUT = do_GET = do_HEAD = do_POST = do_DELETE = _any

        class Server(http.server.ThreadingHTTPServer):
            # the store's 8 fetch connections open at once: socketserver's default backlog of
            # 5 would leave some to SYN-ACK retransmits (1 s, 3 s, 7 s ...), which S3 never does
            request_queue_size = 64

        self.server = Server(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    # ---- what was seen ----

    def puts(self, status=None):
        with self.lock:
            return [r for r in self.requests if r.method == "PUT" and
                    (status is None or r.status == status)]

    def statuses(self):
        with self.lock:
            return [r.status for r in self.requests]

    # ---- serving ----

    def _handle(self, h):
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        headers = {}
        for k, v in h.headers.items():
            k = k.lower()
            headers[k] = headers[k] + "," + v if k in headers else v
        rec = Captured(h.command, h.path, headers, body)
        rec.problem = sigv4.check(h.command, h.path, headers, body, self.secret, self.region,
                                  self.service, self.access_key,
                                  now=datetime.datetime.now(datetime.timezone.utc))
        if rec.problem:
            status, out_headers, data = 403, [("Content-Type", "application/xml")], _error(
                "SignatureDoesNotMatch", "The request signature we calculated does not match "
                "the signature you provided. Check your key and signing method.")
        else:
            status, out_headers, data = self._forward(h, body)
        rec.status = status
        with self.lock:
            self.requests.append(rec)
        h.close_connection = True  # a stopped front refuses at once: no kept-alive connection
        h.send_response(status)
        for k, v in out_headers:
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(data)))
        h.send_header("Connection", "close")
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(data)

    def _forward(self, h, body):
        skip = ("expect", "connection", "keep-alive", "transfer-encoding")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=10)
            conn.request(h.command, h.path, body=body,
                         headers={k: v for k, v in h.headers.items() if k.lower() not in skip})
            resp = conn.getresponse()
            data = resp.read()
            conn.close()
        except OSError:
            return 503, [("Content-Type", "application/xml")], _error(
                "ServiceUnavailable", "The server behind the front is down.")
        hop = skip + ("content-length", "date", "server")
        return resp.status, [(k, v) for k, v in resp.getheaders() if k.lower() not in hop], data
