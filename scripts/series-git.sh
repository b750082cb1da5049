#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Editing workflow: the series as a git branch of the base.
#
#   series-git.sh import   make $KMMU_OUT/git: the base as one commit (tagged
#                          base/<version>, reproducible: fixed identity and
#                          date, so its id is the same on every machine) and
#                          branch series/<name> with one commit per patch
#                          (git am).  Edit there with any git tool.
#   series-git.sh export   write the branch back: git format-patch
#                          --zero-commit --no-signature -N, files named by
#                          subject slug (no number, so reordering renames
#                          nothing), and the series file in branch order.
#                          Comment lines above a patch in the series file
#                          move with it; the header block stays on top.
#   series-git.sh base-commit   print the id of the base commit
#
# Nothing here throws away work in $KMMU_OUT/git:
#   - import (make edit, make send) refuses a work tree with changes that are
#     not committed (staged or not, or new files that are not ignored), a git
#     am/rebase/merge in progress, commits on a detached HEAD that no branch
#     holds, and commits on the branch that differ from patches/ (not
#     exported yet).  KMMU_FORCE=1 (make edit FORCE=1) lets the last go: the
#     old branch is kept as saved/<branch>-<date>, and the branch is made
#     again from patches/.
#   - the base is imported without touching the work tree or any branch.
#   - export refuses a dirty work tree, and patches/ or the series file
#     changed since the last import or export (it would overwrite them;
#     KMMU_FORCE=1 overwrites).
set -e
. "$(dirname "$0")/lib.sh"

need_group apply
repo=${KMMU_GIT:-$KMMU_OUT/git}
tag=base/$(printf %s "$BASE_VERSION" | tr '~:' '__')
branch=series/$SERIES_NAME
role_name="KVM MMU Series"
role_email="kvm-mmu-series@localhost.localdomain"
g() { git -C "$repo" "$@"; }
# What the last import or export wrote or read: the series file and patches.
sums=$repo/.git/kmmu-series-$SERIES_NAME.sha256

# The base as a root commit made from the unpacked source through a
# temporary index: the work tree, the index and every branch of $repo stay as
# they are (an import for a new base version next to an edited branch loses
# nothing), and the commit's id depends only on the source.
import_base() {
	g rev-parse -q --verify "refs/tags/$tag" >/dev/null 2>&1 && return 0
	local src idx tree commit
	src=$("$TOP/scripts/get-base.sh")
	msg "importing $(basename "$src") ($BASE_VERSION) into $repo"
	mkdir -p "$repo"
	[ -d "$repo/.git" ] || git init -q -b "base-import" "$repo"
	idx=$(mktemp)
	rm -f "$idx"
	GIT_INDEX_FILE=$idx git --git-dir="$repo/.git" --work-tree="$src" add -A -f .
	tree=$(GIT_INDEX_FILE=$idx git --git-dir="$repo/.git" write-tree)
	rm -f "$idx"
	commit=$(GIT_AUTHOR_NAME=$role_name GIT_AUTHOR_EMAIL=$role_email GIT_COMMITTER_NAME=$role_name \
		GIT_COMMITTER_EMAIL=$role_email GIT_AUTHOR_DATE="2000-01-01T00:00:00Z" \
		GIT_COMMITTER_DATE="2000-01-01T00:00:00Z" \
		g commit-tree --no-gpg-sign "$tree" -m "Linux $(upstream_of "$BASE_VERSION") ($BASE_PKG $BASE_VERSION)" \
		-m "Unpacked from Debian's $BASE_PKG $BASE_VERSION source package, unmodified.")
	g tag "$tag" "$commit"
}

# Refuse (die) when the work tree of $repo holds something a checkout could
# lose: changes not committed, staged or not, new files that are not ignored,
# an operation in progress, commits on a detached HEAD that no ref holds.
# $1: what would happen to them, for the message.
refuse_dirty() {
	local what=$1 st gd op=
	gd=$(g rev-parse --absolute-git-dir)
	[ -d "$gd/rebase-merge" ] || [ -d "$gd/rebase-apply" ] && op="a git rebase or git am"
	[ -e "$gd/MERGE_HEAD" ] && op="a git merge"
	[ -e "$gd/CHERRY_PICK_HEAD" ] && op="a git cherry-pick"
	[ -e "$gd/REVERT_HEAD" ] && op="a git revert"
	[ -n "$op" ] &&
		die "$op is in progress in $repo; finish it (or abort it) and commit, then 'make export'; nothing was changed"
	st=$(g status --porcelain)
	if [ -n "$st" ]; then
		{
			echo "error: $repo has changes that are not committed ($what):"
			printf '%s\n' "$st" | head -n 20 | sed 's/^/  /'
			[ "$(printf '%s\n' "$st" | wc -l)" -le 20 ] ||
				echo "  ... and $(( $(printf '%s\n' "$st" | wc -l) - 20 )) more (git -C $repo status)"
			echo "To keep them: commit them on $branch (cd $repo && git add -A && git commit -s),"
			echo "then 'make export' writes them to the series."
			echo "To throw them away, do it yourself: git -C $repo reset --hard && git -C $repo clean -fd"
			echo "Nothing was changed."
		} >&2
		exit 1
	fi
	if ! g symbolic-ref -q HEAD >/dev/null && g rev-parse -q --verify HEAD >/dev/null &&
	   [ -n "$(g rev-list -n 1 HEAD --not --branches --tags)" ]; then
		die "$repo has commits on a detached HEAD that no branch holds; keep them on a branch (git -C $repo branch NAME), then run this again; nothing was changed"
	fi
}

# Record the series file and patches as import or export left them ...
record_series() {
	local p
	{
		sha256sum < "$SERIES_FILE" | cut -c1-64
		for p in $(series_patches); do
			[ -f "$PATCH_DIR/$p" ] && echo "$(sha256sum < "$PATCH_DIR/$p" | cut -c1-64)  $p"
		done
	} > "$sums"
}
# ... and what changed since, a file a line.
series_changed() {
	[ -f "$sums" ] || return 0
	[ "$(sha256sum < "$SERIES_FILE" | cut -c1-64)" = "$(head -n 1 "$sums")" ] || echo "$SERIES_FILE"
	tail -n +2 "$sums" | (cd "$PATCH_DIR" 2>/dev/null && sha256sum --check --quiet 2>/dev/null || true) |
		sed -n "s#^\(.*\): FAILED.*#$PATCH_DIR/\1#p"
}

cmd_import() {
	# Before the base is fetched (minutes), and again once $repo exists.
	[ ! -d "$repo/.git" ] || refuse_dirty "making $branch again from patches/ would lose them"
	import_base
	refuse_dirty "making $branch again from patches/ would lose them"
	if g rev-parse -q --verify "refs/heads/$branch" >/dev/null; then
		local ahead differ=
		if ! g merge-base --is-ancestor "$tag" "$branch"; then
			differ="is not based on $tag"
		else
			ahead=$(g rev-list --count "$tag..$branch")
			if [ "$ahead" -gt 0 ] && ! branch_matches_series; then
				differ="has $ahead commits that differ from $PATCH_DIR"
			fi
		fi
		if [ -n "$differ" ]; then
			if [ "${KMMU_FORCE:-0}" != 1 ]; then
				die "branch $branch in $repo $differ; 'make export' them first (or KMMU_FORCE=1 makes it again from the series, keeping the old one as a saved/ branch)"
			fi
			local saved
			saved=saved/$branch-$(date +%Y%m%d-%H%M%S)
			g branch "$saved" "$branch"
			warn "branch $branch $differ: kept as $saved (KMMU_FORCE=1), made again from the series"
		fi
	fi
	# The work tree is clean (refuse_dirty) and the branch holds nothing
	# that patches/ does not: moving it loses nothing.
	g checkout -q -B "$branch" "$tag"
	local p n=0
	for p in $(series_patches); do
		[ -f "$PATCH_DIR/$p" ] || die "series lists $p but $PATCH_DIR/$p does not exist"
		GIT_COMMITTER_NAME=$role_name GIT_COMMITTER_EMAIL=$role_email \
			g am -q --no-3way "$PATCH_DIR/$p" || {
			g am --abort || true
			die "git am of $p failed on $tag"
		}
		n=$((n + 1))
	done
	record_series
	msg "branch $branch in $repo: base $tag + $n patches; edit there, then 'make export'"
	echo "$repo"
}

# Does the branch, exported, give exactly the patches we have?
branch_matches_series() {
	local tmp
	tmp=$(mktemp -d)
	format_to "$tmp" >/dev/null
	local ok=0
	[ "$(ls "$tmp" | sort)" = "$(series_patches | sort)" ] || ok=1
	if [ $ok = 0 ]; then
		for f in "$tmp"/*; do cmp -s "$f" "$PATCH_DIR/$(basename "$f")" || ok=1; done
	fi
	rm -rf "$tmp"
	return $ok
}

# Write the branch as patches named by subject slug into $1, in order on stdout.
format_to() {
	local out=$1 f slug
	local raw
	raw=$(mktemp -d)
	g -c core.abbrev=12 format-patch -q --zero-commit --no-signature -N --filename-max-length=120 -o "$raw" "$tag..$branch" >/dev/null
	for f in $(ls "$raw" | sort); do
		slug=$(printf %s "${f#[0-9][0-9][0-9][0-9]-}" | tr "[:upper:]" "[:lower:]")
		[ -e "$out/$slug" ] && die "two patches export to the same file name $slug; reword a subject"
		mv "$raw/$f" "$out/$slug"
		echo "$slug"
	done
	rmdir "$raw"
}

cmd_export() {
	[ -d "$repo/.git" ] || die "no $repo: run 'make edit' first"
	g rev-parse -q --verify "refs/heads/$branch" >/dev/null || die "no branch $branch in $repo"
	refuse_dirty "export would leave them out"
	local changed
	changed=$(series_changed)
	if [ -n "$changed" ] && [ "${KMMU_FORCE:-0}" != 1 ]; then
		{
			echo "error: changed since the last 'make edit' or 'make export':"
			printf '%s\n' "$changed" | head -n 20 | sed 's/^/  /'
			echo "export would overwrite them with branch $branch of $repo.  To keep them, 'make edit'"
			echo "brings them into $branch (while $branch has commits not exported, it refuses;"
			echo "KMMU_FORCE=1 make edit keeps those on a saved/ branch to pick them from).  To"
			echo "overwrite them: KMMU_FORCE=1 make export.  Nothing was changed."
		} >&2
		exit 1
	fi
	local tmp order
	tmp=$(mktemp -d)
	order=$(format_to "$tmp")
	# Rebuild the series file: header (leading comments), then each patch
	# preceded by the comment lines that preceded it before; new patches
	# last-known-section-free, at their branch position.
	python3 - "$SERIES_FILE" "$tmp/series" $order <<'EOF'
import sys
old, new, order = sys.argv[1], sys.argv[2], sys.argv[3:]
header, blocks, pending, trailing, seen_patch = [], {}, [], {}, False
for line in open(old):
    s = line.rstrip('\n')
    name = s.split('#', 1)[0].strip().split()
    if not name:
        (pending if seen_patch else header).append(s)
        continue
    seen_patch = True
    blocks[name[0]] = pending
    trailing[name[0]] = s[len(s.split('#', 1)[0]):] if '#' in s else ''
    pending = []
with open(new, 'w') as f:
    for s in header:
        f.write(s + '\n')
    for p in order:
        for s in blocks.get(p, []):
            f.write(s + '\n')
        t = trailing.get(p, '')
        f.write(p + ((' ' + t.strip()) if t else '') + '\n')
    for s in pending:
        f.write(s + '\n')
EOF
	local p removed=()
	for p in $(series_patches); do
		[ -e "$tmp/$p" ] || removed+=("$p")
	done
	for p in "${removed[@]}"; do rm -f "$PATCH_DIR/$p"; done
	mkdir -p "$PATCH_DIR"
	for p in $order; do mv "$tmp/$p" "$PATCH_DIR/$p"; done
	mv "$tmp/series" "$SERIES_FILE"
	rm -rf "$tmp"
	record_series
	msg "exported $(echo $order | wc -w) patches to $PATCH_DIR${removed:+; removed: ${removed[*]}}"
	git -C "$TOP" status --short -- "$SERIES_FILE" "$PATCH_DIR" >&2 2>/dev/null || true
}

case "${1:-}" in
import) cmd_import ;;
export) cmd_export ;;
base-commit) import_base >&2; g rev-parse "$tag^{commit}" ;;
*) die "usage: series-git.sh import|export|base-commit" ;;
esac
