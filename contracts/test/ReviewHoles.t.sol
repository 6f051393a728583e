// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {PackedUserOperation} from "@openzeppelin/contracts/interfaces/IERC4337.sol";
import {IERC7579Execution} from "@openzeppelin/contracts/interfaces/draft-IERC7579.sol";
import {WarrantFixture} from "./utils/WarrantFixture.sol";
import {WarrantValidator} from "../src/WarrantValidator.sol";
import {WarrantErrors} from "../src/WarrantErrors.sol";
import {Recorder} from "./mocks/Recorder.sol";
import {MockPaymaster} from "./mocks/Mocks.sol";

/// @dev Cheatcodes this file needs beyond {WarrantTest}'s `Vm` (same address).
interface VmHoles {
    function prank(address sender, address origin) external;
    function snapshotState() external returns (uint256 snapshotId);
    function revertToState(uint256 snapshotId) external returns (bool success);
}

/// @dev The EntryPoint's deposit ledger (what an account pre-paid and gets refunded to).
interface IDeposits {
    function balanceOf(address account) external view returns (uint256);
}

/**
 * @dev Pays `transferTo(address to, uint256 amount)` decoded by hand, ABI coder v1 style: the address is masked to 160
 * bits, never checked. A dirty address word reaches the masked address.
 */
contract MaskingPayee {
    address public lastTo;
    uint256 public lastAmount;
    uint256 public calls;

    fallback() external payable {
        require(msg.sig == bytes4(keccak256("transferTo(address,uint256)")), "selector");
        address to;
        uint256 amount;
        assembly ("memory-safe") {
            to := and(calldataload(4), 0xffffffffffffffffffffffffffffffffffffffff)
            amount := calldataload(36)
        }
        lastTo = to;
        lastAmount = amount;
        ++calls;
    }
}

/**
 * @dev Attacks for the holes of issue 11, through the real EntryPoint v0.8. Each test tried its hole on the code before
 * the fix and got through; it must be refused now (see `docs/threat-model.md`).
 */
contract ReviewHolesTest is WarrantFixture {
    bytes4 internal constant TRANSFER_TO = bytes4(keccak256("transferTo(address,uint256)"));
    address internal attacker = address(0xA77AC4E2);
    address internal friend = address(0xF12E7D);
    Recorder internal recorder;
    VmHoles internal constant vmh = VmHoles(address(uint160(uint256(keccak256("hevm cheat code")))));

    function setUp() public override {
        super.setUp();
        recorder = new Recorder();
    }

    function _loss(address account) internal view returns (uint256) {
        return account.balance + IDeposits(address(ep)).balanceOf(account);
    }

    // ------------------------------------------------------------ hole 1: backwards batch offsets

    /**
     * @dev The batch element's callData offset is "negative" (2^256 - 388): before the fix, the validator resolved it
     * within its own calldata, where it lands on the op's preVerificationGas word (length 4) followed by gasFees
     * (whose top bytes spell `poke()`), an allowed call. The account resolves the same offset in `execute`'s calldata,
     * wraps below zero, reads length 0 and calls the recorder with empty calldata and value: `receive`, which no
     * policy allows. Now the batch must be canonical (the offset word is 0x60), so this is refused.
     */
    function test_hole1_backwardsCallDataOffsetRefused() public {
        WarrantValidator.Session memory s = _session(_policy(address(recorder), Recorder.poke.selector, 0.5 ether));
        _enableStatic(proxy, ownerPk, s);
        // One element: 0x20 ‖ 1 ‖ head 0x20 ‖ target ‖ value ‖ callData offset ‖ (no tail).
        bytes memory ec =
            abi.encode(uint256(0x20), uint256(1), uint256(0x20), address(recorder), uint256(0.5 ether), -int256(388));
        PackedUserOperation memory op =
            _op(proxy, _validatorKey(), abi.encodeCall(IERC7579Execution.execute, (MODE_BATCH, ec)));
        // validateUserOp(op, hash) calldata: the op's head at 68, preVerificationGas at 228, gasFees at 260, the
        // callData tail at 388, so the element sits at 616 and 616 - 388 = 228.
        op.preVerificationGas = 4;
        op.gasFees = bytes32(uint256(uint32(Recorder.poke.selector)) << 224 | 2 gwei);
        _signUse(op, s, sessionPk);
        bytes memory inner = _expectAA23(op, WarrantErrors.MalformedCalldata.selector);
        vm.assertEq(inner, abi.encodeWithSelector(WarrantErrors.MalformedCalldata.selector), "refused by name");
        vm.assertEq(recorder.count(), 0, "nothing executed");
    }

    /// @dev The same element with its offset pointing back into its own head, or past 2^255, or just short.
    function test_hole1_everyNonCanonicalOffsetRefused() public {
        WarrantValidator.Session memory s = _session(_policy(address(recorder), Recorder.poke.selector, 0.5 ether));
        _enableStatic(proxy, ownerPk, s);
        uint256[5] memory offsets = [uint256(0x40), 0x20, 1 << 255, type(uint256).max - 0x1f, 0x80];
        for (uint256 i = 0; i < offsets.length; ++i) {
            bytes memory ec = abi.encodePacked(
                abi.encode(uint256(0x20), uint256(1), uint256(0x20), address(recorder), uint256(0), offsets[i]),
                abi.encode(uint256(4), bytes32(Recorder.poke.selector))
            );
            PackedUserOperation memory op =
                _op(proxy, _validatorKey(), abi.encodeCall(IERC7579Execution.execute, (MODE_BATCH, ec)));
            _signUse(op, s, sessionPk);
            _expectAA23(op, WarrantErrors.MalformedCalldata.selector);
        }
        // The canonical twin (offset 0x60) is accepted and runs poke().
        bytes memory good = abi.encodePacked(
            abi.encode(uint256(0x20), uint256(1), uint256(0x20), address(recorder), uint256(0), uint256(0x60)),
            abi.encode(uint256(4), bytes32(Recorder.poke.selector))
        );
        _handle(_sessionOp(proxy, s, abi.encodeCall(IERC7579Execution.execute, (MODE_BATCH, good))));
        vm.assertEq(recorder.count(), 1, "canonical batch executed");
        vm.assertEq(recorder.entry(0).dataHash, keccak256(abi.encodePacked(Recorder.poke.selector)), "poke()");
    }

    // ------------------------------------------------------------ hole 2: gas is value

    /// @dev A scope paying for `poke()` with no gas cap, a native budget of 0.1 ether and nothing else.
    function _budgetSession() internal view returns (WarrantValidator.Session memory s) {
        s = _session(_policy(address(recorder), Recorder.poke.selector, 0));
        s.scope.maxValueTotal = 0.1 ether;
    }

    /**
     * @dev The session key bundles its own op with a huge preVerificationGas and fee, naming itself beneficiary.
     * Before the fix the prefund was not counted and one op drained the account; now it is native value.
     */
    function test_hole2_selfBundledHugeGasBoundedByBudget() public {
        WarrantValidator.Session memory s = _budgetSession();
        _enableStatic(proxy, ownerPk, s);
        bytes memory poke = _execSingle(address(recorder), 0, abi.encodeCall(Recorder.poke, ()));
        address payable self = payable(sessionKey);

        PackedUserOperation memory greedy = _op(proxy, _validatorKey(), poke);
        greedy.preVerificationGas = 37_000_000;
        greedy.gasFees = bytes32(uint256(1000 gwei) << 128 | 1000 gwei); // 40M gas at 1000 gwei: 40 ETH of prefund
        _signUse(greedy, s, sessionPk);
        vm.assertEq(_gasCost(greedy), 40 ether, "40 ETH");
        PackedUserOperation[] memory ops = new PackedUserOperation[](1);
        ops[0] = greedy;
        vmh.prank(sessionKey, sessionKey);
        try ep.handleOps(ops, self) {
            vm.assertTrue(false, "the 40 ETH op went through");
        } catch (bytes memory err) {
            (,, bytes memory inner) = abi.decode(_slice(err, 4), (uint256, string, bytes));
            vm.assertEq(
                inner,
                abi.encodeWithSelector(WarrantErrors.SessionValueExceeded.selector, 40 ether, 0.1 ether),
                "AA23 SessionValueExceeded"
            );
        }
        vm.assertEq(sessionKey.balance, 0, "the session key got nothing");

        // Just under the budget: it goes through, and the account loses at most the budget, however the op is built.
        uint256 before = _loss(proxy);
        PackedUserOperation memory fit = _op(proxy, _validatorKey(), poke);
        fit.accountGasLimits = bytes32(uint256(200_000) << 128 | uint256(100_000));
        fit.gasFees = bytes32(uint256(100 gwei) << 128 | 100 gwei);
        fit.preVerificationGas = 0.1 ether / 100 gwei - 300_000; // prefund exactly 0.1 ether
        _signUse(fit, s, sessionPk);
        vm.assertEq(_gasCost(fit), 0.1 ether, "the op's prefund is the whole budget");
        ops[0] = fit;
        vmh.prank(sessionKey, sessionKey);
        ep.handleOps(ops, self);
        vm.assertTrue(before - _loss(proxy) <= 0.1 ether, "loss bounded by the budget");
        (,, uint128 spent) = validator.sessionState(proxy, validator.sessionId(proxy, s));
        vm.assertEq(spent, 0.1 ether, "the prefund was debited");

        // The budget is spent: even a modest op is refused now.
        PackedUserOperation memory next = _op(proxy, _validatorKey(), poke);
        _signUse(next, s, sessionPk);
        bytes memory inner = _expectAA23(next, WarrantErrors.SessionValueExceeded.selector);
        vm.assertEq(
            inner,
            abi.encodeWithSelector(WarrantErrors.SessionValueExceeded.selector, 0.1 ether + _gasCost(next), 0.1 ether),
            "gas counted on top of what was spent"
        );
    }

    /**
     * @dev Fees of 2^128 - 1 and a full-word preVerificationGas: the cost saturates and is refused, never wraps.
     * The v0.8 EntryPoint refuses such values itself (AA94), so the validator is called as the account would.
     */
    function test_hole2_extremeGasSaturates() public {
        WarrantValidator.Session memory s = _budgetSession();
        _enableStatic(proxy, ownerPk, s);
        PackedUserOperation memory op =
            _op(proxy, _validatorKey(), _execSingle(address(recorder), 0, abi.encodeCall(Recorder.poke, ())));
        op.preVerificationGas = type(uint256).max;
        op.gasFees = bytes32(type(uint256).max);
        _signUse(op, s, sessionPk);
        bytes32 hash = ep.getUserOpHash(op);
        vm.expectRevert(
            abi.encodeWithSelector(WarrantErrors.SessionValueExceeded.selector, type(uint256).max, 0.1 ether)
        );
        vm.prank(proxy);
        validator.validateUserOp(op, hash);
        _expectFailedOp(op, "AA94 gas values overflow");
    }

    /// @dev A native per-period limit bounds gas too, even with an unlimited maxValueTotal.
    function test_hole2_nativePeriodLimitCountsGas() public {
        WarrantValidator.Session memory s = _budgetSession();
        s.scope.maxValueTotal = type(uint256).max;
        s.scope.period = 1 days;
        s.scope.limits = new WarrantValidator.SpendLimit[](1);
        s.scope.limits[0] = WarrantValidator.SpendLimit(address(0), 0.01 ether, type(uint128).max);
        _enableStatic(proxy, ownerPk, s);
        uint32 k = uint32(block.timestamp / 1 days);
        PackedUserOperation memory op =
            _op(proxy, _validatorKey(), _execSingle(address(recorder), 0, abi.encodeCall(Recorder.poke, ())));
        op.preVerificationGas = 10_000_000;
        op.gasFees = bytes32(uint256(1000 gwei) << 128 | 1000 gwei); // 0.013 ether with the default limits
        _signUse(op, s, sessionPk, k);
        bytes memory inner = _expectAA23(op, WarrantErrors.PeriodSpendLimitExceeded.selector);
        vm.assertEq(
            inner,
            abi.encodeWithSelector(
                WarrantErrors.PeriodSpendLimitExceeded.selector, address(0), k, _gasCost(op), 0.01 ether
            ),
            "gas counted against the native limit"
        );
        // A cheaper op fits, and its cost is on the counter.
        PackedUserOperation memory cheap =
            _op(proxy, _validatorKey(), _execSingle(address(recorder), 0, abi.encodeCall(Recorder.poke, ())));
        _signUse(cheap, s, sessionPk, k);
        _handle(cheap);
        (, uint112 periodSpent,) = validator.spendState(proxy, validator.sessionId(proxy, s), 0);
        vm.assertEq(periodSpent, _gasCost(cheap), "native counter holds the prefund");
    }

    /// @dev A paymaster the owner did not pin is refused: it could charge the account by a route not counted.
    function test_hole2_unpinnedPaymasterRefused() public {
        MockPaymaster pm = new MockPaymaster(address(ep));
        pm.deposit{value: 1 ether}();
        WarrantValidator.Session memory s = _budgetSession();
        _enableStatic(proxy, ownerPk, s);
        PackedUserOperation memory op =
            _op(proxy, _validatorKey(), _execSingle(address(recorder), 0, abi.encodeCall(Recorder.poke, ())));
        op.paymasterAndData = abi.encodePacked(address(pm), uint128(100_000), uint128(100_000));
        _signUse(op, s, sessionPk);
        bytes memory inner = _expectAA23(op, WarrantErrors.PaymasterNotPermitted.selector);
        vm.assertEq(
            inner, abi.encodeWithSelector(WarrantErrors.PaymasterNotPermitted.selector, address(pm)), "named paymaster"
        );
    }

    /**
     * @dev Estimation (spec C.4): a bundler's dummy signature with its own large limits is not refused for the gas
     * caps (it fails the signature, AA24), while the same op correctly signed is.
     */
    function test_hole2_estimationSkipsGasCapsOnlyForAFailedSignature() public {
        WarrantValidator.Session memory s = _budgetSession();
        s.scope.maxGasLimit = 3_000_000;
        s.scope.maxFeePerGas = 5 gwei;
        _enableStatic(proxy, ownerPk, s);
        PackedUserOperation memory op =
            _op(proxy, _validatorKey(), _execSingle(address(recorder), 0, abi.encodeCall(Recorder.poke, ())));
        op.accountGasLimits = bytes32(uint256(10_000_000) << 128 | uint256(10_000_000));
        op.gasFees = bytes32(uint256(100 gwei) << 128 | 100 gwei);
        _signUse(op, s, 0xD00D); // a dummy key
        _expectFailedOp(op, "AA24 signature error");
        _signUse(op, s, sessionPk);
        _expectAA23(op, WarrantErrors.GasLimitExceeded.selector);
    }

    // ------------------------------------------------------------ hole 3: argument types

    /// @dev transferTo(to != attacker, amount) on a target that masks addresses.
    function _maskingSession(MaskingPayee payee) internal view returns (WarrantValidator.Session memory s) {
        WarrantValidator.CallPolicy memory p = _policy(address(payee), TRANSFER_TO, 0);
        p.conditions = new WarrantValidator.ArgCondition[](1);
        p.conditions[0] = _cond(1, T_ADDRESS, 0, bytes32(uint256(uint160(attacker)))); // NEQ
        s = _session(p);
    }

    function test_hole3_dirtyAddressCannotReachExcludedAddress() public {
        MaskingPayee payee = new MaskingPayee();
        WarrantValidator.Session memory s = _maskingSession(payee);
        _enableStatic(proxy, ownerPk, s);
        // The attacker's address with a dirty bit above 160: the whole word differs from the excluded value.
        bytes memory dirty = abi.encodePacked(TRANSFER_TO, (uint256(1) << 160) | uint160(attacker), uint256(5));
        bytes memory inner = _expectAA23(
            _sessionOp(proxy, s, _execSingle(address(payee), 0, dirty)), WarrantErrors.ArgumentNotCanonical.selector
        );
        vm.assertEq(inner, abi.encodeWithSelector(WarrantErrors.ArgumentNotCanonical.selector, 0, 0), "named");
        vm.assertEq(payee.calls(), 0, "the attacker was not paid");
        // The clean attacker address fails the condition; a friend passes and is paid.
        _expectAA23(
            _sessionOp(proxy, s, _execSingle(address(payee), 0, abi.encodeWithSelector(TRANSFER_TO, attacker, 5))),
            WarrantErrors.ArgumentConditionFailed.selector
        );
        _handle(_sessionOp(proxy, s, _execSingle(address(payee), 0, abi.encodeWithSelector(TRANSFER_TO, friend, 5))));
        vm.assertEq(payee.lastTo(), friend, "friend paid");
    }

    function _typed(uint8 kind, uint8 argType, bytes32 value)
        internal
        pure
        returns (WarrantValidator.ArgCondition memory)
    {
        return _cond(kind, argType, 0, value);
    }

    function _eval(uint256 word, WarrantValidator.ArgCondition memory c) internal view returns (uint8) {
        return validator.evaluateCondition(abi.encodeWithSelector(bytes4(0x12345678), word), c);
    }

    /// @dev uint8 `amount >= 10` with bits above 8: a masking target reads 3.
    function test_hole3_narrowUintDirtyBitsNotCanonical() public view {
        WarrantValidator.ArgCondition memory gte10 = _typed(5, 0x00, bytes32(uint256(10))); // uint8 GTE 10
        vm.assertEq(_eval((uint256(1) << 255) | 3, gte10), 4, "dirty uint8: RESULT_NOT_CANONICAL");
        vm.assertEq(_eval(0x103, gte10), 4, "bit 8 set: not canonical");
        vm.assertEq(_eval(3, gte10), 1, "3 >= 10 fails");
        vm.assertEq(_eval(255, gte10), 0, "255 >= 10 passes");
        // uint160, bool and bytes4 likewise.
        vm.assertEq(_eval(1 << 160, _typed(0, 0x13, bytes32(0))), 4, "uint160");
        vm.assertEq(_eval(2, _typed(0, T_BOOL, bytes32(uint256(1)))), 4, "bool 2");
        vm.assertEq(_eval(1, _typed(0, T_BOOL, bytes32(uint256(1)))), 0, "bool true");
        bytes32 sel = bytes32(bytes4(0xdeadbeef));
        vm.assertEq(_eval(uint256(sel) | 1, _typed(0, 0x43, sel)), 4, "bytes4 with low bytes set");
        vm.assertEq(_eval(uint256(sel), _typed(0, 0x43, sel)), 0, "bytes4 canonical");
    }

    /// @dev intN compares signed: int256 -1 < 5 (as uint256 it would be the largest word and fail).
    function test_hole3_signedComparisons() public view {
        bytes32 five = bytes32(uint256(5));
        uint256 minusOne = type(uint256).max;
        vm.assertEq(_eval(minusOne, _typed(2, T_INT256, five)), 0, "int256 -1 < 5");
        vm.assertEq(_eval(minusOne, _typed(2, T_UINT256, five)), 1, "uint256 max < 5 fails");
        vm.assertEq(_eval(minusOne, _typed(4, T_INT256, five)), 1, "int256 -1 > 5 fails");
        // int8: -1 is the sign-extended word; 0xff alone is not canonical; the reference must be canonical too.
        vm.assertEq(_eval(minusOne, _typed(2, 0x20, five)), 0, "int8 -1 < 5");
        vm.assertEq(_eval(0xff, _typed(2, 0x20, five)), 4, "int8 0xff not sign-extended");
        vm.assertEq(_eval(0x80, _typed(5, 0x20, bytes32(minusOne))), 4, "int8 128 is not canonical");
        vm.assertEq(_eval(5, _typed(2, 0x20, bytes32(uint256(0xff)))), 3, "reference 0xff for int8: invalid");
        vm.assertEq(_eval(uint256(int256(-128)), _typed(3, 0x20, bytes32(uint256(int256(-128))))), 0, "-128 <= -128");
        vm.assertEq(_eval(uint256(int256(-129)), _typed(3, 0x21, bytes32(uint256(int256(-128))))), 0, "int16 -129");
        // Kinds and types must agree; unknown types are ill-formed.
        vm.assertEq(_eval(5, _typed(0, T_DYNAMIC, five)), 3, "EQ on a dynamic type");
        vm.assertEq(_eval(5, _typed(7, T_UINT256, five)), 3, "LENGTH_LTE on a head type");
        vm.assertEq(_eval(5, _typed(0, 0x63, five)), 3, "unknown type");
        vm.assertEq(_eval(5, _typed(0, T_ADDRESS, bytes32(uint256(1) << 160))), 3, "dirty reference address");
    }

    /// @dev An IN list on int8 with a negative member: word equality of canonical words.
    function test_hole3_inListOnSignedType() public view {
        WarrantValidator.ArgCondition memory c;
        c.condition = 6;
        c.argType = 0x20;
        c.values = new bytes32[](2);
        c.values[0] = bytes32(type(uint256).max); // -1
        c.values[1] = bytes32(uint256(7));
        vm.assertEq(_eval(type(uint256).max, c), 0, "-1 in list");
        vm.assertEq(_eval(0xff, c), 4, "0xff not canonical");
        vm.assertEq(_eval(8, c), 1, "8 not in list");
        c.values[1] = bytes32(uint256(0x80));
        vm.assertEq(_eval(7, c), 3, "a non-canonical member makes the condition ill-formed");
    }

    // ------------------------------------------------------------ hole 4: the session key signs which session

    function test_hole4_useReRoutedToAnotherSessionFails() public {
        WarrantValidator.Session memory a = _session(_policy(address(recorder), Recorder.poke.selector, 0));
        WarrantValidator.Session memory b = _session(_policy(address(recorder), Recorder.poke.selector, 0));
        b.salt = bytes32(uint256(2));
        b.scope.maxUses = 3;
        _enableStatic(proxy, ownerPk, a);
        _enableStatic(proxy, ownerPk, b);
        PackedUserOperation memory op =
            _sessionOp(proxy, a, _execSingle(address(recorder), 0, abi.encodeCall(Recorder.poke, ())));
        // The relayer swaps session bytes A for B, keeping the session key's signature.
        bytes memory sig = _slice(op.signature, op.signature.length - 65);
        op.signature = _useSignature(validator.sessionBytes(b), sig);
        _expectFailedOp(op, "AA24 signature error");
        (, uint32 uses,) = validator.sessionState(proxy, validator.sessionId(proxy, b));
        vm.assertEq(uses, 0, "B not charged");
        // Untouched, the op goes through on A.
        op.signature = _useSignature(validator.sessionBytes(a), sig);
        _handle(op);
        vm.assertEq(recorder.count(), 1, "executed on A");
    }

    function test_hole4_enableReRoutedToAnotherGrantFails() public {
        WarrantValidator.Session memory a = _session(_policy(address(recorder), Recorder.poke.selector, 0));
        WarrantValidator.Session memory b = _session(_policy(address(recorder), Recorder.poke.selector, 0));
        b.salt = bytes32(uint256(2));
        WarrantValidator.Grant memory ga = _grant(proxy, a);
        WarrantValidator.Grant memory gb = _grant(proxy, b);
        bytes memory ownerA = _ownerGrantSig(proxy, ownerPk, ga);
        bytes memory ownerB = _ownerGrantSig(proxy, ownerPk, gb);
        PackedUserOperation memory op =
            _op(proxy, _validatorKey(), _execSingle(address(recorder), 0, abi.encodeCall(Recorder.poke, ())));
        _signEnable(op, ga, ownerA, sessionPk);
        (,, bytes memory sessionSig) = abi.decode(_slice(op.signature, 5), (WarrantValidator.Grant, bytes, bytes));
        // The relayer presents grant B (also owner-signed for this key) with the session key's signature for A.
        op.signature = abi.encodePacked(uint8(1), uint32(0), abi.encode(gb, ownerB, sessionSig));
        _expectFailedOp(op, "AA24 signature error");
        (uint8 status,,) = validator.sessionState(proxy, validator.sessionId(proxy, b));
        vm.assertEq(status, 0, "B not enabled");
        op.signature = abi.encodePacked(uint8(1), uint32(0), abi.encode(ga, ownerA, sessionSig));
        _handle(op);
        (status,,) = validator.sessionState(proxy, validator.sessionId(proxy, a));
        vm.assertEq(status, 1, "A enabled by its own op");
    }

    // ------------------------------------------------------------ hole 5: the period is signed, not in the nonce

    uint32 internal constant PERIOD = 1 days;
    uint48 internal constant START = 1_000_000;

    function _periodic() internal view returns (WarrantValidator.Session memory s) {
        s = _session(_policy(address(recorder), Recorder.poke.selector, 0));
        s.scope.period = PERIOD;
        s.scope.periodStart = START;
        s.scope.maxUsesPerPeriod = 2;
    }

    /// @dev Nexus/Kernel keep validator-address bytes in the key's low 32 bits; the period no longer lives there.
    function test_hole5_periodWorksWithAnyNonceKeySuffix() public {
        vm.warp(START + 3 * PERIOD + 100);
        WarrantValidator.Session memory s = _periodic();
        _enableStatic(proxy, ownerPk, s);
        uint192 key = _validatorKey() | uint192(uint32(bytes4(bytes20(address(validator)))));
        PackedUserOperation memory op =
            _op(proxy, key, _execSingle(address(recorder), 0, abi.encodeCall(Recorder.poke, ())));
        _signUse(op, s, sessionPk, 3);
        // The window returned is period 3's: [START + 3 PERIOD, START + 4 PERIOD).
        bytes32 hash = ep.getUserOpHash(op);
        uint256 snapshot = vmh.snapshotState();
        vm.prank(proxy);
        uint256 data = validator.validateUserOp(op, hash);
        vm.assertEq(uint160(data), 0, "signature ok");
        vm.assertEq(uint48(data >> 208), START + 3 * PERIOD - 1, "validAfter");
        vm.assertEq(uint48(data >> 160), START + 4 * PERIOD - 1, "validUntil");
        vmh.revertToState(snapshot);
        _handle(op);
        vm.assertEq(recorder.count(), 1, "executed");
        (uint32 periodIndex, uint32 usesInPeriod) = validator.periodState(proxy, validator.sessionId(proxy, s));
        vm.assertEq(periodIndex, 3, "period from the signed field");
        vm.assertEq(usesInPeriod, 1, "one use");
    }

    /// @dev A relayer rewriting the period field (to reach a fresh period's uses, say) breaks the signature.
    function test_hole5_periodFieldIsSigned() public {
        vm.warp(START + 3 * PERIOD + 100);
        WarrantValidator.Session memory s = _periodic();
        _enableStatic(proxy, ownerPk, s);
        PackedUserOperation memory op =
            _op(proxy, _validatorKey(), _execSingle(address(recorder), 0, abi.encodeCall(Recorder.poke, ())));
        _signUse(op, s, sessionPk, 3);
        for (uint256 k = 0; k < 2; ++k) {
            bytes memory sig = op.signature;
            bytes4 changed = bytes4(k == 0 ? uint32(4) : type(uint32).max);
            for (uint256 i = 0; i < 4; ++i) {
                sig[1 + i] = changed[i];
            }
            if (k == 0) {
                _expectFailedOp(op, "AA24 signature error");
            } else {
                // Far beyond 48-bit time: refused before the signature even matters.
                _expectAA23(op, WarrantErrors.PeriodOutOfRange.selector);
            }
            _signUse(op, s, sessionPk, 3);
        }
        _handle(op);
        vm.assertEq(recorder.count(), 1, "the genuine op runs");
    }
}
