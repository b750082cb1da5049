#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Post the series with b4 (0.14, scripts/deps.list).  Dry run by default.
#
# The series becomes a b4-prepared branch, b4/kvm-mmu-<series>, checked out
# in its own worktree $KMMU_OUT/b4/<series>[-ksrc] (nothing in $KMMU_OUT/git's own
# work tree or branches moves):
#   - on the base: $KMMU_OUT/git's reproducible import (tag base/<version>,
#     scripts/series-git.sh import, which refuses an out/git with work in
#     progress), or with KMMU_KSRC=DIR (make send KSRC=~/linux) your linux
#     git tree at tag v<upstream version> (e.g. linux-stable's v6.12.117), so
#     that the mails' base-commit: is one that others can fetch;
#   - enrolled with `b4 prep -e <base>`: b4's cover commit, whose text is
#     covers/<series>.txt (`b4 prep --edit-cover`; "# cc: ..." lines become
#     Cc: trailers, "# prefix:" the subject prefixes) plus the Debian base
#     package and version and the last test summary;
#   - then the patches, re-signed: the sender (your git identity) is the
#     author and adds a Signed-off-by; the role identity's Signed-off-by
#     stays in patches/ only (it is no person and no address);
#   - `b4 prep --auto-to-cc` with the base tree's scripts/get_maintainer.pl.
#
# Postings are versioned in the tree, in postings/<series>/: tracking.json
# (b4's change-id, next revision, the message ids of each version sent) and
# vN/ (the patches as sent, and the tag b4 made), so that on any machine
# the branch gets the same change-id and revision, and `b4 prep --compare-to
# vN` finds the earlier version.  A real send updates them: commit them.
#
# Usage (make send NAME=... sets KMMU_NAME):
#   send.sh            mails in $KMMU_OUT/send/<series>/ (b4 send -o), and a
#                      summary as TAP (b4 prep --check, mails written)
#   send.sh --check    `b4 prep --check` only, as TAP (scripts/check-series.sh)
#   KMMU_VERSION=N     post as vN whatever postings/ says (b4 --force-revision)
#   KMMU_COMPARE=vN    also the range-diff to the posted vN (b4 prep --compare-to)
#   KMMU_REFLECT=1     b4 send --reflect: the mails go to you alone (try this
#                      first: it checks your sendemail configuration)
#   KMMU_SEND=1        b4 send: the real posting; then commit postings/<series>
#   KMMU_COVER=FILE    cover letter (default covers/<series>.txt): first line
#                      the subject, the rest the body
#   KMMU_POSTINGS=DIR  the postings' record (default postings/<series>; tests)
#   KMMU_FORCE=1       make the b4 branch again even though it has commits
#                      that make send did not make (kept as saved/<branch>-<date>)
set -e
. "$(dirname "$0")/lib.sh"

mode=send
[ "${1:-}" = --check ] && mode=check
need_group apply send
[ "$(series_patches | wc -l)" -gt 0 ] || die "the series is empty: nothing to send"

# The sender: your git identity.  A dry run or a check without one uses an
# obviously fake placeholder, and says so; a real send refuses.
sender_name=$(git -C "$TOP" config user.name || true)
sender_email=$(git -C "$TOP" config user.email || true)
case "$sender_email" in
*@localhost.localdomain) die "the sender identity is the role identity; set your own git identity (git config user.name / user.email)" ;;
esac
if [ -z "$sender_name" ] || [ -z "$sender_email" ]; then
	if [ "${KMMU_SEND:-0}" = 1 ] || [ "${KMMU_REFLECT:-0}" = 1 ]; then
		die "set your own git identity first (git config user.name / user.email): the mails are signed with it"
	fi
	sender_name="Dry Run" sender_email="dry-run@example.invalid"
	warn "no git identity: the dry run signs with the placeholder '$sender_name <$sender_email>'; set yours before sending"
fi

cover=${KMMU_COVER:-$TOP/covers/$SERIES_NAME.txt}
[ -f "$cover" ] || die "no cover letter text $cover"
subject=$(grep -v '^#' "$cover" | grep -m 1 . || true)
[ -n "$subject" ] || die "$cover has no subject line (its first line that is not a # comment)"
prefix=${KMMU_PREFIX:-$(sed -n 's/^# prefix: *//p' "$cover" | head -n 1)}
# b4 writes "[PATCH <prefixes> vN n/m]": the prefixes are the words other than PATCH.
read -r -a prefixes <<< "$(printf '%s\n' $prefix | grep -vx PATCH | tr '\n' ' ')"
postings=${KMMU_POSTINGS:-$TOP/postings/$SERIES_NAME}
slug=kvm-mmu-$(printf %s "$SERIES_NAME" | tr -c 'a-z0-9\n' '-')
branch=b4/$slug
# One worktree per repository: out/git's, or your KSRC tree's.
wt=$KMMU_OUT/b4/$SERIES_NAME${KMMU_KSRC:+-ksrc}
made=$wt.made

# The base and the series as commits on it.
if [ -n "${KMMU_KSRC:-}" ]; then
	repo=$(cd "$KMMU_KSRC" && git rev-parse --show-toplevel 2>/dev/null) ||
		die "KMMU_KSRC=$KMMU_KSRC is not a git tree"
	base_ref=v$(upstream_of "$BASE_VERSION")
	base=$(git -C "$repo" rev-parse -q --verify "refs/tags/$base_ref^{commit}") ||
		die "$repo has no tag $base_ref: fetch it (e.g. from linux-stable) for a base-commit: others can fetch"
	series_tip=
else
	repo=$("$TOP/scripts/series-git.sh" import | tail -n 1)
	base_ref=base/$(printf %s "$BASE_VERSION" | tr '~:' '__')
	base=$(git -C "$repo" rev-parse "$base_ref^{commit}")
	series_tip=$(git -C "$repo" rev-parse "series/$SERIES_NAME")
fi

# b4 and the git it runs get the sender's identity, the editor that puts the
# cover text in, the recipients' commands and no patatt signature (no key
# here) through git's environment configuration: nothing is written to any
# git config file.
b4cfg=(user.name="$sender_name" user.email="$sender_email"
       core.editor="cp $KMMU_OUT/b4/$SERIES_NAME.cover"
       b4.send-auto-to-cmd="perl scripts/get_maintainer.pl --no-git --no-git-fallback --no-fixes --no-rolestats --no-l --no-r"
       b4.send-auto-cc-cmd="perl scripts/get_maintainer.pl --no-git --no-git-fallback --no-fixes --no-rolestats --no-m"
       b4.prep-perpatch-check-cmd="perl scripts/checkpatch.pl -q --terse --no-summary --mailback --showfile"
       b4.send-no-patatt-sign=yes b4.prep-cover-strategy=commit)
# A dry run writes files only; without an SMTP server of yours, b4 would pick
# the kernel's web submission endpoint (it needs a patatt key) even for that.
# A real send uses your sendemail configuration, as git send-email does.
if [ "${KMMU_SEND:-0}" != 1 ] && [ "${KMMU_REFLECT:-0}" != 1 ] &&
   [ -z "$(git -C "$TOP" config sendemail.smtpserver || true)" ]; then
	b4cfg+=(sendemail.smtpserver=/bin/false)
fi
export GIT_CONFIG_COUNT=${#b4cfg[@]}
i=0
for kv in "${b4cfg[@]}"; do
	export "GIT_CONFIG_KEY_$i=${kv%%=*}" "GIT_CONFIG_VALUE_$i=${kv#*=}"
	i=$((i + 1))
done
g() { git -C "$wt" "$@"; }
# /usr/bin first: checkpatch.pl runs scripts/spdxcheck.py with the python3 in
# PATH, which must be Debian's (python3-ply, python3-git), not a pyenv one.
b4w() { (cd "$wt" && PATH=/usr/bin:/bin:$PATH b4 "$@"); }

# The worktree of the b4 branch.  make send makes the branch again each time
# from patches/; commits added on it by hand (b4 trailers -u, say) stop the
# run, so that nothing is lost.
mkdir -p "$KMMU_OUT/b4"
git -C "$repo" worktree prune
if [ -e "$wt/.git" ] && [ "$(cd "$wt" && git rev-parse --path-format=absolute --git-common-dir)" != \
			 "$(cd "$repo" && git rev-parse --path-format=absolute --git-common-dir)" ]; then
	die "$wt is a worktree of another repository than $repo; remove it (git worktree remove) first"
fi
if [ ! -e "$wt/.git" ]; then
	rm -rf "$wt"
	git -C "$repo" worktree add -q --detach "$wt" "$base" || die "git worktree add $wt failed"
fi
[ -z "$(g status --porcelain)" ] ||
	die "$wt has changes that are not committed; commit or remove them (git -C $wt status); nothing was changed"
if g rev-parse -q --verify "refs/heads/$branch" >/dev/null &&
   [ "$(g rev-parse "refs/heads/$branch")" != "$(cat "$made" 2>/dev/null)" ]; then
	if [ "${KMMU_FORCE:-0}" != 1 ]; then
		die "$branch in $wt has commits make send did not make (b4 trailers -u?); carry them to patches/ (make edit, make export), or KMMU_FORCE=1 keeps it as saved/$branch-<date> and makes it again; nothing was changed"
	fi
	g branch -f "saved/$branch-$(date +%Y%m%d-%H%M%S)" "$branch"
	warn "$branch had commits make send did not make: kept as saved/$branch-<date>"
fi
g checkout -q --detach "$base"
g branch -q -D "$branch" 2>/dev/null || true
g checkout -q -b "$branch" "$base"
if [ -n "${KMMU_KSRC:-}" ]; then
	for p in $(series_patches); do
		g am -q --no-3way "$PATCH_DIR/$p" || { g am --abort || true; die "git am of $p failed on $base_ref in $repo"; }
	done
	series_tip=$(g rev-parse HEAD)
	g checkout -q -B "$branch" "$base"
fi

# b4's cover commit, with the tree's cover text and the tracking of earlier
# postings.
b4w prep -e "$base" >"$KMMU_OUT/b4/prep.log" 2>&1 || { cat "$KMMU_OUT/b4/prep.log" >&2; die "b4 prep -e $base failed"; }
{
	echo "$subject"
	echo
	grep -v '^#' "$cover" | sed '0,/[^[:space:]]/{/[^[:space:]]/d}'
	echo
	echo "The base is Linux $(upstream_of "$BASE_VERSION") as shipped in Debian's $BASE_PKG"
	if [ -n "${KMMU_KSRC:-}" ]; then
		echo "$BASE_VERSION; base-commit below is $base_ref, which the series applies to too."
	else
		echo "$BASE_VERSION; base-commit below is that source imported into git,"
		echo "reproducibly, by the series tree's scripts/series-git.sh (not a linux-stable"
		echo "commit)."
	fi
	if [ -f "$KMMU_OUT/results/report.json" ]; then
		echo
		echo "Tested in QEMU (TCG, -cpu max, nested SVM with NPT), base vs patched:"
		python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); c=r["counts"]; print("  %d passed, %d failed, %d skipped (KVM selftests, tdp_mmu on and off)" % (c["passed"], c["failed"], c["skipped"]))' "$KMMU_OUT/results/report.json"
	fi
	if grep -q '^# cc: ' "$cover"; then
		echo
		sed -n 's/^# cc: *\(.*\)/Cc: \1/p' "$cover"
	fi
} > "$KMMU_OUT/b4/$SERIES_NAME.cover"
b4w prep --edit-cover >>"$KMMU_OUT/b4/prep.log" 2>&1 || { cat "$KMMU_OUT/b4/prep.log" >&2; die "b4 prep --edit-cover failed"; }
# Tracking: the change-id, revision and history the tree has recorded.
b4t() { (cd "$wt" && /usr/bin/python3 "$TOP/scripts/b4-tracking.py" "$@"); }
b4t set "$postings/tracking.json" "${prefixes[@]}" >>"$KMMU_OUT/b4/prep.log" 2>&1 ||
	{ cat "$KMMU_OUT/b4/prep.log" >&2; die "setting b4's tracking data from $postings/tracking.json failed"; }
cover_commit=$(g rev-parse HEAD)
change_id=$(b4t get change-id)
revision=$(b4t get revision)

# The versions posted before, as b4's sent/ tags (b4 prep --compare-to).
for d in "$postings"/v*/; do
	[ -f "$d/tag.txt" ] || continue
	v=$(basename "$d")
	tag=sent/$change_id-$v
	g rev-parse -q --verify "refs/tags/$tag" >/dev/null && continue
	pbase=$(sed -n 's/^base-commit: *//p' "$d/tag.txt" | head -n 1)
	g rev-parse -q --verify "$pbase^{commit}" >/dev/null ||
		{ warn "$v was posted on base $pbase, which $repo does not have: no range-diff to $v"; continue; }
	g checkout -q --detach "$pbase"
	g am -q --no-3way "$d"/*.patch || { g am --abort || true; g checkout -q "$branch"; die "git am of $d failed on $pbase"; }
	g tag -a -F "$d/tag.txt" "$tag" HEAD
	g checkout -q "$branch"
done

# The patches, re-signed by the sender on top of the cover commit: author
# the sender (date kept), the role identity's Signed-off-by dropped, the
# sender's added.
tip=$cover_commit
for c in $(g rev-list --reverse "$base..$series_tip"); do
	ad=$(g log -1 --format=%ad --date=raw "$c")
	tip=$(g log -1 --format=%B "$c" | grep -v '^Signed-off-by: .*@localhost\.localdomain>$' |
	      git interpret-trailers --if-exists addIfDifferent \
		--trailer "Signed-off-by: $sender_name <$sender_email>" | git stripspace |
	      GIT_AUTHOR_NAME=$sender_name GIT_AUTHOR_EMAIL=$sender_email GIT_AUTHOR_DATE=$ad \
	      GIT_COMMITTER_NAME=$sender_name GIT_COMMITTER_EMAIL=$sender_email \
		g commit-tree --no-gpg-sign "$c^{tree}" -p "$tip") ||
		die "re-signing $(g log -1 --format=%s "$c") failed"
done
g reset -q --hard "$tip"
b4w prep --auto-to-cc >>"$KMMU_OUT/b4/prep.log" 2>&1 || { cat "$KMMU_OUT/b4/prep.log" >&2; die "b4 prep --auto-to-cc failed"; }
g rev-parse HEAD > "$made"
msg "$branch in $wt: $(g rev-list --count "$base..HEAD^") patches, change-id $change_id, v$revision"

out=$KMMU_OUT/send/$SERIES_NAME
mkdir -p "$out"
n=0 failed=0

# b4 prep --check runs the base tree's checkpatch.pl on each mail as it
# would go out, and exits 0 whatever it finds: its summary line is the result.
b4_check() {
	local log=$out/b4-check.log sum err warn_
	b4w prep --check -C 2>&1 | sed 's/\x1b\[[0-9;]*m//g' > "$log" || true
	sum=$(grep -E '^Success: [0-9]+, Warning: [0-9]+, Error: [0-9]+' "$log" | tail -n 1)
	if [ -z "$sum" ]; then
		tap fail "b4 prep --check: no summary (see $log)"
		sed 's/^/#   /' "$log" | head -n 20
		return
	fi
	read -r _ _ _ warn_ _ err <<< "$(echo "$sum" | tr -d ',')"
	if [ "$err" -gt 0 ]; then
		tap fail "b4 prep --check: $sum"
		grep -E '^\S+ [0-9a-f]{12}:|^  ' "$log" | sed 's/^/#   /' | head -n 40
	else
		tap ok "b4 prep --check: $sum"
		[ "$warn_" -eq 0 ] || grep -E '^  ' "$log" | sed 's/^/#   /' | head -n 20
	fi
}

echo "TAP version 13"
b4_check
if [ $mode = check ]; then
	echo "1..$n"
	[ $failed -eq 0 ]
	exit
fi

if [ -n "${KMMU_COMPARE:-}" ]; then
	if b4w prep --compare-to "$KMMU_COMPARE" > "$out/range-diff-$KMMU_COMPARE.txt" 2> "$out/range-diff.err"; then
		tap ok "range-diff to $KMMU_COMPARE: $out/range-diff-$KMMU_COMPARE.txt"
	else
		tap fail "b4 prep --compare-to $KMMU_COMPARE"
		sed 's/^/#   /' "$out/range-diff.err"
	fi
fi

rm -f "$out"/*.eml "$out"/*.patch
if ! b4w send -o "$out" > "$out/b4-send.log" 2>&1; then
	tap fail "b4 send -o $out"
	sed 's/^/#   /' "$out/b4-send.log" | head -n 30
	echo "1..$n"
	exit 1
fi
mails=$(ls "$out"/*.eml 2>/dev/null | wc -l)
first=$(ls "$out"/*.eml 2>/dev/null | head -n 1)
# The recipients, for a look before sending (MAINTAINERS-notes).
python3 - "$first" "$base" "$BASE_PKG $BASE_VERSION" > "$out/RECIPIENTS" <<'EOF'
import email, sys
m = email.message_from_binary_file(open(sys.argv[1], 'rb'))
print('to: %s' % ' '.join((m.get('To') or '').split()))
print('cc: %s' % ' '.join((m.get('Cc') or '').split()))
print('base-commit: %s' % sys.argv[2])
print('base-version: %s' % sys.argv[3])
EOF
if [ "$mails" -gt 0 ] && grep -q '^base-commit: ' "$out/"*.eml && ! grep -qi '^\(from\|to\|cc\):.*@localhost\.localdomain' "$out/"*.eml; then
	tap ok "b4 send -o: $mails mails in $out, base-commit: $base, v$revision"
else
	tap fail "b4 send -o: $mails mails, each with the sender as From and a base-commit, none to the role identity"
fi
grep -hE '^Subject:' "$out"/*.eml | sed 's/^/# /'
sed 's/^/# /' "$out/RECIPIENTS"

if [ "${KMMU_SEND:-0}" = 1 ] || [ "${KMMU_REFLECT:-0}" = 1 ]; then
	[ $failed -eq 0 ] || die "not sending: a check above failed"
	if [ "${KMMU_SEND:-0}" = 1 ]; then
		b4w send || die "b4 send failed (b4 sends through your sendemail configuration: git config sendemail.smtpserver ...)"
		# b4 tagged the posting sent/<change-id>-v<N> and moved to v<N+1>:
		# keep both in the tree.
		tag=sent/$change_id-v$revision
		g rev-parse -q --verify "refs/tags/$tag" >/dev/null || die "b4 send made no tag $tag"
		rm -rf "$postings/v$revision"
		mkdir -p "$postings/v$revision"
		g -c core.abbrev=12 format-patch -q --zero-commit --no-signature -N \
			-o "$postings/v$revision" "$(sed -n 's/^base-commit: *//p' <(g tag -l --format='%(contents)' "$tag") | head -n 1)..$tag"
		g tag -l --format='%(contents)' "$tag" > "$postings/v$revision/tag.txt"
		b4t dump > "$postings/tracking.json"
		g rev-parse HEAD > "$made"
		msg "sent v$revision; commit $postings (tracking.json, v$revision/) so that the next posting knows it"
	else
		b4w send --reflect || die "b4 send --reflect failed"
		msg "sent to yourself only (--reflect); make send SEND=1 posts it"
	fi
else
	msg "dry run: the mails are in $out (make send REFLECT=1 sends them to you, SEND=1 posts them)"
fi
echo "1..$n"
[ $failed -eq 0 ]
