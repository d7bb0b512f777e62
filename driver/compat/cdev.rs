// SPDX-License-Identifier: GPL-2.0-only

//! `struct cdev` and its functions (include/linux/cdev.h).
//!
//! Linux 7.x's generated bindings have them; older ones leave the type
//! opaque (`<linux/cdev.h>` is not among the headers bindgen reads), so
//! there [`Cdev`] is a copy of the C layout (unchanged since Linux 2.6) and
//! the functions are declared here. What guards the copy is a run-time
//! check, [`check_layout`], of what `cdev_init` wrote: the `kobject` at
//! offset 0 (its `entry` list initialised to point at itself), `ops` and
//! `list` where the copy puts them, `owner` cleared, and a guard area after
//! the struct that `cdev_init`'s `memset` of `sizeof(struct cdev)` bytes
//! must not reach. With the `kobject` (whose type the bindings have) at 0
//! and `ops` right after the pointer that follows it, `owner`, the one
//! field the driver writes, is that pointer. The compile-time assertions
//! below only state that the copy itself is laid out so.
//!
//! `CONFIG_RANDSTRUCT` may reorder `struct cdev` (a `__randomize_layout`
//! type). `CONFIG_RUST` depends on `!RANDSTRUCT` on every supported kernel;
//! the `compile_error!` below stops the build should that change.

#[cfg(CONFIG_RANDSTRUCT)]
compile_error!("CONFIG_RANDSTRUCT may reorder struct cdev and struct file_operations");

#[cfg(asyncn_7_0)]
pub(crate) use kernel::bindings::{cdev as Cdev, cdev_add, cdev_del, cdev_init};

#[cfg(not(asyncn_7_0))]
pub(crate) use copy::{cdev_add, cdev_del, cdev_init, Cdev};

#[cfg(not(asyncn_7_0))]
mod copy {
    use kernel::{bindings, ffi::c_int, ffi::c_uint};

    /// The layout of `struct cdev`.
    #[repr(C)]
    pub(crate) struct Cdev {
        pub(crate) kobj: bindings::kobject,
        pub(crate) owner: *mut bindings::module,
        pub(crate) ops: *const bindings::file_operations,
        pub(crate) list: bindings::list_head,
        pub(crate) dev: bindings::dev_t,
        pub(crate) count: c_uint,
    }

    const _: () = {
        use core::mem::{align_of, offset_of, size_of};
        let pointer = align_of::<*mut u8>();
        let after_kobj = size_of::<bindings::kobject>().div_ceil(pointer) * pointer;
        assert!(offset_of!(Cdev, kobj) == 0);
        assert!(offset_of!(Cdev, owner) == after_kobj);
        assert!(offset_of!(Cdev, ops) == offset_of!(Cdev, owner) + size_of::<*mut u8>());
    };

    // Empty C structs (`lockdep_map` without lockdep) trip this lint, as in
    // the kernel's own `bindings` crate.
    #[allow(improper_ctypes)]
    extern "C" {
        pub(crate) fn cdev_init(cdev: *mut Cdev, fops: *const bindings::file_operations);
        pub(crate) fn cdev_add(cdev: *mut Cdev, dev: bindings::dev_t, count: c_uint) -> c_int;
        pub(crate) fn cdev_del(cdev: *mut Cdev);
    }
}

use kernel::bindings;

/// Words after the cdev that `cdev_init` must leave as they are.
pub(crate) const GUARD_WORDS: usize = 32;
/// The guard area's pattern.
pub(crate) const GUARD: u64 = 0xa5a5_5a5a_a5a5_5a5a;

/// Whether `cdev_init(cdev, fops)` wrote the fields where [`Cdev`] puts
/// them, and nothing of `guard`, the memory right after the struct.
///
/// # Safety
///
/// `cdev` must point to a cdev that `cdev_init(cdev, fops)` has just
/// initialised and that no other task can reach yet.
pub(crate) unsafe fn check_layout(
    cdev: *const Cdev,
    fops: *const bindings::file_operations,
    guard: &[u64; GUARD_WORDS],
) -> bool {
    // SAFETY: the caller guarantees that `cdev` points to an initialised
    // cdev that no other task reads or writes.
    let (ops, next, owner, list) = unsafe {
        (
            (*cdev).ops,
            (*cdev).list.next,
            (*cdev).owner,
            &raw const (*cdev).list,
        )
    };
    // SAFETY: as above; `kobject_init` made `kobj.entry` an empty list.
    let (entry_next, entry) = unsafe { ((*cdev).kobj.entry.next, &raw const (*cdev).kobj.entry) };
    guard.iter().all(|&word| word == GUARD)
        && entry_next.cast_const() == entry
        && ops == fops
        && next.cast_const() == list
        && owner.is_null()
}
