//! Call-data decoding: the table of methods the adapter understands (ERC-20, ERC-721,
//! ERC-1155, ownership / admin / role / upgrade calls, self-multicalls) and their ABI decoding
//! by alloy-dyn-abi. What each method does to the wallet is in [`crate::effects`].

use alloy_dyn_abi::{DynSolType, DynSolValue};
use alloy_primitives::{Address, U256};
use tessera_chain::{Amount, Argument, ChainError, ContractCall};

use crate::keys::checksummed;

/// ABI type of one parameter of a known method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Param {
    Address,
    Uint256,
    Bytes32,
    Bool,
    Bytes,
    Uint256Array,
    BytesArray,
}

impl Param {
    fn sol_type(self) -> DynSolType {
        match self {
            Param::Address => DynSolType::Address,
            Param::Uint256 => DynSolType::Uint(256),
            Param::Bytes32 => DynSolType::FixedBytes(32),
            Param::Bool => DynSolType::Bool,
            Param::Bytes => DynSolType::Bytes,
            Param::Uint256Array => DynSolType::Array(Box::new(DynSolType::Uint(256))),
            Param::BytesArray => DynSolType::Array(Box::new(DynSolType::Bytes)),
        }
    }
}

/// Who gains which control over a contract through an authority call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Control {
    /// `transferOwnership(newOwner)`.
    Owner,
    /// `renounceOwnership()`.
    RenounceOwner,
    /// `upgradeTo(newImplementation)`.
    Upgrade,
    /// `upgradeToAndCall(newImplementation, data)`: an upgrade, then `data` run by the new code.
    UpgradeAndCall,
    /// `changeAdmin(newAdmin)` of a transparent proxy.
    Admin,
    /// `grantRole(role, account)`.
    GrantRole,
    /// `revokeRole(role, account)`.
    RevokeRole,
}

/// What a known method does, for the intent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// ERC-20 `transfer(to, amount)`.
    Erc20Transfer,
    /// ERC-20 `approve(spender, amount)` or ERC-721 `approve(to, tokenId)` (same selector).
    Approve,
    /// ERC-20 `increaseAllowance(spender, addedValue)`.
    IncreaseAllowance,
    /// ERC-20 `transferFrom(from, to, amount)` or ERC-721 `transferFrom(from, to, tokenId)`
    /// (same selector).
    TransferFrom,
    /// ERC-721 `safeTransferFrom(from, to, tokenId[, data])`.
    Erc721SafeTransfer,
    /// ERC-1155 `safeTransferFrom(from, to, id, value, data)`.
    Erc1155Transfer,
    /// ERC-1155 `safeBatchTransferFrom(from, to, ids, values, data)`.
    Erc1155BatchTransfer,
    /// ERC-721/1155 `setApprovalForAll(operator, approved)`.
    ApprovalForAll,
    /// Ownership, admin, role or upgrade call.
    Authority(Control),
    /// `multicall([deadline,] data[])`: the contract runs each call of `data` on itself
    /// (delegatecall), as if the wallet had made them one after the other.
    Multicall,
}

/// A method the adapter decodes. The selector constants are checked against alloy's keccak of
/// the signature in a test.
#[derive(Debug)]
pub(crate) struct Method {
    pub selector: [u8; 4],
    pub signature: &'static str,
    pub params: &'static [(&'static str, Param)],
    pub class: Class,
}

/// `transfer(address,uint256)`.
pub(crate) const ERC20_TRANSFER: [u8; 4] = [0xa9, 0x05, 0x9c, 0xbb];

const FROM_TO_ID: &[(&str, Param)] = &[
    ("from", Param::Address),
    ("to", Param::Address),
    ("tokenId", Param::Uint256),
];

/// Every method the adapter decodes.
pub(crate) const METHODS: &[Method] = &[
    Method {
        selector: ERC20_TRANSFER,
        signature: "transfer(address,uint256)",
        params: &[("to", Param::Address), ("amount", Param::Uint256)],
        class: Class::Erc20Transfer,
    },
    Method {
        selector: [0x09, 0x5e, 0xa7, 0xb3],
        signature: "approve(address,uint256)",
        params: &[("spender", Param::Address), ("amount", Param::Uint256)],
        class: Class::Approve,
    },
    Method {
        selector: [0x39, 0x50, 0x93, 0x51],
        signature: "increaseAllowance(address,uint256)",
        params: &[("spender", Param::Address), ("addedValue", Param::Uint256)],
        class: Class::IncreaseAllowance,
    },
    Method {
        selector: [0x23, 0xb8, 0x72, 0xdd],
        signature: "transferFrom(address,address,uint256)",
        params: &[
            ("from", Param::Address),
            ("to", Param::Address),
            ("amount", Param::Uint256),
        ],
        class: Class::TransferFrom,
    },
    Method {
        selector: [0x42, 0x84, 0x2e, 0x0e],
        signature: "safeTransferFrom(address,address,uint256)",
        params: FROM_TO_ID,
        class: Class::Erc721SafeTransfer,
    },
    Method {
        selector: [0xb8, 0x8d, 0x4f, 0xde],
        signature: "safeTransferFrom(address,address,uint256,bytes)",
        params: &[
            ("from", Param::Address),
            ("to", Param::Address),
            ("tokenId", Param::Uint256),
            ("data", Param::Bytes),
        ],
        class: Class::Erc721SafeTransfer,
    },
    Method {
        selector: [0xf2, 0x42, 0x43, 0x2a],
        signature: "safeTransferFrom(address,address,uint256,uint256,bytes)",
        params: &[
            ("from", Param::Address),
            ("to", Param::Address),
            ("id", Param::Uint256),
            ("value", Param::Uint256),
            ("data", Param::Bytes),
        ],
        class: Class::Erc1155Transfer,
    },
    Method {
        selector: [0x2e, 0xb2, 0xc2, 0xd6],
        signature: "safeBatchTransferFrom(address,address,uint256[],uint256[],bytes)",
        params: &[
            ("from", Param::Address),
            ("to", Param::Address),
            ("ids", Param::Uint256Array),
            ("values", Param::Uint256Array),
            ("data", Param::Bytes),
        ],
        class: Class::Erc1155BatchTransfer,
    },
    Method {
        selector: [0xa2, 0x2c, 0xb4, 0x65],
        signature: "setApprovalForAll(address,bool)",
        params: &[("operator", Param::Address), ("approved", Param::Bool)],
        class: Class::ApprovalForAll,
    },
    Method {
        selector: [0xf2, 0xfd, 0xe3, 0x8b],
        signature: "transferOwnership(address)",
        params: &[("newOwner", Param::Address)],
        class: Class::Authority(Control::Owner),
    },
    Method {
        selector: [0x71, 0x50, 0x18, 0xa6],
        signature: "renounceOwnership()",
        params: &[],
        class: Class::Authority(Control::RenounceOwner),
    },
    Method {
        selector: [0x36, 0x59, 0xcf, 0xe6],
        signature: "upgradeTo(address)",
        params: &[("newImplementation", Param::Address)],
        class: Class::Authority(Control::Upgrade),
    },
    Method {
        selector: [0x4f, 0x1e, 0xf2, 0x86],
        signature: "upgradeToAndCall(address,bytes)",
        params: &[
            ("newImplementation", Param::Address),
            ("data", Param::Bytes),
        ],
        class: Class::Authority(Control::UpgradeAndCall),
    },
    Method {
        selector: [0x8f, 0x28, 0x39, 0x70],
        signature: "changeAdmin(address)",
        params: &[("newAdmin", Param::Address)],
        class: Class::Authority(Control::Admin),
    },
    Method {
        selector: [0x2f, 0x2f, 0xf1, 0x5d],
        signature: "grantRole(bytes32,address)",
        params: &[("role", Param::Bytes32), ("account", Param::Address)],
        class: Class::Authority(Control::GrantRole),
    },
    Method {
        selector: [0xd5, 0x47, 0x74, 0x1f],
        signature: "revokeRole(bytes32,address)",
        params: &[("role", Param::Bytes32), ("account", Param::Address)],
        class: Class::Authority(Control::RevokeRole),
    },
    Method {
        selector: [0xac, 0x96, 0x50, 0xd8],
        signature: "multicall(bytes[])",
        params: &[("data", Param::BytesArray)],
        class: Class::Multicall,
    },
    Method {
        selector: [0x5a, 0xe4, 0x01, 0xdc],
        signature: "multicall(uint256,bytes[])",
        params: &[("deadline", Param::Uint256), ("data", Param::BytesArray)],
        class: Class::Multicall,
    },
];

/// The known method `data` calls, if any.
pub(crate) fn method_of(data: &[u8]) -> Option<&'static Method> {
    let selector = data.get(..4)?;
    METHODS.iter().find(|m| m.selector[..] == *selector)
}

/// The record of a call whose selector the adapter does not know (method `unknown`).
pub(crate) fn unknown_call(contract: &Address, data: &[u8]) -> ContractCall {
    ContractCall {
        contract: checksummed(contract),
        method: "unknown".into(),
        selector: hex::encode(data.get(..4).unwrap_or(data)),
        args: Vec::new(),
    }
}

/// Decodes the arguments of `method` (the call data after the selector) and the call record
/// with every argument rendered. Malformed arguments are [`ChainError::Malformed`] naming
/// `tx.data`.
pub(crate) fn decode_known(
    method: &Method,
    contract: &Address,
    args: &[u8],
) -> Result<(ContractCall, Vec<DynSolValue>), ChainError> {
    let values = decode_args(method, args)?;
    let rendered: Vec<Argument> = method
        .params
        .iter()
        .zip(&values)
        .map(|((name, _), v)| Argument {
            name: (*name).to_string(),
            value: render_value(v),
        })
        .collect();
    let call = ContractCall {
        contract: checksummed(contract),
        method: method.signature.to_string(),
        selector: hex::encode(method.selector),
        args: rendered,
    };
    Ok((call, values))
}

/// ABI-decodes the arguments with alloy and requires the canonical encoding: re-encoding the
/// decoded values must give back exactly `args` (no trailing bytes, no dirty padding, no
/// unusual offsets).
fn decode_args(method: &Method, args: &[u8]) -> Result<Vec<DynSolValue>, ChainError> {
    let ty = DynSolType::Tuple(method.params.iter().map(|(_, p)| p.sol_type()).collect());
    let bad = |why: String| {
        ChainError::malformed(
            "tx.data",
            format!("arguments of {}: {why}", method.signature),
        )
    };
    let decoded = ty.abi_decode_params(args).map_err(|e| bad(e.to_string()))?;
    if decoded.abi_encode_params() != args {
        return Err(bad(
            "not in canonical ABI encoding (length or padding)".into()
        ));
    }
    match decoded {
        DynSolValue::Tuple(values) if values.len() == method.params.len() => Ok(values),
        _ => Err(bad("unexpected shape".into())),
    }
}

/// Canonical text of an argument: EIP-55 addresses, decimal integers, `0x` hex bytes, arrays
/// as `[a, b]`.
fn render_value(v: &DynSolValue) -> String {
    match v {
        DynSolValue::Address(a) => checksummed(a),
        DynSolValue::Uint(u, _) => u.to_string(),
        DynSolValue::Bool(b) => b.to_string(),
        DynSolValue::FixedBytes(w, size) => {
            format!("0x{}", hex::encode(w.get(..*size).unwrap_or_default()))
        }
        DynSolValue::Bytes(b) => format!("0x{}", hex::encode(b)),
        DynSolValue::Array(items) => {
            let items: Vec<String> = items.iter().map(render_value).collect();
            format!("[{}]", items.join(", "))
        }
        other => format!("{other:?}"),
    }
}

/// A 256-bit integer as an [`Amount`].
pub(crate) fn amount_of(v: &U256) -> Amount {
    Amount::from_be_bytes(&v.to_be_bytes::<32>())
}

/// `transfer(to, amount)` call data, ABI-encoded by alloy (the builder's `erc20_transfer`).
pub(crate) fn encode_erc20_transfer(to: Address, amount: U256) -> Vec<u8> {
    let mut data = ERC20_TRANSFER.to_vec();
    data.extend(
        DynSolValue::Tuple(vec![
            DynSolValue::Address(to),
            DynSolValue::Uint(amount, 256),
        ])
        .abi_encode_params(),
    );
    data
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::keccak256;

    #[test]
    fn selectors_are_keccak_of_signatures() {
        for m in METHODS {
            let h = keccak256(m.signature.as_bytes());
            assert_eq!(&h[..4], &m.selector, "{}", m.signature);
        }
        let mut sel: Vec<[u8; 4]> = METHODS.iter().map(|m| m.selector).collect();
        sel.sort_unstable();
        sel.dedup();
        assert_eq!(sel.len(), METHODS.len());
    }

    #[test]
    fn signatures_match_params() {
        for m in METHODS {
            let types: Vec<String> = m
                .params
                .iter()
                .map(|(_, p)| p.sol_type().sol_type_name().into_owned())
                .collect();
            let name = m.signature.split('(').next().unwrap();
            assert_eq!(format!("{name}({})", types.join(",")), m.signature);
        }
    }
}
