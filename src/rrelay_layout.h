/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The one list of every structure C and Rust share, as a 64-bit kernel lays
 * them out: each field's offset and each size. Both sides assert their own
 * definitions against it at build time: C (src/rrelay_shim.c) with
 * static_assert, Rust (src/layout.rs, which reads this file) with const
 * asserts beside each #[repr(C)] definition, which must name every field
 * listed here for its structure. The tool checks the uapi entries too.
 *
 * One entry per line: RRELAY_FIELD(struct, field, offset); or
 * RRELAY_SIZE(struct, size);. Change a structure, change it here.
 */

/* include/rrelay.h: the kernel API */
RRELAY_FIELD(rrelay_chan, version, 0);
RRELAY_FIELD(rrelay_chan, subbuf_size, 8);
RRELAY_FIELD(rrelay_chan, n_subbufs, 16);
RRELAY_FIELD(rrelay_chan, alloc_size, 24);
RRELAY_FIELD(rrelay_chan, private_data, 32);
RRELAY_FIELD(rrelay_chan, is_global, 40);
RRELAY_FIELD(rrelay_chan, buf, 48);
RRELAY_SIZE(rrelay_chan, 56);

RRELAY_FIELD(rrelay_slot, room, 0);
RRELAY_FIELD(rrelay_slot, room_end, 8);
RRELAY_FIELD(rrelay_slot, commit, 16);
RRELAY_FIELD(rrelay_slot, pad, 24);
RRELAY_SIZE(rrelay_slot, 32);

RRELAY_FIELD(rrelay_buf, chan, 0);
RRELAY_FIELD(rrelay_buf, cpu, 8);
RRELAY_FIELD(rrelay_buf, ws, 16);
RRELAY_FIELD(rrelay_buf, start, 24);
RRELAY_FIELD(rrelay_buf, subbuf_size, 32);
RRELAY_FIELD(rrelay_buf, slots, 40);
RRELAY_FIELD(rrelay_buf, cur, 48);
RRELAY_SIZE(rrelay_buf, 56);

RRELAY_FIELD(rrelay_reservation, buf, 0);
RRELAY_FIELD(rrelay_reservation, slot, 8);
RRELAY_FIELD(rrelay_reservation, length, 16);
RRELAY_SIZE(rrelay_reservation, 24);

RRELAY_FIELD(rrelay_callbacks, subbuf_start, 0);
RRELAY_FIELD(rrelay_callbacks, create_buf_file, 8);
RRELAY_FIELD(rrelay_callbacks, remove_buf_file, 16);
RRELAY_FIELD(rrelay_callbacks, is_global, 24);
RRELAY_FIELD(rrelay_callbacks, flags, 28);
RRELAY_SIZE(rrelay_callbacks, 32);

RRELAY_FIELD(rrelay_buf_stats, produced, 0);
RRELAY_FIELD(rrelay_buf_stats, consumed, 8);
RRELAY_FIELD(rrelay_buf_stats, bytes_written, 16);
RRELAY_FIELD(rrelay_buf_stats, bytes_read, 24);
RRELAY_FIELD(rrelay_buf_stats, full, 32);
RRELAY_FIELD(rrelay_buf_stats, big, 40);
RRELAY_FIELD(rrelay_buf_stats, dropped, 48);
RRELAY_FIELD(rrelay_buf_stats, overwritten, 56);
RRELAY_FIELD(rrelay_buf_stats, lost, 64);
RRELAY_SIZE(rrelay_buf_stats, 72);

/* include/uapi/linux/rrelay.h: the buffer files' user-space ABI */
RRELAY_FIELD(rrelay_geometry, subbuf_size, 0);
RRELAY_FIELD(rrelay_geometry, n_subbufs, 8);
RRELAY_FIELD(rrelay_geometry, mmap_size, 16);
RRELAY_SIZE(rrelay_geometry, 24);

RRELAY_FIELD(rrelay_positions, produced, 0);
RRELAY_FIELD(rrelay_positions, consumed, 8);
RRELAY_FIELD(rrelay_positions, offset, 16);
RRELAY_FIELD(rrelay_positions, flags, 24);
RRELAY_SIZE(rrelay_positions, 32);

RRELAY_FIELD(rrelay_meta, version, 0);
RRELAY_FIELD(rrelay_meta, subbuf_size, 8);
RRELAY_FIELD(rrelay_meta, n_subbufs, 16);
RRELAY_FIELD(rrelay_meta, produced, 24);
RRELAY_FIELD(rrelay_meta, consumed, 32);
RRELAY_FIELD(rrelay_meta, lost, 40);
RRELAY_FIELD(rrelay_meta, dropped, 48);
RRELAY_FIELD(rrelay_meta, reader_subbuf, 56);
RRELAY_FIELD(rrelay_meta, reader_offset, 64);
RRELAY_FIELD(rrelay_meta, reader_len, 72);
RRELAY_FIELD(rrelay_meta, reader_held, 80);
RRELAY_SIZE(rrelay_meta, 88);

RRELAY_FIELD(rrelay_next, subbuf, 0);
RRELAY_FIELD(rrelay_next, offset, 8);
RRELAY_FIELD(rrelay_next, len, 16);
RRELAY_SIZE(rrelay_next, 24);

RRELAY_FIELD(rrelay_padding, subbuf, 0);
RRELAY_FIELD(rrelay_padding, padding, 8);
RRELAY_SIZE(rrelay_padding, 16);

RRELAY_FIELD(rrelay_subbuf_header, magic, 0);
RRELAY_FIELD(rrelay_subbuf_header, header_size, 4);
RRELAY_FIELD(rrelay_subbuf_header, flags, 6);
RRELAY_FIELD(rrelay_subbuf_header, cpu, 8);
RRELAY_FIELD(rrelay_subbuf_header, data_size, 12);
RRELAY_FIELD(rrelay_subbuf_header, seq, 16);
RRELAY_FIELD(rrelay_subbuf_header, time_begin, 24);
RRELAY_FIELD(rrelay_subbuf_header, time_end, 32);
RRELAY_FIELD(rrelay_subbuf_header, dropped, 40);
RRELAY_FIELD(rrelay_subbuf_header, too_big, 48);
RRELAY_FIELD(rrelay_subbuf_header, overwritten, 56);
RRELAY_SIZE(rrelay_subbuf_header, 64);
