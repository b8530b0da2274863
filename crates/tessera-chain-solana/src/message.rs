//! A strict, bounds-checked parser (and serializer) of the Solana **legacy** message wire format.
//!
//! ```text
//! message     = header account_keys recent_blockhash instructions
//! header      = num_required_signatures:u8 num_readonly_signed_accounts:u8
//!               num_readonly_unsigned_accounts:u8
//! account_keys= compact-u16(n) key(32)*n
//! instructions= compact-u16(m) instruction*m
//! instruction = program_id_index:u8 compact-u16(a) account_index:u8*a compact-u16(d) data:u8*d
//! ```
//!
//! `compact-u16` (Solana's "short vec" length) is 1–3 little-endian groups of 7 bits, the high
//! bit of each byte saying another byte follows; the parser refuses non-minimal encodings and
//! values above `u16::MAX`, exactly like the Solana crates.
//!
//! Beyond the grammar the parser refuses everything the Solana runtime's `sanitize` refuses
//! (header counts inconsistent with the key list, no writable fee payer, account or program
//! indices out of range, the fee payer invoked as a program), plus duplicate account keys,
//! trailing bytes and messages too large for a transaction packet. A first byte with the high bit
//! set is a versioned message (v0 and later), refused as unsupported: its address lookup tables
//! cannot be resolved offline.
//!
//! This is the code the fuzz/property tests target: it never panics, never indexes without a
//! check, and allocates at most what the (bounded) input can hold.

use tessera_chain::{ChainError, Result};

/// Largest UDP payload a Solana transaction may occupy (`PACKET_DATA_SIZE`).
pub const PACKET_DATA_SIZE: usize = 1232;

/// Largest legacy message accepted: a packet minus the one-signature prefix
/// (`compact-u16(1)` and 64 signature bytes).
pub const MAX_MESSAGE_LEN: usize = PACKET_DATA_SIZE - 1 - 64;

/// A 32-byte account address (Ed25519 public key or program-derived address).
pub type Pubkey = [u8; 32];

/// The three header counts of a legacy message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MessageHeader {
    /// Signatures the transaction carries; the first this many account keys sign.
    pub num_required_signatures: u8,
    /// The last this many signing keys are read-only.
    pub num_readonly_signed_accounts: u8,
    /// The last this many non-signing keys are read-only.
    pub num_readonly_unsigned_accounts: u8,
}

/// One instruction, with accounts given as indices into the message's key list.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CompiledInstruction {
    /// Index of the program's key.
    pub program_id_index: u8,
    /// Indices of the instruction's accounts, in order.
    pub accounts: Vec<u8>,
    /// Opaque instruction data.
    pub data: Vec<u8>,
}

/// A parsed legacy message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LegacyMessage {
    /// Header.
    pub header: MessageHeader,
    /// Account keys, fee payer first.
    pub account_keys: Vec<Pubkey>,
    /// Recent blockhash (or durable nonce value).
    pub recent_blockhash: [u8; 32],
    /// Instructions, in execution order.
    pub instructions: Vec<CompiledInstruction>,
}

/// Appends `compact-u16(value)`.
pub fn encode_compact_u16(out: &mut Vec<u8>, value: u16) {
    let mut rem = value;
    loop {
        let low = (rem & 0x7f) as u8;
        rem >>= 7;
        if rem == 0 {
            out.push(low);
            return;
        }
        out.push(low | 0x80);
    }
}

/// A cursor over the input that only hands out checked slices.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.pos)
    }

    fn take(&mut self, n: usize, field: &str) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .ok_or_else(|| ChainError::malformed(field, "length overflow"))?;
        let s = self.bytes.get(self.pos..end).ok_or_else(|| {
            ChainError::malformed(
                field,
                format!(
                    "truncated: needs {n} bytes at offset {}, {} left",
                    self.pos,
                    self.remaining()
                ),
            )
        })?;
        self.pos = end;
        Ok(s)
    }

    fn u8(&mut self, field: &str) -> Result<u8> {
        let b = self.take(1, field)?;
        b.first()
            .copied()
            .ok_or_else(|| ChainError::malformed(field, "truncated"))
    }

    fn array32(&mut self, field: &str) -> Result<[u8; 32]> {
        let s = self.take(32, field)?;
        <[u8; 32]>::try_from(s).map_err(|_| ChainError::malformed(field, "truncated"))
    }

    /// Solana's short-vec length: minimal encoding only, at most 3 bytes, at most `u16::MAX`.
    fn compact_u16(&mut self, field: &str) -> Result<u16> {
        let mut value: u32 = 0;
        for i in 0..3u32 {
            let b = self.u8(field)?;
            value |= u32::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                if i > 0 && b == 0 {
                    return Err(ChainError::malformed(
                        field,
                        "non-minimal compact-u16 length encoding",
                    ));
                }
                return u16::try_from(value)
                    .map_err(|_| ChainError::malformed(field, "compact-u16 length overflows u16"));
            }
        }
        Err(ChainError::malformed(
            field,
            "compact-u16 length longer than 3 bytes",
        ))
    }

    /// A length-prefixed byte string whose length must fit in the rest of the input.
    fn short_bytes(&mut self, field: &str) -> Result<&'a [u8]> {
        let n = self.compact_u16(field)?;
        self.take(usize::from(n), field)
    }
}

impl LegacyMessage {
    /// Parses a serialized legacy message (see the module docs for what is refused).
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        if bytes.len() > MAX_MESSAGE_LEN {
            return Err(ChainError::malformed(
                "message",
                format!(
                    "{} bytes: larger than a one-signature transaction packet allows \
                     ({MAX_MESSAGE_LEN})",
                    bytes.len()
                ),
            ));
        }
        let mut r = Reader { bytes, pos: 0 };
        let first = r.u8("message.header")?;
        if first & 0x80 != 0 {
            return Err(ChainError::unsupported(
                "message.version",
                format!(
                    "versioned (v{}) message: its address lookup tables cannot be resolved \
                     offline; only legacy messages are accepted",
                    first & 0x7f
                ),
            ));
        }
        let header = MessageHeader {
            num_required_signatures: first,
            num_readonly_signed_accounts: r.u8("message.header")?,
            num_readonly_unsigned_accounts: r.u8("message.header")?,
        };

        let num_keys = usize::from(r.compact_u16("message.account_keys")?);
        if num_keys.saturating_mul(32) > r.remaining() {
            return Err(ChainError::malformed(
                "message.account_keys",
                format!("{num_keys} keys announced, {} bytes left", r.remaining()),
            ));
        }
        let mut account_keys = Vec::with_capacity(num_keys);
        for i in 0..num_keys {
            account_keys.push(r.array32(&format!("message.account_keys[{i}]"))?);
        }
        let recent_blockhash = r.array32("message.recent_blockhash")?;

        let num_ix = usize::from(r.compact_u16("message.instructions")?);
        // Every instruction takes at least 3 bytes (index and two empty lengths).
        if num_ix.saturating_mul(3) > r.remaining() {
            return Err(ChainError::malformed(
                "message.instructions",
                format!(
                    "{num_ix} instructions announced, {} bytes left",
                    r.remaining()
                ),
            ));
        }
        let mut instructions = Vec::with_capacity(num_ix);
        for i in 0..num_ix {
            let program_id_index = r.u8(&format!("message.instructions[{i}].program_id_index"))?;
            let accounts = r
                .short_bytes(&format!("message.instructions[{i}].accounts"))?
                .to_vec();
            let data = r
                .short_bytes(&format!("message.instructions[{i}].data"))?
                .to_vec();
            instructions.push(CompiledInstruction {
                program_id_index,
                accounts,
                data,
            });
        }
        if r.remaining() != 0 {
            return Err(ChainError::malformed(
                "message",
                format!("{} trailing bytes after the instructions", r.remaining()),
            ));
        }
        let message = LegacyMessage {
            header,
            account_keys,
            recent_blockhash,
            instructions,
        };
        message.sanitize()?;
        Ok(message)
    }

    /// The runtime's structural checks, plus duplicate keys.
    fn sanitize(&self) -> Result<()> {
        let h = self.header;
        let n = self.account_keys.len();
        if n == 0 {
            return Err(ChainError::malformed(
                "message.account_keys",
                "no account keys (a message needs a fee payer)",
            ));
        }
        if usize::from(h.num_required_signatures) + usize::from(h.num_readonly_unsigned_accounts)
            > n
        {
            return Err(ChainError::malformed(
                "message.header",
                format!(
                    "{} signers and {} read-only unsigned accounts do not fit {n} account keys",
                    h.num_required_signatures, h.num_readonly_unsigned_accounts
                ),
            ));
        }
        if h.num_readonly_signed_accounts >= h.num_required_signatures {
            return Err(ChainError::malformed(
                "message.header",
                format!(
                    "{} read-only signers of {} signers leave no writable fee payer",
                    h.num_readonly_signed_accounts, h.num_required_signatures
                ),
            ));
        }
        for (j, key) in self.account_keys.iter().enumerate() {
            if let Some(i) = self.account_keys.iter().take(j).position(|k| k == key) {
                return Err(ChainError::malformed(
                    format!("message.account_keys[{j}]"),
                    format!("duplicate of message.account_keys[{i}]"),
                ));
            }
        }
        for (i, ix) in self.instructions.iter().enumerate() {
            let p = usize::from(ix.program_id_index);
            if p >= n {
                return Err(ChainError::malformed(
                    format!("message.instructions[{i}].program_id_index"),
                    format!("index {p} out of range ({n} account keys)"),
                ));
            }
            if p == 0 {
                return Err(ChainError::malformed(
                    format!("message.instructions[{i}].program_id_index"),
                    "the fee payer cannot be invoked as a program",
                ));
            }
            for (j, a) in ix.accounts.iter().enumerate() {
                if usize::from(*a) >= n {
                    return Err(ChainError::malformed(
                        format!("message.instructions[{i}].accounts[{j}]"),
                        format!("index {a} out of range ({n} account keys)"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The wire form. Inverse of [`parse`](Self::parse) for every message it accepts; lists
    /// longer than `u16::MAX` (which no parsed or built message has) are cut to fit.
    pub fn serialize(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            3 + 3 + 32 * self.account_keys.len() + 32 + 3 + 8 * self.instructions.len(),
        );
        out.push(self.header.num_required_signatures);
        out.push(self.header.num_readonly_signed_accounts);
        out.push(self.header.num_readonly_unsigned_accounts);
        let keys = short_slice(&self.account_keys);
        encode_compact_u16(&mut out, short_len(keys));
        for k in keys {
            out.extend_from_slice(k);
        }
        out.extend_from_slice(&self.recent_blockhash);
        let ixs = short_slice(&self.instructions);
        encode_compact_u16(&mut out, short_len(ixs));
        for ix in ixs {
            out.push(ix.program_id_index);
            let accounts = short_slice(&ix.accounts);
            encode_compact_u16(&mut out, short_len(accounts));
            out.extend_from_slice(accounts);
            let data = short_slice(&ix.data);
            encode_compact_u16(&mut out, short_len(data));
            out.extend_from_slice(data);
        }
        out
    }

    /// The key at `index`, when in range.
    pub fn key(&self, index: u8) -> Option<&Pubkey> {
        self.account_keys.get(usize::from(index))
    }

    /// The program key of `ix` (in range for every parsed message).
    pub fn program_id(&self, ix: &CompiledInstruction) -> Option<&Pubkey> {
        self.key(ix.program_id_index)
    }

    /// The key of the `position`-th account of `ix`, when present.
    pub fn instruction_account(
        &self,
        ix: &CompiledInstruction,
        position: usize,
    ) -> Option<&Pubkey> {
        ix.accounts.get(position).and_then(|i| self.key(*i))
    }

    /// Whether the key at `index` signs.
    pub fn is_signer(&self, index: usize) -> bool {
        index < usize::from(self.header.num_required_signatures)
    }

    /// Whether the key at `index` is writable according to the header (the runtime further
    /// demotes invoked programs and reserved accounts to read-only).
    pub fn is_writable(&self, index: usize) -> bool {
        let h = self.header;
        let signers = usize::from(h.num_required_signatures);
        if index < signers {
            index < signers.saturating_sub(usize::from(h.num_readonly_signed_accounts))
        } else {
            index
                < self
                    .account_keys
                    .len()
                    .saturating_sub(usize::from(h.num_readonly_unsigned_accounts))
        }
    }
}

fn short_slice<T>(items: &[T]) -> &[T] {
    items.get(..usize::from(u16::MAX)).unwrap_or(items)
}

fn short_len<T>(items: &[T]) -> u16 {
    u16::try_from(items.len()).unwrap_or(u16::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_len(bytes: &[u8]) -> Result<u16> {
        Reader { bytes, pos: 0 }.compact_u16("len")
    }

    #[test]
    fn compact_u16_round_trips_and_is_strict() {
        for v in [0u16, 1, 0x7f, 0x80, 0x3fff, 0x4000, 0xffff] {
            let mut out = Vec::new();
            encode_compact_u16(&mut out, v);
            assert_eq!(decode_len(&out).unwrap(), v, "{v}");
        }
        assert_eq!(decode_len(&[0x80, 0x01]).unwrap(), 0x80);
        // Alias encodings of 0 and 1, overflow, too long, truncated.
        for bad in [
            &[0x80, 0x00][..],
            &[0x81, 0x00],
            &[0x81, 0x80, 0x00],
            &[0xff, 0xff, 0x04],
            &[0x80, 0x80, 0x80, 0x01],
            &[0x80],
            &[],
        ] {
            assert!(decode_len(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn writability_follows_the_header() {
        let m = LegacyMessage {
            header: MessageHeader {
                num_required_signatures: 2,
                num_readonly_signed_accounts: 1,
                num_readonly_unsigned_accounts: 1,
            },
            account_keys: vec![[1; 32], [2; 32], [3; 32], [4; 32]],
            ..Default::default()
        };
        let w: Vec<bool> = (0..4).map(|i| m.is_writable(i)).collect();
        assert_eq!(w, [true, false, true, false]);
        let s: Vec<bool> = (0..4).map(|i| m.is_signer(i)).collect();
        assert_eq!(s, [true, true, false, false]);
    }
}
