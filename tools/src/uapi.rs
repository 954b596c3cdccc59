// SPDX-License-Identifier: GPL-2.0

//! The buffer files' ioctls (`include/uapi/linux/rrelay.h`), for mmap readers.

use rustix::ioctl::{ioctl, opcode, Getter, NoArg, Opcode, Setter};
use std::os::fd::AsFd;

const MAGIC: u8 = 0xb7;

/// `struct rrelay_geometry`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct Geometry {
    pub subbuf_size: u64,
    pub n_subbufs: u64,
    pub mmap_size: u64,
}

const GET_GEOMETRY: Opcode = opcode::read::<Geometry>(MAGIC, 1);
const SET_FLAGS: Opcode = opcode::write::<u64>(MAGIC, 5);
const GET_NEXT_SUBBUF: Opcode = opcode::read::<Next>(MAGIC, 6);
const PUT_NEXT_SUBBUF: Opcode = opcode::none(MAGIC, 7);
const FLUSH: Opcode = opcode::none(MAGIC, 8);

/// `struct rrelay_next`: a sub-buffer handed out.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct Next {
    pub subbuf: u64,
    pub offset: u64,
    pub len: u64,
}

/// Reads return finished sub-buffers only.
pub const FLAG_FINISHED_ONLY: u64 = 1 << 0;

pub fn geometry(fd: impl AsFd) -> std::io::Result<Geometry> {
    // SAFETY: GET_GEOMETRY writes a `struct rrelay_geometry`.
    Ok(unsafe { ioctl(fd, Getter::<GET_GEOMETRY, Geometry>::new()) }?)
}

pub fn get_next_subbuf(fd: impl AsFd) -> std::io::Result<Next> {
    // SAFETY: GET_NEXT_SUBBUF writes a `struct rrelay_next`.
    Ok(unsafe { ioctl(fd, Getter::<GET_NEXT_SUBBUF, Next>::new()) }?)
}

pub fn put_next_subbuf(fd: impl AsFd) -> std::io::Result<()> {
    // SAFETY: PUT_NEXT_SUBBUF takes no argument.
    Ok(unsafe { ioctl(fd, NoArg::<PUT_NEXT_SUBBUF>::new()) }?)
}

pub fn set_flags(fd: impl AsFd, flags: u64) -> std::io::Result<()> {
    // SAFETY: SET_FLAGS reads a `__u64`.
    Ok(unsafe { ioctl(fd, Setter::<SET_FLAGS, u64>::new(flags)) }?)
}

/// Finishes the buffer's current sub-buffer (`RRELAY_IOC_FLUSH`).
pub fn flush(fd: impl AsFd) -> std::io::Result<()> {
    // SAFETY: FLUSH takes no argument.
    Ok(unsafe { ioctl(fd, NoArg::<FLUSH>::new()) }?)
}
