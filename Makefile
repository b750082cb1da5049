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
#   make clean     remove out/ (keeps the download and ccache cache)

SHELL := /bin/bash
S := scripts

.PHONY: run test base apply build selftests check edit export send bench kasan scanner-test clean help

help:
	@sed -n 's/^#   make /  make /p' Makefile

run:
	bash $(S)/run.sh

test:
	bash $(S)/test.sh

base:
	bash $(S)/get-base.sh

apply:
	bash $(S)/apply.sh

build: apply
	bash $(S)/build-kernel.sh out/trees/base
	bash $(S)/build-kernel.sh out/trees/patched

selftests:
	bash $(S)/build-selftests.sh

check:
	bash $(S)/check-series.sh

edit:
	bash $(S)/series-git.sh import

export:
	bash $(S)/series-git.sh export

send:
	bash $(S)/send.sh

bench:
	bash $(S)/bench.sh

kasan:
	bash $(S)/kasan.sh

scanner-test:
	python3 tests/test-scanconsole.py

clean:
	rm -rf out
