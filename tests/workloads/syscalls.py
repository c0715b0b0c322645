"""Kernel time: read_loop() reads 1 MiB blocks from /dev/zero, so most of its time is in the kernel."""
import os

import _wl


def read_loop():
    fd = os.open("/dev/zero", os.O_RDONLY)
    _wl.ready()
    while True:
        os.read(fd, 1 << 20)


read_loop()
