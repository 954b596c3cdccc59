/* SPDX-License-Identifier: GPL-2.0 */
/*
 * rrelay: relay channels (kernel/relay.c semantics), implemented in Rust.
 *
 * A channel is one buffer per CPU (or one global buffer); a buffer is a ring
 * of n_subbufs sub-buffers of subbuf_size bytes, in order-0 pages vmapped
 * into one contiguous area. Writers fill the current sub-buffer of their
 * CPU; a full sub-buffer switches to the next, and the client's
 * subbuf_start callback decides whether to go on (overwrite) or stop.
 * User space reads each buffer through a file, by default in debugfs.
 *
 * Context rules:
 *   rrelay_write(), __rrelay_write(), rrelay_reserve() + rrelay_commit()
 *                           any context, NMI included, nested or concurrent
 *                           with other writers of the same buffer: lockless,
 *                           interrupts stay on (preemption is off from
 *                           reserve to commit)
 *   rrelay_flush(), rrelay_switch_subbuf(), rrelay_buf_full(),
 *   rrelay_stats(), rrelay_buf_stats(), rrelay_subbufs_consumed()
 *                           any context, no lock
 *   rrelay_open/close/reset and rrelay_create_buf_file  process context, may sleep
 *
 * The write protocol (src/ring.rs): a writer reserves room with a
 * compare-and-exchange of the buffer's write state word, copies, and adds
 * its length to the sub-buffer's commit count. Readers take a sub-buffer
 * only when every byte reserved in it is committed. The sub-buffer switch
 * (once per sub-buffer) runs with local interrupts off; a writer on
 * another CPU that finds one in progress waits for it, one in NMI (or
 * inside a subbuf_start callback) drops its record and counts it.
 *
 * Differences from <linux/relay.h> are listed in README.md; rrelay_compat.h
 * maps the relay_* names onto these for existing clients.
 */
#ifndef _RRELAY_H
#define _RRELAY_H

#include <linux/atomic.h>
#include <linux/bits.h>
#include <linux/compiler.h>
#include <linux/fs.h>
#include <linux/instrumented.h>
#include <linux/percpu.h>
#include <linux/preempt.h>
#include <linux/string.h>
#include <linux/types.h>

struct dentry;
struct rrelay_buf;

/* The layout version of the public parts of struct rrelay_chan. */
#define RRELAY_CHANNEL_VERSION 3

/* Longest base file name, including the CPU number appended to it. */
#define RRELAY_NAME_MAX 64

/**
 * struct rrelay_callbacks - a client's hooks into its channel
 * @subbuf_start: called when a writer moves to a new sub-buffer (and once
 *	for the first one, with @prev_subbuf NULL). Return 1 to go on into
 *	@subbuf, overwriting unread data if the buffer is full; 0 to stop, so
 *	writes are dropped (and counted) until the reader frees a sub-buffer.
 *	May call rrelay_subbuf_start_reserve(), and write a header into
 *	@subbuf, but only when it returns 1: when full, @subbuf still holds
 *	unread data. May write into @prev_subbuf (the sub-buffer just
 *	finished, not yet visible to readers), which is NULL on the first call
 *	and when retrying a stopped buffer (that one was finished before).
 *	Optional: the default stops when full (no-overwrite).
 *	Runs in the writer's context (any, NMI included), with local
 *	interrupts off, never twice at once for one buffer.
 * @create_buf_file: create the file for a buffer; set *@is_global non-zero
 *	to get one buffer for all CPUs. Optional: when NULL, rrelay creates
 *	the file itself in debugfs with rrelay_create_buf_file() (mode 0400).
 * @remove_buf_file: remove a file made by @create_buf_file. Mandatory when
 *	@create_buf_file is set; must be NULL otherwise.
 * @is_global: when @create_buf_file is NULL (rrelay makes the files),
 *	non-zero asks for one global buffer, file <base>0. Not in relay.
 * @flags: RRELAY_SUBBUF_HEADERS, or 0 (relay's behaviour). Not in relay.
 */
struct rrelay_callbacks {
	int (*subbuf_start)(struct rrelay_buf *buf, void *subbuf, void *prev_subbuf);
	struct dentry *(*create_buf_file)(const char *filename, struct dentry *parent,
					  umode_t mode, struct rrelay_buf *buf,
					  int *is_global);
	int (*remove_buf_file)(struct dentry *dentry);
	int is_global;
	unsigned int flags;
};

/*
 * Flags of struct rrelay_callbacks:
 *
 * RRELAY_SUBBUF_HEADERS: every sub-buffer starts with a struct
 * rrelay_subbuf_header (include/uapi/linux/rrelay.h): its number, CPU,
 * start and finish times, data size, and the records dropped and
 * sub-buffers overwritten so far, so that a reader of the data alone knows
 * where loss happened and how much. The header is rrelay's: the
 * subbuf_start callback gets @subbuf just after it, and its start reserve
 * comes after the header. Readers get finished sub-buffers only, and close
 * finishes the last one even when empty (its header has the final counts).
 * Needs subbuf_size > 2 * sizeof(struct rrelay_subbuf_header).
 */
#define RRELAY_SUBBUF_HEADERS	BIT(0)

/**
 * struct rrelay_chan - a channel; clients may read these fields, never write
 * @version: RRELAY_CHANNEL_VERSION
 * @subbuf_size: sub-buffer size in bytes
 * @n_subbufs: sub-buffers per buffer
 * @alloc_size: bytes allocated per buffer (page aligned)
 * @private_data: the client's pointer, as given to rrelay_open()
 * @is_global: non-zero when one buffer serves all CPUs
 * @buf: each CPU's buffer, a per-CPU pointer as in relay: *per_cpu_ptr(buf,
 *	cpu) is the buffer of that CPU, NULL while it has none; with a global
 *	buffer, every CPU's points to it. Every online CPU has its buffer from
 *	rrelay_open() to rrelay_close(): open makes one for each online CPU,
 *	and a CPU coming online later gets one before it runs anything (one
 *	that cannot get it does not come online, as with relay). So the inline
 *	write functions below read it with one this_cpu_read() and no test.
 *
 * rrelay's private state follows these fields in memory.
 */
struct rrelay_chan {
	u32 version;
	size_t subbuf_size;
	size_t n_subbufs;
	size_t alloc_size;
	void *private_data;
	int is_global;
	struct rrelay_buf * __percpu *buf;
};

/**
 * struct rrelay_slot - a sub-buffer's slot in the ring, for the inline write functions
 * @room: bytes left in the slot's sub-buffer while writers may reserve in
 *	it (from 0 to the sub-buffer size); far below zero once finished. A
 *	writer reserves by taking its length from it with one atomic add:
 *	it got room if the result is not negative, and the one whose add
 *	made it negative finished the sub-buffer and switches
 * @room_end: the end of the slot's sub-buffer: a reservation that found
 *	r bytes of room starts at @room_end - r
 * @commit: bytes committed to the slot, ever, in laps of 2^32 on 64-bit
 *	(else of the sub-buffer size): the switch that finishes a sub-buffer
 *	commits its padding plus the rest of the lap, so the commit that
 *	completes a sub-buffer leaves the low 32 bits zero. The inline
 *	commit adds to those 32 bits alone, and the one that completes a
 *	lap adds the carry afterwards (__rrelay_carry())
 * @pad: to 32 bytes, a power of two
 */
struct rrelay_slot {
	s64 room;
	void *room_end;
	atomic_long_t commit;
	unsigned long pad;
};

/**
 * struct rrelay_buf - one buffer of a channel; clients may read @chan and @cpu
 * @chan: the channel
 * @cpu: the CPU it serves (0 for a global buffer)
 * @ws: the write state word: switching, stopped and closed flags (bits
 *	32-34); the current sub-buffer's slot (bits 36-63), or while
 *	switching the CPU that owns the switch. Changed by the switch alone
 * @start: the buffer's mapping
 * @subbuf_size: the channel's sub-buffer size
 * @slots: one per sub-buffer
 * @cur: the slot whose @room writers reserve from: the current
 *	sub-buffer's (or, between sub-buffers, a finished one's)
 *
 * @cur and the slots serve the inline write functions below. rrelay's
 * private state follows in memory.
 */
struct rrelay_buf {
	struct rrelay_chan *chan;
	unsigned int cpu;
	u64 ws;
	void *start;
	size_t subbuf_size;
	struct rrelay_slot *slots;
	struct rrelay_slot *cur;
};

/**
 * struct rrelay_reservation - room reserved by rrelay_reserve()
 * @buf: the buffer
 * @slot: its sub-buffer's slot
 * @length: its length
 *
 * Filled by rrelay_reserve(), given back to rrelay_commit(); opaque to
 * clients.
 */
struct rrelay_reservation {
	struct rrelay_buf *buf;
	struct rrelay_slot *slot;
	size_t length;
};

/**
 * enum - flags for rrelay_stats(), as relay_stats() has them
 * @RRELAY_STATS_BUF_FULL: switches that found the buffer full
 * @RRELAY_STATS_WRT_BIG: writes larger than a sub-buffer
 * @RRELAY_STATS_DROPPED: writes dropped while stopped
 * @RRELAY_STATS_OVERWRITTEN: unread sub-buffers overwritten
 * @RRELAY_STATS_LOST: sub-buffers a reader skipped
 *
 * relay has only the first two.
 */
enum {
	RRELAY_STATS_BUF_FULL = (1 << 0),	/* switches that found the buffer full */
	RRELAY_STATS_WRT_BIG = (1 << 1),	/* writes larger than a sub-buffer */
	RRELAY_STATS_DROPPED = (1 << 2),	/* writes dropped while stopped */
	RRELAY_STATS_OVERWRITTEN = (1 << 3),	/* unread sub-buffers overwritten */
	RRELAY_STATS_LOST = (1 << 4),		/* sub-buffers a reader skipped */
};

/**
 * struct rrelay_buf_stats - the figures of one buffer (rrelay_buf_stats())
 * @produced: sub-buffers finished by the writer
 * @consumed: sub-buffers released by the reader
 * @bytes_written: bytes in finished sub-buffers (padding excluded)
 * @bytes_read: bytes returned to readers
 * @full: switches that found every sub-buffer unread
 * @big: writes larger than a sub-buffer, refused
 * @dropped: writes dropped because the buffer was stopped
 * @overwritten: unread sub-buffers the writer overwrote
 * @lost: sub-buffers a lagging reader had to skip
 */
struct rrelay_buf_stats {
	u64 produced;
	u64 consumed;
	u64 bytes_written;
	u64 bytes_read;
	u64 full;
	u64 big;
	u64 dropped;
	u64 overwritten;
	u64 lost;
};

/**
 * rrelay_open - create a channel
 * @base_filename: file name prefix; buffer files are <base><cpu>. Not NULL;
 *	at most RRELAY_NAME_MAX - 5 bytes.
 * @parent: directory for the files (NULL: the debugfs root)
 * @subbuf_size: sub-buffer size, > 0
 * @n_subbufs: number of sub-buffers, > 0; subbuf_size * n_subbufs <= UINT_MAX
 * @cb: callbacks, or NULL for all defaults
 * @private_data: stored in chan->private_data
 *
 * Return: the channel, or NULL on bad arguments or when out of memory
 * (nothing is left allocated then). Process context.
 */
struct rrelay_chan *rrelay_open(const char *base_filename, struct dentry *parent,
				size_t subbuf_size, size_t n_subbufs,
				const struct rrelay_callbacks *cb, void *private_data);

/**
 * rrelay_close - close a channel
 * @chan: the channel (NULL is ignored)
 *
 * Finishes the current sub-buffer of every buffer (nothing written is lost),
 * wakes readers, removes the files and drops rrelay's references. Files
 * still open keep their buffer readable until released. Writers must have
 * stopped: writing to a closed channel is a use-after-free. A flush or
 * statistics call already running on another CPU is waited for (an
 * expedited RCU grace period); one that starts after close is a
 * use-after-free too.
 */
void rrelay_close(struct rrelay_chan *chan);

/**
 * rrelay_flush - finish the current sub-buffer of every buffer
 * @chan: the channel (NULL is ignored)
 *
 * Readers then see everything committed so far (a record still being
 * written on another CPU is read once committed). Any context: remote
 * buffers are switched by compare-and-exchange, with no IPI.
 */
void rrelay_flush(struct rrelay_chan *chan);

/**
 * rrelay_reset - empty every buffer and restart it
 * @chan: the channel (NULL is ignored)
 *
 * The pages are kept. No writer or reader may be active, and no page may
 * still sit in a pipe (splice) or be held by an mmap reader: the writer
 * starts over them. Process context.
 */
void rrelay_reset(struct rrelay_chan *chan);

/*
 * The write fast path, inline in the caller as relay's is: this CPU's
 * buffer in one per-CPU load, one atomic add to the current sub-buffer's
 * room, the copy, and an atomic add to its commit count. When the record
 * does not fit, rrelay (in Rust) takes over: the writer whose add found
 * part of the room switches; one that found the sub-buffer already
 * finished waits for that switch or drops its record.
 */

/**
 * __rrelay_write_slow - switch sub-buffers, then write (the fast path's slow half)
 * @buf: a buffer of an open channel
 * @slot: the slot whose room the fast path took @length from
 * @room: the room it found there (-1 when it refused a record larger than
 *	a sub-buffer before any add)
 * @data: the record
 * @length: its size in bytes
 *
 * Called by the inline write functions when the record does not fit the
 * current sub-buffer; not meant for clients. A record larger than a
 * sub-buffer, or one that finds the buffer stopped or a switch in progress
 * (an interrupted writer is switching), is dropped and counted.
 */
void __rrelay_write_slow(struct rrelay_buf *buf, struct rrelay_slot *slot, s64 room,
			 const void *data, size_t length);

/**
 * __rrelay_reserve_slow - switch sub-buffers, then reserve (rrelay_reserve()'s slow half)
 * @buf: a buffer of an open channel
 * @slot: the slot whose room the fast path took @length from; on success,
 *	the slot of the reservation
 * @room: the room it found there (-1 as for __rrelay_write_slow())
 * @length: bytes to reserve
 *
 * Called by rrelay_reserve() when @length does not fit the current
 * sub-buffer; not meant for clients.
 *
 * Return: where to write the @length bytes, or NULL when the record is
 * dropped (and counted).
 */
void *__rrelay_reserve_slow(struct rrelay_buf *buf, struct rrelay_slot **slot, s64 room,
			    size_t length);

/**
 * __rrelay_carry - a commit completed a finished sub-buffer
 * @buf: a buffer of an open channel
 * @slot: the sub-buffer's slot
 * @length: the length the commit added to the low half of the slot's count
 *	(0 on 32-bit, where it added to the whole count)
 *
 * Adds the carry the commit's 32-bit add lost, then wakes the buffer's
 * readers; called by rrelay_commit(), not by clients.
 */
void __rrelay_carry(struct rrelay_buf *buf, struct rrelay_slot *slot, size_t length);

/* The same operations out of line, for callers that cannot inline C. */

/**
 * rrelay_write_noinline - rrelay_write(), out of line
 * @chan: an open channel
 * @data: the record
 * @length: its size in bytes
 *
 * For callers that cannot inline C (Rust clients). Any context.
 *
 * Return: true if the record was written, false if it was dropped (and
 * counted) or @chan is NULL.
 */
bool rrelay_write_noinline(struct rrelay_chan *chan, const void *data, size_t length);

/**
 * __rrelay_write_noinline - __rrelay_write(), out of line: rrelay_write_noinline()
 * @chan: an open channel
 * @data: the record
 * @length: its size in bytes
 *
 * Return: as rrelay_write_noinline().
 */
bool __rrelay_write_noinline(struct rrelay_chan *chan, const void *data, size_t length);

/**
 * rrelay_reserve_noinline - rrelay_reserve(), out of line
 * @chan: an open channel
 * @length: bytes to reserve
 * @res: filled for rrelay_commit_noinline()
 *
 * For callers that cannot inline C. Any context. On success, preemption
 * stays off until rrelay_commit_noinline(@res), which must follow in the
 * same context.
 *
 * Return: where to write the @length bytes, or NULL when the record is
 * dropped (and counted) or @chan is NULL.
 */
void *rrelay_reserve_noinline(struct rrelay_chan *chan, size_t length,
			      struct rrelay_reservation *res);

/**
 * rrelay_commit_noinline - rrelay_commit(), out of line
 * @res: a reservation from rrelay_reserve_noinline(), its bytes written
 */
void rrelay_commit_noinline(const struct rrelay_reservation *res);

/*
 * Takes @length (at most a sub-buffer) from @room, fully ordered (it pairs
 * with the release that opened the room, so the slot is as the switch set
 * it up); *@was is the room found. Return: true if it was at least
 * @length (the bytes are this writer's, from @room_end - *@was on).
 */
static __always_inline bool __rrelay_take_room(s64 *room, size_t length, s64 *was)
{
	s64 v = -(s64)length;
#ifdef CONFIG_X86_64
	bool negative;

	instrument_atomic_read_write(room, sizeof(*room));
	asm volatile(LOCK_PREFIX "xaddq %[v], %[room]"
		     : "=@ccs" (negative), [v] "+r" (v), [room] "+m" (*room)
		     : : "memory");
	*was = v;
	return !negative;
#else
	*was = atomic64_fetch_add(v, (atomic64_t *)room);
	return *was >= (s64)length;
#endif
}

/*
 * Reserves @length bytes in the current sub-buffer if they fit (Rust:
 * ring::try_reserve).
 *
 * Return: true with *@p where the bytes go; false with the slot tried and
 * the room found there, for the slow half.
 */
static __always_inline bool __rrelay_try_reserve(struct rrelay_buf *buf, size_t length,
						 struct rrelay_reservation *res, void **p,
						 s64 *room)
{
	struct rrelay_slot *slot = READ_ONCE(buf->cur);

	res->slot = slot;
	/* Larger than a sub-buffer: refused before its add, as relay does. */
	if (unlikely(length > buf->subbuf_size)) {
		*room = -1;
		return false;
	}
	if (unlikely(!__rrelay_take_room(&slot->room, length, room)))
		return false;
	res->buf = buf;
	res->length = length;
	*p = slot->room_end - *room;
	return true;
}

#if BITS_PER_LONG == 64
/* The low 32 bits of a slot's commit count. */
static __always_inline atomic_t *__rrelay_commit_low(struct rrelay_slot *slot)
{
	return (atomic_t *)&slot->commit + IS_ENABLED(CONFIG_CPU_BIG_ENDIAN);
}

/*
 * Adds @i to @v, fully ordered; true when the result is zero. The kernel
 * has atomic_sub_and_test() but no add: on x86 this is that function with
 * "addl" for "subl" (one locked add and a branch on its zero flag, where
 * atomic_sub_and_test(-i, v) needs a negation first), instrumented for
 * KASAN and KCSAN as the atomic_*() functions are.
 */
static __always_inline bool __rrelay_add_and_test(int i, atomic_t *v)
{
#ifdef CONFIG_X86
	instrument_atomic_read_write(v, sizeof(*v));
	return GEN_BINARY_RMWcc(LOCK_PREFIX "addl", v->counter, e, "er", i);
#else
	return atomic_add_return(i, v) == 0;
#endif
}
#endif

/*
 * Commits written bytes (Rust: ring::commit and ring::carry): fully
 * ordered, so a reader that finds a sub-buffer complete (acquire) sees all
 * its bytes. On 64-bit the add goes to the low 32 bits of the count only:
 * the commit that completes a sub-buffer (struct rrelay_slot says how)
 * leaves them zero, and adds the carry into the high half out of line,
 * with the reader wakeup. A zero-length commit may find them zero too: it
 * passes length 0, which adds nothing.
 */
static __always_inline void __rrelay_commit(const struct rrelay_reservation *res)
{
#if BITS_PER_LONG == 64
	if (unlikely(__rrelay_add_and_test(res->length, __rrelay_commit_low(res->slot))))
		__rrelay_carry(res->buf, res->slot, res->length);
#else
	unsigned long total = atomic_long_add_return_release(res->length, &res->slot->commit);

	if (unlikely(!(total % res->buf->subbuf_size)))
		__rrelay_carry(res->buf, res->slot, 0);
#endif
}

/* This CPU's buffer, in one per-CPU load. */
static __always_inline struct rrelay_buf *__rrelay_this_buf(struct rrelay_chan *chan)
{
	return this_cpu_read(*chan->buf);
}

/**
 * rrelay_write - write a record
 * @chan: an open channel
 * @data: the record
 * @length: its size; a record larger than a sub-buffer is refused (counted)
 *
 * Any context, NMI included, with no lock and interrupts on. A record that
 * does not fit a full buffer in no-overwrite mode is dropped and counted,
 * as is one that interrupts a writer in the middle of a sub-buffer switch
 * on the same buffer.
 */
static __always_inline void rrelay_write(struct rrelay_chan *chan, const void *data,
					 size_t length)
{
	struct rrelay_reservation res;
	struct rrelay_buf *buf;
	void *p;
	s64 room;

	preempt_disable_notrace();
	buf = __rrelay_this_buf(chan);
	if (likely(__rrelay_try_reserve(buf, length, &res, &p, &room))) {
		memcpy(p, data, length);
		__rrelay_commit(&res);
	} else {
		__rrelay_write_slow(buf, res.slot, room, data, length);
	}
	preempt_enable_notrace();
}

/**
 * __rrelay_write - rrelay_write(), under relay's other name
 * @chan: an open channel
 * @data: the record
 * @length: its size in bytes
 *
 * relay's __relay_write() asks its caller to keep interrupts off; rrelay
 * needs nothing of the caller, so this is rrelay_write().
 */
static __always_inline void __rrelay_write(struct rrelay_chan *chan, const void *data,
					   size_t length)
{
	rrelay_write(chan, data, length);
}

/**
 * rrelay_reserve - reserve @length bytes in this CPU's buffer
 * @chan: an open channel
 * @length: bytes to reserve; more than a sub-buffer is refused (counted)
 * @res: filled for rrelay_commit()
 *
 * Any context. On success, fill the bytes, then call rrelay_commit(@res)
 * in the same context; preemption is off in between. Readers never see
 * the bytes before the commit.
 *
 * Return: where to write them, or NULL when the record is dropped (nothing
 * to commit then).
 */
static __always_inline void *rrelay_reserve(struct rrelay_chan *chan, size_t length,
					    struct rrelay_reservation *res)
{
	struct rrelay_slot *slot __uninitialized;
	struct rrelay_buf *buf;
	void *p;
	s64 room;

	preempt_disable_notrace();
	buf = __rrelay_this_buf(chan);
	if (likely(__rrelay_try_reserve(buf, length, res, &p, &room))) {
		/* In the buffer's mapping: never NULL, so the caller's test folds. */
		if (!p)
			unreachable();
		return p;
	}
	/*
	 * The slow half gives only the slot: were it given @res, the caller's
	 * reservation would have to live in memory, and the fast path would
	 * store it there and rrelay_commit() load it back. It reserves
	 * @length bytes in @buf as the fast path does, so the caller's other
	 * fields stay the values it holds.
	 */
	slot = res->slot;
	p = __rrelay_reserve_slow(buf, &slot, room, length);
	if (unlikely(!p)) {
		preempt_enable_notrace();
		return NULL;
	}
	res->buf = buf;
	res->slot = slot;
	res->length = length;
	return p;
}

/**
 * rrelay_commit - commit the bytes of a reservation
 * @res: from a successful rrelay_reserve(), its bytes written
 */
static __always_inline void rrelay_commit(const struct rrelay_reservation *res)
{
	__rrelay_commit(res);
	preempt_enable_notrace();
}

/**
 * rrelay_reserve_committed - relay_reserve(): reserve bytes that count as written at once
 * @chan: an open channel
 * @length: bytes to reserve
 *
 * relay's semantics, for rrelay_compat.h: the bytes are committed before
 * the caller writes them, so a reader may see them unwritten (set
 * RRELAY_FLAG_FINISHED_ONLY, or use rrelay_reserve() + rrelay_commit()),
 * and in overwrite mode a lap of the ring may start over them while the
 * caller still writes (relay has both hazards).
 *
 * Return: where to write them, or NULL when the record is dropped.
 */
static inline void *rrelay_reserve_committed(struct rrelay_chan *chan, size_t length)
{
	struct rrelay_reservation res;
	void *p = rrelay_reserve(chan, length, &res);

	if (p)
		rrelay_commit(&res);
	return p;
}

/**
 * rrelay_switch_subbuf - finish the current sub-buffer and start the next
 * @buf: a buffer of an open channel
 * @length: the size of the record that is to follow (0: a flush)
 *
 * Any context, any CPU. If another switch of @buf is in progress, that one
 * finishes the sub-buffer and this one does nothing.
 *
 * Return: @length if a record of that size now fits, 0 if not.
 */
size_t rrelay_switch_subbuf(struct rrelay_buf *buf, size_t length);

/**
 * rrelay_subbuf_start_reserve - keep bytes at the start of the new sub-buffer
 * @buf: the buffer the subbuf_start callback was given
 * @length: bytes to keep for the client's header
 *
 * Only from a subbuf_start callback. A length that leaves no room for data
 * is ignored (relay would BUG()).
 */
void rrelay_subbuf_start_reserve(struct rrelay_buf *buf, size_t length);

/**
 * rrelay_subbufs_consumed - release sub-buffers of one CPU's buffer
 * @chan: the channel (NULL is ignored)
 * @cpu: the buffer's CPU (0 for a global buffer); no buffer: ignored
 * @consumed: how many sub-buffers the reader is done with
 *
 * For readers that map the buffer; the read() position follows.
 */
void rrelay_subbufs_consumed(struct rrelay_chan *chan, unsigned int cpu, size_t consumed);

/**
 * rrelay_buf_full - whether every sub-buffer of a buffer is unread
 * @buf: a buffer of an open channel, or NULL
 *
 * Return: 1 if every sub-buffer of @buf is unread, else 0 (also for NULL).
 */
int rrelay_buf_full(struct rrelay_buf *buf);

/**
 * rrelay_stats - sum a statistic over the channel's buffers
 * @chan: the channel, or NULL
 * @flags: RRELAY_STATS_* bits; as with relay_stats(), the first set flag
 *	(in the order of the enum) selects the one count, and a flag rrelay
 *	does not know gives 0
 *
 * Return: the sum over every buffer of the count @flags selects (0 for a
 * NULL @chan). Unlike relay, which adds up online CPUs only, the buffers
 * of offline CPUs count too: their data and losses are still there.
 */
size_t rrelay_stats(struct rrelay_chan *chan, int flags);

/**
 * rrelay_buf_stats - the figures of one CPU's buffer
 * @chan: the channel, or NULL
 * @cpu: the buffer's CPU (0 for a global buffer)
 * @out: filled with the figures
 *
 * Return: 0, or -EINVAL when @chan or @out is NULL or @cpu has no buffer.
 */
int rrelay_buf_stats(struct rrelay_chan *chan, unsigned int cpu, struct rrelay_buf_stats *out);

/**
 * rrelay_create_buf_file - create a buffer file in debugfs with rrelay's own fops
 * @filename: the file's name
 * @parent: the debugfs directory (NULL: the debugfs root)
 * @mode: the file's mode
 * @buf: the buffer the create_buf_file callback was given
 *
 * For create_buf_file callbacks: the file gets rrelay's own file operations
 * (read, poll, mmap, splice).
 *
 * debugfs_create_file() wraps a file's operations in a proxy that forwards
 * only open, release, llseek, read, write, poll and ioctl: mmap and splice
 * are lost (that is why they fail on every relay file in 7.2). This helper
 * uses debugfs_create_file_unsafe() and guards removal itself. Remove the
 * file with debugfs_remove().
 *
 * Return: the file's dentry; NULL when @filename or @buf is NULL, or an
 * ERR_PTR() from debugfs. rrelay_open() fails when the callback returns
 * either.
 */
struct dentry *rrelay_create_buf_file(const char *filename, struct dentry *parent,
				      umode_t mode, struct rrelay_buf *buf);

/**
 * var rrelay_file_operations - rrelay's file operations for a buffer file
 *
 * For clients that create files themselves with debugfs_create_file() (as
 * relay clients do): read and poll work through debugfs's proxy; mmap and
 * splice need rrelay_create_buf_file().
 */
extern const struct file_operations rrelay_file_operations;

#endif /* _RRELAY_H */
