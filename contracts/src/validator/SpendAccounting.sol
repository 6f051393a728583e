// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {WarrantErrors} from "../WarrantErrors.sol";
import {CallChecks} from "./CallChecks.sol";
import {Saturating} from "./Saturating.sol";

/**
 * @dev Spend limits and periods of a session (`docs/spend-limits.md`): what the calls of an operation move of each
 * limited asset, the period rules (the window of the period an operation names, uses per period) and the debit of
 * the per-period and lifetime counters. The counters live at the session's state slot + 1 + i, associated with the
 * account (ERC-7562). Internal functions only, run inside the validator's `validateUserOp`: `msg.sender` is the
 * account and the storage is the validator's.
 */
library SpendAccounting {
    /// @dev Uniswap's Permit2, the same address on every chain: it moves tokens the account approved to it.
    address internal constant PERMIT2 = 0x000000000022D473030F116dDEE9F6B43aC78BA3;

    /// @dev A spend cap of this value means "no cap".
    uint128 internal constant NO_CAP = type(uint128).max;

    /// @dev ERC-20 calls that move the account's tokens, counted at their amount (the table of
    /// `docs/spend-limits.md`); `decreaseAllowance` moves nothing.
    bytes4 internal constant TRANSFER = 0xa9059cbb; // transfer(address,uint256)
    bytes4 internal constant APPROVE = 0x095ea7b3; // approve(address,uint256)
    bytes4 internal constant INCREASE_ALLOWANCE = 0x39509351; // increaseAllowance(address,uint256)
    bytes4 internal constant TRANSFER_FROM = 0x23b872dd; // transferFrom(address,address,uint256)
    bytes4 internal constant PERMIT = 0xd505accf; // permit(address,address,uint256,uint256,uint8,bytes32,bytes32)
    bytes4 internal constant DECREASE_ALLOWANCE = 0xa457c2d7; // decreaseAllowance(address,uint256)

    /// @dev Permit2 calls counted against the token they name; every other Permit2 call is refused while an ERC-20
    /// is limited.
    bytes4 internal constant PERMIT2_APPROVE = 0x87517c45; // approve(address,address,uint160,uint48)
    bytes4 internal constant PERMIT2_TRANSFER_FROM = 0x36c78516; // transferFrom(address,address,uint160,address)

    /// @dev Where the limits of the spend section at `spend` start (0 when there is no spend section).
    function spendLimits(uint256 spend) internal pure returns (uint256 p) {
        if (spend == 0) return 0;
        assembly ("memory-safe") {
            p := add(add(spend, 15), byte(0, mload(add(spend, 14))))
        }
    }

    /// @dev Limit `i` at `p` (from {spendLimits}): `token(20) ‖ perPeriod(16) ‖ lifetime(16)`.
    function limitAt(uint256 p, uint256 i) internal pure returns (address token, uint256 perPeriod, uint256 lifetime) {
        assembly ("memory-safe") {
            let l := add(p, mul(i, 52))
            token := shr(96, mload(l))
            perPeriod := shr(128, mload(add(l, 20)))
            lifetime := shr(128, mload(add(l, 36)))
        }
    }

    /// @dev Index of the first of the `n` limits at `p` on `token`, or `n`.
    function limitOf(uint256 p, uint256 n, address token) internal pure returns (uint256 i) {
        assembly ("memory-safe") {
            for {} lt(i, n) { i := add(i, 1) } {
                if eq(shr(96, mload(add(p, mul(i, 52)))), token) { break }
            }
        }
    }

    function hasTokenLimit(uint256 p, uint256 n) internal pure returns (bool) {
        for (uint256 i = 0; i < n; ++i) {
            (address t,,) = limitAt(p, i);
            if (t != address(0)) return true;
        }
        return false;
    }

    /**
     * @dev Runs {accountTokenCall} on every call of `callData`, which {CallChecks-checkCalls} has already checked:
     * canonical `execute`, single or canonical batch mode.
     */
    function accountCalls(bytes calldata callData, uint256 p, uint256[] memory amounts) internal view {
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
            accountTokenCall(p, amounts, 0, target, data);
        } else {
            // The batch {CallChecks-checkCalls} has accepted (canonical, so its length word is the element count).
            uint256 n;
            assembly ("memory-safe") {
                n := calldataload(add(executionCalldata.offset, 32))
            }
            for (uint256 i = 0; i < n; ++i) {
                (address target,, bytes calldata data) = CallChecks.batchElement(executionCalldata, i);
                accountTokenCall(p, amounts, i, target, data);
            }
        }
    }

    /**
     * @dev Adds what call `index` moves of a limited asset to `amounts` (the table of `docs/spend-limits.md`). A
     * call to a limited token (or to Permit2 while any ERC-20 is limited) that could move it by a route the table
     * does not count is refused. Amounts saturate rather than wrap, so the cap check then fails.
     */
    function accountTokenCall(uint256 p, uint256[] memory amounts, uint256 index, address target, bytes calldata data)
        internal
        view
    {
        uint256 n = amounts.length;
        bytes4 selector = data.length >= 4 ? bytes4(data) : bytes4(0);
        uint256 li = limitOf(p, n, target);
        if (li < n) {
            uint256 amount;
            if (selector == TRANSFER || selector == APPROVE || selector == INCREASE_ALLOWANCE) {
                // transfer(to, amount), approve(spender, amount) at its full amount, increaseAllowance(spender, added)
                if (data.length < 68) revert WarrantErrors.TokenCallNotAccounted(index, target, selector);
                amount = arg(data, 1);
            } else if (selector == TRANSFER_FROM || selector == PERMIT) {
                // transferFrom(from, to, amount), EIP-2612 permit(owner, spender, value, …): the account's tokens only
                if (data.length < 100) revert WarrantErrors.TokenCallNotAccounted(index, target, selector);
                if (address(uint160(arg(data, 0))) == msg.sender) amount = arg(data, 2);
            } else if (selector != DECREASE_ALLOWANCE) {
                // Anything but decreaseAllowance might move the token by a route not counted here.
                revert WarrantErrors.TokenCallNotAccounted(index, target, selector);
            }
            amounts[li] = Saturating.add(amounts[li], amount);
        } else if (target == PERMIT2 && hasTokenLimit(p, n)) {
            if (selector == PERMIT2_APPROVE || selector == PERMIT2_TRANSFER_FROM) {
                // approve(token, spender, uint160 amount, uint48 expiration) counts always; transferFrom(from, to,
                // uint160 amount, token) counts when `from` is the account.
                if (data.length < 132) revert WarrantErrors.TokenCallNotAccounted(index, target, selector);
                bool isApprove = selector == PERMIT2_APPROVE;
                li = limitOf(p, n, address(uint160(arg(data, isApprove ? 0 : 3))));
                if (li < n && (isApprove || address(uint160(arg(data, 0))) == msg.sender)) {
                    amounts[li] = Saturating.add(amounts[li], arg(data, 2));
                }
            } else {
                // Permits, batch transfers, lockdown…: routes the counters would not see.
                revert WarrantErrors.TokenCallNotAccounted(index, target, selector);
            }
        }
    }

    /**
     * @dev Checks and debits the period rules and spend limits of an operation naming period `k` (the signed field
     * of its module signature) against the spend section at `spend`. Returns the new state word, whether it changed
     * (only for a rate-limited session) and the validation data of the period window. The order of the checks is
     * mirrored by the Rust evaluator.
     */
    function debitSpend(
        uint256 spend,
        uint256 state,
        uint32 k,
        uint256[] memory amounts,
        uint256 valueTotal,
        uint256 slot
    ) internal returns (uint256, bool write, uint256 periodWindow) {
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

        uint256 p = spendLimits(spend);
        uint256 n = amounts.length;
        // Native value goes to the first native limit, as token amounts go to the first limit of their token.
        if (valueTotal != 0) {
            uint256 native = limitOf(p, n, address(0));
            if (native < n) amounts[native] = valueTotal;
        }
        for (uint256 i = 0; i < n; ++i) {
            uint256 amount = amounts[i];
            if (amount == 0) continue;
            (address token, uint256 perPeriod, uint256 lifetime) = limitAt(p, i);
            uint256 counterSlot = slot + 1 + i;
            uint256 c;
            assembly ("memory-safe") {
                c := sload(counterSlot)
            }
            uint256 periodSpent;
            if (period != 0) {
                // A counter already in a later period: the op is from an earlier one (defense in depth — its window
                // has closed for good once a later period's op was included).
                if (uint32(c) > k) revert WarrantErrors.PeriodStale(k, uint32(c));
                periodSpent = Saturating.add(uint32(c) == k ? uint112(c >> 32) : 0, amount);
                uint256 periodCap = effectiveCap(perPeriod);
                if (periodSpent > periodCap) {
                    revert WarrantErrors.PeriodSpendLimitExceeded(token, k, periodSpent, periodCap);
                }
            }
            uint256 lifetimeSpent = Saturating.add(uint112(c >> 144), amount);
            uint256 lifetimeCap = effectiveCap(lifetime);
            if (lifetimeSpent > lifetimeCap) {
                revert WarrantErrors.SpendLimitExceeded(token, lifetimeSpent, lifetimeCap);
            }
            // Both fit 112 bits: they are at most their caps.
            uint256 counter = (period != 0 ? uint256(k) : 0) | (periodSpent << 32) | (lifetimeSpent << 144);
            assembly ("memory-safe") {
                sstore(counterSlot, counter)
            }
        }
        return (state, maxUsesPerPeriod != 0, periodWindow);
    }

    /// @dev Argument word `i` (after the selector); the caller checked the length.
    function arg(bytes calldata data, uint256 i) internal pure returns (uint256 w) {
        assembly ("memory-safe") {
            w := calldataload(add(data.offset, add(4, mul(32, i))))
        }
    }

    /// @dev "No cap" still stops at the 112-bit counter's width rather than wrap around.
    function effectiveCap(uint256 cap) internal pure returns (uint256) {
        return cap == NO_CAP ? type(uint112).max : cap;
    }
}
