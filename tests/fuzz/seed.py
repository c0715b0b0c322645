#!/usr/bin/env python3
"""Seeds tests/fuzz/corpus/<target>/ from the project's real inputs: configuration fixtures,
line tables and code objects captured from CPython 3.6-3.13, folded profiles, pprof files made
from them, control requests, maps files, ELF fixtures and source files with known qualified
names. Re-running rewrites the seed-* files only; crash-* files found by `make fuzz` and any
other file put in a corpus directory are kept (they are what `make fuzz-replay` guards).

Usage: tests/fuzz/seed.py [AGENTCTL]   (AGENTCTL, default build/agentctl, makes the pprof seeds)
"""
import glob
import gzip
import os
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
FIX = os.path.join(REPO, "tests", "fixtures")
CORPUS = os.path.join(HERE, "corpus")


def put(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def clear_seeds():
    for p in glob.glob(os.path.join(CORPUS, "*", "seed-*")):
        os.unlink(p)


def seed_config():
    for p in sorted(glob.glob(os.path.join(FIX, "config", "*.yaml"))):
        with open(p, "rb") as f:
            put("config", os.path.basename(p), f.read())
    with open(os.path.join(REPO, "config", "agent.yaml"), "rb") as f:
        put("config", "shipped-agent.yaml", f.read())
    # regular expressions whose compiled size or matching time explodes (refused), and a
    # control socket path with characters YAML reads back differently unless escaped
    regex = "targets:\n  all_python: false\n  cmdline_regex: ['%s']\n"
    put("config", "regex-stacked-repetition.yaml", regex % ("a" + "+" * 40))
    put("config", "regex-nested-intervals.yaml", regex % "((a{255}){255}){255}")
    put("config", "regex-backreference.yaml", regex % "(a*)*\\1")
    put("config", "regex-ordinary.yaml", regex % "manage\\.py (runserver|celery)[0-9]{1,3}")
    put("config", "describe-escapes.yaml",
        'control:\n  socket: "/run/a\\Nb\\Lc\\Pd\\x85e\\uFEFFf\\x01"\n')


def linetable_input(minor, firstlineno, addrq, table):
    # fuzz_linetable.c: minor = data[0] % 10 + 5, then firstlineno and addrq (int32 LE)
    return struct.pack("<Bii", minor - 5, firstlineno, addrq) + table


def seed_linetable():
    for p in sorted(glob.glob(os.path.join(FIX, "linetables", "lines-3.*.txt"))):
        minor = int(os.path.basename(p)[len("lines-3."):-len(".txt")])
        with open(p) as f:
            for line in f:
                w = line.split()
                if not w or w[0] != "code":
                    continue
                # code NAME FIRSTLINENO CODE_BYTES HEX
                name, first, ncode, hexs = w[1], int(w[2]), int(w[3]), w[4] if len(w) > 4 else ""
                table = b"" if hexs == "-" else bytes.fromhex(hexs)
                safe = "".join(c if c.isalnum() else "_" for c in name)
                put("linetable", "3.%d-%s" % (minor, safe),
                    linetable_input(minor, first, ncode // 2, table))


def parse_pymem(path):
    codes, mem, obs = [], [], {}
    lines = {}
    code_type = 0
    with open(path) as f:
        for line in f:
            w = line.split()
            if not w or w[0].startswith("#"):
                continue
            if w[0] == "code_type":
                code_type = int(w[1], 16)
            elif w[0] == "observed":
                obs = {w[i]: int(w[i + 1]) for i in range(1, len(w) - 1, 2)}
            elif w[0] == "code":
                codes.append({"addr": int(w[2], 16), "name": w[3]})
            elif w[0] == "line":
                lines.setdefault(int(w[1]), []).append(int(w[2]))
            elif w[0] == "mem":
                mem.append((int(w[1], 16), bytes.fromhex(w[2])))
    return code_type, obs, codes, lines, mem


def region_of(mem, addr):
    for a, data in mem:
        if a <= addr < a + len(data):
            return (a, data)
    return None


def pymem_input(minor_sel, flags, code_type, regions, frames):
    # fuzz_pymem.c's header, then the regions' data
    out = struct.pack("<BBBBQ", minor_sel, len(regions) - 1, len(frames), flags, code_type)
    for a, data in regions:
        out += struct.pack("<QI", a, len(data))
    for code, instr in frames:
        out += struct.pack("<Qq", code, instr)
    out += struct.pack("<IB", 0, 0)
    for _, data in regions:
        out += data
    return out


def seed_pymem():
    debug = os.path.join(FIX, "debug_offsets", "3.13.bin")
    for p in sorted(glob.glob(os.path.join(FIX, "pymem", "code-3.*.txt"))):
        minor = int(os.path.basename(p)[len("code-3."):-len(".txt")])
        code_type, obs, codes, lines, mem = parse_pymem(p)
        for i, c in enumerate(codes):
            home = region_of(mem, c["addr"])
            if not home:
                continue
            regions = [home]
            off = c["addr"] - home[0]
            for field in ("name", "qualname", "filename", "linetable"):
                if field not in obs:
                    continue
                at = off + obs[field]
                ptr = struct.unpack_from("<Q", home[1], at)[0]
                r = region_of(mem, ptr)
                if r and r not in regions:
                    regions.append(r)
            offsets = sorted(set(o for o in lines.get(i, []) if o >= 0))[:6] or [0]
            # f_lasti counts bytes before 3.10, code units in 3.10; 3.11+: byte offsets
            instrs = [o // 2 if minor == 10 else o for o in offsets] + [-1]
            frames = [(c["addr"], ins) for ins in instrs]
            safe = "".join(ch if ch.isalnum() else "_" for ch in c["name"])
            put("pymem", "3.%d-%d-%s" % (minor, i, safe),
                pymem_input(minor - 6, 1, code_type, regions, frames))
            put("pymem", "3.%d-%d-%s-changed" % (minor, i, safe),
                pymem_input(minor - 6, 3, code_type, regions, frames))
            if minor == 13 and os.path.exists(debug) and len(regions) < 8:
                with open(debug, "rb") as f:
                    dbg = f.read()
                # selector 14: offsets from the _Py_DebugOffsets in region 0
                put("pymem", "3.13-debug-offsets-%d-%s" % (i, safe),
                    pymem_input(8, 1, code_type, [(0x1000, dbg)] + regions, frames))


def seed_folded(agentctl):
    srcs = sorted(glob.glob(os.path.join(FIX, "folded", "*")))
    for p in srcs:
        if p.endswith("README.md"):
            continue
        with open(p, "rb") as f:
            put("folded", os.path.basename(p), f.read())
    put("folded", "crlf-tabs.folded", "a (1);f (x.py:3)\t5\r\nb (2);[truncated];g (y.py:9) 7\r\n")
    put("folded", "no-final-newline.folded", "python3 (9);<module> (m.py:1) 3")
    put("folded", "blank-and-zero.folded", "\n\npython3 (9);x 0\n  \npython3 (9);y 1\n")
    if not agentctl or not os.access(agentctl, os.X_OK):
        print("seed.py: %s not executable: pprof seeds skipped" % agentctl, file=sys.stderr)
        return
    with tempfile.TemporaryDirectory() as tmp:
        for p in srcs:
            if not (p.endswith(".folded") or p.endswith(".folded.gz")) or "count" in p:
                continue
            for kind in ("cpu", "wall"):
                out = os.path.join(tmp, "out.pb.gz")
                r = subprocess.run([agentctl, "convert", p, "--format", "pprof", "--kind", kind,
                                    "-o", out], capture_output=True)
                if r.returncode == 0:
                    with open(out, "rb") as f:
                        data = f.read()
                    base = os.path.basename(p).replace(".", "_")
                    put("pprof", "%s-%s.pb.gz" % (base, kind), data)
                    put("pprof", "%s-%s.pb" % (base, kind), gzip.decompress(data))


def seed_control():
    reqs = {
        "status": "status v=2\n", "ping": "ping v=2\n",
        "snapshot": "snapshot v=2 pid=4242 duration_ms=2000\n",
        "snapshot-all": "snapshot pid=1 duration_ms=86400000 threads=1 kernel=1 gil=1 mode=wall"
                        " v=2\n",
        "snapshot-offcpu": "snapshot  pid=77 v=2 duration_ms=5 mode=offcpu\r\n",
        "repeated": "snapshot v=2 pid=1 pid=2 duration_ms=5\n",
        "unknown": "reload v=2\n", "half-sent": "snapshot v=2 pid=12", "nul": "status\x00 v=2\n",
        "overflow": "snapshot v=2 pid=99999999999 duration_ms=1\n",
        "oversized": "status v=2 " + "x" * 5000 + "\n",
        "version-1": "status\n", "version-3": "ping v=3\n", "version-twice": "ping v=2 v=2\n",
    }
    for name, text in reqs.items():
        put("control", name, text)


def seed_maps():
    for p in sorted(glob.glob(os.path.join(FIX, "maps", "*.txt"))):
        with open(p, "rb") as f:
            put("maps", os.path.basename(p), f.read())
    put("maps", "cpu-list", "0-3,6,8-9\n")


def seed_elf():
    for p in sorted(glob.glob(os.path.join(FIX, "elf", "*"))):
        with open(p, "rb") as f:
            data = f.read()
        if data[:4] == b"\x7fELF":
            put("elf", os.path.basename(p), data)


def seed_qualname():
    want = {}
    with open(os.path.join(FIX, "qualname", "expected.txt")) as f:
        for line in f:
            w = line.split()
            if len(w) != 5 or w[0] != "3.10":
                continue
            want.setdefault(w[1], []).append((int(w[2]), w[3]))
    for fname in ("tricky.py", "ambiguous.py", "src/string.py"):
        with open(os.path.join(FIX, "qualname", fname), "rb") as f:
            src = f.read()
        for first, name in want.get(fname, [])[:40]:
            nb = name.encode()
            safe = "".join(c if c.isalnum() else "_" for c in name)
            put("qualname", "%s-%d-%s" % (fname.replace("/", "_"), first, safe),
                struct.pack("<HB", first, len(nb)) + nb + src)


def main():
    agentctl = sys.argv[1] if len(sys.argv) > 1 else os.path.join(REPO, "build", "agentctl")
    clear_seeds()
    seed_config()
    seed_linetable()
    seed_pymem()
    seed_folded(agentctl)
    seed_control()
    seed_maps()
    seed_elf()
    seed_qualname()
    for d in sorted(glob.glob(os.path.join(CORPUS, "*"))):
        print("%-10s %d files" % (os.path.basename(d), len(os.listdir(d))))


if __name__ == "__main__":
    main()
