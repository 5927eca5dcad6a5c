//! Kubernetes quantities, parsed and compared exactly as the API server does.
//!
//! The API server (`k8s.io/apimachinery/pkg/api/resource`) keeps every quantity as a decimal
//! with at most nine fractional digits (non-zero values are rounded away from zero to the next
//! nano unit). It caps a binary-suffix quantity (`Ki`..`Ei`) at 2^63-1 whole units, but keeps
//! decimal and exponent forms exact however large (`12E` is 12x10^18, `10000000000000000000`
//! stays itself). An `i128` of nano units holds every value below 10^29 whole units exactly:
//! no floating point, no big-decimal crate. A value at or beyond 10^29 units (`1e999999`) is
//! [`Quantity::is_beyond`]: it compares above every value that can be represented and equal
//! to every other such value. The parser is hand-written because no maintained crate parses
//! the full grammar (decimal SI, binary SI and exponent suffixes) with the API server's
//! rounding and capping, and because it must never allocate or panic on hostile input
//! (10,000-digit mantissas, `1e999999`).

use core::fmt;

/// Nano units per whole unit.
const NANO: i128 = 1_000_000_000;
/// The API server's cap of a binary-suffix quantity: 2^63-1 whole units, in nano units.
const MAX_NANOS: i128 = (i64::MAX as i128) * NANO;
/// Every value below 10^29 whole units (10^38 nano units) is held exactly.
const EXACT_BELOW: u128 = 10u128.pow(38);
/// The one value of every quantity at or beyond [`EXACT_BELOW`]: above all exact values.
const BEYOND: i128 = i128::MAX;

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

    /// A quantity of `nanos` nano units (at or beyond 10^38 nano units: [`Quantity::is_beyond`]).
    pub fn from_nanos(nanos: i128) -> Quantity {
        let limit = EXACT_BELOW as i128;
        Quantity {
            nanos: if nanos >= limit {
                BEYOND
            } else if nanos <= -limit {
                -BEYOND
            } else {
                nanos
            },
        }
    }

    /// Whether the value is at or beyond 10^29 whole units, where it is no longer held
    /// exactly: it compares above (or, negative, below) every value that is.
    pub fn is_beyond(self) -> bool {
        self.nanos == BEYOND || self.nanos == -BEYOND
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
        // Only a binary suffix is capped; decimal and exponent forms stay exact.
        let magnitude = if exp2 > 0 {
            magnitude.min(MAX_NANOS)
        } else {
            magnitude
        };
        Ok(Quantity {
            nanos: if negative { -magnitude } else { magnitude },
        })
    }

    /// The value as a plain decimal (`0.128`, `1500`, `-2.5`), for messages; a value beyond
    /// exact reads `1e29` or more.
    pub fn to_decimal(self) -> String {
        if self.is_beyond() {
            return if self.nanos < 0 {
                "-1e29 or less"
            } else {
                "1e29 or more"
            }
            .to_owned();
        }
        let sign = if self.nanos < 0 { "-" } else { "" };
        let n = self.nanos.unsigned_abs();
        let (whole, frac) = (n / NANO as u128, n % NANO as u128);
        if frac == 0 {
            return format!("{sign}{whole}");
        }
        let digits = format!("{frac:09}");
        format!("{sign}{whole}.{}", digits.trim_end_matches('0'))
    }

    /// `self <= factor * other`, exactly (all three taken as non-negative). A product with a
    /// value beyond exact is beyond too (unless the other factor is zero).
    pub fn at_most_times(self, factor: Quantity, other: Quantity) -> bool {
        let (a, f, o) = (self.nanos.max(0), factor.nanos.max(0), other.nanos.max(0));
        if f == 0 || o == 0 {
            return a == 0;
        }
        let product_beyond = f == BEYOND || o == BEYOND;
        if a == BEYOND || product_beyond {
            return product_beyond;
        }
        // Both sides as 256-bit products: self x 10^9 against factor x other (in nano units
        // squared).
        wide_mul(a as u128, NANO as u128) <= wide_mul(f as u128, o as u128)
    }
}

/// The full product of two `u128`s as (high, low) halves, compared as a 256-bit number.
fn wide_mul(a: u128, b: u128) -> (u128, u128) {
    const LOW: u128 = u64::MAX as u128;
    let (a1, a0) = (a >> 64, a & LOW);
    let (b1, b0) = (b >> 64, b & LOW);
    let p00 = a0 * b0;
    let p01 = a0 * b1;
    let p10 = a1 * b0;
    let p11 = a1 * b1;
    // The middle column: at most three 64-bit halves, which fits in 128 bits.
    let middle = (p00 >> 64) + (p01 & LOW) + (p10 & LOW);
    let low = (p00 & LOW) | (middle << 64);
    let high = p11 + (p01 >> 64) + (p10 >> 64) + (middle >> 64);
    (high, low)
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

/// |int.frac| * 10^exp10 * 2^exp2 in nano units, rounded up to a whole nano unit; [`BEYOND`]
/// at or beyond 10^38 nano units (a binary suffix is capped by the caller).
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
    if lead >= 38 {
        return BEYOND;
    }
    if lead + 19 < 0 {
        // Below 10^-19 * 2^60 < 1 nano unit: rounds up to one.
        return 1;
    }
    // Whole part: the digits before the point (at most 38 significant ones, as lead < 38).
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
        return BEYOND;
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
    if nanos >= EXACT_BELOW {
        BEYOND
    } else {
        nanos as i128
    }
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
    fn caps_only_binary_suffixes_like_the_api_server() {
        let max = q("9223372036854775807");
        assert_eq!(q("100Ei"), max);
        assert_eq!(q("8Ei"), max);
        assert!(q("7Ei") < max);
        assert!(q("9223372036854775806") < max);
        assert_eq!(q("1e-999999").nanos(), 1);
        // Decimal and exponent forms stay exact beyond 2^63-1.
        assert!(q("20E") > q("10E"));
        assert!(q("10E") > max);
        assert_eq!(q("12E"), q("12e18"));
        assert_eq!(q("10000000000000000000"), q("10E"));
        assert!(q("10000000000000000001") > q("10E"));
        assert!(q("99999999999999999999999999999") < q("1e29"));
        assert!(!q("99999999999999999999999999999").is_beyond());
        assert_eq!(q("0.5e29"), q("50000000000000000000000000000"));
        // Beyond what is held exactly: above every value that is, never equal to one.
        let beyond = q("1e29");
        assert!(beyond.is_beyond());
        assert!(beyond > q("99999999999999999999999999999.999999999"));
        assert_eq!(q("1e999999"), beyond);
        assert_eq!(q(&"9".repeat(10_000)), beyond);
        assert!(q("-1e999999").is_beyond() && q("-1e999999") < q("-99999999999999999999999999999"));
        assert_eq!(Quantity::from_nanos(i128::MAX), beyond);
        assert_eq!(
            Quantity::from_nanos(10i128.pow(38) - 1).nanos(),
            10i128.pow(38) - 1
        );
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
    fn reads_as_a_decimal() {
        assert_eq!(q("128m").to_decimal(), "0.128");
        assert_eq!(q("1.5k").to_decimal(), "1500");
        assert_eq!(q("-2.5").to_decimal(), "-2.5");
        assert_eq!(q("1n").to_decimal(), "0.000000001");
        assert_eq!(q("1e99").to_decimal(), "1e29 or more");
    }

    #[test]
    fn ratio_is_exact() {
        assert!(q("4").at_most_times(q("4"), q("1")));
        assert!(!q("4001m").at_most_times(q("4"), q("1")));
        assert!(q("3").at_most_times(q("1.5"), q("2")));
        assert!(!q("1").at_most_times(q("4"), q("0")));
        assert!(q("1e999").at_most_times(q("1e999"), q("1e999")));
        assert!(!q("1e999").at_most_times(q("4"), q("1E")));
        assert!(q("1E").at_most_times(q("1e999"), q("1m")));
        assert!(q("0").at_most_times(q("0"), q("1e999")));
        // Exact where the products pass 2^128.
        let big = q("9e28");
        assert!(big.at_most_times(q("1"), big));
        assert!(!q("90000000000000000000000000000.000000001").at_most_times(q("1"), big));
        assert!(big.at_most_times(q("3"), q("3e28")));
        assert!(!big.at_most_times(q("2.999999999"), q("3e28")));
    }
}
