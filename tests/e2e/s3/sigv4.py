"""An independent AWS Signature Version 4 verifier for S3 requests (header authentication),
written from AWS's description of the algorithm with hmac and hashlib only, so that a request
signed for the wrong region, service or secret is caught even though s3rver accepts it."""
import datetime
import hashlib
import hmac
import re
import urllib.parse

ALGORITHM = "AWS4-HMAC-SHA256"
_AUTH = re.compile(r"^AWS4-HMAC-SHA256 Credential=([^,\s]+),\s*SignedHeaders=([^,\s]+),"
                   r"\s*Signature=([0-9a-f]{64})$")


def _hmac(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def signing_key(secret, date, region, service):
    k = _hmac(("AWS4" + secret).encode(), date)
    k = _hmac(k, region)
    k = _hmac(k, service)
    return _hmac(k, "aws4_request")


def canonical_uri(raw_path):
    """S3 encodes each path segment once: unreserved characters and '/' stay, the rest is %XX."""
    return urllib.parse.quote(urllib.parse.unquote(raw_path), safe="/~")


def canonical_query(raw_query):
    pairs = urllib.parse.parse_qsl(raw_query, keep_blank_values=True)
    enc = [(urllib.parse.quote(k, safe="~"), urllib.parse.quote(v, safe="~")) for k, v in pairs]
    return "&".join("%s=%s" % kv for kv in sorted(enc))


def canonical_request(method, raw_path, raw_query, headers, signed, payload_hash):
    lines = "".join("%s:%s\n" % (h, " ".join(headers.get(h, "").split())) for h in signed)
    return "\n".join([method, canonical_uri(raw_path), canonical_query(raw_query), lines,
                      ";".join(signed), payload_hash])


def check(method, target, headers, body, secret, region, service="s3", access_key=None,
          now=None, max_skew=datetime.timedelta(minutes=15)):
    """None if the request is signed correctly for these credentials, region and service;
    else what is wrong. headers: lowercase names -> values (repeated headers joined by ',')."""
    m = _AUTH.match(headers.get("authorization", ""))
    if not m:
        return "no AWS4-HMAC-SHA256 Authorization header"
    credential, signed_list, signature = m.groups()
    parts = credential.split("/")
    if len(parts) != 5 or parts[4] != "aws4_request":
        return "malformed credential scope %r" % credential
    key_id, date, cred_region, cred_service, _ = parts
    signed = signed_list.split(";")
    if signed != sorted(signed) or any(h != h.lower() for h in signed):
        return "SignedHeaders not sorted lowercase: %s" % signed_list
    for h in ("host", "x-amz-date", "x-amz-content-sha256"):
        if h not in signed:
            return "%s is not signed" % h
    unsigned = [h for h in headers if h.startswith("x-amz-") and h not in signed]
    if unsigned:
        return "x-amz-* headers not signed: %s" % unsigned
    missing = [h for h in signed if h not in headers]
    if missing:
        return "signed headers absent from the request: %s" % missing
    if access_key is not None and key_id != access_key:
        return "access key %r, expected %r" % (key_id, access_key)
    if (cred_region, cred_service) != (region, service):
        return "scope %s/%s, expected %s/%s" % (cred_region, cred_service, region, service)
    amz_date = headers["x-amz-date"]
    if amz_date[:8] != date:
        return "x-amz-date %s outside the scope's date %s" % (amz_date, date)
    if now is not None:
        t = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(
            tzinfo=datetime.timezone.utc)
        if abs(now - t) > max_skew:
            return "x-amz-date %s too far from now" % amz_date
    payload = headers["x-amz-content-sha256"]
    if body is not None and payload != "UNSIGNED-PAYLOAD" and \
            payload != hashlib.sha256(body).hexdigest():
        return "x-amz-content-sha256 is not the body's SHA-256"
    path, _, query = target.partition("?")
    creq = canonical_request(method, path, query, headers, signed, payload)
    sts = "\n".join([ALGORITHM, amz_date, "/".join([date, region, service, "aws4_request"]),
                     hashlib.sha256(creq.encode()).hexdigest()])
    want = hmac.new(signing_key(secret, date, region, service), sts.encode(),
                    hashlib.sha256).hexdigest()
    if not hmac.compare_digest(want, signature):
        return "signature mismatch (canonical request:\n%s)" % creq
    return None
