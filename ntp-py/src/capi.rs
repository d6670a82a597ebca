//! Glue for the two classes built on CPython's limited C API instead of
//! `#[pyclass]`: `Packet` and `NtpTimestamp`, the objects of the decode
//! hot path.
//!
//! Why not pyo3 for them: a pyo3 object is made through the base type's
//! `tp_new` (an empty argument tuple, `PyType_GenericAlloc`, zeroing) and
//! is tracked by the cyclic GC; every getter enters through a trampoline
//! that touches thread-locals. A type of our own allocates with
//! `PyObject_Malloc` + `PyObject_Init`, needs no GC (it can hold no
//! cycle), and exposes fields decoded at parse time as member
//! descriptors, which CPython reads without calling into Rust at all.
//!
//! Everything here stays within the limited API of Python 3.9 (abi3).

use std::ffi::{CStr, c_int, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr;

use pyo3::exceptions::PyTypeError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString, PyTuple, PyType};

/// Runs `body` on a thread that CPython has called us on (so it is attached
/// and holds the GIL), turning an error into a raised exception and a
/// panic into `SystemError`; returns NULL in both cases, as C callers
/// expect. Goes through `Python::attach`, so pyo3's bookkeeping (deferred
/// decrefs of dropped `Py<T>`) is exactly as in a pyo3 method: for
/// every path but the few hot ones, which are written without pyo3 types.
pub(crate) fn call(body: impl for<'py> FnOnce(Python<'py>) -> PyResult<*mut ffi::PyObject>) -> *mut ffi::PyObject {
    raw(ptr::null_mut(), || {
        Python::attach(|py| match body(py) {
            Ok(obj) => obj,
            Err(err) => {
                err.restore(py);
                ptr::null_mut()
            }
        })
    })
}

/// For the C callbacks that run without pyo3's entry guard (the hot
/// ones): a panic becomes `SystemError` and `fallback` (NULL or -1), never
/// an unwind into C. Costs nothing when nothing panics.
pub(crate) fn raw<R>(fallback: R, body: impl FnOnce() -> R) -> R {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|_| {
        // SAFETY: CPython called us holding the GIL; a static C string.
        unsafe { ffi::PyErr_SetString(ffi::PyExc_SystemError, c"ntp_py: internal error (panic)".as_ptr()) };
        fallback
    })
}

/// Positional-or-keyword arguments (or keyword-only ones when
/// `keyword_only`) by name, for a `METH_VARARGS | METH_KEYWORDS` method
/// or a `tp_new`: one slot per name, `None` where not given. Errors say
/// what Python's own functions say.
pub(crate) fn arguments<'py, const N: usize>(
    py: Python<'py>,
    function: &str,
    args: *mut ffi::PyObject,
    kwargs: *mut ffi::PyObject,
    names: [&str; N],
    keyword_only: bool,
) -> PyResult<[Option<Bound<'py, PyAny>>; N]> {
    let mut out: [Option<Bound<'py, PyAny>>; N] = std::array::from_fn(|_| None);
    if !args.is_null() {
        // SAFETY: CPython passes the positional arguments as a valid tuple,
        // borrowed for the call.
        let args = unsafe { Bound::from_borrowed_ptr(py, args) };
        let args = args.cast::<PyTuple>()?;
        if keyword_only && !args.is_empty() {
            return Err(PyTypeError::new_err(format!("{function}() takes no positional arguments")));
        }
        if args.len() > N {
            return Err(PyTypeError::new_err(format!(
                "{function}() takes at most {N} arguments ({} given)",
                args.len()
            )));
        }
        for (slot, value) in out.iter_mut().zip(args.iter()) {
            *slot = Some(value);
        }
    }
    if !kwargs.is_null() {
        // SAFETY: CPython passes keyword arguments as a valid dict (or
        // NULL, handled above), borrowed for the call.
        let kwargs = unsafe { Bound::from_borrowed_ptr(py, kwargs) };
        for (key, value) in kwargs.cast::<PyDict>()?.iter() {
            let key = key.cast::<PyString>()?.to_cow()?.into_owned();
            let Some(index) = names.iter().position(|n| *n == key) else {
                return Err(PyTypeError::new_err(format!("{function}() got an unexpected keyword argument '{key}'")));
            };
            let slot = out.get_mut(index).ok_or_else(|| PyTypeError::new_err("argument index"))?;
            if slot.is_some() {
                return Err(PyTypeError::new_err(format!("{function}() got multiple values for argument '{key}'")));
            }
            *slot = Some(value);
        }
    }
    Ok(out)
}

/// [`call`] with the arguments taken apart by name first (see
/// [`arguments`]): the body of a `tp_new` or of a keyword method.
pub(crate) fn call_with_arguments<const N: usize>(
    function: &str,
    args: *mut ffi::PyObject,
    kwargs: *mut ffi::PyObject,
    names: [&str; N],
    keyword_only: bool,
    body: impl for<'py> FnOnce(Python<'py>, [Option<Bound<'py, PyAny>>; N]) -> PyResult<*mut ffi::PyObject>,
) -> *mut ffi::PyObject {
    call(|py| body(py, arguments(py, function, args, kwargs, names, keyword_only)?))
}

/// An argument converted with `extract`, with the argument's name in the
/// message when it has the wrong type (as pyo3's own methods say it).
pub(crate) fn extract<'py, T>(name: &str, value: &Bound<'py, PyAny>) -> PyResult<T>
where
    T: FromPyObjectOwned<'py>,
    for<'a> <T as FromPyObject<'a, 'py>>::Error: Into<PyErr>,
{
    value.extract::<T>().map_err(|err| {
        let err: PyErr = err.into();
        let py = value.py();
        if err.is_instance_of::<PyTypeError>(py) {
            PyTypeError::new_err(format!("argument '{name}': {}", err.value(py)))
        } else {
            err
        }
    })
}

/// An instance struct of a type made here, and what its type needs
/// besides the tables: a name, a docstring and the object protocol. The
/// instance size is the struct's.
pub(crate) trait NativeType: Sized {
    /// Dotted name, `module.Class`.
    const NAME: &'static CStr;
    /// The class docstring, starting with the text signature of the
    /// constructor (`Class(...)\n--\n\n`) so `inspect.signature` works.
    const DOC: &'static CStr;
    /// The slots every type here has.
    const OBJECT: ObjectSlots;
}

/// The object protocol of a type, which both types here implement in
/// full: typed, so a function of the wrong shape cannot land in a slot.
pub(crate) struct ObjectSlots {
    /// `tp_dealloc`: frees the instance and gives back its type reference.
    pub(crate) dealloc: ffi::destructor,
    /// `tp_new`: the constructor, `Class(...)`.
    pub(crate) new: ffi::newfunc,
    /// `tp_richcompare`.
    pub(crate) richcompare: ffi::richcmpfunc,
    /// `tp_hash`.
    pub(crate) hash: ffi::hashfunc,
    /// `tp_repr`.
    pub(crate) repr: ffi::reprfunc,
}

/// The tables a type is made from. CPython keeps pointers into the
/// method, getset and member tables (and to the type's name) for the life
/// of the type, and these types live until the process exits, so the
/// tables are leaked: one set per type, made once at module init.
pub(crate) struct TypeDef {
    /// Slots beyond the object protocol (number or sequence protocol).
    pub(crate) slots: Vec<ffi::PyType_Slot>,
    /// Methods; the sentinel is added here.
    pub(crate) methods: Vec<ffi::PyMethodDef>,
    /// Computed attributes; the sentinel is added here.
    pub(crate) getset: Vec<ffi::PyGetSetDef>,
    /// Attributes read straight from the object; the sentinel is added here.
    pub(crate) members: Vec<ffi::PyMemberDef>,
}

impl TypeDef {
    /// Makes the type of the instances `T` (final: no subclassing, not
    /// tracked by the GC).
    pub(crate) fn create<T: NativeType>(self, py: Python<'_>) -> PyResult<Bound<'_, PyType>> {
        let TypeDef { slots: extra, mut methods, mut getset, mut members } = self;
        let ObjectSlots { dealloc, new, richcompare, hash, repr } = T::OBJECT;
        let mut slots = vec![
            slot(ffi::Py_tp_dealloc, dealloc as *mut c_void),
            slot(ffi::Py_tp_new, new as *mut c_void),
            slot(ffi::Py_tp_richcompare, richcompare as *mut c_void),
            slot(ffi::Py_tp_hash, hash as *mut c_void),
            slot(ffi::Py_tp_repr, repr as *mut c_void),
        ];
        slots.extend(extra);
        slots.push(slot(ffi::Py_tp_doc, T::DOC.as_ptr() as *mut c_void));
        methods.push(ffi::PyMethodDef {
            ml_name: ptr::null(),
            ml_meth: ffi::PyMethodDefPointer::zeroed(),
            ml_flags: 0,
            ml_doc: ptr::null(),
        });
        getset.push(ffi::PyGetSetDef {
            name: ptr::null(),
            get: None,
            set: None,
            doc: ptr::null(),
            closure: ptr::null_mut(),
        });
        members.push(ffi::PyMemberDef { name: ptr::null(), type_code: 0, offset: 0, flags: 0, doc: ptr::null() });
        let methods: &'static mut [ffi::PyMethodDef] = methods.leak();
        let getset: &'static mut [ffi::PyGetSetDef] = getset.leak();
        let members: &'static mut [ffi::PyMemberDef] = members.leak();
        slots.push(ffi::PyType_Slot { slot: ffi::Py_tp_methods, pfunc: methods.as_mut_ptr().cast() });
        slots.push(ffi::PyType_Slot { slot: ffi::Py_tp_getset, pfunc: getset.as_mut_ptr().cast() });
        slots.push(ffi::PyType_Slot { slot: ffi::Py_tp_members, pfunc: members.as_mut_ptr().cast() });
        slots.push(ffi::PyType_Slot { slot: 0, pfunc: ptr::null_mut() });
        let slots: &'static mut [ffi::PyType_Slot] = slots.leak();
        let spec: &'static mut ffi::PyType_Spec = Box::leak(Box::new(ffi::PyType_Spec {
            name: T::NAME.as_ptr(),
            basicsize: c_int::try_from(std::mem::size_of::<T>()).map_err(|_| PyTypeError::new_err("instance size"))?,
            itemsize: 0,
            flags: c_uint_flags(ffi::Py_TPFLAGS_DEFAULT),
            slots: slots.as_mut_ptr(),
        }));
        // SAFETY: the spec and every table it points to are 'static
        // (leaked above) and well formed (sentinel-terminated); the new
        // reference is owned by the Bound.
        let ty = unsafe { Bound::from_owned_ptr_or_err(py, ffi::PyType_FromSpec(spec))? };
        Ok(ty.cast_into::<PyType>()?)
    }
}

// `PyType_Spec.flags` is a C `unsigned int`; every flag we set fits.
fn c_uint_flags(flags: std::ffi::c_ulong) -> std::ffi::c_uint {
    std::ffi::c_uint::try_from(flags).unwrap_or(0)
}

/// A slot entry, for `TypeDef::slots`.
pub(crate) fn slot(slot: c_int, pfunc: *mut c_void) -> ffi::PyType_Slot {
    ffi::PyType_Slot { slot, pfunc }
}

/// A method table entry; `doc` starts with the text signature
/// (`name($self, ...)\n--\n\n`) so `inspect.signature` works.
pub(crate) fn method(
    name: &'static CStr,
    meth: ffi::PyMethodDefPointer,
    flags: c_int,
    doc: &'static CStr,
) -> ffi::PyMethodDef {
    ffi::PyMethodDef { ml_name: name.as_ptr(), ml_meth: meth, ml_flags: flags, ml_doc: doc.as_ptr() }
}

/// A read-only computed attribute.
pub(crate) fn getter(name: &'static CStr, get: ffi::getter, doc: &'static CStr, closure: usize) -> ffi::PyGetSetDef {
    ffi::PyGetSetDef {
        name: name.as_ptr(),
        get: Some(get),
        set: None,
        doc: doc.as_ptr(),
        // An integer tag for the getter (an offset), never dereferenced.
        closure: closure as *mut c_void,
    }
}

/// A read-only attribute read by CPython at `offset` in the object.
pub(crate) fn member(name: &'static CStr, type_code: c_int, offset: usize, doc: &'static CStr) -> ffi::PyMemberDef {
    ffi::PyMemberDef {
        name: name.as_ptr(),
        type_code,
        offset: ffi::Py_ssize_t::try_from(offset).unwrap_or(0),
        flags: ffi::Py_READONLY,
        doc: doc.as_ptr(),
    }
}

/// Python's `NotImplemented`, a new reference.
pub(crate) fn not_implemented() -> *mut ffi::PyObject {
    // SAFETY: called by a C slot, GIL held; NotImplemented is a static object.
    unsafe {
        let obj = ffi::Py_NotImplemented();
        ffi::Py_IncRef(obj);
        obj
    }
}

/// A new bool.
pub(crate) fn bool_object(value: bool) -> *mut ffi::PyObject {
    // SAFETY: called by a C slot, GIL held; returns a new reference.
    unsafe { ffi::PyBool_FromLong(std::ffi::c_long::from(value)) }
}

/// `tp_richcompare` for a type with only `==` (and so `!=`): the rest are
/// NotImplemented, as pyo3 does for a class defining `__eq__` alone.
pub(crate) fn eq_only(op: c_int, eq: impl FnOnce() -> bool) -> *mut ffi::PyObject {
    match op {
        ffi::Py_EQ => bool_object(eq()),
        ffi::Py_NE => bool_object(!eq()),
        _ => not_implemented(),
    }
}

/// A 64-bit hash as `Py_hash_t`: -1 means "error" to CPython, so it
/// becomes -2 (what CPython does to a `__hash__` returning -1).
pub(crate) fn hash_value(h: u64) -> ffi::Py_hash_t {
    match h as ffi::Py_hash_t {
        -1 => -2,
        v => v,
    }
}

#[cfg(test)]
mod tests {
    use super::hash_value;

    #[test]
    fn test_hash_value_never_returns_the_error_marker() {
        assert_eq!(hash_value(u64::MAX), -2);
        assert_eq!(hash_value(5), 5);
        assert_eq!(hash_value(u64::MAX - 1), -2);
        assert_eq!(hash_value(1 << 63), i64::MIN as pyo3::ffi::Py_hash_t);
    }
}
