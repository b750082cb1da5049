// SPDX-License-Identifier: GPL-2.0-only
/*
 * nx_recovery_invalidate_test
 *
 * NX huge page recovery racing with host-side invalidations of the memory
 * it works on.
 *
 * With kvm.nx_huge_pages=1, an instruction fetch from guest memory that KVM
 * could map with a 2M page makes KVM map that 2M region with 4K pages
 * instead (a split, counted in the VM stat nx_lpage_splits); the recovery
 * worker zaps split regions every nx_huge_pages_recovery_period_ms so that
 * they can be mapped huge again.  Recovery walks and zaps page tables that
 * mmu_notifier invalidations, memslot updates and the runtime nx_huge_pages
 * switch zap too; this test makes all of them happen while the vCPUs keep
 * splitting pages and recovery keeps taking them back.  On 7.3 the TDP
 * MMU's pages are recovered with mmu_lock held for read, so recovery really
 * runs beside the vCPUs' faults; the shadow MMU's (kvm.tdp_mmu=N) with it
 * held for write.
 *
 * Each vCPU owns -n 2M pages of a hugetlb slot.  The first byte of each is
 * a 'ret', which the vCPU calls (the fetch splits the 2M page), and the
 * first word of each of the other 511 4K pages holds a pattern of its
 * address and the vCPU's iteration count, which the vCPU checks and
 * rewrites on every iteration.  Meanwhile the main thread, in -r rounds:
 *
 * 1. drops one 2M page of every vCPU from the backing memory (see
 *    punch_hpage() for how and why), each while its owner waits in the
 *    guest, and writes a marker into the fresh page.  The owner must then
 *    see zeros where its patterns were and the marker, which it checks
 *    before rewriting the page: a vCPU that still reached the old page
 *    through a stale mapping would see its old data and no marker;
 * 2. moves a second, small memslot away and back, then deletes and re-adds
 *    it (with KVM_X86_QUIRK_SLOT_ZAP_ALL, on by default for this VM type,
 *    each of these zaps every root of the VM);
 * 3. writes 0 and then 1 to /sys/module/kvm/parameters/nx_huge_pages (each
 *    change zaps every root too); with the mitigation off nx_lpage_splits
 *    must stay 0.  Without the right to write it, this step is skipped with
 *    a note and the main thread only watches for as long;
 * 4. waits until the vCPUs have split pages again, then asks them to stop
 *    executing from the slot (they keep writing it) and waits until
 *    nx_lpage_splits is back to 0: with the main thread idle and no fetch
 *    splitting anything, only recovery takes split pages back, so this
 *    shows that it ran while the vCPUs ran.  Every vCPU must complete
 *    iterations meanwhile.
 *
 * At the end, the host checks every word of the slot.  No vCPU may leave
 * KVM_RUN except through the expected ucalls (vcpu_park.h fails the test on
 * any other exit, and on a guest assertion).
 *
 * The test does not set the recovery parameters: its list line boots with
 * kvm.nx_huge_pages=1, nx_huge_pages_recovery_ratio=1 and
 * nx_huge_pages_recovery_period_ms=100, and the test skips, saying why,
 * when the mitigation is off, recovery is off or its period is over 1 s.
 * It also skips without enough free 2M hugetlb pages.
 *
 * This is the 7.x form of the test in tools/testing/selftests/kvm-extra
 * (the 6.12 series' copy): the scenario and the checks are the same.
 */
#include <fcntl.h>
#include <getopt.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "kselftest.h"
#include "test_util.h"
#include "kvm_util.h"
#include "processor.h"
#include "nx_params.h"
#include "vcpu_park.h"

#define DATA_SLOT		10
#define DATA_GPA		(4ULL << 30)	/* clear of memslot 0 */
#define DATA_GVA		DATA_GPA
#define HPAGE_SIZE		(2ULL << 20)
#define RET_OPCODE		0xc3

/* The small slot that is moved and re-added; the guest never touches it. */
#define SMALL_SLOT		11
#define SMALL_GPA		(DATA_GPA + (1ULL << 30))
#define SMALL_GPA_MOVED		(DATA_GPA + (2ULL << 30))
#define SMALL_PAGES		16

#define DEFAULT_NR_VCPUS	2
#define DEFAULT_HPAGES		8	/* per vCPU: 32 MiB, 2 vCPUs */
#define DEFAULT_ROUNDS		5
#define MAX_VCPUS		PARK_MAX_VCPUS

/*
 * How long the host waits for something the vCPUs must do (answer a
 * request, split pages, iterate) or recovery must do (take every split page
 * back).  Each takes well under a second even under TCG; a limit instead
 * of a hang names what did not happen.
 */
#define WAIT_LIMIT_MS		30000
#define PARK_LIMIT_S		60

enum guest_cmd {
	CMD_LOAD,	/* iterate until guest_stop */
	CMD_DONE,
};

/* Written by the host, read by the guest (memslot 0). */
static u64 guest_cmd;
static u64 guest_stop;
static u64 guest_exec;			/* call each 2M page's 'ret' */
static u64 punch_req[MAX_VCPUS];	/* round number of the request */
static u64 punch_victim[MAX_VCPUS];	/* which of the vCPU's 2M pages */
static u64 punch_done[MAX_VCPUS];	/* = punch_req once dropped */
/* Written by the guest, read by the host. */
static u64 punch_ack[MAX_VCPUS];	/* = punch_req once waiting */
static u64 punch_checked[MAX_VCPUS];
static u64 guest_iters[MAX_VCPUS];

static inline u64 pattern(u64 gva, u64 iter)
{
	return gva ^ (iter * 0x9e3779b97f4a7c15ULL);
}

/*
 * Written by the host at offset 8 of a dropped page, where the old page
 * held 0: a vCPU still mapped to the old page does not see it.
 */
static inline u64 marker(u64 gva, u64 round)
{
	return ~pattern(gva, round);
}

/*
 * The host asked for 2M page @hpage to be dropped: wait in the guest until
 * it is, then check that it reads as a fresh page (zeros and the host's
 * marker) and put back what the loop expects at iteration @iter.
 */
static void guest_check_punched(u64 id, u64 hpage, u64 req, u64 iter)
{
	u64 gva, val;

	WRITE_ONCE(punch_ack[id], req);
	while (READ_ONCE(punch_done[id]) != req)
		guest_exit_to_host();

	val = READ_ONCE(*(u8 *)hpage);
	__GUEST_ASSERT(!val,
		       "vCPU %lu, round %lu: 'ret' at GVA 0x%lx still there (0x%lx) after the host dropped the page",
		       id, req, hpage, val);
	val = READ_ONCE(*(u64 *)(hpage + 8));
	__GUEST_ASSERT(val == marker(hpage, req),
		       "vCPU %lu, round %lu: GVA 0x%lx holds 0x%lx, not the host's marker 0x%lx: a stale mapping?",
		       id, req, hpage + 8, val, marker(hpage, req));
	for (gva = hpage + PAGE_SIZE; gva < hpage + HPAGE_SIZE;
	     gva += PAGE_SIZE) {
		val = READ_ONCE(*(u64 *)gva);
		__GUEST_ASSERT(!val,
			       "vCPU %lu, round %lu: GVA 0x%lx holds 0x%lx after the host dropped the page",
			       id, req, gva, val);
		WRITE_ONCE(*(u64 *)gva, pattern(gva, iter));
	}
	WRITE_ONCE(*(u64 *)(hpage + 8), 0);
	WRITE_ONCE(*(u8 *)hpage, RET_OPCODE);
	WRITE_ONCE(punch_checked[id], punch_checked[id] + 1);
}

/* One iteration over the 2M page @hpage: fetch, check and rewrite. */
static void guest_touch_hpage(u64 id, u64 hpage, u64 iter)
{
	u64 gva, val;

	val = READ_ONCE(*(u8 *)hpage);
	__GUEST_ASSERT(val == RET_OPCODE,
		       "vCPU %lu, iteration %lu: GVA 0x%lx holds 0x%lx, not 'ret'",
		       id, iter + 1, hpage, val);
	/* An instruction fetch splits the 2M page. */
	if (READ_ONCE(guest_exec))
		((void (*)(void))hpage)();

	for (gva = hpage + PAGE_SIZE; gva < hpage + HPAGE_SIZE;
	     gva += PAGE_SIZE) {
		val = READ_ONCE(*(u64 *)gva);
		__GUEST_ASSERT(val == pattern(gva, iter),
			       "vCPU %lu, iteration %lu: GVA 0x%lx holds 0x%lx, expected 0x%lx",
			       id, iter + 1, gva, val, pattern(gva, iter));
		WRITE_ONCE(*(u64 *)gva, pattern(gva, iter + 1));
	}
}

/* vCPU @id owns the @nr 2M pages from GVA @start. */
static void guest_code(u64 id, u64 start, u64 nr)
{
	u64 iter = 0, last_req = 0, req, hpage, end = start + nr * HPAGE_SIZE;

	for (;;) {
		GUEST_SYNC(iter);
		if (READ_ONCE(guest_cmd) != CMD_LOAD)
			GUEST_DONE();

		while (!READ_ONCE(guest_stop)) {
			req = READ_ONCE(punch_req[id]);
			if (req != last_req) {
				hpage = READ_ONCE(punch_victim[id]);
				hpage = start + hpage * HPAGE_SIZE;
				guest_check_punched(id, hpage, req, iter);
				last_req = req;
			}
			for (hpage = start; hpage < end; hpage += HPAGE_SIZE)
				guest_touch_hpage(id, hpage, iter);
			iter++;
			WRITE_ONCE(guest_iters[id], iter);
			/* Bound the time between exits: see vcpu_park.h. */
			if (!(iter % 64))
				guest_exit_to_host();
		}
	}
}

/* ------------------------------------------------------------------- host */

static int nr_vcpus = DEFAULT_NR_VCPUS;
static u64 per_vcpu = DEFAULT_HPAGES;
static bool use_memfd;
static struct kvm_vcpu *vcpus[MAX_VCPUS];
static struct vcpu_park park;
static struct kvm_vm *vm;
static char *data;		/* the slot's host mapping */
static int data_fd = -1;	/* its hugetlbfs file with -s */
static unsigned long period_ms;

/*
 * Host pointers to the guest's variables, looked up once: addr_gva2hva()
 * walks the guest's page tables and the library's memslot tree.  The main
 * thread changes that tree while the vCPUs run; the vCPU threads look it up
 * only for a ucall, and the guest makes none meanwhile (only after
 * guest_stop, or for a failed assertion).
 */
static struct {
	u64 *stop, *exec;
	u64 *req[MAX_VCPUS], *victim[MAX_VCPUS], *done[MAX_VCPUS];
	u64 *ack[MAX_VCPUS], *checked[MAX_VCPUS], *iters[MAX_VCPUS];
} g;

static u64 *guest_var(u64 *var)
{
	return addr_gva2hva(vm, (gva_t)var);
}

static u64 now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ull + ts.tv_nsec / 1000000;
}

/* What the main thread saw of the VM stats, over the whole run. */
static struct {
	u64 prev, max_splits, falls, quiet_falls, max_2m, max_4k;
} w;

/*
 * Read nx_lpage_splits (and pages_2m/4k for the summary); count its falls.
 * The 7.x library's vm_get_stat() fails the test on a stat that is not
 * there, so the first sample checks that the three exist.
 */
static u64 sample(bool quiet)
{
	u64 cur = vm_get_stat(vm, nx_lpage_splits);

	if (cur < w.prev) {
		w.falls++;
		w.quiet_falls += quiet;
	}
	w.prev = cur;
	w.max_splits = max(w.max_splits, cur);
	w.max_2m = max(w.max_2m, vm_get_stat(vm, pages_2m));
	w.max_4k = max(w.max_4k, vm_get_stat(vm, pages_4k));
	return cur;
}

/* Sample every millisecond for @ms; the largest nx_lpage_splits seen. */
static u64 watch(unsigned long ms)
{
	u64 end = now_ms() + ms, top = 0;

	while (now_ms() < end) {
		top = max(top, sample(false));
		sleep_ms(1);
	}
	return top;
}

/*
 * Drop 2M page @nth of the slot from the backing memory, so that KVM gets an
 * mmu_notifier invalidation of it (and must map the fresh page afterwards).
 *
 * By default the slot is private anonymous hugetlb memory
 * (VM_MEM_SRC_ANONYMOUS_HUGETLB_2MB), for which the library keeps no file
 * descriptor: MADV_DONTNEED frees the page (hugetlb takes it since Linux
 * 5.18, for whole huge pages), and the next touch faults in a zeroed one.
 * THP memory would do it too, but a THP may not be there in the first place
 * (khugepaged, fragmentation), and without a 2M host mapping there is no
 * split to race with.  With -s the slot is a hugetlbfs memfd
 * (VM_MEM_SRC_SHARED_HUGETLB), whose descriptor the library keeps, and the
 * page is punched out of the file with fallocate(), the other way an
 * invalidation reaches KVM (hugetlbfs truncation instead of a zap of the
 * mapping).
 */
static void punch_hpage(u64 nth, u64 round)
{
	u64 off = nth * HPAGE_SIZE, pg, val;
	char *hva = data + off;
	int r;

	if (use_memfd)
		r = fallocate(data_fd,
			      FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			      off, HPAGE_SIZE);
	else
		r = madvise(hva, HPAGE_SIZE, MADV_DONTNEED);
	TEST_ASSERT(!r, "%s of the 2M page at GPA 0x%llx failed",
		    use_memfd ? "fallocate(PUNCH_HOLE)" : "madvise(DONTNEED)",
		    DATA_GPA + off);

	for (pg = 0; pg < HPAGE_SIZE; pg += PAGE_SIZE) {
		val = READ_ONCE(*(u64 *)(hva + pg));
		TEST_ASSERT(!val,
			    "Host reads 0x%lx at GPA 0x%llx right after dropping the page",
			    val, DATA_GPA + off + pg);
	}
	WRITE_ONCE(*(u64 *)(hva + 8), marker(DATA_GVA + off, round));
}

/* Fail the test naming the vCPUs whose @done[] is still false. */
static void fail_unanswered(const bool *done, u64 round)
{
	char out[MAX_VCPUS * 4 + 1];
	int i, len = 0;

	out[0] = '\0';
	for (i = 0; i < nr_vcpus; i++)
		if (!done[i])
			len += snprintf(out + len, sizeof(out) - len, " %d", i);
	TEST_FAIL("Round %lu: vCPU(s)%s did not answer the request to drop a page within %d ms",
		  round, out, WAIT_LIMIT_MS);
}

static u64 ack_of(int i)
{
	return __atomic_load_n(g.ack[i], __ATOMIC_ACQUIRE);
}

/*
 * Step 1: ask every vCPU to wait in the guest, and drop its 2M page
 * (round - 1) % per_vcpu as soon as it does, while the others keep running.
 */
static void punch_round(u64 round)
{
	u64 deadline = now_ms() + WAIT_LIMIT_MS;
	u64 victim = (round - 1) % per_vcpu;
	bool done[MAX_VCPUS] = {};
	int i, left = nr_vcpus;

	for (i = 0; i < nr_vcpus; i++) {
		WRITE_ONCE(*g.victim[i], victim);
		__atomic_store_n(g.req[i], round, __ATOMIC_RELEASE);
	}
	while (left) {
		for (i = 0; i < nr_vcpus; i++) {
			if (done[i] || ack_of(i) != round)
				continue;
			punch_hpage(i * per_vcpu + victim, round);
			__atomic_store_n(g.done[i], round, __ATOMIC_RELEASE);
			done[i] = true;
			left--;
		}
		if (!left)
			break;
		if (now_ms() > deadline)
			fail_unanswered(done, round);
		sample(false);
		sleep_ms(1);
	}
}

/* Step 2: the small slot, moved away and back, then deleted and re-added. */
static void slot_round(void)
{
	vm_mem_region_move(vm, SMALL_SLOT, SMALL_GPA_MOVED);
	sample(false);
	vm_mem_region_move(vm, SMALL_SLOT, SMALL_GPA);
	sample(false);
	vm_mem_region_delete(vm, SMALL_SLOT);
	sample(false);
	vm_userspace_mem_region_add(vm, VM_MEM_SRC_ANONYMOUS, SMALL_GPA,
				    SMALL_SLOT, SMALL_PAGES, 0);
	sample(false);
}

static bool can_toggle = true, restore_registered;
static int nr_toggles;
static u64 max_splits_nx_off;

/* Step 3: nx_huge_pages 0 for two recovery periods, then 1 again. */
static void toggle_round(void)
{
	if (can_toggle && write_param(params[P_NX], "0")) {
		ksft_print_msg("note: cannot write kvm.nx_huge_pages (not root?): the runtime toggle is skipped\n");
		can_toggle = false;
	}
	if (!can_toggle) {
		watch(2 * period_ms);
		return;
	}
	/* Put back the value found at start if the test dies in step 3. */
	if (!restore_registered) {
		atexit(restore_params);
		restore_registered = true;
	}
	/*
	 * Turning the mitigation off zapped every root before the write
	 * returned, split pages with them, and no fetch splits a page while
	 * it is off.
	 */
	max_splits_nx_off = max(max_splits_nx_off, watch(2 * period_ms));
	TEST_ASSERT(!write_param(params[P_NX], "1"),
		    "Failed to set kvm.nx_huge_pages back to 1");
	nr_toggles++;
}

/* Poll @cond() (it samples the stats) until it holds, WAIT_LIMIT_MS at most. */
static bool wait_for(bool (*cond)(void))
{
	u64 deadline = now_ms() + WAIT_LIMIT_MS;

	while (!cond()) {
		if (now_ms() > deadline)
			return false;
		sleep_ms(1);
	}
	return true;
}

static u64 iters_before[MAX_VCPUS];

static u64 iters_of(int i)
{
	return __atomic_load_n(g.iters[i], __ATOMIC_RELAXED);
}

static bool splits_seen(void)
{
	return sample(false) > 0;
}

/* Every split page taken back, and every vCPU two iterations further. */
static bool recovered_and_progressed(void)
{
	bool ok = sample(true) == 0;
	int i;

	for (i = 0; i < nr_vcpus; i++)
		ok &= iters_of(i) >= iters_before[i] + 2;
	return ok;
}

/*
 * Step 4: splits again, then only recovery may take them back.  Returns
 * whether it did, and the fewest iterations a vCPU made meanwhile in
 * @min_iters.
 */
static bool recovery_round(int r, u64 *min_iters)
{
	bool recovered;
	int i;

	WRITE_ONCE(*g.exec, 0);
	for (i = 0; i < nr_vcpus; i++)
		iters_before[i] = iters_of(i);
	w.prev = vm_get_stat(vm, nx_lpage_splits);
	recovered = wait_for(recovered_and_progressed);
	*min_iters = UINT64_MAX;
	for (i = 0; i < nr_vcpus; i++)
		*min_iters = min(*min_iters, iters_of(i) - iters_before[i]);
	if (!recovered)
		ksft_print_msg("round %d: after %d ms without fetches, nx_lpage_splits %lu, the slowest vCPU %lu iterations further\n",
			       r, WAIT_LIMIT_MS,
			       vm_get_stat(vm, nx_lpage_splits), *min_iters);
	WRITE_ONCE(*g.exec, 1);
	return recovered;
}

/* The VM: memslot 0, the data slot filled for iteration 0, the small slot. */
static void create_vm(u64 nr_hpages, u64 slot_size)
{
	u64 off;
	int i;

	vm = __vm_create_with_vcpus(VM_SHAPE_DEFAULT, nr_vcpus, nr_hpages + 64,
				    guest_code, vcpus);
	vm_userspace_mem_region_add(vm, use_memfd ? VM_MEM_SRC_SHARED_HUGETLB :
				    VM_MEM_SRC_ANONYMOUS_HUGETLB_2MB,
				    DATA_GPA, DATA_SLOT, slot_size / PAGE_SIZE,
				    0);
	vm_userspace_mem_region_add(vm, VM_MEM_SRC_ANONYMOUS, SMALL_GPA,
				    SMALL_SLOT, SMALL_PAGES, 0);
	/*
	 * With TDP, KVM may map the slot with 2M pages whatever the guest's own
	 * page size; with shadow paging the guest must use 2M pages too.
	 */
	virt_map_level(vm, DATA_GVA, DATA_GPA, slot_size,
		       kvm_is_tdp_enabled() ? PG_LEVEL_4K : PG_LEVEL_2M);

	data = addr_gpa2hva(vm, DATA_GPA);
	if (use_memfd) {
		struct userspace_mem_region *region;

		region = memslot2region(vm, DATA_SLOT);
		/* hugetlb mappings are aligned: the slot starts the file. */
		TEST_ASSERT(region->fd >= 0 &&
			    region->host_mem == region->mmap_start,
			    "Expected the slot at offset 0 of a memfd");
		data_fd = region->fd;
	}

	/* A 'ret' at the start of each 2M page, pattern 0 in each 4K page. */
	for (off = 0; off < slot_size; off += PAGE_SIZE) {
		if (off % HPAGE_SIZE)
			*(u64 *)(data + off) = pattern(DATA_GVA + off, 0);
		else
			*(u8 *)(data + off) = RET_OPCODE;
	}

	g.stop = guest_var(&guest_stop);
	g.exec = guest_var(&guest_exec);
	for (i = 0; i < nr_vcpus; i++) {
		g.req[i] = guest_var(&punch_req[i]);
		g.victim[i] = guest_var(&punch_victim[i]);
		g.done[i] = guest_var(&punch_done[i]);
		g.ack[i] = guest_var(&punch_ack[i]);
		g.checked[i] = guest_var(&punch_checked[i]);
		g.iters[i] = guest_var(&guest_iters[i]);
		vcpu_args_set(vcpus[i], 3, (u64)i,
			      DATA_GVA + i * per_vcpu * HPAGE_SIZE, per_vcpu);
	}
}

/* Every word: 'ret', the last pattern in each 4K page, zeros elsewhere. */
static u64 check_slot(u64 slot_size)
{
	u64 off, gva, val, exp, nr_bad = 0, part_size = per_vcpu * HPAGE_SIZE;

	for (off = 0; off < slot_size; off += 8) {
		gva = DATA_GVA + off;
		val = *(u64 *)(data + off);
		exp = 0;
		if (!(off % HPAGE_SIZE))
			exp = RET_OPCODE;
		else if (!(off % PAGE_SIZE))
			exp = pattern(gva, park.sync_val[off / part_size]);
		if (val != exp && !nr_bad++)
			ksft_print_msg("GVA 0x%lx holds 0x%lx, expected 0x%lx\n",
				       gva, val, exp);
	}
	return nr_bad;
}

/* Skip, saying why, unless the boot line set the parameters as needed. */
static unsigned long check_params(void)
{
	unsigned long ratio;
	int i;

	for (i = 0; i < NR_PARAMS; i++)
		if (read_param(params[i], saved[i], sizeof(saved[i])))
			ksft_exit_skip("kvm.%s is not readable\n", params[i]);
	if (strcmp(saved[P_NX], "Y"))
		ksft_exit_skip("kvm.nx_huge_pages is %s: the NX huge page mitigation must be on (boot with kvm.nx_huge_pages=1)\n",
			       saved[P_NX]);
	ratio = strtoul(saved[P_RATIO], NULL, 10);
	period_ms = strtoul(saved[P_PERIOD], NULL, 10);
	if (!ratio)
		ksft_exit_skip("kvm.nx_huge_pages_recovery_ratio is 0: recovery is off (boot with kvm.nx_huge_pages_recovery_ratio=1)\n");
	if (!period_ms || period_ms > 1000)
		ksft_exit_skip("kvm.nx_huge_pages_recovery_period_ms is %lu: recovery would not run often enough (boot with kvm.nx_huge_pages_recovery_period_ms=100)\n",
			       period_ms);
	return ratio;
}

static void help(const char *name)
{
	printf("usage: %s [-v vcpus] [-r rounds] [-n hpages] [-s]\n", name);
	printf(" -v: number of vCPUs (default %d, at most %d)\n",
	       DEFAULT_NR_VCPUS, MAX_VCPUS);
	printf(" -r: rounds of invalidations (default %d)\n", DEFAULT_ROUNDS);
	printf(" -n: 2M hugetlb pages per vCPU (default %d)\n", DEFAULT_HPAGES);
	printf(" -s: back the slot with a hugetlbfs memfd and punch holes into it,\n"
	       "     instead of private hugetlb memory and MADV_DONTNEED\n");
	exit(0);
}

#define NR_CHECKS	6

int main(int argc, char *argv[])
{
	int rounds = DEFAULT_ROUNDS, rounds_split = 0, rounds_recovered = 0;
	u64 slot_size, nr_bad, min_quiet = UINT64_MAX, nr_checked, min_iters;
	u64 total_iters = 0, max_iters = 0, nr_hpages, round_min;
	unsigned long ratio;
	int opt, i, r;

	while ((opt = getopt(argc, argv, "hv:r:n:s")) != -1) {
		switch (opt) {
		case 'v':
			nr_vcpus = atoi_positive("Number of vCPUs", optarg);
			break;
		case 'r':
			rounds = atoi_positive("Number of rounds", optarg);
			break;
		case 'n':
			per_vcpu = atoi_positive("2M pages per vCPU", optarg);
			break;
		case 's':
			use_memfd = true;
			break;
		case 'h':
		default:
			help(argv[0]);
		}
	}
	TEST_ASSERT(nr_vcpus <= MAX_VCPUS, "At most %d vCPUs", MAX_VCPUS);
	nr_hpages = nr_vcpus * per_vcpu;
	slot_size = nr_hpages * HPAGE_SIZE;

	ksft_print_header();

	/* The parameters come from the boot command line (the list line). */
	ratio = check_params();
	nx_require_free_hpages(nr_hpages);

	ksft_print_msg("kvm.nx_huge_pages %s, recovery ratio %lu, period %lu ms; %d vCPUs, %lu MiB of %s hugetlb (%lu 2M pages each), %d rounds\n",
		       saved[P_NX], ratio, period_ms, nr_vcpus, slot_size >> 20,
		       use_memfd ? "memfd" : "private", per_vcpu, rounds);
	ksft_set_plan(NR_CHECKS);

	create_vm(nr_hpages, slot_size);
	sample(false);

	/* Up to the first GUEST_SYNC, then the load until the end. */
	park_init(&park, nr_vcpus, vcpus);
	park_start(&park);
	park_wait(&park, PARK_LIMIT_S);
	guest_cmd = CMD_LOAD;
	sync_global_to_guest(vm, guest_cmd);
	WRITE_ONCE(*g.exec, 1);
	park_start(&park);

	for (r = 1; r <= rounds; r++) {
		punch_round(r);
		slot_round();
		toggle_round();
		rounds_split += wait_for(splits_seen);
		rounds_recovered += recovery_round(r, &round_min);
		min_quiet = min(min_quiet, round_min);
	}

	__atomic_store_n(g.stop, 1, __ATOMIC_RELEASE);
	park_wait(&park, PARK_LIMIT_S);

	nr_checked = 0;
	min_iters = UINT64_MAX;
	for (i = 0; i < nr_vcpus; i++) {
		nr_checked += *g.checked[i];
		min_iters = min(min_iters, park.sync_val[i]);
		max_iters = max(max_iters, park.sync_val[i]);
		total_iters += park.sync_val[i];
	}
	nr_bad = check_slot(slot_size);

	ksft_test_result(min_quiet >= 2 && min_iters > 0,
			 "every vCPU made progress in every round: at least %lu iterations while recovery ran alone, %lu in all\n",
			 min_quiet, min_iters);
	ksft_test_result(nr_checked == (u64)rounds * nr_vcpus,
			 "the guest found every dropped page fresh (zeros, the host's marker) and rewrote it: %lu of %lu\n",
			 nr_checked, (u64)rounds * nr_vcpus);
	ksft_test_result(!nr_bad,
			 "guest data intact at the end: %lu bad words\n",
			 nr_bad);
	ksft_test_result(rounds_split == rounds,
			 "fetches split 2M pages in every round: %d of %d, nx_lpage_splits up to %lu\n",
			 rounds_split, rounds, w.max_splits);
	ksft_test_result(rounds_recovered == rounds,
			 "recovery took every split page back while the vCPUs ran, in every round: %d of %d\n",
			 rounds_recovered, rounds);
	if (nr_toggles)
		ksft_test_result(!max_splits_nx_off,
				 "no split while kvm.nx_huge_pages was 0: nx_lpage_splits up to %lu, %d toggles\n",
				 max_splits_nx_off, nr_toggles);
	else
		ksft_test_result_skip("no split while kvm.nx_huge_pages was 0: it is not writable\n");

	ksft_print_msg("summary: %d rounds, %d vCPUs, %lu..%lu iterations each (%lu in all); %lu pages dropped (%s) and checked by the guest, %d slot moves, %d slot re-adds, %d nx_huge_pages toggles; nx_lpage_splits up to %lu, fell %lu times (%lu with recovery alone); pages_2m up to %lu, pages_4k up to %lu\n",
		       rounds, nr_vcpus, min_iters, max_iters, total_iters,
		       nr_checked,
		       use_memfd ? "fallocate punch hole" : "MADV_DONTNEED",
		       2 * rounds, rounds, nr_toggles, w.max_splits, w.falls,
		       w.quiet_falls, w.max_2m, w.max_4k);

	guest_cmd = CMD_DONE;
	sync_global_to_guest(vm, guest_cmd);
	park_start(&park);
	park_wait(&park, PARK_LIMIT_S);
	park_join(&park);
	kvm_vm_free(vm);
	ksft_finished();
}
