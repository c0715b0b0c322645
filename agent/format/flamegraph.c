// SPDX-License-Identifier: MIT
/* SVG flame graphs: the profile becomes a call tree (children sorted by name), written as compact
 * arrays in pre-order with subtree sizes; the page's script lays it out at the current zoom. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "format/flamegraph.h"
#include "profile/frame.h"
#include "format/json.h"
#include "util/hashmap.h"

/* Subtrees narrower than 0.1 px of the full width are merged in the file, as flamegraph.pl
 * drops them (its --minwidth): zooming in 10x still shows every frame of a pixel or more. */
#define FG_MIN_SHARE (0.1 / (FLAMEGRAPH_WIDTH - 20))

struct fg_node {
	uint32_t name;
	uint32_t first_child, next_sibling; /* 0: none (node 0 is the root, never a child) */
	uint64_t value, base;
};

struct fg_tree {
	struct strtab names;
	char *kinds; /* one kind letter per name */
	size_t kinds_cap;
	struct fg_node *nodes;
	size_t n, cap;
	struct hashmap children; /* (parent, name) -> node index */
	uint64_t total, base_total;
	int diff;
};

static const char kind_letters[FRAME_KIND_MAX] = {
    [FRAME_NATIVE] = 'N',  [FRAME_PYTHON] = 'P', [FRAME_KERNEL] = 'K',	  [FRAME_MARKER] = 'M',
    [FRAME_PROCESS] = 'T', [FRAME_THREAD] = 'T', [FRAME_CONTAINER] = 'T',
};

static int64_t tree__name(struct fg_tree *t, const char *name, char kind)
{
	size_t before = t->names.n;
	int64_t id = strtab__intern(&t->names, name);

	if (id < 0)
		return id;
	if ((size_t)id >= t->kinds_cap) {
		size_t cap = t->kinds_cap ? t->kinds_cap * 2 : 1024;
		char *k = realloc(t->kinds, cap);

		if (!k)
			return -ENOMEM;
		t->kinds = k;
		t->kinds_cap = cap;
	}
	if (t->names.n > before)
		t->kinds[id] = kind; /* the kind where a name is first seen */
	return id;
}

static int tree__init(struct fg_tree *t, int diff)
{
	int64_t root;

	memset(t, 0, sizeof(*t));
	strtab__init(&t->names);
	hashmap__init(&t->children);
	t->diff = diff;
	t->cap = 1024;
	t->nodes = calloc(t->cap, sizeof(*t->nodes));
	if (!t->nodes)
		return -ENOMEM;
	t->kinds_cap = 1024;
	t->kinds = calloc(t->kinds_cap, 1);
	if (!t->kinds)
		return -ENOMEM;
	root = tree__name(t, "all", 'R');
	if (root < 0)
		return (int)root;
	t->n = 1;
	return 0;
}

static void tree__free(struct fg_tree *t)
{
	strtab__free(&t->names);
	hashmap__free(&t->children);
	free(t->nodes);
	free(t->kinds);
}

static int64_t tree__child(struct fg_tree *t, uint32_t parent, uint32_t name)
{
	struct hkey k = {parent, name};
	uintptr_t idx = (uintptr_t)hashmap__get(&t->children, k);
	struct fg_node *c;
	int err;

	if (idx)
		return (int64_t)idx;
	if (t->n == t->cap) {
		size_t cap = t->cap * 2;
		struct fg_node *bigger = realloc(t->nodes, cap * sizeof(*bigger));

		if (!bigger)
			return -ENOMEM;
		t->nodes = bigger;
		t->cap = cap;
	}
	c = &t->nodes[t->n];
	memset(c, 0, sizeof(*c));
	c->name = name;
	c->next_sibling = t->nodes[parent].first_child;
	t->nodes[parent].first_child = (uint32_t)t->n;
	err = hashmap__put(&t->children, k, (void *)(uintptr_t)t->n, NULL);
	if (err)
		return err;
	return (int64_t)t->n++;
}

/* The tree name of frame f: its text (frame.h), or with normalize, a process frame's comm and
 * "thread (NAME)" for a thread frame, without the PIDs and TIDs that change from run to run. */
static int64_t tree__frame_name(struct fg_tree *t, const struct frame *f, int normalize)
{
	char small[1100], *heap = NULL;
	const char *name = small;
	size_t need;
	int64_t id;

	if (normalize && f->kind == FRAME_PROCESS) {
		name = f->name;
	} else if (normalize && f->kind == FRAME_THREAD) {
		int n = snprintf(small, sizeof(small), "thread (%s)", f->name);

		need = n < 0 ? 0 : (size_t)n;
		if (need >= sizeof(small)) {
			name = heap = malloc(need + 1);
			if (!heap)
				return -ENOMEM;
			snprintf(heap, need + 1, "thread (%s)", f->name);
		}
	} else {
		need = frame__format(f, small, sizeof(small));
		if (need >= sizeof(small)) {
			name = heap = malloc(need + 1);
			if (!heap)
				return -ENOMEM;
			frame__format(f, heap, need + 1);
		}
	}
	id = tree__name(t, name, f->kind < FRAME_KIND_MAX ? kind_letters[f->kind] : 'N');
	free(heap);
	return id;
}

/* Adds every stack of p, into value (or base). normalize drops PIDs and TIDs from names. */
static int tree__add_profile(struct fg_tree *t, const struct profile *p, int is_base, int normalize)
{
	int64_t *names = malloc((p->nframes ? p->nframes : 1) * sizeof(*names));
	struct profile_stack *s;
	size_t it = 0;
	int err = 0;

	if (!names)
		return -ENOMEM;
	/* the tree name of each frame, found where the frame is first met (-1: not yet), so
	 * names get their kind in the order stacks meet them */
	for (size_t i = 0; i < p->nframes; i++)
		names[i] = -1;
	while (!err && hashmap__next(&p->stacks, &it, NULL, (void **)&s)) {
		for (; !err && s; s = s->next_same_hash) {
			uint32_t node = 0;

			if (!s->weight)
				continue;
			if (is_base)
				t->nodes[0].base += s->weight;
			else
				t->nodes[0].value += s->weight;
			for (uint32_t d = 0; d < s->n; d++) {
				int64_t nid = names[s->ids[d]], child;

				if (nid < 0) {
					nid = tree__frame_name(t, &p->frames[s->ids[d]], normalize);
					if (nid < 0) {
						err = (int)nid;
						break;
					}
					names[s->ids[d]] = nid;
				}
				child = tree__child(t, node, (uint32_t)nid);
				if (child < 0) {
					err = (int)child;
					break;
				}
				node = (uint32_t)child;
				if (is_base)
					t->nodes[node].base += s->weight;
				else
					t->nodes[node].value += s->weight;
			}
		}
	}
	free(names);
	if (err)
		return err;
	if (is_base)
		t->base_total = t->nodes[0].base;
	else
		t->total = t->nodes[0].value;
	return 0;
}

/* ---- the file ---- */

struct fg_out {
	uint32_t *name;
	uint64_t *value, *base;
	uint32_t *parent, *size;
	size_t n, cap;
	uint32_t max_depth;
};

static int out__push(struct fg_out *o, uint32_t name, uint64_t value, uint64_t base,
		     uint32_t parent)
{
	if (o->n == o->cap) {
		size_t cap = o->cap ? o->cap * 2 : 4096;
		uint32_t *n = realloc(o->name, cap * sizeof(*n));
		uint64_t *v, *b;
		uint32_t *p, *s;

		if (!n)
			return -ENOMEM;
		o->name = n;
		v = realloc(o->value, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		o->value = v;
		b = realloc(o->base, cap * sizeof(*b));
		if (!b)
			return -ENOMEM;
		o->base = b;
		p = realloc(o->parent, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		o->parent = p;
		s = realloc(o->size, cap * sizeof(*s));
		if (!s)
			return -ENOMEM;
		o->size = s;
		o->cap = cap;
	}
	o->name[o->n] = name;
	o->value[o->n] = value;
	o->base[o->n] = base;
	o->parent[o->n] = parent;
	o->size[o->n] = 1;
	o->n++;
	return 0;
}

static void out__free(struct fg_out *o)
{
	free(o->name);
	free(o->value);
	free(o->base);
	free(o->parent);
	free(o->size);
}

static int cmp_children(const void *a, const void *b, void *ctx)
{
	const struct fg_tree *t = ctx;
	const struct fg_node *x = &t->nodes[*(const uint32_t *)a],
			     *y = &t->nodes[*(const uint32_t *)b];

	return strcmp(strtab__str(&t->names, x->name), strtab__str(&t->names, y->name));
}

static int narrow(const struct fg_tree *t, const struct fg_node *n)
{
	return (double)n->value < FG_MIN_SHARE * (double)t->total &&
	       (!t->diff || (double)n->base < FG_MIN_SHARE * (double)t->base_total);
}

/* Pre-order walk without recursion (stacks can be hundreds of thousands deep), children sorted
 * by name, narrow children of a node merged into one "[merged: N frames]" leaf. */
static int tree__flatten(struct fg_tree *t, struct fg_out *o)
{
	struct walk {
		uint32_t node, out_parent, depth;
	} *stack = NULL;
	uint32_t *kids = NULL;
	size_t nstack = 0, stack_cap = 0, kids_cap = 0;
	int err = 0;

	stack_cap = 1024;
	stack = malloc(stack_cap * sizeof(*stack));
	if (!stack)
		return -ENOMEM;
	stack[nstack++] = (struct walk){0, UINT32_MAX, 0};
	while (nstack) {
		struct walk w = stack[--nstack];
		const struct fg_node *n = &t->nodes[w.node];
		uint32_t self = (uint32_t)o->n, nkids = 0, nmerged = 0;
		uint64_t mv = 0, mb = 0;

		err = out__push(o, n->name, n->value, n->base, w.out_parent);
		if (err)
			goto out;
		if (w.depth > o->max_depth)
			o->max_depth = w.depth;
		for (uint32_t c = n->first_child; c; c = t->nodes[c].next_sibling) {
			if (narrow(t, &t->nodes[c])) {
				nmerged++;
				mv += t->nodes[c].value;
				mb += t->nodes[c].base;
				continue;
			}
			if (nkids == kids_cap) {
				size_t cap = kids_cap ? kids_cap * 2 : 256;
				uint32_t *bigger = realloc(kids, cap * sizeof(*bigger));

				if (!bigger) {
					err = -ENOMEM;
					goto out;
				}
				kids = bigger;
				kids_cap = cap;
			}
			kids[nkids++] = c;
		}
		if (nmerged) {
			char name[64];
			int64_t nid;

			snprintf(name, sizeof(name), "[merged: %u narrow frames]", nmerged);
			nid = tree__name(t, name, 'M');
			if (nid < 0) {
				err = (int)nid;
				goto out;
			}
			err = out__push(o, (uint32_t)nid, mv, mb, self);
			if (err)
				goto out;
			if (w.depth + 1 > o->max_depth)
				o->max_depth = w.depth + 1;
		}
		if (!nkids)
			continue;
		qsort_r(kids, nkids, sizeof(*kids), cmp_children, t);
		if (nstack + nkids > stack_cap) {
			size_t cap = (nstack + nkids) * 2;
			struct walk *bigger = realloc(stack, cap * sizeof(*bigger));

			if (!bigger) {
				err = -ENOMEM;
				goto out;
			}
			stack = bigger;
			stack_cap = cap;
		}
		for (uint32_t i = nkids; i-- > 0;)
			stack[nstack++] = (struct walk){kids[i], self, w.depth + 1};
	}
	for (size_t i = o->n; i-- > 1;)
		o->size[o->parent[i]] += o->size[i];
out:
	free(kids);
	free(stack);
	return err;
}

static void xml_text(FILE *out, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&':
			fputs("&amp;", out);
			break;
		case '<':
			fputs("&lt;", out);
			break;
		case '>':
			fputs("&gt;", out);
			break;
		case '"':
			fputs("&quot;", out);
			break;
		default:
			if ((unsigned char)*s >= 0x20)
				putc(*s, out);
		}
	}
}

/* The viewer: lays out the tree at the current zoom, merging frames under a pixel wide. */
static const char fg_script[] =
    "(function () {\n"
    "'use strict';\n"
    "var NS = 'http://www.w3.org/2000/svg', svg = document.documentElement;\n"
    "var W = D.width, PAD = 10, FH = 16, TOP = 70, BOTTOM = 34, FW = W - 2 * PAD;\n"
    "var N = D.n.length, names = D.names, kinds = D.kinds, nn = D.n, v = D.v, sz = D.s;\n"
    "var b = D.b || null, parent = new Int32Array(N), depth = new Int32Array(N), maxDepth = 0;\n"
    "(function () {\n"
    "  var open = [];\n"
    "  for (var i = 0; i < N; i++) {\n"
    "    while (open.length && open[open.length - 1] + sz[open[open.length - 1]] <= i) "
    "open.pop();\n"
    "    parent[i] = open.length ? open[open.length - 1] : -1;\n"
    "    depth[i] = open.length;\n"
    "    if (depth[i] > maxDepth) maxDepth = depth[i];\n"
    "    open.push(i);\n"
    "  }\n"
    "})();\n"
    "var H = TOP + (maxDepth + 1) * FH + BOTTOM;\n"
    "svg.setAttribute('height', H);\n"
    "svg.setAttribute('viewBox', '0 0 ' + W + ' ' + H);\n"
    "document.getElementById('background').setAttribute('height', H);\n"
    "var frames = document.getElementById('frames'), details = "
    "document.getElementById('details');\n"
    "var matchedText = document.getElementById('matched'), unzoom = "
    "document.getElementById('unzoom');\n"
    "var search = document.getElementById('search');\n"
    "details.setAttribute('y', H - 12);\n"
    "var KIND = {P: 'Python', N: 'native', K: 'kernel', M: 'marker', T: 'process/thread', R: "
    "'all'};\n"
    "var zoomed = 0, matched = null;\n"
    "var maxDelta = 0;\n"
    "if (b) for (var i = 1; i < N; i++) maxDelta = Math.max(maxDelta, Math.abs(delta(i)));\n"
    "function delta(i) { return (D.total ? v[i] / D.total : 0) - (D.btotal ? b[i] / D.btotal : "
    "0); }\n"
    "function hash(s) { var h = 0; for (var i = 0; i < s.length; i++) h = (h * 31 + "
    "s.charCodeAt(i)) | 0; return h >>> 0; }\n"
    "function pct(x) { return (100 * x).toFixed(2) + '%'; }\n"
    "function amount(x) {\n"
    /* grouped by hand: toLocaleString took most of a full render's time (60 ms for 2,400
     * frames in Chromium) */
    "  if (D.unit === 'samples') return String(x).replace(/\\B(?=(\\d{3})+(?!\\d))/g, ',') + "
    "(x === 1 ? ' sample' : ' samples');\n"
    "  if (x >= 1e6) return (x / 1e6).toFixed(3) + ' s';\n"
    "  if (x >= 1e3) return (x / 1e3).toFixed(3) + ' ms';\n"
    "  return x + ' us';\n"
    "}\n"
    "function colour(i) {\n"
    "  var name = names[nn[i]], k = kinds.charAt(nn[i]), h = hash(name);\n"
    "  if (matched && matched[nn[i]] && i) return 'rgb(230,0,230)';\n"
    "  if (b) {\n"
    "    var d = maxDelta ? delta(i) / maxDelta : 0, c = Math.round(235 - 170 * Math.abs(d));\n"
    "    if (Math.abs(d) < 0.01) return 'rgb(235,235,235)';\n"
    "    return d > 0 ? 'rgb(255,' + c + ',' + c + ')' : 'rgb(' + c + ',' + c + ',255)';\n"
    "  }\n"
    "  switch (k) {\n"
    "  case 'P': return 'hsl(' + (75 + h % 45) + ',60%,' + (48 + (h >> 8) % 14) + '%)';\n"
    "  case 'K': return 'hsl(' + (26 + h % 12) + ',90%,' + (55 + (h >> 8) % 10) + '%)';\n"
    "  case 'N': return 'hsl(' + (h % 14) + ',75%,' + (58 + (h >> 8) % 12) + '%)';\n"
    "  case 'M': return 'hsl(0,0%,' + (68 + h % 12) + '%)';\n"
    "  case 'T': return 'hsl(' + (205 + h % 25) + ',55%,' + (72 + (h >> 8) % 10) + '%)';\n"
    "  default: return 'rgb(205,205,205)';\n"
    "  }\n"
    "}\n"
    "function describe(i) {\n"
    "  var s = names[nn[i]] + ' (' + (KIND[kinds.charAt(nn[i])] || 'frame') + '): ';\n"
    "  if (b) return s + 'base ' + pct(D.btotal ? b[i] / D.btotal : 0) + ' -> new ' + pct(D.total "
    "? v[i] / D.total : 0) + ' (' + (delta(i) >= 0 ? '+' : '') + (100 * delta(i)).toFixed(2) + ' "
    "pp)';\n"
    "  return s + amount(v[i]) + ', ' + pct(v[i] / v[0]);\n"
    "}\n"
    "function el(tag, attrs) {\n"
    "  var e = document.createElementNS(NS, tag);\n"
    "  for (var a in attrs) e.setAttribute(a, attrs[a]);\n"
    "  return e;\n"
    "}\n"
    "function box(g, x, w, d, fill, title, label) {\n"
    "  var y = H - BOTTOM - (d + 1) * FH;\n"
    "  var t = el('title', {}); t.textContent = title; g.appendChild(t);\n"
    "  g.appendChild(el('rect', {x: x.toFixed(2), y: y, width: w.toFixed(2), height: FH - 1, "
    "fill: fill, rx: 2}));\n"
    "  var fit = Math.floor((w - 6) / 7);\n"
    "  if (label && fit >= 3) {\n"
    "    var tx = el('text', {x: (x + 3).toFixed(2), y: y + FH - 4});\n"
    "    tx.textContent = label.length <= fit ? label : label.substring(0, fit - 2) + '..';\n"
    "    g.appendChild(tx);\n"
    "  }\n"
    "  return g;\n"
    "}\n"
    "function frame(i, x, w, dim) {\n"
    "  var g = el('g', {'class': dim ? 'f dim' : 'f', 'data-i': i});\n"
    "  return box(g, x, w, depth[i], colour(i), describe(i), names[nn[i]]);\n"
    "}\n"
    "function merged(x, w, d, count, total) {\n"
    "  var g = el('g', {'class': 'm'});\n"
    "  return box(g, x, w, d, 'rgb(190,190,190)', count + ' frames narrower than a pixel, "
    "merged: ' + amount(total) + ', ' + pct(total / v[0]), '');\n"
    "}\n"
    "function render() {\n"
    "  var frag = document.createDocumentFragment();\n"
    "  for (var a = parent[zoomed]; a >= 0; a = parent[a]) frag.appendChild(frame(a, PAD, FW, "
    "true));\n"
    "  frag.appendChild(frame(zoomed, PAD, FW, false));\n"
    "  var scale = v[zoomed] ? FW / v[zoomed] : 0, todo = [zoomed], at = [PAD];\n"
    "  while (todo.length) {\n"
    "    var i = todo.pop(), x = at.pop(), end = i + sz[i];\n"
    "    var runX = 0, runW = 0, runN = 0, runV = 0;\n"
    "    for (var j = i + 1; j < end; j += sz[j]) {\n"
    "      var w = v[j] * scale;\n"
    "      if (w < 1) {\n"
    "        if (!runN) runX = x;\n"
    "        runW += w; runN++; runV += v[j];\n"
    "      } else {\n"
    "        if (runW >= 1) frag.appendChild(merged(runX, runW, depth[i] + 1, runN, runV));\n"
    "        runW = runN = runV = 0;\n"
    "        frag.appendChild(frame(j, x, w, false));\n"
    "        todo.push(j); at.push(x);\n"
    "      }\n"
    "      x += w;\n"
    "    }\n"
    "    if (runW >= 1) frag.appendChild(merged(runX, runW, depth[i] + 1, runN, runV));\n"
    "  }\n"
    "  frames.textContent = '';\n"
    "  frames.appendChild(frag);\n"
    "  unzoom.style.display = zoomed ? '' : 'none';\n"
    "}\n"
    "function zoom(i) { zoomed = i; render(); }\n"
    "function find(q) {\n"
    "  matched = null;\n"
    "  if (q) {\n"
    "    var re;\n"
    "    try { re = new RegExp(q); } catch (e) { re = new "
    "RegExp(q.replace(/[.*+?^${}()|[\\]\\\\]/g, '\\\\$&')); }\n"
    "    matched = new Uint8Array(names.length);\n"
    "    for (var k = 0; k < names.length; k++) matched[k] = re.test(names[k]) ? 1 : 0;\n"
    "    var sum = 0, until = 0, count = 0;\n"
    "    for (var i = 1; i < N; i++) {\n"
    "      if (i < until || !matched[nn[i]]) continue;\n"
    "      sum += v[i]; until = i + sz[i]; count++;\n"
    "    }\n"
    "    matchedText.textContent = 'Matched: ' + pct(v[0] ? sum / v[0] : 0) + ' of all (' + "
    "amount(sum) + ')';\n"
    "    matchedText.setAttribute('data-share', v[0] ? sum / v[0] : 0);\n"
    "  } else {\n"
    "    matchedText.textContent = '';\n"
    "    matchedText.removeAttribute('data-share');\n"
    "  }\n"
    "  render();\n"
    "}\n"
    "frames.addEventListener('click', function (e) {\n"
    "  var g = e.target.closest('g.f');\n"
    "  if (g) zoom(+g.getAttribute('data-i'));\n"
    "});\n"
    "frames.addEventListener('mouseover', function (e) {\n"
    "  var g = e.target.closest('g');\n"
    "  if (g && g.parentNode === frames) details.textContent = g.firstChild.textContent;\n"
    "});\n"
    "frames.addEventListener('mouseout', function () { details.textContent = ' '; });\n"
    "unzoom.addEventListener('click', function () { zoom(0); });\n"
    "search.addEventListener('input', function () { find(search.value); });\n"
    "document.addEventListener('keydown', function (e) {\n"
    "  if ((e.ctrlKey || e.metaKey) && (e.key === 'f' || e.key === 'F')) { e.preventDefault(); "
    "search.focus(); search.select(); }\n"
    "  else if (e.key === 'Escape') { if (search.value) { search.value = ''; find(''); } else "
    "zoom(0); }\n"
    "});\n"
    "render();\n"
    "})();\n";

static const char fg_style[] =
    "text { font-family: Verdana, Helvetica, sans-serif; font-size: 12px; fill: #000; }\n"
    "#title { font-size: 17px; text-anchor: middle; }\n"
    "#subtitle { fill: #555; text-anchor: middle; }\n"
    "#frames g { cursor: pointer; }\n"
    "#frames g:hover rect { stroke: #000; stroke-width: 0.5; }\n"
    "#frames g.m { cursor: default; }\n"
    "#frames g.dim rect { opacity: 0.55; }\n"
    "#frames text { pointer-events: none; }\n"
    "#unzoom { cursor: pointer; fill: #06c; }\n";

static void write_legend(FILE *out, int diff)
{
	static const struct {
		const char *colour, *label;
	} kinds[] =
	    {
		{"hsl(95,60%,52%)", "Python"},		{"hsl(6,75%,62%)", "native"},
		{"hsl(32,90%,58%)", "kernel"},		{"hsl(0,0%,72%)", "marker"},
		{"hsl(215,55%,76%)", "process/thread"},
	    },
	  diffs[] = {
	      {"rgb(255,60,60)", "share grew"},
	      {"rgb(60,60,255)", "share shrank"},
	      {"rgb(235,235,235)", "unchanged"},
	  };
	int x = 10, n = diff ? 3 : 5;

	fputs("<g id=\"legend\">", out);
	for (int i = 0; i < n; i++) {
		const char *c = diff ? diffs[i].colour : kinds[i].colour;
		const char *l = diff ? diffs[i].label : kinds[i].label;

		fprintf(out,
			"<rect x=\"%d\" y=\"50\" width=\"12\" height=\"12\" fill=\"%s\"/>"
			"<text x=\"%d\" y=\"60\">%s</text>",
			x, c, x + 16, l);
		x += 30 + 8 * (int)strlen(l);
	}
	fputs("</g>\n", out);
}

static int write_svg(struct fg_tree *t, const struct profile_meta *meta, FILE *out)
{
	struct fg_out o = {0};
	const char *unit = meta->kind == PROFILE_CPU ? "samples" : "us";
	uint32_t *remap = NULL, *used = NULL, nused = 0;
	char title[256], subtitle[256];
	int err, height;

	err = tree__flatten(t, &o);
	if (err)
		goto out;
	if (meta->title)
		snprintf(title, sizeof(title), "%s", meta->title);
	else
		snprintf(title, sizeof(title), "%s%s flame graph", t->diff ? "Differential " : "",
			 meta->kind == PROFILE_CPU	? "CPU"
			 : meta->kind == PROFILE_OFFCPU ? "Off-CPU"
							: "Wall-clock");
	if (t->diff)
		snprintf(subtitle, sizeof(subtitle),
			 "shape: new profile (%llu); colour: change of each frame's share from the "
			 "base (%llu)",
			 (unsigned long long)t->total, (unsigned long long)t->base_total);
	else if (meta->kind == PROFILE_CPU)
		snprintf(subtitle, sizeof(subtitle), "%llu samples", (unsigned long long)t->total);
	else
		snprintf(subtitle, sizeof(subtitle), "%.3f s in total", t->total / 1e6);
	if (!t->diff && meta->kind == PROFILE_CPU && meta->rate_hz) {
		size_t l = strlen(subtitle);

		snprintf(subtitle + l, sizeof(subtitle) - l, " at %u Hz", meta->rate_hz);
	}
	if (meta->duration_ns) {
		size_t l = strlen(subtitle);

		snprintf(subtitle + l, sizeof(subtitle) - l, ", %.1f s window",
			 meta->duration_ns / 1e9);
	}
	height = 70 + (int)(o.max_depth + 1) * 16 + 34;

	fprintf(out,
		"<?xml version=\"1.0\" standalone=\"no\"?>\n"
		"<svg version=\"1.1\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
		"height=\"%d\" viewBox=\"0 0 %d %d\">\n<style>\n%s</style>\n",
		FLAMEGRAPH_WIDTH, height, FLAMEGRAPH_WIDTH, height, fg_style);
	fprintf(out,
		"<rect id=\"background\" x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" "
		"fill=\"#fbfbf7\"/>\n",
		FLAMEGRAPH_WIDTH, height);
	fprintf(out, "<text id=\"title\" x=\"%d\" y=\"22\">", FLAMEGRAPH_WIDTH / 2);
	xml_text(out, title);
	fprintf(out, "</text>\n<text id=\"subtitle\" x=\"%d\" y=\"40\">", FLAMEGRAPH_WIDTH / 2);
	xml_text(out, subtitle);
	fputs("</text>\n", out);
	fputs("<text id=\"unzoom\" x=\"10\" y=\"22\" style=\"display:none\">Reset zoom</text>\n",
	      out);
	fprintf(out,
		"<foreignObject x=\"%d\" y=\"6\" width=\"250\" height=\"26\">"
		"<input xmlns=\"http://www.w3.org/1999/xhtml\" id=\"search\" type=\"search\" "
		"placeholder=\"Search (regex), Ctrl-F\" "
		"style=\"width:236px;font:12px Verdana,sans-serif\"/></foreignObject>\n",
		FLAMEGRAPH_WIDTH - 260);
	fprintf(out, "<text id=\"matched\" x=\"%d\" y=\"60\" text-anchor=\"end\"></text>\n",
		FLAMEGRAPH_WIDTH - 10);
	write_legend(out, t->diff);
	fputs("<g id=\"frames\"></g>\n", out);
	fprintf(out, "<text id=\"details\" x=\"10\" y=\"%d\"> </text>\n", height - 12);

	/* The data: names, one kind letter per name, then per node in pre-order its name, value,
	 * subtree size (and base value for a diff). */
	fputs("<script type=\"text/ecmascript\"><![CDATA[\nvar D = {", out);
	fprintf(out, "width:%d,unit:\"%s\",diff:%d,total:%llu,btotal:%llu,\nnames:[",
		FLAMEGRAPH_WIDTH, unit, t->diff, (unsigned long long)t->total,
		(unsigned long long)t->base_total);
	/* only the names the written nodes use (pruned subtrees' names stay out), in order */
	remap = malloc(t->names.n * sizeof(*remap));
	used = malloc(t->names.n * sizeof(*used));
	if (!remap || !used) {
		err = -ENOMEM;
		goto out;
	}
	memset(remap, 0xff, t->names.n * sizeof(*remap));
	for (size_t i = 0; i < o.n; i++) {
		if (remap[o.name[i]] == UINT32_MAX) {
			remap[o.name[i]] = nused;
			used[nused++] = o.name[i];
		}
		o.name[i] = remap[o.name[i]];
	}
	for (uint32_t i = 0; i < nused; i++) {
		if (i)
			putc(',', out);
		json__string(out, strtab__str(&t->names, used[i]));
	}
	fputs("],\nkinds:\"", out);
	for (uint32_t i = 0; i < nused; i++)
		putc(t->kinds[used[i]], out);
	fputs("\",\nn:[", out);
	for (size_t i = 0; i < o.n; i++)
		fprintf(out, i ? ",%u" : "%u", o.name[i]);
	fputs("],\nv:[", out);
	for (size_t i = 0; i < o.n; i++)
		fprintf(out, i ? ",%llu" : "%llu", (unsigned long long)o.value[i]);
	fputs("],\ns:[", out);
	for (size_t i = 0; i < o.n; i++)
		fprintf(out, i ? ",%u" : "%u", o.size[i]);
	fputs("]", out);
	if (t->diff) {
		fputs(",\nb:[", out);
		for (size_t i = 0; i < o.n; i++)
			fprintf(out, i ? ",%llu" : "%llu", (unsigned long long)o.base[i]);
		fputs("]", out);
	}
	fputs("};\n", out);
	fputs(fg_script, out);
	fputs("]]></script>\n</svg>\n", out);
	err = ferror(out) ? -EIO : 0;
out:
	free(remap);
	free(used);
	out__free(&o);
	return err;
}

int flamegraph__write(const struct profile *p, const struct profile_meta *meta, FILE *out)
{
	struct fg_tree t;
	int err;

	err = tree__init(&t, 0);
	if (!err)
		err = tree__add_profile(&t, p, 0, 0);
	if (!err)
		err = write_svg(&t, meta, out);
	tree__free(&t);
	return err;
}

int flamegraph__write_diff(const struct profile *base, const struct profile *new,
			   const struct profile_meta *meta, FILE *out)
{
	struct fg_tree t;
	int err;

	err = tree__init(&t, 1);
	if (!err)
		err = tree__add_profile(&t, base, 1, 1);
	if (!err)
		err = tree__add_profile(&t, new, 0, 1);
	if (!err)
		err = write_svg(&t, meta, out);
	tree__free(&t);
	return err;
}
