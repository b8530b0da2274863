//! Associated-token-account creations: who pays, the derivation, and the rent they take.

use tessera_chain::{ChainError, ContractCall, Result};

use crate::decode::arg;
use crate::message::{LegacyMessage, Pubkey};
use crate::pda::associated_token_address;
use crate::programs::{
    b58, is_token_program, rent_exempt_minimum, ASSOCIATED_TOKEN_PROGRAM, SYSTEM_PROGRAM,
    TOKEN_2022_ACCOUNT_MAX_LEN, TOKEN_ACCOUNT_LEN, TOKEN_PROGRAM,
};

/// An associated-token-account creation found in the message (derivation verified).
#[derive(Debug, Clone, Copy)]
pub(crate) struct AtaCreate {
    pub(crate) index: usize,
    pub(crate) ata: Pubkey,
    pub(crate) owner: Pubkey,
    pub(crate) mint: Pubkey,
    pub(crate) token_program: Pubkey,
    pub(crate) idempotent: bool,
}

impl AtaCreate {
    /// The most lamports the creation takes from the wallet: the rent-exempt deposit of the new
    /// account (exact for SPL Token, an upper bound for Token-2022, whose accounts grow with the
    /// mint's extensions). `CreateIdempotent` of an account that already exists takes nothing;
    /// the bound is counted all the same.
    pub(crate) fn rent_bound(&self) -> u64 {
        let len = if self.token_program == TOKEN_PROGRAM {
            TOKEN_ACCOUNT_LEN
        } else {
            TOKEN_2022_ACCOUNT_MAX_LEN
        };
        rent_exempt_minimum(len)
    }
}

/// Finds the associated-token-account creations (`Create`, `CreateIdempotent`) under SPL Token
/// or Token-2022, checking who pays and the derivation. Other ATA instructions, and creations
/// for another token program (whose account size, and so rent, is unknown), are left to the
/// caller as unknown instructions.
pub(crate) fn ata_creates(msg: &LegacyMessage, wallet: &Pubkey) -> Result<Vec<AtaCreate>> {
    let mut out = Vec::new();
    for (i, ix) in msg.instructions.iter().enumerate() {
        if msg.program_id(ix) != Some(&ASSOCIATED_TOKEN_PROGRAM) {
            continue;
        }
        let idempotent = match ix.data.as_slice() {
            [] | [0] => false,
            [1] => true,
            _ => continue,
        };
        let account = |pos: usize, name: &str| {
            msg.instruction_account(ix, pos).copied().ok_or_else(|| {
                ChainError::malformed(
                    format!("message.instructions[{i}].accounts"),
                    format!(
                        "{} accounts: account {pos} ({name}) is missing",
                        ix.accounts.len()
                    ),
                )
            })
        };
        let funder = account(0, "funding account")?;
        let ata = account(1, "associated token account")?;
        let owner = account(2, "wallet")?;
        let mint = account(3, "mint")?;
        let system = account(4, "System program")?;
        let token_program = account(5, "token program")?;
        if !is_token_program(&token_program) {
            continue;
        }
        if funder != *wallet {
            return Err(ChainError::not_owned(
                format!("message.instructions[{i}]"),
                format!(
                    "the account creation is funded by {}, not this wallet",
                    b58(&funder)
                ),
            ));
        }
        if system != SYSTEM_PROGRAM {
            return Err(ChainError::malformed(
                format!("message.instructions[{i}].accounts[4]"),
                format!("{} is not the System program", b58(&system)),
            ));
        }
        check_derivation(i, &ata, &owner, &token_program, &mint)?;
        out.push(AtaCreate {
            index: i,
            ata,
            owner,
            mint,
            token_program,
            idempotent,
        });
    }
    Ok(out)
}

fn check_derivation(
    i: usize,
    ata: &Pubkey,
    owner: &Pubkey,
    token_program: &Pubkey,
    mint: &Pubkey,
) -> Result<()> {
    let field = || format!("message.instructions[{i}].accounts[1]");
    let derived = associated_token_address(owner, token_program, mint).ok_or_else(|| {
        ChainError::malformed(
            field(),
            "no associated token address exists for this owner and mint",
        )
    })?;
    if derived != *ata {
        return Err(ChainError::malformed(
            field(),
            format!(
                "{} is not the associated token account of {} for mint {} (that is {})",
                b58(ata),
                b58(owner),
                b58(mint),
                b58(&derived)
            ),
        ));
    }
    Ok(())
}

/// The call of a creation; its rent is a SOL transfer to the new account's owner, who can
/// reclaim it by closing the account.
pub(crate) fn ata_call(c: &AtaCreate) -> ContractCall {
    let bound = if c.token_program == TOKEN_PROGRAM {
        "exactly"
    } else {
        "at most"
    };
    ContractCall {
        contract: b58(&ASSOCIATED_TOKEN_PROGRAM),
        method: if c.idempotent {
            "createIdempotent"
        } else {
            "create"
        }
        .into(),
        selector: if c.idempotent { "01" } else { "00" }.into(),
        args: vec![
            arg("owner", b58(&c.owner)),
            arg("mint", b58(&c.mint)),
            arg("account", b58(&c.ata)),
            arg("token_program", b58(&c.token_program)),
            arg("rent_payer", "the wallet"),
            arg(
                "rent_lamports",
                format!(
                    "{bound} {} (the new account's rent-exempt deposit, counted as a SOL transfer \
                     to its owner)",
                    c.rent_bound()
                ),
            ),
        ],
    }
}
