//! Call-data decoding: the selectors the adapter understands (ERC-20 and the ownership / admin /
//! role / upgrade calls), with ABI decoding by alloy-dyn-abi and the risk flags they raise.

use alloy_dyn_abi::{DynSolType, DynSolValue};
use alloy_primitives::{Address, U256};
use tessera_chain::{Amount, Argument, ChainError, ContractCall, RiskFlag, Transfer};

use crate::keys::checksummed;
use crate::network::Network;

/// ABI type of one parameter of a known method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Param {
    Address,
    Uint256,
    Bytes32,
    Bool,
    Bytes,
}

impl Param {
    fn sol_type(self) -> DynSolType {
        match self {
            Param::Address => DynSolType::Address,
            Param::Uint256 => DynSolType::Uint(256),
            Param::Bytes32 => DynSolType::FixedBytes(32),
            Param::Bool => DynSolType::Bool,
            Param::Bytes => DynSolType::Bytes,
        }
    }
}

/// What a known method does, for the intent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// ERC-20 `transfer(to, amount)`.
    Erc20Transfer,
    /// ERC-20 `approve(spender, amount)`.
    Erc20Approve,
    /// ERC-20 `transferFrom(from, to, amount)`.
    Erc20TransferFrom,
    /// Ownership, admin, role or upgrade call.
    Privileged,
    /// ERC-721/1155 `setApprovalForAll(operator, approved)`: privileged and grants authority.
    ApprovalForAll,
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
        class: Class::Erc20Approve,
    },
    Method {
        selector: [0x23, 0xb8, 0x72, 0xdd],
        signature: "transferFrom(address,address,uint256)",
        params: &[
            ("from", Param::Address),
            ("to", Param::Address),
            ("amount", Param::Uint256),
        ],
        class: Class::Erc20TransferFrom,
    },
    Method {
        selector: [0xf2, 0xfd, 0xe3, 0x8b],
        signature: "transferOwnership(address)",
        params: &[("newOwner", Param::Address)],
        class: Class::Privileged,
    },
    Method {
        selector: [0x71, 0x50, 0x18, 0xa6],
        signature: "renounceOwnership()",
        params: &[],
        class: Class::Privileged,
    },
    Method {
        selector: [0x36, 0x59, 0xcf, 0xe6],
        signature: "upgradeTo(address)",
        params: &[("newImplementation", Param::Address)],
        class: Class::Privileged,
    },
    Method {
        selector: [0x4f, 0x1e, 0xf2, 0x86],
        signature: "upgradeToAndCall(address,bytes)",
        params: &[
            ("newImplementation", Param::Address),
            ("data", Param::Bytes),
        ],
        class: Class::Privileged,
    },
    Method {
        selector: [0x8f, 0x28, 0x39, 0x70],
        signature: "changeAdmin(address)",
        params: &[("newAdmin", Param::Address)],
        class: Class::Privileged,
    },
    Method {
        selector: [0x2f, 0x2f, 0xf1, 0x5d],
        signature: "grantRole(bytes32,address)",
        params: &[("role", Param::Bytes32), ("account", Param::Address)],
        class: Class::Privileged,
    },
    Method {
        selector: [0xd5, 0x47, 0x74, 0x1f],
        signature: "revokeRole(bytes32,address)",
        params: &[("role", Param::Bytes32), ("account", Param::Address)],
        class: Class::Privileged,
    },
    Method {
        selector: [0xa2, 0x2c, 0xb4, 0x65],
        signature: "setApprovalForAll(address,bool)",
        params: &[("operator", Param::Address), ("approved", Param::Bool)],
        class: Class::ApprovalForAll,
    },
];

/// A decoded call: the contract-call record, the token transfer it makes (if any), and flags.
#[derive(Debug)]
pub(crate) struct DecodedCall {
    pub call: ContractCall,
    pub token_transfer: Option<Transfer>,
    pub flags: Vec<RiskFlag>,
}

/// Decodes non-empty call data sent to `contract` on `net`. Unknown selectors are not an error
/// (method `unknown`, flag `UnknownSelector`); malformed arguments of a known selector are
/// ([`ChainError::Malformed`] naming `tx.data`).
pub(crate) fn decode_call(
    net: &Network,
    contract: &Address,
    data: &[u8],
) -> Result<DecodedCall, ChainError> {
    let contract_text = checksummed(contract);
    let known = data
        .get(..4)
        .and_then(|sel| METHODS.iter().find(|m| m.selector[..] == *sel));
    let Some(method) = known else {
        let selector = hex::encode(data.get(..4).unwrap_or(data));
        return Ok(DecodedCall {
            call: ContractCall {
                contract: contract_text,
                method: "unknown".into(),
                selector,
                args: Vec::new(),
            },
            token_transfer: None,
            flags: vec![RiskFlag::UnknownSelector],
        });
    };
    let values = decode_args(method, data.get(4..).unwrap_or_default())?;
    let args: Vec<Argument> = method
        .params
        .iter()
        .zip(&values)
        .map(|((name, _), v)| Argument {
            name: (*name).to_string(),
            value: render_value(v),
        })
        .collect();
    let call = ContractCall {
        contract: contract_text,
        method: method.signature.to_string(),
        selector: hex::encode(method.selector),
        args,
    };
    let mut flags = Vec::new();
    let mut token_transfer = None;
    match method.class {
        Class::Erc20Transfer | Class::Erc20TransferFrom => {
            // transfer(to, amount) / transferFrom(from, to, amount): `to` and `amount` are the
            // last two arguments.
            let n = values.len();
            let to = values
                .get(n.wrapping_sub(2))
                .and_then(DynSolValue::as_address);
            let amount = values.get(n.wrapping_sub(1)).and_then(DynSolValue::as_uint);
            let (Some(to), Some((amount, _))) = (to, amount) else {
                return Err(ChainError::malformed("tx.data", "arguments do not decode"));
            };
            let (asset, known) = net.token_asset(contract);
            if !known {
                flags.push(RiskFlag::UnknownToken);
            }
            token_transfer = Some(Transfer {
                from: None,
                to: checksummed(&to),
                asset,
                amount: amount_of(&amount),
            });
        }
        Class::Erc20Approve => {
            flags.push(RiskFlag::GrantsAuthority);
            if let Some((amount, _)) = values.get(1).and_then(DynSolValue::as_uint) {
                if amount.bit(255) {
                    flags.push(RiskFlag::UnlimitedApproval);
                }
            }
            if !net.token_asset(contract).1 {
                flags.push(RiskFlag::UnknownToken);
            }
        }
        Class::Privileged => flags.push(RiskFlag::PrivilegedCall),
        Class::ApprovalForAll => {
            flags.push(RiskFlag::PrivilegedCall);
            flags.push(RiskFlag::GrantsAuthority);
        }
    }
    Ok(DecodedCall {
        call,
        token_transfer,
        flags,
    })
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

/// Canonical text of an argument: EIP-55 addresses, decimal integers, `0x` hex bytes.
fn render_value(v: &DynSolValue) -> String {
    match v {
        DynSolValue::Address(a) => checksummed(a),
        DynSolValue::Uint(u, _) => u.to_string(),
        DynSolValue::Bool(b) => b.to_string(),
        DynSolValue::FixedBytes(w, size) => {
            format!("0x{}", hex::encode(w.get(..*size).unwrap_or_default()))
        }
        DynSolValue::Bytes(b) => format!("0x{}", hex::encode(b)),
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
