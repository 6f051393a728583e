// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {WarrantErrors} from "../WarrantErrors.sol";
import {Saturating} from "./Saturating.sol";

/**
 * @dev The call rules of a session, read from its session bytes in memory (layout in `docs/grant-format.md`): the
 * account call must be a canonical ERC-7579 `execute` in single or batch mode, and every inner call must match a
 * policy of the session (target, selector, value cap, argument conditions). What is checked here is exactly what the
 * account's decoder executes: every length and offset is bounded against the execution calldata itself. Internal
 * functions only, so they run inside the validator's `validateUserOp` (same caller, same storage).
 */
library CallChecks {
    /// @dev Policy flag: the policy matches any target.
    uint8 internal constant ANY_TARGET = 0x01;
    /// @dev Policy flag: the policy matches any selector.
    uint8 internal constant ANY_SELECTOR = 0x02;

    /// @dev Condition kinds. 0-5 compare the head word as uint256 (intN: signed) with `values[0]`; IN compares it
    /// with each value; 7-10 apply to a dynamic argument.
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
    /// @dev The number of condition kinds: a kind at or above it is ill-formed.
    uint8 internal constant COND_KINDS = 11;

    /// @dev Results of {checkConditions} (and of the validator's `evaluateCondition`).
    uint8 internal constant RESULT_PASS = 0;
    uint8 internal constant RESULT_FAIL = 1;
    uint8 internal constant RESULT_MALFORMED = 2;
    uint8 internal constant RESULT_INVALID = 3;
    uint8 internal constant RESULT_NOT_CANONICAL = 4;
    /// @dev Internal to {checkConditions}: the condition is on a dynamic argument, evaluated by {evaluateDynamic}.
    uint8 private constant RESULT_DYNAMIC = 0xff;

    /// @dev Argument type codes (see the validator's `ArgCondition`): uintN at 0x00 + N/8 - 1, intN at 0x20 + N/8 - 1,
    /// bytesN at 0x40 + N - 1, then address, bool and dynamic (the head word is an offset).
    uint8 internal constant ARG_INT = 0x20;
    uint8 internal constant ARG_BYTES = 0x40;
    uint8 internal constant ARG_ADDRESS = 0x60;
    uint8 internal constant ARG_BOOL = 0x61;
    uint8 internal constant ARG_DYNAMIC = 0x62;
    /// @dev The number of argument type codes: a code at or above it is ill-formed.
    uint8 internal constant ARG_TYPES = 0x63;

    /// @dev `execute(bytes32,bytes)` of ERC-7579, the only account function a session may call.
    uint256 internal constant EXECUTE_SELECTOR = 0xe9ae5c53;

    /// @dev EntryPoint v0.8; a session may never call it (deposits, nonces, stake belong to the owner).
    address internal constant ENTRY_POINT = 0x4337084D9E255Ff0702461CF8895CE9E3b5Ff108;

    /// @dev Checks the account call and every inner call; returns the native value they send in total.
    function checkCalls(uint256 policies, uint256 policyCount, bytes calldata callData)
        internal
        view
        returns (uint256 valueTotal)
    {
        // Only `execute(bytes32,bytes)`: `executeUserOp`, `installModule` and every other entry are refused.
        bool ok;
        assembly ("memory-safe") {
            ok := and(gt(callData.length, 3), eq(shr(224, calldataload(callData.offset)), EXECUTE_SELECTOR))
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
            checkCall(policies, policyCount, 0, target, value, data);
            return value;
        } else if (mode == bytes32(bytes1(0x01))) {
            // Batch, revert on failure, in canonical encoding only (see {batchLength}).
            uint256 n = batchLength(executionCalldata);
            for (uint256 i = 0; i < n; ++i) {
                (address target, uint256 value, bytes calldata data) = batchElement(executionCalldata, i);
                checkCall(policies, policyCount, i, target, value, data);
                valueTotal = Saturating.add(valueTotal, value);
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
    function batchLength(bytes calldata ec) internal pure returns (uint256 n) {
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

    /// @dev Element `i` of the batch `ec`, which {batchLength} has checked.
    function batchElement(bytes calldata ec, uint256 i)
        internal
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
    function checkCall(
        uint256 policies,
        uint256 policyCount,
        uint256 index,
        address target,
        uint256 value,
        bytes calldata data
    ) internal view {
        // Address 0 too: OpenZeppelin's ERC-7579 execution runs a call to target 0 on the account itself.
        bool forbidden;
        address entryPoint = ENTRY_POINT;
        assembly ("memory-safe") {
            forbidden := or(or(eq(target, caller()), iszero(target)), or(eq(target, address()), eq(target, entryPoint)))
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
                    or(and(flags, ANY_TARGET), eq(shr(96, w), target)),
                    or(shr(1, and(flags, ANY_SELECTOR)), eq(and(shr(64, w), 0xffffffff), wanted))
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
        (uint256 result, uint256 c, uint256 kind, uint256 argIndex) = checkConditions(data, q, conditionCount);
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
     * Conditions on head words run here; those on dynamic arguments in {evaluateDynamic}. The Rust evaluator
     * mirrors this order.
     */
    function checkConditions(bytes calldata data, uint256 q, uint256 count)
        internal
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
                    let isIn := eq(kind, COND_IN)
                    let dynamic := gt(kind, COND_IN)
                    let ok := and(lt(kind, COND_KINDS), or(and(isIn, gt(n, 0)), and(iszero(isIn), eq(n, 1))))
                    ok := and(ok, and(lt(t, ARG_TYPES), eq(dynamic, eq(t, ARG_DYNAMIC))))
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
                        result := RESULT_INVALID
                        break
                    }
                    // Head word i sits at 4 + 32 * i (argIndex is 16-bit: no overflow).
                    let pos := add(4, shl(5, argIndex))
                    if gt(add(pos, 32), data.length) {
                        result := RESULT_MALFORMED
                        break
                    }
                    word := calldataload(add(data.offset, pos))
                    if dynamic {
                        result := RESULT_DYNAMIC
                        break
                    }
                    if iszero(canonical(t, word)) {
                        result := RESULT_NOT_CANONICAL
                        break
                    }
                    switch lt(kind, COND_IN)
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
                        result := RESULT_FAIL
                        break
                    }
                    q := next
                    c := add(c, 1)
                }
            }
            if (result != RESULT_DYNAMIC) return (result, c, kind, argIndex);
            result = evaluateDynamic(data, kind, word, ref);
            if (result != RESULT_PASS) return (result, c, kind, argIndex);
            q = next;
            ++c;
        }
    }

    /**
     * @dev A condition on a dynamic argument: the head word `word` is an offset (from the start of the arguments) to
     * a length word. Both are bounded to 32 bits so no sum below can wrap, and the content must lie inside the data.
     */
    function evaluateDynamic(bytes calldata data, uint256 kind, uint256 word, uint256 ref)
        internal
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
}
