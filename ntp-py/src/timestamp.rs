//! `NtpTimestamp`: the 64-bit wire timestamp (RFC 5905 §6), with the era
//! resolved the way ntp-wire does it: a timestamp names the instant
//! closest to a pivot (the current time unless told otherwise), so
//! dates after 2036-02-07 come out right.

use std::ffi::{CStr, c_int, c_void};
use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::time::SystemTime;

use ntp_wire::{NtpDate, NtpTimestamp};
use pyo3::exceptions::{PyOverflowError, PyTypeError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyDelta, PyFloat, PyInt, PyString};

use crate::capi::{self, TypeDef};

/// An NTP timestamp: 32 bits of seconds and 32 bits of fraction, and the
/// era when it is known (from a Unix time or a datetime; a timestamp read
/// off the wire has none, and is placed within 68 years of a pivot).
/// Equality and hashing use the 64-bit wire value alone.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PyTimestamp {
    pub(crate) ts: NtpTimestamp,
    pub(crate) era: Option<i32>,
}

impl PyTimestamp {
    /// A timestamp off the wire: era unknown.
    pub(crate) fn wire(ts: NtpTimestamp) -> Self {
        PyTimestamp { ts, era: None }
    }

    /// The current system time (read only, never set).
    pub(crate) fn now_date() -> NtpDate {
        // The system clock before 1970 or beyond era ±2^31 is not a state
        // a working host is in; the Unix epoch is a harmless fallback.
        NtpDate::from_system_time(SystemTime::now()).unwrap_or(NtpDate::UNIX_EPOCH)
    }

    /// The instant this timestamp names: its own era if known, else the
    /// one closest to `pivot`.
    fn date(&self, pivot: Option<NtpDate>) -> PyResult<NtpDate> {
        if let Some(era) = self.era {
            return Ok(NtpDate::new(era, self.ts));
        }
        let pivot = pivot.unwrap_or_else(PyTimestamp::now_date);
        self.ts.to_date(pivot).ok_or_else(|| PyOverflowError::new_err("the date is outside NTP's era range"))
    }

    fn unix_parts(&self, pivot: Option<NtpDate>) -> PyResult<(i64, u32)> {
        unix_of(self.date(pivot)?)
    }
}

/// Unix seconds and nanoseconds from an int, a float, an aware datetime or
/// an `NtpTimestamp`.
pub(crate) fn unix_from_any(value: &Bound<'_, PyAny>) -> PyResult<(i64, u32)> {
    if let Some(ts) = PyTimestamp::from_object(value) {
        return ts.unix_parts(None);
    }
    if value.is_instance_of::<PyInt>() {
        return Ok((value.extract::<i64>()?, 0));
    }
    if value.is_instance_of::<PyFloat>() {
        return split_float(value.extract::<f64>()?);
    }
    let datetime = value.py().import("datetime")?;
    if value.is_instance(&datetime.getattr("datetime")?)? {
        if value.getattr("tzinfo")?.is_none() {
            return Err(PyValueError::new_err(
                "a naive datetime has no time zone; pass an aware one (e.g. tzinfo=datetime.timezone.utc)",
            ));
        }
        let delta = value.call_method1("__sub__", (epoch(value.py())?,))?;
        let delta = delta.cast::<PyDelta>()?;
        let days: i64 = delta.getattr("days")?.extract()?;
        let seconds: i64 = delta.getattr("seconds")?.extract()?;
        let micros: u32 = delta.getattr("microseconds")?.extract()?;
        return Ok((days * 86_400 + seconds, micros * 1_000));
    }
    Err(PyTypeError::new_err(format!(
        "expected an NtpTimestamp, a datetime or Unix seconds (int or float), not {}",
        value.get_type().name()?
    )))
}

/// Splits float Unix seconds into whole seconds and nanoseconds (floored,
/// so negative times keep a non-negative fraction).
fn split_float(t: f64) -> PyResult<(i64, u32)> {
    // Beyond ±2^62 s a float has no sub-second digits and the era range is
    // exceeded long before; refusing keeps the casts below exact.
    if !t.is_finite() || t.abs() > 4.6e18 {
        return Err(PyValueError::new_err(format!("{t} is not a representable Unix time")));
    }
    let secs = t.floor();
    let mut nanos = ((t - secs) * 1e9).round() as u32;
    let mut secs = secs as i64;
    if nanos >= 1_000_000_000 {
        nanos -= 1_000_000_000;
        secs += 1;
    }
    Ok((secs, nanos))
}

fn epoch(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    let datetime = py.import("datetime")?;
    let utc = datetime.getattr("timezone")?.getattr("utc")?;
    datetime.getattr("datetime")?.call1((1970, 1, 1, 0, 0, 0, 0, utc))
}

/// The pivot for era resolution from an optional Python value.
fn pivot_from(value: Option<&Bound<'_, PyAny>>) -> PyResult<Option<NtpDate>> {
    match value {
        None => Ok(None),
        Some(v) if v.is_none() => Ok(None),
        Some(v) => {
            let (secs, nanos) = unix_from_any(v)?;
            Ok(Some(date_from_unix(secs, nanos)?))
        }
    }
}

fn date_from_unix(secs: i64, nanos: u32) -> PyResult<NtpDate> {
    NtpDate::from_unix(secs, nanos).ok_or_else(|| PyOverflowError::new_err("the date is outside NTP's era range"))
}

/// A timestamp from any accepted time value (see [`unix_from_any`]).
pub(crate) fn timestamp_from_any(value: &Bound<'_, PyAny>) -> PyResult<PyTimestamp> {
    if let Some(ts) = PyTimestamp::from_object(value) {
        return Ok(ts);
    }
    let (secs, nanos) = unix_from_any(value)?;
    let date = date_from_unix(secs, nanos)?;
    Ok(PyTimestamp { ts: date.timestamp(), era: Some(date.era()) })
}

/// The Python object: the value inline and nothing else, so it needs no
/// GC tracking and is made with one `PyObject_Malloc`.
#[repr(C)]
struct TimestampObject {
    ob_base: ffi::PyObject,
    bits: u64,
    era: i32,
    has_era: u8,
}

impl capi::NativeType for TimestampObject {
    const NAME: &'static CStr = c"ntp_py._ntp_py.NtpTimestamp";
    const DOC: &'static CStr = c"NtpTimestamp(seconds=0, fraction=0)\n--\n\nAn NTP timestamp (RFC 5905 §6): 32 bits of seconds and 32 bits of fraction,\nand the era when it is known (from a Unix time or a datetime; a timestamp read\noff the wire has none, and is placed within 68 years of a pivot). Equality and\nhashing use the 64-bit wire value alone.";
    const OBJECT: capi::ObjectSlots = capi::ObjectSlots { dealloc, new: tp_new, richcompare, hash, repr };
}

/// The `NtpTimestamp` type, set once at module init (a strong reference
/// kept for the life of the process).
static TYPE: AtomicPtr<ffi::PyTypeObject> = AtomicPtr::new(ptr::null_mut());

impl PyTimestamp {
    /// The value of an `NtpTimestamp` object, or None for anything else.
    pub(crate) fn from_object(value: &Bound<'_, PyAny>) -> Option<PyTimestamp> {
        let ty = TYPE.load(Ordering::Acquire);
        // SAFETY: a Bound is a valid object; its type pointer is readable.
        if ty.is_null() || unsafe { ffi::Py_TYPE(value.as_ptr()) } != ty {
            return None;
        }
        // SAFETY: the type is final, so the object is a TimestampObject.
        Some(unsafe { read(value.as_ptr()) })
    }

    /// A new `NtpTimestamp` object (a new reference), or NULL with an
    /// exception set. Callable from any C callback holding the GIL: it
    /// touches no pyo3 state.
    pub(crate) fn new_object(self) -> *mut ffi::PyObject {
        let ty = TYPE.load(Ordering::Acquire);
        if ty.is_null() {
            // SAFETY: GIL held (every caller is a C callback or pyo3 code).
            unsafe { ffi::PyErr_SetString(ffi::PyExc_SystemError, c"ntp_py: NtpTimestamp is not ready".as_ptr()) };
            return ptr::null_mut();
        }
        // SAFETY: GIL held; the block is sized for a TimestampObject and
        // initialized (header by PyObject_Init, which also takes the
        // reference to the heap type that dealloc gives back; fields
        // written before the pointer escapes).
        unsafe {
            let obj = ffi::PyObject_Malloc(std::mem::size_of::<TimestampObject>()).cast::<TimestampObject>();
            if obj.is_null() {
                return ffi::PyErr_NoMemory();
            }
            ffi::PyObject_Init(obj.cast(), ty);
            ptr::addr_of_mut!((*obj).bits).write(self.ts.to_bits());
            ptr::addr_of_mut!((*obj).era).write(self.era.unwrap_or(0));
            ptr::addr_of_mut!((*obj).has_era).write(u8::from(self.era.is_some()));
            obj.cast()
        }
    }

    /// As [`PyTimestamp::new_object`], owned by pyo3.
    pub(crate) fn to_object(self, py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
        // SAFETY: a new reference or NULL with an exception set.
        unsafe { Bound::from_owned_ptr_or_err(py, self.new_object()) }
    }
}

/// The value of a TimestampObject.
///
/// # Safety
/// `obj` must point to a live object of the `NtpTimestamp` type.
unsafe fn read(obj: *mut ffi::PyObject) -> PyTimestamp {
    // SAFETY: per the contract, the fields were written at creation.
    let obj = unsafe { &*obj.cast::<TimestampObject>() };
    PyTimestamp { ts: NtpTimestamp::from_bits(obj.bits), era: (obj.has_era != 0).then_some(obj.era) }
}

impl<'py> IntoPyObject<'py> for PyTimestamp {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.to_object(py)
    }
}

impl<'py> IntoPyObject<'py> for &PyTimestamp {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.to_object(py)
    }
}

/// Instances are plain memory plus a reference to the (heap) type.
unsafe extern "C" fn dealloc(obj: *mut ffi::PyObject) {
    // SAFETY: CPython calls tp_dealloc once, with the GIL, on an object
    // made by `new_object` (PyObject_Malloc); it owns a type reference.
    unsafe {
        let ty = ffi::Py_TYPE(obj);
        ffi::PyObject_Free(obj.cast());
        ffi::Py_DecRef(ty.cast());
    }
}

/// The arguments of `NtpTimestamp(...)`, in signature order.
const NEW_ARGUMENTS: [&str; 2] = ["seconds", "fraction"];

/// `NtpTimestamp(seconds=0, fraction=0)`: seconds within the era and a
/// 2^-32 s fraction.
unsafe extern "C" fn tp_new(
    _subtype: *mut ffi::PyTypeObject,
    args: *mut ffi::PyObject,
    kwargs: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    capi::call_with_arguments("NtpTimestamp", args, kwargs, NEW_ARGUMENTS, false, |_py, [seconds, fraction]| {
        let seconds = seconds.map(|v| capi::extract::<u32>("seconds", &v)).transpose()?.unwrap_or(0);
        let fraction = fraction.map(|v| capi::extract::<u32>("fraction", &v)).transpose()?.unwrap_or(0);
        Ok(PyTimestamp::wire(NtpTimestamp::from_parts(seconds, fraction)).new_object())
    })
}

/// One required argument of a static constructor.
fn one_argument<'py>(
    py: Python<'py>,
    function: &str,
    name: &str,
    args: *mut ffi::PyObject,
    kwargs: *mut ffi::PyObject,
) -> PyResult<Bound<'py, PyAny>> {
    let [value] = capi::arguments(py, function, args, kwargs, [name], false)?;
    value.ok_or_else(|| PyTypeError::new_err(format!("{function}() missing required argument '{name}'")))
}

/// One optional `pivot` argument of a conversion method.
fn pivot_argument<'py>(
    py: Python<'py>,
    function: &str,
    args: *mut ffi::PyObject,
    kwargs: *mut ffi::PyObject,
) -> PyResult<Option<NtpDate>> {
    let [pivot] = capi::arguments(py, function, args, kwargs, ["pivot"], false)?;
    pivot_from(pivot.as_ref())
}

unsafe extern "C" fn from_bits(
    _cls: *mut ffi::PyObject,
    args: *mut ffi::PyObject,
    kwargs: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    capi::call(|py| {
        let bits = one_argument(py, "from_bits", "bits", args, kwargs)?;
        let bits = capi::extract::<u64>("bits", &bits)?;
        Ok(PyTimestamp::wire(NtpTimestamp::from_bits(bits)).new_object())
    })
}

unsafe extern "C" fn from_unix(
    _cls: *mut ffi::PyObject,
    args: *mut ffi::PyObject,
    kwargs: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    capi::call(|py| {
        let seconds = one_argument(py, "from_unix", "seconds", args, kwargs)?;
        if !(seconds.is_instance_of::<PyInt>() || seconds.is_instance_of::<PyFloat>()) {
            return Err(PyTypeError::new_err("Unix seconds must be an int or a float"));
        }
        Ok(timestamp_from_any(&seconds)?.new_object())
    })
}

unsafe extern "C" fn from_unix_ns(
    _cls: *mut ffi::PyObject,
    args: *mut ffi::PyObject,
    kwargs: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    capi::call(|py| {
        let value = one_argument(py, "from_unix_ns", "nanoseconds", args, kwargs)?;
        let nanoseconds = capi::extract::<i128>("nanoseconds", &value)?;
        let secs = i64::try_from(nanoseconds.div_euclid(1_000_000_000))
            .map_err(|_| PyOverflowError::new_err("the date is outside NTP's era range"))?;
        let nanos = nanoseconds.rem_euclid(1_000_000_000) as u32;
        let date = date_from_unix(secs, nanos)?;
        Ok(PyTimestamp { ts: date.timestamp(), era: Some(date.era()) }.new_object())
    })
}

unsafe extern "C" fn from_datetime(
    _cls: *mut ffi::PyObject,
    args: *mut ffi::PyObject,
    kwargs: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    capi::call(|py| {
        let value = one_argument(py, "from_datetime", "value", args, kwargs)?;
        let datetime = py.import("datetime")?;
        if !value.is_instance(&datetime.getattr("datetime")?)? {
            return Err(PyTypeError::new_err("expected a datetime.datetime"));
        }
        Ok(timestamp_from_any(&value)?.new_object())
    })
}

unsafe extern "C" fn now(_cls: *mut ffi::PyObject, _unused: *mut ffi::PyObject) -> *mut ffi::PyObject {
    capi::raw(ptr::null_mut(), || {
        let date = PyTimestamp::now_date();
        PyTimestamp { ts: date.timestamp(), era: Some(date.era()) }.new_object()
    })
}

/// The plain getters read the inline value and make an int or bool: no
/// pyo3 state is touched, so they need no pyo3 entry guard.
unsafe extern "C" fn get_bits(slf: *mut ffi::PyObject, _closure: *mut c_void) -> *mut ffi::PyObject {
    // SAFETY: CPython calls a getter with an instance of its (final) type,
    // GIL held.
    capi::raw(ptr::null_mut(), || unsafe { ffi::PyLong_FromUnsignedLongLong(read(slf).ts.to_bits()) })
}

unsafe extern "C" fn get_seconds(slf: *mut ffi::PyObject, _closure: *mut c_void) -> *mut ffi::PyObject {
    // SAFETY: as in get_bits.
    capi::raw(ptr::null_mut(), || unsafe { ffi::PyLong_FromUnsignedLongLong(u64::from(read(slf).ts.seconds())) })
}

unsafe extern "C" fn get_fraction(slf: *mut ffi::PyObject, _closure: *mut c_void) -> *mut ffi::PyObject {
    // SAFETY: as in get_bits.
    capi::raw(ptr::null_mut(), || unsafe { ffi::PyLong_FromUnsignedLongLong(u64::from(read(slf).ts.fraction())) })
}

unsafe extern "C" fn get_is_zero(slf: *mut ffi::PyObject, _closure: *mut c_void) -> *mut ffi::PyObject {
    // SAFETY: as in get_bits.
    capi::raw(ptr::null_mut(), || capi::bool_object(unsafe { read(slf) }.ts.is_zero()))
}

/// What every conversion does: read the value of `slf`, resolve it to an
/// instant (its own era if known, else the one closest to the pivot: the
/// `pivot` argument of the method `function` when `method` names one, the
/// current time for a getter) and hand that to `to_python`, under pyo3's
/// entry guard.
///
/// # Safety
/// `slf` must be a live `NtpTimestamp` object and, for a method, `args`
/// and `kwargs` what CPython passed it.
unsafe fn convert(
    slf: *mut ffi::PyObject,
    method: Option<(&str, *mut ffi::PyObject, *mut ffi::PyObject)>,
    to_python: impl for<'py> FnOnce(Python<'py>, NtpDate) -> PyResult<Bound<'py, PyAny>>,
) -> *mut ffi::PyObject {
    // SAFETY: per the contract.
    let this = unsafe { read(slf) };
    capi::call(|py| {
        let pivot = match method {
            Some((function, args, kwargs)) => pivot_argument(py, function, args, kwargs)?,
            None => None,
        };
        Ok(to_python(py, this.date(pivot)?)?.into_ptr())
    })
}

/// An instant as Unix seconds and nanoseconds.
fn unix_of(date: NtpDate) -> PyResult<(i64, u32)> {
    date.to_unix().ok_or_else(|| PyOverflowError::new_err("the date does not fit in 64-bit Unix seconds"))
}

/// Unix seconds as a float.
fn unix_float(py: Python<'_>, date: NtpDate) -> PyResult<Bound<'_, PyAny>> {
    let (secs, nanos) = unix_of(date)?;
    Ok((secs as f64 + f64::from(nanos) / 1e9).into_pyobject(py)?.into_any())
}

/// Unix nanoseconds as an int, exactly.
fn unix_ns(py: Python<'_>, date: NtpDate) -> PyResult<Bound<'_, PyAny>> {
    let (secs, nanos) = unix_of(date)?;
    Ok((i128::from(secs) * 1_000_000_000 + i128::from(nanos)).into_pyobject(py)?.into_any())
}

/// An aware UTC datetime, microseconds rounded down.
fn utc_datetime(py: Python<'_>, date: NtpDate) -> PyResult<Bound<'_, PyAny>> {
    let (secs, nanos) = unix_of(date)?;
    let delta = PyDelta::new(
        py,
        i32::try_from(secs.div_euclid(86_400)).map_err(|_| PyOverflowError::new_err("date out of range"))?,
        secs.rem_euclid(86_400) as i32,
        (nanos / 1_000) as i32,
        false,
    )?;
    epoch(py)?.call_method1("__add__", (delta,))
}

unsafe extern "C" fn get_era(slf: *mut ffi::PyObject, _closure: *mut c_void) -> *mut ffi::PyObject {
    // SAFETY: CPython calls a getter with an instance of its (final) type.
    unsafe { convert(slf, None, |py, date| Ok(date.era().into_pyobject(py)?.into_any())) }
}

unsafe extern "C" fn get_unix(slf: *mut ffi::PyObject, _closure: *mut c_void) -> *mut ffi::PyObject {
    // SAFETY: as in get_era.
    unsafe { convert(slf, None, unix_float) }
}

unsafe extern "C" fn get_unix_ns(slf: *mut ffi::PyObject, _closure: *mut c_void) -> *mut ffi::PyObject {
    // SAFETY: as in get_era.
    unsafe { convert(slf, None, unix_ns) }
}

unsafe extern "C" fn to_unix(
    slf: *mut ffi::PyObject,
    args: *mut ffi::PyObject,
    kwargs: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    // SAFETY: CPython calls a method with an instance of its (final) type
    // and the arguments it was given.
    unsafe { convert(slf, Some(("to_unix", args, kwargs)), unix_float) }
}

unsafe extern "C" fn to_datetime(
    slf: *mut ffi::PyObject,
    args: *mut ffi::PyObject,
    kwargs: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    // SAFETY: as in to_unix.
    unsafe { convert(slf, Some(("to_datetime", args, kwargs)), utc_datetime) }
}

/// `a - b` in seconds, modulo the era: right whenever the two are less
/// than 68 years apart, across 2036 too (RFC 5905 §6). Anything but two
/// timestamps is NotImplemented (a TypeError from Python).
unsafe extern "C" fn subtract(a: *mut ffi::PyObject, b: *mut ffi::PyObject) -> *mut ffi::PyObject {
    let ty = TYPE.load(Ordering::Acquire);
    // SAFETY: CPython passes two valid objects, GIL held.
    unsafe {
        if ffi::Py_TYPE(a) != ty || ffi::Py_TYPE(b) != ty {
            return capi::not_implemented();
        }
        capi::raw(ptr::null_mut(), || ffi::PyFloat_FromDouble(read(a).ts.wrapping_sub(read(b).ts).to_seconds_f64()))
    }
}

/// Equality on the 64-bit wire value alone (not the era).
unsafe extern "C" fn richcompare(a: *mut ffi::PyObject, b: *mut ffi::PyObject, op: c_int) -> *mut ffi::PyObject {
    let ty = TYPE.load(Ordering::Acquire);
    // SAFETY: CPython calls tp_richcompare with `a` of this type; `b` is
    // read only when it is of this type too.
    capi::raw(ptr::null_mut(), || capi::eq_only(op, || unsafe { ffi::Py_TYPE(b) == ty && read(a).ts == read(b).ts }))
}

unsafe extern "C" fn hash(slf: *mut ffi::PyObject) -> ffi::Py_hash_t {
    // SAFETY: CPython calls tp_hash with an instance of this type.
    capi::raw(-1, || capi::hash_value(unsafe { read(slf) }.ts.to_bits()))
}

unsafe extern "C" fn repr(slf: *mut ffi::PyObject) -> *mut ffi::PyObject {
    // SAFETY: CPython calls tp_repr with an instance of this type.
    let this = unsafe { read(slf) };
    capi::call(|py| {
        let text = match this.date(None).ok().and_then(|d| d.to_utc()) {
            Some(utc) => format!("NtpTimestamp(0x{:016x}, {utc})", this.ts.to_bits()),
            None => format!("NtpTimestamp(0x{:016x})", this.ts.to_bits()),
        };
        Ok(PyString::new(py, &text).into_ptr())
    })
}

const STATIC_KW: c_int = ffi::METH_VARARGS | ffi::METH_KEYWORDS | ffi::METH_STATIC;

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let kw = |f: ffi::PyCFunctionWithKeywords| ffi::PyMethodDefPointer { PyCFunctionWithKeywords: f };
    let def = TypeDef {
        slots: vec![capi::slot(ffi::Py_nb_subtract, subtract as *mut c_void)],
        methods: vec![
            capi::method(c"from_bits", kw(from_bits), STATIC_KW, c"from_bits(bits)\n--\n\nFrom the 64-bit wire value."),
            capi::method(
                c"from_unix",
                kw(from_unix),
                STATIC_KW,
                c"from_unix(seconds)\n--\n\nFrom Unix seconds (int or float); the era is kept.",
            ),
            capi::method(
                c"from_unix_ns",
                kw(from_unix_ns),
                STATIC_KW,
                c"from_unix_ns(nanoseconds)\n--\n\nFrom Unix nanoseconds, exactly; the era is kept.",
            ),
            capi::method(
                c"from_datetime",
                kw(from_datetime),
                STATIC_KW,
                c"from_datetime(value)\n--\n\nFrom an aware datetime; the era is kept.",
            ),
            capi::method(
                c"now",
                ffi::PyMethodDefPointer { PyCFunction: now },
                ffi::METH_NOARGS | ffi::METH_STATIC,
                c"now()\n--\n\nThe system clock's current time.",
            ),
            capi::method(
                c"to_unix",
                kw(to_unix),
                ffi::METH_VARARGS | ffi::METH_KEYWORDS,
                c"to_unix($self, pivot=None)\n--\n\nUnix seconds, with the era chosen closest to `pivot` (a datetime,\nUnix seconds or NtpTimestamp; default now) unless already known.",
            ),
            capi::method(
                c"to_datetime",
                kw(to_datetime),
                ffi::METH_VARARGS | ffi::METH_KEYWORDS,
                c"to_datetime($self, pivot=None)\n--\n\nAn aware UTC datetime (microseconds, rounded down), era-correct as\nin `to_unix`.",
            ),
        ],
        getset: vec![
            capi::getter(c"bits", get_bits, c"The 64-bit wire value.", 0),
            capi::getter(c"seconds", get_seconds, c"Seconds within the era (the high 32 bits).", 0),
            capi::getter(c"fraction", get_fraction, c"Fraction of a second in units of 2^-32 s (the low 32 bits).", 0),
            capi::getter(
                c"era",
                get_era,
                c"The era (0: 1900-2036, 1: 2036-2172), resolved against the current\ntime when the timestamp came off the wire.",
                0,
            ),
            capi::getter(
                c"is_zero",
                get_is_zero,
                c"Whether this is the all-zero timestamp, which means \"unknown\" on the wire.",
                0,
            ),
            capi::getter(c"unix", get_unix, c"Unix seconds as a float (era-correct; ~0.2 us resolution today).", 0),
            capi::getter(c"unix_ns", get_unix_ns, c"Unix nanoseconds as an int (exact to the nanosecond, rounded down).", 0),
        ],
        members: Vec::new(),
    };
    let ty = def.create::<TimestampObject>(m.py())?;
    // The type lives for the rest of the process: the static keeps the
    // reference taken here.
    TYPE.store(ty.clone().into_ptr().cast(), Ordering::Release);
    m.add("NtpTimestamp", ty)
}

#[cfg(test)]
mod tests {
    use super::split_float;

    #[test]
    fn test_split_float_floors_and_carries() {
        assert!(matches!(split_float(1.5), Ok((1, 500_000_000))));
        assert!(matches!(split_float(-0.25), Ok((-1, 750_000_000))));
        // 0.9999999999 rounds to a whole second, carried into the seconds.
        assert!(matches!(split_float(2.999_999_999_9), Ok((3, 0))));
        assert!(split_float(f64::NAN).is_err());
        assert!(split_float(1e30).is_err());
    }
}
