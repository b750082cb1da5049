#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# scripts/apply.sh on a small fake kernel tree (tests/lib-fake-tree.sh), in
# seconds: applying with quilt and with git am, applying again after a
# series change, refusals (dirty tree, other version, patch that does not
# apply: name and rejected hunk shown, nothing lost), and the hand edits and
# commits it must not throw away (patched tree, KMMU_KSRC branch and
# worktree).  Prints TAP.
. "$(dirname "$0")/lib-tap.sh"
clean_env
. "$TOP/tests/lib-fake-tree.sh"

# Default flow with quilt on the (fake) base
check "quilt applies the series with --fuzz=0" \
	run q env KMMU_BASE_SRC="$work/fake" "$TOP/scripts/apply.sh"
check "patched tree has the change, base tree does not" \
	bash -c "grep -q 'long b;' '$work/out-q/trees/patched/src/arch/x86/kvm/mmu/tdp_mmu.c' &&
		 grep -q 'int b;' '$work/out-q/trees/base/src/arch/x86/kvm/mmu/tdp_mmu.c'"

# Applying again after the series changed: a file the old series changed
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

# Hand edits in the patched tree are not thrown away: apply stops before
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

# A patch that does not apply: stop, name it, show the rejected hunk
mkpatch kvm-x86-mmu-bad.patch "KVM: x86/mmu: Bad context" arch/x86/kvm/mmu/tdp_mmu.c "int zzz;" "long zzz;"
printf 'kvm-x86-mmu-bad.patch\n' >> "$work/series/series"
run r env KMMU_BASE_SRC="$work/fake" "$TOP/scripts/apply.sh"; rc=$?
check "a patch that does not apply stops the run (exit $rc)" test $rc -ne 0
check "the failing patch is named" grep -q "patch 'kvm-x86-mmu-bad.patch' does not apply" "$work/log"
check "the rejected hunk is shown" grep -q '^-int zzz;' "$work/log"
check "the patched tree is not marked complete" test ! -e "$work/out-r/trees/patched/APPLIED"
sed -i '/kvm-x86-mmu-bad.patch/d' "$work/series/series"
rm "$work/series/patches/kvm-x86-mmu-bad.patch"

# KSRC: another version is refused, a dirty git tree is refused
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

# KSRC git tree: git am on a branch of the harness's own, user's checkout
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

# git am never falls back to a 3-way merge: with am.threeWay=true in the
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

tap_done
