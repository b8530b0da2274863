//! Exact amounts of any size ([`BaseUnits`]) and how they are shown to Cedar, whose only integer
//! type is a 64-bit signed `Long`.
//!
//! # The encoding (the `Amount` record type of the schema)
//!
//! | attribute          | Cedar type | value                                                           |
//! |--------------------|------------|-----------------------------------------------------------------|
//! | `base`             | `Long`     | the amount in base units, **saturated** at `i64::MAX`            |
//! | `exceeds_i64`      | `Bool`     | the amount in base units is larger than `i64::MAX`              |
//! | `exact`            | `String`   | the exact amount in base units, canonical decimal               |
//! | `units`            | `decimal`  | whole units (base / 10^decimals), **rounded up** to 4 fractional digits, saturated at `922337203685477.5807` |
//! | `units_saturated`  | `Bool`     | `units` was saturated                                           |
//!
//! Why this is sound for tiers of any size (up to 2^256 and beyond):
//!
//! - Saturation keeps every comparison with a threshold below the saturation point exact: an
//!   amount larger than `i64::MAX` compares as `i64::MAX`, which is still above every such
//!   threshold. Only a threshold equal to the maximum itself is ambiguous; policies that care
//!   can deny on `exceeds_i64` / `units_saturated` (or on `amount_exceeds_i64` of the context).
//! - `units` is rounded **up** (ceiling) to the 4-digit grid of Cedar's `decimal`. For a
//!   threshold `T` on that grid, `units <= T` holds exactly when the true amount is `<= T`, and
//!   `units > T` exactly when the true amount is `> T`. The other two comparisons (`<`, `>=`)
//!   err towards treating the amount as larger, i.e. towards the stricter tier. Write tiers as
//!   `lessThanOrEqual` / `greaterThan`.
//! - Unknown decimals (tokens the adapter has no metadata for) count as 0 decimals, so `units`
//!   equals the amount in base units: never smaller than the real value, so again the stricter
//!   tier applies. `context.asset.decimals_known` tells policies which case they are in.
//! - 18-decimal coins overflow `base` from 9.22 coins on (`i64::MAX` wei): tier such assets on
//!   `units`; `units` covers up to 922 trillion whole units.

use std::cmp::Ordering;
use std::fmt;

use tessera_chain::units::Amount;

/// Longest accepted [`BaseUnits`] text (far above any sum of 2^256 amounts a ledger can hold).
const MAX_DIGITS: usize = 200;

/// A non-negative integer of any size in base units, as a canonical decimal string (digits only,
/// no leading zeros, `"0"` for zero). Used for totals (several transfers of an asset, velocity
/// windows), which can exceed the 2^256 bound of [`Amount`]. Serialized as a JSON string.
#[derive(Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BaseUnits(String);

impl BaseUnits {
    /// Zero.
    pub fn zero() -> Self {
        BaseUnits("0".into())
    }

    /// 2^256 − 1, the largest [`Amount`]: what an unlimited allowance counts as.
    pub fn u256_max() -> Self {
        BaseUnits(
            "115792089237316195423570985008687907853269984665640564039457584007913129639935".into(),
        )
    }

    /// From an [`Amount`].
    pub fn from_amount(a: &Amount) -> Self {
        BaseUnits(a.as_str().to_string())
    }

    /// From a machine integer.
    pub fn from_u128(v: u128) -> Self {
        BaseUnits(v.to_string())
    }

    /// From a canonical decimal string (at most 200 digits).
    pub fn parse(s: &str) -> Option<Self> {
        let ok = !s.is_empty()
            && s.len() <= MAX_DIGITS
            && s.bytes().all(|b| b.is_ascii_digit())
            && (s == "0" || !s.starts_with('0'));
        ok.then(|| BaseUnits(s.to_string()))
    }

    /// The canonical decimal string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is zero.
    pub fn is_zero(&self) -> bool {
        self.0 == "0"
    }

    /// `self + other` (exact: no overflow).
    pub fn add(&self, other: &BaseUnits) -> BaseUnits {
        let (a, b) = (self.0.as_bytes(), other.0.as_bytes());
        let mut out = Vec::with_capacity(a.len().max(b.len()) + 1);
        let mut carry = 0u8;
        let (mut i, mut j) = (a.len(), b.len());
        while i > 0 || j > 0 || carry > 0 {
            let mut d = carry;
            if i > 0 {
                i -= 1;
                d += a[i] - b'0';
            }
            if j > 0 {
                j -= 1;
                d += b[j] - b'0';
            }
            out.push(b'0' + d % 10);
            carry = d / 10;
        }
        out.reverse();
        BaseUnits(String::from_utf8(out).unwrap_or_else(|_| "0".into()))
    }

    /// `self − other`, or `None` when `other` is larger (exact).
    pub fn checked_sub(&self, other: &BaseUnits) -> Option<BaseUnits> {
        let (a, b) = (self.0.as_bytes(), other.0.as_bytes());
        if b.len() > a.len() {
            return None;
        }
        let mut out = Vec::with_capacity(a.len());
        let mut borrow = 0u8;
        let mut j = b.len();
        for &digit in a.iter().rev() {
            let mut take = borrow;
            if j > 0 {
                j -= 1;
                take += b[j] - b'0';
            }
            let d = digit - b'0';
            if d >= take {
                out.push(b'0' + d - take);
                borrow = 0;
            } else {
                out.push(b'0' + d + 10 - take);
                borrow = 1;
            }
        }
        if borrow > 0 {
            return None;
        }
        while out.len() > 1 && out.last() == Some(&b'0') {
            out.pop();
        }
        out.reverse();
        String::from_utf8(out).ok().map(BaseUnits)
    }

    /// `self` as a share of `den` in basis points, `ceil(10,000 × self / den)`, saturated at
    /// `i64::MAX`; `None` when `den` is zero. Exact while `den` has at most 30 digits and
    /// `self` at most 38; beyond, both lose the same number of trailing digits, `self` rounded
    /// up and `den` down, so the share can only come out larger.
    pub fn share_bps_ceil(&self, den: &BaseUnits) -> Option<i64> {
        if den.is_zero() {
            return None;
        }
        let cut = den
            .0
            .len()
            .saturating_sub(30)
            .max(self.0.len().saturating_sub(38));
        let num = self.cut_digits(cut, true);
        let den = den.cut_digits(cut, false);
        if den == 0 {
            return Some(i64::MAX);
        }
        // `num % den < den < 10^30`, so `rest * 10_000` fits a u128.
        let rest = (num % den) * 10_000;
        let bps = (num / den)
            .checked_mul(10_000)
            .and_then(|q| q.checked_add(rest.div_ceil(den)));
        Some(bps.and_then(|b| i64::try_from(b).ok()).unwrap_or(i64::MAX))
    }

    /// `self / 10^cut` rounded up (`ceil`) or down, as a u128 (callers keep at most 38 digits).
    fn cut_digits(&self, cut: usize, ceil: bool) -> u128 {
        let len = self.0.len();
        let (head, tail) = self.0.split_at(len.saturating_sub(cut));
        let head: u128 = if head.is_empty() {
            0
        } else {
            head.parse().unwrap_or(u128::MAX)
        };
        let up = ceil && tail.bytes().any(|b| b != b'0');
        head.saturating_add(u128::from(up))
    }

    /// The value as `i64`, saturated at `i64::MAX`, and whether it was saturated.
    pub fn to_i64_saturating(&self) -> (i64, bool) {
        match self.0.parse::<i64>() {
            Ok(v) => (v, false),
            Err(_) => (i64::MAX, true),
        }
    }

    /// `ceil(self / 10^decimals)` on a 4-fractional-digit grid, as a Cedar `decimal` literal
    /// (`"1.5000"`), saturated at `922337203685477.5807`; and whether it was saturated.
    pub fn units_ceil4(&self, decimals: u8) -> (String, bool) {
        let d = usize::from(decimals);
        let scaled: BaseUnits = if d <= 4 {
            if self.is_zero() {
                BaseUnits::zero()
            } else {
                BaseUnits(format!("{}{}", self.0, "0".repeat(4 - d)))
            }
        } else {
            let k = d - 4;
            if self.0.len() <= k {
                if self.is_zero() {
                    BaseUnits::zero()
                } else {
                    BaseUnits("1".into())
                }
            } else {
                let (head, tail) = self.0.split_at(self.0.len() - k);
                let head = BaseUnits(head.to_string());
                if tail.bytes().any(|b| b != b'0') {
                    head.add(&BaseUnits("1".into()))
                } else {
                    head
                }
            }
        };
        // Cedar's `decimal` is an i64 of 4 fractional digits: its maximum is `i64::MAX`.
        let (n, saturated) = scaled.to_i64_saturating();
        (format!("{}.{:04}", n / 10_000, n % 10_000), saturated)
    }

    /// The Cedar `Amount` record (see the module docs) as schema-typed JSON.
    pub(crate) fn cedar_json(&self, decimals: Option<u8>) -> serde_json::Value {
        let (base, exceeds) = self.to_i64_saturating();
        let (units, units_saturated) = self.units_ceil4(decimals.unwrap_or(0));
        serde_json::json!({
            "base": base,
            "exceeds_i64": exceeds,
            "exact": self.0,
            "units": { "__extn": { "fn": "decimal", "arg": units } },
            "units_saturated": units_saturated,
        })
    }
}

impl Ord for BaseUnits {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0
            .len()
            .cmp(&other.0.len())
            .then_with(|| self.0.cmp(&other.0))
    }
}

impl PartialOrd for BaseUnits {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl TryFrom<String> for BaseUnits {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        BaseUnits::parse(&s).ok_or_else(|| format!("{s:?} is not a canonical decimal amount"))
    }
}

impl From<BaseUnits> for String {
    fn from(b: BaseUnits) -> String {
        b.0
    }
}

impl fmt::Display for BaseUnits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for BaseUnits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BaseUnits({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> BaseUnits {
        BaseUnits::parse(s).unwrap()
    }

    #[test]
    fn add_and_order() {
        assert_eq!(b("0").add(&b("0")).as_str(), "0");
        assert_eq!(b("999").add(&b("1")).as_str(), "1000");
        assert_eq!(
            b("1").add(&b("99999999999999999999")).as_str(),
            "100000000000000000000"
        );
        let max = "115792089237316195423570985008687907853269984665640564039457584007913129639935";
        let twice = b(max).add(&b(max));
        assert_eq!(
            twice.as_str(),
            "231584178474632390847141970017375815706539969331281128078915168015826259279870"
        );
        assert!(twice > b(max));
        assert!(b("10") > b("9"));
        assert!(b("9") < b("10"));
        assert_eq!(b("42").cmp(&b("42")), Ordering::Equal);
        for bad in ["", "01", "-1", "1.0", " 1"] {
            assert!(BaseUnits::parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn subtraction_undoes_addition() {
        assert_eq!(b("1000").checked_sub(&b("1")).unwrap().as_str(), "999");
        assert_eq!(b("1000").checked_sub(&b("1000")).unwrap().as_str(), "0");
        assert_eq!(b("7").checked_sub(&b("0")).unwrap().as_str(), "7");
        assert!(b("999").checked_sub(&b("1000")).is_none());
        assert!(b("100").checked_sub(&b("101")).is_none());
        let max = BaseUnits::u256_max();
        let twice = max.add(&max);
        assert_eq!(twice.checked_sub(&max), Some(max.clone()));
        // Against machine arithmetic over a seeded spread of values.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..2_000 {
            let (p, q) = (
                u128::from(next()) << (next() % 64),
                u128::from(next() >> (next() % 64)),
            );
            let (hi, lo) = (p.max(q), p.min(q));
            let d = BaseUnits::from_u128(hi).checked_sub(&BaseUnits::from_u128(lo));
            assert_eq!(d, Some(BaseUnits::from_u128(hi - lo)), "{hi} - {lo}");
            if hi != lo {
                assert!(BaseUnits::from_u128(lo)
                    .checked_sub(&BaseUnits::from_u128(hi))
                    .is_none());
            }
            assert_eq!(
                BaseUnits::from_u128(lo).add(&max).checked_sub(&max),
                Some(BaseUnits::from_u128(lo))
            );
        }
    }

    #[test]
    fn i64_saturation() {
        assert_eq!(
            b("9223372036854775807").to_i64_saturating(),
            (i64::MAX, false)
        );
        assert_eq!(
            b("9223372036854775808").to_i64_saturating(),
            (i64::MAX, true)
        );
        assert_eq!(b("0").to_i64_saturating(), (0, false));
    }

    #[test]
    fn shares_in_basis_points_round_up() {
        let eth = "1000000000000000000";
        // 0.1 ETH of 1 ETH: exactly 10 %; one wei more rounds up.
        assert_eq!(b("100000000000000000").share_bps_ceil(&b(eth)), Some(1000));
        assert_eq!(b("100000000000000001").share_bps_ceil(&b(eth)), Some(1001));
        assert_eq!(b("0").share_bps_ceil(&b(eth)), Some(0));
        assert_eq!(b("1").share_bps_ceil(&b(eth)), Some(1));
        assert_eq!(b("5").share_bps_ceil(&b("0")), None);
        // 2.99 BTC of 0.01 BTC: 29,900 %.
        assert_eq!(
            b("299000000").share_bps_ceil(&b("1000000")),
            Some(2_990_000)
        );
        // Saturates instead of overflowing.
        let max = "115792089237316195423570985008687907853269984665640564039457584007913129639935";
        assert_eq!(b(max).share_bps_ceil(&b("1")), Some(i64::MAX));
        // 78 digits each: both are cut, the share comes out one basis point high, never low.
        assert_eq!(b(max).share_bps_ceil(&b(max)), Some(10_001));
        // Long numbers are cut, never to a smaller share: 10^40 + 1 of 10^40 is a hair over 1.
        let big = format!("1{}", "0".repeat(40));
        let big1 = format!("1{}1", "0".repeat(39));
        assert_eq!(b(&big1).share_bps_ceil(&b(&big)), Some(10_001));
        assert_eq!(b(&big).share_bps_ceil(&b(&big)), Some(10_000));
        assert_eq!(b("1").share_bps_ceil(&b(&big)), Some(1));
    }

    #[test]
    fn units_round_up_on_the_grid() {
        // 1.5 USDC (6 decimals).
        assert_eq!(b("1500000").units_ceil4(6), ("1.5000".into(), false));
        // 1 base unit of an 18-decimal coin rounds up to the smallest grid step.
        assert_eq!(b("1").units_ceil4(18), ("0.0001".into(), false));
        // Exactly on the grid: no rounding.
        assert_eq!(
            b("100000000000000").units_ceil4(18),
            ("0.0001".into(), false)
        );
        assert_eq!(
            b("100000000000001").units_ceil4(18),
            ("0.0002".into(), false)
        );
        // 10 ETH.
        assert_eq!(
            b("10000000000000000000").units_ceil4(18),
            ("10.0000".into(), false)
        );
        assert_eq!(b("0").units_ceil4(18), ("0.0000".into(), false));
        // Few decimals scale up.
        assert_eq!(b("12").units_ceil4(0), ("12.0000".into(), false));
        assert_eq!(b("12").units_ceil4(2), ("0.1200".into(), false));
        // 2^256 - 1 base units with 0 decimals saturates.
        let max = "115792089237316195423570985008687907853269984665640564039457584007913129639935";
        assert_eq!(b(max).units_ceil4(0), ("922337203685477.5807".into(), true));
        assert_eq!(
            b(max).units_ceil4(18),
            ("922337203685477.5807".into(), true)
        );
        // Large decimals: whole amount below one grid step.
        assert_eq!(b("5").units_ceil4(200), ("0.0001".into(), false));
    }
}
