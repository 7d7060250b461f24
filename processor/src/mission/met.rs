//! IMAP mission elapsed time (MET) to TT2000.
//!
//! How the mission does it (imap_processing, `imap_processing/spice/time.py`):
//! `met_to_ttj2000ns(met) = int64(unitim(sct2e(-43, met / 20e-6), "ET", "TT") * 1e9)`,
//! i.e. MET seconds become 20 µs SCLK ticks, SPICE's SCLK kernel maps ticks to
//! TDT (= TT), and the result is TT nanoseconds since J2000 — exactly TT2000.
//!
//! The IMAP SCLK kernel is SPICE type 1 with TDT as its parallel time system:
//! `TT(ticks) = TT_i + rate_i * (ticks - ticks_i) / 50000` for the last
//! coefficient triple `(ticks_i, TT_i, rate_i)` with `ticks_i <= ticks`.
//! The nominal kernel (`imap_sclk_0000.tsc`) has one triple:
//! `(0, @01-JAN-2010-00:01:06.184 TDT, 1.0)`, i.e. MET 0 = 2010-01-01T00:00:00
//! UTC (34 leap seconds + 32.184 s). With it the conversion is closed-form:
//! `tt2000 = IMAP_MET_EPOCH_TT2000 + met * 1e9`, which [`met_to_tt2000`]
//! implements. Flight kernels add triples with measured clock drift (a few
//! seconds by late 2025); load one with [`SclkKernel::parse`] to apply it.
//!
//! Differences from the Python path: SPICE converts TDT -> TDB -> TT in
//! floating point and the result is truncated, so the mission's values carry
//! ~100 ns of floating-point noise; this module computes in integer
//! nanoseconds and rounds to the nearest nanosecond.

use nasa_cdf::tt2000::days_from_civil;

/// An SCLK kernel this module cannot use, and why.
#[derive(Debug, thiserror::Error)]
#[error("invalid sclk kernel: {0}")]
pub struct InvalidSclk(String);

type Result<T> = std::result::Result<T, InvalidSclk>;

/// TT2000 of MET 0: 2010-01-01T00:00:00 UTC = 2010-01-01T00:01:06.184 TT.
pub const IMAP_MET_EPOCH_TT2000: i64 = 315_576_066_184_000_000;
/// SCLK ticks per most significant clock count (second): 20 µs ticks.
pub const IMAP_TICKS_PER_SECOND: f64 = 50_000.0;

/// MET seconds to TT2000 with the nominal IMAP clock (rate 1, epoch 2010-01-01).
pub fn met_to_tt2000(met_seconds: f64) -> i64 {
    IMAP_MET_EPOCH_TT2000 + seconds_to_nanos(met_seconds)
}

/// Inverse of [`met_to_tt2000`].
pub fn tt2000_to_met(tt2000: i64) -> f64 {
    let since_epoch = tt2000 - IMAP_MET_EPOCH_TT2000;
    (since_epoch / 1_000_000_000) as f64 + (since_epoch % 1_000_000_000) as f64 / 1e9
}

/// Splits whole and fractional seconds so large METs keep nanosecond precision.
fn seconds_to_nanos(seconds: f64) -> i64 {
    let whole = seconds.trunc();
    whole as i64 * 1_000_000_000 + ((seconds - whole) * 1e9).round() as i64
}

/// One SCLK coefficient triple.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SclkCoefficient {
    /// Encoded SCLK (20 µs ticks since clock start) where the triple applies.
    pub ticks: f64,
    /// The TT instant of `ticks`, as TT2000.
    pub tt2000: i64,
    /// TT seconds per clock second from `ticks` on.
    pub rate: f64,
}

/// The clock correlation of an IMAP SCLK kernel (`imap_sclk_NNNN.tsc`).
#[derive(Debug, Clone, PartialEq)]
pub struct SclkKernel {
    pub coefficients: Vec<SclkCoefficient>,
}

impl SclkKernel {
    /// The nominal kernel: MET 0 = 2010-01-01T00:01:06.184 TT, rate 1.
    pub fn nominal() -> Self {
        SclkKernel { coefficients: vec![SclkCoefficient { ticks: 0.0, tt2000: IMAP_MET_EPOCH_TT2000, rate: 1.0 }] }
    }

    /// Reads `SCLK01_COEFFICIENTS_<id> = ( ticks @DD-MON-YYYY-HH:MM:SS.ffffff rate ... )`
    /// from the text of a SPICE SCLK kernel. Times are TDT calendar times.
    pub fn parse(kernel_text: &str) -> Result<Self> {
        let start = kernel_text
            .find("SCLK01_COEFFICIENTS_")
            .ok_or_else(|| InvalidSclk("no SCLK01_COEFFICIENTS assignment".to_string()))?;
        let rest = &kernel_text[start..];
        let (open, close) = match (rest.find('('), rest.find(')')) {
            (Some(open), Some(close)) if open < close => (open, close),
            _ => {
                return Err(InvalidSclk("coefficients are not enclosed in parentheses".to_string()));
            }
        };
        let tokens: Vec<&str> = rest[open + 1..close].split_whitespace().collect();
        if tokens.is_empty() || !tokens.len().is_multiple_of(3) {
            return Err(InvalidSclk(format!("{} coefficient values are not whole triples", tokens.len())));
        }
        let coefficients = tokens
            .chunks(3)
            .map(|triple| {
                Ok(SclkCoefficient {
                    ticks: parse_number(triple[0])?,
                    tt2000: parse_tdt(triple[1])?,
                    rate: parse_number(triple[2])?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        if coefficients.windows(2).any(|pair| pair[1].ticks <= pair[0].ticks) {
            return Err(InvalidSclk("coefficient ticks are not increasing".to_string()));
        }
        Ok(SclkKernel { coefficients })
    }

    /// MET seconds to TT2000 through this kernel's piecewise-linear correlation.
    pub fn met_to_tt2000(&self, met_seconds: f64) -> i64 {
        let ticks = met_seconds * IMAP_TICKS_PER_SECOND;
        let index = self.coefficients.iter().rposition(|c| c.ticks <= ticks).unwrap_or(0);
        let coefficient = self.coefficients[index];
        let elapsed_seconds = met_seconds - coefficient.ticks / IMAP_TICKS_PER_SECOND;
        coefficient.tt2000 + (coefficient.rate * elapsed_seconds * 1e9).round() as i64
    }
}

/// Kernel numbers may use Fortran exponents (`1.0D+00`).
fn parse_number(token: &str) -> Result<f64> {
    token.replace(['D', 'd'], "E").parse().map_err(|_| InvalidSclk(format!("not a number: {token}")))
}

/// `@01-JAN-2010-00:01:06.184000` (or `@2010-01-01T00:01:06.184`) read as a
/// TDT calendar time, which is TT2000 without any leap-second correction.
fn parse_tdt(token: &str) -> Result<i64> {
    let invalid = || InvalidSclk(format!("unsupported epoch {token}"));
    let text = token.strip_prefix('@').ok_or_else(invalid)?;
    let (date, time) = text.split_at(text.rfind(['-', 'T']).ok_or_else(invalid)?);
    let time = &time[1..];
    let date_parts: Vec<&str> = date.split('-').collect();
    let (year, month, day) = match date_parts.as_slice() {
        [day, month_name, year] if month_name.chars().all(|c| c.is_ascii_alphabetic()) => {
            (year.parse().ok(), month_number(month_name), day.parse().ok())
        }
        [year, month, day] => (year.parse().ok(), month.parse().ok(), day.parse().ok()),
        _ => return Err(invalid()),
    };
    let (Some(year), Some(month), Some(day)) = (year, month, day) else {
        return Err(invalid());
    };
    let time_parts: Vec<&str> = time.split(':').collect();
    let [hour, minute, second] = time_parts.as_slice() else {
        return Err(invalid());
    };
    let hour: i64 = hour.parse().map_err(|_| invalid())?;
    let minute: i64 = minute.parse().map_err(|_| invalid())?;
    let (whole_seconds, fraction) = second.split_once('.').unwrap_or((second, ""));
    let whole_seconds: i64 = whole_seconds.parse().map_err(|_| invalid())?;
    let fraction_nanos: i64 = format!("{fraction:0<9}")[..9].parse().map_err(|_| invalid())?;
    let days = days_from_civil(year, month, day) - days_from_civil(2000, 1, 1);
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + whole_seconds - 43_200;
    Ok(seconds * 1_000_000_000 + fraction_nanos)
}

fn month_number(name: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
    MONTHS.iter().position(|month| month.eq_ignore_ascii_case(name)).map(|index| index as u32 + 1)
}
