#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Tests of the harness scripts themselves, on small fake kernel trees (a
# Makefile with a version and a few files), so that they run in seconds:
# apply with quilt and with git am, applying again after a series change,
# seeding a build directory, refusals (dirty tree, other version,
# patch that does not apply: name and rejected hunk shown, nothing lost),
# hand edits and commits the harness must not throw away (patched tree,
# KMMU_KSRC branch and worktree, out/git for make edit and make send), the
# series <-> git branch round trip, the KMMU_ settings, and the test-list parser.
# Prints TAP.
. "$(dirname "$0")/lib-tap.sh"
clean_env

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
	cat > "$work/series/patches/$1" <<EOF
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

EOF
}
mkpatch kvm-x86-mmu-change-b.patch "KVM: x86/mmu: Change b" arch/x86/kvm/mmu/tdp_mmu.c "int b;" "long b;"
printf '# base-version: 6.12.117-1~deb12u1\n\n# first\nkvm-x86-mmu-change-b.patch\n' > "$work/series/series"

env_for() {	# the environment of a harness run on the fake tree
	echo KMMU_OUT="$work/out-$1" KMMU_CACHE="$work/cache" KMMU_SERIES_FILE="$work/series/series" \
	     KMMU_PATCH_DIR="$work/series/patches"
}

# 1. default flow with quilt on the (fake) base
run() { local tag=$1; shift; env $(env_for "$tag") "$@" > "$work/log" 2>&1; }
check "quilt applies the series with --fuzz=0" \
	run q env KMMU_BASE_SRC="$work/fake" "$TOP/scripts/apply.sh"
check "patched tree has the change, base tree does not" \
	bash -c "grep -q 'long b;' '$work/out-q/trees/patched/src/arch/x86/kvm/mmu/tdp_mmu.c' &&
		 grep -q 'int b;' '$work/out-q/trees/base/src/arch/x86/kvm/mmu/tdp_mmu.c'"

# 1b. applying again after the series changed: a file the old series changed
# and the new one does not is back to the base's content, with an mtime newer
# than the objects built before (else make would keep them); files that did
# not change keep their mtime.
o=$work/out-q/trees
touch -d '-1 minute' "$o/patched/src/Makefile"
touch "$work/built-before"
cp "$work/series/series" "$work/series.keep"
mkpatch kvm-x86-mmu-change-x.patch "KVM: x86/mmu: Change x" arch/x86/kvm/mmu/mmu.c "int x;" "long x;"
sed -i 's/^@@ -1,3 +1,3 @@$/@@ -1 +1 @@/; /^ int a;$/d; /^ int c;$/d' "$work/series/patches/kvm-x86-mmu-change-x.patch"
printf '# base-version: 6.12.117-1~deb12u1\nkvm-x86-mmu-change-x.patch\n' > "$work/series/series"
check "the patched tree is laid out again for a changed series" \
	run q env KMMU_BASE_SRC="$work/fake" "$TOP/scripts/apply.sh"
check "the file only the old series changed has the base's content and a fresh mtime" \
	bash -c "grep -qx 'int b;' '$o/patched/src/arch/x86/kvm/mmu/tdp_mmu.c' &&
		 [ '$o/patched/src/arch/x86/kvm/mmu/tdp_mmu.c' -nt '$work/built-before' ]"
check "an unchanged file keeps its mtime" test ! "$o/patched/src/Makefile" -nt "$work/built-before"
mv "$work/series.keep" "$work/series/series"
rm "$work/series/patches/kvm-x86-mmu-change-x.patch"
run q env KMMU_BASE_SRC="$work/fake" "$TOP/scripts/apply.sh"

# 1c. a new build directory is seeded from the other tree's: paths rewritten,
# the series' files newer than every copied object, the rest left as is.
mkdir -p "$o/patched/build/arch/x86/boot" "$o/patched/build/arch/x86/kvm/mmu"
touch "$o/patched/build/arch/x86/boot/bzImage" "$o/patched/build/arch/x86/kvm/mmu/tdp_mmu.o"
echo inputs > "$o/patched/build/.kmmu-config-inputs"
printf 'cmd := gcc -c -o x.o %s/arch/x86/kvm/mmu/tdp_mmu.c -I%s/include\n' \
	"$(realpath "$o/patched/src")" "$(realpath "$o/patched/build")" > "$o/patched/build/arch/x86/kvm/mmu/.tdp_mmu.o.cmd"
seed() { env $(env_for q) KMMU_BASE_SRC="$work/fake" bash -c ". '$TOP/scripts/lib.sh' && seed_build_dir '$o/base' '$o/base/build'" > "$work/log" 2>&1; }
check "the base build directory is seeded from the patched one" \
	bash -c "$(declare -f seed env_for); work='$work' TOP='$TOP' o='$o'; seed && [ -f '$o/base/build/arch/x86/kvm/mmu/tdp_mmu.o' ]"
check "the copy's paths are the base tree's" \
	bash -c "grep -qF '$(realpath "$o/base/src")/arch/x86/kvm/mmu/tdp_mmu.c -I$(realpath "$o/base/build")/include' \
		 '$o/base/build/arch/x86/kvm/mmu/.tdp_mmu.o.cmd' && ! grep -q patched '$o/base/build/arch/x86/kvm/mmu/.tdp_mmu.o.cmd'"
check "the series' file is newer than the copied object, other files are not" \
	bash -c "[ '$o/base/src/arch/x86/kvm/mmu/tdp_mmu.c' -nt '$o/base/build/arch/x86/kvm/mmu/tdp_mmu.o' ] &&
		 [ ! '$o/base/src/arch/x86/kvm/mmu/mmu.c' -nt '$o/base/build/arch/x86/kvm/mmu/tdp_mmu.o' ]"
rm -rf "$o/base/build"
sed -i 's/^SUBLEVEL = 117$/SUBLEVEL = 118/' "$o/patched/src/Makefile"
seed
check "no seeding from a tree of another kernel version" test ! -e "$o/base/build"
rm -rf "$o/patched/build"

# 1d. hand edits in the patched tree are not thrown away: apply stops before
# it changes anything, names them and saves them as a patch on top of the
# series; once the series makes the same change (make edit + make export, or
# quilt in the tree, as the message says) apply goes on; KMMU_DISCARD_EDITS=1
# throws them away.  (A series of its own: these tests change it.)
cp -a "$work/series" "$work/series-h"
hx=(env KMMU_SERIES_FILE="$work/series-h/series" KMMU_PATCH_DIR="$work/series-h/patches" KMMU_BASE_SRC="$work/fake")
hs=$work/out-h/trees/patched/src
run h "${hx[@]}" "$TOP/scripts/apply.sh"
echo 'int edited;' >> "$hs/arch/x86/kvm/mmu/mmu.c"
touch -d '-1 day' "$hs/arch/x86/kvm/mmu/mmu.c"	# an old mtime does not hide it
echo 'int n;' > "$hs/arch/x86/kvm/mmu/new.c"
rm "$hs/arch/x86/kvm/mmu/spte.c"
run h "${hx[@]}" "$TOP/scripts/apply.sh"; rc=$?
check "hand edits in the patched tree stop apply (exit $rc): modified (mtime set back), new, deleted files named" \
	bash -c "[ $rc -ne 0 ] && grep -q '^  modified: arch/x86/kvm/mmu/mmu.c\$' '$work/log' &&
		 grep -q '^  new: *arch/x86/kvm/mmu/new.c\$' '$work/log' && grep -q '^  deleted: *arch/x86/kvm/mmu/spte.c\$' '$work/log' &&
		 grep -q 'DISCARD_EDITS=1' '$work/log' && grep -q 'make edit' '$work/log'"
check "the refusal changed nothing: the edits are there, the tree still marked applied" \
	bash -c "grep -q 'int edited;' '$hs/arch/x86/kvm/mmu/mmu.c' && [ -f '$hs/arch/x86/kvm/mmu/new.c' ] &&
		 [ ! -e '$hs/arch/x86/kvm/mmu/spte.c' ] && [ -f '$work/out-h/trees/patched/APPLIED' ]"
check "the edits are saved as a patch" grep -q '^+int edited;' "$work/out-h/trees/patched/edits.patch"
# The message's first way: make edit, git apply the patch there, commit, make export.
run h2 "${hx[@]}" "$TOP/scripts/series-git.sh" import
git -C "$work/out-h2/git" apply --index "$work/out-h/trees/patched/edits.patch" >> "$work/log" 2>&1 &&
	git -C "$work/out-h2/git" -c user.name="KVM MMU Series" -c user.email=kvm-mmu-series@localhost.localdomain \
	commit -qs -m "KVM: x86/mmu: Keep the hand edits" -m "Made from the patch apply saved." >> "$work/log" 2>&1
run h2 "${hx[@]}" "$TOP/scripts/series-git.sh" export
run h "${hx[@]}" "$TOP/scripts/apply.sh"; rc=$?
check "saved patch, make edit, git apply, commit, make export: apply goes on (exit $rc), the tree as edited" \
	bash -c "[ $rc -eq 0 ] && grep -q 'int edited;' '$hs/arch/x86/kvm/mmu/mmu.c' && [ -f '$hs/arch/x86/kvm/mmu/new.c' ] &&
		 [ ! -e '$hs/arch/x86/kvm/mmu/spte.c' ] && grep -qx 'kvm-x86-mmu-keep-the-hand-edits.patch' '$work/series-h/series'"
# The second way: quilt in the tree.
echo 'int q;' >> "$hs/arch/x86/kvm/mmu/tdp_mmu.c"
run h "${hx[@]}" "$TOP/scripts/apply.sh"
(cd "$hs" && patch -s -R -p1 < ../edits.patch && quilt --quiltrc /dev/null import -P kvm-x86-mmu-add-q.patch ../edits.patch &&
	quilt --quiltrc /dev/null push) >> "$work/log" 2>&1
run h "${hx[@]}" "$TOP/scripts/apply.sh"; rc=$?
check "saved patch, quilt import in the tree: the series has it, apply goes on (exit $rc), the tree as edited" \
	bash -c "[ $rc -eq 0 ] && grep -qx 'int q;' '$hs/arch/x86/kvm/mmu/tdp_mmu.c' &&
		 grep -qx 'kvm-x86-mmu-add-q.patch' '$work/series-h/series'"
echo 'int junk;' >> "$hs/arch/x86/kvm/mmu/mmu.c"
run h "${hx[@]}" KMMU_DISCARD_EDITS=1 "$TOP/scripts/apply.sh"; rc=$?
check "KMMU_DISCARD_EDITS=1 lays the tree out again (exit $rc), the edit kept in a patch aside" \
	bash -c "[ $rc -eq 0 ] && ! grep -q junk '$hs/arch/x86/kvm/mmu/mmu.c' &&
		 grep -q '^+int junk;' '$work/out-h/trees/patched/'edits-discarded-*.patch"

# 2. a patch that does not apply: stop, name it, show the rejected hunk
mkpatch kvm-x86-mmu-bad.patch "KVM: x86/mmu: Bad context" arch/x86/kvm/mmu/tdp_mmu.c "int zzz;" "long zzz;"
printf 'kvm-x86-mmu-bad.patch\n' >> "$work/series/series"
run r env KMMU_BASE_SRC="$work/fake" "$TOP/scripts/apply.sh"; rc=$?
check "a patch that does not apply stops the run (exit $rc)" test $rc -ne 0
check "the failing patch is named" grep -q "patch 'kvm-x86-mmu-bad.patch' does not apply" "$work/log"
check "the rejected hunk is shown" grep -q '^-int zzz;' "$work/log"
check "the patched tree is not marked complete" test ! -e "$work/out-r/trees/patched/APPLIED"
sed -i '/kvm-x86-mmu-bad.patch/d' "$work/series/series"
rm "$work/series/patches/kvm-x86-mmu-bad.patch"

# 3. KSRC: another version is refused, a dirty git tree is refused
mktree "$work/other" 116
run v env KMMU_KSRC="$work/other" "$TOP/scripts/apply.sh"; rc=$?
check "KSRC of another kernel version is refused" \
	bash -c "[ $rc -ne 0 ] && grep -q 'is Linux 6.12.116 but the series is for 6.12.117' '$work/log'"
cp -a "$work/fake" "$work/gittree"
git -C "$work/gittree" init -q && git -C "$work/gittree" add -A &&
	git -C "$work/gittree" -c user.name=t -c user.email=t@t commit -qm base
echo dirt >> "$work/gittree/arch/x86/kvm/mmu/mmu.c"
run d env KMMU_KSRC="$work/gittree" "$TOP/scripts/apply.sh"; rc=$?
check "a dirty KSRC git tree is refused" bash -c "[ $rc -ne 0 ] && grep -q 'uncommitted changes' '$work/log'"
check "the refusal changed nothing in it" grep -q dirt "$work/gittree/arch/x86/kvm/mmu/mmu.c"
git -C "$work/gittree" checkout -q -- .

# 4. KSRC git tree: git am on a branch of the harness's own, user's checkout
# untouched; a second run makes the branch again, but not over a commit
# added on it, changes in its worktree, or a branch the harness did not make
check "git am applies the series on a new branch of a KSRC git tree" \
	run g env KMMU_KSRC="$work/gittree" "$TOP/scripts/apply.sh"
check "the branch has one commit per patch, authored by the role identity" \
	bash -c "[ \$(git -C '$work/gittree' rev-list --count master..kvm-mmu-series/6.12) = 1 ] &&
		 git -C '$work/gittree' log -1 --format=%an kvm-mmu-series/6.12 | grep -qx 'KVM MMU Series'"
check "the user's own checkout is untouched" \
	bash -c "[ \$(git -C '$work/gittree' symbolic-ref --short HEAD) = master ] &&
		 grep -q 'int b;' '$work/gittree/arch/x86/kvm/mmu/tdp_mmu.c'"
run g env KMMU_KSRC="$work/gittree" "$TOP/scripts/apply.sh"; rc=$?
check "a second KMMU_KSRC run makes the harness's branch again (exit $rc)" \
	bash -c "[ $rc -eq 0 ] && [ \$(git -C '$work/gittree' rev-list --count master..kvm-mmu-series/6.12) = 1 ] &&
		 grep -q 'long b;' '$work/out-g/trees/patched/src/arch/x86/kvm/mmu/tdp_mmu.c'"
wt=$work/out-g/trees/patched/src
echo 'int wip;' >> "$wt/arch/x86/kvm/mmu/mmu.c"
run g env KMMU_KSRC="$work/gittree" "$TOP/scripts/apply.sh"; rc=$?
check "changes not committed in the harness's worktree stop the next run (exit $rc), and stay" \
	bash -c "[ $rc -ne 0 ] && grep -q 'modified: arch/x86/kvm/mmu/mmu.c' '$work/log' && grep -q 'int wip;' '$wt/arch/x86/kvm/mmu/mmu.c'"
git -C "$wt" -c user.name=t -c user.email=t@t commit -qam "my work on the branch"
run g env KMMU_KSRC="$work/gittree" "$TOP/scripts/apply.sh"; rc=$?
check "a commit on the harness's branch since it made it stops the next run (exit $rc), and stays" \
	bash -c "[ $rc -ne 0 ] && grep -q 'not where the harness left it' '$work/log' && grep -q 'my work on the branch' '$work/log' &&
		 git -C '$work/gittree' log -1 --format=%s kvm-mmu-series/6.12 | grep -qx 'my work on the branch' &&
		 [ -d '$wt' ]"
git -C "$work/gittree" branch mine master
run g3 env KMMU_KSRC="$work/gittree" KMMU_BRANCH=mine "$TOP/scripts/apply.sh"; rc=$?
check "an existing branch the harness did not make is not overwritten (exit $rc)" \
	bash -c "[ $rc -ne 0 ] && grep -q 'already exists' '$work/log' && grep -q 'did not make it' '$work/log' &&
		 [ \$(git -C '$work/gittree' rev-parse mine) = \$(git -C '$work/gittree' rev-parse master) ]"

# 4b. git am never falls back to a 3-way merge: with am.threeWay=true in the
# KSRC tree's config, a patch that applies only that way is refused.
mktree "$work/git3" 117
printf 'int s%s;\n' 1 2 3 4 5 6 7 8 9 > "$work/git3/arch/x86/kvm/mmu/spte.c"
gt() { git -C "$work/git3" -c user.name="KVM MMU Series" -c user.email=kvm-mmu-series@localhost.localdomain "$@"; }
{ gt init -q -b master && gt add -A && gt commit -qm base && gt checkout -q -b tmp &&
  sed -i 's/^int s2;$/long s2;/' "$work/git3/arch/x86/kvm/mmu/spte.c" &&
  gt commit -qsam "KVM: x86/mmu: Change s2" -m "A patch made on the base." &&
  mkdir -p "$work/series3/patches" &&
  gt format-patch -q -1 -o "$work/series3/patches" --no-numbered --zero-commit &&
  gt checkout -q master && gt branch -q -D tmp &&
  sed -i 's/^int s4;$/long s4;/' "$work/git3/arch/x86/kvm/mmu/spte.c" && gt commit -qam "change s4 upstream" &&
  gt config am.threeWay true; } > "$work/log" 2>&1
p3=$(ls "$work/series3/patches")
printf '# base-version: 6.12.117-1~deb12u1\n%s\n' "$p3" > "$work/series3/series"
git clone -q "$work/git3" "$work/git3c" &&
	git -C "$work/git3c" -c user.name=t -c user.email=t@t am -q -3 "$work/series3/patches/$p3" > "$work/3way.log" 2>&1; rc3=$?
run t3 env KMMU_KSRC="$work/git3" KMMU_SERIES_FILE="$work/series3/series" KMMU_PATCH_DIR="$work/series3/patches" \
	"$TOP/scripts/apply.sh"; rc=$?
check "with am.threeWay=true, a patch that applies only by a 3-way merge (git am -3: exit $rc3) is refused (exit $rc)" \
	bash -c "[ $rc3 -eq 0 ] && [ $rc -ne 0 ] && grep -q 'git am failed at: .*KVM: x86/mmu: Change s2' '$work/log' &&
		 ! git -C '$work/git3' rev-parse -q --verify kvm-mmu-series/6.12 >/dev/null"

# 5. series <-> git branch round trip: import then export changes nothing
# (The first export turns the hand-written fixture into git format-patch
# output; from then on a round trip must be byte-identical.)
check "series-git import" run e env KMMU_BASE_SRC="$work/fake" "$TOP/scripts/series-git.sh" import
check "series-git export right after import" run e env KMMU_BASE_SRC="$work/fake" "$TOP/scripts/series-git.sh" export
cp -a "$work/series" "$work/series.orig"
run e env KMMU_BASE_SRC="$work/fake" "$TOP/scripts/series-git.sh" import
run e env KMMU_BASE_SRC="$work/fake" "$TOP/scripts/series-git.sh" export
check "a second round trip rewrites nothing (patches and series file)" diff -r "$work/series.orig" "$work/series"
# An edit on the branch comes back as a new patch file named by its subject.
repo=$work/out-e/git
echo 'int y;' >> "$repo/arch/x86/kvm/mmu/mmu.c"
git -C "$repo" -c user.name="KVM MMU Series" -c user.email=kvm-mmu-series@localhost.localdomain \
	commit -qam "KVM: x86/mmu: Add y" -m "Add y, so that the export has a second patch." -s
check "an edited branch exports" run e env KMMU_BASE_SRC="$work/fake" "$TOP/scripts/series-git.sh" export
check "the new commit became kvm-x86-mmu-add-y.patch, listed after the first" \
	bash -c "[ \"\$(grep -v '^#' '$work/series/series' | grep .)\" = \"\$(printf 'kvm-x86-mmu-change-b.patch\nkvm-x86-mmu-add-y.patch')\" ]"
check "comments above a patch stay with it" bash -c "grep -B1 -x 'kvm-x86-mmu-change-b.patch' '$work/series/series' | grep -qx '# first'"
check "re-import refuses nothing after export (branch matches)" \
	run e env KMMU_BASE_SRC="$work/fake" "$TOP/scripts/series-git.sh" import

# 5b. make edit and make send never lose work in out/git: a work tree with
# changes not committed (staged or not, new files not ignored) is refused
# with what is dirty and how to keep it; commits not exported are refused, or
# kept on a saved/ branch with KMMU_FORCE=1; make send moves nothing there;
# make export does not overwrite patches/ edited since the import.
ex=(env KMMU_BASE_SRC="$work/fake")
echo 'int wip;' >> "$repo/arch/x86/kvm/mmu/mmu.c"
echo 'int n;' > "$repo/arch/x86/kvm/mmu/new.c"
run e "${ex[@]}" "$TOP/scripts/series-git.sh" import; rc=$?
check "make edit refuses a dirty out/git (exit $rc), naming the files, saying commit and make export" \
	bash -c "[ $rc -ne 0 ] && grep -q ' arch/x86/kvm/mmu/mmu.c\$' '$work/log' && grep -q 'arch/x86/kvm/mmu/new.c' '$work/log' &&
		 grep -q 'commit them on series/6.12' '$work/log' && grep -q \"'make export'\" '$work/log'"
check "the refusal changed nothing in out/git" \
	bash -c "grep -q 'int wip;' '$repo/arch/x86/kvm/mmu/mmu.c' && [ -f '$repo/arch/x86/kvm/mmu/new.c' ]"
rm "$repo/arch/x86/kvm/mmu/new.c"
git -C "$repo" add -A
run e "${ex[@]}" "$TOP/scripts/series-git.sh" import; rc=$?
check "a staged change is refused too (exit $rc), and stays staged" \
	bash -c "[ $rc -ne 0 ] && git -C '$repo' diff --cached --name-only | grep -qx arch/x86/kvm/mmu/mmu.c"
git -C "$repo" reset -q --hard
echo junk > "$repo/junk.o"
echo '*.o' >> "$repo/.git/info/exclude"
check "an ignored file does not stop make edit" run e "${ex[@]}" "$TOP/scripts/series-git.sh" import
echo 'int z;' >> "$repo/arch/x86/kvm/mmu/mmu.c"
git -C "$repo" -c user.name="KVM MMU Series" -c user.email=kvm-mmu-series@localhost.localdomain \
	commit -qsam "KVM: x86/mmu: Add z" -m "Add z, a commit not exported."
run e "${ex[@]}" "$TOP/scripts/series-git.sh" import; rc=$?
check "make edit refuses a branch with commits not exported (exit $rc), and keeps them" \
	bash -c "[ $rc -ne 0 ] && grep -q 'differ from' '$work/log' &&
		 git -C '$repo' log -1 --format=%s series/6.12 | grep -qx 'KVM: x86/mmu: Add z'"
run e "${ex[@]}" KMMU_FORCE=1 "$TOP/scripts/series-git.sh" import; rc=$?
check "KMMU_FORCE=1 makes the branch again from patches/ (exit $rc), the old one kept as saved/" \
	bash -c "[ $rc -eq 0 ] && ! git -C '$repo' log --format=%s series/6.12 | grep -q 'Add z' &&
		 git -C '$repo' for-each-ref --format='%(subject)' 'refs/heads/saved/series/' | grep -qx 'KVM: x86/mmu: Add z'"
printf 'KVM: x86/mmu: A fake series\n\nA fake cover letter.\n' > "$work/cover.txt"
printf '[user]\n\tname = Test Sender\n\temail = sender@example.org\n' > "$work/gitconfig"
sx=(env KMMU_BASE_SRC="$work/fake" KMMU_COVER="$work/cover.txt" GIT_CONFIG_GLOBAL="$work/gitconfig" KMMU_POSTINGS="$work/postings")
echo 'int wip;' >> "$repo/arch/x86/kvm/mmu/mmu.c"
run e "${sx[@]}" "$TOP/scripts/send.sh"; rc=$?
check "make send refuses a dirty out/git (exit $rc), and keeps the change" \
	bash -c "[ $rc -ne 0 ] && grep -q ' arch/x86/kvm/mmu/mmu.c\$' '$work/log' && grep -q 'int wip;' '$repo/arch/x86/kvm/mmu/mmu.c'"
git -C "$repo" checkout -q -- .
run e "${sx[@]}" "$TOP/scripts/send.sh"; rc=$?
check "make send re-signs the mails (exit $rc) and moves no branch, index or file of out/git" \
	bash -c "[ $rc -eq 0 ] && grep -qx 'Signed-off-by: Test Sender <sender@example.org>' '$work/out-e/send/6.12/'0001-*.eml &&
		 [ \$(git -C '$repo' symbolic-ref --short HEAD) = series/6.12 ] && [ -z \"\$(git -C '$repo' status --porcelain)\" ] &&
		 [ -z \"\$(git -C '$repo' branch --list 'send/*')\" ] &&
		 [ \"\$(git -C '$repo' log -1 --format=%cn series/6.12)\" = 'KVM MMU Series' ]"
cp "$work/series/patches/kvm-x86-mmu-add-y.patch" "$work/add-y.keep"
sed -i 's/^Add y, so that/Add y (edited in patches\/), so that/' "$work/series/patches/kvm-x86-mmu-add-y.patch"
run e "${ex[@]}" "$TOP/scripts/series-git.sh" export; rc=$?
check "make export refuses to overwrite a patch edited in patches/ since make edit (exit $rc)" \
	bash -c "[ $rc -ne 0 ] && grep -q 'patches/kvm-x86-mmu-add-y.patch\$' '$work/log' &&
		 grep -q 'edited in patches/' '$work/series/patches/kvm-x86-mmu-add-y.patch'"
mv "$work/add-y.keep" "$work/series/patches/kvm-x86-mmu-add-y.patch"

# 5c. the settings come from KMMU_ names only: generic names left in the
#     environment change nothing, and make maps its command line to them
check "a stray SERIES=bogus BASE_VERSION=9.9 PREFIX=x ... in the environment changes nothing" \
	env SERIES=bogus BASE_VERSION=9.9 BASE_PKG=x APT_SUITE=y PREFIX=x bash -c "
	. '$TOP/scripts/lib.sh' &&
	[ \"\$SERIES_NAME|\$SERIES_FILE|\$BASE_PKG|\$BASE_VERSION|\$APT_SUITE\" = '6.12|$TOP/series|linux-source-6.12|6.12.117-1~deb12u1|' ]"
run k env KSRC="$work/other" KMMU_BASE_SRC="$work/fake" "$TOP/scripts/apply.sh"; rc=$?
check "a stray KSRC in the environment is not the tree apply uses (exit $rc)" \
	bash -c "[ $rc -eq 0 ] && grep -q 'test tree $work/fake' '$work/out-k/trees/base/VERSION'"
(cd "$work" && make -s -C "$TOP" knobs ONLY=x SERIES=mainline MODES="tdp npt-off" KSRC=/k) > "$work/log" 2>&1
check "make NAME=value on the command line passes KMMU_NAME" \
	bash -c "grep -qx KMMU_ONLY=x '$work/log' && grep -qx KMMU_SERIES=mainline '$work/log' &&
		 grep -qx 'KMMU_MODES=tdp npt-off' '$work/log' && grep -qx KMMU_KSRC=/k '$work/log'"
(cd "$work" && env ONLY=x SERIES=mainline make -s -C "$TOP" knobs) > "$work/log" 2>&1
check "make ignores them in the environment, and says so" \
	bash -c "! grep -q '^KMMU_' '$work/log' && grep -q '^note: ignoring SERIES ONLY from the environment' '$work/log'"

# make help lists every setting with a line of its own: each name in the
# Makefile's KNOBS has a "# knob:" line and each such line a name in KNOBS,
# and every one of them is read by a script as KMMU_<NAME>.  Shown failing on
# a Makefile that lost a line.
knob_problems() {	# knob_problems MAKEFILE: what is wrong, a line each
	local mk=$1 k knobs lines
	knobs=$(sed -n '/^KNOBS :=/,/[^\\]$/p' "$mk" | sed 's/^KNOBS :=//; s/\\$//' | tr -s ' \t' '\n' | grep . | sort)
	lines=$(sed -n 's/^# knob: \([A-Z_]*\)=.*/\1/p' "$mk" | sort)
	comm -23 <(echo "$knobs") <(echo "$lines") | sed 's/^/no "# knob:" line for /'
	comm -13 <(echo "$knobs") <(echo "$lines") | sed 's/^/a "# knob:" line for a name not in KNOBS: /'
	for k in $knobs; do
		grep -qE "KMMU_$k\b" "$TOP"/scripts/*.sh "$TOP"/scripts/*.py || echo "no script reads KMMU_$k"
	done
}
knob_problems "$TOP/Makefile" > "$work/log"
check "make help lists every setting in KNOBS, a line each, and every one is read by a script" test ! -s "$work/log"
sed '/^# knob: FRESH=/d' "$TOP/Makefile" > "$work/Makefile.nofresh"
knob_problems "$work/Makefile.nofresh" > "$work/log"
check "... which a Makefile that lost the line for FRESH fails" grep -qx 'no "# knob:" line for FRESH' "$work/log"
(cd "$work" && make -s -C "$TOP" help) > "$work/log" 2>&1
check "make help shows the settings" bash -c "grep -q '^  ONLY=REGEX  *run only the tests' '$work/log' &&
	[ \$(grep -c '^  [A-Z_]*=' '$work/log') -eq \$(grep -c '^# knob: ' '$TOP/Makefile') ]"

# 6. the test list parses, and every test has a sane timeout
check "the test list parses" python3 -c "
import sys; sys.path.insert(0, '$TOP/scripts'); import vmrun
t = vmrun.parse_list('$TOP/tests/kvm-tests.list')
assert len(t) > 10 and all(0 < x['timeout'] <= 600 for x in t), t
g = vmrun.groups_of(t); assert sum(len(x['tests']) for x in g) == len(t)
"
check "TAP parsing classifies pass, skip, fail, timeout" python3 -c "
import sys; sys.path.insert(0, '$TOP/scripts'); import vmrun
r, b, i = vmrun.parse_tap('''# kmmu-begin 1 a 10
ok 1 a # time=1.0s
# kmmu-begin 2 b 10
ok 2 b # SKIP no svm time=0.1s
# kmmu-begin 3 c 10
not ok 3 c # exit=1 time=2.0s
# kmmu-begin 4 d 10
not ok 4 d # TIMEOUT after 10s (killed in the guest)
# kmmu-begin 5 e 10
''')
assert [r[k]['status'] for k in (1, 2, 3, 4)] == ['pass', 'skip', 'fail', 'timeout'], r
assert b == [1, 2, 3, 4, 5] and 5 not in r
"
check "the mainline test list parses, with 7.x test paths" python3 -c "
import sys; sys.path.insert(0, '$TOP/scripts'); import vmrun
t = vmrun.parse_list('$TOP/mainline/tests.list')
assert t and all(x['name'].startswith(('x86/', 'kvm-extra/')) or '/' not in x['name'] for x in t), t
"
check "every test gets one retry unless the list says otherwise" python3 -c "
import sys, tempfile; sys.path.insert(0, '$TOP/scripts'); import vmrun
f = tempfile.NamedTemporaryFile('w', suffix='.list', delete=False)
f.write('a 10 -\nb 10 retry:0\nc 10 retry:3,mode:tdp\n'); f.close()
assert [x['retries'] for x in vmrun.parse_list(f.name)] == [1, 0, 3]
"
check "yield:SYM+SYM is parsed, kept out of the boot line, and checked" python3 -c "
import sys, tempfile; sys.path.insert(0, '$TOP/scripts'); import vmrun
f = tempfile.NamedTemporaryFile('w', suffix='.list', delete=False)
f.write('a 10 -\\nb 10 yield:f_one+f_two,x.y=1\\n'); f.close()
t = vmrun.parse_list(f.name)
assert [x['yield'] for x in t] == [[], ['f_one', 'f_two']], t
assert t[1]['boot'] == ['x.y=1'], t
for bad in ('yield:', 'yield:a+', 'yield:a-b', 'yield:a,yield:b'):
    f = open(f.name, 'w'); f.write('a 10 %s\\n' % bad); f.close()
    try:
        vmrun.parse_list(f.name)
    except SystemExit as e:
        assert 'yield:' in str(e), e
    else:
        raise AssertionError('accepted ' + bad)
"
# The guest's yield count (scripts/guest-init.sh), on made-up trace output:
# a yield by a named function passes, yields by others only fail.
yield_tr=$work/yield-tr
mkdir -p "$yield_tr/events/kmmu" "$yield_tr/per_cpu/cpu0"
sed -n '/^yield_count() {/,/^}/p' "$TOP/scripts/guest-init.sh" > "$work/yield-count.sh"
printf 'overrun: 0\n' > "$yield_tr/per_cpu/cpu0/stats"
cat > "$yield_tr/trace.yes" <<'TR'
 kvm-nx-lpage-re-91 [001] d..1. 12.4: in_kvm_recover_nx_huge_pages: (kvm_recover_nx_huge_pages+0x0/0x420)
 kvm-nx-lpage-re-91 [001] d..1. 12.5: yield_write: (__cond_resched_rwlock_write+0x0/0x90) caller=kvm_recover_nx_huge_pages+0x1f3/0x420
 kvm-nx-lpage-re-91 [001] d..1. 12.6: yield_write: (__cond_resched_rwlock_write+0x0/0x90) caller=kvm_recover_nx_huge_pages+0x1f3/0x420
 kvm-nx-lpage-re-91 [001] d..1. 12.7: out_kvm_recover_nx_huge_pages: (kvm_nx_huge_page_recovery_worker+0x4b/0x90 <- kvm_recover_nx_huge_pages)
 huge_page_recov-77 [000] d..1. 13.0: in_recover_huge_pages_range: (recover_huge_pages_range+0x0/0x300)
 huge_page_recov-77 [000] d..1. 13.1: yield_read: (__cond_resched_rwlock_read+0x0/0x90) caller=tdp_mmu_iter_cond_resched+0x5a/0xa0
 huge_page_recov-77 [000] d..1. 13.2: out_recover_huge_pages_range: (kvm_tdp_mmu_recover_huge_pages+0x50/0x90 <- recover_huge_pages_range)
 huge_page_recov-77 [000] d..1. 14.1: yield_read: (__cond_resched_rwlock_read+0x0/0x90) caller=tdp_mmu_iter_cond_resched+0x5a/0xa0
TR
# Without the NX recovery's yields: the in-place recovery's (through the
# shared helper), and one outside any named function.
sed -n '5,$p' "$yield_tr/trace.yes" > "$yield_tr/trace.no"
check "the yield count finds the yields made inside the named function, by lock" sh -c "
	cd '$work' && tr='$yield_tr' && . ./yield-count.sh && cp '$yield_tr/trace.yes' '$yield_tr/trace' &&
	yield_count other_fn+kvm_recover_nx_huge_pages > out.y && grep -qx 'kvm_recover_nx_huge_pages write 2' out.y &&
	yield_count recover_huge_pages_range > out.y2 && grep -qx 'recover_huge_pages_range read 1' out.y2 &&
	grep -qx 'tdp_mmu_iter_cond_resched read 1 (not named)' out.y2"
check "the yield count fails when only other functions yielded" sh -c "
	cd '$work' && tr='$yield_tr' && . ./yield-count.sh && cp '$yield_tr/trace.no' '$yield_tr/trace' &&
	! yield_count kvm_recover_nx_huge_pages > out.n && grep -qx 'tdp_mmu_iter_cond_resched read 2 (not named)' out.n"
check "the yield count says when the trace buffer overran" sh -c "
	cd '$work' && tr='$yield_tr' && . ./yield-count.sh && cp '$yield_tr/trace.yes' '$yield_tr/trace' &&
	printf 'overrun: 5\n' > '$yield_tr/per_cpu/cpu0/stats' &&
	yield_count kvm_recover_nx_huge_pages | grep -q 'overran'"
check "the mirror mode runs only the tests that ask for it (also:mirror)" python3 -c "
import sys, tempfile; sys.path.insert(0, '$TOP/scripts'); import vmrun
f = tempfile.NamedTemporaryFile('w', suffix='.list', delete=False)
f.write('a 10 -\\nb 10 also:mirror,x.y=1\\nc 10 mode:mirror\\n'); f.close()
t = vmrun.parse_list(f.name)
assert [('mirror' in x['modes'], 'tdp' in x['modes']) for x in t] == [(False, True), (True, True), (True, False)], t
assert t[1]['boot'] == ['x.y=1'], t
f = open(f.name, 'w'); f.write('a 10 mode:tdp,also:mirror\\n'); f.close()
try:
    vmrun.parse_list(f.name)
except SystemExit as e:
    assert 'also:M' in str(e), e
else:
    raise AssertionError('mode: with also: accepted')
"

# 7. the report: failures come with the test's last lines, flaky passes say so
mkdir -p "$work/rep/base" "$work/rep/patched"
python3 - "$work/rep" <<'PY'
import json, os, sys
d = sys.argv[1]
def rec(i, status, detail, tail=()):
    return {'id': i, 'key': 't%d' % i, 'status': status, 'detail': detail, 'splats': [],
            'secs': 1.0, 'output_tail': list(tail)}
hung = dict(rec(4, 'timeout', 'TIMEOUT after 9s (killed in the guest)'),
            threads='7 t S +0u/+0s futex_wait_queue; 8 t R +0u/+200s kvm_mmu_page_fault')
for k, tests in (('base', [rec(1, 'pass', ''), rec(2, 'pass', ''), rec(3, 'fail', 'exit=1'),
                           rec(4, 'pass', '')]),
                 ('patched', [rec(1, 'fail', 'exit=254', ['==== Test Assertion Failure ====', 'x.c:76: boom']),
                              rec(2, 'pass', 'time=1s flaky: passed on retry after exit 254'),
                              rec(3, 'fail', 'exit=1'), hung])):
    json.dump({'label': k, 'mode': 'tdp', 'tests': tests, 'problems': [],
               'host_load': [9.0, 1.0], 'host_cpus': 2}, open(os.path.join(d, k, 'results.json'), 'w'))
PY
python3 "$TOP/scripts/report.py" --patched "$work/rep/patched" --base "$work/rep/base" > "$work/log" 2>&1
check "a regression shows the test's assertion" grep -q '| x.c:76: boom' "$work/log"
check "a pass on retry, clean on the base, is flagged flaky on patched only" grep -q 'flaky on patched only' "$work/log"
check "a busy host is noted" grep -q 'host load average 9.0' "$work/log"
check "a timeout shows what each thread of the test was doing, a line each" bash -c "
	grep -q ' thread 7 t S +0u/+0s futex_wait_queue\$' '$work/log' &&
	grep -q ' thread 8 t R +0u/+200s kvm_mmu_page_fault\$' '$work/log'"
check "the counts: 0 passed, 3 failed, 1 skipped" grep -qx '0 passed, 3 failed, 1 skipped' "$work/log"
# A patched-only mode (mirror) is judged against the base kernel's tdp run.
mkdir -p "$work/rep/mirror"
python3 - "$work/rep" <<'PY'
import json, os, sys
d = sys.argv[1]
r = json.load(open(os.path.join(d, 'patched', 'results.json')))
r['mode'] = 'mirror'
json.dump(r, open(os.path.join(d, 'mirror', 'results.json'), 'w'))
PY
python3 "$TOP/scripts/report.py" --patched "$work/rep/mirror" --base "$work/rep/base" > "$work/log" 2>&1
check "a mirror-mode failure that fails on the base's tdp run too is not counted as one" \
	grep -q 'fails on base too (base: tdp mode)' "$work/log"
check "a mirror-mode failure that passes on the base's tdp run is a regression" \
	grep -q 'REGRESSION' "$work/log"

# 8. the mainline series header names its own base and apt suite
check "KMMU_SERIES=mainline reads its base package, version and apt suite" bash -c "
	KMMU_SERIES=mainline; . '$TOP/scripts/lib.sh'
	[ \"\$BASE_PKG \$BASE_VERSION \$APT_SUITE\" = 'linux-source-7.3 7.3.4-1~bpo13+1 trixie-backports' ]"
KMMU_SERIES=bogus bash -c ". '$TOP/scripts/lib.sh'" > "$work/log" 2>&1; rc=$?
check "an unknown KMMU_SERIES is refused by name" bash -c "[ $rc -ne 0 ] && grep -q 'unknown KMMU_SERIES=bogus' '$work/log'"

# 9. the mode that needs the series (mirror) is asked for by the series and
#    known to vmrun.py
check "the 6.12 series asks for the mirror mode on the patched kernel" bash -c "
	. '$TOP/scripts/lib.sh' && [ \"\$(series_header patched-modes)\" = mirror ]"
check "vmrun.py knows the mirror mode and its boot parameters" bash -c "
	python3 -c 'import sys; sys.path.insert(0, \"$TOP/scripts\"); import vmrun; sys.exit(\"kvm.mirror_sw=1\" not in vmrun.MODES[\"mirror\"])'"

# 10. an initramfs packed from another version of the list is refused: the
#     guest numbers tests by the list it was packed with
printf 'kvm_binary_stats_test 60 -\n' > "$work/l1.list"
printf 'kvm_binary_stats_test 60 -\nkvm_page_table_test 60 -\n' > "$work/l2.list"
python3 -c "
import json, sys
sys.path.insert(0, '$TOP/scripts')
import vmrun
json.dump(vmrun.groups_of(vmrun.parse_list('$work/l2.list')), open('$work/ird.cpio.gz.groups.json', 'w'))"
: > "$work/ird.cpio.gz"
python3 "$TOP/scripts/vmrun.py" run --kernel "$work/ird.cpio.gz" --initramfs "$work/ird.cpio.gz" \
	--list "$work/l1.list" --mode tdp --out "$work/vr" > "$work/log" 2>&1; rc=$?
check "an initramfs packed from another test list is refused" \
	bash -c "[ $rc -ne 0 ] && grep -q 'packed from another version' '$work/log'"

# 11. a VM that stops in the middle of a test (no console message: a crash of
#     the emulated machine) is booted again for the rest; the test it ran is
#     retried like a failed one and reported flaky, or fails when it stops again
cat > "$work/fakeqemu" <<'PY'
#!/usr/bin/env python3
import os, re, sys
a = sys.argv[1:]
serials = [a[i + 1][5:] for i, x in enumerate(a) if x == '-serial']
m = re.search(r'kmmu\.only=([0-9,]+)', a[a.index('-append') + 1])
ids = [int(x) for x in m.group(1).split(',')] if m else [1, 2, 3]
state = os.environ['FAKE_STATE']
open(serials[0], 'w').write('console\n')
with open(serials[1], 'w') as f:
    f.write('TAP version 13\n')
    for i in ids:
        f.write('# kmmu-begin %d t%d 10\n' % (i, i))
        stops = int(open(state).read() or 0)
        if i == 2 and stops > 0:
            open(state, 'w').write(str(stops - 1))
            sys.exit(0)
        f.write('ok %d t%d # time=1s\n' % (i, i))
    f.write('# kmmu-done\n')
PY
chmod +x "$work/fakeqemu"
printf 't1 10 -\nt2 10 -\nt3 10 -\n' > "$work/fq.list"
for stops in 1 2; do
	printf %s $stops > "$work/fq.state"
	FAKE_STATE="$work/fq.state" python3 "$TOP/scripts/vmrun.py" run --kernel "$work/fq.list" \
		--initramfs "$work/fq.list" --list "$work/fq.list" --mode tdp --out "$work/fq$stops" \
		--qemu "$work/fakeqemu" > "$work/log" 2>&1
	echo "rc=$?" >> "$work/log"
	python3 -c "
import json; r = json.load(open('$work/fq$stops/results.json'))
print(' '.join('%d:%s:%s' % (t['id'], t['status'], 'flaky' in (t['detail'] or '')) for t in r['tests']), len(r['problems']))" >> "$work/log"
	cp "$work/log" "$work/fq$stops.log"
done
check "a VM stop during a test: booted again, the test passes flagged flaky, the rest runs" \
	grep -qx '1:pass:False 2:pass:True 3:pass:False 0' "$work/fq1.log"
check "a VM stop on the retry too fails the test and the run, the rest still runs" \
	bash -c "grep -qx '1:pass:False 2:fail:False 3:pass:False 1' '$work/fq2.log' && grep -qx 'rc=1' '$work/fq2.log'"

# The guest's per-test limit (scripts/guest-init.sh), run here with the host's
# busybox: a test that overruns it has its threads' states and kernel stacks
# put in its output, then is killed with exit 137; a quick one keeps its exit.
sed -n '/^dump_tasks() {/,/^}/p; /^run_limited() {/,/^}/p' "$TOP/scripts/guest-init.sh" > "$work/limit.sh"
cat >> "$work/limit.sh" <<'EOF2'
run_limited 1 sh -c 'exec sleep 30' > "$W/slow.out" 2>&1; echo "slow rc=$?"
run_limited 5 sh -c 'echo quick; exit 3' > "$W/quick.out" 2>&1; echo "quick rc=$?"
EOF2
bash -c ". '$TOP/scripts/lib.sh' && need /bin/busybox:busybox-static" > "$work/limit.log" 2>&1
W=$work timeout 60 /bin/busybox sh "$work/limit.sh" >> "$work/limit.log" 2>&1
check "an overrun test is killed in the guest with exit 137, a quick one keeps its exit" \
	bash -c "grep -qx 'slow rc=137' '$work/limit.log' && grep -qx 'quick rc=3' '$work/limit.log'"
check "an overrun test's output shows its threads' states and stacks, sampled 3 times" \
	bash -c "[ \$(grep -c '^\[timeout\] tid [0-9]* sleep state S' '$work/slow.out') -eq 3 ] &&
		 grep -q '^\[timeout\]     \[<0>\] ' '$work/slow.out' &&
		 grep -q '^\[timeout\] killing pid [0-9]* after 1s' '$work/slow.out'"
# vmrun.py sums those samples up in one line under the TIMEOUT: each thread's
# state, the ticks it used from the first sample to the last, its stack top.
check "a timeout's summary line says where each thread sleeps or how much it ran" python3 -c "
import re, sys; sys.path.insert(0, '$TOP/scripts'); import vmrun
s = vmrun.timeout_threads(open('$work/slow.out').read().splitlines())
assert re.fullmatch(r'\d+ sleep S \+0u/\+0s hrtimer_nanosleep < \S.*', s), s
fake = '''[failed attempt] [timeout] sample 1 of pid 9, uptime 1.0
[timeout] sample 1 of pid 9, uptime 5.0
[timeout] tid 9 t state S utime 3 stime 1 wchan futex_wait_queue
[timeout]     [<0>] futex_wait_queue+0x60/0x90
[timeout]     [<0>] __schedule+0x1/0x2
[timeout] tid 10 t state R utime 7 stime 40 wchan 0
[timeout] sample 3 of pid 9, uptime 7.0
[timeout] tid 9 t state S utime 3 stime 1 wchan futex_wait_queue
[timeout]     [<0>] __schedule+0x1/0x2
[timeout]     [<0>] futex_wait_queue+0x60/0x90
[timeout] tid 10 t state R utime 7 stime 240 wchan 0
[timeout]     [<0>] kvm_mmu_page_fault+0x1/0x2 [kvm]
[timeout] killing pid 9 after 5s'''.splitlines()
s = vmrun.timeout_threads(fake)
assert s == '9 t S +0u/+0s futex_wait_queue; 10 t R +0u/+200s kvm_mmu_page_fault', s
assert vmrun.timeout_threads(['no samples']) == ''
"

# at_most: the VM runs go two at a time, and every one of them runs.
cat > "$work/pool.sh" <<'EOF'
. "$1/scripts/lib.sh"
W=$2
job() { echo "start $1" >> "$W/pool.log"; sleep 0.3; echo "end $1" >> "$W/pool.log"; }
for k in 1 2 3; do
	: > "$W/pool.log"
	at_most "$k" job a b c d e
	# The most jobs running at one time, from the start/end sequence.
	awk -v k="$k" '/^start/ { c++; if (c > m) m = c } /^end/ { c-- }
		END { print "at_most " k ": max " m ", " NR / 2 " jobs, running at the end " c }' "$W/pool.log"
done
EOF
bash "$work/pool.sh" "$TOP" "$work" > "$work/log" 2>&1
check "at_most N runs N jobs at a time, and all of them (N = 1, 2, 3)" bash -c "
	grep -qx 'at_most 1: max 1, 5 jobs, running at the end 0' '$work/log' &&
	grep -qx 'at_most 2: max 2, 5 jobs, running at the end 0' '$work/log' &&
	grep -qx 'at_most 3: max 3, 5 jobs, running at the end 0' '$work/log'"

# The kernel x mode matrix of make run and make bench (lib.sh vm_matrix):
# each mode's kernels side by side, the patched-only modes on the patched
# kernel alone, the base alone when only it is asked for.
check "vm_matrix: each mode's kernels in turn, mirror on the patched kernel only" bash -c "
	. '$TOP/scripts/lib.sh'
	[ \"\$(vm_matrix 'tdp shadow-mmu' mirror 'base patched' | tr '\n' ';')\" = 'base tdp;patched tdp;base shadow-mmu;patched shadow-mmu;patched mirror;' ] &&
	[ \"\$(vm_matrix tdp mirror base | tr '\n' ';')\" = 'base tdp;' ] &&
	[ \"\$(vm_matrix tdp '' patched | tr '\n' ';')\" = 'patched tdp;' ]"
# make bench's figures come from results.json: vmrun.py keeps them per test
# from its output (not from a failed attempt's), benchtable.py pairs them by
# test number and mode.
check "vmrun.py keeps a test's figures: bench: lines and the upstream tests' own words, not a failed attempt's" python3 -c "
import sys; sys.path.insert(0, '$TOP/scripts'); import vmrun
text = '''# kmmu-begin 3 dirty_log_perf_test 90
# [failed attempt] bench: bytes 1
# bench: bytes_per_vm 143360
# Populate memory time: 12.6s
# Disabling dirty logging time: 0.25s
ok 3 dirty_log_perf_test # time=19s'''
f = vmrun.figures(vmrun.test_output(text, 3))
assert f == {'bytes_per_vm': '143360', 'populate_s': '12.6', 'disable_dirty_log_s': '0.25'}, f
"
mkdir -p "$work/bt/base-tdp" "$work/bt/patched-tdp"
python3 - "$work/bt" <<'PY'
import json, os, sys
for k, v in (('base', '143360'), ('patched', '135168')):
    json.dump({'label': k, 'mode': 'tdp', 'tests': [
        {'id': 2, 'name': 'kvm-extra/vm_memory_bench', 'figures': {'bytes_per_vm': v}},
        {'id': 5, 'name': 'kvm-extra/vm_memory_bench', 'figures': {'bytes_per_vm': '1'}},
        {'id': 7, 'name': 'kvm-extra/huge_page_recovery_test', 'figures': {
            'dlog_off_load_tdp_mmu_pages_lock_acquisitions': str(len(k) * 100)}}]},
        open(os.path.join(sys.argv[1], '%s-tdp' % k, 'results.json'), 'w'))
PY
python3 "$TOP/scripts/benchtable.py" "$work/bt/base-tdp" "$work/bt/patched-tdp" > "$work/log" 2>&1
check "make bench's table: base and patched side by side from results.json, the difference" \
	bash -c "grep -qE '^tdp +vm_memory_bench#2 +bytes_per_vm +143360 +135168 +-8192\$' '$work/log' &&
		 grep -qE '^tdp +vm_memory_bench#5 +bytes_per_vm +1 +1 +\\+0\$' '$work/log'"
check "... a long figure name (the lock figures) widens its column: every row's columns end where the header's do" \
	bash -c "grep -qE '^tdp +huge_page_recovery_test#7 +dlog_off_load_tdp_mmu_pages_lock_acquisitions +400 +700 +\\+300\$' '$work/log' &&
		 [ \$(grep -v '^\$' '$work/log' | awk '{ print length(\$0) }' | sort -u | wc -l) -eq 1 ]"
python3 "$TOP/scripts/benchtable.py" "$work/bt/base-tdp" "$work/bt/none" > "$work/log" 2>&1; rc=$?
check "... and a run without results.json is an error naming it (exit $rc)" \
	bash -c "[ $rc -ne 0 ] && grep -q 'error: no results in $work/bt/none' '$work/log'"

# The kernel build's heartbeat (build-kernel.sh runs make -s): a line every
# N seconds with the objects written since the build began, and none once it
# is killed; killed, it leaves nothing that holds its output open (a pipe to
# tee would wait for that: here a 30 s heartbeat killed at once).
cat > "$work/hb.sh" <<'EOF'
. "$1/scripts/lib.sh"
W=$2
mkdir -p "$W/hb"; touch "$W/hb/old.o"; sleep 1.1; touch "$W/hb/.start"
build_heartbeat "$W/hb" "$W/hb/.start" 1 40 &
hb=$!
for i in 1 2 3 4 5; do sleep 0.3; touch "$W/hb/new$i.o"; done
sleep 2.2
kill $hb; wait $hb
sleep 1.2
echo "killed"
build_heartbeat "$W/hb" "$W/hb/.start" 30 &
hb=$!
sleep 0.5; kill $hb; wait $hb
EOF
start_hb=$(date +%s)
bash "$work/hb.sh" "$TOP" "$work" 2>&1 | cat > "$work/log"
check "the build heartbeat: a line a second with the objects compiled since the start, none after it is killed, nothing left behind" \
	bash -c "n=\$(grep -c '^==> building: [0-9]* objects compiled (the last build had 40 in all), [0-9]* s\$' '$work/log') &&
		 [ \$n -ge 2 ] && [ \$n -le 5 ] && grep -q '^==> building: 5 objects compiled' '$work/log' &&
		 [ \$(grep -c building '$work/log') -eq \$n ] && tail -n 1 '$work/log' | grep -qx killed &&
		 [ \$(( \$(date +%s) - $start_hb )) -lt 20 ]"

# make test's order, on stub steps: the mainline builds run in the background
# during the 6.12 VM step, the two VM steps never overlap, and every step is
# counted, a failed mainline build too.
mkfake_top() {	# $1 dir
	mkdir -p "$1/scripts" "$1/tests" "$1/mainline"
	cp "$TOP/scripts/lib.sh" "$TOP/scripts/test.sh" "$1/scripts/"
	: > "$1/series"; : > "$1/mainline/series"
	ev='echo "$(date +%s.%N) ${KMMU_SERIES:-6.12}' # an event, with its time
	printf '#!/bin/sh\necho "TAP version 13"; echo "ok 1 stub"; echo "1..1"\n' > "$1/tests/test-scanconsole.py"
	cp "$1/tests/test-scanconsole.py" "$1/tests/test-harness.sh"
	cp "$1/tests/test-scanconsole.py" "$1/tests/test-splat-detection.sh"
	cp "$1/tests/test-scanconsole.py" "$1/tests/test-report.py"
	cp "$1/tests/test-scanconsole.py" "$1/tests/test-hang-evidence.py"
	cp "$1/tests/test-scanconsole.py" "$1/tests/test-bochsrun.py"
	cp "$1/tests/test-scanconsole.py" "$1/tests/test-reruns.sh"
	cp "$1/tests/test-scanconsole.py" "$1/tests/test-vmrun.sh"
	cp "$1/tests/test-scanconsole.py" "$1/tests/test-busted.sh"
	cp "$1/tests/test-scanconsole.py" "$1/tests/test-lockstat.sh"
	cp "$1/tests/test-scanconsole.py" "$1/tests/test-send-lava.sh"
	cp "$1/tests/test-scanconsole.py" "$1/scripts/send.sh"
	cp "$1/tests/test-scanconsole.py" "$1/tests/test-check-litmus.sh"
	cp "$1/tests/test-scanconsole.py" "$1/scripts/check-litmus.sh"
	cp "$1/tests/test-scanconsole.py" "$1/tests/test-check-sparse.sh"
	printf 'exit 0\n' > "$1/scripts/install-deps.sh"
	printf '%s\n' "$ev apply\" >> $1/events" \
		'[ "${KMMU_SERIES:-}" = mainline ] && { cat /proc/self/autogroup; echo "task nice $(ps -o ni= -p $$)"; } > '"$1/prio"' 2>&1' \
		'[ "${KMMU_SERIES:-}" = mainline ] && [ -n "${FAIL_MAINLINE:-}" ] && exit 1' \
		'[ "${KMMU_SERIES:-}" = mainline ] && [ -n "${SLOW_MAINLINE:-}" ] && echo $$ > "$SLOW_MAINLINE" && exec sleep 60' \
		'exit 0' > "$1/scripts/apply.sh"
	printf 'exit 0\n' > "$1/scripts/build-kernel.sh"
	printf '%s\n' "$ev static-start\" >> $1/events" 'sleep 1' "$ev static-end\" >> $1/events" \
		'echo "TAP version 13"; echo "ok 1 stub static"; echo "1..1"' > "$1/scripts/check-series.sh"
	printf '%s\n' "$ev vm-start\" >> $1/events" 'sleep 3' "$ev vm-end\" >> $1/events" \
		'echo "3 passed, 0 failed, 0 skipped"' > "$1/scripts/run.sh"
	printf '%s\n' '[ "$KMMU_EPT_SPIKE" = 1 ] || exit 1' 'echo "2 passed, 0 failed, 0 skipped"' > "$1/scripts/ept.sh"
	chmod +x "$1"/scripts/*.sh "$1"/tests/*
	# test.sh runs the scanner with python3: run its stub with a shell
	sed -i -e 's#^step scanner python3 #step scanner sh #' -e 's#^step verdicts python3 #step verdicts sh #' -e 's#^step hang-evidence python3 #step hang-evidence sh #' -e 's#^step bochsrun python3 #step bochsrun sh #' "$1/scripts/test.sh"
}
mkfake_top "$work/top"
(cd "$work/top" && bash scripts/test.sh) > "$work/log" 2>&1
rc=$?
sort -n "$work/top/events" | awk '{ print $2, $3 }' > "$work/order"
check "make test on stubs: 28 passed, 0 failed, 0 skipped, exit 0" \
	bash -c "[ $rc -eq 0 ] && tail -n 1 '$work/log' | grep -qx '28 passed, 0 failed, 0 skipped'"
check "the mainline builds run during the 6.12 VM step, the mainline VM step after it" \
	bash -c "tr '\n' ' ' < '$work/order' | grep -q '6.12 vm-start mainline apply mainline static-start mainline static-end 6.12 vm-end mainline vm-start mainline vm-end'"
# On the host's scheduler autogroups a session's nice 19 tasks still take
# the share of a whole group: the session's group must be at nice 19 too.
if [ "$(cat /proc/sys/kernel/sched_autogroup_enabled 2>/dev/null)" = 1 ]; then
	check "the mainline builds run at nice 19, and so does their session's scheduler autogroup" \
		bash -c "grep -q ' nice 19\$' '$work/top/prio' && grep -qx 'task nice *19' '$work/top/prio'"
else
	ok "the mainline builds' scheduler autogroup # SKIP the host has no scheduler autogroups"
fi
mkfake_top "$work/top2"
(cd "$work/top2" && FAIL_MAINLINE=1 bash scripts/test.sh) > "$work/log" 2>&1
rc=$?
check "a failed mainline build in the background is counted, and its VM step not run" \
	bash -c "[ $rc -ne 0 ] && grep -qx 'not ok - mainline: apply and build the patched 7.3 kernel' '$work/log' &&
		 tail -n 1 '$work/log' | grep -qx '21 passed, 1 failed, 0 skipped' &&
		 ! grep -q 'mainline vm-start' '$work/top2/events'"

mkfake_top "$work/top3"
(cd "$work/top3" && SLOW_MAINLINE="$work/slow.pid" exec bash scripts/test.sh) > "$work/log" 2>&1 &
tpid=$!
# Up to 30 s: on a busy host the stub steps before it take a while.
for _ in $(seq 300); do [ -s "$work/slow.pid" ] && break; sleep 0.1; done
kill -TERM $tpid
wait $tpid
rc=$?
# The signal reaches the build's process group at once; on a busy host its
# processes may take a moment to go.
for _ in $(seq 50); do
	[ -s "$work/slow.pid" ] && kill -0 "$(cat "$work/slow.pid")" 2>/dev/null || break
	sleep 0.1
done
check "an interrupted make test stops the mainline builds it started in the background" \
	bash -c "[ $rc -eq 130 ] && [ -s '$work/slow.pid' ] && ! kill -0 \$(cat '$work/slow.pid') 2>/dev/null"

tap_done
