#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The sparse check of scripts/check-series.sh can fail, with the sparse the
# mainline series uses: Debian sid's (scripts/get-sparse.sh), since Linux 7.x
# refuses bookworm's 0.6.4.
#  - sid's sparse is fetched and runs; once fetched it needs no network;
#  - it passes Linux 7.x's test of the checker (scripts/checker-valid.sh:
#    __typeof_unqual__), which bookworm's sparse fails (why the mainline
#    series needs it);
#  - a small file with the kernel's annotations: an __rcu pointer
#    dereferenced and one assigned to a plain pointer, a __user pointer taken
#    as a kernel one, a __bitwise type used as an integer, a lock not released
#    on one path: each is reported; the same code written right gives no
#    warning (so the findings are not noise);
#  - with a built Linux 7.x tree (KMMU_SPARSE_TREE, default the mainline
#    series' out/mainline/trees/patched, else .../base; scripts/test.sh runs
#    this after the patched 7.3 build): arch/x86/kvm/mmu/tdp_iter.c checked as
#    kbuild's C=2 checks it ($(CHECK) $(CHECKFLAGS) $(c_flags), the flags from
#    the object's .cmd file); a copy with an __rcu misuse injected has new
#    warnings against the file as it is, which is what check-series.sh
#    compares.  The tree is only read.  SKIP without such a tree;
#  - sid's sparse not fetched and its fetch failing: a clear error, non-zero.
# Prints TAP.
. "$(dirname "$0")/lib-tap.sh"

# sid's sparse once, so that a fetch failure shows up as such and not as
# every case below failing.
sparse=$(bash "$TOP/scripts/get-sparse.sh" 2> "$work/log") || tap_bail "sid's sparse is available (scripts/get-sparse.sh)" "$work/log"
"$sparse" --version > "$work/log" 2>&1
rc=$?
t "sid's sparse runs: $(cat "$work/log") ($(cat "$(dirname "$sparse")/VERSION"))" '[ $rc -eq 0 ]'

# Once fetched, no network: an apt-get that cannot reach the mirror changes nothing.
mkdir -p "$work/bin"
printf '#!/bin/sh\necho "E: cannot reach the mirror" >&2\nexit 100\n' > "$work/bin/apt-get"
chmod +x "$work/bin/apt-get"
again=$(PATH=$work/bin:$PATH bash "$TOP/scripts/get-sparse.sh" 2> "$work/log")
t "once fetched, get-sparse.sh gives the same sparse without apt" \
	'[ "$again" = "$sparse" ] && [ ! -s "$work/log" ]'

# 1. Linux 7.x's checker test (its scripts/checker-valid.sh runs this file
# and takes the checker when nothing says "error").
cat > "$work/unqual.c" <<'EOF'
static inline int u(const int *q)
{
	__typeof_unqual__(*q) v = *q;
	return v;
}
EOF
"$sparse" "$work/unqual.c" > "$work/log" 2>&1
t "sid's sparse parses __typeof_unqual__ (Linux 7.x's checker-valid.sh)" '! grep -q error "$work/log"'
if command -v sparse >/dev/null; then
	sparse "$work/unqual.c" > "$work/log" 2>&1
	t "the machine's sparse $(sparse --version | awk '{ print $1 }') does not (why Linux 7.x refuses it)" \
		'grep -q error "$work/log"'
fi

# 2. The kernel's annotations as include/linux/compiler_types.h defines them
# for sparse (__CHECKER__), and one misuse of each.
cat > "$work/annotations.h" <<'EOF'
#define __user		__attribute__((noderef, address_space(__user)))
#define __rcu		__attribute__((noderef, address_space(__rcu)))
#define __force		__attribute__((force))
#define __bitwise	__attribute__((bitwise))
#define __acquires(x)	__attribute__((context(x, 0, 1)))
#define __releases(x)	__attribute__((context(x, 1, 0)))
#define rcu_dereference(p) ((__typeof__(*(p)) __force *)(p))

struct kvm_mmu_page { unsigned long gfn; };
struct kvm { struct kvm_mmu_page __rcu *root; int lock; };
typedef unsigned long long __bitwise spte_t;

void spin_lock(int *l) __acquires(l);
void spin_unlock(int *l) __releases(l);
unsigned long copy_from_user(void *to, const void __user *from, unsigned long n);

unsigned long rcu_deref(struct kvm *kvm);
struct kvm_mmu_page *rcu_assign(struct kvm *kvm);
int user_pointer(unsigned long __user *uaddr);
int bitwise(spte_t spte);
void lock_paths(struct kvm *kvm);
EOF
cat > "$work/bad.c" <<'EOF'
#include "annotations.h"

unsigned long rcu_deref(struct kvm *kvm)
{
	return kvm->root->gfn;
}

struct kvm_mmu_page *rcu_assign(struct kvm *kvm)
{
	struct kvm_mmu_page *sp = kvm->root;

	return sp;
}

int user_pointer(unsigned long __user *uaddr)
{
	unsigned long *p = uaddr;

	return *p == 0;
}

int bitwise(spte_t spte)
{
	return (spte & 1) != 0;
}

void lock_paths(struct kvm *kvm)
{
	spin_lock(&kvm->lock);
	if (kvm->lock)
		return;
	spin_unlock(&kvm->lock);
}
EOF
cat > "$work/good.c" <<'EOF'
#include "annotations.h"

unsigned long rcu_deref(struct kvm *kvm)
{
	return rcu_dereference(kvm->root)->gfn;
}

struct kvm_mmu_page *rcu_assign(struct kvm *kvm)
{
	struct kvm_mmu_page *sp = rcu_dereference(kvm->root);

	return sp;
}

int user_pointer(unsigned long __user *uaddr)
{
	unsigned long v;

	if (copy_from_user(&v, uaddr, sizeof(v)))
		return -1;
	return v == 0;
}

int bitwise(spte_t spte)
{
	return (spte & (__force spte_t)1) != 0;
}

void lock_paths(struct kvm *kvm)
{
	spin_lock(&kvm->lock);
	if (kvm->lock) {
		spin_unlock(&kvm->lock);
		return;
	}
	spin_unlock(&kvm->lock);
}
EOF
# The flags of the kernel's CHECKFLAGS that matter here.
sparse_check() { (cd "$work" && "$sparse" -D__linux__ -Wbitwise -Wno-return-void --arch=x86_64 -m64 "$1") > "$work/log" 2>&1; }
sparse_check bad.c
has() { grep -qE "^bad\\.c:$1:[0-9]+: warning: $2\$" "$work/log"; }
t "an __rcu pointer dereferenced without rcu_dereference()" 'has 5 "dereference of noderef expression"'
t "an __rcu pointer assigned to a plain one" 'has 10 "incorrect type in initializer \\(different address spaces\\)" &&
	grep -q "got struct kvm_mmu_page \\[noderef\\] __rcu \\*root" "$work/log"'
t "a __user pointer taken as a kernel one" 'has 17 "incorrect type in initializer \\(different address spaces\\)" &&
	grep -q "got unsigned long \\[noderef\\] __user \\*uaddr" "$work/log"'
t "a __bitwise type used as an integer" 'has 24 "restricted spte_t degrades to integer"'
t "a lock not released on one path" 'has 27 "context imbalance in .lock_paths. - wrong count at exit"'
t "nothing else: five warnings" '[ "$(grep -c ": warning: " "$work/log")" -eq 5 ]'
sparse_check good.c
t "the same code written right: no warning" '[ ! -s "$work/log" ]'

# 3. A file of a built Linux 7.x tree, as kbuild's C=2 checks it.
obj=arch/x86/kvm/mmu/tdp_iter.o
tree=${KMMU_SPARSE_TREE:-}
if [ -z "$tree" ]; then
	tree=$TOP/out/mainline/trees/patched
	[ -f "$tree/build/$(dirname $obj)/.$(basename $obj).cmd" ] || tree=$TOP/out/mainline/trees/base
fi
cmd=$tree/build/$(dirname $obj)/.$(basename $obj).cmd
if [ ! -f "$cmd" ] || [ ! -f "$tree/src/scripts/checker-valid.sh" ]; then
	skip "tdp_iter.c of a built Linux 7.x tree: an injected __rcu misuse is new" "no built 7.x tree in $tree (KMMU_SPARSE_TREE)"
else
	kv=$(awk -F'= *' '/^VERSION =/{v=$2} /^PATCHLEVEL =/{p=$2} /^SUBLEVEL =/{s=$2} END{ print v "." p "." s }' "$tree/src/Makefile")
	# The Makefile's own test, as it runs it (CHECK CHECKFLAGS).
	checkflags=(-D__linux__ -Dlinux -D__STDC__ -Dunix -D__unix__ -Wbitwise -Wno-return-void
		    -Wno-unknown-attribute --arch=x86_64 -mlittle-endian -m64)
	t "Linux $kv's scripts/checker-valid.sh takes sid's sparse" \
		'[ "$(sh "$tree/src/scripts/checker-valid.sh" "$sparse" "${checkflags[@]}" 2> "$work/log")" = 1 ]'
	# c_flags: the compile command of the .cmd file, without the compiler,
	# the dependency file, -c, -o OBJ and the source.
	eval "set -- $(sed -n '1{s/^savedcmd_[^ ]* := //; s/ ; .*//; p}' "$cmd")"
	[ "$1" = ccache ] && shift
	shift
	cflags=()
	while [ $# -gt 0 ]; do
		case $1 in
		-Wp,-MMD,*|-c) ;;
		-o) shift ;;
		*.c) csrc=$1 ;;
		*) cflags+=("$1") ;;
		esac
		shift
	done
	kcheck() {	# kcheck FILE: sparse's warnings, as check-series.sh compares them
		(cd "$tree/build" && "$sparse" "${checkflags[@]}" "${cflags[@]}" -I"$(dirname "$csrc")" "$1") 2>&1 |
			sed -n "s#^$1:[0-9]*:[0-9]*: \\(warning\\|error\\): #tdp_iter.c: \\1: #p" | sort
	}
	cp "$csrc" "$work/tdp_iter.c"
	kcheck "$work/tdp_iter.c" > "$work/base.w"
	# The root page table published without the __rcu cast, and an SPTE read
	# through the __rcu pointer without rcu_dereference() (READ_ONCE's cast
	# then drops the address space).
	sed -e 's/= (tdp_ptep_t)root->spt;/= root->spt;/' \
	    -e '0,/kvm_tdp_mmu_read_spte(iter->sptep)/s//READ_ONCE(*iter->sptep)/' "$csrc" > "$work/tdp_iter.c"
	kcheck "$work/tdp_iter.c" > "$work/patched.w"
	comm -13 "$work/base.w" "$work/patched.w" > "$work/log"
	t "Linux $kv tdp_iter.c: an __rcu pointer set from a plain one is a new warning" \
		'grep -qx "tdp_iter.c: warning: incorrect type in assignment (different address spaces)" "$work/log"'
	t "Linux $kv tdp_iter.c: an __rcu SPTE pointer dereferenced directly is a new warning" \
		'grep -qx "tdp_iter.c: warning: cast removes address space .__rcu. of expression" "$work/log"'
	cp "$work/base.w" "$work/log"
	t "Linux $kv tdp_iter.c as it is: $(wc -l < "$work/base.w") sparse warning(s), neither of those" \
		'! grep -q "address space" "$work/log"'
fi

# 4. Not fetched, and the fetch fails (an apt-get that cannot reach sid).
mkdir -p "$work/empty-cache"
PATH=$work/bin:$PATH KMMU_CACHE=$work/empty-cache bash "$TOP/scripts/get-sparse.sh" > "$work/out" 2> "$work/log"
rc=$?
t "sparse cannot be fetched: a clear error, non-zero, no wrapper" \
	'[ $rc -ne 0 ] && grep -q "^error: apt-get update of sid failed" "$work/log" && [ ! -s "$work/out" ] &&
	 [ ! -e "$work/empty-cache/sparse/sparse" ]'

tap_done
