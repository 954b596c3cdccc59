// SPDX-License-Identifier: GPL-2.0
/*
 * rrelay's C shim: only what Rust cannot reach in 7.2. Each function is a
 * thin wrapper; the comment above it says why it is in C. The symbol exports
 * of the C ABI (defined in Rust, src/ffi.rs) are here too, because a Rust
 * module has no EXPORT_SYMBOL of its own.
 */
#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/irq_work.h>
#include <linux/irqflags.h>
#include <linux/hardirq.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/percpu.h>
#include <linux/pipe_fs_i.h>
#include <linux/poll.h>
#include <linux/preempt.h>
#include <linux/slab.h>
#include <linux/splice.h>
#include <linux/vmalloc.h>
#include <linux/wait.h>

#include <rrelay.h>
#include <uapi/linux/rrelay.h>

#include "rrelay_shim.h"

/*
 * Every structure C and Rust share, checked against the one list
 * (src/rrelay_layout.h; src/layout.rs checks the Rust side against it).
 */
#if BITS_PER_LONG == 64
#define RRELAY_FIELD(s, f, off)	static_assert(offsetof(struct s, f) == (off))
#define RRELAY_SIZE(s, size)	static_assert(sizeof(struct s) == (size))
#include "rrelay_layout.h"
#undef RRELAY_FIELD
#undef RRELAY_SIZE
#endif

/* vmap() and PAGE_KERNEL are not in the Rust bindings. */
void *rrelay_shim_vmap(struct page **pages, unsigned int count)
{
	return vmap(pages, count, VM_MAP, PAGE_KERNEL);
}

/* vunmap() is not in the Rust bindings either. */
void rrelay_shim_vunmap(void *addr)
{
	vunmap(addr);
}

/*
 * A sub-buffer switch (src/ring.rs): local interrupts off, and this CPU's
 * depth of switches, so that a writer inside one (a subbuf_start callback
 * writing to another channel) never waits for another CPU's switch.
 * local_irq_save() is a macro over arch code; per-CPU data is macros too.
 */
static DEFINE_PER_CPU(unsigned int, rrelay_switch_depth);

unsigned long rrelay_shim_switch_enter(void)
{
	unsigned long flags;

	local_irq_save(flags);
	this_cpu_inc(rrelay_switch_depth);
	return flags;
}

void rrelay_shim_switch_exit(unsigned long flags)
{
	this_cpu_dec(rrelay_switch_depth);
	local_irq_restore(flags);
}

/* Not in NMI (in_nmi() is a macro), and inside no switch but the caller's own. */
bool rrelay_shim_may_wait(void)
{
	return !in_nmi() && this_cpu_read(rrelay_switch_depth) <= 1;
}

/* preempt_disable() is a macro. */
void rrelay_shim_preempt_disable(void)
{
	preempt_disable();
}

/* preempt_enable() is a macro. */
void rrelay_shim_preempt_enable(void)
{
	preempt_enable();
}

/*
 * Zero-copy splice (src/splice.rs): pipe buffers that lend a buffer's
 * pages. pipe_buf_operations and add_to_pipe() have no Rust abstraction
 * in 7.2. Each lent pipe buffer holds a page reference, a module
 * reference (the ops live here) and a token, whose lend count and buffer
 * reference Rust keeps (rrelay_lend_get/rrelay_lend_release).
 */
static void rrelay_pipe_buf_release(struct pipe_inode_info *pipe, struct pipe_buffer *pb)
{
	rrelay_lend_release((void *)pb->private);
	put_page(pb->page);
	/*
	 * Last: this may drop the module's last reference while its code
	 * still runs. The compiler makes it a tail call (jmp module_put) here,
	 * as it must for any module_put(THIS_MODULE) ending a module function.
	 */
	module_put(THIS_MODULE);
}

/* tee(): the copy holds its own references. */
static bool rrelay_pipe_buf_get(struct pipe_inode_info *pipe, struct pipe_buffer *pb)
{
	if (!try_get_page(pb->page))
		return false;
	__module_get(THIS_MODULE);
	rrelay_lend_get((void *)pb->private);
	return true;
}

/* No .try_steal: the pages stay the buffer's. No .confirm: always valid. */
static const struct pipe_buf_operations rrelay_pipe_buf_ops = {
	.release = rrelay_pipe_buf_release,
	.get = rrelay_pipe_buf_get,
};

/*
 * Lends @len bytes at @offset of @page to @pipe (locked by the splice
 * caller); the caller took the token's references for it. Returns @len,
 * or a negative errno after add_to_pipe() released them (pipe full, or
 * no reader).
 */
ssize_t rrelay_shim_lend_page(struct pipe_inode_info *pipe, struct page *page,
			      unsigned int offset, unsigned int len, void *token)
{
	struct pipe_buffer pb = {
		.page = page,
		.offset = offset,
		.len = len,
		.ops = &rrelay_pipe_buf_ops,
		.private = (unsigned long)token,
	};

	get_page(page);
	__module_get(THIS_MODULE);
	return add_to_pipe(pipe, &pb);
}

/* pipe_occupancy() is an inline over the pipe's head and tail; the pipe is locked. */
unsigned int rrelay_shim_pipe_room(struct pipe_inode_info *pipe)
{
	unsigned int used = pipe_occupancy(pipe->head, pipe->tail);

	return used < pipe->max_usage ? pipe->max_usage - used : 0;
}

/* alloc_percpu() is a type-generic macro (with allocation profiling hooks). */
struct rrelay_buf *__percpu *rrelay_shim_alloc_percpu_ptrs(void)
{
	return alloc_percpu(struct rrelay_buf *);
}

/* per_cpu_ptr() is a macro over the arch's per-CPU offsets. */
struct rrelay_buf **rrelay_shim_percpu_slot(struct rrelay_buf *__percpu *ptrs, unsigned int cpu)
{
	return per_cpu_ptr(ptrs, cpu);
}

/* this_cpu_ptr() is a macro over the arch's per-CPU base (x86-64 Rust has it inline). */
struct rrelay_buf **rrelay_shim_this_cpu_slot(struct rrelay_buf *__percpu *ptrs)
{
	return this_cpu_ptr(ptrs);
}

/*
 * The reader wakeup: a wait queue and the irq_work that wakes it, so a
 * writer in any context (the scheduler's included) never calls wake_up
 * itself. init_waitqueue_head() and init_irq_work() are macros and inlines,
 * and waitqueue_active() is inline.
 */
struct rrelay_wakeup {
	wait_queue_head_t wait;
	struct irq_work work;
};

static void rrelay_wakeup_fn(struct irq_work *work)
{
	struct rrelay_wakeup *w = container_of(work, struct rrelay_wakeup, work);

	wake_up_interruptible(&w->wait);
}

struct rrelay_wakeup *rrelay_shim_wakeup_new(void)
{
	struct rrelay_wakeup *w = kzalloc(sizeof(*w), GFP_KERNEL);

	if (!w)
		return NULL;
	init_waitqueue_head(&w->wait);
	init_irq_work(&w->work, rrelay_wakeup_fn);
	return w;
}

/* Called after the writer's smp_mb(): queue the wakeup only if a reader waits. */
void rrelay_shim_wakeup_kick(struct rrelay_wakeup *w)
{
	/*
	 * Lockless: the caller's smp_mb(), after it published the new
	 * sub-buffer, pairs with the smp_mb() in rrelay_shim_wakeup_poll()
	 * (after the reader queues itself, before it checks for data).
	 * Either the reader sees the data or this check sees the reader.
	 */
	if (waitqueue_active(&w->wait))
		irq_work_queue(&w->work);
}

/* Wake every reader now (process context: close, reset). */
void rrelay_shim_wakeup_now(struct rrelay_wakeup *w)
{
	wake_up_interruptible_all(&w->wait);
}

/* poll_wait() is inline. */
void rrelay_shim_wakeup_poll(struct rrelay_wakeup *w, struct file *file, poll_table *pt)
{
	poll_wait(file, &w->wait, pt);
	/*
	 * The reader queued itself; now it checks for data. Pairs with the
	 * writer's smp_mb() between publishing and waitqueue_active(): the
	 * store-buffering pattern, as in sock_poll_wait(). Either the writer
	 * sees the reader queued, or the reader sees the data.
	 */
	smp_mb();
}

/* Wait for a queued wakeup to finish (reset). */
void rrelay_shim_wakeup_sync(struct rrelay_wakeup *w)
{
	irq_work_sync(&w->work);
}

/* Wait for a queued wakeup, then free (struct rrelay_wakeup is C's). */
void rrelay_shim_wakeup_free(struct rrelay_wakeup *w)
{
	irq_work_sync(&w->work);
	kfree(w);
}

/*
 * The C ABI, defined in Rust (src/ffi.rs) and documented in rrelay.h. A
 * Rust module has no EXPORT_SYMBOL of its own, so the exports stand here,
 * away from the definitions (scripts/lint-c.ignore says so to checkpatch).
 */
EXPORT_SYMBOL_GPL(rrelay_open);
EXPORT_SYMBOL_GPL(rrelay_close);
EXPORT_SYMBOL_GPL(rrelay_flush);
EXPORT_SYMBOL_GPL(rrelay_reset);
EXPORT_SYMBOL_GPL(rrelay_write_noinline);
EXPORT_SYMBOL_GPL(__rrelay_write_noinline);
EXPORT_SYMBOL_GPL(rrelay_reserve_noinline);
EXPORT_SYMBOL_GPL(rrelay_commit_noinline);
EXPORT_SYMBOL_GPL(__rrelay_write_slow);
EXPORT_SYMBOL_GPL(__rrelay_reserve_slow);
EXPORT_SYMBOL_GPL(__rrelay_carry);
EXPORT_SYMBOL_GPL(rrelay_switch_subbuf);
EXPORT_SYMBOL_GPL(rrelay_subbuf_start_reserve);
EXPORT_SYMBOL_GPL(rrelay_subbufs_consumed);
EXPORT_SYMBOL_GPL(rrelay_buf_full);
EXPORT_SYMBOL_GPL(rrelay_stats);
EXPORT_SYMBOL_GPL(rrelay_buf_stats);
EXPORT_SYMBOL_GPL(rrelay_create_buf_file);
EXPORT_SYMBOL_GPL(rrelay_file_operations);
