use alloy::primitives::{Address, B256, U256};
use warrant_chain::{ChainConfig, DevChain, Hardfork, artifacts, create2_address};
use warrant_core::{
    IEntryPoint,
    constants::{CREATE2_DEPLOYER, ENTRY_POINT_V08, ENTRY_POINT_V08_SALT},
};

use crate::support::{ONE_ETH, delegate, fixture, sign, transfer_op};

#[test]
fn entry_point_lands_on_its_canonical_address() {
    let code = artifacts::entry_point_creation_code().unwrap();
    assert_eq!(create2_address(CREATE2_DEPLOYER, ENTRY_POINT_V08_SALT, &code), ENTRY_POINT_V08);
    for hardfork in [Hardfork::Osaka, Hardfork::Prague] {
        let mut chain = DevChain::new(ChainConfig { hardfork, ..Default::default() }).unwrap();
        assert!(chain.code(ENTRY_POINT_V08).len() > 10_000, "EntryPoint runtime code is deployed");
        // The EntryPoint answers as itself: a deposit is credited to the account.
        let account = Address::with_last_byte(0x42);
        let from = chain.dev_account(2);
        let receipt = chain
            .transact(warrant_chain::TxRequest {
                from,
                to: Some(ENTRY_POINT_V08),
                value: U256::from(ONE_ETH),
                data: alloy::sol_types::SolCall::abi_encode(&IEntryPoint::depositToCall { account }).into(),
                ..Default::default()
            })
            .unwrap();
        assert!(receipt.success);
        let deposit = chain.call_sol(ENTRY_POINT_V08, &IEntryPoint::balanceOfCall { account }).unwrap();
        assert_eq!(deposit, U256::from(ONE_ETH));
    }
}

#[test]
fn core_user_op_hash_matches_the_entry_point() {
    let mut f = fixture();
    let simple = f.simple_7702;
    delegate(&mut f, simple);
    let op = transfer_op(&mut f, Address::with_last_byte(9), 1);
    let packed = op.pack();
    let on_chain = f
        .chain
        .call_sol(ENTRY_POINT_V08, &IEntryPoint::getUserOpHashCall { userOp: packed.clone() })
        .unwrap();
    let off_chain = packed.hash(ENTRY_POINT_V08, f.chain.chain_id(), Some(simple)).unwrap();
    assert_eq!(on_chain, off_chain);

    // And for a plain (non-7702) operation with an initCode, the initCode itself is hashed.
    let mut plain = op.clone();
    plain.factory = Some(Address::with_last_byte(7));
    plain.factory_data = Some(vec![1, 2, 3].into());
    let packed = plain.pack();
    let on_chain = f
        .chain
        .call_sol(ENTRY_POINT_V08, &IEntryPoint::getUserOpHashCall { userOp: packed.clone() })
        .unwrap();
    assert_eq!(on_chain, packed.hash(ENTRY_POINT_V08, f.chain.chain_id(), None).unwrap());
    assert_ne!(on_chain, B256::ZERO);
}

#[test]
fn a_signed_op_is_replay_protected_by_the_nonce() {
    let mut f = fixture();
    let simple = f.simple_7702;
    delegate(&mut f, simple);
    let op = transfer_op(&mut f, Address::with_last_byte(9), ONE_ETH);
    let key = f.eoa.clone();
    let op = sign(&mut f, op, &key);
    let beneficiary = f.chain.dev_account(3);
    let first = f.chain.handle_ops(vec![op.pack()], beneficiary).unwrap();
    assert!(first.receipt.success);
    let replay = f.chain.handle_ops(vec![op.pack()], beneficiary).unwrap();
    assert!(!replay.receipt.success);
    match replay.failure {
        Some(IEntryPoint::IEntryPointErrors::FailedOp(e)) => assert!(e.reason.starts_with("AA25"), "{e:?}"),
        other => panic!("expected AA25 invalid nonce, got {other:?}"),
    }
}
