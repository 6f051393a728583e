// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {PackedUserOperation} from "@openzeppelin/contracts/interfaces/IERC4337.sol";
import {IERC7579Execution} from "@openzeppelin/contracts/interfaces/draft-IERC7579.sol";
import {Execution} from "@openzeppelin/contracts/account/utils/draft-ERC7579Utils.sol";
import {WarrantFixture} from "./utils/WarrantFixture.sol";
import {WarrantValidator} from "../src/WarrantValidator.sol";
import {Recorder} from "./mocks/Recorder.sol";

/**
 * @dev Fuzzing of the `execute` decoding (REFERENCE §6.4, §6.5): canonical single and batch calldata, mutated word by
 * word, byte by byte, truncated or extended, and wholly random calldata, sent through the real EntryPoint. Whenever
 * validation accepts, the calls the account really made (recorded by the target's own ABI decoder) must be exactly
 * those Solidity's decoder reads from the calldata, and each must satisfy the scope.
 */
contract DecodingFuzzTest is WarrantFixture {
    Recorder internal recorder;
    address internal friend = address(0xF12E7D);
    address internal attacker = address(0xA77AC4E2);

    uint256 internal constant MAX_AMOUNT = 100;
    uint256 internal constant MAX_MEMO = 8;
    uint256 internal constant MAX_VALUE = 0.5 ether;

    function setUp() public override {
        super.setUp();
        recorder = new Recorder();
        _enableStatic(proxy, ownerPk, _scopedSession());
    }

    /// @dev pay(friend, <= 100, memo of <= 8 bytes) on the recorder, up to 0.5 ether a call; nothing else.
    function _scopedSession() internal view returns (WarrantValidator.Session memory s) {
        WarrantValidator.CallPolicy memory p = _policy(address(recorder), Recorder.pay.selector, MAX_VALUE);
        p.conditions = new WarrantValidator.ArgCondition[](3);
        p.conditions[0] = _cond(0, T_ADDRESS, 0, bytes32(uint256(uint160(friend))));
        p.conditions[1] = _cond(3, 1, bytes32(MAX_AMOUNT));
        p.conditions[2] = _cond(7, 2, bytes32(MAX_MEMO));
        s = _session(p);
        s.scope.maxValueTotal = type(uint128).max;
        // A use cap the fuzz never reaches: uses are then counted, so every acceptance shows as one debited use.
        s.scope.maxUses = type(uint32).max;
    }

    // ------------------------------------------------------------ reference decoder (Solidity's own)

    function decodeExecute(bytes calldata callData) external pure returns (bytes32 mode, bytes memory execution) {
        require(bytes4(callData) == IERC7579Execution.execute.selector, "selector");
        return abi.decode(callData[4:], (bytes32, bytes));
    }

    function decodeBatch(bytes calldata execution) external pure returns (Execution[] memory) {
        return abi.decode(execution, (Execution[]));
    }

    // ------------------------------------------------------------ builders and mutations

    function _item(uint256 r) internal view returns (Execution memory e) {
        // Always in the scope: the mutation is the only way out of it.
        e.target = address(recorder);
        e.value = r % 2 == 0 ? 0 : (r >> 1) % (MAX_VALUE + 1);
        e.callData = abi.encodeCall(
            Recorder.pay, (friend, (r >> 64) % (MAX_AMOUNT + 1), new bytes((r >> 128) % (MAX_MEMO + 1)))
        );
    }

    function _word(uint256 pick, uint256 raw, uint256 len) internal view returns (uint256) {
        uint256[12] memory words = [
            0,
            0x20,
            0x40,
            0x60,
            0x80,
            len,
            len - 0x20,
            raw % 256,
            type(uint256).max,
            type(uint256).max - 0x1f,
            uint256(uint160(attacker)),
            raw
        ];
        return words[pick % 12];
    }

    /**
     * @dev One mutation of `data` at `pos`: overwrite a word (aligned or not), overwrite a byte, truncate, append or
     * insert 32 bytes. Mutation 0 leaves the data as is.
     */
    function _mutate(bytes memory data, uint8 kind, uint256 pos, uint256 pick, uint256 raw)
        internal
        view
        returns (bytes memory out)
    {
        kind %= 7;
        uint256 len = data.length;
        // A previous mutation may have cut the data short: too little left to mutate.
        if (kind == 0 || len < 36) return data;
        if (kind == 1 || kind == 2) {
            // Word overwrite at an aligned offset (1) or anywhere (2).
            uint256 at = kind == 1 ? (pos % ((len - 4) / 32)) * 32 + 4 : pos % (len - 31);
            uint256 w = _word(pick, raw, len);
            if (at + 32 > len) at = len - 32;
            assembly ("memory-safe") {
                mstore(add(add(data, 0x20), at), w)
            }
            return data;
        }
        if (kind == 3) {
            data[pos % len] = bytes1(uint8(raw));
            return data;
        }
        if (kind == 4) {
            // Truncate (keep at least the selector).
            out = new bytes(4 + pos % (len - 4));
            for (uint256 i = 0; i < out.length; ++i) {
                out[i] = data[i];
            }
            return out;
        }
        if (kind == 5) return abi.encodePacked(data, bytes32(raw));
        // Insert a word at an aligned offset.
        uint256 cut = (pos % ((len - 4) / 32)) * 32 + 4;
        out = new bytes(len + 32);
        for (uint256 i = 0; i < cut; ++i) {
            out[i] = data[i];
        }
        bytes32 w = bytes32(_word(pick, raw, len));
        for (uint256 i = 0; i < 32; ++i) {
            out[cut + i] = w[i];
        }
        for (uint256 i = cut; i < len; ++i) {
            out[i + 32] = data[i];
        }
    }

    // ------------------------------------------------------------ the property

    /// @dev Sends `callData` in a session operation; if it validates, checks what the account executed.
    function _check(bytes memory callData) internal returns (bool accepted) {
        WarrantValidator.Session memory s = _scopedSession();
        (, uint32 usesBefore,) = validator.sessionState(proxy, validator.sessionId(proxy, s));
        uint256 before = recorder.count();
        PackedUserOperation[] memory ops = new PackedUserOperation[](1);
        ops[0] = _sessionOp(proxy, s, callData);
        try ep.handleOps(ops, beneficiary) {
            accepted = true;
        } catch {}
        (, uint32 usesAfter,) = validator.sessionState(proxy, validator.sessionId(proxy, s));
        if (!accepted) {
            vm.assertEq(recorder.count(), before, "refused, yet a call happened");
            vm.assertEq(usesAfter, usesBefore, "refused, yet a use was debited");
            return false;
        }
        vm.assertEq(usesAfter, usesBefore + 1, "accepted: one use debited");

        // Accepted: Solidity's decoder must read the calldata, and its calls are the ones the account made.
        bytes32 mode;
        bytes memory execution;
        try this.decodeExecute(callData) returns (bytes32 m, bytes memory e) {
            (mode, execution) = (m, e);
        } catch {
            vm.assertTrue(false, "accepted an execute calldata that Solidity's decoder refuses");
        }
        Execution[] memory calls;
        if (mode == MODE_SINGLE) {
            calls = new Execution[](1);
            calls[0].target = address(bytes20(execution));
            calls[0].value = uint256(bytes32(_slice(execution, 20)));
            calls[0].callData = _slice(execution, 52);
        } else {
            vm.assertEq(mode, MODE_BATCH, "accepted mode is single or batch");
            try this.decodeBatch(execution) returns (Execution[] memory decoded) {
                calls = decoded;
            } catch {
                vm.assertTrue(false, "accepted a batch that Solidity's decoder refuses");
            }
        }
        vm.assertGt(calls.length, 0, "accepted a call list");
        vm.assertEq(recorder.count() - before, calls.length, "executed exactly the decoded calls");
        for (uint256 i = 0; i < calls.length; ++i) {
            Recorder.Entry memory e = recorder.entry(before + i);
            vm.assertEq(calls[i].target, address(recorder), "target in scope");
            vm.assertEq(e.sender, proxy, "sender");
            vm.assertTrue(e.known, "selector in scope (pay)");
            vm.assertEq(e.dataHash, keccak256(calls[i].callData), "executed the decoded calldata");
            vm.assertEq(e.value, calls[i].value, "executed the decoded value");
            vm.assertEq(e.who, friend, "argument 0 in scope");
            vm.assertTrue(e.amount <= MAX_AMOUNT, "argument 1 in scope");
            vm.assertTrue(e.memoLength <= MAX_MEMO, "argument 2 in scope");
            vm.assertTrue(e.value <= MAX_VALUE, "value in scope");
        }
    }

    // ------------------------------------------------------------ fuzz tests

    function testFuzz_mutatedBatch(uint256 seed, uint8 kind, uint256 pos, uint256 pick, uint256 raw) public {
        Execution[] memory calls = new Execution[](1 + seed % 3);
        for (uint256 i = 0; i < calls.length; ++i) {
            calls[i] = _item(uint256(keccak256(abi.encode(seed, i))));
        }
        _check(_mutate(_execBatch(calls), kind, pos, pick, raw));
    }

    function testFuzz_mutatedSingle(uint256 seed, uint8 kind, uint256 pos, uint256 pick, uint256 raw) public {
        Execution memory c = _item(seed);
        _check(_mutate(_execSingle(c.target, c.value, c.callData), kind, pos, pick, raw));
    }

    /// @dev Two mutations in a row, so that a broken offset can be "repaired" by a matching length, and so on.
    function testFuzz_doubleMutatedBatch(uint256 seed, uint8 k1, uint8 k2, uint256 pos1, uint256 pos2, uint256 raw)
        public
    {
        Execution[] memory calls = new Execution[](1 + seed % 3);
        for (uint256 i = 0; i < calls.length; ++i) {
            calls[i] = _item(uint256(keccak256(abi.encode(seed, i))));
        }
        bytes memory data = _mutate(_execBatch(calls), k1, pos1, raw, raw >> 8);
        _check(_mutate(data, k2, pos2, raw >> 16, raw >> 24));
    }

    function _wordAt(bytes memory data, uint256 at) internal pure returns (uint256 w) {
        assembly ("memory-safe") {
            w := mload(add(add(data, 0x20), at))
        }
    }

    /**
     * @dev Every structural word of a batch (array offset, length, an element's head, its callData offset, its
     * callData length) overwritten with any 256-bit value: 2^255 and up, and small "negative" values that reach back
     * before the element, into `execute`'s head or, in the validator's calldata, into other fields of the op.
     */
    function testFuzz_batchOffsetsFullRange(uint256 seed, uint8 which, uint256 value, uint8 shape) public {
        Execution[] memory calls = new Execution[](1 + seed % 3);
        for (uint256 i = 0; i < calls.length; ++i) {
            calls[i] = _item(uint256(keccak256(abi.encode(seed, i))));
        }
        bytes memory data = _execBatch(calls);
        uint256 i = (seed >> 8) % calls.length;
        // execute(mode, ec): ec at 100; its heads at ec + 64; element i at ec + 64 + head_i.
        uint256 element = 164 + _wordAt(data, 164 + 32 * i);
        uint256[5] memory positions = [uint256(100), 132, 164 + 32 * i, element + 64, element + 96];
        uint256 w = value;
        shape %= 4;
        if (shape == 0) w = type(uint256).max - (value % 1024); // -1 ... -1024
        else if (shape == 1) w = (uint256(1) << 255) | (value % 1024); // 2^255 and a little
        else if (shape == 2) w = value % 1024; // small, aligned or not
        uint256 at = positions[which % 5];
        assembly ("memory-safe") {
            mstore(add(add(data, 0x20), at), w)
        }
        _check(data);
    }

    /// @dev Random mode and random execution calldata.
    function testFuzz_randomExecute(bytes32 mode, bytes memory execution, bool plainMode) public {
        if (plainMode) mode = mode[0] == 0 ? MODE_SINGLE : MODE_BATCH;
        _check(abi.encodeCall(IERC7579Execution.execute, (mode, execution)));
    }

    /// @dev Wholly random account calldata.
    function testFuzz_randomCallData(bytes memory callData) public {
        _check(callData);
    }

    /// @dev The unmutated builders are accepted, so the mutation tests above do test acceptance paths.
    function test_baselineAccepted() public {
        Execution[] memory calls = new Execution[](3);
        for (uint256 i = 0; i < 3; ++i) {
            calls[i] = _item(uint256(keccak256(abi.encode(i))));
        }
        vm.assertTrue(_check(_execBatch(calls)), "batch accepted");
        vm.assertTrue(_check(_execSingle(calls[0].target, calls[0].value, calls[0].callData)), "single accepted");
        // Non-zero padding after the execution calldata: Solidity ignores it, so may we.
        bytes memory padded = _execSingle(calls[1].target, calls[1].value, calls[1].callData);
        padded[padded.length - 1] = 0x01;
        vm.assertTrue(_check(padded), "dirty padding accepted; the same call runs");
    }
}
