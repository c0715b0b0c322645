"""Helpers of the S3 upload tests: an independent SigV4 verifier, a capturing and verifying
HTTP front, and an s3rver (npm) process on loopback."""
