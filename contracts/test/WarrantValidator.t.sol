// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {PackedUserOperation} from "@openzeppelin/contracts/interfaces/IERC4337.sol";
import {IERC7579Execution, IERC7579ModuleConfig} from "@openzeppelin/contracts/interfaces/draft-IERC7579.sol";
import {IAccountExecute} from "@openzeppelin/contracts/interfaces/IERC4337.sol";
import {Execution} from "@openzeppelin/contracts/account/utils/draft-ERC7579Utils.sol";
import {WarrantFixture, IEntryPointV08} from "./utils/WarrantFixture.sol";
import {WarrantValidator} from "../src/WarrantValidator.sol";
import {WarrantErrors} from "../src/WarrantErrors.sol";
import {MockPaymaster} from "./mocks/Mocks.sol";

contract WarrantValidatorTest is WarrantFixture {
    bytes4 internal constant TRANSFER = bytes4(keccak256("transfer(address,uint256)"));
    bytes4 internal constant APPROVE = bytes4(keccak256("approve(address,uint256)"));

    // ------------------------------------------------------------ helpers

    function _staticSession(address account, uint256 pk, WarrantValidator.CallPolicy memory p)
        internal
        returns (WarrantValidator.Session memory s)
    {
        s = _session(p);
        _enableStatic(account, pk, s);
    }

    function _anyPolicy() internal pure returns (WarrantValidator.CallPolicy memory p) {
        p.flags = 3; // ANY_TARGET | ANY_SELECTOR
        p.maxValue = type(uint256).max;
    }

    function _useOk(address account, WarrantValidator.Session memory s, bytes memory callData) internal {
        _handle(_sessionOp(account, s, callData));
    }

    function _useRefused(address account, WarrantValidator.Session memory s, bytes memory callData, bytes4 selector)
        internal
        returns (bytes memory)
    {
        return _expectAA23(_sessionOp(account, s, callData), selector);
    }

    function _uses(address account, WarrantValidator.Session memory s) internal view returns (uint256 uses) {
        (, uses,) = validator.sessionState(account, validator.sessionId(account, s));
    }

    function _status(address account, WarrantValidator.Session memory s) internal view returns (uint256 status) {
        (status,,) = validator.sessionState(account, validator.sessionId(account, s));
    }

    function _enableOp(address account, uint256 pk, WarrantValidator.Session memory s, bytes memory callData)
        internal
        view
        returns (PackedUserOperation memory op)
    {
        WarrantValidator.Grant memory g = _grant(account, s);
        op = _op(account, _validatorKey(), callData);
        _signEnable(op, g, _ownerGrantSig(account, pk, g), sessionPk);
    }

    // ------------------------------------------------------------ accepted flows

    function _staticFlow(address account, uint256 pk) internal {
        WarrantValidator.Session memory s = _session(_transferPolicy(100e18));
        s.scope.maxUses = 10; // uses are counted for sessions with a cap
        _enableStatic(account, pk, s);
        vm.assertEq(_status(account, s), 1, "enabled");
        _useOk(account, s, _transfer(recipient, 10e18));
        _useOk(account, s, _transfer(recipient, 100e18));
        vm.assertEq(token.balanceOf(recipient), 110e18, "recipient");
        vm.assertEq(_uses(account, s), 2, "uses debited");
    }

    function test_static_7702() public {
        _staticFlow(eoa, eoaPk);
    }

    function test_static_proxy() public {
        _staticFlow(proxy, ownerPk);
    }

    function _enableFlow(address account, uint256 pk) internal {
        WarrantValidator.Session memory s = _session(_transferPolicy(100e18));
        s.scope.maxUses = 10; // uses are counted for sessions with a cap
        vm.assertEq(_status(account, s), 0, "not enabled yet");
        _handle(_enableOp(account, pk, s, _transfer(recipient, 3e18)));
        vm.assertEq(_status(account, s), 1, "enabled by grant");
        _useOk(account, s, _transfer(recipient, 4e18));
        vm.assertEq(token.balanceOf(recipient), 7e18, "recipient");
        vm.assertEq(_uses(account, s), 2, "uses");
        // Presenting the grant again once enabled is a plain use.
        _handle(_enableOp(account, pk, s, _transfer(recipient, 1e18)));
        vm.assertEq(_uses(account, s), 3, "uses after re-presented grant");
    }

    function test_enableThenUse_7702() public {
        _enableFlow(eoa, eoaPk);
    }

    function test_enableThenUse_proxy() public {
        _enableFlow(proxy, ownerPk);
    }

    function test_nativeTransfer_emptyCalldata() public {
        opMaxFeePerGas = 0; // call value only here (gas is value too: ReviewHoles.t.sol)
        WarrantValidator.Session memory s = _session(_policy(recipient, bytes4(0), 1 ether));
        s.scope.maxValueTotal = 1 ether;
        _enableStatic(proxy, ownerPk, s);
        _useOk(proxy, s, _execSingle(recipient, 1 ether, ""));
        vm.assertEq(recipient.balance, 1 ether, "native sent");
        (,, uint128 spent) = validator.sessionState(proxy, validator.sessionId(proxy, s));
        vm.assertEq(spent, 1 ether, "value debited");
    }

    /// @dev A plain-transfer policy (selector 0) matches empty calldata only, not calldata that starts with four
    /// zero bytes (a function whose selector happens to be 0x00000000, or arguments dressed as one).
    function test_zeroSelectorPolicyMatchesOnlyEmptyCalldata() public {
        WarrantValidator.Session memory s = _session(_policy(recipient, bytes4(0), 1 ether));
        s.scope.maxValueTotal = 1 ether;
        _enableStatic(proxy, ownerPk, s);
        bytes memory zeroSelector = abi.encodePacked(bytes4(0), uint256(42));
        bytes memory inner =
            _useRefused(proxy, s, _execSingle(recipient, 0, zeroSelector), WarrantErrors.CallNotPermitted.selector);
        vm.assertEq(
            inner,
            abi.encodeWithSelector(WarrantErrors.CallNotPermitted.selector, 0, recipient, bytes4(0)),
            "refused by name"
        );
        _useOk(proxy, s, _execSingle(recipient, 1, ""));
    }

    function test_debitStaysWhenExecutionReverts() public {
        WarrantValidator.Session memory s = _session(_transferPolicy(5000e18));
        s.scope.maxUses = 10; // uses are counted for sessions with a cap
        _enableStatic(proxy, ownerPk, s);
        // The account holds 1000e18: the transfer passes the policy but reverts in execution.
        _useOk(proxy, s, _transfer(recipient, 2000e18));
        vm.assertEq(token.balanceOf(recipient), 0, "nothing moved");
        vm.assertEq(_uses(proxy, s), 1, "use still debited");
    }

    // ------------------------------------------------------------ target, selector, arguments, value

    function test_wrongTarget() public {
        WarrantValidator.Session memory s = _staticSession(proxy, ownerPk, _transferPolicy(100e18));
        bytes memory data = abi.encodeWithSelector(TRANSFER, recipient, 1e18);
        bytes memory inner =
            _useRefused(proxy, s, _execSingle(address(target), 0, data), WarrantErrors.CallNotPermitted.selector);
        vm.assertEq(
            inner, abi.encodeWithSelector(WarrantErrors.CallNotPermitted.selector, 0, address(target), TRANSFER), "data"
        );
    }

    function test_wrongSelector() public {
        WarrantValidator.Session memory s = _staticSession(proxy, ownerPk, _transferPolicy(100e18));
        _useRefused(
            proxy,
            s,
            _execSingle(address(token), 0, abi.encodeWithSelector(APPROVE, recipient, 1e18)),
            WarrantErrors.CallNotPermitted.selector
        );
    }

    function test_argumentOverLimit() public {
        WarrantValidator.Session memory s = _staticSession(proxy, ownerPk, _transferPolicy(100e18));
        bytes memory inner =
            _useRefused(proxy, s, _transfer(recipient, 100e18 + 1), WarrantErrors.ArgumentConditionFailed.selector);
        vm.assertEq(
            inner, abi.encodeWithSelector(WarrantErrors.ArgumentConditionFailed.selector, 0, 1, 3), "LTE on arg 1"
        );
        _useRefused(proxy, s, _transfer(address(0xBAD), 1), WarrantErrors.ArgumentConditionFailed.selector);
    }

    function test_firstMatchingPolicyWins() public {
        WarrantValidator.CallPolicy[] memory calls = new WarrantValidator.CallPolicy[](2);
        calls[0] = _transferPolicy(1e18);
        calls[1] = _policy(address(token), bytes4(0), 0);
        calls[1].flags = 2; // any selector on the token, listed after the strict one
        WarrantValidator.Session memory s = _session(calls);
        _enableStatic(proxy, ownerPk, s);
        _useRefused(proxy, s, _transfer(recipient, 2e18), WarrantErrors.ArgumentConditionFailed.selector);
        _useOk(proxy, s, _execSingle(address(token), 0, abi.encodeWithSelector(APPROVE, recipient, 5e18)));
        vm.assertEq(token.allowance(proxy, recipient), 5e18, "second policy for other selectors");
    }

    function test_callValueOverPolicyCap() public {
        WarrantValidator.Session memory s = _session(_policy(address(target), target.ping.selector, 1 ether));
        s.scope.maxValueTotal = 10 ether;
        _enableStatic(proxy, ownerPk, s);
        bytes memory inner = _useRefused(
            proxy,
            s,
            _execSingle(address(target), 1 ether + 1, abi.encodeCall(target.ping, ())),
            WarrantErrors.CallValueExceeded.selector
        );
        vm.assertEq(
            inner, abi.encodeWithSelector(WarrantErrors.CallValueExceeded.selector, 0, 1 ether + 1, 1 ether), "data"
        );
        _useOk(proxy, s, _execSingle(address(target), 1 ether, abi.encodeCall(target.ping, ())));
        vm.assertEq(address(target).balance, 1 ether, "paid");
    }

    function test_sessionValueCap() public {
        opMaxFeePerGas = 0; // call value only here (gas is value too: ReviewHoles.t.sol)
        WarrantValidator.Session memory s = _session(_policy(address(target), target.ping.selector, 1 ether));
        s.scope.maxValueTotal = 1.5 ether;
        _enableStatic(proxy, ownerPk, s);
        _useOk(proxy, s, _execSingle(address(target), 1 ether, abi.encodeCall(target.ping, ())));
        bytes memory inner = _useRefused(
            proxy,
            s,
            _execSingle(address(target), 0.6 ether, abi.encodeCall(target.ping, ())),
            WarrantErrors.SessionValueExceeded.selector
        );
        vm.assertEq(
            inner, abi.encodeWithSelector(WarrantErrors.SessionValueExceeded.selector, 1.6 ether, 1.5 ether), "data"
        );
        _useOk(proxy, s, _execSingle(address(target), 0.5 ether, abi.encodeCall(target.ping, ())));
    }

    /// @dev maxValueTotal 0: no native value at all, gas included (spec C.3), so without a paymaster only an op
    /// with maxFeePerGas 0 can pass, and then only without value.
    function test_zeroValueCapMeansNoValue() public {
        WarrantValidator.Session memory s = _session(_policy(address(target), target.ping.selector, 1 ether));
        s.scope.maxValueTotal = 0;
        _enableStatic(proxy, ownerPk, s);
        PackedUserOperation memory op =
            _sessionOp(proxy, s, _execSingle(address(target), 0, abi.encodeCall(target.ping, ())));
        bytes memory inner = _expectAA23(op, WarrantErrors.SessionValueExceeded.selector);
        vm.assertEq(
            inner,
            abi.encodeWithSelector(WarrantErrors.SessionValueExceeded.selector, _gasCost(op), 0),
            "the gas alone is over a zero budget"
        );
        opMaxFeePerGas = 0;
        _useRefused(
            proxy,
            s,
            _execSingle(address(target), 1, abi.encodeCall(target.ping, ())),
            WarrantErrors.SessionValueExceeded.selector
        );
        _useOk(proxy, s, _execSingle(address(target), 0, abi.encodeCall(target.ping, ())));
    }

    function test_batchValueCountsEveryCall() public {
        WarrantValidator.Session memory s = _session(_policy(address(target), target.ping.selector, 1 ether));
        s.scope.maxValueTotal = 1 ether;
        _enableStatic(proxy, ownerPk, s);
        Execution[] memory calls = new Execution[](2);
        calls[0] = Execution(address(target), 0.6 ether, abi.encodeCall(target.ping, ()));
        calls[1] = Execution(address(target), 0.6 ether, abi.encodeCall(target.ping, ()));
        _useRefused(proxy, s, _execBatch(calls), WarrantErrors.SessionValueExceeded.selector);
    }

    function test_calldataTooShort() public {
        WarrantValidator.Session memory s = _staticSession(proxy, ownerPk, _anyPolicy());
        _useRefused(proxy, s, _execSingle(address(target), 0, hex"aabbcc"), WarrantErrors.CalldataTooShort.selector);
    }

    // ------------------------------------------------------------ privilege escalation (REFERENCE §6.1, §6.4)

    function test_selfCallRefused() public {
        WarrantValidator.Session memory s = _staticSession(proxy, ownerPk, _anyPolicy());
        bytes memory nested = _execSingle(recipient, 1 ether, "");
        bytes memory inner =
            _useRefused(proxy, s, _execSingle(proxy, 0, nested), WarrantErrors.ForbiddenTarget.selector);
        vm.assertEq(inner, abi.encodeWithSelector(WarrantErrors.ForbiddenTarget.selector, 0, proxy), "data");
        _useRefused(
            proxy,
            s,
            _execSingle(proxy, 0, abi.encodeCall(IERC7579ModuleConfig.uninstallModule, (1, address(validator), ""))),
            WarrantErrors.ForbiddenTarget.selector
        );
    }

    function test_selfCallRefused_7702() public {
        WarrantValidator.Session memory s = _staticSession(eoa, eoaPk, _anyPolicy());
        _useRefused(eoa, s, _execSingle(eoa, 1 ether, ""), WarrantErrors.ForbiddenTarget.selector);
    }

    function test_moduleCallRefused() public {
        WarrantValidator.Session memory s = _staticSession(proxy, ownerPk, _anyPolicy());
        WarrantValidator.Session memory wider = _session(_anyPolicy());
        wider.salt = bytes32(uint256(1));
        bytes memory call = abi.encodeCall(WarrantValidator.enableSession, (wider));
        _useRefused(proxy, s, _execSingle(address(validator), 0, call), WarrantErrors.ForbiddenTarget.selector);
        _useRefused(
            proxy,
            s,
            _execSingle(address(validator), 0, abi.encodeCall(WarrantValidator.revokeAll, ())),
            WarrantErrors.ForbiddenTarget.selector
        );
    }

    function test_entryPointCallRefused() public {
        WarrantValidator.Session memory s = _staticSession(proxy, ownerPk, _anyPolicy());
        _useRefused(
            proxy,
            s,
            _execSingle(address(ep), 0, abi.encodeWithSignature("withdrawTo(address,uint256)", recipient, 1)),
            WarrantErrors.ForbiddenTarget.selector
        );
    }

    function test_executeUserOpRefused() public {
        WarrantValidator.Session memory s = _staticSession(proxy, ownerPk, _anyPolicy());
        PackedUserOperation memory dummy;
        bytes memory callData = abi.encodePacked(
            IAccountExecute.executeUserOp.selector, abi.encode(dummy, bytes32(0)), _transfer(recipient, 1)
        );
        bytes memory inner = _useRefused(proxy, s, callData, WarrantErrors.UnsupportedAccountCall.selector);
        vm.assertEq(
            inner,
            abi.encodeWithSelector(
                WarrantErrors.UnsupportedAccountCall.selector, IAccountExecute.executeUserOp.selector
            ),
            "data"
        );
    }

    function test_installModuleAsCallDataRefused() public {
        WarrantValidator.Session memory s = _staticSession(proxy, ownerPk, _anyPolicy());
        _useRefused(
            proxy,
            s,
            abi.encodeCall(IERC7579ModuleConfig.installModule, (2, address(target), "")),
            WarrantErrors.UnsupportedAccountCall.selector
        );
        _useRefused(proxy, s, "", WarrantErrors.UnsupportedAccountCall.selector);
    }

    function test_executionModesRefused() public {
        WarrantValidator.Session memory s = _staticSession(proxy, ownerPk, _anyPolicy());
        bytes memory single =
            abi.encodePacked(address(token), uint256(0), abi.encodeWithSelector(TRANSFER, recipient, 1));
        bytes32[6] memory modes = [
            bytes32(bytes1(0xff)), // delegatecall
            bytes32(bytes1(0xfe)), // static call
            bytes32(bytes2(0x0001)), // single, try
            bytes32(bytes2(0x0101)), // batch, try
            bytes32(uint256(1)), // single with a non-zero payload byte
            bytes32(bytes6(0x000000000001)) // single with a non-zero unused byte
        ];
        for (uint256 i = 0; i < modes.length; ++i) {
            bytes memory callData = abi.encodeCall(IERC7579Execution.execute, (modes[i], single));
            bytes memory inner = _useRefused(proxy, s, callData, WarrantErrors.UnsupportedExecutionMode.selector);
            vm.assertEq(
                inner, abi.encodeWithSelector(WarrantErrors.UnsupportedExecutionMode.selector, modes[i]), "mode"
            );
        }
    }

    function test_nonCanonicalExecuteRefused() public {
        WarrantValidator.Session memory s = _staticSession(proxy, ownerPk, _transferPolicy(100e18));
        bytes memory good = _transfer(recipient, 1e18);
        // Trailing bytes after the canonical encoding.
        _useRefused(proxy, s, abi.encodePacked(good, bytes32(0)), WarrantErrors.MalformedCalldata.selector);
        // Offset word 0x60 with a gap: Solidity would decode it, we don't.
        bytes memory exec =
            abi.encodePacked(address(token), uint256(0), abi.encodeWithSelector(TRANSFER, recipient, 1e18));
        bytes memory shifted = abi.encodePacked(
            IERC7579Execution.execute.selector,
            MODE_SINGLE,
            uint256(0x60),
            bytes32(0),
            uint256(exec.length),
            exec,
            new bytes(32 - exec.length % 32)
        );
        _useRefused(proxy, s, shifted, WarrantErrors.MalformedCalldata.selector);
        // Truncated: length word larger than the data.
        bytes memory truncated =
            abi.encodePacked(IERC7579Execution.execute.selector, MODE_SINGLE, uint256(0x40), uint256(1000), exec);
        _useRefused(proxy, s, truncated, WarrantErrors.MalformedCalldata.selector);
        // Single execution shorter than target + value.
        _useRefused(
            proxy,
            s,
            abi.encodeCall(IERC7579Execution.execute, (MODE_SINGLE, abi.encodePacked(address(token)))),
            WarrantErrors.MalformedCalldata.selector
        );
    }

    // ------------------------------------------------------------ batches (REFERENCE §6.3)

    function test_batchSmuggling() public {
        WarrantValidator.Session memory s = _staticSession(proxy, ownerPk, _transferPolicy(100e18));
        Execution[] memory calls = new Execution[](2);
        calls[0] = Execution(address(token), 0, abi.encodeWithSelector(TRANSFER, recipient, 1e18));
        calls[1] = Execution(address(token), 0, abi.encodeWithSelector(APPROVE, address(0xBAD), type(uint256).max));
        bytes memory inner = _useRefused(proxy, s, _execBatch(calls), WarrantErrors.CallNotPermitted.selector);
        vm.assertEq(
            inner,
            abi.encodeWithSelector(WarrantErrors.CallNotPermitted.selector, 1, address(token), APPROVE),
            "index 1"
        );
        calls[1] = Execution(proxy, 0, _execSingle(recipient, 1 ether, ""));
        _useRefused(proxy, s, _execBatch(calls), WarrantErrors.ForbiddenTarget.selector);
        // Both allowed: accepted and executed.
        calls[1] = Execution(address(token), 0, abi.encodeWithSelector(TRANSFER, recipient, 2e18));
        _useOk(proxy, s, _execBatch(calls));
        vm.assertEq(token.balanceOf(recipient), 3e18, "batch executed");
    }

    function test_emptyBatchRefused() public {
        WarrantValidator.Session memory s = _staticSession(proxy, ownerPk, _anyPolicy());
        _useRefused(proxy, s, _execBatch(new Execution[](0)), WarrantErrors.EmptyBatch.selector);
    }

    function test_batchElementOutOfBoundsRefused() public {
        WarrantValidator.Session memory s = _staticSession(proxy, ownerPk, _anyPolicy());
        // One element whose pointer points past the execution calldata.
        bytes memory exec = abi.encodePacked(uint256(0x20), uint256(1), uint256(0x1000));
        _useRefused(
            proxy,
            s,
            abi.encodeCall(IERC7579Execution.execute, (MODE_BATCH, exec)),
            WarrantErrors.MalformedCalldata.selector
        );
    }

    // ------------------------------------------------------------ time, uses, bundles (REFERENCE §6.10)

    function test_expiredAndNotYetValid() public {
        vm.warp(1_000_000);
        WarrantValidator.Session memory s = _session(_transferPolicy(100e18));
        s.scope.validUntil = 999_999;
        _enableStatic(proxy, ownerPk, s);
        _expectFailedOp(_sessionOp(proxy, s, _transfer(recipient, 1)), "AA22 expired or not due");

        WarrantValidator.Session memory later = _session(_transferPolicy(100e18));
        later.scope.validAfter = 1_000_100;
        later.scope.validUntil = 1_000_200;
        _enableStatic(proxy, ownerPk, later);
        _expectFailedOp(_sessionOp(proxy, later, _transfer(recipient, 1)), "AA22 expired or not due");
        vm.warp(1_000_150);
        _useOk(proxy, later, _transfer(recipient, 1));
        vm.assertEq(token.balanceOf(recipient), 1, "inside the window");
    }

    function test_usesExhausted() public {
        WarrantValidator.Session memory s = _session(_transferPolicy(100e18));
        s.scope.maxUses = 2;
        _enableStatic(proxy, ownerPk, s);
        _useOk(proxy, s, _transfer(recipient, 1));
        _useOk(proxy, s, _transfer(recipient, 1));
        bytes memory inner = _useRefused(proxy, s, _transfer(recipient, 1), WarrantErrors.UsesExhausted.selector);
        vm.assertEq(inner, abi.encodeWithSelector(WarrantErrors.UsesExhausted.selector, 2, 2), "data");
    }

    function test_bundleCannotOverspendUses() public {
        WarrantValidator.Session memory s = _session(_transferPolicy(100e18));
        s.scope.maxUses = 1;
        _enableStatic(proxy, ownerPk, s);
        PackedUserOperation[] memory ops = new PackedUserOperation[](2);
        ops[0] = _sessionOp(proxy, s, _transfer(recipient, 1));
        ops[1] = _op(proxy, _validatorKey(), _transfer(recipient, 1));
        ops[1].nonce = ops[0].nonce + 1;
        _signUse(ops[1], s, sessionPk);
        _expectAA23(ops, 1, WarrantErrors.UsesExhausted.selector);
    }

    function test_bundleCannotOverspendValue() public {
        WarrantValidator.Session memory s = _session(_policy(address(target), target.ping.selector, 1 ether));
        s.scope.maxValueTotal = 1 ether;
        _enableStatic(proxy, ownerPk, s);
        PackedUserOperation[] memory ops = new PackedUserOperation[](2);
        ops[0] = _sessionOp(proxy, s, _execSingle(address(target), 0.7 ether, abi.encodeCall(target.ping, ())));
        ops[1] = _op(proxy, _validatorKey(), _execSingle(address(target), 0.7 ether, abi.encodeCall(target.ping, ())));
        ops[1].nonce = ops[0].nonce + 1;
        _signUse(ops[1], s, sessionPk);
        _expectAA23(ops, 1, WarrantErrors.SessionValueExceeded.selector);
    }

    // ------------------------------------------------------------ revocation and stale state (REFERENCE §6.9)

    function test_notEnabledRefused() public {
        WarrantValidator.Session memory s = _session(_transferPolicy(100e18));
        _useRefused(proxy, s, _transfer(recipient, 1), WarrantErrors.SessionNotEnabled.selector);
    }

    function test_revokeSessionThenReuse() public {
        WarrantValidator.Session memory s = _staticSession(proxy, ownerPk, _transferPolicy(100e18));
        _useOk(proxy, s, _transfer(recipient, 1));
        bytes32 id = validator.sessionId(proxy, s);
        _ownerExec(
            proxy, ownerPk, _execSingle(address(validator), 0, abi.encodeCall(WarrantValidator.revokeSession, (id)))
        );
        vm.assertEq(_status(proxy, s), 2, "revoked");
        bytes memory inner = _useRefused(proxy, s, _transfer(recipient, 1), WarrantErrors.SessionRevoked.selector);
        vm.assertEq(inner, abi.encodeWithSelector(WarrantErrors.SessionRevoked.selector, id), "data");
    }

    function test_revokedCannotBeReenabled() public {
        WarrantValidator.Session memory s = _staticSession(proxy, ownerPk, _transferPolicy(100e18));
        bytes32 id = validator.sessionId(proxy, s);
        vm.prank(proxy);
        validator.revokeSession(id);
        // Static re-enable refused.
        vm.prank(proxy);
        vm.expectRevert(abi.encodeWithSelector(WarrantErrors.SessionRevoked.selector, id));
        validator.enableSession(s);
        // Owner-signed grant for the same session refused too.
        _expectAA23(_enableOp(proxy, ownerPk, s, _transfer(recipient, 1)), WarrantErrors.SessionRevoked.selector);
        vm.assertEq(_status(proxy, s), 2, "still revoked");
    }

    function test_revokeUnpresentedGrant() public {
        WarrantValidator.Session memory s = _session(_transferPolicy(100e18));
        bytes32 id = validator.sessionId(proxy, s);
        vm.prank(proxy);
        validator.revokeSession(id);
        _expectAA23(_enableOp(proxy, ownerPk, s, _transfer(recipient, 1)), WarrantErrors.SessionRevoked.selector);
    }

    function test_revokeAll() public {
        WarrantValidator.Session memory s = _staticSession(proxy, ownerPk, _transferPolicy(100e18));
        WarrantValidator.Session memory pending = _session(_transferPolicy(50e18));
        PackedUserOperation memory grantOp = _enableOp(proxy, ownerPk, pending, _transfer(recipient, 1));
        _ownerExec(proxy, ownerPk, _execSingle(address(validator), 0, abi.encodeCall(WarrantValidator.revokeAll, ())));
        vm.assertEq(validator.epochOf(proxy), 1, "epoch bumped");
        _useRefused(proxy, s, _transfer(recipient, 1), WarrantErrors.SessionNotEnabled.selector);
        // The grant signed at epoch 0 is stale (re-sign the session part: nonce moved on).
        grantOp.nonce = ep.getNonce(proxy, _validatorKey());
        WarrantValidator.Grant memory g = _grant(proxy, pending);
        g.epoch = 0;
        _signEnable(grantOp, g, _ownerGrantSig(proxy, ownerPk, g), sessionPk);
        bytes memory inner = _expectAA23(grantOp, WarrantErrors.GrantEpochStale.selector);
        vm.assertEq(inner, abi.encodeWithSelector(WarrantErrors.GrantEpochStale.selector, 0, 1), "data");
    }

    function test_uninstallReinstallResurrectsNothing() public {
        WarrantValidator.Session memory s = _session(_transferPolicy(100e18));
        s.scope.maxUses = 1;
        _enableStatic(proxy, ownerPk, s);
        _useOk(proxy, s, _transfer(recipient, 1));
        _ownerExec(proxy, ownerPk, abi.encodeCall(IERC7579ModuleConfig.uninstallModule, (1, address(validator), "")));
        _ownerExec(proxy, ownerPk, abi.encodeCall(IERC7579ModuleConfig.installModule, (1, address(validator), "")));
        _useRefused(proxy, s, _transfer(recipient, 1), WarrantErrors.SessionNotEnabled.selector);
        // Re-enabling starts from fresh counters in the new epoch, never the old ones.
        _enableStatic(proxy, ownerPk, s);
        vm.assertEq(_uses(proxy, s), 0, "fresh counters");
        _useOk(proxy, s, _transfer(recipient, 1));
        _useRefused(proxy, s, _transfer(recipient, 1), WarrantErrors.UsesExhausted.selector);
    }

    // ------------------------------------------------------------ grants (REFERENCE §6.2)

    function test_grantForAnotherAccount() public {
        WarrantValidator.Session memory s = _session(_transferPolicy(100e18));
        WarrantValidator.Grant memory g = _grant(eoa, s);
        PackedUserOperation memory op = _op(proxy, _validatorKey(), _transfer(recipient, 1));
        _signEnable(op, g, _ownerGrantSig(eoa, eoaPk, g), sessionPk);
        bytes memory inner = _expectAA23(op, WarrantErrors.GrantAccountMismatch.selector);
        vm.assertEq(inner, abi.encodeWithSelector(WarrantErrors.GrantAccountMismatch.selector, eoa, proxy), "data");
    }

    function test_tamperedScopeRefused() public {
        WarrantValidator.Session memory s = _session(_transferPolicy(1e18));
        WarrantValidator.Grant memory g = _grant(proxy, s);
        bytes memory ownerSig = _ownerGrantSig(proxy, ownerPk, g);
        // A front-runner swaps the policy for a wider one and keeps the owner's signature.
        g.session.scope.calls[0] = _anyPolicy();
        PackedUserOperation memory op = _op(proxy, _validatorKey(), _execSingle(address(0xBAD), 1 ether, ""));
        _signEnable(op, g, ownerSig, sessionPk);
        _expectAA23(op, WarrantErrors.InvalidOwnerSignature.selector);
        // Same with a changed session signer.
        g = _grant(proxy, s);
        g.session.signer = address(0xBAD);
        op = _op(proxy, _validatorKey(), _transfer(recipient, 1));
        _signEnable(op, g, ownerSig, sessionPk);
        _expectAA23(op, WarrantErrors.InvalidOwnerSignature.selector);
    }

    function test_grantSignedByNonOwnerRefused() public {
        WarrantValidator.Session memory s = _session(_transferPolicy(1e18));
        WarrantValidator.Grant memory g = _grant(proxy, s);
        PackedUserOperation memory op = _op(proxy, _validatorKey(), _transfer(recipient, 1));
        _signEnable(op, g, _ownerGrantSig(proxy, sessionPk, g), sessionPk);
        _expectAA23(op, WarrantErrors.InvalidOwnerSignature.selector);
        // A module-prefixed "owner" signature routes to the validator, which never signs.
        _signEnable(op, g, abi.encodePacked(address(validator), _ownerGrantSig(proxy, ownerPk, g)), sessionPk);
        _expectAA23(op, WarrantErrors.InvalidOwnerSignature.selector);
    }

    // ------------------------------------------------------------ signatures (REFERENCE §6.8)

    function test_wrongSessionSignature_AA24() public {
        WarrantValidator.Session memory s = _staticSession(proxy, ownerPk, _transferPolicy(100e18));
        PackedUserOperation memory op = _op(proxy, _validatorKey(), _transfer(recipient, 1));
        _signUse(op, s, ownerPk);
        _expectFailedOp(op, "AA24 signature error");
        // ENABLE with a valid grant but a wrong session signature.
        WarrantValidator.Session memory fresh = _session(_transferPolicy(5e18));
        WarrantValidator.Grant memory g = _grant(proxy, fresh);
        op = _op(proxy, _validatorKey(), _transfer(recipient, 1));
        _signEnable(op, g, _ownerGrantSig(proxy, ownerPk, g), 0xDEAD);
        _expectFailedOp(op, "AA24 signature error");
        vm.assertEq(_status(proxy, fresh), 0, "nothing enabled");
    }

    // ------------------------------------------------------------ gas and paymaster

    function test_requiredPaymaster() public {
        MockPaymaster pm = new MockPaymaster(address(ep));
        pm.deposit{value: 10 ether}();
        WarrantValidator.Session memory s = _session(_transferPolicy(100e18));
        s.scope.paymaster = address(pm);
        _enableStatic(proxy, ownerPk, s);
        bytes memory inner = _useRefused(proxy, s, _transfer(recipient, 1), WarrantErrors.PaymasterRequired.selector);
        vm.assertEq(inner, abi.encodeWithSelector(WarrantErrors.PaymasterRequired.selector, address(pm)), "data");

        PackedUserOperation memory op = _op(proxy, _validatorKey(), _transfer(recipient, 1));
        op.paymasterAndData = abi.encodePacked(address(pm), uint128(100_000), uint128(100_000));
        _signUse(op, s, sessionPk);
        uint256 before = proxy.balance;
        _handle(op);
        vm.assertEq(token.balanceOf(recipient), 1, "sponsored op executed");
        vm.assertEq(proxy.balance, before, "account paid no gas");
    }

    function test_gasLimitCap() public {
        WarrantValidator.Session memory s = _session(_transferPolicy(100e18));
        s.scope.maxGasLimit = 3_000_000; // the default op asks for 2M + 1M + 100k
        _enableStatic(proxy, ownerPk, s);
        bytes memory inner = _useRefused(proxy, s, _transfer(recipient, 1), WarrantErrors.GasLimitExceeded.selector);
        vm.assertEq(
            inner, abi.encodeWithSelector(WarrantErrors.GasLimitExceeded.selector, 3_100_000, 3_000_000), "data"
        );
        PackedUserOperation memory op = _op(proxy, _validatorKey(), _transfer(recipient, 1));
        op.preVerificationGas = 0;
        _signUse(op, s, sessionPk);
        _handle(op);
        vm.assertEq(token.balanceOf(recipient), 1, "within the cap");
    }

    function test_maxFeePerGasCap() public {
        WarrantValidator.Session memory s = _session(_transferPolicy(100e18));
        s.scope.maxFeePerGas = 1 gwei; // the default op offers 2 gwei
        _enableStatic(proxy, ownerPk, s);
        bytes memory inner = _useRefused(proxy, s, _transfer(recipient, 1), WarrantErrors.MaxFeePerGasExceeded.selector);
        vm.assertEq(inner, abi.encodeWithSelector(WarrantErrors.MaxFeePerGasExceeded.selector, 2 gwei, 1 gwei), "data");
    }

    // ------------------------------------------------------------ gas figures (owner vs session ERC-20 transfer)

    function test_gas_ownerVsSessionTransfer() public {
        WarrantValidator.Session memory s = _staticSession(proxy, ownerPk, _transferPolicy(100e18));
        _useOk(proxy, s, _transfer(recipient, 1)); // the validator's nonce key is used once before measuring
        _ownerExec(proxy, ownerPk, _transfer(recipient, 1));
        uint256 owner = _measure(_ownerOp(proxy, ownerPk, _transfer(recipient, 1e18)));
        uint256 session = _measure(_sessionOp(proxy, s, _transfer(recipient, 1e18)));
        _log("proxy owner ERC-20 transfer, handleOps tx gas", owner);
        _log("proxy session ERC-20 transfer, handleOps tx gas", session);
        _log("proxy session overhead", session - owner);
        vm.assertGt(session, owner, "session costs more");
        // Goal: at most 10,000 over the owner (docs/gas.md); the bound leaves room for unrelated compiler changes.
        vm.assertLt(session - owner, 12_000, "proxy session overhead bounded");

        WarrantValidator.Session memory s7702 = _staticSession(eoa, eoaPk, _transferPolicy(100e18));
        _useOk(eoa, s7702, _transfer(recipient, 1));
        _ownerExec(eoa, eoaPk, _transfer(recipient, 1));
        owner = _measure(_ownerOp(eoa, eoaPk, _transfer(recipient, 1e18)));
        session = _measure(_sessionOp(eoa, s7702, _transfer(recipient, 1e18)));
        _log("7702 owner ERC-20 transfer, handleOps tx gas", owner);
        _log("7702 session ERC-20 transfer, handleOps tx gas", session);
        _log("7702 session overhead", session - owner);
        vm.assertGt(session, owner, "session costs more");
        vm.assertLt(session - owner, 12_000, "7702 session overhead bounded");
    }
}
