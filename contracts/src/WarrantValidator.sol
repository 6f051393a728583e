// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {PackedUserOperation} from "@openzeppelin/contracts/interfaces/IERC4337.sol";
import {IERC7579Validator, MODULE_TYPE_VALIDATOR} from "@openzeppelin/contracts/interfaces/draft-IERC7579.sol";
import {ERC4337Utils} from "@openzeppelin/contracts/account/utils/ERC4337Utils.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {WarrantErrors} from "./WarrantErrors.sol";
import {CallChecks} from "./validator/CallChecks.sol";
import {Saturating} from "./validator/Saturating.sol";
import {SessionSignatures} from "./validator/SessionSignatures.sol";
import {SpendAccounting} from "./validator/SpendAccounting.sol";

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
 *
 * The rules read from the session bytes live in internal libraries, inlined here (so they run with this contract's
 * caller and storage): {CallChecks} (the account call, the calls and their argument conditions), {SpendAccounting}
 * (spend limits and periods) and {SessionSignatures} (secp256k1 and P-256 session keys). This contract keeps the
 * session state, the two signature modes, the window, use, value, gas and gate rules, the session-bytes encoding and
 * the EIP-712 hashing of grants.
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

    /// @dev Session status values.
    uint8 internal constant STATUS_NONE = 0;
    uint8 internal constant STATUS_ENABLED = 1;
    uint8 internal constant STATUS_REVOKED = 2;

    /// @dev Signature modes (first byte of the module signature).
    uint8 internal constant MODE_USE = 0x00;
    uint8 internal constant MODE_ENABLE = 0x01;

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
     * @dev What the session key signs (no prefix; a WebCrypto P-256 key signs its SHA-256,
     * {SessionSignatures-p256Signer}) in a USE operation: `keccak256(0x00 ‖ userOpHash ‖ id ‖ period(4))`, `period`
     * being the period index the operation names (0 for a session without a period).
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
     * @dev Evaluates one argument condition on `callData` (selector included): {CallChecks-RESULT_PASS},
     * {CallChecks-RESULT_FAIL}, {CallChecks-RESULT_MALFORMED} (argument out of bounds), {CallChecks-RESULT_INVALID}
     * (ill-formed condition) or {CallChecks-RESULT_NOT_CANONICAL} (the argument word is not a canonical encoding of
     * the condition's type). Exposed so that off-chain pre-flight can be checked against the on-chain rule; it runs the
     * very code validation runs, on the condition's session-bytes encoding.
     */
    function evaluateCondition(bytes calldata callData, ArgCondition calldata condition) external pure returns (uint8) {
        bytes memory buffer = new bytes(4 + 33 + 33 * condition.values.length + 32);
        uint256 q;
        assembly ("memory-safe") {
            q := add(buffer, 0x20)
        }
        _putCondition(q, condition);
        (uint256 result,,,) = CallChecks.checkConditions(callData, q, 1);
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
        address recovered =
            SessionSignatures.signerCalldata(_useDigest(userOpHash, id, uint32(period)), sessionSignature);
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
        address recovered =
            SessionSignatures.signerMemory(_enableDigest(userOpHash, id, period, digest), sessionSignature);
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
            if and(limits, LIMIT_VALID_AFTER) {
                // validAfter(6) into bits 208-255
                validationData := or(validationData, and(mload(q), shl(208, 0xffffffffffff)))
                q := add(q, 6)
            }
            if and(limits, LIMIT_VALID_UNTIL) {
                // validUntil(6) into bits 160-207
                validationData := or(validationData, shr(48, and(mload(q), shl(208, 0xffffffffffff))))
                q := add(q, 6)
            }
            if and(limits, LIMIT_USES) {
                maxUses := shr(224, mload(q))
                q := add(q, 4)
            }
            if and(limits, LIMIT_VALUE) {
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
        uint256 valueTotal = Saturating.add(CallChecks.checkCalls(q, policyCount, userOp.callData), gasCost);
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
        // One amount per spend limit, summed over the calls (native value is added by {SpendAccounting-debitSpend}).
        uint256[] memory amounts = new uint256[](limitCount);

        uint256 policyCount;
        assembly ("memory-safe") {
            let n := byte(0, mload(q))
            policyCount := shr(shl(3, sub(32, n)), mload(add(q, 1)))
            q := add(add(q, 1), n)
        }
        uint256 valueTotal = Saturating.add(CallChecks.checkCalls(q, policyCount, userOp.callData), gasCost);
        // A second pass over the calls (all permitted and well formed by now) for the spend limits only, so that
        // sessions without limits run exactly the checks above.
        if (limitCount != 0) {
            SpendAccounting.accountCalls(userOp.callData, SpendAccounting.spendLimits(spend), amounts);
        }

        if (valueTotal != 0) {
            state = _debitValue(state, valueTotal, maxValueTotal);
            write = true;
        }
        (uint256 newState, bool periodWrite, uint256 periodWindow) =
            SpendAccounting.debitSpend(spend, state, period, amounts, valueTotal, slot);
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
        uint256 spent = Saturating.add(uint128(state >> 40), valueTotal);
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
            if and(limits, LIMIT_PAYMASTER) {
                paymaster := shr(96, mload(q))
                q := add(q, 20)
            }
            if and(limits, LIMIT_GAS) {
                maxGasLimit := shr(128, mload(q))
                q := add(q, 16)
            }
            if and(limits, LIMIT_FEE) {
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
            total = Saturating.add(total, userOp.preVerificationGas);
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
        uint256 gas = Saturating.add(
            ERC4337Utils.verificationGasLimit(userOp) + ERC4337Utils.callGasLimit(userOp), userOp.preVerificationGas
        );
        uint256 fee = ERC4337Utils.maxFeePerGas(userOp);
        unchecked {
            if (fee != 0 && gas > type(uint256).max / fee) return type(uint256).max;
            return gas * fee;
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
                    || (scope.period == 0 && limits[i].perPeriod != SpendAccounting.NO_CAP)
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

    /// @dev A cap is either {SpendAccounting.NO_CAP} or fits the 112-bit counters.
    function _capFits(uint128 cap) private pure returns (bool) {
        return cap == SpendAccounting.NO_CAP || cap <= type(uint112).max;
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
