// SPDX-License-Identifier: GPL-2.0-only
/*
 * nx_recovery_stress_test
 *
 * NX huge page recovery while vCPUs fault the pages back, and the pace at
 * which recovery takes split pages back.
 *
 * With kvm.nx_huge_pages=1, KVM maps guest memory that could be mapped with
 * 2M pages without execute permission; an instruction fetch from such a 2M
 * region makes KVM map it with 4K pages instead (a split, counted in the VM
 * stat nx_lpage_splits).  The recovery worker zaps, every
 * nx_huge_pages_recovery_period_ms, DIV_ROUND_UP(nx_lpage_splits, ratio) of
 * the split regions, so that they can be mapped huge again.
 *
 * Phase A (load): each vCPU repeatedly calls a 'ret' at the start of each of
 * its first -l 2M pages of a hugetlb slot and rewrites the first word of
 * each of the other 511 4K pages of them, first for -t seconds with
 * recovery off (ratio 0), then for -t seconds with ratio 1 and a 100 ms
 * period, so that recovery zaps the split regions while the vCPUs fault
 * them back.  The host samples nx_lpage_splits meanwhile: it must never
 * fall without recovery, and fall again and again with it.  The guest
 * checks every word it overwrites; the host finally checks every byte of
 * the slot.  The guest iterations per second with and without recovery
 * are printed as "bench:" lines; they are not checked (TCG).
 *
 * Phase B (pace): with every vCPU parked outside KVM_RUN, recovery must take
 * every split page back.  Then, with recovery off, the vCPUs execute once
 * from each 2M page of the slot, which must split exactly those N pages:
 * memslot 0 is mapped MADV_NOHUGEPAGE by the library, so no other fetch can
 * count as a split, and nothing else is mapped.  Recovery is turned on with
 * ratio -r and period -p, and nx_lpage_splits must walk down exactly the
 * sequence N, N - DIV_ROUND_UP(N, r), ... 0: a count that recovered pages
 * do not come off shows up as a fixed drop per period (32 24 16 8 0 instead
 * of 32 24 18 13 9 6 4 3 2 1 0 for 32 pages and ratio 4).  The count is read
 * until it holds still, as recovery takes pages off one at a time, and
 * matched against the sequence rather than period by period, as several
 * periods may go by between two reads on a loaded host.
 *
 * The test sets kvm.nx_huge_pages, nx_huge_pages_recovery_ratio and
 * nx_huge_pages_recovery_period_ms itself (root only) and restores them at
 * exit; it skips when it cannot.  The recovery worker of a VM only starts
 * once the VM has run a vCPU, which every phase here does first.
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
#include "nx_params.h"
#include "vcpu_park.h"

#define DATA_SLOT		10
#define DATA_GPA		(4ULL << 30)	/* clear of memslot 0 */
#define DATA_GVA		DATA_GPA
#define HPAGE_SIZE		(2ULL << 20)
#define RET_OPCODE		0xc3

#define DEFAULT_NR_VCPUS	4
#define DEFAULT_NR_HPAGES	32
#define DEFAULT_LOAD_HPAGES	2
#define DEFAULT_LOAD_SECS	10
#define MAX_VCPUS		PARK_MAX_VCPUS

#define LOAD_RATIO		1
#define LOAD_PERIOD_MS		100


enum guest_cmd {
	CMD_LOAD,	/* execute and write the load pages until guest_stop */
	CMD_SPLIT,	/* execute once from every owned 2M page */
	CMD_DONE,
};

/* Set by the host (the guest's copies, in memslot 0). */
static uint64_t guest_cmd;
static uint64_t guest_stop;
/* Written by the guest: iterations completed. */
static uint64_t guest_iters[MAX_VCPUS];

static inline uint64_t pattern(uint64_t gva, uint64_t iter)
{
	return gva ^ (iter * 0x9e3779b97f4a7c15ULL);
}

/*
 * @start: the vCPU's first 2M page; it owns @nr_owned of them and loads the
 * first @nr_load.  The first 4K page of each holds 'ret' instructions, the
 * first word of each of the other 511 is rewritten every iteration.
 */
static void guest_code(uint64_t id, uint64_t start, uint64_t nr_owned, uint64_t nr_load)
{
	uint64_t iter = 0, hpage, gva;

	for (;;) {
		GUEST_SYNC(iter);

		switch (READ_ONCE(guest_cmd)) {
		case CMD_LOAD:
			while (!READ_ONCE(guest_stop)) {
				for (hpage = start; hpage < start + nr_load * HPAGE_SIZE;
				     hpage += HPAGE_SIZE) {
					/* An instruction fetch splits the 2M page. */
					((void (*)(void))hpage)();

					for (gva = hpage + PAGE_SIZE; gva < hpage + HPAGE_SIZE;
					     gva += PAGE_SIZE) {
						uint64_t val = READ_ONCE(*(uint64_t *)gva);

						__GUEST_ASSERT(val == pattern(gva, iter),
							       "vCPU %lu, iteration %lu: GVA 0x%lx holds 0x%lx, expected 0x%lx",
							       id, iter + 1, gva, val, pattern(gva, iter));
						WRITE_ONCE(*(uint64_t *)gva, pattern(gva, iter + 1));
					}
				}
				iter++;
				WRITE_ONCE(guest_iters[id], iter);
				/*
				 * Without recovery, no fault makes it leave.
				 * One exit every 1024 iterations (tens of ms
				 * under TCG) is enough to bound that; more
				 * would weigh on the rates compared.
				 */
				if (!(iter % 1024))
					guest_exit_to_host();
			}
			break;
		case CMD_SPLIT:
			for (hpage = start; hpage < start + nr_owned * HPAGE_SIZE;
			     hpage += HPAGE_SIZE)
				((void (*)(void))hpage)();
			break;
		default:
			GUEST_DONE();
		}
	}
}

/* ------------------------------------------------------------ vCPU threads */

/*
 * How long the vCPUs may take to park again: one iteration of the load, or
 * one pass over the slot, takes well under a second even under TCG.
 */
#define PARK_LIMIT_S	60

static int nr_vcpus = DEFAULT_NR_VCPUS;
static struct kvm_vcpu *vcpus[MAX_VCPUS];
static struct vcpu_park park;

static void start_vcpus(struct kvm_vm *vm, enum guest_cmd cmd)
{
	guest_cmd = cmd;
	sync_global_to_guest(vm, guest_cmd);
	park_start(&park);
}

static void wait_parked(void)
{
	park_wait(&park, PARK_LIMIT_S);
}

/* ------------------------------------------------------------------ stats */

struct stats {
	int fd;
	struct kvm_stats_header header;
	struct kvm_stats_desc *desc;
};

static struct stats vm_stats, vcpu_stats[MAX_VCPUS];

static void stats_open(struct stats *s, int fd)
{
	s->fd = fd;
	read_stats_header(fd, &s->header);
	s->desc = read_stats_descriptors(fd, &s->header);
}

/* Unlike vm_get_stat(), fail on a stat that does not exist. */
static uint64_t stats_get(struct stats *s, const char *name)
{
	uint64_t val;
	int i;

	for (i = 0; i < s->header.num_desc; i++) {
		struct kvm_stats_desc *desc = get_stats_descriptor(s->desc, i, &s->header);

		if (strcmp(desc->name, name))
			continue;
		read_stat_data(s->fd, &s->header, desc, &val, 1);
		return val;
	}
	TEST_FAIL("No stat '%s'", name);
	return 0;
}

static uint64_t sum_pf_taken(void)
{
	uint64_t sum = 0;
	int i;

	for (i = 0; i < nr_vcpus; i++)
		sum += stats_get(&vcpu_stats[i], "pf_taken");
	return sum;
}

static uint64_t splits(void)
{
	return stats_get(&vm_stats, "nx_lpage_splits");
}

/* ------------------------------------------------------------------- host */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Read nx_lpage_splits until it holds still for three reads: recovery takes
 * pages off the count one at a time, so one read may land inside a batch.
 */
static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ull + ts.tv_nsec / 1000000;
}

static uint64_t stable_splits(unsigned long poll_ms)
{
	uint64_t prev = splits(), cur = prev;
	int same = 0;

	while (same < 3) {
		msleep(poll_ms);
		cur = splits();
		same = cur == prev ? same + 1 : 0;
		prev = cur;
	}
	return cur;
}

static bool wait_splits_zero(int timeout_s)
{
	time_t deadline = time(NULL) + timeout_s;

	while (splits()) {
		if (time(NULL) > deadline)
			return false;
		msleep(20);
	}
	return true;
}

struct load_result {
	uint64_t iters, min_iters, faults, drops;
	double secs;
};

/* Run CMD_LOAD for @secs seconds; the vCPUs are parked again on return. */
static struct load_result run_load(struct kvm_vm *vm, int secs)
{
	uint64_t before[MAX_VCPUS], pf = sum_pf_taken(), prev, cur;
	struct load_result r = { .min_iters = UINT64_MAX };
	double t0;
	int i;

	for (i = 0; i < nr_vcpus; i++)
		before[i] = park.sync_val[i];
	WRITE_ONCE(*(uint64_t *)addr_gva2hva(vm, (vm_vaddr_t)&guest_stop), 0);
	t0 = now();
	start_vcpus(vm, CMD_LOAD);
	/* Count the drops of nx_lpage_splits: recovery zapping under load. */
	for (prev = splits(); now() - t0 < secs; prev = cur) {
		msleep(10);
		cur = splits();
		r.drops += cur < prev;
	}
	WRITE_ONCE(*(uint64_t *)addr_gva2hva(vm, (vm_vaddr_t)&guest_stop), 1);
	wait_parked();
	r.secs = now() - t0;
	for (i = 0; i < nr_vcpus; i++) {
		uint64_t n = park.sync_val[i] - before[i];

		r.iters += n;
		r.min_iters = min(r.min_iters, n);
	}
	r.faults = sum_pf_taken() - pf;
	return r;
}

static void help(const char *name)
{
	printf("usage: %s [-v vcpus] [-n hpages] [-l load_hpages] [-t secs] [-r ratio] [-p period_ms] [-T secs]\n",
	       name);
	printf(" -v: number of vCPUs (default %d, at most %d)\n", DEFAULT_NR_VCPUS, MAX_VCPUS);
	printf(" -n: 2M pages in the slot, split in phase B; a multiple of -v (default %d)\n",
	       DEFAULT_NR_HPAGES);
	printf(" -l: 2M pages each vCPU executes from and writes in phase A (default %d)\n",
	       DEFAULT_LOAD_HPAGES);
	printf(" -t: seconds of load, with and then without recovery (default %d)\n",
	       DEFAULT_LOAD_SECS);
	printf(" -r: recovery ratio for the pace check (default 4)\n");
	printf(" -p: recovery period in ms for the pace check (default 1000)\n");
	printf(" -T: seconds the pace check may take (default 90)\n");
	exit(0);
}

#define NR_CHECKS	6

int main(int argc, char *argv[])
{
	unsigned long nr_hpages = DEFAULT_NR_HPAGES, load_hpages = DEFAULT_LOAD_HPAGES;
	unsigned long ratio = 4, period_ms = 1000, pace_timeout = 90;
	uint64_t expected[256], cur, prev, slot_size, per_vcpu, off, nr_bad;
	int load_secs = DEFAULT_LOAD_SECS, nr_expected = 0, opt, i, j;
	struct load_result noload, load;
	char seq[1024], *data;
	uint64_t t_prev, t_cur, periods;
	int j_prev;
	bool ok, in_seq;
	time_t deadline;
	struct kvm_vm *vm;
	size_t len;

	while ((opt = getopt(argc, argv, "hv:n:l:t:r:p:T:")) != -1) {
		switch (opt) {
		case 'v':
			nr_vcpus = atoi_positive("Number of vCPUs", optarg);
			break;
		case 'n':
			nr_hpages = atoi_positive("Number of 2M pages", optarg);
			break;
		case 'l':
			load_hpages = atoi_positive("2M pages per vCPU under load", optarg);
			break;
		case 't':
			load_secs = atoi_positive("Load seconds", optarg);
			break;
		case 'r':
			ratio = atoi_positive("Recovery ratio", optarg);
			break;
		case 'p':
			period_ms = atoi_positive("Recovery period", optarg);
			break;
		case 'T':
			pace_timeout = atoi_positive("Pace timeout", optarg);
			break;
		case 'h':
		default:
			help(argv[0]);
		}
	}
	TEST_ASSERT(nr_vcpus <= MAX_VCPUS, "At most %d vCPUs", MAX_VCPUS);
	TEST_ASSERT(nr_hpages % nr_vcpus == 0, "-n %lu is not a multiple of -v %d",
		    nr_hpages, nr_vcpus);
	per_vcpu = nr_hpages / nr_vcpus;
	TEST_ASSERT(load_hpages <= per_vcpu, "-l %lu: each vCPU owns only %lu 2M pages",
		    load_hpages, per_vcpu);

	/* The whole decay sequence: about ratio * ln(N) periods. */
	expected[nr_expected++] = nr_hpages;
	while (expected[nr_expected - 1]) {
		uint64_t left = expected[nr_expected - 1];

		TEST_ASSERT(nr_expected < (int)ARRAY_SIZE(expected),
			    "Too many recovery periods for -n %lu -r %lu", nr_hpages, ratio);
		expected[nr_expected++] = left - DIV_ROUND_UP(left, ratio);
	}

	ksft_print_header();

	/* Recovery stays off (ratio 0) until phase A's second half. */
	nx_params_take(nr_hpages);
	set_param(P_PERIOD, LOAD_PERIOD_MS);

	ksft_print_msg("kvm.nx_huge_pages was %s, ratio %s, period %s ms; tdp_mmu: %s\n",
		       saved[P_NX], saved[P_RATIO], saved[P_PERIOD],
		       read_param("tdp_mmu", seq, sizeof(seq)) ? "?" : seq);
	ksft_print_msg("%d vCPUs, %lu 2M pages (%lu per vCPU, %lu under load), %d s of load twice\n",
		       nr_vcpus, nr_hpages, per_vcpu, load_hpages, load_secs);
	ksft_set_plan(NR_CHECKS);

	slot_size = nr_hpages * HPAGE_SIZE;
	vm = __vm_create_with_vcpus(VM_SHAPE_DEFAULT, nr_vcpus, slot_size / HPAGE_SIZE + 64,
				    guest_code, vcpus);
	vm_userspace_mem_region_add(vm, VM_MEM_SRC_ANONYMOUS_HUGETLB_2MB, DATA_GPA,
				    DATA_SLOT, slot_size / PAGE_SIZE, 0);
	/*
	 * With TDP, KVM may map the slot with 2M pages whatever the guest's own
	 * page size; with shadow paging the guest must use 2M pages too.
	 */
	virt_map_level(vm, DATA_GVA, DATA_GPA, slot_size,
		       kvm_is_tdp_enabled() ? PG_LEVEL_4K : PG_LEVEL_2M);

	/* 'ret' all over the first 4K page of each 2M page, pattern 0 elsewhere. */
	data = addr_gpa2hva(vm, DATA_GPA);
	for (off = 0; off < slot_size; off += 8) {
		if (off % HPAGE_SIZE < PAGE_SIZE)
			memset(data + off, RET_OPCODE, 8);
		else
			*(uint64_t *)(data + off) = pattern(DATA_GVA + off, 0);
	}

	stats_open(&vm_stats, vm_get_stats_fd(vm));
	for (i = 0; i < nr_vcpus; i++) {
		vcpu_args_set(vcpus[i], 4, (uint64_t)i, DATA_GVA + i * per_vcpu * HPAGE_SIZE,
			      per_vcpu, load_hpages);
		stats_open(&vcpu_stats[i], vcpu_get_stats_fd(vcpus[i]));
	}
	park_init(&park, nr_vcpus, vcpus);

	/* Up to the first parking ucall. */
	start_vcpus(vm, CMD_SPLIT);
	wait_parked();

	/* Phase A: the same load without recovery, then with it. */
	noload = run_load(vm, load_secs);
	ksft_print_msg("no recovery: %lu iterations in %.1f s (slowest vCPU %lu), %lu faults, nx_lpage_splits %lu, fell %lu times\n",
		       noload.iters, noload.secs, noload.min_iters, noload.faults, splits(),
		       noload.drops);

	set_param(P_RATIO, LOAD_RATIO);
	load = run_load(vm, load_secs);
	ksft_print_msg("recovery ratio %d every %d ms: %lu iterations in %.1f s (slowest vCPU %lu), %lu faults, nx_lpage_splits fell %lu times\n",
		       LOAD_RATIO, LOAD_PERIOD_MS, load.iters, load.secs, load.min_iters,
		       load.faults, load.drops);

	printf("bench: nx_noload_guest_iterations_per_sec %.0f\n", noload.iters / noload.secs);
	printf("bench: nx_load_guest_iterations_per_sec %.0f\n", load.iters / load.secs);
	printf("bench: nx_load_progress_percent %.0f\n",
	       noload.iters ? 100.0 * (load.iters / load.secs) / (noload.iters / noload.secs) : 0);
	printf("bench: nx_noload_pf_taken %lu\n", noload.faults);
	printf("bench: nx_load_pf_taken %lu\n", load.faults);
	printf("bench: nx_load_splits_falls_seen %lu\n", load.drops);

	ksft_test_result(noload.min_iters && load.min_iters,
			 "every vCPU made progress: at least %lu iterations without recovery, %lu with\n",
			 noload.min_iters, load.min_iters);
	/*
	 * The host samples nx_lpage_splits every 10 ms during each load.  With
	 * ratio 0 it never falls.  With recovery on, each period zaps every
	 * split page and the vCPUs' next instruction fetches split them again,
	 * so the count falls again and again; two falls at least mean that
	 * recovery zapped pages that the running vCPUs had split again.  (The
	 * fault counts tell less: the TDP MMU splits a huge SPTE in place on
	 * an instruction fetch, so a zap costs the vCPUs as few as two faults.)
	 */
	ksft_test_result(!noload.drops && load.drops >= 2,
			 "recovery zaps split pages while the vCPUs run: nx_lpage_splits fell %lu times with recovery, %lu without\n",
			 load.drops, noload.drops);

	/* Every byte of the slot: 'ret's, the last pattern, the host's fill. */
	nr_bad = 0;
	for (off = 0; off < slot_size; off += 8) {
		uint64_t gva = DATA_GVA + off, val = *(uint64_t *)(data + off), exp;
		uint64_t id = off / (per_vcpu * HPAGE_SIZE);
		uint64_t nth = off % (per_vcpu * HPAGE_SIZE) / HPAGE_SIZE;

		if (off % HPAGE_SIZE < PAGE_SIZE)
			memset(&exp, RET_OPCODE, sizeof(exp));
		else if (off % PAGE_SIZE == 0 && nth < load_hpages)
			exp = pattern(gva, park.sync_val[id]);
		else
			exp = pattern(gva, 0);
		if (val != exp && !nr_bad++)
			ksft_print_msg("GVA 0x%lx holds 0x%lx, expected 0x%lx\n", gva, val, exp);
	}
	ksft_test_result(!nr_bad, "guest data intact after the load: %lu bad words\n", nr_bad);

	/* Phase B: everything back with the vCPUs parked, then N fresh splits. */
	ok = wait_splits_zero(60);
	ksft_test_result(ok, "recovery takes back every split page once the vCPUs stop: nx_lpage_splits %lu\n",
			 splits());
	set_param(P_RATIO, 0);

	start_vcpus(vm, CMD_SPLIT);
	wait_parked();
	cur = splits();
	ksft_test_result(cur == nr_hpages,
			 "executing once from each 2M page splits it: nx_lpage_splits %lu, expected %lu\n",
			 cur, nr_hpages);

	set_param(P_PERIOD, period_ms);
	set_param(P_RATIO, ratio);
	len = snprintf(seq, sizeof(seq), "%lu", cur);
	deadline = time(NULL) + pace_timeout;
	ok = cur == nr_hpages;
	t_prev = now_ms();
	for (prev = cur, j = 0; ok && prev; prev = cur) {
		if (time(NULL) > deadline) {
			ksft_print_msg("recovery left %lu of %lu pages split after %lu s\n",
				       prev, nr_hpages, pace_timeout);
			ok = false;
			break;
		}
		cur = stable_splits(period_ms / 20 ? period_ms / 20 : 1);
		t_cur = now_ms();
		if (cur == prev)
			continue;
		if (len < sizeof(seq) - 24)
			len += snprintf(seq + len, sizeof(seq) - len, " %lu", cur);

		/*
		 * Several periods may go by between two stable reads, but no
		 * more than the time allows: the worker waits a full period
		 * after each pass, so at most one pass more than the number
		 * of whole periods that fit since the last read.  This catches
		 * a budget computed from a count that is too high, which
		 * takes back everything at once and still ends on values
		 * that are in the sequence.
		 */
		j_prev = j;
		while (j < nr_expected && expected[j] > cur)
			j++;
		in_seq = j < nr_expected && expected[j] == cur;
		periods = (t_cur - t_prev) / period_ms + 1;
		if (!in_seq) {
			ksft_print_msg("nx_lpage_splits fell from %lu to %lu, but with %lu left and ratio %lu a period recovers %lu, to %lu\n",
				       prev, cur, prev, ratio, DIV_ROUND_UP(prev, ratio),
				       prev - DIV_ROUND_UP(prev, ratio));
			ok = false;
		} else if ((uint64_t)(j - j_prev) > periods) {
			ksft_print_msg("nx_lpage_splits fell from %lu to %lu, %d periods' worth, in %lu ms: at most %lu periods with period %lu ms\n",
				       prev, cur, j - j_prev, t_cur - t_prev, periods, period_ms);
			ok = false;
		}
		t_prev = t_cur;
	}
	ksft_print_msg("nx_lpage_splits: %s\n", seq);
	len = 0;
	seq[0] = '\0';
	for (i = 0; i < nr_expected && len < sizeof(seq) - 24; i++)
		len += snprintf(seq + len, sizeof(seq) - len, "%s%lu", i ? " " : "", expected[i]);
	ksft_test_result(ok, "recovery pace with ratio %lu, period %lu ms follows %s\n",
			 ratio, period_ms, seq);

	start_vcpus(vm, CMD_DONE);
	wait_parked();
	park_join(&park);
	kvm_vm_free(vm);
	ksft_finished();
}
