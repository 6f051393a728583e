// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {PackedUserOperation} from "@openzeppelin/contracts/interfaces/IERC4337.sol";
import {Execution} from "@openzeppelin/contracts/account/utils/draft-ERC7579Utils.sol";
import {WarrantFixture} from "./utils/WarrantFixture.sol";
import {WarrantValidator} from "../src/WarrantValidator.sol";
import {WarrantErrors} from "../src/WarrantErrors.sol";

/// @dev Spend limits over time (docs/spend-limits.md): each rule passing and failing, the routes value can leave
/// by, bundles, period boundaries, stale and future periods, reverted executions.
contract SpendLimitsTest is WarrantFixture {
    uint32 internal constant PERIOD = 1 days;
    uint48 internal constant START = 1_000_000;
    uint128 internal constant NO_CAP = type(uint128).max;
    address internal constant PERMIT2 = 0x000000000022D473030F116dDEE9F6B43aC78BA3;
    address internal spender = address(0x5BE7D);

    function setUp() public override {
        super.setUp();
        vm.warp(START + 10); // period 0
        // The native limits here count call value to the wei; gas counted against them (spec C.3) is tested in
        // ReviewHoles.t.sol (test_hole2_nativePeriodLimitCountsGas), so these ops pay no gas.
        opMaxFeePerGas = 0;
    }

    // ------------------------------------------------------------ helpers

    function _limit(address asset, uint128 perPeriod, uint128 lifetime)
        internal
        pure
        returns (WarrantValidator.SpendLimit memory l)
    {
        l.token = asset;
        l.perPeriod = perPeriod;
        l.lifetime = lifetime;
    }

    /// @dev Any call to the token, to Permit2 and to the target (values up to 100 ether), one limit, daily periods.
    function _limitedSession(WarrantValidator.SpendLimit memory l)
        internal
        view
        returns (WarrantValidator.Session memory s)
    {
        WarrantValidator.CallPolicy[] memory calls = new WarrantValidator.CallPolicy[](3);
        calls[0] = _policy(address(token), bytes4(0), 0);
        calls[0].flags = 2; // ANY_SELECTOR
        calls[1] = _policy(PERMIT2, bytes4(0), 0);
        calls[1].flags = 2;
        calls[2] = _policy(address(target), bytes4(0), 100 ether);
        calls[2].flags = 2;
        s = _session(calls);
        s.scope.maxValueTotal = type(uint256).max;
        s.scope.period = PERIOD;
        s.scope.periodStart = START;
        s.scope.limits = new WarrantValidator.SpendLimit[](1);
        s.scope.limits[0] = l;
    }

    function _enabled(WarrantValidator.SpendLimit memory l) internal returns (WarrantValidator.Session memory s) {
        s = _limitedSession(l);
        _enableStatic(proxy, ownerPk, s);
    }

    function _k() internal view returns (uint32) {
        return uint32((block.timestamp - START) / PERIOD);
    }

    /// @dev A USE op naming period `k` (the signed field), with a nonce of key suffix `k` (free: the validator
    /// never reads it) and the next nonce of that key unless `seqAhead` says more.
    function _opIn(WarrantValidator.Session memory s, uint32 k, uint256 seqAhead, bytes memory callData)
        internal
        view
        returns (PackedUserOperation memory op)
    {
        op = _op(proxy, _validatorKey() | k, callData);
        op.nonce += seqAhead;
        _signUse(op, s, sessionPk, k);
    }

    function _ok(WarrantValidator.Session memory s, bytes memory callData) internal {
        _handle(_opIn(s, _k(), 0, callData));
    }

    function _refused(WarrantValidator.Session memory s, bytes memory callData, bytes4 selector)
        internal
        returns (bytes memory)
    {
        return _expectAA23(_opIn(s, _k(), 0, callData), selector);
    }

    function _tokenCall(bytes memory data) internal view returns (bytes memory) {
        return _execSingle(address(token), 0, data);
    }

    function _counter(WarrantValidator.Session memory s, uint256 i)
        internal
        view
        returns (uint256 periodIndex, uint256 periodSpent, uint256 lifetimeSpent)
    {
        return validator.spendState(proxy, validator.sessionId(proxy, s), i);
    }

    function _periodExceeded(uint256 spent, uint256 cap) internal view returns (bytes memory) {
        return abi.encodeWithSelector(WarrantErrors.PeriodSpendLimitExceeded.selector, address(token), _k(), spent, cap);
    }

    // ------------------------------------------------------------ each rule: passing and failing

    function test_lifetimeLimit() public {
        WarrantValidator.Session memory s = _enabled(_limit(address(token), NO_CAP, 10e18));
        _ok(s, _transfer(recipient, 6e18));
        bytes memory inner = _refused(s, _transfer(recipient, 5e18), WarrantErrors.SpendLimitExceeded.selector);
        vm.assertEq(
            inner,
            abi.encodeWithSelector(WarrantErrors.SpendLimitExceeded.selector, address(token), 11e18, 10e18),
            "data"
        );
        _ok(s, _transfer(recipient, 4e18)); // exactly at the cap
        vm.warp(START + 5 * PERIOD); // a new period does not refill a lifetime cap
        _refused(s, _transfer(recipient, 1), WarrantErrors.SpendLimitExceeded.selector);
        (,, uint256 lifetimeSpent) = _counter(s, 0);
        vm.assertEq(lifetimeSpent, 10e18, "lifetime counter");
    }

    function test_periodLimit() public {
        WarrantValidator.Session memory s = _enabled(_limit(address(token), 10e18, NO_CAP));
        _ok(s, _transfer(recipient, 7e18));
        bytes memory inner = _refused(s, _transfer(recipient, 4e18), WarrantErrors.PeriodSpendLimitExceeded.selector);
        vm.assertEq(inner, _periodExceeded(11e18, 10e18), "data");
        _ok(s, _transfer(recipient, 3e18));
        (uint256 periodIndex, uint256 periodSpent,) = _counter(s, 0);
        vm.assertEq(periodIndex, 0, "period index");
        vm.assertEq(periodSpent, 10e18, "period counter");
    }

    function test_periodRefills() public {
        WarrantValidator.Session memory s = _enabled(_limit(address(token), 10e18, 25e18));
        _ok(s, _transfer(recipient, 10e18));
        _refused(s, _transfer(recipient, 1), WarrantErrors.PeriodSpendLimitExceeded.selector);
        vm.warp(START + PERIOD); // first second of period 1
        _ok(s, _transfer(recipient, 10e18));
        vm.warp(START + 3 * PERIOD + 5);
        _ok(s, _transfer(recipient, 5e18));
        // The lifetime cap still binds across periods.
        _refused(s, _transfer(recipient, 1), WarrantErrors.SpendLimitExceeded.selector);
        vm.assertEq(token.balanceOf(recipient), 25e18, "moved");
    }

    function test_nativeLimit() public {
        WarrantValidator.Session memory s = _enabled(_limit(address(0), 1 ether, NO_CAP));
        _ok(s, _execSingle(address(target), 0.6 ether, abi.encodeCall(target.ping, ())));
        bytes memory inner = _refused(
            s,
            _execSingle(address(target), 0.5 ether, abi.encodeCall(target.ping, ())),
            WarrantErrors.PeriodSpendLimitExceeded.selector
        );
        vm.assertEq(
            inner,
            abi.encodeWithSelector(WarrantErrors.PeriodSpendLimitExceeded.selector, address(0), 0, 1.1 ether, 1 ether),
            "data"
        );
        _ok(s, _execSingle(address(target), 0.4 ether, abi.encodeCall(target.ping, ())));
    }

    function test_nativeValueOnTokenCallCounts() public {
        // Native value counts on any call, the token's included (the native limit is the second entry here).
        WarrantValidator.Session memory s = _limitedSession(_limit(address(token), NO_CAP, NO_CAP));
        s.scope.calls[0].maxValue = 1 ether;
        WarrantValidator.SpendLimit[] memory limits = new WarrantValidator.SpendLimit[](2);
        limits[0] = s.scope.limits[0];
        limits[1] = _limit(address(0), 0.5 ether, NO_CAP);
        s.scope.limits = limits;
        _enableStatic(proxy, ownerPk, s);
        _refused(
            s,
            _execSingle(address(token), 0.6 ether, abi.encodeCall(token.transfer, (recipient, 1))),
            WarrantErrors.PeriodSpendLimitExceeded.selector
        );
    }

    function test_usesPerPeriod() public {
        WarrantValidator.Session memory s = _limitedSession(_limit(address(token), NO_CAP, NO_CAP));
        s.scope.maxUsesPerPeriod = 2;
        _enableStatic(proxy, ownerPk, s);
        _ok(s, _transfer(recipient, 1));
        _ok(s, _transfer(recipient, 1));
        bytes memory inner = _refused(s, _transfer(recipient, 1), WarrantErrors.PeriodUsesExhausted.selector);
        vm.assertEq(inner, abi.encodeWithSelector(WarrantErrors.PeriodUsesExhausted.selector, 0, 2, 2), "data");
        vm.warp(START + PERIOD + 1);
        _ok(s, _transfer(recipient, 1));
        (uint32 periodIndex, uint32 usesInPeriod) = validator.periodState(proxy, validator.sessionId(proxy, s));
        vm.assertEq(periodIndex, 1, "period");
        vm.assertEq(usesInPeriod, 1, "uses in period");
    }

    /// @dev Ill-formed spend rules can't be enabled, statically or by a grant (validation then never checks them).
    function _enableRefused(WarrantValidator.Session memory s, bytes memory err) internal {
        vm.prank(proxy);
        vm.expectRevert(err);
        validator.enableSession(s);
        WarrantValidator.Grant memory g = _grant(proxy, s);
        PackedUserOperation memory op = _op(proxy, _validatorKey(), _transfer(recipient, 1));
        _signEnable(op, g, _ownerGrantSig(proxy, ownerPk, g), sessionPk);
        bytes memory inner = _expectAA23(op, bytes4(err));
        vm.assertEq(inner, err, "ENABLE refused with the same error");
    }

    function test_usesPerPeriodNeedsAPeriod() public {
        WarrantValidator.Session memory s = _limitedSession(_limit(address(token), NO_CAP, NO_CAP));
        s.scope.period = 0;
        s.scope.maxUsesPerPeriod = 2;
        _enableRefused(s, abi.encodeWithSelector(WarrantErrors.PeriodRequired.selector));
        s.scope.period = PERIOD;
        _enableStatic(proxy, ownerPk, s);
    }

    function test_invalidSpendLimit() public {
        // A finite cap must fit the 112-bit counters.
        bytes memory invalid0 = abi.encodeWithSelector(WarrantErrors.InvalidSpendLimit.selector, 0);
        _enableRefused(_limitedSession(_limit(address(token), uint128(type(uint112).max) + 1, NO_CAP)), invalid0);
        _enableRefused(_limitedSession(_limit(address(token), NO_CAP, uint128(type(uint112).max) + 1)), invalid0);
        _enabled(_limit(address(token), type(uint112).max, type(uint112).max));
        // A per-period cap needs a period.
        WarrantValidator.Session memory noPeriod = _limitedSession(_limit(address(token), 5, NO_CAP));
        noPeriod.scope.period = 0;
        _enableRefused(noPeriod, invalid0);
        // At most 127 limits: their counters sit within 128 slots of the session's state (ERC-7562).
        WarrantValidator.Session memory many = _limitedSession(_limit(address(token), 5, NO_CAP));
        many.scope.limits = new WarrantValidator.SpendLimit[](128);
        for (uint256 i = 0; i < 128; ++i) {
            many.scope.limits[i] = _limit(address(uint160(0x1000 + i)), 5, NO_CAP);
        }
        vm.prank(proxy);
        vm.expectRevert(abi.encodeWithSelector(WarrantErrors.InvalidSpendLimit.selector, 127));
        validator.enableSession(many);
        // Lifetime-only limits work without a period, and the nonce key suffix is then ignored.
        WarrantValidator.Session memory lifetimeOnly = _limitedSession(_limit(address(token), NO_CAP, 5));
        lifetimeOnly.scope.period = 0;
        _enableStatic(proxy, ownerPk, lifetimeOnly);
        _handle(_opIn(lifetimeOnly, 77, 0, _transfer(recipient, 5)));
        _expectAA23(_opIn(lifetimeOnly, 0, 0, _transfer(recipient, 1)), WarrantErrors.SpendLimitExceeded.selector);
    }

    function test_unlimitedStopsAtCounterWidth() public {
        WarrantValidator.Session memory s = _enabled(_limit(address(token), NO_CAP, NO_CAP));
        bytes memory inner = _refused(
            s,
            _tokenCall(abi.encodeCall(token.approve, (spender, type(uint256).max))),
            WarrantErrors.PeriodSpendLimitExceeded.selector
        );
        vm.assertEq(inner, _periodExceeded(type(uint256).max, type(uint112).max), "data");
    }

    function test_zeroCapMeansNothing() public {
        WarrantValidator.Session memory s = _enabled(_limit(address(token), 0, NO_CAP));
        _refused(s, _transfer(recipient, 1), WarrantErrors.PeriodSpendLimitExceeded.selector);
        _ok(s, _transfer(recipient, 0));
    }

    function test_duplicateTokenEntry_firstWins() public {
        WarrantValidator.Session memory s = _limitedSession(_limit(address(token), 5, NO_CAP));
        WarrantValidator.SpendLimit[] memory limits = new WarrantValidator.SpendLimit[](2);
        limits[0] = s.scope.limits[0];
        limits[1] = _limit(address(token), NO_CAP, NO_CAP); // a looser duplicate can't loosen the first
        s.scope.limits = limits;
        _enableStatic(proxy, ownerPk, s);
        _refused(s, _transfer(recipient, 6), WarrantErrors.PeriodSpendLimitExceeded.selector);
        _ok(s, _transfer(recipient, 5));
        (,, uint256 second) = _counter(s, 1);
        vm.assertEq(second, 0, "the duplicate counts nothing");
    }

    // ------------------------------------------------------------ routes (the table of docs/spend-limits.md)

    function test_route_approveCountsFullAmount() public {
        WarrantValidator.Session memory s = _enabled(_limit(address(token), 10e18, NO_CAP));
        _ok(s, _tokenCall(abi.encodeCall(token.approve, (spender, 6e18))));
        // Re-approving the same spender counts again in full: the earlier allowance may already be spent.
        bytes memory inner = _refused(
            s,
            _tokenCall(abi.encodeCall(token.approve, (spender, 6e18))),
            WarrantErrors.PeriodSpendLimitExceeded.selector
        );
        vm.assertEq(inner, _periodExceeded(12e18, 10e18), "data");
        _ok(s, _tokenCall(abi.encodeCall(token.approve, (spender, 0)))); // revoking costs nothing
    }

    function test_route_increaseAllowanceCounts() public {
        WarrantValidator.Session memory s = _enabled(_limit(address(token), 10e18, NO_CAP));
        bytes memory inc = abi.encodeWithSignature("increaseAllowance(address,uint256)", spender, 6e18);
        _handle(_opIn(s, 0, 0, _tokenCall(inc))); // MockToken has no increaseAllowance: execution fails, debit stays
        _refused(s, _tokenCall(inc), WarrantErrors.PeriodSpendLimitExceeded.selector);
        (, uint256 periodSpent,) = _counter(s, 0);
        vm.assertEq(periodSpent, 6e18, "counted");
    }

    function test_route_decreaseAllowanceCountsNothing() public {
        WarrantValidator.Session memory s = _enabled(_limit(address(token), 0, NO_CAP));
        _ok(s, _tokenCall(abi.encodeWithSignature("decreaseAllowance(address,uint256)", spender, 5)));
        (, uint256 periodSpent,) = _counter(s, 0);
        vm.assertEq(periodSpent, 0, "nothing counted");
    }

    function test_route_transferFromAccountCounts() public {
        WarrantValidator.Session memory s = _enabled(_limit(address(token), 10e18, NO_CAP));
        _refused(
            s,
            _tokenCall(abi.encodeCall(token.transferFrom, (proxy, recipient, 11e18))),
            WarrantErrors.PeriodSpendLimitExceeded.selector
        );
        // Pulling someone else's tokens (with an allowance they gave the account) does not spend the account's.
        vm.prank(recipient);
        token.approve(proxy, 50e18);
        token.mint(recipient, 50e18);
        _ok(s, _tokenCall(abi.encodeCall(token.transferFrom, (recipient, proxy, 50e18))));
        (, uint256 periodSpent,) = _counter(s, 0);
        vm.assertEq(periodSpent, 0, "not the account's tokens");
        // A dirty upper half of the `from` word still counts as the account.
        bytes memory dirty = abi.encodeCall(token.transferFrom, (proxy, recipient, 11e18));
        dirty[4] = 0x01;
        _refused(s, _tokenCall(dirty), WarrantErrors.PeriodSpendLimitExceeded.selector);
    }

    function test_route_permitOfAccountCounts() public {
        WarrantValidator.Session memory s = _enabled(_limit(address(token), 10e18, NO_CAP));
        bytes memory permit = abi.encodeWithSignature(
            "permit(address,address,uint256,uint256,uint8,bytes32,bytes32)",
            proxy,
            spender,
            11e18,
            type(uint256).max,
            uint8(27),
            bytes32(0),
            bytes32(0)
        );
        _refused(s, _tokenCall(permit), WarrantErrors.PeriodSpendLimitExceeded.selector);
    }

    function test_route_permit2ApproveCounts() public {
        WarrantValidator.Session memory s = _enabled(_limit(address(token), 10e18, NO_CAP));
        bytes memory approve = abi.encodeWithSignature(
            "approve(address,address,uint160,uint48)", address(token), spender, uint160(11e18), uint48(0)
        );
        _refused(s, _execSingle(PERMIT2, 0, approve), WarrantErrors.PeriodSpendLimitExceeded.selector);
        bytes memory small = abi.encodeWithSignature(
            "approve(address,address,uint160,uint48)", address(token), spender, uint160(4e18), uint48(0)
        );
        _ok(s, _execSingle(PERMIT2, 0, small));
        (, uint256 periodSpent,) = _counter(s, 0);
        vm.assertEq(periodSpent, 4e18, "counted");
        // An approval of an unlimited token through Permit2 counts nothing.
        bytes memory other = abi.encodeWithSignature(
            "approve(address,address,uint160,uint48)", address(target), spender, uint160(1e30), uint48(0)
        );
        _ok(s, _execSingle(PERMIT2, 0, other));
    }

    function test_route_permit2TransferFromCounts() public {
        WarrantValidator.Session memory s = _enabled(_limit(address(token), 10e18, NO_CAP));
        bytes memory pull = abi.encodeWithSignature(
            "transferFrom(address,address,uint160,address)", proxy, recipient, uint160(11e18), address(token)
        );
        _refused(s, _execSingle(PERMIT2, 0, pull), WarrantErrors.PeriodSpendLimitExceeded.selector);
    }

    function test_route_permit2OtherSelectorsRefused() public {
        WarrantValidator.Session memory s = _enabled(_limit(address(token), 10e18, NO_CAP));
        // permit(address owner, PermitSingle, bytes signature) and lockdown((address,address)[]) among others.
        bytes4[3] memory selectors = [bytes4(0x2b67b570), bytes4(0xcc53287f), bytes4(0x0d58b1db)];
        for (uint256 i = 0; i < selectors.length; ++i) {
            bytes memory inner = _refused(
                s,
                _execSingle(PERMIT2, 0, abi.encodePacked(selectors[i], new bytes(256))),
                WarrantErrors.TokenCallNotAccounted.selector
            );
            vm.assertEq(
                inner,
                abi.encodeWithSelector(WarrantErrors.TokenCallNotAccounted.selector, 0, PERMIT2, selectors[i]),
                "data"
            );
        }
    }

    function test_route_permit2FreeWithoutTokenLimits() public {
        // Only a native limit: Permit2 is an ordinary target.
        WarrantValidator.Session memory s = _enabled(_limit(address(0), 1 ether, NO_CAP));
        _ok(s, _execSingle(PERMIT2, 0, abi.encodePacked(bytes4(0x2b67b570), new bytes(256))));
    }

    function test_route_otherTokenSelectorsRefused() public {
        WarrantValidator.Session memory s = _enabled(_limit(address(token), 10e18, NO_CAP));
        // DAI-style push/pull/move, ERC-677 transferAndCall, a view, plain value: none is counted, all refused.
        bytes[5] memory calls = [
            abi.encodeWithSignature("push(address,uint256)", recipient, 1),
            abi.encodeWithSignature("move(address,address,uint256)", proxy, recipient, 1),
            abi.encodeWithSignature("transferAndCall(address,uint256,bytes)", recipient, 1, ""),
            abi.encodeCall(token.balanceOf, (proxy)),
            bytes("")
        ];
        for (uint256 i = 0; i < calls.length; ++i) {
            _refused(s, _tokenCall(calls[i]), WarrantErrors.TokenCallNotAccounted.selector);
        }
    }

    function test_route_shortCalldataRefused() public {
        WarrantValidator.Session memory s = _enabled(_limit(address(token), 10e18, NO_CAP));
        // transfer with its amount cut off: the counted word would lie outside the calldata.
        bytes memory cut = abi.encodePacked(token.transfer.selector, bytes32(uint256(uint160(recipient))));
        _refused(s, _tokenCall(cut), WarrantErrors.TokenCallNotAccounted.selector);
    }

    function test_route_batchSumsEveryCall() public {
        WarrantValidator.Session memory s = _enabled(_limit(address(token), 10e18, NO_CAP));
        Execution[] memory calls = new Execution[](3);
        calls[0] = Execution(address(token), 0, abi.encodeCall(token.transfer, (recipient, 4e18)));
        calls[1] = Execution(address(token), 0, abi.encodeCall(token.approve, (spender, 4e18)));
        calls[2] = Execution(address(token), 0, abi.encodeCall(token.transfer, (recipient, 3e18)));
        bytes memory inner = _refused(s, _execBatch(calls), WarrantErrors.PeriodSpendLimitExceeded.selector);
        vm.assertEq(inner, _periodExceeded(11e18, 10e18), "data");
        calls[2] = Execution(address(token), 0, abi.encodeCall(token.transfer, (recipient, 2e18)));
        _ok(s, _execBatch(calls));
        vm.assertEq(token.balanceOf(recipient), 6e18, "moved");
    }

    // ------------------------------------------------------------ bundles, periods, reverted executions

    function test_bundleCannotOverspendPeriodLimit() public {
        WarrantValidator.Session memory s = _enabled(_limit(address(token), 10e18, NO_CAP));
        PackedUserOperation[] memory ops = new PackedUserOperation[](3);
        ops[0] = _opIn(s, 0, 0, _transfer(recipient, 4e18));
        ops[1] = _opIn(s, 0, 1, _transfer(recipient, 4e18));
        ops[2] = _opIn(s, 0, 2, _transfer(recipient, 4e18));
        bytes memory inner = _expectAA23(ops, 2, WarrantErrors.PeriodSpendLimitExceeded.selector);
        vm.assertEq(inner, _periodExceeded(12e18, 10e18), "data");
        // Two of them fit.
        PackedUserOperation[] memory two = new PackedUserOperation[](2);
        two[0] = _opIn(s, 0, 0, _transfer(recipient, 4e18));
        two[1] = _opIn(s, 0, 1, _transfer(recipient, 6e18));
        ep.handleOps(two, beneficiary);
        vm.assertEq(token.balanceOf(recipient), 10e18, "moved");
    }

    function test_bundleCannotOverspendUsesPerPeriod() public {
        WarrantValidator.Session memory s = _limitedSession(_limit(address(token), NO_CAP, NO_CAP));
        s.scope.maxUsesPerPeriod = 1;
        _enableStatic(proxy, ownerPk, s);
        PackedUserOperation[] memory ops = new PackedUserOperation[](2);
        ops[0] = _opIn(s, 0, 0, _transfer(recipient, 1));
        ops[1] = _opIn(s, 0, 1, _transfer(recipient, 1));
        _expectAA23(ops, 1, WarrantErrors.PeriodUsesExhausted.selector);
    }

    function test_periodBoundary() public {
        WarrantValidator.Session memory s = _enabled(_limit(address(token), 10e18, NO_CAP));
        vm.warp(START + PERIOD - 1); // last second of period 0
        _ok(s, _transfer(recipient, 10e18));
        // An op for period 0 signed now is refused a second later: its window ends with the period.
        PackedUserOperation memory late = _opIn(s, 0, 0, _transfer(recipient, 0));
        vm.warp(START + PERIOD);
        _expectFailedOp(late, "AA22 expired or not due");
        // First second of period 1: the cap is fresh (fixed windows allow 2x the cap across a boundary).
        _ok(s, _transfer(recipient, 10e18));
        vm.assertEq(token.balanceOf(recipient), 20e18, "moved");
    }

    function test_futurePeriodRefusedAndResetsNothing() public {
        WarrantValidator.Session memory s = _enabled(_limit(address(token), 10e18, NO_CAP));
        _ok(s, _transfer(recipient, 10e18));
        // Claiming period 1 while in period 0 would reset the counter: validation accepts it, the EntryPoint
        // refuses the window (AA22) and reverts the whole handleOps, so the reset never lands.
        _expectFailedOp(_opIn(s, 1, 0, _transfer(recipient, 10e18)), "AA22 expired or not due");
        (uint256 periodIndex, uint256 periodSpent,) = _counter(s, 0);
        vm.assertEq(periodIndex, 0, "period index unchanged");
        vm.assertEq(periodSpent, 10e18, "period counter unchanged");
        _refused(s, _transfer(recipient, 1), WarrantErrors.PeriodSpendLimitExceeded.selector);
    }

    function test_stalePeriodRefused() public {
        WarrantValidator.Session memory s = _enabled(_limit(address(token), 10e18, NO_CAP));
        vm.warp(START + 2 * PERIOD + 1);
        _ok(s, _transfer(recipient, 1e18)); // period 2
        bytes memory inner = _expectAA23(_opIn(s, 1, 0, _transfer(recipient, 1e18)), WarrantErrors.PeriodStale.selector);
        vm.assertEq(inner, abi.encodeWithSelector(WarrantErrors.PeriodStale.selector, 1, 2), "data");
    }

    function test_periodOutOfRange() public {
        WarrantValidator.Session memory s = _enabled(_limit(address(token), 10e18, NO_CAP));
        bytes memory inner = _expectAA23(
            _opIn(s, type(uint32).max, 0, _transfer(recipient, 1)), WarrantErrors.PeriodOutOfRange.selector
        );
        vm.assertEq(inner, abi.encodeWithSelector(WarrantErrors.PeriodOutOfRange.selector, type(uint32).max), "data");
    }

    function test_windowIntersectsScopeAndSignature() public {
        WarrantValidator.Session memory s = _limitedSession(_limit(address(token), 10e18, NO_CAP));
        s.scope.validAfter = START + 100;
        s.scope.validUntil = START + PERIOD + 50;
        _enableStatic(proxy, ownerPk, s);
        // Period 0 is [START, START + PERIOD): the scope's validAfter is later, the period's end earlier.
        PackedUserOperation memory op = _opIn(s, 0, 0, _transfer(recipient, 1));
        bytes32 hash = ep.getUserOpHash(op); // before the prank, which the next external call consumes
        vm.prank(proxy);
        uint256 data = validator.validateUserOp(op, hash);
        vm.assertEq(uint160(data), 0, "signature valid");
        vm.assertEq(uint48(data >> 160), START + PERIOD - 1, "validUntil: end of period 0");
        vm.assertEq(uint48(data >> 208), START + 100, "validAfter: the scope's");
        // Period 1: starts inside the scope, ends after it.
        op = _opIn(s, 1, 0, _transfer(recipient, 1));
        hash = ep.getUserOpHash(op);
        vm.prank(proxy);
        data = validator.validateUserOp(op, hash);
        vm.assertEq(uint48(data >> 160), START + PERIOD + 50, "validUntil: the scope's");
        vm.assertEq(uint48(data >> 208), START + PERIOD - 1, "validAfter: start of period 1, minus 1");
        // A bad signature still fails inside the window.
        op = _opIn(s, 1, 1, _transfer(recipient, 1));
        op.signature = "";
        _signUse(op, s, ownerPk, 1);
        hash = ep.getUserOpHash(op);
        vm.prank(proxy);
        data = validator.validateUserOp(op, hash);
        vm.assertEq(uint160(data), 1, "signature failure kept");
    }

    function test_revertedExecutionKeepsTheDebit() public {
        WarrantValidator.Session memory s = _enabled(_limit(address(token), 3000e18, NO_CAP));
        // The account holds 1000e18: the transfer passes validation and reverts in execution.
        _ok(s, _transfer(recipient, 2000e18));
        vm.assertEq(token.balanceOf(recipient), 0, "nothing moved");
        (, uint256 periodSpent,) = _counter(s, 0);
        vm.assertEq(periodSpent, 2000e18, "allowance consumed");
        _refused(s, _transfer(recipient, 1001e18), WarrantErrors.PeriodSpendLimitExceeded.selector);
    }

    function test_enableModeBindsLimits() public {
        WarrantValidator.Session memory s = _limitedSession(_limit(address(token), 10e18, NO_CAP));
        WarrantValidator.Grant memory g = _grant(proxy, s);
        bytes memory ownerSig = _ownerGrantSig(proxy, ownerPk, g);
        // A front-runner loosening the limit breaks the owner's signature.
        WarrantValidator.Grant memory loosened = _grant(proxy, _limitedSession(_limit(address(token), NO_CAP, NO_CAP)));
        PackedUserOperation memory op = _op(proxy, _validatorKey(), _transfer(recipient, 11e18));
        _signEnable(op, loosened, ownerSig, sessionPk);
        _expectAA23(op, WarrantErrors.InvalidOwnerSignature.selector);
        loosened.session.scope.period = PERIOD * 2;
        loosened.session.scope.limits = s.scope.limits;
        _signEnable(op, loosened, ownerSig, sessionPk);
        _expectAA23(op, WarrantErrors.InvalidOwnerSignature.selector);
        // The genuine grant enables the session and the limit applies from its first op.
        _signEnable(op, g, ownerSig, sessionPk);
        _expectAA23(op, WarrantErrors.PeriodSpendLimitExceeded.selector);
        op = _op(proxy, _validatorKey(), _transfer(recipient, 10e18));
        _signEnable(op, g, ownerSig, sessionPk);
        _handle(op);
        vm.assertEq(token.balanceOf(recipient), 10e18, "moved");
    }

    function test_revokeAllForgetsCounters() public {
        // Counters live under (id, epoch): a grant for the new epoch is a new session with fresh counters, and
        // the old session is unreachable (REFERENCE §6.9: nothing resurrects).
        WarrantValidator.Session memory s = _enabled(_limit(address(token), 10e18, NO_CAP));
        _ok(s, _transfer(recipient, 10e18));
        _ownerExec(proxy, ownerPk, _execSingle(address(validator), 0, abi.encodeCall(WarrantValidator.revokeAll, ())));
        _refused(s, _transfer(recipient, 1), WarrantErrors.SessionNotEnabled.selector);
        (, uint256 periodSpent,) = _counter(s, 0);
        vm.assertEq(periodSpent, 0, "new epoch, no counter");
    }

    // ------------------------------------------------------------ session bytes

    /// @dev The spend section's known answer, shared with `crates/core/src/grant.rs`.
    function test_spendSectionKnownAnswer() public view {
        WarrantValidator.Session memory s;
        s.signer = address(0x1111111111111111111111111111111111111111);
        s.scope.period = 86_400;
        s.scope.periodStart = 1_000_000;
        s.scope.maxUsesPerPeriod = 2;
        s.scope.limits = new WarrantValidator.SpendLimit[](2);
        s.scope.limits[0] = _limit(address(0x3333333333333333333333333333333333333333), 1e18, NO_CAP);
        s.scope.limits[1] = _limit(address(0), NO_CAP, 5);
        bytes memory expected = abi.encodePacked(
            hex"1111111111111111111111111111111111111111",
            hex"80", // limits: the spend section only
            hex"00015180", // period
            hex"0000000f4240", // periodStart
            hex"00000002", // maxUsesPerPeriod
            hex"0102", // w(2 limits)
            hex"3333333333333333333333333333333333333333",
            hex"00000000000000000de0b6b3a7640000",
            hex"ffffffffffffffffffffffffffffffff",
            hex"0000000000000000000000000000000000000000",
            hex"ffffffffffffffffffffffffffffffff",
            hex"00000000000000000000000000000005",
            hex"00", // w(0 gates)
            hex"00", // w(0 calls)
            hex"00" // w(salt 0)
        );
        vm.assertEq(validator.sessionBytes(s), expected, "session bytes");
        // Every spend field is bound into the id.
        bytes32 id = validator.sessionId(proxy, s);
        s.scope.periodStart = 1_000_001;
        vm.assertTrue(validator.sessionId(proxy, s) != id, "periodStart bound");
        s.scope.periodStart = 1_000_000;
        s.scope.limits[1].lifetime = 6;
        vm.assertTrue(validator.sessionId(proxy, s) != id, "limit bound");
    }
}
