/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What vCPUs wait for, counted: contentions, acquisitions and total wait
 * time of KVM's mmu_lock (write and read side apart) and of the TDP MMU's
 * tdp_mmu_pages_lock, from /proc/lock_stat (CONFIG_LOCK_STAT, which
 * configs/debug.config sets), printed as "bench:" lines for make bench.
 *
 * lock_stat counts for every lock class of the kernel since boot or since
 * the last clear, so a phase is measured by clearing it right before the
 * phase (lock_stat_clear()) and reading it right after (lock_stat_add()):
 * VM creation, the host's own stat reads between phases and the other
 * phases stay out.  lock_stat_add() adds to what it read before, so that
 * several runs of one kind can be summed up; lock_stat_print() prints
 * PREFIX_mmu_lock_{write,read}_{contentions,acquisitions,wait_us} and
 * PREFIX_tdp_mmu_pages_lock_{contentions,acquisitions,wait_us}.
 *
 * Without /proc/lock_stat, with statistics off (kernel.lock_stat=0), or
 * once lockdep has turned itself off (after a lockdep report), every figure
 * would read zero: a "# lock_stat: ..." line says why, and no figure is
 * printed.  Only dependent on libc, so that tests/test-lockstat.sh can
 * compile it on the host against made-up /proc/lock_stat texts.
 *
 * This is the mainline series' copy of the header in
 * tools/testing/selftests/kvm-extra (libc only, so the same code; lines
 * wrapped): 7.3 names both lock classes alike.
 */
#ifndef KVM_EXTRA_LOCK_STAT_H
#define KVM_EXTRA_LOCK_STAT_H

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * lockdep names a class after the text of its init call's argument.  The
 * figure name is what the bench lines call it.
 */
static const struct lock_stat_class {
	const char *name;
	const char *figure;
	bool rw;	/* an rwlock: its write and read side apart */
} lock_stat_classes[] = {
	/* virt/kvm/kvm_mm.h: KVM_MMU_LOCK_INIT(kvm), rwlock_init() */
	{ "&(kvm)->mmu_lock", "mmu_lock", true },
	/* arch/x86/kvm/mmu/tdp_mmu.c: kvm_mmu_init_tdp_mmu() */
	{ "&kvm->arch.tdp_mmu_pages_lock", "tdp_mmu_pages_lock", false },
};

#ifndef ARRAY_SIZE	/* kselftest.h's, for the host test */
#define ARRAY_SIZE(arr)	(sizeof(arr) / sizeof((arr)[0]))
#endif
#define LOCK_STAT_NR_CLASSES	ARRAY_SIZE(lock_stat_classes)
/* seq_stats() cuts class names at 37 characters. */
#define LOCK_STAT_NAME_MAX	37

enum { LOCK_STAT_WRITE, LOCK_STAT_READ, LOCK_STAT_NR_SIDES };

struct lock_stat_side {
	unsigned long contentions;
	unsigned long acquisitions;
	/* waittime-total; printed in whole us, as TCG waits are longer */
	double wait_us;
};

struct lock_stat {
	bool failed;		/* a read went wrong: print nothing */
	/* A line of the class in a read. */
	bool seen[LOCK_STAT_NR_CLASSES];
	struct lock_stat_side side[LOCK_STAT_NR_CLASSES][LOCK_STAT_NR_SIDES];
};

/* Variables, not macros, so that the host test can point them elsewhere. */
static const char *lock_stat_path = "/proc/lock_stat";
static const char *lock_stat_sysctl = "/proc/sys/kernel/lock_stat";
static const char *lock_stat_lockdep = "/proc/lockdep";
static bool lock_stat_unavailable;

/*
 * The figures of class @name in lock_stat text @f, as seq_stats() in
 * kernel/locking/lockdep_proc.c prints them: "lock_stat version 0.4" first;
 * then per class a line "%40s:" (write side only, or a spinlock), or for an
 * rwlock taken both ways "%38s-W:" and "%38s-R:", each followed by
 * con-bounces, contentions, waittime-min, -max, -total, -avg, acq-bounces,
 * acquisitions, holdtime-min, -max, -total, -avg (times in us, two
 * decimals).  A side with no acquisition has no line.  Contention point
 * lines repeat the name without the colon; "name#2" and "name/1" are other
 * classes.  Returns 1 with the figures added to @side[], 0 when the class
 * has no line (no acquisition since the clear), -1 with *@why set when the
 * text cannot be trusted.
 */
static inline int lock_stat_parse(FILE *f, const char *name,
				  struct lock_stat_side *side, const char **why)
{
	size_t len = strlen(name), size = 0;
	bool done[LOCK_STAT_NR_SIDES] = { false, false };
	char *line = NULL;
	int ret = -1;

	*why = "not the lock_stat 0.4 format";
	if (len > LOCK_STAT_NAME_MAX) {
		*why = "class name longer than lock_stat shows";
		return -1;
	}
	if (getline(&line, &size, f) < 0 ||
	    strcmp(line, "lock_stat version 0.4\n"))
		goto out;
	ret = 0;
	while (getline(&line, &size, f) >= 0) {
		char *p = line + strspn(line, " \t");
		unsigned long v[4];
		double t[8];
		int s, n = 0;

		if (!strncmp(p, "*WARNING* lock debugging disabled", 33)) {
			*why = "lock debugging disabled, by a lockdep report: figures stopped";
			ret = -1;
			break;
		}
		if (strncmp(p, name, len))
			continue;
		p += len;
		s = LOCK_STAT_WRITE;
		if (!strncmp(p, "-R:", 3))
			s = LOCK_STAT_READ;
		else if (strncmp(p, "-W:", 3) && *p != ':')
			continue;
		p += *p == ':' ? 1 : 3;
		if (sscanf(p,
			   "%lu %lu %lf %lf %lf %lf %lu %lu %lf %lf %lf %lf %n",
			   &v[0], &v[1], &t[0], &t[1], &t[2], &t[3],
			   &v[2], &v[3], &t[4], &t[5], &t[6], &t[7],
			   &n) != 12 || p[n]) {
			*why = "a line of the class is cut short or malformed";
			ret = -1;
			break;
		}
		if (done[s]) {
			*why = "two lines of the class for one side";
			ret = -1;
			break;
		}
		done[s] = true;
		side[s].contentions += v[1];
		side[s].wait_us += t[2];
		side[s].acquisitions += v[3];
		ret = 1;
	}
out:
	free(line);
	return ret;
}

/* 1 when lockdep has a class @name (/proc/lockdep: "KEY ...: NAME"), or 0. */
static inline int lockdep_has_class(FILE *f, const char *name)
{
	size_t len = strlen(name), size = 0;
	char *line = NULL;
	ssize_t n;
	int ret = 0;

	while (!ret && (n = getline(&line, &size, f)) >= 0) {
		if (n && line[n - 1] == '\n')
			line[--n] = '\0';
		/* " -> [KEY] NAME" lines are dependencies, not classes. */
		ret = line[0] != ' ' && (size_t)n >= len + 2 &&
		      !strcmp(line + n - len, name) &&
		      !strncmp(line + n - len - 2, ": ", 2);
	}
	free(line);
	return ret;
}

static inline void lock_stat_off(const char *why, const char *detail)
{
	printf("# lock_stat: not available (%s%s%s): no lock figures\n", why,
	       detail ? ": " : "", detail ? detail : "");
	lock_stat_unavailable = true;
}

/*
 * Right before a phase: start every class's figures from zero (writing "0"
 * to /proc/lock_stat), so that the next lock_stat_add() sees the phase alone.
 */
static inline void lock_stat_clear(void)
{
	int fd, c = EOF;
	FILE *f;

	if (lock_stat_unavailable)
		return;
	if (access(lock_stat_path, F_OK)) {
		lock_stat_off("no /proc/lock_stat, a kernel without CONFIG_LOCK_STAT",
			      NULL);
		return;
	}
	f = fopen(lock_stat_sysctl, "r");
	if (f) {
		c = fgetc(f);
		fclose(f);
	}
	if (c == '0') {
		lock_stat_off("kernel.lock_stat is 0, nothing is counted",
			      NULL);
		return;
	}
	fd = open(lock_stat_path, O_WRONLY);
	if (fd < 0 || write(fd, "0", 1) != 1)
		lock_stat_off("cannot clear /proc/lock_stat", strerror(errno));
	if (fd >= 0)
		close(fd);
}

/* Right after the phase: add what lock_stat counted since the clear to @ls. */
static inline void lock_stat_add(struct lock_stat *ls)
{
	const char *why;
	unsigned int i;
	FILE *f;

	if (lock_stat_unavailable || ls->failed)
		return;
	f = fopen(lock_stat_path, "r");
	if (!f) {
		printf("# lock_stat: cannot read /proc/lock_stat (%s): no lock figures\n",
		       strerror(errno));
		ls->failed = true;
		return;
	}
	for (i = 0; i < LOCK_STAT_NR_CLASSES && !ls->failed; i++) {
		int r;

		rewind(f);
		r = lock_stat_parse(f, lock_stat_classes[i].name, ls->side[i],
				    &why);
		if (r < 0) {
			printf("# lock_stat: %s: %s: no lock figures\n",
			       lock_stat_classes[i].name, why);
			ls->failed = true;
		}
		ls->seen[i] |= r > 0;
	}
	fclose(f);
}

/*
 * "bench: PREFIX_FIGURE[_SIDE]_{contentions,acquisitions,wait_us}" for each
 * class.  A class with no line in any read had no acquisition then, if it
 * exists: a name lockdep does not know (mistyped, or a lock that was never
 * taken since boot, tdp_mmu_pages_lock with tdp_mmu=N) gets no figures.
 */
static inline void lock_stat_print(const struct lock_stat *ls,
				   const char *prefix)
{
	/* 1 yes, -1 no, 0 not looked */
	static int known[LOCK_STAT_NR_CLASSES];
	unsigned int i, s;

	if (lock_stat_unavailable || ls->failed)
		return;
	for (i = 0; i < LOCK_STAT_NR_CLASSES; i++) {
		const struct lock_stat_class *c = &lock_stat_classes[i];

		if (!ls->seen[i] && !known[i]) {
			FILE *f = fopen(lock_stat_lockdep, "r");

			known[i] = f && lockdep_has_class(f, c->name) ? 1 : -1;
			if (f)
				fclose(f);
		}
		if (!ls->seen[i] && known[i] < 0) {
			printf("# lock_stat: %s: %s: no figures for it\n",
			       c->name,
			       "not in /proc/lockdep either (no such class, or never taken since boot)");
			continue;
		}
		if (!c->rw && ls->side[i][LOCK_STAT_READ].acquisitions) {
			printf("# lock_stat: %s: taken for read, not a spinlock: no figures\n",
			       c->name);
			continue;
		}
		for (s = 0; s < (c->rw ? LOCK_STAT_NR_SIDES : 1); s++) {
			const struct lock_stat_side *d = &ls->side[i][s];
			const char *side = !c->rw ? "" : s ? "_read" : "_write";

			printf("bench: %s_%s%s_contentions %lu\n", prefix,
			       c->figure, side, d->contentions);
			printf("bench: %s_%s%s_acquisitions %lu\n", prefix,
			       c->figure, side, d->acquisitions);
			printf("bench: %s_%s%s_wait_us %.0f\n", prefix,
			       c->figure, side, d->wait_us);
		}
	}
}

#endif /* KVM_EXTRA_LOCK_STAT_H */
