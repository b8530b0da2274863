//! Scheduled proactive refresh: `tessera wallet refresh --all [--every 24h]`.
//!
//! A refresh needs the operator's signed authorization, which only a holder of the operator key
//! can give, so the schedule runs where that key is (a `tessera` process, a systemd timer or
//! cron), not inside the coordinator. Each round refreshes the chosen wallets one after the
//! other; a wallet that fails is reported and the round goes on with the others.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use tessera_proto::api::WalletStatus;
use tessera_proto::roles::Role;

use crate::cluster::ClusterFile;
use crate::reshare::{reshare_one, Change, WalletReshare};

/// Which wallets a round refreshes.
#[derive(Debug, Clone)]
pub enum Selection {
    /// One wallet by id.
    One(String),
    /// Every wallet whose key is ready.
    All,
}

/// Parses an interval such as `90s`, `15m`, `24h` or `7d` (at least one second).
pub fn parse_interval(text: &str) -> Result<Duration> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .with_context(|| format!("interval {text:?} has no unit (s, m, h or d)"))?;
    let (digits, unit) = text.split_at(split);
    let n: u64 = digits
        .parse()
        .with_context(|| format!("interval {text:?} does not start with a number"))?;
    let unit_secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => bail!("interval {text:?}: the unit must be s, m, h or d"),
    };
    let secs = n
        .checked_mul(unit_secs)
        .with_context(|| format!("interval {text:?} is too long"))?;
    if secs == 0 {
        bail!("the interval must be at least one second");
    }
    Ok(Duration::from_secs(secs))
}

/// One round: refreshes the selected wallets in turn and reports each.
pub async fn refresh_round(f: &ClusterFile, selection: &Selection) -> Result<Vec<WalletReshare>> {
    let ids = match selection {
        Selection::One(id) => vec![id.clone()],
        Selection::All => f
            .client_as(Role::Viewer)?
            .wallets()
            .await?
            .into_iter()
            .filter(|w| w.status == WalletStatus::Ready)
            .map(|w| w.wallet_id)
            .collect(),
    };
    let mut out = Vec::with_capacity(ids.len());
    for wallet_id in ids {
        out.push(reshare_one(f, &wallet_id, Ok(Change::Refresh)).await);
    }
    Ok(out)
}

/// Runs `rounds` rounds (`None`: without end), `every` apart from the start of one round to
/// the start of the next (a round longer than that starts the next at once); `report` sees
/// each round's results. Returns how many wallet refreshes failed in all.
pub async fn run_schedule(
    f: &ClusterFile,
    selection: &Selection,
    every: Duration,
    rounds: Option<u32>,
    mut report: impl FnMut(&[WalletReshare]),
) -> Result<u32> {
    let mut failed = 0;
    let mut done = 0;
    loop {
        let started = Instant::now();
        let results = refresh_round(f, selection).await?;
        failed += results.iter().filter(|r| r.result.is_err()).count() as u32;
        report(&results);
        done += 1;
        if rounds.is_some_and(|r| done >= r) {
            return Ok(failed);
        }
        tokio::time::sleep(every.saturating_sub(started.elapsed())).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_parse_with_their_unit() {
        assert_eq!(parse_interval("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_interval("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(parse_interval("24h").unwrap(), Duration::from_secs(86_400));
        assert_eq!(
            parse_interval(" 7d ").unwrap(),
            Duration::from_secs(604_800)
        );
        for bad in [
            "",
            "24",
            "h",
            "0s",
            "5w",
            "-1h",
            "1.5h",
            "99999999999999999999d",
        ] {
            assert!(parse_interval(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
