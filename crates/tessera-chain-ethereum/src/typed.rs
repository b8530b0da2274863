//! EIP-712 messages that move funds without a transaction, decoded into the allowances (and, for
//! orders, the assets received) that the intent lists: EIP-2612 `Permit`, DAI's `Permit`,
//! ERC-4494 NFT `Permit`, Uniswap Permit2 (`PermitSingle`, `PermitBatch`, `PermitTransferFrom`,
//! `PermitBatchTransferFrom` and their `…Witness…` forms) and Seaport `OrderComponents`
//! ([`crate::seaport`]).
//!
//! A message is recognised by its type definitions, never by its name alone: the primary type
//! and every struct it references must be declared exactly as the standard declares them, so
//! the type hash is the one the contracts check. A message with another shape is shown as
//! typed data the adapter cannot read (flag `OffchainSignature` only).
//!
//! The values are alloy's coercion of the message (what is hashed and signed), not the JSON.
//!
//! `expires_at` is when the allowance itself ends: a Permit2 allowance's `expiration` (its
//! `sigDeadline` when the expiration is 0, which Permit2 reads as "this block"), a Permit2
//! transfer permit's or an order's `deadline` / `endTime`. An EIP-2612, DAI or ERC-4494
//! permit's deadline only bounds when the signature can be used: the allowance it sets stays,
//! so `expires_at` is `None`.

use std::collections::BTreeMap;

use alloy_dyn_abi::{DynSolValue, TypedData};
use alloy_primitives::{Address, U256};
use tessera_chain::{Allowance, Amount, ChainError, Result, RiskFlag, Transfer};

use crate::allowance::{entry, granted, unix_time};
use crate::keys::checksummed;
use crate::network::{Network, NftItems};

/// A struct's fields as EIP-712 declares them: (name, type).
type Fields = &'static [(&'static str, &'static str)];

/// Field definitions of a typed-data payload: type name → fields.
pub(crate) type Defs<'a> = BTreeMap<&'a str, Vec<(&'a str, &'a str)>>;

/// What a recognised message does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Eip2612,
    DaiPermit,
    Erc4494,
    PermitSingle,
    PermitBatch,
    PermitTransfer,
    PermitBatchTransfer,
    SeaportOrder,
}

/// A standard message shape.
struct Shape {
    primary: &'static str,
    fields: Fields,
    /// Structs the fields reference, with their fields.
    refs: &'static [(&'static str, Fields)],
    /// Whether one more field `witness` of any type follows (Permit2's witness permits).
    witness: bool,
    kind: Kind,
}

const PERMIT_DETAILS: (&str, Fields) = (
    "PermitDetails",
    &[
        ("token", "address"),
        ("amount", "uint160"),
        ("expiration", "uint48"),
        ("nonce", "uint48"),
    ],
);

const TOKEN_PERMISSIONS: (&str, Fields) = (
    "TokenPermissions",
    &[("token", "address"), ("amount", "uint256")],
);

const PERMIT_TRANSFER: Fields = &[
    ("permitted", "TokenPermissions"),
    ("spender", "address"),
    ("nonce", "uint256"),
    ("deadline", "uint256"),
];

const PERMIT_BATCH_TRANSFER: Fields = &[
    ("permitted", "TokenPermissions[]"),
    ("spender", "address"),
    ("nonce", "uint256"),
    ("deadline", "uint256"),
];

const SHAPES: &[Shape] = &[
    Shape {
        primary: "Permit",
        fields: &[
            ("owner", "address"),
            ("spender", "address"),
            ("value", "uint256"),
            ("nonce", "uint256"),
            ("deadline", "uint256"),
        ],
        refs: &[],
        witness: false,
        kind: Kind::Eip2612,
    },
    Shape {
        primary: "Permit",
        fields: &[
            ("holder", "address"),
            ("spender", "address"),
            ("nonce", "uint256"),
            ("expiry", "uint256"),
            ("allowed", "bool"),
        ],
        refs: &[],
        witness: false,
        kind: Kind::DaiPermit,
    },
    Shape {
        primary: "Permit",
        fields: &[
            ("spender", "address"),
            ("tokenId", "uint256"),
            ("nonce", "uint256"),
            ("deadline", "uint256"),
        ],
        refs: &[],
        witness: false,
        kind: Kind::Erc4494,
    },
    Shape {
        primary: "PermitSingle",
        fields: &[
            ("details", "PermitDetails"),
            ("spender", "address"),
            ("sigDeadline", "uint256"),
        ],
        refs: &[PERMIT_DETAILS],
        witness: false,
        kind: Kind::PermitSingle,
    },
    Shape {
        primary: "PermitBatch",
        fields: &[
            ("details", "PermitDetails[]"),
            ("spender", "address"),
            ("sigDeadline", "uint256"),
        ],
        refs: &[PERMIT_DETAILS],
        witness: false,
        kind: Kind::PermitBatch,
    },
    Shape {
        primary: "PermitTransferFrom",
        fields: PERMIT_TRANSFER,
        refs: &[TOKEN_PERMISSIONS],
        witness: false,
        kind: Kind::PermitTransfer,
    },
    Shape {
        primary: "PermitWitnessTransferFrom",
        fields: PERMIT_TRANSFER,
        refs: &[TOKEN_PERMISSIONS],
        witness: true,
        kind: Kind::PermitTransfer,
    },
    Shape {
        primary: "PermitBatchTransferFrom",
        fields: PERMIT_BATCH_TRANSFER,
        refs: &[TOKEN_PERMISSIONS],
        witness: false,
        kind: Kind::PermitBatchTransfer,
    },
    Shape {
        primary: "PermitBatchWitnessTransferFrom",
        fields: PERMIT_BATCH_TRANSFER,
        refs: &[TOKEN_PERMISSIONS],
        witness: true,
        kind: Kind::PermitBatchTransfer,
    },
    Shape {
        primary: "OrderComponents",
        fields: crate::seaport::ORDER_COMPONENTS,
        refs: &[
            crate::seaport::OFFER_ITEM,
            crate::seaport::CONSIDERATION_ITEM,
        ],
        witness: false,
        kind: Kind::SeaportOrder,
    },
];

impl Shape {
    fn matches(&self, primary: &str, defs: &Defs<'_>) -> bool {
        let Some(fields) = defs.get(primary) else {
            return false;
        };
        let n = self.fields.len();
        let own = if self.witness {
            fields.len() == n + 1
                && fields.get(..n) == Some(self.fields)
                && fields.get(n).is_some_and(|(name, _)| *name == "witness")
        } else {
            fields[..] == *self.fields
        };
        primary == self.primary
            && own
            && self
                .refs
                .iter()
                .all(|(name, want)| defs.get(name).is_some_and(|have| have[..] == **want))
    }
}

/// What a recognised message does to the wallet.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TypedEffects {
    /// What the message is (`EIP-2612 permit`, `Permit2 allowance`, `Seaport order`, …).
    pub what: &'static str,
    /// Allowances it grants (an order's offer: what leaves the wallet when it is filled).
    pub allowances: Vec<Allowance>,
    /// What the wallet receives (an order's consideration paid to the wallet).
    pub received: Vec<Transfer>,
    /// Risk flags (unsorted, may repeat).
    pub flags: Vec<RiskFlag>,
}

impl TypedEffects {
    fn new(what: &'static str) -> Self {
        TypedEffects {
            what,
            ..Self::default()
        }
    }

    pub(crate) fn allow(&mut self, (allowance, flags): (Allowance, Vec<RiskFlag>)) {
        self.allowances.push(allowance);
        self.flags.extend(flags);
    }
}

/// The effects of `typed` signed by `wallet` on `net`, when it is one of the standard
/// messages; `None` for any other typed data.
pub(crate) fn decode(
    net: &Network,
    wallet: &Address,
    typed: &TypedData,
    defs: &Defs<'_>,
) -> Result<Option<TypedEffects>> {
    let primary = typed.primary_type.as_str();
    let Some(shape) = SHAPES.iter().find(|s| s.matches(primary, defs)) else {
        return Ok(None);
    };
    let value = typed
        .coerce()
        .map_err(|e| ChainError::malformed("message", e))?;
    let msg = Obj::new(&value, "message".into())?;
    let verifying = typed.domain.verifying_contract;
    let mut fx = match shape.kind {
        Kind::Eip2612 | Kind::DaiPermit | Kind::Erc4494 => {
            let token = verifying.ok_or_else(|| {
                ChainError::unsupported(
                    "domain.verifyingContract",
                    "a permit names its token as the verifying contract; this one names none",
                )
            })?;
            token_permit(net, wallet, &token, shape.kind, &msg)?
        }
        Kind::PermitSingle | Kind::PermitBatch => permit2_allowance(net, shape.kind, &msg)?,
        Kind::PermitTransfer | Kind::PermitBatchTransfer => {
            permit2_transfer(net, shape.kind, &msg)?
        }
        Kind::SeaportOrder => crate::seaport::order(net, wallet, verifying, &msg)?,
    };
    if fx.allowances.len() > 1 {
        fx.flags.push(RiskFlag::MultipleOperations);
    }
    Ok(Some(fx))
}

/// EIP-2612, DAI and ERC-4494 permits: an allowance on `token`, the verifying contract.
fn token_permit(
    net: &Network,
    wallet: &Address,
    token: &Address,
    kind: Kind,
    msg: &Obj<'_>,
) -> Result<TypedEffects> {
    let spender = checksummed(&msg.address("spender")?);
    if kind == Kind::Erc4494 {
        let mut fx = TypedEffects::new("ERC-4494 NFT permit");
        let id = msg.uint("tokenId")?;
        let (asset, _) = net.nft_asset(token, NftItems::Id(&id));
        fx.allow(entry(
            spender,
            asset,
            Some(Amount::from_u128(1)),
            None,
            "permit",
        ));
        return Ok(fx);
    }
    let owner_field = if kind == Kind::DaiPermit {
        "holder"
    } else {
        "owner"
    };
    let owner = msg.address(owner_field)?;
    if owner != *wallet {
        return Err(ChainError::not_owned(
            format!("message.{owner_field}"),
            format!(
                "the permit is for {}'s tokens, not this wallet's",
                checksummed(&owner)
            ),
        ));
    }
    let (asset, known) = net.token_asset(token);
    let (what, amount) = if kind == Kind::DaiPermit {
        let allowed = msg.bool("allowed")?;
        ("DAI-style permit", (!allowed).then(Amount::zero))
    } else {
        (
            "EIP-2612 permit",
            granted(&msg.uint("value")?, asset.decimals),
        )
    };
    let mut fx = TypedEffects::new(what);
    if !known {
        fx.flags.push(RiskFlag::UnknownToken);
    }
    fx.allow(entry(spender, asset, amount, None, "permit"));
    Ok(fx)
}

/// Permit2 `PermitSingle` / `PermitBatch`: allowances held by Permit2 for `spender`.
fn permit2_allowance(net: &Network, kind: Kind, msg: &Obj<'_>) -> Result<TypedEffects> {
    let spender = checksummed(&msg.address("spender")?);
    let sig_deadline = msg.uint("sigDeadline")?;
    let details = if kind == Kind::PermitSingle {
        vec![msg.obj("details")?]
    } else {
        msg.list("details")?
    };
    let mut fx = TypedEffects::new("Permit2 allowance");
    for d in &details {
        let token = d.address("token")?;
        let expiration = d.uint("expiration")?;
        // Expiration 0 is "the block the permit is used in", at the latest its sigDeadline.
        let ends = if expiration.is_zero() {
            sig_deadline
        } else {
            expiration
        };
        let (asset, known) = net.token_asset(&token);
        if !known {
            fx.flags.push(RiskFlag::UnknownToken);
        }
        let amount = granted(&d.uint("amount")?, asset.decimals);
        fx.allow(entry(
            spender.clone(),
            asset,
            amount,
            unix_time(&ends),
            "permit2",
        ));
    }
    Ok(fx)
}

/// Permit2 signature transfers: `spender` may pull up to each amount once, until `deadline`.
fn permit2_transfer(net: &Network, kind: Kind, msg: &Obj<'_>) -> Result<TypedEffects> {
    let spender = checksummed(&msg.address("spender")?);
    let deadline = unix_time(&msg.uint("deadline")?);
    let permitted = if kind == Kind::PermitTransfer {
        vec![msg.obj("permitted")?]
    } else {
        msg.list("permitted")?
    };
    let mut fx = TypedEffects::new("Permit2 transfer permit");
    for p in &permitted {
        let (asset, known) = net.token_asset(&p.address("token")?);
        if !known {
            fx.flags.push(RiskFlag::UnknownToken);
        }
        let amount = granted(&p.uint("amount")?, asset.decimals);
        fx.allow(entry(
            spender.clone(),
            asset,
            amount,
            deadline,
            "permit2_transfer",
        ));
    }
    Ok(fx)
}

/// A coerced EIP-712 struct, read by field name; errors name the field's path.
pub(crate) struct Obj<'a> {
    names: &'a [String],
    values: &'a [DynSolValue],
    path: String,
}

impl<'a> Obj<'a> {
    fn new(v: &'a DynSolValue, path: String) -> Result<Self> {
        match v {
            DynSolValue::CustomStruct {
                prop_names, tuple, ..
            } => Ok(Obj {
                names: prop_names,
                values: tuple,
                path,
            }),
            _ => Err(ChainError::malformed(path, "expected a struct")),
        }
    }

    fn get(&self, name: &str) -> Result<&'a DynSolValue> {
        self.names
            .iter()
            .position(|n| n == name)
            .and_then(|i| self.values.get(i))
            .ok_or_else(|| ChainError::malformed(self.field(name), "missing"))
    }

    /// `<path>.<name>`, for errors.
    pub(crate) fn field(&self, name: &str) -> String {
        format!("{}.{name}", self.path)
    }

    fn wrong(&self, name: &str, ty: &str) -> ChainError {
        ChainError::malformed(self.field(name), format!("expected {ty}"))
    }

    pub(crate) fn address(&self, name: &str) -> Result<Address> {
        self.get(name)?
            .as_address()
            .ok_or_else(|| self.wrong(name, "an address"))
    }

    pub(crate) fn uint(&self, name: &str) -> Result<U256> {
        self.get(name)?
            .as_uint()
            .map(|(u, _)| u)
            .ok_or_else(|| self.wrong(name, "an unsigned integer"))
    }

    pub(crate) fn bool(&self, name: &str) -> Result<bool> {
        self.get(name)?
            .as_bool()
            .ok_or_else(|| self.wrong(name, "a bool"))
    }

    pub(crate) fn obj(&self, name: &str) -> Result<Obj<'a>> {
        Obj::new(self.get(name)?, self.field(name))
    }

    pub(crate) fn list(&self, name: &str) -> Result<Vec<Obj<'a>>> {
        let items = self
            .get(name)?
            .as_array()
            .ok_or_else(|| self.wrong(name, "an array"))?;
        items
            .iter()
            .enumerate()
            .map(|(i, v)| Obj::new(v, format!("{}[{i}]", self.field(name))))
            .collect()
    }
}
