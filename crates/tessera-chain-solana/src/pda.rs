//! Program-derived addresses and associated token accounts, computed offline.
//!
//! `create_program_address(seeds, program) = SHA-256(seeds… || program || "ProgramDerivedAddress")`
//! when that hash is **not** a valid compressed Ed25519 point (so no private key exists for it);
//! `find_program_address` appends a one-byte bump seed, trying 255 down to 1, and returns the
//! first valid address. SHA-256 comes from `sha2`, the point check from `curve25519-dalek`
//! (`CompressedEdwardsY::decompress`), as in the Solana crates.

use curve25519_dalek::edwards::CompressedEdwardsY;
use sha2::{Digest, Sha256};

use crate::message::Pubkey;
use crate::programs::ASSOCIATED_TOKEN_PROGRAM;

/// Most seeds a derivation takes (the bump included).
pub const MAX_SEEDS: usize = 16;
/// Longest seed.
pub const MAX_SEED_LEN: usize = 32;
const PDA_MARKER: &[u8] = b"ProgramDerivedAddress";

/// Whether `bytes` decode as a point of the Ed25519 curve (an address with a possible private
/// key).
pub fn is_on_curve(bytes: &Pubkey) -> bool {
    CompressedEdwardsY(*bytes).decompress().is_some()
}

/// The program address for exactly these seeds, or `None` when the seeds are too many or too
/// long, or the hash lands on the curve.
pub fn create_program_address(seeds: &[&[u8]], program_id: &Pubkey) -> Option<Pubkey> {
    if seeds.len() > MAX_SEEDS || seeds.iter().any(|s| s.len() > MAX_SEED_LEN) {
        return None;
    }
    let mut h = Sha256::new();
    for s in seeds {
        h.update(s);
    }
    h.update(program_id);
    h.update(PDA_MARKER);
    let hash: Pubkey = h.finalize().into();
    (!is_on_curve(&hash)).then_some(hash)
}

/// The canonical program address and its bump seed: the first bump from 255 down to 1 whose
/// address is off the curve. `None` for invalid seeds (or, with negligible probability, when
/// every bump lands on the curve).
pub fn find_program_address(seeds: &[&[u8]], program_id: &Pubkey) -> Option<(Pubkey, u8)> {
    if seeds.len() >= MAX_SEEDS {
        return None;
    }
    for bump in (1..=u8::MAX).rev() {
        let b = [bump];
        let mut with_bump: Vec<&[u8]> = seeds.to_vec();
        with_bump.push(&b);
        if let Some(address) = create_program_address(&with_bump, program_id) {
            return Some((address, bump));
        }
    }
    None
}

/// The associated token account of `owner` for `mint` under `token_program`:
/// `find_program_address([owner, token_program, mint], ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL)`.
pub fn associated_token_address(
    owner: &Pubkey,
    token_program: &Pubkey,
    mint: &Pubkey,
) -> Option<Pubkey> {
    find_program_address(
        &[owner.as_slice(), token_program.as_slice(), mint.as_slice()],
        &ASSOCIATED_TOKEN_PROGRAM,
    )
    .map(|(address, _)| address)
}
