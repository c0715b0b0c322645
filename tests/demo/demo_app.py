"""A small stand-in for a Python service, profiled by `make run`: request parsing, a CPU-heavy
handler, a template render and a background thread that waits on I/O."""
import hashlib
import json
import threading
import time


class Handler:
    def parse(self, raw):
        return json.loads(raw)

    def score(self, payload):
        digest = b""
        for item in payload["items"]:
            digest = hashlib.sha256(digest + str(item).encode()).digest()
        return sum(i * i for i in range(2000)) + len(digest)

    def render(self, result):
        return "".join("<li>%d</li>" % (result + i) for i in range(200))

    def handle(self, raw):
        payload = self.parse(raw)
        return self.render(self.score(payload))


def background_flush(stop):
    while not stop.is_set():
        time.sleep(0.05)


def main():
    stop = threading.Event()
    threading.Thread(target=background_flush, args=(stop,), name="flusher", daemon=True).start()
    raw = json.dumps({"items": list(range(300)), "user": "demo"})
    handler = Handler()
    while True:
        handler.handle(raw)


if __name__ == "__main__":
    main()
