//! Off-chain signing on one core: Warrant's session operations (pre-flight + EntryPoint v0.8 `userOpHash` +
//! ECDSA + the module signature) against the raw signing rate of the same libsecp256k1 backend, with a
//! breakdown of where Warrant's time goes. The same job for viem is `bench/viem-sign.mjs`, which reads the job
//! this module writes ([`Job::to_json`]) and must reproduce its hash and signature before it is timed.

use std::time::{Duration, Instant};

use alloy::{
    primitives::{B256, address, keccak256},
    signers::{SignerSync, local::PrivateKeySigner},
};
use serde_json::{Value, json};
use warrant_core::{
    account::AccountKind,
    constants::ENTRY_POINT_V08,
    grant::Session,
    policy::{OpCheck, Presentation, SessionStatus, SessionUsage, check_operation},
    session_op::{Eip7702Sender, GasFields, SessionKey, SessionOp, SignedOp},
};

use crate::{BenchError, jobs, signer::Secp256k1Signer};

/// The fixed job: an ERC-20 transfer in scope, by a session key of a 7702 account, in USE mode.
#[derive(Debug)]
pub struct Job {
    /// The session key's secret (a benchmark constant, never a real key).
    pub key: B256,
    /// The session it presents.
    pub session: Session,
    /// The operation; `sequence` is set per operation.
    pub op: SessionOp,
    /// What the validator has counted (pre-flight input).
    pub usage: SessionUsage,
    /// The session's id for the account (computed once, as a wallet holding the session would).
    pub id: B256,
}

impl Job {
    /// The benchmark's job, from constants.
    pub fn new() -> Result<Self, BenchError> {
        let key = keccak256("warrant bench session key");
        let signer = Secp256k1Signer::from_bytes(&key)?.address();
        let account = address!("0x5e55100000000000000000000000000000000001");
        let module = address!("0x5e55100000000000000000000000000000000002");
        let token = address!("0x5e55100000000000000000000000000000000003");
        let recipient = address!("0x5e55100000000000000000000000000000000004");
        let delegate = address!("0x5e55100000000000000000000000000000000005");
        let session = jobs::session(signer, keccak256("salt"), token, recipient, 4_102_444_800);
        let op = SessionOp {
            account,
            module,
            chain_id: 31337,
            account_kind: AccountKind::WarrantAccount,
            calls: vec![jobs::erc20_transfer(token, recipient, jobs::TOKEN_AMOUNT)],
            gas: GasFields {
                call_gas_limit: 100_000,
                verification_gas_limit: 300_000,
                pre_verification_gas: 60_000,
                max_fee_per_gas: 3_000_000_000,
                max_priority_fee_per_gas: 1_000_000_000,
                paymaster: None,
            },
            key_suffix: 0,
            period: 0,
            sequence: 0,
            eip7702: Some(Eip7702Sender { delegate, authorization: None }),
        };
        let usage = SessionUsage { status: SessionStatus::Enabled, uses: 1, ..Default::default() };
        let id = session.id(account);
        Ok(Self { key, session, op, usage, id })
    }

    /// One operation: pre-flight, then build, hash and sign in USE mode with a key checked once.
    pub fn sign<S: SignerSync>(
        &self,
        key: &SessionKey<'_, S>,
        sequence: u64,
    ) -> Result<SignedOp, BenchError> {
        let op = SessionOp { sequence, ..self.op.clone() };
        self.preflight(&op)?;
        Ok(op.sign_use_checked(&self.session, key)?)
    }

    /// The same with [`SessionOp::sign_use`], which recovers every signature to check the key.
    pub fn sign_recovering<S: SignerSync>(&self, key: &S, sequence: u64) -> Result<SignedOp, BenchError> {
        let op = SessionOp { sequence, ..self.op.clone() };
        self.preflight(&op)?;
        Ok(op.sign_use(&self.session, key)?)
    }

    /// The checked session key of `key`.
    pub fn checked<'a, S: SignerSync>(&self, key: &'a S) -> Result<SessionKey<'a, S>, BenchError> {
        Ok(SessionKey::new(key, self.session.signer)?)
    }

    fn preflight(&self, op: &SessionOp) -> Result<(), BenchError> {
        let packed = op.unsigned()?.pack();
        let id = self.id;
        check_operation(&OpCheck {
            session_id: id,
            scope: &self.session.scope,
            usage: &self.usage,
            presentation: Presentation::Use,
            op: &packed,
            account: op.account,
            module: op.module,
            period: op.period,
            signature_valid: true,
            holdings: &[],
        })
        .map(|_| ())
        .map_err(|d| BenchError::Denied(d.to_string()))
    }

    /// The job for `bench/viem-sign.mjs`, with operation 0's hash and raw signature to reproduce.
    pub fn to_json(&self) -> Result<Value, BenchError> {
        let signer = Secp256k1Signer::from_bytes(&self.key)?;
        let first = self.sign(&self.checked(&signer)?, 0)?;
        let raw = signer.sign_hash_sync(&warrant_core::grant::use_digest(first.hash, self.id, 0))?.as_bytes();
        // What precedes the session key's signature in the USE module signature: constant for a session, so a
        // wallet (and the viem side) keeps it; the check below fails loudly if the encoding stops being a prefix.
        let prefix = warrant_core::grant::use_signature(&self.session, 0, &[]);
        if first.op.signature.as_ref() != [prefix.as_ref(), raw.as_slice()].concat().as_slice() {
            return Err(BenchError::Mismatch(
                "the USE module signature is no longer `prefix ‖ session key signature`; update bench/viem-sign.mjs"
                    .into(),
            ));
        }
        let scope = &self.session.scope;
        let policies: Vec<Value> = scope
            .calls
            .iter()
            .map(|p| {
                json!({
                    "target": p.target, "selector": p.selector, "flags": p.flags,
                    "maxValue": p.maxValue.to_string(),
                    "conditions": p.conditions.iter().map(|c| json!({
                        "condition": c.condition, "argIndex": c.argIndex, "values": c.values,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        let call = &self.op.calls[0];
        let delegate = self.op.eip7702.as_ref().map(|s| s.delegate);
        Ok(json!({
            "chainId": self.op.chain_id,
            "entryPoint": ENTRY_POINT_V08,
            "account": self.op.account,
            "module": self.op.module,
            "delegate": delegate,
            "sessionKey": self.key,
            "call": { "target": call.target, "value": call.value.to_string(), "data": alloy::primitives::Bytes::from(call.data.clone()) },
            "gas": {
                "callGasLimit": self.op.gas.call_gas_limit.to_string(),
                "verificationGasLimit": self.op.gas.verification_gas_limit.to_string(),
                "preVerificationGas": self.op.gas.pre_verification_gas.to_string(),
                "maxFeePerGas": self.op.gas.max_fee_per_gas.to_string(),
                "maxPriorityFeePerGas": self.op.gas.max_priority_fee_per_gas.to_string(),
            },
            "session": {
                "signer": self.session.signer,
                "salt": self.session.salt,
                "scope": {
                    "validAfter": scope.validAfter.to_string(),
                    "validUntil": scope.validUntil.to_string(),
                    "maxUses": scope.maxUses,
                    "maxValueTotal": scope.maxValueTotal.to_string(),
                    "paymaster": scope.paymaster,
                    "maxGasLimit": scope.maxGasLimit.to_string(),
                    "maxFeePerGas": scope.maxFeePerGas.to_string(),
                    "calls": policies,
                },
            },
            "useSignaturePrefix": prefix,
            // The session key signs keccak256(0x00 ‖ userOpHash ‖ id ‖ period), not the bare userOpHash.
            "sessionId": self.id,
            "period": 0,
            "expected": {
                "userOpHash": first.hash,
                "signature": alloy::primitives::Bytes::from(raw.to_vec()),
                "moduleSignature": first.op.signature,
            },
        }))
    }
}

/// Runs `f` repeatedly for about `duration` after a short warm-up; returns operations per second.
fn rate(duration: Duration, mut f: impl FnMut(u64) -> Result<(), BenchError>) -> Result<f64, BenchError> {
    for i in 0..200 {
        f(i)?;
    }
    let start = Instant::now();
    let mut n: u64 = 0;
    loop {
        // Check the clock every 64 operations so reading it costs nothing measurable.
        for _ in 0..64 {
            f(n)?;
            n += 1;
        }
        let elapsed = start.elapsed();
        if elapsed >= duration {
            return Ok(n as f64 / elapsed.as_secs_f64());
        }
    }
}

/// A named closure to time.
type Timed<'a> = (&'static str, Box<dyn FnMut(u64) -> Result<(), BenchError> + 'a>);

/// The best rate of each closure over `rounds` rounds. Rounds interleave the closures, so a burst of load from
/// the other processes of a shared machine hits them alike, and the best round is the least disturbed one.
fn best_rates(
    rounds: usize,
    duration: Duration,
    mut timed: Vec<Timed<'_>>,
) -> Result<std::collections::HashMap<&'static str, f64>, BenchError> {
    let mut best = std::collections::HashMap::new();
    for _ in 0..rounds {
        for (name, f) in &mut timed {
            let r = rate(duration, f)?;
            let entry = best.entry(*name).or_insert(0f64);
            *entry = entry.max(r);
        }
    }
    Ok(best)
}

/// Runs the signing benchmark on the calling thread; figures as JSON (`signing` keys of `results.json` plus a
/// breakdown in microseconds per operation).
pub fn run(duration: Duration, rounds: usize) -> Result<Value, BenchError> {
    let job = Job::new()?;
    let fast = Secp256k1Signer::from_bytes(&job.key)?;
    let k256 = PrivateKeySigner::from_bytes(&job.key).map_err(|e| BenchError::InvalidKey(e.to_string()))?;
    // Distinct messages, as a real stream of operations has.
    let hashes: Vec<B256> = (0u64..1024).map(|i| keccak256(i.to_be_bytes())).collect();
    let pick = |i: u64| &hashes[(i % 1024) as usize];
    let (fast_checked, k256_checked) = (job.checked(&fast)?, job.checked(&k256)?);
    let signature = fast.sign_hash_sync(pick(0))?;
    let (job, fast, k256) = (&job, &fast, &k256);
    let (fast_checked, k256_checked, signature) = (&fast_checked, &k256_checked, &signature);

    let timed: Vec<Timed<'_>> = vec![
        (
            "raw",
            Box::new(move |i| {
                std::hint::black_box(fast.sign_prehash(pick(i)));
                Ok(())
            }),
        ),
        (
            "warrant",
            Box::new(move |i| {
                std::hint::black_box(job.sign(fast_checked, i)?);
                Ok(())
            }),
        ),
        (
            "raw_k256",
            Box::new(move |i| {
                std::hint::black_box(k256.sign_hash_sync(pick(i))?);
                Ok(())
            }),
        ),
        (
            "warrant_k256",
            Box::new(move |i| {
                std::hint::black_box(job.sign(k256_checked, i)?);
                Ok(())
            }),
        ),
        (
            "warrant_recovering",
            Box::new(move |i| {
                std::hint::black_box(job.sign_recovering(fast, i)?);
                Ok(())
            }),
        ),
        // Where the time of one Warrant operation goes (each part timed on its own).
        (
            "preflight",
            Box::new(move |i| {
                let op = SessionOp { sequence: i, ..job.op.clone() };
                std::hint::black_box(job.preflight(&op))
            }),
        ),
        (
            "hash",
            Box::new(move |i| {
                let op = SessionOp { sequence: i, ..job.op.clone() };
                std::hint::black_box(op.hash(&op.unsigned()?)?);
                Ok(())
            }),
        ),
        (
            "encode",
            Box::new(move |_| {
                std::hint::black_box(warrant_core::grant::use_signature(
                    &job.session,
                    0,
                    &signature.as_bytes(),
                ));
                Ok(())
            }),
        ),
        (
            "recover",
            Box::new(move |_| {
                std::hint::black_box(signature.recover_address_from_prehash(pick(0)).ok());
                Ok(())
            }),
        ),
    ];
    let best = best_rates(rounds, duration, timed)?;
    let get = |name: &str| best.get(name).copied().unwrap_or_default();
    let (raw, warrant, raw_k256, warrant_k256, warrant_recovering) =
        (get("raw"), get("warrant"), get("raw_k256"), get("warrant_k256"), get("warrant_recovering"));
    let (preflight, hash, encode, recover) = (get("preflight"), get("hash"), get("encode"), get("recover"));
    let us = |r: f64| 1e6 / r;
    Ok(json!({
        "warrant_ops_per_sec": warrant,
        "raw_secp256k1_signs_per_sec": raw,
        "warrant_ops_per_sec_k256": warrant_k256,
        "raw_k256_signs_per_sec": raw_k256,
        "warrant_ops_per_sec_sign_use_recovering": warrant_recovering,
        "breakdown_us": {
            "warrant_op": us(warrant),
            "raw_sign": us(raw),
            "preflight_build_and_pack": us(preflight),
            "build_and_user_op_hash": us(hash),
            "use_signature_encoding": us(encode),
            "recover_check_k256": us(recover),
        },
        "seconds_per_round": duration.as_secs_f64(),
        "rounds": rounds,
    }))
}

/// The job's first signature made with libsecp256k1 equals k256's (both RFC 6979, low-s).
pub fn check_backends_agree() -> Result<(), BenchError> {
    let job = Job::new()?;
    let fast = Secp256k1Signer::from_bytes(&job.key)?;
    let k256 = PrivateKeySigner::from_bytes(&job.key).map_err(|e| BenchError::InvalidKey(e.to_string()))?;
    let (a, b) = (job.sign(&job.checked(&fast)?, 7)?, job.sign(&job.checked(&k256)?, 7)?);
    if a != job.sign_recovering(&fast, 7)? {
        return Err(BenchError::Mismatch("sign_use and sign_use_checked signed the job differently".into()));
    }
    if a != b {
        return Err(BenchError::Mismatch("libsecp256k1 and k256 signed the job differently".into()));
    }
    Ok(())
}
