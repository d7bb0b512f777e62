// SPDX-License-Identifier: GPL-2.0-only

//! `kernel::iov::{IovIterDest, IovIterSource}` (by Linux 6.18): the part
//! of them the driver uses, on 6.12.

#[cfg(asyncn_6_18)]
pub(crate) use kernel::iov::{IovIterDest, IovIterSource};

#[cfg(not(asyncn_6_18))]
pub(crate) use backport::{IovIterDest, IovIterSource};

#[cfg(not(asyncn_6_18))]
mod backport {
    use core::marker::PhantomData;
    use kernel::{bindings, types::Opaque};

    const ITER_SOURCE: bool = bindings::ITER_SOURCE != 0;
    const ITER_DEST: bool = bindings::ITER_DEST != 0;

    /// Bytes left in `iov` (`iov_iter_count()`).
    ///
    /// # Safety
    ///
    /// `iov` must point to a valid `iov_iter`.
    unsafe fn count(iov: *const bindings::iov_iter) -> usize {
        // SAFETY: the caller guarantees that `iov` is valid. `count` is
        // valid for every iterator type: the union's other member,
        // `__ubuf_iovec`, has its length where `count` is.
        unsafe { (*iov).__bindgen_anon_1.__bindgen_anon_1.as_ref().count }
    }

    /// An IO vector that is a source of data (a `write_iter` call's).
    ///
    /// # Invariants
    ///
    /// Holds a valid `struct iov_iter` with `data_source` set to
    /// `ITER_SOURCE`; for `'data`, reading from it with the C functions for
    /// the purpose is safe.
    #[repr(transparent)]
    pub(crate) struct IovIterSource<'data> {
        iov: Opaque<bindings::iov_iter>,
        _source: PhantomData<&'data [u8]>,
    }

    impl<'data> IovIterSource<'data> {
        /// Obtains an `IovIterSource` from a raw pointer.
        ///
        /// # Safety
        ///
        /// * The `iov_iter` must be valid and accessed only through the
        ///   returned reference for `'iov`.
        /// * Its `data_source` must be `ITER_SOURCE`.
        /// * For `'data`, reading from it with the C functions for the
        ///   purpose must be safe.
        #[track_caller]
        #[inline]
        pub(crate) unsafe fn from_raw<'iov>(
            ptr: *mut bindings::iov_iter,
        ) -> &'iov mut IovIterSource<'data> {
            // SAFETY: the caller guarantees that `ptr` is valid.
            let data_source = unsafe { (*ptr).data_source };
            assert_eq!(data_source, ITER_SOURCE);
            // SAFETY: the caller guarantees the invariants for these
            // lifetimes; the type is a transparent wrapper of `iov_iter`.
            unsafe { &mut *ptr.cast::<IovIterSource<'data>>() }
        }

        /// Bytes left in this IO vector.
        #[inline]
        pub(crate) fn len(&self) -> usize {
            // SAFETY: the iterator is valid (the type invariant).
            unsafe { count(self.iov.get()) }
        }

        /// Reads data into `out`; returns the number of bytes copied.
        #[inline]
        pub(crate) fn copy_from_iter(&mut self, out: &mut [u8]) -> usize {
            // SAFETY: `out` is valid for writes of its length; reading
            // from the iterator is safe (the type invariant), and it is
            // advanced by what was copied.
            unsafe { bindings::_copy_from_iter(out.as_mut_ptr().cast(), out.len(), self.iov.get()) }
        }
    }

    /// An IO vector that is a destination of data (a `read_iter` call's).
    ///
    /// # Invariants
    ///
    /// Holds a valid `struct iov_iter` with `data_source` set to
    /// `ITER_DEST`; for `'data`, writing to it with the C functions for the
    /// purpose is safe.
    #[repr(transparent)]
    pub(crate) struct IovIterDest<'data> {
        iov: Opaque<bindings::iov_iter>,
        _dest: PhantomData<&'data mut [u8]>,
    }

    impl<'data> IovIterDest<'data> {
        /// Obtains an `IovIterDest` from a raw pointer.
        ///
        /// # Safety
        ///
        /// * The `iov_iter` must be valid and accessed only through the
        ///   returned reference for `'iov`.
        /// * Its `data_source` must be `ITER_DEST`.
        /// * For `'data`, writing to it with the C functions for the
        ///   purpose must be safe.
        #[track_caller]
        #[inline]
        pub(crate) unsafe fn from_raw<'iov>(
            ptr: *mut bindings::iov_iter,
        ) -> &'iov mut IovIterDest<'data> {
            // SAFETY: the caller guarantees that `ptr` is valid.
            let data_source = unsafe { (*ptr).data_source };
            assert_eq!(data_source, ITER_DEST);
            // SAFETY: the caller guarantees the invariants for these
            // lifetimes; the type is a transparent wrapper of `iov_iter`.
            unsafe { &mut *ptr.cast::<IovIterDest<'data>>() }
        }

        /// Bytes of room left in this IO vector.
        #[inline]
        pub(crate) fn len(&self) -> usize {
            // SAFETY: the iterator is valid (the type invariant).
            unsafe { count(self.iov.get()) }
        }

        /// Writes `input`; returns the number of bytes copied.
        #[inline]
        pub(crate) fn copy_to_iter(&mut self, input: &[u8]) -> usize {
            // SAFETY: `input` is valid for reads of its length; writing to
            // the iterator is safe (the type invariant), and it is advanced
            // by what was copied.
            unsafe { bindings::_copy_to_iter(input.as_ptr().cast(), input.len(), self.iov.get()) }
        }
    }
}
