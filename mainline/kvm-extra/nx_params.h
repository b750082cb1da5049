/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The kvm module parameters of NX huge page recovery, for kvm-extra tests.
 *
 * Tests that take the parameters from the boot command line read them
 * (read_param(), into saved[]) and may toggle kvm.nx_huge_pages at run time
 * (write_param(), restore_params() at exit).  Tests that set them
 * themselves call nx_params_take(), which checks that the test can run
 * (enough free 2M hugetlb pages, parameters readable and writable, NX huge
 * pages not disabled for good), saves the parameters, turns recovery off
 * (ratio 0) and NX huge pages on, and has the saved values written back at
 * exit; set_param() then sets one.  Both skip the test, saying why, when
 * they cannot.
 *
 * This is the 7.x form of the header in tools/testing/selftests/kvm-extra
 * (the 6.12 series' copy), with what the 7.x tests use; 7.3 has the same
 * parameters.
 */
#ifndef KVM_EXTRA_NX_PARAMS_H
#define KVM_EXTRA_NX_PARAMS_H

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kselftest.h"
#include "test_util.h"

#define HUGEPAGES_2M_DIR	"/sys/kernel/mm/hugepages/hugepages-2048kB"
#define PARAM_DIR		"/sys/module/kvm/parameters/"

enum { P_NX, P_RATIO, P_PERIOD, NR_PARAMS };

static const char * const params[NR_PARAMS] = {
	[P_NX] = "nx_huge_pages",
	[P_RATIO] = "nx_huge_pages_recovery_ratio",
	[P_PERIOD] = "nx_huge_pages_recovery_period_ms",
};

/* The values found at start, written back at exit. */
static char saved[NR_PARAMS][32];

static inline int param_open(const char *name, int flags)
{
	char path[128];

	snprintf(path, sizeof(path), PARAM_DIR "%s", name);
	return open(path, flags);
}

static inline int read_param(const char *name, char *buf, size_t size)
{
	int fd = param_open(name, O_RDONLY);
	ssize_t r;

	if (fd < 0)
		return -1;
	r = read(fd, buf, size - 1);
	close(fd);
	if (r <= 0)
		return -1;
	buf[r] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

static inline int write_param(const char *name, const char *val)
{
	int fd = param_open(name, O_WRONLY);
	ssize_t r;

	if (fd < 0)
		return -1;
	r = write(fd, val, strlen(val));
	close(fd);
	return r == (ssize_t)strlen(val) ? 0 : -1;
}

static void restore_params(void)
{
	int i;

	for (i = NR_PARAMS - 1; i >= 0; i--)
		if (saved[i][0] && write_param(params[i], saved[i]))
			printf("# failed to restore kvm.%s=%s\n", params[i],
			       saved[i]);
}

/* Set parameter @p (after nx_params_take(), which restores it at exit). */
static inline void set_param(int p, unsigned long val)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%lu", val);
	TEST_ASSERT(!write_param(params[p], buf), "Failed to set kvm.%s to %s",
		    params[p], buf);
}

/* Skip unless @nr_hpages 2M hugetlb pages are free. */
static inline void nx_require_free_hpages(unsigned long nr_hpages)
{
	long free_2m = -1;
	FILE *f;

	f = fopen(HUGEPAGES_2M_DIR "/free_hugepages", "r");
	if (f) {
		if (fscanf(f, "%ld", &free_2m) != 1)
			free_2m = -1;
		fclose(f);
	}
	if (free_2m < 0)
		ksft_exit_skip("no 2M hugetlb pages on this host (%s)\n",
			       HUGEPAGES_2M_DIR);
	if ((unsigned long)free_2m < nr_hpages)
		ksft_exit_skip("%ld free 2M hugetlb pages, %lu needed (boot with hugepages=N)\n",
			       free_2m, nr_hpages);
}

/* Skip unless @nr_hpages 2M pages are free and the parameters can be set. */
static inline void nx_params_take(unsigned long nr_hpages)
{
	int i;

	nx_require_free_hpages(nr_hpages);
	for (i = 0; i < NR_PARAMS; i++)
		if (read_param(params[i], saved[i], sizeof(saved[i])))
			ksft_exit_skip("kvm.%s is not readable\n", params[i]);
	if (!strcmp(saved[P_NX], "never"))
		ksft_exit_skip("NX huge pages are disabled with kvm.nx_huge_pages=never\n");
	if (write_param(params[P_RATIO], "0"))
		ksft_exit_skip("cannot write kvm.nx_huge_pages_recovery_ratio (not root?)\n");
	atexit(restore_params);
	if (write_param(params[P_NX], "1"))
		ksft_exit_skip("cannot set kvm.nx_huge_pages=1 (was %s)\n",
			       saved[P_NX]);
}

#endif /* KVM_EXTRA_NX_PARAMS_H */
