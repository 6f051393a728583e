//! Plain-words rendering of grants and scopes, asserted to the character.

use alloy_primitives::{Address, B256, FixedBytes, U256, address, aliases::U48, keccak256};
use warrant_core::{
    explain::{
        TokenHints, TokenInfo, explain_grant, explain_policy, explain_scope, format_units, format_utc,
    },
    grant::{ANY_SELECTOR, ANY_TARGET, ArgCondition, CallPolicy, Grant, Session, arg_type},
    policy::condition,
};

use crate::{
    grant_json::{RECIPIENT, TOKEN, usdc_scope},
    support::empty_scope,
};

fn usdc() -> TokenHints {
    TokenHints::from([(TOKEN, TokenInfo { symbol: Some("USDC".into()), decimals: 6 })])
}

fn selector(signature: &str) -> FixedBytes<4> {
    FixedBytes(keccak256(signature)[..4].try_into().unwrap())
}

fn policy(target: Address, selector: FixedBytes<4>, conditions: Vec<ArgCondition>) -> CallPolicy {
    CallPolicy { target, selector, flags: 0, maxValue: U256::ZERO, conditions }
}

fn cond(kind: u8, ty: u8, arg: u16, values: &[U256]) -> ArgCondition {
    ArgCondition {
        condition: kind,
        argType: ty,
        argIndex: arg,
        values: values.iter().map(|v| B256::from(*v)).collect(),
    }
}

const ADDRESS: u8 = arg_type::ADDRESS;
const U256T: u8 = arg_type::uint(256);
const DYN: u8 = arg_type::DYNAMIC;

const USDC_LINE: &str = "may call `transfer(address,uint256)` on 0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48 (USDC) \
     with `to` = 0x000000000000000000000000000000000000bEEF, `amount` ≤ 100.0 USDC (raw 100000000); sending no ETH";

#[test]
fn erc20_transfer_scope_with_token_hint() {
    assert_eq!(
        explain_scope(&usdc_scope(), &usdc()),
        format!(
            "{USDC_LINE}\n\
             valid until 2026-12-01 12:00 UTC\n\
             at most 10 times\n\
             may spend at most 0.01 ETH (raw 10000000000000000 wei) in total, on gas only (no policy lets a call attach ETH)\n\
             gas: paid by the account, counted in the native budget of at most 0.01 ETH (raw 10000000000000000 \
             wei) in total (each operation's maximum cost, (gas limits + preVerificationGas) × maxFeePerGas); at \
             most 500000 gas at ≤ 20.0 gwei per operation (≤ 0.01 ETH per operation)"
        )
    );
}

#[test]
fn amounts_stay_raw_without_a_hint() {
    assert_eq!(
        explain_policy(&usdc_scope().calls[0], &TokenHints::new()),
        "may call `transfer(address,uint256)` on 0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48 with `to` = \
         0x000000000000000000000000000000000000bEEF, `amount` ≤ 100000000 (raw; token decimals unknown); sending \
         no ETH"
    );
}

#[test]
fn grant_header_names_key_account_epoch_and_session() {
    let grant = Grant {
        account: address!("0x1111111111111111111111111111111111111111"),
        epoch: 2,
        session: Session {
            signer: address!("0x2222222222222222222222222222222222222222"),
            salt: B256::ZERO,
            scope: usdc_scope(),
        },
    };
    let id = grant.session.id(grant.account);
    assert_eq!(
        explain_grant(&grant, &usdc()),
        format!(
            "Session key 0x2222222222222222222222222222222222222222 may act for account \
             0x1111111111111111111111111111111111111111 (revocation epoch 2, session id {id}):\n{}",
            explain_scope(&usdc_scope(), &usdc())
        )
    );
}

#[test]
fn known_functions_name_their_arguments() {
    let t = TOKEN;
    let spender = U256::from_be_slice(RECIPIENT.as_slice());
    let cases = [
        (
            policy(
                t,
                selector("approve(address,uint256)"),
                vec![cond(condition::IN, ADDRESS, 0, &[spender, U256::from(1)])],
            ),
            "`approve(address,uint256)` on 0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48 (USDC) with `spender` is one \
             of 0x000000000000000000000000000000000000bEEF, 0x0000000000000000000000000000000000000001",
        ),
        (
            policy(
                t,
                selector("transferFrom(address,address,uint256)"),
                vec![
                    cond(condition::NEQ, ADDRESS, 0, &[U256::ZERO]),
                    cond(condition::LT, U256T, 2, &[U256::from(1_500_000)]),
                ],
            ),
            "`transferFrom(address,address,uint256)` on 0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48 (USDC) with \
             `from` ≠ 0x0000000000000000000000000000000000000000, `amount` < 1.5 USDC (raw 1500000)",
        ),
        (
            policy(
                t,
                selector("increaseAllowance(address,uint256)"),
                vec![cond(condition::GTE, U256T, 1, &[U256::from(1)])],
            ),
            "`increaseAllowance(address,uint256)` on 0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48 (USDC) with \
             `addedValue` ≥ 0.000001 USDC (raw 1)",
        ),
        (
            policy(
                t,
                selector("setApprovalForAll(address,bool)"),
                vec![cond(condition::EQ, arg_type::BOOL, 1, &[U256::ZERO])],
            ),
            "`setApprovalForAll(address,bool)` on 0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48 (USDC) with \
             `approved` = false",
        ),
        (
            // A condition typed unlike the parameter it reads is called out.
            policy(
                t,
                selector("transfer(address,uint256)"),
                vec![cond(condition::GT, U256T, 0, &[U256::from(5)])],
            ),
            "`transfer(address,uint256)` on 0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48 (USDC) with `to` > 5 (⚠ \
             typed uint256, but the parameter is address)",
        ),
    ];
    for (p, expected) in cases {
        assert_eq!(explain_policy(&p, &usdc()), format!("may call {expected}; sending no ETH"));
    }
}

#[test]
fn unknown_selectors_and_every_dynamic_condition() {
    let target = address!("0x00000000000000000000000000000000000000C0");
    let hash = keccak256("hello");
    let p = policy(
        target,
        FixedBytes([0x12, 0x34, 0x56, 0x78]),
        vec![
            cond(condition::LTE, U256T, 0, &[U256::from(7)]),
            cond(condition::LENGTH_LTE, DYN, 1, &[U256::from(64)]),
            cond(condition::LENGTH_GTE, DYN, 1, &[U256::from(1)]),
            cond(condition::BYTES_HASH_EQ, DYN, 1, &[hash.into()]),
            cond(condition::ARRAY_HASH_EQ, DYN, 2, &[hash.into()]),
        ],
    );
    assert_eq!(
        explain_policy(&p, &TokenHints::new()),
        format!(
            "may call unknown function 0x12345678 on 0x00000000000000000000000000000000000000C0 with argument word \
             0 (uint256) ≤ 7, argument word 1 has length ≤ 64, argument word 1 has length ≥ 1, keccak256(argument word 1) = \
             {hash}, keccak256 of the elements of argument word 2 = {hash}; sending no ETH"
        )
    );
}

#[test]
fn invalid_conditions_are_called_out() {
    let p = policy(
        TOKEN,
        selector("transfer(address,uint256)"),
        vec![
            cond(11, U256T, 0, &[U256::ZERO]),
            cond(condition::EQ, U256T, 1, &[]),
            cond(condition::IN, ADDRESS, 0, &[]),
            // A reference value no address can equal, a dynamic type on a head-word kind, an unknown type.
            cond(condition::NEQ, ADDRESS, 0, &[U256::MAX]),
            cond(condition::LTE, DYN, 1, &[U256::ZERO]),
            cond(condition::LTE, 0x63, 1, &[U256::ZERO]),
            cond(condition::LENGTH_LTE, U256T, 1, &[U256::ZERO]),
        ],
    );
    assert_eq!(
        explain_policy(&p, &TokenHints::new()),
        [
            "may call `transfer(address,uint256)` on 0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48 with ⚠ INVALID \
             condition (unknown kind 11 on uint256 with 1 values) on `to`",
            "⚠ INVALID condition (EQ on uint256 with 0 values) on `amount`",
            "⚠ INVALID condition (IN on address with 0 values) on `to`",
            "⚠ INVALID condition (NEQ on address with 1 values) on `to`",
            "⚠ INVALID condition (LTE on dynamic with 1 values) on `amount`",
            "⚠ INVALID condition (LTE on type 0x63 with 1 values) on `amount`",
            "⚠ INVALID condition (LENGTH_LTE on uint256 with 1 values) on `amount`: the validator refuses every \
             call this policy matches; sending no ETH",
        ]
        .join(": the validator refuses every call this policy matches, ")
    );
}

#[test]
fn values_are_shown_in_their_type() {
    let target = address!("0x00000000000000000000000000000000000000C0");
    let minus_one = U256::MAX;
    let minus_128 = U256::MAX - U256::from(127);
    let selector4 = U256::from(0x1234_5678u64) << 224;
    let p = policy(
        target,
        FixedBytes([0x12, 0x34, 0x56, 0x78]),
        vec![
            cond(condition::GT, arg_type::int(8), 0, &[minus_one]),
            cond(condition::IN, arg_type::int(256), 1, &[minus_128, U256::from(3)]),
            cond(condition::EQ, arg_type::fixed_bytes(4), 2, &[selector4]),
            cond(condition::NEQ, ADDRESS, 3, &[U256::from_be_slice(RECIPIENT.as_slice())]),
            cond(condition::EQ, arg_type::BOOL, 4, &[U256::from(1)]),
            cond(condition::LT, arg_type::uint(8), 5, &[U256::from(200)]),
        ],
    );
    assert_eq!(
        explain_policy(&p, &TokenHints::new()),
        "may call unknown function 0x12345678 on 0x00000000000000000000000000000000000000C0 with argument word 0 \
         (int8) > -1, argument word 1 (int256) is one of -128, 3, argument word 2 (bytes4) = 0x12345678, argument \
         word 3 (address) ≠ 0x000000000000000000000000000000000000bEEF, argument word 4 (bool) = true, argument \
         word 5 (uint8) < 200; sending no ETH"
    );
}

#[test]
fn the_gas_line_names_who_pays_and_what_bounds_it() {
    use warrant_core::grant::{NO_CAP, SpendLimit};
    let gas_line = |edit: &dyn Fn(&mut warrant_core::grant::Scope)| {
        let mut scope = empty_scope();
        edit(&mut scope);
        explain_scope(&scope, &TokenHints::new()).lines().last().unwrap().to_string()
    };
    assert_eq!(
        gas_line(&|s| s.paymaster = address!("0x9000000000000000000000000000000000000009")),
        "gas: sponsored by paymaster 0x9000000000000000000000000000000000000009 (every operation must use it; the \
         account's ETH is not spent on gas); no per-operation gas or fee cap"
    );
    assert_eq!(
        gas_line(&|s| {
            s.maxValueTotal = U256::from(10u64.pow(16));
            s.maxGasLimit = 500_000;
            s.maxFeePerGas = 20_000_000_000;
        }),
        "gas: paid by the account, counted in the native budget of at most 0.01 ETH (raw 10000000000000000 wei) \
         in total (each operation's maximum cost, (gas limits + preVerificationGas) × maxFeePerGas); at most \
         500000 gas at ≤ 20.0 gwei per operation (≤ 0.01 ETH per operation)"
    );
    assert_eq!(
        gas_line(&|s| {
            s.maxValueTotal = U256::MAX;
            s.period = 86_400;
            s.limits = vec![SpendLimit { token: Address::ZERO, perPeriod: 10u128.pow(15), lifetime: NO_CAP }];
        }),
        "gas: paid by the account, counted in the native budget of no total cap and 0.001 ETH (raw \
         1000000000000000 wei) per period (each operation's maximum cost, (gas limits + preVerificationGas) × \
         maxFeePerGas); no per-operation gas or fee cap"
    );
    assert!(
        gas_line(&|s| s.maxValueTotal = U256::MAX).starts_with("⚠ gas: paid by the account with NO BOUND")
    );
    assert!(gas_line(&|_| {}).starts_with(
        "⚠ gas: paid by the account, but the session may spend NO native value, so EVERY OPERATION IS REFUSED"
    ));
}

#[test]
fn wildcards_value_caps_and_flags_are_loud() {
    let mut any_target = policy(Address::ZERO, selector("transfer(address,uint256)"), vec![]);
    any_target.flags = ANY_TARGET;
    any_target.maxValue = U256::from(5) * U256::from(10).pow(U256::from(17));
    let mut any_selector =
        policy(RECIPIENT, FixedBytes::ZERO, vec![cond(condition::EQ, U256T, 0, &[U256::from(1)])]);
    any_selector.flags = ANY_SELECTOR | 0x80;
    any_selector.maxValue = U256::MAX;
    let mut both = policy(Address::ZERO, FixedBytes::ZERO, vec![]);
    both.flags = ANY_TARGET | ANY_SELECTOR;
    let plain = policy(RECIPIENT, FixedBytes::ZERO, vec![]);
    let mut scope = empty_scope();
    scope.calls = vec![any_target, any_selector, both, plain];
    let text = explain_scope(&scope, &usdc());
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[..5],
        [
            "may make calls matching these policies (the first that matches a call decides):",
            "- ⚠ may call `transfer(address,uint256)` on ANY CONTRACT (except the account, this module and the \
             EntryPoint); sending at most 0.5 ETH (raw 500000000000000000 wei) per call",
            "- ⚠ may call ANY FUNCTION on 0x000000000000000000000000000000000000bEEF with argument word 0 (uint256) = 1; ⚠ \
             sending ANY amount of ETH per call (flag bits 0x80 mean nothing to the validator)",
            "- ⚠ may call ANY FUNCTION on ANY CONTRACT (except the account, this module and the EntryPoint); \
             sending no ETH",
            "- may call with empty calldata only (a plain ETH transfer; calldata starting with 0x00000000 does not \
             match) on 0x000000000000000000000000000000000000bEEF; sending no ETH",
        ]
    );
}

#[test]
fn limits_time_uses_eth_and_gas() {
    let render = |edit: &dyn Fn(&mut warrant_core::grant::Scope)| {
        let mut scope = empty_scope();
        edit(&mut scope);
        explain_scope(&scope, &TokenHints::new())
    };
    assert_eq!(
        render(&|_| {}),
        "may call nothing (the scope has no call policies)\n\
         ⚠ valid from now on with NO EXPIRY\n\
         any number of times\n\
         may not send ETH: the session's native budget (--max-value) is 0; with no paymaster it cannot pay for gas either\n\
         ⚠ gas: paid by the account, but the session may spend NO native value, so EVERY OPERATION IS REFUSED \
         (set a native budget, gas included, or pin a paymaster); no per-operation gas or fee cap"
    );
    let paymaster = address!("0x9000000000000000000000000000000000000009");
    assert_eq!(
        render(&|s| {
            s.validAfter = U48::from(951_782_400u64);
            s.validUntil = U48::from(4_102_444_799u64);
            s.maxUses = 1;
            s.maxValueTotal = U256::from(1_500_000_000_000_000_000u128);
            s.paymaster = paymaster;
            s.maxGasLimit = 300_000;
        }),
        "may call nothing (the scope has no call policies)\n\
         valid after 2000-02-29 00:00 UTC until 2099-12-31 23:59:59 UTC\n\
         at most once\n\
         may not send ETH (no policy lets a call attach any; gas is sponsored); native budget 1.5 ETH (raw \
         1500000000000000000 wei)\n\
         gas: sponsored by paymaster 0x9000000000000000000000000000000000000009 (every operation must use it; \
         the account's ETH is not spent on gas); at most 300000 gas per operation, at any fee"
    );
    let lines = |edit: &dyn Fn(&mut warrant_core::grant::Scope)| -> Vec<String> {
        render(edit).lines().skip(1).map(String::from).collect()
    };
    assert_eq!(
        lines(&|s| {
            s.validAfter = U48::from(1_767_311_947u64);
            s.maxUses = 2;
            s.maxValueTotal = U256::MAX;
            s.maxFeePerGas = 1_500_000_000;
        }),
        [
            "⚠ valid after 2026-01-01 23:59:07 UTC with NO EXPIRY",
            "at most twice",
            "⚠ may send ANY amount of ETH, gas included",
            "⚠ gas: paid by the account with NO BOUND: no paymaster, no native value cap and no native spend limit, \
             so the session key can spend ANY amount of the account's ETH on gas; at ≤ 1.5 gwei per operation, any \
             gas limit",
        ]
    );
    assert_eq!(
        lines(&|s| {
            s.validAfter = U48::from(1_796_126_400u64);
            s.validUntil = U48::from(1_796_126_400u64);
            s.maxUses = 7;
        })[..2],
        [
            "valid after 2026-12-01 12:00 UTC until 2026-12-01 12:00 UTC: an empty window, never valid",
            "at most 7 times"
        ]
    );
}

#[test]
fn units_and_dates() {
    assert_eq!(format_units(U256::from(100_000_000u64), 6), "100.0");
    assert_eq!(format_units(U256::from(1), 18), "0.000000000000000001");
    assert_eq!(format_units(U256::from(123_450), 3), "123.45");
    assert_eq!(format_units(U256::ZERO, 18), "0.0");
    assert_eq!(format_units(U256::from(42), 0), "42");
    assert_eq!(
        format_units(U256::MAX, 18),
        "115792089237316195423570985008687907853269984665640564039457.584007913129639935"
    );
    assert_eq!(format_utc(0), "1970-01-01 00:00 UTC");
    assert_eq!(format_utc(951_782_400), "2000-02-29 00:00 UTC");
    assert_eq!(format_utc(951_868_800), "2000-03-01 00:00 UTC");
    assert_eq!(format_utc(4_107_542_400), "2100-03-01 00:00 UTC"); // 2100 is not a leap year
    assert_eq!(format_utc(1_796_126_400), "2026-12-01 12:00 UTC");
    assert_eq!(format_utc((1 << 48) - 1), "8921556-12-07 10:44:15 UTC");
}

#[test]
fn spend_limits_and_rate_limits() {
    use warrant_core::grant::{NO_CAP, SpendLimit};
    let mut scope = empty_scope();
    scope.period = 86_400;
    scope.periodStart = U48::from(1_767_225_600u64);
    scope.maxUsesPerPeriod = 3;
    scope.limits = vec![
        SpendLimit { token: TOKEN, perPeriod: 50_000_000, lifetime: NO_CAP },
        SpendLimit { token: Address::ZERO, perPeriod: NO_CAP, lifetime: 10u128.pow(17) },
        SpendLimit { token: RECIPIENT, perPeriod: NO_CAP, lifetime: NO_CAP },
    ];
    let text = explain_scope(&scope, &usdc());
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[4..8],
        [
            "may move at most 50.0 USDC (raw 50000000) per 1 day (periods from 2026-01-01 00:00 UTC) of token \
             0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48 (every transfer, approval and allowance counts)",
            "may move at most 0.1 ETH (raw 100000000000000000 wei) over the session of ETH (native value) (every \
             transfer, approval and allowance counts)",
            "⚠ may move ANY amount of token 0x000000000000000000000000000000000000bEEF (its spend limit has no cap)",
            "at most 3 times per 1 day (periods from 2026-01-01 00:00 UTC)",
        ]
    );
}

/// What `explain` says about ETH is what the chain enforces: a per-call allowance under a session budget of 0 is
/// said to be unusable (not "1 ETH per call" and "no ETH" side by side); a native spend limit with no session
/// budget of its own is said to cap the ETH, not "ANY amount".
#[test]
fn eth_lines_agree_with_each_other() {
    use warrant_core::grant::{ANY_SELECTOR, ANY_TARGET, NO_CAP, SpendLimit};
    let any = CallPolicy {
        target: Address::ZERO,
        selector: Default::default(),
        flags: ANY_TARGET | ANY_SELECTOR,
        maxValue: U256::from(10).pow(U256::from(18)),
        conditions: vec![],
    };
    let mut scope = warrant_core::grant::Scope { calls: vec![any], ..Default::default() };
    let text = explain_scope(&scope, &TokenHints::default());
    assert!(text.contains("sending at most 1.0 ETH"), "{text}");
    assert!(text.contains("the per-call ETH a policy allows can never be used"), "{text}");
    // --spend-native: no budget of its own, a native spend limit.
    scope.calls[0].maxValue = U256::ZERO;
    scope.maxValueTotal = U256::MAX;
    scope.period = 86_400;
    scope.limits = vec![SpendLimit { token: Address::ZERO, perPeriod: 5u128.pow(17), lifetime: NO_CAP }];
    let text = explain_scope(&scope, &TokenHints::default());
    assert!(!text.contains("ANY amount of ETH"), "{text}");
    assert!(text.contains("the native spend limit below caps the ETH it may spend, gas included"), "{text}");
}

/// A scope that can hand over a whole balance is flagged: unrestricted approve, transfer with no amount rule and
/// no spend limit; an amount rule or a spend limit on the token silences it.
#[test]
fn whole_balance_scopes_are_flagged() {
    use warrant_core::grant::SpendLimit;
    let token = Address::with_last_byte(0x70);
    let policy = |selector: [u8; 4]| CallPolicy {
        target: token,
        selector: selector.into(),
        flags: 0,
        maxValue: U256::ZERO,
        conditions: vec![],
    };
    let mut scope = warrant_core::grant::Scope {
        calls: vec![policy([0x09, 0x5e, 0xa7, 0xb3]), policy([0xa9, 0x05, 0x9c, 0xbb])],
        maxValueTotal: U256::from(1),
        ..Default::default()
    };
    let text = explain_scope(&scope, &TokenHints::default());
    assert!(
        text.contains("policy 1 allows `approve`") && text.contains("policy 2 allows `transfer`"),
        "{text}"
    );
    assert!(text.contains("whole balance"), "{text}");
    scope.limits = vec![SpendLimit { token, perPeriod: warrant_core::grant::NO_CAP, lifetime: 100 }];
    let text = explain_scope(&scope, &TokenHints::default());
    assert!(!text.contains("whole balance"), "a spend limit bounds both: {text}");
}
