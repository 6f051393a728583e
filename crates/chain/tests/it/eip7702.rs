use alloy::{
    primitives::{Address, U256},
    signers::local::PrivateKeySigner,
};
use warrant_chain::TxRequest;
use warrant_core::{IEntryPoint, constants::ENTRY_POINT_V08};

use crate::support::{ONE_ETH, delegate, fixture, sign, transfer_op};

#[test]
fn type4_transaction_installs_the_delegation_designator() {
    let mut f = fixture();
    let simple = f.simple_7702;
    let eoa = f.eoa.address();
    assert!(f.chain.code(eoa).is_empty());
    let nonce_before = f.chain.nonce(eoa);
    let receipt = delegate(&mut f, simple);
    assert!(receipt.success);
    let code = f.chain.code(eoa);
    assert_eq!(code.len(), 23);
    assert_eq!(&code[..3], &[0xef, 0x01, 0x00]);
    assert_eq!(&code[3..], simple.as_slice());
    assert_eq!(f.chain.delegate_of(eoa), Some(simple));
    assert_eq!(f.chain.nonce(eoa), nonce_before + 1, "a valid tuple bumps the authority's nonce");
}

#[test]
fn authorization_for_another_chain_or_stale_nonce_is_skipped() {
    let mut f = fixture();
    let eoa = f.eoa.clone();
    let relayer = f.chain.dev_account(1);
    let stale = f.chain.sign_authorization(&eoa, f.simple_7702, 5).unwrap();
    let receipt = f
        .chain
        .transact(TxRequest {
            from: relayer,
            to: Some(relayer),
            authorization_list: vec![stale],
            gas_limit: Some(100_000),
            ..Default::default()
        })
        .unwrap();
    assert!(receipt.success, "an invalid tuple is skipped, not fatal");
    assert!(f.chain.code(eoa.address()).is_empty());
}

#[test]
fn sender_that_is_its_own_authority_uses_nonce_plus_one() {
    let mut f = fixture();
    let eoa = f.eoa.clone();
    let tx_nonce = f.chain.nonce(eoa.address());
    // The sender's nonce is bumped before the list is processed, so the tuple must carry tx nonce + 1.
    let auth = f.chain.sign_authorization(&eoa, f.simple_7702, tx_nonce + 1).unwrap();
    let receipt = f
        .chain
        .transact(TxRequest {
            from: eoa.address(),
            to: Some(eoa.address()),
            authorization_list: vec![auth],
            gas_limit: Some(100_000),
            ..Default::default()
        })
        .unwrap();
    assert!(receipt.success);
    assert_eq!(f.chain.delegate_of(eoa.address()), Some(f.simple_7702));
    assert_eq!(f.chain.nonce(eoa.address()), tx_nonce + 2);
}

#[test]
fn owner_signed_op_transfers_eth_through_handle_ops() {
    let mut f = fixture();
    let simple = f.simple_7702;
    delegate(&mut f, simple);
    let recipient = Address::with_last_byte(0xbb);
    let op = transfer_op(&mut f, recipient, ONE_ETH);
    let key = f.eoa.clone();
    let op = sign(&mut f, op, &key);
    let eoa_before = f.chain.balance(key.address());
    let beneficiary = f.chain.dev_account(3);
    let outcome = f.chain.handle_ops(vec![op.pack()], beneficiary).unwrap();
    assert!(outcome.receipt.success, "{:?}", outcome.failure);
    assert_eq!(outcome.user_operation_events.len(), 1);
    let event = &outcome.user_operation_events[0];
    assert!(event.success);
    assert_eq!(event.sender, key.address());
    assert_eq!(f.chain.balance(recipient), U256::from(ONE_ETH));
    // The EOA paid the transfer plus the operation's gas, exactly as the EntryPoint reports it; what it
    // prefunded beyond that stays as its deposit at the EntryPoint.
    let deposit =
        f.chain.call_sol(ENTRY_POINT_V08, &IEntryPoint::balanceOfCall { account: key.address() }).unwrap();
    assert_eq!(
        f.chain.balance(key.address()) + deposit,
        eoa_before - U256::from(ONE_ETH) - event.actualGasCost
    );
    assert!(event.actualGasCost > U256::ZERO);
}

#[test]
fn wrong_signature_fails_with_aa24() {
    let mut f = fixture();
    let simple = f.simple_7702;
    delegate(&mut f, simple);
    let recipient = Address::with_last_byte(0xbb);
    let op = transfer_op(&mut f, recipient, ONE_ETH);
    let stranger = PrivateKeySigner::random();
    let op = sign(&mut f, op, &stranger);
    let beneficiary = f.chain.dev_account(3);
    let outcome = f.chain.handle_ops(vec![op.pack()], beneficiary).unwrap();
    assert!(!outcome.receipt.success);
    match outcome.failure {
        Some(IEntryPoint::IEntryPointErrors::FailedOp(e)) => {
            assert_eq!(e.opIndex, U256::ZERO);
            assert!(e.reason.starts_with("AA24"), "{}", e.reason);
        }
        other => panic!("expected FailedOp AA24, got {other:?}"),
    }
    assert_eq!(f.chain.balance(recipient), U256::ZERO);
}

#[test]
fn op_signed_for_another_delegate_fails() {
    // The 7702 initCode marker binds the delegate into the hash: a signature made for another delegate is void.
    let mut f = fixture();
    let simple = f.simple_7702;
    delegate(&mut f, simple);
    let mut op = transfer_op(&mut f, Address::with_last_byte(0xbb), 1);
    let hash = op.hash(ENTRY_POINT_V08, f.chain.chain_id(), Some(Address::with_last_byte(1)));
    let sig = alloy::signers::SignerSync::sign_hash_sync(&f.eoa, &hash.unwrap()).unwrap();
    op.signature = sig.as_bytes().to_vec().into();
    let beneficiary = f.chain.dev_account(3);
    let outcome = f.chain.handle_ops(vec![op.pack()], beneficiary).unwrap();
    assert!(!outcome.receipt.success);
}

#[test]
fn zero_address_authorization_clears_the_delegation() {
    let mut f = fixture();
    let simple = f.simple_7702;
    delegate(&mut f, simple);
    assert_eq!(f.chain.delegate_of(f.eoa.address()), Some(simple));
    delegate(&mut f, Address::ZERO);
    assert!(f.chain.code(f.eoa.address()).is_empty(), "code is empty again");
    assert_eq!(f.chain.delegate_of(f.eoa.address()), None);
    // A plain transfer from the restored EOA works.
    let to = Address::with_last_byte(0xcc);
    let receipt = f
        .chain
        .transact(TxRequest {
            from: f.eoa.address(),
            to: Some(to),
            value: U256::from(5),
            ..Default::default()
        })
        .unwrap();
    assert!(receipt.success);
    assert_eq!(f.chain.balance(to), U256::from(5));
}
