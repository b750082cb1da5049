// SPDX-License-Identifier: GPL-2.0-only
/*
 * nx_recovery_fault_rate
 *
 * How fast vCPUs fault memory in while NX huge page recovery runs
 * aggressively, compared with no recovery: a benchmark for recovery that
 * holds mmu_lock for read (TDP MMU) instead of for write.
 *
 * vCPU 0, the splitter, calls a 'ret' at the start of each of its -n 2M
 * hugetlb pages over and over, so that those pages are split again
 * (kvm.nx_huge_pages=1) as soon as recovery zaps them.  The other vCPUs, the
 * workers, write one word to each 4K page of their own -m MiB of fresh
 * anonymous memory: every write is a page fault that KVM fixes while
 * holding mmu_lock (for read, with the TDP MMU).  No worker touches a page
 * that recovery zaps, so with recovery taking mmu_lock for read, the workers
 * should not notice it, apart from the TLB flushes; with mmu_lock taken for
 * write, every fault that comes during a recovery pass waits for it.
 *
 * -R pairs of runs, on fresh memory each: one with recovery off (ratio 0),
 * one with ratio -r every -p ms, in the order off-on, on-off, off-on ... so
 * that a drift of the host's speed over the runs weighs on both sides alike.
 * The splitter runs in all of them, so the host load is the same.  Printed,
 * as "bench:" lines: the median of the workers' faults fixed per second
 * without and with recovery, and the median over the pairs of each pair's
 * with/without ratio, with the lowest and highest pair ratio beside it so
 * that the spread of the figure is in view (under TCG, single runs vary by
 * tens of percent).  With CONFIG_LOCK_STAT, also what the workers wait
 * for: mmu_lock's and tdp_mmu_pages_lock's contentions, acquisitions and
 * wait time while the workers fault, summed over the runs with recovery
 * (nxrec_*) and over those without (nxnorec_*, the control: the same
 * faults and splitter, no recovery), see lock_stat.h.  Checked: every
 * worker page faulted in and holds what its worker wrote, and recovery
 * really ran in the runs with it (nx_lpage_splits fell at least twice); the
 * rates are not checked (TCG).
 *
 * The test sets kvm.nx_huge_pages, nx_huge_pages_recovery_ratio and
 * nx_huge_pages_recovery_period_ms itself (root only), restores them at
 * exit, and skips when it cannot.
 */
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kselftest.h"
#include "test_util.h"
#include "kvm_util.h"
#include "processor.h"
#include "lock_stat.h"
#include "nx_params.h"
#include "vcpu_park.h"

#define SPLIT_SLOT		10
#define SPLIT_GPA		(4ULL << 30)
#define WORK_SLOT		11
#define WORK_GPA		(8ULL << 30)
#define HPAGE_SIZE		(2ULL << 20)
#define RET_OPCODE		0xc3
#define MAX_RUNS		64
#define PARK_LIMIT_S		120


/* Set by the host: which run the workers fault in; stop the splitter. */
static uint64_t guest_run;
static uint64_t guest_stop;

static inline uint64_t pattern(uint64_t gva, uint64_t run)
{
	return gva ^ ((run + 1) * 0x9e3779b97f4a7c15ULL);
}

static void splitter_code(uint64_t start, uint64_t nr_hpages)
{
	uint64_t iter = 0, hpage;

	for (;;) {
		GUEST_SYNC(iter);
		while (!READ_ONCE(guest_stop)) {
			for (hpage = start; hpage < start + nr_hpages * HPAGE_SIZE;
			     hpage += HPAGE_SIZE)
				((void (*)(void))hpage)();
			/* No exit otherwise, once every page is split. */
			if (!(++iter % 64))
				guest_exit_to_host();
		}
	}
}

/* Worker: each run faults in its own fresh part of the work slot. */
static void worker_code(uint64_t start, uint64_t size)
{
	uint64_t gva, run;

	for (;;) {
		GUEST_SYNC(0);
		run = READ_ONCE(guest_run);
		for (gva = start + run * size; gva < start + (run + 1) * size; gva += PAGE_SIZE)
			WRITE_ONCE(*(uint64_t *)gva, pattern(gva, run));
	}
}

/* ------------------------------------------------------------------ stats */

static uint64_t stat_of(int fd, const char *name)
{
	struct kvm_stats_header header;
	struct kvm_stats_desc *descs;
	uint64_t val;
	int i;

	read_stats_header(fd, &header);
	descs = read_stats_descriptors(fd, &header);
	for (i = 0; i < header.num_desc; i++) {
		struct kvm_stats_desc *desc = get_stats_descriptor(descs, i, &header);

		if (strcmp(desc->name, name))
			continue;
		read_stat_data(fd, &header, desc, &val, 1);
		free(descs);
		return val;
	}
	TEST_FAIL("No stat '%s'", name);
	return 0;
}

/* Sort @n values in place (insertion sort: n is at most MAX_RUNS / 2). */
static void sort_values(double *v, int n)
{
	double t;
	int i, j;

	for (i = 1; i < n; i++)
		for (j = i; j > 0 && v[j - 1] > v[j]; j--) {
			t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
}

static double median_of(double *v, int n)
{
	sort_values(v, n);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Run @r of a pair is with recovery: pairs alternate off-on and on-off. */
static bool run_has_recovery(int r)
{
	return (r % 2) != (r / 2 % 2);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void help(const char *name)
{
	printf("usage: %s [-v vcpus] [-n hpages] [-m MiB] [-r ratio] [-p period_ms] [-R pairs]\n",
	       name);
	printf(" -v: vCPUs, the splitter and at least one worker (default 3)\n");
	printf(" -n: 2M pages the splitter keeps split (default 16)\n");
	printf(" -m: MiB each worker faults in, per run (default 16)\n");
	printf(" -r: recovery ratio of the runs with recovery (default 1)\n");
	printf(" -p: recovery period in ms of the runs with recovery (default 100)\n");
	printf(" -R: pairs of runs, without and with recovery (default 9)\n");
	exit(0);
}

int main(int argc, char *argv[])
{
	unsigned long nr_hpages = 16, work_mib = 16, ratio = 1, period_ms = 100, nr_pairs = 9;
	struct kvm_vcpu *vcpus[PARK_MAX_VCPUS];
	uint64_t work_size, part, gva, pages, nr_bad = 0;
	double rate[MAX_RUNS], secs[MAX_RUNS], off[MAX_RUNS / 2], on[MAX_RUNS / 2];
	double pct[MAX_RUNS / 2], med_pct;
	uint64_t faults[MAX_RUNS], falls = 0, min_faults = UINT64_MAX;
	struct lock_stat locks[2] = {};	/* runs without, with recovery */
	int nr_runs;
	int nr_vcpus = 3, vcpu_fd[PARK_MAX_VCPUS];
	int opt, i, r, vm_fd;
	struct vcpu_park park;
	struct kvm_vm *vm;
	char *data;

	while ((opt = getopt(argc, argv, "hv:n:m:r:p:R:")) != -1) {
		switch (opt) {
		case 'v':
			nr_vcpus = atoi_positive("Number of vCPUs", optarg);
			break;
		case 'n':
			nr_hpages = atoi_positive("Number of 2M pages", optarg);
			break;
		case 'm':
			work_mib = atoi_positive("MiB per worker", optarg);
			break;
		case 'r':
			ratio = atoi_positive("Recovery ratio", optarg);
			break;
		case 'p':
			period_ms = atoi_positive("Recovery period", optarg);
			break;
		case 'R':
			nr_pairs = atoi_positive("Pairs of runs", optarg);
			break;
		default:
			help(argv[0]);
		}
	}
	TEST_ASSERT(nr_vcpus >= 2 && nr_vcpus <= PARK_MAX_VCPUS,
		    "-v %d: the splitter, at least one worker, at most %d vCPUs",
		    nr_vcpus, PARK_MAX_VCPUS);
	TEST_ASSERT(nr_pairs <= MAX_RUNS / 2, "At most %d pairs of runs", MAX_RUNS / 2);
	nr_runs = 2 * nr_pairs;

	ksft_print_header();

	nx_params_take(nr_hpages);
	set_param(P_PERIOD, period_ms);

	ksft_print_msg("1 splitter on %lu 2M pages, %d workers faulting %lu MiB each per run; %lu pairs of runs, recovery off, then ratio %lu every %lu ms\n",
		       nr_hpages, nr_vcpus - 1, work_mib, nr_pairs, ratio, period_ms);
	ksft_set_plan(3);

	part = work_mib << 20;
	work_size = part * nr_runs * (nr_vcpus - 1);
	/* The data slots' pages: memslot 0 gets room for their page tables. */
	vm = __vm_create_with_vcpus(VM_SHAPE_DEFAULT, nr_vcpus,
				    (nr_hpages * HPAGE_SIZE + work_size) / PAGE_SIZE,
				    worker_code, vcpus);
	vm_userspace_mem_region_add(vm, VM_MEM_SRC_ANONYMOUS_HUGETLB_2MB, SPLIT_GPA,
				    SPLIT_SLOT, nr_hpages * HPAGE_SIZE / PAGE_SIZE, 0);
	vm_userspace_mem_region_add(vm, VM_MEM_SRC_ANONYMOUS, WORK_GPA, WORK_SLOT,
				    work_size / PAGE_SIZE, 0);
	virt_map_level(vm, SPLIT_GPA, SPLIT_GPA, nr_hpages * HPAGE_SIZE,
		       kvm_is_tdp_enabled() ? PG_LEVEL_4K : PG_LEVEL_2M);
	virt_map(vm, WORK_GPA, WORK_GPA, work_size / PAGE_SIZE);

	data = addr_gpa2hva(vm, SPLIT_GPA);
	for (i = 0; i < (int)nr_hpages; i++)
		memset(data + i * HPAGE_SIZE, RET_OPCODE, PAGE_SIZE);

	vcpu_arch_set_entry_point(vcpus[0], splitter_code);
	vcpu_args_set(vcpus[0], 2, SPLIT_GPA, nr_hpages);
	for (i = 1; i < nr_vcpus; i++)
		vcpu_args_set(vcpus[i], 2, WORK_GPA + (i - 1) * part * nr_runs, part);
	vm_fd = vm_get_stats_fd(vm);
	for (i = 0; i < nr_vcpus; i++)
		vcpu_fd[i] = vcpu_get_stats_fd(vcpus[i]);

	park_init(&park, nr_vcpus, vcpus);
	/* Up to the first GUEST_SYNC of each, then the splitter starts for good. */
	park_start(&park);
	park_wait(&park, PARK_LIMIT_S);

	for (r = 0; r < nr_runs; r++) {
		uint64_t before = 0, after = 0, prev, cur;
		double t0;
		int parked = 0;

		set_param(P_RATIO, run_has_recovery(r) ? ratio : 0);
		guest_run = r;
		sync_global_to_guest(vm, guest_run);
		for (i = 1; i < nr_vcpus; i++)
			before += stat_of(vcpu_fd[i], "pf_fixed");

		/* The splitter only: let it split every page before the clock starts. */
		sem_post(&park.run[0]);
		usleep(200 * 1000);

		/*
		 * lock_stat counts from the last clear: clear it as the workers
		 * start, so that their faults are counted and not the splitter's
		 * own start, the previous run or the host's stat reads.
		 */
		lock_stat_clear();
		t0 = now();
		for (i = 1; i < nr_vcpus; i++) {
			park.back[i] = false;
			sem_post(&park.run[i]);
		}
		/* The workers park when done; count recovery passes meanwhile. */
		prev = stat_of(vm_fd, "nx_lpage_splits");
		while (parked < nr_vcpus - 1) {
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 10 * 1000 * 1000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			if (!sem_timedwait(&park.parked, &ts))
				parked++;
			TEST_ASSERT(now() - t0 < PARK_LIMIT_S, "Workers took over %d s",
				    PARK_LIMIT_S);
			cur = stat_of(vm_fd, "nx_lpage_splits");
			if (run_has_recovery(r))
				falls += cur < prev;
			prev = cur;
		}
		secs[r] = now() - t0;
		lock_stat_add(&locks[run_has_recovery(r)]);
		for (i = 1; i < nr_vcpus; i++)
			after += stat_of(vcpu_fd[i], "pf_fixed");
		faults[r] = after - before;
		rate[r] = faults[r] / secs[r];
		min_faults = min(min_faults, faults[r]);

		/* Park the splitter again, within the same limit as the workers. */
		*(uint64_t *)addr_gva2hva(vm, (vm_vaddr_t)&guest_stop) = 1;
		{
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += PARK_LIMIT_S;
			TEST_ASSERT(!sem_timedwait(&park.parked, &ts),
				    "The splitter (vCPU 0) did not stop within %d s", PARK_LIMIT_S);
		}
		*(uint64_t *)addr_gva2hva(vm, (vm_vaddr_t)&guest_stop) = 0;

		ksft_print_msg("run %d, recovery %s: %lu faults fixed by the workers in %.2f s, %.0f/s\n",
			       r, run_has_recovery(r) ? "on" : "off", faults[r], secs[r], rate[r]);
	}
	set_param(P_RATIO, 0);

	for (i = 0; i < (int)nr_pairs; i++) {
		bool first_on = run_has_recovery(2 * i);

		on[i] = rate[2 * i + !first_on];
		off[i] = rate[2 * i + first_on];
		/* No fault at all fails the first check below. */
		pct[i] = off[i] > 0 ? 100.0 * on[i] / off[i] : 0;
	}
	med_pct = median_of(pct, nr_pairs);	/* sorts pct[] */
	printf("bench: nx_fault_rate_no_recovery_per_sec %.0f\n", median_of(off, nr_pairs));
	printf("bench: nx_fault_rate_recovery_per_sec %.0f\n", median_of(on, nr_pairs));
	printf("bench: nx_fault_rate_percent %.0f\n", med_pct);
	printf("bench: nx_fault_rate_percent_lowest_pair %.0f\n", pct[0]);
	printf("bench: nx_fault_rate_percent_highest_pair %.0f\n", pct[nr_pairs - 1]);
	printf("bench: nx_fault_rate_splits_falls_seen %lu\n", falls);
	lock_stat_print(&locks[0], "nxnorec");
	lock_stat_print(&locks[1], "nxrec");

	/* Each run: one fault per 4K page of every worker, at the least. */
	pages = work_size / nr_runs / PAGE_SIZE;
	ksft_test_result(min_faults >= pages,
			 "the workers faulted every page in: at least %lu faults fixed per run, %lu pages\n",
			 min_faults, pages);

	data = addr_gpa2hva(vm, WORK_GPA);
	for (gva = WORK_GPA; gva < WORK_GPA + work_size; gva += PAGE_SIZE) {
		uint64_t run = (gva - WORK_GPA) / part % nr_runs;
		uint64_t val = *(uint64_t *)(data + (gva - WORK_GPA));

		if (val != pattern(gva, run) && !nr_bad++)
			ksft_print_msg("GVA 0x%lx holds 0x%lx, expected 0x%lx\n", gva, val,
				       pattern(gva, run));
	}
	ksft_test_result(!nr_bad, "every page holds what its worker wrote: %lu bad\n", nr_bad);
	ksft_test_result(falls >= 2 * nr_pairs,
			 "recovery ran in the runs with it: nx_lpage_splits fell %lu times in %lu runs\n",
			 falls, nr_pairs);

	kvm_vm_free(vm);
	ksft_finished();
}
