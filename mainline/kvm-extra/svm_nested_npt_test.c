// SPDX-License-Identifier: GPL-2.0-only
/*
 * svm_nested_npt_test
 *
 * Nested SVM with nested paging (NPT) enabled for L2, on several vCPUs at
 * once.
 *
 * When L1 runs L2 with NPT, L0 cannot use its own TDP page tables for L2: it
 * shadows L1's NPT tables, i.e. it builds a shadow root for the nested TDP
 * (with the TDP MMU enabled this is the first shadow page of the VM).  This
 * is where kvm->arch.mmu_page_hash gets used for the first time, and where
 * it is lazily allocated once that allocation is deferred.  The test makes
 * all vCPUs enter that path at the same moment, while some of them are still
 * taking ordinary TDP faults for L1 memory, and checks that every translation
 * is right.
 *
 * The host builds one NPT, shared by all vCPUs, in guest memory: the low
 * guest memory (code, stacks, L1 page tables that L2 reuses as its own CR3)
 * is identity mapped with 2M pages, and a data window at L2 GPA D is mapped
 * with 4K pages to L1 GPA D + OFFSET.  The data memslot covers both
 * [D, D + OFFSET), which nobody may write, and the window's backing at
 * D + OFFSET, so a missing or wrong translation shows up as bad data rather
 * than only as an exit.
 *
 * Each iteration, L2 checks a word that L1 (or the host, the first time)
 * wrote to every page of its vCPU's slice, then writes a per-vCPU,
 * per-iteration pattern to every 8 bytes of the slice through the L2 GPA and
 * exits with VMMCALL.  L1 checks the exit, reads the slice back through the
 * L1 GPA, checks that the alias below it is untouched and writes the word L2
 * checks next.  L2 thus writes pages that L1 has just read and written, on
 * shadow pages that already exist.  The host finally checks the whole data
 * memslot.
 *
 * The library's run_guest() keeps L1's registers in a single global while L2
 * runs, which is not safe with several vCPUs, so L1 enters L2 with its own
 * small VMRUN wrapper; the rest is the library's SVM setup.
 *
 * With -f (fault injection, one vCPU), the first KVM_RUN, whose VMRUN makes
 * L0 build the VM's first shadow root, runs with every slab and page
 * allocation made from kvm_mmu_alloc_page_hash() failing (failslab and
 * fail_page_alloc, their stack-trace filter set to that function, for the
 * vCPU's thread only): KVM_RUN must fail with ENOMEM, and a second KVM_RUN,
 * without the failures, must build the root and run L2 as usual.  A kernel
 * that published the hash's absence as "shadow root allocated" would warn,
 * or oops, on the retry.  7.3 allocates the hash lazily too, with the TDP
 * MMU, from mmu_first_shadow_root_alloc() through a function of the same
 * name (with kvm.tdp_mmu=N it allocates it when the VM is created, and -f
 * skips).  It needs CONFIG_FAULT_INJECTION_STACKTRACE_FILTER, with failslab
 * and fail_page_alloc in debugfs (configs/kasan.config has them, the debug
 * config does not), and skips without them, or where the function is not
 * in /proc/kallsyms (inlined, or a kernel without the lazy allocation).
 *
 * This is the 7.x form of the test in tools/testing/selftests/kvm-extra (the
 * 6.12 series' copy): the 7.x library builds nested page tables itself
 * (vm_enable_npt(), tdp_map(); npt.h identity maps low memory), so the
 * hand-made NPT builder is gone and generic_svm_setup() turns nested paging
 * on.  The scenario and the checks are the same.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "test_util.h"
#include "kvm_util.h"
#include "processor.h"
#include "svm_util.h"
#include "npt.h"

#define DATA_SLOT		10
/* L2 GPA of the data window, D; the slot starts here too. */
#define DATA_GPA		(4ULL << 30)
/* Bytes written by the host to the alias [D, D + OFFSET); never rewritten. */
#define ALIAS_POISON		0x5a5a5a5a5a5a5a5aULL

#define WORDS_PER_PAGE		(PAGE_SIZE / sizeof(uint64_t))

#define L2_STACK_WORDS		512

#define DEFAULT_NR_VCPUS	4
#define DEFAULT_SLICE_MIB	4
#define DEFAULT_ITERATIONS	3

struct npt_vcpu_args {
	uint64_t vcpu_id;
	uint64_t l2_slice;	/* L2 GPA (and GVA) of this vCPU's slice */
	uint64_t l1_slice;	/* L1 GPA (and GVA) backing the slice */
	uint64_t alias;		/* L1 GPA (and GVA) of the slice's alias */
	uint64_t slice_size;
	uint64_t iterations;
	uint64_t npt_root;
	/* Take TDP faults on L1 memory before the first VMRUN. */
	uint64_t touch_first;
	/* Written by L1 before each VMRUN, read by L2. */
	uint64_t iter;
};

/*
 * The value of the word at L2 GPA @gpa of @vcpu_id's slice after iteration
 * @iter; iteration -1 is the host's initial fill.  The address is part of the
 * value so that data landing at the wrong place does not match.
 */
static inline uint64_t npt_pattern(uint64_t vcpu_id, int64_t iter, uint64_t gpa)
{
	return gpa ^ (vcpu_id << 52) ^ ((uint64_t)(iter + 1) * 0x9e3779b97f4a7c15ULL);
}

/*
 * The first word of each page of the slice holds the complement of the
 * pattern: L1 (or the host) writes it, L2 checks it before overwriting it.
 */
static inline uint64_t npt_token(uint64_t vcpu_id, int64_t iter, uint64_t gpa)
{
	return ~npt_pattern(vcpu_id, iter, gpa);
}

static void l2_guest_code(struct npt_vcpu_args *args)
{
	uint64_t id = args->vcpu_id;
	int64_t iter = args->iter;
	uint64_t gpa, i;

	for (gpa = args->l2_slice; gpa < args->l2_slice + args->slice_size;
	     gpa += PAGE_SIZE) {
		uint64_t *page = (uint64_t *)gpa;
		uint64_t val = READ_ONCE(page[0]);

		__GUEST_ASSERT(val == npt_token(id, iter - 1, gpa),
			       "L2 (vCPU %lu, iteration %ld) reads 0x%lx at L2 GPA 0x%lx, expected 0x%lx",
			       id, iter, val, gpa, npt_token(id, iter - 1, gpa));

		for (i = 0; i < WORDS_PER_PAGE; i++)
			WRITE_ONCE(page[i], npt_pattern(id, iter, gpa + i * 8));
	}

	vmmcall();
	GUEST_FAIL("L2 resumed after VMMCALL");
}

/*
 * Enter L2 at the RIP/RSP in the VMCB with @args in RDI.  L2 never resumes
 * after its VMMCALL, so nothing of its register state is kept; everything but
 * RAX, RSP and RIP (restored by #VMEXIT) is clobbered.  RBP is saved by hand,
 * below the red zone.  Not inlined, so that no live value sits in a vector
 * register that L2 may change.
 */
static noinline void l1_vmrun(uint64_t vmcb_gpa, struct npt_vcpu_args *args)
{
	uint64_t rax = vmcb_gpa;
	void *rdi = args;

	asm volatile("lea -128(%%rsp), %%rsp\n\t"
		     "push %%rbp\n\t"
		     "vmload %%rax\n\t"
		     "vmrun %%rax\n\t"
		     "vmsave %%rax\n\t"
		     "pop %%rbp\n\t"
		     "lea 128(%%rsp), %%rsp\n\t"
		     : "+a"(rax), "+D"(rdi)
		     :
		     : "rbx", "rcx", "rdx", "rsi", "r8", "r9", "r10", "r11",
		       "r12", "r13", "r14", "r15", "cc", "memory");
}

/* Check that [D, D + OFFSET) of this slice still holds the host's poison. */
static void l1_check_alias(struct npt_vcpu_args *args, int64_t iter)
{
	uint64_t gpa, i;

	for (gpa = args->alias; gpa < args->alias + args->slice_size;
	     gpa += PAGE_SIZE) {
		uint64_t *page = (uint64_t *)gpa;

		for (i = 0; i < WORDS_PER_PAGE; i++) {
			uint64_t val = READ_ONCE(page[i]);

			__GUEST_ASSERT(val == ALIAS_POISON,
				       "vCPU %lu, iteration %ld: alias L1 GPA 0x%lx holds 0x%lx, expected poison",
				       args->vcpu_id, iter, gpa + i * 8, val);
		}
	}
}

static void l1_guest_code(struct svm_test_data *svm, struct npt_vcpu_args *args)
{
	unsigned long l2_stack[L2_STACK_WORDS] __aligned(16);
	uint64_t offset = args->l1_slice - args->l2_slice;
	uint64_t id = args->vcpu_id;
	struct vmcb *vmcb = svm->vmcb;
	uint64_t gpa, i;
	int64_t iter;

	/*
	 * Half of the vCPUs fault in their slice of L1 memory before the
	 * first VMRUN, so that their TDP faults run while the others build
	 * the nested TDP shadow root.
	 */
	if (args->touch_first) {
		for (gpa = args->l2_slice; gpa < args->l2_slice + args->slice_size;
		     gpa += PAGE_SIZE) {
			uint64_t val = READ_ONCE(*(uint64_t *)(gpa + offset));

			__GUEST_ASSERT(val == npt_token(id, -1, gpa),
				       "vCPU %lu: L1 GPA 0x%lx holds 0x%lx before L2 ran, expected 0x%lx",
				       id, gpa + offset, val, npt_token(id, -1, gpa));
		}
		l1_check_alias(args, -1);
	}

	/* The NPT root was set up by the host: this turns nested paging on. */
	generic_svm_setup(svm, l2_guest_code);
	__GUEST_ASSERT(vmcb->control.nested_cr3 == args->npt_root &&
		       (vmcb->control.misc_ctl & SVM_MISC_ENABLE_NP),
		       "vCPU %lu: nested paging is not enabled for L2", id);

	for (iter = 0; iter < args->iterations; iter++) {
		args->iter = iter;

		/* L2 starts over each time; RSP + 8 is 16-byte aligned. */
		vmcb->save.rip = (uint64_t)l2_guest_code;
		vmcb->save.rsp = (uint64_t)&l2_stack[L2_STACK_WORDS - 1];
		vmcb->save.rflags = X86_EFLAGS_FIXED;

		l1_vmrun(svm->vmcb_gpa, args);

		__GUEST_ASSERT(vmcb->control.exit_code == SVM_EXIT_VMMCALL,
			       "vCPU %lu, iteration %ld: L2 exit 0x%lx, info1 0x%lx, info2 0x%lx",
			       id, iter, vmcb->control.exit_code,
			       vmcb->control.exit_info_1, vmcb->control.exit_info_2);

		for (gpa = args->l2_slice; gpa < args->l2_slice + args->slice_size;
		     gpa += PAGE_SIZE) {
			uint64_t *page = (uint64_t *)(gpa + offset);

			for (i = 0; i < WORDS_PER_PAGE; i++) {
				uint64_t val = READ_ONCE(page[i]);
				uint64_t exp = npt_pattern(id, iter, gpa + i * 8);

				__GUEST_ASSERT(val == exp,
					       "vCPU %lu, iteration %ld: L1 GPA 0x%lx (L2 GPA 0x%lx) holds 0x%lx, expected 0x%lx",
					       id, iter, gpa + offset + i * 8,
					       gpa + i * 8, val, exp);
			}
			WRITE_ONCE(page[0], npt_token(id, iter, gpa));
		}

		l1_check_alias(args, iter);
	}

	GUEST_DONE();
}

#define FI_DIR(cap)	"/sys/kernel/debug/" cap "/"

static bool fault_inject;
static u64 fi_start, fi_end;

static void fi_write(const char *path, const char *fmt, ...)
{
	char buf[64];
	va_list ap;
	FILE *f;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	f = fopen(path, "w");
	TEST_ASSERT(f, "open %s", path);
	TEST_ASSERT(fputs(buf, f) >= 0 && !fclose(f), "write '%s' to %s",
		    buf, path);
}

/*
 * Whether @sym is function @name, or one of the clones GCC names after it
 * (@name.isra.0, @name.constprop.0, @name.part.0, ...).
 */
static bool sym_is(const char *sym, const char *name)
{
	size_t len = strlen(name);

	return !strncmp(sym, name, len) && (!sym[len] || sym[len] == '.');
}

/*
 * [start, end) of a kernel function, from /proc/kallsyms: its address and the
 * next higher symbol's.  False if there is no such (non-inlined) function.
 * Of several clones, the last one listed.
 */
static bool kallsyms_range(const char *name, u64 *start, u64 *end)
{
	char line[256], sym[128], type;
	u64 addr, next = ~0ull;
	FILE *f = fopen("/proc/kallsyms", "r");

	TEST_ASSERT(f, "open /proc/kallsyms");
	*start = 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx %c %127s", &addr, &type, sym) == 3 &&
		    sym_is(sym, name))
			*start = addr;
	rewind(f);
	while (*start && fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx %c %127s", &addr, &type, sym) == 3 &&
		    addr > *start && addr < next)
			next = addr;
	fclose(f);
	*end = next;
	return *start && next != ~0ull;
}

/*
 * Fail every allocation of one capability (failslab, fail_page_alloc) whose
 * stack has a return address in [fi_start, fi_end), for tasks that ask for it
 * (/proc/thread-self/make-it-fail), or stop failing (probability 0).
 */
static void fi_setup(const char *dir, bool on)
{
	char path[128];

#define FI(file, ...) do {						\
		snprintf(path, sizeof(path), "%s%s", dir, file);	\
		fi_write(path, __VA_ARGS__);				\
	} while (0)
	if (!on) {
		FI("probability", "0");
		return;
	}
	FI("task-filter", "Y");
	FI("ignore-gfp-wait", "N");
	FI("require-start", "%lu", fi_start);
	FI("require-end", "%lu", fi_end);
	FI("stacktrace-depth", "32");
	FI("interval", "1");
	FI("times", "-1");
	FI("verbose", "1");
	FI("probability", "100");
	if (strstr(dir, "fail_page_alloc")) {
		FI("min-order", "0");
		FI("ignore-gfp-highmem", "N");
	}
#undef FI
}

/*
 * The first KVM_RUN of the only vCPU, with the page hash's allocation
 * failing: L1's first VMRUN needs a shadow root, and the VM's first one
 * allocates the hash.  ENOMEM, and the vCPU can then run again.
 */
static void fi_first_run(struct kvm_vcpu *vcpu)
{
	int r, err;

	fi_setup(FI_DIR("failslab"), true);
	fi_setup(FI_DIR("fail_page_alloc"), true);
	fi_write("/proc/thread-self/make-it-fail", "1");
	r = _vcpu_run(vcpu);
	err = errno;
	fi_write("/proc/thread-self/make-it-fail", "0");
	fi_setup(FI_DIR("failslab"), false);
	fi_setup(FI_DIR("fail_page_alloc"), false);

	TEST_ASSERT(r == -1 && err == ENOMEM,
		    "KVM_RUN with the page hash allocation failing: returned %d (errno %d, exit reason %u), expected -1 with ENOMEM",
		    r, err, vcpu->run->exit_reason);
	pr_info("fault injection: the first shadow root's KVM_RUN failed with ENOMEM, running again\n");
}

/* -f: skip, saying why, unless the allocation can be made to fail. */
static void fi_require(int nr_vcpus)
{
	TEST_ASSERT(nr_vcpus == 1,
		    "-f needs -n 1: the failures are injected into one vCPU's thread");
	__TEST_REQUIRE(!access(FI_DIR("failslab") "require-start", W_OK) &&
		       !access(FI_DIR("fail_page_alloc") "require-start", W_OK),
		       "no failslab/fail_page_alloc stack-trace filter in debugfs (CONFIG_FAULT_INJECTION_STACKTRACE_FILTER, FAILSLAB, FAIL_PAGE_ALLOC, FAULT_INJECTION_DEBUG_FS: configs/kasan.config)");
	__TEST_REQUIRE(get_kvm_param_bool("tdp_mmu"),
		       "the shadow MMU (kvm.tdp_mmu=0) allocates the page hash when the VM is created");
	__TEST_REQUIRE(kallsyms_range("kvm_mmu_alloc_page_hash", &fi_start,
				      &fi_end),
		       "no kvm_mmu_alloc_page_hash() in /proc/kallsyms: inlined, or this kernel allocates the page hash when the VM is created");
	pr_info("fault injection: allocations from kvm_mmu_alloc_page_hash() [0x%lx, 0x%lx) fail\n",
		fi_start, fi_end);
}

static pthread_barrier_t start_barrier;

static void *vcpu_thread(void *arg)
{
	struct kvm_vcpu *vcpu = arg;
	struct ucall uc;

	pthread_barrier_wait(&start_barrier);

	if (fault_inject)
		fi_first_run(vcpu);

	for (;;) {
		vcpu_run(vcpu);
		TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_IO);

		switch (get_ucall(vcpu, &uc)) {
		case UCALL_ABORT:
			REPORT_GUEST_ASSERT(uc);
			/* NOT REACHED */
		case UCALL_DONE:
			return NULL;
		default:
			TEST_FAIL("vCPU %u: unexpected ucall 0x%lx", vcpu->id, uc.cmd);
		}
	}
}

static void help(const char *name)
{
	printf("usage: %s [-n vcpus] [-m MiB] [-i iterations] [-f]\n", name);
	printf(" -n: number of vCPUs (default %d)\n", DEFAULT_NR_VCPUS);
	printf(" -m: MiB of data window per vCPU (default %d)\n", DEFAULT_SLICE_MIB);
	printf(" -i: L2 runs per vCPU, each with a new pattern (default %d)\n",
	       DEFAULT_ITERATIONS);
	printf(" -f: the first shadow root's page hash allocation fails once (-n 1;\n"
	       "     CONFIG_FAULT_INJECTION_STACKTRACE_FILTER, failslab, fail_page_alloc)\n");
	exit(0);
}

int main(int argc, char *argv[])
{
	int nr_vcpus = DEFAULT_NR_VCPUS, slice_mib = DEFAULT_SLICE_MIB;
	int iterations = DEFAULT_ITERATIONS;
	uint64_t slice, window, data_pages, extra_pages, low_end;
	uint64_t *data, id, off, nr_bad = 0;
	struct timespec t0, t1;
	struct kvm_vcpu **vcpus;
	pthread_t *threads;
	gpa_t npt_root;
	struct kvm_vm *vm;
	int opt, i;

	while ((opt = getopt(argc, argv, "hn:m:i:f")) != -1) {
		switch (opt) {
		case 'n':
			nr_vcpus = atoi_positive("Number of vCPUs", optarg);
			break;
		case 'm':
			slice_mib = atoi_positive("MiB per vCPU", optarg);
			break;
		case 'i':
			iterations = atoi_positive("Iterations", optarg);
			break;
		case 'f':
			fault_inject = true;
			break;
		case 'h':
		default:
			help(argv[0]);
		}
	}

	TEST_REQUIRE(kvm_cpu_has(X86_FEATURE_SVM));
	TEST_REQUIRE(kvm_cpu_has(X86_FEATURE_NPT));
	if (fault_inject)
		fi_require(nr_vcpus);

	slice = (uint64_t)slice_mib << 20;
	window = slice * nr_vcpus;
	/* The slot holds the alias [D, D + window) and the window's backing. */
	data_pages = 2 * window / PAGE_SIZE;

	/*
	 * extra_mem_pages only sizes memslot 0's page-table reserve (two pages
	 * per 512).  The data pages cover the L1 and NPT page tables for the
	 * data slot; add room for the per-vCPU SVM pages and argument page.
	 */
	extra_pages = data_pages + 256 * (8 * nr_vcpus + 16);

	vcpus = calloc(nr_vcpus, sizeof(*vcpus));
	threads = calloc(nr_vcpus, sizeof(*threads));
	TEST_ASSERT(vcpus && threads, "Out of memory");

	vm = __vm_create_with_vcpus(VM_SHAPE_DEFAULT, nr_vcpus, extra_pages,
				    l1_guest_code, vcpus);

	vm_userspace_mem_region_add(vm, VM_MEM_SRC_ANONYMOUS, DATA_GPA, DATA_SLOT,
				    data_pages, 0);
	/* GVA == GPA for the slot; L2 reuses these page tables. */
	virt_map(vm, DATA_GPA, DATA_GPA, data_pages);

	vm_enable_npt(vm);
	npt_root = vm->stage2_mmu.pgd;

	/*
	 * The alias gets the poison; the window's backing gets, in the first
	 * word of each page, the token L2 checks on its first run.
	 */
	data = addr_gpa2hva(vm, DATA_GPA);
	for (off = 0; off < window; off += 8)
		data[off / 8] = ALIAS_POISON;
	for (off = 0; off < window; off += 8)
		data[(window + off) / 8] = npt_token(off / slice, -1, DATA_GPA + off);

	for (i = 0; i < nr_vcpus; i++) {
		struct npt_vcpu_args *args;
		gva_t svm_gva, args_gva;

		vcpu_alloc_svm(vm, &svm_gva);
		args_gva = vm_alloc_page(vm);
		args = addr_gva2hva(vm, args_gva);
		memset(args, 0, sizeof(*args));
		args->vcpu_id = i;
		args->l2_slice = DATA_GPA + i * slice;
		args->l1_slice = args->l2_slice + window;
		args->alias = args->l2_slice;
		args->slice_size = slice;
		args->iterations = iterations;
		args->npt_root = npt_root;
		args->touch_first = !(i & 1);
		vcpu_args_set(vcpus[i], 2, svm_gva, args_gva);
	}

	/*
	 * Last: the SVM and argument pages above are in memslot 0 too.  Low
	 * memory identity mapped with 1G pages, L2 GPA [D, D + window) to L1
	 * GPA D + window with 4K pages.
	 */
	low_end = npt_identity_map_slot0(vm, DATA_GPA);
	tdp_map(vm, DATA_GPA, DATA_GPA + window, window);

	pr_info("%d vCPUs, NPT root 0x%lx: L1 GPA [0, 0x%lx) identity, L2 GPA 0x%llx -> L1 GPA 0x%llx, %d MiB per vCPU, %d iterations\n",
		nr_vcpus, npt_root, low_end, DATA_GPA, DATA_GPA + window,
		slice_mib, iterations);

	TEST_ASSERT(!pthread_barrier_init(&start_barrier, NULL, nr_vcpus + 1),
		    "pthread_barrier_init failed");
	for (i = 0; i < nr_vcpus; i++)
		TEST_ASSERT(!pthread_create(&threads[i], NULL, vcpu_thread, vcpus[i]),
			    "pthread_create failed");

	clock_gettime(CLOCK_MONOTONIC, &t0);
	pthread_barrier_wait(&start_barrier);
	for (i = 0; i < nr_vcpus; i++)
		pthread_join(threads[i], NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);

	/* Every word of the data slot, as L1 left it after the last iteration. */
	for (off = 0; off < 2 * window; off += 8) {
		uint64_t l2_gpa, exp, val = data[off / 8];

		if (off < window) {
			exp = ALIAS_POISON;
		} else {
			l2_gpa = DATA_GPA + off - window;
			id = (off - window) / slice;
			if (off % PAGE_SIZE)
				exp = npt_pattern(id, iterations - 1, l2_gpa);
			else
				exp = npt_token(id, iterations - 1, l2_gpa);
		}
		if (val != exp && !nr_bad++)
			pr_info("L1 GPA 0x%llx holds 0x%lx, expected 0x%lx\n",
				DATA_GPA + off, val, exp);
	}
	TEST_ASSERT(!nr_bad, "%lu bad words in the data slot", nr_bad);

	/*
	 * L0 must really have shadowed L1's NPT: each shadow page it created
	 * first missed the lookup in the shadow page hash.
	 */
	TEST_ASSERT(vm_get_stat(vm, mmu_cache_miss) > 0,
		    "No shadow page was created: L2 did not run on shadowed NPT");

	pr_info("OK: %d vCPUs x %d L2 runs with NPT, %lu MiB checked by L1 and host in %.2fs\n",
		nr_vcpus, iterations, (unsigned long)(2 * window >> 20),
		(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);

	kvm_vm_free(vm);
	free(threads);
	free(vcpus);
	return 0;
}
