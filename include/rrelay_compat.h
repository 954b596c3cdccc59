/* SPDX-License-Identifier: GPL-2.0 */
/*
 * rrelay_compat.h: build a <linux/relay.h> client against rrelay by changing
 * only its include line. The relay names become rrelay's; the structures
 * have the fields relay clients read (buf->chan, buf->cpu,
 * chan->private_data, chan->subbuf_size, chan->n_subbufs, and chan->buf,
 * the per-CPU pointer: *per_cpu_ptr(chan->buf, cpu) is a CPU's buffer).
 * scripts/compat-clients.sh compiles the kernel's relay clients this way.
 *
 * Do not include <linux/relay.h> in the same file. What differs:
 *   - relay_stats() is exported and also knows RRELAY_STATS_DROPPED,
 *     _OVERWRITTEN and _LOST;
 *   - subbuf_start_reserve() ignores a length that leaves no room for data
 *     instead of BUG();
 *   - files made with debugfs_create_file(..., &relay_file_operations) get
 *     read and poll (debugfs's proxy drops the rest, as in 7.2); use
 *     rrelay_create_buf_file() in create_buf_file for mmap and splice.
 */
#ifndef _RRELAY_COMPAT_H
#define _RRELAY_COMPAT_H

/* What <linux/relay.h> includes: its clients may rely on these. */
#include <linux/bug.h>
#include <linux/fs.h>
#include <linux/irq_work.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/percpu.h>
#include <linux/poll.h>
#include <linux/sched.h>
#include <linux/timer.h>
#include <linux/types.h>
#include <linux/wait.h>

#include <rrelay.h>

#define RELAYFS_CHANNEL_VERSION		RRELAY_CHANNEL_VERSION
#define RELAY_STATS_BUF_FULL		RRELAY_STATS_BUF_FULL
#define RELAY_STATS_WRT_BIG		RRELAY_STATS_WRT_BIG

#define rchan				rrelay_chan
#define rchan_buf			rrelay_buf
#define rchan_callbacks			rrelay_callbacks

#define relay_open			rrelay_open
#define relay_close			rrelay_close
#define relay_flush			rrelay_flush
#define relay_reset			rrelay_reset
#define relay_write			rrelay_write
#define __relay_write			__rrelay_write
#define relay_reserve			rrelay_reserve_committed
#define relay_switch_subbuf		rrelay_switch_subbuf
#define relay_subbufs_consumed		rrelay_subbufs_consumed
#define relay_buf_full			rrelay_buf_full
#define relay_stats			rrelay_stats
#define subbuf_start_reserve		rrelay_subbuf_start_reserve
#define relay_file_operations		rrelay_file_operations

#endif /* _RRELAY_COMPAT_H */
