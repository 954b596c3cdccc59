// SPDX-License-Identifier: GPL-2.0
/*
 * A blktrace-like relay client in C, moved to rrelay by one line: the
 * include below was <linux/relay.h>. Like blktrace it uses per-CPU buffers
 * in no-overwrite mode, reserves records with relay_reserve() under
 * local_irq_save(), shows a "dropped" count from relay_stats(), and calls
 * relay_flush() when tracing stops.
 *
 * Its "events" come from every context on every online CPU: a delayed work
 * (process context), a timer (softirq) and an hrtimer (hardirq), each about
 * HZ per second. Records use the format of samples/record_format.rs, so
 * `rrelay decode` verifies them.
 *
 * debugfs, in c_relay_sample/: trace<cpu> (buffers), control ("start",
 * "stop"), dropped (writes relay dropped), counts ("cpu context written dropped").
 */
#include <rrelay_compat.h>
#include <linux/cpu.h>
#include <linux/debugfs.h>
#include <linux/hrtimer.h>
#include <linux/module.h>
#include <linux/percpu.h>
#include <linux/timer.h>
#include <linux/uaccess.h>
#include <linux/workqueue.h>

#include "record_format.h"

static ulong subbuf_size = 16384;
module_param(subbuf_size, ulong, 0444);
MODULE_PARM_DESC(subbuf_size, "Sub-buffer size in bytes");

static ulong n_subbufs = 16;
module_param(n_subbufs, ulong, 0444);
MODULE_PARM_DESC(n_subbufs, "Number of sub-buffers per CPU");

struct sample_cpu {
	int cpu;
	struct delayed_work work;
	struct timer_list timer;
	struct hrtimer hrtimer;
	struct record_counts counts;
};

static DEFINE_PER_CPU(struct sample_cpu, sample_cpus);
static struct rchan *chan;
static struct dentry *dir;
static DEFINE_MUTEX(control_lock);
static bool running;

/* Called on the CPU of @s, in context @ctx; each (CPU, context) has one writer. */
static void emit(struct sample_cpu *s, int ctx)
{
	unsigned long flags;
	void *slot;

	local_irq_save(flags);
	slot = relay_reserve(chan, RECORD_SIZE);
	if (slot)
		record_encode(slot, s->cpu, ctx, s->counts.written[ctx], ktime_get_ns());
	else
		s->counts.dropped[ctx]++;
	s->counts.written[ctx]++;
	local_irq_restore(flags);
}

static void work_fn(struct work_struct *w)
{
	struct sample_cpu *s = container_of(to_delayed_work(w), struct sample_cpu, work);

	emit(s, CTX_PROCESS);
	/*
	 * Again on this CPU, whichever it is: the home CPU may have gone
	 * offline, and queueing there would be a bug. The record still names
	 * its stream's CPU.
	 */
	if (READ_ONCE(running))
		queue_delayed_work(system_wq, &s->work, 1);
}

static void timer_fn(struct timer_list *t)
{
	struct sample_cpu *s = timer_container_of(s, t, timer);

	emit(s, CTX_SOFTIRQ);
	if (READ_ONCE(running))
		mod_timer(&s->timer, jiffies + 1);
}

static enum hrtimer_restart hrtimer_fn(struct hrtimer *t)
{
	struct sample_cpu *s = container_of(t, struct sample_cpu, hrtimer);

	emit(s, CTX_HARDIRQ);
	if (!READ_ONCE(running))
		return HRTIMER_NORESTART;
	hrtimer_forward_now(t, ns_to_ktime(NSEC_PER_SEC / HZ));
	return HRTIMER_RESTART;
}

/* Runs on the target CPU, so the pinned hrtimer fires there. */
static void start_hrtimer(void *info)
{
	struct sample_cpu *s = info;

	hrtimer_start(&s->hrtimer, ns_to_ktime(NSEC_PER_SEC / HZ), HRTIMER_MODE_REL_PINNED);
}

static void sample_start(void)
{
	int cpu;

	WRITE_ONCE(running, true);
	cpus_read_lock();
	for_each_online_cpu(cpu) {
		struct sample_cpu *s = per_cpu_ptr(&sample_cpus, cpu);

		queue_delayed_work_on(cpu, system_wq, &s->work, 1);
		s->timer.expires = jiffies + 1;
		add_timer_on(&s->timer, cpu);
		smp_call_function_single(cpu, start_hrtimer, s, 1);
	}
	cpus_read_unlock();
}

static void sample_stop(void)
{
	int cpu;

	WRITE_ONCE(running, false);
	for_each_possible_cpu(cpu) {
		struct sample_cpu *s = per_cpu_ptr(&sample_cpus, cpu);

		cancel_delayed_work_sync(&s->work);
		timer_delete_sync(&s->timer);
		hrtimer_cancel(&s->hrtimer);
	}
	relay_flush(chan);
}

static ssize_t control_write(struct file *file, const char __user *ubuf, size_t count,
			     loff_t *ppos)
{
	return producer_control(ubuf, count, &control_lock, &running, sample_start, sample_stop);
}

static ssize_t dropped_read(struct file *file, char __user *ubuf, size_t count, loff_t *ppos)
{
	char buf[32];
	int n = scnprintf(buf, sizeof(buf), "%zu\n", relay_stats(chan, RELAY_STATS_BUF_FULL));

	return simple_read_from_buffer(ubuf, count, ppos, buf, n);
}

static struct record_counts *counts_of(int cpu)
{
	return &per_cpu_ptr(&sample_cpus, cpu)->counts;
}

static ssize_t counts_read(struct file *file, char __user *ubuf, size_t count, loff_t *ppos)
{
	return record_counts_read(ubuf, count, ppos, counts_of);
}

static const struct file_operations control_fops = {
	.owner = THIS_MODULE,
	.write = control_write,
};

static const struct file_operations dropped_fops = {
	.owner = THIS_MODULE,
	.read = dropped_read,
};

static const struct file_operations counts_fops = {
	.owner = THIS_MODULE,
	.read = counts_read,
};

static struct dentry *create_buf_file(const char *filename, struct dentry *parent,
				      umode_t mode, struct rchan_buf *buf, int *is_global)
{
	/*
	 * With <linux/relay.h> this was debugfs_create_file(..., &relay_file_operations):
	 * that still works with rrelay (read and poll), but rrelay's helper
	 * also gives the file mmap and splice.
	 */
	return rrelay_create_buf_file(filename, parent, mode, buf);
}

static int remove_buf_file(struct dentry *dentry)
{
	debugfs_remove(dentry);
	return 0;
}

static const struct rchan_callbacks sample_callbacks = {
	.create_buf_file = create_buf_file,
	.remove_buf_file = remove_buf_file,
};

static int __init c_relay_sample_init(void)
{
	int cpu;

	for_each_possible_cpu(cpu) {
		struct sample_cpu *s = per_cpu_ptr(&sample_cpus, cpu);

		s->cpu = cpu;
		INIT_DELAYED_WORK(&s->work, work_fn);
		timer_setup(&s->timer, timer_fn, TIMER_PINNED);
		hrtimer_setup(&s->hrtimer, hrtimer_fn, CLOCK_MONOTONIC, HRTIMER_MODE_REL_PINNED);
	}
	dir = debugfs_create_dir("c_relay_sample", NULL);
	chan = relay_open("trace", dir, subbuf_size, n_subbufs, &sample_callbacks, NULL);
	if (!chan) {
		debugfs_remove(dir);
		return -ENOMEM;
	}
	debugfs_create_file("control", 0200, dir, NULL, &control_fops);
	debugfs_create_file("dropped", 0444, dir, NULL, &dropped_fops);
	debugfs_create_file("counts", 0444, dir, NULL, &counts_fops);
	return 0;
}

static void __exit c_relay_sample_exit(void)
{
	mutex_lock(&control_lock);
	if (running)
		sample_stop();
	mutex_unlock(&control_lock);
	relay_close(chan);
	debugfs_remove(dir);
}

module_init(c_relay_sample_init);
module_exit(c_relay_sample_exit);
MODULE_DESCRIPTION("rrelay sample: a blktrace-like C client on rrelay_compat.h");
MODULE_LICENSE("GPL");
