/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vCPU threads that run one guest command at a time, for kvm-extra tests.
 *
 * Each vCPU has its own thread, parked outside KVM_RUN between commands.
 * park_start() lets every vCPU run until its next GUEST_SYNC(value) (the
 * value is kept in sync_val[]) or GUEST_DONE() (the thread then ends);
 * park_wait() waits until all of them are parked again.  A guest assertion
 * fails the test from the vCPU's thread.
 *
 * park_wait() takes a time limit: a vCPU that does not come back within it
 * fails the test with the vCPUs still out named, instead of the test hanging
 * until the harness kills it with nothing said.
 */
#ifndef KVM_EXTRA_VCPU_PARK_H
#define KVM_EXTRA_VCPU_PARK_H

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <time.h>

#include "kvm_util.h"
#include "processor.h"
#include "test_util.h"
#include "ucall_common.h"

#define PARK_MAX_VCPUS	16

/*
 * Guest code: leave the guest with a CPUID exit, which KVM handles in the
 * kernel, for a loop that may otherwise take no exit until the host stops it.
 * Under QEMU TCG (nested SVM), a timer interrupt for the host CPU running
 * such a vCPU was seen not to be taken for over a minute, until an NMI forced
 * a VM exit (an RCU stall report, with that CPU at the STGI after VMRUN);
 * meanwhile the test's main thread, asleep on a timer of that CPU, could not
 * stop the loop.  Regular exits bound that; taken at the same rate in every
 * phase of a test, they keep the phases' rates comparable.
 */
static inline void guest_exit_to_host(void)
{
	uint32_t eax, ebx, ecx, edx;

	cpuid(0, &eax, &ebx, &ecx, &edx);
}

struct vcpu_park {
	int nr_vcpus;
	struct kvm_vcpu *vcpus[PARK_MAX_VCPUS];
	pthread_t threads[PARK_MAX_VCPUS];
	sem_t run[PARK_MAX_VCPUS];
	sem_t parked;
	/* Set by a vCPU's thread once it is back from its command. */
	bool back[PARK_MAX_VCPUS];
	/* The value of each vCPU's last GUEST_SYNC. */
	uint64_t sync_val[PARK_MAX_VCPUS];
};

struct park_arg {
	struct vcpu_park *park;
	int id;
};

static struct park_arg park_args[PARK_MAX_VCPUS];

static void *park_vcpu_thread(void *arg)
{
	struct vcpu_park *p = ((struct park_arg *)arg)->park;
	int id = ((struct park_arg *)arg)->id;
	struct kvm_vcpu *vcpu = p->vcpus[id];
	struct ucall uc;

	for (;;) {
		sem_wait(&p->run[id]);
		vcpu_run(vcpu);
		/*
		 * The library gives the guest an IDT, so a triple fault is an
		 * exception that could not be delivered (IDT, GDT or stack
		 * unreachable): keep the registers for the report.
		 */
		if (vcpu->run->exit_reason == KVM_EXIT_SHUTDOWN)
			vcpu_dump(stderr, vcpu, 2);
		TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_IO);

		switch (get_ucall(vcpu, &uc)) {
		case UCALL_SYNC:
			p->sync_val[id] = uc.args[1];
			break;
		case UCALL_DONE:
			__atomic_store_n(&p->back[id], true, __ATOMIC_RELEASE);
			sem_post(&p->parked);
			return NULL;
		case UCALL_ABORT:
			REPORT_GUEST_ASSERT(uc);
			/* NOT REACHED */
		default:
			TEST_FAIL("vCPU %d: unexpected ucall 0x%lx", id, uc.cmd);
		}
		__atomic_store_n(&p->back[id], true, __ATOMIC_RELEASE);
		sem_post(&p->parked);
	}
}

/* Start one parked thread per vCPU; nothing runs until park_start(). */
static inline void park_init(struct vcpu_park *p, int nr_vcpus, struct kvm_vcpu **vcpus)
{
	int i;

	TEST_ASSERT(nr_vcpus <= PARK_MAX_VCPUS, "At most %d vCPUs", PARK_MAX_VCPUS);
	p->nr_vcpus = nr_vcpus;
	sem_init(&p->parked, 0, 0);
	for (i = 0; i < nr_vcpus; i++) {
		p->vcpus[i] = vcpus[i];
		sem_init(&p->run[i], 0, 0);
		park_args[i] = (struct park_arg){ .park = p, .id = i };
		TEST_ASSERT(!pthread_create(&p->threads[i], NULL, park_vcpu_thread,
					    &park_args[i]),
			    "pthread_create failed");
	}
}

static inline void park_start(struct vcpu_park *p)
{
	int i;

	for (i = 0; i < p->nr_vcpus; i++) {
		p->back[i] = false;
		sem_post(&p->run[i]);
	}
}

/* Wait until every vCPU is parked again, for at most @limit_s seconds. */
static inline void park_wait(struct vcpu_park *p, int limit_s)
{
	char out[PARK_MAX_VCPUS * 4 + 1];
	struct timespec deadline;
	int i, len = 0;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += limit_s;
	for (i = 0; i < p->nr_vcpus; i++) {
		while (sem_timedwait(&p->parked, &deadline)) {
			if (errno == EINTR)
				continue;
			TEST_ASSERT(errno == ETIMEDOUT, "sem_timedwait failed");
			out[0] = '\0';
			for (i = 0; i < p->nr_vcpus; i++)
				if (!__atomic_load_n(&p->back[i], __ATOMIC_ACQUIRE))
					len += snprintf(out + len, sizeof(out) - len, " %d", i);
			TEST_FAIL("vCPU(s)%s did not come back from the guest within %d s",
				  out, limit_s);
		}
	}
}

/* After a command that ends in GUEST_DONE(): the threads have ended. */
static inline void park_join(struct vcpu_park *p)
{
	int i;

	for (i = 0; i < p->nr_vcpus; i++)
		pthread_join(p->threads[i], NULL);
}

/* Sleep @ms milliseconds: the host side's pacing between its checks. */
static inline void msleep(unsigned long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

#endif /* KVM_EXTRA_VCPU_PARK_H */
