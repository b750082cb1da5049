# SPDX-License-Identifier: GPL-2.0
# Front door of the KVM x86 MMU series tree.  See README.md.
#
#   make run       the main job: fetch base, apply, build base + patched, boot, test, compare
#   make test      the project's tests: scanner tests, static checks, bisect build, VM run
#   make test-mainline   the mainline series whole: its 7.3 kernel, bisect build, sparse, VM run
#
# Steps, one at a time:
#   make base      fetch and unpack the pinned Debian base (scripts/get-base.sh)
#   make apply     lay out base and patched trees (KSRC=DIR for your own tree)
#   make build     build the base and patched kernels
#   make check     checkpatch --strict, bisect build with W=1, sparse vs base
#   make check-configs   arch/x86/kvm with Debian's amd64 config (modules, modpost) and ARCH=i386, vs base
#   make check-configs-busted   each patch in tests/busted/configs/ makes make check-configs fail
#   make edit      turn the series into a git branch of the base, to edit
#   make export    write that branch back to patches/ and series
#   make send      write the cover letter and patch mails with b4 (dry run)
#   make lava      LAVA job definitions of the test matrix (after make run), validated
#   make bench     benchmarks (tests/bench.list), base vs patched kernel, same run; then mirror-cost
#   make mirror-cost   object code of the TDP MMU before feature 3 and after it, mirror backend off
#   make kasan     build and run the patched kernel with KASAN (separate build)
#   make kcsan     base and patched kernels with KCSAN (separate builds), their race reports compared
#   make busted    each deliberately broken kernel (tests/busted/*.patch on the series) fails its test
#   make ept       Intel VMX/EPT: tests/ept-tests.list in Bochs, base vs patched (after make build)
#   make ept-spike one Bochs boot of the patched kernel: kvm_intel with EPT, huge page recovery
#   make litmus    the memory-ordering litmus tests (tests/litmus) with herd7 and the kernel's LKMM
#   make scanner-test   the console scanner's tests on recorded logs
#   make deps      install the Debian packages the tree needs (scripts/deps.list); every target runs it
#   make fresh-check    make test in a new Debian bookworm root (debootstrap), as on a fresh machine
#   make clean     remove out/ (keeps the download and ccache cache)
#   make knobs     the KMMU_ settings the steps get (NAME=value on make's command line)
#
# Settings: NAME=value on make's command line, e.g.
#     make run ONLY=dirty_log SERIES=mainline     make apply KSRC=~/linux
# reaches the scripts as KMMU_NAME (KMMU_ONLY, KMMU_SERIES, KMMU_KSRC ...), the
# only names they read.  A variable of the same name in the environment does
# nothing (a note says so); export KMMU_NAME for a setting to stay.
# Each one, as make help lists them (tests/test-settings.sh checks that every
# name in KNOBS has its line here, and no other):
# knob: SERIES=6.12|mainline     which series (default 6.12; mainline: fixes for upstream, 7.3 base)
# knob: KSRC=DIR                 your kernel tree as the base (apply: a branch in a worktree, your checkout untouched)
# knob: BRANCH=NAME              the branch KSRC gets (default kvm-mmu-series/<series>)
# knob: FORCE_BASE=1             take another base version when the pinned one left the archive
# knob: DISCARD_EDITS=1          throw away hand edits in out/trees/patched/src (kept aside as a patch)
# knob: FORCE=1                  make edit/send: make the branch again over commits not exported (old one saved)
# knob: MODES="tdp shadow-mmu"   MMU modes of make run (also npt-off)
# knob: PATCHED_MODES=mirror     modes the patched kernel alone runs (default: the series header; empty: none)
# knob: KERNELS="base patched"   which kernels make run boots
# knob: ONLY=REGEX               run only the tests whose "name args" match
# knob: FRAGMENTS="F..."         config fragments (default configs/vm-kvm.config configs/debug.config)
# knob: TEST_LIST=FILE           the test list (default tests/kvm-tests.list)
# knob: MAX_SECONDS=N            limit of one VM run (default 1800)
# knob: VM_JOBS=N                VM runs at once (default 2 on two cores or more)
# knob: ACCEL=auto|kvm|tcg       QEMU accelerator: kvm (-cpu host, timeouts / 4) when /dev/kvm works and nested virtualization is on (default auto)
# knob: FRESH=1                  run every base test again instead of reusing its cached result
# knob: RETRIES=N                attempts after a failure, per test, unless the list says (default 1)
# knob: RERUNS=N                 reruns on both kernels of a test flaky on patched only (default 2)
# knob: HEARTBEAT=N              a kernel build progress line every N s (default 30; 0: none)
# knob: SKIP_VM=1                make test: leave out the VM runs
# knob: SKIP_MAINLINE=1          make test: leave out the mainline series' checks
# knob: SKIP_BISECT=1            make check: no per-patch bisect build
# knob: SPARSE=sid|PATH          make check: the sparse to use (default: the machine's, sid's when the base refuses it)
# knob: DEBIAN_HEADERS=PKG       make check-configs: the Debian headers package whose config and exports it takes
# knob: CHECK_CONFIGS_PATCH=FILE make check-configs: a patch on top of the series for that run only (reverted)
# knob: KASAN_PATCH=FILE         make kasan: a patch on top of the series for that run only (reverted), e.g. tests/busted/kasan/
# knob: JOBS=N                   kernel build jobs (default: nproc)
# knob: KBUILD_DIR=DIR           build the kernel there instead of <tree>/build
# knob: BENCH_LIST=FILE          make bench's list (default tests/bench.list)
# knob: MODE=tdp                 make kasan's and make kcsan's MMU mode
# knob: COST_FUNCS="f..."        make mirror-cost: the functions whose instructions are counted
# knob: PREFIX=TEXT              make send: subject prefix (default: the cover's "# prefix:")
# knob: VERSION=N                make send: post as vN whatever postings/ says
# knob: COVER=FILE               make send: the cover letter (default covers/<series>.txt)
# knob: SEND=1                   make send: really post (b4 send), then record it in postings/
# knob: REFLECT=1                make send: send the mails to yourself only
# knob: COMPARE=vN               make send: also the range-diff to the posted vN
# knob: BASE_PKG=NAME            the base's Debian package (default: the series header)
# knob: BASE_VERSION=V           the base's version (default: the series header)
# knob: APT_SUITE=SUITE          the suite the base comes from (default: the series header)
# knob: LAVA_URL=URL             make lava: where the lab finds the artifacts
# knob: LAVA_TARGET=tcg|kvm      make lava: QEMU TCG -cpu max, or -enable-kvm -cpu host
# knob: SHARD_MINUTES=N          make lava: longest a job's tests may take together (default 60)
# knob: SELFTESTS_BIN=DIR        make ept: test binaries already built (default: build the list's)
# knob: BOCHS_SLOWDOWN=F         make ept: host limits are the list's guest timeouts times F (default 3)
# knob: BUSTED="F..."            make busted: the busted patches (default tests/busted/*.patch)
# Environment only (export them): KMMU_CACHE=DIR (downloads, ccache, cached
# base results; default ~/.cache/kvm-mmu-series), KMMU_OUT=DIR (default out/).

SHELL := /bin/bash
S := scripts

# The settings the scripts read as KMMU_<NAME> (see the comments at the top
# of each script).
KNOBS := SERIES KSRC BRANCH FORCE_BASE DISCARD_EDITS FORCE \
	MODES PATCHED_MODES KERNELS ONLY FRAGMENTS TEST_LIST MAX_SECONDS VM_JOBS \
	SKIP_VM SKIP_MAINLINE SKIP_BISECT SPARSE JOBS KBUILD_DIR BENCH_LIST MODE COST_FUNCS \
	PREFIX VERSION COVER SEND REFLECT COMPARE BASE_PKG BASE_VERSION APT_SUITE RETRIES RERUNS \
	LAVA_URL LAVA_TARGET SHARD_MINUTES ACCEL FRESH HEARTBEAT SELFTESTS_BIN BOCHS_SLOWDOWN BUSTED \
	DEBIAN_HEADERS CHECK_CONFIGS_PATCH KASAN_PATCH
$(foreach k,$(KNOBS),$(if $(filter command line,$(origin $(k))),$(eval export KMMU_$(k) := $$($(k)))))
ignored_env := $(strip $(foreach k,$(KNOBS),$(if $(filter environment%,$(origin $(k))),$(k))))
ifneq ($(ignored_env),)
$(info note: ignoring $(ignored_env) from the environment: the tree reads only KMMU_ names (make <target> NAME=value sets KMMU_NAME))
endif
# The scripts' own make runs (kernel, selftests) do not get them as make
# command-line variables: the kernel's Makefile has a VERSION, for one.
empty :=
space := $(empty) $(empty)
MAKEOVERRIDES := $(strip $(foreach v,$(filter-out $(KNOBS) KMMU_%,$(foreach v,$(.VARIABLES),$(if $(filter command line,$(origin $(v))),$(v)))),$(v)=$(subst $(space),\$(space),$(value $(v)))))

.PHONY: run test test-mainline base apply build selftests check check-configs check-configs-busted edit export send bench mirror-cost kasan kcsan scanner-test clean help \
	deps fresh-check knobs lava litmus ept ept-spike busted

help:
	@sed -n 's/^#   make /  make /p' Makefile
	@echo
	@echo 'Settings (make <target> NAME=value; the scripts read KMMU_NAME; make knobs shows them):'
	@sed -n 's/^# knob: /  /p' Makefile
	@sed -n '/^# Environment only/,/^[^#]/s/^# /  /p' Makefile

run: deps
	bash $(S)/run.sh

test: deps
	bash $(S)/test.sh

test-mainline: deps
	bash $(S)/test.sh --mainline

base: deps
	bash $(S)/get-base.sh

apply: deps
	bash $(S)/apply.sh

build: deps apply
	bash $(S)/build-kernel.sh out/trees/base
	bash $(S)/build-kernel.sh out/trees/patched

selftests: deps
	bash $(S)/build-selftests.sh

check: deps
	bash $(S)/check-series.sh

check-configs: deps apply
	bash $(S)/check-configs.sh

check-configs-busted: deps apply
	bash $(S)/check-configs.sh --busted

edit: deps
	bash $(S)/series-git.sh import

export: deps
	bash $(S)/series-git.sh export

send: deps
	bash $(S)/send.sh

lava: deps
	bash $(S)/lava.sh

bench: deps
	bash $(S)/bench.sh

mirror-cost: deps
	bash $(S)/mirror-cost.sh

kasan: deps
	bash $(S)/kasan.sh

kcsan: deps apply
	bash $(S)/kcsan.sh

ept: deps
	bash $(S)/ept.sh

ept-spike: deps
	KMMU_EPT_SPIKE=1 bash $(S)/ept.sh

busted: deps
	bash $(S)/busted.sh

scanner-test: deps
	python3 tests/test-scanconsole.py

litmus: deps
	bash $(S)/check-litmus.sh

# Every target that uses a tool installs what it needs first: no step may rely
# on an earlier one having installed something.
deps:
	bash $(S)/install-deps.sh

fresh-check:
	bash $(S)/fresh-check.sh

clean:
	rm -rf out

knobs:
	@env | grep '^KMMU_' | LC_ALL=C sort || true

