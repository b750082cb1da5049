#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Produce the cover letter and patch mails of the series, re-signed with the
# sender's own git identity, with recipients from the base tree's
# scripts/get_maintainer.pl.  Dry run by default: the mails are written to
# $KMMU_OUT/send/<series>/ and `git send-email --dry-run` shows what would go
# out.  KMMU_SEND=1 (make send SEND=1) sends them for real with git send-email.
#
# The series comes from patches/ through $KMMU_OUT/git (scripts/series-git.sh
# import, which refuses a work tree there with changes not committed, or a
# branch with commits not exported).  The re-signed commits are made with git
# commit-tree, on no branch: nothing in $KMMU_OUT/git is checked out or moved.
#
# Environment (make send NAME=... sets KMMU_NAME):
#   KMMU_PREFIX="RFC PATCH 6.12"   subject prefix (default: from the cover file)
#   KMMU_VERSION=N                 reroll count (v2, v3 ...)
#   KMMU_COVER=FILE                cover letter text (default covers/<series>.txt):
#                                  first line the subject, the rest the body
set -e
. "$(dirname "$0")/lib.sh"

need_group apply build send
[ "$(series_patches | wc -l)" -gt 0 ] || die "the series is empty: nothing to send"
sender_name=$(git -C "$TOP" config user.name || true)
sender_email=$(git -C "$TOP" config user.email || true)
[ -n "$sender_name" ] && [ -n "$sender_email" ] ||
	die "set your own git identity first (git config user.name / user.email): the mails are signed with it"
case "$sender_email" in
*@localhost.localdomain) die "the sender identity is the role identity; set your own git identity" ;;
esac

cover=${KMMU_COVER:-$TOP/covers/$SERIES_NAME.txt}
[ -f "$cover" ] || die "no cover letter text $cover"
prefix=${KMMU_PREFIX:-$(sed -n 's/^# prefix: *//p' "$cover" | head -n 1)}
prefix=${prefix:-PATCH}

repo=$("$TOP/scripts/series-git.sh" import | tail -n 1)
tag=base/$(printf %s "$BASE_VERSION" | tr '~:' '__')
base_commit=$(git -C "$repo" rev-parse "$tag^{commit}")
src=$repo

# Re-sign: each commit again, with the sender's Signed-off-by added (after
# the role identity's) and the sender as committer; the author, the date and
# the tree stay.  Made with commit-tree on top of each other, on no branch:
# out/git's branches, index and work tree are not touched.
tip=$base_commit
for c in $(git -C "$repo" rev-list --reverse "$tag..series/$SERIES_NAME"); do
	IFS=$'\t' read -r an ae ad < <(git -C "$repo" log -1 --format=$'%an\t%ae\t%ad' --date=raw "$c")
	tip=$(git -C "$repo" log -1 --format=%B "$c" |
	      git -C "$repo" interpret-trailers --if-exists addIfDifferentNeighbor \
		--trailer "Signed-off-by: $sender_name <$sender_email>" | git stripspace |
	      GIT_AUTHOR_NAME=$an GIT_AUTHOR_EMAIL=$ae GIT_AUTHOR_DATE=$ad \
	      GIT_COMMITTER_NAME=$sender_name GIT_COMMITTER_EMAIL=$sender_email \
		git -C "$repo" commit-tree --no-gpg-sign "$c^{tree}" -p "$tip") ||
		die "re-signing $(git -C "$repo" log -1 --format=%s "$c") failed"
done

out=$KMMU_OUT/send/$SERIES_NAME
rm -rf "$out"
mkdir -p "$out"
git -C "$repo" format-patch -q --cover-letter --base="$base_commit" --thread=shallow \
	--subject-prefix="$prefix" ${KMMU_VERSION:+-v "$KMMU_VERSION"} \
	--from="$sender_name <$sender_email>" -o "$out" "$tag..$tip" >/dev/null

# Fill the cover letter: subject and body from the cover file, then the base
# version and the latest test summary.
cl=$(ls "$out"/*0000-cover-letter.patch)
subject=$(grep -v '^#' "$cover" | head -n 1)
{
	grep -v '^#' "$cover" | tail -n +2
	echo
	echo "Base: Linux $(upstream_of "$BASE_VERSION") as shipped in Debian's $BASE_PKG $BASE_VERSION"
	echo "(base-commit below is that source imported into git by scripts/series-git.sh)."
	if [ -f "$KMMU_OUT/results/report.json" ]; then
		echo
		echo "Tested in QEMU (TCG, -cpu max, nested SVM with NPT), base vs patched:"
		python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); c=r["counts"]; print("  %d passed, %d failed, %d skipped (KVM selftests, tdp_mmu on and off)" % (c["passed"], c["failed"], c["skipped"]))' "$KMMU_OUT/results/report.json"
	fi
} > "$out/.body"
python3 - "$cl" "$subject" "$out/.body" <<'EOF'
import sys
path, subject, body = sys.argv[1], sys.argv[2], open(sys.argv[3]).read().rstrip('\n')
s = open(path).read()
s = s.replace('*** SUBJECT HERE ***', subject).replace('*** BLURB HERE ***', body)
open(path, 'w').write(s)
EOF
rm -f "$out/.body"

# Recipients, as the base tree's get_maintainer.pl reports them.
mapfile -t mails < <(ls "$out"/*.patch | grep -v cover-letter)
# --no-fixes: the import has no history to look Fixes: commits up in.
gm() { (cd "$src" && perl scripts/get_maintainer.pl --no-git --no-git-fallback --no-fixes --no-rolestats "$@" "${mails[@]}") | paste -sd, -; }
to=$(gm -m --no-l --no-r)
lists=$(gm --no-m --no-r -l)
cc=$(gm --no-m --no-l -r)
extra_cc=$(sed -n 's/^# cc: *//p' "$cover" | paste -sd, -)
{
	echo "to: $to"
	echo "cc: ${lists}${cc:+,$cc}${extra_cc:+,$extra_cc}"
	echo "base-commit: $base_commit"
	echo "base-version: $BASE_PKG $BASE_VERSION"
} > "$out/RECIPIENTS"

msg "mails written to $out:"
ls "$out" >&2
cat "$out/RECIPIENTS"
args=(--confirm=never --suppress-cc=self)
IFS=, read -r -a tos <<< "$to"; for x in "${tos[@]}"; do [ -n "$x" ] && args+=(--to "$x"); done
IFS=, read -r -a ccs <<< "${lists}${cc:+,$cc}${extra_cc:+,$extra_cc}"; for x in "${ccs[@]}"; do [ -n "$x" ] && args+=(--cc "$x"); done
if [ "${KMMU_SEND:-0}" = 1 ]; then
	git -C "$TOP" send-email "${args[@]}" "$out"/*.patch
else
	msg "dry run (make send SEND=1 sends): git send-email --dry-run"
	if ! git -C "$TOP" send-email --dry-run "${args[@]}" "$out"/*.patch > "$out/dry-run.log" 2>&1; then
		cat "$out/dry-run.log" >&2
		die "git send-email --dry-run failed"
	fi
	grep -E '^(Dry-|Subject|To|Cc|From)' "$out/dry-run.log" | head -n 40
fi
