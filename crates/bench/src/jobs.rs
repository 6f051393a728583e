//! The jobs both benchmarks run, built through the SDK's types so they follow the validator's changes.

use alloy::{
    primitives::{Address, B256, U256, aliases::U48},
    sol,
    sol_types::SolCall,
};
use warrant_core::{
    grant::{ArgCondition, CallPolicy, NO_CAP, Scope, Session, SpendLimit, arg_type},
    policy::{Call, condition},
};

sol! {
    /// ERC-20 `transfer`.
    function transfer(address to, uint256 amount) external returns (bool);
}

/// Per-call cap of the ERC-20 sessions, in token units.
pub const TOKEN_CAP: u128 = 1_000_000;
/// Tokens each ERC-20 job transfers.
pub const TOKEN_AMOUNT: u128 = 1_000;
/// Per-call cap of native transfers, in wei.
pub const NATIVE_CAP: u128 = 10_000_000_000_000_000;
/// The sessions' budget for gas (the account pays it, and it counts as native value): 10 ether.
pub const GAS_BUDGET: u128 = 10_000_000_000_000_000_000;
/// Wei each native job sends.
pub const NATIVE_AMOUNT: u128 = 1_000_000_000_000;

/// `transfer(recipient, amount)` on `token`.
pub fn erc20_transfer(token: Address, recipient: Address, amount: u128) -> Call {
    Call {
        target: token,
        value: U256::ZERO,
        data: transferCall { to: recipient, amount: U256::from(amount) }.abi_encode(),
    }
}

/// `amount` wei to `recipient`, no calldata.
pub fn native_transfer(recipient: Address, amount: u128) -> Call {
    Call { target: recipient, value: U256::from(amount), data: Vec::new() }
}

/// The policy of ERC-20 transfers to one recipient, at most [`TOKEN_CAP`] a call.
pub fn erc20_policy(token: Address, recipient: Address) -> CallPolicy {
    CallPolicy {
        target: token,
        selector: transferCall::SELECTOR.into(),
        flags: 0,
        maxValue: U256::ZERO,
        conditions: vec![
            ArgCondition {
                condition: condition::EQ,
                argType: arg_type::ADDRESS,
                argIndex: 0,
                values: vec![recipient.into_word()],
            },
            ArgCondition {
                condition: condition::LTE,
                argType: arg_type::uint(256),
                argIndex: 1,
                values: vec![B256::from(U256::from(TOKEN_CAP))],
            },
        ],
    }
}

/// The policy of native transfers to one recipient, at most [`NATIVE_CAP`] a call.
pub fn native_policy(recipient: Address) -> CallPolicy {
    CallPolicy {
        target: recipient,
        selector: Default::default(),
        flags: 0,
        maxValue: U256::from(NATIVE_CAP),
        conditions: vec![],
    }
}

/// The benchmark's full session: ERC-20 transfers of `token` to `recipient` (capped per call) and native
/// transfers to `recipient` (capped per call and in total), until `valid_until`, at most 1,000 operations (so
/// the validator counts uses and value on every operation).
pub fn session(signer: Address, salt: B256, token: Address, recipient: Address, valid_until: u64) -> Session {
    Session {
        signer,
        salt,
        scope: Scope {
            validUntil: U48::from(valid_until),
            maxUses: 1_000,
            // Native value of the calls plus the gas the account pays (counted as native value).
            maxValueTotal: U256::from(100 * NATIVE_CAP) + U256::from(GAS_BUDGET),
            calls: vec![erc20_policy(token, recipient), native_policy(recipient)],
            ..Default::default()
        },
    }
}

/// The scope of the project's gas goal (`docs/gas.md`, `contracts/test/Gas.t.sol`): ERC-20 `transfer` on `token`
/// with `amount <= TOKEN_CAP`, until `valid_until`; no counters.
pub fn minimal_erc20_session(signer: Address, salt: B256, token: Address, valid_until: u64) -> Session {
    let mut policy = erc20_policy(token, Address::ZERO);
    policy.conditions.remove(0);
    Session {
        signer,
        salt,
        // The gas goal's scope plus the native budget the account's gas is counted against (issue 11).
        scope: Scope {
            validUntil: U48::from(valid_until),
            maxValueTotal: U256::from(GAS_BUDGET),
            calls: vec![policy],
            ..Default::default()
        },
    }
}

/// Length of the spend-limited session's period: one week.
pub const PERIOD: u32 = 7 * 24 * 3600;

/// The same session with a periodic ERC-20 spend limit: at most `100 × TOKEN_CAP` of `token` per week (periods
/// anchored at `period_start`), no lifetime cap.
pub fn spend_limited_session(
    signer: Address,
    salt: B256,
    token: Address,
    recipient: Address,
    valid_until: u64,
    period_start: u64,
) -> Session {
    let mut session = session(signer, salt, token, recipient, valid_until);
    session.scope.period = PERIOD;
    session.scope.periodStart = U48::from(period_start);
    session.scope.limits = vec![SpendLimit { token, perPeriod: 100 * TOKEN_CAP, lifetime: NO_CAP }];
    session
}
