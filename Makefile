# pyprof-agent build. `make test` and `make run` work on a fresh Debian machine: they install
# what is missing (make deps), build, then test or run.

BUILD      ?= build
CC         ?= gcc
CLANG      ?= clang
BPFTOOL    ?= bpftool
PYTHON     ?= /usr/bin/python3
ARCH       := x86

CFLAGS     ?= -O2 -g
# -Ibpf: agent/python/uwalk.c compiles the BPF walker (bpf/pystack.bpf.h) for userspace.
CFLAGS     += -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers -std=gnu11 \
	      -D_GNU_SOURCE -Iinclude -Iagent -Ibpf -I$(BUILD)
# libcurl for S3 uploads (its SigV4 signer); libssl/libcrypto (already in the process through
# Debian's OpenSSL-flavoured libcurl) for the payload's SHA-256 and the extra CA bundle.
# libmicrohttpd for agentctl serve (a kept HTTP server rather than growing our own).
LDLIBS     := -lbpf -lelf -lz -lpthread -lyaml -lprotobuf-c -lcurl -lssl -lcrypto -lmicrohttpd
TEST_LDLIBS := $(LDLIBS) -lcmocka

# Debian packages the build and the tests need; `make deps` installs the missing ones.
DEB_BUILD  := clang llvm bpftool libbpf-dev libelf-dev zlib1g-dev libyaml-dev \
	      libcurl4-openssl-dev libssl-dev libcmocka-dev make gcc pkg-config \
	      libprotobuf-c-dev protobuf-c-compiler libmicrohttpd-dev
DEB_TEST   := python3 python3-pytest golang-go chromium python3-websocket python3-uvicorn \
	      systemd strace python3-yaml util-linux prometheus debootstrap tmux
DEPS_STAMP := $(BUILD)/.deps-installed

BPF_SRCS   := $(wildcard bpf/*.bpf.c)
BPF_OBJS   := $(patsubst bpf/%.bpf.c,$(BUILD)/%.bpf.o,$(BPF_SRCS))
BPF_SKELS  := $(patsubst bpf/%.bpf.c,$(BUILD)/%.skel.h,$(BPF_SRCS))

# Every agent/LAYER/*.c is a library module except the mains (layers: README, "Layout").
MAINS      := agent/cmd/agentctl.c agent/cmd/pyprof-agent.c
AGENT_SRCS := $(wildcard agent/*/*.c)
LIB_SRCS   := $(filter-out $(MAINS),$(AGENT_SRCS))
LIB_OBJS   := $(patsubst agent/%.c,$(BUILD)/agent/%.o,$(LIB_SRCS))
# pprof's profile.proto, compiled by protoc-c into build/proto/ (generated, never committed).
PROTO_OBJS := $(BUILD)/proto/profile.pb-c.o
LIB_OBJS   += $(PROTO_OBJS)
UNIT_SRCS  := $(wildcard tests/unit/test_*.c)
UNIT_BINS  := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))

.PHONY: all deps test unit e2e offsets-test run bench clean format lint install uninstall \
	asan sanitize fuzz fuzz-build fuzz-replay test-kernels

all: $(BUILD)/agentctl $(BUILD)/pyprof-agent

# $(call install_missing,PACKAGES): installs, with apt-get (its package lists updated first),
# those of the Debian PACKAGES that are not installed yet; then touches the target, a stamp.
define install_missing
	@mkdir -p $(BUILD)
	@missing=""; for p in $(1); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q "install ok installed" \
			|| missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "deps: installing$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi
	@touch $@
endef

deps: $(DEPS_STAMP)
$(DEPS_STAMP): Makefile
	$(call install_missing,$(DEB_BUILD) $(DEB_TEST))

# The kernel matrix's own packages (qemu, the guest's busybox, initramfs tools), installed by
# `make test-kernels` only.
DEB_KERNELS := qemu-system-x86 busybox-static cpio kmod zstd xz-utils gpgv
KERNELS_STAMP := $(BUILD)/.deps-kernels-installed
$(KERNELS_STAMP): Makefile
	$(call install_missing,$(DEB_KERNELS))

# Kernel types come from a vmlinux.h pinned in the tree (bpf/vmlinux/ARCH/, dumped once from a
# kernel's BTF, see its README), never from the build host: every build makes the same programs,
# and CO-RE relocates them to each host's kernel at load.
VMLINUX_H  := bpf/vmlinux/$(ARCH)/vmlinux.h

$(BUILD)/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.bpf.h) $(wildcard include/*.h) $(VMLINUX_H) | $(DEPS_STAMP)
	@mkdir -p $(BUILD)
	$(CLANG) -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -D__BPF__ -Iinclude -Ibpf \
		-Ibpf/vmlinux/$(ARCH) -Wall -Wno-unused-function -c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	$(BPFTOOL) gen skeleton $< > $@.tmp && mv $@.tmp $@

# Header dependencies come from the compiler (-MMD -MP, *.d next to each object); the skeletons
# are built before any object, since the first build has no .d files yet.
$(BUILD)/agent/%.o: agent/%.c $(BUILD)/agent/%.d | $(BPF_SKELS) $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/proto/%.pb-c.c $(BUILD)/proto/%.pb-c.h: proto/%.proto | $(DEPS_STAMP)
	@mkdir -p $(BUILD)/proto
	protoc-c --proto_path=proto --c_out=$(BUILD)/proto $<

$(BUILD)/proto/%.pb-c.o: $(BUILD)/proto/%.pb-c.c $(BUILD)/proto/%.pb-c.h
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/agent/format/pprof.o: $(BUILD)/proto/profile.pb-c.h
# agentctl serve's page is embedded (.incbin) from its own file.
$(BUILD)/agent/cmd/web.o: agent/cmd/web.html

$(BUILD)/agentctl: $(BUILD)/agent/cmd/agentctl.o $(LIB_OBJS)
	$(CC) $(CFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/pyprof-agent: $(BUILD)/agent/cmd/pyprof-agent.o $(LIB_OBJS)
	$(CC) $(CFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/tests/%: tests/unit/%.c $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DFIXTURES=\"$(CURDIR)/tests/fixtures\" $< $(LIB_OBJS) $(TEST_LDLIBS) -o $@

# Tier 1: unit tests of userspace modules on fixtures.
unit: $(UNIT_BINS)
	@tests/run-unit.sh $(UNIT_BINS)

# The Debian sid root file system CPython 3.14 and 3.15 run in for the offsets and end-to-end
# tests (tests/pythons/), built once; without it those versions' cases are skipped, saying why.
.PHONY: sid-root
sid-root: | $(DEPS_STAMP)
	@tests/pythons/sid-root.sh $(BUILD) || echo "sid-root: unavailable; 3.14/3.15 cases will be skipped"

# Offset tables checked against offsetof() in each installed CPython's internal headers.
offsets-test: $(LIB_OBJS) sid-root
	@tests/offsets/run.sh $(BUILD)

# Tiers 2 and 3: BPF load/attach and end-to-end against real interpreters (root).
e2e: $(BUILD)/agentctl sid-root
	SID_ROOT=$(abspath $(BUILD))/sid-root $(PYTHON) -m pytest -ra tests/e2e

test: deps
	@$(MAKE) --no-print-directory all $(UNIT_BINS)
	@tests/run-all.sh

# Tier 4: the agent on Debian's kernels 5.10, 6.1, 6.12 and sid's newest, each booted under qemu
# (TCG): snapshots, off-CPU, the daemon (tests/kernels/; PYPROF_BUILD picks the binaries).
test-kernels: all $(KERNELS_STAMP)
	@tests/kernels/run-matrix.sh

run: all
	@tests/demo/run-demo.sh $(BUILD)/pyprof-agent

# The kernel's floor under the sampler (perf events alone, and with an empty program).
$(BUILD)/pyprof-floor: tests/bench/floor.c $(LIB_OBJS)
	$(CC) $(CFLAGS) $< $(LIB_OBJS) $(LDLIBS) -o $@

bench: all $(BUILD)/pyprof-floor
	@for b in oncpu offcpu daemon churn scale codechurn web; do \
		AGENTCTL=$(BUILD)/agentctl PYPROF_AGENT=$(BUILD)/pyprof-agent $(PYTHON) tests/bench/$$b.py \
			|| exit 1; done

# ---- Sanitizers and fuzzing (issue 8) -------------------------------------------------------
# build/asan/: the same userspace sources, unit tests and binaries built with AddressSanitizer
# and UBSan; any report aborts. `make sanitize` runs the unit tests and a short end-to-end run
# with them (tests/run-sanitize.sh).
ASAN_DIR   := $(BUILD)/asan
ASAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
ASAN_OBJS  := $(patsubst agent/%.c,$(ASAN_DIR)/agent/%.o,$(LIB_SRCS)) \
	      $(ASAN_DIR)/proto/profile.pb-c.o
ASAN_UNIT_BINS := $(patsubst tests/unit/%.c,$(ASAN_DIR)/tests/%,$(UNIT_SRCS))

$(ASAN_DIR)/agent/%.o: agent/%.c $(ASAN_DIR)/agent/%.d | $(BPF_SKELS) $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	@echo "  CC [asan] $<"
	@$(CC) $(CFLAGS) $(ASAN_FLAGS) -MMD -MP -c $< -o $@

$(ASAN_DIR)/agent/format/pprof.o: $(BUILD)/proto/profile.pb-c.h

$(ASAN_DIR)/proto/%.pb-c.o: $(BUILD)/proto/%.pb-c.c $(BUILD)/proto/%.pb-c.h
	@mkdir -p $(dir $@)
	@echo "  CC [asan] $<"
	@$(CC) $(CFLAGS) $(ASAN_FLAGS) -c $< -o $@

$(ASAN_DIR)/agentctl: $(ASAN_DIR)/agent/cmd/agentctl.o $(ASAN_OBJS)
	@echo "  LD [asan] $@"
	@$(CC) $(CFLAGS) $(ASAN_FLAGS) $^ $(LDLIBS) -o $@

$(ASAN_DIR)/pyprof-agent: $(ASAN_DIR)/agent/cmd/pyprof-agent.o $(ASAN_OBJS)
	@echo "  LD [asan] $@"
	@$(CC) $(CFLAGS) $(ASAN_FLAGS) $^ $(LDLIBS) -o $@

$(ASAN_DIR)/tests/%: tests/unit/%.c $(ASAN_OBJS)
	@mkdir -p $(dir $@)
	@echo "  CC [asan] $<"
	@$(CC) $(CFLAGS) $(ASAN_FLAGS) -Wno-format-truncation \
		-DFIXTURES=\"$(CURDIR)/tests/fixtures\" $< $(ASAN_OBJS) $(TEST_LDLIBS) -o $@

asan: $(ASAN_DIR)/agentctl $(ASAN_DIR)/pyprof-agent $(ASAN_UNIT_BINS)

sanitize: asan
	@ASAN=$(ASAN_DIR) tests/run-sanitize.sh

# build/fuzz/: libFuzzer harnesses (tests/fuzz/fuzz_*.c) linked with clang against the modules
# that need no BPF skeleton (an archive, so each harness takes only what it uses). `make fuzz`
# runs each for FUZZ_SECONDS and saves what fails into tests/fuzz/corpus/TARGET/; `make
# fuzz-replay` (a `make test` tier) runs every corpus file through its harness once.
FUZZ_DIR     := $(BUILD)/fuzz
FUZZ_SECONDS ?= 60
FUZZ_FLAGS   := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
		-fno-sanitize-recover=all
FUZZ_CFLAGS  := $(filter-out -O2,$(CFLAGS)) $(FUZZ_FLAGS)
FUZZ_SRCS    := $(filter-out agent/bpf/sampler.c agent/bpf/procwatch.c agent/daemon/daemon.c \
		agent/cmd/snapshot.c,\
		$(LIB_SRCS))
FUZZ_OBJS    := $(patsubst agent/%.c,$(FUZZ_DIR)/agent/%.o,$(FUZZ_SRCS)) \
		$(FUZZ_DIR)/proto/profile.pb-c.o
FUZZ_TARGETS := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS    := $(patsubst %,$(FUZZ_DIR)/fuzz_%,$(FUZZ_TARGETS))

$(FUZZ_DIR)/agent/%.o: agent/%.c $(FUZZ_DIR)/agent/%.d | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	@echo "  CC [fuzz] $<"
	@$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

$(FUZZ_DIR)/agent/format/pprof.o: $(BUILD)/proto/profile.pb-c.h

$(FUZZ_DIR)/proto/%.pb-c.o: $(BUILD)/proto/%.pb-c.c $(BUILD)/proto/%.pb-c.h
	@mkdir -p $(dir $@)
	@echo "  CC [fuzz] $<"
	@$(CLANG) $(FUZZ_CFLAGS) -c $< -o $@

$(FUZZ_DIR)/libagent.a: $(FUZZ_OBJS)
	@rm -f $@ && ar rcs $@ $^

$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_DIR)/libagent.a
	@echo "  LD [fuzz] $@"
	@$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer $< $(FUZZ_DIR)/libagent.a $(LDLIBS) -o $@

fuzz-build: $(FUZZ_BINS)

fuzz: $(FUZZ_BINS)
	@tests/fuzz/run.sh fuzz $(FUZZ_DIR) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-replay: $(FUZZ_BINS)
	@tests/fuzz/run.sh replay $(FUZZ_DIR) $(FUZZ_TARGETS)

# ---- The walker replayed without a kernel (tests/replay/) -------------------------------------
# build/pyprof-replay: bpf/pystack.bpf.h compiled for userspace (agent/python/uwalk.c) over recorded
# memory (pages, thread registers and the stacks CPython reported) of every CPython,
# tests/fixtures/replay/*.rec.gz.
# `make replay` (a `make test` tier, no root) checks every recording; `make record-fixtures`
# records them again from the interpreters on this machine (root).
REPLAY_SRCS := $(wildcard tests/replay/*.c)
.PHONY: replay record-fixtures

$(BUILD)/pyprof-replay: $(REPLAY_SRCS) $(wildcard tests/replay/*.h) $(wildcard bpf/*.bpf.h) \
		$(wildcard include/*.h) $(LIB_OBJS)
	$(CC) $(CFLAGS) -Itests/replay $(REPLAY_SRCS) $(LIB_OBJS) \
		$(LDLIBS) -o $@

replay: $(BUILD)/pyprof-replay
	@$(BUILD)/pyprof-replay check tests/fixtures/replay/*.rec.gz

record-fixtures: $(BUILD)/pyprof-replay
	@tests/replay/record.sh $(BUILD)/pyprof-replay

clean:
	rm -rf $(BUILD)

# `make install [PREFIX=/usr/local] [DESTDIR=]` lays out exactly these files:
#   $(PREFIX)/bin/pyprof-agent, $(PREFIX)/bin/agentctl
#   $(PREFIX)/lib/systemd/system/pyprof-agent.service  (UNITDIR; both PREFIXes are on systemd's
#       unit path), its ExecStart= and ExecReload= rewritten for PREFIX
#   $(PREFIX)/lib/tmpfiles.d/pyprof-agent.conf  (TMPFILESDIR: windows older than 7 days go)
#   /etc/pyprof-agent/agent.yaml  (config/agent.yaml with output.directory in the unit's
#       StateDirectory; control.socket's default is already in its RuntimeDirectory; an existing
#       file is kept, never replaced)
# each under DESTDIR when given (staging for a package).
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
UNITDIR    ?= $(PREFIX)/lib/systemd/system
TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d
CONFDIR    ?= /etc/pyprof-agent
UNIT       := deploy/systemd/pyprof-agent.service

install: all
	install -d -m 0755 $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(TMPFILESDIR) \
		$(DESTDIR)$(CONFDIR)
	install -m 0755 $(BUILD)/pyprof-agent $(BUILD)/agentctl $(DESTDIR)$(BINDIR)/
	install -m 0644 deploy/systemd/pyprof-agent.tmpfiles $(DESTDIR)$(TMPFILESDIR)/pyprof-agent.conf
	sed 's|/usr/local/bin/|$(BINDIR)/|g; s|/etc/pyprof-agent/|$(CONFDIR)/|g' $(UNIT) \
		> $(DESTDIR)$(UNITDIR)/pyprof-agent.service.tmp
	chmod 0644 $(DESTDIR)$(UNITDIR)/pyprof-agent.service.tmp
	mv $(DESTDIR)$(UNITDIR)/pyprof-agent.service.tmp $(DESTDIR)$(UNITDIR)/pyprof-agent.service
	@if [ -e $(DESTDIR)$(CONFDIR)/agent.yaml ]; then \
		echo "install: keeping the existing $(DESTDIR)$(CONFDIR)/agent.yaml"; \
	else \
		sed -e 's|^  directory: ./profiles$$|  directory: /var/lib/pyprof-agent/profiles|' \
		    -e '1i # Installed by `make install` for deploy/systemd/pyprof-agent.service: output.directory\n# and control.socket are in its StateDirectory and RuntimeDirectory.' \
		    config/agent.yaml > $(DESTDIR)$(CONFDIR)/agent.yaml.tmp && \
		grep -q '^  directory: /var/lib/pyprof-agent/profiles$$' $(DESTDIR)$(CONFDIR)/agent.yaml.tmp && \
		grep -q '^  socket: /run/pyprof-agent/agent.sock$$' $(DESTDIR)$(CONFDIR)/agent.yaml.tmp || \
			{ echo "install: config/agent.yaml changed shape; update the install rule" >&2; \
			  rm -f $(DESTDIR)$(CONFDIR)/agent.yaml.tmp; exit 1; }; \
		chmod 0644 $(DESTDIR)$(CONFDIR)/agent.yaml.tmp; \
		mv $(DESTDIR)$(CONFDIR)/agent.yaml.tmp $(DESTDIR)$(CONFDIR)/agent.yaml; \
	fi

# Removes what install put in place, except the configuration (and the state in /var/lib).
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/pyprof-agent $(DESTDIR)$(BINDIR)/agentctl \
		$(DESTDIR)$(UNITDIR)/pyprof-agent.service $(DESTDIR)$(TMPFILESDIR)/pyprof-agent.conf

C_SOURCES := agent/*/*.c agent/*/*.h bpf/*.c bpf/*.h include/*.h tests/unit/*.c tests/replay/*.c \
	     tests/replay/*.h

format:
	clang-format -i $(C_SOURCES)

lint:
	clang-format --dry-run -Werror $(C_SOURCES)
	cppcheck --quiet --error-exitcode=1 --enable=warning -Iinclude -Iagent agent
	$(PYTHON) tests/lint-layers.py
# Generated files made through chains of rules are kept (not deleted as intermediates).
.SECONDARY: $(BPF_OBJS) $(BPF_SKELS) $(BUILD)/proto/profile.pb-c.c $(BUILD)/proto/profile.pb-c.h
# A recipe that fails leaves no half-written target behind to look up to date.
.DELETE_ON_ERROR:

# An object without its .d (built before it, or the .d lost) is built again: the .d files are
# named targets without a recipe, so make neither treats them as intermediate nor fails on them.
DEP_FILES := $(patsubst agent/%.c,$(BUILD)/agent/%.d,$(AGENT_SRCS)) \
	     $(patsubst agent/%.c,$(ASAN_DIR)/agent/%.d,$(AGENT_SRCS)) \
	     $(patsubst agent/%.c,$(FUZZ_DIR)/agent/%.d,$(FUZZ_SRCS))
$(DEP_FILES):
-include $(wildcard $(DEP_FILES))
