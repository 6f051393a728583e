// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/**
 * @dev Custom errors of {WarrantValidator}. They live in a library because two of them share their name with an
 * event of the validator (`SessionRevoked`), which Solidity does not allow in one contract scope. The selectors are
 * those of the plain error signatures; the Rust toolkit mirrors every name and argument list.
 */
library WarrantErrors {
    /// @dev The session `id` was never enabled for the account in the current epoch.
    error SessionNotEnabled(bytes32 id);
    /// @dev The session `id` was revoked in the current epoch.
    error SessionRevoked(bytes32 id);
    /// @dev The session already used its `max` operations.
    error UsesExhausted(uint32 uses, uint32 max);
    /// @dev The scope requires the operation to be sponsored by `required`.
    error PaymasterRequired(address required);
    /**
     * @dev The operation names `paymaster` (the first 20 bytes of its paymasterAndData, 0 if shorter) but the scope
     * pins none: a session may only use a paymaster the owner pinned.
     */
    error PaymasterNotPermitted(address paymaster);
    /// @dev The operation's gas limits add up to `total`, above the scope's `cap`.
    error GasLimitExceeded(uint256 total, uint256 cap);
    /// @dev The operation's maxFeePerGas `fee` is above the scope's `cap`.
    error MaxFeePerGasExceeded(uint256 fee, uint256 cap);
    /// @dev The operation calls the account with `selector`, which is not `execute(bytes32,bytes)`.
    error UnsupportedAccountCall(bytes4 selector);
    /// @dev The `execute` calldata is not in canonical ABI encoding.
    error MalformedCalldata();
    /// @dev The execution `mode` is not a plain single or batch call.
    error UnsupportedExecutionMode(bytes32 mode);
    /// @dev The batch holds no call.
    error EmptyBatch();
    /// @dev Call `index` targets the account, this module or the EntryPoint.
    error ForbiddenTarget(uint256 index, address target);
    /// @dev Call `index` has 1 to 3 bytes of calldata (neither empty nor a selector).
    error CalldataTooShort(uint256 index);
    /// @dev No policy of the scope matches call `index`.
    error CallNotPermitted(uint256 index, address target, bytes4 selector);
    /// @dev Call `index` sends `value`, above the matching policy's `cap`.
    error CallValueExceeded(uint256 index, uint256 value, uint256 cap);
    /// @dev Call `index` fails the condition `condition` on argument `argIndex`.
    error ArgumentConditionFailed(uint256 index, uint16 argIndex, uint8 condition);
    /// @dev Argument `argIndex` of call `index` can't be read within bounds.
    error ArgumentMalformed(uint256 index, uint16 argIndex);
    /**
     * @dev Argument `argIndex` of call `index` is not the canonical ABI word of the condition's type (dirty high bits
     * of an address or uintN, a bool above 1, an intN not sign-extended, non-zero low bytes of a bytesN).
     */
    error ArgumentNotCanonical(uint256 index, uint16 argIndex);
    /// @dev Condition `conditionIndex` of the policy matching call `index` is not well formed.
    error InvalidCondition(uint256 index, uint256 conditionIndex);
    /// @dev The session's native value spent would reach `total`, above its `cap`.
    error SessionValueExceeded(uint256 total, uint256 cap);
    /// @dev The grant names `grantAccount`, not the validating `account`.
    error GrantAccountMismatch(address grantAccount, address account);
    /// @dev The grant was signed for `grantEpoch`; the account is at `currentEpoch`.
    error GrantEpochStale(uint64 grantEpoch, uint256 currentEpoch);
    /// @dev The owner signature over the grant is not valid for the account (ERC-1271).
    error InvalidOwnerSignature();
    /// @dev The operation would bring `token`'s spend over the session's life to `spent`, above its `cap`.
    error SpendLimitExceeded(address token, uint256 spent, uint256 cap);
    /// @dev The operation would bring `token`'s spend in period `period` to `spent`, above its per-period `cap`.
    error PeriodSpendLimitExceeded(address token, uint32 period, uint256 spent, uint256 cap);
    /// @dev The session already made `uses` operations in period `period`, its per-period maximum `max`.
    error PeriodUsesExhausted(uint32 period, uint32 uses, uint32 max);
    /// @dev The operation names period `period`, earlier than period `current` the session already acted in.
    error PeriodStale(uint32 period, uint32 current);
    /// @dev Period `period` ends beyond 48-bit time (or is the degenerate window ending at time 1).
    error PeriodOutOfRange(uint32 period);
    /// @dev Call `index` to `token` (a limited token, or Permit2) could move a limited token by a route not counted.
    error TokenCallNotAccounted(uint256 index, address token, bytes4 selector);
    /// @dev Spend limit `limitIndex` is ill-formed: a finite cap above 112 bits, or a per-period cap with no period.
    error InvalidSpendLimit(uint256 limitIndex);
    /// @dev The scope limits uses per period but sets no period.
    error PeriodRequired();
    /// @dev The USE signature does not hold the length word and the session bytes it announces.
    error MalformedSessionSignature();
    /**
     * @dev Gate `gateIndex` is ill-formed: an unknown kind, token 0, a `minBalance` of 0, a token id on an ERC-20 or
     * ERC-721 gate, or more than the validator's maximum number of gates.
     */
    error InvalidGate(uint256 gateIndex);
    /// @dev The account holds `balance` of gate `gateIndex`'s `token`, below the gate's `minBalance`.
    error GateNotHeld(uint256 gateIndex, address token, uint256 balance, uint256 minBalance);
    /// @dev Gate `gateIndex`'s `token` did not answer `balanceOf` with a word (no code, a revert, or short data).
    error GateUnreadable(uint256 gateIndex, address token);
}
