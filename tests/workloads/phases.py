"""Two phases of known shares, for comparing two time ranges: until SIGUSR1, grows() is called
once for every four calls of steady() (about a fifth of the time); after it, four times for one
(about four fifths). Both spin in _wl.spin(), so only their own frames tell the phases apart."""
import signal

import _wl


def steady():
    return _wl.spin()


def grows():
    return _wl.spin()


calls = {"grows": 1, "steady": 4}


def on_usr1(signum, frame):
    calls["grows"], calls["steady"] = 4, 1
    _wl.write_json("switched.json", {})


def main():
    signal.signal(signal.SIGUSR1, on_usr1)
    _wl.ready()
    while True:
        for _ in range(calls["grows"]):
            grows()
        for _ in range(calls["steady"]):
            steady()


main()
