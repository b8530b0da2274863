//! Seaport `OrderComponents` (OpenSea's marketplace order, Seaport 1.x): what leaves the wallet
//! when anyone fills the order, and what the wallet receives.
//!
//! * Each **offer** item is an allowance to the Seaport contract (the domain's verifying
//!   contract), via `order`, until the order's `endTime`: once signed, anyone who fills the
//!   order makes Seaport move it out of the wallet (through the conduit the order names). Its
//!   amount is the larger of `startAmount` and `endAmount` (an auction's amounts move between
//!   them), unlimited at the usual threshold for fungible tokens.
//! * Each **consideration** item paid to the offerer (the wallet) is listed as received
//!   (`Intent.change`, value returning to the wallet), with the smaller of its two amounts.
//!   Items paid to others (marketplace fees, royalties) are paid by whoever fills the order.
//!
//! Item types: 0 native, 1 ERC-20, 2 ERC-721, 3 ERC-1155, 4 / 5 ERC-721 / ERC-1155 with
//! criteria (any id in a Merkle set, or any id of the collection when the root is 0).

use alloy_primitives::{Address, U256};
use tessera_chain::{Asset, ChainError, Result, RiskFlag, Transfer};

use crate::allowance::{entry, granted, unix_time};
use crate::calldata::amount_of;
use crate::keys::checksummed;
use crate::network::{Network, NftItems};
use crate::typed::{Obj, TypedEffects};

/// `OrderComponents`' fields.
pub(crate) const ORDER_COMPONENTS: &[(&str, &str)] = &[
    ("offerer", "address"),
    ("zone", "address"),
    ("offer", "OfferItem[]"),
    ("consideration", "ConsiderationItem[]"),
    ("orderType", "uint8"),
    ("startTime", "uint256"),
    ("endTime", "uint256"),
    ("zoneHash", "bytes32"),
    ("salt", "uint256"),
    ("conduitKey", "bytes32"),
    ("counter", "uint256"),
];

/// `OfferItem`.
pub(crate) const OFFER_ITEM: (&str, &[(&str, &str)]) = (
    "OfferItem",
    &[
        ("itemType", "uint8"),
        ("token", "address"),
        ("identifierOrCriteria", "uint256"),
        ("startAmount", "uint256"),
        ("endAmount", "uint256"),
    ],
);

/// `ConsiderationItem`.
pub(crate) const CONSIDERATION_ITEM: (&str, &[(&str, &str)]) = (
    "ConsiderationItem",
    &[
        ("itemType", "uint8"),
        ("token", "address"),
        ("identifierOrCriteria", "uint256"),
        ("startAmount", "uint256"),
        ("endAmount", "uint256"),
        ("recipient", "address"),
    ],
);

/// The effects of an order signed by `wallet`; `seaport` is the domain's verifying contract.
pub(crate) fn order(
    net: &Network,
    wallet: &Address,
    seaport: Option<Address>,
    msg: &Obj<'_>,
) -> Result<TypedEffects> {
    let offerer = msg.address("offerer")?;
    if offerer != *wallet {
        return Err(ChainError::not_owned(
            "message.offerer",
            format!(
                "the order offers {}'s assets, not this wallet's",
                checksummed(&offerer)
            ),
        ));
    }
    let seaport = seaport.ok_or_else(|| {
        ChainError::unsupported(
            "domain.verifyingContract",
            "a Seaport order names the marketplace contract as the verifying contract",
        )
    })?;
    let ends = unix_time(&msg.uint("endTime")?);
    let mut fx = TypedEffects {
        what: "Seaport order",
        ..TypedEffects::default()
    };
    for item in msg.list("offer")? {
        let (start, end) = (item.uint("startAmount")?, item.uint("endAmount")?);
        let (asset, fungible) = item_asset(net, &item, &mut fx.flags)?;
        let most = start.max(end);
        let amount = if fungible {
            granted(&most, asset.decimals)
        } else {
            Some(amount_of(&most))
        };
        fx.allow(entry(checksummed(&seaport), asset, amount, ends, "order"));
    }
    for item in msg.list("consideration")? {
        if item.address("recipient")? != offerer {
            continue;
        }
        let least = item.uint("startAmount")?.min(item.uint("endAmount")?);
        let (asset, _) = item_asset(net, &item, &mut fx.flags)?;
        fx.received.push(Transfer {
            to: checksummed(wallet),
            asset,
            amount: amount_of(&least),
            from: None,
        });
    }
    Ok(fx)
}

/// An item's asset, and whether it is fungible (native or ERC-20).
fn item_asset(net: &Network, item: &Obj<'_>, flags: &mut Vec<RiskFlag>) -> Result<(Asset, bool)> {
    let token = item.address("token")?;
    let id = item.uint("identifierOrCriteria")?;
    let kind = item.uint("itemType")?;
    match u8::try_from(kind).unwrap_or(u8::MAX) {
        0 => Ok((net.native_asset(), true)),
        1 => {
            let (asset, known) = net.token_asset(&token);
            if !known {
                flags.push(RiskFlag::UnknownToken);
            }
            Ok((asset, true))
        }
        2 | 3 => Ok((net.nft_asset(&token, NftItems::Id(&id)).0, false)),
        4 | 5 => Ok((net.nft_asset(&token, criteria(&id)).0, false)),
        _ => Err(ChainError::malformed(
            item.field("itemType"),
            format!("{kind} is not a Seaport item type (0 to 5)"),
        )),
    }
}

/// The items a criteria item stands for: any id of the collection when the root is 0.
fn criteria(root: &U256) -> NftItems<'_> {
    if root.is_zero() {
        NftItems::Any
    } else {
        NftItems::InSet(root)
    }
}
