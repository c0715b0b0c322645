// SPDX-License-Identifier: MIT
/* The S3 client's pure parts and the upload schedule: object keys and URLs (the canonical URI
 * libcurl signs), the headers we hand to libcurl's SigV4 signer, the payload hash, the store's
 * XML errors and their classes, credentials from the environment and shared-credentials
 * files (whose messages never hold a secret), scrubbing, and the retry backoff. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <curl/curl.h>
#include <cmocka.h>

#include "upload/s3.h"
#include "upload/uploader.h"

#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYzEXAMPLEKEY"
#define TOKEN  "FwoGZXIvYXdzEXAMPLETOKEN//////////wEaDExample"

static void test_keys_are_prefix_host_date_time_mode(void **state)
{
	char key[256];

	/* 2023-11-14 22:13:20 UTC */
	assert_int_equal(s3__object_key("pyprof/", "web-1", 1700000000, "cpu", key, sizeof(key)),
			 0);
	assert_string_equal(key, "pyprof/web-1/2023/11/14/221320Z-cpu.folded.gz");
	assert_int_equal(s3__object_key("pyprof", "web-1", 1700000000, "offcpu", key, sizeof(key)),
			 0);
	assert_string_equal(key, "pyprof/web-1/2023/11/14/221320Z-offcpu.folded.gz");
	assert_int_equal(s3__object_key("/fleet/prod//", "h", 0, "cpu", key, sizeof(key)), 0);
	assert_string_equal(key, "fleet/prod/h/1970/01/01/000000Z-cpu.folded.gz");
	assert_int_equal(s3__object_key("", "h", 1704067199, "cpu", key, sizeof(key)), 0);
	assert_string_equal(key, "h/2023/12/31/235959Z-cpu.folded.gz");
	assert_int_equal(s3__object_key("p", "h", 0, "cpu", key, 20), -ENAMETOOLONG);
	assert_int_equal(s3__object_key("p", "", 0, "cpu", key, sizeof(key)), -EINVAL);
}

static void test_urls_are_path_style_or_virtual_hosted_with_the_key_encoded(void **state)
{
	struct s3_target t = {.endpoint = "http://127.0.0.1:9000",
			      .region = "us-east-1",
			      .bucket = "prof",
			      .path_style = true};
	char url[512];

	assert_int_equal(
	    s3__object_url(&t, "pyprof/h/2023/11/14/221320Z-cpu.folded.gz", url, sizeof(url)), 0);
	assert_string_equal(url,
			    "http://127.0.0.1:9000/prof/pyprof/h/2023/11/14/221320Z-cpu.folded.gz");
	t.endpoint = "https://s3.eu-west-1.amazonaws.com/";
	t.path_style = false;
	assert_int_equal(s3__object_url(&t, "a/b.gz", url, sizeof(url)), 0);
	assert_string_equal(url, "https://prof.s3.eu-west-1.amazonaws.com/a/b.gz");
	/* an endpoint with a base path keeps it, in both styles */
	t.endpoint = "https://store.example:8443/s3//";
	assert_int_equal(s3__object_url(&t, "k", url, sizeof(url)), 0);
	assert_string_equal(url, "https://prof.store.example:8443/s3/k");
	t.path_style = true;
	assert_int_equal(s3__object_url(&t, "k", url, sizeof(url)), 0);
	assert_string_equal(url, "https://store.example:8443/s3/prof/k");
	/* everything but unreserved characters and '/' is percent-encoded, once, upper case:
	 * the URI S3 canonicalises is the one sent */
	assert_int_equal(s3__object_url(&t, "a b/c+d~e_f.g-h/\xc3\xa9%", url, sizeof(url)), 0);
	assert_string_equal(url,
			    "https://store.example:8443/s3/prof/a%20b/c%2Bd~e_f.g-h/%C3%A9%25");
	assert_int_equal(s3__object_url(&t, "k", url, 20), -ENAMETOOLONG);
	t.endpoint = "ftp://x";
	assert_int_equal(s3__object_url(&t, "k", url, sizeof(url)), -EINVAL);
}

static void test_targets_the_client_cannot_use_are_refused_by_key(void **state)
{
	struct s3_target t = {.endpoint = "https://s3.us-east-1.amazonaws.com",
			      .region = "us-east-1",
			      .bucket = "my-profiles",
			      .ca_file = ""};
	char err[256];

	assert_int_equal(s3__check_target(&t, err, sizeof(err)), 0);
	t.region = "us-east-1:evil"; /* would split libcurl's "aws:amz:REGION:s3" */
	assert_int_equal(s3__check_target(&t, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "upload.s3.region"));
	t.region = "us-east-1";
	t.bucket = "My_Bucket"; /* not a host name label */
	assert_int_equal(s3__check_target(&t, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "upload.s3.bucket"));
	t.path_style = true; /* legacy names work in the path */
	assert_int_equal(s3__check_target(&t, err, sizeof(err)), 0);
	t.bucket = "a/b";
	assert_int_equal(s3__check_target(&t, err, sizeof(err)), -EINVAL);
	t.bucket = "b";
	t.endpoint = "https://h/?x=1";
	assert_int_equal(s3__check_target(&t, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "upload.s3.endpoint"));
	t.endpoint = "https://h";
	t.ca_file = "/nonexistent/ca.pem";
	assert_int_equal(s3__check_target(&t, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "upload.s3.ca_file"));
	t.ca_file = FIXTURES "/../unit/test_s3.c"; /* readable, but no certificate */
	assert_int_equal(s3__check_target(&t, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "no PEM certificate"));
}

static size_t count(const struct curl_slist *l)
{
	size_t n = 0;

	for (; l; l = l->next)
		n++;
	return n;
}

static void test_headers_carry_the_payload_hash_type_encoding_metadata_and_token(void **state)
{
	static const struct s3_meta meta[] = {{"agent-version", "0.1.0"}, {"mode", "cpu"}};
	struct s3_object o = {.key = "k",
			      .body = "x",
			      .len = 1,
			      .content_type = "text/plain; charset=utf-8",
			      .content_encoding = "gzip",
			      .meta = meta,
			      .n_meta = 2};
	struct curl_slist *h, *l;
	char sha[65];

	assert_int_equal(s3__sha256_hex("x", 1, sha), 0);
	h = s3__headers(&o, sha, TOKEN);
	assert_non_null(h);
	assert_int_equal(count(h), 6);
	l = h;
	assert_string_equal(l->data,
			    "x-amz-content-sha256: "
			    "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881");
	l = l->next;
	assert_string_equal(l->data, "Content-Type: text/plain; charset=utf-8");
	l = l->next;
	assert_string_equal(l->data, "Content-Encoding: gzip");
	l = l->next;
	assert_string_equal(l->data, "x-amz-meta-agent-version: 0.1.0");
	l = l->next;
	assert_string_equal(l->data, "x-amz-meta-mode: cpu");
	l = l->next;
	assert_string_equal(l->data, "x-amz-security-token: " TOKEN);
	curl_slist_free_all(h);

	/* no token, no encoding: no such headers (an empty header would still be signed) */
	o.content_encoding = NULL;
	h = s3__headers(&o, sha, "");
	assert_int_equal(count(h), 4);
	for (l = h; l; l = l->next)
		assert_null(strstr(l->data, "security-token"));
	curl_slist_free_all(h);

	/* a value or name that would break the request is refused, not sent */
	{
		static const struct s3_meta bad_value[] = {{"mode", "cpu\r\nX-Injected: 1"}};
		static const struct s3_meta bad_name[] = {{"Mode:", "cpu"}};

		o.meta = bad_value;
		o.n_meta = 1;
		assert_null(s3__headers(&o, sha, ""));
		o.meta = bad_name;
		assert_null(s3__headers(&o, sha, ""));
	}
}

static void test_sha256_matches_the_standard_vectors(void **state)
{
	char hex[65];

	assert_int_equal(s3__sha256_hex("", 0, hex), 0);
	assert_string_equal(hex,
			    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	assert_int_equal(s3__sha256_hex("abc", 3, hex), 0);
	assert_string_equal(hex,
			    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void test_error_bodies_give_the_code_and_message(void **state)
{
	static const char body[] =
	    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchBucket</Code>"
	    "<Message>The specified bucket does not exist</Message><BucketName>nope</BucketName>"
	    "<RequestId>4442587FB7D0A2F9</RequestId></Error>";
	static const char entities[] = "<Error><Code>AccessDenied</Code><Message>Access &amp; "
				       "&lt;denied&gt;\n&quot;x&apos;\x01</Message></Error>";
	char code[64], msg[256], small[8];

	assert_int_equal(
	    s3__parse_error(body, sizeof(body) - 1, code, sizeof(code), msg, sizeof(msg)), 0);
	assert_string_equal(code, "NoSuchBucket");
	assert_string_equal(msg, "The specified bucket does not exist");
	assert_int_equal(
	    s3__parse_error(entities, sizeof(entities) - 1, code, sizeof(code), msg, sizeof(msg)),
	    0);
	assert_string_equal(code, "AccessDenied");
	assert_string_equal(msg, "Access & <denied> \"x'?");
	/* truncated to fit */
	assert_int_equal(
	    s3__parse_error(body, sizeof(body) - 1, code, sizeof(code), small, sizeof(small)), 0);
	assert_string_equal(small, "The spe");
	/* not XML (a proxy's page), an unterminated element, nothing */
	assert_int_equal(
	    s3__parse_error("<html>Bad Gateway</html>", 24, code, sizeof(code), msg, sizeof(msg)),
	    -ENOENT);
	assert_string_equal(code, "");
	assert_string_equal(msg, "");
	assert_int_equal(s3__parse_error("<Code>Slow", 10, code, sizeof(code), msg, sizeof(msg)),
			 -ENOENT);
	assert_int_equal(s3__parse_error(NULL, 0, code, sizeof(code), msg, sizeof(msg)), -ENOENT);
}

static void test_answers_are_classified_retry_soon_or_refused(void **state)
{
	assert_int_equal(s3__classify(200, ""), S3_OK);
	assert_int_equal(s3__classify(204, ""), S3_OK);
	assert_int_equal(s3__classify(500, "InternalError"), S3_ERR_SERVER);
	assert_int_equal(s3__classify(503, "SlowDown"), S3_ERR_SERVER);
	assert_int_equal(s3__classify(502, ""), S3_ERR_SERVER);
	assert_int_equal(s3__classify(429, ""), S3_ERR_SERVER);
	assert_int_equal(s3__classify(408, ""), S3_ERR_SERVER);
	assert_int_equal(s3__classify(400, "RequestTimeout"), S3_ERR_SERVER);
	assert_int_equal(s3__classify(404, "NoSuchBucket"), S3_ERR_REFUSED);
	assert_int_equal(s3__classify(403, "AccessDenied"), S3_ERR_REFUSED);
	assert_int_equal(s3__classify(403, "InvalidAccessKeyId"), S3_ERR_REFUSED);
	assert_int_equal(s3__classify(403, "SignatureDoesNotMatch"), S3_ERR_REFUSED);
	assert_int_equal(s3__classify(301, "PermanentRedirect"), S3_ERR_REFUSED);
	assert_true(s3__retry_soon(S3_ERR_SERVER) && s3__retry_soon(S3_ERR_NETWORK) &&
		    s3__retry_soon(S3_ERR_TIMEOUT) && s3__retry_soon(S3_ERR_TLS));
	assert_false(s3__retry_soon(S3_ERR_REFUSED) || s3__retry_soon(S3_ERR_CREDENTIALS));
}

static void test_descriptions_name_the_code_or_the_transport_failure(void **state)
{
	struct s3_result r = {.status = S3_ERR_REFUSED, .http_status = 404};
	char buf[256];

	snprintf(r.code, sizeof(r.code), "NoSuchBucket");
	snprintf(r.message, sizeof(r.message), "The specified bucket does not exist");
	s3__describe(&r, buf, sizeof(buf));
	assert_string_equal(buf, "HTTP 404 NoSuchBucket: The specified bucket does not exist");
	memset(&r, 0, sizeof(r));
	r.status = S3_ERR_NETWORK;
	snprintf(r.detail, sizeof(r.detail), "Failed to connect to 127.0.0.1 port 9 after 0 ms");
	s3__describe(&r, buf, sizeof(buf));
	assert_string_equal(buf,
			    "connection failed: Failed to connect to 127.0.0.1 port 9 after 0 ms");
	r.http_status = 502;
	r.detail[0] = '\0';
	s3__describe(&r, buf, sizeof(buf));
	assert_string_equal(buf, "HTTP 502");
}

static void test_scrubbing_removes_keys_tokens_and_url_user_info(void **state)
{
	struct s3_credentials c = {0};
	char text[512];

	snprintf(c.access_key_id, sizeof(c.access_key_id), "AKIDEXAMPLE");
	snprintf(c.secret_access_key, sizeof(c.secret_access_key), SECRET);
	snprintf(c.session_token, sizeof(c.session_token), TOKEN);
	snprintf(text, sizeof(text),
		 "x " SECRET " y " TOKEN " https://u:" SECRET "@h/p AKIDEXAMPLE");
	s3__scrub(text, sizeof(text), &c);
	assert_null(strstr(text, SECRET));
	assert_null(strstr(text, TOKEN));
	assert_null(strstr(text, "AKIDEXAMPLE"));
	assert_string_equal(text, "x [redacted] y [redacted] https://[redacted]@h/p [redacted]");
	/* a secret that occurs in "[redacted]" itself ends, and a full buffer is masked */
	snprintf(c.secret_access_key, sizeof(c.secret_access_key), "d");
	c.session_token[0] = c.access_key_id[0] = '\0';
	snprintf(text, sizeof(text), "odd");
	s3__scrub(text, sizeof(text), &c);
	assert_string_equal(text, "o[redacted][redacted]");
	snprintf(c.secret_access_key, sizeof(c.secret_access_key), "abc");
	snprintf(text, sizeof(text), "abc");
	s3__scrub(text, 4, &c);
	assert_string_equal(text, "***");
}

static char *write_temp(const char *text)
{
	char tmpl[] = "/tmp/test_s3_creds_XXXXXX";
	int fd = mkstemp(tmpl);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return strdup(tmpl);
}

static void test_credentials_come_from_the_environment_first(void **state)
{
	struct s3_env env = {.access_key_id = "AKIDENV", .secret_access_key = SECRET};
	struct s3_credentials c;
	char err[512];

	assert_int_equal(s3__credentials(&env, "/nonexistent", &c, err, sizeof(err)), 0);
	assert_string_equal(c.access_key_id, "AKIDENV");
	assert_string_equal(c.secret_access_key, SECRET);
	assert_string_equal(c.session_token, "");
	assert_string_equal(c.source, "environment");
	env.session_token = TOKEN;
	assert_int_equal(s3__credentials(&env, "", &c, err, sizeof(err)), 0);
	assert_string_equal(c.session_token, TOKEN);
	s3__credentials_wipe(&c);
	assert_string_equal(c.secret_access_key, "");

	/* half a pair is an error that names the variables, never a value */
	env.secret_access_key = NULL;
	assert_int_equal(s3__credentials(&env, "", &c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "AWS_SECRET_ACCESS_KEY"));
	assert_null(strstr(err, "AKIDENV"));
	env.access_key_id = NULL;
	env.secret_access_key = SECRET;
	assert_int_equal(s3__credentials(&env, "", &c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "AWS_ACCESS_KEY_ID"));
	assert_null(strstr(err, SECRET));
	env.access_key_id = "AKID WITH SPACE";
	assert_int_equal(s3__credentials(&env, "", &c, err, sizeof(err)), -EINVAL);
	assert_null(strstr(err, "WITH SPACE"));
	/* nothing at all */
	memset(&env, 0, sizeof(env));
	assert_int_equal(s3__credentials(&env, "", &c, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "upload.s3.credentials.file"));
}

static void test_credentials_file_profiles(void **state)
{
	char *path = write_temp("# shared by other tools\n"
				"[default]\n"
				"aws_access_key_id = AKIDDEFAULT\n"
				"aws_secret_access_key=" SECRET "\n"
				"; comment\n"
				"\n"
				"[ci]\r\n"
				"  aws_access_key_id =  AKIDCI  \r\n"
				"aws_secret_access_key = ci-secret\r\n"
				"aws_session_token = " TOKEN "\r\n"
				"region = eu-west-1\r\n"
				"[broken]\n"
				"aws_access_key_id = AKIDBROKEN\n"
				"just-a-secret-on-its-own-line\n"
				"[half]\n"
				"aws_access_key_id = AKIDHALF\n");
	struct s3_env env = {0};
	struct s3_credentials c;
	char err[512];

	assert_int_equal(s3__credentials(&env, path, &c, err, sizeof(err)), 0);
	assert_string_equal(c.access_key_id, "AKIDDEFAULT");
	assert_string_equal(c.secret_access_key, SECRET);
	assert_string_equal(c.session_token, "");
	env.profile = "ci"; /* AWS_PROFILE */
	assert_int_equal(s3__credentials(&env, path, &c, err, sizeof(err)), 0);
	assert_string_equal(c.access_key_id, "AKIDCI");
	assert_string_equal(c.secret_access_key, "ci-secret");
	assert_string_equal(c.session_token, TOKEN);
	assert_non_null(strstr(c.source, "[ci]"));

	env.profile = "broken";
	assert_int_equal(s3__credentials(&env, path, &c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, ":14:"));
	assert_null(strstr(err, "just-a-secret"));
	env.profile = "half";
	assert_int_equal(s3__credentials(&env, path, &c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "aws_secret_access_key"));
	env.profile = "missing";
	assert_int_equal(s3__credentials(&env, path, &c, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "no profile [missing]"));
	assert_non_null(strstr(err, "AWS_PROFILE"));
	env.profile = NULL;
	assert_int_equal(s3__credentials(&env, "/nonexistent/creds", &c, err, sizeof(err)),
			 -ENOENT);
	assert_non_null(strstr(err, "/nonexistent/creds"));
	unlink(path);
	free(path);
}

static void test_backoff_doubles_with_jitter_up_to_the_interval(void **state)
{
	/* attempt n waits in [d/2, d], d = 1 s * 2^n, capped at min(interval, 300 s) */
	assert_int_equal(uploader__backoff_ms(0, 60, 0), 500);
	assert_int_equal(uploader__backoff_ms(0, 60, 500), 1000);
	assert_int_equal(uploader__backoff_ms(0, 60, 501), 500);
	assert_int_equal(uploader__backoff_ms(1, 60, 0), 1000);
	assert_int_equal(uploader__backoff_ms(3, 60, 4000), 8000);
	assert_int_equal(uploader__backoff_ms(5, 60, 0), 16000);
	assert_int_equal(uploader__backoff_ms(6, 60, 30000), 60000); /* the interval caps it */
	assert_int_equal(uploader__backoff_ms(6, 60, 0), 30000);
	assert_int_equal(uploader__backoff_ms(1000, 60, 0), 30000);
	assert_int_equal(uploader__backoff_ms(1000, 86400, 150000), 300000); /* and 300 s */
	assert_int_equal(uploader__backoff_ms(0, 1, 0), 500);
	assert_int_equal(uploader__backoff_ms(9, 1, 500), 1000);
	for (uint32_t r = 0; r < 100000; r += 7919) {
		for (unsigned a = 0; a < 12; a++) {
			uint64_t d = uploader__backoff_ms(a, 120, r);
			uint64_t full = (1000ULL << a) < 120000 ? 1000ULL << a : 120000;

			assert_true(d >= full / 2 && d <= full);
		}
	}
}

/* ListObjectsV2 answers: keys in order with entities decoded, a key with a control character
 * skipped, the request's own Prefix told apart by the caller, truncation and its token. */
static void test_listing_keys_and_continuation(void **state)
{
	static const char body[] =
	    "<?xml version=\"1.0\"?>\n<ListBucketResult><Name>b</Name><Prefix>p/h/</Prefix>\n"
	    "<Contents><Key>p/h/2026/12/01/100000Z-cpu.folded.gz</Key><Size>10</Size></Contents>\n"
	    "<Contents><Key>p/h/a&amp;b&lt;c</Key></Contents>"
	    "<Contents><Key>p/h/bad&#10;\x01key</Key></Contents>"
	    "<Contents><Key>p/h/last</Key></Contents>"
	    "<IsTruncated>true</IsTruncated><NextContinuationToken>1/x+y=</NextContinuationToken>"
	    "</ListBucketResult>";
	char key[64], token[64], enc[128];
	size_t pos = 0;

	assert_int_equal(s3__list_next(body, strlen(body), &pos, "Key", key, sizeof(key)), 0);
	assert_string_equal(key, "p/h/2026/12/01/100000Z-cpu.folded.gz");
	assert_int_equal(s3__list_next(body, strlen(body), &pos, "Key", key, sizeof(key)), 0);
	assert_string_equal(key, "p/h/a&b<c");
	assert_int_equal(s3__list_next(body, strlen(body), &pos, "Key", key, sizeof(key)), 0);
	assert_string_equal(key, "p/h/last");
	assert_int_equal(s3__list_next(body, strlen(body), &pos, "Key", key, sizeof(key)), -ENOENT);
	/* a key longer than the buffer is skipped, never cut */
	pos = 0;
	assert_int_equal(s3__list_next(body, strlen(body), &pos, "Key", key, 12), 0);
	assert_string_equal(key, "p/h/a&b<c");
	assert_int_equal(s3__list_truncated(body, strlen(body), token, sizeof(token)), 1);
	assert_string_equal(token, "1/x+y=");
	s3__query_encode(token, enc, sizeof(enc));
	assert_string_equal(enc, "1%2Fx%2By%3D");
	assert_int_equal(
	    s3__list_truncated("<IsTruncated>false</IsTruncated>", 32, token, sizeof(token)), 0);
	assert_int_equal(
	    s3__list_truncated("<IsTruncated>true</IsTruncated>", 31, token, sizeof(token)),
	    -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_keys_are_prefix_host_date_time_mode),
	    cmocka_unit_test(test_urls_are_path_style_or_virtual_hosted_with_the_key_encoded),
	    cmocka_unit_test(test_targets_the_client_cannot_use_are_refused_by_key),
	    cmocka_unit_test(test_headers_carry_the_payload_hash_type_encoding_metadata_and_token),
	    cmocka_unit_test(test_sha256_matches_the_standard_vectors),
	    cmocka_unit_test(test_error_bodies_give_the_code_and_message),
	    cmocka_unit_test(test_answers_are_classified_retry_soon_or_refused),
	    cmocka_unit_test(test_descriptions_name_the_code_or_the_transport_failure),
	    cmocka_unit_test(test_scrubbing_removes_keys_tokens_and_url_user_info),
	    cmocka_unit_test(test_credentials_come_from_the_environment_first),
	    cmocka_unit_test(test_credentials_file_profiles),
	    cmocka_unit_test(test_backoff_doubles_with_jitter_up_to_the_interval),
	    cmocka_unit_test(test_listing_keys_and_continuation),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
