// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {PackedUserOperation} from "@openzeppelin/contracts/interfaces/IERC4337.sol";
import {IERC7579Validator, MODULE_TYPE_VALIDATOR} from "@openzeppelin/contracts/interfaces/draft-IERC7579.sol";
import {ERC4337Utils} from "@openzeppelin/contracts/account/utils/ERC4337Utils.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {P256} from "@openzeppelin/contracts/utils/cryptography/P256.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {WarrantErrors} from "./WarrantErrors.sol";

/**
 * @dev ERC-7579 validator (module type 1) for session keys with on-chain scopes.
 *
 * A session is a `signer` key plus a {Scope}: a time window, a use count, a native value budget, gas and fee caps, an
 * optional required paymaster and a list of {CallPolicy}s, each an allowed (target, selector) pair with a per-call
 * value cap and argument conditions. A session becomes usable for an account in one of two ways:
 *
 * - static: the account calls {enableSession} (in an owner operation);
 * - dynamic: the first operation of the session carries an owner-signed {Grant} (ENABLE mode); the grant is checked
 *   through the account's ERC-1271 `isValidSignature`, the session is enabled and the operation is checked, all in
 *   the same validation.
 *
 * Every check happens during validation, including the debit of uses and value, so the several operations of one
 * bundle (all validated before any executes) can never overspend. A debit stays when the execution later reverts.
 * Policy violations revert with the custom errors of {WarrantErrors} (the EntryPoint reports them as AA23 with the
 * error data); a wrong session signature returns `SIG_VALIDATION_FAILED` (AA24). The time window is returned in
 * the validation data, never read from the block, as ERC-7562 requires.
 *
 * Storage keeps the account as the innermost mapping key so every slot is associated with the sender (ERC-7562).
 * Revocation is per id within an epoch; {revokeAll} and uninstalling bump the epoch, which makes every earlier
 * session, counter and unpresented grant unreachable for good.
 *
 * Sessions have two encodings. The owner signs the EIP-712 {Grant} (structured, readable in a wallet). On chain a
 * session is identified by its *session bytes*, a compact packed encoding built by {sessionBytes} (see
 * `docs/gas.md`), and its id is `keccak256(account ‖ sessionBytes)`. Enabling (statically or by a grant) builds the
 * session bytes from the struct here, so the only session bytes that ever reach an enabled state are the module's
 * own encoding of a session the owner approved; a USE operation then carries just those bytes, which the module
 * hashes into the id and reads in place, with no ABI decoding and no EIP-712 re-hash. The Rust toolkit mirrors both
 * encodings byte for byte.
 */
contract WarrantValidator is IERC7579Validator, EIP712 {
    /**
     * @dev One argument rule: `condition` applied to the head word `argIndex` (after the selector), which holds an
     * argument of ABI type `argType` (codes in `docs/grant-format.md`: uintN, intN, bytesN, address, bool, dynamic).
     * The type makes the validator refuse non-canonical words and compare intN as signed.
     */
    struct ArgCondition {
        uint8 condition;
        uint8 argType;
        uint16 argIndex;
        bytes32[] values;
    }

    /// @dev One allowed call: target and selector (or wildcards through `flags`), value cap and argument rules.
    struct CallPolicy {
        address target;
        bytes4 selector;
        uint8 flags;
        uint256 maxValue;
        ArgCondition[] conditions;
    }

    /**
     * @dev A spend limit on one asset: `token` is an ERC-20 contract, or address 0 for native value. Caps are per
     * period (needs `Scope.period`) and over the session's life; `type(uint128).max` means no cap, 0 means nothing.
     * A finite cap must fit 112 bits. See `docs/spend-limits.md`.
     */
    struct SpendLimit {
        address token;
        uint128 perPeriod;
        uint128 lifetime;
    }

    /**
     * @dev A condition on what the account holds, read in validation: at least `minBalance` of `token`, counted by
     * `balanceOf(account)` (`kind` {GATE_ERC20} or {GATE_ERC721}, `tokenId` 0) or `balanceOf(account, tokenId)`
     * ({GATE_ERC1155}). Both read only storage associated with the account (ERC-7562 STO-021). See `docs/gating.md`.
     */
    struct Gate {
        address token;
        uint8 kind;
        uint256 tokenId;
        uint256 minBalance;
    }

    /// @dev What a session may do. See `docs/grant-format.md` and `docs/spend-limits.md` for each zero value.
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

    /// @dev A session key and its scope; `salt` tells apart sessions of one key with the same scope.
    struct Session {
        address signer;
        bytes32 salt;
        Scope scope;
    }

    /// @dev What the owner signs for a dynamic enable: the session, bound to one account and one epoch.
    struct Grant {
        address account;
        uint64 epoch;
        Session session;
    }

    /**
     * @dev Usage of a session for an account in one epoch, packed in one slot (status in the low byte, then uses, then
     * value spent, then the last period an operation named and the uses counted in it), read and written as one
     * word (see {_stateSlot}). `uses` is counted only for sessions with a `maxUses` cap and `valueSpent` only when
     * value is sent, so an operation with nothing to count writes nothing; the period fields only for sessions with
     * `maxUsesPerPeriod`.
     */
    struct SessionState {
        uint8 status;
        uint32 uses;
        uint128 valueSpent;
        uint32 periodIndex;
        uint32 usesInPeriod;
    }

    /**
     * @dev What spend limit `i` of a session has counted, packed in the word at the session's state slot + 1 + i
     * (associated with the account, ERC-7562): `periodSpent` belongs to period `periodIndex`.
     */
    struct SpendCounter {
        uint32 periodIndex;
        uint112 periodSpent;
        uint112 lifetimeSpent;
    }

    /// @dev Policy flag: the policy matches any target.
    uint8 internal constant ANY_TARGET = 0x01;
    /// @dev Policy flag: the policy matches any selector.
    uint8 internal constant ANY_SELECTOR = 0x02;

    /// @dev Session status values.
    uint8 internal constant STATUS_NONE = 0;
    uint8 internal constant STATUS_ENABLED = 1;
    uint8 internal constant STATUS_REVOKED = 2;

    /// @dev Signature modes (first byte of the module signature).
    uint8 internal constant MODE_USE = 0x00;
    uint8 internal constant MODE_ENABLE = 0x01;

    /**
     * @dev P-256 session keys (first byte of a 129-byte session signature `kind ‖ x ‖ y ‖ r ‖ s`). RAW signs the
     * session digest itself as the ECDSA message hash; WEBCRYPTO signs `sha256(digest)`, since WebCrypto's ECDSA
     * hashes the 32 digest bytes it is given. The session's `signer` is the key's identifier
     * `address(uint160(uint256(keccak256(abi.encodePacked(kind, x, y)))))`, which commits to the kind.
     */
    uint8 internal constant P256_RAW = 1;
    uint8 internal constant P256_WEBCRYPTO = 2;

    /// @dev Condition kinds. 0-5 compare the head word as uint256 with `values[0]`.
    uint8 internal constant COND_EQ = 0;
    uint8 internal constant COND_NEQ = 1;
    uint8 internal constant COND_LT = 2;
    uint8 internal constant COND_LTE = 3;
    uint8 internal constant COND_GT = 4;
    uint8 internal constant COND_GTE = 5;
    uint8 internal constant COND_IN = 6;
    uint8 internal constant COND_LENGTH_LTE = 7;
    uint8 internal constant COND_LENGTH_GTE = 8;
    uint8 internal constant COND_BYTES_HASH_EQ = 9;
    uint8 internal constant COND_ARRAY_HASH_EQ = 10;

    /// @dev Results of {evaluateCondition}.
    uint8 internal constant RESULT_PASS = 0;
    uint8 internal constant RESULT_FAIL = 1;
    uint8 internal constant RESULT_MALFORMED = 2;
    uint8 internal constant RESULT_INVALID = 3;
    uint8 internal constant RESULT_NOT_CANONICAL = 4;

    /// @dev Argument type codes (see {ArgCondition}): uintN at 0x00 + N/8 - 1, intN at 0x20 + N/8 - 1, bytesN at
    /// 0x40 + N - 1, then address, bool and dynamic (the head word is an offset).
    uint8 internal constant ARG_INT = 0x20;
    uint8 internal constant ARG_BYTES = 0x40;
    uint8 internal constant ARG_ADDRESS = 0x60;
    uint8 internal constant ARG_BOOL = 0x61;
    uint8 internal constant ARG_DYNAMIC = 0x62;

    /// @dev Bits of the limits byte of session bytes: which optional scope fields follow (those that are not zero).
    uint256 private constant LIMIT_VALID_AFTER = 0x01;
    uint256 private constant LIMIT_VALID_UNTIL = 0x02;
    uint256 private constant LIMIT_USES = 0x04;
    uint256 private constant LIMIT_VALUE = 0x08;
    uint256 private constant LIMIT_PAYMASTER = 0x10;
    uint256 private constant LIMIT_GAS = 0x20;
    uint256 private constant LIMIT_FEE = 0x40;
    uint256 private constant LIMIT_SPEND = 0x80;

    /// @dev At most this many spend limits: their counters sit at state slot + 1 + i, within ERC-7562's 128.
    uint256 internal constant MAX_SPEND_LIMITS = 127;

    /// @dev {Gate} kinds: which `balanceOf` the gate reads.
    uint8 internal constant GATE_ERC20 = 0;
    uint8 internal constant GATE_ERC721 = 1;
    uint8 internal constant GATE_ERC1155 = 2;

    /// @dev At most this many gates per session: each is one external call in validation.
    uint256 internal constant MAX_GATES = 8;

    /// @dev The size of one gate in session bytes: `kind(1) ‖ token(20) ‖ tokenId(32) ‖ minBalance(32)`.
    uint256 private constant GATE_SIZE = 85;

    /// @dev Uniswap's Permit2, the same address on every chain: it moves tokens the account approved to it.
    address internal constant PERMIT2 = 0x000000000022D473030F116dDEE9F6B43aC78BA3;

    /// @dev A spend cap of this value means "no cap".
    uint128 internal constant NO_CAP = type(uint128).max;

    /// @dev `execute(bytes32,bytes)` of ERC-7579, the only account function a session may call.
    bytes4 internal constant EXECUTE_SELECTOR = 0xe9ae5c53;

    /// @dev EntryPoint v0.8; a session may never call it (deposits, nonces, stake belong to the owner).
    address internal constant ENTRY_POINT = 0x4337084D9E255Ff0702461CF8895CE9E3b5Ff108;

    bytes32 private constant _ARG_CONDITION_TYPE =
        keccak256("ArgCondition(uint8 condition,uint8 argType,uint16 argIndex,bytes32[] values)");

    bytes32 private constant _CALL_POLICY_TYPE = keccak256(
        "CallPolicy(address target,bytes4 selector,uint8 flags,uint256 maxValue,ArgCondition[] conditions)"
        "ArgCondition(uint8 condition,uint8 argType,uint16 argIndex,bytes32[] values)"
    );

    bytes32 private constant _SCOPE_TYPE = keccak256(
        "Scope(uint48 validAfter,uint48 validUntil,uint32 maxUses,uint256 maxValueTotal,address paymaster,"
        "uint128 maxGasLimit,uint128 maxFeePerGas,CallPolicy[] calls,uint32 period,uint48 periodStart,"
        "uint32 maxUsesPerPeriod,SpendLimit[] limits,Gate[] gates)"
        "ArgCondition(uint8 condition,uint8 argType,uint16 argIndex,bytes32[] values)"
        "CallPolicy(address target,bytes4 selector,uint8 flags,uint256 maxValue,ArgCondition[] conditions)"
        "Gate(address token,uint8 kind,uint256 tokenId,uint256 minBalance)"
        "SpendLimit(address token,uint128 perPeriod,uint128 lifetime)"
    );

    bytes32 private constant _SESSION_TYPE = keccak256(
        "Session(address signer,bytes32 salt,Scope scope)"
        "ArgCondition(uint8 condition,uint8 argType,uint16 argIndex,bytes32[] values)"
        "CallPolicy(address target,bytes4 selector,uint8 flags,uint256 maxValue,ArgCondition[] conditions)"
        "Gate(address token,uint8 kind,uint256 tokenId,uint256 minBalance)"
        "Scope(uint48 validAfter,uint48 validUntil,uint32 maxUses,uint256 maxValueTotal,address paymaster,"
        "uint128 maxGasLimit,uint128 maxFeePerGas,CallPolicy[] calls,uint32 period,uint48 periodStart,"
        "uint32 maxUsesPerPeriod,SpendLimit[] limits,Gate[] gates)"
        "SpendLimit(address token,uint128 perPeriod,uint128 lifetime)"
    );

    bytes32 private constant _GRANT_TYPE = keccak256(
        "Grant(address account,uint64 epoch,Session session)"
        "ArgCondition(uint8 condition,uint8 argType,uint16 argIndex,bytes32[] values)"
        "CallPolicy(address target,bytes4 selector,uint8 flags,uint256 maxValue,ArgCondition[] conditions)"
        "Gate(address token,uint8 kind,uint256 tokenId,uint256 minBalance)"
        "Scope(uint48 validAfter,uint48 validUntil,uint32 maxUses,uint256 maxValueTotal,address paymaster,"
        "uint128 maxGasLimit,uint128 maxFeePerGas,CallPolicy[] calls,uint32 period,uint48 periodStart,"
        "uint32 maxUsesPerPeriod,SpendLimit[] limits,Gate[] gates)" "Session(address signer,bytes32 salt,Scope scope)"
        "SpendLimit(address token,uint128 perPeriod,uint128 lifetime)"
    );

    bytes32 private constant _SPEND_LIMIT_TYPE =
        keccak256("SpendLimit(address token,uint128 perPeriod,uint128 lifetime)");

    bytes32 private constant _GATE_TYPE =
        keccak256("Gate(address token,uint8 kind,uint256 tokenId,uint256 minBalance)");

    mapping(address account => uint256) private _epochs;
    // Session states live at `keccak256(abi.encode(account, keccak256(abi.encode(id, epoch))))`: the account is the
    // outer hashed word, so every slot is associated with it (ERC-7562). See {_stateSlot}.

    /// @dev Emitted when session `id` is enabled for `account` (statically or by a grant).
    event SessionEnabled(address indexed account, bytes32 indexed id, address indexed signer);

    /// @dev Emitted when `account` revokes session `id` for its current epoch.
    event SessionRevoked(address indexed account, bytes32 indexed id);

    /// @dev Emitted when `account` revokes every session at once (also on uninstall), moving to `newEpoch`.
    event AllSessionsRevoked(address indexed account, uint256 newEpoch);

    /// @dev Sets the EIP-712 domain ("Warrant", "1") of grants.
    constructor() EIP712("Warrant", "1") {}

    // ---------------------------------------------------------------- ERC-7579 module

    /// @dev Only a validator (type 1).
    function isModuleType(uint256 moduleTypeId) external pure returns (bool) {
        return moduleTypeId == MODULE_TYPE_VALIDATOR;
    }

    /// @dev Nothing to set up: sessions are enabled one by one afterwards.
    function onInstall(bytes calldata) external {}

    /// @dev Bumps the epoch so that a later reinstall resurrects no session, counter or grant.
    function onUninstall(bytes calldata) external {
        _revokeAll(msg.sender);
    }

    // ---------------------------------------------------------------- static delegation and revocation

    /// @dev Enables `session` for the calling account (static delegation). A revoked id stays revoked.
    function enableSession(Session calldata session) external returns (bytes32 id) {
        address account = msg.sender;
        id = _sessionId(account, _encodeSession(session));
        uint256 slot = _stateSlot(account, id, _epochs[account]);
        uint256 state = _load(slot);
        uint256 status = uint8(state);
        if (status == STATUS_REVOKED) revert WarrantErrors.SessionRevoked(id);
        if (status == STATUS_NONE) {
            _store(slot, state | STATUS_ENABLED);
            emit SessionEnabled(account, id, session.signer);
        }
    }

    /**
     * @dev Revokes session `id` of the calling account for the current epoch. Works on ids never enabled too, which
     * cancels a grant not yet presented. A revoked id can't be enabled again in this epoch, so its counters never
     * come back.
     */
    function revokeSession(bytes32 id) external {
        address account = msg.sender;
        uint256 slot = _stateSlot(account, id, _epochs[account]);
        _store(slot, (_load(slot) & ~uint256(0xff)) | STATUS_REVOKED);
        emit SessionRevoked(account, id);
    }

    /// @dev Revokes every session and every unpresented grant of the calling account by moving to a new epoch.
    function revokeAll() external {
        _revokeAll(msg.sender);
    }

    // ---------------------------------------------------------------- validation

    /**
     * @dev Validates a session operation of the calling account. The signature is one mode byte, the 4-byte period
     * index the operation names, then `w(len(sessionBytes)) ‖ sessionBytes ‖ sessionSignature` (USE, `w` as in
     * {_encodeSession}) or `abi.encode(Grant, bytes ownerSignature, bytes sessionSignature)` (ENABLE). The nonce is
     * never read, so periods work whatever nonce-key layout the account uses. Returns the session window and the
     * result of the session signature check.
     */
    function validateUserOp(PackedUserOperation calldata userOp, bytes32 userOpHash) external returns (uint256) {
        bytes calldata signature = userOp.signature;
        if (signature.length == 0) return ERC4337Utils.SIG_VALIDATION_FAILED;
        uint256 mode;
        assembly ("memory-safe") {
            mode := byte(0, calldataload(signature.offset)) // the length is not zero
        }
        if (mode == MODE_USE) return _validateUse(userOp, userOpHash, signature);
        if (mode == MODE_ENABLE) return _validateEnable(userOp, userOpHash, signature);
        return ERC4337Utils.SIG_VALIDATION_FAILED;
    }

    /// @dev Session keys never produce ERC-1271 signatures: they would escape every on-chain limit.
    function isValidSignatureWithSender(address, bytes32, bytes calldata) external pure returns (bytes4) {
        return 0xffffffff;
    }

    // ---------------------------------------------------------------- views

    /// @dev The 32-byte id of `session` for `account`: `keccak256(account ‖ sessionBytes(session))`.
    function sessionId(address account, Session calldata session) external pure returns (bytes32) {
        return _sessionId(account, _encodeSession(session));
    }

    /**
     * @dev The session bytes of `session`: what a USE operation carries and what its id hashes (layout in
     * {_encodeSession}).
     */
    function sessionBytes(Session calldata session) external pure returns (bytes memory) {
        return _encodeSession(session);
    }

    /// @dev The EIP-712 digest (domain "Warrant" "1", this contract) the owner's account signature must cover.
    function grantDigest(Grant calldata grant) external view returns (bytes32) {
        return _grantDigest(grant);
    }

    /**
     * @dev What the session key signs (no prefix; a WebCrypto P-256 key signs its SHA-256, {_p256Signer}) in a USE
     * operation: `keccak256(0x00 ‖ userOpHash ‖ id ‖ period(4))`, `period` being the period index the operation
     * names (0 for a session without a period).
     */
    function useDigest(bytes32 userOpHash, bytes32 id, uint32 period) external pure returns (bytes32) {
        return _useDigest(userOpHash, id, period);
    }

    /**
     * @dev What the session key signs in an ENABLE operation: `keccak256(0x01 ‖ userOpHash ‖ id ‖ period(4) ‖
     * grantDigest)`, `grantDigest` as returned by {grantDigest}.
     */
    function enableDigest(bytes32 userOpHash, bytes32 id, uint32 period, bytes32 digestOfGrant)
        external
        pure
        returns (bytes32)
    {
        return _enableDigest(userOpHash, id, period, digestOfGrant);
    }

    /// @dev EIP-712 `hashStruct(grant)`; the `contents` hash of the ERC-7739 wrapped owner signature.
    function grantHash(Grant calldata grant) external pure returns (bytes32) {
        return _hashGrant(grant);
    }

    /// @dev EIP-712 `hashStruct(scope)`.
    function scopeHash(Scope calldata scope) external pure returns (bytes32) {
        return _hashScope(scope);
    }

    /**
     * @dev State of session `id` for `account` in its current epoch. `uses` counts operations only for a session
     * with a `maxUses` cap (it stays 0 for an unlimited one); `valueSpent` is the native value debited so far.
     */
    function sessionState(address account, bytes32 id)
        external
        view
        returns (uint8 status, uint32 uses, uint128 valueSpent)
    {
        uint256 state = _load(_stateSlot(account, id, _epochs[account]));
        return (uint8(state), uint32(state >> 8), uint128(state >> 40));
    }

    /// @dev Period counters of session `id` for `account` in its current epoch, kept for a session with
    /// `maxUsesPerPeriod` only: the last period an operation named and the operations counted in it.
    function periodState(address account, bytes32 id) external view returns (uint32 periodIndex, uint32 usesInPeriod) {
        uint256 state = _load(_stateSlot(account, id, _epochs[account]));
        return (uint32(state >> 168), uint32(state >> 200));
    }

    /**
     * @dev Counters of spend limit `limitIndex` (below {MAX_SPEND_LIMITS}) of session `id` for `account` in its
     * current epoch. `periodSpent` belongs to period `periodIndex`; a later period starts from zero.
     */
    function spendState(address account, bytes32 id, uint256 limitIndex)
        external
        view
        returns (uint32 periodIndex, uint112 periodSpent, uint112 lifetimeSpent)
    {
        if (limitIndex >= MAX_SPEND_LIMITS) return (0, 0, 0);
        uint256 c = _load(_stateSlot(account, id, _epochs[account]) + 1 + limitIndex);
        return (uint32(c), uint112(c >> 32), uint112(c >> 144));
    }

    /// @dev Current epoch of `account`; a grant must name it.
    function epochOf(address account) external view returns (uint256) {
        return _epochs[account];
    }

    /**
     * @dev Evaluates one argument condition on `callData` (selector included): {RESULT_PASS}, {RESULT_FAIL},
     * {RESULT_MALFORMED} (argument out of bounds), {RESULT_INVALID} (ill-formed condition) or {RESULT_NOT_CANONICAL}
     * (the argument word is not a canonical encoding of the condition's type). Exposed so that
     * off-chain pre-flight can be checked against the on-chain rule; it runs the very code validation runs, on the
     * condition's session-bytes encoding.
     */
    function evaluateCondition(bytes calldata callData, ArgCondition calldata condition) external pure returns (uint8) {
        bytes memory buffer = new bytes(4 + 33 + 33 * condition.values.length + 32);
        uint256 q;
        assembly ("memory-safe") {
            q := add(buffer, 0x20)
        }
        _putCondition(q, condition);
        (uint256 result,,,) = _checkConditions(callData, q, 1);
        return uint8(result);
    }

    // ---------------------------------------------------------------- internal: the two modes

    /**
     * @dev USE: `0x00 ‖ period(4) ‖ w(len(sessionBytes)) ‖ sessionBytes ‖ sessionSignature` (`w` as in
     * {_encodeSession}). The session bytes are copied to memory right after the account's 20 bytes and hashed in
     * place into the id, then read where they lie: no ABI decoding, no EIP-712 hashing. Only session bytes built by
     * {_encodeSession} at enable time can have an enabled state (the id is their hash), so everything read after the
     * status check is well formed. The session key signs {useDigest}, which binds the id and the period: a relayer
     * can't re-point the operation to another session of the same key, nor to another period.
     */
    function _validateUse(PackedUserOperation calldata userOp, bytes32 userOpHash, bytes calldata signature)
        private
        returns (uint256)
    {
        address account = msg.sender;
        bool malformed;
        uint256 session;
        bytes32 id;
        uint256 period;
        bytes calldata sessionSignature = signature[0:0];
        assembly ("memory-safe") {
            // mode(1) ‖ period(4) ‖ w(length): one byte n <= 32, then n big-endian bytes.
            period := shr(224, calldataload(add(signature.offset, 1)))
            let n := byte(0, calldataload(add(signature.offset, 5)))
            let length := shr(shl(3, sub(32, n)), calldataload(add(signature.offset, 6)))
            let start := add(6, n)
            malformed := or(or(lt(signature.length, 6), gt(n, 32)), gt(length, signature.length))
            malformed := or(malformed, gt(add(start, length), signature.length))
            if iszero(malformed) {
                let buffer := mload(0x40)
                mstore(buffer, shl(96, account))
                session := add(buffer, 20)
                calldatacopy(session, add(signature.offset, start), length)
                id := keccak256(buffer, add(20, length))
                // A zero word after the copy keeps reads of the last fields inside allocated memory.
                let end := add(session, length)
                mstore(end, 0)
                mstore(0x40, and(add(end, 63), not(31)))
                sessionSignature.offset := add(add(signature.offset, start), length)
                sessionSignature.length := sub(signature.length, add(start, length))
            }
        }
        if (malformed) revert WarrantErrors.MalformedSessionSignature();
        uint256 slot = _stateSlot(account, id, _epochs[account]);
        uint256 state = _load(slot);
        uint256 status = uint8(state);
        if (status == STATUS_NONE) revert WarrantErrors.SessionNotEnabled(id);
        if (status == STATUS_REVOKED) revert WarrantErrors.SessionRevoked(id);
        address recovered = _sessionSignerCalldata(_useDigest(userOpHash, id, uint32(period)), sessionSignature);
        return _checkSession(userOp, session, slot, state, false, recovered, uint32(period));
    }

    /**
     * @dev ENABLE: `0x01 ‖ period(4) ‖ abi.encode(Grant, bytes ownerSignature, bytes sessionSignature)`. Checks the
     * owner's grant through the account's ERC-1271, enables the session, then checks the op. The session key signs
     * {enableDigest}, which binds the grant's digest too: a relayer can't swap in another grant for the same key.
     */
    function _validateEnable(PackedUserOperation calldata userOp, bytes32 userOpHash, bytes calldata signature)
        private
        returns (uint256)
    {
        address account = msg.sender;
        uint32 period = uint32(bytes4(signature[1:5]));
        (Grant memory grant, bytes memory ownerSignature, bytes memory sessionSignature) =
            abi.decode(signature[5:], (Grant, bytes, bytes));
        if (grant.account != account) revert WarrantErrors.GrantAccountMismatch(grant.account, account);
        uint256 currentEpoch = _epochs[account];
        if (grant.epoch != currentEpoch) revert WarrantErrors.GrantEpochStale(grant.epoch, currentEpoch);
        bytes32 digest = _grantDigest(grant);
        if (!SignatureChecker.isValidERC1271SignatureNow(account, digest, ownerSignature)) {
            revert WarrantErrors.InvalidOwnerSignature();
        }
        bytes memory encoded = _encodeSession(grant.session);
        bytes32 id = _sessionId(account, encoded);
        uint256 slot = _stateSlot(account, id, currentEpoch);
        uint256 state = _load(slot);
        uint256 status = uint8(state);
        if (status == STATUS_REVOKED) revert WarrantErrors.SessionRevoked(id);
        bool enabling = status == STATUS_NONE;
        if (enabling) {
            state |= STATUS_ENABLED;
            emit SessionEnabled(account, id, grant.session.signer);
        }
        address recovered = _sessionSigner(_enableDigest(userOpHash, id, period, digest), sessionSignature);
        uint256 session;
        assembly ("memory-safe") {
            session := add(encoded, 0x20)
        }
        return _checkSession(userOp, session, slot, state, enabling, recovered, period);
    }

    /// @dev `keccak256(0x00 ‖ userOpHash ‖ id ‖ period(4))`, hashed in scratch space and the free memory.
    function _useDigest(bytes32 userOpHash, bytes32 id, uint32 period) private pure returns (bytes32 digest) {
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, shl(248, 0x00))
            mstore(add(m, 1), userOpHash)
            mstore(add(m, 33), id)
            mstore(add(m, 65), shl(224, period))
            digest := keccak256(m, 69)
        }
    }

    /// @dev `keccak256(0x01 ‖ userOpHash ‖ id ‖ period(4) ‖ grantDigest)`.
    function _enableDigest(bytes32 userOpHash, bytes32 id, uint32 period, bytes32 digestOfGrant)
        private
        pure
        returns (bytes32)
    {
        return keccak256(abi.encodePacked(uint8(MODE_ENABLE), userOpHash, id, period, digestOfGrant));
    }

    // ---------------------------------------------------------------- internal: checks

    /**
     * @dev Runs every rule of the session bytes at `session` on `userOp`, debits the session's slot when something is
     * counted (or when `write` asks for it) and returns the validation data: the session window, and a signature
     * failure unless `recovered` is the session's signer. `period` is the period index the operation names.
     */
    function _checkSession(
        PackedUserOperation calldata userOp,
        uint256 session,
        uint256 slot,
        uint256 state,
        bool write,
        address recovered,
        uint32 period
    ) private returns (uint256) {
        // signer(20) ‖ limits(1) ‖ the limits present, in bit order ‖ w(policyCount) ‖ policies ‖ w(salt)
        uint256 limits;
        uint256 maxUses;
        uint256 maxValueTotal;
        uint256 q;
        // A bad session signature is reported, not reverted, so bundlers can tell it apart (AA24). All the checks
        // below still run with a dummy signature, which keeps gas estimation faithful. The session window and the
        // signature result are packed together here; the period window (a second source) goes through
        // {_intersectValidationData}.
        uint256 validationData;
        assembly ("memory-safe") {
            let w := mload(session)
            limits := byte(20, w)
            // ERC4337Utils.packValidationData(!sigFailed, validAfter, validUntil), both times 48-bit by encoding.
            validationData := or(iszero(recovered), iszero(eq(recovered, shr(96, w))))
            q := add(session, 21)
            if and(limits, 0x01) {
                // validAfter(6) into bits 208-255
                validationData := or(validationData, and(mload(q), shl(208, 0xffffffffffff)))
                q := add(q, 6)
            }
            if and(limits, 0x02) {
                // validUntil(6) into bits 160-207
                validationData := or(validationData, shr(48, and(mload(q), shl(208, 0xffffffffffff))))
                q := add(q, 6)
            }
            if and(limits, 0x04) {
                maxUses := shr(224, mload(q))
                q := add(q, 4)
            }
            if and(limits, 0x08) {
                let n := byte(0, mload(q))
                maxValueTotal := shr(shl(3, sub(32, n)), mload(add(q, 1)))
                q := add(add(q, 1), n)
            }
        }
        if (maxUses != 0) {
            uint256 uses = uint32(state >> 8);
            if (uses >= maxUses) revert WarrantErrors.UsesExhausted(uint32(uses), uint32(maxUses));
            // uses < maxUses < 2^32: the 32-bit field can't overflow.
            state += 1 << 8;
            write = true;
        }
        uint256 gasCost;
        (q, gasCost) = _checkGas(q, limits, userOp, (validationData & 1) == 0);
        if (limits & LIMIT_SPEND != 0) {
            return _checkSpendSession(userOp, q, slot, state, write, maxValueTotal, validationData, gasCost, period);
        }

        // Without a spend section: the calls, then the session's value total.
        uint256 policyCount;
        assembly ("memory-safe") {
            let n := byte(0, mload(q))
            policyCount := shr(shl(3, sub(32, n)), mload(add(q, 1)))
            q := add(add(q, 1), n)
        }
        // Gas the account pays is native outflow like the calls' value (saturating: the cap check then fails).
        uint256 valueTotal = _satAdd(_checkCalls(q, policyCount, userOp.callData), gasCost);
        if (valueTotal != 0) {
            state = _debitValue(state, valueTotal, maxValueTotal);
            write = true;
        }
        // Debited in validation: every op of a bundle is validated before any executes.
        if (write) _store(slot, state);
        return validationData;
    }

    /**
     * @dev The rest of {_checkSession} for session bytes with a spend section at `spend`: the calls, the spend
     * limits counted over them, the value total, then the period rules and limits; returns `validationData`
     * intersected with the period window.
     */
    function _checkSpendSession(
        PackedUserOperation calldata userOp,
        uint256 spend,
        uint256 slot,
        uint256 state,
        bool write,
        uint256 maxValueTotal,
        uint256 validationData,
        uint256 gasCost,
        uint32 period
    ) private returns (uint256) {
        // Spend section: period(4) ‖ periodStart(6) ‖ maxUsesPerPeriod(4) ‖ w(limitCount) ‖ limit* (52 bytes each)
        // ‖ w(gateCount) ‖ gate* (GATE_SIZE bytes each).
        uint256 q;
        uint256 limitCount;
        uint256 gates;
        uint256 gateCount;
        assembly ("memory-safe") {
            let n := byte(0, mload(add(spend, 14)))
            limitCount := shr(shl(3, sub(32, n)), mload(add(spend, 15)))
            q := add(add(add(spend, 15), n), mul(limitCount, 52))
            n := byte(0, mload(q))
            gateCount := shr(shl(3, sub(32, n)), mload(add(q, 1)))
            gates := add(add(q, 1), n)
            q := add(gates, mul(gateCount, GATE_SIZE))
        }
        // One amount per spend limit, summed over the calls (native value is added by {_debitSpend}).
        uint256[] memory amounts = new uint256[](limitCount);

        uint256 policyCount;
        assembly ("memory-safe") {
            let n := byte(0, mload(q))
            policyCount := shr(shl(3, sub(32, n)), mload(add(q, 1)))
            q := add(add(q, 1), n)
        }
        uint256 valueTotal = _satAdd(_checkCalls(q, policyCount, userOp.callData), gasCost);
        // A second pass over the calls (all permitted and well formed by now) for the spend limits only, so that
        // sessions without limits run exactly the checks above.
        if (limitCount != 0) _accountCalls(userOp.callData, _spendLimits(spend), amounts);

        if (valueTotal != 0) {
            state = _debitValue(state, valueTotal, maxValueTotal);
            write = true;
        }
        (uint256 newState, bool periodWrite, uint256 periodWindow) =
            _debitSpend(spend, state, period, amounts, valueTotal, slot);
        if (gateCount != 0) _checkGates(gates, gateCount);
        // Debited in validation: every op of a bundle is validated before any executes.
        if (write || periodWrite) _store(slot, newState);
        // The period window is a second source of time limits: intersected, never overwritten.
        return periodWindow == 0 ? validationData : _intersectValidationData(validationData, periodWindow);
    }

    /**
     * @dev Checks the `n` gates at `p`: the account (the caller) must hold each gate's `minBalance`. Reads only
     * `balanceOf(account)` or `balanceOf(account, id)`, storage associated with the account (ERC-7562 STO-021).
     */
    function _checkGates(uint256 p, uint256 n) private view {
        for (uint256 i = 0; i < n; ++i) {
            uint256 kind;
            address token;
            uint256 tokenId;
            uint256 minBalance;
            assembly ("memory-safe") {
                let g := add(p, mul(i, GATE_SIZE))
                kind := byte(0, mload(g))
                token := shr(96, mload(add(g, 1)))
                tokenId := mload(add(g, 21))
                minBalance := mload(add(g, 53))
            }
            (bool ok, uint256 balance) = _balanceOf(token, kind, tokenId);
            if (!ok) revert WarrantErrors.GateUnreadable(i, token);
            if (balance < minBalance) revert WarrantErrors.GateNotHeld(i, token, balance, minBalance);
        }
    }

    /**
     * @dev The caller's balance of `token`: `balanceOf(address)` (0x70a08231), or `balanceOf(address,uint256)`
     * (0x00fdd58e) for an ERC-1155 gate. Fails unless the call succeeds with at least one word; only that word is
     * copied, so a token can't make validation copy a large return.
     */
    function _balanceOf(address token, uint256 kind, uint256 tokenId) private view returns (bool ok, uint256 held) {
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, shl(224, 0x70a08231))
            let size := 0x24
            if eq(kind, GATE_ERC1155) {
                mstore(m, shl(224, 0x00fdd58e))
                mstore(add(m, 0x24), tokenId)
                size := 0x44
            }
            mstore(add(m, 0x04), caller())
            ok := staticcall(gas(), token, m, size, 0x00, 0x20)
            ok := and(ok, gt(returndatasize(), 0x1f))
            held := mload(0x00)
        }
    }

    /// @dev `state` with `valueTotal` more value spent, within the session's `maxValueTotal`.
    function _debitValue(uint256 state, uint256 valueTotal, uint256 maxValueTotal) private pure returns (uint256) {
        uint256 spent = _satAdd(uint128(state >> 40), valueTotal);
        if (spent > maxValueTotal) revert WarrantErrors.SessionValueExceeded(spent, maxValueTotal);
        if (spent > type(uint128).max) revert WarrantErrors.SessionValueExceeded(spent, type(uint128).max);
        return (state & ~(uint256(type(uint128).max) << 40)) | (spent << 40);
    }

    /**
     * @dev The paymaster, gas and fee limits at `q`; returns the position after them and the gas cost the account
     * may pay, which counts as native value: the op's maximum prefund `(verificationGasLimit + callGasLimit +
     * preVerificationGas) × maxFeePerGas` (saturating) when no paymaster pays, 0 when the pinned one does. A session
     * without a pinned paymaster may name none. When `signatureValid` is false (a bundler estimating with a dummy
     * signature: the op can't be included) the gas and fee caps are skipped and the cost is counted as 1, so the
     * state write and the gas used stay those of the real op.
     */
    function _checkGas(uint256 q, uint256 limits, PackedUserOperation calldata userOp, bool signatureValid)
        private
        pure
        returns (uint256, uint256 gasCost)
    {
        address paymaster;
        uint256 maxGasLimit;
        uint256 maxFeePerGas;
        assembly ("memory-safe") {
            if and(limits, 0x10) {
                paymaster := shr(96, mload(q))
                q := add(q, 20)
            }
            if and(limits, 0x20) {
                maxGasLimit := shr(128, mload(q))
                q := add(q, 16)
            }
            if and(limits, 0x40) {
                maxFeePerGas := shr(128, mload(q))
                q := add(q, 16)
            }
        }
        bytes calldata pmd = userOp.paymasterAndData;
        if (paymaster != address(0)) {
            if (pmd.length < 20 || address(bytes20(pmd[0:20])) != paymaster) {
                revert WarrantErrors.PaymasterRequired(paymaster);
            }
        } else {
            if (pmd.length != 0) {
                revert WarrantErrors.PaymasterNotPermitted(pmd.length < 20 ? address(0) : address(bytes20(pmd[0:20])));
            }
            gasCost = signatureValid ? _prefund(userOp) : 1;
        }
        if (!signatureValid) return (q, gasCost);
        if (maxGasLimit != 0) {
            // Four 128-bit terms can't overflow; preVerificationGas is a full word, so saturate it.
            uint256 total = ERC4337Utils.verificationGasLimit(userOp) + ERC4337Utils.callGasLimit(userOp)
                + ERC4337Utils.paymasterVerificationGasLimit(userOp) + ERC4337Utils.paymasterPostOpGasLimit(userOp);
            total = _satAdd(total, userOp.preVerificationGas);
            if (total > maxGasLimit) revert WarrantErrors.GasLimitExceeded(total, maxGasLimit);
        }
        if (maxFeePerGas != 0) {
            uint256 fee = ERC4337Utils.maxFeePerGas(userOp);
            if (fee > maxFeePerGas) revert WarrantErrors.MaxFeePerGasExceeded(fee, maxFeePerGas);
        }
        return (q, gasCost);
    }

    /// @dev The most the EntryPoint charges an op without a paymaster, in 256 bits, saturating at `2^256 - 1`.
    function _prefund(PackedUserOperation calldata userOp) private pure returns (uint256) {
        // Two 128-bit limits plus a full word: saturate the sum, then the product.
        uint256 gas = _satAdd(
            ERC4337Utils.verificationGasLimit(userOp) + ERC4337Utils.callGasLimit(userOp), userOp.preVerificationGas
        );
        uint256 fee = ERC4337Utils.maxFeePerGas(userOp);
        unchecked {
            if (fee != 0 && gas > type(uint256).max / fee) return type(uint256).max;
            return gas * fee;
        }
    }

    /// @dev Checks the account call and every inner call; returns the native value they send in total.
    function _checkCalls(uint256 policies, uint256 policyCount, bytes calldata callData)
        private
        view
        returns (uint256 valueTotal)
    {
        // Only `execute(bytes32,bytes)`: `executeUserOp`, `installModule` and every other entry are refused.
        bool ok;
        assembly ("memory-safe") {
            ok := and(gt(callData.length, 3), eq(shr(224, calldataload(callData.offset)), 0xe9ae5c53))
        }
        if (!ok) revert WarrantErrors.UnsupportedAccountCall(bytes4(callData));
        // Canonical encoding only, so that the account's ABI decoder reads exactly the bytes checked here: the
        // offset word is 0x40 and the calldata ends with the padded bytes, nothing after them.
        bytes32 mode;
        bytes calldata executionCalldata;
        assembly ("memory-safe") {
            let length := calldataload(add(callData.offset, 68))
            ok := and(gt(callData.length, 99), eq(calldataload(add(callData.offset, 36)), 0x40))
            ok := and(ok, iszero(gt(length, 0xffffffff)))
            ok := and(ok, eq(callData.length, add(100, and(add(length, 31), not(31)))))
            mode := calldataload(add(callData.offset, 4))
            executionCalldata.offset := add(callData.offset, 100)
            executionCalldata.length := length
        }
        if (!ok) revert WarrantErrors.MalformedCalldata();

        if (mode == bytes32(0)) {
            // Single call, revert on failure: `target(20) ‖ value(32) ‖ callData`, as ERC7579Utils.decodeSingle.
            if (executionCalldata.length < 52) revert WarrantErrors.MalformedCalldata();
            address target;
            uint256 value;
            bytes calldata data;
            assembly ("memory-safe") {
                target := shr(96, calldataload(executionCalldata.offset))
                value := calldataload(add(executionCalldata.offset, 20))
                data.offset := add(executionCalldata.offset, 52)
                data.length := sub(executionCalldata.length, 52)
            }
            _checkCall(policies, policyCount, 0, target, value, data);
            return value;
        } else if (mode == bytes32(bytes1(0x01))) {
            // Batch, revert on failure, in canonical encoding only (see {_batchLength}).
            uint256 n = _batchLength(executionCalldata);
            for (uint256 i = 0; i < n; ++i) {
                (address target, uint256 value, bytes calldata data) = _batchElement(executionCalldata, i);
                _checkCall(policies, policyCount, i, target, value, data);
                valueTotal = _satAdd(valueTotal, value);
            }
        } else {
            // Delegatecall, static call and try modes, and any non-zero selector or payload.
            revert WarrantErrors.UnsupportedExecutionMode(mode);
        }
    }

    /**
     * @dev The number of calls of the batch `ec`, which must be the canonical ABI encoding of `Execution[]` and
     * nothing else: array offset 0x20, 1 to 2^32 elements, element heads in order with no gap, each element
     * `target ‖ value ‖ 0x60 ‖ length ‖ padded content` with a clean address, and the last element ending exactly at
     * the end of `ec`. Every position is bounded against `ec` itself (never against the rest of the validator's
     * calldata, which holds other fields of the op) and every quantity to 32 bits before it is added, so nothing
     * wraps: the account's decoder then reads exactly the calls checked here. Reverts {MalformedCalldata}, or
     * {EmptyBatch} for an empty array. The Rust evaluator mirrors this order.
     */
    function _batchLength(bytes calldata ec) private pure returns (uint256 n) {
        bool ok;
        assembly ("memory-safe") {
            let length := ec.length
            ok := and(gt(length, 63), eq(calldataload(ec.offset), 0x20))
            if ok { n := calldataload(add(ec.offset, 32)) }
        }
        if (!ok) revert WarrantErrors.MalformedCalldata();
        if (n == 0) revert WarrantErrors.EmptyBatch();
        assembly ("memory-safe") {
            let length := ec.length
            // 64 + 32n <= length for the heads; n <= 2^32 keeps every sum below far from wrapping.
            ok := and(iszero(gt(n, 0x100000000)), iszero(gt(add(64, shl(5, n)), length)))
            // o: the offset (from the heads) element i must start at; 32n for the first.
            let o := shl(5, n)
            for { let i := 0 } and(ok, lt(i, n)) { i := add(i, 1) } {
                ok := eq(calldataload(add(ec.offset, add(64, shl(5, i)))), o)
                let e := add(64, o)
                // The element's four words lie inside ec (o < 2^70, so e + 128 can't wrap).
                ok := and(ok, iszero(gt(add(e, 128), length)))
                if ok {
                    let p := add(ec.offset, e)
                    let dataLength := calldataload(add(p, 96))
                    ok := and(iszero(shr(160, calldataload(p))), eq(calldataload(add(p, 64)), 0x60))
                    ok := and(ok, iszero(gt(dataLength, 0xffffffff)))
                    o := add(add(o, 128), and(add(dataLength, 31), not(31)))
                    // The padded content inside ec too.
                    ok := and(ok, iszero(gt(add(64, o), length)))
                }
            }
            ok := and(ok, eq(add(64, o), length))
        }
        if (!ok) revert WarrantErrors.MalformedCalldata();
    }

    /// @dev Element `i` of the batch `ec`, which {_batchLength} has checked.
    function _batchElement(bytes calldata ec, uint256 i)
        private
        pure
        returns (address target, uint256 value, bytes calldata data)
    {
        assembly ("memory-safe") {
            let p := add(add(ec.offset, 64), calldataload(add(ec.offset, add(64, shl(5, i)))))
            target := calldataload(p)
            value := calldataload(add(p, 32))
            data.length := calldataload(add(p, 96))
            data.offset := add(p, 128)
        }
    }

    /**
     * @dev Checks call `index` (made by the calling account) against the policies at `policies`: `target(20) ‖
     * selector(4) ‖ flags(1) ‖ w(maxValue) ‖ w(conditionCount) ‖ conditions`. The first matching policy decides.
     */
    function _checkCall(
        uint256 policies,
        uint256 policyCount,
        uint256 index,
        address target,
        uint256 value,
        bytes calldata data
    ) private view {
        // Address 0 too: OpenZeppelin's ERC-7579 execution runs a call to target 0 on the account itself.
        bool forbidden;
        assembly ("memory-safe") {
            forbidden := or(
                or(eq(target, caller()), iszero(target)),
                or(eq(target, address()), eq(target, 0x4337084D9E255Ff0702461CF8895CE9E3b5Ff108))
            )
        }
        if (forbidden) revert WarrantErrors.ForbiddenTarget(index, target);
        uint256 dataLength = data.length;
        bool short;
        assembly ("memory-safe") {
            short := lt(sub(dataLength, 1), 3) // 1 to 3 bytes; 0 wraps around
        }
        if (short) revert WarrantErrors.CalldataTooShort(index);
        bool found;
        uint256 maxValue;
        uint256 conditionCount;
        uint256 q = policies;
        // The selector, as a number; zero for empty calldata (plain transfer or receive).
        uint256 wanted;
        assembly ("memory-safe") {
            if dataLength {
                wanted := shr(224, calldataload(data.offset))
                // A zero-selector policy means "empty calldata" (plain transfers): calldata that merely starts with
                // four zero bytes gets a `wanted` no policy selector can equal (only ANY_SELECTOR matches it).
                if iszero(wanted) { wanted := 0x100000000 }
            }
            for { let p := 0 } lt(p, policyCount) { p := add(p, 1) } {
                let w := mload(q)
                let flags := byte(24, w)
                let n := byte(0, mload(add(q, 25)))
                let next := add(add(q, 26), n)
                let cn := byte(0, mload(next))
                let count := shr(shl(3, sub(32, cn)), mload(add(next, 1)))
                next := add(add(next, 1), cn)
                // Both sides are 0 or 1, so `and` is the logical and (ANY_TARGET = 1, ANY_SELECTOR = 2).
                if and(
                    or(and(flags, 1), eq(shr(96, w), target)),
                    or(shr(1, and(flags, 2)), eq(and(shr(64, w), 0xffffffff), wanted))
                ) {
                    found := 1
                    maxValue := shr(shl(3, sub(32, n)), mload(add(q, 26)))
                    conditionCount := count
                    q := next
                    break
                }
                // Skip the conditions of a policy that does not match.
                for { let c := 0 } lt(c, count) { c := add(c, 1) } {
                    let vn := byte(0, mload(add(next, 4)))
                    let values := shr(shl(3, sub(32, vn)), mload(add(next, 5)))
                    next := add(add(next, 5), vn)
                    for { let k := 0 } lt(k, values) { k := add(k, 1) } {
                        next := add(add(next, 1), byte(0, mload(next)))
                    }
                }
                q := next
            }
        }
        // First match wins; a later, looser policy can't be used to bypass this one.
        if (!found) revert WarrantErrors.CallNotPermitted(index, target, bytes4(uint32(wanted)));
        if (value > maxValue) revert WarrantErrors.CallValueExceeded(index, value, maxValue);
        (uint256 result, uint256 c, uint256 kind, uint256 argIndex) = _checkConditions(data, q, conditionCount);
        if (result != RESULT_PASS) {
            if (result == RESULT_INVALID) revert WarrantErrors.InvalidCondition(index, c);
            if (result == RESULT_MALFORMED) revert WarrantErrors.ArgumentMalformed(index, uint16(argIndex));
            if (result == RESULT_NOT_CANONICAL) revert WarrantErrors.ArgumentNotCanonical(index, uint16(argIndex));
            revert WarrantErrors.ArgumentConditionFailed(index, uint16(argIndex), uint8(kind));
        }
    }

    /**
     * @dev Evaluates the `count` conditions at `q` (each `condition(1) ‖ argType(1) ‖ argIndex(2) ‖ w(valueCount) ‖
     * w(value)*`) on `data`, in order, up to the first that does not pass. Returns its result ({RESULT_PASS} when all
     * pass), its index, kind and argument index. Per condition: well-formedness ({RESULT_INVALID}), bounds
     * ({RESULT_MALFORMED}), the argument word canonical for its type ({RESULT_NOT_CANONICAL}), then the comparison.
     * Conditions on head words run here; those on dynamic arguments in {_evaluateDynamic}. The Rust evaluator
     * mirrors this order.
     */
    function _checkConditions(bytes calldata data, uint256 q, uint256 count)
        private
        pure
        returns (uint256 result, uint256 c, uint256 kind, uint256 argIndex)
    {
        while (true) {
            uint256 word;
            uint256 ref;
            uint256 next;
            assembly ("memory-safe") {
                // Whether `x` is the canonical ABI word of a value of type `t` (a head type, below 0x62): the bits a
                // narrower type leaves out are zero (uintN, address, bool, bytesN) or copies of the sign bit (intN).
                // A target that masks or sign-extends then sees exactly the value compared here.
                function canonical(t, x) -> ok {
                    switch lt(t, 0x20)
                    case 1 { ok := iszero(shr(shl(3, add(t, 1)), x)) }
                    default {
                        switch lt(t, 0x40)
                        case 1 { ok := eq(x, signextend(sub(t, 0x20), x)) }
                        default {
                            switch lt(t, 0x60)
                            case 1 { ok := iszero(shl(shl(3, sub(t, 0x3f)), x)) }
                            default { ok := or(and(eq(t, 0x60), iszero(shr(160, x))), and(eq(t, 0x61), lt(x, 2))) }
                        }
                    }
                }
                for {} lt(c, count) {} {
                    let w := mload(q)
                    kind := byte(0, w)
                    let t := byte(1, w)
                    argIndex := and(shr(224, w), 0xffff)
                    let vn := byte(4, w)
                    let n := shr(shl(3, sub(32, vn)), mload(add(q, 5)))
                    let values := add(add(q, 5), vn)
                    // Ill-formed: unknown kind or type, not exactly one value (at least one for IN), a head-word
                    // kind (0-6) on the dynamic type or a dynamic kind (7-10) on a head type.
                    let isIn := eq(kind, 6)
                    let dynamic := gt(kind, 6)
                    let ok := and(lt(kind, 11), or(and(isIn, gt(n, 0)), and(iszero(isIn), eq(n, 1))))
                    ok := and(ok, and(lt(t, 0x63), eq(dynamic, eq(t, 0x62))))
                    // The first value, then the position after the last; a head kind's values must be canonical.
                    let v := values
                    for { let k := 0 } and(ok, lt(k, n)) { k := add(k, 1) } {
                        let len := byte(0, mload(v))
                        let x := shr(shl(3, sub(32, len)), mload(add(v, 1)))
                        if iszero(k) { ref := x }
                        if iszero(dynamic) { ok := canonical(t, x) }
                        v := add(add(v, 1), len)
                    }
                    next := v
                    if iszero(ok) {
                        result := 3 // RESULT_INVALID
                        break
                    }
                    // Head word i sits at 4 + 32 * i (argIndex is 16-bit: no overflow).
                    let pos := add(4, shl(5, argIndex))
                    if gt(add(pos, 32), data.length) {
                        result := 2 // RESULT_MALFORMED
                        break
                    }
                    word := calldataload(add(data.offset, pos))
                    if dynamic {
                        result := 0xff // a dynamic argument: evaluated below
                        break
                    }
                    if iszero(canonical(t, word)) {
                        result := 4 // RESULT_NOT_CANONICAL
                        break
                    }
                    switch lt(kind, 6)
                    case 1 {
                        // intN compares signed: canonical words are the sign-extended values.
                        let less := lt(word, ref)
                        if and(gt(t, 0x1f), lt(t, 0x40)) { less := slt(word, ref) }
                        // Bit `kind` of a table says whether EQ, NEQ, LT, LTE, GT, GTE (0-5) pass; exactly one of
                        // word == ref (table 0b101001), word < ref (0b001110), word > ref (0b110010) holds.
                        ok := and(shr(kind, sub(sub(50, mul(9, eq(word, ref))), mul(36, less))), 1)
                    }
                    default {
                        ok := 0
                        v := values
                        for { let k := 0 } lt(k, n) { k := add(k, 1) } {
                            let len := byte(0, mload(v))
                            if eq(word, shr(shl(3, sub(32, len)), mload(add(v, 1)))) {
                                ok := 1
                                break
                            }
                            v := add(add(v, 1), len)
                        }
                    }
                    if iszero(ok) {
                        result := 1 // RESULT_FAIL
                        break
                    }
                    q := next
                    c := add(c, 1)
                }
            }
            if (result != 0xff) return (result, c, kind, argIndex);
            result = _evaluateDynamic(data, kind, word, ref);
            if (result != RESULT_PASS) return (result, c, kind, argIndex);
            q = next;
            ++c;
        }
    }

    /**
     * @dev A condition on a dynamic argument: the head word `word` is an offset (from the start of the arguments) to
     * a length word. Both are bounded to 32 bits so no sum below can wrap, and the content must lie inside the data.
     */
    function _evaluateDynamic(bytes calldata data, uint256 kind, uint256 word, uint256 ref)
        private
        pure
        returns (uint256)
    {
        if (word > type(uint32).max) return RESULT_MALFORMED;
        uint256 lengthPos = 4 + word;
        if (lengthPos + 32 > data.length) return RESULT_MALFORMED;
        uint256 length = uint256(bytes32(data[lengthPos:lengthPos + 32]));
        if (length > type(uint32).max) return RESULT_MALFORMED;
        uint256 contentSize = kind == COND_ARRAY_HASH_EQ ? length * 32 : length;
        uint256 start = lengthPos + 32;
        if (start + contentSize > data.length) return RESULT_MALFORMED;

        bool pass;
        if (kind == COND_LENGTH_LTE) {
            pass = length <= ref;
        } else if (kind == COND_LENGTH_GTE) {
            pass = length >= ref;
        } else {
            pass = keccak256(data[start:start + contentSize]) == bytes32(ref);
        }
        return pass ? RESULT_PASS : RESULT_FAIL;
    }

    // ---------------------------------------------------------------- internal: spend limits and periods

    /// @dev Where the limits of the spend section at `spend` start (0 when there is no spend section).
    function _spendLimits(uint256 spend) private pure returns (uint256 p) {
        if (spend == 0) return 0;
        assembly ("memory-safe") {
            p := add(add(spend, 15), byte(0, mload(add(spend, 14))))
        }
    }

    /// @dev Limit `i` at `p` (from {_spendLimits}): `token(20) ‖ perPeriod(16) ‖ lifetime(16)`.
    function _limitAt(uint256 p, uint256 i) private pure returns (address token, uint256 perPeriod, uint256 lifetime) {
        assembly ("memory-safe") {
            let l := add(p, mul(i, 52))
            token := shr(96, mload(l))
            perPeriod := shr(128, mload(add(l, 20)))
            lifetime := shr(128, mload(add(l, 36)))
        }
    }

    /// @dev Index of the first of the `n` limits at `p` on `token`, or `n`.
    function _limitOf(uint256 p, uint256 n, address token) private pure returns (uint256 i) {
        assembly ("memory-safe") {
            for {} lt(i, n) { i := add(i, 1) } {
                if eq(shr(96, mload(add(p, mul(i, 52)))), token) { break }
            }
        }
    }

    function _hasTokenLimit(uint256 p, uint256 n) private pure returns (bool) {
        for (uint256 i = 0; i < n; ++i) {
            (address t,,) = _limitAt(p, i);
            if (t != address(0)) return true;
        }
        return false;
    }

    /**
     * @dev Runs {_accountTokenCall} on every call of `callData`, which {_checkCalls} has already checked: canonical
     * `execute`, single or canonical batch mode.
     */
    function _accountCalls(bytes calldata callData, uint256 p, uint256[] memory amounts) private view {
        bytes calldata executionCalldata;
        bytes32 mode;
        assembly ("memory-safe") {
            mode := calldataload(add(callData.offset, 4))
            executionCalldata.offset := add(callData.offset, 100)
            executionCalldata.length := calldataload(add(callData.offset, 68))
        }
        if (mode == bytes32(0)) {
            bytes calldata data;
            address target;
            assembly ("memory-safe") {
                target := shr(96, calldataload(executionCalldata.offset))
                data.offset := add(executionCalldata.offset, 52)
                data.length := sub(executionCalldata.length, 52)
            }
            _accountTokenCall(p, amounts, 0, target, data);
        } else {
            // The batch {_checkCalls} has accepted (canonical, so its length word is the element count).
            uint256 n;
            assembly ("memory-safe") {
                n := calldataload(add(executionCalldata.offset, 32))
            }
            for (uint256 i = 0; i < n; ++i) {
                (address target,, bytes calldata data) = _batchElement(executionCalldata, i);
                _accountTokenCall(p, amounts, i, target, data);
            }
        }
    }

    /**
     * @dev Adds what call `index` moves of a limited asset to `amounts` (the table of `docs/spend-limits.md`). A
     * call to a limited token (or to Permit2 while any ERC-20 is limited) that could move it by a route the table
     * does not count is refused. Amounts saturate rather than wrap, so the cap check then fails.
     */
    function _accountTokenCall(uint256 p, uint256[] memory amounts, uint256 index, address target, bytes calldata data)
        private
        view
    {
        uint256 n = amounts.length;
        bytes4 selector = data.length >= 4 ? bytes4(data) : bytes4(0);
        uint256 li = _limitOf(p, n, target);
        if (li < n) {
            uint256 amount;
            if (selector == 0xa9059cbb || selector == 0x095ea7b3 || selector == 0x39509351) {
                // transfer(to, amount), approve(spender, amount) at its full amount, increaseAllowance(spender, added)
                if (data.length < 68) revert WarrantErrors.TokenCallNotAccounted(index, target, selector);
                amount = _arg(data, 1);
            } else if (selector == 0x23b872dd || selector == 0xd505accf) {
                // transferFrom(from, to, amount), EIP-2612 permit(owner, spender, value, …): the account's tokens only
                if (data.length < 100) revert WarrantErrors.TokenCallNotAccounted(index, target, selector);
                if (address(uint160(_arg(data, 0))) == msg.sender) amount = _arg(data, 2);
            } else if (selector != 0xa457c2d7) {
                // Anything but decreaseAllowance might move the token by a route not counted here.
                revert WarrantErrors.TokenCallNotAccounted(index, target, selector);
            }
            amounts[li] = _satAdd(amounts[li], amount);
        } else if (target == PERMIT2 && _hasTokenLimit(p, n)) {
            if (selector == 0x87517c45 || selector == 0x36c78516) {
                // approve(token, spender, uint160 amount, uint48 expiration) counts always; transferFrom(from, to,
                // uint160 amount, token) counts when `from` is the account.
                if (data.length < 132) revert WarrantErrors.TokenCallNotAccounted(index, target, selector);
                bool isApprove = selector == 0x87517c45;
                li = _limitOf(p, n, address(uint160(_arg(data, isApprove ? 0 : 3))));
                if (li < n && (isApprove || address(uint160(_arg(data, 0))) == msg.sender)) {
                    amounts[li] = _satAdd(amounts[li], _arg(data, 2));
                }
            } else {
                // Permits, batch transfers, lockdown…: routes the counters would not see.
                revert WarrantErrors.TokenCallNotAccounted(index, target, selector);
            }
        }
    }

    /**
     * @dev Checks and debits the period rules and spend limits of an operation naming period `k` (the signed field
     * of its module signature) against the spend section at `spend`. Returns the new state word, whether it changed (only
     * for a rate-limited session) and the validation data of the period window. The order of the checks is mirrored
     * by the Rust evaluator.
     */
    function _debitSpend(
        uint256 spend,
        uint256 state,
        uint32 k,
        uint256[] memory amounts,
        uint256 valueTotal,
        uint256 slot
    ) private returns (uint256, bool write, uint256 periodWindow) {
        uint256 period;
        uint256 periodStart;
        uint256 maxUsesPerPeriod;
        assembly ("memory-safe") {
            let w := mload(spend)
            period := shr(224, w)
            periodStart := and(shr(176, w), 0xffffffffffff)
            maxUsesPerPeriod := and(shr(144, w), 0xffffffff)
        }
        if (period != 0) {
            // 256-bit arithmetic: k and period are 32-bit, periodStart 48-bit, so nothing wraps.
            uint256 start = periodStart + uint256(k) * period;
            uint256 end = start + period;
            // validUntil = end - 1 must fit 48 bits and must not be 0 (which the EntryPoint reads as "forever").
            if (end > type(uint48).max || end < 2) revert WarrantErrors.PeriodOutOfRange(k);
            // The EntryPoint refuses `timestamp <= validAfter` and `timestamp > validUntil`: valid in [start, end).
            periodWindow = ((start == 0 ? 0 : start - 1) << 208) | ((end - 1) << 160);
        }
        if (maxUsesPerPeriod != 0) {
            // Only a rate-limited session keeps its period in the state word (others write nothing there).
            uint32 current = uint32(state >> 168);
            if (k < current) revert WarrantErrors.PeriodStale(k, current);
            uint256 usesInPeriod = k > current ? 0 : uint32(state >> 200);
            if (usesInPeriod >= maxUsesPerPeriod) {
                revert WarrantErrors.PeriodUsesExhausted(k, uint32(usesInPeriod), uint32(maxUsesPerPeriod));
            }
            // usesInPeriod < maxUsesPerPeriod < 2^32: no overflow.
            state = (state & ~(uint256(type(uint64).max) << 168)) | (uint256(k) << 168) | ((usesInPeriod + 1) << 200);
        }

        uint256 p = _spendLimits(spend);
        uint256 n = amounts.length;
        // Native value goes to the first native limit, as token amounts go to the first limit of their token.
        if (valueTotal != 0) {
            uint256 native = _limitOf(p, n, address(0));
            if (native < n) amounts[native] = valueTotal;
        }
        for (uint256 i = 0; i < n; ++i) {
            uint256 amount = amounts[i];
            if (amount == 0) continue;
            (address token, uint256 perPeriod, uint256 lifetime) = _limitAt(p, i);
            uint256 counterSlot = slot + 1 + i;
            uint256 c = _load(counterSlot);
            uint256 periodSpent;
            if (period != 0) {
                // A counter already in a later period: the op is from an earlier one (defense in depth — its window
                // has closed for good once a later period's op was included).
                if (uint32(c) > k) revert WarrantErrors.PeriodStale(k, uint32(c));
                periodSpent = _satAdd(uint32(c) == k ? uint112(c >> 32) : 0, amount);
                uint256 periodCap = _effectiveCap(perPeriod);
                if (periodSpent > periodCap) {
                    revert WarrantErrors.PeriodSpendLimitExceeded(token, k, periodSpent, periodCap);
                }
            }
            uint256 lifetimeSpent = _satAdd(uint112(c >> 144), amount);
            uint256 lifetimeCap = _effectiveCap(lifetime);
            if (lifetimeSpent > lifetimeCap) {
                revert WarrantErrors.SpendLimitExceeded(token, lifetimeSpent, lifetimeCap);
            }
            // Both fit 112 bits: they are at most their caps.
            _store(counterSlot, (period != 0 ? uint256(k) : 0) | (periodSpent << 32) | (lifetimeSpent << 144));
        }
        return (state, maxUsesPerPeriod != 0, periodWindow);
    }

    /// @dev Argument word `i` (after the selector); the caller checked the length.
    function _arg(bytes calldata data, uint256 i) private pure returns (uint256 w) {
        assembly ("memory-safe") {
            w := calldataload(add(data.offset, add(4, mul(32, i))))
        }
    }

    function _satAdd(uint256 a, uint256 b) private pure returns (uint256) {
        unchecked {
            uint256 c = a + b;
            return c < a ? type(uint256).max : c;
        }
    }

    /// @dev "No cap" still stops at the 112-bit counter's width rather than wrap around.
    function _effectiveCap(uint256 cap) private pure returns (uint256) {
        return cap == NO_CAP ? type(uint112).max : cap;
    }

    // ---------------------------------------------------------------- internal: reading session bytes

    /**
     * @dev The signer of a USE session signature over `digest`, or address 0: a 65-byte `r ‖ s ‖ v` is secp256k1
     * ({_recoverCalldata}); a 129-byte `kind ‖ x ‖ y ‖ r ‖ s` is a P-256 key ({_p256Signer}); any other length is
     * address 0 (a signature failure, never a revert).
     */
    function _sessionSignerCalldata(bytes32 digest, bytes calldata signature) private view returns (address) {
        if (signature.length == 65) return _recoverCalldata(digest, signature);
        if (signature.length != 129) return address(0);
        return _p256Signer(
            digest,
            uint8(signature[0]),
            bytes32(signature[1:33]),
            bytes32(signature[33:65]),
            bytes32(signature[65:97]),
            bytes32(signature[97:129])
        );
    }

    /// @dev {_sessionSignerCalldata} for the ENABLE session signature, which `abi.decode` put in memory.
    function _sessionSigner(bytes32 digest, bytes memory signature) private view returns (address) {
        if (signature.length == 65) {
            (address recovered, ECDSA.RecoverError err,) = ECDSA.tryRecover(digest, signature);
            return err == ECDSA.RecoverError.NoError ? recovered : address(0);
        }
        if (signature.length != 129) return address(0);
        uint256 kind;
        bytes32 x;
        bytes32 y;
        bytes32 r;
        bytes32 s;
        assembly ("memory-safe") {
            kind := byte(0, mload(add(signature, 0x20)))
            x := mload(add(signature, 0x21))
            y := mload(add(signature, 0x41))
            r := mload(add(signature, 0x61))
            s := mload(add(signature, 0x81))
        }
        return _p256Signer(digest, kind, x, y, r, s);
    }

    /**
     * @dev The identifier of P-256 key (`x`, `y`) of `kind` if (`r`, `s`) signs `digest` as that kind signs it, else
     * address 0. OpenZeppelin's {P256-verifyNative} refuses `r` or `s` outside [1, n), a high `s` (above n/2: each
     * signature has one accepted form), and a point off the curve, before the EIP-7951 precompile at 0x100 checks the
     * signature; it reverts with `MissingPrecompile(0x100)` on a chain without it (never the ~300k-gas Solidity
     * verifier). An unknown kind is address 0. The identifier hashes the kind with the key, so a key enabled as RAW
     * can't sign as WEBCRYPTO (a different message) or the reverse.
     */
    function _p256Signer(bytes32 digest, uint256 kind, bytes32 x, bytes32 y, bytes32 r, bytes32 s)
        private
        view
        returns (address)
    {
        bytes32 h;
        if (kind == P256_RAW) h = digest;
        else if (kind == P256_WEBCRYPTO) h = sha256(abi.encodePacked(digest));
        else return address(0);
        if (!P256.verifyNative(h, r, s, x, y)) return address(0);
        return address(uint160(uint256(keccak256(abi.encodePacked(uint8(kind), x, y)))));
    }

    /**
     * @dev ECDSA recovery of a 65-byte `r ‖ s ‖ v` signature as OpenZeppelin's `tryRecoverCalldata` does it (any
     * other length, an `s` in the upper half of the order or a failed recovery give address 0), without its memory
     * round trips.
     */
    function _recoverCalldata(bytes32 hash, bytes calldata signature) private view returns (address signer) {
        if (signature.length != 65) return address(0);
        assembly ("memory-safe") {
            let s := calldataload(add(signature.offset, 0x20))
            if iszero(gt(s, 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0)) {
                let m := mload(0x40)
                mstore(m, hash)
                mstore(add(m, 0x20), byte(0, calldataload(add(signature.offset, 0x40))))
                mstore(add(m, 0x40), calldataload(signature.offset))
                mstore(add(m, 0x60), s)
                mstore(0x00, 0)
                pop(staticcall(gas(), 0x01, m, 0x80, 0x00, 0x20))
                signer := mload(0x00)
            }
        }
    }

    // ---------------------------------------------------------------- internal: state and hashing

    function _revokeAll(address account) private {
        uint256 newEpoch = ++_epochs[account];
        emit AllSessionsRevoked(account, newEpoch);
    }

    /// @dev The {SessionState} slot of session `id` for `account` in `epoch`, hashed in scratch space.
    function _stateSlot(address account, bytes32 id, uint256 epoch) private pure returns (uint256 slot) {
        assembly ("memory-safe") {
            mstore(0x00, id)
            mstore(0x20, epoch)
            mstore(0x20, keccak256(0x00, 0x40))
            mstore(0x00, account)
            slot := keccak256(0x00, 0x40)
        }
    }

    /// @dev The whole {SessionState} word: one SLOAD for everything validation reads.
    function _load(uint256 slot) private view returns (uint256 value) {
        assembly ("memory-safe") {
            value := sload(slot)
        }
    }

    function _store(uint256 slot, uint256 value) private {
        assembly ("memory-safe") {
            sstore(slot, value)
        }
    }

    function _sessionId(address account, bytes memory encoded) private pure returns (bytes32) {
        return keccak256(abi.encodePacked(account, encoded));
    }

    /**
     * @dev The session bytes of `s`, a packed encoding laid out for validation to read in one pass:
     *
     * `signer(20) ‖ limits(1) ‖ [validAfter(6)] ‖ [validUntil(6)] ‖ [maxUses(4)] ‖ [w(maxValueTotal)] ‖
     * [paymaster(20)] ‖ [maxGasLimit(16)] ‖ [maxFeePerGas(16)] ‖ [spend] ‖ w(len(calls)) ‖ policy* ‖ w(salt)`
     *
     * where bit i of `limits` (0x01 validAfter … 0x40 maxFeePerGas, 0x80 spend, in the order above) says the field
     * is present, which it is exactly when it is not zero (for `spend`: when any of period, periodStart,
     * maxUsesPerPeriod, limits or gates is); `spend` is `period(4) ‖ periodStart(6) ‖ maxUsesPerPeriod(4) ‖
     * w(len(limits)) ‖ (token(20) ‖ perPeriod(16) ‖ lifetime(16))* ‖ w(len(gates)) ‖ (kind(1) ‖ token(20) ‖
     * tokenId(32) ‖ minBalance(32))*`; each policy is `target(20) ‖ selector(4) ‖ flags(1) ‖ w(maxValue) ‖
     * w(len(conditions)) ‖ condition*`, each condition `condition(1) ‖ argType(1) ‖ argIndex(2) ‖ w(len(values)) ‖
     * w(value)*`; `w(x)` is one byte `n` then the `n` low bytes of `x` big-endian, `n` the fewest bytes that hold
     * `x` (0 for zero). The salt comes last because validation never reads it. Every field is fixed-width,
     * announced by `limits` or self-delimiting, so the encoding is injective: distinct sessions get distinct bytes,
     * hence distinct ids.
     */
    function _encodeSession(Session memory s) private pure returns (bytes memory out) {
        CallPolicy[] memory calls = s.scope.calls;
        // Upper bound of the size, plus a word so that the last 32-byte store stays inside the allocation.
        uint256 bound = 20 + 1 + 6 + 6 + 4 + 33 + 20 + 16 + 16 + 14 + 33 + 52 * s.scope.limits.length + 33 + GATE_SIZE
            * s.scope.gates.length + 33 + 33 + 32;
        for (uint256 i = 0; i < calls.length; ++i) {
            ArgCondition[] memory conditions = calls[i].conditions;
            bound += 25 + 33 + 33;
            for (uint256 c = 0; c < conditions.length; ++c) {
                bound += 4 + 33 + 33 * conditions[c].values.length;
            }
        }
        out = new bytes(bound);
        uint256 start;
        assembly ("memory-safe") {
            start := add(out, 0x20)
        }
        uint256 q = _putHeader(start, s);
        for (uint256 i = 0; i < calls.length; ++i) {
            CallPolicy memory policy = calls[i];
            address target = policy.target;
            bytes4 selector = policy.selector;
            uint8 flags = policy.flags;
            assembly ("memory-safe") {
                mstore(q, or(shl(96, target), or(shr(160, selector), shl(56, flags))))
            }
            q = _putWord(q + 25, policy.maxValue);
            ArgCondition[] memory conditions = policy.conditions;
            q = _putWord(q, conditions.length);
            for (uint256 c = 0; c < conditions.length; ++c) {
                q = _putCondition(q, conditions[c]);
            }
        }
        q = _putWord(q, uint256(s.salt));
        assembly ("memory-safe") {
            mstore(out, sub(q, start))
        }
    }

    function _putHeader(uint256 q, Session memory s) private pure returns (uint256) {
        Scope memory scope = s.scope;
        uint256 limits = (scope.validAfter != 0 ? LIMIT_VALID_AFTER : 0)
            | (scope.validUntil != 0 ? LIMIT_VALID_UNTIL : 0) | (scope.maxUses != 0 ? LIMIT_USES : 0)
            | (scope.maxValueTotal != 0 ? LIMIT_VALUE : 0) | (scope.paymaster != address(0) ? LIMIT_PAYMASTER : 0)
            | (scope.maxGasLimit != 0 ? LIMIT_GAS : 0) | (scope.maxFeePerGas != 0 ? LIMIT_FEE : 0)
            | (_hasSpendSection(scope) ? LIMIT_SPEND : 0);
        address signer = s.signer;
        assembly ("memory-safe") {
            mstore(q, or(shl(96, signer), shl(88, limits)))
        }
        q += 21;
        if (scope.validAfter != 0) q = _putFixed(q, scope.validAfter, 6);
        if (scope.validUntil != 0) q = _putFixed(q, scope.validUntil, 6);
        if (scope.maxUses != 0) q = _putFixed(q, scope.maxUses, 4);
        if (scope.maxValueTotal != 0) q = _putWord(q, scope.maxValueTotal);
        if (scope.paymaster != address(0)) q = _putFixed(q, uint160(scope.paymaster), 20);
        if (scope.maxGasLimit != 0) q = _putFixed(q, scope.maxGasLimit, 16);
        if (scope.maxFeePerGas != 0) q = _putFixed(q, scope.maxFeePerGas, 16);
        if (_hasSpendSection(scope)) q = _putSpend(q, scope);
        return _putWord(q, scope.calls.length);
    }

    function _hasSpendSection(Scope memory scope) private pure returns (bool) {
        return scope.period != 0 || scope.periodStart != 0 || scope.maxUsesPerPeriod != 0 || scope.limits.length != 0
            || scope.gates.length != 0;
    }

    /**
     * @dev Writes the spend section, refusing ill-formed spend rules: they can then never be enabled, and validation
     * reads the section without checking it again.
     */
    function _putSpend(uint256 q, Scope memory scope) private pure returns (uint256) {
        if (scope.period == 0 && scope.maxUsesPerPeriod != 0) revert WarrantErrors.PeriodRequired();
        SpendLimit[] memory limits = scope.limits;
        for (uint256 i = 0; i < limits.length; ++i) {
            if (
                i >= MAX_SPEND_LIMITS || !_capFits(limits[i].perPeriod) || !_capFits(limits[i].lifetime)
                    || (scope.period == 0 && limits[i].perPeriod != NO_CAP)
            ) revert WarrantErrors.InvalidSpendLimit(i);
        }
        q = _putFixed(q, scope.period, 4);
        q = _putFixed(q, scope.periodStart, 6);
        q = _putFixed(q, scope.maxUsesPerPeriod, 4);
        q = _putWord(q, limits.length);
        for (uint256 i = 0; i < limits.length; ++i) {
            q = _putFixed(q, uint160(limits[i].token), 20);
            q = _putFixed(q, limits[i].perPeriod, 16);
            q = _putFixed(q, limits[i].lifetime, 16);
        }
        return _putGates(q, scope.gates);
    }

    /// @dev Writes `w(len(gates)) ‖ (kind(1) ‖ token(20) ‖ tokenId(32) ‖ minBalance(32))*`, refusing ill-formed gates.
    function _putGates(uint256 q, Gate[] memory gates) private pure returns (uint256) {
        for (uint256 i = 0; i < gates.length; ++i) {
            Gate memory g = gates[i];
            if (
                i >= MAX_GATES || g.kind > GATE_ERC1155 || g.token == address(0) || g.minBalance == 0
                    || (g.kind != GATE_ERC1155 && g.tokenId != 0)
            ) revert WarrantErrors.InvalidGate(i);
        }
        q = _putWord(q, gates.length);
        for (uint256 i = 0; i < gates.length; ++i) {
            q = _putFixed(q, gates[i].kind, 1);
            q = _putFixed(q, uint160(gates[i].token), 20);
            q = _putFixed(q, gates[i].tokenId, 32);
            q = _putFixed(q, gates[i].minBalance, 32);
        }
        return q;
    }

    /// @dev A cap is either {NO_CAP} or fits the 112-bit counters.
    function _capFits(uint128 cap) private pure returns (bool) {
        return cap == NO_CAP || cap <= type(uint112).max;
    }

    /// @dev Writes the `width` low bytes of `x` big-endian at `q` (a full-word store, like {_putWord}).
    function _putFixed(uint256 q, uint256 x, uint256 width) private pure returns (uint256) {
        assembly ("memory-safe") {
            mstore(q, shl(sub(256, shl(3, width)), x))
        }
        return q + width;
    }

    /// @dev Writes one condition: `condition(1) ‖ argType(1) ‖ argIndex(2) ‖ w(len(values)) ‖ w(value)*`.
    function _putCondition(uint256 q, ArgCondition memory condition) private pure returns (uint256) {
        bytes32[] memory values = condition.values;
        uint256 n = values.length;
        uint8 kind = condition.condition;
        uint8 argType = condition.argType;
        uint16 argIndex = condition.argIndex;
        assembly ("memory-safe") {
            mstore(q, or(or(shl(248, kind), shl(240, argType)), shl(224, argIndex)))
        }
        q = _putWord(q + 4, n);
        for (uint256 k = 0; k < n; ++k) {
            q = _putWord(q, uint256(values[k]));
        }
        return q;
    }

    /// @dev Writes `w(x)` at `q` (see {_encodeSession}); returns the next position. Stores a full word, so the
    /// buffer must extend 32 bytes past the last field.
    function _putWord(uint256 q, uint256 x) private pure returns (uint256) {
        uint256 n = x == 0 ? 0 : Math.log256(x) + 1;
        assembly ("memory-safe") {
            mstore8(q, n)
            mstore(add(q, 1), shl(shl(3, sub(32, n)), x))
        }
        return q + 1 + n;
    }

    function _grantDigest(Grant memory grant) private view returns (bytes32) {
        return _hashTypedDataV4(_hashGrant(grant));
    }

    /**
     * @dev Intersects two validation data: failure if either failed, latest `validAfter`, earliest `validUntil`
     * (0 meaning forever). Never overwrite one source of limits with another.
     */
    function _intersectValidationData(uint256 a, uint256 b) internal pure returns (uint256) {
        bool failed = uint160(a) != 0 || uint160(b) != 0;
        uint48 untilA = uint48(a >> 160);
        uint48 untilB = uint48(b >> 160);
        uint48 afterA = uint48(a >> 208);
        uint48 afterB = uint48(b >> 208);
        uint48 validUntil = untilA == 0 ? untilB : untilB == 0 ? untilA : (untilA < untilB ? untilA : untilB);
        uint48 validAfter = afterA > afterB ? afterA : afterB;
        // Packed by hand: OpenZeppelin's packValidationData clears bit 47 (its block-range flag, which the v0.8
        // EntryPoint does not have), which would shorten a window ending past 2^47.
        return (uint256(validAfter) << 208) | (uint256(validUntil) << 160) | (failed ? 1 : 0);
    }

    function _hashArgCondition(ArgCondition memory c) private pure returns (bytes32) {
        return keccak256(
            abi.encode(_ARG_CONDITION_TYPE, c.condition, c.argType, c.argIndex, keccak256(abi.encodePacked(c.values)))
        );
    }

    function _hashCallPolicy(CallPolicy memory p) private pure returns (bytes32) {
        bytes32[] memory hashes = new bytes32[](p.conditions.length);
        for (uint256 i = 0; i < hashes.length; ++i) {
            hashes[i] = _hashArgCondition(p.conditions[i]);
        }
        return keccak256(
            abi.encode(
                _CALL_POLICY_TYPE, p.target, p.selector, p.flags, p.maxValue, keccak256(abi.encodePacked(hashes))
            )
        );
    }

    function _hashScope(Scope memory s) private pure returns (bytes32) {
        bytes32[] memory hashes = new bytes32[](s.calls.length);
        for (uint256 i = 0; i < hashes.length; ++i) {
            hashes[i] = _hashCallPolicy(s.calls[i]);
        }
        // Every member encodes to one word, so the two halves concatenated are `abi.encode` of all of them (one
        // `abi.encode` of fourteen values is too deep for the stack).
        bytes memory head = abi.encode(
            _SCOPE_TYPE,
            s.validAfter,
            s.validUntil,
            s.maxUses,
            s.maxValueTotal,
            s.paymaster,
            s.maxGasLimit,
            s.maxFeePerGas,
            keccak256(abi.encodePacked(hashes))
        );
        bytes memory tail =
            abi.encode(s.period, s.periodStart, s.maxUsesPerPeriod, _hashSpendLimits(s.limits), _hashGates(s.gates));
        return keccak256(bytes.concat(head, tail));
    }

    function _hashSpendLimits(SpendLimit[] memory limits) private pure returns (bytes32) {
        bytes32[] memory hashes = new bytes32[](limits.length);
        for (uint256 i = 0; i < hashes.length; ++i) {
            hashes[i] =
                keccak256(abi.encode(_SPEND_LIMIT_TYPE, limits[i].token, limits[i].perPeriod, limits[i].lifetime));
        }
        return keccak256(abi.encodePacked(hashes));
    }

    function _hashGates(Gate[] memory gates) private pure returns (bytes32) {
        bytes32[] memory hashes = new bytes32[](gates.length);
        for (uint256 i = 0; i < hashes.length; ++i) {
            Gate memory g = gates[i];
            hashes[i] = keccak256(abi.encode(_GATE_TYPE, g.token, g.kind, g.tokenId, g.minBalance));
        }
        return keccak256(abi.encodePacked(hashes));
    }

    function _hashSession(Session memory s) private pure returns (bytes32) {
        return keccak256(abi.encode(_SESSION_TYPE, s.signer, s.salt, _hashScope(s.scope)));
    }

    function _hashGrant(Grant memory g) private pure returns (bytes32) {
        return keccak256(abi.encode(_GRANT_TYPE, g.account, g.epoch, _hashSession(g.session)));
    }
}
