//! cggmp24 aux info per signer group, and the group's agreement on reusing it.
//!
//! A signer keeps the aux info of every group it generated one with (generating it needs fresh
//! Paillier primes and takes seconds to minutes), tagged with the execution id of the
//! generation that made it. Before a cggmp24 key generation, import or reshare, the members
//! exchange their tag for the group — a one-round broadcast of the session
//! (`sid.derive("aux-agree")`, sealed and signed like the velocity exchange, so the coordinator
//! can neither forge nor alter a tag) — and reuse the stored aux info only if every member holds
//! the same generation; otherwise all of them generate a new one.
//!
//! Without the agreement each member decided alone, and a process killed while a generation
//! finished left some members with it and some without: those with it went on to the key
//! protocol while the others waited for aux-info messages, and every later session of that
//! group timed out (found by the kill campaign, `crash_lifecycle` import trials; regression
//! test `a_group_where_one_member_lost_its_aux_info_generates_anew` in
//! `tessera-node/tests/reshare.rs`). A member equivocating on its tag only makes the session
//! fail, as it could by aborting.

use tessera_crypto::{AuxInfo, Cggmp24, SessionId};
use tessera_proto::link::Failure;

use super::{crypto_failure, group_id, lock, vault_failure, Signer};
use crate::exchange::Exchange;
use crate::runner::{self, RunCtx};

/// The generation id and the aux info of a stored value; `None` if it is untagged (stored
/// before generations were tagged), which counts as no aux info.
fn decode(bytes: &[u8]) -> Result<Option<([u8; 32], AuxInfo)>, Failure> {
    let stored = AuxInfo::from_stored(bytes).map_err(crypto_failure)?;
    Ok(stored.map(|(generation, aux)| (generation.0, aux)))
}

/// Whether every member of the session holds aux info of generation `mine` (empty: none).
fn all_hold(ctx: &mut RunCtx<'_>, sid: SessionId, mine: &[u8]) -> Result<bool, Failure> {
    let members: Vec<u16> = ctx.roster.iter().map(|m| m.index).collect();
    let xsid = sid.derive("aux-agree");
    let exchange = Exchange::new(xsid, ctx.me, &members, mine.to_vec());
    let theirs = runner::drive(ctx, xsid, Box::new(exchange))?;
    Ok(!mine.is_empty() && theirs.values().all(|tag| tag == mine))
}

impl Signer {
    /// cggmp24 aux info for this session's signer group: the stored one if every member holds
    /// the same generation, or a new one generated now by all of them with fresh Paillier
    /// primes (and stored, tagged).
    pub(super) fn aux_info(
        &self,
        ctx: &mut RunCtx<'_>,
        sid: SessionId,
        n: u16,
    ) -> Result<AuxInfo, Failure> {
        let group = group_id(ctx.roster);
        let stored = lock(&self.inner.vault).aux(&group).map_err(vault_failure)?;
        let cached = match stored {
            Some(bytes) => decode(&bytes)?,
            None => None,
        };
        let mine = cached.as_ref().map(|(g, _)| g.to_vec()).unwrap_or_default();
        if all_hold(ctx, sid, &mine)? {
            if let Some((_, aux)) = cached {
                return Ok(aux);
            }
        }
        let primes = self.inner.primes.take(ctx.me)?;
        let asid = sid.derive("aux-info");
        let s = Cggmp24
            .aux_info_session(asid, ctx.me, n, primes)
            .map_err(crypto_failure)?;
        let aux = runner::drive(ctx, asid, s)?;
        lock(&self.inner.vault)
            .put_aux(&group, &aux.to_stored(&asid))
            .map_err(vault_failure)?;
        Ok(aux)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untagged_values_count_as_none_and_truncated_ones_are_refused() {
        assert!(matches!(decode(b"plain aux bytes"), Ok(None)));
        let mut short = tessera_crypto::STORED_AUX_TAG.to_vec();
        short.extend_from_slice(&[1; 10]);
        assert!(decode(&short).is_err());
        let mut garbage = tessera_crypto::STORED_AUX_TAG.to_vec();
        garbage.extend_from_slice(&[7; 40]);
        assert!(decode(&garbage).is_err(), "aux info that does not parse");
    }
}
