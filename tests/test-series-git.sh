#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# scripts/series-git.sh (make edit, make export) and the out/git it shares
# with scripts/send.sh (make send), on a small fake kernel tree
# (tests/lib-fake-tree.sh): the series <-> git branch round trip, and no
# work lost in out/git (changes not committed, commits not exported, patches
# edited since make edit).  Prints TAP.
. "$(dirname "$0")/lib-tap.sh"
clean_env
. "$TOP/tests/lib-fake-tree.sh"

# Series <-> git branch round trip: import then export changes nothing
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

# make edit and make send never lose work in out/git: a work tree with
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

tap_done
