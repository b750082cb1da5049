// SPDX-License-Identifier: GPL-2.0-only
/*
 * mirror_sw_test
 *
 * Run a KVM_X86_SW_PROTECTED_VM through private and shared memory, with
 * conversions in both directions and a memslot deletion, and check what the
 * series' software backend for mirror page tables (kvm.mirror_sw=1) saw:
 * every kind of operation happened (leaf sets, links, removals, table frees),
 * the -EBUSY failures it injects (kvm.mirror_sw_inject_busy) happened and were
 * retried, no rule of the propagation was broken, and the mirror and external
 * tables agree entry for entry.  The guest and the host check the data.
 *
 * Phases, one vCPU, one guest_memfd slot of -m MiB:
 *   1. all private: the guest writes and reads back every page;
 *   2. the first half converted to shared (its private SPTEs are zapped): the
 *      guest writes it through the shared mapping and rereads the private
 *      half, which must still hold its phase 1 data; the host checks the
 *      shared half through its own mapping;
 *   3. back to private: the guest writes and reads back everything again;
 *   4. the slot is deleted: its leaf SPTEs are zapped (a software-protected
 *      VM zaps only the slot's leaves), then kvm.nx_huge_pages is flipped
 *      and flipped back, which zaps every root of every VM ("fast zap"):
 *      the page tables, and their external tables, are freed.
 *
 * Without kvm.mirror_sw the VM has no mirror roots: the data checks still run,
 * the backend checks SKIP with the reason.  The time of phase 1 (faulting the
 * slot in) is printed as "bench: populate_us N" to compare the two modes; with
 * -r N it is the median of N fresh VMs, as single runs under emulation vary.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kselftest.h"
#include "test_util.h"
#include "kvm_util.h"
#include "processor.h"

#define DATA_SLOT	10
#define DATA_GPA	(1ULL << 32)
#define PARAM_DIR	"/sys/module/kvm/parameters/"

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

	guest_write_check(DATA_GPA, end, 1);
	GUEST_SYNC(1);

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

static long read_param(const char *name)
{
	char path[128], buf[32] = "";
	int fd;

	snprintf(path, sizeof(path), PARAM_DIR "%s", name);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	if (read(fd, buf, sizeof(buf) - 1) <= 0)
		buf[0] = '\0';
	close(fd);
	if (buf[0] == 'Y')
		return 1;
	if (buf[0] == 'N')
		return 0;
	return strtol(buf, NULL, 0);
}

static int write_param(const char *name, const char *val)
{
	char path[128];
	int fd, r;

	snprintf(path, sizeof(path), PARAM_DIR "%s", name);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -1;
	r = write(fd, val, strlen(val)) == (ssize_t)strlen(val) ? 0 : -1;
	close(fd);
	return r;
}

struct mirror_counts {
	long long sets, links, removals, frees, injected_busy, violations;
	long long compared, mismatches;
};

static void read_counts(struct kvm_vm *vm, struct mirror_counts *c)
{
	char path[128], name[32];
	long long val;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/kernel/debug/kvm/%d-%d/mirror_sw", getpid(), vm->fd);
	f = fopen(path, "r");
	TEST_ASSERT(f, "kvm.mirror_sw is on, but %s can't be opened", path);
	memset(c, 0xff, sizeof(*c));
	while (fscanf(f, "%31s %lld", name, &val) == 2) {
		if (!strcmp(name, "sets"))
			c->sets = val;
		else if (!strcmp(name, "links"))
			c->links = val;
		else if (!strcmp(name, "removals"))
			c->removals = val;
		else if (!strcmp(name, "frees"))
			c->frees = val;
		else if (!strcmp(name, "injected_busy"))
			c->injected_busy = val;
		else if (!strcmp(name, "violations"))
			c->violations = val;
		else if (!strcmp(name, "compared"))
			c->compared = val;
		else if (!strcmp(name, "mismatches"))
			c->mismatches = val;
	}
	fclose(f);
	ksft_print_msg("mirror_sw: sets %lld links %lld removals %lld frees %lld injected_busy %lld violations %lld compared %lld mismatches %lld\n",
		       c->sets, c->links, c->removals, c->frees, c->injected_busy,
		       c->violations, c->compared, c->mismatches);
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
	uint64_t size, half, gpa, t0, populate_us[16], nr_bad = 0;
	struct mirror_counts c1, c2;
	long mirror, inject, nx;
	bool nx_flipped;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	int opt, i, mib = 16, repeat = 1;

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

	mirror = read_param("mirror_sw");
	inject = read_param("mirror_sw_inject_busy");

	ksft_print_header();
	ksft_set_plan(8);
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
	run_to(vcpu, 2);
	for (gpa = DATA_GPA; gpa < DATA_GPA + half; gpa += PAGE_SIZE)
		nr_bad += *(uint64_t *)addr_gpa2hva(vm, gpa) != pattern(gpa, 2);
	ksft_test_result(!nr_bad, "shared half seen by the host, private half kept: %lu bad pages\n",
			 nr_bad);

	vm_mem_set_private(vm, DATA_GPA, half);
	run_to(vcpu, 0);
	ksft_test_result_pass("converted back to private, written and read back\n");

	if (mirror != 1) {
		ksft_test_result_skip("operations propagated: kvm.mirror_sw is not on\n");
		ksft_test_result_skip("injected -EBUSY retried: kvm.mirror_sw is not on\n");
		ksft_test_result_skip("no contract violation: kvm.mirror_sw is not on\n");
		ksft_test_result_skip("mirror and external tables agree: kvm.mirror_sw is not on\n");
		ksft_test_result_skip("tables freed when all roots are zapped: kvm.mirror_sw is not on\n");
		kvm_vm_free(vm);
		ksft_finished();
	}

	read_counts(vm, &c1);
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
	 * Phase 4: deleting the slot zaps its leaves.  A change of
	 * kvm.nx_huge_pages zaps all roots of all VMs; flip it and back.
	 */
	vm_mem_region_delete(vm, DATA_SLOT);
	nx = read_param("nx_huge_pages");
	nx_flipped = nx >= 0 && !write_param("nx_huge_pages", nx ? "N" : "Y") &&
		     !write_param("nx_huge_pages", nx ? "Y" : "N");
	read_counts(vm, &c2);
	ksft_test_result(!c2.violations, "no contract violation: %lld\n", c2.violations);
	ksft_test_result(c1.compared > 0 && !c1.mismatches && !c2.mismatches,
			 "mirror and external tables agree: %lld entries compared, %lld + %lld mismatches\n",
			 c1.compared, c1.mismatches, c2.mismatches);
	if (nx_flipped)
		ksft_test_result(c2.frees > c1.frees,
				 "tables freed when all roots are zapped: %lld frees before, %lld after\n",
				 c1.frees, c2.frees);
	else
		ksft_test_result_skip("tables freed when all roots are zapped: kvm.nx_huge_pages can't be changed here\n");

	kvm_vm_free(vm);
	ksft_finished();
}
