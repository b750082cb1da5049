// SPDX-License-Identifier: GPL-2.0-only
/*
 * huge_page_recovery_test
 *
 * Huge mappings must come back when dirty logging is turned off on a memslot
 * backed by 2M hugetlb pages.
 *
 * While dirty logging is on, KVM maps the slot with 4K pages so that it can
 * track writes page by page.  When it is turned off, the TDP MMU rebuilds
 * each 2M mapping in place from the 4K page table below it
 * (kvm_tdp_mmu_recover_huge_pages(), upstream after 6.12, with mmu_lock held
 * for read): the 2M SPTEs are there again as soon as
 * KVM_SET_USER_MEMORY_REGION returns, and the vCPUs take no fault to get
 * them back.  A kernel that instead zaps the 4K page tables (vanilla 6.12
 * and before; the 6.12 series backports the rebuild) leaves the slot
 * unmapped, and every vCPU re-faults its huge pages on its next access.  On
 * 7.3 the in-place checks therefore apply, base and patched alike.
 *
 * Phases, with N vCPUs each owning an equal part of one hugetlb slot:
 *
 * 1. The guest writes the whole slot: pages_2m counts every 2M page of it.
 * 2. Dirty logging on, the guest writes everything (the slot is now mapped
 *    with 4K pages: pages_2m drops and pages_4k rises by the slot's size),
 *    KVM_GET_DIRTY_LOG write-protects the 4K SPTEs, and the guest writes
 *    everything again, so that every 4K SPTE is writable once more.
 * 3. With every vCPU parked outside KVM_RUN, dirty logging is turned off.
 *    pages_2m right after the ioctl must be back to its phase 1 value, and
 *    the next write pass over the whole slot must take no page fault
 *    (vCPU stat pf_taken).
 * 4. The same again, but dirty logging is turned off while the vCPUs keep
 *    writing the slot; after one more pass pages_2m must be back too.
 * 5. Write-protected children: dirty logging on, the guest writes
 *    everything, KVM_GET_DIRTY_LOG write-protects every 4K SPTE, and dirty
 *    logging goes off with no write in between.  The huge SPTEs come back
 *    from write-protected children, so they are write-protected too: the
 *    next write pass may take one page fault per 2M page (a fast one,
 *    without mmu_lock), and no more.  Zapping takes one full fault per 2M
 *    page instead.
 * 6. With -x, the NX huge page mitigation on (the test sets kvm.nx_huge_pages
 *    to 1 and the recovery ratio to 0 for its run, and puts them back after;
 *    skipped without -x): dirty logging on, a write pass, off, then
 *    the guest executes an instruction from each 2M page of the slot.  The
 *    4K SPTEs that dirty logging left are executable, but a huge SPTE must
 *    not be while the mitigation is on, so each of those fetches must fault
 *    and split its 2M page again (VM stat nx_lpage_splits), whether KVM
 *    rebuilt the huge mapping in place or zapped it.  A huge SPTE rebuilt
 *    with its sub-page's executable bit lets the fetches through: no split.
 *    (7.3's make_huge_spte() clears the executable bit when NX huge pages
 *    are on, so this must pass there.)
 *    Recovery is off (ratio 0) so that the worker does not zap the splits
 *    while they are counted.
 *
 * -c adds a host thread that takes mmu_lock for write over and over while
 * dirty logging is turned off (MADV_DONTNEED on a page of a memslot of its
 * own: an mmu_notifier invalidation), so that the recovery walk, which holds
 * mmu_lock for read, finds the lock contended and yields.
 *
 * Every 8-byte word holds a pattern made of its address and the number of
 * the pass that wrote it.  The guest checks the previous pass's value before
 * it writes the next one, and the host checks the whole slot after phases 3
 * and 4.
 *
 * Only the TDP MMU rebuilds huge pages in place.  With kvm.tdp_mmu=N the
 * shadow MMU zaps (7.3's kvm_rmap_zap_collapsible_sptes()), so the in-place
 * checks of phases 3 and 5 are reported as skipped, with the figures; the
 * data checks apply everywhere.  -I reports those checks the same way on any
 * MMU, for benchmark runs on a kernel without the in-place rebuild.
 *
 * Prints "bench: NAME VALUE" lines for scripts/bench.sh; with
 * CONFIG_LOCK_STAT also mmu_lock's and tdp_mmu_pages_lock's contentions,
 * acquisitions and wait time (lock_stat.h) during the disable of phase 3
 * (dlog_off_*) and, in phase 4, during the disable and the vCPUs' pass after
 * it (dlog_off_load_*): what the vCPUs wait for while it runs, and the
 * faults that bring back what it zapped.
 *
 * This is the 7.x form of the test in tools/testing/selftests/kvm-extra (the
 * 6.12 series' copy): the 7.x library's stat getters (which fail on a
 * missing stat) replace the test's own, and nx_params.h's free hugetlb page
 * check its copy.  The phases and checks are the same.
 */
#include <getopt.h>
#include <pthread.h>
#include <sys/mman.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/bitmap.h>

#include "kselftest.h"
#include "test_util.h"
#include "kvm_util.h"
#include "processor.h"
#include "lock_stat.h"
#include "vcpu_park.h"
#include "nx_params.h"

#define DATA_SLOT		10
#define CONTEND_SLOT		11
#define CONTEND_GPA		(DATA_GPA + (1ULL << 30))
#define DATA_GPA		(4ULL << 30)	/* clear of memslot 0 */
#define DATA_GVA		DATA_GPA
#define HPAGE_SIZE		(2ULL << 20)

#define DEFAULT_NR_VCPUS	2
#define DEFAULT_SLOT_MIB	64
#define MAX_VCPUS		PARK_MAX_VCPUS

/* What the vCPUs do when they leave their parking ucall. */
enum guest_cmd {
	CMD_PASS,	/* write the vCPU's part of the slot once */
	CMD_LOOP,	/* write it over and over until guest_stop */
	CMD_EXEC,	/* execute an instruction from each 2M page of it */
	CMD_DONE,
};

/* Set by the host (the guest's copies, in memslot 0). */
static u64 guest_cmd;
static u64 guest_stop;
/* Written by the guest: the last pass each vCPU completed in CMD_LOOP. */
static u64 guest_loop_pass[MAX_VCPUS];

static inline u64 pattern(u64 gva, u64 pass)
{
	return gva ^ (pass * 0x9e3779b97f4a7c15ULL);
}

/* Check that every word of [start, end) holds pass @old, write pass @new. */
static void guest_write_pass(u64 id, u64 start, u64 end,
			     u64 old, u64 new)
{
	u64 gva;

	for (gva = start; gva < end; gva += 8) {
		u64 val = READ_ONCE(*(u64 *)gva);

		__GUEST_ASSERT(val == pattern(gva, old),
			       "vCPU %lu, pass %lu: GVA 0x%lx holds 0x%lx, expected 0x%lx (pass %lu)",
			       id, new, gva, val, pattern(gva, old), old);
		WRITE_ONCE(*(u64 *)gva, pattern(gva, new));
	}
}

/*
 * Execute a RET from the first byte of each 2M page of [start, end), and put
 * the word that held it back: the data checks see nothing.  The guest's own
 * page tables map the slot without NX.
 */
static void guest_exec_pass(u64 start, u64 end)
{
	u64 gva;

	for (gva = start; gva < end; gva += HPAGE_SIZE) {
		u64 word = READ_ONCE(*(u64 *)gva);

		WRITE_ONCE(*(u8 *)gva, 0xc3);	/* RET */
		((void (*)(void))gva)();
		WRITE_ONCE(*(u64 *)gva, word);
	}
}

/*
 * Park in a ucall that reports the last pass written, then do what the host
 * asked.  Pass 0 is the host's initial fill.
 */
static void guest_code(u64 id, u64 start, u64 size)
{
	u64 pass = 0, end = start + size;

	for (;;) {
		GUEST_SYNC(pass);

		switch (READ_ONCE(guest_cmd)) {
		case CMD_PASS:
			guest_write_pass(id, start, end, pass, pass + 1);
			pass++;
			break;
		case CMD_LOOP:
			while (!READ_ONCE(guest_stop)) {
				guest_write_pass(id, start, end, pass,
						 pass + 1);
				pass++;
				WRITE_ONCE(guest_loop_pass[id], pass);
				/* Once recovered, no fault makes it leave. */
				guest_exit_to_host();
			}
			break;
		case CMD_EXEC:
			guest_exec_pass(start, start + size);
			break;
		default:
			GUEST_DONE();
		}
	}
}

/* ------------------------------------------------------------ vCPU threads */

/* How long the vCPUs may take to park again: one pass takes seconds. */
#define PARK_LIMIT_S	120

static int nr_vcpus = DEFAULT_NR_VCPUS;
static struct kvm_vcpu *vcpus[MAX_VCPUS];
static struct vcpu_park park;

static void set_cmd(struct kvm_vm *vm, enum guest_cmd cmd)
{
	guest_cmd = cmd;
	sync_global_to_guest(vm, guest_cmd);
}

static void start_vcpus(void)
{
	park_start(&park);
}

static void wait_parked(void)
{
	park_wait(&park, PARK_LIMIT_S);
}

/* Every vCPU runs @cmd once and parks again. */
static void run_phase(struct kvm_vm *vm, enum guest_cmd cmd)
{
	set_cmd(vm, cmd);
	start_vcpus();
	wait_parked();
}

/* The sum of vCPU stat @name over the vCPUs (the test fails without it). */
static u64 sum_vcpu_stat(const char *name)
{
	u64 val, sum = 0;
	int i;

	for (i = 0; i < nr_vcpus; i++) {
		kvm_get_stat(&vcpus[i]->stats, name, &val, 1);
		sum += val;
	}
	return sum;
}

/* ------------------------------------------------------------------- host */

static u64 slot_size, part_size;

/* Count the words that do not hold their vCPU's last pass; print the first. */
static u64 check_data(struct kvm_vm *vm, const char *when)
{
	u64 *data = addr_gpa2hva(vm, DATA_GPA);
	u64 off, nr_bad = 0;

	for (off = 0; off < slot_size; off += 8) {
		u64 pass = park.sync_val[off / part_size];
		u64 exp = pattern(DATA_GVA + off, pass);
		u64 val = data[off / 8];

		if (val != exp && !nr_bad++)
			ksft_print_msg("%s: GVA 0x%llx holds 0x%lx, expected 0x%lx (pass %lu)\n",
				       when, DATA_GVA + off, val, exp, pass);
	}
	return nr_bad;
}

/* Wait until every vCPU has completed a CMD_LOOP pass after @since[]. */
static bool wait_loop_passes(u64 *loop_pass, const u64 *since,
			     int timeout_s)
{
	time_t deadline = time(NULL) + timeout_s;
	int i;

	for (i = 0; i < nr_vcpus; i++) {
		while (READ_ONCE(loop_pass[i]) <= since[i]) {
			if (time(NULL) > deadline)
				return false;
			sleep_ms(10);
		}
	}
	return true;
}

/* -c: a thread that takes mmu_lock for write while dirty logging goes off. */
static bool contend;
static void *contend_hva;
static u64 contend_rounds;
static pthread_t contend_thread;
static bool contend_stop;

static void *contender(void *arg)
{
	while (!READ_ONCE(contend_stop)) {
		/* Populate the page, then zap it: one invalidation. */
		WRITE_ONCE(*(u64 *)contend_hva, contend_rounds);
		TEST_ASSERT(!madvise(contend_hva, PAGE_SIZE, MADV_DONTNEED),
			    "madvise(MADV_DONTNEED) failed");
		contend_rounds++;
	}
	return NULL;
}

/* Turn dirty logging on or off for the data slot, contended if -c. */
static void set_dirty_logging(struct kvm_vm *vm, bool on)
{
	u64 rounds = contend_rounds;

	if (on || !contend) {
		vm_mem_region_set_flags(vm, DATA_SLOT,
					on ? KVM_MEM_LOG_DIRTY_PAGES : 0);
		return;
	}
	WRITE_ONCE(contend_stop, false);
	pthread_create(&contend_thread, NULL, contender, NULL);
	vm_mem_region_set_flags(vm, DATA_SLOT, 0);
	WRITE_ONCE(contend_stop, true);
	pthread_join(contend_thread, NULL);
	ksft_print_msg("contender: %lu mmu_lock write acquisitions during the disable\n",
		       contend_rounds - rounds);
}

static void help(const char *name)
{
	printf("usage: %s [-v vcpus] [-m MiB] [-I] [-c] [-x]\n", name);
	printf(" -v: number of vCPUs (default %d, at most %d)\n", DEFAULT_NR_VCPUS, MAX_VCPUS);
	printf(" -m: MiB of 2M hugetlb memory in the slot, a multiple of 2 * vCPUs (default %d)\n",
	       DEFAULT_SLOT_MIB);
	printf(" -I: report the in-place recovery checks (2M mappings right after the\n"
	       "     disable, no faults after it) as figures only, on any MMU\n");
	printf(" -c: contend for mmu_lock (write) while dirty logging is turned off\n");
	printf(" -x: NX huge pages on (kvm.nx_huge_pages=1, recovery off) for the run, and\n"
	       "     execute from the slot after a disable (phase 6)\n");
	exit(0);
}

#define NR_CHECKS	11

int main(int argc, char *argv[])
{
	u64 slot_2m, slot_4k, base_2m, full_2m, p2m, p4k, flushes, faults;
	u64 p2m_exec;
	u64 before_loop[MAX_VCPUS], *loop_pass, nr_bad, *data;
	u64 pf_before, fixed_before, fixed, flush_reqs, fast_before, fast;
	u64 splits;
	int slot_mib = DEFAULT_SLOT_MIB, opt, i;
	bool tdp_mmu, in_place, info_only = false, nx = false;
	unsigned long *bitmap;
	struct lock_stat locks_off = {}, locks_off_load = {};
	struct kvm_vm *vm;
	bool ok;

	while ((opt = getopt(argc, argv, "hv:m:Icx")) != -1) {
		switch (opt) {
		case 'v':
			nr_vcpus = atoi_positive("Number of vCPUs", optarg);
			break;
		case 'm':
			slot_mib = atoi_positive("Slot MiB", optarg);
			break;
		case 'I':
			info_only = true;
			break;
		case 'c':
			contend = true;
			break;
		case 'x':
			nx = true;
			break;
		case 'h':
		default:
			help(argv[0]);
		}
	}
	TEST_ASSERT(nr_vcpus <= MAX_VCPUS, "At most %d vCPUs", MAX_VCPUS);
	TEST_ASSERT(slot_mib % (2 * nr_vcpus) == 0,
		    "-m %d: each of the %d vCPUs must own whole 2M pages", slot_mib, nr_vcpus);

	ksft_print_header();

	slot_size = (u64)slot_mib << 20;
	part_size = slot_size / nr_vcpus;
	slot_2m = slot_size / HPAGE_SIZE;
	slot_4k = slot_size / PAGE_SIZE;

	/* Before the VM exists: setting nx_huge_pages zaps every VM's SPTEs. */
	if (nx)
		nx_params_take(slot_2m);
	else
		nx_require_free_hpages(slot_2m);

	tdp_mmu = get_kvm_param_bool("tdp_mmu");
	in_place = tdp_mmu && !info_only;
	ksft_print_msg("%d vCPUs, %d MiB hugetlb slot (%lu 2M pages), tdp_mmu=%c, TDP %s, NX huge pages %s\n",
		       nr_vcpus, slot_mib, slot_2m, tdp_mmu ? 'Y' : 'N',
		       kvm_is_tdp_enabled() ? "on" : "off",
		       nx ? "on (-x)" : "as the host has them");
	if (!tdp_mmu)
		ksft_print_msg("Shadow MMU: it zaps instead of rebuilding in place, so the 2M-after-disable and no-fault checks are reported as figures only\n");
	else if (info_only)
		ksft_print_msg("-I: the 2M-after-disable and no-fault checks are reported as figures only\n");

	ksft_set_plan(NR_CHECKS);

	/* Memslot 0 only needs the page tables that map the data slot. */
	vm = __vm_create_with_vcpus(VM_SHAPE_DEFAULT, nr_vcpus,
				    slot_4k / 512 + 64, guest_code, vcpus);
	vm_userspace_mem_region_add(vm, VM_MEM_SRC_ANONYMOUS_HUGETLB_2MB,
				    DATA_GPA, DATA_SLOT, slot_4k, 0);
	/*
	 * With TDP, KVM maps the slot with 2M pages whatever the guest's own
	 * page size; with shadow paging the guest must use 2M pages too.
	 */
	virt_map_level(vm, DATA_GVA, DATA_GPA, slot_size,
		       kvm_is_tdp_enabled() ? PG_LEVEL_4K : PG_LEVEL_2M);
	if (contend) {
		vm_userspace_mem_region_add(vm, VM_MEM_SRC_ANONYMOUS,
					    CONTEND_GPA, CONTEND_SLOT, 1, 0);
		contend_hva = addr_gpa2hva(vm, CONTEND_GPA);
	}

	/* Pass 0: the host's fill. */
	data = addr_gpa2hva(vm, DATA_GPA);
	for (i = 0; i < (int)(slot_size / 8); i++)
		data[i] = pattern(DATA_GVA + i * 8ULL, 0);

	loop_pass = addr_gva2hva(vm, (gva_t)guest_loop_pass);
	for (i = 0; i < nr_vcpus; i++) {
		vcpu_args_set(vcpus[i], 3, (u64)i, DATA_GVA + i * part_size,
			      part_size);
	}
	park_init(&park, nr_vcpus, vcpus);

	/* Up to the first parking ucall: nothing of the data slot is mapped. */
	start_vcpus();
	wait_parked();
	base_2m = vm_get_stat(vm, pages_2m);

	/* Phase 1: the whole slot with 2M mappings. */
	run_phase(vm, CMD_PASS);
	full_2m = vm_get_stat(vm, pages_2m);
	ksft_test_result(full_2m >= base_2m + slot_2m,
			 "first write maps the slot with 2M pages: pages_2m %lu -> %lu, slot has %lu\n",
			 base_2m, full_2m, slot_2m);

	/* Phase 2: dirty logging splits the slot; then every SPTE writable. */
	p4k = vm_get_stat(vm, pages_4k);
	vm_mem_region_set_flags(vm, DATA_SLOT, KVM_MEM_LOG_DIRTY_PAGES);
	run_phase(vm, CMD_PASS);
	p2m = vm_get_stat(vm, pages_2m);
	ksft_test_result(p2m + slot_2m <= full_2m &&
			 vm_get_stat(vm, pages_4k) >= p4k + slot_4k,
			 "dirty logging maps the slot with 4K pages: pages_2m %lu -> %lu, pages_4k %lu -> %lu\n",
			 full_2m, p2m, p4k, vm_get_stat(vm, pages_4k));

	bitmap = bitmap_zalloc(slot_4k);
	kvm_vm_get_dirty_log(vm, DATA_SLOT, bitmap);
	run_phase(vm, CMD_PASS);

	/* Phase 3: dirty logging off with every vCPU parked. */
	flushes = vm_get_stat(vm, remote_tlb_flush);
	flush_reqs = vm_get_stat(vm, remote_tlb_flush_requests);
	p4k = vm_get_stat(vm, pages_4k);
	/*
	 * lock_stat counts since the last clear: clear it right before, so
	 * that the figures are the disable's, not phases 1 and 2's.
	 */
	lock_stat_clear();
	set_dirty_logging(vm, false);
	lock_stat_add(&locks_off);
	p2m = vm_get_stat(vm, pages_2m);
	flushes = vm_get_stat(vm, remote_tlb_flush) - flushes;
	flush_reqs = vm_get_stat(vm, remote_tlb_flush_requests) - flush_reqs;
	/*
	 * remote_tlb_flush counts only the flushes that had to kick a vCPU
	 * in guest mode, none here with every vCPU parked; the requests
	 * count every flush KVM asked for.
	 */
	ksft_print_msg("dirty logging off: pages_2m %lu (full %lu), pages_4k %lu -> %lu, %lu remote TLB flush requests, %lu remote TLB flushes\n",
		       p2m, full_2m, p4k, vm_get_stat(vm, pages_4k), flush_reqs,
		       flushes);
	printf("bench: pages_2m_after_disable %lu\n", p2m - base_2m);
	printf("bench: disable_remote_tlb_flushes %lu\n", flushes);
	printf("bench: disable_remote_tlb_flush_requests %lu\n", flush_reqs);
	lock_stat_print(&locks_off, "dlog_off");
	if (in_place)
		ksft_test_result(p2m >= full_2m,
				 "2M mappings are back right after the disable: pages_2m %lu, expected %lu\n",
				 p2m, full_2m);
	else
		ksft_test_result_skip("2M mappings right after the disable (not checked: %s): pages_2m %lu of %lu\n",
				      tdp_mmu ? "-I" : "shadow MMU zaps", p2m, full_2m);

	pf_before = sum_vcpu_stat("pf_taken");
	fixed_before = sum_vcpu_stat("pf_fixed");
	run_phase(vm, CMD_PASS);
	faults = sum_vcpu_stat("pf_taken") - pf_before;
	fixed = sum_vcpu_stat("pf_fixed") - fixed_before;
	printf("bench: recovery_pf_taken %lu\n", faults);
	printf("bench: recovery_pf_fixed %lu\n", fixed);
	printf("bench: pages_2m_after_recovery_pass %lu\n",
	       vm_get_stat(vm, pages_2m) - base_2m);
	if (in_place)
		ksft_test_result(!faults,
				 "no page faults after the disable: pf_taken %lu, pf_fixed %lu on a pass over %lu 2M pages\n",
				 faults, fixed, slot_2m);
	else
		ksft_test_result_skip("page faults after the disable (not checked: %s): pf_taken %lu, pf_fixed %lu for %lu 2M pages\n",
				      tdp_mmu ? "-I" : "shadow MMU zaps", faults, fixed, slot_2m);

	nr_bad = check_data(vm, "after the disable");
	ksft_test_result(!nr_bad, "data intact after the disable: %lu bad words\n", nr_bad);

	/*
	 * Phase 4: dirty logging on and off while the vCPUs write.  Each step
	 * waits until every vCPU has completed a pass since the previous one,
	 * so that the vCPUs really write across KVM_GET_DIRTY_LOG and the
	 * disable.
	 */
	vm_mem_region_set_flags(vm, DATA_SLOT, KVM_MEM_LOG_DIRTY_PAGES);
	for (i = 0; i < nr_vcpus; i++) {
		before_loop[i] = park.sync_val[i];
		WRITE_ONCE(loop_pass[i], park.sync_val[i]);
	}
	WRITE_ONCE(*(u64 *)addr_gva2hva(vm, (gva_t)&guest_stop), 0);
	set_cmd(vm, CMD_LOOP);
	start_vcpus();

	ok = wait_loop_passes(loop_pass, before_loop, 60);
	kvm_vm_get_dirty_log(vm, DATA_SLOT, bitmap);
	for (i = 0; i < nr_vcpus; i++)
		before_loop[i] = READ_ONCE(loop_pass[i]);
	ok = ok && wait_loop_passes(loop_pass, before_loop, 60);
	for (i = 0; i < nr_vcpus; i++)
		before_loop[i] = READ_ONCE(loop_pass[i]);
	/*
	 * The disable and a pass of every vCPU after it, so that the faults
	 * of vCPUs that find their huge pages zapped are counted too.
	 */
	lock_stat_clear();
	set_dirty_logging(vm, false);
	ok = ok && wait_loop_passes(loop_pass, before_loop, 60);
	lock_stat_add(&locks_off_load);

	WRITE_ONCE(*(u64 *)addr_gva2hva(vm, (gva_t)&guest_stop), 1);
	wait_parked();
	nr_bad = check_data(vm, "after the disable under load");
	ksft_test_result(ok && !nr_bad,
			 "disable while the vCPUs write: every vCPU wrote across it (%s), %lu bad words\n",
			 ok ? "yes" : "no: timeout", nr_bad);
	for (i = 0; i < nr_vcpus; i++)
		ksft_print_msg("vCPU %d: %lu passes\n", i, park.sync_val[i]);
	lock_stat_print(&locks_off_load, "dlog_off_load");

	run_phase(vm, CMD_PASS);
	p2m = vm_get_stat(vm, pages_2m);
	nr_bad = check_data(vm, "after the last pass");
	ksft_test_result(p2m >= full_2m && !nr_bad,
			 "2M mappings are back after the disable under load: pages_2m %lu, expected %lu; %lu bad words\n",
			 p2m, full_2m, nr_bad);

	/* Phase 5: recovery from write-protected children. */
	vm_mem_region_set_flags(vm, DATA_SLOT, KVM_MEM_LOG_DIRTY_PAGES);
	run_phase(vm, CMD_PASS);
	kvm_vm_get_dirty_log(vm, DATA_SLOT, bitmap);
	set_dirty_logging(vm, false);
	p2m = vm_get_stat(vm, pages_2m);
	pf_before = sum_vcpu_stat("pf_taken");
	fast_before = sum_vcpu_stat("pf_fast");
	run_phase(vm, CMD_PASS);
	faults = sum_vcpu_stat("pf_taken") - pf_before;
	fast = sum_vcpu_stat("pf_fast") - fast_before;
	nr_bad = check_data(vm, "after the write-protected recovery");
	printf("bench: wp_pages_2m_after_disable %lu\n", p2m - base_2m);
	printf("bench: wp_recovery_pf_taken %lu\n", faults);
	printf("bench: wp_recovery_pf_fast %lu\n", fast);
	ksft_print_msg("write-protected children: pages_2m %lu right after the disable (full %lu); the next pass took %lu faults (%lu fast) over %lu 2M pages\n",
		       p2m, full_2m, faults, fast, slot_2m);
	ksft_test_result(!nr_bad, "data intact after the write-protected recovery: %lu bad words\n",
			 nr_bad);
	if (in_place)
		ksft_test_result(p2m >= full_2m && faults <= slot_2m,
				 "write-protected children: 2M back at once (pages_2m %lu of %lu), at most one fault per 2M page after (%lu for %lu)\n",
				 p2m, full_2m, faults, slot_2m);
	else
		ksft_test_result_skip("write-protected children (not checked: %s): pages_2m %lu of %lu, %lu faults for %lu 2M pages\n",
				      tdp_mmu ? "-I" : "shadow MMU zaps", p2m,
				      full_2m, faults, slot_2m);

	/* Phase 6: the rebuilt huge SPTEs are not executable under NX. */
	if (nx) {
		vm_mem_region_set_flags(vm, DATA_SLOT, KVM_MEM_LOG_DIRTY_PAGES);
		run_phase(vm, CMD_PASS);
		vm_mem_region_set_flags(vm, DATA_SLOT, 0);
		p2m = vm_get_stat(vm, pages_2m);
		splits = vm_get_stat(vm, nx_lpage_splits);
		run_phase(vm, CMD_EXEC);
		splits = vm_get_stat(vm, nx_lpage_splits) - splits;
		p2m_exec = vm_get_stat(vm, pages_2m);
		nr_bad = check_data(vm, "after the execution pass");
		printf("bench: nx_exec_pages_2m_after_disable %lu\n", p2m - base_2m);
		printf("bench: nx_exec_splits %lu\n", splits);
		ksft_print_msg("NX huge pages: pages_2m %lu right after the disable (full %lu), %lu after the execution pass; %lu NX splits for %lu 2M pages\n",
			       p2m, full_2m, p2m_exec, splits, slot_2m);
		ksft_test_result(splits >= slot_2m &&
				 p2m_exec + slot_2m <= full_2m,
				 "NX huge pages: executing from each 2M page after the disable splits it (%lu NX splits for %lu 2M pages, pages_2m %lu -> %lu)\n",
				 splits, slot_2m, p2m, p2m_exec);
		ksft_test_result(!nr_bad, "data intact after the execution pass: %lu bad words\n",
				 nr_bad);
	} else {
		ksft_test_result_skip("NX huge pages: execution after the disable (not asked: -x)\n");
		ksft_test_result_skip("data intact after the execution pass (not asked: -x)\n");
	}

	set_cmd(vm, CMD_DONE);
	start_vcpus();
	wait_parked();
	park_join(&park);

	free(bitmap);
	kvm_vm_free(vm);
	ksft_finished();
}
