//! The only place raw pointers from C become references, and the panic
//! boundary every entry point runs in.
//!
//! Each helper checks for NULL (and, for slices, that a non-empty buffer
//! has an address) before the one `unsafe` conversion; the caller's part of
//! the contract (the pointer is valid for the stated length, aligned, not
//! aliased by another thread during the call) is documented on every
//! exported function.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::result::ntp_result;

/// Runs an entry point's body, turning its `Err` into the code and a panic
/// into [`ntp_result::Panic`] (unwinding into C is undefined behaviour).
///
/// Always inlined: as a function of its own, every entry point spilled its
/// arguments to the stack, passed a closure of pointers to them and read
/// them back through two indirections, a fixed cost that was most of a
/// small call's. Inlined, `catch_unwind` costs nothing on the normal path
/// (a landing pad, no instructions).
#[inline(always)]
pub(crate) fn boundary(f: impl FnOnce() -> Result<(), ntp_result>) -> ntp_result {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => ntp_result::Ok,
        Ok(Err(code)) => code,
        Err(payload) => {
            drop_panic_payload(payload);
            ntp_result::Panic
        }
    }
}

/// Drops a caught panic's payload, out of line: inlined, its virtual drop
/// and deallocation added a few dozen instructions to every entry point,
/// which counts against the size up to which cross-language ThinLTO
/// imports a function into a C caller (see the C section of README.md).
#[cold]
#[inline(never)]
fn drop_panic_payload(payload: Box<dyn Any + Send>) {
    drop(payload);
}

/// Runs a body that returns nothing (the `_free` functions): a panic is
/// swallowed, since there is no way to report it.
#[inline(always)]
pub(crate) fn boundary_void(f: impl FnOnce()) {
    let _ = catch_unwind(AssertUnwindSafe(f));
}

/// A shared reference from a pointer C passed in for reading.
#[inline]
pub(crate) fn read<'a, T>(p: *const T) -> Result<&'a T, ntp_result> {
    // SAFETY: `as_ref` returns None for NULL; for non-NULL the exported
    // function's contract makes the caller guarantee a valid, aligned,
    // initialized T that lives for the call.
    unsafe { p.as_ref() }.ok_or(ntp_result::NullParameter)
}

/// An exclusive reference from a pointer C passed in for writing (an
/// out-parameter or a handle).
#[inline]
pub(crate) fn out<'a, T>(p: *mut T) -> Result<&'a mut T, ntp_result> {
    // SAFETY: `as_mut` returns None for NULL; for non-NULL the caller
    // guarantees a valid, aligned T not accessed elsewhere during the call.
    unsafe { p.as_mut() }.ok_or(ntp_result::NullParameter)
}

/// An optional exclusive reference: NULL means "not wanted".
#[inline]
pub(crate) fn out_opt<'a, T>(p: *mut T) -> Option<&'a mut T> {
    // SAFETY: as for `out`; NULL becomes None.
    unsafe { p.as_mut() }
}

/// A byte slice C passed in. NULL is accepted only with `len` 0.
#[inline]
pub(crate) fn slice<'a, T>(p: *const T, len: usize) -> Result<&'a [T], ntp_result> {
    if len == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(ntp_result::NullParameter);
    }
    // SAFETY: non-NULL and non-empty; the caller guarantees `len`
    // initialized, aligned elements readable for the call.
    Ok(unsafe { std::slice::from_raw_parts(p, len) })
}

/// A mutable slice C passed in as an output buffer. NULL is accepted only
/// with `len` 0.
#[inline]
pub(crate) fn slice_mut<'a, T>(p: *mut T, len: usize) -> Result<&'a mut [T], ntp_result> {
    if len == 0 {
        return Ok(&mut []);
    }
    if p.is_null() {
        return Err(ntp_result::NullParameter);
    }
    // SAFETY: non-NULL and non-empty; the caller guarantees `len` aligned
    // elements writable for the call and not aliased by other arguments.
    Ok(unsafe { std::slice::from_raw_parts_mut(p, len) })
}

/// Moves a value to the heap and hands C the pointer (freed by [`free_boxed`]).
pub(crate) fn to_boxed<T>(value: T) -> *mut T {
    Box::into_raw(Box::new(value))
}

/// Takes back and drops what [`to_boxed`] handed out; NULL is a no-op.
pub(crate) fn free_boxed<T>(p: *mut T) {
    if p.is_null() {
        return;
    }
    // SAFETY: non-NULL pointers given to the `_free` functions came from
    // `to_boxed` of the same type (their contract), and are freed once.
    drop(unsafe { Box::from_raw(p) });
}

/// Copies `text` and a NUL into `buf`; returns the length without the NUL.
pub(crate) fn write_c_string(buf: &mut [u8], text: &str) -> Result<usize, ntp_result> {
    let n = text.len();
    let dst = buf.get_mut(..n.saturating_add(1)).ok_or(ntp_result::InsufficientSize)?;
    let (body, nul) = dst.split_at_mut(n);
    body.copy_from_slice(text.as_bytes());
    nul.fill(0);
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_and_empty_slices() {
        assert_eq!(slice::<u8>(std::ptr::null(), 0).unwrap().len(), 0);
        assert_eq!(slice::<u8>(std::ptr::null(), 1), Err(ntp_result::NullParameter));
        assert!(read::<u8>(std::ptr::null()).is_err());
        assert!(out::<u8>(std::ptr::null_mut()).is_err());
        free_boxed::<u32>(std::ptr::null_mut());
    }

    #[test]
    fn panics_stop_at_the_boundary() {
        assert_eq!(boundary(|| panic!("boom")), ntp_result::Panic);
        assert_eq!(boundary(|| Err(ntp_result::NotFound)), ntp_result::NotFound);
    }

    #[test]
    fn c_string_needs_room_for_nul() {
        let mut buf = [1u8; 3];
        assert_eq!(write_c_string(&mut buf, "abc"), Err(ntp_result::InsufficientSize));
        assert_eq!(write_c_string(&mut buf, "ab"), Ok(2));
        assert_eq!(buf, *b"ab\0");
    }
}
