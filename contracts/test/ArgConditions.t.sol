// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC7579Execution} from "@openzeppelin/contracts/interfaces/draft-IERC7579.sol";
import {WarrantFixture} from "./utils/WarrantFixture.sol";
import {WarrantValidator} from "../src/WarrantValidator.sol";
import {WarrantErrors} from "../src/WarrantErrors.sol";
import {MockTarget} from "./mocks/Mocks.sol";

/// @dev Argument conditions (REFERENCE §6.5, §6.6): every kind through handleOps, malformed data, and fuzzing of the
/// on-chain evaluator against an independent model.
contract ArgConditionsTest is WarrantFixture {
    uint256 private _salt;

    function _sessionWith(bytes4 selector, WarrantValidator.ArgCondition memory c)
        internal
        returns (WarrantValidator.Session memory s)
    {
        WarrantValidator.CallPolicy memory p = _policy(address(target), selector, 0);
        p.conditions = new WarrantValidator.ArgCondition[](1);
        p.conditions[0] = c;
        s = _session(p);
        s.salt = bytes32(++_salt);
        _enableStatic(proxy, ownerPk, s);
    }

    function _call(bytes memory data) internal view returns (bytes memory) {
        return _execSingle(address(target), 0, data);
    }

    function _pass(WarrantValidator.Session memory s, bytes memory data) internal {
        uint256 before = target.calls();
        _handle(_sessionOp(proxy, s, _call(data)));
        vm.assertEq(target.calls(), before + 1, "call executed");
    }

    function _fail(WarrantValidator.Session memory s, bytes memory data, bytes4 selector)
        internal
        returns (bytes memory)
    {
        return _expectAA23(_sessionOp(proxy, s, _call(data)), selector);
    }

    function _pair(uint256 a) internal pure returns (bytes memory) {
        return abi.encodeCall(MockTarget.setPair, (a, "x"));
    }

    // ------------------------------------------------------------ comparisons and IN

    function test_comparisons() public {
        // kind => (passing value, failing value) against the reference 10.
        uint256[2][6] memory cases = [
            [uint256(10), 11],
            [uint256(11), 10],
            [uint256(9), 10],
            [uint256(10), 11],
            [uint256(11), 10],
            [uint256(10), 9]
        ];
        for (uint8 kind = 0; kind < 6; ++kind) {
            WarrantValidator.Session memory s =
                _sessionWith(MockTarget.setPair.selector, _cond(kind, 0, bytes32(uint256(10))));
            _pass(s, _pair(cases[kind][0]));
            bytes memory inner = _fail(s, _pair(cases[kind][1]), WarrantErrors.ArgumentConditionFailed.selector);
            vm.assertEq(
                inner, abi.encodeWithSelector(WarrantErrors.ArgumentConditionFailed.selector, 0, 0, kind), "data"
            );
        }
    }

    function test_in() public {
        WarrantValidator.ArgCondition memory c;
        c.condition = 6;
        c.values = new bytes32[](3);
        c.values[0] = bytes32(uint256(1));
        c.values[1] = bytes32(uint256(5));
        c.values[2] = bytes32(uint256(9));
        WarrantValidator.Session memory s = _sessionWith(MockTarget.setPair.selector, c);
        _pass(s, _pair(5));
        _pass(s, _pair(9));
        _fail(s, _pair(6), WarrantErrors.ArgumentConditionFailed.selector);
    }

    // ------------------------------------------------------------ dynamic arguments

    function test_bytesLength() public {
        WarrantValidator.Session memory lte =
            _sessionWith(MockTarget.setBytes.selector, _cond(7, 0, bytes32(uint256(4))));
        _pass(lte, abi.encodeCall(MockTarget.setBytes, (hex"01020304")));
        _fail(
            lte, abi.encodeCall(MockTarget.setBytes, (hex"0102030405")), WarrantErrors.ArgumentConditionFailed.selector
        );
        WarrantValidator.Session memory gte =
            _sessionWith(MockTarget.setBytes.selector, _cond(8, 0, bytes32(uint256(4))));
        _pass(gte, abi.encodeCall(MockTarget.setBytes, (hex"0102030405")));
        _fail(gte, abi.encodeCall(MockTarget.setBytes, (hex"010203")), WarrantErrors.ArgumentConditionFailed.selector);
    }

    function test_bytesAndStringHash() public {
        WarrantValidator.Session memory s = _sessionWith(MockTarget.setBytes.selector, _cond(9, 0, keccak256("hello")));
        _pass(s, abi.encodeCall(MockTarget.setBytes, ("hello")));
        _fail(s, abi.encodeCall(MockTarget.setBytes, ("hellO")), WarrantErrors.ArgumentConditionFailed.selector);
        // A string as the second argument (head word 1).
        WarrantValidator.Session memory str = _sessionWith(MockTarget.setPair.selector, _cond(9, 1, keccak256("ok")));
        _pass(str, abi.encodeCall(MockTarget.setPair, (7, "ok")));
        _fail(str, abi.encodeCall(MockTarget.setPair, (7, "no")), WarrantErrors.ArgumentConditionFailed.selector);
    }

    function test_arrayHash() public {
        uint256[] memory good = new uint256[](3);
        (good[0], good[1], good[2]) = (1, 2, 3);
        WarrantValidator.Session memory s =
            _sessionWith(MockTarget.setArray.selector, _cond(10, 0, keccak256(abi.encodePacked(good))));
        _pass(s, abi.encodeCall(MockTarget.setArray, (good)));
        good[2] = 4;
        _fail(s, abi.encodeCall(MockTarget.setArray, (good)), WarrantErrors.ArgumentConditionFailed.selector);
        // Empty array against the hash of nothing: a zero-length array passes only the empty hash.
        WarrantValidator.Session memory empty = _sessionWith(MockTarget.setArray.selector, _cond(10, 0, keccak256("")));
        _pass(empty, abi.encodeCall(MockTarget.setArray, (new uint256[](0))));
    }

    // ------------------------------------------------------------ malformed data

    function test_malformedOffsets() public {
        WarrantValidator.Session memory s =
            _sessionWith(MockTarget.setBytes.selector, _cond(7, 0, bytes32(uint256(100))));
        bytes4 sel = MockTarget.setBytes.selector;
        bytes4 malformed = WarrantErrors.ArgumentMalformed.selector;
        // Offset wider than 32 bits (would wrap if added blindly).
        _fail(s, abi.encodePacked(sel, type(uint256).max - 3, uint256(1), bytes32(0)), malformed);
        // Offset pointing past the calldata.
        _fail(s, abi.encodePacked(sel, uint256(0x1000), uint256(1), bytes32(0)), malformed);
        // Length wider than 32 bits.
        _fail(s, abi.encodePacked(sel, uint256(0x20), type(uint256).max, bytes32(0)), malformed);
        // Content running past the end (length 64, 32 bytes present).
        _fail(s, abi.encodePacked(sel, uint256(0x20), uint256(64), bytes32(0)), malformed);
        // Head word missing (selector only).
        bytes memory inner = _fail(s, abi.encodePacked(sel), malformed);
        vm.assertEq(inner, abi.encodeWithSelector(malformed, 0, 0), "data");
        // Argument index beyond the head.
        WarrantValidator.Session memory far = _sessionWith(MockTarget.setPair.selector, _cond(0, 5, bytes32(0)));
        _fail(far, _pair(1), malformed);
    }

    function test_invalidConditions() public {
        WarrantValidator.ArgCondition memory two = _cond(0, 0, bytes32(0));
        two.values = new bytes32[](2);
        WarrantValidator.Session memory s = _sessionWith(MockTarget.setPair.selector, two);
        bytes memory inner = _fail(s, _pair(0), WarrantErrors.InvalidCondition.selector);
        vm.assertEq(inner, abi.encodeWithSelector(WarrantErrors.InvalidCondition.selector, 0, 0), "data");

        WarrantValidator.ArgCondition memory emptyIn = _cond(6, 0, bytes32(0));
        emptyIn.values = new bytes32[](0);
        _fail(_sessionWith(MockTarget.setPair.selector, emptyIn), _pair(0), WarrantErrors.InvalidCondition.selector);
        _fail(
            _sessionWith(MockTarget.setPair.selector, _cond(11, 0, bytes32(0))),
            _pair(0),
            WarrantErrors.InvalidCondition.selector
        );
    }

    // ------------------------------------------------------------ fuzzing

    /// @dev Independent model of a condition (written from the spec, not from the contract).
    function _model(bytes memory data, uint8 kind, uint16 argIndex, bytes32[] memory values)
        internal
        pure
        returns (uint8)
    {
        if (kind > 10) return 3;
        if (kind == 6 ? values.length < 1 : values.length != 1) return 3;
        uint256 head = 4 + 32 * uint256(argIndex);
        if (data.length < head + 32) return 2;
        uint256 w = _word(data, head);
        if (kind < 6) {
            uint256 v = uint256(values[0]);
            bool[6] memory r = [w == v, w != v, w < v, w <= v, w > v, w >= v];
            return r[kind] ? 0 : 1;
        }
        if (kind == 6) {
            for (uint256 i = 0; i < values.length; ++i) {
                if (values[i] == bytes32(w)) return 0;
            }
            return 1;
        }
        if (w >= 2 ** 32 || data.length < 4 + w + 32) return 2;
        uint256 len = _word(data, 4 + w);
        if (len >= 2 ** 32) return 2;
        uint256 size = kind == 10 ? len * 32 : len;
        if (data.length < 4 + w + 32 + size) return 2;
        if (kind == 7) return len <= uint256(values[0]) ? 0 : 1;
        if (kind == 8) return len >= uint256(values[0]) ? 0 : 1;
        bytes memory content = new bytes(size);
        for (uint256 i = 0; i < size; ++i) {
            content[i] = data[4 + w + 32 + i];
        }
        return keccak256(content) == values[0] ? 0 : 1;
    }

    function _word(bytes memory data, uint256 at) internal pure returns (uint256 w) {
        assembly ("memory-safe") {
            w := mload(add(add(data, 0x20), at))
        }
    }

    function _eval(bytes memory data, uint8 kind, uint16 argIndex, bytes32[] memory values)
        internal
        view
        returns (uint8)
    {
        WarrantValidator.ArgCondition memory c =
            WarrantValidator.ArgCondition(kind, kind > 6 ? T_DYNAMIC : T_UINT256, argIndex, values);
        return validator.evaluateCondition(data, c);
    }

    function testFuzz_comparisons(uint256 word, uint256 ref, uint8 kind) public view {
        kind = uint8(_bound(kind, 0, 6));
        bytes32[] memory values = new bytes32[](1);
        values[0] = bytes32(word % 3 == 0 ? word : ref); // make equality likely enough
        bytes memory data = abi.encodeWithSelector(bytes4(0x12345678), word);
        vm.assertEq(_eval(data, kind, 0, values), _model(data, kind, 0, values), "evaluator vs model");
    }

    function testFuzz_dynamicBytes(bytes memory content, uint256 limit, bool hashMatches) public view {
        limit = _bound(limit, 0, 300);
        bytes memory data = abi.encodeCall(MockTarget.setBytes, (content));
        bytes32[] memory values = new bytes32[](1);
        values[0] = bytes32(limit);
        vm.assertEq(_eval(data, 7, 0, values), content.length <= limit ? 0 : 1, "LENGTH_LTE");
        vm.assertEq(_eval(data, 8, 0, values), content.length >= limit ? 0 : 1, "LENGTH_GTE");
        values[0] = hashMatches ? keccak256(content) : keccak256(abi.encode(content));
        vm.assertEq(_eval(data, 9, 0, values), hashMatches ? 0 : 1, "BYTES_HASH_EQ");
    }

    /// @dev Arbitrary calldata: the evaluator never reverts and agrees with the model, malformed cases included.
    function testFuzz_arbitraryCalldata(bytes memory data, uint8 kind, uint16 argIndex, uint64 offset, uint64 length)
        public
        view
    {
        kind = uint8(_bound(kind, 0, 11));
        argIndex = uint16(_bound(argIndex, 0, 3));
        // Half the runs plant an offset/length pair so dynamic reads get past the first bound.
        if (offset % 2 == 0 && data.length >= 4 + 32 * (uint256(argIndex) + 1)) {
            uint256 p = _bound(offset, 0, data.length + 64);
            assembly ("memory-safe") {
                mstore(add(add(data, 0x24), mul(argIndex, 0x20)), p)
            }
            if (data.length >= 4 + p + 32) {
                uint256 l = _bound(length, 0, data.length);
                assembly ("memory-safe") {
                    mstore(add(add(data, 0x24), p), l)
                }
            }
        }
        bytes32[] memory values = new bytes32[](kind == 6 ? 2 : 1);
        values[0] = bytes32(uint256(length));
        vm.assertEq(_eval(data, kind, argIndex, values), _model(data, kind, argIndex, values), "evaluator vs model");
    }

    /// @dev Through the EntryPoint: a transfer passes exactly when amount <= limit.
    function testFuzz_transferLimitThroughEntryPoint(uint256 amount) public {
        amount = amount % 4 == 0 ? _bound(amount, 0, 100e18) : amount;
        WarrantValidator.Session memory s = _session(_transferPolicy(100e18));
        _enableStatic(proxy, ownerPk, s);
        if (amount <= 100e18) {
            _handle(_sessionOp(proxy, s, _transfer(recipient, amount)));
            vm.assertEq(token.balanceOf(recipient), amount, "transferred");
        } else {
            _expectAA23(
                _sessionOp(proxy, s, _transfer(recipient, amount)), WarrantErrors.ArgumentConditionFailed.selector
            );
        }
    }
}
