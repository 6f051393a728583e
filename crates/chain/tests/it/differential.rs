//! Differential test: the Rust pre-flight evaluator and the deployed `WarrantValidator` judge the same random
//! (scope, operation) pairs — well-formed and malformed calldata, wrong call types and modes, forbidden targets,
//! edge values at every bound — and must agree on every one: the same verdict, and for a refusal the same
//! custom error with the same arguments.

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
    grant::{ArgCondition, CallPolicy, IWarrantValidator, Scope, Session, WarrantErrors, use_signature},
    policy::{Denial, Presentation, SessionStatus, SessionUsage, check_operation},
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
const TARGETS: [Address; 3] = [
    address!("0x1000000000000000000000000000000000000001"),
    address!("0x2000000000000000000000000000000000000002"),
    address!("0x3000000000000000000000000000000000000003"),
];
const SELECTORS: [[u8; 4]; 4] =
    [[0xa9, 0x05, 0x9c, 0xbb], [0x09, 0x5e, 0xa7, 0xb3], [0x12, 0x34, 0x56, 0x78], [0; 4]];
const PAYMASTER: Address = address!("0x9000000000000000000000000000000000000009");

struct Gen {
    rng: StdRng,
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
        Scope {
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
    /// Accepted, with the validation data the module returned.
    Accepted,
    /// Refused with a Warrant custom error (its exact ABI encoding).
    Warrant(Bytes),
    /// Refused by a decoder (OpenZeppelin's ERC7579DecodingError, or Solidity's calldata checks).
    Decoding,
}

fn expected(result: &Result<warrant_core::policy::Debit, Denial>) -> Verdict {
    use WarrantErrors as E;
    let e = match result {
        Ok(_) => return Verdict::Accepted,
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
        Denial::BatchDecoding => return Verdict::Decoding,
        Denial::NotYetValid { .. } | Denial::Expired { .. } => unreachable!("time is not checked here"),
    };
    Verdict::Warrant(bytes.into())
}

fn observed(receipt: &warrant_chain::Receipt, scope: &Scope) -> Verdict {
    if receipt.success {
        let data = U256::abi_decode(&receipt.output).expect("validateUserOp returns a uint256");
        assert_eq!(data & U256::from_be_slice(&[0xff; 20]), U256::ZERO, "the session signature is valid");
        let window = (U256::from(scope.validAfter) << 208) | (U256::from(scope.validUntil) << 160);
        assert_eq!(data, window, "the session window is returned in the validation data");
        return Verdict::Accepted;
    }
    match WarrantErrors::WarrantErrorsErrors::abi_decode(&receipt.output) {
        Ok(_) => Verdict::Warrant(receipt.output.clone()),
        Err(_) => Verdict::Decoding,
    }
}

#[test]
fn evaluator_agrees_with_the_deployed_validator() {
    let seed: u64 = std::env::var("WARRANT_DIFF_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x5eed);
    let mut g = Gen { rng: StdRng::seed_from_u64(seed) };
    let mut chain = DevChain::new(Default::default()).unwrap();
    let module = chain
        .deploy(artifacts::warrant_creation_code("WarrantValidator.sol", "WarrantValidator").unwrap())
        .unwrap();
    let session_key = PrivateKeySigner::from_bytes(&keccak256("differential session key")).unwrap();
    let mut disagreements = Vec::new();
    let mut tally = std::collections::BTreeMap::<String, usize>::new();

    for case in 0..CASES {
        let account = Address::from_word(keccak256(format!("differential account {seed} {case}")));
        chain.set_balance(account, U256::from(10u128.pow(18)));
        let salt = match g.rng.random_range(0..3) {
            0 => B256::ZERO,
            1 => B256::with_last_byte(case as u8),
            _ => B256::from(g.rng.random::<[u8; 32]>()),
        };
        let session = Session { signer: session_key.address(), salt, scope: g.scope() };
        let id = session.id(account);
        // The session bytes (what a USE operation carries and the id hashes) are the module's, byte for byte.
        let on_chain = chain
            .call_sol(module, &IWarrantValidator::sessionBytesCall { session: session.clone() })
            .unwrap();
        assert_eq!(on_chain, session.session_bytes(), "session bytes of case {case}");
        let status = match g.rng.random_range(0..20) {
            0 => SessionStatus::None,
            1 => SessionStatus::Revoked,
            _ => SessionStatus::Enabled,
        };
        let setup: Option<Vec<u8>> = match status {
            SessionStatus::None => None,
            SessionStatus::Enabled => {
                Some(IWarrantValidator::enableSessionCall { session: session.clone() }.abi_encode())
            }
            SessionStatus::Revoked => Some(IWarrantValidator::revokeSessionCall { id }.abi_encode()),
        };
        if let Some(data) = setup {
            let r = chain
                .transact(TxRequest {
                    from: account,
                    to: Some(module),
                    data: data.into(),
                    ..Default::default()
                })
                .unwrap();
            assert!(r.success, "set-up of case {case} failed");
        }
        let call_data = g.call_data(account, module);
        let mut op = g.op(account, call_data);
        let hash = B256::from(g.rng.random::<[u8; 32]>());
        let sig = session_key.sign_hash_sync(&hash).unwrap();
        op.signature = use_signature(&session, &sig.as_bytes());

        let usage = SessionUsage { status, uses: 0, value_spent: 0 };
        let rust = check_operation(id, &session.scope, &usage, Presentation::Use, &op, account, module);
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
        let receipt = chain
            .call_from(
                account,
                module,
                validateUserOpCall { userOp: packed, userOpHash: hash }.abi_encode().into(),
            )
            .unwrap();
        let want = expected(&rust);
        let got = observed(&receipt, &session.scope);
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
        let label = match &rust {
            Ok(_) => "accepted".to_string(),
            Err(d) => d.to_string().split(':').next().unwrap().to_string(),
        };
        *tally.entry(label).or_default() += 1;
        if want != got {
            disagreements.push(format!(
                "case {case}: rust {rust:?} → {want:?}, chain {got:?}\n  callData 0x{}",
                alloy::primitives::hex::encode(&op.callData)
            ));
        }
    }
    println!("differential: {CASES} cases (seed {seed:#x}), {} disagreements", disagreements.len());
    for (label, n) in &tally {
        println!("  {label:<28} {n}");
    }
    assert!(
        disagreements.is_empty(),
        "{} disagreements, first ones:\n{}",
        disagreements.len(),
        disagreements.iter().take(5).cloned().collect::<Vec<_>>().join("\n")
    );
}
