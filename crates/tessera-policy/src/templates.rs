//! The shipped policy templates (plain-language rules in `templates/README.md`).

/// Trading-desk hot wallet: small transfers free, larger ones with a desk approver.
pub const TRADING_DESK_HOT: &str = include_str!("../templates/trading-desk-hot.cedar");
/// Velocity rules of the trading-desk template (JSON map of rule id to rule).
pub const TRADING_DESK_HOT_VELOCITY: &str =
    include_str!("../templates/trading-desk-hot.velocity.json");
/// Treasury cold wallet: every transfer with two treasury approvers, three above the high tier.
pub const TREASURY_COLD: &str = include_str!("../templates/treasury-cold.cedar");
/// Local development cluster (`tessera up`, `tessera demo`); not for production.
pub const LOCAL_DEV: &str = include_str!("../templates/local-dev.cedar");

/// Template by name: `trading-desk-hot`, `treasury-cold`, `local-dev`.
pub fn by_name(name: &str) -> Option<&'static str> {
    match name {
        "trading-desk-hot" => Some(TRADING_DESK_HOT),
        "treasury-cold" => Some(TREASURY_COLD),
        "local-dev" => Some(LOCAL_DEV),
        _ => None,
    }
}
