"""A hostile target: corrupts its own frame chain and code objects with ctypes while it runs, the
way a buggy C extension or a malicious process could, then puts everything back.

Between corruptions the main thread runs good_main() -> good_leaf() (its marked line).
The test drives it through files in E2E_WORKDIR: it writes cmd-N (whole, by a rename) holding a
corruption kind and the CPU seconds to spend on the corrupted stack ("unmapped_frame 0.6"); this
process corrupts, writes ack-N.json (the kind and seconds it read), keeps running on the
corrupted stack, writes spun-N.json once its thread has had that much CPU there (on a loaded
machine, wall time alone can leave a kind with no samples), goes on until release-N exists,
restores, and writes done-N.json. cmd-N holding "exit" ends it; any other unknown kind ends it
with an error.

Corrupted stack, innermost first: hostile_leaf (spinning on its marked line) called by
hostile_middle (or a fresh copy of it) called by run_kind. Kinds:
  cycle_self      middle's f_back/previous points to middle itself
  cycle_two       middle's f_back/previous points to the leaf (leaf -> middle -> leaf -> ...)
  unmapped_frame  middle's f_back/previous points into unmapped memory
  not_code        middle's f_code/f_executable points to a bytes object
  unmapped_code   middle's f_code/f_executable points into unmapped memory
  huge_name       a fresh copy of middle whose co_name str claims 2**40 characters
  bad_str_kind    a fresh copy of middle whose co_filename str has an invalid kind
  huge_linetable  a fresh copy of middle whose line table bytes claim 2**40 bytes

Frame pointers are written at offsets found at start-up by matching the frames' own memory
against id() values (PyFrameObject before 3.11; from 3.11 the _PyInterpreterFrame that
PyFrameObject.f_frame, at offset 24, points to), so nothing here hard-codes a version's layout.
The garbage collector is off while anything is corrupted, and everything is restored before the
corrupted frames return, so CPython itself never sees the damage.
"""
import gc
import os
import sys
import types

import _wl

WORKDIR = _wl.WORKDIR
UNMAPPED = 0xDEAD0000  # below any mapping of a normal process
NOT_CODE = b"this bytes object is not a code object"
KEEP = []  # fresh code objects and strings live as long as the process: no address reuse
HOLD = {"cpu_s": 0.0}  # CPU seconds to spend on the corrupted stack before spun-N.json
KINDS = ("cycle_self", "cycle_two", "unmapped_frame", "not_code", "unmapped_code", "huge_name",
         "bad_str_kind", "huge_linetable")

try:
    import ctypes
except ImportError as e:  # a CPython built without libffi
    _wl.ready(skip="ctypes unavailable: %s" % e)
    sys.exit(0)

PY311 = sys.version_info >= (3, 11)


def peek(addr):
    return ctypes.c_uint64.from_address(addr).value


def poke(addr, value):
    ctypes.c_uint64.from_address(addr).value = value


def frame_base(f):
    """Address of the structure the profiler walks for frame object f."""
    return peek(id(f) + 24) if PY311 else id(f)


def find_offset(base, want, limit=96):
    for off in range(0, limit, 8):
        if peek(base + off) == want:
            return off
    return None


def calibrate():
    """Offsets of the previous-frame and code pointers, checked on two frames."""
    found = {}

    def probe_leaf():
        me, caller, grand = sys._getframe(), sys._getframe(1), sys._getframe(2)
        b0, b1, b2 = frame_base(me), frame_base(caller), frame_base(grand)
        found["code"] = find_offset(b0, id(me.f_code))
        found["code2"] = find_offset(b1, id(caller.f_code))
        found["prev"] = find_offset(b0, b1)
        found["prev2"] = find_offset(b1, b2)

    def probe_mid():
        probe_leaf()

    probe_mid()
    if found["code"] is None or found["code"] != found["code2"]:
        return None, "no consistent code pointer offset found: %r" % found
    if found["prev"] is None or found["prev"] != found["prev2"]:
        return None, "no consistent previous-frame offset found: %r" % found
    return {"code": found["code"], "prev": found["prev"]}, None


OFFSETS, WHY = calibrate()


def clone_code(code, **changes):
    """A copy of code with some fields replaced, on every version from 3.6."""
    if hasattr(code, "replace"):
        return code.replace(**changes)
    args = [code.co_argcount, code.co_kwonlyargcount, code.co_nlocals, code.co_stacksize,
            code.co_flags, code.co_code, code.co_consts, code.co_names, code.co_varnames,
            changes.get("co_filename", code.co_filename), changes.get("co_name", code.co_name),
            code.co_firstlineno, changes.get("co_lnotab", code.co_lnotab), code.co_freevars,
            code.co_cellvars]
    return types.CodeType(*args)


def fresh_str(text):
    """A str object nobody else holds (not interned, not shared)."""
    s = "".join([text[:1], text[1:]])
    KEEP.append(s)
    return s


def good_leaf():
    x = 0
    for i in range(3000):
        x += i  # GOOD-LINE
    return x


def good_main(n):
    # no Python function but good_leaf below good_main: the test names every frame here
    # (os.path.join is Python code, frozen in 3.14, and a sample can land in it)
    cmd = "%s/cmd-%d" % (WORKDIR, n)
    while not os.access(cmd, os.F_OK):
        good_leaf()


STATE = {}


def hostile_leaf(n, kind):
    release = os.path.join(WORKDIR, "release-%d" % n)
    me = sys._getframe()
    middle = sys._getframe(1)
    target = saved = None
    if kind in ("cycle_self", "cycle_two", "unmapped_frame"):
        target = frame_base(middle) + OFFSETS["prev"]
        new = {"cycle_self": frame_base(middle), "cycle_two": frame_base(me),
               "unmapped_frame": UNMAPPED}[kind]
    elif kind in ("not_code", "unmapped_code"):
        target = frame_base(middle) + OFFSETS["code"]
        new = id(NOT_CODE) if kind == "not_code" else UNMAPPED
    del me, middle
    if target is not None:
        saved = peek(target)
        poke(target, new)
    _wl.write_json("ack-%d.json" % n, {"kind": kind, "cpu_s": HOLD["cpu_s"]})
    start, spun = _wl.thread_cpu_time(), False
    try:
        while not os.access(release, os.F_OK):
            for i in range(2000):
                pass  # LEAF-LINE
            if not spun and _wl.thread_cpu_time() - start >= HOLD["cpu_s"]:
                _wl.write_json("spun-%d.json" % n, {})
                spun = True
    finally:
        if target is not None:
            poke(target, saved)


def hostile_middle(n, kind):
    hostile_leaf(n, kind)  # MIDDLE-LINE


def run_kind(n, kind):
    middle = hostile_middle
    undo = None
    if kind in ("huge_name", "bad_str_kind", "huge_linetable"):
        code = hostile_middle.__code__
        table_field = "co_linetable" if sys.version_info >= (3, 10) else "co_lnotab"
        changes = {"co_name": fresh_str("hostile_middle_%s_%d" % (kind, n)),
                   table_field: bytes(bytearray(getattr(code, table_field)))}
        if kind == "bad_str_kind":  # a file name of its own: the damage is not shared
            changes["co_filename"] = fresh_str("%s.hostile-%d" % (code.co_filename, n))
        if PY311:
            changes["co_qualname"] = changes["co_name"]
        fresh = clone_code(code, **changes)
        KEEP.append(fresh)
        for field in ("co_name", "co_filename", table_field):
            if field in changes:
                assert getattr(fresh, field) is not getattr(code, field), field
        middle = types.FunctionType(fresh, globals())
        KEEP.append(middle)
        if kind == "huge_name":
            target = id(fresh.co_name) + 16  # PyASCIIObject.length
            new = 1 << 40
        elif kind == "bad_str_kind":
            target = id(fresh.co_filename) + 32  # PyASCIIObject.state: kind in bits 2-4
            new = (peek(target) & ~(7 << 2)) | (3 << 2)
        else:
            target = id(getattr(fresh, table_field)) + 16  # PyVarObject.ob_size
            new = 1 << 40
        undo = (target, peek(target))
        poke(target, new)
    try:
        middle(n, kind)
    finally:
        if undo:
            poke(*undo)


def main():
    if OFFSETS is None:
        _wl.ready(skip=WHY)
        return
    _wl.ready(offsets=OFFSETS)
    n = 1
    while True:
        good_main(n)
        with open(os.path.join(WORKDIR, "cmd-%d" % n)) as f:
            kind, _, cpu_s = f.read().strip().partition(" ")
        if kind == "exit":
            return
        if kind not in KINDS:  # a command read half-written damages nothing: say so, loudly
            sys.exit("hostile.py: cmd-%d: unknown kind %r" % (n, kind))
        HOLD["cpu_s"] = float(cpu_s)
        gc.disable()
        try:
            run_kind(n, kind)
        finally:
            gc.enable()
        _wl.write_json("done-%d.json" % n, {"kind": kind})
        n += 1


main()
