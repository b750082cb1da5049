#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Lay out the two trees the harness builds and boots:
#   $KMMU_OUT/trees/base/src     the base, untouched
#   $KMMU_OUT/trees/patched/src  the base with the series applied
#
# Default: the pinned Debian source (scripts/get-base.sh), copied, and the
# series pushed with quilt --fuzz=0.
#
# KMMU_KSRC=/path/to/linux (make apply KSRC=...): the user's own tree.
#   - a git tree must be clean; the base is checked out as a detached worktree
#     and the series is applied with `git am --no-3way` on a branch
#     (KMMU_BRANCH, default kvm-mmu-series/<series>) in a second worktree.
#     The user's own checkout is never touched.  The branch is the harness's:
#     the commit it left the branch at is kept in the tree's git config
#     (kmmu-series.<branch>.made), and a later run makes the branch again
#     only if it is still there; a branch the harness did not make, or one
#     with commits added since, is refused and left as it is.
#   - any other tree must be unconfigured; it is copied and quilt applies.
#   The tree's kernel version must be the pinned one (KMMU_FORCE_BASE=1 to try
#   another; the series must then still apply with no fuzz).
#
# Hand edits in the trees are never thrown away without being asked to: a run
# stops, before it changes anything, when
#   - the patched tree laid out with quilt differs from what the last run left
#     there (trees/patched/MANIFEST: the sha256 of every file, written at the
#     end of each run; files the series, changed since, changes the same way
#     do not count): the edited files are listed and saved as a patch on top
#     of the series, trees/patched/edits.patch;
#   - a worktree the harness made under $KMMU_OUT has changes not committed.
# KMMU_DISCARD_EDITS=1 (make apply DISCARD_EDITS=1) throws them away (the
# patch is kept in trees/*/edits-discarded-<date>.patch).
#
# A patch that does not apply stops everything: its name and the rejected
# hunks are shown, and the patched tree is marked incomplete.
set -e
. "$(dirname "$0")/lib.sh"

need_group apply

want=$(upstream_of "$BASE_VERSION")
trees=$KMMU_OUT/trees
mkdir -p "$trees"
ksrc=${KMMU_KSRC:-}
# What the last run left in trees/patched/src ("path<TAB>sha256", or
# "path<TAB>link:TARGET"), and a file as old as that record: a file changed
# since has a newer ctime (which, unlike the mtime, nobody can set back).
manifest=$trees/patched/MANIFEST
since=$trees/patched/MANIFEST.since
laid_out=0
mk_series=
[ "$SERIES_NAME" = 6.12 ] || mk_series=" SERIES=$SERIES_NAME"
tmp=$(mktemp -d)
trap 'rc=$?; [ "$laid_out" != 1 ] || write_manifest; rm -rf "$tmp"; exit $rc' EXIT

show_rejects() {	# $1 = patch file, $2 = tree it failed on
	local tmp f
	tmp=$(mktemp -d)
	grep -E '^\+\+\+ b/' "$1" | sed 's|^+++ b/||' | sort -u | while read -r f; do
		[ -f "$2/$f" ] || continue
		mkdir -p "$tmp/$(dirname "$f")" && cp "$2/$f" "$tmp/$f"
	done
	(cd "$tmp" && patch -p1 --fuzz=0 --force --no-backup-if-mismatch -r "$tmp/rejects" < "$1" >/dev/null 2>&1) || true
	if [ -s "$tmp/rejects" ]; then
		echo "---- rejected hunks of $(basename "$1") ----" >&2
		cat "$tmp/rejects" >&2
		echo "---- end of rejected hunks ----" >&2
	fi
	rm -rf "$tmp"
}

base_mismatch_note() {
	[ "$1" = "$want" ] ||
		echo "note: the tree is $1 but the series was made and tested on $want ($BASE_PKG $BASE_VERSION)" >&2
}

quilt_push_all() {	# $1 = tree to patch
	local n
	n=$(series_patches | wc -l)
	if [ "$n" -eq 0 ]; then
		msg "the series is empty: the patched tree is the base"
		return 0
	fi
	msg "applying $n patches with quilt (fuzz 0) in $1"
	if ! (cd "$1" && QUILT_PATCHES=$PATCH_DIR QUILT_SERIES=$SERIES_FILE QUILT_PC=.pc \
	      quilt --quiltrc /dev/null push -a -q --fuzz=0 >&2); then
		local top failed
		top=$(cd "$1" && QUILT_PATCHES=$PATCH_DIR QUILT_SERIES=$SERIES_FILE QUILT_PC=.pc \
		      quilt --quiltrc /dev/null next 2>/dev/null || true)
		failed=${top##*/}
		echo "error: patch '$failed' does not apply with --fuzz=0" >&2
		[ -n "$failed" ] && show_rejects "$PATCH_DIR/$failed" "$1"
		base_mismatch_note "$(tree_kernelversion "$1")"
		exit 1
	fi
}

check_version() {	# $1 = tree
	local kv
	kv=$(tree_kernelversion "$1") || die "$1 has no kernel Makefile"
	if [ "$kv" != "$want" ]; then
		if [ "${KMMU_FORCE_BASE:-0}" = 1 ]; then
			warn "$1 is Linux $kv, the series is for $want: trying anyway (KMMU_FORCE_BASE=1)"
		else
			die "$1 is Linux $kv but the series is for $want ($BASE_PKG $BASE_VERSION); refusing (KMMU_FORCE_BASE=1 tries anyway)"
		fi
	fi
}

# ---- Hand edits: find them before anything is changed ----

C() { LC_ALL=C "$@"; }
prune='( -path ./.pc -o -path ./.git ) -prune -o'
# The manifest of trees/patched/src as it is now (quilt's .pc left out).
write_manifest() {
	local src=$trees/patched/src i n part
	rm -f "$manifest" "$since"
	[ -d "$src" ] && [ ! -e "$src/.git" ] || return 0
	touch "$since.new"
	# A change made from now on must get a ctime newer than this: let the
	# clock tick past it first.
	for i in $(seq 200); do
		touch "$since.tick"
		[ "$since.tick" -nt "$since.new" ] && break
		sleep 0.01
	done
	rm -f "$since.tick"
	n=$(nproc)
	(cd "$src" && find . $prune -type f -print0) > "$tmp/files"
	(cd "$tmp" && split -n "r/$n" -t '\0' files files.part.)
	for part in "$tmp"/files.part.*; do
		(cd "$src" && xargs -0 -r sha256sum < "$part" > "$part.sum") &
	done
	wait
	{ cat "$tmp"/files.part.*.sum | sed -E 's#^([0-9a-f]{64})  \./(.*)$#\2\t\1#'
	  (cd "$src" && find . $prune -type l -printf '%P\tlink:%l\n'); } | C sort > "$manifest.new"
	rm -f "$tmp"/files*
	mv "$manifest.new" "$manifest"
	mv "$since.new" "$since"
}

# Files and symlinks of trees/patched/src that differ from the manifest, one a
# line: "M path" (content), "A path" (new), "D path" (gone).
changed_since_manifest() {
	local src=$trees/patched/src
	(cd "$src" && find . $prune \( -type f -o -type l \) -printf '%P\n') | C sort > "$tmp/now"
	cut -f1 "$manifest" > "$tmp/then"
	C comm -13 "$tmp/then" "$tmp/now" | sed 's/^/A /'
	C comm -23 "$tmp/then" "$tmp/now" | sed 's/^/D /'
	# Only a file whose ctime is newer than the manifest can have changed.
	{ (cd "$src" && find . $prune -type f -cnewer "$since" -print0 | xargs -0 -r sha256sum || true) |
		sed -E 's#^([0-9a-f]{64})  \./(.*)$#\2\t\1#'
	  (cd "$src" && find . $prune -type l -cnewer "$since" -printf '%P\tlink:%l\n'); } | C sort > "$tmp/touched"
	C join -t "$(printf '\t')" "$tmp/touched" "$manifest" |
		awk -F'\t' '$2 != $3 { print "M " $1 }'
}

same_file() {	# same_file A B: same content (or link target), or both absent
	if [ -L "$1" ] || [ -L "$2" ]; then
		[ -L "$1" ] && [ -L "$2" ] && [ "$(readlink "$1")" = "$(readlink "$2")" ]
	elif [ -e "$1" ] || [ -e "$2" ]; then
		cmp -s "$1" "$2"
	fi
}

# What the series, as it is now, makes of the given paths and of its own
# files: the base's copies of them, the series pushed with quilt.
expected_tree() {	# expected_tree DIR < paths
	local d=$1 p b=$trees/base/src
	mkdir -p "$d"
	{ cat; series_files; } | C sort -u | while IFS= read -r p; do
		if [ -e "$b/$p" ] || [ -L "$b/$p" ]; then
			mkdir -p "$d/$(dirname "$p")" && cp -P "$b/$p" "$d/$p" || true
		fi
	done
	[ "$(series_patches | wc -l)" -gt 0 ] || return 0
	(cd "$d" && QUILT_PATCHES=$PATCH_DIR QUILT_SERIES=$SERIES_FILE QUILT_PC=.pc \
		quilt --quiltrc /dev/null push -a -q --fuzz=0 >/dev/null 2>&1) || true
}

# Report hand edits of a tree and stop, or, with KMMU_DISCARD_EDITS=1, save
# and go on.  $1 the tree, $2 a file of "M|A|D path" lines, $3 a patch of
# them (may be empty), $4 how to keep them.
edits_found() {
	local src=$1 list=$2 patch=$3 keep=$4 n saved
	n=$(wc -l < "$list")
	if [ "${KMMU_DISCARD_EDITS:-0}" = 1 ]; then
		saved=$(dirname "$src")/edits-discarded-$(date +%Y%m%d-%H%M%S).patch
		if [ -s "$patch" ]; then cp "$patch" "$saved"; else saved=; fi
		warn "throwing away $n hand-edited files in $src (KMMU_DISCARD_EDITS=1)${saved:+; they are saved in $saved}"
		return 0
	fi
	saved=$(dirname "$src")/edits.patch
	if [ -s "$patch" ]; then cp "$patch" "$saved"; else rm -f "$saved"; saved=; fi
	{
		echo "error: $src has changes the harness did not make; laying it out again would lose them:"
		head -n 20 "$list" | sed -e 's/^M /  modified: /' -e 's/^A /  new:      /' -e 's/^D /  deleted:  /' \
			-e 's/^? /  /'
		[ "$n" -le 20 ] || echo "  ... and $((n - 20)) more"
		[ -z "$saved" ] || echo "They are saved as a patch (on top of the series) in $saved."
		printf '%s\n' "$keep"
		echo "To throw them away: make apply$mk_series DISCARD_EDITS=1 (KMMU_DISCARD_EDITS=1 for the scripts)."
		echo "Nothing was changed."
	} >&2
	exit 1
}

# trees/patched/src laid out with quilt: against the manifest.
check_quilt_tree() {
	local src=$trees/patched/src p
	changed_since_manifest > "$tmp/changed"
	[ -s "$tmp/changed" ] || return 0
	if [ "$(wc -l < "$tmp/changed")" -gt 1000 ]; then
		# Not edits by hand (an in-tree build?): too many to compare
		# one by one or to save as a patch.
		: > "$tmp/none.patch"
		edits_found "$src" "$tmp/changed" "$tmp/none.patch" \
"Too many to save as a patch: if they are the products of a build in the tree, 'make mrproper'
there removes them."
		return 0
	fi
	# A file the series (changed since: patches edited, or made with quilt
	# in the tree) now makes the same way is not lost by laying out again.
	cut -c3- "$tmp/changed" | expected_tree "$tmp/exp"
	: > "$tmp/edits"
	mkdir -p "$tmp/diff/a" "$tmp/diff/b"
	while IFS= read -r line; do
		p=${line#? }
		same_file "$src/$p" "$tmp/exp/$p" && continue
		echo "$line" >> "$tmp/edits"
		if [ -e "$tmp/exp/$p" ] || [ -L "$tmp/exp/$p" ]; then
			mkdir -p "$tmp/diff/a/$(dirname "$p")" && cp -P "$tmp/exp/$p" "$tmp/diff/a/$p" || true
		fi
		if [ -e "$src/$p" ] || [ -L "$src/$p" ]; then
			mkdir -p "$tmp/diff/b/$(dirname "$p")" && cp -P "$src/$p" "$tmp/diff/b/$p" || true
		fi
	done < "$tmp/changed"
	[ -s "$tmp/edits" ] || return 0
	# The directories are a/ and b/: with --no-prefix the paths are the
	# usual a/FILE and b/FILE (a new or deleted file's header names the one
	# side twice: put it right).
	(cd "$tmp/diff" && git -c core.quotepath=off -c diff.noprefix=false diff --no-index --no-prefix \
		--binary --no-color --no-ext-diff --no-textconv a b |
		sed -E 's#^diff --git [ab]/(.*) [ab]/(.*)$#diff --git a/\1 b/\2#' > "$tmp/edits.patch") || true
	local patchf=$trees/patched/edits.patch
	edits_found "$src" "$tmp/edits" "$tmp/edits.patch" \
"To keep them in the series, either
  - make edit$mk_series; cd ${KMMU_GIT:-$KMMU_OUT/git}; git apply --index $patchf
    git commit -s --author='KVM MMU Series <kvm-mmu-series@localhost.localdomain>'; cd -; make export$mk_series
  - or with quilt in the tree (quilt there writes to $PATCH_DIR and its series file):
    cd $src && patch -R -p1 < $patchf &&
    quilt import -P NAME.patch $patchf && quilt push
    then give $PATCH_DIR/NAME.patch a From:, Subject: and Signed-off-by: like the others
    (next time: quilt new NAME.patch, quilt edit FILE..., quilt refresh)."
}

# A worktree of a KMMU_KSRC git tree under $KMMU_OUT: against its HEAD.
check_worktree() {	# check_worktree DIR
	local d=$1 st
	if ! st=$(git -C "$d" status --porcelain 2>&1); then
		printf '? %s\n' "git status fails in it, so what is there cannot be told: $st" | head -n 3 > "$tmp/edits"
		: > "$tmp/edits.patch"
	else
		[ -n "$st" ] || return 0
		printf '%s\n' "$st" | sed -e 's/^?? /A /' -e 's/^ *D */D /' -e 's/^[^AD?]. /M /' -e 's/^A[^ ]* /A /' > "$tmp/edits"
		GIT_INDEX_FILE=$tmp/wt-index git -C "$d" read-tree HEAD &&
		GIT_INDEX_FILE=$tmp/wt-index git -C "$d" add -A &&
		GIT_INDEX_FILE=$tmp/wt-index git -C "$d" diff --cached --binary HEAD > "$tmp/edits.patch" || true
	fi
	edits_found "$d" "$tmp/edits" "$tmp/edits.patch" \
"To keep them: commit them there (git -C $d commit -a), and keep that branch under
another name (git branch -m), so that the next run makes a new one."
}

check_trees() {
	local t d
	for t in patched base; do
		d=$trees/$t/src
		if [ -f "$d/.git" ]; then
			check_worktree "$d"
		elif [ -e "$d/.git" ]; then
			die "$d is a git repository of its own, not a tree the harness made; move it away"
		elif [ $t = patched ] && [ -d "$d" ]; then
			if [ -f "$manifest" ] && [ -f "$since" ]; then
				check_quilt_tree
			else
				msg "no record of what the last run left in $d (an older harness made it): not checked for hand edits"
			fi
		fi
	done
}

# A worktree a KMMU_KSRC run made, removed from its repository (its changes
# were checked above).
drop_worktree() {	# drop_worktree DIR
	[ -f "$1/.git" ] || return 0
	git -C "$1" worktree remove --force "$1" 2>/dev/null || rm -rf "$1"
}

check_trees
rm -f "$trees/patched/APPLIED"

if [ -z "$ksrc" ]; then
	drop_worktree "$trees/base/src"
	base=$("$TOP/scripts/get-base.sh")
	kv=$(tree_kernelversion "$base")
	[ "$kv" = "$want" ] || warn "the base is $kv, not the pinned $want: the series must apply with no fuzz"
	msg "copying the base to $trees/patched/src"
	mkdir -p "$trees/patched"
	drop_worktree "$trees/patched/src"
	# A new copy has the base's old mtimes: objects in an old build
	# directory would all look up to date.
	[ -f "$trees/patched/src/Makefile" ] || rm -rf "$trees/patched/build"
	laid_out=1
	sync_tree "$base" "$trees/patched/src"
	quilt_push_all "$trees/patched/src"
	cp "$trees/base/VERSION" "$trees/patched/VERSION"
elif git -C "$ksrc" rev-parse --git-dir >/dev/null 2>&1; then
	ksrc=$(cd "$ksrc" && pwd)
	[ -z "$(git -C "$ksrc" status --porcelain)" ] ||
		die "$ksrc has uncommitted changes or untracked files; commit or stash them first (git status)"
	check_version "$ksrc"
	head=$(git -C "$ksrc" rev-parse HEAD)
	branch=${KMMU_BRANCH:-kvm-mmu-series/$SERIES_NAME}
	made_key=kmmu-series.$branch.made
	# Worktrees whose directory is gone (make clean) still hold their branch.
	git -C "$ksrc" worktree prune
	if git -C "$ksrc" rev-parse -q --verify "refs/heads/$branch" >/dev/null; then
		tip=$(git -C "$ksrc" rev-parse "refs/heads/$branch")
		made=$(git -C "$ksrc" config --get "$made_key" || true)
		if [ -z "$made" ]; then
			die "branch $branch already exists in $ksrc, and the harness did not make it (or kept no record of it); rename or delete it, or set KMMU_BRANCH to another name; nothing was changed"
		fi
		if [ "$tip" != "$made" ]; then
			{
				echo "error: branch $branch in $ksrc is not where the harness left it (${made:0:12}):"
				if git -C "$ksrc" merge-base --is-ancestor "$made" "$tip" 2>/dev/null; then
					echo "commits added on it since:"
					git -C "$ksrc" log --oneline "$made..$tip" | head -n 20 | sed 's/^/  /'
				else
					echo "  it now points at $(git -C "$ksrc" log -1 --oneline "$tip")"
				fi
				echo "Making it again would lose them.  To keep them, rename it"
				echo "  (git -C $ksrc branch -m $branch NEW-NAME) or set KMMU_BRANCH to another name."
				echo "Nothing was changed."
			} >&2
			exit 1
		fi
		ours=$(realpath -m "$trees/patched/src")
		while IFS= read -r w; do
			[ "$(realpath -m "$w")" = "$ours" ] ||
				die "branch $branch is checked out in $w; the harness makes it again only in $ours; nothing was changed"
		done < <(git -C "$ksrc" worktree list --porcelain |
			 awk -v b="branch refs/heads/$branch" '/^worktree /{ w = substr($0, 10) } $0 == b { print w }')
	fi
	for t in base patched; do
		drop_worktree "$trees/$t/src"
		rm -rf "$trees/$t/src" "$trees/$t/STAMP"
		mkdir -p "$trees/$t"
	done
	rm -f "$manifest" "$since"
	git -C "$ksrc" worktree prune
	# The branch is the one the harness left, unchanged (checked above).
	if git -C "$ksrc" rev-parse -q --verify "refs/heads/$branch" >/dev/null; then
		git -C "$ksrc" branch -q -D "$branch"
	fi
	git -C "$ksrc" config --unset "$made_key" || true
	git -C "$ksrc" worktree add -q --detach "$trees/base/src" "$head"
	git -C "$ksrc" worktree add -q -b "$branch" "$trees/patched/src" "$head"
	echo "git $head" > "$trees/base/VERSION"
	n=$(series_patches | wc -l)
	if [ "$n" -gt 0 ]; then
		msg "applying $n patches with git am on branch $branch"
		files=()
		while read -r p; do files+=("$PATCH_DIR/$p"); done < <(series_patches)
		# The commits get the user's own identity as committer; a tree
		# whose git knows none (a fresh machine) gets the role identity,
		# not a failed git am.
		ident=()
		git -C "$trees/patched/src" var GIT_COMMITTER_IDENT >/dev/null 2>&1 ||
			ident=(-c "user.name=KVM MMU Series" -c user.email=kvm-mmu-series@localhost.localdomain)
		# --no-3way: am.threeWay in the user's git config must not let a
		# patch in by a merge, where the rule is that it applies as it is.
		if ! git "${ident[@]}" -C "$trees/patched/src" am -q --no-3way "${files[@]}" >&2; then
			failed=$(git "${ident[@]}" -C "$trees/patched/src" am --show-current-patch=raw 2>/dev/null |
				 sed -n 's/^Subject: //p' | head -n 1) || true
			git "${ident[@]}" -C "$trees/patched/src" am --abort || true
			echo "error: git am failed at: $failed" >&2
			for p in "${files[@]}"; do
				grep -qF "Subject: $failed" "$p" 2>/dev/null || continue
				git -C "$trees/patched/src" apply --check -v "$p" >&2 || show_rejects "$p" "$trees/patched/src"
			done
			# Both made by this run a moment ago: nothing of the user's.
			git -C "$ksrc" worktree remove --force "$trees/patched/src" || true
			git -C "$ksrc" branch -q -D "$branch" || true
			base_mismatch_note "$(tree_kernelversion "$ksrc")"
			die "nothing was changed in $ksrc"
		fi
	fi
	git -C "$ksrc" config "$made_key" "$(git -C "$trees/patched/src" rev-parse HEAD)"
	echo "git $(git -C "$trees/patched/src" rev-parse HEAD) on $branch" > "$trees/patched/VERSION"
else
	ksrc=$(cd "$ksrc" && pwd)
	[ ! -e "$ksrc/.config" ] && [ ! -d "$ksrc/include/config" ] ||
		die "$ksrc has been configured or built in place; run 'make mrproper' there first"
	[ ! -d "$ksrc/.pc" ] || die "$ksrc has quilt patches applied (.pc exists); pop them first"
	check_version "$ksrc"
	laid_out=1
	for t in base patched; do
		mkdir -p "$trees/$t"
		rm -f "$trees/$t/STAMP"
		drop_worktree "$trees/$t/src"
		[ -f "$trees/$t/src/Makefile" ] || rm -rf "$trees/$t/build"
		sync_tree "$ksrc" "$trees/$t/src" --exclude=.git
		echo "tree $ksrc ($(tree_kernelversion "$ksrc"))" > "$trees/$t/VERSION"
	done
	quilt_push_all "$trees/patched/src"
fi

series_patches > "$trees/patched/APPLIED"
msg "patched tree ready: $trees/patched/src ($(wc -l < "$trees/patched/APPLIED") patches)"
