# pyprof-agent build. `make test` and `make run` work on a fresh Debian machine: they install
# what is missing (make deps), build, then test or run.

BUILD      ?= build
CC         ?= gcc
CLANG      ?= clang
BPFTOOL    ?= bpftool
PYTHON     ?= /usr/bin/python3
ARCH       := x86

CFLAGS     ?= -O2 -g
CFLAGS     += -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers -std=gnu11 \
	      -D_GNU_SOURCE -Iinclude -Iagent -I$(BUILD)
LDLIBS     := -lbpf -lelf -lz -lpthread -lyaml -lprotobuf-c
TEST_LDLIBS := $(LDLIBS) -lcmocka

# Debian packages the build and the tests need; `make deps` installs the missing ones.
DEB_BUILD  := clang llvm bpftool libbpf-dev libelf-dev zlib1g-dev libyaml-dev \
	      libcurl4-openssl-dev libcmocka-dev make gcc pkg-config \
	      libprotobuf-c-dev protobuf-c-compiler
DEB_TEST   := python3 python3-pytest golang-go chromium python3-websocket
DEPS_STAMP := $(BUILD)/.deps-installed

BPF_SRCS   := $(wildcard bpf/*.bpf.c)
BPF_OBJS   := $(patsubst bpf/%.bpf.c,$(BUILD)/%.bpf.o,$(BPF_SRCS))
BPF_SKELS  := $(patsubst bpf/%.bpf.c,$(BUILD)/%.skel.h,$(BPF_SRCS))

# Every agent/*.c is a library module except the mains.
MAINS      := agent/agentctl.c agent/pyprof-agent.c
LIB_SRCS   := $(filter-out $(MAINS),$(wildcard agent/*.c))
LIB_OBJS   := $(patsubst agent/%.c,$(BUILD)/agent/%.o,$(LIB_SRCS))
# pprof's profile.proto, compiled by protoc-c into build/proto/ (generated, never committed).
PROTO_OBJS := $(BUILD)/proto/profile.pb-c.o
LIB_OBJS   += $(PROTO_OBJS)
UNIT_SRCS  := $(wildcard tests/unit/test_*.c)
UNIT_BINS  := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))

.PHONY: all deps test unit e2e offsets-test bpf-test run bench clean format lint

all: $(BUILD)/agentctl $(BUILD)/pyprof-agent

deps: $(DEPS_STAMP)
$(DEPS_STAMP): Makefile
	@mkdir -p $(BUILD)
	@missing=""; for p in $(DEB_BUILD) $(DEB_TEST); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q "install ok installed" \
			|| missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "deps: installing$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi
	@touch $@

$(BUILD)/vmlinux.h: | $(DEPS_STAMP)
	@mkdir -p $(BUILD)
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@.tmp && mv $@.tmp $@

$(BUILD)/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.bpf.h) $(wildcard include/*.h) $(BUILD)/vmlinux.h
	$(CLANG) -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -D__BPF__ -Iinclude -Ibpf -I$(BUILD) \
		-Wall -Wno-unused-function -c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	$(BPFTOOL) gen skeleton $< > $@.tmp && mv $@.tmp $@

$(BUILD)/agent/%.o: agent/%.c $(wildcard agent/*.h) $(wildcard include/*.h) $(BPF_SKELS) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/proto/%.pb-c.c $(BUILD)/proto/%.pb-c.h: proto/%.proto | $(DEPS_STAMP)
	@mkdir -p $(BUILD)/proto
	protoc-c --proto_path=proto --c_out=$(BUILD)/proto $<

$(BUILD)/proto/%.pb-c.o: $(BUILD)/proto/%.pb-c.c $(BUILD)/proto/%.pb-c.h
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/agent/pprof.o: $(BUILD)/proto/profile.pb-c.h

$(BUILD)/agentctl: $(BUILD)/agent/agentctl.o $(LIB_OBJS)
	$(CC) $(CFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/pyprof-agent: $(BUILD)/agent/pyprof-agent.o $(LIB_OBJS)
	$(CC) $(CFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/tests/%: tests/unit/%.c $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DFIXTURES=\"$(CURDIR)/tests/fixtures\" $< $(LIB_OBJS) $(TEST_LDLIBS) -o $@

# Tier 1: unit tests of userspace modules on fixtures.
unit: $(UNIT_BINS)
	@tests/run-unit.sh $(UNIT_BINS)

# Offset tables checked against offsetof() in each installed CPython's internal headers.
offsets-test: $(LIB_OBJS)
	@tests/offsets/run.sh $(BUILD)

# Tiers 2 and 3: BPF load/attach and end-to-end against real interpreters (root).
e2e: $(BUILD)/agentctl
	$(PYTHON) -m pytest -ra tests/e2e

test: deps
	@$(MAKE) --no-print-directory all $(UNIT_BINS)
	@tests/run-all.sh

run: all
	@tests/demo/run-demo.sh $(BUILD)/pyprof-agent

bench: all
	@for b in oncpu offcpu daemon; do \
		AGENTCTL=$(BUILD)/agentctl PYPROF_AGENT=$(BUILD)/pyprof-agent $(PYTHON) tests/bench/$$b.py \
			|| exit 1; done

clean:
	rm -rf $(BUILD)

format:
	clang-format -i agent/*.c agent/*.h bpf/*.c bpf/*.h include/*.h tests/unit/*.c

lint:
	clang-format --dry-run -Werror agent/*.c agent/*.h bpf/*.c bpf/*.h include/*.h tests/unit/*.c
	cppcheck --quiet --error-exitcode=1 --enable=warning -Iinclude -Iagent agent
.SECONDARY:
