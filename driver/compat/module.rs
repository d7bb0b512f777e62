// SPDX-License-Identifier: GPL-2.0-only

//! `kernel::module::this_module()` (Linux 7.0 on): the module's
//! `THIS_MODULE`, which `module!` made a crate-root `static` before.

use kernel::ThisModule;

/// This module's `THIS_MODULE`.
#[cfg(asyncn_7_0)]
pub(crate) const fn this_module() -> &'static ThisModule {
    kernel::module::this_module::<crate::LocalModule>()
}

/// This module's `THIS_MODULE`.
#[cfg(not(asyncn_7_0))]
pub(crate) const fn this_module() -> &'static ThisModule {
    &crate::THIS_MODULE
}
