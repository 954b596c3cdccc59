// SPDX-License-Identifier: GPL-2.0

//! The buffer files' user-space ABI (`include/uapi/linux/rrelay.h`), written
//! once in Rust for the module and the tool (`tools/` includes this file):
//! the ioctls' numbers and structures, the meta page and the sub-buffer
//! header. `core` only. Each structure's layout is asserted against the one
//! list both languages check (`src/rrelay_layout.h`, see `layout.rs`); the
//! ioctl commands are encoded by each side's own `_IOR` and friends, which
//! know the architecture.

use super::layout::assert_layout;

/// `RRELAY_IOC_MAGIC`.
pub(crate) const IOC_MAGIC: u8 = 0xb7;

/// The ioctls' numbers (the `nr` of `_IOR` and friends), each with what it
/// takes: `RRELAY_IOC_GET_GEOMETRY`, `_IOR`, [`Geometry`].
pub(crate) const NR_GET_GEOMETRY: u8 = 1;
/// `RRELAY_IOC_GET_POSITIONS`, `_IOR`, [`Positions`].
pub(crate) const NR_GET_POSITIONS: u8 = 2;
/// `RRELAY_IOC_GET_PADDING`, `_IOWR`, [`Padding`].
pub(crate) const NR_GET_PADDING: u8 = 3;
/// `RRELAY_IOC_PUT_CONSUMED`, `_IOW`, a `u64`.
pub(crate) const NR_PUT_CONSUMED: u8 = 4;
/// `RRELAY_IOC_SET_FLAGS`, `_IOW`, a `u64` of `FLAG_*` bits.
pub(crate) const NR_SET_FLAGS: u8 = 5;
/// `RRELAY_IOC_GET_NEXT_SUBBUF`, `_IOR`, [`Next`].
pub(crate) const NR_GET_NEXT_SUBBUF: u8 = 6;
/// `RRELAY_IOC_PUT_NEXT_SUBBUF`, `_IO`.
pub(crate) const NR_PUT_NEXT_SUBBUF: u8 = 7;
/// `RRELAY_IOC_FLUSH`, `_IO`.
pub(crate) const NR_FLUSH: u8 = 8;

/// `RRELAY_FLAG_FINISHED_ONLY`: reads return finished sub-buffers only.
pub(crate) const FLAG_FINISHED_ONLY: u64 = 1 << 0;

/// `RRELAY_POS_STOPPED`: the writer is in no sub-buffer.
pub(crate) const POS_STOPPED: u64 = 1 << 0;
/// `RRELAY_POS_FINALIZED`: the channel is closed.
pub(crate) const POS_FINALIZED: u64 = 1 << 1;

/// `struct rrelay_geometry`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Geometry {
    pub(crate) subbuf_size: u64,
    pub(crate) n_subbufs: u64,
    pub(crate) mmap_size: u64,
}
assert_layout!(
    rrelay_geometry = Geometry {
        subbuf_size,
        n_subbufs,
        mmap_size
    }
);

/// `struct rrelay_positions`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Positions {
    pub(crate) produced: u64,
    pub(crate) consumed: u64,
    pub(crate) offset: u64,
    pub(crate) flags: u64,
}
assert_layout!(
    rrelay_positions = Positions {
        produced,
        consumed,
        offset,
        flags
    }
);

/// `struct rrelay_padding`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Padding {
    pub(crate) subbuf: u64,
    pub(crate) padding: u64,
}
assert_layout!(rrelay_padding = Padding { subbuf, padding });

/// `struct rrelay_next`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Next {
    pub(crate) subbuf: u64,
    pub(crate) offset: u64,
    pub(crate) len: u64,
}
assert_layout!(
    rrelay_next = Next {
        subbuf,
        offset,
        len
    }
);

/// `struct rrelay_meta`, the meta page: `Meta<u64>` as user space reads it,
/// `Meta<AtomicU64>` as the kernel updates it (the same layout).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Meta<T = u64> {
    pub(crate) version: T,
    pub(crate) subbuf_size: T,
    pub(crate) n_subbufs: T,
    pub(crate) produced: T,
    pub(crate) consumed: T,
    pub(crate) lost: T,
    pub(crate) dropped: T,
    pub(crate) reader_subbuf: T,
    pub(crate) reader_offset: T,
    pub(crate) reader_len: T,
    pub(crate) reader_held: T,
}
assert_layout!(
    rrelay_meta = Meta {
        version,
        subbuf_size,
        n_subbufs,
        produced,
        consumed,
        lost,
        dropped,
        reader_subbuf,
        reader_offset,
        reader_len,
        reader_held,
    }
);

/// `RRELAY_META_VERSION`.
pub(crate) const META_VERSION: u64 = 1;

/// `struct rrelay_subbuf_header`: at the start of each sub-buffer of a
/// channel opened with `RRELAY_SUBBUF_HEADERS`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct SubbufHeader {
    pub(crate) magic: u32,
    pub(crate) header_size: u16,
    pub(crate) flags: u16,
    pub(crate) cpu: u32,
    pub(crate) data_size: u32,
    pub(crate) seq: u64,
    pub(crate) time_begin: u64,
    pub(crate) time_end: u64,
    pub(crate) dropped: u64,
    pub(crate) too_big: u64,
    pub(crate) overwritten: u64,
}
assert_layout!(
    rrelay_subbuf_header = SubbufHeader {
        magic,
        header_size,
        flags,
        cpu,
        data_size,
        seq,
        time_begin,
        time_end,
        dropped,
        too_big,
        overwritten,
    }
);

/// `RRELAY_SUBBUF_MAGIC`: "RRH1" in memory, little-endian.
pub(crate) const SUBBUF_MAGIC: u32 = 0x3148_5252;
/// `RRELAY_SUBBUF_GLOBAL`: the header's buffer serves every CPU.
pub(crate) const SUBBUF_GLOBAL: u16 = 1 << 0;
