//! The shared adapter conformance suite, on payloads made by the builder.
#![allow(clippy::unwrap_used)] // test code: a panic is a test failure

mod common;

use tessera_chain::conformance::{run, Fixtures};
use tessera_chain::{Payload, WalletKey};
use tessera_chain_bitcoin::Bitcoin;

struct BitcoinFixtures;

impl Fixtures for BitcoinFixtures {
    fn payloads(&self, network: &str, key: WalletKey<'_>) -> Vec<(String, Payload)> {
        vec![
            (
                "1 input -> payment + change".into(),
                common::build(
                    network,
                    key,
                    &common::spec_one_in_payment_and_change(network, key),
                ),
            ),
            (
                "2 inputs -> 2 payments".into(),
                common::build(network, key, &common::spec_two_in_two_out(network, key)),
            ),
            (
                "OP_RETURN + change, locktime, no RBF".into(),
                common::build(network, key, &common::spec_op_return(network, key)),
            ),
        ]
    }
}

#[test]
fn conformance() {
    run(&Bitcoin, &BitcoinFixtures);
}
