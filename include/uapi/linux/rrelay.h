/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * rrelay buffer files: the ioctl interface for mmap readers.
 *
 * A reader maps the whole buffer read-only (offset 0, length mmap_size from
 * RRELAY_IOC_GET_GEOMETRY), then repeatedly:
 *   1. RRELAY_IOC_GET_POSITIONS: sub-buffers produced (finished, with
 *      every byte reserved in them written) and consumed so far;
 *   2. for each finished sub-buffer k in [consumed, produced): its slot is
 *      k % n_subbufs, its data the first subbuf_size - padding bytes of
 *      that slot (RRELAY_IOC_GET_PADDING with .subbuf = slot);
 *   3. in overwrite mode, GET_POSITIONS again after copying: if
 *      produced - k >= n_subbufs the writer may have overwritten k meanwhile;
 *   4. RRELAY_IOC_PUT_CONSUMED with the number of sub-buffers done.
 * read() and mmap readers share the consumed count: use one or the other.
 *
 * The sub-buffer protocol (like LTTng's GET_NEXT_SUBBUF / PUT_NEXT_SUBBUF,
 * or ftrace's mapped trace_pipe_raw), safe in overwrite mode too:
 *   1. map the data (offset 0, mmap_size bytes) and the meta page (offset
 *      mmap_size, one page), both read-only; struct rrelay_meta shows the
 *      counts, with no syscall;
 *   2. RRELAY_IOC_GET_NEXT_SUBBUF hands out the next finished sub-buffer,
 *      every byte of it written: its data is rrelay_next.len bytes at
 *      rrelay_next.offset in the data mapping. It is out of the writer's
 *      reach until given back: in overwrite mode the writer drops records
 *      (counted) rather than overwrite it. EAGAIN: none ready; EBUSY: one is
 *      held already (by any file of the buffer);
 *   3. RRELAY_IOC_PUT_NEXT_SUBBUF gives it back (EINVAL: none held). Closing
 *      the file that holds one gives it back too.
 * Sub-buffers the writer overwrote before the reader got to them are
 * skipped, and counted in rrelay_meta.lost.
 *
 * Readers never see bytes reserved and not yet committed by the writer
 * (rrelay_reserve() + rrelay_commit(), rrelay_write()). A producer on
 * relay's relay_reserve() (rrelay_reserve_committed() through
 * rrelay_compat.h) commits before it writes, as relay does:
 * RRELAY_IOC_SET_FLAGS with RRELAY_FLAG_FINISHED_ONLY makes read() and
 * splice() of the buffer return finished sub-buffers only, never the one
 * being written, and RRELAY_IOC_GET_POSITIONS report none of its bytes.
 * Clear it (flags 0) to drain the last, partly filled sub-buffer once the
 * producer is done.
 *
 * RRELAY_IOC_FLUSH finishes the buffer's current sub-buffer now, as
 * rrelay_flush() does for the client (the client's subbuf_start callback
 * runs; if another CPU is switching sub-buffers, the flush waits for that
 * switch, which finishes it, instead); readers then get everything
 * committed so far.
 */
#ifndef _UAPI_LINUX_RRELAY_H
#define _UAPI_LINUX_RRELAY_H

#include <linux/ioctl.h>
#include <linux/types.h>

/**
 * struct rrelay_geometry - the shape of a buffer (RRELAY_IOC_GET_GEOMETRY)
 * @subbuf_size: bytes per sub-buffer
 * @n_subbufs: sub-buffers in the ring
 * @mmap_size: bytes to map (page aligned)
 */
struct rrelay_geometry {
	__u64 subbuf_size;
	__u64 n_subbufs;
	__u64 mmap_size;
};

/**
 * struct rrelay_positions - where the writer and the readers are (RRELAY_IOC_GET_POSITIONS)
 * @produced: sub-buffers finished by the writer and complete (every byte
 *	reserved in them committed), counting from @consumed; except when the
 *	writer has lapped the reader (@produced - @consumed > n_subbufs):
 *	then all the writer finished, of which the newest may still have a
 *	record being written (RRELAY_IOC_GET_NEXT_SUBBUF hands out complete
 *	ones only)
 * @consumed: sub-buffers released
 * @offset: committed bytes of the current sub-buffer (0 while a record in it
 *	is being written, while an earlier sub-buffer is incomplete, or with
 *	RRELAY_FLAG_FINISHED_ONLY set, as it always is on a channel with
 *	sub-buffer headers)
 * @flags: RRELAY_POS_* bits
 */
struct rrelay_positions {
	__u64 produced;
	__u64 consumed;
	__u64 offset;
	__u64 flags;
};

/**
 * struct rrelay_meta - the meta page, mapped read-only at offset mmap_size
 * @version: RRELAY_META_VERSION
 * @subbuf_size: bytes per sub-buffer
 * @n_subbufs: sub-buffers in the ring
 * @produced: sub-buffers finished by the writer
 * @consumed: sub-buffers taken by readers (read, skipped, or handed out)
 * @lost: sub-buffers readers skipped: the writer overwrote them first
 * @dropped: records the writer dropped (buffer stopped, or a held
 *	sub-buffer in its way)
 * @reader_subbuf: the sub-buffer RRELAY_IOC_GET_NEXT_SUBBUF handed out
 * @reader_offset: its data's offset in the data mapping
 * @reader_len: its data bytes, padding excluded
 * @reader_held: 1 while it is handed out
 *
 * The kernel updates each field atomically as things happen; fields are
 * independent (read @reader_held before the other reader_ fields).
 */
struct rrelay_meta {
	__u64 version;
	__u64 subbuf_size;
	__u64 n_subbufs;
	__u64 produced;
	__u64 consumed;
	__u64 lost;
	__u64 dropped;
	__u64 reader_subbuf;
	__u64 reader_offset;
	__u64 reader_len;
	__u64 reader_held;
};

#define RRELAY_META_VERSION	1

/**
 * struct rrelay_next - a sub-buffer handed out (RRELAY_IOC_GET_NEXT_SUBBUF)
 * @subbuf: its number (sub-buffers finished before it)
 * @offset: its data's offset in the data mapping
 * @len: its data bytes, padding excluded
 */
struct rrelay_next {
	__u64 subbuf;
	__u64 offset;
	__u64 len;
};

/* Bits of rrelay_positions.flags. */
#define RRELAY_POS_STOPPED	(1 << 0)	/* writer in no sub-buffer: stopped, or switching */
#define RRELAY_POS_FINALIZED	(1 << 1)	/* channel closed */

/**
 * struct rrelay_padding - the padding of one slot (RRELAY_IOC_GET_PADDING)
 * @subbuf: in: the slot, 0 .. n_subbufs - 1
 * @padding: out: unused bytes at the slot's end
 */
struct rrelay_padding {
	__u64 subbuf;
	__u64 padding;
};

#define RRELAY_IOC_MAGIC		0xb7
#define RRELAY_IOC_GET_GEOMETRY		_IOR(RRELAY_IOC_MAGIC, 1, struct rrelay_geometry)
#define RRELAY_IOC_GET_POSITIONS	_IOR(RRELAY_IOC_MAGIC, 2, struct rrelay_positions)
#define RRELAY_IOC_GET_PADDING		_IOWR(RRELAY_IOC_MAGIC, 3, struct rrelay_padding)
#define RRELAY_IOC_PUT_CONSUMED		_IOW(RRELAY_IOC_MAGIC, 4, __u64)
#define RRELAY_IOC_SET_FLAGS		_IOW(RRELAY_IOC_MAGIC, 5, __u64)
#define RRELAY_IOC_GET_NEXT_SUBBUF	_IOR(RRELAY_IOC_MAGIC, 6, struct rrelay_next)
#define RRELAY_IOC_PUT_NEXT_SUBBUF	_IO(RRELAY_IOC_MAGIC, 7)

#define RRELAY_IOC_FLUSH		_IO(RRELAY_IOC_MAGIC, 8)

/**
 * struct rrelay_subbuf_header - the header of each sub-buffer of a channel
 *	opened with RRELAY_SUBBUF_HEADERS (include/rrelay.h)
 * @magic: RRELAY_SUBBUF_MAGIC
 * @header_size: sizeof(struct rrelay_subbuf_header); the data follows it
 * @flags: RRELAY_SUBBUF_GLOBAL when the buffer serves every CPU
 * @cpu: the buffer's CPU (0 for a global buffer)
 * @data_size: bytes of data after the header, padding excluded
 * @seq: the sub-buffer's number in its buffer, from 0: a gap between two
 *	headers a reader got is that many sub-buffers lost to it (overwritten
 *	before it read them, in overwrite mode)
 * @time_begin: CLOCK_MONOTONIC nanoseconds when the sub-buffer was started,
 *	before its first record was reserved
 * @time_end: when it was finished, after its last record was reserved
 * @dropped: records the writer dropped since the channel was opened (no
 *	room: the buffer was full in no-overwrite mode, or a sub-buffer in the
 *	way was held by a reader), counted when the sub-buffer was finished
 * @too_big: records refused for being larger than a sub-buffer, ever
 * @overwritten: unread sub-buffers the writer overwrote, ever
 *
 * The counts run from the channel's opening, as LTTng's packet context
 * counts discarded events: the difference between two headers a reader
 * got is what happened between them, however many sub-buffers were lost
 * in between. Records dropped after the last sub-buffer was finished (a
 * buffer still full at close) are in the statistics only.
 *
 * Read and splice return whole finished sub-buffers only for such a
 * channel (RRELAY_FLAG_FINISHED_ONLY always set), so the stream a reader
 * gets is header, data_size bytes, header, ...; RRELAY_IOC_FLUSH finishes
 * the current sub-buffer for a reader that wants it now.
 */
struct rrelay_subbuf_header {
	__u32 magic;
	__u16 header_size;
	__u16 flags;
	__u32 cpu;
	__u32 data_size;
	__u64 seq;
	__u64 time_begin;
	__u64 time_end;
	__u64 dropped;
	__u64 too_big;
	__u64 overwritten;
};

#define RRELAY_SUBBUF_MAGIC	0x31485252	/* "RRH1" in memory, little-endian */
#define RRELAY_SUBBUF_GLOBAL	(1 << 0)

/* Flags for RRELAY_IOC_SET_FLAGS. */
#define RRELAY_FLAG_FINISHED_ONLY	(1 << 0)	/* read finished sub-buffers only */

#endif /* _UAPI_LINUX_RRELAY_H */
