/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the series' software backend for mirror page tables (kvm.mirror_sw=1)
 * reports: its module parameters, and the per-VM debugfs file with its
 * operation counters and the comparison of mirror and external tables.
 */
#ifndef KVM_EXTRA_MIRROR_SW_H
#define KVM_EXTRA_MIRROR_SW_H

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kselftest.h"
#include "kvm_util.h"

#define KVM_PARAM_DIR	"/sys/module/kvm/parameters/"

/* A kvm module parameter: 1/0 for Y/N, the number otherwise, -1 if absent. */
static inline long read_kvm_param(const char *name)
{
	char path[128], buf[32] = "";
	int fd;

	snprintf(path, sizeof(path), KVM_PARAM_DIR "%s", name);
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

/* Returns 0, or -1 if the parameter can't be opened or refuses @val. */
static inline int write_kvm_param(const char *name, const char *val)
{
	char path[128];
	int fd, r;

	snprintf(path, sizeof(path), KVM_PARAM_DIR "%s", name);
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

/* Read (and print) the backend's counters for @vm; -1 for a missing one. */
static inline void read_mirror_counts(struct kvm_vm *vm, struct mirror_counts *c)
{
	static const char * const names[] = {
		"sets", "links", "removals", "frees", "injected_busy",
		"violations", "compared", "mismatches",
	};
	long long *vals[] = {
		&c->sets, &c->links, &c->removals, &c->frees, &c->injected_busy,
		&c->violations, &c->compared, &c->mismatches,
	};
	char path[128], name[32];
	long long val;
	unsigned int i;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/kernel/debug/kvm/%d-%d/mirror_sw", getpid(), vm->fd);
	f = fopen(path, "r");
	TEST_ASSERT(f, "kvm.mirror_sw is on, but %s can't be opened", path);
	memset(c, 0xff, sizeof(*c));
	while (fscanf(f, "%31s %lld", name, &val) == 2) {
		for (i = 0; i < ARRAY_SIZE(names); i++) {
			if (!strcmp(name, names[i]))
				*vals[i] = val;
		}
	}
	fclose(f);
	ksft_print_msg("mirror_sw: sets %lld links %lld removals %lld frees %lld injected_busy %lld violations %lld compared %lld mismatches %lld\n",
		       c->sets, c->links, c->removals, c->frees, c->injected_busy,
		       c->violations, c->compared, c->mismatches);
}

/*
 * A binary stat of @vcpu (KVM_GET_STATS_FD), or of @vm if @vcpu is NULL: the
 * 6.12 library reads VM stats only, and its vm_get_stat() returns garbage for
 * a name the kernel does not have; this fails the test instead.
 */
static inline uint64_t kvm_stat(struct kvm_vm *vm, struct kvm_vcpu *vcpu, const char *name)
{
	struct kvm_stats_header header;
	struct kvm_stats_desc *descs, *desc;
	uint64_t data = 0;
	bool found = false;
	int fd, i;

	fd = vcpu ? vcpu_get_stats_fd(vcpu) : vm_get_stats_fd(vm);
	read_stats_header(fd, &header);
	descs = read_stats_descriptors(fd, &header);
	for (i = 0; i < header.num_desc && !found; i++) {
		desc = (void *)descs + i * get_stats_descriptor_size(&header);
		if (!strcmp(desc->name, name)) {
			read_stat_data(fd, &header, desc, &data, 1);
			found = true;
		}
	}
	free(descs);
	close(fd);
	TEST_ASSERT(found, "the kernel has no %s stat %s", vcpu ? "vCPU" : "VM", name);
	return data;
}

#endif /* KVM_EXTRA_MIRROR_SW_H */
