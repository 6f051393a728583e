//! Differential test: the Rust pre-flight evaluator and the deployed `WarrantValidator` judge the same random
//! (scope, operation) pairs and must agree on every one: the same verdict, for a refusal the same custom error
//! with the same arguments, for an acceptance the same validation window and the same signature result.
//!
//! The generator produces the shapes of issue 11's holes and counts them: batches with backwards and wrapping
//! offsets over the full 256-bit range (element heads, callData offsets, lengths, the array offset and count),
//! batches that decode but are not canonical, dirty narrow arguments for every argument type (and signed
//! comparisons), gas and fee extremes with and without a paymaster (pinned or not), session signatures that
//! fail (re-pointed at another session, another period, the old bare-hash format, another key, bad lengths)
//! and so take the validator's estimation path, and period fields on sessions with and without periods.
//! Two single-operation cases in five have a P-256 session key (raw or WebCrypto), with failing shapes of their
//! own (kind swapped, the other kind's message, another key's signature, off-curve points, unknown kinds, `r` or
//! `s` out of range, high `s`, bad lengths); the off-chain signer check (`grant::session_signer`) must find the
//! session's signer for exactly the valid ones, and the chain must agree with it.
//! A second part drives sequences of operations and bundles of one session, with the evaluator reading the
//! module's counters before each bundle and chaining its own debits inside it.
//!
//! Gates: a third of the single-operation scopes carry one or two gates (now and then more than `MAX_GATES`, or
//! ill-formed ones) on a deployed ERC-20, ERC-721 and ERC-1155, with minimums around what the case's account was
//! minted; the evaluator gets the holdings as a wallet reads them (the validator's balance call). A third of the
//! sequences are gated on an ERC-721 pass that is minted or moved away between bundles.
//!
//! `WARRANT_DIFF_CASES` sets the number of single operations (default 10,000; `scripts/fuzz` runs 100,000 and
//! more); `WARRANT_DIFF_SEED` the seed.

use std::collections::{BTreeMap, BTreeSet};

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
    gate::MAX_GATES,
    grant::{
        ArgCondition, CallPolicy, Gate, IWarrantValidator, NO_CAP, PERMIT2, Scope, Session, SpendLimit,
        WarrantErrors, arg_type, gate_kind, session_signer, use_digest, use_signature,
    },
    p256::{P256_N, P256Kind, P256Signer},
    policy::{
        Debit, Denial, OpCheck, Presentation, SessionStatus, SessionUsage, check_operation, check_spend_rules,
    },
};

sol! {
    struct Execution { address target; uint256 value; bytes callData; }
    function execute(bytes32 mode, bytes executionCalldata);
    function validateUserOp(PackedUserOperation userOp, bytes32 userOpHash) returns (uint256);
    struct PackedUserOperation {
        address sender; uint256 nonce; bytes initCode; bytes callData; bytes32 accountGasLimits;
        uint256 preVerificationGas; bytes32 gasFees; bytes paymasterAndData; bytes signature;
    }
    /// The mocks' mints: `MockToken.mint(to, amount)`, `MockNft.mint(to, id)`, `MockMultiToken.mint(to, id, amount)`.
    interface IMint {
        function mint(address to, uint256 amountOrId);
        function mint(address to, uint256 id, uint256 amount);
        function transferFrom(address from, address to, uint256 id);
    }

    /// Kernel v3.1's `validateUserOp`, and its refusal of a validator not granted the selector.
    interface IKernelValidate {
        function validateUserOp(PackedUserOperation userOp, bytes32 userOpHash, uint256 missingAccountFunds)
            returns (uint256);
        error InvalidValidator();
    }
}

/// The ERC-1155 ids the gates name: accounts are minted the first two, never the third.
const MULTI_IDS: [u64; 3] = [1, 2, 3];

/// The gate tokens deployed in the harness.
#[derive(Clone, Copy, Debug)]
struct GateTokens {
    erc20: Address,
    erc721: Address,
    erc1155: Address,
}

/// What the current case's account is minted of the gate tokens before its operation.
#[derive(Clone, Debug, Default)]
struct Held {
    erc20: U256,
    nfts: u64,
    multi: [U256; 2],
}

/// Single operations by default: what `scripts/test` affords in a debug build.
const DEFAULT_CASES: usize = 10_000;
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

fn cases() -> usize {
    std::env::var("WARRANT_DIFF_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(DEFAULT_CASES)
}

fn one() -> U256 {
    U256::from(1u8)
}

/// How an operation's session signature is made: valid, or one of the ways it fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SigShape {
    Valid,
    /// Over the bare userOpHash, as before issue 11.
    BareHash,
    /// Over another session's id (the op's session bytes re-pointed at this session).
    RepointedSession,
    /// Over another period than the one the op names.
    RepointedPeriod,
    OtherKey,
    WrongLength,
    HighS,
    /// P-256: the kind byte swapped (raw ↔ WebCrypto): another message and another identifier.
    SwappedKind,
    /// P-256: the message of the other kind (sha256 of the digest under raw, the digest under WebCrypto).
    OtherKindsMessage,
    /// P-256: the session key's coordinates with another key's signature.
    ForeignSignature,
    /// P-256: a coordinate changed so the point is off the curve.
    OffCurve,
    /// P-256: kind byte 0, 3 or 0xff.
    UnknownKind,
    /// P-256: r or s zero or not below n.
    OutOfRange,
}

/// The session key of a single-operation case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KeyChoice {
    Secp256k1,
    P256(P256Kind),
}

impl SigShape {
    fn tag(self) -> &'static str {
        match self {
            Self::Valid => "signature: valid",
            Self::BareHash => "signature fails: bare userOpHash (old format)",
            Self::RepointedSession => "signature fails: re-pointed session bytes",
            Self::RepointedPeriod => "signature fails: re-pointed period",
            Self::OtherKey => "signature fails: another key",
            Self::WrongLength => "signature fails: wrong length",
            Self::HighS => "signature fails: high s",
            Self::SwappedKind => "signature fails: P-256 kind byte swapped",
            Self::OtherKindsMessage => "signature fails: P-256 other kind's message",
            Self::ForeignSignature => "signature fails: P-256 another key's signature on this key",
            Self::OffCurve => "signature fails: P-256 point off the curve",
            Self::UnknownKind => "signature fails: P-256 unknown kind byte",
            Self::OutOfRange => "signature fails: P-256 r or s out of range",
        }
    }
}

struct Gen {
    rng: StdRng,
    /// The account of the current case, as an argument word (so `from == account` routes get exercised).
    account: Address,
    /// The shapes of the current case.
    tags: BTreeSet<&'static str>,
    /// Cases per shape over the run.
    shapes: BTreeMap<&'static str, usize>,
    /// The gate tokens, when the scopes may carry gates.
    gate_tokens: Option<GateTokens>,
    /// What the current case's account holds (chosen with its gates).
    held: Held,
}

impl Gen {
    fn new(seed: u64) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed),
            account: Address::ZERO,
            tags: Default::default(),
            shapes: Default::default(),
            gate_tokens: None,
            held: Held::default(),
        }
    }

    fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p)
    }

    fn tag(&mut self, shape: &'static str) {
        self.tags.insert(shape);
    }

    /// Ends a case: its shapes are counted once each.
    fn flush(&mut self) {
        for t in std::mem::take(&mut self.tags) {
            *self.shapes.entry(t).or_default() += 1;
        }
    }

    fn interesting_word(&mut self) -> B256 {
        let choices = [
            U256::ZERO,
            one(),
            U256::from(50),
            U256::from(100),
            U256::from(101),
            U256::from(u32::MAX),
            U256::from(u32::MAX) + one(),
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
        *[U256::ZERO, U256::ZERO, one(), U256::from(50), U256::from(1000), U256::from(10u128.pow(18))]
            .choose(&mut self.rng)
            .unwrap()
    }

    /// An argument type: every class, narrow widths often, now and then an unknown code.
    fn arg_type(&mut self) -> u8 {
        let bits = 8 * self.rng.random_range(1..=31u16);
        match self.rng.random_range(0..16) {
            0..=2 => arg_type::uint(256),
            3 | 4 => arg_type::uint(bits),
            5 => arg_type::int(256),
            6 | 7 => arg_type::int(bits),
            8 | 9 => arg_type::fixed_bytes(self.rng.random_range(1..=32)),
            10 | 11 => arg_type::ADDRESS,
            12 => arg_type::BOOL,
            13 | 14 => arg_type::DYNAMIC,
            _ => self.rng.random_range(0x63..=0xff),
        }
    }

    /// A word that is canonical for static type `ty`, near its edges.
    fn canonical_word(&mut self, ty: u8) -> U256 {
        let mask = |bits: usize| if bits >= 256 { U256::MAX } else { (one() << bits) - one() };
        match ty {
            0x00..=0x1f => {
                let bits = 8 * (usize::from(ty) + 1);
                let random = U256::from_be_bytes(self.rng.random::<[u8; 32]>()) & mask(bits);
                *[U256::ZERO, one(), U256::from(100), mask(bits), mask(bits) >> 1, random]
                    .choose(&mut self.rng)
                    .unwrap()
            }
            0x20..=0x3f => {
                let bits = 8 * (usize::from(ty - 0x20) + 1);
                let max = mask(bits - 1);
                let min = !max; // -2^(bits-1), sign-extended
                let minus_one = U256::MAX;
                let random = sign_extend(bits, U256::from_be_bytes(self.rng.random::<[u8; 32]>()));
                *[U256::ZERO, one(), minus_one, max, min, U256::from(100), minus_one - U256::from(99), random]
                    .choose(&mut self.rng)
                    .unwrap()
            }
            0x40..=0x5f => {
                let zero_bits = 8 * (31 - usize::from(ty - 0x40));
                let random = U256::from_be_bytes(self.rng.random::<[u8; 32]>());
                if zero_bits == 0 { random } else { (random >> zero_bits) << zero_bits }
            }
            arg_type::ADDRESS => {
                let a = *[TARGETS[0], TARGETS[1], self.account, Address::ZERO].choose(&mut self.rng).unwrap();
                U256::from_be_slice(a.as_slice())
            }
            arg_type::BOOL => U256::from(self.rng.random_range(0..2u8)),
            _ => U256::from_be_bytes(self.interesting_word().0),
        }
    }

    /// `w` made non-canonical for `ty` where the type leaves bits out (tagged by class); else `w` unchanged.
    fn dirty(&mut self, ty: u8, w: U256) -> U256 {
        match ty {
            0x00..=0x1e => {
                self.tag("dirty arg: uintN (N < 256)");
                let bits = 8 * (usize::from(ty) + 1);
                w | (one() << self.rng.random_range(bits..256))
            }
            0x20..=0x3e => {
                self.tag("dirty arg: intN (N < 256), not sign-extended");
                let bits = 8 * (usize::from(ty - 0x20) + 1);
                w ^ (one() << self.rng.random_range(bits..256))
            }
            0x40..=0x5e => {
                self.tag("dirty arg: bytesN (N < 32), low bytes set");
                let zero_bits = 8 * (31 - usize::from(ty - 0x40));
                w | (one() << self.rng.random_range(0..zero_bits))
            }
            arg_type::ADDRESS => {
                self.tag("dirty arg: address, high bits set");
                w | (one() << self.rng.random_range(160..256))
            }
            arg_type::BOOL => {
                self.tag("dirty arg: bool above 1");
                U256::from(self.rng.random_range(2..300u32))
            }
            _ => w,
        }
    }

    fn condition(&mut self) -> ArgCondition {
        let ty = self.arg_type();
        let kind = if self.chance(0.1) {
            self.rng.random_range(0..12u8) // 11 is not a condition kind; kinds may not fit the type
        } else if ty == arg_type::DYNAMIC {
            self.rng.random_range(7..=10)
        } else {
            self.rng.random_range(0..=6)
        };
        let n = match self.rng.random_range(0..12) {
            0 => 0,
            1 => 2,
            _ if kind == 6 => self.rng.random_range(1..4),
            _ => 1,
        };
        let mut values: Vec<B256> = (0..n)
            .map(|_| {
                if ty >= arg_type::DYNAMIC || kind > 6 {
                    self.interesting_word()
                } else {
                    self.canonical_word(ty).into()
                }
            })
            .collect();
        if kind <= 6 && !values.is_empty() && self.chance(0.05) {
            self.tag("condition: non-canonical reference value");
            values[0] = self.dirty(ty, values[0].into()).into();
        }
        if (9..=10).contains(&kind) && self.chance(0.5) && !values.is_empty() {
            values[0] = keccak256(b"hello");
        }
        if arg_type::is_signed(ty) && (2..=5).contains(&kind) {
            self.tag("arg: signed comparison");
        }
        if ty > arg_type::DYNAMIC || (ty == arg_type::DYNAMIC) != (kind > 6) {
            self.tag("condition: type does not fit the kind, or unknown");
        }
        ArgCondition { condition: kind, argType: ty, argIndex: self.rng.random_range(0..4), values }
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
            // Around real gas costs (10^14 to 10^16 wei) and at the extremes.
            maxValueTotal: *[
                U256::ZERO,
                U256::from(100),
                U256::from(10u128.pow(15)),
                U256::from(10u128.pow(17)),
                U256::from(10u128.pow(17)),
                U256::from(u128::MAX),
                U256::MAX,
                U256::MAX,
            ]
            .choose(&mut self.rng)
            .unwrap(),
            paymaster: if self.chance(0.2) { PAYMASTER } else { Address::ZERO },
            maxGasLimit: *[0u128, 0, 300_000, 2_000_000, 5_000_000].choose(&mut self.rng).unwrap(),
            maxFeePerGas: *[0u128, 0, 1_000_000_000, 10_000_000_000, 20_000_000_000]
                .choose(&mut self.rng)
                .unwrap(),
            calls,
            period: 0,
            periodStart: Default::default(),
            maxUsesPerPeriod: 0,
            limits: Vec::new(),
            gates: Vec::new(),
        };
        if self.chance(0.6) {
            self.spend_rules(&mut scope);
        }
        self.held = Held::default();
        if let Some(tokens) = self.gate_tokens
            && self.chance(0.33)
        {
            scope.gates = self.gates(tokens);
            // Gates are checked last, so half of the gated scopes allow any call with no caps: their ops reach
            // the gates often enough to count.
            if self.chance(0.5) {
                self.tag("gates: the rest of the scope permissive");
                let any = |target: Address| CallPolicy {
                    target,
                    selector: FixedBytes::ZERO,
                    flags: 0x02,
                    maxValue: U256::MAX,
                    conditions: Vec::new(),
                };
                scope = Scope {
                    validAfter: scope.validAfter,
                    validUntil: scope.validUntil,
                    maxValueTotal: U256::MAX,
                    calls: TARGETS.iter().map(|&t| any(t)).collect(),
                    gates: scope.gates,
                    ..Default::default()
                };
            }
        }
        scope
    }

    /// One or two gates (rarely more than `MAX_GATES`), with the account's holdings chosen first so that the
    /// minimums fall around them.
    fn gates(&mut self, tokens: GateTokens) -> Vec<Gate> {
        let amounts = [U256::ZERO, one(), U256::from(50), U256::from(1000)];
        self.held = Held {
            erc20: *amounts.choose(&mut self.rng).unwrap(),
            nfts: *[0u64, 1, 1, 2].choose(&mut self.rng).unwrap(),
            multi: [*amounts.choose(&mut self.rng).unwrap(), *amounts.choose(&mut self.rng).unwrap()],
        };
        let n = if self.chance(0.03) {
            self.tag("gates: more than MAX_GATES");
            MAX_GATES + self.rng.random_range(1..3)
        } else {
            self.rng.random_range(1..=2)
        };
        (0..n).map(|_| self.gate(tokens)).collect()
    }

    fn gate(&mut self, tokens: GateTokens) -> Gate {
        let kind = if self.chance(0.03) {
            self.tag("gate ill-formed: unknown kind");
            *[3u8, 4, 255].choose(&mut self.rng).unwrap()
        } else {
            self.rng.random_range(0..3)
        };
        let mut token_id = U256::ZERO;
        let (mut token, held) = match kind {
            gate_kind::ERC20 => (tokens.erc20, self.held.erc20),
            gate_kind::ERC721 => (tokens.erc721, U256::from(self.held.nfts)),
            gate_kind::ERC1155 => {
                let i = self.rng.random_range(0..MULTI_IDS.len());
                token_id = U256::from(MULTI_IDS[i]);
                (tokens.erc1155, self.held.multi.get(i).copied().unwrap_or_default())
            }
            _ => (*[tokens.erc20, tokens.erc721, tokens.erc1155].choose(&mut self.rng).unwrap(), U256::ZERO),
        };
        match self.rng.random_range(0..25) {
            0 => {
                self.tag("gate ill-formed: token 0");
                token = Address::ZERO;
            }
            1 => {
                self.tag("gate: code-less token");
                token = TARGETS[0];
            }
            2 => {
                // balanceOf(address) on an ERC-1155 or balanceOf(address,uint256) on an ERC-20: it reverts.
                self.tag("gate: a token of another kind");
                token = if kind == gate_kind::ERC1155 { tokens.erc20 } else { tokens.erc1155 };
            }
            3 if kind < gate_kind::ERC1155 => {
                self.tag("gate ill-formed: token id on ERC-20/721");
                token_id = U256::from(*MULTI_IDS.choose(&mut self.rng).unwrap());
            }
            _ => {}
        }
        let min = if self.chance(0.03) {
            self.tag("gate ill-formed: minimum 0");
            U256::ZERO
        } else {
            match self.rng.random_range(0..6) {
                0 => held.max(one()),
                1 => held + one(),
                2 => held.saturating_sub(one()).max(one()),
                3 => one(),
                4 => U256::MAX,
                _ => held.max(one()),
            }
        };
        self.tag(if min <= held { "gate: minimum held" } else { "gate: minimum not held" });
        Gate { token, kind, tokenId: token_id, minBalance: min }
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
                token: *[TARGETS[0], TARGETS[1], TARGETS[2], Address::ZERO, Address::ZERO, PERMIT2]
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

    /// Calldata aimed at one of the scope's policies: its selector, and for each condition an argument near the
    /// reference, or the reference made non-canonical for the condition's type.
    fn targeted_data(&mut self, policy: &CallPolicy) -> Vec<u8> {
        let mut heads: Vec<U256> = (0..4).map(|_| U256::from_be_bytes(self.interesting_word().0)).collect();
        let mut tail = Vec::new();
        for c in &policy.conditions {
            let i = usize::from(c.argIndex).min(3);
            let reference = c.values.first().map(|v| U256::from_be_bytes(v.0)).unwrap_or_default();
            if c.argType == arg_type::DYNAMIC || c.condition > 6 {
                let content: Vec<u8> =
                    if self.chance(0.5) { b"hello".to_vec() } else { vec![7; self.rng.random_range(0..70)] };
                heads[i] = U256::from(4 * 32 + tail.len());
                tail.extend_from_slice(&U256::from(content.len()).to_be_bytes::<32>());
                tail.extend_from_slice(&content);
                tail.resize(tail.len().div_ceil(32) * 32, 0);
                continue;
            }
            heads[i] = match self.rng.random_range(0..20) {
                0..=7 => reference,
                8 | 9 => reference.wrapping_add(one()),
                10 | 11 => reference.wrapping_sub(one()),
                12..=17 => self.dirty(c.argType, reference),
                _ => self.canonical_word(c.argType),
            };
        }
        let mut data = if policy.flags & 0x02 != 0 {
            SELECTORS.choose(&mut self.rng).unwrap().to_vec()
        } else {
            policy.selector.to_vec()
        };
        for h in heads {
            data.extend_from_slice(&h.to_be_bytes::<32>());
        }
        data.extend_from_slice(&tail);
        if self.chance(0.05) {
            let cut = self.rng.random_range(4..=data.len());
            data.truncate(cut);
        }
        data
    }

    /// One inner call: most of the time aimed at one of the scope's policies (its target, a value within its cap,
    /// arguments around its conditions), else anything.
    fn inner_call(&mut self, scope: &Scope, account: Address, module: Address) -> Execution {
        if !scope.calls.is_empty() && self.chance(0.6) {
            let policy = scope.calls.choose(&mut self.rng).unwrap().clone();
            let target = if policy.flags & 0x01 != 0 || policy.target == Address::ZERO {
                *TARGETS.choose(&mut self.rng).unwrap()
            } else {
                policy.target
            };
            let value = if self.chance(0.8) { self.value().min(policy.maxValue) } else { self.value() };
            let data = self.targeted_data(&policy);
            return Execution { target, value, callData: data.into() };
        }
        Execution {
            target: self.target(account, module),
            value: self.value(),
            callData: self.inner_data().into(),
        }
    }

    /// Calldata for an inner call: empty, too short, or a selector with static and dynamic
    /// arguments, some with broken offsets or lengths.
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
        if self.chance(0.15) {
            *[account, module, ENTRY_POINT_V08, Address::ZERO].choose(&mut self.rng).unwrap()
        } else if self.chance(0.1) {
            PERMIT2
        } else {
            *TARGETS.choose(&mut self.rng).unwrap()
        }
    }

    /// A batch `ec`, canonical or with one of the encoding attacks of hole 1.
    fn batch(&mut self, scope: &Scope, account: Address, module: Address) -> Vec<u8> {
        let n = if self.chance(0.08) { 0 } else { self.rng.random_range(1..4usize) };
        let batch: Vec<Execution> = (0..n).map(|_| self.inner_call(scope, account, module)).collect();
        let mut ec = batch.abi_encode();
        if n == 0 {
            self.tag("batch: empty");
            return ec;
        }
        if self.chance(0.5) {
            self.tag("batch: canonical");
            return ec;
        }
        let word_at = |ec: &[u8], pos: usize| U256::from_be_slice(&ec[pos..pos + 32]);
        let set =
            |ec: &mut Vec<u8>, pos: usize, x: U256| ec[pos..pos + 32].copy_from_slice(&x.to_be_bytes::<32>());
        let i = self.rng.random_range(0..n);
        let head = 64 + 32 * i;
        let rel = word_at(&ec, head).to::<usize>();
        let element = 64 + rel;
        let high = |g: &mut Self| {
            *[
                one() << 255,
                (one() << 255) + U256::from(rel),
                U256::MAX,
                U256::MAX - U256::from(31),
                U256::MAX - U256::from(63 + 32 * i),
                U256::from_be_bytes(g.rng.random::<[u8; 32]>()) | (one() << 255),
            ]
            .choose(&mut g.rng)
            .unwrap()
        };
        match self.rng.random_range(0..14) {
            0 | 1 => {
                self.tag("batch: backwards element offset");
                let back = *[32usize, 64, 96, 128, rel].choose(&mut self.rng).unwrap();
                set(&mut ec, head, U256::from(rel.saturating_sub(back)));
            }
            2 | 3 => {
                self.tag("batch: wrapping element offset (>= 2^255)");
                let x = high(self);
                set(&mut ec, head, x);
            }
            4 => {
                self.tag("batch: backwards callData offset");
                let x = *[0u64, 0x20, 0x40].choose(&mut self.rng).unwrap();
                set(&mut ec, element + 64, U256::from(x));
            }
            5 => {
                self.tag("batch: wrapping callData offset (>= 2^255)");
                let x = high(self);
                set(&mut ec, element + 64, x);
            }
            6 => {
                self.tag("batch: callData length too long or huge");
                let len = word_at(&ec, element + 96);
                let x = *[
                    len + one(),
                    len + U256::from(32),
                    U256::from(u32::MAX),
                    U256::from(1u64 << 32),
                    one() << 255,
                    U256::MAX,
                ]
                .choose(&mut self.rng)
                .unwrap();
                set(&mut ec, element + 96, x);
            }
            7 => {
                self.tag("batch: array offset not 0x20");
                let x =
                    *[U256::ZERO, U256::from(0x40), one() << 255, U256::MAX].choose(&mut self.rng).unwrap();
                set(&mut ec, 0, x);
            }
            8 => {
                self.tag("batch: wrong element count");
                let x = *[
                    U256::from(n + 1),
                    U256::from(n - 1),
                    U256::from(1u64 << 32),
                    U256::from((1u64 << 32) + 1),
                    U256::MAX,
                ]
                .choose(&mut self.rng)
                .unwrap();
                set(&mut ec, 32, x);
            }
            9 => {
                self.tag("batch: dirty target");
                let x = word_at(&ec, element) | (one() << self.rng.random_range(160..256));
                set(&mut ec, element, x);
            }
            10 => {
                // Still decodes with Solidity's ABI decoder, but is not the canonical encoding.
                self.tag("batch: gap before the elements (decodable, not canonical)");
                for k in 0..n {
                    let h = word_at(&ec, 64 + 32 * k);
                    set(&mut ec, 64 + 32 * k, h + U256::from(32));
                }
                let at = 64 + 32 * n;
                ec.splice(at..at, [0u8; 32]);
            }
            11 => {
                self.tag("batch: trailing bytes or cut short");
                if self.chance(0.5) {
                    let extra = self.rng.random_range(1..=64);
                    ec.extend(std::iter::repeat_n(0u8, extra));
                } else {
                    ec.truncate(self.rng.random_range(0..ec.len()));
                }
            }
            12 => {
                // The padding after an element's content is not read by anyone: accepted.
                self.tag("batch: dirty padding (canonical)");
                let len = word_at(&ec, element + 96).to::<usize>();
                if len % 32 != 0 {
                    ec[element + 128 + len] = 0xff;
                }
            }
            _ => {
                self.tag("batch: random bit flip");
                let k = self.rng.random_range(0..ec.len());
                ec[k] ^= 1 << self.rng.random_range(0..8);
            }
        }
        ec
    }

    fn call_data(&mut self, scope: &Scope, account: Address, module: Address) -> Vec<u8> {
        let (mode, ec): (B256, Vec<u8>) = match self.rng.random_range(0..10) {
            0..=3 => {
                self.tag("single call");
                let call = self.inner_call(scope, account, module);
                let mut ec = call.target.to_vec();
                ec.extend_from_slice(&call.value.to_be_bytes::<32>());
                ec.extend_from_slice(&call.callData);
                (B256::ZERO, ec)
            }
            4..=8 => {
                let mut mode = [0u8; 32];
                mode[0] = 1;
                (B256::from(mode), self.batch(scope, account, module))
            }
            _ => {
                // Other modes: delegatecall, static, try, or junk in the unused bytes.
                self.tag("other execution mode");
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
        let junk = self.rng.random_range(0..40);
        match junk {
            0 => call[..4].copy_from_slice(&[0x8d, 0xd7, 0x71, 0x2f]), // executeUserOp
            1 => call[..4].copy_from_slice(&[0x95, 0x16, 0x3b, 0x81]), // installModule
            2 => call.extend_from_slice(&[0; 32]),                     // trailing bytes
            3 => call[67] = 0x60,                                      // non-canonical offset
            4 => call.truncate(self.rng.random_range(0..call.len())),
            _ => {}
        }
        if junk <= 4 {
            self.tag("account call: not execute, or not canonical");
        }
        call
    }

    /// An operation with gas and fee fields from everyday to extreme, with or without a paymaster.
    fn op(
        &mut self,
        scope: &Scope,
        sender: Address,
        call_data: Vec<u8>,
    ) -> warrant_core::PackedUserOperation {
        let u128s =
            |g: &mut Self, xs: &[u128]| alloy::primitives::U128::from(*xs.choose(&mut g.rng).unwrap());
        let mut op = warrant_core::UserOperation {
            sender,
            // The validator never reads the nonce: any key, as on Nexus or Kernel.
            nonce: U256::from_be_bytes(self.rng.random::<[u8; 32]>()),
            call_data: call_data.into(),
            call_gas_limit: u128s(self, &[50_000, 50_000, 1_000_000]),
            verification_gas_limit: u128s(self, &[100_000, 100_000, 900_000]),
            pre_verification_gas: U256::from(*[21_000u64, 100_000].choose(&mut self.rng).unwrap()),
            max_fee_per_gas: u128s(self, &[1_000_000_000, 5_000_000_000, 20_000_000_000, 0]),
            max_priority_fee_per_gas: alloy::primitives::U128::from(1_000_000_000u64),
            ..Default::default()
        };
        if self.chance(0.2) {
            // The drain of hole 2: huge limits, preVerificationGas or fee (the account's prefund saturates).
            self.tag("gas: extreme limits or fee");
            let huge = [U256::from(u64::MAX), U256::from(u128::MAX), U256::MAX];
            match self.rng.random_range(0..5) {
                0 => op.call_gas_limit = alloy::primitives::U128::MAX,
                1 => op.verification_gas_limit = alloy::primitives::U128::MAX,
                2 => op.max_fee_per_gas = alloy::primitives::U128::MAX,
                3 => op.pre_verification_gas = *huge.choose(&mut self.rng).unwrap(),
                _ => {
                    op.pre_verification_gas = U256::MAX;
                    op.max_fee_per_gas = alloy::primitives::U128::MAX;
                }
            }
        }
        if op.max_fee_per_gas.is_zero() {
            self.tag("gas: zero fee");
        }
        let pinned = scope.paymaster != Address::ZERO;
        let with_paymaster = self.chance(if pinned { 0.7 } else { 0.1 });
        if with_paymaster {
            op.paymaster = Some(if self.chance(0.7) { PAYMASTER } else { TARGETS[0] });
            op.paymaster_verification_gas_limit = Some(u128s(self, &[50_000, u128::MAX]));
            op.paymaster_post_op_gas_limit = Some(alloy::primitives::U128::from(10_000));
        }
        let mut packed = op.pack();
        if self.chance(0.03) {
            self.tag("paymaster: paymasterAndData shorter than 20 bytes");
            packed.paymasterAndData = vec![0x90; self.rng.random_range(1..20)].into();
        }
        let uses_pinned =
            packed.paymasterAndData.len() >= 20 && &packed.paymasterAndData[..20] == PAYMASTER.as_slice();
        self.tag(match (pinned, packed.paymasterAndData.is_empty(), uses_pinned) {
            (true, _, true) => "paymaster: pinned, and the op uses it",
            (true, _, false) => "paymaster: pinned, the op uses another or none",
            (false, false, _) => "paymaster: none pinned, the op names one",
            (false, true, _) => "paymaster: none; the account pays gas",
        });
        packed
    }
}

/// EVM `SIGNEXTEND` from bit `bits - 1`.
fn sign_extend(bits: usize, x: U256) -> U256 {
    if bits >= 256 {
        return x;
    }
    let mask = (one() << bits) - one();
    if x.bit(bits - 1) { x | !mask } else { x & mask }
}

/// What the chain said, reduced to what the evaluator predicts.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    /// Accepted, with the validation window the module returned (validAfter, validUntil) and whether it reports
    /// a signature failure (the estimation path).
    Accepted(u64, u64, bool),
    /// Refused with a Warrant custom error (its exact ABI encoding).
    Warrant(Bytes),
    /// Anything else: a revert that is not a Warrant error, or validation data that is neither 0 nor 1 in its
    /// aggregator field. The canonical decoding leaves no room for it: always a disagreement.
    Other(Bytes),
}

fn expected(result: &Result<Debit, Denial>, signature_valid: bool) -> Verdict {
    use WarrantErrors as E;
    let e = match result {
        // The window the module returns: the scope's intersected with the period's.
        Ok(debit) => return Verdict::Accepted(debit.valid_after, debit.valid_until, !signature_valid),
        Err(d) => d,
    };
    let idx = |i: &usize| U256::from(*i);
    let bytes: Vec<u8> = match e {
        Denial::SessionNotEnabled { id } => E::SessionNotEnabled { id: *id }.abi_encode(),
        Denial::SessionRevoked { id } => E::SessionRevoked { id: *id }.abi_encode(),
        Denial::InvalidGate { gate_index } => E::InvalidGate { gateIndex: idx(gate_index) }.abi_encode(),
        Denial::GateNotHeld { gate_index, token, balance, min_balance } => E::GateNotHeld {
            gateIndex: idx(gate_index),
            token: *token,
            balance: *balance,
            minBalance: *min_balance,
        }
        .abi_encode(),
        Denial::GateUnreadable { gate_index, token } => {
            E::GateUnreadable { gateIndex: idx(gate_index), token: *token }.abi_encode()
        }
        Denial::UsesExhausted { uses, max } => E::UsesExhausted { uses: *uses, max: *max }.abi_encode(),
        Denial::PaymasterRequired { required } => E::PaymasterRequired { required: *required }.abi_encode(),
        Denial::PaymasterNotPermitted { paymaster } => {
            E::PaymasterNotPermitted { paymaster: *paymaster }.abi_encode()
        }
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
        Denial::ArgumentNotCanonical { index, arg_index } => {
            E::ArgumentNotCanonical { index: idx(index), argIndex: *arg_index }.abi_encode()
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
        Denial::GrantAccountMismatch { grant_account, account } => {
            E::GrantAccountMismatch { grantAccount: *grant_account, account: *account }.abi_encode()
        }
        Denial::GrantEpochStale { grant_epoch, current_epoch } => {
            E::GrantEpochStale { grantEpoch: *grant_epoch, currentEpoch: *current_epoch }.abi_encode()
        }
        Denial::InvalidOwnerSignature => E::InvalidOwnerSignature {}.abi_encode(),
        Denial::MalformedSessionSignature => E::MalformedSessionSignature {}.abi_encode(),
        Denial::NotYetValid { .. } | Denial::Expired { .. } => unreachable!("time is not checked here"),
    };
    Verdict::Warrant(bytes.into())
}

fn observed(receipt: &warrant_chain::Receipt) -> Verdict {
    if receipt.success {
        let data = U256::abi_decode(&receipt.output).expect("validateUserOp returns a uint256");
        let aggregator = data & U256::from_be_slice(&[0xff; 20]);
        if aggregator > one() {
            return Verdict::Other(receipt.output.clone());
        }
        let mask = U256::from((1u64 << 48) - 1);
        let valid_until = ((data >> 160_usize) & mask).to::<u64>();
        let valid_after = ((data >> 208_usize) & mask).to::<u64>();
        return Verdict::Accepted(valid_after, valid_until, aggregator == one());
    }
    match WarrantErrors::WarrantErrorsErrors::abi_decode(&receipt.output) {
        Ok(_) => Verdict::Warrant(receipt.output.clone()),
        Err(_) => Verdict::Other(receipt.output.clone()),
    }
}

/// The deployed module and what the run has seen.
struct Harness {
    chain: DevChain,
    module: Address,
    session_key: PrivateKeySigner,
    /// Signs where a failing signature is wanted.
    other_key: PrivateKeySigner,
    /// P-256 session keys, raw and WebCrypto, and another P-256 key for failing signatures.
    p256_raw: P256Signer,
    p256_webcrypto: P256Signer,
    p256_other: P256Signer,
    /// The session key of the current case (secp256k1 unless a single-operation case picks P-256).
    case_key: KeyChoice,
    disagreements: Vec<String>,
    tally: std::collections::BTreeMap<String, usize>,
    gate_tokens: GateTokens,
    /// The next ERC-721 id to mint.
    next_nft: u64,
}

impl Harness {
    fn new() -> Self {
        let mut chain = DevChain::new(Default::default()).unwrap();
        let module = chain
            .deploy(artifacts::warrant_creation_code("WarrantValidator.sol", "WarrantValidator").unwrap())
            .unwrap();
        let session_key = PrivateKeySigner::from_bytes(&keccak256("differential session key")).unwrap();
        let other_key = PrivateKeySigner::from_bytes(&keccak256("differential other key")).unwrap();
        let p256 = |kind, seed: &str| P256Signer::from_bytes(kind, &keccak256(seed).0).unwrap();
        let mut mock =
            |name: &str| chain.deploy(artifacts::warrant_creation_code("Mocks.sol", name).unwrap()).unwrap();
        let gate_tokens =
            GateTokens { erc20: mock("MockToken"), erc721: mock("MockNft"), erc1155: mock("MockMultiToken") };
        Self {
            chain,
            module,
            session_key,
            other_key,
            p256_raw: p256(P256Kind::Raw, "differential P-256 raw key"),
            p256_webcrypto: p256(P256Kind::WebCrypto, "differential P-256 WebCrypto key"),
            p256_other: p256(P256Kind::Raw, "differential P-256 other key"),
            case_key: KeyChoice::Secp256k1,
            disagreements: Vec::new(),
            tally: Default::default(),
            gate_tokens,
            next_nft: 1,
        }
    }

    /// Mints `held` to `account`, only of the tokens `gates` name (a case without gates mints nothing).
    fn mint(&mut self, account: Address, held: &Held, gates: &[Gate]) {
        let t = self.gate_tokens;
        let named = |token: Address| gates.iter().any(|g| g.token == token);
        let mut txs: Vec<(Address, Vec<u8>)> = Vec::new();
        if named(t.erc20) && !held.erc20.is_zero() {
            txs.push((t.erc20, IMint::mint_0Call { to: account, amountOrId: held.erc20 }.abi_encode()));
        }
        if named(t.erc721) {
            for _ in 0..held.nfts {
                txs.push((
                    t.erc721,
                    IMint::mint_0Call { to: account, amountOrId: U256::from(self.next_nft) }.abi_encode(),
                ));
                self.next_nft += 1;
            }
        }
        if named(t.erc1155) {
            for (id, amount) in MULTI_IDS.iter().zip(held.multi) {
                if !amount.is_zero() {
                    txs.push((
                        t.erc1155,
                        IMint::mint_1Call { to: account, id: U256::from(*id), amount }.abi_encode(),
                    ));
                }
            }
        }
        for (to, data) in txs {
            let r = self
                .chain
                .transact(TxRequest { from: account, to: Some(to), data: data.into(), ..Default::default() })
                .unwrap();
            assert!(r.success, "minting a gate token failed");
        }
    }

    /// Mints a new ERC-721 pass to `account`; its id.
    fn mint_pass(&mut self, account: Address) -> u64 {
        let held = Held { nfts: 1, ..Default::default() };
        let id = self.next_nft;
        let gate = Gate {
            token: self.gate_tokens.erc721,
            kind: gate_kind::ERC721,
            tokenId: U256::ZERO,
            minBalance: one(),
        };
        self.mint(account, &held, &[gate]);
        id
    }

    /// Moves pass `pass_id` from `account` to a stranger.
    fn move_pass_away(&mut self, account: Address, pass_id: u64) {
        let data =
            IMint::transferFromCall { from: account, to: TARGETS[2], id: U256::from(pass_id) }.abi_encode();
        let to = Some(self.gate_tokens.erc721);
        let r = self
            .chain
            .transact(TxRequest { from: account, to, data: data.into(), ..Default::default() })
            .unwrap();
        assert!(r.success, "moving the pass failed");
    }

    /// What `account` holds of each gate's token, read as a wallet reads it (the validator's balance call).
    fn holdings(&mut self, account: Address, scope: &Scope) -> Vec<Option<U256>> {
        warrant_chain::gate::read_holdings_in(&mut self.chain, scope, account).unwrap()
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

    /// Signs `op` for `session` and period `period` with a random hash (the module checks the signature against
    /// the hash it is given), in `shape`; returns the hash and whether the signature is valid.
    fn sign(
        &mut self,
        g: &mut Gen,
        session: &Session,
        period: u32,
        shape: SigShape,
        op: &mut warrant_core::PackedUserOperation,
    ) -> (B256, bool) {
        let hash = B256::from(g.rng.random::<[u8; 32]>());
        let id = session.id(op.sender);
        let digest = match shape {
            SigShape::BareHash => hash,
            SigShape::RepointedSession => {
                // The op was signed for a sibling session of the same key; its bytes were swapped for these.
                let mut sibling = session.clone();
                sibling.salt = keccak256(sibling.salt);
                use_digest(hash, sibling.id(op.sender), period)
            }
            SigShape::RepointedPeriod => use_digest(hash, id, period.wrapping_add(1)),
            _ => use_digest(hash, id, period),
        };
        let sig = match self.case_key {
            KeyChoice::Secp256k1 => self.secp256k1_signature(g, shape, digest),
            KeyChoice::P256(kind) => self.p256_signature(g, kind, shape, digest),
        };
        // The off-chain signature check (what `SessionOp::with_use_signature` runs) on the digest the validator
        // computes: it must find the session's signer exactly for the valid shape; the chain's verdict is
        // compared with it below.
        let signature_valid = session_signer(use_digest(hash, id, period), &sig) == Some(session.signer);
        assert_eq!(
            signature_valid,
            shape == SigShape::Valid,
            "off-chain session signature check, {:?} key, shape {shape:?}",
            self.case_key
        );
        op.signature = use_signature(session, period, &sig);
        (hash, signature_valid)
    }

    /// The session signer of the current case's key.
    fn case_signer(&self) -> Address {
        match self.case_key {
            KeyChoice::Secp256k1 => self.session_key.address(),
            KeyChoice::P256(P256Kind::Raw) => self.p256_raw.signer(),
            KeyChoice::P256(P256Kind::WebCrypto) => self.p256_webcrypto.signer(),
        }
    }

    fn secp256k1_signature(&self, g: &mut Gen, shape: SigShape, digest: B256) -> Vec<u8> {
        let key = if shape == SigShape::OtherKey { &self.other_key } else { &self.session_key };
        let mut sig = key.sign_hash_sync(&digest).unwrap().as_bytes().to_vec();
        match shape {
            SigShape::WrongLength => {
                if g.chance(0.5) {
                    sig.pop();
                } else {
                    sig.push(0);
                }
            }
            SigShape::HighS => {
                // s' = n - s with the other parity: the same point, refused by the low-s rule.
                let n = U256::from_be_slice(&alloy::primitives::hex!(
                    "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141"
                ));
                let s = U256::from_be_slice(&sig[32..64]);
                sig[32..64].copy_from_slice(&(n - s).to_be_bytes::<32>());
                sig[64] ^= 1;
            }
            _ => {}
        }
        sig
    }

    /// A 129-byte P-256 session signature `kind ‖ x ‖ y ‖ r ‖ s` of `digest` in `shape`.
    fn p256_signature(&self, g: &mut Gen, kind: P256Kind, shape: SigShape, digest: B256) -> Vec<u8> {
        let key = match kind {
            P256Kind::Raw => &self.p256_raw,
            P256Kind::WebCrypto => &self.p256_webcrypto,
        };
        let other_kind = match kind {
            P256Kind::Raw => P256Kind::WebCrypto,
            P256Kind::WebCrypto => P256Kind::Raw,
        };
        let mut sig = match shape {
            SigShape::OtherKey => self.p256_other.sign_digest(digest).unwrap().to_vec(),
            SigShape::OtherKindsMessage => {
                // The same key signing the other kind's message, labelled with this kind.
                let twin = P256Signer::from_bytes(other_kind, &self.p256_secret(kind)).unwrap();
                let mut s = twin.sign_digest(digest).unwrap().to_vec();
                s[0] = kind.byte();
                s
            }
            _ => key.sign_digest(digest).unwrap().to_vec(),
        };
        let word = |sig: &[u8], i: usize| U256::from_be_slice(&sig[i..i + 32]);
        match shape {
            SigShape::WrongLength => match g.rng.random_range(0..3) {
                0 => sig.truncate(128),
                1 => sig.push(0),
                _ => sig.truncate(65), // the secp256k1 length: read as r ‖ s ‖ v, recovers to nothing useful
            },
            SigShape::HighS => {
                let high = P256_N - word(&sig, 97);
                sig[97..129].copy_from_slice(&high.to_be_bytes::<32>());
            }
            SigShape::SwappedKind => sig[0] = other_kind.byte(),
            SigShape::ForeignSignature => {
                let foreign = self.p256_other.sign_digest(digest).unwrap();
                sig[65..129].copy_from_slice(&foreign[65..129]);
            }
            SigShape::OffCurve => {
                let i = if g.chance(0.5) { 32 } else { 64 }; // last byte of x or of y
                sig[i] ^= 1;
            }
            SigShape::UnknownKind => sig[0] = *[0u8, 3, 0xff].choose(&mut g.rng).unwrap(),
            SigShape::OutOfRange => {
                let at = if g.chance(0.5) { 65 } else { 97 }; // r or s
                let value = *[U256::ZERO, P256_N, U256::MAX].choose(&mut g.rng).unwrap();
                sig[at..at + 32].copy_from_slice(&value.to_be_bytes::<32>());
            }
            _ => {}
        }
        sig
    }

    fn p256_secret(&self, kind: P256Kind) -> [u8; 32] {
        match kind {
            P256Kind::Raw => keccak256("differential P-256 raw key").0,
            P256Kind::WebCrypto => keccak256("differential P-256 WebCrypto key").0,
        }
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
    fn compare(
        &mut self,
        what: String,
        rust: &Result<Debit, Denial>,
        signature_valid: bool,
        got: Verdict,
        call_data: &[u8],
    ) {
        let want = expected(rust, signature_valid);
        let label = match rust {
            Ok(_) if signature_valid => "accepted".to_string(),
            Ok(_) => "accepted, signature fails (estimation)".to_string(),
            Err(d) => d.name().to_string(),
        };
        *self.tally.entry(label).or_default() += 1;
        if want != got {
            self.disagreements.push(format!(
                "{what}: rust {rust:?} → {want:?}, chain {got:?}\n  callData 0x{}",
                alloy::primitives::hex::encode(call_data)
            ));
        }
    }

    /// The session's counters as the module exposes them: what a wallet reads before a pre-flight (through the
    /// client library's one reader).
    fn usage(&mut self, account: Address, id: B256, limits: usize) -> SessionUsage {
        warrant_client::session_usage_in(&mut self.chain, self.module, account, id, limits).unwrap()
    }

    fn report(&self, part: &str, n: usize, seed: u64, shapes: &BTreeMap<&'static str, usize>, secs: f64) {
        println!(
            "differential ({part}): {n} operations (seed {seed:#x}) in {secs:.1} s ({:.0} per second), {} \
             disagreements",
            n as f64 / secs,
            self.disagreements.len()
        );
        println!("  shapes generated (operations with each):");
        for (shape, n) in shapes {
            println!("    {shape:<62} {n}");
        }
        println!("  verdicts:");
        for (label, n) in &self.tally {
            println!("    {label:<62} {n}");
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

impl Gen {
    /// A signature shape for a key: valid three times in four; P-256 keys get their own failures too.
    fn sig_shape_for(&mut self, key: KeyChoice) -> SigShape {
        if self.chance(0.75) {
            return SigShape::Valid;
        }
        let common = [
            SigShape::BareHash,
            SigShape::RepointedSession,
            SigShape::RepointedSession,
            SigShape::RepointedPeriod,
            SigShape::OtherKey,
            SigShape::WrongLength,
            SigShape::HighS,
        ];
        let p256 = [
            SigShape::SwappedKind,
            SigShape::OtherKindsMessage,
            SigShape::ForeignSignature,
            SigShape::OffCurve,
            SigShape::UnknownKind,
            SigShape::OutOfRange,
        ];
        match key {
            KeyChoice::Secp256k1 => *common.choose(&mut self.rng).unwrap(),
            KeyChoice::P256(_) => {
                let mut all = common.to_vec();
                all.extend(p256);
                *all.choose(&mut self.rng).unwrap()
            }
        }
    }

    /// The session key of a single-operation case: secp256k1 in three cases of five, else P-256 raw or WebCrypto.
    fn key_choice(&mut self) -> KeyChoice {
        match self.rng.random_range(0..5) {
            0 => KeyChoice::P256(P256Kind::Raw),
            1 => KeyChoice::P256(P256Kind::WebCrypto),
            _ => KeyChoice::Secp256k1,
        }
    }
}

#[test]
fn evaluator_agrees_with_the_deployed_validator() {
    let seed = seed();
    let cases = cases();
    let mut g = Gen::new(seed);
    let mut h = Harness::new();
    g.gate_tokens = Some(h.gate_tokens);
    let module = h.module;
    let started = std::time::Instant::now();

    for case in 0..cases {
        let account = Address::from_word(keccak256(format!("differential account {seed} {case}")));
        g.account = account;
        // Pays for the set-up transactions (the validator itself moves no ETH).
        h.chain.set_balance(account, U256::from(10u128.pow(18)));
        let salt = match g.rng.random_range(0..3) {
            0 => B256::ZERO,
            1 => B256::with_last_byte(case as u8),
            _ => B256::from(g.rng.random::<[u8; 32]>()),
        };
        h.case_key = g.key_choice();
        g.tag(match h.case_key {
            KeyChoice::Secp256k1 => "key: secp256k1",
            KeyChoice::P256(P256Kind::Raw) => "key: P-256 raw",
            KeyChoice::P256(P256Kind::WebCrypto) => "key: P-256 WebCrypto",
        });
        let session = Session { signer: h.case_signer(), salt, scope: g.scope() };
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
                assert_eq!(
                    expected(&Err(denial.clone()), true),
                    Verdict::Warrant(r.output.clone()),
                    "case {case}"
                );
                *h.tally.entry(format!("ill-formed rules (enable): {}", denial.name())).or_default() += 1;
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
        let call_data = g.call_data(&session.scope, account, module);
        let mut op = g.op(&session.scope, account, call_data);
        let period = g.period_index();
        if session.scope.period == 0 && period != 0 {
            g.tag("period: named by a session without a period");
        }
        let shape = g.sig_shape_for(h.case_key);
        g.tag(shape.tag());
        let (hash, signature_valid) = h.sign(&mut g, &session, period, shape, &mut op);
        let usage = SessionUsage { status, ..Default::default() };
        h.mint(account, &g.held, &session.scope.gates);
        let holdings = h.holdings(account, &session.scope);
        let rust = check_operation(&OpCheck {
            session_id: id,
            scope: &session.scope,
            usage: &usage,
            presentation: Presentation::Use,
            op: &op,
            account,
            module,
            period,
            signature_valid,
            holdings: &holdings,
        });
        if rust.is_ok() && !session.scope.gates.is_empty() {
            *h.tally.entry("accepted (either kind) with every gate held".into()).or_default() += 1;
        }
        let got = h.validate(account, &op, hash, false);
        h.compare(format!("case {case} ({:?})", g.tags), &rust, signature_valid, got, &op.callData);
        g.flush();
    }
    h.case_key = KeyChoice::Secp256k1;
    h.report("single operations", cases, seed, &g.shapes, started.elapsed().as_secs_f64());
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
            gates: Vec::new(),
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
    let mut g = Gen::new(seed ^ 0xb0b);
    let mut h = Harness::new();
    let module = h.module;
    let mut ops = 0;
    let started = std::time::Instant::now();

    // Sequences of 2 to 8 operations of one session, grouped in bundles of 1 to 3.
    for sequence in 0..(cases() / 16).max(50) {
        let account = Address::from_word(keccak256(format!("differential sequence {seed} {sequence}")));
        g.account = account;
        h.chain.set_balance(account, U256::from(10u128.pow(18)));
        let mut session = g.spend_session(h.session_key.address(), sequence as u64);
        // Some sequences are gated on an ERC-721 pass that moves between bundles: the evaluator reads the
        // holdings before each bundle, as a wallet does.
        let gated = g.chance(0.3);
        let mut pass: Option<u64> = None;
        if gated {
            session.scope.gates = vec![Gate {
                token: h.gate_tokens.erc721,
                kind: gate_kind::ERC721,
                tokenId: U256::ZERO,
                minBalance: one(),
            }];
            if g.chance(0.8) {
                pass = Some(h.mint_pass(account));
            }
        }
        let id = session.id(account);
        let enable = IWarrantValidator::enableSessionCall { session: session.clone() }.abi_encode();
        if let Err(denial) = check_spend_rules(&session.scope) {
            // Ill-formed spend rules: enabling is refused with the rule's error, and the sequence ends there.
            let r = h.chain.call_from(account, module, enable.into()).unwrap();
            let got =
                if r.success { Verdict::Accepted(0, 0, false) } else { Verdict::Warrant(r.output.clone()) };
            h.compare(format!("sequence {sequence}: enable"), &Err(denial), true, got, &[]);
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
            if gated && g.chance(0.3) {
                pass = match pass {
                    Some(pass_id) => {
                        h.move_pass_away(account, pass_id);
                        None
                    }
                    None => Some(h.mint_pass(account)),
                };
            }
            let holdings = h.holdings(account, &session.scope);
            for i in 0..size {
                let call_data = g.spend_call_data();
                let mut op = g.op(&session.scope, account, call_data);
                // The gas and paymaster fields are replaced below: their shapes are not this op's.
                g.tags.clear();
                // Rarely, a period index whose window passes 48-bit time for daily periods (PeriodOutOfRange).
                let named = if g.chance(0.03) { u32::MAX } else { k };
                op.paymasterAndData = Bytes::new();
                // Gas the account pays around the native caps (0 to a few hundred wei), so it runs them out.
                let limit = |g: &mut Gen| U256::from(g.rng.random_range(0..100u64));
                op.accountGasLimits = B256::from((limit(&mut g) << 128) | limit(&mut g));
                op.preVerificationGas = limit(&mut g);
                let fee = U256::from(*[0u64, 0, 1, 2].choose(&mut g.rng).unwrap());
                op.gasFees = B256::from((fee << 128) | fee);
                // Now and then a failing signature: the estimation path counts gas as 1 wei and still writes.
                let shape = if g.chance(0.05) { SigShape::BareHash } else { SigShape::Valid };
                g.tag(shape.tag());
                let (hash, signature_valid) = h.sign(&mut g, &session, named, shape, &mut op);
                let rust = check_operation(&OpCheck {
                    session_id: id,
                    scope: &session.scope,
                    usage: &usage,
                    presentation: Presentation::Use,
                    op: &op,
                    account,
                    module,
                    period: named,
                    signature_valid,
                    holdings: &holdings,
                });
                let got = h.validate(account, &op, hash, true);
                h.compare(
                    format!("sequence {sequence}, period {named}, bundle op {i}"),
                    &rust,
                    signature_valid,
                    got,
                    &op.callData,
                );
                g.flush();
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
    h.report("sequences and bundles", ops, seed, &g.shapes, started.elapsed().as_secs_f64());
}

/// The same single-operation comparison through a real third-party account: each case runs on a fresh account
/// (ZeroDev Kernel v3.1, published bytecode, its nonce layout, `WarrantValidator` installed with `execute`
/// granted), whose own `validateUserOp` routes to the validator. The account is
/// built here with a plain key as its "EntryPoint" (the constructor argument), so the harness can call
/// `validateUserOp` as the EntryPoint would without `handleOps`' prefund and time checks in the way; the accounts
/// read that address only to check the caller. `WARRANT_DIFF_CASES / 10` cases each (default 1,000).
#[test]
fn evaluator_agrees_through_a_kernel_account() {
    through_a_foreign_account(warrant_core::account::AccountKind::Kernel, 0x6b65726e656c);
}

// Not yet on Nexus 1.0.0: called this way (from the plain key it was built with as its EntryPoint), its
// `validateUserOp` returns the same signature failure (validUntil 2^48 - 1) for every case, although the module
// is installed and the same routing works under the real EntryPoint end to end (`nexus_sessions_through_alto`).
// Not explained yet; see docs/architecture.md.

fn through_a_foreign_account(kind: warrant_core::account::AccountKind, salt: u64) {
    use warrant_chain::accounts::{self, ForeignAccounts};
    use warrant_core::account::AccountKind;

    let seed = seed() ^ salt;
    let cases = (cases() / 10).max(1);
    let mut g = Gen::new(seed);
    let mut h = Harness::new();
    let module = h.module;
    let started = std::time::Instant::now();
    let entry = h.chain.dev_account(1);
    let deployer = h.chain.dev_account(0);
    let mut deploy = |code: Bytes| h.chain.deploy(code).unwrap();
    let kernel = deploy(accounts::kernel_implementation_code(entry).unwrap());
    let nexus = deploy(accounts::nexus_implementation_code(entry).unwrap());
    let contracts = ForeignAccounts {
        nexus_implementation: nexus,
        nexus_factory: deploy(accounts::nexus_factory_code(nexus, deployer).unwrap()),
        nexus_bootstrap: deploy(accounts::nexus_bootstrap_code().unwrap()),
        kernel_implementation: kernel,
        kernel_factory: deploy(accounts::kernel_factory_code(kernel).unwrap()),
        owner_validator: deploy(accounts::owner_validator_code().unwrap()),
    };
    let owner = Address::with_last_byte(0x0e);
    let as_entry_point = |h: &mut Harness, account: Address, data: Vec<u8>, what: &str| {
        let r = h
            .chain
            .transact(TxRequest { from: entry, to: Some(account), data: data.into(), ..Default::default() })
            .unwrap();
        assert!(r.success, "set-up failed: {what}");
    };
    let through_account = |call: Vec<u8>| {
        executeCall {
            mode: B256::ZERO,
            executionCalldata: [module.as_slice(), &[0u8; 32], &call].concat().into(),
        }
        .abi_encode()
    };
    let (mut refused_by_kernel, mut normalized_until) = (0usize, 0usize);

    for case in 0..cases {
        let (factory, data) = accounts::create_account_call(
            AccountKind::Kernel,
            &contracts,
            owner,
            B256::from(U256::from(case)),
        )
        .unwrap();
        let r = h.chain.call_from(h.chain.dev_account(0), factory, data.clone()).unwrap();
        let account = Address::abi_decode(&r.output).unwrap();
        let r = h
            .chain
            .transact(TxRequest {
                from: h.chain.dev_account(0),
                to: Some(factory),
                data,
                ..Default::default()
            })
            .unwrap();
        assert!(r.success, "case {case}: {kind} account creation");
        as_entry_point(
            &mut h,
            account,
            AccountKind::Kernel.install_validator(module, &[]).to_vec(),
            "install",
        );
        g.account = account;

        let session = Session { signer: h.session_key.address(), salt: B256::ZERO, scope: g.scope() };
        let id = session.id(account);
        let rules = check_spend_rules(&session.scope);
        let status = match g.rng.random_range(0..20) {
            0 => SessionStatus::None,
            1 => SessionStatus::Revoked,
            _ if rules.is_err() => SessionStatus::None,
            _ => SessionStatus::Enabled,
        };
        match status {
            SessionStatus::None => {}
            SessionStatus::Enabled => {
                let call = IWarrantValidator::enableSessionCall { session: session.clone() }.abi_encode();
                as_entry_point(&mut h, account, through_account(call), "enable")
            }
            SessionStatus::Revoked => {
                let call = IWarrantValidator::revokeSessionCall { id }.abi_encode();
                as_entry_point(&mut h, account, through_account(call), "revoke")
            }
        }
        let call_data = g.call_data(&session.scope, account, module);
        let mut op = g.op(&session.scope, account, call_data);
        // The account's layout (Kernel: mode 0, type 1, the validator, parallel key 0; Nexus: mode 0, the validator).
        op.nonce = kind.nonce(module, 0, g.rng.random()).unwrap();
        let period = g.period_index();
        let shape = g.sig_shape_for(h.case_key);
        g.tag(shape.tag());
        let (hash, signature_valid) = h.sign(&mut g, &session, period, shape, &mut op);
        let usage = SessionUsage { status, ..Default::default() };
        // The Kernel account is minted nothing: its gates are read as they stand (not held, or unreadable).
        let holdings = h.holdings(account, &session.scope);
        let rust = check_operation(&OpCheck {
            session_id: id,
            scope: &session.scope,
            usage: &usage,
            presentation: Presentation::Use,
            op: &op,
            account,
            module,
            period,
            signature_valid,
            holdings: &holdings,
        });
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
        let data = IKernelValidate::validateUserOpCall {
            userOp: packed,
            userOpHash: hash,
            missingAccountFunds: U256::ZERO,
        }
        .abi_encode();
        let got = match observed(&h.chain.call_from(entry, account, data.into()).unwrap()) {
            // Kernel re-encodes "no validUntil" (0) as its equivalent, the largest uint48, when it intersects
            // the validator's validation data (a signature failure's, at least): the same window.
            Verdict::Accepted(after, until, sig_failed)
                if until == (1u64 << 48) - 1 && matches!(&rust, Ok(d) if d.valid_until == 0) =>
            {
                normalized_until += 1;
                Verdict::Accepted(after, 0, sig_failed)
            }
            v => v,
        };
        // Kernel itself refuses, after the validator accepted, an operation whose selector it did not grant
        // (anything but `execute`): stricter than the validator, never looser.
        let kernel_refusal = Verdict::Other(IKernelValidate::InvalidValidator::SELECTOR.to_vec().into());
        if rust.is_ok()
            && got == kernel_refusal
            && !op.callData.starts_with(&warrant_core::account::EXECUTE_SELECTOR)
        {
            refused_by_kernel += 1;
        } else {
            h.compare(
                format!("{kind} case {case} ({:?})", g.tags),
                &rust,
                signature_valid,
                got,
                &op.callData,
            );
        }
        g.flush();
    }
    println!(
        "{kind}: {refused_by_kernel} operations the validator accepts but Kernel refuses (selector not granted); \
         {normalized_until} windows with validUntil re-encoded from 0 to 2^48 - 1"
    );
    h.report(
        &format!("single operations through a {kind} account"),
        cases,
        seed,
        &g.shapes,
        started.elapsed().as_secs_f64(),
    );
}
