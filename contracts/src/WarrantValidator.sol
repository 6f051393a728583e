// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {PackedUserOperation} from "@openzeppelin/contracts/interfaces/IERC4337.sol";
import {IERC7579Validator, MODULE_TYPE_VALIDATOR} from "@openzeppelin/contracts/interfaces/draft-IERC7579.sol";
import {ERC4337Utils} from "@openzeppelin/contracts/account/utils/ERC4337Utils.sol";
import {ERC7579Utils, Execution} from "@openzeppelin/contracts/account/utils/draft-ERC7579Utils.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
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
 * The format is specified in `docs/grant-format.md`; the Rust toolkit mirrors it byte for byte.
 */
contract WarrantValidator is IERC7579Validator, EIP712 {
    /// @dev One argument rule: `condition` applied to the head word `argIndex` (after the selector).
    struct ArgCondition {
        uint8 condition;
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

    /// @dev Usage of a session for an account in one epoch, packed in one slot.
    struct SessionState {
        uint8 status;
        uint32 uses;
        uint128 valueSpent;
        uint32 periodIndex;
        uint32 usesInPeriod;
    }

    /// @dev What one spend limit has counted, packed in one slot. `periodSpent` belongs to period `periodIndex`.
    struct SpendCounter {
        uint32 periodIndex;
        uint112 periodSpent;
        uint112 lifetimeSpent;
    }

    /// @dev Policy flag: the policy matches any target.
    uint8 public constant ANY_TARGET = 0x01;
    /// @dev Policy flag: the policy matches any selector.
    uint8 public constant ANY_SELECTOR = 0x02;

    /// @dev Session status values.
    uint8 public constant STATUS_NONE = 0;
    uint8 public constant STATUS_ENABLED = 1;
    uint8 public constant STATUS_REVOKED = 2;

    /// @dev Signature modes (first byte of the module signature).
    uint8 public constant MODE_USE = 0x00;
    uint8 public constant MODE_ENABLE = 0x01;

    /// @dev Condition kinds. 0-5 compare the head word as uint256 with `values[0]`.
    uint8 public constant COND_EQ = 0;
    uint8 public constant COND_NEQ = 1;
    uint8 public constant COND_LT = 2;
    uint8 public constant COND_LTE = 3;
    uint8 public constant COND_GT = 4;
    uint8 public constant COND_GTE = 5;
    uint8 public constant COND_IN = 6;
    uint8 public constant COND_LENGTH_LTE = 7;
    uint8 public constant COND_LENGTH_GTE = 8;
    uint8 public constant COND_BYTES_HASH_EQ = 9;
    uint8 public constant COND_ARRAY_HASH_EQ = 10;

    /// @dev Results of {evaluateCondition}.
    uint8 public constant RESULT_PASS = 0;
    uint8 public constant RESULT_FAIL = 1;
    uint8 public constant RESULT_MALFORMED = 2;
    uint8 public constant RESULT_INVALID = 3;

    /// @dev `execute(bytes32,bytes)` of ERC-7579, the only account function a session may call.
    bytes4 public constant EXECUTE_SELECTOR = 0xe9ae5c53;

    /// @dev EntryPoint v0.8; a session may never call it (deposits, nonces, stake belong to the owner).
    address public constant ENTRY_POINT = 0x4337084D9E255Ff0702461CF8895CE9E3b5Ff108;

    /// @dev Uniswap's Permit2, the same address on every chain: it moves tokens the account approved to it.
    address public constant PERMIT2 = 0x000000000022D473030F116dDEE9F6B43aC78BA3;

    /// @dev A cap of this value means "no cap".
    uint128 public constant NO_CAP = type(uint128).max;

    bytes32 private constant _ARG_CONDITION_TYPE =
        keccak256("ArgCondition(uint8 condition,uint16 argIndex,bytes32[] values)");

    bytes32 private constant _CALL_POLICY_TYPE = keccak256(
        "CallPolicy(address target,bytes4 selector,uint8 flags,uint256 maxValue,ArgCondition[] conditions)"
        "ArgCondition(uint8 condition,uint16 argIndex,bytes32[] values)"
    );

    bytes32 private constant _SCOPE_TYPE = keccak256(
        "Scope(uint48 validAfter,uint48 validUntil,uint32 maxUses,uint256 maxValueTotal,address paymaster,"
        "uint128 maxGasLimit,uint128 maxFeePerGas,CallPolicy[] calls,uint32 period,uint48 periodStart,"
        "uint32 maxUsesPerPeriod,SpendLimit[] limits)" "ArgCondition(uint8 condition,uint16 argIndex,bytes32[] values)"
        "CallPolicy(address target,bytes4 selector,uint8 flags,uint256 maxValue,ArgCondition[] conditions)"
        "SpendLimit(address token,uint128 perPeriod,uint128 lifetime)"
    );

    bytes32 private constant _SESSION_TYPE = keccak256(
        "Session(address signer,bytes32 salt,Scope scope)"
        "ArgCondition(uint8 condition,uint16 argIndex,bytes32[] values)"
        "CallPolicy(address target,bytes4 selector,uint8 flags,uint256 maxValue,ArgCondition[] conditions)"
        "Scope(uint48 validAfter,uint48 validUntil,uint32 maxUses,uint256 maxValueTotal,address paymaster,"
        "uint128 maxGasLimit,uint128 maxFeePerGas,CallPolicy[] calls,uint32 period,uint48 periodStart,"
        "uint32 maxUsesPerPeriod,SpendLimit[] limits)" "SpendLimit(address token,uint128 perPeriod,uint128 lifetime)"
    );

    bytes32 private constant _GRANT_TYPE = keccak256(
        "Grant(address account,uint64 epoch,Session session)"
        "ArgCondition(uint8 condition,uint16 argIndex,bytes32[] values)"
        "CallPolicy(address target,bytes4 selector,uint8 flags,uint256 maxValue,ArgCondition[] conditions)"
        "Scope(uint48 validAfter,uint48 validUntil,uint32 maxUses,uint256 maxValueTotal,address paymaster,"
        "uint128 maxGasLimit,uint128 maxFeePerGas,CallPolicy[] calls,uint32 period,uint48 periodStart,"
        "uint32 maxUsesPerPeriod,SpendLimit[] limits)" "Session(address signer,bytes32 salt,Scope scope)"
        "SpendLimit(address token,uint128 perPeriod,uint128 lifetime)"
    );

    bytes32 private constant _SPEND_LIMIT_TYPE =
        keccak256("SpendLimit(address token,uint128 perPeriod,uint128 lifetime)");

    mapping(address account => uint256) private _epochs;
    mapping(bytes32 stateKey => mapping(address account => SessionState)) private _states;
    mapping(bytes32 limitKey => mapping(address account => SpendCounter)) private _spendCounters;

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
        id = _sessionId(account, session);
        SessionState storage state = _stateOf(account, id, _epochs[account]);
        uint8 status = state.status;
        if (status == STATUS_REVOKED) revert WarrantErrors.SessionRevoked(id);
        if (status == STATUS_NONE) {
            state.status = STATUS_ENABLED;
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
        _stateOf(account, id, _epochs[account]).status = STATUS_REVOKED;
        emit SessionRevoked(account, id);
    }

    /// @dev Revokes every session and every unpresented grant of the calling account by moving to a new epoch.
    function revokeAll() external {
        _revokeAll(msg.sender);
    }

    // ---------------------------------------------------------------- validation

    /**
     * @dev Validates a session operation of the calling account. The signature is one mode byte followed by
     * `abi.encode(Session, bytes sessionSignature)` (USE) or `abi.encode(Grant, bytes ownerSignature,
     * bytes sessionSignature)` (ENABLE). Returns the session window and the result of the session signature check.
     */
    function validateUserOp(PackedUserOperation calldata userOp, bytes32 userOpHash) external returns (uint256) {
        bytes calldata signature = userOp.signature;
        if (signature.length == 0) return ERC4337Utils.SIG_VALIDATION_FAILED;
        address account = msg.sender;
        uint256 currentEpoch = _epochs[account];
        uint8 mode = uint8(signature[0]);

        Session memory session;
        bytes memory sessionSignature;
        bytes32 id;
        SessionState storage state;
        if (mode == MODE_USE) {
            (session, sessionSignature) = abi.decode(signature[1:], (Session, bytes));
            id = _sessionId(account, session);
            state = _stateOf(account, id, currentEpoch);
            uint8 status = state.status;
            if (status == STATUS_NONE) revert WarrantErrors.SessionNotEnabled(id);
            if (status == STATUS_REVOKED) revert WarrantErrors.SessionRevoked(id);
        } else if (mode == MODE_ENABLE) {
            Grant memory grant;
            bytes memory ownerSignature;
            (grant, ownerSignature, sessionSignature) = abi.decode(signature[1:], (Grant, bytes, bytes));
            if (grant.account != account) revert WarrantErrors.GrantAccountMismatch(grant.account, account);
            if (grant.epoch != currentEpoch) revert WarrantErrors.GrantEpochStale(grant.epoch, currentEpoch);
            if (!SignatureChecker.isValidERC1271SignatureNow(account, _grantDigest(grant), ownerSignature)) {
                revert WarrantErrors.InvalidOwnerSignature();
            }
            session = grant.session;
            id = _sessionId(account, session);
            state = _stateOf(account, id, currentEpoch);
            uint8 status = state.status;
            if (status == STATUS_REVOKED) revert WarrantErrors.SessionRevoked(id);
            if (status == STATUS_NONE) {
                state.status = STATUS_ENABLED;
                emit SessionEnabled(account, id, session.signer);
            }
        } else {
            return ERC4337Utils.SIG_VALIDATION_FAILED;
        }

        (uint48 periodAfter, uint48 periodUntil) =
            _checkAndDebit(state, session.scope, userOp, account, id, currentEpoch);

        // A bad session signature is reported, not reverted, so bundlers can tell it apart (AA24). All the checks
        // above still run with a dummy signature, which keeps gas estimation faithful.
        (address recovered, ECDSA.RecoverError err,) = ECDSA.tryRecover(userOpHash, sessionSignature);
        bool sigOk = sessionSignature.length == 65 && err == ECDSA.RecoverError.NoError && recovered != address(0)
            && recovered == session.signer;
        return _intersectValidationData(
            _intersectValidationData(
                ERC4337Utils.packValidationData(sigOk, 0, 0),
                ERC4337Utils.packValidationData(true, session.scope.validAfter, session.scope.validUntil)
            ),
            ERC4337Utils.packValidationData(true, periodAfter, periodUntil)
        );
    }

    /// @dev Session keys never produce ERC-1271 signatures: they would escape every on-chain limit.
    function isValidSignatureWithSender(address, bytes32, bytes calldata) external pure returns (bytes4) {
        return 0xffffffff;
    }

    // ---------------------------------------------------------------- views

    /// @dev The 32-byte id of `session` for `account`: `keccak256(abi.encode(account, hashStruct(session)))`.
    function sessionId(address account, Session calldata session) external pure returns (bytes32) {
        return _sessionId(account, session);
    }

    /// @dev The EIP-712 digest (domain "Warrant" "1", this contract) the owner's account signature must cover.
    function grantDigest(Grant calldata grant) external view returns (bytes32) {
        return _grantDigest(grant);
    }

    /// @dev EIP-712 `hashStruct(grant)`; the `contents` hash of the ERC-7739 wrapped owner signature.
    function grantHash(Grant calldata grant) external pure returns (bytes32) {
        return _hashGrant(grant);
    }

    /// @dev EIP-712 `hashStruct(scope)`.
    function scopeHash(Scope calldata scope) external pure returns (bytes32) {
        return _hashScope(scope);
    }

    /// @dev State of session `id` for `account` in its current epoch.
    function sessionState(address account, bytes32 id)
        external
        view
        returns (uint8 status, uint32 uses, uint128 valueSpent)
    {
        SessionState storage state = _stateOf(account, id, _epochs[account]);
        return (state.status, state.uses, state.valueSpent);
    }

    /// @dev Period counters of session `id` for `account` in its current epoch: the last period an operation named
    /// and the operations counted in it.
    function periodState(address account, bytes32 id) external view returns (uint32 periodIndex, uint32 usesInPeriod) {
        SessionState storage state = _stateOf(account, id, _epochs[account]);
        return (state.periodIndex, state.usesInPeriod);
    }

    /**
     * @dev Counters of spend limit `limitIndex` of session `id` for `account` in its current epoch. `periodSpent`
     * belongs to period `periodIndex`; a later period starts from zero.
     */
    function spendState(address account, bytes32 id, uint256 limitIndex)
        external
        view
        returns (uint32 periodIndex, uint112 periodSpent, uint112 lifetimeSpent)
    {
        SpendCounter storage c = _spendCounters[_limitKey(id, _epochs[account], limitIndex)][account];
        return (c.periodIndex, c.periodSpent, c.lifetimeSpent);
    }

    /// @dev Current epoch of `account`; a grant must name it.
    function epochOf(address account) external view returns (uint256) {
        return _epochs[account];
    }

    /**
     * @dev Evaluates one argument condition on `callData` (selector included): {RESULT_PASS}, {RESULT_FAIL},
     * {RESULT_MALFORMED} (argument out of bounds) or {RESULT_INVALID} (ill-formed condition). Exposed so that
     * off-chain pre-flight can be checked against the on-chain rule.
     */
    function evaluateCondition(bytes calldata callData, ArgCondition calldata condition) external pure returns (uint8) {
        return _evaluate(callData, condition);
    }

    // ---------------------------------------------------------------- internal: checks

    /// @dev Runs every check of the scope and debits the session; returns the period window (0, 0 without one).
    function _checkAndDebit(
        SessionState storage state,
        Scope memory scope,
        PackedUserOperation calldata userOp,
        address account,
        bytes32 id,
        uint256 epoch
    ) private returns (uint48 periodAfter, uint48 periodUntil) {
        SessionState memory current = state;
        if (scope.maxUses != 0 && current.uses >= scope.maxUses) {
            revert WarrantErrors.UsesExhausted(current.uses, scope.maxUses);
        }
        // Unlimited sessions still stop at the counter's width rather than wrap around.
        if (current.uses == type(uint32).max) revert WarrantErrors.UsesExhausted(current.uses, type(uint32).max);

        _checkGas(scope, userOp);

        // One amount per spend limit, summed over the calls (native value is added by {_debitSpend}).
        uint256[] memory amounts = new uint256[](scope.limits.length);
        uint256 valueTotal = _checkCalls(scope, amounts, userOp.callData, account);

        uint256 spent = uint256(current.valueSpent) + valueTotal;
        if (spent > scope.maxValueTotal) revert WarrantErrors.SessionValueExceeded(spent, scope.maxValueTotal);
        if (spent > type(uint128).max) revert WarrantErrors.SessionValueExceeded(spent, type(uint128).max);

        // Debited in validation: every op of a bundle is validated before any executes.
        current.uses += 1;
        current.valueSpent = uint128(spent);
        if (scope.period != 0 || scope.limits.length != 0 || scope.maxUsesPerPeriod != 0) {
            (periodAfter, periodUntil) =
                _debitSpend(current, scope, uint32(userOp.nonce >> 64), amounts, valueTotal, account, id, epoch);
        }
        state.uses = current.uses;
        state.valueSpent = current.valueSpent;
        if (scope.period != 0) {
            state.periodIndex = current.periodIndex;
            state.usesInPeriod = current.usesInPeriod;
        }
    }

    // ---------------------------------------------------------------- internal: spend limits and periods

    /**
     * @dev Checks and debits the period rules and spend limits of an operation that names period `k` (the low 32
     * bits of its nonce key). Updates `current` (the caller stores it) and the spend counters; returns the window
     * that pins the operation to its period. The order of the checks is mirrored by the Rust evaluator.
     */
    function _debitSpend(
        SessionState memory current,
        Scope memory scope,
        uint32 k,
        uint256[] memory amounts,
        uint256 valueTotal,
        address account,
        bytes32 id,
        uint256 epoch
    ) private returns (uint48 periodAfter, uint48 periodUntil) {
        uint256 period = scope.period;
        SpendLimit[] memory limits = scope.limits;
        if (period == 0 && scope.maxUsesPerPeriod != 0) revert WarrantErrors.PeriodRequired();
        for (uint256 i = 0; i < limits.length; ++i) {
            if (
                !_capFits(limits[i].perPeriod) || !_capFits(limits[i].lifetime)
                    || (period == 0 && limits[i].perPeriod != NO_CAP)
            ) revert WarrantErrors.InvalidSpendLimit(i);
        }

        if (period != 0) {
            // Computed in 256 bits: k and period are 32-bit, periodStart 48-bit, so nothing wraps.
            uint256 start = uint256(scope.periodStart) + uint256(k) * period;
            uint256 end = start + period;
            // validUntil = end - 1 must fit 48 bits and must not be 0 (which the EntryPoint reads as "forever").
            if (end > type(uint48).max || end < 2) revert WarrantErrors.PeriodOutOfRange(k);
            // The EntryPoint refuses `timestamp <= validAfter` and `timestamp > validUntil`: valid in [start, end).
            periodAfter = start == 0 ? 0 : uint48(start - 1);
            periodUntil = uint48(end - 1);

            if (k < current.periodIndex) revert WarrantErrors.PeriodStale(k, current.periodIndex);
            uint32 usesInPeriod = k > current.periodIndex ? 0 : current.usesInPeriod;
            if (scope.maxUsesPerPeriod != 0 && usesInPeriod >= scope.maxUsesPerPeriod) {
                revert WarrantErrors.PeriodUsesExhausted(k, usesInPeriod, scope.maxUsesPerPeriod);
            }
            current.periodIndex = k;
            current.usesInPeriod = usesInPeriod + 1; // <= uses, which is below 2^32 - 1
        }

        // Native value goes to the first native limit, as token amounts go to the first limit of their token.
        for (uint256 i = 0; i < limits.length; ++i) {
            if (limits[i].token == address(0)) {
                amounts[i] = valueTotal;
                break;
            }
        }

        for (uint256 i = 0; i < limits.length; ++i) {
            uint256 amount = amounts[i];
            if (amount == 0) continue;
            SpendLimit memory limit = limits[i];
            SpendCounter storage counter = _spendCounters[_limitKey(id, epoch, i)][account];
            SpendCounter memory c = counter;
            uint256 periodSpent;
            if (period != 0) {
                periodSpent = _satAdd(c.periodIndex == k ? c.periodSpent : 0, amount);
                uint256 periodCap = _effectiveCap(limit.perPeriod);
                if (periodSpent > periodCap) {
                    revert WarrantErrors.PeriodSpendLimitExceeded(limit.token, k, periodSpent, periodCap);
                }
            }
            uint256 lifetimeSpent = _satAdd(c.lifetimeSpent, amount);
            uint256 lifetimeCap = _effectiveCap(limit.lifetime);
            if (lifetimeSpent > lifetimeCap) {
                revert WarrantErrors.SpendLimitExceeded(limit.token, lifetimeSpent, lifetimeCap);
            }
            // Both fit 112 bits: they are at most their caps.
            counter.periodIndex = period != 0 ? k : 0;
            counter.periodSpent = uint112(periodSpent);
            counter.lifetimeSpent = uint112(lifetimeSpent);
        }
    }

    /**
     * @dev Adds what call `index` moves of a limited asset to `amounts` (see the table in `docs/spend-limits.md`).
     * A call to a limited token (or to Permit2 while any token is limited) that could move it by a route this
     * table does not count is refused.
     */
    function _accountTokenCall(
        SpendLimit[] memory limits,
        uint256[] memory amounts,
        uint256 index,
        address target,
        bytes calldata data,
        address account
    ) private pure {
        uint256 n = limits.length;
        if (n == 0) return;
        bytes4 selector = bytes4(data); // zero for empty calldata
        uint256 limitIndex = _limitOf(limits, target);
        if (limitIndex < n) {
            uint256 amount;
            if (selector == 0xa9059cbb || selector == 0x095ea7b3 || selector == 0x39509351) {
                // transfer(to, amount), approve(spender, amount) at its full amount, increaseAllowance(spender, added)
                if (data.length < 68) revert WarrantErrors.TokenCallNotAccounted(index, target, selector);
                amount = _word(data, 1);
            } else if (selector == 0x23b872dd || selector == 0xd505accf) {
                // transferFrom(from, to, amount) and EIP-2612 permit(owner, spender, value, ...): only the account's
                if (data.length < 100) revert WarrantErrors.TokenCallNotAccounted(index, target, selector);
                if (address(uint160(_word(data, 0))) == account) amount = _word(data, 2);
            } else if (selector != 0xa457c2d7) {
                // Anything but decreaseAllowance might move the token by a route not counted here.
                revert WarrantErrors.TokenCallNotAccounted(index, target, selector);
            }
            amounts[limitIndex] = _satAdd(amounts[limitIndex], amount);
        } else if (target == PERMIT2 && _anyTokenLimit(limits)) {
            if (selector == 0x87517c45) {
                // approve(token, spender, uint160 amount, uint48 expiration)
                if (data.length < 132) revert WarrantErrors.TokenCallNotAccounted(index, target, selector);
                limitIndex = _limitOf(limits, address(uint160(_word(data, 0))));
                if (limitIndex < n) amounts[limitIndex] = _satAdd(amounts[limitIndex], _word(data, 2));
            } else if (selector == 0x36c78516) {
                // transferFrom(from, to, uint160 amount, token)
                if (data.length < 132) revert WarrantErrors.TokenCallNotAccounted(index, target, selector);
                limitIndex = _limitOf(limits, address(uint160(_word(data, 3))));
                if (limitIndex < n && address(uint160(_word(data, 0))) == account) {
                    amounts[limitIndex] = _satAdd(amounts[limitIndex], _word(data, 2));
                }
            } else {
                // Permits, batch transfers, lockdown...: routes the counters would not see.
                revert WarrantErrors.TokenCallNotAccounted(index, target, selector);
            }
        }
    }

    /// @dev Index of the first limit on `token` (an ERC-20: address 0 is never a call target), or `limits.length`.
    function _limitOf(SpendLimit[] memory limits, address token) private pure returns (uint256 i) {
        for (; i < limits.length; ++i) {
            if (limits[i].token == token) return i;
        }
    }

    function _anyTokenLimit(SpendLimit[] memory limits) private pure returns (bool) {
        for (uint256 i = 0; i < limits.length; ++i) {
            if (limits[i].token != address(0)) return true;
        }
        return false;
    }

    /// @dev Argument word `i` (after the selector); the caller checked the length.
    function _word(bytes calldata data, uint256 i) private pure returns (uint256) {
        return uint256(bytes32(data[4 + 32 * i:36 + 32 * i]));
    }

    function _satAdd(uint256 a, uint256 b) private pure returns (uint256) {
        unchecked {
            uint256 c = a + b;
            return c < a ? type(uint256).max : c;
        }
    }

    /// @dev A cap is either {NO_CAP} or fits the 112-bit counters.
    function _capFits(uint128 cap) private pure returns (bool) {
        return cap == NO_CAP || cap <= type(uint112).max;
    }

    /// @dev "No cap" still stops at the counter's width rather than wrap around.
    function _effectiveCap(uint128 cap) private pure returns (uint256) {
        return cap == NO_CAP ? type(uint112).max : cap;
    }

    function _limitKey(bytes32 id, uint256 epoch, uint256 i) private pure returns (bytes32) {
        return keccak256(abi.encode(id, epoch, i));
    }

    function _checkGas(Scope memory scope, PackedUserOperation calldata userOp) private pure {
        if (scope.paymaster != address(0)) {
            bytes calldata pmd = userOp.paymasterAndData;
            if (pmd.length < 20 || address(bytes20(pmd[0:20])) != scope.paymaster) {
                revert WarrantErrors.PaymasterRequired(scope.paymaster);
            }
        }
        if (scope.maxGasLimit != 0) {
            // Four 128-bit terms can't overflow; preVerificationGas is a full word, so saturate it.
            uint256 total = ERC4337Utils.verificationGasLimit(userOp) + ERC4337Utils.callGasLimit(userOp)
                + ERC4337Utils.paymasterVerificationGasLimit(userOp) + ERC4337Utils.paymasterPostOpGasLimit(userOp);
            uint256 pvg = userOp.preVerificationGas;
            total = pvg > type(uint256).max - total ? type(uint256).max : total + pvg;
            if (total > scope.maxGasLimit) revert WarrantErrors.GasLimitExceeded(total, scope.maxGasLimit);
        }
        if (scope.maxFeePerGas != 0) {
            uint256 fee = ERC4337Utils.maxFeePerGas(userOp);
            if (fee > scope.maxFeePerGas) revert WarrantErrors.MaxFeePerGasExceeded(fee, scope.maxFeePerGas);
        }
    }

    /// @dev Checks the account call and every inner call; returns the native value they send in total.
    function _checkCalls(Scope memory scope, uint256[] memory amounts, bytes calldata callData, address account)
        private
        view
        returns (uint256 valueTotal)
    {
        CallPolicy[] memory policies = scope.calls;
        // Only `execute(bytes32,bytes)`: `executeUserOp`, `installModule` and every other entry are refused.
        bytes4 selector = bytes4(callData);
        if (callData.length < 4 || selector != EXECUTE_SELECTOR) {
            revert WarrantErrors.UnsupportedAccountCall(selector);
        }
        // Canonical encoding only, so that the account's ABI decoder reads exactly the bytes checked here.
        if (callData.length < 100 || uint256(bytes32(callData[36:68])) != 0x40) {
            revert WarrantErrors.MalformedCalldata();
        }
        uint256 length = uint256(bytes32(callData[68:100]));
        if (length > type(uint32).max || callData.length != 100 + ((length + 31) & ~uint256(31))) {
            revert WarrantErrors.MalformedCalldata();
        }
        bytes32 mode = bytes32(callData[4:36]);
        bytes calldata executionCalldata = callData[100:100 + length];

        if (mode == bytes32(0)) {
            // Single call, revert on failure.
            if (executionCalldata.length < 52) revert WarrantErrors.MalformedCalldata();
            (address target, uint256 value, bytes calldata data) = ERC7579Utils.decodeSingle(executionCalldata);
            _checkCall(policies, 0, target, value, data, account);
            _accountTokenCall(scope.limits, amounts, 0, target, data, account);
            return value;
        } else if (mode == bytes32(bytes1(0x01))) {
            // Batch, revert on failure. Decoded with the account's own decoder.
            Execution[] calldata batch = ERC7579Utils.decodeBatch(executionCalldata);
            if (batch.length == 0) revert WarrantErrors.EmptyBatch();
            uint256 end;
            assembly ("memory-safe") {
                end := add(executionCalldata.offset, executionCalldata.length)
            }
            for (uint256 i = 0; i < batch.length; ++i) {
                _checkElementBounds(batch, i, end);
                Execution calldata execution = batch[i];
                bytes calldata data = execution.callData;
                uint256 dataEnd;
                assembly ("memory-safe") {
                    dataEnd := add(data.offset, data.length)
                }
                // Everything read must lie inside the execution calldata, as it does for the account.
                if (dataEnd > end) revert WarrantErrors.MalformedCalldata();
                _checkCall(policies, i, execution.target, execution.value, data, account);
                _accountTokenCall(scope.limits, amounts, i, execution.target, data, account);
                valueTotal += execution.value;
            }
        } else {
            // Delegatecall, static call and try modes, and any non-zero selector or payload.
            revert WarrantErrors.UnsupportedExecutionMode(mode);
        }
    }

    /// @dev The head (target, value, offset) of batch element `i` must lie inside the execution calldata.
    function _checkElementBounds(Execution[] calldata batch, uint256 i, uint256 end) private pure {
        uint256 headEnd;
        assembly ("memory-safe") {
            let rel := calldataload(add(batch.offset, mul(i, 0x20)))
            headEnd := add(add(batch.offset, rel), 0x60)
            if gt(rel, 0xffffffff) { headEnd := not(0) }
        }
        if (headEnd > end) revert WarrantErrors.MalformedCalldata();
    }

    function _checkCall(
        CallPolicy[] memory policies,
        uint256 index,
        address target,
        uint256 value,
        bytes calldata data,
        address account
    ) private view {
        // Address 0 too: OpenZeppelin's ERC-7579 execution runs a call to target 0 on the account itself.
        if (target == account || target == address(0) || target == address(this) || target == ENTRY_POINT) {
            revert WarrantErrors.ForbiddenTarget(index, target);
        }
        if (data.length > 0 && data.length < 4) revert WarrantErrors.CalldataTooShort(index);
        bytes4 selector = bytes4(data); // zero for empty calldata (plain transfer or receive)

        for (uint256 p = 0; p < policies.length; ++p) {
            CallPolicy memory policy = policies[p];
            if (
                (policy.flags & ANY_TARGET != 0 || policy.target == target)
                    && (policy.flags & ANY_SELECTOR != 0 || policy.selector == selector)
            ) {
                // First match wins; a later, looser policy can't be used to bypass this one.
                if (value > policy.maxValue) revert WarrantErrors.CallValueExceeded(index, value, policy.maxValue);
                ArgCondition[] memory conditions = policy.conditions;
                for (uint256 c = 0; c < conditions.length; ++c) {
                    uint8 result = _evaluate(data, conditions[c]);
                    if (result == RESULT_INVALID) revert WarrantErrors.InvalidCondition(index, c);
                    if (result == RESULT_MALFORMED) {
                        revert WarrantErrors.ArgumentMalformed(index, conditions[c].argIndex);
                    }
                    if (result == RESULT_FAIL) {
                        revert WarrantErrors.ArgumentConditionFailed(
                            index, conditions[c].argIndex, conditions[c].condition
                        );
                    }
                }
                return;
            }
        }
        revert WarrantErrors.CallNotPermitted(index, target, selector);
    }

    function _evaluate(bytes calldata data, ArgCondition memory c) private pure returns (uint8) {
        uint8 kind = c.condition;
        uint256 n = c.values.length;
        if (kind > COND_ARRAY_HASH_EQ || (kind == COND_IN ? n == 0 : n != 1)) return RESULT_INVALID;

        // Head word i sits at 4 + 32 * i (argIndex is 16-bit: no overflow).
        uint256 pos = 4 + 32 * uint256(c.argIndex);
        if (pos + 32 > data.length) return RESULT_MALFORMED;
        uint256 word = uint256(bytes32(data[pos:pos + 32]));

        if (kind <= COND_GTE) {
            uint256 ref = uint256(c.values[0]);
            bool ok = kind == COND_EQ
                ? word == ref
                : kind == COND_NEQ
                    ? word != ref
                    : kind == COND_LT
                        ? word < ref
                        : kind == COND_LTE ? word <= ref : kind == COND_GT ? word > ref : word >= ref;
            return ok ? RESULT_PASS : RESULT_FAIL;
        }
        if (kind == COND_IN) {
            for (uint256 k = 0; k < n; ++k) {
                if (bytes32(word) == c.values[k]) return RESULT_PASS;
            }
            return RESULT_FAIL;
        }

        // Dynamic argument: the head word is an offset p (from the start of the arguments) to a length word.
        // Both are bounded to 32 bits so no sum below can wrap, and the content must lie inside the calldata.
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
            pass = length <= uint256(c.values[0]);
        } else if (kind == COND_LENGTH_GTE) {
            pass = length >= uint256(c.values[0]);
        } else {
            pass = keccak256(data[start:start + contentSize]) == c.values[0];
        }
        return pass ? RESULT_PASS : RESULT_FAIL;
    }

    // ---------------------------------------------------------------- internal: state and hashing

    function _revokeAll(address account) private {
        uint256 newEpoch = ++_epochs[account];
        emit AllSessionsRevoked(account, newEpoch);
    }

    function _stateOf(address account, bytes32 id, uint256 epoch) private view returns (SessionState storage) {
        return _states[keccak256(abi.encode(id, epoch))][account];
    }

    function _sessionId(address account, Session memory session) private pure returns (bytes32) {
        return keccak256(abi.encode(account, _hashSession(session)));
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
        return ERC4337Utils.packValidationData(!failed, validAfter, validUntil);
    }

    function _hashArgCondition(ArgCondition memory c) private pure returns (bytes32) {
        return
            keccak256(abi.encode(_ARG_CONDITION_TYPE, c.condition, c.argIndex, keccak256(abi.encodePacked(c.values))));
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
        return keccak256(
            abi.encode(
                _SCOPE_TYPE,
                s.validAfter,
                s.validUntil,
                s.maxUses,
                s.maxValueTotal,
                s.paymaster,
                s.maxGasLimit,
                s.maxFeePerGas,
                keccak256(abi.encodePacked(hashes)),
                s.period,
                s.periodStart,
                s.maxUsesPerPeriod,
                _hashSpendLimits(s.limits)
            )
        );
    }

    function _hashSpendLimits(SpendLimit[] memory limits) private pure returns (bytes32) {
        bytes32[] memory hashes = new bytes32[](limits.length);
        for (uint256 i = 0; i < hashes.length; ++i) {
            hashes[i] =
                keccak256(abi.encode(_SPEND_LIMIT_TYPE, limits[i].token, limits[i].perPeriod, limits[i].lifetime));
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
