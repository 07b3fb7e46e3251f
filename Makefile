# redscope: HTTP RED metrics for Prometheus, from the kernel.
#
#   make          build build/redscope
#   make ARCH=arm64   cross-build build/arm64/redscope (ARCH=x86 on an arm64 machine)
#   make vmlinux ARCH=arm64   regenerate bpf/vmlinux/arm64/vmlinux.h (root)
#   make run      install missing build dependencies, build, start redscope (root)
#   make test     install missing dependencies, build, run every test (root)
#   make check    the quick tier: build, unit, fuzz smoke, the core integration cases (root)
#   make vmtest   the kernel matrix: core tests in QEMU guests of 5.10, 6.1, 6.12 (x86) and
#                 6.1, 6.12 (arm64) (root)
#   make demo     gunicorn + Django under locust, redscope, a real Prometheus (root)
#   make rules    write deploy/prometheus/prometheusrule.yaml from redscope-rules.yaml
#   make unit     unit tests only, with ASan/UBSan
#   make fuzz     every libFuzzer target for FUZZ_SECONDS (default 60) each
#   make install  install build/redscope and the systemd unit (PREFIX=/usr/local)
#   make clean    remove build/
#
# V=1 shows the commands.

CLANG ?= clang
BPFTOOL ?= bpftool
PYTHON ?= /usr/bin/python3
PYTEST_ARGS ?=
VMTEST_ARGS ?=
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 10
RUN_ARGS ?=
DEMO_ARGS ?=
PREFIX ?= /usr/local
DESTDIR ?=

# Architectures by their kernel names (x86, arm64), as __TARGET_ARCH_ and bpf/vmlinux/ spell
# them; ARCH also takes Debian's and uname's (amd64, x86_64, aarch64). The host's build goes to
# build/, another's to build/ARCH/ with Debian's cross compiler, one rule set for all.
kernel_arch = $(patsubst x86_64,x86,$(patsubst amd64,x86,$(patsubst aarch64,arm64,$(1))))
HOST_ARCH := $(call kernel_arch,$(shell uname -m))
ARCH ?= $(HOST_ARCH)
override ARCH := $(or $(call kernel_arch,$(strip $(ARCH))),$(HOST_ARCH))
MATRIX_ARCHES := x86 arm64
ifeq ($(filter $(MATRIX_ARCHES),$(ARCH)),)
$(error ARCH=$(ARCH): redscope builds for x86 (amd64) and arm64)
endif
TRIPLET_x86 := x86_64-linux-gnu
TRIPLET_arm64 := aarch64-linux-gnu
ifeq ($(ARCH),$(HOST_ARCH))
BUILD ?= build
else
BUILD ?= build/$(ARCH)
CROSS_COMPILE ?= $(TRIPLET_$(ARCH))-
endif
ifeq ($(origin CC),default)
CC := $(CROSS_COMPILE)gcc
endif
ifneq ($(CROSS_COMPILE),)
ifneq ($(filter-out clean,$(or $(MAKECMDGOALS),all)),)
ifeq ($(shell command -v $(CC) 2>/dev/null),)
$(error $(CC) is missing: sudo scripts/install-deps.sh --arch=$(ARCH) build installs it and the \
	$(ARCH) libraries)
endif
endif
endif
# what runs the build runs on this machine's architecture only; another's is built here
# and run in QEMU by make vmtest
RUNS_HERE := run test check unit integration vmtest fuzz fuzz-smoke soak bench demo
ifneq ($(ARCH),$(HOST_ARCH))
ifneq ($(filter $(RUNS_HERE),$(MAKECMDGOALS)),)
$(error make ARCH=$(ARCH) $(filter $(RUNS_HERE),$(MAKECMDGOALS)): runs on this machine's \
	architecture ($(HOST_ARCH)); make vmtest runs the $(ARCH) build in QEMU)
endif
endif
# the kernel types the BPF programs are compiled against, one header per architecture
# (CO-RE: libbpf relocates every field access to the running kernel's BTF at load)
VMLINUX_H := bpf/vmlinux/$(ARCH)/vmlinux.h
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo unknown)

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

WARNINGS := -Wall -Wextra -Werror
CFLAGS ?= -O2 -g
override CFLAGS += -std=gnu11 -D_GNU_SOURCE $(WARNINGS) -MMD -MP -Iinclude -Iuser -I$(BUILD)
LDLIBS := -lbpf -lelf -lz -lmicrohttpd -lgnutls -lcrypt -lyaml -lprotobuf-c -lnghttp2 -lpthread -lm
BPF_CFLAGS := -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) $(WARNINGS) -Iinclude \
	-I$(dir $(VMLINUX_H)) -I$(BUILD)

USER_SRCS := $(wildcard user/*.c)
USER_OBJS := $(USER_SRCS:user/%.c=$(BUILD)/user/%.o)
# the protobuf exposition's messages, generated from proto/metrics.proto by protoc-c
PB_SRC := $(BUILD)/metrics.pb-c.c
PB_OBJ := $(BUILD)/user/metrics.pb-c.o
# modules that read captured bytes or render: unit tested in isolation, with sanitizers
PURE_SRCS := user/http1.c user/client.c user/route.c user/store.c user/quantile.c user/expose.c user/buf.c \
	user/prom.c user/series.c user/selfmetrics.c user/compat_statsd.c user/log.c user/kube.c \
	user/view.c user/capture.c user/naming.c user/procfs.c user/cli.c user/webconfig.c \
	user/selectors.c user/prompb.c user/nhist.c user/hpack.c user/h2.c user/grpc.c $(PB_SRC)
UNIT_TESTS := $(patsubst tests/unit/%.c,$(BUILD)/unit/%,$(wildcard tests/unit/test_*.c))
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))

.PHONY: FORCE all run test check unit integration vmtest matrix-builds vmlinux fuzz fuzz-smoke soak \
	bench demo rules deps deps-test deps-demo deps-bench install clean
.DELETE_ON_ERROR:

all: $(BUILD)/redscope

$(BUILD) $(BUILD)/user $(BUILD)/unit $(BUILD)/fuzz $(BUILD)/san $(BUILD)/fuzzobj:
	$(Q)mkdir -p $@

$(BUILD)/redscope.bpf.o: bpf/redscope.bpf.c $(VMLINUX_H) | $(BUILD)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/redscope.skel.h: $(BUILD)/redscope.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name redscope_bpf > $@

$(BUILD)/metrics.pb-c.c $(BUILD)/metrics.pb-c.h &: proto/metrics.proto | $(BUILD)
	$(call msg,PROTOC,$@)
	$(Q)protoc-c --c_out=$(BUILD) -Iproto $<

$(PB_OBJ): $(PB_SRC) | $(BUILD)/user
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

# prompb.c alone includes the generated messages
$(BUILD)/user/prompb.o: $(BUILD)/metrics.pb-c.h

# kernel.c alone includes the skeleton: a BPF edit rebuilds that one object
$(BUILD)/user/kernel.o: $(BUILD)/redscope.skel.h

# the version, in a header rewritten only when it changes (a commit, a dirty tree):
# the objects that print it (every user/*.c naming REDSCOPE_VERSION) are rebuilt
# then, and only they
$(BUILD)/version.h: FORCE | $(BUILD)
	$(Q)echo '#define REDSCOPE_VERSION "$(VERSION)"' > $@.tmp; \
		if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi
VERSIONED_OBJS := $(patsubst user/%.c,$(BUILD)/user/%.o,$(shell grep -l REDSCOPE_VERSION user/*.c))
$(VERSIONED_OBJS): $(BUILD)/version.h
$(VERSIONED_OBJS): override CFLAGS += -include $(BUILD)/version.h
FORCE:

$(BUILD)/user/%.o: user/%.c | $(BUILD)/user
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/redscope: $(USER_OBJS) $(PB_OBJ)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ $(LDLIBS) -o $@

# The modules under test, compiled once with the sanitizers for every unit test
# ($(BUILD)/san/) and once more for the fuzzers ($(BUILD)/fuzzobj/), each test linking them
TEST_CFLAGS = -std=gnu11 -D_GNU_SOURCE -O1 -g $(WARNINGS) -Iinclude -Iuser -Itests/unit -I$(BUILD)
pure_objs = $(patsubst user/%.c,$(BUILD)/$(1)/%.o,$(filter user/%,$(PURE_SRCS))) \
	$(BUILD)/$(1)/metrics.pb-c.o
SAN_OBJS := $(call pure_objs,san)
FUZZ_OBJS := $(call pure_objs,fuzzobj)
TEST_LIBS := -lyaml -lprotobuf-c -lnghttp2 -lm -lpthread
.SECONDARY: $(SAN_OBJS) $(FUZZ_OBJS)

$(BUILD)/san/%.o: user/%.c $(BUILD)/metrics.pb-c.h | $(BUILD)/san
	$(call msg,CC-SAN,$@)
	$(Q)$(CC) $(TEST_CFLAGS) $(SAN_FLAGS) -MMD -MP -DREDSCOPE_VERSION='"test"' -c $< -o $@

$(BUILD)/san/metrics.pb-c.o: $(PB_SRC) | $(BUILD)/san
	$(call msg,CC-SAN,$@)
	$(Q)$(CC) $(TEST_CFLAGS) $(SAN_FLAGS) -c $< -o $@

$(BUILD)/fuzzobj/%.o: user/%.c $(BUILD)/metrics.pb-c.h | $(BUILD)/fuzzobj
	$(call msg,FUZZ-CC,$@)
	$(Q)$(CLANG) $(TEST_CFLAGS) $(FUZZ_SAN_FLAGS) -fsanitize=fuzzer-no-link -MMD -MP \
		-DREDSCOPE_VERSION='"fuzz"' -c $< -o $@

$(BUILD)/fuzzobj/metrics.pb-c.o: $(PB_SRC) | $(BUILD)/fuzzobj
	$(call msg,FUZZ-CC,$@)
	$(Q)$(CLANG) $(TEST_CFLAGS) $(FUZZ_SAN_FLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

# test_h1_* run the BPF parser (bpf/h1.bpf.h) as C, through tests/unit/bpf_shim.h
$(BUILD)/unit/%: tests/unit/%.c $(SAN_OBJS) | $(BUILD)/unit
	$(call msg,CC-SAN,$@)
	$(Q)$(CC) $(TEST_CFLAGS) $(SAN_FLAGS) -MMD -MP -DREDSCOPE_VERSION='"test"' $< $(SAN_OBJS) \
		$(TEST_LIBS) -o $@

# libFuzzer targets: everything that reads captured bytes, with ASan and UBSan
$(BUILD)/fuzz/%: tests/fuzz/%.c $(FUZZ_OBJS) | $(BUILD)/fuzz
	$(call msg,FUZZ-CC,$@)
	$(Q)$(CLANG) $(TEST_CFLAGS) $(FUZZ_SAN_FLAGS) -fsanitize=fuzzer -MMD -MP \
		-DREDSCOPE_VERSION='"fuzz"' $< $(FUZZ_OBJS) $(TEST_LIBS) -o $@

# corpus: the seeds in the repo, grown under build/ from run to run; a crash fails
# the target and its input is left in build/fuzz/ (crash-*)
define run_fuzzers
	$(Q)set -e; for t in $(FUZZ_TARGETS); do \
		name=$$(basename $$t | sed 's/^fuzz_//'); \
		mkdir -p $(BUILD)/fuzz/corpus/$$name; \
		echo "  FUZZ     $$name for $(1) s"; \
		if ! $$t -max_total_time=$(1) -print_final_stats=1 -artifact_prefix=$(BUILD)/fuzz/ \
			$(BUILD)/fuzz/corpus/$$name tests/fuzz/corpus/$$name > $(BUILD)/fuzz/$$name.log 2>&1; \
		then tail -n 40 $(BUILD)/fuzz/$$name.log; exit 1; fi; \
		grep -h "stat::number_of_executed_units" $(BUILD)/fuzz/$$name.log; \
	done
endef

fuzz: $(FUZZ_TARGETS)
	$(call run_fuzzers,$(FUZZ_SECONDS))

fuzz-smoke: $(FUZZ_TARGETS)
	$(call run_fuzzers,$(FUZZ_SMOKE_SECONDS))

deps:
	$(Q)scripts/install-deps.sh --arch=$(ARCH) build

deps-test:
	$(Q)scripts/install-deps.sh build test

deps-demo:
	$(Q)scripts/install-deps.sh build demo

deps-bench:
	$(Q)scripts/install-deps.sh build bench

run: deps
	$(Q)$(MAKE) --no-print-directory all
	$(BUILD)/redscope $(RUN_ARGS)

demo: deps-demo
	$(Q)$(MAKE) --no-print-directory all
	$(Q)cd deploy/demo && $(PYTHON) run.py $(DEMO_ARGS)

unit: $(UNIT_TESTS)
	$(Q)$(PYTHON) scripts/check-structure.py $(CC)
	$(Q)set -e; for t in $(UNIT_TESTS); do echo "  UNIT     $$t"; $$t; done

integration: all
	$(Q)$(PYTHON) -m pytest -ra tests/integration $(INTEGRATION_ARGS) $(PYTEST_ARGS)

# the kernel matrix: each EKS kernel line booted in QEMU runs the core integration cases;
# -rP prints what each kernel reported (boot-to-result time, hooks, what was switched off).
# Every architecture of the matrix is built: the host's in build/, the others in build/ARCH/.
VMTEST_PYTEST = $(PYTHON) -m pytest -ra -rP
vmtest: all matrix-builds
	$(Q)$(VMTEST_PYTEST) tests/vm $(VMTEST_ARGS) $(PYTEST_ARGS)

matrix-builds:
	$(Q)set -e; for a in $(filter-out $(HOST_ARCH),$(MATRIX_ARCHES)); do \
		$(MAKE) --no-print-directory ARCH=$$a BUILD=build/$$a all; done

# bpf/vmlinux/ARCH/vmlinux.h from the BTF of the newest kernel of the matrix for ARCH
# (/sys/kernel/btf/vmlinux in its guest, formatted by bpftool), for when the BPF programs
# need a kernel type the header does not have yet (root)
vmlinux: all
	$(Q)$(PYTHON) tests/vm/vmtest.py vmlinux $(ARCH) $(VMLINUX_H)

# each stage timed, the times printed at the end (and where it failed)
STAGE_TIMES = $(BUILD)/stage-times
stage = scripts/stage.sh $(STAGE_TIMES) $(1) $(MAKE) --no-print-directory
# The kernel matrix's guests run beside the integration tests, one process per
# architecture (two guests at a time); their output goes to $(MATRIX_LOG)-ARCH, printed
# when they are done. The tests marked solo time a server's work against its own clock
# or a load's rate, so they need the CPUs to themselves: they run after the guests.
# Last, the matrix's check of this machine's README row.
MATRIX_LOG = $(BUILD)/kernel-matrix.log
MATRIX_DEB_ARCHES = amd64 arm64
MATRIX_GUESTS = tests/vm/test_kernel_matrix.py::test_core_cases_pass_inside_the_kernel
test:
	$(Q)mkdir -p $(BUILD) && rm -f $(STAGE_TIMES) $(MATRIX_LOG)-*
	$(Q)scripts/stage.sh $(STAGE_TIMES) install scripts/install-deps.sh build test
	$(Q)$(call stage,build) -j2 all matrix-builds $(UNIT_TESTS) $(FUZZ_TARGETS)
	$(Q)$(call stage,unit) unit
	$(Q)$(call stage,fuzz-smoke) fuzz-smoke
	$(Q)pids=; for a in $(MATRIX_DEB_ARCHES); do \
		REDSCOPE_VMTEST_ARCHES=$$a scripts/stage.sh $(STAGE_TIMES) kernel-matrix-$$a \
			$(VMTEST_PYTEST) $(MATRIX_GUESTS) > $(MATRIX_LOG)-$$a 2>&1 & \
		pids="$$pids $$!"; \
	done; \
	echo "  the kernel matrix: $(MATRIX_DEB_ARCHES) guests beside the integration tests, output in $(MATRIX_LOG)-ARCH"; \
	$(call stage,integration) integration INTEGRATION_ARGS='-m "not solo"'; host=$$?; \
	guests=0; for p in $$pids; do wait $$p || guests=1; done; cat $(MATRIX_LOG)-*; \
	[ $$guests -eq 0 ] || grep -h "^FAILED" $(MATRIX_LOG)-*; \
	[ $$host -eq 0 ] && [ $$guests -eq 0 ] || { scripts/stage.sh --report $(STAGE_TIMES); exit 1; }
	$(Q)$(call stage,integration-solo) integration INTEGRATION_ARGS='-m solo'
	$(Q)$(call stage,kernel-matrix-host) vmtest VMTEST_ARGS='--deselect $(MATRIX_GUESTS)'
	$(Q)scripts/stage.sh --report $(STAGE_TIMES)

# the quick tier for the inner loop (root): build, unit tests, every fuzzer for
# CHECK_FUZZ_SECONDS, and the integration cases of the core path (those the kernel
# matrix runs) on this kernel, under each capture backend it has
CHECK_FUZZ_SECONDS ?= 3
check: deps-test
	$(Q)mkdir -p $(BUILD) && rm -f $(STAGE_TIMES)
	$(Q)$(call stage,build) -j2 all $(UNIT_TESTS) $(FUZZ_TARGETS)
	$(Q)$(call stage,unit) unit
	$(Q)$(call stage,fuzz-smoke) fuzz-smoke FUZZ_SMOKE_SECONDS=$(CHECK_FUZZ_SECONDS)
	$(Q)scripts/stage.sh $(STAGE_TIMES) core-integration $(PYTHON) -m pytest -ra -m kernel_matrix \
		tests/integration $(PYTEST_ARGS)
	$(Q)scripts/stage.sh --report $(STAGE_TIMES)

# the soak test for longer than CI runs it (SOAK_SECONDS, default 10 minutes)
SOAK_SECONDS ?= 600
soak: all
	$(Q)REDSCOPE_SOAK_SECONDS=$(SOAK_SECONDS) $(PYTHON) -m pytest -ra -s tests/integration/test_soak.py

# the Prometheus Operator's copy of the rules (a test fails when it is stale)
rules:
	$(Q)$(PYTHON) scripts/gen-prometheusrule.py

# every benchmark, side by side with its baseline; writes docs/benchmarks.md (root)
bench: deps-bench all
	$(Q)bench/run.py

install: all
	install -D -m 0755 $(BUILD)/redscope $(DESTDIR)$(PREFIX)/bin/redscope
	install -D -m 0644 deploy/systemd/redscope.service \
		$(DESTDIR)/etc/systemd/system/redscope.service
	sed -i 's|/usr/local/bin/redscope|$(PREFIX)/bin/redscope|' \
		$(DESTDIR)/etc/systemd/system/redscope.service

clean:
	$(call msg,CLEAN,$(BUILD))
	$(Q)rm -rf $(BUILD)

-include $(USER_OBJS:.o=.d) $(PB_OBJ:.o=.d) $(BUILD)/redscope.bpf.d $(SAN_OBJS:.o=.d) \
	$(FUZZ_OBJS:.o=.d) $(UNIT_TESTS:=.d) $(FUZZ_TARGETS:=.d)
