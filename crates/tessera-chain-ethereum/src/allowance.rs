//! When an approved amount counts as unlimited, and the allowance entries the intent lists.
//!
//! # The threshold
//!
//! Wallets and dapps ask for "unlimited" approvals with many different numbers: 2^256 − 1,
//! 2^255, 2^160 − 1 (Permit2's "infinite"), 2^96 − 1 (UNI and COMP keep allowances in 96 bits
//! and never decrease that one), or a round 10^30. Checking bit 255 catches the first two only.
//! An amount counts as unlimited here when it is at least
//!
//! * `min(10^(decimals + 12), 2^96 − 1)` base units when the token's decimals are known:
//!   10^12 whole tokens is more than the supply of any token with a meaningful price (USDC and
//!   USDT have about 10^11), and 2^96 − 1 is the smallest of the "infinite" sentinels above
//!   (at 18 decimals it is about 7.9 · 10^10 whole tokens);
//! * `2^96 − 1` base units when the decimals are unknown.
//!
//! The threshold decides the flag and whether the intent says "unlimited"; it never hides an
//! amount: a smaller allowance is listed with its exact amount, and a token with an enormous
//! supply (a meme coin with 10^14 tokens) may see a large but bounded approval called
//! unlimited, which only errs on the side of caution.

use alloy_primitives::U256;
use tessera_chain::{Allowance, Amount, Asset, RiskFlag};

use crate::calldata::amount_of;

/// Decimals up to which `10^(decimals + 12)` is below `2^96 − 1` (10^28 < 2^96 − 1 < 10^29).
const MAX_DECIMALS_UNDER_CAP: u8 = 16;

/// The smallest amount that counts as unlimited for a token with `decimals` (see the module
/// docs).
pub(crate) fn unlimited_threshold(decimals: Option<u8>) -> U256 {
    match decimals {
        Some(d) if d <= MAX_DECIMALS_UNDER_CAP => {
            U256::from(10u8).pow(U256::from(u32::from(d) + 12))
        }
        _ => (U256::from(1u8) << 96) - U256::from(1u8),
    }
}

/// The allowance amount the intent shows: `None` (unlimited) at or above the threshold, the
/// exact amount below it.
pub(crate) fn granted(amount: &U256, decimals: Option<u8>) -> Option<Amount> {
    (*amount < unlimited_threshold(decimals)).then(|| amount_of(amount))
}

/// An allowance entry and the flags it raises: `GrantsAuthority` unless it is a revocation
/// (amount zero), `UnlimitedApproval` when the amount is unlimited.
pub(crate) fn entry(
    spender: String,
    asset: Asset,
    amount: Option<Amount>,
    expires_at: Option<u64>,
    via: &str,
) -> (Allowance, Vec<RiskFlag>) {
    let flags = match &amount {
        None => vec![RiskFlag::GrantsAuthority, RiskFlag::UnlimitedApproval],
        Some(a) if a.is_zero() => Vec::new(),
        Some(_) => vec![RiskFlag::GrantsAuthority],
    };
    let allowance = Allowance {
        spender,
        asset,
        amount,
        expires_at,
        via: via.to_string(),
    };
    (allowance, flags)
}

/// A 256-bit time as the intent's `expires_at`: `None` (never) when it does not fit 64 bits.
pub(crate) fn unix_time(t: &U256) -> Option<u64> {
    u64::try_from(*t).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threshold_by_decimals() {
        let cap = (U256::from(1u8) << 96) - U256::from(1u8);
        assert_eq!(unlimited_threshold(Some(6)), U256::from(10u64.pow(18)));
        assert_eq!(unlimited_threshold(Some(0)), U256::from(10u64.pow(12)));
        assert_eq!(
            unlimited_threshold(Some(16)),
            U256::from(10u128.pow(28)),
            "the last below the cap"
        );
        for d in [Some(17), Some(18), Some(255), None] {
            assert_eq!(unlimited_threshold(d), cap, "{d:?}");
        }
        assert!(U256::from(10u128.pow(28)) < cap && cap < U256::from(10u128.pow(29)));
    }

    #[test]
    fn granted_at_the_boundary() {
        let t = unlimited_threshold(Some(6));
        assert_eq!(granted(&t, Some(6)), None);
        assert_eq!(
            granted(&(t - U256::from(1u8)), Some(6)),
            Some(Amount::from_u128(10u128.pow(18) - 1))
        );
        assert_eq!(granted(&U256::MAX, None), None);
        assert_eq!(granted(&U256::ZERO, None), Some(Amount::zero()));
    }
}
