"""Line numbers: hot() spends nearly all its time on the line marked HOT-LINE (big-int modular
exponentiation in C), called from module level on the line marked CALL-HOT."""
import _wl


def hot():
    m = (1 << 2048) - 1942289
    v = 3
    _wl.ready()
    while True:
        v = pow(v, 65537, m)  # HOT-LINE


hot()  # CALL-HOT
