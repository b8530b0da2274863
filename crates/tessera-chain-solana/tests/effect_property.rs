//! The conformance property of issue 16 for Solana: for every message the adapter accepts,
//! every asset movement, allowance, authority change and the fee appear in the intent.
//!
//! Messages are random lists of instructions (System, SPL Token / Token-2022, associated token
//! accounts, compute budget, unknown programs), built with the Solana crates' instruction
//! builders where they exist and compiled by the official `Message::new_with_blockhash`. The
//! expected effects come from a decoder independent of the adapter: the official compiled
//! message for programs and accounts, the Solana crates' own `SystemInstruction`
//! deserialization (bincode) for the System program, and the SPL Token instruction layouts
//! written out here for the token programs. The mint of a token account comes from the
//! generator, which knows every account it made up. A seeded loop, so a failure replays.
#![allow(clippy::unwrap_used)] // test code: a panic is a test failure

mod common;

use std::collections::HashMap;

use common::*;
use solana_system_interface::instruction::{self as system, SystemInstruction};
use solana_transaction::{AccountMeta, Hash, Instruction, Message};
use tessera_chain::{ChainAdapter, Intent, IntentKind, RiskFlag};
use tessera_chain_solana::programs::{
    ASSOCIATED_TOKEN_PROGRAM, COMPUTE_BUDGET_PROGRAM, SYSTEM_PROGRAM, TOKEN_2022_PROGRAM,
    TOKEN_PROGRAM,
};
use tessera_chain_solana::Solana;

const MAINNET: &str = "mainnet-beta";
const CASES: u64 = 3_000;

/// xorshift64*: a small deterministic generator, so a failing seed replays.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn key(&mut self, pool: u8) -> [u8; 32] {
        // A small pool, so accounts repeat across instructions.
        [0x40 + self.below(u64::from(pool)) as u8; 32]
    }
    fn amount(&mut self) -> u64 {
        match self.below(6) {
            0 => 0,
            1 => u64::MAX,
            2 => 1_000_000_000_000_000_000,
            3 => 1 << 63,
            _ => self.below(10_000_000_000),
        }
    }
}

/// What the generator knows: the mint of each token account it used.
struct Gen {
    wallet: [u8; 32],
    mint_of: HashMap<[u8; 32], [u8; 32]>,
    budget_limit: bool,
    budget_price: bool,
}

const MINTS: [&str; 2] = [USDC, USDT];

impl Gen {
    fn mint(&mut self, rng: &mut Rng) -> ([u8; 32], u8) {
        match rng.below(3) {
            0 => (from_b58(MINTS[rng.below(2) as usize]), 6),
            _ => ([0x30 + rng.below(3) as u8; 32], rng.below(10) as u8),
        }
    }

    /// A token account of `mint`: the wallet's associated account, or a made-up one that only
    /// ever holds `mint` (so the generator's record is the truth).
    fn account(&mut self, rng: &mut Rng, mint: &[u8; 32], program: &[u8; 32]) -> [u8; 32] {
        let a = if rng.below(2) == 0 {
            tessera_chain_solana::pda::associated_token_address(&self.wallet, program, mint)
                .unwrap()
        } else {
            let mut a = *mint;
            a[0] ^= 0xff;
            a[1] = rng.below(4) as u8;
            a
        };
        self.mint_of.insert(a, *mint);
        a
    }

    fn instruction(&mut self, rng: &mut Rng) -> Instruction {
        let w = self.wallet;
        let program = if rng.below(4) == 0 {
            TOKEN_2022_PROGRAM
        } else {
            TOKEN_PROGRAM
        };
        let with_program = |mut ix: Instruction| {
            if ix.program_id == sol(&TOKEN_PROGRAM) {
                ix.program_id = sol(&program);
            }
            ix
        };
        match rng.below(18) {
            0 | 1 => sol_transfer(&w, &rng.key(16), rng.below(5_000_000_000)),
            2 => system::assign(&sol(&w), &sol(&rng.key(16))),
            3 => system::create_account_with_seed(
                &sol(&w),
                &sol(&rng.key(16)),
                &sol(&w),
                "seed",
                rng.below(10_000_000),
                rng.below(1000),
                &sol(&rng.key(16)),
            ),
            4 => system::authorize_nonce_account(&sol(&rng.key(16)), &sol(&w), &sol(&rng.key(16))),
            5 => system::advance_nonce_account(&sol(&rng.key(16)), &sol(&w)),
            6 => match rng.below(3) {
                0 => system::withdraw_nonce_account(
                    &sol(&rng.key(16)),
                    &sol(&w),
                    &sol(&rng.key(16)),
                    rng.below(1_000_000),
                ),
                1 => system::allocate(&sol(&w), 10),
                _ => {
                    system::assign_with_seed(&sol(&rng.key(16)), &sol(&w), "s", &sol(&rng.key(16)))
                }
            },
            7 | 8 => {
                let (mint, decimals) = self.mint(rng);
                let source = self.account(rng, &mint, &program);
                let dest = self.account(rng, &mint, &program);
                with_program(transfer_checked(
                    &source,
                    &mint,
                    &dest,
                    &w,
                    rng.amount(),
                    decimals,
                ))
            }
            9 => {
                let (mint, _) = self.mint(rng);
                let source = self.account(rng, &mint, &program);
                let dest = self.account(rng, &mint, &program);
                with_program(token_transfer(&source, &dest, &w, rng.amount()))
            }
            10 => {
                let (mint, decimals) = self.mint(rng);
                let source = self.account(rng, &mint, &program);
                let delegate = rng.key(16);
                with_program(if rng.below(2) == 0 {
                    approve(&source, &delegate, &w, rng.amount())
                } else {
                    approve_checked(&source, &mint, &delegate, &w, rng.amount(), decimals)
                })
            }
            11 => {
                let (mint, _) = self.mint(rng);
                with_program(revoke(&self.account(rng, &mint, &program), &w))
            }
            12 => {
                let target = rng.key(16);
                let new = (rng.below(2) == 0).then(|| rng.key(16));
                with_program(set_authority(&target, rng.below(9) as u8, new.as_ref(), &w))
            }
            13 => {
                let (mint, _) = self.mint(rng);
                let owner = rng.key(16);
                let ata =
                    tessera_chain_solana::pda::associated_token_address(&owner, &program, &mint)
                        .unwrap();
                self.mint_of.insert(ata, mint);
                create_ata_with(&w, &owner, &mint, &program, rng.below(2) == 0)
            }
            14 if !self.budget_limit || rng.below(8) == 0 => {
                self.budget_limit = true;
                compute_limit(rng.below(2_000_000) as u32)
            }
            15 if !self.budget_price || rng.below(8) == 0 => {
                self.budget_price = true;
                compute_price(rng.below(50_000_000))
            }
            16 => {
                // An instruction of another program, or one of these programs the adapter does
                // not decode (token Burn, tag 8).
                let data: Vec<u8> = (0..rng.below(12)).map(|_| rng.next() as u8).collect();
                if rng.below(2) == 0 {
                    Instruction::new_with_bytes(
                        sol(&rng.key(4)),
                        &data,
                        vec![AccountMeta::new(sol(&w), true)],
                    )
                } else {
                    let mut burn = vec![8];
                    burn.extend_from_slice(&rng.amount().to_le_bytes());
                    token_ix(
                        &program,
                        burn,
                        &[(rng.key(16), false, true), (w, true, false)],
                    )
                }
            }
            _ => sol_transfer(&w, &rng.key(16), 1 + rng.below(1_000)),
        }
    }
}

/// The effects of a compiled message, decoded independently of the adapter.
#[derive(Default, Debug)]
struct Expected {
    sol: Vec<(String, u128)>,
    tokens: Vec<(String, u128)>,
    /// (spender, raw amount, decimals known to the instruction or the known-mint table).
    approvals: Vec<(String, u64, Option<u8>)>,
    revokes: usize,
    authorities: Vec<(String, Option<String>)>,
    calls: usize,
    non_compute_budget: u64,
    unknown: bool,
    cu_limit: Option<u32>,
    cu_price: Option<u64>,
}

fn le_u64(data: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(data[at..at + 8].try_into().unwrap())
}

/// Rent-exempt minimum of an account of `len` bytes: `(len + 128) × 3480 × 2` lamports.
fn rent(len: u64) -> u128 {
    u128::from((len + 128) * 3480 * 2)
}

fn known_decimals(mint: &[u8; 32], program: &[u8; 32]) -> Option<u8> {
    (program == &TOKEN_PROGRAM && MINTS.iter().any(|m| from_b58(m) == *mint)).then_some(6)
}

fn expected(msg: &Message, mint_of: &HashMap<[u8; 32], [u8; 32]>) -> Option<Expected> {
    let mut e = Expected::default();
    for ci in &msg.instructions {
        let program = msg.account_keys[usize::from(ci.program_id_index)].to_bytes();
        let acc = |k: usize| msg.account_keys[usize::from(ci.accounts[k])].to_bytes();
        let data = ci.data.as_slice();
        if program == COMPUTE_BUDGET_PROGRAM {
            match data[0] {
                2 => e.cu_limit = Some(u32::from_le_bytes(data[1..5].try_into().unwrap())),
                _ => e.cu_price = Some(le_u64(data, 1)),
            }
            continue;
        }
        e.non_compute_budget += 1;
        if program == SYSTEM_PROGRAM {
            match bincode::deserialize::<SystemInstruction>(data).unwrap() {
                SystemInstruction::Transfer { lamports } => {
                    e.sol.push((b58(&acc(1)), u128::from(lamports)));
                    continue;
                }
                SystemInstruction::CreateAccount { lamports, .. }
                | SystemInstruction::CreateAccountWithSeed { lamports, .. } => {
                    e.sol.push((b58(&acc(1)), u128::from(lamports)))
                }
                SystemInstruction::Assign { owner }
                | SystemInstruction::AssignWithSeed { owner, .. } => {
                    e.authorities.push((b58(&acc(0)), Some(owner.to_string())))
                }
                SystemInstruction::AuthorizeNonceAccount(a) => {
                    e.authorities.push((b58(&acc(0)), Some(a.to_string())))
                }
                SystemInstruction::AdvanceNonceAccount => {}
                _ => e.unknown = true,
            }
        } else if program == TOKEN_PROGRAM || program == TOKEN_2022_PROGRAM {
            match data[0] {
                3 | 12 => {
                    let mint = if data[0] == 12 {
                        acc(1)
                    } else {
                        // The runtime requires source and destination of one mint.
                        *mint_of.get(&acc(0)).or_else(|| mint_of.get(&acc(1)))?
                    };
                    e.tokens.push((b58(&mint), u128::from(le_u64(data, 1))));
                }
                4 => e.approvals.push((
                    b58(&acc(1)),
                    le_u64(data, 1),
                    mint_of
                        .get(&acc(0))
                        .and_then(|m| known_decimals(m, &program)),
                )),
                13 => e
                    .approvals
                    .push((b58(&acc(2)), le_u64(data, 1), Some(data[9]))),
                5 => e.revokes += 1,
                6 => e.authorities.push((
                    b58(&acc(0)),
                    (data[2] == 1).then(|| b58(&data[3..35].try_into().unwrap())),
                )),
                _ => e.unknown = true,
            }
        } else if program == ASSOCIATED_TOKEN_PROGRAM {
            let len = if acc(5) == TOKEN_PROGRAM { 165 } else { 300 };
            e.sol.push((b58(&acc(2)), rent(len)));
        } else {
            e.unknown = true;
        }
        e.calls += 1;
    }
    Some(e)
}

/// `min(10^(12 + decimals), 2^63)`, `2^63` when the decimals are unknown (the adapter's rule).
fn unlimited(raw: u64, decimals: Option<u8>) -> bool {
    let cap = 1u128 << 63;
    let threshold = decimals.map_or(cap, |d| 10u128.pow(12 + u32::from(d)).min(cap));
    u128::from(raw) >= threshold
}

fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
    v.sort();
    v
}

fn check(i: &Intent, e: &Expected, ctx: &str) {
    let (native, tokens): (Vec<_>, Vec<_>) =
        i.transfers.iter().partition(|t| t.asset.contract.is_none());
    for t in &native {
        assert_eq!(
            t.asset.symbol, "SOL",
            "{ctx}: a transfer with no contract is SOL"
        );
    }
    let amount = |t: &&tessera_chain::Transfer| t.amount.to_u128().unwrap();
    let got_sol: Vec<(String, u128)> = native.iter().map(|t| (t.to.clone(), amount(t))).collect();
    assert_eq!(
        sorted(got_sol),
        sorted(e.sol.clone()),
        "{ctx}: SOL movements"
    );
    let got_tokens: Vec<(String, u128)> = tokens
        .iter()
        .map(|t| (t.asset.contract.clone().unwrap(), amount(t)))
        .collect();
    assert_eq!(
        sorted(got_tokens),
        sorted(e.tokens.clone()),
        "{ctx}: token movements"
    );

    let approvals: Vec<_> = i.allowances.iter().filter(|a| a.via == "approve").collect();
    let got: Vec<(String, Option<u128>)> = approvals
        .iter()
        .map(|a| {
            (
                a.spender.clone(),
                a.amount.as_ref().map(|x| x.to_u128().unwrap()),
            )
        })
        .collect();
    let want: Vec<(String, Option<u128>)> = e
        .approvals
        .iter()
        .map(|(s, raw, d)| {
            (
                s.clone(),
                (!unlimited(*raw, *d)).then_some(u128::from(*raw)),
            )
        })
        .collect();
    assert_eq!(sorted(got), sorted(want), "{ctx}: approvals");
    let revokes: Vec<_> = i.allowances.iter().filter(|a| a.via == "revoke").collect();
    assert_eq!(revokes.len(), e.revokes, "{ctx}: revokes");
    assert!(revokes
        .iter()
        .all(|a| a.amount.as_ref().is_some_and(|x| x.is_zero())));
    assert!(
        i.allowances.iter().all(|a| a.asset.contract.is_some()),
        "{ctx}: an allowance of a token names it"
    );

    let got: Vec<(String, Option<String>)> = i
        .authorities
        .iter()
        .map(|a| (a.account.clone(), a.new_authority.clone()))
        .collect();
    assert_eq!(got, e.authorities, "{ctx}: authority changes, in order");

    assert_eq!(i.calls.len(), e.calls, "{ctx}: one call per instruction");
    let flag = |f| i.risk_flags.contains(&f);
    assert_eq!(
        flag(RiskFlag::MultipleOperations),
        e.non_compute_budget > 1,
        "{ctx}: multiple_operations"
    );
    assert_eq!(flag(RiskFlag::UnknownSelector), e.unknown, "{ctx}: unknown");
    let grants = !e.approvals.is_empty() || !e.authorities.is_empty();
    assert_eq!(flag(RiskFlag::GrantsAuthority), grants, "{ctx}: grants");
    let any_unlimited = e.approvals.iter().any(|(_, r, d)| unlimited(*r, *d));
    assert_eq!(
        flag(RiskFlag::UnlimitedApproval),
        any_unlimited,
        "{ctx}: unlimited"
    );
    let quiet = !e.unknown && !grants && e.revokes == 0;
    assert_eq!(
        i.kind == IntentKind::Transfer,
        quiet && !i.transfers.is_empty(),
        "{ctx}: kind"
    );

    let limit = match e.cu_limit {
        Some(l) => u128::from(l).min(1_400_000),
        None => (200_000 * u128::from(e.non_compute_budget)).min(1_400_000),
    };
    let fee = 5_000 + (limit * u128::from(e.cu_price.unwrap_or(0))).div_ceil(1_000_000);
    assert_eq!(
        i.fee.as_ref().unwrap().max.to_u128(),
        Some(fee),
        "{ctx}: fee"
    );
}

#[test]
fn every_accepted_message_shows_every_effect() {
    let k = key(1);
    let w = pk(&k);
    let mut rng = Rng(0x1605_5eed_0000_0001);
    let (mut accepted, mut refused) = (0, 0);
    let mut seen_kinds = [false; 4];
    for case in 0..CASES {
        let mut gen = Gen {
            wallet: w,
            mint_of: HashMap::new(),
            budget_limit: false,
            budget_price: false,
        };
        let ixs: Vec<Instruction> = (0..1 + rng.below(5))
            .map(|_| gen.instruction(&mut rng))
            .collect();
        let msg =
            Message::new_with_blockhash(&ixs, Some(&sol(&w)), &Hash::new_from_array(BLOCKHASH));
        let bytes = msg.serialize();
        if bytes.len() > 1232 - 65 {
            continue;
        }
        let ctx = format!("case {case}: {ixs:?}");
        match Solana.parse(MAINNET, k.wallet_key(), &payload(bytes)) {
            Ok(parsed) => {
                let e = expected(&msg, &gen.mint_of).unwrap_or_else(|| {
                    panic!("{ctx}: accepted a token transfer whose mint is unknowable")
                });
                check(&parsed.intent, &e, &ctx);
                accepted += 1;
                seen_kinds[0] |= !e.sol.is_empty();
                seen_kinds[1] |= !e.tokens.is_empty();
                seen_kinds[2] |= !e.approvals.is_empty();
                seen_kinds[3] |= !e.authorities.is_empty();
            }
            Err(_) => refused += 1,
        }
    }
    // The property is not vacuous: many messages of every kind were accepted.
    eprintln!("accepted {accepted}, refused {refused}");
    assert!(
        accepted > CASES / 4,
        "accepted {accepted}, refused {refused}"
    );
    assert!(seen_kinds.iter().all(|s| *s), "{seen_kinds:?}");
}
