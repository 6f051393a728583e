//! Grants and scopes: the Rust mirror of `WarrantValidator`'s structs, their EIP-712 hashes, session ids, and
//! the signatures a session operation carries (USE and ENABLE modes). See `docs/grant-format.md`.

use alloy_primitives::{Address, B256, Bytes, keccak256};
use alloy_sol_types::{Eip712Domain, SolStruct, SolValue, eip712_domain, sol};
use serde::{Deserialize, Serialize};

sol! {
    /// One argument rule: `condition` applied to head word `argIndex` (the word at `4 + 32 * argIndex`).
    #[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
    struct ArgCondition {
        uint8 condition;
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

    /// What a session may do (`Default`: no window, no calls, no value, no limits).
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
        function grantHash(Grant calldata grant) external pure returns (bytes32);
        function scopeHash(Scope calldata scope) external pure returns (bytes32);
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

/// Signature mode byte: a session already enabled.
pub const MODE_USE: u8 = 0x00;
/// Signature mode byte: the session's first operation carries the owner's grant.
pub const MODE_ENABLE: u8 = 0x01;

/// The EIP-712 domain of `WarrantValidator` at `module` on `chain_id`.
pub fn validator_domain(module: Address, chain_id: u64) -> Eip712Domain {
    eip712_domain! { name: "Warrant", version: "1", chain_id: chain_id, verifying_contract: module, }
}

/// The EIP-712 domain of a `WarrantAccount` (the account's own domain, used by ERC-7739 rehashing).
pub fn account_domain(account: Address, chain_id: u64) -> Eip712Domain {
    eip712_domain! { name: "WarrantAccount", version: "1", chain_id: chain_id, verifying_contract: account, }
}

impl Session {
    /// The 32-byte session id: `keccak256(abi.encode(account, hashStruct(session)))`.
    pub fn id(&self, account: Address) -> B256 {
        keccak256((account, self.eip712_hash_struct()).abi_encode())
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

/// The nonce key a session operation uses: the module's address (which the account reads to pick the validator)
/// followed by the period index `period` the operation commits to (ignored by scopes without a period).
pub fn session_nonce_key(module: Address, period: u32) -> alloy_primitives::aliases::U192 {
    (alloy_primitives::aliases::U192::from_be_slice(module.as_slice()) << 32)
        | alloy_primitives::aliases::U192::from(period)
}

/// The module signature of a USE operation: `0x00 ‖ abi.encode(session, sessionSignature)`.
pub fn use_signature(session: &Session, session_signature: &[u8]) -> Bytes {
    let mut out = vec![MODE_USE];
    out.extend_from_slice(&(session.clone(), Bytes::copy_from_slice(session_signature)).abi_encode_params());
    out.into()
}

/// The module signature of an ENABLE operation: `0x01 ‖ abi.encode(grant, ownerSignature, sessionSignature)`.
pub fn enable_signature(grant: &Grant, owner_signature: &[u8], session_signature: &[u8]) -> Bytes {
    let mut out = vec![MODE_ENABLE];
    out.extend_from_slice(
        &(grant.clone(), Bytes::copy_from_slice(owner_signature), Bytes::copy_from_slice(session_signature))
            .abi_encode_params(),
    );
    out.into()
}

/// The EIP-712 type string of the grant (`Grant(…)` followed by its referenced types, sorted).
pub fn grant_encode_type() -> String {
    Grant::eip712_encode_type().into_owned()
}
