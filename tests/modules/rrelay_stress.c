// SPDX-License-Identifier: GPL-2.0
/*
 * rrelay_stress: writers in every context the write API allows, at once,
 * on one channel (per-CPU or global, overwrite or not), with no lock of
 * the client's, and remote flushes from hardirq context.
 *
 * On every online CPU:
 *   process   a bound kthread: rrelay_write_noinline() (the Rust path)
 *   softirq   a pinned timer: rrelay_reserve() + rrelay_commit() (inline)
 *   hardirq   a pinned hrtimer: rrelay_reserve() + rrelay_commit(); it
 *             also sends an NMI to the next CPU
 *   nmi       the NMI handler: rrelay_write_noinline()
 * NMIs land anywhere, inside the other contexts' writes included, so
 * writers nest on per-CPU buffers, and on a global buffer they also run
 * concurrently on other CPUs. A hrtimer on the first CPU flushes every
 * buffer (remote switches, no IPI) and reads rrelay_stats() and
 * rrelay_buf_full() from hardirq context.
 *
 * Records use samples/record_format.rs (64 bytes), so `rrelay decode`
 * checks each one's checksum and its (CPU, context) sequence. counts gives
 * "cpu context written dropped" per stream: every record is written or
 * dropped (counted here when rrelay refuses it).
 *
 * debugfs, in rrelay_stress/: stress<cpu> (rrelay's own files), control
 * ("start", "stop"), counts, info (NMIs handled, flushes done).
 */
#include <rrelay.h>
#include <asm/apic.h>
#include <asm/nmi.h>
#include <linux/cpu.h>
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/hrtimer.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/percpu.h>
#include <linux/timekeeping.h>
#include <linux/timer.h>

#include "../../samples/record_format.h"

static bool global;
module_param(global, bool, 0444);
MODULE_PARM_DESC(global, "One global buffer for all CPUs");

static bool headers;
module_param(headers, bool, 0444);
MODULE_PARM_DESC(headers, "Sub-buffer headers (RRELAY_SUBBUF_HEADERS)");

static bool overwrite;
module_param(overwrite, bool, 0444);
MODULE_PARM_DESC(overwrite, "Overwrite unread sub-buffers instead of stopping");

static ulong subbuf_size = 4096;
module_param(subbuf_size, ulong, 0444);
MODULE_PARM_DESC(subbuf_size, "Sub-buffer size in bytes (a multiple of 64)");

static ulong n_subbufs = 8;
module_param(n_subbufs, ulong, 0444);
MODULE_PARM_DESC(n_subbufs, "Number of sub-buffers per buffer");

static uint period_us = 200;
module_param(period_us, uint, 0444);
MODULE_PARM_DESC(period_us, "Period of the hardirq (and NMI) writers");

static uint flush_us = 2000;
module_param(flush_us, uint, 0444);
MODULE_PARM_DESC(flush_us, "Period of the remote flushes from hardirq (0: none)");

struct stress_cpu {
	int cpu;
	struct task_struct *thread;
	struct timer_list timer;
	struct hrtimer hrtimer;
	bool nmi_pending;
	struct record_counts counts;
};

static DEFINE_PER_CPU(struct stress_cpu, stress_cpus);
static struct rrelay_chan *chan;
static struct dentry *dir;
static DEFINE_MUTEX(control_lock);
static bool running;
static struct hrtimer flush_timer;
static atomic_long_t nmis, flushes;
static int flush_cpu;

/* Stream (@s's CPU, @ctx) has one writer at a time: no lock needed here. */
static void emit_write(struct stress_cpu *s, int ctx)
{
	u8 rec[RECORD_SIZE];

	record_encode(rec, s->cpu, ctx, s->counts.written[ctx], ktime_get_mono_fast_ns());
	if (!rrelay_write_noinline(chan, rec, sizeof(rec)))
		s->counts.dropped[ctx]++;
	s->counts.written[ctx]++;
}

static void emit_reserve(struct stress_cpu *s, int ctx)
{
	struct rrelay_reservation res;
	void *p = rrelay_reserve(chan, RECORD_SIZE, &res);

	if (p) {
		record_encode(p, s->cpu, ctx, s->counts.written[ctx], ktime_get_mono_fast_ns());
		rrelay_commit(&res);
	} else {
		s->counts.dropped[ctx]++;
	}
	s->counts.written[ctx]++;
}

static int thread_fn(void *data)
{
	struct stress_cpu *s = data;
	int i;

	while (!kthread_should_stop()) {
		for (i = 0; i < 8; i++) {
			/* The stream is this CPU's: stay on it for the write. */
			preempt_disable();
			emit_write(s, CTX_PROCESS);
			preempt_enable();
		}
		usleep_range(100, 200);
	}
	return 0;
}

static void timer_fn(struct timer_list *t)
{
	struct stress_cpu *s = timer_container_of(s, t, timer);
	int i;

	for (i = 0; i < 4; i++)
		emit_reserve(s, CTX_SOFTIRQ);
	if (READ_ONCE(running))
		mod_timer(&s->timer, jiffies + 1);
}

static enum hrtimer_restart hrtimer_fn(struct hrtimer *t)
{
	struct stress_cpu *s = container_of(t, struct stress_cpu, hrtimer);
	int next = cpumask_next(s->cpu, cpu_online_mask);
	struct stress_cpu *n;

	if (next >= nr_cpu_ids)
		next = cpumask_first(cpu_online_mask);
	n = per_cpu_ptr(&stress_cpus, next);
	if (!READ_ONCE(n->nmi_pending)) {
		WRITE_ONCE(n->nmi_pending, true);
		apic->send_IPI_mask(cpumask_of(next), NMI_VECTOR);
	}
	emit_reserve(s, CTX_HARDIRQ);
	if (!READ_ONCE(running))
		return HRTIMER_NORESTART;
	hrtimer_forward_now(t, us_to_ktime(period_us));
	return HRTIMER_RESTART;
}

static int nmi_fn(unsigned int type, struct pt_regs *regs)
{
	struct stress_cpu *s = this_cpu_ptr(&stress_cpus);

	if (!READ_ONCE(s->nmi_pending))
		return NMI_DONE;
	emit_write(s, CTX_NMI);
	atomic_long_inc(&nmis);
	WRITE_ONCE(s->nmi_pending, false);
	return NMI_HANDLED;
}

/* Remote flushes and the statistics, from hardirq context. */
static enum hrtimer_restart flush_fn(struct hrtimer *t)
{
	int cpu;

	rrelay_flush(chan);
	for_each_online_cpu(cpu)
		rrelay_buf_full(*per_cpu_ptr(chan->buf, cpu));
	rrelay_stats(chan, RRELAY_STATS_DROPPED);
	atomic_long_inc(&flushes);
	if (!READ_ONCE(running))
		return HRTIMER_NORESTART;
	hrtimer_forward_now(t, us_to_ktime(flush_us));
	return HRTIMER_RESTART;
}

/* Runs on the target CPU, so the pinned hrtimers fire there. */
static void start_hrtimers(void *info)
{
	struct stress_cpu *s = info;

	hrtimer_start(&s->hrtimer, us_to_ktime(period_us), HRTIMER_MODE_REL_PINNED);
	if (flush_us && s->cpu == flush_cpu)
		hrtimer_start(&flush_timer, us_to_ktime(flush_us), HRTIMER_MODE_REL_PINNED);
}

static void stress_start(void)
{
	int cpu;

	WRITE_ONCE(running, true);
	cpus_read_lock();
	flush_cpu = cpumask_first(cpu_online_mask);
	for_each_online_cpu(cpu) {
		struct stress_cpu *s = per_cpu_ptr(&stress_cpus, cpu);

		s->thread = kthread_run_on_cpu(thread_fn, s, cpu, "rrelay_stress/%u");
		if (IS_ERR(s->thread))
			s->thread = NULL;
		s->timer.expires = jiffies + 1;
		add_timer_on(&s->timer, cpu);
		smp_call_function_single(cpu, start_hrtimers, s, 1);
	}
	cpus_read_unlock();
}

static void stress_stop(void)
{
	int cpu;

	WRITE_ONCE(running, false);
	for_each_possible_cpu(cpu) {
		struct stress_cpu *s = per_cpu_ptr(&stress_cpus, cpu);

		if (s->thread)
			kthread_stop(s->thread);
		s->thread = NULL;
		timer_delete_sync(&s->timer);
		hrtimer_cancel(&s->hrtimer);
	}
	hrtimer_cancel(&flush_timer);
	/* Let NMIs in flight land before the last flush (at most ~20 ms each). */
	for_each_online_cpu(cpu) {
		int i;

		for (i = 0; i < 1000 && READ_ONCE(per_cpu_ptr(&stress_cpus, cpu)->nmi_pending); i++)
			usleep_range(10, 20);
	}
	rrelay_flush(chan);
}

static ssize_t control_write(struct file *file, const char __user *ubuf, size_t count,
			     loff_t *ppos)
{
	return producer_control(ubuf, count, &control_lock, &running, stress_start, stress_stop);
}

static struct record_counts *counts_of(int cpu)
{
	return &per_cpu_ptr(&stress_cpus, cpu)->counts;
}

static ssize_t counts_read(struct file *file, char __user *ubuf, size_t count, loff_t *ppos)
{
	return record_counts_read(ubuf, count, ppos, counts_of);
}

static ssize_t info_read(struct file *file, char __user *ubuf, size_t count, loff_t *ppos)
{
	char buf[64];
	int n = scnprintf(buf, sizeof(buf), "nmis %ld\nflushes %ld\n", atomic_long_read(&nmis),
			  atomic_long_read(&flushes));

	return simple_read_from_buffer(ubuf, count, ppos, buf, n);
}

static const struct file_operations control_fops = {
	.owner = THIS_MODULE,
	.write = control_write,
};

static const struct file_operations counts_fops = {
	.owner = THIS_MODULE,
	.read = counts_read,
};

static const struct file_operations info_fops = {
	.owner = THIS_MODULE,
	.read = info_read,
};

static int overwrite_start(struct rrelay_buf *buf, void *subbuf, void *prev)
{
	return 1;
}

static struct rrelay_callbacks callbacks;

static int __init rrelay_stress_init(void)
{
	int cpu, ret;

	if (!subbuf_size || subbuf_size % RECORD_SIZE)
		return -EINVAL;
	for_each_possible_cpu(cpu) {
		struct stress_cpu *s = per_cpu_ptr(&stress_cpus, cpu);

		s->cpu = cpu;
		timer_setup(&s->timer, timer_fn, TIMER_PINNED);
		hrtimer_setup(&s->hrtimer, hrtimer_fn, CLOCK_MONOTONIC, HRTIMER_MODE_REL_PINNED);
	}
	hrtimer_setup(&flush_timer, flush_fn, CLOCK_MONOTONIC, HRTIMER_MODE_REL_PINNED);
	callbacks.is_global = global;
	callbacks.flags = headers ? RRELAY_SUBBUF_HEADERS : 0;
	if (overwrite)
		callbacks.subbuf_start = overwrite_start;
	dir = debugfs_create_dir("rrelay_stress", NULL);
	chan = rrelay_open("stress", dir, subbuf_size, n_subbufs, &callbacks, NULL);
	if (!chan) {
		debugfs_remove(dir);
		return -ENOMEM;
	}
	ret = register_nmi_handler(NMI_LOCAL, nmi_fn, 0, "rrelay_stress");
	if (ret) {
		rrelay_close(chan);
		debugfs_remove(dir);
		return ret;
	}
	debugfs_create_file("control", 0200, dir, NULL, &control_fops);
	debugfs_create_file("counts", 0444, dir, NULL, &counts_fops);
	debugfs_create_file("info", 0444, dir, NULL, &info_fops);
	return 0;
}

static void __exit rrelay_stress_exit(void)
{
	mutex_lock(&control_lock);
	if (running)
		stress_stop();
	mutex_unlock(&control_lock);
	unregister_nmi_handler(NMI_LOCAL, "rrelay_stress");
	rrelay_close(chan);
	debugfs_remove(dir);
}

module_init(rrelay_stress_init);
module_exit(rrelay_stress_exit);
MODULE_DESCRIPTION("rrelay test: writers in process, softirq, hardirq and NMI context at once");
MODULE_LICENSE("GPL");
