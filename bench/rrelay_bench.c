// SPDX-License-Identifier: GPL-2.0
/*
 * rrelay against the kernel's relay, in one module and one boot.
 *
 * At load, the write-path benchmark: for record sizes 16 to 4096 bytes,
 * batches of rrelay_write, __rrelay_write, rrelay_reserve + memcpy and of
 * relay_write, __relay_write, relay_reserve + memcpy (same geometry, both
 * in overwrite mode so batches never stall), and a bare memcpy into a
 * vmalloc'ed (vmapped) buffer of the same size: the floor. Implementations
 * are interleaved (the order rotates every round), on one CPU and then on
 * all CPUs at once. Then the sub-buffer switch: 4 KiB records into 4 KiB
 * sub-buffers, a switch per record. Then the set-up cost: open and close of
 * 4 CPUs x setup_mib MiB. Results: <debugfs>/rrelay_bench/results, one
 * sample a line:
 *   write <cpus> <impl> <size> <round> <cpu> <picoseconds per record>
 *   switch <rrelay_write|relay_write> <round> <picoseconds per record>
 *   setup <impl> <open|close> <round> <nanoseconds>
 *
 * The reader benchmark's producer: write "produce <rrelay|relay> SECONDS
 * RATE [SKIP]" to <debugfs>/rrelay_bench/ctl to open a no-overwrite channel
 * (files rrelay_bench/rbench<cpu> or kbench<cpu>), write 1024-byte records
 * from a kthread per CPU but SKIP (the reader's; RATE bytes/s per CPU, 0 =
 * as fast as it can), then flush and close it. "produced" reads "<written
 * bytes> <records>".
 */
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/relay.h>
#include <linux/ring_buffer.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/vmalloc.h>
#include <rrelay.h>

static uint rounds = 5;
module_param(rounds, uint, 0444);
MODULE_PARM_DESC(rounds, "Repetitions of every measurement");

static ulong batch_bytes = 2 << 20;
module_param(batch_bytes, ulong, 0444);
MODULE_PARM_DESC(batch_bytes, "Bytes written per timed batch");

static ulong setup_mib = 16;
module_param(setup_mib, ulong, 0444);
MODULE_PARM_DESC(setup_mib, "MiB per CPU for the open/close measurement");

#define SUBBUF_SIZE	(64 << 10)
#define N_SUBBUFS	8
#define PRODUCE_RECORD	1024

enum impl {
	R_WRITE, R_NOIRQ, R_RESERVE, K_WRITE, K_NOIRQ, K_RESERVE, F_WRITE, F_RESERVE, FLOOR,
	NR_IMPL
};

static const char *const impl_names[NR_IMPL] = {
	"rrelay_write", "__rrelay_write", "rrelay_reserve",
	"relay_write", "__relay_write", "relay_reserve",
	"ftrace_write", "ftrace_reserve", "memcpy",
};

/*
 * The ftrace ring buffer, a peer (lockless, NMI-safe, commit-aware):
 * ring_buffer_write(), and ring_buffer_lock_reserve() + memcpy +
 * ring_buffer_unlock_commit(). Its events live in one page, so the largest
 * record size is left out.
 */
static struct trace_buffer *fbuf;
#define FTRACE_MAX_RECORD	2048

static const size_t sizes[] = { 16, 64, 256, 1024, 4096 };

static struct dentry *dir;
static struct rchan *kchan;
static struct rrelay_chan *rchan;
static u8 src[4096];

/* The results text, grown as measurements come in. */
static char *results;
static size_t results_len, results_cap;
static DEFINE_MUTEX(results_lock);

static __printf(1, 2) void emit(const char *fmt, ...)
{
	va_list ap;

	mutex_lock(&results_lock);
	if (results_cap - results_len < 128) {
		size_t cap = max_t(size_t, 2 * results_cap, 1 << 16);
		char *p = kvrealloc(results, cap, GFP_KERNEL);

		if (!p)
			goto out;
		results = p;
		results_cap = cap;
	}
	va_start(ap, fmt);
	results_len += vscnprintf(results + results_len, results_cap - results_len, fmt, ap);
	va_end(ap);
out:
	mutex_unlock(&results_lock);
}

/* Overwrite for both: the write benchmark measures the path, never a stall. */
static int overwrite_subbuf_start(struct rchan_buf *buf, void *subbuf, void *prev)
{
	return 1;
}

static int r_overwrite_subbuf_start(struct rrelay_buf *buf, void *subbuf, void *prev)
{
	return 1;
}

static struct dentry *k_create(const char *name, struct dentry *parent, umode_t mode,
			       struct rchan_buf *buf, int *is_global)
{
	return debugfs_create_file(name, mode, parent, buf, &relay_file_operations);
}

static int k_remove(struct dentry *d)
{
	debugfs_remove(d);
	return 0;
}

static const struct rchan_callbacks k_overwrite_cb = {
	.subbuf_start = overwrite_subbuf_start,
	.create_buf_file = k_create,
	.remove_buf_file = k_remove,
};

static const struct rrelay_callbacks r_overwrite_cb = {
	.subbuf_start = r_overwrite_subbuf_start,
};

/* Time one batch of @n records of @size bytes; returns picoseconds per record. */
static u64 run_batch(enum impl impl, size_t size, size_t n, u8 *floor, size_t floor_size)
{
	struct rrelay_reservation res;
	size_t i, off = 0;
	u64 t0, t1;
	void *p;

	preempt_disable();
	t0 = ktime_get_ns();
	switch (impl) {
	case R_WRITE:
		for (i = 0; i < n; i++)
			rrelay_write(rchan, src, size);
		break;
	case R_NOIRQ:
		for (i = 0; i < n; i++)
			__rrelay_write(rchan, src, size);
		break;
	case R_RESERVE:
		for (i = 0; i < n; i++) {
			p = rrelay_reserve(rchan, size, &res);
			if (p) {
				memcpy(p, src, size);
				rrelay_commit(&res);
			}
		}
		break;
	case K_WRITE:
		for (i = 0; i < n; i++)
			relay_write(kchan, src, size);
		break;
	case K_NOIRQ:
		for (i = 0; i < n; i++)
			__relay_write(kchan, src, size);
		break;
	case K_RESERVE:
		for (i = 0; i < n; i++) {
			p = relay_reserve(kchan, size);
			if (p)
				memcpy(p, src, size);
		}
		break;
	case F_WRITE:
		for (i = 0; i < n; i++)
			ring_buffer_write(fbuf, size, src);
		break;
	case F_RESERVE:
		for (i = 0; i < n; i++) {
			struct ring_buffer_event *ev = ring_buffer_lock_reserve(fbuf, size);

			if (ev) {
				memcpy(ring_buffer_event_data(ev), src, size);
				ring_buffer_unlock_commit(fbuf);
			}
		}
		break;
	case FLOOR:
		for (i = 0; i < n; i++) {
			memcpy(floor + off, src, size);
			off += size;
			if (off + size > floor_size)
				off = 0;
		}
		break;
	default:
		break;
	}
	t1 = ktime_get_ns();
	preempt_enable();
	return div64_u64((t1 - t0) * 1000, n);
}

/* All CPUs run the same schedule; a barrier starts every batch together. */
struct bench_run {
	int ncpus;
	atomic_t arrived;
	atomic_t generation;
	struct completion done;
	atomic_t finished;
};

static void barrier_wait(struct bench_run *run)
{
	int gen = atomic_read(&run->generation);

	if (atomic_inc_return(&run->arrived) == run->ncpus) {
		atomic_set(&run->arrived, 0);
		atomic_inc(&run->generation);
		return;
	}
	while (atomic_read(&run->generation) == gen)
		cpu_relax();
}

static void schedule_all(struct bench_run *run, int cpu)
{
	size_t floor_size = (size_t)SUBBUF_SIZE * N_SUBBUFS;
	u8 *floor = vmalloc(floor_size);
	uint r, s, k;

	if (!floor) {
		pr_err("rrelay_bench: no memory for the floor buffer\n");
		return;
	}
	memset(floor, 0, floor_size);
	for (r = 0; r < rounds; r++)
		for (s = 0; s < ARRAY_SIZE(sizes); s++)
			for (k = 0; k < NR_IMPL; k++) {
				enum impl impl = (k + r) % NR_IMPL;
				size_t n = max_t(size_t, 16, batch_bytes / sizes[s]);
				u64 ps;

				if ((impl == F_WRITE || impl == F_RESERVE) &&
				    (!fbuf || sizes[s] > FTRACE_MAX_RECORD))
					continue;

				if (run)
					barrier_wait(run);
				ps = run_batch(impl, sizes[s], n, floor, floor_size);
				emit("write %d %s %zu %u %d %llu\n", run ? run->ncpus : 1,
				     impl_names[impl], sizes[s], r, cpu, ps);
				cond_resched();
			}
	vfree(floor);
}

static int bench_thread(void *data)
{
	struct bench_run *run = data;

	schedule_all(run, smp_processor_id());
	if (atomic_inc_return(&run->finished) == run->ncpus)
		complete(&run->done);
	while (!kthread_should_stop())
		schedule_timeout_interruptible(HZ);
	return 0;
}

static void write_bench_all_cpus(void)
{
	struct task_struct *tasks[NR_CPUS] = {};
	struct bench_run run = { .ncpus = num_online_cpus() };
	int cpu;

	atomic_set(&run.arrived, 0);
	atomic_set(&run.generation, 0);
	atomic_set(&run.finished, 0);
	init_completion(&run.done);
	for_each_online_cpu(cpu) {
		tasks[cpu] = kthread_create(bench_thread, &run, "rrelay_bench/%d", cpu);
		if (IS_ERR(tasks[cpu])) {
			tasks[cpu] = NULL;
			run.ncpus--;
			continue;
		}
		kthread_bind(tasks[cpu], cpu);
	}
	for_each_online_cpu(cpu)
		if (tasks[cpu])
			wake_up_process(tasks[cpu]);
	wait_for_completion(&run.done);
	for_each_online_cpu(cpu)
		if (tasks[cpu])
			kthread_stop(tasks[cpu]);
}

/*
 * The sub-buffer switch: rrelay_write() and relay_write() of 4 KiB records
 * into channels of 8 x 4 KiB sub-buffers (overwrite mode), so every record
 * switches; this CPU only.
 */
static void switch_bench(void)
{
	const size_t n = 1024, size = PAGE_SIZE;
	struct rrelay_chan *r = rrelay_open("sr", dir, size, N_SUBBUFS, &r_overwrite_cb, NULL);
	struct rchan *k = relay_open("sk", dir, size, N_SUBBUFS, &k_overwrite_cb, NULL);
	uint round;

	for (round = 0; r && k && round < rounds; round++) {
		u64 t0, t1, t2;
		size_t i;

		preempt_disable();
		t0 = ktime_get_ns();
		for (i = 0; i < n; i++)
			rrelay_write(r, src, size);
		t1 = ktime_get_ns();
		for (i = 0; i < n; i++)
			relay_write(k, src, size);
		t2 = ktime_get_ns();
		preempt_enable();
		emit("switch rrelay_write %u %llu\nswitch relay_write %u %llu\n",
		     round, div64_u64((t1 - t0) * 1000, n), round, div64_u64((t2 - t1) * 1000, n));
	}
	rrelay_close(r);
	if (k)
		relay_close(k);
}

static void setup_bench(void)
{
	size_t subbuf = 1 << 20, n = setup_mib;
	uint r;

	for (r = 0; r < rounds; r++) {
		struct rrelay_chan *rc;
		struct rchan *kc;
		u64 t0, t1, t2;

		t0 = ktime_get_ns();
		rc = rrelay_open("setup_r", dir, subbuf, n, &r_overwrite_cb, NULL);
		t1 = ktime_get_ns();
		rrelay_close(rc);
		t2 = ktime_get_ns();
		if (rc)
			emit("setup rrelay open %u %llu\nsetup rrelay close %u %llu\n",
			     r, t1 - t0, r, t2 - t1);
		t0 = ktime_get_ns();
		kc = relay_open("setup_k", dir, subbuf, n, &k_overwrite_cb, NULL);
		t1 = ktime_get_ns();
		relay_close(kc);
		t2 = ktime_get_ns();
		if (kc)
			emit("setup relay open %u %llu\nsetup relay close %u %llu\n",
			     r, t1 - t0, r, t2 - t1);
	}
}

/* The reader benchmark's producer. */
static struct {
	bool rrelay;
	struct rrelay_chan *r;
	struct rchan *k;
	ulong rate;
	u64 deadline;
	atomic64_t bytes;
	atomic64_t records;
	struct task_struct *tasks[NR_CPUS];
	struct completion done;
	atomic_t running;
} prod;
static DEFINE_MUTEX(prod_lock);

static int k_noov_start(struct rchan_buf *buf, void *subbuf, void *prev)
{
	return !relay_buf_full(buf);
}

static const struct rchan_callbacks k_noov_cb = {
	.subbuf_start = k_noov_start,
	.create_buf_file = k_create,
	.remove_buf_file = k_remove,
};

static int producer_thread(void *data)
{
	u64 start = ktime_get_ns(), sent = 0;

	while (ktime_get_ns() < prod.deadline && !kthread_should_stop()) {
		int i;

		for (i = 0; i < 16; i++) {
			if (prod.rrelay)
				rrelay_write(prod.r, src, PRODUCE_RECORD);
			else
				relay_write(prod.k, src, PRODUCE_RECORD);
		}
		sent += 16 * PRODUCE_RECORD;
		atomic64_add(16 * PRODUCE_RECORD, &prod.bytes);
		atomic64_add(16, &prod.records);
		if (prod.rate) {
			u64 due = start + div64_u64(sent * NSEC_PER_SEC, prod.rate);
			u64 now = ktime_get_ns();

			if (due > now)
				usleep_range(div_u64(due - now, 1000),
					     div_u64(due - now, 1000) + 50);
		} else {
			cond_resched();
		}
	}
	if (atomic_dec_and_test(&prod.running))
		complete(&prod.done);
	while (!kthread_should_stop())
		schedule_timeout_interruptible(HZ);
	return 0;
}

/*
 * Runs the producer for @secs on every online CPU but @skip (the reader's,
 * or -1 for none), then flushes and closes the channel.
 */
static int produce(bool use_rrelay, uint secs, ulong rate, int skip)
{
	int cpu;

	prod.rrelay = use_rrelay;
	prod.rate = rate;
	atomic64_set(&prod.bytes, 0);
	atomic64_set(&prod.records, 0);
	if (use_rrelay)
		prod.r = rrelay_open("rbench", dir, SUBBUF_SIZE, N_SUBBUFS, NULL, NULL);
	else
		prod.k = relay_open("kbench", dir, SUBBUF_SIZE, N_SUBBUFS, &k_noov_cb, NULL);
	if (use_rrelay ? !prod.r : !prod.k)
		return -ENOMEM;
	/* Let the reader find the files first. */
	msleep(500);
	init_completion(&prod.done);
	atomic_set(&prod.running, num_online_cpus() - (skip >= 0 && cpu_online(skip)));
	prod.deadline = ktime_get_ns() + (u64)secs * NSEC_PER_SEC;
	for_each_online_cpu(cpu) {
		prod.tasks[cpu] = NULL;
		if (cpu == skip)
			continue;
		prod.tasks[cpu] = kthread_create(producer_thread, NULL, "rrelay_prod/%d", cpu);
		if (IS_ERR(prod.tasks[cpu])) {
			prod.tasks[cpu] = NULL;
			if (atomic_dec_and_test(&prod.running))
				complete(&prod.done);
			continue;
		}
		kthread_bind(prod.tasks[cpu], cpu);
		wake_up_process(prod.tasks[cpu]);
	}
	wait_for_completion(&prod.done);
	for_each_online_cpu(cpu)
		if (prod.tasks[cpu])
			kthread_stop(prod.tasks[cpu]);
	if (use_rrelay) {
		rrelay_flush(prod.r);
		rrelay_close(prod.r);
		prod.r = NULL;
	} else {
		relay_flush(prod.k);
		relay_close(prod.k);
		prod.k = NULL;
	}
	return 0;
}

/*
 * The prefilled drain: one global buffer of @mib MiB (64 KiB sub-buffers,
 * no overwrite) filled to the brim with 1 KiB records and flushed, the
 * producer stopped, so a reader's drain measures the reader alone. Files
 * rfill0 / kfill0; "close" ends it.
 */
static struct rrelay_chan *fill_r;
static struct rchan *fill_k;

static struct dentry *k_create_global(const char *name, struct dentry *parent, umode_t mode,
				      struct rchan_buf *buf, int *is_global)
{
	*is_global = 1;
	return debugfs_create_file(name, mode, parent, buf, &relay_file_operations);
}

static const struct rchan_callbacks k_fill_cb = {
	.subbuf_start = k_noov_start,
	.create_buf_file = k_create_global,
	.remove_buf_file = k_remove,
};

static const struct rrelay_callbacks r_fill_cb = { .is_global = 1 };

static void fill_close(void)
{
	rrelay_close(fill_r);
	fill_r = NULL;
	if (fill_k)
		relay_close(fill_k);
	fill_k = NULL;
}

static int fill(bool use_rrelay, ulong mib)
{
	size_t i, n = mib << 10;

	fill_close();
	if (use_rrelay)
		fill_r = rrelay_open("rfill", dir, SUBBUF_SIZE, mib << 4, &r_fill_cb, NULL);
	else
		fill_k = relay_open("kfill", dir, SUBBUF_SIZE, mib << 4, &k_fill_cb, NULL);
	if (use_rrelay ? !fill_r : !fill_k)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		if (use_rrelay)
			rrelay_write(fill_r, src, 1024);
		else
			relay_write(fill_k, src, 1024);
		if (!(i % 1024))
			cond_resched();
	}
	if (use_rrelay)
		rrelay_flush(fill_r);
	else
		relay_flush(fill_k);
	return 0;
}

static ssize_t ctl_write(struct file *f, const char __user *ubuf, size_t count, loff_t *ppos)
{
	char cmd[64], which[16];
	uint secs;
	ulong rate, mib;
	int ret, n, skip = -1;

	if (count >= sizeof(cmd) || copy_from_user(cmd, ubuf, count))
		return -EINVAL;
	cmd[count] = 0;
	mutex_lock(&prod_lock);
	n = sscanf(cmd, "produce %15s %u %lu %d", which, &secs, &rate, &skip);
	if (n >= 3 && secs <= 600 && skip < (int)nr_cpu_ids && num_online_cpus() > 1) {
		ret = produce(!strcmp(which, "rrelay"), secs, rate, n == 4 ? skip : -1);
	} else if (sscanf(cmd, "fill %15s %lu", which, &mib) == 2 && mib && mib <= 1024) {
		ret = fill(!strcmp(which, "rrelay"), mib);
	} else if (sysfs_streq(cmd, "close")) {
		fill_close();
		ret = 0;
	} else {
		ret = -EINVAL;
	}
	mutex_unlock(&prod_lock);
	return ret ? ret : count;
}

static ssize_t produced_read(struct file *f, char __user *ubuf, size_t count, loff_t *ppos)
{
	char buf[64];
	int n = scnprintf(buf, sizeof(buf), "%lld %lld\n", atomic64_read(&prod.bytes),
			  atomic64_read(&prod.records));

	return simple_read_from_buffer(ubuf, count, ppos, buf, n);
}

static ssize_t results_read(struct file *f, char __user *ubuf, size_t count, loff_t *ppos)
{
	ssize_t ret;

	mutex_lock(&results_lock);
	ret = simple_read_from_buffer(ubuf, count, ppos, results, results_len);
	mutex_unlock(&results_lock);
	return ret;
}

static const struct file_operations ctl_fops = { .owner = THIS_MODULE, .write = ctl_write };
static const struct file_operations produced_fops = { .owner = THIS_MODULE, .read = produced_read };
static const struct file_operations results_fops = { .owner = THIS_MODULE, .read = results_read };

static int __init rrelay_bench_init(void)
{
	int cpu = get_cpu();

	put_cpu();
	memset(src, 0x5a, sizeof(src));
	dir = debugfs_create_dir("rrelay_bench", NULL);
	rchan = rrelay_open("wr", dir, SUBBUF_SIZE, N_SUBBUFS, &r_overwrite_cb, NULL);
	kchan = relay_open("wk", dir, SUBBUF_SIZE, N_SUBBUFS, &k_overwrite_cb, NULL);
	if (!rchan || !kchan) {
		rrelay_close(rchan);
		if (kchan)
			relay_close(kchan);
		debugfs_remove(dir);
		return -ENOMEM;
	}
	fbuf = ring_buffer_alloc(SUBBUF_SIZE * N_SUBBUFS, RB_FL_OVERWRITE);
	if (!fbuf)
		pr_warn("rrelay_bench: no ftrace ring buffer; its columns stay empty\n");
	emit("info cpus %u rounds %u batch_bytes %lu subbuf_size %u n_subbufs %u\n",
	     num_online_cpus(), rounds, batch_bytes, SUBBUF_SIZE, N_SUBBUFS);
	/* One CPU: this thread, pinned where it is. */
	set_cpus_allowed_ptr(current, cpumask_of(cpu));
	schedule_all(NULL, cpu);
	set_cpus_allowed_ptr(current, cpu_possible_mask);
	write_bench_all_cpus();
	switch_bench();
	setup_bench();
	debugfs_create_file("results", 0444, dir, NULL, &results_fops);
	debugfs_create_file("ctl", 0200, dir, NULL, &ctl_fops);
	debugfs_create_file("produced", 0444, dir, NULL, &produced_fops);
	return 0;
}

static void __exit rrelay_bench_exit(void)
{
	fill_close();
	if (fbuf)
		ring_buffer_free(fbuf);
	rrelay_close(rchan);
	relay_close(kchan);
	debugfs_remove(dir);
	kvfree(results);
}

module_init(rrelay_bench_init);
module_exit(rrelay_bench_exit);
MODULE_DESCRIPTION("rrelay benchmark: rrelay against the kernel's relay and the ftrace ring buffer");
MODULE_LICENSE("GPL");
