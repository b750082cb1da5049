# SPDX-License-Identifier: GPL-2.0
# A small fake kernel tree and a series made against it, for the tests of
# the scripts that apply, edit and send the series (tests/test-apply.sh,
# test-lib.sh, test-series-git.sh, test-settings.sh): they run in seconds.
# Source it after tests/lib-tap.sh; it makes
#   $work/fake            a 6.12.117 tree (a Makefile with the version, a few files)
#   $work/series          a series of one patch against it (series, patches/)
# and gives
#   mktree DIR SUBLEVEL   another such tree
#   mkpatch FILE SUBJECT PATH OLD NEW   a patch in $work/series/patches
#   env_for TAG           the settings of a harness run on the fake series, out in $work/out-TAG
#   run TAG COMMAND...    COMMAND with them, its output in $work/log

# A fake 6.12.117 tree, and a series of two patches made against it.
mktree() {	# $1 dir, $2 sublevel
	mkdir -p "$1/arch/x86/kvm/mmu"
	printf 'VERSION = 6\nPATCHLEVEL = 12\nSUBLEVEL = %s\nEXTRAVERSION =\n' "$2" > "$1/Makefile"
	printf 'int a;\nint b;\nint c;\n' > "$1/arch/x86/kvm/mmu/tdp_mmu.c"
	printf 'int x;\n' > "$1/arch/x86/kvm/mmu/mmu.c"
	printf 'int s;\n' > "$1/arch/x86/kvm/mmu/spte.c"
	# make send asks the base tree who receives the mails
	mkdir -p "$1/scripts"
	printf 'print "kvm\@vger.kernel.org\\n";\n' > "$1/scripts/get_maintainer.pl"
	# and b4 prep --check (make send) runs its checkpatch.pl: this one finds nothing
	: > "$1/scripts/checkpatch.pl"
}
mktree "$work/fake" 117
mkdir -p "$work/series/patches"
mkpatch() {	# $1 file, $2 subject, $3 path, $4 old line, $5 new line
	cat > "$work/series/patches/$1" <<EOP
From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001
From: KVM MMU Series <kvm-mmu-series@localhost.localdomain>
Date: Sat, 21 Nov 2026 12:00:00 +0000
Subject: [PATCH] $2

Change one line of the fake tree, so that the harness has something to
apply.

Signed-off-by: KVM MMU Series <kvm-mmu-series@localhost.localdomain>
---
 $3 | 2 +-
 1 file changed, 1 insertion(+), 1 deletion(-)

diff --git a/$3 b/$3
--- a/$3
+++ b/$3
@@ -1,3 +1,3 @@
 int a;
-$4
+$5
 int c;
-- 
2.39.5

EOP
}
mkpatch kvm-x86-mmu-change-b.patch "KVM: x86/mmu: Change b" arch/x86/kvm/mmu/tdp_mmu.c "int b;" "long b;"
printf '# base-version: 6.12.117-1~deb12u1\n\n# first\nkvm-x86-mmu-change-b.patch\n' > "$work/series/series"

env_for() {	# the environment of a harness run on the fake tree
	echo KMMU_OUT="$work/out-$1" KMMU_CACHE="$work/cache" KMMU_SERIES_FILE="$work/series/series" \
	     KMMU_PATCH_DIR="$work/series/patches"
}
run() { local tag=$1; shift; env $(env_for "$tag") "$@" > "$work/log" 2>&1; }
