//! Denials in the user's words: the pre-flight's verdict on a call, rendered with parameter names, token units
//! and dates, asserted to the character.

use alloy_primitives::{Address, B256, U256, address, aliases::U48, keccak256};
use warrant_core::{
    explain::{TokenHints, TokenInfo},
    explain_denial::{DenialContext, ParamNames, denial_message, explain_denial, format_iso8601},
    grant::{CallPolicy, Scope, SpendLimit, arg_type},
    policy::{
        Call, Denial, OpCheck, Presentation, SessionStatus, SessionUsage, SpendUsage, check_operation,
        check_time, condition,
    },
    session_op::execute_single,
};

use crate::grant_json::{RECIPIENT, TOKEN, usdc_scope};

fn usdc() -> TokenHints {
    TokenHints::from([(TOKEN, TokenInfo { symbol: Some("USDC".into()), decimals: 6 })])
}

fn transfer(to: Address, amount: u64) -> Call {
    let mut data = keccak256("transfer(address,uint256)")[..4].to_vec();
    data.extend_from_slice(to.into_word().as_slice());
    data.extend_from_slice(&U256::from(amount).to_be_bytes::<32>());
    Call { target: TOKEN, value: U256::ZERO, data }
}

/// The pre-flight's verdict on `calls` as the session's next operation (enabled, `usage` so far, at `period`).
fn verdict(scope: &Scope, calls: &[Call], usage: &SessionUsage, period: u32) -> Denial {
    assert_eq!(calls.len(), 1, "single calls only here");
    let op = warrant_core::UserOperation {
        sender: address!("0x00000000000000000000000000000000000a11ce"),
        call_data: execute_single(&calls[0]),
        ..Default::default()
    }
    .pack();
    let check = OpCheck {
        session_id: B256::ZERO,
        scope,
        usage,
        presentation: Presentation::Use,
        op: &op,
        account: op.sender,
        module: address!("0x000000000000000000000000000000000000d001"),
        period,
        signature_valid: true,
        holdings: &[],
    };
    check_operation(&check).expect_err("the pre-flight must deny it")
}

fn words(denial: &Denial, scope: &Scope, calls: &[Call], tokens: &TokenHints) -> String {
    let names = ParamNames::new();
    denial_message(denial, &DenialContext { scope, calls, tokens, names: &names })
}

fn enabled() -> SessionUsage {
    SessionUsage { status: SessionStatus::Enabled, uses: 1, ..Default::default() }
}

#[test]
fn an_amount_above_its_limit_names_the_parameter_in_token_units() {
    let scope = usdc_scope();
    let calls = [transfer(RECIPIENT, 500_000_000)];
    let denial = verdict(&scope, &calls, &enabled(), 0);
    assert_eq!(denial.name(), "ArgumentConditionFailed");
    assert_eq!(
        words(&denial, &scope, &calls, &usdc()),
        "ArgumentConditionFailed: amount 500 USDC is above the limit 100 USDC"
    );
    // Without the token's decimals the amount is raw, and says so.
    assert_eq!(
        words(&denial, &scope, &calls, &TokenHints::new()),
        "ArgumentConditionFailed: amount 500000000 (raw units of 0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48) is \
         above the limit 100000000 (raw units of 0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48)"
    );
}

#[test]
fn a_wrong_recipient_is_named_with_both_addresses() {
    let scope = usdc_scope();
    let other = address!("0x000000000000000000000000000000000000dEaD");
    let calls = [transfer(other, 1)];
    let denial = verdict(&scope, &calls, &enabled(), 0);
    assert_eq!(
        words(&denial, &scope, &calls, &usdc()),
        "ArgumentConditionFailed: to is 0x000000000000000000000000000000000000dEaD, and the scope permits only \
         0x000000000000000000000000000000000000bEEF"
    );
}

#[test]
fn the_callers_parameter_names_are_used_for_functions_the_table_does_not_know() {
    let selector: [u8; 4] = keccak256("pay(uint256,uint256)")[..4].try_into().unwrap();
    let mut scope = usdc_scope();
    scope.calls = vec![CallPolicy {
        target: TOKEN,
        selector: selector.into(),
        flags: 0,
        maxValue: U256::ZERO,
        conditions: vec![warrant_core::grant::ArgCondition {
            condition: condition::GTE,
            argType: arg_type::uint(256),
            argIndex: 1,
            values: vec![B256::from(U256::from(10))],
        }],
    }];
    let mut data = selector.to_vec();
    data.extend_from_slice(&U256::from(1).to_be_bytes::<32>());
    data.extend_from_slice(&U256::from(3).to_be_bytes::<32>());
    let calls = [Call { target: TOKEN, value: U256::ZERO, data }];
    let denial = verdict(&scope, &calls, &enabled(), 0);
    let tokens = TokenHints::new();
    let anonymous = ParamNames::new();
    let ctx = DenialContext { scope: &scope, calls: &calls, tokens: &tokens, names: &anonymous };
    assert_eq!(explain_denial(&denial, &ctx), "argument word 1 (3) is below the minimum 10");
    let names = ParamNames::from([(selector, vec![(0, "id".to_string()), (1, "fee".to_string())])]);
    let ctx = DenialContext { names: &names, ..ctx };
    assert_eq!(explain_denial(&denial, &ctx), "fee 3 is below the minimum 10");
}

#[test]
fn a_spend_limit_says_the_amounts_and_when_the_period_refills() {
    let mut scope = usdc_scope();
    scope.period = 86_400;
    scope.periodStart = U48::from(1_796_083_200u64); // 2026-12-01T00:00:00Z
    scope.limits = vec![SpendLimit { token: TOKEN, perPeriod: 150_000_000, lifetime: u128::MAX }];
    scope.calls[0].conditions.clear();
    let calls = [transfer(RECIPIENT, 100_000_000)];
    let usage = SessionUsage {
        limits: vec![SpendUsage { period_index: 2, period_spent: 60_000_000, lifetime_spent: 60_000_000 }],
        period_index: 2,
        ..enabled()
    };
    let denial = verdict(&scope, &calls, &usage, 2);
    assert_eq!(
        words(&denial, &scope, &calls, &usdc()),
        "PeriodSpendLimitExceeded: the session would have moved 160 USDC this period, above its limit 150 USDC \
         per period (period 2: 2026-12-03T00:00:00Z to 2026-12-04T00:00:00Z); it refills at 2026-12-04T00:00:00Z"
    );
}

#[test]
fn window_denials_are_dates() {
    let mut scope = usdc_scope();
    scope.validAfter = U48::from(1_796_083_200u64);
    let early = check_time(&scope, 1_796_083_199).unwrap_err();
    let late = check_time(&scope, 1_796_126_401).unwrap_err();
    assert_eq!(
        words(&early, &scope, &[], &usdc()),
        "SessionNotYetValid: the session is valid only after 2026-12-01T00:00:00Z; it is 2026-11-30T23:59:59Z now"
    );
    assert_eq!(
        words(&late, &scope, &[], &usdc()),
        "SessionExpired: the session expired at 2026-12-01T12:00:00Z; it is 2026-12-01T12:00:01Z now"
    );
}

#[test]
fn native_value_is_in_eth_and_other_denials_keep_their_message() {
    let mut scope = usdc_scope();
    scope.calls[0].maxValue = U256::from(10u64.pow(17));
    let mut call = transfer(RECIPIENT, 1);
    call.value = U256::from(5 * 10u64.pow(17));
    let calls = [call];
    let denial = verdict(&scope, &calls, &enabled(), 0);
    assert_eq!(
        words(&denial, &scope, &calls, &usdc()),
        "CallValueExceeded: the call sends 0.5 ETH, above its policy's limit 0.1 ETH"
    );
    let revoked = Denial::SessionRevoked { id: B256::ZERO };
    assert_eq!(words(&revoked, &scope, &calls, &usdc()), revoked.to_string());
}

#[test]
fn iso_dates() {
    assert_eq!(format_iso8601(0), "1970-01-01T00:00:00Z");
    assert_eq!(format_iso8601(951_782_400), "2000-02-29T00:00:00Z");
    assert_eq!(format_iso8601(1_796_126_405), "2026-12-01T12:00:05Z");
}
