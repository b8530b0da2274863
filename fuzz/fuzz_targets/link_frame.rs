//! `tessera-proto::link`: postcard frames between the coordinator and a signer
//! (`link::decode::<ToSigner>` on the signer, `link::decode::<FromSigner>` on the
//! coordinator). First byte: bit 0 picks the direction; the rest is the frame.
//!
//! Property: decoding never panics, and a decoded frame's encoding is a fixed point
//! (`encode(decode(encode(decode(x)))) == encode(decode(x))`): what one side sends the other
//! reads back as the same frame.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tessera_fuzz::split;
use tessera_proto::link::{decode, encode, FromSigner, ToSigner};

fn fixed_point<T: serde::Serialize + serde::de::DeserializeOwned>(bytes: &[u8]) {
    if let Ok(frame) = decode::<T>(bytes) {
        let once = encode(&frame);
        let again: T = decode(&once).expect("an encoded frame must decode");
        assert_eq!(encode(&again), once, "frame encoding is not a fixed point");
    }
}

fuzz_target!(|data: &[u8]| {
    let (sel, bytes) = split(data);
    if sel & 1 == 0 {
        fixed_point::<ToSigner>(bytes);
    } else {
        fixed_point::<FromSigner>(bytes);
    }
});
