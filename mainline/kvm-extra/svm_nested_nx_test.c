// SPDX-License-Identifier: GPL-2.0-only
/*
 * svm_nested_nx_test
 *
 * NX huge page splits of both of KVM's MMUs in one VM: split pages of the
 * TDP MMU and of the shadow MMU tracked at the same time, recovered, split
 * again, and still tracked when the VM is destroyed.
 *
 * With kvm.nx_huge_pages=1, an instruction fetch from guest memory that KVM
 * could map with a 2M page makes KVM map that 2M region with 4K pages
 * instead (a split, counted in the VM stat nx_lpage_splits), and track the
 * 4K page table as a possible NX huge page, which the recovery worker zaps
 * later so that the region can be mapped huge again.  With the TDP MMU on,
 * the page tables that map L1 (the test's VM) are TDP MMU pages, and those
 * that map an L2 that L1 runs with nested paging (NPT) are shadow MMU pages,
 * which shadow L1's NPT: a 2M page of L1's NPT that L2 executes from, backed
 * by a 2M page of the host, is split by the shadow MMU.  7.3, like the 6.12
 * series, keeps a list of possible NX huge pages (and its count) per MMU,
 * kvm->arch.possible_nx_huge_pages[KVM_SHADOW_MMU] and [KVM_TDP_MMU]
 * (upstream since 6.18), and its recovery worker recovers each list on its
 * own, kvm_recover_nx_huge_pages() once per type: the TDP MMU's with
 * mmu_lock held for read, the shadow MMU's for write.  nx_lpage_splits
 * counts the pages on both.
 *
 * One vCPU.  A slot of 2M hugetlb pages at L1 GPA D holds, in this order:
 *  - T, -t 2M pages that L1 executes from and writes;
 *  - A, -s 2M pages of poison, which nothing may change: the L2 window,
 *    at L2 GPA A, is there in L2's address space, but not in L1's;
 *  - S, -s 2M pages that back the L2 window: L1's NPT maps L2 GPA A + x to
 *    L1 GPA S + x with 2M pages (large-page PDEs, accessed and dirty from
 *    the start, see below), and memslot 0 (code, stacks, L1's page tables,
 *    which L2 reuses) 1:1, with 1G pages (npt.h, as svm_nested_npt_test
 *    maps it), but backed by 4K host pages, so that no fetch splits
 *    anything there.
 * The first byte of each 2M page of T and S is a 'ret'; every other word
 * holds a pattern of its (L1 or L2) address and of a generation.  A pass
 * over T (by L1) or over the window (by L2) calls each 'ret' (when asked to
 * execute), checks that every word holds the previous generation's pattern
 * and writes the next one.  After L2's pass, L1 checks every word of S and
 * of A.  The host checks every word of the slot at the end.
 *
 * Why dirty: the shadow MMU gives the 4K table of a split (a direct shadow
 * page) the access of the guest NPT entry it maps, and maps a clean entry
 * read-only (FNAME(protect_clean_gpte)).  With a clean entry, the first
 * write by L2 after its fetch makes the entry dirty, so
 * validate_direct_spte() unlinks the split table, still on the list, and
 * links a new one with write access, which is not marked as an NX split (a
 * write is no fetch); the next read fault in the region then maps it with a
 * 2M page again at once (mmu_set_spte() drops the unmarked table; the 2M
 * page is not executable).  nx_lpage_splits would count tables that map
 * nothing, and the window would be huge before recovery ran, so phase 4
 * could not tell a recovery that zaps a split table from one that only
 * takes it off the list.  With a dirty entry the split table stays until
 * recovery zaps it.  7.3's FNAME(fetch) does the same.
 *
 * The test sets the recovery parameters itself (nx_params.h): ratio 0 (no
 * recovery) while it splits pages, a period of 100 ms.  Phases, with the
 * number of their TAP checks:
 *
 * 1. (1) L1 executes from T: nx_lpage_splits must be -t (TDP MMU splits);
 * 2. (2) L2 executes from the window: nx_lpage_splits must be -t plus -s
 *    (the shadow MMU's splits join them: both lists are populated);
 * 3. (3) recovery ratio 1: nx_lpage_splits must fall to 0 within
 *    RECOVERY_LIMIT_MS, with nothing running in the VM (the vCPU waits
 *    outside KVM_RUN): both lists must be recovered.  The counts of the two
 *    kinds differ by default (-t 8, -s 6), so the value left says which;
 * 4. (4) a pass over T and one over the window, without executing: no
 *    split, and pages_2m must rise by -t plus -s at least (each recovered
 *    region is mapped with one 2M page again).  A kernel whose recovery
 *    takes shadow MMU pages off the list without zapping them passes
 *    check 3, but leaves the window split: L2's pass then takes no fault,
 *    and pages_2m rises by -t only;
 * 5. (5, 6) ratio 0 again; passes over T and the window that execute: the
 *    same counts as in 1 and 2 (recovery zapped the split page tables, so
 *    the fetches fault and split again);
 * 6. (7) the host checks every word of the slot, and destroys the VM with
 *    both lists populated.  The 6.12 series' kvm_mmu_uninit_vm() warns
 *    (CONFIG_KVM_PROVE_MMU) if a list is not empty or its count not 0; 7.3's
 *    does not look at the lists, so there the teardown only has to go
 *    without a warning or an oops on the console (kvm_mmu_uninit_tdp_mmu()
 *    still checks the TDP MMU's page count), which the harness finds.
 *
 * On 7.3.4 without the series' fix, recovery untracks the TDP MMU's pages
 * against the shadow MMU's count (unaccount_nx_huge_page()): that count
 * wraps and the TDP MMU's never falls.  The pages still leave their list
 * and are zapped, and nx_lpage_splits, one stat for both, still falls by
 * one a page, so this test passes there too (phase 3 recovers both lists
 * at once with ratio 1); the fix's reproducer is
 * x86/nx_huge_pages_recovery_test, which watches the pace of recovery.
 *
 * It skips without SVM and NPT (in the npt-off mode too), without enough
 * free 2M hugetlb pages, or if the parameters cannot be written.  With
 * kvm.tdp_mmu=0, L1's pages are shadow MMU pages too, and the checks are
 * the same.
 *
 * This is the 7.x form of the test in tools/testing/selftests/kvm-extra (the
 * 6.12 series' copy): the 7.x library builds the NPT (vm_enable_npt(); the
 * window's accessed and dirty leaf entries with npt.h's __npt_map()) and
 * generic_svm_setup() turns nested paging on.  The phases and checks are
 * the same.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kselftest.h"
#include "test_util.h"
#include "kvm_util.h"
#include "processor.h"
#include "svm_util.h"
#include "npt.h"
#include "nx_params.h"
#include "vcpu_park.h"

#define DATA_SLOT		10
#define DATA_GPA		(4ULL << 30)	/* clear of memslot 0 */
#define HPAGE			(2ULL << 20)
#define RET_OPCODE		0xc3ULL
#define POISON			0xa5a5a5a5a5a5a5a5ULL

#define DEFAULT_TDP_HPAGES	8
#define DEFAULT_SHADOW_HPAGES	6

#define PERIOD_MS		100
#define RECOVERY_LIMIT_MS	20000
#define PARK_LIMIT_S		60

#define L2_STACK_WORDS		512

enum { OP_L1_PASS, OP_L2_PASS, OP_DONE };

/* The host's command for L1's next run, and the slot's layout. */
static struct {
	u64 op;
	u64 gen;		/* the generation to write */
	u64 exec;		/* call the 'ret' of each 2M page first */
} cmd;
static u64 t_start, nr_tdp;	/* T: L1 GVA == L1 GPA */
static u64 w_start, nr_shadow;	/* the window: L2 GVA == L2 GPA */
static u64 s_offset;		/* L1 GPA S - L2 GPA A */

/* L2's pass, written by L1 before each VMRUN. */
static u64 l2_gen, l2_exec;
static unsigned long l2_stack[L2_STACK_WORDS] __aligned(16);

static inline u64 pattern(u64 addr, u64 gen)
{
	return (addr * 0x100000001b3ULL) ^ (gen << 56) ^ 0x3c6ef372fe94f82bULL;
}

/*
 * Check and rewrite every word of @nr 2M pages from GVA @start, but the first
 * of each (the 'ret'), after calling that 'ret' if @exec.
 */
static void guest_pass(u64 start, u64 nr, u64 gen, u64 exec)
{
	u64 end = start + nr * HPAGE, hp, va, val;

	for (hp = start; hp < end; hp += HPAGE) {
		val = READ_ONCE(*(u64 *)hp);
		__GUEST_ASSERT(val == RET_OPCODE,
			       "gen %lu: GVA 0x%lx holds 0x%lx, not 'ret'",
			       gen, hp, val);
		/* An instruction fetch: KVM splits the 2M page. */
		if (exec)
			((void (*)(void))hp)();

		for (va = hp + 8; va < hp + HPAGE; va += 8) {
			val = READ_ONCE(*(u64 *)va);
			__GUEST_ASSERT(val == pattern(va, gen - 1),
				       "gen %lu: GVA 0x%lx: 0x%lx, not 0x%lx",
				       gen, va, val, pattern(va, gen - 1));
			WRITE_ONCE(*(u64 *)va, pattern(va, gen));
		}
	}
}

static void l2_guest_code(void)
{
	guest_pass(w_start, nr_shadow, READ_ONCE(l2_gen), READ_ONCE(l2_exec));
	vmmcall();
	GUEST_FAIL("L2 resumed after VMMCALL");
}

/*
 * Run L2 for one pass over the window, then check, through L1's own
 * mappings, S (what L2 wrote, at the L1 GPA the NPT names) and A (the
 * window's L2 GPA range, untouched in L1's memory).
 */
static void l1_run_l2(struct svm_test_data *svm, u64 gen, u64 exec)
{
	struct vmcb *vmcb = svm->vmcb;
	u64 va, exp, val;

	WRITE_ONCE(l2_gen, gen);
	WRITE_ONCE(l2_exec, exec);
	/* L2 starts over each time; RSP + 8 is 16-byte aligned. */
	vmcb->save.rip = (u64)l2_guest_code;
	vmcb->save.rsp = (u64)&l2_stack[L2_STACK_WORDS - 1];
	run_guest(vmcb, svm->vmcb_gpa);
	__GUEST_ASSERT(vmcb->control.exit_code == SVM_EXIT_VMMCALL,
		       "generation %lu: L2 exit 0x%lx, info1 0x%lx, info2 0x%lx",
		       gen, vmcb->control.exit_code,
		       vmcb->control.exit_info_1, vmcb->control.exit_info_2);

	for (va = w_start; va < w_start + nr_shadow * HPAGE; va += 8) {
		exp = va % HPAGE ? pattern(va, gen) : RET_OPCODE;
		val = READ_ONCE(*(u64 *)(va + s_offset));
		__GUEST_ASSERT(val == exp,
			       "gen %lu: L1 GPA 0x%lx (L2 0x%lx): 0x%lx, not 0x%lx",
			       gen, va + s_offset, va, val, exp);
		val = READ_ONCE(*(u64 *)va);
		__GUEST_ASSERT(val == POISON,
			       "gen %lu: L1 GPA 0x%lx: 0x%lx, not the poison",
			       gen, va, val);
	}
}

static void l1_guest_code(struct svm_test_data *svm)
{
	struct vmcb *vmcb = svm->vmcb;

	/* The NPT root was set up by the host: this turns nested paging on. */
	generic_svm_setup(svm, l2_guest_code);
	__GUEST_ASSERT(vmcb->control.misc_ctl & SVM_MISC_ENABLE_NP,
		       "nested paging is not enabled for L2");

	for (;;) {
		GUEST_SYNC(0);
		switch (READ_ONCE(cmd.op)) {
		case OP_L1_PASS:
			guest_pass(t_start, nr_tdp, cmd.gen, cmd.exec);
			break;
		case OP_L2_PASS:
			l1_run_l2(svm, cmd.gen, cmd.exec);
			break;
		default:
			GUEST_DONE();
		}
	}
}

/* ------------------------------------------------------------------- host */

static struct kvm_vm *vm;
static struct vcpu_park park;
static u64 gen_t, gen_s;	/* the last generation written to T, S */

static u64 splits(void)
{
	return vm_get_stat(vm, nx_lpage_splits);
}

/* One command for L1, run to L1's next GUEST_SYNC. */
static void l1_do(u64 op, u64 gen, bool exec)
{
	cmd.op = op;
	cmd.gen = gen;
	cmd.exec = exec;
	sync_global_to_guest(vm, cmd);
	park_start(&park);
	park_wait(&park, PARK_LIMIT_S);
}

/*
 * Phases 1 and 2 (and 5): L1's pass over T, then L2's over the window, each
 * executing.  nx_lpage_splits must be -t after the first (L1's splits) and
 * -t plus -s after the second (L2's join them).
 */
static void split_both(const char *when)
{
	u64 val;

	l1_do(OP_L1_PASS, ++gen_t, true);
	val = splits();
	ksft_test_result(val == nr_tdp,
			 "%s: L1 executed from %lu 2M pages, nx_lpage_splits %lu\n",
			 when, nr_tdp, val);

	l1_do(OP_L2_PASS, ++gen_s, true);
	val = splits();
	ksft_test_result(val == nr_tdp + nr_shadow,
			 "%s: then L2 from %lu, nx_lpage_splits %lu (%lu expected)\n",
			 when, nr_shadow, val, nr_tdp + nr_shadow);
}

/* Phase 3: wait for nx_lpage_splits to reach 0; the value left, if not. */
static u64 wait_recovered(u64 *waited_ms)
{
	struct timespec t0, t;
	u64 left;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		left = splits();
		clock_gettime(CLOCK_MONOTONIC, &t);
		*waited_ms = (t.tv_sec - t0.tv_sec) * 1000 +
			     (t.tv_nsec - t0.tv_nsec) / 1000000;
		if (!left || *waited_ms >= RECOVERY_LIMIT_MS)
			return left;
		sleep_ms(20);
	}
}

static const char *which_left(u64 left)
{
	if (!left)
		return "none";
	if (nr_tdp != nr_shadow && left == nr_shadow)
		return "as many as L2 split, on the shadow MMU";
	if (nr_tdp != nr_shadow && left == nr_tdp)
		return "as many as L1 split";
	return "not the count of one kind";
}

/*
 * The word at offset @off of the slot after generation @gt of T and @gs of
 * S: a 'ret' at the start of each 2M page of T and S, else the pattern of
 * its L1 GVA (T) or L2 GVA (S), and the poison in A.
 */
static u64 slot_word(u64 off, u64 gt, u64 gs)
{
	u64 t_size = nr_tdp * HPAGE, s_size = nr_shadow * HPAGE;

	if (!(off % HPAGE) && (off < t_size || off >= t_size + s_size))
		return RET_OPCODE;
	if (off < t_size)
		return pattern(DATA_GPA + off, gt);
	if (off < t_size + s_size)
		return POISON;
	return pattern(DATA_GPA + off - s_size, gs);
}

/* Every word of the slot, as the last passes left it. */
static u64 check_slot(const char *data, u64 size)
{
	u64 off, exp, val, nr_bad = 0;

	for (off = 0; off < size; off += 8) {
		exp = slot_word(off, gen_t, gen_s);
		val = *(const u64 *)(data + off);
		if (val != exp && !nr_bad++)
			ksft_print_msg("L1 GPA 0x%llx holds 0x%lx, expected 0x%lx\n",
				       DATA_GPA + off, val, exp);
	}
	return nr_bad;
}

static void help(const char *name)
{
	printf("usage: %s [-t hpages] [-s hpages]\n", name);
	printf(" -t: 2M pages L1 executes from (default %d)\n",
	       DEFAULT_TDP_HPAGES);
	printf(" -s: 2M pages L2 executes from (default %d)\n",
	       DEFAULT_SHADOW_HPAGES);
	exit(0);
}

int main(int argc, char *argv[])
{
	u64 t_size, s_size, off, left, waited_ms, big_before, big_after;
	u64 after_data, big_min, big_split, nr_bad, ad;
	gva_t svm_gva;
	struct kvm_vcpu *vcpu;
	char *data;
	int opt;

	nr_tdp = DEFAULT_TDP_HPAGES;
	nr_shadow = DEFAULT_SHADOW_HPAGES;
	while ((opt = getopt(argc, argv, "ht:s:")) != -1) {
		switch (opt) {
		case 't':
			nr_tdp = atoi_positive("2M pages for L1", optarg);
			break;
		case 's':
			nr_shadow = atoi_positive("2M pages for L2", optarg);
			break;
		case 'h':
		default:
			help(argv[0]);
		}
	}
	t_size = nr_tdp * HPAGE;
	s_size = nr_shadow * HPAGE;

	ksft_print_header();
	TEST_REQUIRE(kvm_cpu_has(X86_FEATURE_SVM));
	TEST_REQUIRE(kvm_cpu_has_npt());
	nx_params_take(nr_tdp + 2 * nr_shadow);
	set_param(P_PERIOD, PERIOD_MS);
	ksft_print_msg("kvm.tdp_mmu %s; L1 executes from %lu 2M pages, L2 from %lu\n",
		       get_kvm_param_bool("tdp_mmu") ? "Y" : "N",
		       nr_tdp, nr_shadow);
	ksft_set_plan(7);

	/* Room in memslot 0 for the NPT and the SVM pages. */
	vm = __vm_create_with_one_vcpu(&vcpu, 256, l1_guest_code);
	vm_userspace_mem_region_add(vm, VM_MEM_SRC_ANONYMOUS_HUGETLB_2MB,
				    DATA_GPA, DATA_SLOT,
				    (t_size + 2 * s_size) / PAGE_SIZE, 0);
	/* GVA == GPA; L2 uses these page tables too. */
	virt_map_level(vm, DATA_GPA, DATA_GPA, t_size + 2 * s_size,
		       PG_LEVEL_2M);

	t_start = DATA_GPA;
	w_start = DATA_GPA + t_size;
	s_offset = s_size;
	/* Before vcpu_alloc_svm(), which hands the NPT root to L1. */
	vm_enable_npt(vm);
	npt_identity_map_slot0(vm, DATA_GPA);
	/* Accessed and dirty: see the comment at the top. */
	ad = PTE_ACCESSED_MASK(&vm->stage2_mmu) |
	     PTE_DIRTY_MASK(&vm->stage2_mmu);
	for (off = 0; off < s_size; off += HPAGE)
		__npt_map(vm, w_start + off, w_start + s_offset + off,
			  PG_LEVEL_2M, ad);
	sync_global_to_guest(vm, t_start);
	sync_global_to_guest(vm, nr_tdp);
	sync_global_to_guest(vm, w_start);
	sync_global_to_guest(vm, nr_shadow);
	sync_global_to_guest(vm, s_offset);

	/* Generation 0 of T and S. */
	data = addr_gpa2hva(vm, DATA_GPA);
	for (off = 0; off < t_size + 2 * s_size; off += 8)
		*(u64 *)(data + off) = slot_word(off, 0, 0);

	vcpu_alloc_svm(vm, &svm_gva);
	vcpu_args_set(vcpu, 1, svm_gva);
	park_init(&park, 1, &vcpu);
	/* L1 sets up SVM and waits at its first GUEST_SYNC. */
	park_start(&park);
	park_wait(&park, PARK_LIMIT_S);
	TEST_ASSERT(!splits(),
		    "nx_lpage_splits is %lu before any fetch from the slot",
		    splits());

	/* Phases 1 and 2.  pages_2m must not count T or the window now. */
	split_both("split");
	big_split = vm_get_stat(vm, pages_2m);

	/* Phase 3. */
	set_param(P_RATIO, 1);
	left = wait_recovered(&waited_ms);
	ksft_test_result(!left,
			 "recovery: nx_lpage_splits %lu after %lu ms (left: %s)\n",
			 left, waited_ms, which_left(left));

	/* Phase 4. */
	big_before = vm_get_stat(vm, pages_2m);
	l1_do(OP_L1_PASS, ++gen_t, false);
	l1_do(OP_L2_PASS, ++gen_s, false);
	after_data = splits();
	big_after = vm_get_stat(vm, pages_2m);
	big_min = big_before + nr_tdp + nr_shadow;
	ksft_test_result(!after_data && big_after >= big_min,
			 "huge again: pages_2m %lu (split %lu) -> %lu (>= %lu), nx_lpage_splits %lu\n",
			 big_before, big_split, big_after, big_min, after_data);

	/*
	 * Phase 5.  A recovery pass that read the ratio before it went to 0
	 * found no split page; wait out the period it may be in anyway.
	 */
	set_param(P_RATIO, 0);
	sleep_ms(2 * PERIOD_MS);
	split_both("split again");

	/* Phase 6. */
	l1_do(OP_DONE, 0, false);
	park_join(&park);
	nr_bad = check_slot(data, t_size + 2 * s_size);
	ksft_test_result(!nr_bad, "every word of the slot: %lu bad\n", nr_bad);
	/* kvm_mmu_uninit_vm() checks that both lists end up empty. */
	ksft_print_msg("destroying the VM with %lu split pages tracked\n",
		       splits());
	kvm_vm_free(vm);
	ksft_finished();
}
