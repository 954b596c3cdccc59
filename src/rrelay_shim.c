// SPDX-License-Identifier: GPL-2.0
/*
 * rrelay's C shim: only what Rust cannot reach in 7.2. Each function is a
 * thin wrapper; the comment above it says why it is in C.
 */
#include <linux/module.h>
