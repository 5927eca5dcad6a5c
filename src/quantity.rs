//! Kubernetes quantities, parsed and compared exactly as the API server does.
//!
//! The API server (`k8s.io/apimachinery/pkg/api/resource`) keeps every quantity as a decimal
//! with at most nine fractional digits (non-zero values are rounded away from zero to the next
//! nano unit) and caps the magnitude at 2^63-1 whole units. Every such value is an integer
//! number of nano units below 10^28, so an `i128` of nano units holds it exactly: no floating
//! point, no big-decimal crate. The parser is hand-written because no maintained crate parses
//! the full grammar (decimal SI, binary SI and exponent suffixes) with the API server's
//! rounding and capping, and because it must never allocate or panic on hostile input
//! (10,000-digit mantissas, `1e999999`).

use core::fmt;

/// Nano units per whole unit.
const NANO: i128 = 1_000_000_000;
/// The API server's cap: 2^63-1 whole units, in nano units.
const MAX_NANOS: i128 = (i64::MAX as i128) * NANO;

/// An exact Kubernetes quantity.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub struct Quantity {
    nanos: i128,
}

/// Why a string is not a Kubernetes quantity.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum QuantityError {
    /// Nothing to read.
    Empty,
    /// No digits in the number.
    NoDigits,
    /// A suffix that is not a unit.
    BadSuffix,
    /// An exponent beyond what a quantity holds.
    ExponentOutOfRange,
}

impl fmt::Display for QuantityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            QuantityError::Empty => "it is empty",
            QuantityError::NoDigits => "it has no digits",
            QuantityError::BadSuffix => {
                "its suffix is not one of n u m k M G T P E Ki Mi Gi Ti Pi Ei or an exponent"
            }
            QuantityError::ExponentOutOfRange => "its exponent is out of range",
        })
    }
}

impl Quantity {
    /// Zero.
    pub const ZERO: Quantity = Quantity { nanos: 0 };
    /// One.
    pub const ONE: Quantity = Quantity { nanos: NANO };

    /// A quantity of `nanos` nano units (capped as the API server caps).
    pub fn from_nanos(nanos: i128) -> Quantity {
        Quantity {
            nanos: nanos.clamp(-MAX_NANOS, MAX_NANOS),
        }
    }

    /// The value in nano units.
    pub fn nanos(self) -> i128 {
        self.nanos
    }

    /// Whether it is zero.
    pub fn is_zero(self) -> bool {
        self.nanos == 0
    }

    /// Whether it is below zero.
    pub fn is_negative(self) -> bool {
        self.nanos < 0
    }

    /// Parses a quantity string (`500m`, `1.5Gi`, `1e3`, `+2`, `-1`) as the API server does.
    pub fn parse(s: &str) -> Result<Quantity, QuantityError> {
        let b = s.as_bytes();
        if b.is_empty() {
            return Err(QuantityError::Empty);
        }
        let mut pos = 0;
        let negative = match b[0] {
            b'-' => {
                pos = 1;
                true
            }
            b'+' => {
                pos = 1;
                false
            }
            _ => false,
        };
        let int_start = pos;
        while pos < b.len() && b[pos].is_ascii_digit() {
            pos += 1;
        }
        let int = &b[int_start..pos];
        let mut frac: &[u8] = &[];
        if pos < b.len() && b[pos] == b'.' {
            pos += 1;
            let frac_start = pos;
            while pos < b.len() && b[pos].is_ascii_digit() {
                pos += 1;
            }
            frac = &b[frac_start..pos];
        }
        if int.is_empty() && frac.is_empty() {
            return Err(QuantityError::NoDigits);
        }
        let (exp10, exp2) = parse_suffix(&b[pos..])?;
        let magnitude = scale_to_nanos(int, frac, exp10, exp2);
        Ok(Quantity {
            nanos: if negative { -magnitude } else { magnitude },
        })
    }

    /// `self <= factor * other`, exactly (all three non-negative; an overflow of the product
    /// means it is far above anything `self` can be).
    pub fn at_most_times(self, factor: Quantity, other: Quantity) -> bool {
        let lhs = (self.nanos.max(0) as u128) * (NANO as u128);
        match (factor.nanos.max(0) as u128).checked_mul(other.nanos.max(0) as u128) {
            Some(rhs) => lhs <= rhs,
            None => true,
        }
    }
}

/// The suffix: (power of ten, power of two).
fn parse_suffix(s: &[u8]) -> Result<(i64, u32), QuantityError> {
    Ok(match s {
        b"" => (0, 0),
        b"n" => (-9, 0),
        b"u" => (-6, 0),
        b"m" => (-3, 0),
        b"k" => (3, 0),
        b"M" => (6, 0),
        b"G" => (9, 0),
        b"T" => (12, 0),
        b"P" => (15, 0),
        b"E" => (18, 0),
        b"Ki" => (0, 10),
        b"Mi" => (0, 20),
        b"Gi" => (0, 30),
        b"Ti" => (0, 40),
        b"Pi" => (0, 50),
        b"Ei" => (0, 60),
        [b'e' | b'E', rest @ ..] => (parse_exponent(rest)?, 0),
        _ => return Err(QuantityError::BadSuffix),
    })
}

/// An exponent as the API server reads it: an optional sign and digits, within int32.
fn parse_exponent(s: &[u8]) -> Result<i64, QuantityError> {
    let (negative, digits) = match s {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(QuantityError::BadSuffix);
    }
    let mut value: i64 = 0;
    for &d in digits {
        value = value * 10 + i64::from(d - b'0');
        if value > i64::from(i32::MAX) + 1 {
            return Err(QuantityError::ExponentOutOfRange);
        }
    }
    let value = if negative { -value } else { value };
    if value > i64::from(i32::MAX) || value < i64::from(i32::MIN) {
        return Err(QuantityError::ExponentOutOfRange);
    }
    Ok(value)
}

/// |int.frac| * 10^exp10 * 2^exp2 in nano units, rounded up to a whole nano unit and capped.
fn scale_to_nanos(int: &[u8], frac: &[u8], exp10: i64, exp2: u32) -> i128 {
    // The digits int ++ frac, read as one string whose decimal point sits at `point`.
    let len = int.len() + frac.len();
    let digit = |i: usize| -> u8 {
        if i < int.len() {
            int[i] - b'0'
        } else {
            frac[i - int.len()] - b'0'
        }
    };
    let Some(first) = (0..len).find(|&i| digit(i) != 0) else {
        return 0;
    };
    // Moving the point right by exp10 + 9 turns units into nano units.
    let point = int.len() as i64 + exp10 + 9;
    // The most significant digit stands for 10^lead.
    let lead = point - first as i64 - 1;
    if lead >= 29 {
        return MAX_NANOS;
    }
    if lead + 19 < 0 {
        // Below 10^-19 * 2^60 < 1 nano unit: rounds up to one.
        return 1;
    }
    // Whole part: the digits before the point (at most 30 significant ones, as lead < 29).
    let mut whole: u128 = 0;
    let whole_end = point.clamp(0, len as i64) as usize;
    for i in first.min(whole_end)..whole_end {
        whole = whole * 10 + u128::from(digit(i));
    }
    if point > len as i64 {
        for _ in 0..(point - len as i64) {
            whole *= 10;
        }
    }
    let Some(mut nanos) = whole.checked_mul(1u128 << exp2) else {
        return MAX_NANOS;
    };
    // Fraction: the digits after the point, times 2^exp2, by long multiplication from the
    // last digit; the carry out of the top is its whole part, any digit left means round up.
    let frac_start = point.max(0) as usize;
    if frac_start < len {
        let multiplier = 1u128 << exp2;
        let mut carry: u128 = 0;
        let mut rest = false;
        for i in (frac_start..len).rev() {
            let x = u128::from(digit(i)) * multiplier + carry;
            rest |= x % 10 != 0;
            carry = x / 10;
        }
        // Leading zeros between the point and the first digit (point < 0) shift the product
        // further right: each divides the carry by ten.
        for _ in point..0 {
            rest |= carry % 10 != 0;
            carry /= 10;
        }
        nanos = nanos.saturating_add(carry);
        if rest {
            nanos = nanos.saturating_add(1);
        }
    }
    (nanos.min(MAX_NANOS as u128)) as i128
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Quantity {
        match Quantity::parse(s) {
            Ok(q) => q,
            Err(e) => panic!("{s:?}: {e}"),
        }
    }

    #[test]
    fn equal_forms_compare_equal() {
        assert_eq!(q("0.5"), q("500m"));
        assert_eq!(q("1Gi"), q("1024Mi"));
        assert_eq!(q("1Gi"), q("1073741824"));
        assert_eq!(q("1e3"), q("1k"));
        assert_eq!(q("1E3"), q("1k"));
        assert_eq!(q("1e+3"), q("1000"));
        assert_eq!(q("1e-3"), q("1m"));
        assert_eq!(q("+2"), q("2"));
        assert_eq!(q("1."), q("1"));
        assert_eq!(q(".5"), q("500m"));
        assert_eq!(q("1.5Gi"), q("1536Mi"));
        assert_eq!(q("0.5Ki"), q("512"));
        assert_eq!(q("100u"), q("100000n"));
        assert_eq!(q("1E"), q("1000P"));
        assert_eq!(q("0"), Quantity::ZERO);
        assert_eq!(q("-0"), Quantity::ZERO);
        assert_eq!(q("000"), Quantity::ZERO);
    }

    #[test]
    fn ordering_is_exact() {
        assert!(q("1000000001n") > q("1"));
        assert!(q("999999999n") < q("1"));
        assert!(q("2Gi") > q("2G"));
        assert!(q("-1") < q("0"));
        assert!(q("1001m") > q("1"));
    }

    #[test]
    fn rounds_up_to_nano_like_the_api_server() {
        assert_eq!(q("0.1n").nanos(), 1);
        assert_eq!(q("1.5n").nanos(), 2);
        assert_eq!(q("-1.5n").nanos(), -2);
        assert_eq!(q("1e-30").nanos(), 1);
        assert_eq!(
            q(&format!("0.{}1", "0".repeat(10_000))).nanos(),
            1,
            "10,000 digits"
        );
        assert_eq!(q("0.0000000001Ki").nanos(), 103);
        assert_eq!(q("0.0000000009765625Ki").nanos(), 1000);
        assert_eq!(q("0.001Ki").nanos(), 1_024_000_000);
    }

    #[test]
    fn caps_like_the_api_server() {
        let max = q("9223372036854775807");
        assert_eq!(q("1e999999"), max);
        assert_eq!(q(&"9".repeat(10_000)), max);
        assert_eq!(q("100Ei"), max);
        assert_eq!(q("-1e999999"), Quantity::from_nanos(-MAX_NANOS));
        assert!(q("9223372036854775806") < max);
        assert_eq!(q("1e-999999").nanos(), 1);
    }

    #[test]
    fn rejects_what_the_api_server_rejects() {
        for bad in [
            "",
            "1Gb",
            "1 Gi",
            "Gi",
            "1.2.3",
            " 1",
            "1 ",
            "1K",
            "1ki",
            "1mi",
            ".",
            "-",
            "+",
            "1e",
            "1e+",
            "1e3.5",
            "1ee3",
            "0x10",
            "1_000",
            "1e99999999999",
            "∞",
            "1.5.Gi",
            "--1",
            "1Gi ",
        ] {
            assert!(Quantity::parse(bad).is_err(), "{bad:?} must be rejected");
        }
        assert_eq!(Quantity::parse(""), Err(QuantityError::Empty));
        assert_eq!(Quantity::parse("Gi"), Err(QuantityError::NoDigits));
        assert_eq!(Quantity::parse("1Gb"), Err(QuantityError::BadSuffix));
        assert_eq!(
            Quantity::parse("1e3000000000"),
            Err(QuantityError::ExponentOutOfRange)
        );
    }

    #[test]
    fn ratio_is_exact() {
        assert!(q("4").at_most_times(q("4"), q("1")));
        assert!(!q("4001m").at_most_times(q("4"), q("1")));
        assert!(q("3").at_most_times(q("1.5"), q("2")));
        assert!(!q("1").at_most_times(q("4"), q("0")));
        assert!(q("1e999").at_most_times(q("1e999"), q("1e999")));
    }
}
