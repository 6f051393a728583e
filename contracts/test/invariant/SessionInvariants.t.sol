// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC7579ModuleConfig} from "@openzeppelin/contracts/interfaces/draft-IERC7579.sol";
import {WarrantFixture} from "../utils/WarrantFixture.sol";
import {WarrantValidator} from "../../src/WarrantValidator.sol";
import {Recorder, RecordingToken} from "../mocks/Recorder.sol";
import {SessionHandler} from "./SessionHandler.sol";

/**
 * @dev Invariants over random sequences of session operations sent through the real EntryPoint (forge invariant
 * testing; the only fuzzed contract is {SessionHandler}). What the account really did is read from the chain: the
 * {Recorder}'s log of received calls, token balances and allowances, native balances, the EntryPoint nonce of the
 * validator's key (one step per validated operation) and the module configuration.
 *
 * Depth 64 rather than the default 32: a run must get far enough to exhaust the caps, cross the expiry and revoke.
 */
/// forge-config: default.invariant.depth = 64
contract SessionInvariantsTest is WarrantFixture {
    struct FuzzSelector {
        address addr;
        bytes4[] selectors;
    }

    SessionHandler internal handler;
    address internal account;
    uint256 internal accountPk;
    Recorder internal recorder;
    Recorder internal forbidden;
    RecordingToken internal rtoken; // the token the sessions may transfer
    uint48 internal constant T0 = 1_000_000;

    function setUp() public override {
        super.setUp();
        (account, accountPk) = _account();
        vm.warp(T0);
        recorder = new Recorder();
        forbidden = new Recorder();
        rtoken = new RecordingToken();
        rtoken.mint(account, 1000e18);
        token = rtoken; // the fixture's policy builders (_transferPolicy) name `token`
        handler = new SessionHandler(ep, validator, rtoken, recorder, forbidden, account, accountPk, T0);
        _enableStatic(account, accountPk, handler.sessionActive());
        _enableStatic(account, accountPk, handler.sessionRevoked());
        _enableStatic(account, accountPk, handler.sessionExpired());
        _enableStatic(account, accountPk, handler.sessionFuture());
        bytes32 revokedId = validator.sessionId(account, handler.sessionRevoked());
        _ownerExec(
            account,
            accountPk,
            _execSingle(address(validator), 0, abi.encodeCall(WarrantValidator.revokeSession, (revokedId)))
        );
    }

    /// @dev The account under test: the proxy here, the EIP-7702 account in {SessionInvariants7702Test}.
    function _account() internal view virtual returns (address, uint256) {
        return (proxy, ownerPk);
    }

    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    function targetSelectors() public view returns (FuzzSelector[] memory selectors) {
        bytes4[] memory s = new bytes4[](5);
        s[0] = SessionHandler.single.selector;
        s[1] = SessionHandler.batch.selector;
        s[2] = SessionHandler.raw.selector;
        s[3] = SessionHandler.enable.selector;
        s[4] = SessionHandler.revoke.selector;
        selectors = new FuzzSelector[](1);
        selectors[0] = FuzzSelector(address(handler), s);
    }

    /// @dev Every call the recorder received came from the account, through `pay`, inside every condition and cap.
    function invariant_everyExecutedCallIsInScope() public view {
        vm.assertEq(forbidden.count(), 0, "a contract outside the scope was called");
        uint256 n = recorder.count();
        for (uint256 i = 0; i < n; ++i) {
            Recorder.Entry memory e = recorder.entry(i);
            vm.assertEq(e.sender, account, "caller");
            vm.assertTrue(e.known, "selector outside the scope (fallback, receive or poke)");
            vm.assertEq(e.who, handler.friend(), "argument 0 (EQ)");
            vm.assertTrue(e.amount <= handler.PAY_MAX_AMOUNT(), "argument 1 (LTE)");
            vm.assertTrue(e.memoLength <= handler.PAY_MAX_MEMO(), "argument 2 (LENGTH_LTE)");
            vm.assertTrue(e.value <= handler.PAY_MAX_VALUE(), "per-call value cap");
            vm.assertTrue(e.timestamp > T0 - 1 && e.timestamp <= T0 + handler.LIFETIME(), "inside the window");
        }
    }

    /// @dev Tokens only ever moved to the allowed recipient, within the per-transfer cap; no allowance was given.
    function invariant_tokensOnlyAsScoped() public view {
        address attacker = handler.attacker();
        vm.assertEq(token.balanceOf(attacker), 0, "attacker token balance");
        vm.assertEq(token.allowance(account, attacker), 0, "attacker allowance");
        vm.assertEq(
            token.balanceOf(account) + token.balanceOf(recipient), handler.initialTokenTotal(), "tokens moved elsewhere"
        );
        vm.assertTrue(rtoken.largestTransfer() <= handler.TRANSFER_MAX(), "per-transfer cap");
    }

    /// @dev Native value: nothing to the attacker or unscoped contracts, and never more than the sessions debited.
    function invariant_valueCaps() public view {
        vm.assertEq(handler.attacker().balance, 0, "attacker native balance");
        vm.assertEq(address(forbidden).balance, 0, "unscoped contract balance");
        (,, uint128 spentA) = handler.state(handler.sessionActive());
        (,, uint128 spentG) = handler.state(handler.sessionGranted());
        vm.assertTrue(spentA <= handler.ACTIVE_MAX_VALUE(), "active session value cap");
        vm.assertTrue(spentG <= handler.GRANTED_MAX_VALUE(), "granted session value cap");
        vm.assertTrue(
            address(recorder).balance <= handler.retiredSpent() + spentA + spentG, "value received above value debited"
        );
    }

    /// @dev Every validated operation is one debited use of an allowed session, and no session exceeds its uses.
    function invariant_usageCaps() public view {
        (, uint32 usesA,) = handler.state(handler.sessionActive());
        (, uint32 usesG,) = handler.state(handler.sessionGranted());
        vm.assertTrue(usesA <= handler.ACTIVE_MAX_USES(), "active session uses");
        vm.assertTrue(usesG <= handler.GRANTED_MAX_USES(), "granted session uses");
        vm.assertEq(handler.seq(), handler.retiredUses() + usesA + usesG, "validated ops == debited uses");
    }

    /// @dev Revoked, expired, not-yet-valid, never-enabled and tampered sessions never validated.
    function invariant_revokedOrExpiredNeverValidates() public view {
        vm.assertEq(handler.acceptedBy(2), 0, "revoked session validated");
        vm.assertEq(handler.acceptedBy(3), 0, "expired session validated");
        vm.assertEq(handler.acceptedBy(4), 0, "not-yet-valid session validated");
        vm.assertEq(handler.acceptedBy(5), 0, "never-enabled session validated");
        vm.assertEq(handler.acceptedTampered(), 0, "tampered grant validated");
        vm.assertEq(handler.acceptedWrongKey(), 0, "wrong session key validated");
        vm.assertEq(handler.acceptedOutsideWindow(), 0, "validated outside the window");
        vm.assertEq(handler.acceptedAfterRevocation(), 0, "validated after revocation");
        if (handler.revokedAll()) vm.assertEq(handler.seq(), handler.seqAtRevokeAll(), "ops after revokeAll");
        if (handler.revokedActive() && !handler.revokedAll()) {
            (uint8 status, uint32 uses,) = handler.state(handler.sessionActive());
            vm.assertEq(status, 2, "still revoked");
            vm.assertEq(uses, handler.usesAtRevokeActive(), "uses after revocation");
        }
        (uint8 revokedStatus, uint32 revokedUses,) = handler.state(handler.sessionRevoked());
        if (!handler.revokedAll()) vm.assertEq(revokedStatus, 2, "revoked status");
        vm.assertEq(revokedUses, 0, "revoked session uses");
    }

    /// @dev No session changed the account's modules or the validator's epoch.
    function invariant_configurationUntouched() public view {
        vm.assertTrue(
            IERC7579ModuleConfig(account).isModuleInstalled(1, address(validator), ""), "validator still installed"
        );
        vm.assertEq(validator.epochOf(account), handler.revokedAll() ? 1 : 0, "epoch moved only by the owner");
        (uint8 neverStatus,,) = handler.state(handler.sessionNever());
        vm.assertEq(neverStatus, 0, "a session enabled itself a wider session");
    }

    /// @dev The handler's allowed paths do validate, so the invariants above are not vacuous.
    function test_handlerAllowedPathsValidate() public {
        // tgt 1: in-scope shape; sel 0: pay; amount 8 * 10 + 1: to the friend, 10 units; memo of 3 bytes; value 0.
        handler.singleWith(0, 1, 0, 81, 3, 0, false);
        vm.assertEq(handler.acceptedBy(0), 1, "active session op accepted");
        vm.assertEq(recorder.count(), 1, "pay recorded");
        handler.enableWith(0, 1, 1, 9, 0, 0);
        vm.assertEq(handler.acceptedBy(1), 1, "granted session enabled and used");
        vm.assertEq(token.balanceOf(recipient), 1e18, "transfer executed");
        // The same calls through the other sessions or with a tampered grant are all refused.
        uint8[4] memory others = [2, 3, 4, 5]; // revoked, expired, not yet valid, never enabled
        for (uint256 i = 0; i < others.length; ++i) {
            handler.singleWith(others[i], 1, 0, 81, 3, 0, false);
        }
        handler.singleWith(0, 1, 0, 81, 3, 0, true);
        handler.enableWith(3, 1, 1, 9, 0, 0);
        vm.assertEq(handler.attempts(), 8, "attempts");
        vm.assertEq(handler.acceptedBy(0) + handler.acceptedBy(1), 2, "nothing else accepted");
        vm.assertEq(handler.seq(), 2, "two validated ops");
    }
}

/// @dev The same invariants on the EIP-7702 account (the EOA's own key is the owner).
/// forge-config: default.invariant.depth = 64
contract SessionInvariants7702Test is SessionInvariantsTest {
    function _account() internal view override returns (address, uint256) {
        return (eoa, eoaPk);
    }
}
