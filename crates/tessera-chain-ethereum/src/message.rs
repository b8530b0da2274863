//! Off-chain messages: EIP-712 typed data (hashed by alloy-dyn-abi's `TypedData`) and EIP-191
//! `personal_sign` (prefixed by alloy-primitives).

use std::collections::{BTreeMap, BTreeSet};

use alloy_dyn_abi::TypedData;
use alloy_primitives::{
    eip191_hash_message, keccak256, utils::eip191_message, Address, B256, U256,
};
use serde_json::{Map, Value};
use tessera_chain::text::{json_string, sanitize};
use tessera_chain::{
    ChainError, Intent, IntentKind, MessagePreview, Result, RiskFlag, SignedTransaction, WalletKey,
};

use crate::keys::{check_signer, checksummed};
use crate::network::{describe_chain_id, Network};
use crate::typed::{self, Defs, TypedEffects};
use crate::CHAIN;

/// Most struct types a typed-data payload may define.
const MAX_TYPES: usize = 128;
/// Longest type string of a field (`Person[][3]`).
const MAX_TYPE_LEN: usize = 256;
/// Most array dimensions in one field type.
const MAX_ARRAY_DIMS: usize = 8;
/// Most nodes of the primary type once every struct reference is expanded (alloy resolves the
/// type into a tree; a small DAG of types can otherwise expand exponentially).
const MAX_EXPANDED_NODES: usize = 4096;

/// The domain fields EIP-712 defines, in the order of the domain's `encodeType`, with types.
const DOMAIN_FIELDS: [(&str, &str); 5] = [
    ("name", "string"),
    ("version", "string"),
    ("chainId", "uint256"),
    ("verifyingContract", "address"),
    ("salt", "bytes32"),
];

/// Parsed EIP-712 payload.
#[derive(Debug, Clone)]
pub(crate) struct Eip712 {
    /// alloy's view of the typed data.
    pub typed: TypedData,
    /// `0x19 0x01 || domainSeparator || hashStruct(message)`.
    pub preimage: Vec<u8>,
    /// What the intent shows.
    pub preview: MessagePreview,
    /// What the message does, when it is a standard permit or order ([`crate::typed`]).
    pub effects: Option<TypedEffects>,
}

fn malformed(field: impl Into<String>, why: impl std::fmt::Display) -> ChainError {
    ChainError::malformed(field, why)
}

/// Parses and checks EIP-712 typed-data JSON for `net`, signed by `wallet`.
pub(crate) fn parse_eip712(net: &Network, wallet: &Address, bytes: &[u8]) -> Result<Eip712> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| malformed("typed_data", e))?;
    let top = value
        .as_object()
        .ok_or_else(|| malformed("typed_data", "expected a JSON object"))?;
    for key in top.keys() {
        if !["types", "primaryType", "domain", "message"].contains(&key.as_str()) {
            return Err(malformed(key.as_str(), "unknown typed-data field"));
        }
    }
    let types = top
        .get("types")
        .and_then(Value::as_object)
        .ok_or_else(|| malformed("types", "missing or not an object"))?;
    let primary = top
        .get("primaryType")
        .and_then(Value::as_str)
        .ok_or_else(|| malformed("primaryType", "missing or not a string"))?;
    if !top.contains_key("message") {
        return Err(malformed("message", "missing"));
    }
    if primary == "EIP712Domain" {
        return Err(ChainError::unsupported(
            "primaryType",
            "signing the bare domain (primaryType EIP712Domain) is not supported",
        ));
    }
    if !types.contains_key(primary) {
        return Err(malformed(
            "primaryType",
            format!("no type {primary:?} in types"),
        ));
    }
    let defs = check_types(types)?;
    check_domain(top.get("domain"), types)?;
    expanded_size(&defs, primary, &mut BTreeMap::new(), &mut BTreeSet::new())?;

    let typed: TypedData =
        serde_json::from_value(value.clone()).map_err(|e| malformed("typed_data", e))?;
    if let Some(id) = typed.domain.chain_id {
        if id != U256::from(net.chain_id) {
            let found = u64::try_from(id)
                .map(describe_chain_id)
                .unwrap_or_else(|_| format!("chain id {id}"));
            return Err(ChainError::wrong_network("domain.chainId", net.name, found));
        }
    }
    let separator = typed.domain().separator();
    let hash_struct = typed.hash_struct().map_err(|e| malformed("message", e))?;
    let mut preimage = Vec::with_capacity(66);
    preimage.extend_from_slice(&[0x19, 0x01]);
    preimage.extend_from_slice(separator.as_slice());
    preimage.extend_from_slice(hash_struct.as_slice());
    // alloy's own signing hash must be the keccak of what the signers hash.
    let signing_hash = typed
        .eip712_signing_hash()
        .map_err(|e| malformed("message", e))?;
    if keccak256(&preimage) != signing_hash {
        return Err(malformed("typed_data", "inconsistent EIP-712 hash"));
    }
    // Fields the types do not declare would be shown but not signed: refuse them.
    let message = top.get("message").unwrap_or(&Value::Null);
    check_shape(&defs, primary, message, "message")?;
    let effects = typed::decode(net, wallet, &typed, &defs)?;
    let preview = eip712_preview(&typed, message, effects.as_ref());
    Ok(Eip712 {
        typed,
        preimage,
        preview,
        effects,
    })
}

/// The preview: the summary (what a recognised message is, then [`eip712_summary`]) and the
/// message as canonical JSON.
fn eip712_preview(
    typed: &TypedData,
    message: &Value,
    effects: Option<&TypedEffects>,
) -> MessagePreview {
    let summary = match effects {
        Some(fx) => format!("{}: {}", fx.what, eip712_summary(typed)),
        None => eip712_summary(typed),
    };
    MessagePreview {
        standard: "eip712".into(),
        summary,
        content: canonical_json(message),
    }
}

/// `<primaryType> for <name> v<version> on chain <id>, verifying contract <addr>[, salt 0x…]`,
/// leaving out what the domain does not set; without a chain id, `on any chain (no
/// domain.chainId)`. The payload's own text (type and domain names) is sanitised.
fn eip712_summary(typed: &TypedData) -> String {
    let d = typed.domain();
    let mut s = format!("{} for ", sanitize(&typed.primary_type));
    match &d.name {
        Some(n) => s.push_str(&sanitize(n)),
        None => s.push_str("an unnamed domain"),
    }
    if let Some(v) = &d.version {
        s.push_str(&format!(" v{}", sanitize(v)));
    }
    match &d.chain_id {
        Some(id) => s.push_str(&format!(" on chain {id}")),
        None => s.push_str(" on any chain (no domain.chainId)"),
    }
    if let Some(c) = &d.verifying_contract {
        s.push_str(&format!(", verifying contract {}", checksummed(c)));
    }
    if let Some(salt) = &d.salt {
        s.push_str(&format!(", salt {salt}"));
    }
    s
}

/// Field definitions: type name → [(field name, field type)]. Refuses entries alloy would also
/// refuse, and sizes our guards rely on.
fn check_types(types: &Map<String, Value>) -> Result<Defs<'_>> {
    if types.len() > MAX_TYPES {
        return Err(malformed("types", format!("more than {MAX_TYPES} types")));
    }
    let mut defs = BTreeMap::new();
    for (name, fields) in types {
        let field = format!("types.{name}");
        let list = fields
            .as_array()
            .ok_or_else(|| malformed(field.as_str(), "expected an array of fields"))?;
        let mut out = Vec::with_capacity(list.len());
        for (i, f) in list.iter().enumerate() {
            let fname = f.get("name").and_then(Value::as_str);
            let ftype = f.get("type").and_then(Value::as_str);
            let (Some(fname), Some(ftype)) = (fname, ftype) else {
                return Err(malformed(
                    format!("{field}[{i}]"),
                    "expected {\"name\": …, \"type\": …}",
                ));
            };
            if ftype.len() > MAX_TYPE_LEN || ftype.matches('[').count() > MAX_ARRAY_DIMS {
                return Err(malformed(format!("{field}[{i}].type"), "type too long"));
            }
            out.push((fname, ftype));
        }
        defs.insert(name.as_str(), out);
    }
    Ok(defs)
}

/// The domain may only hold the five EIP-712 fields (alloy ignores others, which would then be
/// shown but not signed), and a declared `EIP712Domain` type must list exactly the fields
/// present, in order (alloy computes the separator from the values, not from that type).
fn check_domain(domain: Option<&Value>, types: &Map<String, Value>) -> Result<()> {
    let empty = Map::new();
    let domain = match domain {
        None => &empty,
        Some(v) => v
            .as_object()
            .ok_or_else(|| malformed("domain", "expected an object"))?,
    };
    for key in domain.keys() {
        if !DOMAIN_FIELDS.iter().any(|(n, _)| n == key) {
            return Err(malformed(
                format!("domain.{key}"),
                "not an EIP-712 domain field",
            ));
        }
    }
    if let Some(declared) = types.get("EIP712Domain") {
        let expected: Vec<Value> = DOMAIN_FIELDS
            .iter()
            .filter(|(n, _)| domain.contains_key(*n))
            .map(|(n, t)| serde_json::json!({ "name": n, "type": t }))
            .collect();
        if declared.as_array() != Some(&expected) {
            return Err(malformed(
                "types.EIP712Domain",
                "must declare exactly the domain fields present, in the EIP-712 order",
            ));
        }
    }
    Ok(())
}

/// The root type of a field type (`Person[2][]` → `Person`).
fn root_type(ty: &str) -> &str {
    ty.split('[').next().unwrap_or(ty)
}

/// Nodes of `ty`'s type tree with every struct reference expanded, bounded by
/// [`MAX_EXPANDED_NODES`]. Recursion depth is bounded by [`MAX_TYPES`].
fn expanded_size<'a>(
    defs: &BTreeMap<&'a str, Vec<(&'a str, &'a str)>>,
    ty: &'a str,
    memo: &mut BTreeMap<&'a str, usize>,
    visiting: &mut BTreeSet<&'a str>,
) -> Result<usize> {
    let Some(fields) = defs.get(ty) else {
        return Ok(1);
    };
    if let Some(n) = memo.get(ty) {
        return Ok(*n);
    }
    if !visiting.insert(ty) {
        return Err(malformed(
            format!("types.{ty}"),
            "recursive types are not supported",
        ));
    }
    let mut total: usize = 1;
    for (_, fty) in fields {
        let n = expanded_size(defs, root_type(fty), memo, visiting)?;
        total = total.saturating_add(n);
        if total > MAX_EXPANDED_NODES {
            return Err(malformed(
                format!("types.{ty}"),
                format!("expands to more than {MAX_EXPANDED_NODES} fields"),
            ));
        }
    }
    visiting.remove(ty);
    memo.insert(ty, total);
    Ok(total)
}

/// Refuses object keys the types do not declare (alloy ignores them). Recursion follows the
/// JSON value, whose depth serde_json bounds.
fn check_shape(
    defs: &BTreeMap<&str, Vec<(&str, &str)>>,
    ty: &str,
    value: &Value,
    path: &str,
) -> Result<()> {
    if let Some(open) = ty.rfind('[') {
        if let (Some(inner), Some(items)) = (ty.get(..open), value.as_array()) {
            for (i, item) in items.iter().enumerate() {
                check_shape(defs, inner, item, &format!("{path}[{i}]"))?;
            }
        }
        return Ok(());
    }
    let (Some(fields), Some(obj)) = (defs.get(ty), value.as_object()) else {
        return Ok(());
    };
    for key in obj.keys() {
        if !fields.iter().any(|(n, _)| n == key) {
            return Err(malformed(
                format!("{path}.{key}"),
                format!("not a field of type {ty}: it would be shown but not signed"),
            ));
        }
    }
    for (name, fty) in fields {
        if let Some(v) = obj.get(*name) {
            check_shape(defs, fty, v, &format!("{path}.{name}"))?;
        }
    }
    Ok(())
}

/// Compact JSON with object keys sorted (whatever serde_json's map order), for display and for
/// a deterministic intent; strings and keys escape every character that could hide or reorder
/// text (`tessera_chain::text::json_string`).
pub(crate) fn canonical_json(v: &Value) -> String {
    let mut out = String::new();
    write_canonical(v, &mut out);
    out
}

fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&json_string(k));
                out.push(':');
                if let Some(item) = map.get(*k) {
                    write_canonical(item, out);
                }
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::String(text) => out.push_str(&json_string(text)),
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// The intent of an EIP-712 signature: labelled with the network's chain id only when the
/// domain binds one (without `domain.chainId` the signature is valid on every chain), with the
/// allowances and received assets of a standard permit or order.
pub(crate) fn eip712_intent(net: &Network, source: String, m: &Eip712) -> Intent {
    let mut intent = Intent::new(CHAIN, net.name, IntentKind::SignMessage, source);
    intent.chain_id = m.typed.domain.chain_id.map(|_| net.chain_id);
    intent.message = Some(m.preview.clone());
    // Permits and orders move funds without a transaction; other typed data may too.
    intent.flag(RiskFlag::OffchainSignature);
    if let Some(fx) = &m.effects {
        intent.allowances = fx.allowances.clone();
        intent.change = fx.received.clone();
        for f in &fx.flags {
            intent.flag(*f);
        }
    }
    intent
}

/// Parsed `personal_sign` payload.
#[derive(Debug, Clone)]
pub(crate) struct PersonalSign {
    /// `"\x19Ethereum Signed Message:\n" + len + bytes`.
    pub preimage: Vec<u8>,
    /// Whether the text reads as what it is (UTF-8 without hidden characters).
    pub plain_text: bool,
    pub preview: MessagePreview,
}

/// Characters that hide or reorder what a reader sees (line breaks and tabs are ordinary in
/// messages such as Sign-In with Ethereum: they are escaped in the preview, not flagged).
fn is_hidden(c: char) -> bool {
    tessera_chain::text::is_deceptive(c) && !matches!(c, '\n' | '\r' | '\t')
}

/// Length of a hash: a `personal_sign` message of exactly 32 bytes may be one.
const HASH_LEN: usize = 32;

/// Parses a `personal_sign` message. The preview's text is sanitised
/// ([`tessera_chain::text::sanitize`]); binary messages show as `0x…` hex; a 32-byte message is
/// shown as the hash it may be.
pub(crate) fn parse_personal_sign(bytes: &[u8]) -> Result<PersonalSign> {
    if bytes.is_empty() {
        return Err(malformed("message", "empty message"));
    }
    let hex = format!("0x{}", hex::encode(bytes));
    let (summary, content, plain_text) = match std::str::from_utf8(bytes) {
        _ if bytes.len() == HASH_LEN => (hash_summary(&hex), hex, false),
        Ok(t) => (sanitize(t), sanitize(t), !t.chars().any(is_hidden)),
        Err(_) => (hex.clone(), hex, false),
    };
    Ok(PersonalSign {
        preimage: eip191_message(bytes),
        plain_text,
        preview: MessagePreview {
            standard: "personal_sign".into(),
            summary,
            content,
        },
    })
}

/// What a 32-byte `personal_sign` is shown as. A Safe accepts an owner's `eth_sign` /
/// `personal_sign` signature of a Safe transaction hash (signature `v` of 31 or 32), so such a
/// message can execute any transaction of a Safe the wallet owns, and other contracts check
/// signatures of hashes the same way: nothing the adapter can read says what it authorizes.
fn hash_summary(hex: &str) -> String {
    format!(
        "a 32-byte hash {hex}: it may authorize a Safe transaction (a Safe accepts its owners' \
         personal_sign of the transaction hash) or anything else that hashes to it; what it \
         authorizes cannot be shown"
    )
}

/// The intent of a `personal_sign` signature. Binary, 32-byte (a hash) or obfuscated text gets
/// `OffchainSignature` (its meaning cannot be shown). No chain id: an EIP-191 signature is
/// valid on every chain.
pub(crate) fn personal_sign_intent(net: &Network, source: String, m: &PersonalSign) -> Intent {
    let mut intent = Intent::new(CHAIN, net.name, IntentKind::SignMessage, source);
    intent.message = Some(m.preview.clone());
    if !m.plain_text {
        intent.flag(RiskFlag::OffchainSignature);
    }
    intent
}

/// `r || s || v` with `v = 27 + y_parity`, as wallets return it.
pub(crate) fn finalize(
    net: &Network,
    format: &str,
    r: &[u8; 32],
    s: &[u8; 32],
    y_parity: bool,
) -> SignedTransaction {
    let mut bytes = Vec::with_capacity(65);
    bytes.extend_from_slice(r);
    bytes.extend_from_slice(s);
    bytes.push(27 + u8::from(y_parity));
    SignedTransaction {
        chain: CHAIN.to_string(),
        network: net.name.to_string(),
        format: format.to_string(),
        details: serde_json::json!({ "signature_hex": format!("0x{}", hex::encode(&bytes)) }),
        bytes,
        txid: None,
    }
}

/// The hash a message signature must verify under, computed by alloy.
pub(crate) enum MessageDigest<'a> {
    Eip712(&'a TypedData),
    PersonalSign(&'a [u8]),
}

/// Independent check of a 65-byte message signature: alloy computes the EIP-712 / EIP-191 hash,
/// libsecp256k1 recovers the signer.
pub(crate) fn verify(
    key: WalletKey<'_>,
    digest: MessageDigest<'_>,
    format: &str,
    signed: &SignedTransaction,
) -> Result<()> {
    let fail = |m: String| Err(ChainError::Verification(m));
    if signed.format != format {
        return fail(format!("expected a signature of format {format}"));
    }
    if signed.txid.is_some() {
        return fail("a message signature has no txid".into());
    }
    let Ok(raw) = <[u8; 65]>::try_from(signed.bytes.as_slice()) else {
        return fail("a message signature is 65 bytes r || s || v".into());
    };
    let (rs, v) = raw.split_at(64);
    let (r, s) = rs.split_at(32);
    let (Ok(r), Ok(s)) = (<[u8; 32]>::try_from(r), <[u8; 32]>::try_from(s)) else {
        return fail("bad signature length".into());
    };
    let y_parity = match v {
        [27] => false,
        [28] => true,
        _ => return fail("v must be 27 or 28".into()),
    };
    let hash: B256 = match digest {
        MessageDigest::Eip712(t) => t
            .eip712_signing_hash()
            .map_err(|e| ChainError::Verification(e.to_string()))?,
        MessageDigest::PersonalSign(m) => eip191_hash_message(m),
    };
    check_signer(key, &hash, &r, &s, y_parity)
}
