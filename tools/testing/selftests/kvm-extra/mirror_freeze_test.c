// SPDX-License-Identifier: GPL-2.0-only
/*
 * mirror_freeze_test
 *
 * Several vCPUs of one KVM_X86_SW_PROTECTED_VM fault the same 2 MiB region at
 * the same moment.  With the series' software backend for mirror page tables
 * (kvm.mirror_sw=1) the VM's TDP MMU roots are mirror roots, mapped with 4 KiB
 * pages only, and every new SPTE, leaf or link to a page table, is installed
 * by freezing it (FROZEN_SPTE), propagating it to the external table, then
 * publishing it.  The vCPUs race for the same page tables and the same leaf
 * SPTEs: a vCPU that finds one frozen must back off and retry, never build
 * below a table the external side does not have yet, and never lose a write.
 *
 * The test makes the freeze long enough to be found (kvm.mirror_sw_set_delay_us
 * for the duration of the run), releases the vCPUs together, and checks:
 *   - every vCPU's word in every page of the region holds what it wrote;
 *   - frozen mirror SPTEs were found and the faults retried (the vCPU stat
 *     mirror_frozen_retries, summed over the vCPUs);
 *   - the backend saw no violation and the tables agree.
 * Without kvm.mirror_sw the data check runs, the others SKIP with the reason.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "kselftest.h"
#include "test_util.h"
#include "kvm_util.h"
#include "processor.h"
#include "mirror_sw.h"

#define DATA_SLOT	10
#define DATA_GPA	(1ULL << 32)
#define REGION_SIZE	(2ULL << 20)
#define MAX_VCPUS	8

static pthread_barrier_t start;

static inline uint64_t word(uint64_t id, uint64_t gva)
{
	return (id << 56) ^ gva ^ 0xa5a5a5a5a5a5ULL;
}

/* vCPU @id writes its own word of every page, then reads them all back. */
static void guest_code(uint64_t id)
{
	uint64_t gva;

	for (gva = DATA_GPA; gva < DATA_GPA + REGION_SIZE; gva += PAGE_SIZE)
		WRITE_ONCE(*(uint64_t *)(gva + id * 8), word(id, gva));
	for (gva = DATA_GPA; gva < DATA_GPA + REGION_SIZE; gva += PAGE_SIZE)
		__GUEST_ASSERT(READ_ONCE(*(uint64_t *)(gva + id * 8)) == word(id, gva),
			       "vCPU %lu: GVA 0x%lx holds 0x%lx", id, gva,
			       READ_ONCE(*(uint64_t *)(gva + id * 8)));
	GUEST_DONE();
}

static void *vcpu_thread(void *arg)
{
	struct kvm_vcpu *vcpu = arg;
	struct ucall uc;

	pthread_barrier_wait(&start);
	vcpu_run(vcpu);
	TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_IO);
	switch (get_ucall(vcpu, &uc)) {
	case UCALL_DONE:
		break;
	case UCALL_ABORT:
		REPORT_GUEST_ASSERT(uc);
		break;
	default:
		TEST_FAIL("unexpected ucall %lu", uc.cmd);
	}
	return NULL;
}

int main(int argc, char *argv[])
{
	const struct vm_shape shape = {
		.mode = VM_MODE_DEFAULT,
		.type = KVM_X86_SW_PROTECTED_VM,
	};
	struct kvm_vcpu *vcpus[MAX_VCPUS];
	pthread_t threads[MAX_VCPUS];
	uint64_t gva, id, nr_bad = 0, frozen = 0;
	long mirror, old_delay = -1;
	struct mirror_counts mc;
	int opt, i, nr_vcpus = 4, delay_us = 200;
	char val[32];
	struct kvm_vm *vm;

	while ((opt = getopt(argc, argv, "n:d:h")) != -1) {
		switch (opt) {
		case 'n':
			nr_vcpus = atoi_positive("Number of vCPUs", optarg);
			TEST_ASSERT(nr_vcpus <= MAX_VCPUS, "-n: at most %d", MAX_VCPUS);
			break;
		case 'd':
			delay_us = atoi_non_negative("Set delay (us)", optarg);
			break;
		default:
			printf("usage: %s [-n vCPUs (4)] [-d kvm.mirror_sw_set_delay_us (200)]\n",
			       argv[0]);
			exit(KSFT_SKIP);
		}
	}

	TEST_REQUIRE(kvm_check_cap(KVM_CAP_VM_TYPES) & BIT(KVM_X86_SW_PROTECTED_VM));
	mirror = read_kvm_param("mirror_sw");

	ksft_print_header();
	ksft_set_plan(3);
	ksft_print_msg("kvm.mirror_sw %s, %d vCPUs, set delay %d us\n",
		       mirror < 0 ? "absent" : mirror ? "Y" : "N", nr_vcpus, delay_us);

	vm = __vm_create_with_vcpus(shape, nr_vcpus, 0, guest_code, vcpus);
	/* The host never touches the region: every page is faulted by a vCPU. */
	vm_userspace_mem_region_add(vm, VM_MEM_SRC_ANONYMOUS, DATA_GPA, DATA_SLOT,
				    REGION_SIZE / PAGE_SIZE, 0);
	virt_map(vm, DATA_GPA, DATA_GPA, REGION_SIZE / PAGE_SIZE);
	for (i = 0; i < nr_vcpus; i++)
		vcpu_args_set(vcpus[i], 1, (uint64_t)i);

	if (mirror == 1) {
		old_delay = read_kvm_param("mirror_sw_set_delay_us");
		snprintf(val, sizeof(val), "%d", delay_us);
		TEST_ASSERT(old_delay >= 0 && !write_kvm_param("mirror_sw_set_delay_us", val),
			    "kvm.mirror_sw_set_delay_us can't be set");
	}

	TEST_ASSERT(!pthread_barrier_init(&start, NULL, nr_vcpus), "pthread_barrier_init");
	for (i = 0; i < nr_vcpus; i++)
		TEST_ASSERT(!pthread_create(&threads[i], NULL, vcpu_thread, vcpus[i]),
			    "pthread_create");
	for (i = 0; i < nr_vcpus; i++)
		pthread_join(threads[i], NULL);

	if (old_delay >= 0) {
		snprintf(val, sizeof(val), "%ld", old_delay);
		write_kvm_param("mirror_sw_set_delay_us", val);
	}

	for (gva = DATA_GPA; gva < DATA_GPA + REGION_SIZE; gva += PAGE_SIZE) {
		for (id = 0; id < (uint64_t)nr_vcpus; id++)
			nr_bad += *(uint64_t *)addr_gva2hva(vm, gva + id * 8) != word(id, gva);
	}
	ksft_test_result(!nr_bad, "%d vCPUs wrote the same %llu pages at once: %lu words lost\n",
			 nr_vcpus, REGION_SIZE / PAGE_SIZE, nr_bad);

	if (mirror != 1) {
		ksft_test_result_skip("frozen mirror SPTEs found and retried: kvm.mirror_sw is not on\n");
		ksft_test_result_skip("no contract violation, tables agree: kvm.mirror_sw is not on\n");
		kvm_vm_free(vm);
		ksft_finished();
	}

	for (i = 0; i < nr_vcpus; i++)
		frozen += kvm_stat(vm, vcpus[i], "mirror_frozen_retries");
	ksft_test_result(frozen > 0, "frozen mirror SPTEs found and retried: %lu times\n", frozen);

	read_mirror_counts(vm, &mc);
	ksft_test_result(!mc.violations && mc.compared > 0 && !mc.mismatches,
			 "no contract violation, tables agree: %lld violations, %lld compared, %lld mismatches\n",
			 mc.violations, mc.compared, mc.mismatches);

	kvm_vm_free(vm);
	ksft_finished();
}
