// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {PackedUserOperation} from "@openzeppelin/contracts/interfaces/IERC4337.sol";
import {WarrantFixture} from "./utils/WarrantFixture.sol";
import {WarrantValidator} from "../src/WarrantValidator.sol";
import {WarrantErrors} from "../src/WarrantErrors.sol";

/// @dev Storage access recording (forge cheatcodes not declared in WarrantTest's Vm).
interface VmRecord {
    function record() external;
    function accesses(address target) external returns (bytes32[] memory reads, bytes32[] memory writes);
}

/**
 * @dev The compact USE encoding: the session bytes layout (a known answer shared with the Rust toolkit), their
 * binding into the id, strict splitting of the USE signature, the session signature rules of the in-place ECDSA
 * recovery, and the state slot written only when something is counted.
 */
contract SessionEncodingTest is WarrantFixture {
    VmRecord internal constant rec = VmRecord(address(uint160(uint256(keccak256("hevm cheat code")))));
    uint256 internal constant SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;

    /// @dev The session of the known answer (same values in crates/core/src/grant.rs).
    function _katSession() internal pure returns (WarrantValidator.Session memory s) {
        s.signer = address(0x1111111111111111111111111111111111111111);
        s.salt = bytes32(uint256(1));
        s.scope.validAfter = 5;
        s.scope.validUntil = 65_536;
        s.scope.maxUses = 3;
        s.scope.maxValueTotal = 1 ether;
        s.scope.paymaster = address(0x2222222222222222222222222222222222222222);
        s.scope.maxGasLimit = 500_000;
        s.scope.calls = new WarrantValidator.CallPolicy[](1);
        s.scope.calls[0].target = address(0x3333333333333333333333333333333333333333);
        s.scope.calls[0].selector = 0xa9059cbb;
        s.scope.calls[0].conditions = new WarrantValidator.ArgCondition[](1);
        s.scope.calls[0].conditions[0].condition = 6; // IN
        s.scope.calls[0].conditions[0].argType = 0x1f; // uint256
        s.scope.calls[0].conditions[0].values = new bytes32[](2);
        s.scope.calls[0].conditions[0].values[0] = bytes32(uint256(0xbeef));
    }

    /// @dev The known answer, field by field.
    function _kat() internal pure returns (bytes memory) {
        return bytes.concat(
            // signer
            hex"1111111111111111111111111111111111111111",
            // limits: validAfter, validUntil, maxUses, maxValueTotal, paymaster, maxGasLimit
            hex"3f",
            // validAfter, validUntil, maxUses
            hex"000000000005",
            hex"000000010000",
            hex"00000003",
            // w(maxValueTotal), paymaster, maxGasLimit
            hex"080de0b6b3a7640000",
            hex"2222222222222222222222222222222222222222",
            hex"0000000000000000000000000007a120",
            // w(1 policy): target, selector, flags, w(maxValue = 0), w(1 condition)
            hex"0101",
            hex"3333333333333333333333333333333333333333",
            hex"a9059cbb",
            hex"00",
            hex"00",
            hex"0101",
            // IN, argType uint256, argIndex 0, w(2 values), w(0xbeef), w(0)
            hex"06" hex"1f" hex"0000",
            hex"0102",
            hex"02beef",
            hex"00",
            // w(salt = 1)
            hex"0101"
        );
    }

    function test_sessionBytes_knownAnswer() public view {
        WarrantValidator.Session memory s = _katSession();
        vm.assertEq(validator.sessionBytes(s), _kat(), "session bytes");
        vm.assertEq(validator.sessionId(proxy, s), keccak256(abi.encodePacked(proxy, _kat())), "id");
        // The id binds the account: the same session has another id elsewhere.
        vm.assertTrue(validator.sessionId(eoa, s) != validator.sessionId(proxy, s), "account in the id");
    }

    function test_zeroScopeIsSignerLimitsCountSalt() public view {
        WarrantValidator.Session memory s;
        s.signer = address(0x1111111111111111111111111111111111111111);
        vm.assertEq(
            validator.sessionBytes(s), hex"1111111111111111111111111111111111111111" hex"00" hex"00" hex"00", ""
        );
    }

    /// @dev Every field changes the bytes, hence the id: a front-runner can't present a wider scope as enabled.
    function test_tamperedSessionBytesAreAnotherSession() public {
        WarrantValidator.Session memory s = _session(_transferPolicy(100e18));
        _enableStatic(proxy, ownerPk, s);
        bytes memory encoded = validator.sessionBytes(s);
        // Raise the LTE bound (last byte of its value, just before w(salt) = 0x00).
        encoded[encoded.length - 2] = 0xff;
        PackedUserOperation memory op = _op(proxy, _validatorKey(), _transfer(recipient, 1000e18));
        op.signature = _useSignature(encoded, _sessionSig(_useDigestOf(op, encoded, 0), sessionPk));
        bytes memory inner = _expectAA23(op, WarrantErrors.SessionNotEnabled.selector);
        vm.assertEq(
            inner,
            abi.encodeWithSelector(
                WarrantErrors.SessionNotEnabled.selector, keccak256(abi.encodePacked(proxy, encoded))
            ),
            "the tampered bytes name a session never enabled"
        );
        // Untampered, the same operation is refused by the real bound.
        _signUse(op, s, sessionPk);
        _expectAA23(op, WarrantErrors.ArgumentConditionFailed.selector);
    }

    function test_malformedUseSignatureRefused() public {
        WarrantValidator.Session memory s = _session(_transferPolicy(100e18));
        _enableStatic(proxy, ownerPk, s);
        bytes memory encoded = validator.sessionBytes(s);
        PackedUserOperation memory op = _op(proxy, _validatorKey(), _transfer(recipient, 1));
        bytes[6] memory bad = [
            bytes(hex"00"), // no period, no length word
            bytes(hex"0000000000"), // a period but no length word
            abi.encodePacked(uint8(0), uint32(0), uint8(2), uint16(encoded.length + 66), encoded, new bytes(65)), // too long
            abi.encodePacked(uint8(0), uint32(0), uint8(33), new bytes(40)), // a length word wider than 32 bytes
            abi.encodePacked(uint8(0), uint32(0), uint8(32), type(uint256).max, encoded), // a length that would wrap
            abi.encodePacked(uint8(0), uint8(2), uint16(encoded.length), encoded, new bytes(65)) // the old layout
        ];
        for (uint256 i = 0; i < bad.length; ++i) {
            op.signature = bad[i];
            _expectAA23(op, WarrantErrors.MalformedSessionSignature.selector);
        }
    }

    function test_unknownModeIsASignatureFailure() public {
        PackedUserOperation memory op = _op(proxy, _validatorKey(), _transfer(recipient, 1));
        op.signature = hex"02";
        _expectFailedOp(op, "AA24 signature error");
        op.signature = "";
        _expectFailedOp(op, "AA24 signature error");
    }

    /// @dev The in-place recovery keeps OpenZeppelin's rules: 65 bytes, low s, a real signer.
    function test_sessionSignatureRules() public {
        WarrantValidator.Session memory s = _session(_transferPolicy(100e18));
        _enableStatic(proxy, ownerPk, s);
        bytes memory encoded = validator.sessionBytes(s);
        PackedUserOperation memory op = _op(proxy, _validatorKey(), _transfer(recipient, 1));
        (uint8 v, bytes32 r, bytes32 sig) = vm.sign(sessionPk, _useDigestOf(op, encoded, 0));
        // The malleable twin (n - s, other parity) recovers the same key: refused.
        bytes32 highS = bytes32(SECP256K1_N - uint256(sig));
        op.signature = _useSignature(encoded, abi.encodePacked(r, highS, v == 27 ? uint8(28) : uint8(27)));
        _expectFailedOp(op, "AA24 signature error");
        // 64 bytes (no v), 66 bytes, and a v that is neither 27 nor 28.
        op.signature = _useSignature(encoded, abi.encodePacked(r, sig));
        _expectFailedOp(op, "AA24 signature error");
        op.signature = _useSignature(encoded, abi.encodePacked(r, sig, v, uint8(0)));
        _expectFailedOp(op, "AA24 signature error");
        op.signature = _useSignature(encoded, abi.encodePacked(r, sig, uint8(v + 2)));
        _expectFailedOp(op, "AA24 signature error");
        // The genuine signature passes.
        op.signature = _useSignature(encoded, abi.encodePacked(r, sig, v));
        _handle(op);
        vm.assertEq(token.balanceOf(recipient), 1, "executed");
    }

    function _stateWrites(PackedUserOperation memory op) internal returns (uint256) {
        rec.record();
        _handle(op);
        (, bytes32[] memory writes) = rec.accesses(address(validator));
        return writes.length;
    }

    /// @dev Nothing counted, nothing written; a cap, sent value or gas the account pays is debited in validation.
    function test_stateWrittenOnlyWhenCounted() public {
        // With a fee the account pays gas, which is always counted.
        WarrantValidator.Session memory paying = _session(_policy(recipient, bytes4(0), 0));
        _enableStatic(proxy, ownerPk, paying);
        PackedUserOperation memory op = _sessionOp(proxy, paying, _execSingle(recipient, 0, ""));
        vm.assertEq(_stateWrites(op), 1, "gas debited");
        (,, uint128 gasSpent) = validator.sessionState(proxy, validator.sessionId(proxy, paying));
        vm.assertEq(gasSpent, _gasCost(op), "the prefund is the debit");
        // Without a fee (nothing leaves the account for gas) nothing is counted.
        opMaxFeePerGas = 0;
        WarrantValidator.Session memory free = _session(_policy(recipient, bytes4(0), 1 ether));
        free.scope.maxValueTotal = 1 ether;
        _enableStatic(proxy, ownerPk, free);
        vm.assertEq(_stateWrites(_sessionOp(proxy, free, _execSingle(recipient, 0, ""))), 0, "no value, no cap");
        (uint8 status, uint32 uses, uint128 spent) = validator.sessionState(proxy, validator.sessionId(proxy, free));
        vm.assertEq(status, 1, "enabled");
        vm.assertEq(uses, 0, "uses not counted without a cap");
        vm.assertEq(_stateWrites(_sessionOp(proxy, free, _execSingle(recipient, 0.25 ether, ""))), 1, "value sent");
        (, uses, spent) = validator.sessionState(proxy, validator.sessionId(proxy, free));
        vm.assertEq(spent, 0.25 ether, "value debited");

        WarrantValidator.Session memory capped = _session(_policy(recipient, bytes4(0), 0));
        capped.scope.maxUses = 2;
        _enableStatic(proxy, ownerPk, capped);
        vm.assertEq(_stateWrites(_sessionOp(proxy, capped, _execSingle(recipient, 0, ""))), 1, "capped");
        _useOkCapped(capped);
        _expectAA23(_sessionOp(proxy, capped, _execSingle(recipient, 0, "")), WarrantErrors.UsesExhausted.selector);
    }

    function _useOkCapped(WarrantValidator.Session memory s) internal {
        _handle(_sessionOp(proxy, s, _execSingle(recipient, 0, "")));
        (, uint32 uses,) = validator.sessionState(proxy, validator.sessionId(proxy, s));
        vm.assertEq(uses, 2, "second use counted");
    }
}
