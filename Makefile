# SPDX-License-Identifier: GPL-2.0
# Front door of the KVM x86 MMU series tree.  See README.md.
#
#   make run       the main job: fetch base, apply, build base + patched, boot, test, compare
#   make test      the project's tests: scanner tests, static checks, bisect build, VM run
#
# Steps, one at a time:
#   make base      fetch and unpack the pinned Debian base (scripts/get-base.sh)
#   make apply     lay out base and patched trees (KSRC=DIR for your own tree)
#   make build     build the base and patched kernels
#   make check     checkpatch --strict, bisect build with W=1, sparse vs base
#   make edit      turn the series into a git branch of the base, to edit
#   make export    write that branch back to patches/ and series
#   make send      write the cover letter and patch mails (dry run)
#   make bench     benchmarks (tests/bench.list), base vs patched kernel, same run
#   make kasan     build and run the patched kernel with KASAN (separate build)
#   make scanner-test   the console scanner's tests on recorded logs
#   make deps      install the Debian packages the tree needs (scripts/deps.list); every target runs it
#   make fresh-check    make test in a new Debian bookworm root (debootstrap), as on a fresh machine
#   make clean     remove out/ (keeps the download and ccache cache)

SHELL := /bin/bash
S := scripts

.PHONY: run test base apply build selftests check edit export send bench kasan scanner-test clean help \
	deps fresh-check

help:
	@sed -n 's/^#   make /  make /p' Makefile

run: deps
	bash $(S)/run.sh

test: deps
	bash $(S)/test.sh

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

edit: deps
	bash $(S)/series-git.sh import

export: deps
	bash $(S)/series-git.sh export

send: deps
	bash $(S)/send.sh

bench: deps
	bash $(S)/bench.sh

kasan: deps
	bash $(S)/kasan.sh

scanner-test: deps
	python3 tests/test-scanconsole.py

# Every target that uses a tool installs what it needs first: no step may rely
# on an earlier one having installed something.
deps:
	bash $(S)/install-deps.sh

fresh-check:
	bash $(S)/fresh-check.sh

clean:
	rm -rf out
