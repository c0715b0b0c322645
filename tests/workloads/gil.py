"""GIL released: thread "hasher" hashes big buffers in hash_loop() (hashlib releases the GIL while
hashing) while thread "hog" holds the GIL spinning in gil_hog(). ready.json maps names to tids."""
import hashlib
import threading
import time

import _wl

tids = {}


def hash_loop(data):
    tids["hasher"] = _wl.native_tid()
    while True:
        hashlib.sha256(data).digest()


def gil_hog():
    tids["hog"] = _wl.native_tid()
    x = 0
    while True:
        x += 1


for name, target, args in (("hasher", hash_loop, (b"\x5a" * (16 << 20),)), ("hog", gil_hog, ())):
    t = threading.Thread(target=target, args=args, name=name)
    t.daemon = True
    t.start()
while len(tids) < 2:
    time.sleep(0.01)
_wl.ready(tids=tids)
while True:
    time.sleep(1)
