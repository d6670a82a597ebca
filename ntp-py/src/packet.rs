//! `Packet`: the Python view of an NTP packet. It keeps the bytes object
//! it was given and reads each field from it when asked, through
//! `ntp_wire::Packet`, so a decode costs one structure check.

use ntp_wire::{
    Authenticator, LeapIndicator, Mode, NtpShort, Packet, ReferenceId, ReferenceIdMeaning, Repr, Stratum, Trailer,
    Version,
};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyInt, PyString};

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

/// An NTP packet: the 48-byte header and any extension fields, MAC or
/// crypto-NAK after it. Build one with keyword arguments, or read one with
/// `Packet.parse`.
#[pyclass(frozen, module = "ntp_py._ntp_py", name = "Packet")]
pub(crate) struct PyPacket {
    data: Py<PyBytes>,
}

impl PyPacket {
    /// Wraps bytes that have passed `Packet::new_checked`.
    pub(crate) fn from_checked(data: Py<PyBytes>) -> Self {
        PyPacket { data }
    }

    fn view<'a>(&'a self, py: Python<'a>) -> Packet<&'a [u8]> {
        // Checked at construction; a short buffer could only read zeros.
        Packet::new_unchecked(self.data.as_bytes(py))
    }

    fn trailer<'a>(&'a self, py: Python<'a>) -> Option<Trailer<'a>> {
        Trailer::split(self.data.as_bytes(py)).ok()
    }
}

impl PyPacket {
    /// `Packet.parse`: reads a packet from bytes (or any buffer), checking
    /// its length and the structure of what follows the header; a bytes
    /// object is kept as it is, another buffer is copied into one.
    fn parse(data: &Bound<'_, PyAny>) -> PyResult<Py<PyPacket>> {
        let bytes = match data.cast::<PyBytes>() {
            Ok(b) => b.clone(),
            Err(_) => {
                // Through memoryview, so only a buffer is taken (bytes(48)
                // would make 48 zeros, bytes("...") raise a confusing error).
                let view = data.py().import("builtins")?.getattr("memoryview")?.call1((data,))?;
                view.call_method0("tobytes")?.cast_into::<PyBytes>()?
            }
        };
        Packet::new_checked(bytes.as_bytes()).map_err(parse_error)?;
        Py::new(data.py(), PyPacket::from_checked(bytes.unbind()))
    }
}

/// The C entry point of `Packet.parse`, a METH_O function: CPython calls
/// it with the argument itself, where a pyo3 method in an abi3 build for
/// Python 3.9 goes through METH_VARARGS (an argument tuple made and
/// parsed per call). The decode is the hot path of the package, and this
/// saves about a fifth of its cost.
unsafe extern "C" fn parse_entry(_module: *mut ffi::PyObject, arg: *mut ffi::PyObject) -> *mut ffi::PyObject {
    let outcome = std::panic::catch_unwind(|| {
        // SAFETY: CPython calls a METH_O function on a thread attached to
        // the interpreter (holding the GIL), with `arg` a valid borrowed
        // reference; the token and `arg` do not outlive this call. Nothing
        // here drops a `Py<T>` (which, without pyo3's own attach count,
        // would defer the decref): the result leaves as a raw pointer.
        let py = unsafe { Python::assume_attached() };
        // SAFETY: see above; `arg` is a valid, borrowed object pointer.
        let arg = unsafe { Bound::from_borrowed_ptr(py, arg) };
        match PyPacket::parse(&arg) {
            Ok(packet) => packet.into_ptr(),
            Err(err) => {
                err.restore(py);
                std::ptr::null_mut()
            }
        }
    });
    outcome.unwrap_or_else(|_| {
        // SAFETY: attached (see above); a static C string message.
        unsafe { ffi::PyErr_SetString(ffi::PyExc_SystemError, c"ntp_py: Packet.parse panicked".as_ptr()) };
        std::ptr::null_mut()
    })
}

/// Installs `Packet.parse` as a staticmethod around `parse_entry`.
fn install_parse(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    // CPython keeps a pointer to the definition for the function's
    // lifetime; the module is initialized once per process, so one
    // leaked definition is all there ever is.
    let def: &'static mut ffi::PyMethodDef = Box::leak(Box::new(ffi::PyMethodDef {
        ml_name: c"parse".as_ptr(),
        ml_meth: ffi::PyMethodDefPointer { PyCFunction: parse_entry },
        ml_flags: ffi::METH_O,
        ml_doc: c"parse(data, /)\n--\n\nReads a packet from bytes (or any buffer), checking its length and the\nstructure of what follows the header. Fields are decoded only when read."
            .as_ptr(),
    }));
    // SAFETY: `def` is valid for the rest of the process; a NULL self and
    // module make a plain builtin function. The new reference is owned by
    // the Bound.
    let function = unsafe {
        Bound::from_owned_ptr_or_err(py, ffi::PyCFunction_NewEx(def, std::ptr::null_mut(), std::ptr::null_mut()))?
    };
    let staticmethod = py.import("builtins")?.getattr("staticmethod")?.call1((function,))?;
    py.get_type::<PyPacket>().setattr("parse", staticmethod)
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

#[pymethods]
impl PyPacket {
    /// A packet from header fields (times as NtpTimestamp, aware datetime,
    /// or Unix seconds), plus optional raw `trailer` bytes (extension
    /// fields, MAC). Defaults: a version 4 client request with zero times.
    #[new]
    #[pyo3(signature = (
        *, leap = None, version = 4, mode = None, stratum = 0, poll = 0, precision = 0,
        root_delay = 0.0, root_dispersion = 0.0, reference_id = None, reference_time = None,
        origin_time = None, receive_time = None, transmit_time = None, trailer = None,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        leap: Option<&Bound<'_, PyAny>>,
        version: u8,
        mode: Option<&Bound<'_, PyAny>>,
        stratum: u8,
        poll: i8,
        precision: i8,
        root_delay: f64,
        root_dispersion: f64,
        reference_id: Option<&Bound<'_, PyAny>>,
        reference_time: Option<&Bound<'_, PyAny>>,
        origin_time: Option<&Bound<'_, PyAny>>,
        receive_time: Option<&Bound<'_, PyAny>>,
        transmit_time: Option<&Bound<'_, PyAny>>,
        trailer: Option<&[u8]>,
    ) -> PyResult<Self> {
        if version > 7 {
            return Err(PyValueError::new_err("version must be in 0..=7"));
        }
        let time = |v: Option<&Bound<'_, PyAny>>| -> PyResult<ntp_wire::NtpTimestamp> {
            Ok(match v {
                Some(v) if !v.is_none() => timestamp_from_any(v)?.ts,
                _ => ntp_wire::NtpTimestamp::ZERO,
            })
        };
        let repr = Repr {
            leap: leap.map(leap_arg).transpose()?.unwrap_or_default(),
            version: Version::from_bits(version),
            mode: mode.map(mode_arg).transpose()?.unwrap_or(Mode::Client),
            stratum: Stratum(stratum),
            poll,
            precision,
            root_delay: short_arg(root_delay, "root_delay")?,
            root_dispersion: short_arg(root_dispersion, "root_dispersion")?,
            reference_id: reference_id.map(reference_id_arg).transpose()?.unwrap_or_default(),
            reference_time: time(reference_time)?,
            origin_time: time(origin_time)?,
            receive_time: time(receive_time)?,
            transmit_time: time(transmit_time)?,
        };
        let trailer = trailer.unwrap_or(&[]);
        let mut buf = vec![0u8; repr.buffer_len() + trailer.len()];
        let len = repr.emit_into(&mut buf).map_err(parse_error)?;
        if let Some(tail) = buf.get_mut(len..) {
            tail.copy_from_slice(trailer);
        }
        // The trailer must have a shape a receiver can take apart.
        Packet::new_checked(&buf[..]).map_err(parse_error)?;
        Ok(PyPacket::from_checked(PyBytes::new(py, &buf).unbind()))
    }

    /// The packet's bytes (the very object given to `parse`).
    fn to_bytes(&self, py: Python<'_>) -> Py<PyBytes> {
        self.data.clone_ref(py)
    }

    fn __bytes__(&self, py: Python<'_>) -> Py<PyBytes> {
        self.data.clone_ref(py)
    }

    fn __len__(&self, py: Python<'_>) -> usize {
        self.data.as_bytes(py).len()
    }

    fn __eq__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> bool {
        other.cast::<PyPacket>().is_ok_and(|o| o.get().data.as_bytes(py) == self.data.as_bytes(py))
    }

    fn __hash__(&self, py: Python<'_>) -> PyResult<isize> {
        self.data.bind(py).hash()
    }

    /// Leap indicator.
    #[getter]
    fn leap(&self, py: Python<'_>) -> PyResult<Py<PyLeap>> {
        leap_object(py, self.view(py).leap())
    }

    /// Version number (1–4 in use).
    #[getter]
    fn version(&self, py: Python<'_>) -> u8 {
        self.view(py).version().to_bits()
    }

    /// Association mode.
    #[getter]
    fn mode(&self, py: Python<'_>) -> PyResult<Py<PyMode>> {
        mode_object(py, self.view(py).mode())
    }

    /// Stratum: 0 kiss-o'-death/unspecified, 1 primary, 2–15 secondary, 16 unsynchronized.
    #[getter]
    fn stratum(&self, py: Python<'_>) -> u8 {
        self.view(py).stratum().0
    }

    /// Poll interval, log2 seconds.
    #[getter]
    fn poll(&self, py: Python<'_>) -> i8 {
        self.view(py).poll()
    }

    /// Clock precision, log2 seconds.
    #[getter]
    fn precision(&self, py: Python<'_>) -> i8 {
        self.view(py).precision()
    }

    /// Root delay, seconds.
    #[getter]
    fn root_delay(&self, py: Python<'_>) -> f64 {
        self.view(py).root_delay().to_seconds_f64()
    }

    /// Root dispersion, seconds.
    #[getter]
    fn root_dispersion(&self, py: Python<'_>) -> f64 {
        self.view(py).root_dispersion().to_seconds_f64()
    }

    /// Reference id, by stratum: `IPv4Address` (2–15), str (0–1: kiss
    /// code or source name; `IPv4Address` if not text), else the raw 4 bytes.
    #[getter]
    fn reference_id<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let view = self.view(py);
        reference_id_object(py, view.reference_id(), view.stratum())
    }

    /// Reference id as its 4 raw bytes.
    #[getter]
    fn reference_id_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.view(py).reference_id().0)
    }

    /// The kiss code (e.g. "RATE") if this is a kiss-o'-death: stratum 0
    /// in a mode that carries time. None otherwise.
    #[getter]
    fn kiss_code(&self, py: Python<'_>) -> Option<String> {
        let view = self.view(py);
        Repr::parse(&view).ok()?.kiss_code().map(|code| code.to_string())
    }

    /// Reference timestamp: when the server's clock was last set.
    #[getter]
    fn reference_time(&self, py: Python<'_>) -> PyTimestamp {
        PyTimestamp::wire(self.view(py).reference_time())
    }

    /// Origin timestamp (T1): the request's transmit time, echoed.
    #[getter]
    fn origin_time(&self, py: Python<'_>) -> PyTimestamp {
        PyTimestamp::wire(self.view(py).origin_time())
    }

    /// Receive timestamp (T2): when the request arrived at the server.
    #[getter]
    fn receive_time(&self, py: Python<'_>) -> PyTimestamp {
        PyTimestamp::wire(self.view(py).receive_time())
    }

    /// Transmit timestamp (T3): when the packet left its sender.
    #[getter]
    fn transmit_time(&self, py: Python<'_>) -> PyTimestamp {
        PyTimestamp::wire(self.view(py).transmit_time())
    }

    /// Extension fields (RFC 7822) as (type, value) pairs, values with any
    /// padding.
    #[getter]
    fn extension_fields<'py>(&self, py: Python<'py>) -> Vec<(u16, Bound<'py, PyBytes>)> {
        let Some(trailer) = self.trailer(py) else { return Vec::new() };
        trailer
            .extension_fields()
            .filter_map(Result::ok)
            .map(|field| (field.field_type, PyBytes::new(py, field.value)))
            .collect()
    }

    /// The MAC's key id, or None when the packet carries no MAC.
    #[getter]
    fn key_id(&self, py: Python<'_>) -> Option<u32> {
        match self.trailer(py)?.authenticator() {
            Authenticator::Mac(mac) => Some(mac.key_id),
            _ => None,
        }
    }

    /// The MAC's digest bytes, or None when the packet carries no MAC.
    #[getter]
    fn mac<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyBytes>> {
        match self.trailer(py)?.authenticator() {
            Authenticator::Mac(mac) => Some(PyBytes::new(py, mac.digest)),
            _ => None,
        }
    }

    /// Whether the packet ends in a crypto-NAK (a lone zero key id).
    #[getter]
    fn is_crypto_nak(&self, py: Python<'_>) -> bool {
        self.trailer(py).is_some_and(|t| t.authenticator() == Authenticator::CryptoNak)
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        let v = self.view(py);
        format!(
            "Packet(mode={}, version={}, stratum={}, leap={}, transmit_time=0x{:016x}, len={})",
            v.mode(),
            v.version().to_bits(),
            v.stratum().0,
            v.leap().to_bits(),
            v.transmit_time().to_bits(),
            v.as_bytes().len()
        )
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyLeap>()?;
    m.add_class::<PyMode>()?;
    m.add_class::<PyPacket>()?;
    install_parse(m)
}
