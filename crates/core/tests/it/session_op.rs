//! The session operation builder, off chain: encodings, nonce layout, signatures and refusals. The on-chain
//! acceptance tests are in crates/chain/tests/it/session_op.rs.

use alloy_primitives::{Address, B256, Bytes, U256, address, aliases::U192};
use alloy_sol_types::{SolCall, SolValue};
use warrant_core::{
    CoreError,
    account::AccountKind,
    constants::ENTRY_POINT_V08,
    eip7702::{ChainScope, authorization, sign_authorization},
    grant::{Grant, MODE_ENABLE, MODE_USE, Session, enable_digest, use_digest},
    policy::{Call, Denial, OpCheck, Presentation, SessionStatus, SessionUsage, check_operation},
    session_op::{
        EIP7702_MARKER, Eip7702Sender, Execution, GasFields, MODE_BATCH, MODE_SINGLE, Paymaster, SessionKey,
        SessionOp, execute_batch, execute_calldata, execute_single, executeCall, session_nonce_key,
        sign_grant,
    },
    user_op::validator_nonce,
};

use crate::{
    grant_json::{RECIPIENT, TOKEN, usdc_scope},
    support::Key,
};

const ACCOUNT: Address = address!("0x1111111111111111111111111111111111111111");
const MODULE: Address = address!("0x00000000000000000000000000000000000000aa");

fn transfer(amount: u64) -> Call {
    let data = (RECIPIENT, U256::from(amount)).abi_encode_params();
    let mut calldata = vec![0xa9, 0x05, 0x9c, 0xbb];
    calldata.extend_from_slice(&data);
    Call { target: TOKEN, value: U256::ZERO, data: calldata }
}

fn session(key: &Key) -> Session {
    Session { signer: key.address(), salt: B256::ZERO, scope: usdc_scope() }
}

/// A one-transfer operation of the test account (for the P-256 tests).
pub(crate) fn base_op() -> SessionOp {
    op(vec![transfer(5)])
}

fn op(calls: Vec<Call>) -> SessionOp {
    SessionOp {
        account: ACCOUNT,
        module: MODULE,
        chain_id: 31337,
        account_kind: AccountKind::WarrantAccount,
        calls,
        gas: GasFields {
            call_gas_limit: 100_000,
            verification_gas_limit: 300_000,
            pre_verification_gas: 50_000,
            max_fee_per_gas: 2_000_000_000,
            max_priority_fee_per_gas: 1_000_000_000,
            paymaster: None,
        },
        key_suffix: 0,
        period: 0,
        sequence: 4,
        eip7702: None,
    }
}

#[test]
fn execute_encodings() {
    let call = transfer(5);
    let single = execute_single(&call);
    let decoded = executeCall::abi_decode(&single).unwrap();
    assert_eq!(decoded.mode, MODE_SINGLE);
    assert_eq!(&decoded.executionCalldata[..20], TOKEN.as_slice());
    assert_eq!(&decoded.executionCalldata[20..52], &[0u8; 32]);
    assert_eq!(&decoded.executionCalldata[52..], &call.data[..]);

    let calls = vec![transfer(1), Call { target: RECIPIENT, value: U256::from(9), data: Vec::new() }];
    let batch = executeCall::abi_decode(&execute_batch(&calls)).unwrap();
    assert_eq!(batch.mode, MODE_BATCH);
    let executions = Vec::<Execution>::abi_decode(&batch.executionCalldata).unwrap();
    assert_eq!(executions.len(), 2);
    assert_eq!(executions[1].value, U256::from(9));

    assert_eq!(execute_calldata(std::slice::from_ref(&call)).unwrap(), single);
    assert_eq!(execute_calldata(&calls).unwrap(), execute_batch(&calls));
    assert_eq!(execute_calldata(&[]), Err(CoreError::NoCalls));
    assert_eq!(op(vec![]).unsigned(), Err(CoreError::NoCalls));
}

#[test]
fn nonce_key_selects_the_module() {
    let key = session_nonce_key(MODULE, 7);
    let nonce = validator_nonce(MODULE, 7, 42);
    assert_eq!(U256::from(key) << 64 | U256::from(42), nonce);
    assert_eq!(key >> 32, U192::from_be_slice(MODULE.as_slice()));
    assert_eq!(op(vec![transfer(1)]).unsigned().unwrap().nonce, validator_nonce(MODULE, 0, 4));
}

#[test]
fn use_mode_signature_and_preflight() {
    let key = Key::from_seed("session");
    let s = session(&key);
    let signed = op(vec![transfer(100_000_000)]).sign_use(&s, &key).unwrap();
    assert_eq!(signed.hash, signed.op.hash(ENTRY_POINT_V08, 31337, None).unwrap());
    let sig = &signed.op.signature;
    assert_eq!(sig[0], MODE_USE);
    // USE: mode ‖ period(4) ‖ w(len) ‖ session bytes ‖ the session key's 65-byte signature.
    assert_eq!(sig[1..5], [0; 4], "period 0");
    let session_bytes = s.session_bytes();
    let session_sig = &sig[sig.len() - 65..];
    assert_eq!(&sig[sig.len() - 65 - session_bytes.len()..sig.len() - 65], &session_bytes[..]);
    assert_eq!(*sig, warrant_core::grant::use_signature(&s, 0, session_sig));
    // The key signs the USE digest, binding the session id and the period, not the bare userOpHash.
    let recovered = |digest: B256| {
        alloy_primitives::Signature::from_raw(session_sig)
            .unwrap()
            .recover_address_from_prehash(&digest)
            .unwrap()
    };
    let id = s.id(ACCOUNT);
    assert_eq!(recovered(use_digest(signed.hash, id, 0)), key.address());
    assert_ne!(recovered(signed.hash), key.address());
    assert_ne!(recovered(use_digest(signed.hash, id, 1)), key.address());

    // The pre-flight evaluator accepts what the builder built, and refuses one unit more.
    let usage = SessionUsage { status: SessionStatus::Enabled, ..Default::default() };
    let judge = |op: &warrant_core::PackedUserOperation| {
        check_operation(&OpCheck {
            session_id: id,
            scope: &s.scope,
            usage: &usage,
            presentation: Presentation::Use,
            op,
            account: ACCOUNT,
            module: MODULE,
            period: 0,
            signature_valid: true,
            holdings: &[],
        })
    };
    let debit = judge(&signed.op.pack()).unwrap();
    // The account pays gas: (300,000 + 100,000 + 50,000) gas × 2 gwei leaves its native budget.
    assert_eq!(debit.value_spent, 450_000 * 2_000_000_000);
    let over = op(vec![transfer(100_000_001)]).sign_use(&s, &key).unwrap().op.pack();
    assert!(matches!(judge(&over), Err(Denial::ArgumentConditionFailed { .. })));
}

#[test]
fn the_period_is_signed_and_carried_in_the_module_signature() {
    let key = Key::from_seed("session");
    let s = session(&key);
    let mut o = op(vec![transfer(1)]);
    o.period = 0x0a0b_0c0d;
    let signed = o.sign_use(&s, &key).unwrap();
    assert_eq!(signed.op.signature[1..5], [0x0a, 0x0b, 0x0c, 0x0d]);
    // The nonce no longer carries it: the key suffix stays what the builder set.
    assert_eq!(signed.op.nonce, validator_nonce(MODULE, 0, 4));
    let session_sig = &signed.op.signature[signed.op.signature.len() - 65..];
    let recovered = alloy_primitives::Signature::from_raw(session_sig)
        .unwrap()
        .recover_address_from_prehash(&use_digest(signed.hash, s.id(ACCOUNT), 0x0a0b_0c0d))
        .unwrap();
    assert_eq!(recovered, key.address());
}

#[test]
fn wrong_session_key_is_refused_before_anything_is_sent() {
    let key = Key::from_seed("session");
    let other = Key::from_seed("someone else");
    assert_eq!(
        op(vec![transfer(1)]).sign_use(&session(&key), &other),
        Err(CoreError::SessionKeyMismatch { expected: key.address(), actual: other.address() })
    );
}

#[test]
fn checked_key_signs_the_same_operation_and_refuses_a_wrong_key_up_front() {
    let key = Key::from_seed("session");
    let other = Key::from_seed("someone else");
    let s = session(&key);
    let checked = SessionKey::new(&key, key.address()).unwrap();
    let o = op(vec![transfer(1)]);
    assert_eq!(o.sign_use_checked(&s, &checked).unwrap(), o.sign_use(&s, &key).unwrap());
    assert_eq!(
        SessionKey::new(&other, key.address()).unwrap_err(),
        CoreError::SessionKeyMismatch { expected: key.address(), actual: other.address() }
    );
    // A key checked for one session is refused for a session of another signer.
    let foreign = session(&other);
    assert_eq!(
        o.sign_use_checked(&foreign, &checked),
        Err(CoreError::SessionKeyMismatch { expected: other.address(), actual: key.address() })
    );
}

/// The unrecovered path for a derived key attaches the very bytes the checked path does, in both modes, and
/// still refuses a grant for another account.
#[test]
fn a_derived_key_signs_the_same_operation_unrecovered() {
    let key = Key::from_seed("session");
    let owner = Key::from_seed("owner");
    let s = session(&key);
    let o = op(vec![transfer(1)]);
    let unsigned = o.unsigned().unwrap();
    let sign = |digest: B256| alloy_signer::SignerSync::sign_hash_sync(&key, &digest).unwrap().as_bytes();
    let signature = sign(o.use_digest_for(&s, &unsigned).unwrap());
    assert_eq!(
        o.with_use_signature_of_derived_key(&s, unsigned.clone(), &signature).unwrap(),
        o.with_use_signature(&s, unsigned.clone(), &signature).unwrap()
    );
    let grant = sign_grant(Grant { account: ACCOUNT, epoch: 0, session: s }, MODULE, 31337, &owner).unwrap();
    let signature = sign(o.enable_digest_for(&grant, &unsigned).unwrap());
    assert_eq!(
        o.with_enable_signature_of_derived_key(&grant, unsigned.clone(), &signature).unwrap(),
        o.with_enable_signature(&grant, unsigned.clone(), &signature).unwrap()
    );
    let mut foreign = grant;
    foreign.grant.account = RECIPIENT;
    assert!(matches!(
        o.with_enable_signature_of_derived_key(&foreign, unsigned, &signature),
        Err(CoreError::GrantMismatch { field: "account", .. })
    ));
}

#[test]
fn enable_mode_carries_the_owner_grant() {
    let key = Key::from_seed("session");
    let owner = Key::from_seed("owner");
    let grant = Grant { account: ACCOUNT, epoch: 0, session: session(&key) };
    let signed_grant = sign_grant(grant.clone(), MODULE, 31337, &owner).unwrap();
    assert_eq!(signed_grant.recover_owner(), Some(owner.address()));
    let mut o = op(vec![transfer(1)]);
    o.period = 3;
    let signed = o.sign_enable(&signed_grant, &key).unwrap();
    assert_eq!(signed.op.signature[..5], [MODE_ENABLE, 0, 0, 0, 3]);
    let (g, owner_sig, session_sig) =
        <(Grant, Bytes, Bytes)>::abi_decode_params(&signed.op.signature[5..]).unwrap();
    assert_eq!(g, grant);
    assert_eq!(owner_sig, signed_grant.owner_signature);
    // The key signs the ENABLE digest: this op, this session, this period, this one grant.
    let digest = enable_digest(signed.hash, grant.session.id(ACCOUNT), 3, grant.digest(MODULE, 31337));
    let recovered = alloy_primitives::Signature::from_raw(&session_sig)
        .unwrap()
        .recover_address_from_prehash(&digest)
        .unwrap();
    assert_eq!(recovered, key.address());

    let refused = |bad: warrant_core::token::SignedGrant| op(vec![transfer(1)]).sign_enable(&bad, &key);
    let mut other_account = signed_grant.clone();
    other_account.grant.account = RECIPIENT;
    assert!(matches!(refused(other_account), Err(CoreError::GrantMismatch { field: "account", .. })));
    let mut other_module = signed_grant.clone();
    other_module.module = RECIPIENT;
    assert!(matches!(refused(other_module), Err(CoreError::GrantMismatch { field: "module", .. })));
    let mut other_chain = signed_grant.clone();
    other_chain.chain_id = 1;
    let err = refused(other_chain).unwrap_err();
    assert_eq!(err.to_string(), "the grant is for chain id 1, but the operation is for 31337");
}

#[test]
fn eip7702_operations_bind_the_delegate_and_carry_the_authorization() {
    let key = Key::from_seed("session");
    let eoa = Key::from_seed("eoa");
    let delegate = address!("0x00000000000000000000000000000000000000de");
    let auth =
        sign_authorization(&eoa, authorization(31337, delegate, 0, ChainScope::ThisChainOnly).unwrap())
            .unwrap();
    let mut o = op(vec![transfer(1)]);
    o.account = eoa.address();
    o.eip7702 = Some(Eip7702Sender { delegate, authorization: Some(auth.clone()) });
    let signed = o.sign_use(&session(&key), &key).unwrap();
    assert_eq!(signed.op.factory, Some(EIP7702_MARKER));
    assert_eq!(signed.op.factory_data, None);
    assert!(signed.op.pack().is_eip7702());
    assert_eq!(signed.op.eip7702_auth, Some(auth.clone()));
    assert_eq!(signed.hash, signed.op.hash(ENTRY_POINT_V08, 31337, Some(delegate)).unwrap());
    assert_ne!(signed.hash, signed.op.hash(ENTRY_POINT_V08, 31337, Some(RECIPIENT)).unwrap());

    // An authorization to another delegate, or for another chain, is refused; chain id 0 is the signer's call.
    let other =
        sign_authorization(&eoa, authorization(31337, RECIPIENT, 0, ChainScope::ThisChainOnly).unwrap())
            .unwrap();
    o.eip7702 = Some(Eip7702Sender { delegate, authorization: Some(other) });
    assert!(matches!(o.unsigned(), Err(CoreError::AuthorizationMismatch(m)) if m.contains("delegates to")));
    let chain1 =
        sign_authorization(&eoa, authorization(1, delegate, 0, ChainScope::ThisChainOnly).unwrap()).unwrap();
    o.eip7702 = Some(Eip7702Sender { delegate, authorization: Some(chain1) });
    assert!(matches!(o.unsigned(), Err(CoreError::AuthorizationMismatch(m)) if m.contains("chain 1")));
    let any = sign_authorization(&eoa, authorization(0, delegate, 0, ChainScope::AnyChain).unwrap()).unwrap();
    o.eip7702 = Some(Eip7702Sender { delegate, authorization: Some(any) });
    assert!(o.unsigned().is_ok());
}

#[test]
fn paymaster_fields_reach_the_packed_operation() {
    let mut o = op(vec![transfer(1)]);
    let pm = address!("0x9000000000000000000000000000000000000009");
    o.gas.paymaster = Some(Paymaster {
        address: pm,
        verification_gas_limit: 60_000,
        post_op_gas_limit: 10_000,
        data: Bytes::from_static(&[1, 2]),
    });
    let packed = o.unsigned().unwrap().pack();
    assert_eq!(&packed.paymasterAndData[..20], pm.as_slice());
    assert_eq!(packed.paymasterAndData.len(), 20 + 16 + 16 + 2);
    assert_eq!(&packed.accountGasLimits[..16], &alloy_primitives::U128::from(300_000).to_be_bytes::<16>());
}

/// `sign_grant` refuses, before signing, what the chain would refuse or what could never act; each names why.
#[test]
fn grants_are_checked_before_they_are_signed() {
    use warrant_core::grant::{ArgCondition, Gate, SpendLimit};
    let key = Key::from_seed("session");
    let owner = Key::from_seed("owner");
    let good = Grant { account: ACCOUNT, epoch: 0, session: session(&key) };
    assert!(sign_grant(good.clone(), MODULE, 31337, &owner).is_ok());
    let refused =
        |grant: Grant, module: Address, chain_id: u64| match sign_grant(grant, module, chain_id, &owner) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("signed"),
        };
    assert!(refused(good.clone(), MODULE, 0).contains("chain id is 0"));
    assert!(refused(good.clone(), Address::ZERO, 1).contains("module is address 0"));
    let mut g = good.clone();
    g.account = Address::ZERO;
    assert!(refused(g, MODULE, 1).contains("account is address 0"));
    let mut g = good.clone();
    g.session.signer = Address::ZERO;
    assert!(refused(g, MODULE, 1).contains("session key is address 0"));
    // The validator's rules, named as the chain names them.
    let mut g = good.clone();
    g.session.scope.maxUsesPerPeriod = 2;
    assert_eq!(
        sign_grant(g, MODULE, 1, &owner).unwrap_err(),
        CoreError::InvalidScope(Denial::PeriodRequired)
    );
    let mut g = good.clone();
    g.session.scope.limits = vec![SpendLimit { token: TOKEN, perPeriod: 5, lifetime: u128::MAX }];
    assert_eq!(
        sign_grant(g, MODULE, 1, &owner).unwrap_err(),
        CoreError::InvalidScope(Denial::InvalidSpendLimit { limit_index: 0 })
    );
    let mut g = good.clone();
    g.session.scope.gates = vec![Gate { token: TOKEN, kind: 1, tokenId: U256::ZERO, minBalance: U256::ZERO }];
    assert_eq!(
        sign_grant(g, MODULE, 1, &owner).unwrap_err(),
        CoreError::InvalidScope(Denial::InvalidGate { gate_index: 0 })
    );
    let mut g = good;
    let n = g.session.scope.calls[0].conditions.len();
    g.session.scope.calls[0].conditions.push(ArgCondition {
        condition: 9,
        argType: 0x1f,
        argIndex: 0,
        values: vec![],
    });
    assert_eq!(
        sign_grant(g, MODULE, 1, &owner).unwrap_err(),
        CoreError::InvalidScope(Denial::InvalidCondition { index: 0, condition_index: n })
    );
}
