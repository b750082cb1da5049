/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Nested page tables (AMD NPT) for L2, built by the host in L1's memory, for
 * the kvm-extra tests.
 *
 * The 7.x library builds them itself: vm_enable_npt() creates the root (in
 * vm->stage2_mmu, whose PTE format is the guest's, with the U bit on every
 * level since NPT walks are user accesses), __virt_pg_map() on stage2_mmu
 * and tdp_map() fill it, and vcpu_alloc_svm() and generic_svm_setup() hand
 * it to L1's VMCB.  What the tests need beyond that is here:
 * npt_identity_map_slot0(), the low memory that L2 shares with L1, and
 * __npt_map(), leaf entries with extra flags (accessed and dirty), which the
 * library's mappers do not set.
 *
 * This is the 7.x form of the header in tools/testing/selftests/kvm-extra
 * (the 6.12 series' copy, which builds the tables by hand): the same
 * mappings on the 7.x library's NPT.
 */
#ifndef KVM_EXTRA_NPT_H
#define KVM_EXTRA_NPT_H

#include "kvm_util.h"
#include "processor.h"
#include "svm_util.h"

/*
 * Identity map everything below memslot 0's end (code, stacks, L1's page
 * tables, which L2 reuses as its own) with 1G pages; it must end at or
 * below @limit.  Returns the end of the identity map.
 */
static inline u64 npt_identity_map_slot0(struct kvm_vm *vm, u64 limit)
{
	struct userspace_mem_region *slot0 = memslot2region(vm, 0);
	u64 end;

	end = slot0->region.guest_phys_addr + slot0->region.memory_size;
	end = (end + PG_SIZE_1G - 1) & ~(PG_SIZE_1G - 1);
	TEST_ASSERT(end <= limit, "Memslot 0 ends at 0x%lx, above 0x%lx",
		    end, limit);

	tdp_identity_map_1g(vm, 0, end);
	return end;
}

/* The NPT entry at @level that maps L2 GPA @l2_gpa (already mapped). */
static inline u64 *npt_entry(struct kvm_vm *vm, u64 l2_gpa, int level)
{
	struct kvm_mmu *mmu = &vm->stage2_mmu;
	gpa_t table = mmu->pgd;
	int l = mmu->pgtable_levels;
	u64 *pte;

	for (;;) {
		pte = (u64 *)addr_gpa2hva(vm, table) +
		      ((l2_gpa >> PG_LEVEL_SHIFT(l)) & 511);
		TEST_ASSERT(is_present_pte(mmu, pte),
			    "L2 GPA 0x%lx not mapped at level %d", l2_gpa, l);
		if (l == level)
			return pte;
		TEST_ASSERT(!is_huge_pte(mmu, pte),
			    "L2 GPA 0x%lx mapped by a level %d page",
			    l2_gpa, l);
		table = PTE_GET_PA(*pte);
		l--;
	}
}

/*
 * Map L2 GPA @l2_gpa to L1 GPA @l1_gpa with a page of size @level; @flags
 * (e.g. PTE_ACCESSED_MASK(&vm->stage2_mmu) | PTE_DIRTY_MASK(...)) go into
 * the leaf entry only.
 */
static inline void __npt_map(struct kvm_vm *vm, u64 l2_gpa, u64 l1_gpa,
			     int level, u64 flags)
{
	__virt_pg_map(vm, &vm->stage2_mmu, l2_gpa, l1_gpa, level);
	*npt_entry(vm, l2_gpa, level) |= flags;
}

#endif /* KVM_EXTRA_NPT_H */
