// SPDX-License-Identifier: GPL-2.0-only
/*
 * mirror_sw_test
 *
 * Run a KVM_X86_SW_PROTECTED_VM through private and shared memory, with
 * conversions in both directions and a memslot deletion, and check what the
 * series' software backend for mirror page tables (kvm.mirror_sw=1) saw:
 * every kind of operation happened (leaf sets, links, removals), the -EBUSY
 * failures it injects (kvm.mirror_sw_inject_busy) happened and were retried,
 * writes to pages mapped read-only took the zap-and-retry path, no rule of the
 * propagation was broken, the mirror and external tables agree entry for
 * entry, and no page table of the live VM was freed.  The guest and the host
 * check the data.
 *
 * Phases, one vCPU, one guest_memfd slot of -m MiB:
 *   1. all private: the guest writes and reads back every page;
 *   2. the first half converted to shared (its private SPTEs are zapped): the
 *      host writes a token to each shared page, then forks a child that exits
 *      at once, which leaves the pages copy-on-write, read-only in the host's
 *      page tables; the guest reads each page first (KVM maps it read-only),
 *      then writes it: the host reuses the page in place (no copy, so no
 *      mmu_notifier invalidation zaps the SPTE first) and KVM must replace a
 *      present read-only mirror SPTE with a writable one, which it does by
 *      zapping it with mmu_lock held for write and retrying the fault (VM
 *      stat mirror_zap_retries); the guest rereads the private half, which
 *      must still hold its phase 1 data; the host checks the shared half
 *      through its own mapping;
 *   3. back to private: the guest writes and reads back everything again;
 *   4. the slot is deleted: its leaf SPTEs are zapped (a software-protected
 *      VM zaps only the slot's leaves), then kvm.nx_huge_pages is flipped
 *      and flipped back, which "fast zaps" every VM: the leaves of mirror
 *      roots are zapped, their page tables (and external tables) stay, as an
 *      owner of external tables frees them only with the VM.
 *
 * Without kvm.mirror_sw the VM has no mirror roots: the data checks still run,
 * the backend checks SKIP with the reason.  The time of phase 1 (faulting the
 * slot in) is printed as "bench: populate_us N" to compare the two modes; with
 * -r N it is the median of N fresh VMs, as single runs under emulation vary.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

#include "kselftest.h"
#include "test_util.h"
#include "kvm_util.h"
#include "processor.h"
#include "mirror_sw.h"

#define DATA_SLOT	10
#define DATA_GPA	(1ULL << 32)

static uint64_t nr_pages;

static inline uint64_t pattern(uint64_t gva, uint64_t phase)
{
	return gva ^ (phase << 56) ^ 0x5a5a5a5a00000000ULL;
}

static void guest_write_check(uint64_t start, uint64_t end, uint64_t phase)
{
	uint64_t gva;

	for (gva = start; gva < end; gva += PAGE_SIZE)
		WRITE_ONCE(*(uint64_t *)gva, pattern(gva, phase));
	for (gva = start; gva < end; gva += PAGE_SIZE)
		__GUEST_ASSERT(READ_ONCE(*(uint64_t *)gva) == pattern(gva, phase),
			       "phase %lu: GVA 0x%lx holds 0x%lx", phase, gva,
			       READ_ONCE(*(uint64_t *)gva));
}

static void guest_check(uint64_t start, uint64_t end, uint64_t phase)
{
	uint64_t gva;

	for (gva = start; gva < end; gva += PAGE_SIZE)
		__GUEST_ASSERT(READ_ONCE(*(uint64_t *)gva) == pattern(gva, phase),
			       "phase %lu data gone: GVA 0x%lx holds 0x%lx, expected 0x%lx",
			       phase, gva, READ_ONCE(*(uint64_t *)gva), pattern(gva, phase));
}

static void guest_code(void)
{
	uint64_t end = DATA_GPA + nr_pages * PAGE_SIZE;
	uint64_t half = DATA_GPA + nr_pages / 2 * PAGE_SIZE;
	uint64_t gva;

	guest_write_check(DATA_GPA, end, 1);
	GUEST_SYNC(1);

	/* The host's token in every shared page: read them first, then write. */
	for (gva = DATA_GPA; gva < half; gva += PAGE_SIZE)
		__GUEST_ASSERT(READ_ONCE(*(uint64_t *)gva) == pattern(gva, 9),
			       "shared GVA 0x%lx holds 0x%lx, not the host's token", gva,
			       READ_ONCE(*(uint64_t *)gva));
	guest_write_check(DATA_GPA, half, 2);
	guest_check(half, end, 1);
	GUEST_SYNC(2);

	guest_write_check(DATA_GPA, end, 3);
	GUEST_DONE();
}

static void run_to(struct kvm_vcpu *vcpu, uint64_t want)
{
	struct ucall uc;

	vcpu_run(vcpu);
	TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_IO);
	switch (get_ucall(vcpu, &uc)) {
	case UCALL_SYNC:
		TEST_ASSERT(uc.args[1] == want, "guest reached sync %lu, expected %lu",
			    uc.args[1], want);
		break;
	case UCALL_DONE:
		TEST_ASSERT(!want, "guest finished early, expected sync %lu", want);
		break;
	case UCALL_ABORT:
		REPORT_GUEST_ASSERT(uc);
		break;
	default:
		TEST_FAIL("unexpected ucall %lu", uc.cmd);
	}
}

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000ull + ts.tv_nsec / 1000;
}

static struct kvm_vm *create_vm(struct kvm_vcpu **vcpu, uint64_t size)
{
	const struct vm_shape shape = {
		.mode = VM_MODE_DEFAULT,
		.type = KVM_X86_SW_PROTECTED_VM,
	};
	struct kvm_vm *vm;
	int memfd;

	vm = vm_create_shape_with_one_vcpu(shape, vcpu, guest_code);
	memfd = vm_create_guest_memfd(vm, size, 0);
	vm_mem_add(vm, VM_MEM_SRC_ANONYMOUS, DATA_GPA, DATA_SLOT, nr_pages,
		   KVM_MEM_GUEST_MEMFD, memfd, 0);
	/*
	 * The memslot holds its own reference; a guest_memfd left open keeps
	 * the VM (and its debugfs directory, named after pid and VM fd) alive
	 * after kvm_vm_free(), and the next VM would read the wrong one.
	 */
	close(memfd);
	virt_map(vm, DATA_GPA, DATA_GPA, nr_pages);
	sync_global_to_guest(vm, nr_pages);
	vm_mem_set_private(vm, DATA_GPA, size);
	return vm;
}

/* Phase 1 alone, on a fresh VM: the time it takes to fault the slot in. */
static uint64_t populate_once(uint64_t size)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = create_vm(&vcpu, size);
	uint64_t t0 = now_us();

	run_to(vcpu, 1);
	t0 = now_us() - t0;
	kvm_vm_free(vm);
	return t0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char *argv[])
{
	uint64_t size, half, gpa, t0, populate_us[16], nr_bad = 0, zap_retries;
	struct mirror_counts c1, c_del, c2;
	long mirror, inject, nx;
	bool nx_flipped;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	int opt, i, mib = 16, repeat = 1;
	pid_t child;

	while ((opt = getopt(argc, argv, "m:r:h")) != -1) {
		switch (opt) {
		case 'm':
			mib = atoi_positive("Memory size in MiB", optarg);
			break;
		case 'r':
			repeat = atoi_positive("Populate repeats", optarg);
			TEST_ASSERT(repeat <= 16, "-r: at most 16");
			break;
		default:
			printf("usage: %s [-m MiB] [-r populate repeats, median]\n", argv[0]);
			exit(KSFT_SKIP);
		}
	}

	TEST_REQUIRE(kvm_check_cap(KVM_CAP_VM_TYPES) & BIT(KVM_X86_SW_PROTECTED_VM));

	mirror = read_kvm_param("mirror_sw");
	inject = read_kvm_param("mirror_sw_inject_busy");

	ksft_print_header();
	ksft_set_plan(10);
	ksft_print_msg("kvm.mirror_sw %s, kvm.mirror_sw_inject_busy %ld, %d MiB\n",
		       mirror < 0 ? "absent" : mirror ? "Y" : "N", inject, mib);

	size = (uint64_t)mib << 20;
	half = size / 2;
	nr_pages = size / PAGE_SIZE;

	for (i = 1; i < repeat; i++)
		populate_us[i] = populate_once(size);

	vm = create_vm(&vcpu, size);
	t0 = now_us();
	run_to(vcpu, 1);
	populate_us[0] = now_us() - t0;
	ksft_test_result_pass("private memory written and read back by the guest\n");
	qsort(populate_us, repeat, sizeof(populate_us[0]), cmp_u64);
	printf("bench: populate_us %lu\n", populate_us[repeat / 2]);

	vm_mem_set_shared(vm, DATA_GPA, half);
	for (gpa = DATA_GPA; gpa < DATA_GPA + half; gpa += PAGE_SIZE)
		*(uint64_t *)addr_gpa2hva(vm, gpa) = pattern(gpa, 9);
	/* Copy-on-write, read-only in the host until the next write. */
	child = fork();
	TEST_ASSERT(child >= 0, "fork failed");
	if (!child)
		_exit(0);
	TEST_ASSERT(waitpid(child, NULL, 0) == child, "waitpid failed");
	run_to(vcpu, 2);
	for (gpa = DATA_GPA; gpa < DATA_GPA + half; gpa += PAGE_SIZE)
		nr_bad += *(uint64_t *)addr_gpa2hva(vm, gpa) != pattern(gpa, 2);
	ksft_test_result(!nr_bad, "shared half read, then written: host sees it, private half kept: %lu bad pages\n",
			 nr_bad);

	vm_mem_set_private(vm, DATA_GPA, half);
	run_to(vcpu, 0);
	ksft_test_result_pass("converted back to private, written and read back\n");

	if (mirror != 1) {
		static const char * const what[] = {
			"operations propagated",
			"injected -EBUSY retried",
			"writes to read-only mirror SPTEs zapped and retried",
			"no contract violation",
			"mirror and external tables agree",
			"the fast zap frees no table of a live VM",
			"kvm.mirror_sw_inject_busy=1 refused",
		};

		for (i = 0; i < (int)ARRAY_SIZE(what); i++)
			ksft_test_result_skip("%s: kvm.mirror_sw is not on\n", what[i]);
		kvm_vm_free(vm);
		ksft_finished();
	}

	read_mirror_counts(vm, &c1);
	/*
	 * At least: every page set in phase 1, the converted half set again
	 * in phases 2 and 3 (shared, then private), and removed twice.
	 */
	ksft_test_result(c1.sets >= 2 * (long long)nr_pages && c1.links > 0 &&
			 c1.removals >= (long long)nr_pages,
			 "operations propagated: %lld leaf sets, %lld links, %lld removals for %lu pages\n",
			 c1.sets, c1.links, c1.removals, nr_pages);
	if (inject > 0)
		ksft_test_result(c1.injected_busy > 0,
				 "injected -EBUSY retried: %lld injected, every %ld sets\n",
				 c1.injected_busy, inject);
	else
		ksft_test_result_skip("injected -EBUSY retried: kvm.mirror_sw_inject_busy is 0\n");

	/*
	 * Each shared page was read (mapped read-only, copy-on-write), then
	 * written.  Not every page needs to take the path (the host may have
	 * copied one, e.g. a page the fork's child still held): at least one.
	 * The first version of the test read pages never written (the zero
	 * page): their write copies the page, the copy's invalidation zaps the
	 * SPTE first, and this count stayed 0.
	 */
	zap_retries = kvm_stat(vm, NULL, "mirror_zap_retries");
	ksft_test_result(zap_retries > 0,
			 "writes to read-only mirror SPTEs zapped and retried: %lu for %lu pages\n",
			 zap_retries, (uint64_t)(half / PAGE_SIZE));

	/*
	 * Phase 4: deleting the slot zaps its leaves.  A change of
	 * kvm.nx_huge_pages fast-zaps all VMs; flip it and back.
	 */
	vm_mem_region_delete(vm, DATA_SLOT);
	read_mirror_counts(vm, &c_del);
	nx = read_kvm_param("nx_huge_pages");
	nx_flipped = nx >= 0 && !write_kvm_param("nx_huge_pages", nx ? "N" : "Y") &&
		     !write_kvm_param("nx_huge_pages", nx ? "Y" : "N");
	read_mirror_counts(vm, &c2);
	ksft_test_result(!c2.violations, "no contract violation: %lld\n", c2.violations);
	ksft_test_result(c1.compared > 0 && !c1.mismatches && !c2.mismatches,
			 "mirror and external tables agree: %lld entries compared, %lld + %lld mismatches\n",
			 c1.compared, c1.mismatches, c2.mismatches);
	/*
	 * The fast zap removes the leaves of the other memslots (code, stacks,
	 * page tables), which the VM mapped, and no table goes while it lives.
	 */
	if (nx_flipped)
		ksft_test_result(!c2.frees && c2.removals > c_del.removals,
				 "the fast zap frees no table of a live VM: %lld frees, removals %lld -> %lld\n",
				 c2.frees, c_del.removals, c2.removals);
	else
		ksft_test_result_skip("the fast zap frees no table of a live VM: kvm.nx_huge_pages can't be changed here\n");

	/* Failing every set would let no fault make progress. */
	if (!write_kvm_param("mirror_sw_inject_busy", "1")) {
		char old[32];

		snprintf(old, sizeof(old), "%ld", inject);
		write_kvm_param("mirror_sw_inject_busy", old);
		ksft_test_result_fail("kvm.mirror_sw_inject_busy=1 refused: it was accepted\n");
	} else {
		ksft_test_result(read_kvm_param("mirror_sw_inject_busy") == inject,
				 "kvm.mirror_sw_inject_busy=1 refused, %ld kept\n", inject);
	}

	kvm_vm_free(vm);
	ksft_finished();
}
