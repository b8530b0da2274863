//! Small helpers for the crate's canonical binary encodings and hex serde.

use crate::{Result, WireError};

/// Reads a strict, canonical binary encoding front to back.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    what: &'static str,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8], what: &'static str) -> Self {
        Reader { buf, what }
    }

    fn err(&self, reason: &str) -> WireError {
        WireError::Malformed(format!("{}: {reason}", self.what))
    }

    pub fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.buf.len() < n {
            return Err(self.err("truncated"));
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    pub fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let b = self.take(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(b);
        Ok(out)
    }

    pub fn u8(&mut self) -> Result<u8> {
        Ok(self.array::<1>()?[0])
    }

    pub fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    pub fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    /// A `u32` big-endian length followed by that many bytes, at most `max`.
    pub fn bytes(&mut self, max: usize) -> Result<&'a [u8]> {
        let len = usize::try_from(self.u32()?).map_err(|_| self.err("length overflow"))?;
        if len > max {
            return Err(self.err("length over limit"));
        }
        self.take(len)
    }

    pub fn finish(self) -> Result<()> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(self.err("trailing bytes"))
        }
    }
}

/// Appends a `u32` big-endian length and the bytes.
///
/// Callers bound their fields far below 4 GiB; a longer one saturates the length, which the
/// reader then refuses (the bytes no longer match the length).
pub(crate) fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    let len = u32::try_from(b.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(b);
}

/// Parses exactly `N` bytes of hex (either case).
pub(crate) fn hex_array<const N: usize>(s: &str, what: &str) -> Result<[u8; N]> {
    let mut out = [0u8; N];
    hex::decode_to_slice(s.trim(), &mut out)
        .map_err(|_| WireError::Malformed(format!("{what}: expected {N} bytes of hex")))?;
    Ok(out)
}

/// Serde for fixed-size byte arrays as lowercase hex strings.
pub(crate) mod hexarr {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer, const N: usize>(v: &[u8; N], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>, const N: usize>(
        d: D,
    ) -> Result<[u8; N], D::Error> {
        let s = String::deserialize(d)?;
        let mut out = [0u8; N];
        hex::decode_to_slice(&s, &mut out)
            .map_err(|_| serde::de::Error::custom(format!("expected {N} bytes of hex")))?;
        Ok(out)
    }
}

/// Serde for byte vectors as lowercase hex strings.
pub(crate) mod hexvec {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        hex::decode(s).map_err(|_| serde::de::Error::custom("expected hex bytes"))
    }
}

/// Implements `Serialize`/`Deserialize` as a hex string, `Display` as full lowercase hex and
/// `from_hex` for a newtype over `[u8; 32]`.
macro_rules! hex_newtype {
    ($t:ident, $what:literal) => {
        impl $t {
            /// Parses 64 hex characters (either case).
            pub fn from_hex(s: &str) -> $crate::Result<Self> {
                Ok($t($crate::codec::hex_array(s, $what)?))
            }

            /// Full lowercase hex.
            pub fn to_hex(&self) -> String {
                hex::encode(self.0)
            }
        }

        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&hex::encode(self.0))
            }
        }

        impl std::str::FromStr for $t {
            type Err = $crate::WireError;
            fn from_str(s: &str) -> $crate::Result<Self> {
                Self::from_hex(s)
            }
        }

        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                $crate::codec::hexarr::serialize(&self.0, s)
            }
        }

        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                $crate::codec::hexarr::deserialize(d).map($t)
            }
        }
    };
}
pub(crate) use hex_newtype;
