//! Program ids the adapter decodes, and the known-mint table.
//!
//! Every id is decoded from its base58 text at compile time (an invalid constant does not
//! build).

use crate::message::Pubkey;

const fn id(b58: &str) -> Pubkey {
    bs58::decode(b58.as_bytes()).into_array_const_unwrap()
}

/// The System program.
pub const SYSTEM_PROGRAM: Pubkey = [0; 32];
/// SPL Token.
pub const TOKEN_PROGRAM: Pubkey = id("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA");
/// SPL Token-2022.
pub const TOKEN_2022_PROGRAM: Pubkey = id("TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb");
/// SPL Associated Token Account program.
pub const ASSOCIATED_TOKEN_PROGRAM: Pubkey = id("ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL");
/// Compute Budget program.
pub const COMPUTE_BUDGET_PROGRAM: Pubkey = id("ComputeBudget111111111111111111111111111111");

/// Base fee per signature, lamports.
pub const LAMPORTS_PER_SIGNATURE: u64 = 5_000;
/// Compute-unit limit the runtime assumes per instruction when none is set (an upper bound).
pub const DEFAULT_INSTRUCTION_COMPUTE_UNIT_LIMIT: u64 = 200_000;
/// Largest compute-unit limit a transaction can have.
pub const MAX_COMPUTE_UNIT_LIMIT: u64 = 1_400_000;
/// Fee above which the intent is flagged `high_fee`: 0.01 SOL.
pub const HIGH_FEE_LAMPORTS: u128 = 10_000_000;

/// Rent per byte of account data per year, lamports (the runtime's `DEFAULT_LAMPORTS_PER_BYTE_YEAR`).
pub const LAMPORTS_PER_BYTE_YEAR: u64 = 3_480;
/// Years of rent an account must hold to be rent-exempt (`DEFAULT_EXEMPTION_THRESHOLD`).
pub const RENT_EXEMPTION_YEARS: u64 = 2;
/// Bytes the runtime adds to an account's data length when charging rent
/// (`ACCOUNT_STORAGE_OVERHEAD`).
pub const ACCOUNT_STORAGE_OVERHEAD: u64 = 128;
/// Length of an SPL Token account.
pub const TOKEN_ACCOUNT_LEN: u64 = 165;
/// Upper bound of the length of a Token-2022 associated token account. Its length depends on
/// the mint's extensions, which cannot be read offline: 165 bytes, the account-type byte, and a
/// 4-byte TLV header plus data for `ImmutableOwner` (which every associated account has) and
/// each account extension a mint can require at creation (`TransferFeeAmount`,
/// `NonTransferableAccount`, `TransferHookAccount`, `PausableAccount`): 195 bytes today,
/// rounded up to leave room for extensions to come.
pub const TOKEN_2022_ACCOUNT_MAX_LEN: u64 = 300;

/// Lamports an account of `len` data bytes must hold to be rent-exempt:
/// `(len + 128) × 3480 × 2` (2 039 280 for an SPL Token account).
pub const fn rent_exempt_minimum(len: u64) -> u64 {
    (len + ACCOUNT_STORAGE_OVERHEAD) * LAMPORTS_PER_BYTE_YEAR * RENT_EXEMPTION_YEARS
}

/// A mint the adapter has metadata for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownMint {
    /// Mint address.
    pub mint: Pubkey,
    /// Ticker.
    pub symbol: &'static str,
    /// Decimals.
    pub decimals: u8,
    /// The token program that owns the mint.
    pub program: Pubkey,
}

const MAINNET_MINTS: &[KnownMint] = &[
    KnownMint {
        mint: id("EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"),
        symbol: "USDC",
        decimals: 6,
        program: TOKEN_PROGRAM,
    },
    KnownMint {
        mint: id("Es9vMFrzaCERmJfrF4H2FYD4KCoNkY11McCe8BenwNYB"),
        symbol: "USDT",
        decimals: 6,
        program: TOKEN_PROGRAM,
    },
];

/// Mints with metadata on `network` (mainnet-beta only; devnet and testnet mints are anyone's).
pub fn known_mints(network: &str) -> &'static [KnownMint] {
    if network == "mainnet-beta" {
        MAINNET_MINTS
    } else {
        &[]
    }
}

/// Metadata for `mint` on `network` (any token program).
pub fn known_mint(network: &str, mint: &Pubkey) -> Option<&'static KnownMint> {
    known_mints(network).iter().find(|m| &m.mint == mint)
}

/// Metadata for `mint` on `network` when used under `program`, the program that owns it (the
/// same mint address under another token program is not that token: the transfer would fail).
pub fn known_mint_of(network: &str, program: &Pubkey, mint: &Pubkey) -> Option<&'static KnownMint> {
    known_mint(network, mint).filter(|m| &m.program == program)
}

/// Whether `program` is SPL Token or Token-2022.
pub fn is_token_program(program: &Pubkey) -> bool {
    *program == TOKEN_PROGRAM || *program == TOKEN_2022_PROGRAM
}

/// Base58 text of an address.
pub fn b58(key: &Pubkey) -> String {
    bs58::encode(key).into_string()
}

/// Parses the base58 text of a 32-byte address, canonical form only.
pub fn parse_b58(text: &str) -> Option<Pubkey> {
    let bytes = bs58::decode(text).into_vec().ok()?;
    let key = Pubkey::try_from(bytes.as_slice()).ok()?;
    (b58(&key) == text).then_some(key)
}
