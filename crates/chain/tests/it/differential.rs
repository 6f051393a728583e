//! Differential test: the Rust pre-flight evaluator and the deployed `WarrantValidator` judge the same random
//! (scope, operation) pairs — well-formed and malformed calldata, wrong call types and modes, forbidden targets,
//! spend limits and every route of their table, period commitments, edge values at every bound — and must agree
//! on every one: the same verdict, for a refusal the same custom error with the same arguments, for an acceptance
//! the same validation window. A second part drives sequences of operations and bundles of one session, with the
//! evaluator reading the module's counters (`sessionState`, `periodState`, `spendState`) before each bundle and
//! chaining its own debits inside it, and checks the counters the module ends with.

use alloy::{
    primitives::{Address, B256, Bytes, FixedBytes, U256, address, keccak256},
    signers::{SignerSync, local::PrivateKeySigner},
    sol,
    sol_types::{SolCall, SolError, SolInterface, SolValue},
};
use rand::{Rng, SeedableRng, rngs::StdRng, seq::IndexedRandom};
use warrant_chain::{DevChain, TxRequest, artifacts};
use warrant_core::{
    constants::ENTRY_POINT_V08,
    grant::{
        ArgCondition, CallPolicy, IWarrantValidator, NO_CAP, PERMIT2, Scope, Session, SpendLimit,
        WarrantErrors, use_signature,
    },
    policy::{
        Debit, Denial, Presentation, SessionStatus, SessionUsage, SpendUsage, check_operation,
        check_spend_rules,
    },
    session_op::session_nonce_key,
};

sol! {
    struct Execution { address target; uint256 value; bytes callData; }
    function execute(bytes32 mode, bytes executionCalldata);
    function validateUserOp(PackedUserOperation userOp, bytes32 userOpHash) returns (uint256);
    struct PackedUserOperation {
        address sender; uint256 nonce; bytes initCode; bytes callData; bytes32 accountGasLimits;
        uint256 preVerificationGas; bytes32 gasFees; bytes paymasterAndData; bytes signature;
    }
}

const CASES: usize = 10_000;
/// Sequences of 2 to 8 operations of one session, grouped in bundles of 1 to 3.
const SEQUENCES: usize = 600;
const TARGETS: [Address; 3] = [
    address!("0x1000000000000000000000000000000000000001"),
    address!("0x2000000000000000000000000000000000000002"),
    address!("0x3000000000000000000000000000000000000003"),
];
const SELECTORS: [[u8; 4]; 11] = [
    [0xa9, 0x05, 0x9c, 0xbb], // transfer
    [0x09, 0x5e, 0xa7, 0xb3], // approve
    [0x12, 0x34, 0x56, 0x78],
    [0; 4],
    [0x39, 0x50, 0x93, 0x51], // increaseAllowance
    [0xa4, 0x57, 0xc2, 0xd7], // decreaseAllowance
    [0x23, 0xb8, 0x72, 0xdd], // transferFrom
    [0xd5, 0x05, 0xac, 0xcf], // permit (EIP-2612)
    [0x87, 0x51, 0x7c, 0x45], // Permit2 approve
    [0x36, 0xc7, 0x85, 0x16], // Permit2 transferFrom
    [0x2b, 0x67, 0xb5, 0x70], // Permit2 permit
];
const CAPS: [u128; 8] = [0, 50, 1000, 1_000_000_000_000_000_000, NO_CAP, NO_CAP, NO_CAP, (1 << 112) - 1];
const PAYMASTER: Address = address!("0x9000000000000000000000000000000000000009");

struct Gen {
    rng: StdRng,
    /// The account of the current case, as an argument word (so `from == account` routes get exercised).
    account: Address,
}

impl Gen {
    fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p)
    }

    fn interesting_word(&mut self) -> B256 {
        let choices = [
            U256::ZERO,
            U256::from(1),
            U256::from(50),
            U256::from(100),
            U256::from(101),
            U256::from(u32::MAX),
            U256::from(u32::MAX) + U256::from(1),
            U256::MAX,
            U256::from_be_slice(TARGETS[0].as_slice()),
            U256::from_be_slice(TARGETS[1].as_slice()),
            U256::from_be_slice(self.account.as_slice()),
            U256::from(1u128 << 112),
        ];
        if self.chance(0.15) {
            B256::from(self.rng.random::<[u8; 32]>())
        } else {
            (*choices.choose(&mut self.rng).unwrap()).into()
        }
    }

    fn value(&mut self) -> U256 {
        *[U256::ZERO, U256::ZERO, U256::from(1), U256::from(50), U256::from(1000), U256::from(10u128.pow(18))]
            .choose(&mut self.rng)
            .unwrap()
    }

    fn condition(&mut self) -> ArgCondition {
        let kind = self.rng.random_range(0..12u8); // 11 is not a condition kind: InvalidCondition
        let n = match self.rng.random_range(0..10) {
            0 => 0,
            1 => 2,
            _ if kind == 6 => self.rng.random_range(1..4),
            _ => 1,
        };
        let mut values: Vec<B256> = (0..n).map(|_| self.interesting_word()).collect();
        if (9..=10).contains(&kind) && self.chance(0.5) && !values.is_empty() {
            values[0] = keccak256(b"hello");
        }
        ArgCondition { condition: kind, argIndex: self.rng.random_range(0..4), values }
    }

    fn scope(&mut self) -> Scope {
        let calls = (0..self.rng.random_range(0..4))
            .map(|_| CallPolicy {
                target: if self.chance(0.9) {
                    *TARGETS.choose(&mut self.rng).unwrap()
                } else {
                    Address::ZERO
                },
                selector: FixedBytes(*SELECTORS.choose(&mut self.rng).unwrap()),
                flags: if self.chance(0.8) { 0 } else { self.rng.random_range(0..4) },
                maxValue: *[U256::ZERO, U256::from(50), U256::from(1000), U256::MAX]
                    .choose(&mut self.rng)
                    .unwrap(),
                conditions: (0..self.rng.random_range(0..3)).map(|_| self.condition()).collect(),
            })
            .collect();
        // Time is returned in the validation data, not checked here; random windows exercise the session bytes.
        let window = |g: &mut Self| {
            alloy::primitives::aliases::U48::from(
                *[0u64, 1, 1_700_000_000, (1 << 48) - 1].choose(&mut g.rng).unwrap(),
            )
        };
        let mut scope = Scope {
            validAfter: window(self),
            validUntil: window(self),
            maxUses: *[0u32, 1, 5].choose(&mut self.rng).unwrap(),
            maxValueTotal: *[U256::ZERO, U256::from(100), U256::from(10u128.pow(18)), U256::MAX]
                .choose(&mut self.rng)
                .unwrap(),
            paymaster: if self.chance(0.2) { PAYMASTER } else { Address::ZERO },
            maxGasLimit: *[0u128, 300_000, 2_000_000].choose(&mut self.rng).unwrap(),
            maxFeePerGas: *[0u128, 1_000_000_000, 10_000_000_000].choose(&mut self.rng).unwrap(),
            calls,
            period: 0,
            periodStart: Default::default(),
            maxUsesPerPeriod: 0,
            limits: Vec::new(),
        };
        if self.chance(0.6) {
            self.spend_rules(&mut scope);
        }
        scope
    }

    /// Period, rate limit and spend limits (with some ill-formed ones).
    fn spend_rules(&mut self, scope: &mut Scope) {
        scope.period = *[0u32, 0, 1, 3600, 86_400, u32::MAX].choose(&mut self.rng).unwrap();
        scope.periodStart = alloy::primitives::Uint::from(
            *[0u64, 1_000_000, (1 << 48) - 100_000].choose(&mut self.rng).unwrap(),
        );
        scope.maxUsesPerPeriod = if self.chance(0.3) { self.rng.random_range(0..4) } else { 0 };
        let periodic = scope.period != 0 || self.chance(0.05);
        scope.limits = (0..self.rng.random_range(0..4))
            .map(|_| SpendLimit {
                token: *[TARGETS[0], TARGETS[1], TARGETS[2], Address::ZERO, PERMIT2]
                    .choose(&mut self.rng)
                    .unwrap(),
                perPeriod: if periodic { *CAPS.choose(&mut self.rng).unwrap() } else { NO_CAP },
                // Now and then a cap that does not fit the 112-bit counters.
                lifetime: if self.chance(0.03) { 1 << 112 } else { *CAPS.choose(&mut self.rng).unwrap() },
            })
            .collect();
    }

    /// The period index an operation names: usually small, sometimes at the edges of 32 bits.
    fn period_index(&mut self) -> u32 {
        match self.rng.random_range(0..10) {
            0 => u32::MAX,
            1 => self.rng.random(),
            _ => self.rng.random_range(0..4),
        }
    }

    /// Calldata for an inner call: empty, too short, or a selector with static and dynamic arguments, some
    /// with broken offsets or lengths.
    fn inner_data(&mut self) -> Vec<u8> {
        match self.rng.random_range(0..10) {
            0 => Vec::new(),
            1 => vec![0xa9; self.rng.random_range(1..4)],
            _ => {
                let mut data = SELECTORS.choose(&mut self.rng).unwrap().to_vec();
                let words = self.rng.random_range(0..4);
                for _ in 0..words {
                    data.extend_from_slice(self.interesting_word().as_slice());
                }
                if self.chance(0.4) {
                    // A dynamic `bytes` argument in head slot `words`, with an offset pointing past the head.
                    let content: Vec<u8> = if self.chance(0.5) {
                        b"hello".to_vec()
                    } else {
                        vec![7; self.rng.random_range(0..70)]
                    };
                    let offset = 32 * (words + 1);
                    let offset = if self.chance(0.1) { offset + 1000 } else { offset };
                    data.extend_from_slice(&U256::from(offset).to_be_bytes::<32>());
                    let len = if self.chance(0.1) { content.len() + 64 } else { content.len() };
                    data.extend_from_slice(&U256::from(len).to_be_bytes::<32>());
                    data.extend_from_slice(&content);
                    data.resize(data.len() + (32 - content.len() % 32) % 32, 0);
                }
                if self.chance(0.1) {
                    let cut = self.rng.random_range(4..=data.len().max(4));
                    data.truncate(cut);
                }
                data
            }
        }
    }

    fn target(&mut self, account: Address, module: Address) -> Address {
        if self.chance(0.08) {
            *[account, module, ENTRY_POINT_V08, Address::ZERO].choose(&mut self.rng).unwrap()
        } else if self.chance(0.1) {
            PERMIT2
        } else {
            *TARGETS.choose(&mut self.rng).unwrap()
        }
    }

    fn call_data(&mut self, account: Address, module: Address) -> Vec<u8> {
        let (mode, ec): (B256, Vec<u8>) = match self.rng.random_range(0..10) {
            0..=4 => {
                let mut ec = self.target(account, module).to_vec();
                ec.extend_from_slice(&self.value().to_be_bytes::<32>());
                ec.extend_from_slice(&self.inner_data());
                (B256::ZERO, ec)
            }
            5..=8 => {
                let batch: Vec<Execution> = (0..self.rng.random_range(0..4))
                    .map(|_| Execution {
                        target: self.target(account, module),
                        value: self.value(),
                        callData: self.inner_data().into(),
                    })
                    .collect();
                let mut ec = batch.abi_encode();
                if self.chance(0.1) && !ec.is_empty() {
                    let i = self.rng.random_range(0..ec.len());
                    ec[i] ^= 1 << self.rng.random_range(0..8);
                }
                if self.chance(0.05) {
                    ec.truncate(self.rng.random_range(0..=ec.len()));
                }
                let mut mode = [0u8; 32];
                mode[0] = 1;
                (B256::from(mode), ec)
            }
            _ => {
                // Other modes: delegatecall, static, try, or junk in the unused bytes.
                let mut mode = [0u8; 32];
                match self.rng.random_range(0..4) {
                    0 => mode[0] = 0xff,
                    1 => mode[0] = 0xfe,
                    2 => mode[1] = 0x01,
                    _ => mode[10] = 0x01,
                }
                (B256::from(mode), TARGETS[0].to_vec())
            }
        };
        let mut call = executeCall { mode, executionCalldata: ec.into() }.abi_encode();
        match self.rng.random_range(0..40) {
            0 => call[..4].copy_from_slice(&[0x8d, 0xd7, 0x71, 0x2f]), // executeUserOp
            1 => call[..4].copy_from_slice(&[0x95, 0x16, 0x3b, 0x81]), // installModule
            2 => call.extend_from_slice(&[0; 32]),                     // trailing bytes
            3 => call[67] = 0x60,                                      // non-canonical offset
            4 => call.truncate(self.rng.random_range(0..call.len())),
            _ => {}
        }
        call
    }

    fn op(&mut self, sender: Address, call_data: Vec<u8>) -> warrant_core::PackedUserOperation {
        let mut op = warrant_core::UserOperation {
            sender,
            nonce: U256::from(session_nonce_key(Address::ZERO, self.period_index())) << 64,
            call_data: call_data.into(),
            call_gas_limit: alloy::primitives::U128::from(
                *[50_000u64, 1_000_000].choose(&mut self.rng).unwrap(),
            ),
            verification_gas_limit: alloy::primitives::U128::from(
                *[100_000u64, 900_000].choose(&mut self.rng).unwrap(),
            ),
            pre_verification_gas: U256::from(*[21_000u64, 100_000].choose(&mut self.rng).unwrap()),
            max_fee_per_gas: alloy::primitives::U128::from(
                *[1_000_000_000u64, 5_000_000_000, 20_000_000_000].choose(&mut self.rng).unwrap(),
            ),
            max_priority_fee_per_gas: alloy::primitives::U128::from(1_000_000_000u64),
            ..Default::default()
        };
        if self.chance(0.3) {
            op.paymaster = Some(if self.chance(0.7) { PAYMASTER } else { TARGETS[0] });
            op.paymaster_verification_gas_limit = Some(alloy::primitives::U128::from(50_000));
            op.paymaster_post_op_gas_limit = Some(alloy::primitives::U128::from(10_000));
        }
        op.pack()
    }
}

/// What the chain said, reduced to what the evaluator predicts.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    /// Accepted, with the validation window the module returned (validAfter, validUntil).
    Accepted(u64, u64),
    /// Refused with a Warrant custom error (its exact ABI encoding).
    Warrant(Bytes),
    /// Refused by a decoder (OpenZeppelin's ERC7579DecodingError, or Solidity's calldata checks).
    Decoding,
}

fn expected(result: &Result<Debit, Denial>) -> Verdict {
    use WarrantErrors as E;
    let e = match result {
        // The window the module returns: the scope's intersected with the period's.
        Ok(debit) => return Verdict::Accepted(debit.valid_after, debit.valid_until),
        Err(d) => d,
    };
    let idx = |i: &usize| U256::from(*i);
    let bytes: Vec<u8> = match e {
        Denial::SessionNotEnabled { id } => E::SessionNotEnabled { id: *id }.abi_encode(),
        Denial::SessionRevoked { id } => E::SessionRevoked { id: *id }.abi_encode(),
        Denial::UsesExhausted { uses, max } => E::UsesExhausted { uses: *uses, max: *max }.abi_encode(),
        Denial::PaymasterRequired { required } => E::PaymasterRequired { required: *required }.abi_encode(),
        Denial::GasLimitExceeded { total, cap } => {
            E::GasLimitExceeded { total: *total, cap: *cap }.abi_encode()
        }
        Denial::MaxFeePerGasExceeded { fee, cap } => {
            E::MaxFeePerGasExceeded { fee: *fee, cap: *cap }.abi_encode()
        }
        Denial::UnsupportedAccountCall { selector } => {
            E::UnsupportedAccountCall { selector: *selector }.abi_encode()
        }
        Denial::MalformedCalldata => E::MalformedCalldata {}.abi_encode(),
        Denial::UnsupportedExecutionMode { mode } => E::UnsupportedExecutionMode { mode: *mode }.abi_encode(),
        Denial::EmptyBatch => E::EmptyBatch {}.abi_encode(),
        Denial::ForbiddenTarget { index, target } => {
            E::ForbiddenTarget { index: idx(index), target: *target }.abi_encode()
        }
        Denial::CalldataTooShort { index } => E::CalldataTooShort { index: idx(index) }.abi_encode(),
        Denial::CallNotPermitted { index, target, selector } => {
            E::CallNotPermitted { index: idx(index), target: *target, selector: *selector }.abi_encode()
        }
        Denial::CallValueExceeded { index, value, cap } => {
            E::CallValueExceeded { index: idx(index), value: *value, cap: *cap }.abi_encode()
        }
        Denial::ArgumentConditionFailed { index, arg_index, condition } => {
            E::ArgumentConditionFailed { index: idx(index), argIndex: *arg_index, condition: *condition }
                .abi_encode()
        }
        Denial::ArgumentMalformed { index, arg_index } => {
            E::ArgumentMalformed { index: idx(index), argIndex: *arg_index }.abi_encode()
        }
        Denial::InvalidCondition { index, condition_index } => {
            E::InvalidCondition { index: idx(index), conditionIndex: U256::from(*condition_index) }
                .abi_encode()
        }
        Denial::SessionValueExceeded { total, cap } => {
            E::SessionValueExceeded { total: *total, cap: *cap }.abi_encode()
        }
        Denial::SpendLimitExceeded { token, spent, cap } => {
            E::SpendLimitExceeded { token: *token, spent: *spent, cap: *cap }.abi_encode()
        }
        Denial::PeriodSpendLimitExceeded { token, period, spent, cap } => {
            E::PeriodSpendLimitExceeded { token: *token, period: *period, spent: *spent, cap: *cap }
                .abi_encode()
        }
        Denial::PeriodUsesExhausted { period, uses, max } => {
            E::PeriodUsesExhausted { period: *period, uses: *uses, max: *max }.abi_encode()
        }
        Denial::PeriodStale { period, current } => {
            E::PeriodStale { period: *period, current: *current }.abi_encode()
        }
        Denial::PeriodOutOfRange { period } => E::PeriodOutOfRange { period: *period }.abi_encode(),
        Denial::TokenCallNotAccounted { index, token, selector } => {
            E::TokenCallNotAccounted { index: idx(index), token: *token, selector: *selector }.abi_encode()
        }
        Denial::InvalidSpendLimit { limit_index } => {
            E::InvalidSpendLimit { limitIndex: U256::from(*limit_index) }.abi_encode()
        }
        Denial::PeriodRequired => E::PeriodRequired {}.abi_encode(),
        Denial::BatchDecoding => return Verdict::Decoding,
        Denial::NotYetValid { .. } | Denial::Expired { .. } => unreachable!("time is not checked here"),
    };
    Verdict::Warrant(bytes.into())
}

fn observed(receipt: &warrant_chain::Receipt) -> Verdict {
    if receipt.success {
        let data = U256::abi_decode(&receipt.output).expect("validateUserOp returns a uint256");
        assert_eq!(data & U256::from_be_slice(&[0xff; 20]), U256::ZERO, "the session signature is valid");
        let mask = U256::from((1u64 << 48) - 1);
        let valid_until = ((data >> 160_usize) & mask).to::<u64>();
        let valid_after = ((data >> 208_usize) & mask).to::<u64>();
        return Verdict::Accepted(valid_after, valid_until);
    }
    match WarrantErrors::WarrantErrorsErrors::abi_decode(&receipt.output) {
        Ok(_) => Verdict::Warrant(receipt.output.clone()),
        Err(_) => Verdict::Decoding,
    }
}

/// The deployed module and what the run has seen.
struct Harness {
    chain: DevChain,
    module: Address,
    session_key: PrivateKeySigner,
    disagreements: Vec<String>,
    tally: std::collections::BTreeMap<String, usize>,
}

impl Harness {
    fn new() -> Self {
        let mut chain = DevChain::new(Default::default()).unwrap();
        let module = chain
            .deploy(artifacts::warrant_creation_code("WarrantValidator.sol", "WarrantValidator").unwrap())
            .unwrap();
        let session_key = PrivateKeySigner::from_bytes(&keccak256("differential session key")).unwrap();
        Self { chain, module, session_key, disagreements: Vec::new(), tally: Default::default() }
    }

    fn setup(&mut self, account: Address, data: Vec<u8>, what: &str) {
        let r = self
            .chain
            .transact(TxRequest {
                from: account,
                to: Some(self.module),
                data: data.into(),
                ..Default::default()
            })
            .unwrap();
        assert!(r.success, "set-up failed: {what}");
    }

    /// Signs `op` for `session` with a random hash (the module checks the signature against the hash it is given).
    fn sign(&mut self, g: &mut Gen, session: &Session, op: &mut warrant_core::PackedUserOperation) -> B256 {
        let hash = B256::from(g.rng.random::<[u8; 32]>());
        let sig = self.session_key.sign_hash_sync(&hash).unwrap();
        op.signature = use_signature(session, &sig.as_bytes());
        hash
    }

    /// Runs validateUserOp as the account: committed (`commit`, as in a bundle) or not.
    fn validate(
        &mut self,
        account: Address,
        op: &warrant_core::PackedUserOperation,
        hash: B256,
        commit: bool,
    ) -> Verdict {
        let packed = PackedUserOperation {
            sender: op.sender,
            nonce: op.nonce,
            initCode: op.initCode.clone(),
            callData: op.callData.clone(),
            accountGasLimits: op.accountGasLimits,
            preVerificationGas: op.preVerificationGas,
            gasFees: op.gasFees,
            paymasterAndData: op.paymasterAndData.clone(),
            signature: op.signature.clone(),
        };
        let data: Bytes = validateUserOpCall { userOp: packed, userOpHash: hash }.abi_encode().into();
        let receipt = if commit {
            self.chain
                .transact(TxRequest { from: account, to: Some(self.module), data, ..Default::default() })
                .unwrap()
        } else {
            self.chain.call_from(account, self.module, data).unwrap()
        };
        observed(&receipt)
    }

    /// Compares the evaluator's verdict with the chain's, tallying the first and recording any disagreement.
    fn compare(&mut self, what: String, rust: &Result<Debit, Denial>, got: Verdict, call_data: &[u8]) {
        let want = expected(rust);
        // A malformed batch element is refused either by Solidity's calldata checks (which measure against the
        // whole transaction's calldata) or by the validator's own bound check, whichever reads first: both are
        // the same refusal of malformed input, so they form one class here.
        let malformed = Verdict::Warrant(WarrantErrors::MalformedCalldata {}.abi_encode().into());
        let (want, got) = match (want, got) {
            (w, g)
                if (w == malformed || w == Verdict::Decoding)
                    && (g == malformed || g == Verdict::Decoding) =>
            {
                (Verdict::Decoding, Verdict::Decoding)
            }
            pair => pair,
        };
        let label = match rust {
            Ok(_) => "accepted".to_string(),
            Err(d) => d.to_string().split(':').next().unwrap().to_string(),
        };
        *self.tally.entry(label).or_default() += 1;
        if want != got {
            self.disagreements.push(format!(
                "{what}: rust {rust:?} → {want:?}, chain {got:?}\n  callData 0x{}",
                alloy::primitives::hex::encode(call_data)
            ));
        }
    }

    /// The session's counters as the module exposes them: what a wallet reads before a pre-flight.
    fn usage(&mut self, account: Address, id: B256, limits: usize) -> SessionUsage {
        let state =
            self.chain.call_sol(self.module, &IWarrantValidator::sessionStateCall { account, id }).unwrap();
        let period =
            self.chain.call_sol(self.module, &IWarrantValidator::periodStateCall { account, id }).unwrap();
        let limits = (0..limits)
            .map(|i| {
                let c = self
                    .chain
                    .call_sol(
                        self.module,
                        &IWarrantValidator::spendStateCall { account, id, limitIndex: U256::from(i) },
                    )
                    .unwrap();
                SpendUsage {
                    period_index: c.periodIndex,
                    period_spent: c.periodSpent.to::<u128>(),
                    lifetime_spent: c.lifetimeSpent.to::<u128>(),
                }
            })
            .collect();
        SessionUsage {
            status: SessionStatus::from_u8(state.status).unwrap(),
            uses: state.uses,
            value_spent: state.valueSpent,
            period_index: period.periodIndex,
            uses_in_period: period.usesInPeriod,
            limits,
        }
    }

    fn report(&self, part: &str, n: usize, seed: u64) {
        println!(
            "differential ({part}): {n} operations (seed {seed:#x}), {} disagreements",
            self.disagreements.len()
        );
        for (label, n) in &self.tally {
            println!("  {label:<28} {n}");
        }
        assert!(
            self.disagreements.is_empty(),
            "{} disagreements, first ones:\n{}",
            self.disagreements.len(),
            self.disagreements.iter().take(5).cloned().collect::<Vec<_>>().join("\n")
        );
    }
}

fn seed() -> u64 {
    std::env::var("WARRANT_DIFF_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x5eed)
}

#[test]
fn evaluator_agrees_with_the_deployed_validator() {
    let seed = seed();
    let mut g = Gen { rng: StdRng::seed_from_u64(seed), account: Address::ZERO };
    let mut h = Harness::new();
    let module = h.module;

    for case in 0..CASES {
        let account = Address::from_word(keccak256(format!("differential account {seed} {case}")));
        g.account = account;
        h.chain.set_balance(account, U256::from(10u128.pow(18)));
        let salt = match g.rng.random_range(0..3) {
            0 => B256::ZERO,
            1 => B256::with_last_byte(case as u8),
            _ => B256::from(g.rng.random::<[u8; 32]>()),
        };
        let session = Session { signer: h.session_key.address(), salt, scope: g.scope() };
        let id = session.id(account);
        // The session bytes (what a USE operation carries and the id hashes) are the module's, byte for byte;
        // ill-formed spend rules are refused there, as everywhere a session is enabled.
        let rules = check_spend_rules(&session.scope);
        let bytes_call = IWarrantValidator::sessionBytesCall { session: session.clone() }.abi_encode();
        let r = h.chain.call_from(account, module, bytes_call.into()).unwrap();
        match &rules {
            Ok(()) => {
                assert!(r.success, "sessionBytes of case {case} reverted");
                let on_chain = Bytes::abi_decode(&r.output).unwrap();
                assert_eq!(on_chain, session.session_bytes(), "session bytes of case {case}");
            }
            Err(denial) => {
                assert!(!r.success, "case {case}: sessionBytes accepted ill-formed spend rules");
                assert_eq!(expected(&Err(denial.clone())), Verdict::Warrant(r.output.clone()), "case {case}");
                *h.tally.entry("ill-formed rules (enable)".into()).or_default() += 1;
            }
        }
        let status = match g.rng.random_range(0..20) {
            0 => SessionStatus::None,
            1 => SessionStatus::Revoked,
            // A session with ill-formed spend rules can't be enabled (checked just above).
            _ if rules.is_err() => SessionStatus::None,
            _ => SessionStatus::Enabled,
        };
        match status {
            SessionStatus::None => {}
            SessionStatus::Enabled => h.setup(
                account,
                IWarrantValidator::enableSessionCall { session: session.clone() }.abi_encode(),
                "enable",
            ),
            SessionStatus::Revoked => {
                h.setup(account, IWarrantValidator::revokeSessionCall { id }.abi_encode(), "revoke")
            }
        }
        let call_data = g.call_data(account, module);
        let mut op = g.op(account, call_data);
        let hash = h.sign(&mut g, &session, &mut op);
        let usage = SessionUsage { status, ..Default::default() };
        let rust = check_operation(id, &session.scope, &usage, Presentation::Use, &op, account, module);
        let got = h.validate(account, &op, hash, false);
        h.compare(format!("case {case}"), &rust, got, &op.callData);
    }
    h.report("single operations", CASES, seed);
}

impl Gen {
    /// A session for sequences: any call to the two tokens, Permit2 and a payee, with spend rules that are
    /// mostly well formed, so that operations are accepted often enough to run the counters up to their caps.
    fn spend_session(&mut self, signer: Address, salt: u64) -> Session {
        let any = |target: Address| CallPolicy {
            target,
            selector: FixedBytes::ZERO,
            flags: 0x02,
            maxValue: U256::MAX,
            conditions: Vec::new(),
        };
        let mut scope = Scope {
            validAfter: Default::default(),
            validUntil: Default::default(),
            maxUses: *[0u32, 0, 6].choose(&mut self.rng).unwrap(),
            maxValueTotal: *[U256::MAX, U256::MAX, U256::from(2000)].choose(&mut self.rng).unwrap(),
            paymaster: Address::ZERO,
            maxGasLimit: 0,
            maxFeePerGas: 0,
            calls: vec![any(TARGETS[0]), any(TARGETS[1]), any(PERMIT2), any(TARGETS[2])],
            period: *[0u32, 3600, 3600, 86_400].choose(&mut self.rng).unwrap(),
            periodStart: alloy::primitives::Uint::from(1_000_000u64),
            maxUsesPerPeriod: *[0u32, 0, 2, 4].choose(&mut self.rng).unwrap(),
            limits: Vec::new(),
        };
        let periodic = scope.period != 0;
        // Now and then a cap that does not fit the 112-bit counters (InvalidSpendLimit) or just fits.
        let caps = if self.chance(0.05) {
            [1 << 112, (1 << 112) - 1, 100, NO_CAP, 50]
        } else {
            [0u128, 50, 100, 1000, NO_CAP]
        };
        scope.limits = (0..self.rng.random_range(1..4))
            .map(|_| SpendLimit {
                token: *[TARGETS[0], TARGETS[1], Address::ZERO].choose(&mut self.rng).unwrap(),
                perPeriod: if periodic { *caps.choose(&mut self.rng).unwrap() } else { NO_CAP },
                lifetime: *caps.choose(&mut self.rng).unwrap(),
            })
            .collect();
        if !periodic && scope.maxUsesPerPeriod != 0 && self.chance(0.8) {
            scope.maxUsesPerPeriod = 0;
        }
        Session { signer, salt: B256::from(U256::from(salt)), scope }
    }

    fn amount(&mut self) -> U256 {
        *[
            U256::ZERO,
            U256::from(1),
            U256::from(10),
            U256::from(30),
            U256::from(49),
            U256::from(50),
            U256::from(51),
            U256::from(400),
            U256::MAX,
        ]
        .choose(&mut self.rng)
        .unwrap()
    }

    /// One call by a route of the spend table (or a refused one), with amounts around the caps.
    fn spend_call(&mut self) -> Execution {
        let account = U256::from_be_slice(self.account.as_slice());
        let other = U256::from_be_slice(TARGETS[2].as_slice());
        let token = *TARGETS[..2].choose(&mut self.rng).unwrap();
        let amount = self.amount();
        let from = if self.chance(0.7) { account } else { other };
        let args = |selector: [u8; 4], words: &[U256]| -> Bytes {
            let mut data = selector.to_vec();
            for w in words {
                data.extend_from_slice(&w.to_be_bytes::<32>());
            }
            data.into()
        };
        let token_word = U256::from_be_slice(token.as_slice());
        let (target, data) = match self.rng.random_range(0..12) {
            0..=2 => (token, args(SELECTORS[0], &[other, amount])),
            3 => (token, args(SELECTORS[1], &[other, amount])),
            4 => (token, args(SELECTORS[4], &[other, amount])),
            5 => (token, args(SELECTORS[5], &[other, amount])),
            6 => (token, args(SELECTORS[6], &[from, other, amount])),
            7 => (
                token,
                args(SELECTORS[7], &[from, other, amount, U256::MAX, U256::from(27), U256::ZERO, U256::ZERO]),
            ),
            8 => (PERMIT2, args(SELECTORS[8], &[token_word, other, amount, U256::ZERO])),
            9 => (PERMIT2, args(SELECTORS[9], &[from, other, amount, token_word])),
            10 => (TARGETS[2], Bytes::new()),
            _ => (token, args([0x12, 0x34, 0x56, 0x78], &[other, amount])),
        };
        let value = if target == TARGETS[2] || self.chance(0.1) {
            self.amount().min(U256::from(2000))
        } else {
            U256::ZERO
        };
        Execution { target, value, callData: data }
    }

    fn spend_call_data(&mut self) -> Vec<u8> {
        let n = self.rng.random_range(1..4);
        let calls: Vec<Execution> = (0..n).map(|_| self.spend_call()).collect();
        if n == 1 && self.chance(0.5) {
            let c = &calls[0];
            let mut ec = c.target.to_vec();
            ec.extend_from_slice(&c.value.to_be_bytes::<32>());
            ec.extend_from_slice(&c.callData);
            return executeCall { mode: B256::ZERO, executionCalldata: ec.into() }.abi_encode();
        }
        let mut mode = [0u8; 32];
        mode[0] = 1;
        executeCall { mode: B256::from(mode), executionCalldata: calls.abi_encode().into() }.abi_encode()
    }
}

#[test]
fn evaluator_agrees_across_sequences_and_bundles() {
    let seed = seed();
    let mut g = Gen { rng: StdRng::seed_from_u64(seed ^ 0xb0b), account: Address::ZERO };
    let mut h = Harness::new();
    let module = h.module;
    let mut ops = 0;

    for sequence in 0..SEQUENCES {
        let account = Address::from_word(keccak256(format!("differential sequence {seed} {sequence}")));
        g.account = account;
        h.chain.set_balance(account, U256::from(10u128.pow(18)));
        let session = g.spend_session(h.session_key.address(), sequence as u64);
        let id = session.id(account);
        let enable = IWarrantValidator::enableSessionCall { session: session.clone() }.abi_encode();
        if let Err(denial) = check_spend_rules(&session.scope) {
            // Ill-formed spend rules: enabling is refused with the rule's error, and the sequence ends there.
            let r = h.chain.call_from(account, module, enable.into()).unwrap();
            let got = if r.success { Verdict::Accepted(0, 0) } else { Verdict::Warrant(r.output.clone()) };
            h.compare(format!("sequence {sequence}: enable"), &Err(denial), got, &[]);
            continue;
        }
        h.setup(account, enable, "enable");
        let mut k = 0u32;
        let mut remaining = g.rng.random_range(2..=8);
        while remaining > 0 {
            // Time moves forward most of the time; now and then an op names an earlier or a later period.
            match g.rng.random_range(0..10) {
                0..=2 => k += 1,
                3 if k > 0 => k -= 1,
                _ => {}
            }
            let size = g.rng.random_range(1..=3usize).min(remaining);
            remaining -= size;
            // The evaluator reads the module's counters once per bundle and chains its own debits inside it, as
            // a wallet pre-flighting a bundle does; every op of a bundle is validated before any executes.
            let mut usage = h.usage(account, id, session.scope.limits.len());
            for i in 0..size {
                let call_data = g.spend_call_data();
                let mut op = g.op(account, call_data);
                // Rarely, a period index whose window passes 48-bit time for daily periods (PeriodOutOfRange).
                let named = if g.chance(0.03) { u32::MAX } else { k };
                op.nonce = U256::from(session_nonce_key(module, named)) << 64_usize;
                op.paymasterAndData = Bytes::new();
                let hash = h.sign(&mut g, &session, &mut op);
                let rust =
                    check_operation(id, &session.scope, &usage, Presentation::Use, &op, account, module);
                let got = h.validate(account, &op, hash, true);
                h.compare(
                    format!("sequence {sequence}, period {named}, bundle op {i}"),
                    &rust,
                    got,
                    &op.callData,
                );
                if let Ok(debit) = &rust {
                    usage = debit.usage_after();
                }
                ops += 1;
            }
            let on_chain = h.usage(account, id, session.scope.limits.len());
            if on_chain != usage {
                h.disagreements.push(format!(
                    "sequence {sequence}: counters after the bundle differ\n  rust  {usage:?}\n  chain {on_chain:?}"
                ));
            }
        }
    }
    h.report("sequences and bundles", ops, seed);
}
