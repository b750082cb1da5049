/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Nested page tables (AMD NPT) for L2, built by the host in L1's memory.
 *
 * The 6.12 KVM selftest library sets up SVM for L1 but never turns on nested
 * paging for L2.  NPT entries use the ordinary x86-64 page-table format; the
 * walk is a user-mode access, so every level needs the U bit.
 */
#ifndef KVM_EXTRA_NPT_H
#define KVM_EXTRA_NPT_H

#include <string.h>

#include "kvm_util.h"
#include "processor.h"

#define NPT_PTE_FLAGS	(PTE_PRESENT_MASK | PTE_WRITABLE_MASK | PTE_USER_MASK)

/* A new, zeroed NPT page table; returns its L1 GPA. */
static inline vm_paddr_t npt_alloc_table(struct kvm_vm *vm)
{
	vm_paddr_t table = vm_alloc_page_table(vm);

	memset(addr_gpa2hva(vm, table), 0, PAGE_SIZE);
	return table;
}

/* The NPT entry for @gpa in the table at L1 GPA @table, at @level. */
static inline uint64_t *npt_entry(struct kvm_vm *vm, vm_paddr_t table,
				  uint64_t gpa, int level)
{
	uint64_t *ptes = addr_gpa2hva(vm, table);

	return &ptes[(gpa >> PG_LEVEL_SHIFT(level)) & 511];
}

/*
 * Map L2 GPA @l2_gpa to L1 GPA @l1_gpa with a page of size @level; @flags
 * (e.g. PTE_ACCESSED_MASK | PTE_DIRTY_MASK) go into the leaf entry only.
 */
static inline void __npt_map(struct kvm_vm *vm, vm_paddr_t root,
			     uint64_t l2_gpa, uint64_t l1_gpa, int level,
			     uint64_t flags)
{
	vm_paddr_t table = root;
	uint64_t *pte;
	int l;

	TEST_ASSERT(!(l2_gpa % PG_LEVEL_SIZE(level)) &&
		    !(l1_gpa % PG_LEVEL_SIZE(level)),
		    "Unaligned NPT mapping 0x%lx -> 0x%lx, level %d",
		    l2_gpa, l1_gpa, level);

	for (l = PG_LEVEL_512G; l > level; l--) {
		pte = npt_entry(vm, table, l2_gpa, l);
		if (!(*pte & PTE_PRESENT_MASK))
			*pte = npt_alloc_table(vm) | NPT_PTE_FLAGS;
		TEST_ASSERT(!(*pte & PTE_LARGE_MASK),
			    "L2 GPA 0x%lx already mapped by a level %d page",
			    l2_gpa, l);
		table = PTE_GET_PA(*pte);
	}

	pte = npt_entry(vm, table, l2_gpa, level);
	TEST_ASSERT(!(*pte & PTE_PRESENT_MASK), "L2 GPA 0x%lx already mapped",
		    l2_gpa);
	*pte = l1_gpa | NPT_PTE_FLAGS | flags |
	       (level > PG_LEVEL_4K ? PTE_LARGE_MASK : 0);
}

/* Map L2 GPA @l2_gpa to L1 GPA @l1_gpa with a page of size @level. */
static inline void npt_map(struct kvm_vm *vm, vm_paddr_t root, uint64_t l2_gpa,
			   uint64_t l1_gpa, int level)
{
	__npt_map(vm, root, l2_gpa, l1_gpa, level, 0);
}

/*
 * Identity map all of memslot 0 (code, stacks, L1's page tables, which L2
 * reuses as its own) with 2M pages.  Returns the end of the mapped range.
 */
static inline uint64_t npt_identity_map_slot0(struct kvm_vm *vm,
					      vm_paddr_t root)
{
	struct userspace_mem_region *slot0 = memslot2region(vm, 0);
	uint64_t start, end, gpa;

	start = slot0->region.guest_phys_addr & ~(PG_SIZE_2M - 1);
	end = slot0->region.guest_phys_addr + slot0->region.memory_size;
	end = (end + PG_SIZE_2M - 1) & ~(PG_SIZE_2M - 1);

	for (gpa = start; gpa < end; gpa += PG_SIZE_2M)
		npt_map(vm, root, gpa, gpa, PG_LEVEL_2M);
	return end;
}

#endif /* KVM_EXTRA_NPT_H */
