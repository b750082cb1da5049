// SPDX-License-Identifier: GPL-2.0-only
/*
 * vm_memory_bench: memory charged to a memory cgroup per VM.
 *
 * Moves itself into a fresh cgroup v2 group with the memory controller and
 * reads memory.current (an exact page counter, unlike memory.stat, whose
 * figures are flushed lazily) around three phases:
 *
 *  idle    N VMs created with a bare KVM_CREATE_VM: no memslot, no vCPU and
 *          no userspace allocation in between, so the delta is what KVM
 *          charges for a VM by itself.
 *  l1      M VMs with one vCPU whose guest (L1) runs and exits; no nested
 *          guest, so with the TDP MMU nothing needs a shadow root.
 *  nested  M VMs like "l1", but L1 first runs L2 once with nested paging
 *          (NPT) on, which makes L0 build a shadow root for the nested TDP.
 *
 * memory.current moves in batches: each CPU pre-charges up to 64 pages
 * (MEMCG_CHARGE_BATCH) and hands them out before charging again, so one
 * reading can be off by up to 256 KiB.  The benchmark pins itself to one CPU
 * and divides by many VMs; it prints the resulting resolution per VM.
 *
 * Prints "bench: <phase>_bytes_per_vm <value>" lines for scripts/bench.sh,
 * which runs it on the base and the patched kernel and puts them side by
 * side.  It is a measurement, not a test: it fails only when it cannot
 * measure (no cgroup v2, no SVM with NPT for the nested phase: that phase
 * is then reported as skipped).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_util.h"
#include "kvm_util.h"
#include "processor.h"
#include "svm_util.h"
#include "npt.h"

#define CGROOT	"/sys/fs/cgroup"
#define CGDIR	CGROOT "/vm_memory_bench"

static void write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY);

	TEST_ASSERT(fd >= 0, "open(%s) failed", path);
	TEST_ASSERT(write(fd, val, strlen(val)) == (ssize_t)strlen(val),
		    "write(%s, %s) failed", path, val);
	close(fd);
}

static uint64_t memory_current(void)
{
	unsigned long long v;
	FILE *f = fopen(CGDIR "/memory.current", "r");

	TEST_ASSERT(f, "open memory.current failed");
	TEST_ASSERT(fscanf(f, "%llu", &v) == 1, "read memory.current failed");
	fclose(f);
	return v;
}

static void enter_cgroup(void)
{
	char pid[32];

	if (access(CGROOT "/cgroup.controllers", F_OK)) {
		mkdir(CGROOT, 0755);
		TEST_ASSERT(!mount("none", CGROOT, "cgroup2", 0, NULL),
			    "mounting cgroup2 on " CGROOT " failed (errno %d)", errno);
	}
	write_file(CGROOT "/cgroup.subtree_control", "+memory");
	if (mkdir(CGDIR, 0755))
		TEST_ASSERT(errno == EEXIST, "mkdir " CGDIR " failed");
	snprintf(pid, sizeof(pid), "%d", getpid());
	write_file(CGDIR "/cgroup.procs", pid);
}

static int l2_ran;

static void l2_guest_code(void)
{
	WRITE_ONCE(l2_ran, 1);
	vmmcall();
}

static void l1_guest_code(struct svm_test_data *svm, uint64_t npt_root)
{
	unsigned long l2_stack[64] __aligned(16);

	if (npt_root) {
		generic_svm_setup(svm, l2_guest_code, &l2_stack[64 - 1]);
		svm->vmcb->control.nested_ctl |= SVM_NESTED_CTL_NP_ENABLE;
		svm->vmcb->control.nested_cr3 = npt_root;
		run_guest(svm->vmcb, svm->vmcb_gpa);
		GUEST_ASSERT_EQ(svm->vmcb->control.exit_code, SVM_EXIT_VMMCALL);
		GUEST_ASSERT(READ_ONCE(l2_ran));
	}
	GUEST_DONE();
}

/* One VM with one vCPU: L1 runs (and runs L2 with NPT when @nested). */
static struct kvm_vm *run_one_vm(bool nested)
{
	vm_vaddr_t svm_gva = 0;
	vm_paddr_t npt_root = 0;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ucall uc;

	vm = vm_create_with_one_vcpu(&vcpu, l1_guest_code);
	if (nested) {
		vcpu_alloc_svm(vm, &svm_gva);
		npt_root = npt_alloc_table(vm);
		npt_identity_map_slot0(vm, npt_root);
	}
	vcpu_args_set(vcpu, 2, svm_gva, npt_root);
	vcpu_run(vcpu);
	TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_IO);
	switch (get_ucall(vcpu, &uc)) {
	case UCALL_DONE:
		break;
	case UCALL_ABORT:
		REPORT_GUEST_ASSERT(uc);
	default:
		TEST_FAIL("unexpected ucall %lu", uc.cmd);
	}
	if (nested)
		TEST_ASSERT(vm_get_stat(vm, "mmu_cache_miss") > 0,
			    "L2 ran but no shadow page was created");
	return vm;
}

static uint64_t per_vm(bool nested, int nr)
{
	struct kvm_vm **vms = calloc(nr, sizeof(*vms));
	uint64_t before, after;
	int i;

	TEST_ASSERT(vms, "Out of memory");
	/* Warm up allocator caches so the first VM is not an outlier. */
	kvm_vm_free(run_one_vm(nested));
	before = memory_current();
	for (i = 0; i < nr; i++)
		vms[i] = run_one_vm(nested);
	after = memory_current();
	for (i = 0; i < nr; i++)
		kvm_vm_free(vms[i]);
	free(vms);
	return (after - before) / nr;
}

int main(int argc, char *argv[])
{
	int nr_idle = 256, nr_run = 32, opt, i, kvm_fd, *fds;
	uint64_t before, after;
	cpu_set_t cpus;

	while ((opt = getopt(argc, argv, "n:m:h")) != -1) {
		switch (opt) {
		case 'n':
			nr_idle = atoi_positive("Idle VMs", optarg);
			break;
		case 'm':
			nr_run = atoi_positive("VMs with a vCPU", optarg);
			break;
		default:
			printf("usage: %s [-n idle VMs (256)] [-m VMs with a vCPU (32)]\n", argv[0]);
			exit(opt == 'h' ? 0 : 1);
		}
	}

	/* One CPU, so that only one per-CPU charge batch is in play. */
	CPU_ZERO(&cpus);
	CPU_SET(0, &cpus);
	TEST_ASSERT(!sched_setaffinity(0, sizeof(cpus), &cpus), "sched_setaffinity failed");
	enter_cgroup();
	printf("bench: resolution_idle_bytes %d\n", 64 * 4096 / nr_idle);
	printf("bench: resolution_vcpu_bytes %d\n", 64 * 4096 / nr_run);

	/* idle: bare KVM_CREATE_VM, nothing else allocated in between. */
	fds = calloc(nr_idle, sizeof(*fds));
	TEST_ASSERT(fds, "Out of memory");
	kvm_fd = open_kvm_dev_path_or_exit();
	close(__kvm_ioctl(kvm_fd, KVM_CREATE_VM, NULL));
	before = memory_current();
	for (i = 0; i < nr_idle; i++) {
		fds[i] = __kvm_ioctl(kvm_fd, KVM_CREATE_VM, NULL);
		TEST_ASSERT(fds[i] >= 0, "KVM_CREATE_VM #%d failed", i);
	}
	after = memory_current();
	for (i = 0; i < nr_idle; i++)
		close(fds[i]);
	printf("bench: idle_bytes_per_vm %lu\n", (after - before) / nr_idle);

	printf("bench: l1_bytes_per_vm %lu\n", per_vm(false, nr_run));

	if (kvm_cpu_has(X86_FEATURE_SVM) && kvm_cpu_has(X86_FEATURE_NPT))
		printf("bench: nested_bytes_per_vm %lu\n", per_vm(true, nr_run));
	else
		printf("bench: nested_bytes_per_vm skipped (no SVM with NPT)\n");
	return 0;
}
