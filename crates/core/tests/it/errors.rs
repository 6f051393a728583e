//! One name per rule: every custom error of `contracts/src/WarrantErrors.sol` decodes into the `Denial` of the
//! same name, and every `Denial` the validator can raise is one of those errors. Read from the Solidity source
//! itself, so a new error on either side without its counterpart fails here.

use std::collections::BTreeSet;

use alloy_primitives::{Address, B256, FixedBytes, U256, keccak256};
use warrant_core::policy::Denial;

/// `(name, canonical signature)` of each `error Name(type name, …);` in the Solidity file.
fn solidity_errors() -> Vec<(String, String)> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../contracts/src/WarrantErrors.sol");
    let source = std::fs::read_to_string(path).expect("contracts/src/WarrantErrors.sol");
    let mut out = Vec::new();
    for line in source.lines() {
        let Some(rest) = line.trim().strip_prefix("error ") else { continue };
        let (name, args) = rest.split_once('(').expect("error Name(");
        let args = args.split_once(')').expect("…)").0;
        let types: Vec<&str> = args
            .split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(|a| a.split(' ').next().unwrap())
            .collect();
        out.push((name.to_string(), format!("{name}({})", types.join(","))));
    }
    assert!(out.len() >= 30, "parsed only {} errors", out.len());
    out
}

/// One of each variant. The exhaustive match makes a new variant a compile error here until it is listed.
fn every_denial() -> Vec<Denial> {
    let (a, b, u) = (Address::ZERO, B256::ZERO, U256::ZERO);
    let all = vec![
        Denial::SessionNotEnabled { id: b },
        Denial::SessionRevoked { id: b },
        Denial::UsesExhausted { uses: 0, max: 0 },
        Denial::PaymasterRequired { required: a },
        Denial::PaymasterNotPermitted { paymaster: a },
        Denial::GasLimitExceeded { total: u, cap: u },
        Denial::MaxFeePerGasExceeded { fee: u, cap: u },
        Denial::UnsupportedAccountCall { selector: FixedBytes::ZERO },
        Denial::MalformedCalldata,
        Denial::UnsupportedExecutionMode { mode: b },
        Denial::EmptyBatch,
        Denial::ForbiddenTarget { index: 0, target: a },
        Denial::CalldataTooShort { index: 0 },
        Denial::CallNotPermitted { index: 0, target: a, selector: FixedBytes::ZERO },
        Denial::CallValueExceeded { index: 0, value: u, cap: u },
        Denial::ArgumentConditionFailed { index: 0, arg_index: 0, condition: 0 },
        Denial::ArgumentMalformed { index: 0, arg_index: 0 },
        Denial::ArgumentNotCanonical { index: 0, arg_index: 0 },
        Denial::InvalidCondition { index: 0, condition_index: 0 },
        Denial::SessionValueExceeded { total: u, cap: u },
        Denial::SpendLimitExceeded { token: a, spent: u, cap: u },
        Denial::PeriodSpendLimitExceeded { token: a, period: 0, spent: u, cap: u },
        Denial::PeriodUsesExhausted { period: 0, uses: 0, max: 0 },
        Denial::PeriodStale { period: 0, current: 0 },
        Denial::PeriodOutOfRange { period: 0 },
        Denial::TokenCallNotAccounted { index: 0, token: a, selector: FixedBytes::ZERO },
        Denial::InvalidSpendLimit { limit_index: 0 },
        Denial::PeriodRequired,
        Denial::GrantAccountMismatch { grant_account: a, account: a },
        Denial::GrantEpochStale { grant_epoch: 0, current_epoch: u },
        Denial::InvalidOwnerSignature,
        Denial::MalformedSessionSignature,
        Denial::InvalidGate { gate_index: 0 },
        Denial::GateNotHeld { gate_index: 0, token: a, balance: u, min_balance: u },
        Denial::GateUnreadable { gate_index: 0, token: a },
        Denial::NotYetValid { valid_after: 0, now: 0 },
        Denial::Expired { valid_until: 0, now: 0 },
    ];
    for d in &all {
        match d {
            Denial::SessionNotEnabled { .. }
            | Denial::SessionRevoked { .. }
            | Denial::UsesExhausted { .. }
            | Denial::PaymasterRequired { .. }
            | Denial::PaymasterNotPermitted { .. }
            | Denial::GasLimitExceeded { .. }
            | Denial::MaxFeePerGasExceeded { .. }
            | Denial::UnsupportedAccountCall { .. }
            | Denial::MalformedCalldata
            | Denial::UnsupportedExecutionMode { .. }
            | Denial::EmptyBatch
            | Denial::ForbiddenTarget { .. }
            | Denial::CalldataTooShort { .. }
            | Denial::CallNotPermitted { .. }
            | Denial::CallValueExceeded { .. }
            | Denial::ArgumentConditionFailed { .. }
            | Denial::ArgumentMalformed { .. }
            | Denial::ArgumentNotCanonical { .. }
            | Denial::InvalidCondition { .. }
            | Denial::SessionValueExceeded { .. }
            | Denial::SpendLimitExceeded { .. }
            | Denial::PeriodSpendLimitExceeded { .. }
            | Denial::PeriodUsesExhausted { .. }
            | Denial::PeriodStale { .. }
            | Denial::PeriodOutOfRange { .. }
            | Denial::TokenCallNotAccounted { .. }
            | Denial::InvalidSpendLimit { .. }
            | Denial::PeriodRequired
            | Denial::GrantAccountMismatch { .. }
            | Denial::GrantEpochStale { .. }
            | Denial::InvalidOwnerSignature
            | Denial::MalformedSessionSignature
            | Denial::InvalidGate { .. }
            | Denial::GateNotHeld { .. }
            | Denial::GateUnreadable { .. }
            | Denial::NotYetValid { .. }
            | Denial::Expired { .. } => {}
        }
    }
    all
}

#[test]
fn every_solidity_error_decodes_to_the_denial_of_its_name() {
    for (name, signature) in solidity_errors() {
        // Its selector and all-zero arguments (every argument type decodes from a zero word).
        let arity = signature.matches(',').count() + usize::from(!signature.ends_with("()"));
        let mut data = keccak256(signature.as_bytes())[..4].to_vec();
        data.resize(4 + 32 * arity, 0);
        let denial = Denial::from_revert_data(&data)
            .unwrap_or_else(|| panic!("{signature}: no Denial decodes it (is it in grant::WarrantErrors?)"));
        assert_eq!(denial.name(), name, "{signature}");
        assert!(denial.to_string().starts_with(&format!("{name}: ")), "{denial}");
    }
}

#[test]
fn every_validator_denial_is_a_solidity_error() {
    let solidity: BTreeSet<String> = solidity_errors().into_iter().map(|(n, _)| n).collect();
    let mut ours = BTreeSet::new();
    for d in every_denial() {
        assert!(d.to_string().starts_with(&format!("{}: ", d.name())), "{d}");
        if d.is_validator_error() {
            assert!(solidity.contains(d.name()), "Denial {} has no Solidity error", d.name());
            ours.insert(d.name().to_string());
        } else {
            assert!(!solidity.contains(d.name()), "{} is the EntryPoint's, not the validator's", d.name());
        }
    }
    assert_eq!(ours, solidity);
}
