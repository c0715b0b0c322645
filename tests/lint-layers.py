#!/usr/bin/env python3
"""make lint: the folders of agent/ are layers, and includes point only downward.

A module (agent/LAYER/NAME.c and .h) may include the headers of its own layer and of the layers
listed before it, by their folder ("util/hashmap.h"); every module sits in the folder of its
layer; and modules do not include each other in a cycle. Prints each violation and exits 1."""
import glob
import os
import re
import sys

# Lowest first. What each is for: README, "Layout".
LAYERS = [
    ("util", "hashmap lru errbuf log clock text atomicfile statlist version"),
    ("os", "procfs proctask elfsym kallsyms container privilege memread sdnotify"),
    ("python", "pyproc pyoffsets pyobj linetable qualname symbolize uwalk uwalk_shim pythreads"),
    ("bpf", "bpfload sampler procwatch"),
    ("profile", "profile frame collector diff topview"),
    ("format", "folded pprof speedscope flamegraph output json input"),
    ("config", "config yaml describe"),
    ("upload", "uploader spool s3"),
    ("store", "store wincache s3store source"),
    ("daemon", "daemon discovery proctree control netserver window state status serve"),
    ("cmd", "agentctl pyprof-agent session snapshot record dump top convert compare web"),
]
RANK = {layer: i for i, (layer, _) in enumerate(LAYERS)}
HOME = {name: layer for layer, names in LAYERS for name in names.split()}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def main(root):
    errors, edges = [], {}
    files = sorted(glob.glob(os.path.join(root, "agent", "**", "*.[ch]"), recursive=True))
    for path in files:
        rel = os.path.relpath(path, os.path.join(root, "agent"))
        parts = rel.split(os.sep)
        name = os.path.splitext(parts[-1])[0]
        if len(parts) != 2 or HOME.get(name) != parts[0]:
            errors.append("%s: module %s belongs in agent/%s/" % (rel, name,
                                                                 HOME.get(name, "<no layer>")))
            continue
        layer = parts[0]
        with open(path) as f:
            text = f.read()
        for inc in INCLUDE.findall(text):
            head = inc.split("/")
            if len(head) == 2 and head[0] in RANK:
                other = os.path.splitext(head[1])[0]
                if HOME.get(other) != head[0]:
                    errors.append("%s: includes %s, which is not a module there" % (rel, inc))
                elif RANK[head[0]] > RANK[layer]:
                    errors.append("%s: includes %s, from the higher layer %s" % (
                        rel, inc, head[0]))
                elif other != name:
                    edges.setdefault(name, set()).add(other)
            elif os.path.splitext(os.path.basename(inc))[0] in HOME and len(head) == 1:
                errors.append("%s: includes %s without its folder" % (rel, inc))
    # no cycles between modules (within a layer too)
    state = {}

    def visit(n, trail):
        state[n] = 1
        for m in sorted(edges.get(n, ())):
            if state.get(m) == 1:
                errors.append("include cycle: %s" % " -> ".join(trail + [n, m]))
            elif not state.get(m):
                visit(m, trail + [n])
        state[n] = 2

    for n in sorted(edges):
        if not state.get(n):
            visit(n, [])
    for e in errors:
        print("lint-layers: " + e)
    print("lint-layers: %d files, %d violations" % (len(files), len(errors)))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "."))
