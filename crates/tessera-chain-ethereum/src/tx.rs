//! Unsigned transactions: decoding the two signing payloads (EIP-1559 and EIP-155) field by
//! field with alloy-rlp, the intent they describe, signing them into an EIP-2718 envelope with
//! alloy-consensus, and the independent check of a signed transaction.

use alloy_consensus::{SignableTransaction, Signed, TxEip1559, TxEnvelope, TxLegacy};
use alloy_eips::eip2718::{Decodable2718, Encodable2718};
use alloy_eips::eip2930::AccessList;
use alloy_primitives::{keccak256, Address, Bytes, Signature as EvmSignature, TxKind, U256};
use alloy_rlp::{Decodable, Header};
use tessera_chain::{
    Amount, ChainError, Fee, Intent, IntentKind, Result, RiskFlag, SignedTransaction, Transfer,
    WalletKey,
};

use crate::calldata::amount_of;
use crate::effects;
use crate::keys::{check_signer, checksummed};
use crate::network::{describe_chain_id, Network};
use crate::CHAIN;

/// A decoded signing payload.
#[derive(Debug, Clone)]
pub(crate) enum UnsignedTx {
    /// `0x02 || rlp([chain_id, nonce, max_priority_fee_per_gas, max_fee_per_gas, gas_limit, to,
    /// value, data, access_list])`.
    Eip1559(TxEip1559),
    /// `rlp([nonce, gas_price, gas_limit, to, value, data, chain_id, 0, 0])`.
    Legacy(TxLegacy),
}

/// Reads one RLP item of the list body, naming the field on failure.
fn field<T: Decodable>(body: &mut &[u8], name: &str) -> Result<T> {
    if body.is_empty() {
        return Err(ChainError::malformed(name, "missing (the list ends early)"));
    }
    T::decode(body).map_err(|e| ChainError::malformed(name, e))
}

/// Splits `bytes` into the payload of one RLP list, refusing trailing bytes.
fn list_body(bytes: &[u8]) -> Result<&[u8]> {
    let mut buf = bytes;
    let header = Header::decode(&mut buf).map_err(|e| ChainError::malformed("tx", e))?;
    if !header.list {
        return Err(ChainError::malformed("tx", "expected an RLP list"));
    }
    let body = buf.get(..header.payload_length).ok_or_else(|| {
        ChainError::malformed(
            "tx",
            format!(
                "truncated: the list announces {} bytes, {} follow",
                header.payload_length,
                buf.len()
            ),
        )
    })?;
    let trailing = buf.len().saturating_sub(header.payload_length);
    if trailing != 0 {
        return Err(ChainError::malformed(
            "tx",
            format!("{trailing} trailing bytes after the transaction"),
        ));
    }
    Ok(body)
}

fn no_extra_items(body: &[u8]) -> Result<()> {
    if !body.is_empty() {
        return Err(ChainError::malformed(
            "tx",
            "extra list items after the last field (a signed transaction is not a signing payload)",
        ));
    }
    Ok(())
}

fn canonical(encoded: Vec<u8>, bytes: &[u8]) -> Result<()> {
    if encoded != bytes {
        return Err(ChainError::malformed("tx", "not in canonical RLP encoding"));
    }
    Ok(())
}

/// Refuses every first byte but the expected one (`0x02`, or an RLP list for legacy), naming
/// `tx.type`.
fn check_type_byte(first: u8, want_typed: bool) -> Result<()> {
    let unsupported = |why: String| ChainError::unsupported("tx.type", why);
    match first {
        0x02 if want_typed => Ok(()),
        0xc0..=0xff if !want_typed => Ok(()),
        0x02 => Err(unsupported(
            "an EIP-1559 (type 2) transaction: use format eip1559".into(),
        )),
        0xc0..=0xff => Err(unsupported(
            "a legacy (untyped) transaction: use format eip155".into(),
        )),
        0x01 => Err(unsupported(
            "EIP-2930 (type 1) transactions are not supported".into(),
        )),
        0x03 => Err(unsupported(
            "EIP-4844 blob (type 3) transactions are not supported".into(),
        )),
        0x04 => Err(unsupported(
            "EIP-7702 set-code (type 4) transactions are not supported".into(),
        )),
        0x05..=0x7f => Err(unsupported(format!(
            "transaction type 0x{first:02x} is not supported"
        ))),
        _ => Err(ChainError::malformed(
            "tx.type",
            format!("0x{first:02x} is neither an EIP-2718 type byte nor an RLP list"),
        )),
    }
}

/// Decodes an unsigned EIP-1559 signing payload.
pub(crate) fn decode_eip1559(bytes: &[u8]) -> Result<TxEip1559> {
    let (&ty, rest) = bytes
        .split_first()
        .ok_or_else(|| ChainError::malformed("tx", "empty payload"))?;
    check_type_byte(ty, true)?;
    let mut body = list_body(rest)?;
    let tx = TxEip1559 {
        chain_id: field(&mut body, "tx.chain_id")?,
        nonce: field(&mut body, "tx.nonce")?,
        max_priority_fee_per_gas: field(&mut body, "tx.max_priority_fee_per_gas")?,
        max_fee_per_gas: field(&mut body, "tx.max_fee_per_gas")?,
        gas_limit: field(&mut body, "tx.gas_limit")?,
        to: field::<TxKind>(&mut body, "tx.to")?,
        value: field::<U256>(&mut body, "tx.value")?,
        input: field::<Bytes>(&mut body, "tx.data")?,
        access_list: field::<AccessList>(&mut body, "tx.access_list")?,
    };
    no_extra_items(body)?;
    canonical(tx.encoded_for_signing(), bytes)?;
    Ok(tx)
}

/// Decodes an unsigned EIP-155 legacy signing payload.
pub(crate) fn decode_eip155(bytes: &[u8]) -> Result<TxLegacy> {
    let &first = bytes
        .first()
        .ok_or_else(|| ChainError::malformed("tx", "empty payload"))?;
    check_type_byte(first, false)?;
    let mut body = list_body(bytes)?;
    let mut tx = TxLegacy {
        chain_id: None,
        nonce: field(&mut body, "tx.nonce")?,
        gas_price: field(&mut body, "tx.gas_price")?,
        gas_limit: field(&mut body, "tx.gas_limit")?,
        to: field::<TxKind>(&mut body, "tx.to")?,
        value: field::<U256>(&mut body, "tx.value")?,
        input: field::<Bytes>(&mut body, "tx.data")?,
    };
    if body.is_empty() {
        return Err(ChainError::unsupported(
            "tx.chain_id",
            "a legacy payload without the EIP-155 chain id (replayable on every chain)",
        ));
    }
    tx.chain_id = Some(field(&mut body, "tx.chain_id")?);
    for name in ["tx.r", "tx.s"] {
        let v: U256 = field(&mut body, name)?;
        if !v.is_zero() {
            return Err(ChainError::malformed(
                name,
                "must be 0 in an EIP-155 signing payload (a signed transaction?)",
            ));
        }
    }
    no_extra_items(body)?;
    canonical(tx.encoded_for_signing(), bytes)?;
    Ok(tx)
}

impl UnsignedTx {
    /// Decodes a payload of `format` (`eip1559` or `eip155`).
    pub(crate) fn decode(format: &str, bytes: &[u8]) -> Result<Self> {
        match format {
            "eip1559" => decode_eip1559(bytes).map(UnsignedTx::Eip1559),
            _ => decode_eip155(bytes).map(UnsignedTx::Legacy),
        }
    }

    fn chain_id(&self) -> Option<u64> {
        match self {
            UnsignedTx::Eip1559(t) => Some(t.chain_id),
            UnsignedTx::Legacy(t) => t.chain_id,
        }
    }

    fn nonce(&self) -> u64 {
        match self {
            UnsignedTx::Eip1559(t) => t.nonce,
            UnsignedTx::Legacy(t) => t.nonce,
        }
    }

    fn gas_limit(&self) -> u64 {
        match self {
            UnsignedTx::Eip1559(t) => t.gas_limit,
            UnsignedTx::Legacy(t) => t.gas_limit,
        }
    }

    /// Max fee per gas (1559) or gas price (legacy).
    fn fee_per_gas(&self) -> u128 {
        match self {
            UnsignedTx::Eip1559(t) => t.max_fee_per_gas,
            UnsignedTx::Legacy(t) => t.gas_price,
        }
    }

    fn to(&self) -> TxKind {
        match self {
            UnsignedTx::Eip1559(t) => t.to,
            UnsignedTx::Legacy(t) => t.to,
        }
    }

    fn value(&self) -> U256 {
        match self {
            UnsignedTx::Eip1559(t) => t.value,
            UnsignedTx::Legacy(t) => t.value,
        }
    }

    fn input(&self) -> &[u8] {
        match self {
            UnsignedTx::Eip1559(t) => &t.input,
            UnsignedTx::Legacy(t) => &t.input,
        }
    }

    /// The signing payload (what is keccak-hashed), re-encoded by alloy.
    pub(crate) fn signing_bytes(&self) -> Vec<u8> {
        match self {
            UnsignedTx::Eip1559(t) => t.encoded_for_signing(),
            UnsignedTx::Legacy(t) => t.encoded_for_signing(),
        }
    }

    /// Checks the chain id against the network (`tx.chain_id`).
    pub(crate) fn check_network(&self, net: &Network) -> Result<()> {
        match self.chain_id() {
            Some(id) if id == net.chain_id => Ok(()),
            Some(id) => Err(ChainError::wrong_network(
                "tx.chain_id",
                net.name,
                describe_chain_id(id),
            )),
            None => Err(ChainError::unsupported(
                "tx.chain_id",
                "no EIP-155 chain id",
            )),
        }
    }

    /// Semantic checks a node would also make.
    fn check_fees(&self) -> Result<()> {
        if let UnsignedTx::Eip1559(t) = self {
            if t.max_priority_fee_per_gas > t.max_fee_per_gas {
                return Err(ChainError::malformed(
                    "tx.max_priority_fee_per_gas",
                    "exceeds max_fee_per_gas (nodes reject such a transaction)",
                ));
            }
        }
        Ok(())
    }

    /// The intent of this transaction, sent by `source` on `net`.
    pub(crate) fn intent(&self, net: &Network, source: &Address) -> Result<Intent> {
        self.check_network(net)?;
        self.check_fees()?;
        let native = net.native_asset();
        let value = self.value();
        let data = self.input();
        let mut intent = Intent::new(CHAIN, net.name, IntentKind::Transfer, checksummed(source));
        intent.chain_id = Some(net.chain_id);
        intent.nonce = Some(self.nonce().to_string());

        let fee = U256::from(self.gas_limit()).saturating_mul(U256::from(self.fee_per_gas()));
        intent.fee = Some(Fee {
            asset: native.clone(),
            max: amount_of(&fee),
            detail: self.fee_detail(),
        });

        match self.to() {
            TxKind::Create => {
                intent.kind = IntentKind::ContractCreation;
                intent.flag(RiskFlag::ContractCreation);
                if !value.is_zero() {
                    // The endowment goes to the address the new contract will have.
                    intent.transfers.push(Transfer {
                        from: None,
                        to: checksummed(&source.create(self.nonce())),
                        asset: native,
                        amount: amount_of(&value),
                    });
                    intent.flag(RiskFlag::ValueToContract);
                }
            }
            TxKind::Call(to) if data.is_empty() => {
                intent.transfers.push(Transfer {
                    from: None,
                    to: checksummed(&to),
                    asset: native,
                    amount: amount_of(&value),
                });
            }
            TxKind::Call(to) => {
                let fx = effects::decode(net, source, &to, data)?;
                intent.kind = if fx.is_plain_transfer() {
                    IntentKind::Transfer
                } else {
                    IntentKind::ContractCall
                };
                if !value.is_zero() {
                    intent.transfers.push(Transfer {
                        from: None,
                        to: checksummed(&to),
                        asset: native,
                        amount: amount_of(&value),
                    });
                    intent.flag(RiskFlag::ValueToContract);
                }
                intent.transfers.extend(fx.transfers);
                intent.allowances = fx.allowances;
                intent.authorities = fx.authorities;
                intent.calls = fx.calls;
                for f in fx.flags {
                    intent.flag(f);
                }
            }
        }

        // HighFee: over 1 native coin, or over 10 % of the native value sent.
        let one_coin = U256::from(10u64).pow(U256::from(18u64));
        let tenfold = fee.saturating_mul(U256::from(10u64));
        if fee > one_coin || (!value.is_zero() && tenfold > value) {
            intent.flag(RiskFlag::HighFee);
        }
        Ok(intent)
    }

    fn fee_detail(&self) -> String {
        let gwei = |v: u128| Amount::from_u128(v).format_units(9);
        match self {
            UnsignedTx::Eip1559(t) => format!(
                "{} gas × {} gwei max, {} gwei priority",
                t.gas_limit,
                gwei(t.max_fee_per_gas),
                gwei(t.max_priority_fee_per_gas)
            ),
            UnsignedTx::Legacy(t) => {
                format!("{} gas × {} gwei", t.gas_limit, gwei(t.gas_price))
            }
        }
    }

    /// Attaches the signature and serializes the EIP-2718 envelope with alloy-consensus.
    pub(crate) fn finalize(
        &self,
        net: &Network,
        r: &[u8; 32],
        s: &[u8; 32],
        y_parity: bool,
    ) -> SignedTransaction {
        let sig = EvmSignature::new(U256::from_be_bytes(*r), U256::from_be_bytes(*s), y_parity);
        let envelope: TxEnvelope = match self {
            UnsignedTx::Eip1559(t) => t.clone().into_signed(sig).into(),
            UnsignedTx::Legacy(t) => t.clone().into_signed(sig).into(),
        };
        let bytes = envelope.encoded_2718();
        let hex = format!("0x{}", hex::encode(&bytes));
        SignedTransaction {
            chain: CHAIN.to_string(),
            network: net.name.to_string(),
            format: "eip2718".into(),
            txid: Some(format!("0x{}", hex::encode(keccak256(&bytes)))),
            details: serde_json::json!({ "chain_id": net.chain_id, "signed_tx_hex": hex }),
            bytes,
        }
    }
}

/// Independent check of a signed transaction: alloy decodes it, its unsigned part must
/// re-encode to exactly `payload`, and libsecp256k1 must recover the wallet from alloy's
/// signing hash with a low-s signature.
pub(crate) fn verify(
    net: &Network,
    key: WalletKey<'_>,
    payload: &[u8],
    signed: &SignedTransaction,
) -> Result<()> {
    let fail = |m: &str| Err(ChainError::Verification(m.to_string()));
    if signed.format != "eip2718" {
        return fail("a transaction signature must have format eip2718");
    }
    let envelope = TxEnvelope::decode_2718_exact(&signed.bytes).map_err(|e| {
        ChainError::Verification(format!("signed transaction does not decode: {e}"))
    })?;
    let (signing_bytes, hash, sig, chain_id) = match &envelope {
        TxEnvelope::Eip1559(s) => parts(s, Some(s.tx().chain_id)),
        TxEnvelope::Legacy(s) => parts(s, s.tx().chain_id),
        _ => return fail("signed transaction is neither EIP-1559 nor legacy"),
    };
    if chain_id != Some(net.chain_id) {
        return fail("signed transaction is for another chain id");
    }
    if signing_bytes != payload {
        return fail("the signed transaction is not the payload that was approved");
    }
    if envelope.encoded_2718() != signed.bytes {
        return fail("signed transaction is not in canonical encoding");
    }
    let want_txid = format!("0x{}", hex::encode(keccak256(&signed.bytes)));
    if signed.txid.as_deref() != Some(want_txid.as_str()) {
        return fail("txid is not the hash of the signed transaction");
    }
    check_signer(
        key,
        &hash,
        &sig.r().to_be_bytes::<32>(),
        &sig.s().to_be_bytes::<32>(),
        sig.v(),
    )
}

fn parts<T: SignableTransaction<EvmSignature>>(
    s: &Signed<T>,
    chain_id: Option<u64>,
) -> (Vec<u8>, alloy_primitives::B256, EvmSignature, Option<u64>) {
    (
        s.tx().encoded_for_signing(),
        s.signature_hash(),
        *s.signature(),
        chain_id,
    )
}
