//! Grants and scopes: the Rust mirror of `WarrantValidator`'s structs, their EIP-712 hashes, the compact
//! session bytes, session ids, and the signatures a session operation carries (USE and ENABLE modes). The owner
//! signs the EIP-712 [`Grant`]; on chain a session is named by its session bytes ([`Session::session_bytes`]),
//! which a USE operation carries and its id hashes. See `docs/gas.md` for why and for the layout.

use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_sol_types::{Eip712Domain, SolStruct, SolValue, eip712_domain, sol};
use serde::{Deserialize, Serialize};

sol! {
    /// One argument rule: `condition` applied to head word `argIndex` (the word at `4 + 32 * argIndex`), whose
    /// ABI type is `argType` (see [`arg_type`]): the word must be canonical for it, and intN compares signed.
    #[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
    struct ArgCondition {
        uint8 condition;
        uint8 argType;
        uint16 argIndex;
        bytes32[] values;
    }

    /// One permitted call: target and selector (or the wildcards in `flags`), a value cap, argument rules.
    #[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
    struct CallPolicy {
        address target;
        bytes4 selector;
        uint8 flags;
        uint256 maxValue;
        ArgCondition[] conditions;
    }

    /// A spend limit on one asset (`token` an ERC-20, or address 0 for native value): a cap per period and a cap
    /// over the session's life; `u128::MAX` ([`NO_CAP`]) means no cap, 0 means nothing. See `docs/spend-limits.md`.
    #[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
    struct SpendLimit {
        address token;
        uint128 perPeriod;
        uint128 lifetime;
    }

    /// A condition on what the account holds, read in validation: at least `minBalance` of `token`, counted by
    /// `balanceOf(account)` (`kind` [`gate_kind::ERC20`] or [`gate_kind::ERC721`], `tokenId` 0) or
    /// `balanceOf(account, tokenId)` ([`gate_kind::ERC1155`]). See `docs/gating.md` and [`crate::gate`].
    #[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
    struct Gate {
        address token;
        uint8 kind;
        uint256 tokenId;
        uint256 minBalance;
    }

    /// What a session may do (`Default`: no window, no calls, no value, no limits, no gates).
    #[derive(Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
    struct Scope {
        uint48 validAfter;
        uint48 validUntil;
        uint32 maxUses;
        uint256 maxValueTotal;
        address paymaster;
        uint128 maxGasLimit;
        uint128 maxFeePerGas;
        CallPolicy[] calls;
        uint32 period;
        uint48 periodStart;
        uint32 maxUsesPerPeriod;
        SpendLimit[] limits;
        Gate[] gates;
    }

    /// A session key and its scope.
    #[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
    struct Session {
        address signer;
        bytes32 salt;
        Scope scope;
    }

    /// What the owner signs for dynamic delegation: a session bound to one account and one revocation epoch.
    #[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
    struct Grant {
        address account;
        uint64 epoch;
        Session session;
    }

    /// The parts of `WarrantValidator` the toolkit calls.
    #[derive(Debug, PartialEq, Eq)]
    interface IWarrantValidator {
        function enableSession(Session calldata session) external returns (bytes32 id);
        function revokeSession(bytes32 id) external;
        function revokeAll() external;
        function sessionId(address account, Session calldata session) external pure returns (bytes32);
        function grantDigest(Grant calldata grant) external view returns (bytes32);
        function useDigest(bytes32 userOpHash, bytes32 id, uint32 period) external pure returns (bytes32);
        function enableDigest(bytes32 userOpHash, bytes32 id, uint32 period, bytes32 grantDigest) external pure
            returns (bytes32);
        function grantHash(Grant calldata grant) external pure returns (bytes32);
        function scopeHash(Scope calldata scope) external pure returns (bytes32);
        function sessionBytes(Session calldata session) external pure returns (bytes memory);
        function sessionState(address account, bytes32 id) external view
            returns (uint8 status, uint32 uses, uint128 valueSpent);
        function periodState(address account, bytes32 id) external view
            returns (uint32 periodIndex, uint32 usesInPeriod);
        function spendState(address account, bytes32 id, uint256 limitIndex) external view
            returns (uint32 periodIndex, uint112 periodSpent, uint112 lifetimeSpent);
        function epochOf(address account) external view returns (uint256);
        function evaluateCondition(bytes calldata callData, ArgCondition calldata condition) external pure
            returns (uint8);
    }

    /// `WarrantValidator`'s custom errors: each is named after the rule it enforces.
    #[derive(Debug, PartialEq, Eq)]
    interface WarrantErrors {
        error SessionNotEnabled(bytes32 id);
        error SessionRevoked(bytes32 id);
        error UsesExhausted(uint32 uses, uint32 max);
        error PaymasterRequired(address required);
        error PaymasterNotPermitted(address paymaster);
        error GasLimitExceeded(uint256 total, uint256 cap);
        error MaxFeePerGasExceeded(uint256 fee, uint256 cap);
        error UnsupportedAccountCall(bytes4 selector);
        error MalformedCalldata();
        error UnsupportedExecutionMode(bytes32 mode);
        error EmptyBatch();
        error ForbiddenTarget(uint256 index, address target);
        error CalldataTooShort(uint256 index);
        error CallNotPermitted(uint256 index, address target, bytes4 selector);
        error CallValueExceeded(uint256 index, uint256 value, uint256 cap);
        error ArgumentConditionFailed(uint256 index, uint16 argIndex, uint8 condition);
        error ArgumentMalformed(uint256 index, uint16 argIndex);
        error ArgumentNotCanonical(uint256 index, uint16 argIndex);
        error InvalidCondition(uint256 index, uint256 conditionIndex);
        error SessionValueExceeded(uint256 total, uint256 cap);
        error GrantAccountMismatch(address grantAccount, address account);
        error GrantEpochStale(uint64 grantEpoch, uint256 currentEpoch);
        error InvalidOwnerSignature();
        error SpendLimitExceeded(address token, uint256 spent, uint256 cap);
        error PeriodSpendLimitExceeded(address token, uint32 period, uint256 spent, uint256 cap);
        error PeriodUsesExhausted(uint32 period, uint32 uses, uint32 max);
        error PeriodStale(uint32 period, uint32 current);
        error PeriodOutOfRange(uint32 period);
        error TokenCallNotAccounted(uint256 index, address token, bytes4 selector);
        error InvalidSpendLimit(uint256 limitIndex);
        error PeriodRequired();
        error MalformedSessionSignature();
        error InvalidGate(uint256 gateIndex);
        error GateNotHeld(uint256 gateIndex, address token, uint256 balance, uint256 minBalance);
        error GateUnreadable(uint256 gateIndex, address token);
    }
}

/// Policy flag: the policy matches any target (never the account, the module, the EntryPoint or address 0).
pub const ANY_TARGET: u8 = 0x01;
/// Policy flag: the policy matches any selector.
pub const ANY_SELECTOR: u8 = 0x02;

/// A spend cap of this value means "no cap" (`type(uint128).max`).
pub const NO_CAP: u128 = u128::MAX;

/// Uniswap's Permit2 (the same address on every chain): calls to it are counted or refused while any ERC-20 is
/// limited.
pub const PERMIT2: Address = alloy_primitives::address!("0x000000000022D473030F116dDEE9F6B43aC78BA3");

/// `Gate.kind` codes: which `balanceOf` a gate reads.
pub mod gate_kind {
    /// An ERC-20: `balanceOf(account)` in the token's smallest unit.
    pub const ERC20: u8 = 0;
    /// An ERC-721 collection: `balanceOf(account)`, the number of its NFTs the account holds.
    pub const ERC721: u8 = 1;
    /// One id of an ERC-1155: `balanceOf(account, tokenId)`.
    pub const ERC1155: u8 = 2;

    /// The kind's name as the CLI and `explain` spell it ("erc20", "erc721", "erc1155").
    pub fn name(kind: u8) -> Option<&'static str> {
        Some(match kind {
            ERC20 => "erc20",
            ERC721 => "erc721",
            ERC1155 => "erc1155",
            _ => return None,
        })
    }
}

/// Signature mode byte: a session already enabled.
pub const MODE_USE: u8 = 0x00;
/// Signature mode byte: the session's first operation carries the owner's grant.
pub const MODE_ENABLE: u8 = 0x01;

/// `ArgCondition.argType` codes: the ABI type of the argument a condition reads. A head-word condition needs a
/// static type and refuses a non-canonical word (`ArgumentNotCanonical`); the dynamic kinds need [`arg_type::DYNAMIC`].
pub mod arg_type {
    /// `address`: the word is below 2^160.
    pub const ADDRESS: u8 = 0x60;
    /// `bool`: the word is 0 or 1.
    pub const BOOL: u8 = 0x61;
    /// A dynamic argument (`bytes`, `string`, `T[]`, a dynamic tuple): the head word is an offset.
    pub const DYNAMIC: u8 = 0x62;

    /// `uintN` (`bits` a multiple of 8 in 8..=256): the word is below 2^N.
    pub const fn uint(bits: u16) -> u8 {
        (bits / 8 - 1) as u8
    }

    /// `intN` (`bits` a multiple of 8 in 8..=256): the word is the sign extension of its low N bits; ordered
    /// comparisons are signed.
    pub const fn int(bits: u16) -> u8 {
        0x20 + (bits / 8 - 1) as u8
    }

    /// `bytesN` (`n` in 1..=32): the low `32 - n` bytes are zero.
    pub const fn fixed_bytes(n: u8) -> u8 {
        0x40 + (n - 1)
    }

    /// Whether `code` is a known type.
    pub const fn is_valid(code: u8) -> bool {
        code <= DYNAMIC
    }

    /// Whether `code` is a signed integer type.
    pub const fn is_signed(code: u8) -> bool {
        code >= 0x20 && code < 0x40
    }

    /// The Solidity name of a type code ("uint256", "int8", "bytes4", "address", "bool", "dynamic"), `None` for
    /// an unknown code.
    pub fn name(code: u8) -> Option<String> {
        let n = u16::from(code & 0x1f) + 1;
        Some(match code {
            0x00..=0x1f => format!("uint{}", n * 8),
            0x20..=0x3f => format!("int{}", n * 8),
            0x40..=0x5f => format!("bytes{n}"),
            ADDRESS => "address".into(),
            BOOL => "bool".into(),
            DYNAMIC => "dynamic".into(),
            _ => return None,
        })
    }

    /// The code of a Solidity elementary type name (`uint` and `int` read as 256 bits); `None` for anything
    /// else (dynamic types included: the caller knows whether a parameter is dynamic).
    pub fn from_name(name: &str) -> Option<u8> {
        let bits = |digits: &str| -> Option<u16> {
            let b: u16 = if digits.is_empty() { 256 } else { digits.parse().ok()? };
            (b.is_multiple_of(8) && (8..=256).contains(&b) && (digits.is_empty() || !digits.starts_with('0')))
                .then_some(b)
        };
        match name {
            "address" => Some(ADDRESS),
            "bool" => Some(BOOL),
            _ => {
                if let Some(d) = name.strip_prefix("uint") {
                    bits(d).map(uint)
                } else if let Some(d) = name.strip_prefix("int") {
                    bits(d).map(int)
                } else if let Some(d) = name.strip_prefix("bytes") {
                    let n: u8 = d.parse().ok()?;
                    ((1..=32).contains(&n) && !d.starts_with('0')).then(|| fixed_bytes(n))
                } else {
                    None
                }
            }
        }
    }
}

/// The EIP-712 domain of `WarrantValidator` at `module` on `chain_id`.
pub fn validator_domain(module: Address, chain_id: u64) -> Eip712Domain {
    eip712_domain! { name: "Warrant", version: "1", chain_id: chain_id, verifying_contract: module, }
}

/// The EIP-712 domain of a `WarrantAccount` (the account's own domain, used by ERC-7739 rehashing).
pub fn account_domain(account: Address, chain_id: u64) -> Eip712Domain {
    eip712_domain! { name: "WarrantAccount", version: "1", chain_id: chain_id, verifying_contract: account, }
}

/// Bits of the limits byte of session bytes: which optional scope fields follow (exactly those not zero).
pub mod limits {
    /// `validAfter` (6 bytes) follows.
    pub const VALID_AFTER: u8 = 0x01;
    /// `validUntil` (6 bytes) follows.
    pub const VALID_UNTIL: u8 = 0x02;
    /// `maxUses` (4 bytes) follows.
    pub const USES: u8 = 0x04;
    /// `maxValueTotal` (a `w` word) follows.
    pub const VALUE: u8 = 0x08;
    /// `paymaster` (20 bytes) follows.
    pub const PAYMASTER: u8 = 0x10;
    /// `maxGasLimit` (16 bytes) follows.
    pub const GAS: u8 = 0x20;
    /// `maxFeePerGas` (16 bytes) follows.
    pub const FEE: u8 = 0x40;
    /// The spend section follows: `period(4) ‖ periodStart(6) ‖ maxUsesPerPeriod(4) ‖ w(len(limits)) ‖
    /// (token(20) ‖ perPeriod(16) ‖ lifetime(16))* ‖ w(len(gates)) ‖ (kind(1) ‖ token(20) ‖ tokenId(32) ‖
    /// minBalance(32))*` (present when any of these is not zero).
    pub const SPEND: u8 = 0x80;
}

/// Appends `w(x)`: one byte `n`, then the `n` low bytes of `x` big-endian, `n` the fewest bytes that hold `x`.
fn put_word(out: &mut Vec<u8>, x: &[u8; 32]) {
    let skip = x.iter().take_while(|b| **b == 0).count();
    out.push((32 - skip) as u8);
    out.extend_from_slice(&x[skip..]);
}

fn put_count(out: &mut Vec<u8>, n: usize) {
    put_word(out, &U256::from(n).to_be_bytes::<32>());
}

impl Scope {
    /// Whether the session bytes carry a spend section: any of period, periodStart, maxUsesPerPeriod, limits,
    /// gates set.
    pub fn has_spend_section(&self) -> bool {
        self.period != 0
            || self.periodStart.to::<u64>() != 0
            || self.maxUsesPerPeriod != 0
            || !self.limits.is_empty()
            || !self.gates.is_empty()
    }
}

impl Session {
    /// The session bytes, byte for byte what `WarrantValidator.sessionBytes` returns:
    ///
    /// `signer(20) ‖ limits(1) ‖ [validAfter(6)] ‖ [validUntil(6)] ‖ [maxUses(4)] ‖ [w(maxValueTotal)] ‖
    /// [paymaster(20)] ‖ [maxGasLimit(16)] ‖ [maxFeePerGas(16)] ‖ [spend] ‖ w(len(calls)) ‖ policy* ‖ w(salt)`, a
    /// field present exactly when not zero (bit `i` of `limits`, see [`limits`]; [`limits::SPEND`] for the spend
    /// section); each policy `target(20) ‖
    /// selector(4) ‖ flags(1) ‖ w(maxValue) ‖ w(len(conditions)) ‖ condition*`; each condition `condition(1) ‖
    /// argType(1) ‖ argIndex(2) ‖ w(len(values)) ‖ w(value)*`.
    pub fn session_bytes(&self) -> Bytes {
        let s = &self.scope;
        let mut out = Vec::with_capacity(64 + 64 * s.calls.len());
        out.extend_from_slice(self.signer.as_slice());
        let valid_after = s.validAfter.to::<u64>();
        let valid_until = s.validUntil.to::<u64>();
        let present = [
            (valid_after != 0, limits::VALID_AFTER),
            (valid_until != 0, limits::VALID_UNTIL),
            (s.maxUses != 0, limits::USES),
            (s.maxValueTotal != U256::ZERO, limits::VALUE),
            (s.paymaster != Address::ZERO, limits::PAYMASTER),
            (s.maxGasLimit != 0, limits::GAS),
            (s.maxFeePerGas != 0, limits::FEE),
            (s.has_spend_section(), limits::SPEND),
        ];
        out.push(present.iter().filter(|(on, _)| *on).fold(0, |acc, (_, bit)| acc | bit));
        // uint48: the 6 low bytes of the u64.
        if valid_after != 0 {
            out.extend_from_slice(&valid_after.to_be_bytes()[2..]);
        }
        if valid_until != 0 {
            out.extend_from_slice(&valid_until.to_be_bytes()[2..]);
        }
        if s.maxUses != 0 {
            out.extend_from_slice(&s.maxUses.to_be_bytes());
        }
        if s.maxValueTotal != U256::ZERO {
            put_word(&mut out, &s.maxValueTotal.to_be_bytes::<32>());
        }
        if s.paymaster != Address::ZERO {
            out.extend_from_slice(s.paymaster.as_slice());
        }
        if s.maxGasLimit != 0 {
            out.extend_from_slice(&s.maxGasLimit.to_be_bytes());
        }
        if s.maxFeePerGas != 0 {
            out.extend_from_slice(&s.maxFeePerGas.to_be_bytes());
        }
        if s.has_spend_section() {
            out.extend_from_slice(&s.period.to_be_bytes());
            out.extend_from_slice(&s.periodStart.to::<u64>().to_be_bytes()[2..]);
            out.extend_from_slice(&s.maxUsesPerPeriod.to_be_bytes());
            put_count(&mut out, s.limits.len());
            for l in &s.limits {
                out.extend_from_slice(l.token.as_slice());
                out.extend_from_slice(&l.perPeriod.to_be_bytes());
                out.extend_from_slice(&l.lifetime.to_be_bytes());
            }
            put_count(&mut out, s.gates.len());
            for g in &s.gates {
                out.push(g.kind);
                out.extend_from_slice(g.token.as_slice());
                out.extend_from_slice(&g.tokenId.to_be_bytes::<32>());
                out.extend_from_slice(&g.minBalance.to_be_bytes::<32>());
            }
        }
        put_count(&mut out, s.calls.len());
        for policy in &s.calls {
            out.extend_from_slice(policy.target.as_slice());
            out.extend_from_slice(policy.selector.as_slice());
            out.push(policy.flags);
            put_word(&mut out, &policy.maxValue.to_be_bytes::<32>());
            put_count(&mut out, policy.conditions.len());
            for c in &policy.conditions {
                out.push(c.condition);
                out.push(c.argType);
                out.extend_from_slice(&c.argIndex.to_be_bytes());
                put_count(&mut out, c.values.len());
                for v in &c.values {
                    put_word(&mut out, &v.0);
                }
            }
        }
        put_word(&mut out, &self.salt.0);
        out.into()
    }

    /// The 32-byte session id: `keccak256(account ‖ sessionBytes)`, which binds the account, the signer, the
    /// whole scope and the salt.
    pub fn id(&self, account: Address) -> B256 {
        keccak256([account.as_slice(), &self.session_bytes()].concat())
    }
}

impl Grant {
    /// The EIP-712 digest of the grant under the validator's domain (what `grantDigest` returns).
    pub fn digest(&self, module: Address, chain_id: u64) -> B256 {
        self.eip712_signing_hash(&validator_domain(module, chain_id))
    }

    /// The digest the owner's key signs when the account checks signatures with ERC-7739 rehashing (as
    /// `WarrantAccount` does): a `TypedDataSign` wrapping the grant, bound to the account's own domain.
    pub fn erc7739_digest(&self, module: Address, chain_id: u64) -> B256 {
        let contents_type = Self::eip712_encode_type();
        let typehash = keccak256(
            format!(
                "TypedDataSign(Grant contents,string name,string version,uint256 chainId,address \
                 verifyingContract,bytes32 salt){contents_type}"
            )
            .as_bytes(),
        );
        let account = account_domain(self.account, chain_id);
        let domain_bytes = (
            keccak256("WarrantAccount"),
            keccak256("1"),
            alloy_primitives::U256::from(chain_id),
            account.verifying_contract.unwrap_or_default(),
            B256::ZERO,
        )
            .abi_encode();
        let mut preimage = Vec::with_capacity(64 + domain_bytes.len());
        preimage.extend_from_slice(typehash.as_slice());
        preimage.extend_from_slice(self.eip712_hash_struct().as_slice());
        preimage.extend_from_slice(&domain_bytes);
        let struct_hash = keccak256(preimage);
        let separator = validator_domain(module, chain_id).separator();
        keccak256([&[0x19, 0x01][..], separator.as_slice(), struct_hash.as_slice()].concat())
    }

    /// Wraps the owner's raw 65-byte signature of [`Grant::erc7739_digest`] in ERC-7739's `TypedDataSign`
    /// envelope: `signature ‖ appSeparator ‖ contentsHash ‖ contentsDescr ‖ uint16(len(contentsDescr))`.
    pub fn erc7739_signature(&self, module: Address, chain_id: u64, raw_signature: &[u8]) -> Bytes {
        let descr = Self::eip712_encode_type();
        let mut out = raw_signature.to_vec();
        out.extend_from_slice(validator_domain(module, chain_id).separator().as_slice());
        out.extend_from_slice(self.eip712_hash_struct().as_slice());
        out.extend_from_slice(descr.as_bytes());
        out.extend_from_slice(&(descr.len() as u16).to_be_bytes());
        out.into()
    }
}

/// What the session key signs in USE mode: `keccak256(0x00 ‖ userOpHash ‖ id ‖ uint32 period)` (69 bytes), so
/// a relayer can neither re-point the operation at another session of the same key nor change the period.
pub fn use_digest(user_op_hash: B256, id: B256, period: u32) -> B256 {
    let mut pre = Vec::with_capacity(69);
    pre.push(MODE_USE);
    pre.extend_from_slice(user_op_hash.as_slice());
    pre.extend_from_slice(id.as_slice());
    pre.extend_from_slice(&period.to_be_bytes());
    keccak256(pre)
}

/// What the session key signs in ENABLE mode: `keccak256(0x01 ‖ userOpHash ‖ id ‖ uint32 period ‖
/// grantDigest)` (101 bytes), binding the one owner-signed grant the operation enables.
pub fn enable_digest(user_op_hash: B256, id: B256, period: u32, grant_digest: B256) -> B256 {
    let mut pre = Vec::with_capacity(101);
    pre.push(MODE_ENABLE);
    pre.extend_from_slice(user_op_hash.as_slice());
    pre.extend_from_slice(id.as_slice());
    pre.extend_from_slice(&period.to_be_bytes());
    pre.extend_from_slice(grant_digest.as_slice());
    keccak256(pre)
}

/// The module signature of a USE operation: `0x00 ‖ period(4) ‖ w(len(sessionBytes)) ‖ sessionBytes ‖
/// sessionSignature` (`w` as in [`Session::session_bytes`]). The module reads the session bytes in place and
/// hashes them into the id, so a USE operation carries no ABI encoding and costs no EIP-712 hashing.
pub fn use_signature(session: &Session, period: u32, session_signature: &[u8]) -> Bytes {
    let encoded = session.session_bytes();
    let mut out = Vec::with_capacity(12 + encoded.len() + session_signature.len());
    out.push(MODE_USE);
    out.extend_from_slice(&period.to_be_bytes());
    put_count(&mut out, encoded.len());
    out.extend_from_slice(&encoded);
    out.extend_from_slice(session_signature);
    out.into()
}

/// The module signature of an ENABLE operation: `0x01 ‖ period(4) ‖ abi.encode(grant, ownerSignature,
/// sessionSignature)`.
pub fn enable_signature(
    grant: &Grant,
    period: u32,
    owner_signature: &[u8],
    session_signature: &[u8],
) -> Bytes {
    let mut out = vec![MODE_ENABLE];
    out.extend_from_slice(&period.to_be_bytes());
    out.extend_from_slice(
        &(grant.clone(), Bytes::copy_from_slice(owner_signature), Bytes::copy_from_slice(session_signature))
            .abi_encode_params(),
    );
    out.into()
}

/// The signer a session signature proves for the session digest `digest`, exactly as `WarrantValidator` derives
/// it; `None` where the validator reports a signature failure. 65 bytes `r ‖ s ‖ v` are secp256k1 (`v` 27 or 28,
/// `s ≤ n/2`, recovered as `ecrecover` does); 129 bytes `kind ‖ x ‖ y ‖ r ‖ s` are a P-256 key
/// ([`crate::p256::p256_session_signer`]); any other length is a failure.
pub fn session_signer(digest: B256, signature: &[u8]) -> Option<Address> {
    match signature.len() {
        65 => {
            let v = signature[64];
            if v != 27 && v != 28 {
                return None;
            }
            let s = U256::from_be_slice(&signature[32..64]);
            if s > SECP256K1_HALF_N {
                return None;
            }
            let sig = alloy_primitives::Signature::from_raw(signature).ok()?;
            sig.recover_address_from_prehash(&digest).ok()
        }
        crate::p256::P256_SESSION_SIGNATURE_LEN => crate::p256::p256_session_signer(digest, signature),
        _ => None,
    }
}

/// `floor(secp256k1n / 2)`: the largest `s` the validator's `ecrecover` path accepts.
const SECP256K1_HALF_N: U256 =
    alloy_primitives::uint!(0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0_U256);

/// Who pays an operation's gas under a scope, and what bounds it (rule C of `docs/gas.md`): with no paymaster the
/// account pays, and the op's maximum cost counts against the session's native budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GasBudget {
    /// A pinned paymaster pays; gas is not counted against the session.
    Sponsored {
        /// The paymaster every operation must use.
        paymaster: Address,
    },
    /// The account pays; gas is debited with the calls' value against `maxValueTotal` and the native limit.
    Native {
        /// The session's lifetime native cap (gas included).
        max_value_total: U256,
        /// The first native spend limit's (per period, lifetime) caps, if the scope has one ([`NO_CAP`]: none).
        native_limit: Option<(u128, u128)>,
    },
    /// The account pays and nothing bounds it: `maxValueTotal >= 2^128 - 1` (the value counter's own ceiling) and
    /// no finite native spend limit.
    Unbounded,
    /// The account pays but the session may spend no native value, so no operation can pay for gas.
    Zero,
}

impl GasBudget {
    /// Whether a session under this budget can pay for gas and what it pays is bounded (sponsored or native).
    pub fn is_bounded_and_usable(&self) -> bool {
        matches!(self, Self::Sponsored { .. } | Self::Native { .. })
    }
}

/// The first native-value spend limit (token 0) and whether it has a finite cap.
fn native_limit(scope: &Scope) -> Option<(u128, u128)> {
    scope.limits.iter().find(|l| l.token == Address::ZERO).map(|l| (l.perPeriod, l.lifetime))
}

impl Scope {
    /// What pays for this scope's gas and what bounds it (see [`GasBudget`]).
    pub fn gas_budget(&self) -> GasBudget {
        if self.paymaster != Address::ZERO {
            return GasBudget::Sponsored { paymaster: self.paymaster };
        }
        if self.maxValueTotal.is_zero() {
            return GasBudget::Zero;
        }
        let native_limit = native_limit(self);
        let finite = native_limit.is_some_and(|(p, l)| p != NO_CAP || l != NO_CAP);
        // The validator's value counter is 128 bits, so a cap of 2^128 - 1 or more bounds nothing.
        if self.maxValueTotal >= U256::from(u128::MAX) && !finite {
            return GasBudget::Unbounded;
        }
        GasBudget::Native { max_value_total: self.maxValueTotal, native_limit }
    }
}

/// The EIP-712 type string of the grant (`Grant(…)` followed by its referenced types, sorted).
pub fn grant_encode_type() -> String {
    Grant::eip712_encode_type().into_owned()
}

#[cfg(test)]
mod tests {
    use alloy_primitives::{FixedBytes, address, aliases::U48, hex};

    use super::*;

    /// The known answer shared with `contracts/test/SessionEncoding.t.sol`.
    fn kat_session() -> Session {
        Session {
            signer: address!("0x1111111111111111111111111111111111111111"),
            salt: B256::with_last_byte(1),
            scope: Scope {
                validAfter: U48::from(5u64),
                validUntil: U48::from(65_536u64),
                maxUses: 3,
                maxValueTotal: U256::from(10u128.pow(18)),
                paymaster: address!("0x2222222222222222222222222222222222222222"),
                maxGasLimit: 500_000,
                maxFeePerGas: 0,
                calls: vec![CallPolicy {
                    target: address!("0x3333333333333333333333333333333333333333"),
                    selector: FixedBytes(hex!("a9059cbb")),
                    flags: 0,
                    maxValue: U256::ZERO,
                    conditions: vec![ArgCondition {
                        condition: 6,
                        argType: arg_type::uint(256),
                        argIndex: 0,
                        values: vec![B256::from(U256::from(0xbeefu64)), B256::ZERO],
                    }],
                }],
                ..Default::default()
            },
        }
    }

    const KAT: &str = concat!(
        "1111111111111111111111111111111111111111",
        "3f",
        "000000000005",
        "000000010000",
        "00000003",
        "080de0b6b3a7640000",
        "2222222222222222222222222222222222222222",
        "0000000000000000000000000007a120",
        "0101",
        "3333333333333333333333333333333333333333",
        "a9059cbb",
        "00",
        "00",
        "0101",
        "06",
        "1f",
        "0000",
        "0102",
        "02beef",
        "00",
        "0101",
    );

    #[test]
    fn session_bytes_known_answer() {
        let session = kat_session();
        assert_eq!(hex::encode(session.session_bytes()), KAT);
        let account = address!("0x4444444444444444444444444444444444444444");
        let mut preimage = account.to_vec();
        preimage.extend_from_slice(&hex::decode(KAT).unwrap());
        assert_eq!(session.id(account), keccak256(preimage));
    }

    #[test]
    fn zero_scope_is_signer_limits_count_salt() {
        let scope = Scope::default();
        let session = Session { signer: Address::repeat_byte(0x11), salt: B256::ZERO, scope };
        assert_eq!(hex::encode(session.session_bytes()), format!("{}000000", "11".repeat(20)));
    }

    #[test]
    fn use_signature_layout() {
        let session = kat_session();
        let signature = [7u8; 65];
        let encoded = session.session_bytes();
        let out = use_signature(&session, 0x0102_0304, &signature);
        assert_eq!(out[0], MODE_USE);
        assert_eq!(out[1..5], [1, 2, 3, 4], "the period, big-endian");
        assert_eq!(out[5], 1, "w(length) of a length under 256");
        assert_eq!(usize::from(out[6]), encoded.len());
        assert_eq!(&out[7..7 + encoded.len()], &encoded[..]);
        assert_eq!(&out[7 + encoded.len()..], &signature[..]);
    }

    #[test]
    fn enable_signature_layout() {
        let grant = Grant { account: Address::repeat_byte(0x44), epoch: 3, session: kat_session() };
        let out = enable_signature(&grant, 7, &[1, 2], &[3; 65]);
        assert_eq!(out[..5], [MODE_ENABLE, 0, 0, 0, 7]);
        let (g, owner, session) = <(Grant, Bytes, Bytes)>::abi_decode_params(&out[5..]).unwrap();
        assert_eq!((g, owner.to_vec(), session.to_vec()), (grant, vec![1, 2], vec![3; 65]));
    }

    /// The digests' preimages, byte for byte (spec A): 69 bytes for USE, 101 for ENABLE.
    #[test]
    fn session_digests() {
        let (hash, id, grant) = (B256::repeat_byte(0xaa), B256::repeat_byte(0xbb), B256::repeat_byte(0xcc));
        let use_pre = [&[0u8][..], &hash[..], &id[..], &[0, 0, 1, 0]].concat();
        assert_eq!(use_pre.len(), 69);
        assert_eq!(use_digest(hash, id, 256), keccak256(use_pre));
        let enable_pre = [&[1u8][..], &hash[..], &id[..], &[0, 0, 0, 9], &grant[..]].concat();
        assert_eq!(enable_pre.len(), 101);
        assert_eq!(enable_digest(hash, id, 9, grant), keccak256(enable_pre));
        assert_ne!(use_digest(hash, id, 0), use_digest(hash, id, 1), "the period is signed");
    }

    #[test]
    fn arg_type_codes_and_names() {
        assert_eq!((arg_type::uint(8), arg_type::uint(256)), (0x00, 0x1f));
        assert_eq!((arg_type::int(8), arg_type::int(256)), (0x20, 0x3f));
        assert_eq!((arg_type::fixed_bytes(1), arg_type::fixed_bytes(32)), (0x40, 0x5f));
        for code in 0..=arg_type::DYNAMIC {
            let name = arg_type::name(code).unwrap();
            if code != arg_type::DYNAMIC {
                assert_eq!(arg_type::from_name(&name), Some(code), "{name}");
            }
        }
        assert_eq!(arg_type::name(0x63), None);
        assert_eq!(arg_type::name(0xff), None);
        assert_eq!(arg_type::from_name("uint"), Some(0x1f));
        assert_eq!(arg_type::from_name("int"), Some(0x3f));
        for bad in ["uint7", "uint264", "uint08", "bytes0", "bytes33", "bytes", "string", "int0", "address[]"]
        {
            assert_eq!(arg_type::from_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn gas_budget_follows_rule_c() {
        let native = |max: U256, limits: Vec<SpendLimit>| {
            Scope { maxValueTotal: max, limits, ..Default::default() }.gas_budget()
        };
        let pm = Address::repeat_byte(9);
        assert_eq!(
            Scope { paymaster: pm, ..Default::default() }.gas_budget(),
            GasBudget::Sponsored { paymaster: pm }
        );
        assert_eq!(native(U256::ZERO, vec![]), GasBudget::Zero);
        assert_eq!(native(U256::MAX, vec![]), GasBudget::Unbounded);
        assert_eq!(native(U256::from(u128::MAX), vec![]), GasBudget::Unbounded, "the counter's ceiling");
        assert_eq!(
            native(U256::from(5), vec![]),
            GasBudget::Native { max_value_total: U256::from(5), native_limit: None }
        );
        let uncapped = SpendLimit { token: Address::ZERO, perPeriod: NO_CAP, lifetime: NO_CAP };
        assert_eq!(native(U256::MAX, vec![uncapped.clone()]), GasBudget::Unbounded);
        let erc20 = SpendLimit { token: pm, perPeriod: NO_CAP, lifetime: 1 };
        assert_eq!(native(U256::MAX, vec![erc20]), GasBudget::Unbounded, "an ERC-20 limit bounds no gas");
        let capped = SpendLimit { lifetime: 10, ..uncapped };
        assert_eq!(
            native(U256::MAX, vec![capped]),
            GasBudget::Native { max_value_total: U256::MAX, native_limit: Some((NO_CAP, 10)) }
        );
        assert!(!GasBudget::Zero.is_bounded_and_usable());
        assert!(!GasBudget::Unbounded.is_bounded_and_usable());
        assert!(GasBudget::Sponsored { paymaster: pm }.is_bounded_and_usable());
    }

    /// The spend section's known answer, shared with `contracts/test/SpendLimits.t.sol`.
    #[test]
    fn spend_section_known_answer() {
        let scope = Scope {
            period: 86_400,
            periodStart: U48::from(1_000_000u64),
            maxUsesPerPeriod: 2,
            limits: vec![
                SpendLimit { token: Address::repeat_byte(0x33), perPeriod: 10u128.pow(18), lifetime: NO_CAP },
                SpendLimit { token: Address::ZERO, perPeriod: NO_CAP, lifetime: 5 },
            ],
            ..Default::default()
        };
        let session = Session { signer: Address::repeat_byte(0x11), salt: B256::ZERO, scope };
        let expected = [
            "11".repeat(20),
            "80".into(),           // limits: the spend section only
            "00015180".into(),     // period
            "0000000f4240".into(), // periodStart
            "00000002".into(),     // maxUsesPerPeriod
            "0102".into(),         // w(2 limits)
            "33".repeat(20),
            "00000000000000000de0b6b3a7640000".into(),
            "ff".repeat(16),
            "00".repeat(20),
            "ff".repeat(16),
            "00000000000000000000000000000005".into(),
            "00".into(), // w(0 gates)
            "00".into(), // w(0 calls)
            "00".into(), // w(salt 0)
        ]
        .concat();
        assert_eq!(hex::encode(session.session_bytes()), expected);
    }

    #[test]
    fn gates_known_answer() {
        let scope = Scope {
            gates: vec![Gate {
                token: Address::repeat_byte(0x44),
                kind: gate_kind::ERC1155,
                tokenId: U256::from(7u64),
                minBalance: U256::from(2u64),
            }],
            ..Default::default()
        };
        let session = Session { signer: Address::repeat_byte(0x11), salt: B256::ZERO, scope };
        let expected = [
            "11".repeat(20),
            "80".into(),            // limits: the spend section only (gates live in it)
            "00".repeat(4 + 6 + 4), // period, periodStart, maxUsesPerPeriod
            "00".into(),            // w(0 limits)
            "0101".into(),          // w(1 gate)
            "02".into(),            // kind ERC-1155
            "44".repeat(20),        // token
            format!("{:064x}", 7),  // tokenId
            format!("{:064x}", 2),  // minBalance
            "00".into(),            // w(0 calls)
            "00".into(),            // w(salt 0)
        ]
        .concat();
        assert_eq!(hex::encode(session.session_bytes()), expected);
    }
}
