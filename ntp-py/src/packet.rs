//! `Packet`: the Python view of an NTP packet. It keeps the bytes object
//! it was given and reads each field when asked, through `ntp_wire::Packet`
//! (mode and stratum are decoded by the parse itself), so a decode costs
//! one structure check and one small allocation.

use ntp_wire::{
    Authenticator, LeapIndicator, Mode, NtpShort, Packet, ReferenceId, ReferenceIdMeaning, Repr, Stratum, Trailer,
    Version,
};
use std::ffi::{CStr, c_int, c_long, c_void};
use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};

use pyo3::exceptions::{PySystemError, PyTypeError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyInt, PyString, PyType};

use crate::capi::{self, TypeDef};
use crate::errors::parse_error;
use crate::timestamp::{PyTimestamp, timestamp_from_any};

/// Leap indicator (RFC 5905 §7.3): a warning of a leap second at the end
/// of the current UTC day, or that the clock is unsynchronized.
#[pyclass(eq, eq_int, frozen, hash, module = "ntp_py._ntp_py", name = "Leap", rename_all = "SCREAMING_SNAKE_CASE")]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum PyLeap {
    NoWarning = 0,
    InsertSecond = 1,
    DeleteSecond = 2,
    Unsynchronized = 3,
}

impl From<LeapIndicator> for PyLeap {
    fn from(leap: LeapIndicator) -> Self {
        match leap {
            LeapIndicator::NoWarning => PyLeap::NoWarning,
            LeapIndicator::InsertSecond => PyLeap::InsertSecond,
            LeapIndicator::DeleteSecond => PyLeap::DeleteSecond,
            LeapIndicator::Unsynchronized => PyLeap::Unsynchronized,
        }
    }
}

#[pymethods]
impl PyLeap {
    /// What the indicator means, in words.
    #[getter]
    fn description(&self) -> String {
        LeapIndicator::from_bits(*self as u8).to_string()
    }
}

/// Association mode (RFC 5905 §3).
#[pyclass(eq, eq_int, frozen, hash, module = "ntp_py._ntp_py", name = "Mode", rename_all = "SCREAMING_SNAKE_CASE")]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum PyMode {
    Reserved = 0,
    SymmetricActive = 1,
    SymmetricPassive = 2,
    Client = 3,
    Server = 4,
    Broadcast = 5,
    Control = 6,
    Private = 7,
}

impl From<Mode> for PyMode {
    fn from(mode: Mode) -> Self {
        match mode {
            Mode::Reserved => PyMode::Reserved,
            Mode::SymmetricActive => PyMode::SymmetricActive,
            Mode::SymmetricPassive => PyMode::SymmetricPassive,
            Mode::Client => PyMode::Client,
            Mode::Server => PyMode::Server,
            Mode::Broadcast => PyMode::Broadcast,
            Mode::Control => PyMode::Control,
            Mode::Private => PyMode::Private,
        }
    }
}

#[pymethods]
impl PyMode {
    /// The mode's name in words ("server", "symmetric active", ...).
    #[getter]
    fn description(&self) -> String {
        Mode::from_bits(*self as u8).to_string()
    }
}

/// The eight `Mode` and four `Leap` objects, made once: a getter then
/// returns a shared object instead of allocating one per read, which is a
/// good part of the cost of a decode.
static MODES: PyOnceLock<Vec<Py<PyMode>>> = PyOnceLock::new();
static LEAPS: PyOnceLock<Vec<Py<PyLeap>>> = PyOnceLock::new();

pub(crate) fn mode_object(py: Python<'_>, mode: Mode) -> PyResult<Py<PyMode>> {
    let all = MODES.get_or_try_init(py, || {
        (0..8u8).map(|bits| Py::new(py, PyMode::from(Mode::from_bits(bits)))).collect::<PyResult<Vec<_>>>()
    })?;
    match all.get(usize::from(mode.to_bits())) {
        Some(obj) => Ok(obj.clone_ref(py)),
        None => Py::new(py, PyMode::from(mode)),
    }
}

pub(crate) fn leap_object(py: Python<'_>, leap: LeapIndicator) -> PyResult<Py<PyLeap>> {
    let all = LEAPS.get_or_try_init(py, || {
        (0..4u8).map(|bits| Py::new(py, PyLeap::from(LeapIndicator::from_bits(bits)))).collect::<PyResult<Vec<_>>>()
    })?;
    match all.get(usize::from(leap.to_bits())) {
        Some(obj) => Ok(obj.clone_ref(py)),
        None => Py::new(py, PyLeap::from(leap)),
    }
}

/// A leap indicator from `Leap` or an int 0..=3.
fn leap_arg(value: &Bound<'_, PyAny>) -> PyResult<LeapIndicator> {
    let bits = match value.cast::<PyLeap>() {
        Ok(leap) => *leap.get() as u8,
        Err(_) => small_int(value, "leap", 3)?,
    };
    Ok(LeapIndicator::from_bits(bits))
}

/// A mode from `Mode` or an int 0..=7.
fn mode_arg(value: &Bound<'_, PyAny>) -> PyResult<Mode> {
    let bits = match value.cast::<PyMode>() {
        Ok(mode) => *mode.get() as u8,
        Err(_) => small_int(value, "mode", 7)?,
    };
    Ok(Mode::from_bits(bits))
}

fn small_int(value: &Bound<'_, PyAny>, name: &str, max: u8) -> PyResult<u8> {
    match value.extract::<u8>() {
        Ok(v) if v <= max => Ok(v),
        _ => Err(PyValueError::new_err(format!("{name} must be an int in 0..={max}"))),
    }
}

/// A reference id from an `IPv4Address`, a string of up to 4 ASCII
/// characters (kiss code or source name), 4 bytes, or a 32-bit int.
pub(crate) fn reference_id_arg(value: &Bound<'_, PyAny>) -> PyResult<ReferenceId> {
    if value.is_instance_of::<PyString>() {
        let text: String = value.extract()?;
        if text.len() > 4 || !text.is_ascii() {
            return Err(PyValueError::new_err(format!(
                "a text reference id is at most 4 ASCII characters, not {text:?}"
            )));
        }
        let mut id = [0u8; 4];
        for (slot, b) in id.iter_mut().zip(text.bytes()) {
            *slot = b;
        }
        return Ok(ReferenceId(id));
    }
    if let Ok(bytes) = value.cast::<PyBytes>() {
        return <[u8; 4]>::try_from(bytes.as_bytes())
            .map(ReferenceId)
            .map_err(|_| PyValueError::new_err("a bytes reference id must be exactly 4 bytes"));
    }
    if value.is_instance_of::<PyInt>() {
        return Ok(ReferenceId::from_u32(value.extract()?));
    }
    let ipaddress = value.py().import("ipaddress")?;
    if value.is_instance(&ipaddress.getattr("IPv4Address")?)? {
        return Ok(ReferenceId::from_u32(value.call_method0("__int__")?.extract()?));
    }
    Err(PyTypeError::new_err("a reference id is an IPv4Address, a str of up to 4 characters, 4 bytes or an int"))
}

/// The reference id as Python users expect it for this stratum: an
/// `IPv4Address` at stratum 2–15 (the upstream server, or for IPv6 the
/// first 4 bytes of an MD5 of its address), the kiss code or source name
/// as a str at stratum 0–1 (an `IPv4Address` when it is not printable
/// text), and the raw 4 bytes at stratum 16 and above, which give it no
/// meaning.
pub(crate) fn reference_id_object<'py>(
    py: Python<'py>,
    id: ReferenceId,
    stratum: Stratum,
) -> PyResult<Bound<'py, PyAny>> {
    match id.meaning(stratum) {
        ReferenceIdMeaning::Upstream(id) => py.import("ipaddress")?.getattr("IPv4Address")?.call1((id.to_u32(),)),
        // Not text: show it as ntpq does, dotted (chrony's local clock is 127.127.1.1).
        ReferenceIdMeaning::Kiss(_) | ReferenceIdMeaning::Source(_) => match id.as_ascii() {
            Some(text) => Ok(PyString::new(py, text).into_any()),
            None => py.import("ipaddress")?.getattr("IPv4Address")?.call1((id.to_u32(),)),
        },
        _ => Ok(PyBytes::new(py, &id.0).into_any()),
    }
}

fn short_arg(value: f64, name: &str) -> PyResult<NtpShort> {
    if !(0.0..65536.0).contains(&value) {
        return Err(PyValueError::new_err(format!("{name} must be in 0..65536 seconds, not {value}")));
    }
    Ok(NtpShort::from_seconds_f64(value))
}

/// The header's length, bytes (RFC 5905 §7.3).
const HEADER_LEN: usize = 48;

/// The Python `Packet` object. It holds the datagram's bytes object (so
/// `to_bytes()` is the very object parsed, and the trailer is read from
/// it), a copy of the header, and the two fields a caller reads first,
/// decoded once by the parse and exposed as member descriptors: CPython
/// 3.11+ reads such a member with a specialized instruction, no call.
///
/// It references only a bytes object, an int and a shared `Mode` object,
/// none of which can refer back to a packet: no cycle can pass through
/// it, so the type is not GC-tracked (a pyo3 class always is).
#[repr(C)]
struct PacketObject {
    ob_base: ffi::PyObject,
    /// The shared `Mode` object of the header's mode (strong reference).
    mode: *mut ffi::PyObject,
    /// The stratum as an int (strong reference; 0..=255 are CPython's
    /// cached small ints, so making it allocates nothing).
    stratum: *mut ffi::PyObject,
    /// The whole datagram, a bytes object (strong reference).
    data: *mut ffi::PyObject,
    /// The first 48 bytes of `data`.
    header: [u8; HEADER_LEN],
}

impl capi::NativeType for PacketObject {
    const NAME: &'static CStr = c"ntp_py._ntp_py.Packet";
    const DOC: &'static CStr = c"Packet(*, leap=None, version=4, mode=None, stratum=0, poll=0, precision=0, root_delay=0.0, root_dispersion=0.0, reference_id=None, reference_time=None, origin_time=None, receive_time=None, transmit_time=None, trailer=None)\n--\n\nAn NTP packet: the 48-byte header and any extension fields, MAC or\ncrypto-NAK after it. Build one with keyword arguments, or read one with\n`Packet.parse`.";
    const OBJECT: capi::ObjectSlots = capi::ObjectSlots { dealloc, new: tp_new, richcompare, hash, repr };
}

impl PacketObject {
    /// The header, through ntp-wire's accessors.
    fn view(&self) -> Packet<&[u8]> {
        Packet::new_unchecked(&self.header[..])
    }

    /// The datagram's bytes object.
    fn data<'a, 'py>(&'a self, py: Python<'py>) -> Borrowed<'a, 'py, PyBytes> {
        // SAFETY: `data` is a bytes object the packet owns a reference to
        // (set at creation, never changed), alive while `self` is.
        unsafe { Borrowed::from_ptr(py, self.data).cast_unchecked::<PyBytes>() }
    }

    /// Borrows the packet of a C callback's `self`.
    ///
    /// # Safety
    /// `obj` must be a live `Packet` object (CPython passes one to the
    /// type's slots, methods and getters: the type is final).
    unsafe fn from_ptr<'a>(obj: *mut ffi::PyObject) -> &'a PacketObject {
        // SAFETY: per the contract; every field was written at creation.
        unsafe { &*obj.cast::<PacketObject>() }
    }
}

/// The `Packet` type and the eight `Mode` and four `Leap` objects, set
/// once at module init (strong references kept for the life of the
/// process).
static TYPE: AtomicPtr<ffi::PyTypeObject> = AtomicPtr::new(ptr::null_mut());
static MODE_OBJECTS: [AtomicPtr<ffi::PyObject>; 8] = [const { AtomicPtr::new(ptr::null_mut()) }; 8];
static LEAP_OBJECTS: [AtomicPtr<ffi::PyObject>; 4] = [const { AtomicPtr::new(ptr::null_mut()) }; 4];

/// A new `Packet` object for the bytes object `data` whose contents are
/// `raw` (checking their structure), as a new reference. Uses no pyo3
/// state beyond the token, so the METH_O entry may call it without
/// pyo3's entry guard.
///
/// # Safety
/// `data` must be a live bytes object and `raw` its contents.
unsafe fn packet_ptr(py: Python<'_>, data: *mut ffi::PyObject, raw: &[u8]) -> PyResult<*mut ffi::PyObject> {
    Packet::new_checked(raw).map_err(parse_error)?;
    let header: [u8; HEADER_LEN] = raw
        .get(..HEADER_LEN)
        .and_then(|h| h.try_into().ok())
        .ok_or_else(|| PyValueError::new_err("a packet is at least 48 bytes"))?;
    let view = Packet::new_unchecked(&header[..]);
    let ty = TYPE.load(Ordering::Acquire);
    let mode = shared(&MODE_OBJECTS, view.mode().to_bits());
    if ty.is_null() || mode.is_null() {
        return Err(PySystemError::new_err("ntp_py: Packet is not ready"));
    }
    // SAFETY: GIL held (the caller is attached). The block is sized for a
    // PacketObject; PyObject_Init sets its header and takes the reference
    // to the heap type that dealloc gives back; every field is written
    // before the pointer leaves. `mode` is kept alive by MODE_OBJECTS and
    // `data` by the caller; the packet takes a reference to each.
    unsafe {
        let stratum = ffi::PyLong_FromLong(c_long::from(view.stratum().0));
        if stratum.is_null() {
            return Err(PyErr::fetch(py));
        }
        let obj = ffi::PyObject_Malloc(std::mem::size_of::<PacketObject>()).cast::<PacketObject>();
        if obj.is_null() {
            ffi::Py_DECREF(stratum);
            ffi::PyErr_NoMemory();
            return Err(PyErr::fetch(py));
        }
        ffi::PyObject_Init(obj.cast(), ty);
        ffi::Py_INCREF(mode);
        ffi::Py_INCREF(data);
        ptr::addr_of_mut!((*obj).mode).write(mode);
        ptr::addr_of_mut!((*obj).stratum).write(stratum);
        ptr::addr_of_mut!((*obj).data).write(data);
        ptr::addr_of_mut!((*obj).header).write(header);
        Ok(obj.cast())
    }
}

/// One of the shared enum objects, by its bits (NULL before module init).
fn shared<const N: usize>(objects: &[AtomicPtr<ffi::PyObject>; N], bits: u8) -> *mut ffi::PyObject {
    objects.get(usize::from(bits)).map_or(ptr::null_mut(), |m| m.load(Ordering::Acquire))
}

/// A `Packet` object for a datagram (its structure is checked).
pub(crate) fn packet_object<'py>(bytes: &Bound<'py, PyBytes>) -> PyResult<Bound<'py, PyAny>> {
    let py = bytes.py();
    // SAFETY: `bytes` is a live bytes object and these are its contents.
    let obj = unsafe { packet_ptr(py, bytes.as_ptr(), bytes.as_bytes())? };
    // SAFETY: a new reference, not NULL.
    Ok(unsafe { Bound::from_owned_ptr(py, obj) })
}

/// `Packet.parse` for anything but an exact bytes object: another buffer
/// is copied into a bytes object, through memoryview so only a buffer is
/// taken (bytes(48) would make 48 zeros, bytes("...") raise a confusing
/// error).
fn parse_other(data: &Bound<'_, PyAny>) -> PyResult<*mut ffi::PyObject> {
    let bytes = match data.cast::<PyBytes>() {
        Ok(b) => b.clone(),
        Err(_) => {
            let view = data.py().import("builtins")?.getattr("memoryview")?.call1((data,))?;
            view.call_method0("tobytes")?.cast_into::<PyBytes>()?
        }
    };
    // SAFETY: `bytes` is a live bytes object and these are its contents.
    unsafe { packet_ptr(data.py(), bytes.as_ptr(), bytes.as_bytes()) }
}

/// The C entry point of `Packet.parse`, a METH_O function: CPython calls
/// it with the argument itself, where a pyo3 method in an abi3 build for
/// Python 3.9 goes through METH_VARARGS (an argument tuple made and
/// parsed per call). The decode is the hot path of the package: a bytes
/// object is read in place, with no pyo3 wrapper made or dropped.
unsafe extern "C" fn parse_entry(_self: *mut ffi::PyObject, arg: *mut ffi::PyObject) -> *mut ffi::PyObject {
    capi::raw(ptr::null_mut(), || {
        // SAFETY: CPython calls a METH_O function on a thread attached to
        // the interpreter (holding the GIL), with `arg` a valid borrowed
        // reference; the token and `arg` do not outlive this call. Nothing
        // here drops a `Py<T>` (which, without pyo3's own attach count,
        // would defer the decref): the result leaves as a raw pointer.
        let py = unsafe { Python::assume_attached() };
        // SAFETY: as above; for an exact bytes object (checked) the
        // buffer is its contents, alive while `arg` is borrowed.
        let made = unsafe {
            if ffi::PyBytes_CheckExact(arg) != 0 {
                let start = ffi::PyBytes_AsString(arg).cast::<u8>().cast_const();
                let len = usize::try_from(ffi::PyBytes_Size(arg)).unwrap_or(0);
                packet_ptr(py, arg, std::slice::from_raw_parts(start, len))
            } else {
                parse_other(&Bound::from_borrowed_ptr(py, arg))
            }
        };
        made.unwrap_or_else(|err| {
            err.restore(py);
            ptr::null_mut()
        })
    })
}

unsafe extern "C" fn dealloc(obj: *mut ffi::PyObject) {
    // SAFETY: CPython calls tp_dealloc once, GIL held, on an object made
    // by `packet_ptr`: its three references and the type's are released,
    // the memory goes back to the allocator it came from.
    unsafe {
        let packet = obj.cast::<PacketObject>();
        // Never NULL for a packet made by packet_ptr (object.__new__, the
        // one other way to allocate one, refuses this type); X- anyway.
        ffi::Py_XDECREF((*packet).mode);
        ffi::Py_XDECREF((*packet).stratum);
        ffi::Py_XDECREF((*packet).data);
        let ty = ffi::Py_TYPE(obj);
        ffi::PyObject_Free(obj.cast());
        ffi::Py_DECREF(ty.cast());
    }
}

/// The keyword arguments of `Packet(...)`, in signature order.
const NEW_ARGUMENTS: [&str; 14] = [
    "leap",
    "version",
    "mode",
    "stratum",
    "poll",
    "precision",
    "root_delay",
    "root_dispersion",
    "reference_id",
    "reference_time",
    "origin_time",
    "receive_time",
    "transmit_time",
    "trailer",
];

/// `Packet(*, leap=None, ...)`: a packet from header fields (times as
/// NtpTimestamp, aware datetime, or Unix seconds), plus optional raw
/// `trailer` bytes (extension fields, MAC). Defaults: a version 4 client
/// request with zero times.
unsafe extern "C" fn tp_new(
    _subtype: *mut ffi::PyTypeObject,
    args: *mut ffi::PyObject,
    kwargs: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    capi::call_with_arguments("Packet", args, kwargs, NEW_ARGUMENTS, true, |py, arguments| {
        let [
            leap,
            version,
            mode,
            stratum,
            poll,
            precision,
            root_delay,
            root_dispersion,
            reference_id,
            reference_time,
            origin_time,
            receive_time,
            transmit_time,
            trailer,
        ] = arguments;
        // None is "not given" for the optional arguments.
        fn given(v: Option<Bound<'_, PyAny>>) -> Option<Bound<'_, PyAny>> {
            v.filter(|v| !v.is_none())
        }
        let version = version.map(|v| capi::extract::<u8>("version", &v)).transpose()?.unwrap_or(4);
        if version > 7 {
            return Err(PyValueError::new_err("version must be in 0..=7"));
        }
        let time = |v: Option<Bound<'_, PyAny>>| -> PyResult<ntp_wire::NtpTimestamp> {
            Ok(match given(v) {
                Some(v) => timestamp_from_any(&v)?.ts,
                None => ntp_wire::NtpTimestamp::ZERO,
            })
        };
        let float = |v: Option<Bound<'_, PyAny>>, name: &str| -> PyResult<f64> {
            v.map(|v| capi::extract::<f64>(name, &v)).transpose().map(|v| v.unwrap_or(0.0))
        };
        let repr = Repr {
            leap: given(leap).as_ref().map(leap_arg).transpose()?.unwrap_or_default(),
            version: Version::from_bits(version),
            mode: given(mode).as_ref().map(mode_arg).transpose()?.unwrap_or(Mode::Client),
            stratum: Stratum(stratum.map(|v| capi::extract::<u8>("stratum", &v)).transpose()?.unwrap_or(0)),
            poll: poll.map(|v| capi::extract::<i8>("poll", &v)).transpose()?.unwrap_or(0),
            precision: precision.map(|v| capi::extract::<i8>("precision", &v)).transpose()?.unwrap_or(0),
            root_delay: short_arg(float(root_delay, "root_delay")?, "root_delay")?,
            root_dispersion: short_arg(float(root_dispersion, "root_dispersion")?, "root_dispersion")?,
            reference_id: given(reference_id).as_ref().map(reference_id_arg).transpose()?.unwrap_or_default(),
            reference_time: time(reference_time)?,
            origin_time: time(origin_time)?,
            receive_time: time(receive_time)?,
            transmit_time: time(transmit_time)?,
        };
        let trailer = match given(trailer) {
            Some(t) => {
                t.cast_into::<PyBytes>().map_err(|_| PyTypeError::new_err("argument 'trailer': expected bytes"))?
            }
            None => PyBytes::new(py, b""),
        };
        let trailer = trailer.as_bytes();
        let mut buf = vec![0u8; repr.buffer_len() + trailer.len()];
        let len = repr.emit_into(&mut buf).map_err(parse_error)?;
        if let Some(tail) = buf.get_mut(len..) {
            tail.copy_from_slice(trailer);
        }
        // The trailer must have a shape a receiver can take apart: the
        // structure check of packet_ptr says why not.
        let bytes = PyBytes::new(py, &buf);
        // SAFETY: `bytes` is a live bytes object and these are its contents.
        unsafe { packet_ptr(py, bytes.as_ptr(), bytes.as_bytes()) }
    })
}

/// `to_bytes()` and `__bytes__()`: the packet's bytes (the very object
/// given to `parse`).
unsafe extern "C" fn to_bytes(slf: *mut ffi::PyObject, _unused: *mut ffi::PyObject) -> *mut ffi::PyObject {
    // SAFETY: CPython calls a method with an instance of its type; the
    // returned reference is a new one.
    unsafe {
        let data = PacketObject::from_ptr(slf).data;
        ffi::Py_INCREF(data);
        data
    }
}

unsafe extern "C" fn length(slf: *mut ffi::PyObject) -> ffi::Py_ssize_t {
    // SAFETY: CPython calls sq_length with an instance of this type; its
    // data is a bytes object.
    unsafe { ffi::PyBytes_Size(PacketObject::from_ptr(slf).data) }
}

/// Equal when the bytes are; anything but a Packet is unequal.
unsafe extern "C" fn richcompare(a: *mut ffi::PyObject, b: *mut ffi::PyObject, op: c_int) -> *mut ffi::PyObject {
    let ty = TYPE.load(Ordering::Acquire);
    capi::call(|py| {
        // SAFETY: `a` is of this type (CPython calls its slot); `b` is
        // read as a packet only when it is one.
        let same = unsafe {
            ffi::Py_TYPE(b) == ty && {
                let (a, b) = (PacketObject::from_ptr(a), PacketObject::from_ptr(b));
                a.data(py).as_bytes() == b.data(py).as_bytes()
            }
        };
        Ok(capi::eq_only(op, || same))
    })
}

unsafe extern "C" fn hash(slf: *mut ffi::PyObject) -> ffi::Py_hash_t {
    // SAFETY: CPython calls tp_hash with an instance of this type, GIL
    // held; hashing a bytes object cannot fail.
    unsafe { ffi::PyObject_Hash(PacketObject::from_ptr(slf).data) }
}

unsafe extern "C" fn repr(slf: *mut ffi::PyObject) -> *mut ffi::PyObject {
    // SAFETY: CPython calls tp_repr with an instance of this type.
    let packet = unsafe { PacketObject::from_ptr(slf) };
    capi::call(|py| {
        let v = packet.view();
        let text = format!(
            "Packet(mode={}, version={}, stratum={}, leap={}, transmit_time=0x{:016x}, len={})",
            v.mode(),
            v.version().to_bits(),
            v.stratum().0,
            v.leap().to_bits(),
            v.transmit_time().to_bits(),
            packet.data(py).as_bytes().len()
        );
        Ok(PyString::new(py, &text).into_ptr())
    })
}

/// The four timestamps, by getter closure tag: the hot path of a decode
/// reads one, so the getter makes the `NtpTimestamp` directly, no pyo3
/// entry guard.
const REFERENCE_TIME: usize = 0;
const ORIGIN_TIME: usize = 1;
const RECEIVE_TIME: usize = 2;
const TRANSMIT_TIME: usize = 3;

unsafe extern "C" fn get_time(slf: *mut ffi::PyObject, closure: *mut c_void) -> *mut ffi::PyObject {
    // SAFETY: CPython calls a getter with an instance of its type.
    let view = unsafe { PacketObject::from_ptr(slf) }.view();
    capi::raw(ptr::null_mut(), || {
        let ts = match closure as usize {
            REFERENCE_TIME => view.reference_time(),
            ORIGIN_TIME => view.origin_time(),
            RECEIVE_TIME => view.receive_time(),
            _ => view.transmit_time(),
        };
        PyTimestamp::wire(ts).new_object()
    })
}

/// The scalar header fields: read from the inline header, made with one
/// C call, no pyo3 entry guard (as cheap as a getter can be).
macro_rules! scalar_getters {
    ($($name:ident => $body:expr;)*) => {$(
        unsafe extern "C" fn $name(slf: *mut ffi::PyObject, _closure: *mut c_void) -> *mut ffi::PyObject {
            // SAFETY: CPython calls a getter with an instance of its type.
            let view = unsafe { PacketObject::from_ptr(slf) }.view();
            let body: fn(Packet<&[u8]>) -> *mut ffi::PyObject = $body;
            capi::raw(ptr::null_mut(), || body(view))
        }
    )*};
}

scalar_getters! {
    get_leap => |v| {
        let leap = shared(&LEAP_OBJECTS, v.leap().to_bits());
        if leap.is_null() {
            // SAFETY: GIL held (a getter); a static C string.
            unsafe { ffi::PyErr_SetString(ffi::PyExc_SystemError, c"ntp_py: Leap is not ready".as_ptr()) };
        } else {
            // SAFETY: GIL held; the object is kept alive by LEAP_OBJECTS
            // and the caller gets a new reference.
            unsafe { ffi::Py_INCREF(leap) };
        }
        leap
    };
    // SAFETY: GIL held (a getter); a new reference or NULL with an exception set.
    get_version => |v| unsafe { ffi::PyLong_FromLong(c_long::from(v.version().to_bits())) };
    // SAFETY: as for get_version.
    get_root_delay => |v| unsafe { ffi::PyFloat_FromDouble(v.root_delay().to_seconds_f64()) };
    // SAFETY: as for get_version.
    get_root_dispersion => |v| unsafe { ffi::PyFloat_FromDouble(v.root_dispersion().to_seconds_f64()) };
}

/// The other getters: through `capi::call`, with the packet and a token.
macro_rules! getters {
    ($($name:ident => $body:expr;)*) => {$(
        unsafe extern "C" fn $name(slf: *mut ffi::PyObject, _closure: *mut c_void) -> *mut ffi::PyObject {
            // SAFETY: CPython calls a getter with an instance of its type.
            let packet = unsafe { PacketObject::from_ptr(slf) };
            let body: for<'py> fn(&PacketObject, Python<'py>) -> PyResult<Bound<'py, PyAny>> = $body;
            capi::call(|py| body(packet, py).map(Bound::into_ptr))
        }
    )*};
}

getters! {
    get_reference_id => |p, py| {
        let view = p.view();
        reference_id_object(py, view.reference_id(), view.stratum())
    };
    get_reference_id_bytes => |p, py| Ok(PyBytes::new(py, &p.view().reference_id().0).into_any());
    get_kiss_code => |p, py| {
        let code = Repr::parse(&p.view()).ok().and_then(|r| r.kiss_code().map(|c| c.to_string()));
        Ok(code.into_pyobject(py)?.into_any())
    };
    get_extension_fields => |p, py| {
        let data = p.data(py);
        let fields: Vec<(u16, Bound<'_, PyBytes>)> = match Trailer::split(data.as_bytes()) {
            Ok(trailer) => trailer
                .extension_fields()
                .filter_map(Result::ok)
                .map(|field| (field.field_type, PyBytes::new(py, field.value)))
                .collect(),
            Err(_) => Vec::new(),
        };
        Ok(fields.into_pyobject(py)?.into_any())
    };
    get_key_id => |p, py| {
        let data = p.data(py);
        let key_id = match Trailer::split(data.as_bytes()).map(|t| t.authenticator()) {
            Ok(Authenticator::Mac(mac)) => Some(mac.key_id),
            _ => None,
        };
        Ok(key_id.into_pyobject(py)?.into_any())
    };
    get_mac => |p, py| {
        let data = p.data(py);
        let digest = match Trailer::split(data.as_bytes()).map(|t| t.authenticator()) {
            Ok(Authenticator::Mac(mac)) => Some(PyBytes::new(py, mac.digest)),
            _ => None,
        };
        Ok(digest.into_pyobject(py)?.into_any())
    };
    get_is_crypto_nak => |p, py| {
        let data = p.data(py);
        let nak = Trailer::split(data.as_bytes()).is_ok_and(|t| t.authenticator() == Authenticator::CryptoNak);
        Ok(nak.into_pyobject(py)?.to_owned().into_any())
    };
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<PyLeap>()?;
    m.add_class::<PyMode>()?;
    for (bits, slot) in (0u8..).zip(MODE_OBJECTS.iter()) {
        // Kept alive by MODES for the life of the process as well.
        slot.store(mode_object(py, Mode::from_bits(bits))?.into_ptr(), Ordering::Release);
    }
    for (bits, slot) in (0u8..).zip(LEAP_OBJECTS.iter()) {
        slot.store(leap_object(py, LeapIndicator::from_bits(bits))?.into_ptr(), Ordering::Release);
    }
    let noargs = |f: ffi::PyCFunction| ffi::PyMethodDefPointer { PyCFunction: f };
    let g = capi::getter;
    let def = TypeDef {
        slots: vec![capi::slot(ffi::Py_sq_length, length as *mut c_void)],
        methods: vec![
            capi::method(
                c"to_bytes",
                noargs(to_bytes),
                ffi::METH_NOARGS,
                c"to_bytes($self, /)\n--\n\nThe packet's bytes (the very object given to `parse`).",
            ),
            capi::method(c"__bytes__", noargs(to_bytes), ffi::METH_NOARGS, c"__bytes__($self, /)\n--\n\n"),
        ],
        getset: vec![
            g(c"leap", get_leap, c"Leap indicator.", 0),
            g(c"version", get_version, c"Version number (1-4 in use).", 0),
            g(c"root_delay", get_root_delay, c"Root delay, seconds.", 0),
            g(c"root_dispersion", get_root_dispersion, c"Root dispersion, seconds.", 0),
            g(
                c"reference_id",
                get_reference_id,
                c"Reference id, by stratum: `IPv4Address` (2-15), str (0-1: kiss\ncode or source name; `IPv4Address` if not text), else the raw 4 bytes.",
                0,
            ),
            g(c"reference_id_bytes", get_reference_id_bytes, c"Reference id as its 4 raw bytes.", 0),
            g(
                c"kiss_code",
                get_kiss_code,
                c"The kiss code (e.g. \"RATE\") if this is a kiss-o'-death: stratum 0\nin a mode that carries time. None otherwise.",
                0,
            ),
            g(c"reference_time", get_time, c"Reference timestamp: when the server's clock was last set.", REFERENCE_TIME),
            g(c"origin_time", get_time, c"Origin timestamp (T1): the request's transmit time, echoed.", ORIGIN_TIME),
            g(c"receive_time", get_time, c"Receive timestamp (T2): when the request arrived at the server.", RECEIVE_TIME),
            g(c"transmit_time", get_time, c"Transmit timestamp (T3): when the packet left its sender.", TRANSMIT_TIME),
            g(
                c"extension_fields",
                get_extension_fields,
                c"Extension fields (RFC 7822) as (type, value) pairs, values with any\npadding.",
                0,
            ),
            g(c"key_id", get_key_id, c"The MAC's key id, or None when the packet carries no MAC.", 0),
            g(c"mac", get_mac, c"The MAC's digest bytes, or None when the packet carries no MAC.", 0),
            g(c"is_crypto_nak", get_is_crypto_nak, c"Whether the packet ends in a crypto-NAK (a lone zero key id).", 0),
        ],
        members: vec![
            capi::member(c"mode", ffi::Py_T_OBJECT_EX, std::mem::offset_of!(PacketObject, mode), c"Association mode."),
            capi::member(
                c"stratum",
                ffi::Py_T_OBJECT_EX,
                std::mem::offset_of!(PacketObject, stratum),
                c"Stratum: 0 kiss-o'-death/unspecified, 1 primary, 2-15 secondary, 16 unsynchronized.",
            ),
            // Signed header bytes, read by CPython from the inline copy.
            capi::member(
                c"poll",
                ffi::Py_T_BYTE,
                std::mem::offset_of!(PacketObject, header) + 2,
                c"Poll interval, log2 seconds.",
            ),
            capi::member(
                c"precision",
                ffi::Py_T_BYTE,
                std::mem::offset_of!(PacketObject, header) + 3,
                c"Clock precision, log2 seconds.",
            ),
        ],
    };
    let ty = def.create::<PacketObject>(py)?;
    install_parse(&ty)?;
    TYPE.store(ty.clone().into_ptr().cast(), Ordering::Release);
    m.add("Packet", ty)
}

/// Puts `parse` in the class as a plain builtin function rather than a
/// staticmethod. Called as `Packet.parse(...)` it behaves the same, but a
/// builtin is not a descriptor, so CPython 3.11+ specializes the lookup
/// (LOAD_METHOD_CLASS) where a staticmethod goes through the generic
/// path on every call: about a third of the call's cost.
fn install_parse(ty: &Bound<'_, PyType>) -> PyResult<()> {
    // CPython keeps a pointer to the definition for the function's
    // lifetime; the module is initialized once per process, so one
    // leaked definition is all there ever is.
    let def: &'static mut ffi::PyMethodDef = Box::leak(Box::new(capi::method(
        c"parse",
        ffi::PyMethodDefPointer { PyCFunction: parse_entry },
        ffi::METH_O,
        c"parse(data, /)\n--\n\nReads a packet from bytes (or any buffer), checking its length and the\nstructure of what follows the header.",
    )));
    // SAFETY: `def` is valid for the rest of the process; a NULL self and
    // module make a plain builtin function. The new reference is owned by
    // the Bound.
    let function = unsafe {
        Bound::from_owned_ptr_or_err(ty.py(), ffi::PyCFunction_NewEx(def, ptr::null_mut(), ptr::null_mut()))?
    };
    ty.setattr("parse", function)
}
