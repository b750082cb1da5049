// SPDX-License-Identifier: GPL-2.0-only
/*
 * huge_page_recovery_test
 *
 * Huge mappings must come back when dirty logging is turned off on a memslot
 * backed by huge pages: 2M hugetlb pages (the default), THP (-s thp) or one
 * 1G hugetlb page (-s hugetlb1g).
 *
 * While dirty logging is on, KVM maps the slot with 4K pages so that it can
 * track writes page by page.  When it is turned off, the TDP MMU rebuilds
 * each huge mapping in place from the 4K page tables below it
 * (kvm_tdp_mmu_recover_huge_pages(), upstream after 6.12, with mmu_lock held
 * for read): the huge SPTEs are there again as soon as
 * KVM_SET_USER_MEMORY_REGION returns, and the vCPUs take no fault to get
 * them back.  A kernel that instead zaps the 4K page tables (vanilla 6.12
 * and before; the 6.12 series backports the rebuild) leaves the slot
 * unmapped, and every vCPU re-faults its huge pages on its next access.  On
 * 7.3 the in-place checks therefore apply, base and patched alike: its
 * recover_huge_pages_range() walks every level from 2M up (1G included),
 * builds the huge SPTE from the first present 4K SPTE below it, wherever it
 * is in the range (partly populated tables, phase 7), and asks
 * kvm_mmu_max_mapping_level() how the host maps the range (phases 8, 9).
 *
 * "Huge" below is the backing's size, and pages_2m the stat that counts it
 * (pages_1g with -s hugetlb1g).  Phases, with N vCPUs each owning an equal
 * part of the slot:
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
 *    next write pass may take one page fault per huge page and vCPU that
 *    writes it (a fast one, without mmu_lock), and no more.  Zapping takes
 *    one full fault per huge page instead.
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
 * 7. With -P, partly populated page tables (skipped without -P): dirty
 *    logging on, the slot's SPTEs zapped (mprotect() of the whole slot
 *    read-only and back: an mmu_notifier invalidation, which zaps the leaf
 *    SPTEs and leaves the page tables), then the guest writes one word,
 *    unchanged, in one 4K page of every 8, never the first page of a huge
 *    page.  Every huge page then has a page table with a few present 4K
 *    SPTEs; after the disable pages_2m must count all of them again, and
 *    the next write pass must take no page fault.
 *
 * With -s thp two more phases run (skipped with the other backings), on
 * 2M ranges r of the slot of three kinds, by r % 3:
 *
 * 8. THP splits racing the rebuild.  Dirty logging on; each range 0 has one
 *    4K page replaced (copied out, MADV_DONTNEED, copied back: the host now
 *    maps the range with 4K pages, one of them from outside the THP); the
 *    guest writes everything (4K SPTEs everywhere); then a host thread
 *    splits the PMD mappings of ranges 1 (mprotect() of a 4K page to RWX and
 *    back: data stays, the host maps the range with 4K pages, and an
 *    mmu_notifier invalidation zaps the range) over and over while dirty
 *    logging is turned off, with the vCPUs parked.  Ranges 2 are left alone.
 *    After the thread stops, the slot's huge SPTEs must not outnumber the 2M
 *    ranges the host still maps with a PMD (AnonHugePages in
 *    /proc/self/smaps, read first), and ranges 0 must have been split: a
 *    huge SPTE over a range the host maps with 4K pages maps the replaced
 *    page's old frame.  This holds on every kernel (zapping leaves none).
 *    On the TDP MMU ranges 2 must be huge again at once.  Then a write pass
 *    and the data check: a stale frame shows as a word of the previous pass.
 * 9. MADV_COLLAPSE.  The ranges that phase 8 split are mapped with 4K pages
 *    on the host and in KVM.  Dirty logging on, a write pass, MADV_COLLAPSE
 *    on the whole slot (the host copies them into new THPs and zaps their
 *    SPTEs), a write pass again (4K SPTEs over the new THPs), dirty logging
 *    off: the slot's huge SPTEs right after must count every range the host
 *    maps with a PMD, ranges that were small when dirty logging was turned
 *    on included, and the next write pass must take no page fault.  Skipped
 *    if MADV_COLLAPSE is not supported (EINVAL) or collapses nothing.
 *
 * -c adds a host thread that takes mmu_lock for write over and over while
 * dirty logging is turned off (MADV_DONTNEED on a page of a memslot of its
 * own: an mmu_notifier invalidation), so that the recovery walk, which holds
 * mmu_lock for read, finds the lock contended and yields.
 *
 * Every 8-byte word holds a pattern made of its address and the number of
 * the pass that wrote it.  The guest checks the previous pass's value before
 * it writes the next one, and the host checks the whole slot after phases 3,
 * 4, 5 and 7-9.  With -s hugetlb1g the passes write and check one word in
 * every 64K only, so that a pass over the 1G slot costs what one over 64M
 * does (the slot is always 1G then: -m is ignored).
 *
 * Backings: -s thp skips when THP is "never" or the host cannot back every
 * 2M range of the slot with a THP (after a fill and an MADV_COLLAPSE); -s
 * hugetlb1g needs a 1G hugetlb page: without a free one it raises
 * hugepages-1048576kB/nr_hugepages by one for the run (and puts it back),
 * and skips if the kernel cannot find 1G of contiguous memory.
 *
 * Only the TDP MMU rebuilds huge pages in place.  With kvm.tdp_mmu=N the
 * shadow MMU zaps (7.3's kvm_rmap_zap_collapsible_sptes()), so the in-place
 * checks of phases 3, 5, 7, 8 and 9 (huge pages right after the disable, no
 * faults after it) are reported as skipped, with the figures; the data
 * checks, and phase 8's bound, apply everywhere.  -I reports those checks
 * the same way on any MMU, for benchmark runs on a kernel without the
 * in-place rebuild.
 *
 * Prints "bench: NAME VALUE" lines for scripts/bench.sh (counts of huge
 * pages of the backing's size); with CONFIG_LOCK_STAT also mmu_lock's and
 * tdp_mmu_pages_lock's contentions, acquisitions and wait time (lock_stat.h)
 * during the disable of phase 3
 * (dlog_off_*) and, in phase 4, during the disable and the vCPUs' pass after
 * it (dlog_off_load_*): what the vCPUs wait for while it runs, and the
 * faults that bring back what it zapped.
 *
 * This is the 7.x form of the test in tools/testing/selftests/kvm-extra (the
 * 6.12 series' copy): the 7.x library's stat getters (which fail on a
 * missing stat) replace the test's own, get_kvm_param_bool() reads tdp_mmu,
 * and nx_params.h's free hugetlb page check its copy.  The phases, options
 * and checks are the same.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdarg.h>
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
#define GPAGE_SIZE		(512 * HPAGE_SIZE)

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE		25
#endif

#define THP_ENABLED		"/sys/kernel/mm/transparent_hugepage/enabled"
#define HUGEPAGES_1G_DIR	"/sys/kernel/mm/hugepages/hugepages-1048576kB"

#define DEFAULT_NR_VCPUS	2
#define DEFAULT_SLOT_MIB	64
#define MAX_VCPUS		PARK_MAX_VCPUS

/* What the vCPUs do when they leave their parking ucall. */
enum guest_cmd {
	CMD_PASS,	/* write the vCPU's part of the slot once */
	CMD_LOOP,	/* write it over and over until guest_stop */
	CMD_EXEC,	/* execute an instruction from each 2M page of it */
	CMD_TOUCH,	/* rewrite one word in one 4K page of every 8 of it */
	CMD_DONE,
};

/* Set by the host (the guest's copies, in memslot 0). */
static u64 guest_cmd;
static u64 guest_stop;
/* Bytes from one word that the passes write to the next (-s hugetlb1g). */
static u64 guest_stride = 8;
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

	for (gva = start; gva < end; gva += guest_stride) {
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
 * Phase 7: write one word of one 4K page in every 8, the sixth (never the
 * first of a huge page), with the value it holds: a write fault for KVM,
 * nothing for the data checks.
 */
#define TOUCH_STEP	(8 * PAGE_SIZE)
#define TOUCH_OFFSET	(5 * PAGE_SIZE)

static void guest_touch_pass(u64 start, u64 end)
{
	u64 gva;

	for (gva = start + TOUCH_OFFSET; gva < end; gva += TOUCH_STEP)
		WRITE_ONCE(*(u64 *)gva, READ_ONCE(*(u64 *)gva));
}

/*
 * Park in a ucall that reports the last pass written, then do what the host
 * asked.  Pass 0 is the host's initial fill.
 */
static void guest_code(u64 id, u64 start, u64 size)
{
	u64 pass = 0;

	for (;;) {
		GUEST_SYNC(pass);

		switch (READ_ONCE(guest_cmd)) {
		case CMD_PASS:
			guest_write_pass(id, start, start + size, pass, pass + 1);
			pass++;
			break;
		case CMD_LOOP:
			while (!READ_ONCE(guest_stop)) {
				guest_write_pass(id, start, start + size, pass, pass + 1);
				pass++;
				WRITE_ONCE(guest_loop_pass[id], pass);
				/* Once recovered, no fault makes it leave. */
				guest_exit_to_host();
			}
			break;
		case CMD_EXEC:
			guest_exec_pass(start, start + size);
			break;
		case CMD_TOUCH:
			guest_touch_pass(start, start + size);
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

static u64 slot_size, part_size, slot_2m;
static u8 *slot_hva;

/* The data slot's backing, -s. */
static const struct backing {
	const char *opt;
	const char *name;
	enum vm_mem_backing_src_type src;
	u64 huge_size;
	const char *huge_name;
	const char *stat;
	u64 stride;
} backings[] = {
	{ "hugetlb", "hugetlb", VM_MEM_SRC_ANONYMOUS_HUGETLB_2MB, HPAGE_SIZE,
	  "2M", "pages_2m", 8 },
	{ "thp", "THP", VM_MEM_SRC_ANONYMOUS_THP, HPAGE_SIZE,
	  "2M", "pages_2m", 8 },
	{ "hugetlb1g", "1G hugetlb", VM_MEM_SRC_ANONYMOUS_HUGETLB_1GB,
	  GPAGE_SIZE, "1G", "pages_1g", 64 << 10 },
};

static const struct backing *backing = &backings[0];
/* The test VM's stats, for the helpers that read them. */
static struct kvm_binary_stats *vm_stats;

/* The huge pages of the backing's size that KVM maps, in all memslots. */
static u64 huge_pages(void)
{
	u64 val;

	kvm_get_stat(vm_stats, backing->stat, &val, 1);
	return val;
}

/* Count the words that do not hold their vCPU's last pass; print the first. */
static u64 check_data(struct kvm_vm *vm, const char *when)
{
	u64 off, nr_bad = 0;

	for (off = 0; off < slot_size; off += guest_stride) {
		u64 pass = park.sync_val[off / part_size];
		u64 exp = pattern(DATA_GVA + off, pass);
		u64 val = *(u64 *)(slot_hva + off);

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

/* A host thread that runs until it is told to stop. */
struct host_thread {
	pthread_t thread;
	bool stop;
};

static void host_thread_start(struct host_thread *t, void *(*fn)(void *))
{
	WRITE_ONCE(t->stop, false);
	TEST_ASSERT(!pthread_create(&t->thread, NULL, fn, t),
		    "pthread_create failed");
}

static void host_thread_stop(struct host_thread *t)
{
	WRITE_ONCE(t->stop, true);
	pthread_join(t->thread, NULL);
}

/* -c: a thread that takes mmu_lock for write while dirty logging goes off. */
static bool contend;
static void *contend_hva;
static u64 contend_rounds;
static struct host_thread contend_thread;

static void *contender(void *arg)
{
	struct host_thread *t = arg;

	while (!READ_ONCE(t->stop)) {
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
	host_thread_start(&contend_thread, contender);
	vm_mem_region_set_flags(vm, DATA_SLOT, 0);
	host_thread_stop(&contend_thread);
	ksft_print_msg("contender: %lu mmu_lock write acquisitions during the disable\n",
		       contend_rounds - rounds);
}

static long read_long(const char *path)
{
	FILE *f = fopen(path, "r");
	long val = -1;

	if (f) {
		if (fscanf(f, "%ld", &val) != 1)
			val = -1;
		fclose(f);
	}
	return val;
}

static bool write_long(const char *path, long val)
{
	FILE *f = fopen(path, "w");
	bool ok;

	if (!f)
		return false;
	ok = fprintf(f, "%ld", val) > 0;
	/* The write reaches sysfs, and fails, at fclose(). */
	return !fclose(f) && ok;
}

/*
 * In-place checks: only the TDP MMU rebuilds huge pages in place, and -I asks
 * for figures only.  Elsewhere the check is reported as skipped, with why.
 */
static bool in_place;
static const char *no_in_place_why;

static __printf(2, 3) void in_place_result(bool ok, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (in_place)
		ksft_test_result(ok, "%s\n", buf);
	else
		ksft_test_result_skip("%s (not checked: %s)\n", buf,
				      no_in_place_why);
}

/* ------------------------------------------------------------- backings */

static u64 slot_huge;

/* -s thp: skip if THP is off for good. */
static void thp_take(void)
{
	char buf[128] = "";
	FILE *f = fopen(THP_ENABLED, "r");

	if (!f)
		ksft_exit_skip("no THP on this host (%s)\n", THP_ENABLED);
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	if (strstr(buf, "[never]"))
		ksft_exit_skip("THP is disabled on this host (%s: %s)\n",
			       THP_ENABLED, buf);
}

/* How many 2M ranges of the data slot the host maps with a THP PMD. */
static u64 host_thp_ranges(void)
{
	unsigned long start, end, lo = (unsigned long)slot_hva;
	unsigned long hi = lo + slot_size;
	u64 kb, total = 0;
	char line[4096];
	bool in = false;
	FILE *f;

	f = fopen("/proc/self/smaps", "r");
	TEST_ASSERT(f, "Cannot open /proc/self/smaps");
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &start, &end) == 2)
			in = start < hi && end > lo;
		else if (in && sscanf(line, "AnonHugePages: %lu kB", &kb) == 1)
			total += kb;
	}
	fclose(f);
	return (total << 10) / HPAGE_SIZE;
}

/* -s thp, after the host's fill: skip unless every 2M range has a THP. */
static void thp_check_filled(void)
{
	u64 nr = host_thp_ranges();

	if (nr < slot_2m) {
		/* Fragmented memory?  Let the kernel try harder. */
		madvise(slot_hva, slot_size, MADV_COLLAPSE);
		nr = host_thp_ranges();
	}
	if (nr < slot_2m)
		ksft_exit_skip("the host backs only %lu of the slot's %lu 2M ranges with a THP\n",
			       nr, slot_2m);
}

/* -s hugetlb1g: nr_hugepages as found, put back at exit, if the test set it. */
static long saved_nr_1g = -1;

static void restore_1g(void)
{
	if (saved_nr_1g >= 0 &&
	    !write_long(HUGEPAGES_1G_DIR "/nr_hugepages", saved_nr_1g))
		printf("# failed to restore %s/nr_hugepages to %ld\n",
		       HUGEPAGES_1G_DIR, saved_nr_1g);
}

/* Skip unless a 1G hugetlb page is free, or can be allocated for the run. */
static void hugetlb_1g_take(void)
{
	long nr = read_long(HUGEPAGES_1G_DIR "/nr_hugepages");

	if (nr < 0)
		ksft_exit_skip("no 1G hugetlb pages on this host (%s; CPU without pdpe1gb?)\n",
			       HUGEPAGES_1G_DIR);
	if (read_long(HUGEPAGES_1G_DIR "/free_hugepages") >= 1)
		return;
	saved_nr_1g = nr;
	atexit(restore_1g);
	if (!write_long(HUGEPAGES_1G_DIR "/nr_hugepages", nr + 1))
		ksft_exit_skip("cannot write %s/nr_hugepages (not root?)\n",
			       HUGEPAGES_1G_DIR);
	if (read_long(HUGEPAGES_1G_DIR "/free_hugepages") < 1)
		ksft_exit_skip("no 1G of free contiguous memory for a 1G hugetlb page at run time (boot with hugepagesz=1G hugepages=1)\n");
	ksft_print_msg("%s/nr_hugepages raised to %ld for the run\n",
		       HUGEPAGES_1G_DIR, nr + 1);
}

/* ------------------------------------------------------- phases 7 to 9 */

/*
 * Turn dirty logging off; return the data slot's huge SPTEs right after, and
 * in @others those of the other memslots (with dirty logging on, the data
 * slot has none).
 */
static u64 dlog_off_counted(struct kvm_vm *vm, u64 *others)
{
	*others = huge_pages();
	set_dirty_logging(vm, false);
	return huge_pages() - *others;
}

/* Every vCPU writes its part once: the page faults that took. */
static u64 pass_faults(struct kvm_vm *vm)
{
	u64 before = sum_vcpu_stat("pf_taken");

	run_phase(vm, CMD_PASS);
	return sum_vcpu_stat("pf_taken") - before;
}

/* Phase 7: the guest populates a few 4K SPTEs of each huge page. */
static void phase_partial(struct kvm_vm *vm)
{
	u64 others, huge, faults, nr_bad;

	vm_mem_region_set_flags(vm, DATA_SLOT, KVM_MEM_LOG_DIRTY_PAGES);
	/* An mmu_notifier invalidation zaps the leaf SPTEs; data stays. */
	TEST_ASSERT(!mprotect(slot_hva, slot_size, PROT_READ) &&
		    !mprotect(slot_hva, slot_size, PROT_READ | PROT_WRITE),
		    "mprotect() of the data slot failed");
	run_phase(vm, CMD_TOUCH);
	huge = dlog_off_counted(vm, &others);
	faults = pass_faults(vm);
	nr_bad = check_data(vm, "after the partly populated recovery");
	ksft_print_msg("partly populated tables: %lu %s pages right after the disable, of %lu; the next pass took %lu faults\n",
		       huge, backing->huge_name, slot_huge, faults);
	in_place_result(huge >= slot_huge,
			"partly populated tables: %s mappings back right after the disable: %lu of %lu",
			backing->huge_name, huge, slot_huge);
	in_place_result(!faults,
			"partly populated tables: no page faults after the disable: pf_taken %lu on a pass over %lu %s pages",
			faults, slot_huge, backing->huge_name);
	ksft_test_result(!nr_bad,
			 "data intact after the partly populated recovery: %lu bad words\n",
			 nr_bad);
}

/* The 4K page @page of the 2M range @r of the data slot. */
static u8 *slot_page(u64 r, u64 page)
{
	return slot_hva + r * HPAGE_SIZE + page * PAGE_SIZE;
}

/* Phase 8: split the PMD mappings of ranges 1, over and over. */
static struct host_thread split_thread;
static bool split_running;
static u64 split_rounds;

static void *splitter(void *arg)
{
	struct host_thread *t = arg;
	const int rw = PROT_READ | PROT_WRITE;
	u64 r, round;

	WRITE_ONCE(split_running, true);
	for (round = 0; !READ_ONCE(t->stop) || !round; round++) {
		for (r = 1; r < slot_2m; r += 3) {
			u8 *p = slot_page(r, (round * 7 + r) % 512);

			/* New VMA flags for part of the THP: the PMD splits. */
			TEST_ASSERT(!mprotect(p, PAGE_SIZE, rw | PROT_EXEC) &&
				    !mprotect(p, PAGE_SIZE, rw),
				    "mprotect() of a page of the slot failed");
		}
	}
	split_rounds = round;
	return NULL;
}

/* Give the 4K page at @hva a new frame with the same data. */
static void replace_page(u8 *hva)
{
	static u8 buf[PAGE_SIZE];

	memcpy(buf, hva, PAGE_SIZE);
	TEST_ASSERT(!madvise(hva, PAGE_SIZE, MADV_DONTNEED),
		    "madvise(MADV_DONTNEED) failed");
	memcpy(hva, buf, PAGE_SIZE);
}

static void phase_thp_split(struct kvm_vm *vm)
{
	u64 r, others, huge, huge_end, host, nr_kept = 0, nr_bad;

	vm_mem_region_set_flags(vm, DATA_SLOT, KVM_MEM_LOG_DIRTY_PAGES);
	/* Ranges 0 get a page replaced, ranges 1 split, ranges 2 are kept. */
	for (r = 0; r < slot_2m; r++) {
		/* Not page 0: the first child gives a huge SPTE its pfn. */
		if (r % 3 == 0)
			replace_page(slot_page(r, 256));
		else if (r % 3 == 2)
			nr_kept++;
	}
	run_phase(vm, CMD_PASS);

	WRITE_ONCE(split_running, false);
	host_thread_start(&split_thread, splitter);
	while (!READ_ONCE(split_running))
		sched_yield();
	huge = dlog_off_counted(vm, &others);
	host_thread_stop(&split_thread);
	/* The host's count first: from here on KVM's can only fall. */
	host = host_thp_ranges();
	huge_end = huge_pages() - others;
	ksft_print_msg("THP splits: %lu 2M SPTEs right after the disable, %lu after %lu rounds of splits; the host maps %lu of %lu 2M ranges with a PMD, %lu never split\n",
		       huge, huge_end, split_rounds, host, slot_2m, nr_kept);
	ksft_test_result(huge_end <= host && host < slot_2m,
			 "THP splits: no 2M SPTE where the host maps 4K pages: %lu 2M SPTEs, %lu of %lu 2M ranges PMD-mapped on the host\n",
			 huge_end, host, slot_2m);
	in_place_result(huge >= nr_kept,
			"THP splits: the %lu ranges never split are 2M right after the disable: %lu 2M SPTEs",
			nr_kept, huge);
	run_phase(vm, CMD_PASS);
	nr_bad = check_data(vm, "after the THP splits");
	ksft_test_result(!nr_bad,
			 "data intact after the THP splits: %lu bad words\n",
			 nr_bad);
}

/* Phase 9: MADV_COLLAPSE of 4K-mapped ranges while dirty logging is on. */
static void phase_collapse(struct kvm_vm *vm)
{
	u64 before, after, others, huge, host, faults, nr_bad;
	const char *why = NULL;
	int err = 0;

	vm_mem_region_set_flags(vm, DATA_SLOT, KVM_MEM_LOG_DIRTY_PAGES);
	run_phase(vm, CMD_PASS);
	before = host_thp_ranges();
	if (madvise(slot_hva, slot_size, MADV_COLLAPSE))
		err = errno;
	after = host_thp_ranges();
	/* The collapse zapped the ranges' SPTEs: 4K ones again. */
	run_phase(vm, CMD_PASS);
	host = host_thp_ranges();
	huge = dlog_off_counted(vm, &others);
	faults = pass_faults(vm);
	nr_bad = check_data(vm, "after MADV_COLLAPSE");
	ksft_print_msg("MADV_COLLAPSE: %s; 2M ranges PMD-mapped on the host: %lu before, %lu after, %lu at the disable, of %lu; %lu 2M SPTEs right after the disable, %lu faults on the next pass\n",
		       err ? strerror(err) : "done", before, after, host,
		       slot_2m, huge, faults);
	/* An unknown advice fails before the length is looked at. */
	if (madvise(slot_hva, 0, MADV_COLLAPSE))
		why = "MADV_COLLAPSE not supported";
	else if (after <= before)
		why = "MADV_COLLAPSE collapsed nothing";
	if (why) {
		ksft_test_result_skip("MADV_COLLAPSE: collapsed ranges 2M right after the disable (%s)\n",
				      why);
		ksft_test_result_skip("MADV_COLLAPSE: no page faults after the disable (%s)\n",
				      why);
	} else {
		in_place_result(huge >= host,
				"MADV_COLLAPSE: collapsed ranges 2M right after the disable: %lu 2M SPTEs, %lu ranges PMD-mapped on the host (%lu collapsed)",
				huge, host, after - before);
		in_place_result(!faults,
				"MADV_COLLAPSE: no page faults after the disable: pf_taken %lu on a pass over %lu 2M pages",
				faults, slot_2m);
	}
	ksft_test_result(!nr_bad,
			 "data intact after MADV_COLLAPSE: %lu bad words\n",
			 nr_bad);
}

static void help(const char *name)
{
	printf("usage: %s [-v vcpus] [-m MiB] [-s backing] [-I] [-c] [-x] [-P]\n",
	       name);
	printf(" -v: number of vCPUs (default %d, at most %d)\n",
	       DEFAULT_NR_VCPUS, MAX_VCPUS);
	printf(" -m: MiB of memory in the slot, a multiple of 2 * vCPUs\n"
	       "     (default %d; always 1024 with -s hugetlb1g)\n",
	       DEFAULT_SLOT_MIB);
	printf(" -s: the slot's backing: hugetlb (2M pages, the default),\n"
	       "     thp (adds the THP split and MADV_COLLAPSE phases 8, 9)\n"
	       "     or hugetlb1g (one 1G page)\n");
	printf(" -I: report the in-place recovery checks (huge mappings right after\n"
	       "     the disable, no faults after it) as figures only, on any MMU\n");
	printf(" -c: contend for mmu_lock (write) while dirty logging is turned off\n");
	printf(" -x: NX huge pages on (kvm.nx_huge_pages=1, recovery off) for the run, and\n"
	       "     execute from the slot after a disable (phase 6)\n");
	printf(" -P: recover from partly populated page tables (phase 7)\n");
	exit(0);
}

static const struct backing *backing_by_name(const char *opt)
{
	int i;

	for (i = 0; i < ARRAY_SIZE(backings); i++)
		if (!strcmp(opt, backings[i].opt))
			return &backings[i];
	TEST_FAIL("-s %s: the backing is hugetlb, thp or hugetlb1g", opt);
	return NULL;
}

#define NR_CHECKS	20

int main(int argc, char *argv[])
{
	u64 slot_4k, base_huge, full_huge, huge, huge_exec;
	u64 p4k, flushes, faults, wp_faults;
	u64 before_loop[MAX_VCPUS], *loop_pass, nr_bad, off;
	u64 pf_before, fixed_before, fixed, flush_reqs, fast_before, fast;
	u64 splits;
	int slot_mib = DEFAULT_SLOT_MIB, opt, i;
	bool tdp_mmu, info_only = false, nx = false, partial = false;
	const char *hname;
	unsigned long *bitmap;
	int guest_level;
	struct lock_stat locks_off = {}, locks_off_load = {};
	struct kvm_vm *vm;
	bool ok, thp, gig;

	while ((opt = getopt(argc, argv, "hv:m:s:IcxP")) != -1) {
		switch (opt) {
		case 'v':
			nr_vcpus = atoi_positive("Number of vCPUs", optarg);
			break;
		case 'm':
			slot_mib = atoi_positive("Slot MiB", optarg);
			break;
		case 's':
			backing = backing_by_name(optarg);
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
		case 'P':
			partial = true;
			break;
		case 'h':
		default:
			help(argv[0]);
		}
	}
	thp = backing->src == VM_MEM_SRC_ANONYMOUS_THP;
	gig = backing->huge_size == GPAGE_SIZE;
	hname = backing->huge_name;
	/*
	 * One 1G page, and no more: the test VM has 3G of memory (5G when its
	 * boot line reserves 1G pages).
	 */
	if (gig)
		slot_mib = GPAGE_SIZE >> 20;
	TEST_ASSERT(nr_vcpus <= MAX_VCPUS, "At most %d vCPUs", MAX_VCPUS);
	TEST_ASSERT(slot_mib % (2 * nr_vcpus) == 0,
		    "-m %d: each of the %d vCPUs must own whole 2M pages",
		    slot_mib, nr_vcpus);

	ksft_print_header();

	slot_size = (u64)slot_mib << 20;
	part_size = slot_size / nr_vcpus;
	slot_2m = slot_size / HPAGE_SIZE;
	slot_4k = slot_size / PAGE_SIZE;
	slot_huge = slot_size / backing->huge_size;
	guest_stride = backing->stride;

	/* Before the VM exists: setting nx_huge_pages zaps every VM's SPTEs. */
	if (nx)
		nx_params_take(thp || gig ? 0 : slot_2m);
	if (thp)
		thp_take();
	else if (gig)
		hugetlb_1g_take();
	else
		nx_require_free_hpages(slot_2m);

	tdp_mmu = get_kvm_param_bool("tdp_mmu");
	in_place = tdp_mmu && !info_only;
	no_in_place_why = tdp_mmu ? "-I" : "shadow MMU zaps";
	ksft_print_msg("%d vCPUs, %d MiB %s slot (%lu %s pages), tdp_mmu=%c, TDP %s, NX huge pages %s\n",
		       nr_vcpus, slot_mib, backing->name, slot_huge, hname,
		       tdp_mmu ? 'Y' : 'N', kvm_is_tdp_enabled() ? "on" : "off",
		       nx ? "on (-x)" : "as the host has them");
	if (!tdp_mmu)
		ksft_print_msg("Shadow MMU: it zaps instead of rebuilding in place, so the huge-after-disable and no-fault checks are reported as figures only\n");
	else if (info_only)
		ksft_print_msg("-I: the huge-after-disable and no-fault checks are reported as figures only\n");

	/* Memslot 0 only needs the page tables that map the data slot. */
	vm = __vm_create_with_vcpus(VM_SHAPE_DEFAULT, nr_vcpus,
				    slot_4k / 512 + 64, guest_code, vcpus);
	vm_userspace_mem_region_add(vm, backing->src, DATA_GPA, DATA_SLOT,
				    slot_4k, 0);
	slot_hva = addr_gpa2hva(vm, DATA_GPA);
	/*
	 * With TDP, KVM maps the slot with huge pages whatever the guest's own
	 * page size; with shadow paging the guest must use huge pages too.
	 * A 1G slot mapped with 4K pages would need 512 page tables, more than
	 * memslot 0 has above the library's page table floor: 2M pages there.
	 */
	guest_level = gig ? PG_LEVEL_1G : PG_LEVEL_2M;
	virt_map_level(vm, DATA_GVA, DATA_GPA, slot_size,
		       !kvm_is_tdp_enabled() ? guest_level :
		       gig ? PG_LEVEL_2M : PG_LEVEL_4K);
	if (contend) {
		vm_userspace_mem_region_add(vm, VM_MEM_SRC_ANONYMOUS,
					    CONTEND_GPA, CONTEND_SLOT, 1, 0);
		contend_hva = addr_gpa2hva(vm, CONTEND_GPA);
	}
	sync_global_to_guest(vm, guest_stride);

	/* Pass 0: the host's fill. */
	for (off = 0; off < slot_size; off += guest_stride)
		*(u64 *)(slot_hva + off) = pattern(DATA_GVA + off, 0);
	if (thp)
		thp_check_filled();

	ksft_set_plan(NR_CHECKS);

	vm_stats = &vm->stats;
	loop_pass = addr_gva2hva(vm, (gva_t)guest_loop_pass);
	for (i = 0; i < nr_vcpus; i++)
		vcpu_args_set(vcpus[i], 3, (u64)i, DATA_GVA + i * part_size,
			      part_size);
	park_init(&park, nr_vcpus, vcpus);

	/* Up to the first parking ucall: nothing of the data slot is mapped. */
	start_vcpus();
	wait_parked();
	base_huge = huge_pages();

	/* Phase 1: the whole slot with huge mappings. */
	run_phase(vm, CMD_PASS);
	full_huge = huge_pages();
	ksft_test_result(full_huge >= base_huge + slot_huge,
			 "first write maps the slot with %s pages: %s %lu -> %lu, slot has %lu\n",
			 hname, backing->stat, base_huge, full_huge, slot_huge);

	/* Phase 2: dirty logging splits the slot; then every SPTE writable. */
	p4k = vm_get_stat(vm, pages_4k);
	vm_mem_region_set_flags(vm, DATA_SLOT, KVM_MEM_LOG_DIRTY_PAGES);
	run_phase(vm, CMD_PASS);
	huge = huge_pages();
	ksft_test_result(huge + slot_huge <= full_huge &&
			 vm_get_stat(vm, pages_4k) >= p4k + slot_4k,
			 "dirty logging maps the slot with 4K pages: %s %lu -> %lu, pages_4k %lu -> %lu\n",
			 backing->stat, full_huge, huge, p4k,
			 vm_get_stat(vm, pages_4k));

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
	huge = huge_pages();
	flushes = vm_get_stat(vm, remote_tlb_flush) - flushes;
	flush_reqs = vm_get_stat(vm, remote_tlb_flush_requests) - flush_reqs;
	/*
	 * remote_tlb_flush counts only the flushes that had to kick a vCPU
	 * in guest mode, none here with every vCPU parked; the requests
	 * count every flush KVM asked for.
	 */
	ksft_print_msg("dirty logging off: %s %lu (full %lu), pages_4k %lu -> %lu, %lu remote TLB flush requests, %lu remote TLB flushes\n",
		       backing->stat, huge, full_huge, p4k,
		       vm_get_stat(vm, pages_4k), flush_reqs, flushes);
	printf("bench: pages_2m_after_disable %lu\n", huge - base_huge);
	printf("bench: disable_remote_tlb_flushes %lu\n", flushes);
	printf("bench: disable_remote_tlb_flush_requests %lu\n", flush_reqs);
	lock_stat_print(&locks_off, "dlog_off");
	in_place_result(huge >= full_huge,
			"%s mappings are back right after the disable: %s %lu, expected %lu",
			hname, backing->stat, huge, full_huge);

	pf_before = sum_vcpu_stat("pf_taken");
	fixed_before = sum_vcpu_stat("pf_fixed");
	run_phase(vm, CMD_PASS);
	faults = sum_vcpu_stat("pf_taken") - pf_before;
	fixed = sum_vcpu_stat("pf_fixed") - fixed_before;
	printf("bench: recovery_pf_taken %lu\n", faults);
	printf("bench: recovery_pf_fixed %lu\n", fixed);
	printf("bench: pages_2m_after_recovery_pass %lu\n",
	       huge_pages() - base_huge);
	in_place_result(!faults,
			"no page faults after the disable: pf_taken %lu, pf_fixed %lu on a pass over %lu %s pages",
			faults, fixed, slot_huge, hname);

	nr_bad = check_data(vm, "after the disable");
	ksft_test_result(!nr_bad, "data intact after the disable: %lu bad words\n",
			 nr_bad);
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
	huge = huge_pages();
	nr_bad = check_data(vm, "after the last pass");
	ksft_test_result(huge >= full_huge && !nr_bad,
			 "%s mappings are back after the disable under load: %s %lu, expected %lu; %lu bad words\n",
			 hname, backing->stat, huge, full_huge, nr_bad);

	/* Phase 5: recovery from write-protected children. */
	vm_mem_region_set_flags(vm, DATA_SLOT, KVM_MEM_LOG_DIRTY_PAGES);
	run_phase(vm, CMD_PASS);
	kvm_vm_get_dirty_log(vm, DATA_SLOT, bitmap);
	set_dirty_logging(vm, false);
	huge = huge_pages();
	pf_before = sum_vcpu_stat("pf_taken");
	fast_before = sum_vcpu_stat("pf_fast");
	run_phase(vm, CMD_PASS);
	faults = sum_vcpu_stat("pf_taken") - pf_before;
	fast = sum_vcpu_stat("pf_fast") - fast_before;
	nr_bad = check_data(vm, "after the write-protected recovery");
	/* A 1G page is written by every vCPU, a 2M page by one. */
	wp_faults = slot_huge * (part_size < backing->huge_size ? nr_vcpus : 1);
	printf("bench: wp_pages_2m_after_disable %lu\n", huge - base_huge);
	printf("bench: wp_recovery_pf_taken %lu\n", faults);
	printf("bench: wp_recovery_pf_fast %lu\n", fast);
	ksft_print_msg("write-protected children: %s %lu right after the disable (full %lu); the next pass took %lu faults (%lu fast) over %lu %s pages\n",
		       backing->stat, huge, full_huge, faults, fast, slot_huge,
		       hname);
	ksft_test_result(!nr_bad, "data intact after the write-protected recovery: %lu bad words\n",
			 nr_bad);
	in_place_result(huge >= full_huge && faults <= wp_faults,
			"write-protected children: %s back at once (%s %lu of %lu), at most one fault per %s page and vCPU after (%lu for %lu)",
			hname, backing->stat, huge, full_huge, hname, faults,
			wp_faults);

	/* Phase 6: the rebuilt huge SPTEs are not executable under NX. */
	if (nx) {
		vm_mem_region_set_flags(vm, DATA_SLOT, KVM_MEM_LOG_DIRTY_PAGES);
		run_phase(vm, CMD_PASS);
		vm_mem_region_set_flags(vm, DATA_SLOT, 0);
		huge = huge_pages();
		splits = vm_get_stat(vm, nx_lpage_splits);
		run_phase(vm, CMD_EXEC);
		splits = vm_get_stat(vm, nx_lpage_splits) - splits;
		huge_exec = huge_pages();
		nr_bad = check_data(vm, "after the execution pass");
		printf("bench: nx_exec_pages_2m_after_disable %lu\n",
		       huge - base_huge);
		printf("bench: nx_exec_splits %lu\n", splits);
		ksft_print_msg("NX huge pages: %s %lu right after the disable (full %lu), %lu after the execution pass; %lu NX splits for %lu 2M pages\n",
			       backing->stat, huge, full_huge, huge_exec,
			       splits, slot_2m);
		ksft_test_result(splits >= slot_2m &&
				 huge_exec + slot_huge <= full_huge,
				 "NX huge pages: executing from each 2M page after the disable splits it (%lu NX splits for %lu 2M pages, %s %lu -> %lu)\n",
				 splits, slot_2m, backing->stat, huge,
				 huge_exec);
		ksft_test_result(!nr_bad, "data intact after the execution pass: %lu bad words\n",
				 nr_bad);
	} else {
		ksft_test_result_skip("NX huge pages: execution after the disable (not asked: -x)\n");
		ksft_test_result_skip("data intact after the execution pass (not asked: -x)\n");
	}

	/* Phase 7: partly populated page tables. */
	if (partial) {
		phase_partial(vm);
	} else {
		ksft_test_result_skip("partly populated tables: huge mappings back (not asked: -P)\n");
		ksft_test_result_skip("partly populated tables: no page faults (not asked: -P)\n");
		ksft_test_result_skip("data intact after the partly populated recovery (not asked: -P)\n");
	}

	/* Phases 8 and 9: the host splits and collapses THPs. */
	if (thp) {
		phase_thp_split(vm);
		phase_collapse(vm);
	} else {
		ksft_test_result_skip("THP splits: no 2M SPTE where the host maps 4K pages (-s thp only)\n");
		ksft_test_result_skip("THP splits: the ranges never split are 2M (-s thp only)\n");
		ksft_test_result_skip("data intact after the THP splits (-s thp only)\n");
		ksft_test_result_skip("MADV_COLLAPSE: collapsed ranges 2M right after the disable (-s thp only)\n");
		ksft_test_result_skip("MADV_COLLAPSE: no page faults after the disable (-s thp only)\n");
		ksft_test_result_skip("data intact after MADV_COLLAPSE (-s thp only)\n");
	}

	set_cmd(vm, CMD_DONE);
	start_vcpus();
	wait_parked();
	park_join(&park);

	free(bitmap);
	kvm_vm_free(vm);
	ksft_finished();
}
