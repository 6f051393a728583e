//! Shared set-up: a chain with eth-infinitism's Simple7702Account deployed and a fresh, funded EOA.

use alloy::{
    primitives::{Address, Bytes, U128, U256, address},
    signers::{SignerSync, local::PrivateKeySigner},
    sol,
    sol_types::SolCall,
};
use warrant_chain::{ChainConfig, DevChain, TxRequest, artifacts};
use warrant_core::{UserOperation, constants::ENTRY_POINT_V08};

sol! {
    /// eth-infinitism's Simple7702Account execution entry.
    function execute(address target, uint256 value, bytes data);
}

/// The 20-byte EIP-7702 initCode marker as a factory address.
pub(crate) const EIP7702_FACTORY: Address = address!("0x7702000000000000000000000000000000000000");

pub(crate) const ONE_ETH: u128 = 1_000_000_000_000_000_000;

pub(crate) struct Fixture {
    pub chain: DevChain,
    pub simple_7702: Address,
    pub eoa: PrivateKeySigner,
}

pub(crate) fn fixture() -> Fixture {
    let mut chain = DevChain::new(ChainConfig::default()).expect("chain starts");
    let simple_7702 = chain
        .deploy(artifacts::simple_7702_account_creation_code().unwrap())
        .expect("Simple7702Account deploys");
    let eoa = PrivateKeySigner::random();
    chain.set_balance(eoa.address(), U256::from(10 * ONE_ETH));
    Fixture { chain, simple_7702, eoa }
}

/// Delegates the fixture's EOA to `delegate` with a type-4 transaction relayed by dev account 1.
pub(crate) fn delegate(f: &mut Fixture, delegate: Address) -> warrant_chain::Receipt {
    let nonce = f.chain.nonce(f.eoa.address());
    let auth = f.chain.sign_authorization(&f.eoa, delegate, nonce).unwrap();
    let relayer = f.chain.dev_account(1);
    f.chain
        .transact(TxRequest {
            from: relayer,
            to: Some(relayer),
            authorization_list: vec![auth],
            gas_limit: Some(100_000),
            ..Default::default()
        })
        .unwrap()
}

/// An owner-signed 7702 operation that sends `amount` wei from the EOA to `to`.
pub(crate) fn transfer_op(f: &mut Fixture, to: Address, amount: u128) -> UserOperation {
    let nonce = f.chain.entry_point_nonce(f.eoa.address(), Default::default()).unwrap();
    UserOperation {
        sender: f.eoa.address(),
        nonce,
        factory: Some(EIP7702_FACTORY),
        call_data: executeCall { target: to, value: U256::from(amount), data: Bytes::new() }
            .abi_encode()
            .into(),
        call_gas_limit: U128::from(100_000),
        verification_gas_limit: U128::from(150_000),
        pre_verification_gas: U256::from(50_000),
        max_fee_per_gas: U128::from(3_000_000_000u64),
        max_priority_fee_per_gas: U128::from(1_000_000_000u64),
        ..Default::default()
    }
}

/// Signs `op` with `key` over the v0.8 hash, binding the sender's current delegate.
pub(crate) fn sign(f: &mut Fixture, mut op: UserOperation, key: &PrivateKeySigner) -> UserOperation {
    let delegate = f.chain.delegate_of(op.sender);
    let hash = op.hash(ENTRY_POINT_V08, f.chain.chain_id(), delegate).unwrap();
    op.signature = key.sign_hash_sync(&hash).unwrap().as_bytes().to_vec().into();
    op
}
