//! Counters shared by a parent and the processes it forks: a
//! `MAP_SHARED` anonymous mapping of atomics, inherited across `fork`.

use std::io;
use std::ptr::NonNull;

use nix::sys::mman::munmap;

/// A `T` (made of atomics, valid when zeroed) in shared memory.
pub struct Shared<T> {
    ptr: NonNull<T>,
}

impl<T: ZeroedAtomics> Shared<T> {
    pub fn new() -> io::Result<Self> {
        let ptr = super::memory::map_anonymous(std::mem::size_of::<T>(), true)?;
        Ok(Self { ptr: ptr.cast() })
    }
}

impl<T> std::ops::Deref for Shared<T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: the mapping is page-aligned, zero-filled (a valid `T` by
        // `ZeroedAtomics`), lives until drop, and is only accessed through
        // atomics, so sharing it with other processes is sound.
        unsafe { self.ptr.as_ref() }
    }
}

impl<T> Drop for Shared<T> {
    fn drop(&mut self) {
        // SAFETY: unmaps the mapping made in `new`, once.
        let _ = unsafe { munmap(self.ptr.cast(), std::mem::size_of::<T>()) };
    }
}

/// # Safety
///
/// Implementors consist of atomics (and arrays of them) only, for which
/// all-zero bytes are a valid value. Implemented by [`zeroed_atomics!`],
/// which checks that.
pub unsafe trait ZeroedAtomics {}

/// A type for which all-zero bytes are a valid value and which may be
/// shared between processes: atomics, and arrays of them.
///
/// # Safety
///
/// Only for such types.
pub unsafe trait Atomic {}

// SAFETY: atomics are valid when zeroed and work across processes.
unsafe impl Atomic for std::sync::atomic::AtomicU8 {}
// SAFETY: as above.
unsafe impl Atomic for std::sync::atomic::AtomicU32 {}
// SAFETY: as above.
unsafe impl Atomic for std::sync::atomic::AtomicU64 {}
// SAFETY: an array of such is such.
unsafe impl<T: Atomic, const N: usize> Atomic for [T; N] {}

/// Declares a `#[repr(C)]` struct of atomics for [`Shared`]: the build
/// fails if a field is anything else.
macro_rules! zeroed_atomics {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $($(#[$field_meta:meta])* $field_vis:vis $field:ident : $ty:ty),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[repr(C)]
        $vis struct $name {
            $($(#[$field_meta])* $field_vis $field: $ty),*
        }

        // SAFETY: every field is `Atomic` (the bounds fail the build
        // otherwise), so all-zero bytes are a valid value. The macro is
        // sys's: its `unsafe` is allowed where it expands.
        #[allow(unsafe_code)]
        unsafe impl $crate::sys::shared::ZeroedAtomics for $name
        where
            $($ty: $crate::sys::shared::Atomic),*
        {
        }
    };
}
pub(crate) use zeroed_atomics;
