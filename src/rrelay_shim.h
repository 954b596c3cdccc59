/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The C shim's functions, called from Rust (src/shim.rs declares the same
 * prototypes on the Rust side; src/channel.rs those of the per-CPU
 * pointers).
 */
#ifndef _RRELAY_SHIM_H
#define _RRELAY_SHIM_H

#include <linux/fs.h>
#include <linux/poll.h>

struct page;
struct rrelay_buf;
struct rrelay_wakeup;

void *rrelay_shim_vmap(struct page **pages, unsigned int count);
void rrelay_shim_vunmap(void *addr);
unsigned long rrelay_shim_switch_enter(void);
void rrelay_shim_switch_exit(unsigned long flags);
bool rrelay_shim_may_wait(void);
void rrelay_shim_preempt_disable(void);
void rrelay_shim_preempt_enable(void);
struct rrelay_buf *__percpu *rrelay_shim_alloc_percpu_ptrs(void);
struct rrelay_buf **rrelay_shim_percpu_slot(struct rrelay_buf *__percpu *ptrs, unsigned int cpu);
struct rrelay_buf **rrelay_shim_this_cpu_slot(struct rrelay_buf *__percpu *ptrs);
ssize_t rrelay_shim_lend_page(struct pipe_inode_info *pipe, struct page *page,
			      unsigned int offset, unsigned int len, void *token);
unsigned int rrelay_shim_pipe_room(struct pipe_inode_info *pipe);
struct rrelay_wakeup *rrelay_shim_wakeup_new(void);
void rrelay_shim_wakeup_kick(struct rrelay_wakeup *w);
void rrelay_shim_wakeup_now(struct rrelay_wakeup *w);
void rrelay_shim_wakeup_poll(struct rrelay_wakeup *w, struct file *file, poll_table *pt);
void rrelay_shim_wakeup_sync(struct rrelay_wakeup *w);
void rrelay_shim_wakeup_free(struct rrelay_wakeup *w);

/* Defined in Rust (src/splice.rs), called by the lent pipe buffers' ops. */
void rrelay_lend_get(void *token);
void rrelay_lend_release(void *token);

#endif /* _RRELAY_SHIM_H */
