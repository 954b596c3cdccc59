// SPDX-License-Identifier: GPL-2.0

//! The buffer files' ioctls (`include/uapi/linux/rrelay.h`), for mmap
//! readers. The numbers and structures are the module's own (`src/uapi.rs`,
//! included here as `abi`), encoded by rustix for this architecture.

use crate::abi::{self, Next, IOC_MAGIC};
use rustix::ioctl::{ioctl, opcode, Getter, NoArg, Opcode, Setter};
use std::os::fd::AsFd;

pub(crate) use crate::abi::{Geometry, FLAG_FINISHED_ONLY};

const GET_GEOMETRY: Opcode = opcode::read::<Geometry>(IOC_MAGIC, abi::NR_GET_GEOMETRY);
const SET_FLAGS: Opcode = opcode::write::<u64>(IOC_MAGIC, abi::NR_SET_FLAGS);
const GET_NEXT_SUBBUF: Opcode = opcode::read::<Next>(IOC_MAGIC, abi::NR_GET_NEXT_SUBBUF);
const PUT_NEXT_SUBBUF: Opcode = opcode::none(IOC_MAGIC, abi::NR_PUT_NEXT_SUBBUF);
const FLUSH: Opcode = opcode::none(IOC_MAGIC, abi::NR_FLUSH);

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
