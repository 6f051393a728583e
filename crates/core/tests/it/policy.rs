//! The evaluator's rules from issue 11, each tried the way an attacker would: batch encodings that are not
//! canonical (backwards and wrapping offsets), dirty narrow arguments, gas paid by the account, paymasters the
//! scope does not pin, the estimation path, and the period taken from what the key signed.

use alloy_primitives::{Address, B256, Bytes, FixedBytes, U256, address};
use alloy_sol_types::SolValue;
use warrant_core::{
    PackedUserOperation, UserOperation,
    grant::{ArgCondition, CallPolicy, NO_CAP, Scope, SpendLimit, arg_type},
    policy::{
        Call, ConditionResult, Denial, OpCheck, Presentation, SessionStatus, SessionUsage, check_operation,
        condition, decode_batch, evaluate_condition, is_canonical, max_gas_cost,
    },
    session_op::{Execution, MODE_BATCH, execute_batch, execute_single, executeCall},
};

const ACCOUNT: Address = address!("0x00000000000000000000000000000000000000aa");
const MODULE: Address = address!("0x00000000000000000000000000000000000000bb");
const TARGET: Address = address!("0x00000000000000000000000000000000000000cc");

fn w(x: U256) -> [u8; 32] {
    x.to_be_bytes()
}

fn call(value: u64, data: &[u8]) -> Call {
    Call { target: TARGET, value: U256::from(value), data: data.to_vec() }
}

fn batch_ec(calls: &[Call]) -> Vec<u8> {
    let v: Vec<Execution> = calls
        .iter()
        .map(|c| Execution { target: c.target, value: c.value, callData: c.data.clone().into() })
        .collect();
    v.abi_encode()
}

#[test]
fn canonical_batches_decode_to_their_calls() {
    let calls = vec![call(1, &[1, 2, 3, 4, 5]), call(0, &[]), call(7, &[9; 64])];
    assert_eq!(decode_batch(&batch_ec(&calls)), Ok(calls));
}

#[test]
fn every_non_canonical_batch_is_malformed() {
    let calls = vec![call(1, &[0xa9, 0x05, 0x9c, 0xbb]), call(2, &[])];
    let good = batch_ec(&calls);
    let set = |pos: usize, x: U256| {
        let mut ec = good.clone();
        ec[pos..pos + 32].copy_from_slice(&w(x));
        ec
    };
    let head1 = 64 + 32;
    let e0 = 64 + 64;
    let bad: Vec<(&str, Vec<u8>)> = vec![
        ("array offset 0x40", set(0, U256::from(0x40))),
        ("array offset 0", set(0, U256::ZERO)),
        ("count above the heads", set(32, U256::from(3))),
        ("count 2^32 + 1", set(32, U256::from((1u64 << 32) + 1))),
        ("count 2^256 - 1", set(32, U256::MAX)),
        // The element heads: backwards (into the heads, before the array), wrapping, or with a gap.
        ("backwards head", set(head1, U256::from(0x20))),
        ("head into the array length", set(64, U256::ZERO)),
        ("head 2^255", set(64, U256::from(1u8) << 255)),
        ("head -32 (wraps)", set(64, U256::MAX - U256::from(31))),
        ("head with a gap", set(head1, U256::from(32 * 2 + 160 + 32))),
        ("dirty target", set(e0, U256::from_be_slice(TARGET.as_slice()) | (U256::from(1u8) << 200))),
        ("callData offset 0x40", set(e0 + 64, U256::from(0x40))),
        ("callData offset backwards, -96", set(e0 + 64, U256::MAX - U256::from(95))),
        ("callData offset 2^255", set(e0 + 64, U256::from(1u8) << 255)),
        ("length past the end", set(e0 + 96, U256::from(10_000))),
        ("length 2^256 - 1", set(e0 + 96, U256::MAX)),
        ("one trailing byte", [good.clone(), vec![0]].concat()),
        ("one trailing word", [good.clone(), vec![0; 32]].concat()),
        ("cut short", good[..good.len() - 1].to_vec()),
        ("only 63 bytes", good[..63].to_vec()),
        ("empty", vec![]),
    ];
    for (what, ec) in bad {
        assert_eq!(decode_batch(&ec), Err(Denial::MalformedCalldata), "{what}");
    }
    assert_eq!(decode_batch(&[w(U256::from(0x20)), w(U256::ZERO)].concat()), Err(Denial::EmptyBatch));
}

fn permit_all(conditions: Vec<ArgCondition>) -> Scope {
    Scope {
        maxValueTotal: U256::MAX,
        calls: vec![CallPolicy {
            target: TARGET,
            selector: FixedBytes([0x12, 0x34, 0x56, 0x78]),
            flags: 0,
            maxValue: U256::MAX,
            conditions,
        }],
        ..Default::default()
    }
}

fn packed(call_data: Bytes) -> PackedUserOperation {
    UserOperation { sender: ACCOUNT, call_data, ..Default::default() }.pack()
}

fn judge(scope: &Scope, op: &PackedUserOperation) -> Result<warrant_core::policy::Debit, Denial> {
    judge_with(scope, op, &enabled(), 0, true)
}

fn enabled() -> SessionUsage {
    SessionUsage { status: SessionStatus::Enabled, ..Default::default() }
}

fn judge_with(
    scope: &Scope,
    op: &PackedUserOperation,
    usage: &SessionUsage,
    period: u32,
    signature_valid: bool,
) -> Result<warrant_core::policy::Debit, Denial> {
    check_operation(&OpCheck {
        session_id: B256::ZERO,
        scope,
        usage,
        presentation: Presentation::Use,
        op,
        account: ACCOUNT,
        module: MODULE,
        period,
        signature_valid,
        holdings: &[],
    })
}

#[test]
fn a_malformed_batch_is_reported_before_any_call_is_judged() {
    // Call 0 matches no policy, and the batch has a trailing byte: the encoding is judged first, as on chain.
    let mut ec = batch_ec(&[Call { target: RECIPIENT, value: U256::ZERO, data: vec![] }]);
    ec.push(0);
    let data = executeCall { mode: MODE_BATCH, executionCalldata: ec.into() };
    let op = packed(alloy_sol_types::SolCall::abi_encode(&data).into());
    assert_eq!(judge(&permit_all(vec![]), &op), Err(Denial::MalformedCalldata));
}

const RECIPIENT: Address = address!("0x000000000000000000000000000000000000bEEF");

fn data_with(words: &[U256]) -> Vec<u8> {
    let mut d = vec![0x12, 0x34, 0x56, 0x78];
    for x in words {
        d.extend_from_slice(&w(*x));
    }
    d
}

fn cond(kind: u8, ty: u8, values: &[U256]) -> ArgCondition {
    ArgCondition {
        condition: kind,
        argType: ty,
        argIndex: 0,
        values: values.iter().map(|v| B256::from(*v)).collect(),
    }
}

#[test]
fn canonical_words_per_type() {
    let one = U256::from(1u8);
    assert!(is_canonical(arg_type::uint(8), U256::from(255)));
    assert!(!is_canonical(arg_type::uint(8), U256::from(256)));
    assert!(is_canonical(arg_type::uint(256), U256::MAX));
    assert!(is_canonical(arg_type::int(8), U256::MAX), "-1");
    assert!(is_canonical(arg_type::int(8), U256::MAX - U256::from(127)), "-128");
    assert!(!is_canonical(arg_type::int(8), U256::from(128)), "+128 is no int8");
    assert!(!is_canonical(arg_type::int(8), U256::MAX - U256::from(128)), "-129 is no int8");
    assert!(!is_canonical(arg_type::int(8), U256::from(0xff)), "0xff not sign-extended");
    assert!(is_canonical(arg_type::int(256), U256::from(0xff)));
    assert!(is_canonical(arg_type::fixed_bytes(4), U256::from(0xdead_beefu64) << 224));
    assert!(!is_canonical(arg_type::fixed_bytes(4), (U256::from(0xdead_beefu64) << 224) | one));
    assert!(is_canonical(arg_type::fixed_bytes(32), U256::MAX));
    assert!(is_canonical(arg_type::ADDRESS, (one << 160) - one));
    assert!(!is_canonical(arg_type::ADDRESS, one << 160));
    assert!(is_canonical(arg_type::BOOL, one));
    assert!(!is_canonical(arg_type::BOOL, U256::from(2)));
    assert!(!is_canonical(arg_type::DYNAMIC, U256::ZERO), "dynamic has no canonical head word");
    assert!(!is_canonical(0x63, U256::ZERO));
}

#[test]
fn a_dirty_address_is_refused_not_compared() {
    // `to != X`: the word X | 2^160 differs from X, but a target masking to 160 bits would pay X.
    let x = U256::from_be_slice(RECIPIENT.as_slice());
    let c = cond(condition::NEQ, arg_type::ADDRESS, &[x]);
    assert_eq!(
        evaluate_condition(&data_with(&[x | (U256::from(1u8) << 160)]), &c),
        ConditionResult::NotCanonical
    );
    assert_eq!(evaluate_condition(&data_with(&[x]), &c), ConditionResult::Fail);
    assert_eq!(evaluate_condition(&data_with(&[x + U256::from(1)]), &c), ConditionResult::Pass);

    let scope = permit_all(vec![c]);
    let dirty = call(0, &data_with(&[x | (U256::from(1u8) << 255)]));
    assert_eq!(
        judge(&scope, &packed(execute_single(&dirty))),
        Err(Denial::ArgumentNotCanonical { index: 0, arg_index: 0 })
    );
}

#[test]
fn int_comparisons_are_signed() {
    let minus = |n: u64| U256::ZERO.wrapping_sub(U256::from(n));
    let lte_minus_2 = cond(condition::LTE, arg_type::int(16), &[minus(2)]);
    let eval = |x: U256, c: &ArgCondition| evaluate_condition(&data_with(&[x]), c);
    assert_eq!(eval(minus(3), &lte_minus_2), ConditionResult::Pass);
    assert_eq!(eval(minus(2), &lte_minus_2), ConditionResult::Pass);
    assert_eq!(eval(minus(1), &lte_minus_2), ConditionResult::Fail);
    assert_eq!(eval(U256::from(5), &lte_minus_2), ConditionResult::Fail, "unsigned, 5 would be below -2");
    let gt_zero = cond(condition::GT, arg_type::int(256), &[U256::ZERO]);
    assert_eq!(eval(minus(1), &gt_zero), ConditionResult::Fail);
    assert_eq!(eval(U256::from(1), &gt_zero), ConditionResult::Pass);
    // Unsigned stays unsigned.
    let lt_10 = cond(condition::LT, arg_type::uint(256), &[U256::from(10)]);
    assert_eq!(eval(minus(1), &lt_10), ConditionResult::Fail);
    // An int16 word that is not sign-extended is refused before any comparison.
    assert_eq!(eval(U256::from(0xfffe), &lte_minus_2), ConditionResult::NotCanonical);
}

#[test]
fn ill_formed_typed_conditions_are_invalid() {
    let data = data_with(&[U256::ZERO, U256::from(0x20), U256::ZERO]);
    let invalid = [
        cond(condition::EQ, arg_type::DYNAMIC, &[U256::ZERO]),
        cond(condition::EQ, 0x63, &[U256::ZERO]),
        cond(condition::EQ, 0xff, &[U256::ZERO]),
        cond(condition::LENGTH_LTE, arg_type::uint(256), &[U256::ZERO]),
        cond(condition::BYTES_HASH_EQ, arg_type::ADDRESS, &[U256::ZERO]),
        cond(condition::EQ, arg_type::uint(8), &[U256::from(256)]),
        cond(condition::IN, arg_type::BOOL, &[U256::ZERO, U256::from(2)]),
        cond(condition::LT, arg_type::int(8), &[U256::from(200)]),
    ];
    for c in &invalid {
        assert_eq!(evaluate_condition(&data, c), ConditionResult::Invalid, "{c:?}");
    }
    // Well-formedness comes before bounds: an ill-formed condition past the end of the data is still invalid.
    let mut far = cond(condition::EQ, arg_type::DYNAMIC, &[U256::ZERO]);
    far.argIndex = 1000;
    assert_eq!(evaluate_condition(&data, &far), ConditionResult::Invalid);
    // Bounds before canonicity.
    let mut out = cond(condition::EQ, arg_type::BOOL, &[U256::ZERO]);
    out.argIndex = 1000;
    assert_eq!(evaluate_condition(&data, &out), ConditionResult::Malformed);
    // A dynamic argument of 3 bytes (head 0x40 → length word 3).
    let bytes3 = data_with(&[U256::ZERO, U256::from(0x40), U256::from(3), U256::ZERO]);
    let mut dynamic = cond(condition::LENGTH_LTE, arg_type::DYNAMIC, &[U256::from(3)]);
    dynamic.argIndex = 1;
    assert_eq!(evaluate_condition(&bytes3, &dynamic), ConditionResult::Pass);
    dynamic.values = vec![B256::from(U256::from(2))];
    assert_eq!(evaluate_condition(&bytes3, &dynamic), ConditionResult::Fail);
}

fn op_with_gas(vgl: u128, cgl: u128, pvg: U256, fee: u128, pmd: &[u8]) -> PackedUserOperation {
    let mut op = packed(execute_single(&call(0, &data_with(&[]))));
    op.accountGasLimits = B256::from((U256::from(vgl) << 128) | U256::from(cgl));
    op.preVerificationGas = pvg;
    op.gasFees = B256::from((U256::from(1u8) << 128) | U256::from(fee));
    op.paymasterAndData = Bytes::copy_from_slice(pmd);
    op
}

#[test]
fn the_account_pays_gas_from_the_native_budget() {
    let op = op_with_gas(100_000, 200_000, U256::from(50_000), 10, &[]);
    assert_eq!(max_gas_cost(&op), U256::from(350_000 * 10));
    let mut scope = permit_all(vec![]);
    scope.maxValueTotal = U256::from(3_500_000);
    assert_eq!(judge(&scope, &op).unwrap().value_spent, 3_500_000);
    scope.maxValueTotal = U256::from(3_499_999);
    assert_eq!(
        judge(&scope, &op),
        Err(Denial::SessionValueExceeded { total: U256::from(3_500_000), cap: U256::from(3_499_999) })
    );
    // maxValueTotal 0 and no paymaster: nothing can pay for gas (unless the fee is 0).
    scope.maxValueTotal = U256::ZERO;
    assert!(matches!(judge(&scope, &op), Err(Denial::SessionValueExceeded { .. })));
    assert!(judge(&scope, &op_with_gas(100_000, 200_000, U256::from(50_000), 0, &[])).is_ok());
}

#[test]
fn huge_gas_saturates_and_is_refused() {
    // The drain of hole 2: a huge preVerificationGas and fee, no gas caps in the scope.
    let op = op_with_gas(u128::MAX, u128::MAX, U256::MAX, u128::MAX, &[]);
    assert_eq!(max_gas_cost(&op), U256::MAX);
    let scope = permit_all(vec![]);
    assert_eq!(
        judge(&scope, &op),
        Err(Denial::SessionValueExceeded { total: U256::MAX, cap: U256::from(u128::MAX) }),
        "saturated at 2^256 - 1, then above the 128-bit counter"
    );
    // A native spend limit counts gas too, per period and over the session.
    let mut limited = permit_all(vec![]);
    limited.period = 100;
    limited.limits = vec![SpendLimit { token: Address::ZERO, perPeriod: 1_000, lifetime: NO_CAP }];
    let op = op_with_gas(10, 10, U256::from(81), 10, &[]);
    assert!(matches!(
        judge(&limited, &op),
        Err(Denial::PeriodSpendLimitExceeded { token: Address::ZERO, period: 0, .. })
    ));
    assert_eq!(
        judge(&limited, &op_with_gas(10, 10, U256::from(80), 10, &[])).unwrap().limits[0].period_spent,
        1_000
    );
}

#[test]
fn a_paymaster_must_be_pinned() {
    let pm = address!("0x9000000000000000000000000000000000000009");
    let scope = permit_all(vec![]);
    let with_pm = op_with_gas(1, 1, U256::from(1), 1, &[pm.as_slice(), &[0; 32]].concat());
    assert_eq!(judge(&scope, &with_pm), Err(Denial::PaymasterNotPermitted { paymaster: pm }));
    let short = op_with_gas(1, 1, U256::from(1), 1, &[1, 2, 3]);
    assert_eq!(judge(&scope, &short), Err(Denial::PaymasterNotPermitted { paymaster: Address::ZERO }));
    // Pinned: its ops pay no gas from the session's budget.
    let mut pinned = permit_all(vec![]);
    pinned.paymaster = pm;
    pinned.maxValueTotal = U256::ZERO;
    assert_eq!(judge(&pinned, &with_pm).unwrap().value_spent, 0);
    assert_eq!(
        judge(&pinned, &op_with_gas(1, 1, U256::from(1), 1, &[])),
        Err(Denial::PaymasterRequired { required: pm })
    );
}

#[test]
fn estimation_skips_gas_caps_and_counts_one_wei() {
    let mut scope = permit_all(vec![]);
    scope.maxGasLimit = 1_000;
    scope.maxFeePerGas = 1;
    scope.maxValueTotal = U256::from(10);
    let big = op_with_gas(10_000_000, 10_000_000, U256::from(10_000_000), 1_000_000_000, &[]);
    assert!(matches!(judge(&scope, &big), Err(Denial::GasLimitExceeded { .. })));
    let estimated = judge_with(&scope, &big, &enabled(), 0, false).unwrap();
    assert_eq!(estimated.value_spent, 1, "gas counted as 1 wei, so the state write is the real op's");
    // Every other rule still runs on the estimation path.
    let bad_call = packed(execute_single(&Call { target: RECIPIENT, value: U256::ZERO, data: vec![] }));
    assert!(matches!(
        judge_with(&scope, &bad_call, &enabled(), 0, false),
        Err(Denial::CallNotPermitted { index: 0, .. })
    ));
    scope.maxValueTotal = U256::ZERO;
    assert!(matches!(
        judge_with(&scope, &big, &enabled(), 0, false),
        Err(Denial::SessionValueExceeded { .. })
    ));
}

#[test]
fn the_period_comes_from_the_presentation_not_the_nonce() {
    let mut scope = permit_all(vec![]);
    scope.period = 86_400;
    scope.periodStart = alloy_primitives::aliases::U48::from(1_000_000u64);
    scope.maxUsesPerPeriod = 1;
    let mut op = op_with_gas(0, 0, U256::ZERO, 0, &[]);
    // A Nexus-style nonce key keeps validator bytes in its low 32 bits; they mean nothing to the validator.
    op.nonce = U256::from(0xdead_beefu64) << 64;
    let debit = judge_with(&scope, &op, &enabled(), 3, true).unwrap();
    assert_eq!((debit.period_index, debit.uses_in_period), (3, 1));
    assert_eq!(
        (debit.valid_after, debit.valid_until),
        (1_000_000 + 3 * 86_400 - 1, 1_000_000 + 4 * 86_400 - 1)
    );
    let after = debit.usage_after();
    assert_eq!(
        judge_with(&scope, &op, &after, 3, true),
        Err(Denial::PeriodUsesExhausted { period: 3, uses: 1, max: 1 })
    );
    assert_eq!(judge_with(&scope, &op, &after, 2, true), Err(Denial::PeriodStale { period: 2, current: 3 }));
    assert!(judge_with(&scope, &op, &after, 4, true).is_ok());
}

#[test]
fn batch_value_and_execute_batch_agree() {
    let calls = vec![call(5, &data_with(&[])), call(6, &data_with(&[]))];
    let op = packed(execute_batch(&calls));
    assert_eq!(judge(&permit_all(vec![]), &op).unwrap().value_spent, 11);
}

/// A grant's epoch behind the account's is a revocation; ahead of it, a wrong `--epoch`: the message says which.
#[test]
fn grant_epoch_stale_says_which_way() {
    let behind = Denial::GrantEpochStale { grant_epoch: 1, current_epoch: U256::from(2) };
    assert!(behind.to_string().contains("revoked: the account revoked every session since"), "{behind}");
    let ahead = Denial::GrantEpochStale { grant_epoch: 3, current_epoch: U256::from(2) };
    assert!(ahead.to_string().contains("later epoch than the account has reached"), "{ahead}");
    assert!(!ahead.to_string().contains("revoked"), "{ahead}");
}
