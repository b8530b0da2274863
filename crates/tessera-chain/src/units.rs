//! Amounts in base units (satoshi, wei, lamports, token units) as canonical decimal strings, so
//! 256-bit token amounts survive JSON and every language.

use std::fmt;

use crate::{ChainError, Result};

/// A non-negative integer amount in base units, up to 78 decimal digits (2^256 − 1 fits).
/// Canonical form: decimal digits, no sign, no leading zeros (`"0"` for zero). Serialized as a
/// JSON string.
#[derive(Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Amount(String);

/// Longest accepted amount (digits of 2^256 − 1).
const MAX_DIGITS: usize = 78;

impl Amount {
    /// Zero.
    pub fn zero() -> Self {
        Amount("0".into())
    }

    /// From a machine integer.
    pub fn from_u128(v: u128) -> Self {
        Amount(v.to_string())
    }

    /// From a canonical decimal string ([`ChainError::Malformed`] otherwise).
    pub fn parse(s: &str) -> Result<Self> {
        let ok = !s.is_empty()
            && s.len() <= MAX_DIGITS
            && s.bytes().all(|b| b.is_ascii_digit())
            && (s == "0" || !s.starts_with('0'));
        if !ok {
            return Err(ChainError::malformed(
                "amount",
                format!("{s:?} is not a canonical decimal amount in base units"),
            ));
        }
        Ok(Amount(s.to_string()))
    }

    /// From big-endian bytes (e.g. a 256-bit word); leading zeros are dropped.
    pub fn from_be_bytes(bytes: &[u8]) -> Self {
        // Schoolbook base conversion: repeated division by 10 over the byte string.
        let mut num: Vec<u8> = bytes.iter().copied().skip_while(|b| *b == 0).collect();
        if num.is_empty() {
            return Amount::zero();
        }
        let mut digits = Vec::new();
        while !num.is_empty() {
            let mut rem: u32 = 0;
            let mut next = Vec::with_capacity(num.len());
            for b in &num {
                let cur = (rem << 8) | u32::from(*b);
                let q = cur / 10;
                rem = cur % 10;
                if !(next.is_empty() && q == 0) {
                    next.push(q as u8);
                }
            }
            digits.push(b'0' + rem as u8);
            num = next;
        }
        digits.reverse();
        Amount(String::from_utf8(digits).unwrap_or_else(|_| "0".into()))
    }

    /// The canonical decimal string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// As `u128` when it fits.
    pub fn to_u128(&self) -> Option<u128> {
        self.0.parse().ok()
    }

    /// Whether the amount is zero.
    pub fn is_zero(&self) -> bool {
        self.0 == "0"
    }

    /// Human form with `decimals` fractional digits, trailing zeros trimmed: `1500000` with 6
    /// decimals is `"1.5"`.
    pub fn format_units(&self, decimals: u8) -> String {
        let d = usize::from(decimals);
        if d == 0 {
            return self.0.clone();
        }
        let padded = if self.0.len() <= d {
            format!("{}{}", "0".repeat(d + 1 - self.0.len()), self.0)
        } else {
            self.0.clone()
        };
        let (int, frac) = padded.split_at(padded.len() - d);
        let frac = frac.trim_end_matches('0');
        if frac.is_empty() {
            int.to_string()
        } else {
            format!("{int}.{frac}")
        }
    }
}

impl TryFrom<String> for Amount {
    type Error = ChainError;
    fn try_from(s: String) -> Result<Self> {
        Amount::parse(&s)
    }
}

impl From<Amount> for String {
    fn from(a: Amount) -> String {
        a.0
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Amount({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_rejects_non_canonical() {
        for bad in ["", "01", "-1", "1.0", " 1", "1e3", &"9".repeat(79)] {
            assert!(Amount::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(Amount::parse("0").unwrap().as_str(), "0");
        assert_eq!(Amount::parse("120").unwrap().as_str(), "120");
    }

    #[test]
    fn format_units_examples() {
        let a = |s: &str| Amount::parse(s).unwrap();
        assert_eq!(a("1500000").format_units(6), "1.5");
        assert_eq!(a("1").format_units(8), "0.00000001");
        assert_eq!(a("100000000").format_units(8), "1");
        assert_eq!(a("0").format_units(18), "0");
        assert_eq!(a("123").format_units(0), "123");
        assert_eq!(a("2000000000000000").format_units(18), "0.002");
    }

    #[test]
    fn from_be_bytes_matches_u128_and_u256_max() {
        for v in [0u128, 1, 255, 256, 65_535, 10u128.pow(20), u128::MAX] {
            assert_eq!(Amount::from_be_bytes(&v.to_be_bytes()).to_u128(), Some(v));
        }
        let max = Amount::from_be_bytes(&[0xff; 32]);
        assert_eq!(
            max.as_str(),
            "115792089237316195423570985008687907853269984665640564039457584007913129639935"
        );
        assert!(Amount::parse(max.as_str()).is_ok());
    }

    #[test]
    fn serde_is_a_string_and_validates() {
        let a = Amount::from_u128(42);
        assert_eq!(serde_json::to_string(&a).unwrap(), "\"42\"");
        assert!(serde_json::from_str::<Amount>("\"042\"").is_err());
        assert!(serde_json::from_str::<Amount>("42").is_err());
    }
}
