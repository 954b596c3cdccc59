// SPDX-License-Identifier: GPL-2.0

//! The buffer files' ioctls (`include/uapi/linux/rrelay.h`), for mmap readers.

use rustix::ioctl::{ioctl, opcode, Direction, Getter, Opcode, Setter, Updater};
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

/// `struct rrelay_positions`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct Positions {
    pub produced: u64,
    pub consumed: u64,
    pub offset: u64,
    pub flags: u64,
}

/// `struct rrelay_padding`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
struct Padding {
    subbuf: u64,
    padding: u64,
}

const GET_GEOMETRY: Opcode = opcode::read::<Geometry>(MAGIC, 1);
const GET_POSITIONS: Opcode = opcode::read::<Positions>(MAGIC, 2);
const GET_PADDING: Opcode = opcode::from_components(
    Direction::ReadWrite,
    MAGIC,
    3,
    std::mem::size_of::<Padding>(),
);
const PUT_CONSUMED: Opcode = opcode::write::<u64>(MAGIC, 4);
const SET_FLAGS: Opcode = opcode::write::<u64>(MAGIC, 5);

/// Reads return finished sub-buffers only.
pub const FLAG_FINISHED_ONLY: u64 = 1 << 0;

pub fn geometry(fd: impl AsFd) -> std::io::Result<Geometry> {
    // SAFETY: GET_GEOMETRY writes a `struct rrelay_geometry`.
    Ok(unsafe { ioctl(fd, Getter::<GET_GEOMETRY, Geometry>::new()) }?)
}

pub fn positions(fd: impl AsFd) -> std::io::Result<Positions> {
    // SAFETY: GET_POSITIONS writes a `struct rrelay_positions`.
    Ok(unsafe { ioctl(fd, Getter::<GET_POSITIONS, Positions>::new()) }?)
}

pub fn padding(fd: impl AsFd, slot: u64) -> std::io::Result<u64> {
    let mut p = Padding {
        subbuf: slot,
        padding: 0,
    };
    // SAFETY: GET_PADDING reads and writes a `struct rrelay_padding`.
    unsafe { ioctl(fd, Updater::<GET_PADDING, Padding>::new(&mut p)) }?;
    Ok(p.padding)
}

pub fn put_consumed(fd: impl AsFd, n: u64) -> std::io::Result<()> {
    // SAFETY: PUT_CONSUMED reads a `__u64`.
    Ok(unsafe { ioctl(fd, Setter::<PUT_CONSUMED, u64>::new(n)) }?)
}

pub fn set_flags(fd: impl AsFd, flags: u64) -> std::io::Result<()> {
    // SAFETY: SET_FLAGS reads a `__u64`.
    Ok(unsafe { ioctl(fd, Setter::<SET_FLAGS, u64>::new(flags)) }?)
}
