//! What a transaction's call data does to the wallet: every call it makes (a multicall's and an
//! `upgradeToAndCall`'s inner calls included), the tokens and NFTs it moves, the allowances it
//! grants or revokes, the control over contracts it hands over, and the risk flags.
//!
//! The adapter describes every effect or says it cannot: a call it does not know is listed as
//! method `unknown` with `UnknownSelector` (policy templates refuse those), and a payload it
//! cannot list within bounds is refused.
//!
//! Two selectors mean different things on ERC-20 and ERC-721 contracts: `transferFrom` and
//! `approve` take an amount on one and a token id on the other. On a listed token or collection
//! the adapter knows which; on an unlisted contract the argument is named `amountOrTokenId`,
//! the intent counts it as that many base units of an unknown token (at least one: token id 0
//! is one NFT), and the intent is a `contract_call` so its summary shows the arguments.

use alloy_dyn_abi::DynSolValue;
use alloy_primitives::{Address, U256};
use tessera_chain::{
    Allowance, AuthorityChange, ChainError, ContractCall, Result, RiskFlag, Transfer,
};

use crate::allowance::{entry, granted};
use crate::calldata::{amount_of, decode_known, method_of, unknown_call, Class, Control};
use crate::keys::checksummed;
use crate::network::{Network, NftItems};

/// Deepest nesting of calls within calls (a multicall in a multicall, `upgradeToAndCall`'s data).
const MAX_DEPTH: usize = 4;

/// Most calls one transaction may make through nesting.
const MAX_CALLS: usize = 64;

/// Everything a transaction's call data does, in the order the calls run.
#[derive(Debug, Default)]
pub(crate) struct Effects {
    /// Every call, outer before inner.
    pub calls: Vec<ContractCall>,
    /// Tokens and NFTs moved.
    pub transfers: Vec<Transfer>,
    /// Allowances granted or revoked.
    pub allowances: Vec<Allowance>,
    /// Control handed over.
    pub authorities: Vec<AuthorityChange>,
    /// Risk flags (unsorted, may repeat).
    pub flags: Vec<RiskFlag>,
    /// Some argument could be read two ways (see the module docs).
    pub ambiguous: bool,
    /// Calls that do something themselves (not a multicall's wrapper).
    effective: usize,
}

impl Effects {
    /// Whether the call data is one plain transfer (intent kind `transfer`): a single call that
    /// only moves tokens or NFTs and can be read one way only.
    pub(crate) fn is_plain_transfer(&self) -> bool {
        self.calls.len() == 1
            && !self.transfers.is_empty()
            && self.allowances.is_empty()
            && self.authorities.is_empty()
            && !self.ambiguous
    }

    fn flag(&mut self, f: RiskFlag) {
        self.flags.push(f);
    }

    fn allow(&mut self, (allowance, flags): (Allowance, Vec<RiskFlag>)) {
        self.allowances.push(allowance);
        self.flags.extend(flags);
    }

    /// Renames argument `index` of call `call` (its meaning depends on the contract).
    fn rename_arg(&mut self, call: usize, index: usize, name: &str) {
        if let Some(a) = self.calls.get_mut(call).and_then(|c| c.args.get_mut(index)) {
            a.name = name.to_string();
        }
    }
}

/// The network and the wallet that sends.
struct Ctx<'a> {
    net: &'a Network,
    wallet: &'a Address,
}

impl Ctx<'_> {
    /// `Transfer.from`: `None` for the wallet itself.
    fn source_of(&self, from: &Address) -> Option<String> {
        (from != self.wallet).then(|| checksummed(from))
    }
}

/// Decodes the call data `data` that the wallet sends to `contract` on `net`.
pub(crate) fn decode(
    net: &Network,
    wallet: &Address,
    contract: &Address,
    data: &[u8],
) -> Result<Effects> {
    let mut fx = Effects::default();
    call(&Ctx { net, wallet }, contract, data, 0, &mut fx)?;
    if fx.effective > 1 {
        fx.flag(RiskFlag::MultipleOperations);
    }
    Ok(fx)
}

/// One call (and, for multicalls and `upgradeToAndCall`, the calls inside it).
fn call(
    ctx: &Ctx<'_>,
    contract: &Address,
    data: &[u8],
    depth: usize,
    fx: &mut Effects,
) -> Result<()> {
    if fx.calls.len() >= MAX_CALLS {
        return Err(ChainError::unsupported(
            "tx.data",
            format!("more than {MAX_CALLS} calls in one transaction"),
        ));
    }
    let Some(method) = method_of(data) else {
        fx.calls.push(unknown_call(contract, data));
        fx.flag(RiskFlag::UnknownSelector);
        fx.effective += 1;
        return Ok(());
    };
    let (record, values) = decode_known(method, contract, data.get(4..).unwrap_or_default())?;
    let index = fx.calls.len();
    fx.calls.push(record);
    if method.class != Class::Multicall {
        fx.effective += 1;
    }
    let args = Args(&values);
    match method.class {
        Class::Erc20Transfer => {
            let from = None;
            token_transfer(ctx, contract, from, &args.address(0)?, &args.uint(1)?, fx);
        }
        Class::TransferFrom => transfer_from(ctx, contract, &args, index, fx)?,
        Class::Approve => approve(ctx, contract, &args, index, fx)?,
        Class::IncreaseAllowance => increase_allowance(ctx, contract, &args, fx)?,
        Class::Erc721SafeTransfer => {
            let (from, to, id) = (args.address(0)?, args.address(1)?, args.uint(2)?);
            nft_transfer(ctx, contract, &from, &to, &id, &U256::from(1u8), fx);
        }
        Class::Erc1155Transfer => {
            let (from, to) = (args.address(0)?, args.address(1)?);
            nft_transfer(
                ctx,
                contract,
                &from,
                &to,
                &args.uint(2)?,
                &args.uint(3)?,
                fx,
            );
        }
        Class::Erc1155BatchTransfer => batch_transfer(ctx, contract, &args, fx)?,
        Class::ApprovalForAll => approval_for_all(ctx, contract, &args, fx)?,
        Class::Authority(control) => authority(ctx, contract, control, &args, depth, fx)?,
        Class::Multicall => {
            let inner = args.bytes_list(values.len().saturating_sub(1))?;
            nested(ctx, contract, &inner, depth, fx)?;
        }
    }
    Ok(())
}

/// Calls run by `contract` on itself on the wallet's behalf.
fn nested(
    ctx: &Ctx<'_>,
    contract: &Address,
    inner: &[Vec<u8>],
    depth: usize,
    fx: &mut Effects,
) -> Result<()> {
    if !inner.is_empty() && depth + 1 >= MAX_DEPTH {
        return Err(ChainError::unsupported(
            "tx.data",
            format!("calls nested more than {MAX_DEPTH} deep"),
        ));
    }
    for data in inner {
        call(ctx, contract, data, depth + 1, fx)?;
    }
    Ok(())
}

fn token_transfer(
    ctx: &Ctx<'_>,
    contract: &Address,
    from: Option<String>,
    to: &Address,
    amount: &U256,
    fx: &mut Effects,
) {
    let (asset, known) = ctx.net.token_asset(contract);
    if !known {
        fx.flag(RiskFlag::UnknownToken);
    }
    fx.transfers.push(Transfer {
        to: checksummed(to),
        asset,
        amount: amount_of(amount),
        from,
    });
}

fn nft_transfer(
    ctx: &Ctx<'_>,
    contract: &Address,
    from: &Address,
    to: &Address,
    id: &U256,
    count: &U256,
    fx: &mut Effects,
) {
    let (asset, _) = ctx.net.nft_asset(contract, NftItems::Id(id));
    fx.transfers.push(Transfer {
        to: checksummed(to),
        asset,
        amount: amount_of(count),
        from: ctx.source_of(from),
    });
}

/// `transferFrom(from, to, word)`: ERC-20 units, an ERC-721 token, or (unlisted contract)
/// either.
fn transfer_from(
    ctx: &Ctx<'_>,
    contract: &Address,
    args: &Args<'_>,
    index: usize,
    fx: &mut Effects,
) -> Result<()> {
    let (from, to, word) = (args.address(0)?, args.address(1)?, args.uint(2)?);
    if ctx.net.is_nft(contract) {
        fx.rename_arg(index, 2, "tokenId");
        nft_transfer(ctx, contract, &from, &to, &word, &U256::from(1u8), fx);
    } else if ctx.net.token_asset(contract).1 {
        token_transfer(ctx, contract, ctx.source_of(&from), &to, &word, fx);
    } else {
        fx.rename_arg(index, 2, "amountOrTokenId");
        fx.ambiguous = true;
        let at_least_one = word.max(U256::from(1u8));
        token_transfer(ctx, contract, ctx.source_of(&from), &to, &at_least_one, fx);
    }
    Ok(())
}

/// `approve(spender, word)`: an ERC-20 allowance, one ERC-721 token's approval, or (unlisted
/// contract) either.
fn approve(
    ctx: &Ctx<'_>,
    contract: &Address,
    args: &Args<'_>,
    index: usize,
    fx: &mut Effects,
) -> Result<()> {
    let (spender, word) = (args.address(0)?, args.uint(1)?);
    let spender_text = checksummed(&spender);
    if ctx.net.is_nft(contract) {
        fx.rename_arg(index, 1, "tokenId");
        let (asset, _) = ctx.net.nft_asset(contract, NftItems::Id(&word));
        // Approving the zero address clears the token's approval.
        let count = u128::from(spender != Address::ZERO);
        let amount = Some(tessera_chain::Amount::from_u128(count));
        fx.allow(entry(spender_text, asset, amount, None, "approve"));
        return Ok(());
    }
    let (asset, known) = ctx.net.token_asset(contract);
    let word = if known {
        word
    } else {
        fx.rename_arg(index, 1, "amountOrTokenId");
        fx.ambiguous = true;
        fx.flag(RiskFlag::UnknownToken);
        word.max(U256::from(1u8))
    };
    let amount = granted(&word, asset.decimals);
    fx.allow(entry(spender_text, asset, amount, None, "approve"));
    Ok(())
}

/// `increaseAllowance(spender, addedValue)`: an ERC-20 allowance on top of the current one.
fn increase_allowance(
    ctx: &Ctx<'_>,
    contract: &Address,
    args: &Args<'_>,
    fx: &mut Effects,
) -> Result<()> {
    let (asset, known) = ctx.net.token_asset(contract);
    if !known {
        fx.flag(RiskFlag::UnknownToken);
    }
    let amount = granted(&args.uint(1)?, asset.decimals);
    let spender = checksummed(&args.address(0)?);
    fx.allow(entry(spender, asset, amount, None, "increase_allowance"));
    Ok(())
}

/// `setApprovalForAll(operator, approved)`: every item of the collection, or a revocation.
fn approval_for_all(
    ctx: &Ctx<'_>,
    contract: &Address,
    args: &Args<'_>,
    fx: &mut Effects,
) -> Result<()> {
    let operator = checksummed(&args.address(0)?);
    let approved = args.bool(1)?;
    let (asset, _) = ctx.net.nft_asset(contract, NftItems::Any);
    let amount = (!approved).then(tessera_chain::Amount::zero);
    fx.allow(entry(operator, asset, amount, None, "set_approval_for_all"));
    if approved {
        fx.flag(RiskFlag::PrivilegedCall);
    }
    Ok(())
}

/// ERC-1155 `safeBatchTransferFrom`: one transfer per (id, value) pair.
fn batch_transfer(
    ctx: &Ctx<'_>,
    contract: &Address,
    args: &Args<'_>,
    fx: &mut Effects,
) -> Result<()> {
    let (from, to) = (args.address(0)?, args.address(1)?);
    let (ids, values) = (args.uints(2)?, args.uints(3)?);
    if ids.len() != values.len() {
        return Err(ChainError::malformed(
            "tx.data",
            format!(
                "safeBatchTransferFrom: {} ids but {} values",
                ids.len(),
                values.len()
            ),
        ));
    }
    for (id, value) in ids.iter().zip(&values) {
        nft_transfer(ctx, contract, &from, &to, id, value, fx);
    }
    Ok(())
}

/// Ownership, admin, role and upgrade calls: an authority change each (and the call an
/// `upgradeToAndCall` runs).
fn authority(
    ctx: &Ctx<'_>,
    contract: &Address,
    control: Control,
    args: &Args<'_>,
    depth: usize,
    fx: &mut Effects,
) -> Result<()> {
    let holder = |a: Address| (a != Address::ZERO).then(|| checksummed(&a));
    let (authority, new_authority) = match control {
        Control::Owner => ("contract_owner".to_string(), holder(args.address(0)?)),
        Control::RenounceOwner => ("contract_owner".to_string(), None),
        Control::Upgrade | Control::UpgradeAndCall => {
            ("implementation".to_string(), holder(args.address(0)?))
        }
        Control::Admin => ("proxy_admin".to_string(), holder(args.address(0)?)),
        Control::GrantRole => (format!("role {}", args.word(0)?), holder(args.address(1)?)),
        Control::RevokeRole => (
            format!(
                "role {} of {}",
                args.word(0)?,
                checksummed(&args.address(1)?)
            ),
            None,
        ),
    };
    fx.authorities.push(AuthorityChange {
        account: checksummed(contract),
        authority,
        new_authority,
    });
    fx.flag(RiskFlag::PrivilegedCall);
    if control == Control::UpgradeAndCall {
        let data = args.bytes(1)?;
        if !data.is_empty() {
            // The new implementation runs `data` in the proxy, for the wallet.
            nested(ctx, contract, &[data], depth, fx)?;
        }
    }
    Ok(())
}

/// Typed access to decoded arguments (their types were checked by the ABI decoder; a mismatch
/// would be a table error, reported as malformed call data rather than a panic).
struct Args<'a>(&'a [DynSolValue]);

impl Args<'_> {
    fn get(&self, i: usize) -> Result<&DynSolValue> {
        self.0
            .get(i)
            .ok_or_else(|| ChainError::malformed("tx.data", "arguments do not decode"))
    }

    fn mismatch() -> ChainError {
        ChainError::malformed("tx.data", "arguments do not decode")
    }

    fn address(&self, i: usize) -> Result<Address> {
        self.get(i)?.as_address().ok_or_else(Self::mismatch)
    }

    fn uint(&self, i: usize) -> Result<U256> {
        self.get(i)?
            .as_uint()
            .map(|(u, _)| u)
            .ok_or_else(Self::mismatch)
    }

    fn bool(&self, i: usize) -> Result<bool> {
        self.get(i)?.as_bool().ok_or_else(Self::mismatch)
    }

    fn bytes(&self, i: usize) -> Result<Vec<u8>> {
        self.get(i)?
            .as_bytes()
            .map(<[u8]>::to_vec)
            .ok_or_else(Self::mismatch)
    }

    /// A `bytes32` as `0x` hex.
    fn word(&self, i: usize) -> Result<String> {
        match self.get(i)? {
            DynSolValue::FixedBytes(w, 32) => Ok(format!("0x{}", hex::encode(w))),
            _ => Err(Self::mismatch()),
        }
    }

    fn uints(&self, i: usize) -> Result<Vec<U256>> {
        let items = self.get(i)?.as_array().ok_or_else(Self::mismatch)?;
        items
            .iter()
            .map(|v| v.as_uint().map(|(u, _)| u).ok_or_else(Self::mismatch))
            .collect()
    }

    fn bytes_list(&self, i: usize) -> Result<Vec<Vec<u8>>> {
        let items = self.get(i)?.as_array().ok_or_else(Self::mismatch)?;
        items
            .iter()
            .map(|v| v.as_bytes().map(<[u8]>::to_vec).ok_or_else(Self::mismatch))
            .collect()
    }
}
