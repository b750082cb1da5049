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
# import refuses to throw away commits on the branch that are not exported
# yet (KMMU_FORCE=1, make edit FORCE=1, overrides); export refuses a dirty
# work tree.
set -e
. "$(dirname "$0")/lib.sh"

need_group apply
repo=${KMMU_GIT:-$KMMU_OUT/git}
tag=base/$(printf %s "$BASE_VERSION" | tr '~:' '__')
branch=series/$SERIES_NAME
role_name="KVM MMU Series"
role_email="kvm-mmu-series@localhost.localdomain"
g() { git -C "$repo" "$@"; }

import_base() {
	g rev-parse -q --verify "refs/tags/$tag" >/dev/null && return 0
	local src
	src=$("$TOP/scripts/get-base.sh")
	msg "importing $(basename "$src") ($BASE_VERSION) into $repo"
	mkdir -p "$repo"
	[ -d "$repo/.git" ] || git init -q -b "base-import" "$repo"
	rsync -a --delete --exclude=/.git "$src/" "$repo/"
	g add -A -f .
	GIT_AUTHOR_NAME=$role_name GIT_AUTHOR_EMAIL=$role_email GIT_COMMITTER_NAME=$role_name \
	GIT_COMMITTER_EMAIL=$role_email GIT_AUTHOR_DATE="2000-01-01T00:00:00Z" \
	GIT_COMMITTER_DATE="2000-01-01T00:00:00Z" \
		g commit -q --no-verify --no-gpg-sign -m "Linux $(upstream_of "$BASE_VERSION") ($BASE_PKG $BASE_VERSION)" \
		-m "Unpacked from Debian's $BASE_PKG $BASE_VERSION source package, unmodified."
	g tag "$tag"
}

cmd_import() {
	import_base
	if g rev-parse -q --verify "refs/heads/$branch" >/dev/null; then
		local ahead
		ahead=$(g rev-list --count "$tag..$branch")
		if [ "${KMMU_FORCE:-0}" != 1 ] && [ "$ahead" -gt 0 ] && ! branch_matches_series; then
			die "branch $branch in $repo has $ahead commits that differ from patches/; 'make export' them first or KMMU_FORCE=1 to discard"
		fi
	fi
	g checkout -q -f -B "$branch" "$tag"
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
	[ -z "$(g status --porcelain --untracked-files=no)" ] ||
		die "$repo has uncommitted changes; commit them on $branch first"
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
	msg "exported $(echo $order | wc -w) patches to $PATCH_DIR${removed:+; removed: ${removed[*]}}"
	git -C "$TOP" status --short -- "$SERIES_FILE" "$PATCH_DIR" >&2 2>/dev/null || true
}

case "${1:-}" in
import) cmd_import ;;
export) cmd_export ;;
base-commit) import_base >&2; g rev-parse "$tag^{commit}" ;;
*) die "usage: series-git.sh import|export|base-commit" ;;
esac
