#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Tests of make send (b4) and make lava (LAVA jobs), on a small fake kernel
# tree and fake build artifacts, in seconds.  Every check is also shown
# failing on a broken input: a job LAVA's schema rejects, a patch checkpatch
# rejects (b4 prep --check), a cover letter without a subject, a real send
# with a failing check or without an identity.  Prints TAP.
#
# Needs b4 0.14 and lava-common (scripts/deps.list, groups send and lava).
# The fake sender is "Test Sender <sender@example.invalid>"; "sending" goes
# to a fake sendmail (git's sendemail.smtpserver) that keeps the mails.
. "$(dirname "$0")/lib-tap.sh"
clean_env
PY=/usr/bin/python3	# Debian's, where b4, lava_common and yaml are

bash "$TOP/scripts/install-deps.sh" send lava apply > "$work/log" 2>&1 ||
	tap_bail "install b4 and lava-common (scripts/deps.list)" "$work/log"
check "b4 0.14 is the one installed (from trixie, pinned in scripts/deps.list)" \
	bash -c "b4 --version | tee '$work/log' | grep -qx '0.14.2'"

# ------------------------------------------------------------------ LAVA
lj() { "$PY" "$TOP/scripts/lava-jobs.py" "$@"; }
ljq() { lj "$@" > "$work/log" 2>&1; }
mkdir -p "$work/art"
echo kernel-base > "$work/art/bzImage-base"
echo kernel-patched > "$work/art/bzImage-patched"
echo initramfs > "$work/art/initramfs.cpio.gz"
arts=(--kernel base="$work/art/bzImage-base" --kernel patched="$work/art/bzImage-patched"
      --initramfs "$work/art/initramfs.cpio.gz")
lj write --list "$TOP/tests/kvm-tests.list" --out "$work/lava" "${arts[@]}" \
	--patched-modes mirror --url https://lab.example.invalid/kvm-mmu > "$work/jobs.list" 2> "$work/log"
rc=$?
njobs=$(wc -l < "$work/jobs.list")
check "lava-jobs.py writes the 6.12 matrix ($njobs jobs: base and patched x tdp, shadow-mmu, patched x mirror, x shards)" \
	bash -c "[ $rc -eq 0 ] && [ $njobs -gt 4 ] && ls '$work/lava/jobs/' | grep -q '^6.12-patched-mirror-g' &&
		 ! ls '$work/lava/jobs/' | grep -q '^6.12-base-mirror'"
mapfile -t jobs < "$work/jobs.list"
lj validate "${jobs[@]}" > "$work/log" 2>&1; rc=$?
check "all $njobs jobs pass LAVA's own schema (lava_common.schemas.validate, strict)" \
	bash -c "[ $rc -eq 0 ] && grep -q '^$njobs of $njobs job definitions valid' '$work/log'"
lj write --list "$TOP/mainline/tests.list" --out "$work/lava-ml" --series mainline \
	--kernel base="$work/art/bzImage-base" --kernel patched="$work/art/bzImage-patched" \
	--initramfs "$work/art/initramfs.cpio.gz" > "$work/jobs-ml.list" 2> "$work/log" &&
mapfile -t mljobs < "$work/jobs-ml.list" &&
check "the mainline list's ${#mljobs[@]} jobs pass the schema too" ljq validate "${mljobs[@]}"

# What a job holds: the boot of the group, the mode's parameters, the TAP on
# the console, the timeouts, the checksums of the artifacts.
"$PY" - "$work/lava/jobs" "$TOP/tests/kvm-tests.list" "$TOP/scripts" > "$work/log" 2>&1 <<'EOF'
import glob, hashlib, os, re, sys, yaml
sys.path.insert(0, sys.argv[3])
import vmrun
tests = vmrun.parse_list(sys.argv[2])
seen = {}
for path in sorted(glob.glob(sys.argv[1] + '/*.yaml')):
    d = yaml.safe_load(open(path))
    md = d['metadata']
    acts = {list(a)[0]: a[list(a)[0]] for a in d['actions']}
    img = acts['deploy']['images']
    arg = img['kernel']['image_arg']
    assert 'kmmu.tap=console' in arg and 'kmmu.group=%d' % md['group'] in arg, path
    for p in vmrun.MODES[md['mode']]:
        assert p in arg, (path, p)
    assert img['kernel']['url'].startswith('https://lab.example.invalid/kvm-mmu/'), path
    assert len(img['kernel']['sha256sum']) == 64 and len(img['ramdisk']['sha256sum']) == 64, path
    ids = [int(x.split('_')[0]) for x in md['tests'].split()]
    want = sum(t['timeout'] for t in tests if t['id'] in ids)
    assert acts['test']['timeout']['minutes'] * 60 >= want, (path, want)
    for i in ids:
        seen.setdefault((md['kernel'], md['mode']), []).append(i)
# every test of the list runs once per kernel and mode it is for
for (k, m), ids in seen.items():
    want = [t['id'] for t in tests if m in t['modes']]
    assert sorted(ids) == want, (k, m, sorted(ids), want)
print('checked', len(seen), 'kernel x mode pairs')
EOF
check "each job boots its group with the mode's parameters, TAP on the console, every test once per kernel x mode, timeouts >= the list's, sha256 of the artifacts" \
	test $? -eq 0

# The guest's result lines (scripts/guest-init.sh, kmmu.tap=console) are what
# the jobs' monitor pattern parses.  (Through a pipe: the function writes
# each line with "> $tap", which would truncate a file.)
sed -n '/^lava_result() {/,/^}/p' "$TOP/scripts/guest-init.sh" > "$work/lr.sh"
busybox sh -c ". '$work/lr.sh'; tap=/dev/stdout lava=1
	lava_result 3 x86_64/dirty_log_page_splitting_test 0; lava_result 4 kvm-extra/mirror_sw_test 4
	lava_result 5 dirty_log_test 137; lava_result 6 missing_test 127" 2>&1 | cat > "$work/results.txt"
"$PY" - "${jobs[0]}" "$work/results.txt" > "$work/log" 2>&1 <<'EOF'
import re, sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
mon = [a['test'] for a in d['actions'] if 'test' in a][0]['monitors'][0]
got = [m.groupdict() for m in re.finditer(mon['pattern'], open(sys.argv[2]).read())]
print(got)
assert got == [{'test_case_id': '3_x86_64_dirty_log_page_splitting_test', 'result': 'pass'},
               {'test_case_id': '4_kvm-extra_mirror_sw_test', 'result': 'skip'},
               {'test_case_id': '5_dirty_log_test', 'result': 'fail'},
               {'test_case_id': '6_missing_test', 'result': 'fail'}], got
EOF
check "the guest's kmmu-result lines give LAVA pass, skip and fail through the jobs' monitor pattern" test $? -eq 0

# Broken inputs: LAVA's schema must say no, naming the file; nothing written.
cp "${jobs[0]}" "$work/bad-key.yaml"
sed -i 's/^device_type:/device-type:/' "$work/bad-key.yaml"
cp "${jobs[0]}" "$work/bad-timeout.yaml"
"$PY" -c "import yaml,sys; d=yaml.safe_load(open(sys.argv[1])); d['actions'][2]['test']['timeout']={'minutes': 100000}; yaml.safe_dump(d, open(sys.argv[1],'w'))" "$work/bad-timeout.yaml"
cp "${jobs[0]}" "$work/bad-monitor.yaml"
sed -i 's/^    - name: kvm-mmu-/    - name: kvm mmu /' "$work/bad-monitor.yaml"
printf 'job_name: [unclosed\n' > "$work/bad-yaml.yaml"
for b in bad-key bad-timeout bad-monitor bad-yaml; do
	lj validate "${jobs[0]}" "$work/$b.yaml" > "$work/log" 2>&1; rc=$?
	check "the schema check fails on a broken job ($b, exit $rc), naming it and passing the good one" \
		bash -c "[ $rc -ne 0 ] && grep -q '^invalid: $work/$b.yaml: ' '$work/log' && grep -q '^ok: ${jobs[0]}' '$work/log' &&
			 grep -q '^1 of 2 job definitions valid' '$work/log'"
done
printf 'dirty_log_test 60 mode:nosuchmode\n' > "$work/bad.list"
before=$(ls "$work/lava/jobs" | wc -l)
lj write --list "$work/bad.list" --out "$work/lava" "${arts[@]}" > "$work/log" 2>&1; rc=$?
check "a bad test list line stops make lava with its line (exit $rc); the jobs written before stay" \
	bash -c "[ $rc -ne 0 ] && grep -q 'bad.list:1: unknown mode' '$work/log' && [ \$(ls '$work/lava/jobs' | wc -l) -eq $before ]"
lj write --list "$TOP/tests/kvm-tests.list" --out "$work/lava" --kernel patched="$work/art/nothing" \
	--initramfs "$work/art/initramfs.cpio.gz" > "$work/log" 2>&1; rc=$?
check "a kernel not built stops make lava, saying so (exit $rc); the jobs written before stay" \
	bash -c "[ $rc -ne 0 ] && grep -q 'nothing does not exist (build it first' '$work/log' && [ \$(ls '$work/lava/jobs' | wc -l) -eq $before ]"

# ------------------------------------------------------------------ send
W=$work/s
mkdir -p "$W/fake/arch/x86/kvm/mmu" "$W/fake/scripts" "$W/series/patches"
printf 'VERSION = 6\nPATCHLEVEL = 12\nSUBLEVEL = 117\nEXTRAVERSION =\n' > "$W/fake/Makefile"
printf 'int a;\nint b;\nint c;\n' > "$W/fake/arch/x86/kvm/mmu/tdp_mmu.c"
printf 'print "Maint One <maint\\@example.invalid>\\n"; print "kvm\\@vger.kernel.org\\n";\n' > "$W/fake/scripts/get_maintainer.pl"
# checkpatch stand-in: an ERROR for an added line with FIXME
cat > "$W/fake/scripts/checkpatch.pl" <<'EOF'
my $n = 0;
while (<STDIN>) { $n++; print "-:$n: ERROR: FIXME added\n" if /^\+.*FIXME/; }
EOF
mkpatch() {	# $1 file, $2 subject, $3 old line, $4 new line
	cat > "$W/series/patches/$1" <<EOF
From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001
From: KVM MMU Series <kvm-mmu-series@localhost.localdomain>
Date: Sat, 21 Nov 2026 12:00:00 +0000
Subject: [PATCH] $2

Change one line of the fake tree.

Signed-off-by: KVM MMU Series <kvm-mmu-series@localhost.localdomain>
---
 arch/x86/kvm/mmu/tdp_mmu.c | 2 +-
 1 file changed, 1 insertion(+), 1 deletion(-)

diff --git a/arch/x86/kvm/mmu/tdp_mmu.c b/arch/x86/kvm/mmu/tdp_mmu.c
--- a/arch/x86/kvm/mmu/tdp_mmu.c
+++ b/arch/x86/kvm/mmu/tdp_mmu.c
@@ -1,3 +1,3 @@
 int a;
-$3
+$4
 int c;
-- 
2.39.5

EOF
}
mkpatch kvm-x86-mmu-change-b.patch "KVM: x86/mmu: Change b" "int b;" "long b;"
mkpatch kvm-x86-mmu-change-b-again.patch "KVM: x86/mmu: Change b again" "long b;" "long long b;"
printf '# base-version: 6.12.117-1~deb12u1\n\nkvm-x86-mmu-change-b.patch\nkvm-x86-mmu-change-b-again.patch\n' > "$W/series/series"
printf '# prefix: RFC PATCH 6.12\n# cc: Some One <one@example.invalid>\nKVM: x86/mmu: A fake series\n\nA fake cover letter.\n' > "$W/cover.txt"
cat > "$W/sendmail" <<EOF
#!/bin/sh
mkdir -p "$W/sent"; cat > "$W/sent/\$(date +%s%N).eml"
EOF
chmod +x "$W/sendmail"
printf '[user]\n\tname = Test Sender\n\temail = sender@example.invalid\n[sendemail]\n\tsmtpserver = %s\n' "$W/sendmail" > "$W/gitconfig"
printf '[sendemail]\n\tsmtpserver = %s\n' "$W/sendmail" > "$W/gitconfig-noid"
E=(env KMMU_OUT="$W/out" KMMU_CACHE="$W/cache" KMMU_SERIES_FILE="$W/series/series" KMMU_PATCH_DIR="$W/series/patches"
   KMMU_BASE_SRC="$W/fake" KMMU_COVER="$W/cover.txt" KMMU_POSTINGS="$W/postings" GIT_CONFIG_GLOBAL="$W/gitconfig"
   GIT_CONFIG_NOSYSTEM=1 HOME="$W")
# The patches as git format-patch writes them (make export), so that out/git
# agrees with patches/.
"${E[@]}" bash "$TOP/scripts/series-git.sh" import > "$work/log" 2>&1 &&
"${E[@]}" bash "$TOP/scripts/series-git.sh" export >> "$work/log" 2>&1 ||
	fail "set up the fake series in out/git" "$work/log"
mails=$W/out/send/6.12

"${E[@]}" bash "$TOP/scripts/send.sh" > "$work/log" 2>&1; rc=$?
check "make send (dry run): b4 prep --check passes, b4 send -o writes cover + 2 patches (exit $rc)" \
	bash -c "[ $rc -eq 0 ] && grep -q '^ok 1 b4 prep --check: Success: 2, Warning: 0, Error: 0' '$work/log' &&
		 [ \$(ls '$mails'/*.eml | wc -l) -eq 3 ] && grep -q '^Subject: \[PATCH RFC 6.12 0/2\] KVM: x86/mmu: A fake series' '$mails/'0000-*.eml"
check "the mails: From the sender, who is author and signs off; base-commit:; the Debian base named; no mail to or from the role identity" \
	bash -c "for f in '$mails'/*.eml; do grep -qx 'From: Test Sender <sender@example.invalid>' \"\$f\" || exit 1; done &&
		 grep -qx 'Signed-off-by: Test Sender <sender@example.invalid>' '$mails/'0001-*.eml &&
		 ! grep -q 'localhost.localdomain' '$mails/'*.eml &&
		 grep -q '^base-commit: [0-9a-f]\{40\}\$' '$mails/'0000-*.eml &&
		 grep -q \"as shipped in Debian's linux-source-6.12\$\" '$mails/'0000-*.eml &&
		 grep -q '^6.12.117-1~deb12u1; base-commit below is' '$mails/'0000-*.eml &&
		 grep -q '^To: Maint One <maint@example.invalid>, kvm@vger.kernel.org' '$mails/'0000-*.eml &&
		 grep -q '^Cc: .*Some One <one@example.invalid>' '$mails/'0000-*.eml"
check "make send moved no branch of out/git and left its work tree clean" \
	bash -c "[ \$(git -C '$W/out/git' symbolic-ref --short HEAD) = series/6.12 ] && [ -z \"\$(git -C '$W/out/git' status --porcelain)\" ] &&
		 [ \"\$(git -C '$W/out/git' log -1 --format=%an series/6.12)\" = 'KVM MMU Series' ]"
check "the dry run wrote nothing in the tree (no postings/ without a real send)" test ! -e "$W/postings"

# A check that can fail: a patch checkpatch rejects.
cp "$W/series/patches/kvm-x86-mmu-change-b-again.patch" "$work/keep.patch"
sed -i 's/^+long long b;$/+long long b; \/* FIXME *\//' "$W/series/patches/kvm-x86-mmu-change-b-again.patch"
reexport() { "${E[@]}" KMMU_FORCE=1 bash "$TOP/scripts/series-git.sh" import > /dev/null 2>&1 &&
	     "${E[@]}" KMMU_FORCE=1 bash "$TOP/scripts/series-git.sh" export > /dev/null 2>&1; }
reexport
"${E[@]}" bash "$TOP/scripts/send.sh" --check > "$work/log" 2>&1; rc=$?
check "b4 prep --check fails on a patch checkpatch rejects (exit $rc), naming it" \
	bash -c "[ $rc -ne 0 ] && grep -q '^not ok 1 b4 prep --check: Success: 1, Warning: 0, Error: 1' '$work/log' &&
		 grep -q 'Change b again' '$work/log' && grep -q 'FIXME added' '$work/log'"
"${E[@]}" KMMU_SEND=1 bash "$TOP/scripts/send.sh" > "$work/log" 2>&1 < /dev/null; rc=$?
check "make send SEND=1 sends nothing when b4 prep --check fails (exit $rc)" \
	bash -c "[ $rc -ne 0 ] && grep -q 'not sending: a check above failed' '$work/log' && [ ! -e '$W/sent' ] && [ ! -e '$W/postings' ]"
cp "$work/keep.patch" "$W/series/patches/kvm-x86-mmu-change-b-again.patch"
reexport

printf '# prefix: PATCH\n\n' > "$W/nosubject.txt"
"${E[@]}" KMMU_COVER="$W/nosubject.txt" bash "$TOP/scripts/send.sh" > "$work/log" 2>&1; rc=$?
check "a cover letter without a subject stops make send (exit $rc), saying so" \
	bash -c "[ $rc -ne 0 ] && grep -q 'nosubject.txt has no subject line' '$work/log'"
"${E[@]}" GIT_CONFIG_GLOBAL="$W/gitconfig-noid" KMMU_SEND=1 bash "$TOP/scripts/send.sh" > "$work/log" 2>&1 < /dev/null; rc=$?
check "a real send without a git identity is refused (exit $rc); nothing sent" \
	bash -c "[ $rc -ne 0 ] && grep -q 'set your own git identity first' '$work/log' && [ ! -e '$W/sent' ]"
"${E[@]}" GIT_CONFIG_GLOBAL="$W/gitconfig-noid" bash "$TOP/scripts/send.sh" > "$work/log" 2>&1; rc=$?
check "a dry run without one signs with an obviously fake placeholder, and says so (exit $rc)" \
	bash -c "[ $rc -eq 0 ] && grep -q 'placeholder' '$work/log' && grep -qx 'From: Dry Run <dry-run@example.invalid>' '$mails/'0001-*.eml"

# Hand-made commits on the b4 branch (b4 trailers -u) are not thrown away.
git -C "$W/out/b4/6.12" -c user.name="Test Sender" -c user.email=sender@example.invalid commit -q --allow-empty -m "Reviewed trailer"
"${E[@]}" bash "$TOP/scripts/send.sh" > "$work/log" 2>&1; rc=$?
check "make send refuses a b4 branch with commits it did not make (exit $rc), and keeps them" \
	bash -c "[ $rc -ne 0 ] && grep -q 'commits make send did not make' '$work/log' &&
		 git -C '$W/out/b4/6.12' log -1 --format=%s | grep -qx 'Reviewed trailer'"
"${E[@]}" KMMU_FORCE=1 bash "$TOP/scripts/send.sh" > "$work/log" 2>&1; rc=$?
check "KMMU_FORCE=1 makes it again (exit $rc), the old one kept as saved/" \
	bash -c "[ $rc -eq 0 ] && git -C '$W/out/git' for-each-ref --format='%(subject)' refs/heads/saved/ | grep -qx 'Reviewed trailer'"

# A real send (to the fake sendmail) records the posting in the tree; v2 on
# a machine with a fresh out/ gets the same change-id, and the range-diff.
printf '\n' | "${E[@]}" KMMU_SEND=1 bash "$TOP/scripts/send.sh" > "$work/log" 2>&1; rc=$?
check "make send SEND=1 sends cover + 2 patches with b4 send, and records v1 in postings/ (exit $rc)" \
	bash -c "[ $rc -eq 0 ] && [ \$(ls '$W/sent' | wc -l) -eq 3 ] && [ -f '$W/postings/v1/tag.txt' ] &&
		 [ \$(ls '$W/postings/v1/'*.patch | wc -l) -eq 2 ] &&
		 $PY -c 'import json,sys; t=json.load(open(sys.argv[1])); assert t[\"revision\"] == 2 and list(t[\"history\"]) == [\"v1\"]' '$W/postings/tracking.json'"
cid=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["change-id"])' "$W/postings/tracking.json" 2>/dev/null)
sed -i 's/^Change one line of the fake tree\.$/Change one line of the fake tree (v2)./' "$W/series/patches/kvm-x86-mmu-change-b-again.patch"
rm -rf "$W/out" "$W/sent"
"${E[@]}" bash "$TOP/scripts/series-git.sh" import > /dev/null 2>&1
"${E[@]}" KMMU_COMPARE=v1 bash "$TOP/scripts/send.sh" > "$work/log" 2>&1; rc=$?
check "v2 from a fresh out/: same change-id, [PATCH RFC 6.12 v2 n/2], and b4 prep --compare-to v1 shows the change (exit $rc)" \
	bash -c "[ $rc -eq 0 ] && grep -q '^Subject: \[PATCH RFC 6.12 v2 0/2\]' '$mails/'0000-*.eml &&
		 grep -q '^X-Change-ID: $cid\$' '$mails/'0000-*.eml && grep -q '^ *+ *Change one line of the fake tree (v2)\.' '$mails/range-diff-v1.txt' &&
		 grep -q ' = .*KVM: x86/mmu: Change b\$' '$mails/range-diff-v1.txt'"
"${E[@]}" KMMU_COMPARE=v7 bash "$TOP/scripts/send.sh" > "$work/log" 2>&1; rc=$?
check "a range-diff to a version never posted fails (exit $rc)" \
	bash -c "[ $rc -ne 0 ] && grep -q '^not ok 2 b4 prep --compare-to v7' '$work/log'"
echo '{ not json' > "$W/postings/tracking.json"
"${E[@]}" bash "$TOP/scripts/send.sh" > "$work/log" 2>&1; rc=$?
check "a broken postings/tracking.json stops make send (exit $rc), saying which file" \
	bash -c "[ $rc -ne 0 ] && grep -q 'tracking.json is not JSON' '$work/log'"

# KSRC: the b4 branch on your linux git tree's tag v6.12.117, so that the
# base-commit: is one others can fetch; a tree without that tag is refused.
rm -f "$W/postings/tracking.json"
cp -a "$W/fake" "$W/linux"
git -C "$W/linux" init -q && git -C "$W/linux" add -A &&
	git -C "$W/linux" -c user.name=Upstream -c user.email=upstream@example.invalid commit -qm "Linux 6.12.117" &&
	git -C "$W/linux" tag v6.12.117
tagc=$(git -C "$W/linux" rev-parse v6.12.117)
"${E[@]}" KMMU_KSRC="$W/linux" bash "$TOP/scripts/send.sh" > "$work/log" 2>&1; rc=$?
check "make send KSRC=<linux tree>: base-commit: is its v6.12.117 (exit $rc), its checkout untouched" \
	bash -c "[ $rc -eq 0 ] && grep -q '^base-commit: $tagc\$' '$mails/'0000-*.eml &&
		 grep -q '^6.12.117-1~deb12u1; base-commit below is v6.12.117' '$mails/'0000-*.eml &&
		 [ \$(git -C '$W/linux' rev-parse HEAD) = $tagc ] && [ -z \"\$(git -C '$W/linux' status --porcelain)\" ]"
git -C "$W/linux" tag -d v6.12.117 > /dev/null
"${E[@]}" KMMU_KSRC="$W/linux" bash "$TOP/scripts/send.sh" > "$work/log" 2>&1; rc=$?
check "a KSRC without the tag is refused, saying which (exit $rc)" \
	bash -c "[ $rc -ne 0 ] && grep -q 'has no tag v6.12.117' '$work/log'"

tap_done
