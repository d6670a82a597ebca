//! `NtpTimestamp`: the 64-bit wire timestamp (RFC 5905 §6), with the era
//! resolved the way ntp-wire does it: a timestamp names the instant
//! closest to a pivot (the current time unless told otherwise), so
//! dates after 2036-02-07 come out right.

use std::time::SystemTime;

use ntp_wire::{NtpDate, NtpTimestamp};
use pyo3::exceptions::{PyOverflowError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDelta, PyFloat, PyInt};

/// An NTP timestamp: 32 bits of seconds and 32 bits of fraction, and the
/// era when it is known (from a Unix time or a datetime; a timestamp read
/// off the wire has none, and is placed within 68 years of a pivot).
/// Equality and hashing use the 64-bit wire value alone.
#[pyclass(frozen, module = "ntp_py._ntp_py", name = "NtpTimestamp")]
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
        self.date(pivot)?
            .to_unix()
            .ok_or_else(|| PyOverflowError::new_err("the date does not fit in 64-bit Unix seconds"))
    }
}

/// Unix seconds and nanoseconds from an int, a float, an aware datetime or
/// an `NtpTimestamp`.
pub(crate) fn unix_from_any(value: &Bound<'_, PyAny>) -> PyResult<(i64, u32)> {
    if let Ok(ts) = value.cast::<PyTimestamp>() {
        return ts.get().unix_parts(None);
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
    if let Ok(ts) = value.cast::<PyTimestamp>() {
        return Ok(*ts.get());
    }
    let (secs, nanos) = unix_from_any(value)?;
    let date = date_from_unix(secs, nanos)?;
    Ok(PyTimestamp { ts: date.timestamp(), era: Some(date.era()) })
}

#[pymethods]
impl PyTimestamp {
    /// From whole seconds since 1900 (within the era) and a 2^-32 s fraction.
    #[new]
    #[pyo3(signature = (seconds = 0, fraction = 0))]
    fn new(seconds: u32, fraction: u32) -> Self {
        PyTimestamp::wire(NtpTimestamp::from_parts(seconds, fraction))
    }

    /// From the 64-bit wire value.
    #[staticmethod]
    fn from_bits(bits: u64) -> Self {
        PyTimestamp::wire(NtpTimestamp::from_bits(bits))
    }

    /// From Unix seconds (int or float); the era is kept.
    #[staticmethod]
    fn from_unix(seconds: &Bound<'_, PyAny>) -> PyResult<Self> {
        if !(seconds.is_instance_of::<PyInt>() || seconds.is_instance_of::<PyFloat>()) {
            return Err(PyTypeError::new_err("Unix seconds must be an int or a float"));
        }
        timestamp_from_any(seconds)
    }

    /// From Unix nanoseconds, exactly; the era is kept.
    #[staticmethod]
    fn from_unix_ns(nanoseconds: i128) -> PyResult<Self> {
        let secs = i64::try_from(nanoseconds.div_euclid(1_000_000_000))
            .map_err(|_| PyOverflowError::new_err("the date is outside NTP's era range"))?;
        let nanos = nanoseconds.rem_euclid(1_000_000_000) as u32;
        let date = date_from_unix(secs, nanos)?;
        Ok(PyTimestamp { ts: date.timestamp(), era: Some(date.era()) })
    }

    /// From an aware datetime; the era is kept.
    #[staticmethod]
    fn from_datetime(value: &Bound<'_, PyAny>) -> PyResult<Self> {
        let datetime = value.py().import("datetime")?;
        if !value.is_instance(&datetime.getattr("datetime")?)? {
            return Err(PyTypeError::new_err("expected a datetime.datetime"));
        }
        timestamp_from_any(value)
    }

    /// The system clock's current time.
    #[staticmethod]
    fn now() -> Self {
        let date = PyTimestamp::now_date();
        PyTimestamp { ts: date.timestamp(), era: Some(date.era()) }
    }

    /// The 64-bit wire value.
    #[getter]
    fn bits(&self) -> u64 {
        self.ts.to_bits()
    }

    /// Seconds within the era (the high 32 bits).
    #[getter]
    fn seconds(&self) -> u32 {
        self.ts.seconds()
    }

    /// Fraction of a second in units of 2^-32 s (the low 32 bits).
    #[getter]
    fn fraction(&self) -> u32 {
        self.ts.fraction()
    }

    /// The era (0: 1900–2036, 1: 2036–2172), resolved against the current
    /// time when the timestamp came off the wire.
    #[getter]
    fn era(&self) -> PyResult<i32> {
        Ok(self.date(None)?.era())
    }

    /// Whether this is the all-zero timestamp, which means "unknown" on the wire.
    #[getter]
    fn is_zero(&self) -> bool {
        self.ts.is_zero()
    }

    /// Unix seconds as a float (era-correct; ~0.2 µs resolution today).
    #[getter]
    fn unix(&self) -> PyResult<f64> {
        let (secs, nanos) = self.unix_parts(None)?;
        Ok(secs as f64 + f64::from(nanos) / 1e9)
    }

    /// Unix nanoseconds as an int (exact to the nanosecond, rounded down).
    #[getter]
    fn unix_ns(&self) -> PyResult<i128> {
        let (secs, nanos) = self.unix_parts(None)?;
        Ok(i128::from(secs) * 1_000_000_000 + i128::from(nanos))
    }

    /// Unix seconds, with the era chosen closest to `pivot` (a datetime,
    /// Unix seconds or NtpTimestamp; default now) unless already known.
    #[pyo3(signature = (pivot = None))]
    // pyo3 methods borrow the Python object: `self` by value is not an option.
    #[allow(clippy::wrong_self_convention)]
    fn to_unix(&self, pivot: Option<&Bound<'_, PyAny>>) -> PyResult<f64> {
        let (secs, nanos) = self.unix_parts(pivot_from(pivot)?)?;
        Ok(secs as f64 + f64::from(nanos) / 1e9)
    }

    /// An aware UTC datetime (microseconds, rounded down), era-correct as
    /// in `to_unix`.
    #[pyo3(signature = (pivot = None))]
    // pyo3 methods borrow the Python object: `self` by value is not an option.
    #[allow(clippy::wrong_self_convention)]
    fn to_datetime<'py>(&self, py: Python<'py>, pivot: Option<&Bound<'py, PyAny>>) -> PyResult<Bound<'py, PyAny>> {
        let (secs, nanos) = self.unix_parts(pivot_from(pivot)?)?;
        let delta = PyDelta::new(
            py,
            i32::try_from(secs.div_euclid(86_400)).map_err(|_| PyOverflowError::new_err("date out of range"))?,
            secs.rem_euclid(86_400) as i32,
            (nanos / 1_000) as i32,
            false,
        )?;
        epoch(py)?.call_method1("__add__", (delta,))
    }

    /// `self - other` in seconds, modulo the era: right whenever the two are
    /// less than 68 years apart, across 2036 too (RFC 5905 §6).
    fn __sub__(&self, other: &Bound<'_, PyAny>) -> PyResult<f64> {
        let other = other.cast::<PyTimestamp>()?;
        Ok(self.ts.wrapping_sub(other.get().ts).to_seconds_f64())
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.cast::<PyTimestamp>().is_ok_and(|o| o.get().ts == self.ts)
    }

    fn __hash__(&self) -> u64 {
        self.ts.to_bits()
    }

    fn __repr__(&self) -> String {
        match self.date(None).ok().and_then(|d| d.to_utc()) {
            Some(utc) => format!("NtpTimestamp(0x{:016x}, {utc})", self.ts.to_bits()),
            None => format!("NtpTimestamp(0x{:016x})", self.ts.to_bits()),
        }
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyTimestamp>()
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
