// SPDX-License-Identifier: GPL-2.0-only

//! `pin_init_from_closure`: in the `pin_init` crate from Linux 6.16 on, in
//! `kernel::init` before.

#[cfg(asyncn_6_18)]
pub(crate) use pin_init::pin_init_from_closure;

#[cfg(not(asyncn_6_18))]
pub(crate) use kernel::init::pin_init_from_closure;
