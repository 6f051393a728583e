// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {PackedUserOperation} from "@openzeppelin/contracts/interfaces/IERC4337.sol";
import {IERC7579Execution, IERC7579ModuleConfig} from "@openzeppelin/contracts/interfaces/draft-IERC7579.sol";
import {ERC4337Utils} from "@openzeppelin/contracts/account/utils/ERC4337Utils.sol";
import {Execution} from "@openzeppelin/contracts/account/utils/draft-ERC7579Utils.sol";
import {WarrantFixture} from "./utils/WarrantFixture.sol";
import {WarrantValidator} from "../src/WarrantValidator.sol";
import {WarrantErrors} from "../src/WarrantErrors.sol";
import {ReentrantAccount, SideEffectFactory} from "./mocks/Mocks.sol";
import {Recorder} from "./mocks/Recorder.sol";

/// @dev Exposes the validation-data intersection for direct testing.
contract IntersectHarness is WarrantValidator {
    function intersect(uint256 a, uint256 b) external pure returns (uint256) {
        return _intersectValidationData(a, b);
    }
}

/**
 * @dev The REFERENCE §6 attack classes not covered by WarrantValidator.t.sol, ArgConditions.t.sol and
 * WarrantAccount.t.sol (see docs/threat-model.md for the full map).
 */
contract AttackClassesTest is WarrantFixture {
    bytes4 internal constant TRANSFER = bytes4(keccak256("transfer(address,uint256)"));

    function _anyPolicy() internal pure returns (WarrantValidator.CallPolicy memory p) {
        p.flags = 3;
        p.maxValue = type(uint256).max;
    }

    function _static(address account, uint256 pk, WarrantValidator.CallPolicy memory p)
        internal
        returns (WarrantValidator.Session memory s)
    {
        s = _session(p);
        s.scope.maxValueTotal = type(uint128).max;
        _enableStatic(account, pk, s);
    }

    function _refused(address account, WarrantValidator.Session memory s, bytes memory callData, bytes4 selector)
        internal
        returns (bytes memory)
    {
        return _expectAA23(_sessionOp(account, s, callData), selector);
    }

    function _enableOp(address account, uint256 pk, WarrantValidator.Grant memory g, bytes memory callData)
        internal
        view
        returns (PackedUserOperation memory op)
    {
        op = _op(account, _validatorKey(), callData);
        _signEnable(op, g, _ownerGrantSig(account, pk, g), sessionPk);
    }

    function _status(address account, WarrantValidator.Session memory s) internal view returns (uint8 status) {
        (status,,) = validator.sessionState(account, validator.sessionId(account, s));
    }

    function _uses(address account, WarrantValidator.Session memory s) internal view returns (uint32 uses) {
        (, uses,) = validator.sessionState(account, validator.sessionId(account, s));
    }

    // ------------------------------------------------------------ §6.1 privilege escalation

    /// @dev OpenZeppelin's execution turns target 0 into the account itself: a self-call in disguise.
    function test_zeroTargetIsASelfCall() public {
        WarrantValidator.Session memory s = _static(proxy, ownerPk, _anyPolicy());
        bytes memory uninstall = abi.encodeCall(IERC7579ModuleConfig.uninstallModule, (1, address(validator), ""));
        bytes memory inner =
            _refused(proxy, s, _execSingle(address(0), 0, uninstall), WarrantErrors.ForbiddenTarget.selector);
        vm.assertEq(inner, abi.encodeWithSelector(WarrantErrors.ForbiddenTarget.selector, 0, address(0)), "data");
        Execution[] memory calls = new Execution[](2);
        calls[0] = Execution(recipient, 0, "");
        calls[1] = Execution(address(0), 0, uninstall);
        inner = _refused(proxy, s, _execBatch(calls), WarrantErrors.ForbiddenTarget.selector);
        vm.assertEq(inner, abi.encodeWithSelector(WarrantErrors.ForbiddenTarget.selector, 1, address(0)), "batch index");
    }

    /// @dev Every account entry other than execute: executor entry, module config, fallback-routed selectors.
    function test_otherAccountEntriesRefused() public {
        WarrantValidator.Session memory s = _static(proxy, ownerPk, _anyPolicy());
        bytes memory single = abi.encodePacked(recipient, uint256(1 ether));
        bytes[5] memory entries = [
            abi.encodeCall(IERC7579Execution.executeFromExecutor, (MODE_SINGLE, single)),
            abi.encodeCall(IERC7579ModuleConfig.uninstallModule, (1, address(validator), "")),
            abi.encodeWithSignature("upgradeToAndCall(address,bytes)", address(0xBAD), ""),
            abi.encodeWithSignature("initialize(address)", address(0xBAD)),
            abi.encodePacked(bytes4(0xdeadbeef), single) // routed to a fallback handler, if any
        ];
        for (uint256 i = 0; i < entries.length; ++i) {
            bytes memory inner = _refused(proxy, s, entries[i], WarrantErrors.UnsupportedAccountCall.selector);
            vm.assertEq(
                inner,
                abi.encodeWithSelector(WarrantErrors.UnsupportedAccountCall.selector, bytes4(entries[i])),
                "entry"
            );
        }
        // A selector alone, without the 3 bytes that make it whole, is no account call at all.
        _refused(proxy, s, hex"e9ae5c", WarrantErrors.UnsupportedAccountCall.selector);
    }

    /**
     * @dev The EIP-7702 initCode of a session op (marker `0x7702` then an init call the EntryPoint makes through its
     * SenderCreator) is not parsed by the validator, so it must not reach anything: every state-changing entry of the
     * account refuses the SenderCreator as caller (AA13), and a bare marker only binds the delegate into the hash.
     */
    function test_7702InitCodeCannotSmuggleAnAccountCall() public {
        WarrantValidator.Session memory s = _static(eoa, eoaPk, _transferPolicy(100e18));
        bytes[3] memory initCalls = [
            _execSingle(address(0xBAD), 1 ether, ""),
            abi.encodeCall(IERC7579ModuleConfig.uninstallModule, (1, address(validator), "")),
            abi.encodeWithSignature("initialize(address)", address(0xBAD))
        ];
        for (uint256 i = 0; i < initCalls.length; ++i) {
            PackedUserOperation memory op = _op(eoa, _validatorKey(), _transfer(recipient, 1));
            op.initCode = abi.encodePacked(bytes20(bytes2(0x7702)), initCalls[i]);
            _signUse(op, s, sessionPk);
            PackedUserOperation[] memory ops = new PackedUserOperation[](1);
            ops[0] = op;
            try ep.handleOps(ops, beneficiary) {
                vm.assertTrue(false, "an init call through the SenderCreator was accepted");
            } catch (bytes memory err) {
                vm.assertEq(bytes4(err), bytes4(keccak256("FailedOpWithRevert(uint256,string,bytes)")), "refused");
                (, string memory reason,) = abi.decode(_slice(err, 4), (uint256, string, bytes));
                vm.assertEq(reason, "AA13 EIP7702 sender init failed", "the init call reverted");
            }
        }
        vm.assertEq(address(0xBAD).balance, 0, "nothing sent");
        vm.assertTrue(IERC7579ModuleConfig(eoa).isModuleInstalled(1, address(validator), ""), "still installed");
        // The bare marker is allowed: it only binds the delegate into the userOpHash.
        PackedUserOperation memory bare = _op(eoa, _validatorKey(), _transfer(recipient, 1));
        bare.initCode = abi.encodePacked(bytes20(bytes2(0x7702)));
        _signUse(bare, s, sessionPk);
        _handle(bare);
        vm.assertEq(token.balanceOf(recipient), 1, "the session op itself ran");
    }

    /// @dev Calling `validateUserOp` directly only ever touches the caller's own state, never the account's.
    function test_directValidateUserOpTouchesOnlyCallerState() public {
        WarrantValidator.Session memory s = _static(proxy, ownerPk, _transferPolicy(100e18));
        PackedUserOperation memory op = _sessionOp(proxy, s, _transfer(recipient, 1));
        // Pretending to be the account from outside: the state read is that of the caller (never enabled).
        bytes32 callerId = validator.sessionId(address(this), s);
        bytes32 hash = ep.getUserOpHash(op);
        vm.expectRevert(abi.encodeWithSelector(WarrantErrors.SessionNotEnabled.selector, callerId));
        validator.validateUserOp(op, hash);
        vm.assertEq(_uses(proxy, s), 0, "the account's counters untouched");
    }

    // ------------------------------------------------------------ §6.2 enable data bound to the owner signature

    /// @dev A front-runner changing any single field of a signed grant gets it refused; nothing gets enabled.
    /// @dev A fresh session in memory each call (memory structs alias: a mutation must not reach the original).
    function _boundSession() internal view returns (WarrantValidator.Session memory s) {
        s = _session(_transferPolicy(100e18));
        s.scope.validUntil = uint48(block.timestamp + 1 days);
        s.scope.maxUses = 3;
    }

    function test_everyGrantFieldIsBound() public {
        WarrantValidator.Session memory s = _boundSession();
        WarrantValidator.Grant memory signed = _grant(proxy, _boundSession());
        bytes memory ownerSig = _ownerGrantSig(proxy, ownerPk, signed);
        for (uint256 field = 0; field < 17; ++field) {
            WarrantValidator.Grant memory g = _grant(proxy, _boundSession());
            WarrantValidator.Scope memory sc = g.session.scope;
            WarrantValidator.CallPolicy memory p = sc.calls[0];
            if (field == 0) g.session.salt = bytes32(uint256(1));
            else if (field == 1) g.session.signer = address(0xBAD);
            else if (field == 2) sc.validAfter = 1;
            else if (field == 3) sc.validUntil = 0;
            else if (field == 4) sc.maxUses = 0;
            else if (field == 5) sc.maxValueTotal = 1 ether;
            else if (field == 6) sc.paymaster = address(0xBAD);
            else if (field == 7) sc.maxGasLimit = 1;
            else if (field == 8) sc.maxFeePerGas = 1;
            else if (field == 9) p.target = address(0xBAD);
            else if (field == 10) p.selector = bytes4(0xdeadbeef);
            else if (field == 11) p.flags = 1;
            else if (field == 12) p.maxValue = 1;
            else if (field == 13) p.conditions[1].condition = 4; // LTE -> GT
            else if (field == 14) p.conditions[1].argIndex = 2;
            else if (field == 15) p.conditions[1].values[0] = bytes32(type(uint256).max);
            else p.conditions = new WarrantValidator.ArgCondition[](0); // drop every condition
            PackedUserOperation memory op = _op(proxy, _validatorKey(), _transfer(recipient, 1));
            _signEnable(op, g, ownerSig, sessionPk);
            _expectAA23(op, WarrantErrors.InvalidOwnerSignature.selector);
            vm.assertEq(_status(proxy, g.session), 0, "tampered session not enabled");
        }
        vm.assertEq(_status(proxy, s), 0, "the signed session not enabled either");
        // The grant as signed works.
        PackedUserOperation memory ok = _op(proxy, _validatorKey(), _transfer(recipient, 1));
        _signEnable(ok, signed, ownerSig, sessionPk);
        _handle(ok);
        vm.assertEq(_status(proxy, s), 1, "enabled as signed");
    }

    /// @dev The same owner behind two accounts: a grant for one can't enable anything on the other (§6.8 replay).
    function test_grantReplayAcrossAccountsOfOneOwner() public {
        address proxy2 = factory.createAccount(proxyOwner, bytes32(uint256(1)));
        vm.deal(proxy2, 10 ether);
        token.mint(proxy2, 10e18);
        _ownerExec(proxy2, ownerPk, abi.encodeCall(IERC7579ModuleConfig.installModule, (1, address(validator), "")));

        WarrantValidator.Session memory s = _session(_transferPolicy(100e18));
        WarrantValidator.Grant memory g = _grant(proxy, s);
        bytes memory ownerSig = _ownerGrantSig(proxy, ownerPk, g);
        // As signed (names proxy): refused on proxy2 by the account binding.
        PackedUserOperation memory op = _op(proxy2, _validatorKey(), _transfer(recipient, 1));
        _signEnable(op, g, ownerSig, sessionPk);
        _expectAA23(op, WarrantErrors.GrantAccountMismatch.selector);
        // Renamed to proxy2 with the same owner signature: ERC-7739 binds the signature to proxy.
        g.account = proxy2;
        _signEnable(op, g, ownerSig, sessionPk);
        _expectAA23(op, WarrantErrors.InvalidOwnerSignature.selector);
        vm.assertEq(_status(proxy2, s), 0, "nothing enabled on proxy2");
    }

    // ------------------------------------------------------------ §6.3 / §6.5 batches and offsets

    /// @dev A zero-length batch followed by element pointers and an element: still empty, still refused.
    function test_zeroLengthBatchWithPointers() public {
        WarrantValidator.Session memory s = _static(proxy, ownerPk, _anyPolicy());
        Execution[] memory one = new Execution[](1);
        one[0] = Execution(recipient, 1 ether, "");
        bytes memory encoded = abi.encode(one);
        // Set the array length word (at 0x20) to zero; the pointer and element stay behind it.
        assembly ("memory-safe") {
            mstore(add(encoded, 0x40), 0)
        }
        bytes memory inner = _refused(
            proxy,
            s,
            abi.encodeCall(IERC7579Execution.execute, (MODE_BATCH, encoded)),
            WarrantErrors.EmptyBatch.selector
        );
        vm.assertEq(inner, abi.encodeWithSelector(WarrantErrors.EmptyBatch.selector), "data");
    }

    // ------------------------------------------------------------ §6.6 dynamic arguments

    /// @dev The memo's offset skips a decoy: the rule reads where the callee's decoder reads, not the next bytes.
    function test_dynamicArgumentFollowsItsOffset() public {
        Recorder rec = new Recorder();
        address friend = address(0xF12E7D);
        WarrantValidator.CallPolicy memory p = _policy(address(rec), Recorder.pay.selector, 0);
        p.conditions = new WarrantValidator.ArgCondition[](1);
        p.conditions[0] = _cond(9, 2, keccak256("ok")); // BYTES_HASH_EQ on the memo
        WarrantValidator.Session memory s = _session(p);
        _enableStatic(proxy, ownerPk, s);

        // Head: who, amount, memo offset 0xa0. At 0x60, where a canonical memo would sit, a decoy.
        bytes memory skipDecoy = abi.encodePacked(
            Recorder.pay.selector,
            abi.encode(friend, uint256(1), uint256(0xa0)),
            abi.encode(uint256(4), bytes32("evil")), // 0x60: decoy
            abi.encode(uint256(2), bytes32("ok")) // 0xa0: the memo
        );
        _handle(_sessionOp(proxy, s, _execSingle(address(rec), 0, skipDecoy)));
        vm.assertEq(rec.count(), 1, "executed");
        vm.assertEq(rec.entry(0).memoHash, keccak256("ok"), "the callee read the checked memo");

        // The decoy in the canonical place passes no rule when the offset points elsewhere.
        bytes memory decoyFirst = abi.encodePacked(
            Recorder.pay.selector,
            abi.encode(friend, uint256(1), uint256(0xa0)),
            abi.encode(uint256(2), bytes32("ok")),
            abi.encode(uint256(4), bytes32("evil"))
        );
        _refused(proxy, s, _execSingle(address(rec), 0, decoyFirst), WarrantErrors.ArgumentConditionFailed.selector);
        vm.assertEq(rec.count(), 1, "nothing else executed");
    }

    // ------------------------------------------------------------ §6.7 spend limits through other selectors

    /// @dev A transfer-only scope refuses every other way to move the same tokens, and value on a transfer.
    function test_spendLimitCannotBeBypassedBySiblingSelectors() public {
        WarrantValidator.Session memory s = _static(proxy, ownerPk, _transferPolicy(1e18));
        address bad = address(0xBAD);
        bytes[7] memory siblings = [
            abi.encodeWithSignature("approve(address,uint256)", bad, type(uint256).max),
            abi.encodeWithSignature("increaseAllowance(address,uint256)", bad, type(uint256).max),
            abi.encodeWithSignature("transferFrom(address,address,uint256)", proxy, bad, 1000e18),
            abi.encodeWithSignature(
                "approve(address,address,uint160,uint48)", address(token), bad, type(uint160).max, 0
            ),
            abi.encodeWithSignature("push(address,uint256)", bad, 1000e18),
            abi.encodeWithSignature("pull(address,uint256)", proxy, 1000e18),
            abi.encodeWithSignature("move(address,address,uint256)", proxy, bad, 1000e18)
        ];
        for (uint256 i = 0; i < siblings.length; ++i) {
            bytes memory inner = _refused(
                proxy, s, _execSingle(address(token), 0, siblings[i]), WarrantErrors.CallNotPermitted.selector
            );
            vm.assertEq(
                inner,
                abi.encodeWithSelector(WarrantErrors.CallNotPermitted.selector, 0, address(token), bytes4(siblings[i])),
                "sibling selector"
            );
        }
        // Native value riding on the allowed transfer counts against the policy's value cap (zero here).
        bytes memory inner = _refused(
            proxy,
            s,
            _execSingle(address(token), 1, abi.encodeWithSelector(TRANSFER, recipient, 1)),
            WarrantErrors.CallValueExceeded.selector
        );
        vm.assertEq(inner, abi.encodeWithSelector(WarrantErrors.CallValueExceeded.selector, 0, 1, 0), "value");
    }

    // ------------------------------------------------------------ §6.9 stale state and id binding

    /// @dev A session id is bound to the account: enabled on one account, nothing on another with the same owner key.
    function test_sessionIdBoundToAccount() public {
        WarrantValidator.Session memory s = _static(proxy, ownerPk, _transferPolicy(100e18));
        bytes32 idProxy = validator.sessionId(proxy, s);
        bytes32 idEoa = validator.sessionId(eoa, s);
        vm.assertTrue(idProxy != idEoa, "ids differ per account");
        bytes memory inner = _refused(eoa, s, _transfer(recipient, 1), WarrantErrors.SessionNotEnabled.selector);
        vm.assertEq(inner, abi.encodeWithSelector(WarrantErrors.SessionNotEnabled.selector, idEoa), "data");
    }

    /// @dev Once the module is uninstalled, a session operation falls to the owner check and fails there (AA24).
    function test_uninstalledValidatorSessionOpFailsOwnerCheck() public {
        WarrantValidator.Session memory s = _static(proxy, ownerPk, _transferPolicy(100e18));
        _ownerExec(proxy, ownerPk, abi.encodeCall(IERC7579ModuleConfig.uninstallModule, (1, address(validator), "")));
        _expectFailedOp(_sessionOp(proxy, s, _transfer(recipient, 1)), "AA24 signature error");
        vm.assertEq(token.balanceOf(recipient), 0, "nothing moved");
    }

    /// @dev A grant signed before an uninstall can't be presented after the reinstall.
    function test_grantSignedBeforeUninstallIsStale() public {
        WarrantValidator.Session memory s = _session(_transferPolicy(100e18));
        WarrantValidator.Grant memory g = _grant(proxy, s);
        bytes memory ownerSig = _ownerGrantSig(proxy, ownerPk, g);
        _ownerExec(proxy, ownerPk, abi.encodeCall(IERC7579ModuleConfig.uninstallModule, (1, address(validator), "")));
        _ownerExec(proxy, ownerPk, abi.encodeCall(IERC7579ModuleConfig.installModule, (1, address(validator), "")));
        PackedUserOperation memory op = _op(proxy, _validatorKey(), _transfer(recipient, 1));
        _signEnable(op, g, ownerSig, sessionPk);
        bytes memory inner = _expectAA23(op, WarrantErrors.GrantEpochStale.selector);
        vm.assertEq(inner, abi.encodeWithSelector(WarrantErrors.GrantEpochStale.selector, 0, 1), "data");
        vm.assertEq(_status(proxy, s), 0, "not enabled");
    }

    // ------------------------------------------------------------ §6.10 validation data intersected

    /// @dev Model: failure if either failed; the later validAfter; the earlier validUntil, 0 meaning forever.
    function testFuzz_validityWindowsIntersect(uint256 a, uint256 b) public {
        IntersectHarness h = new IntersectHarness();
        uint48 untilA = uint48(a >> 160);
        uint48 untilB = uint48(b >> 160);
        uint48 expUntil = untilA == 0 ? untilB : untilB == 0 ? untilA : (untilA < untilB ? untilA : untilB);
        uint48 afterA = uint48(a >> 208);
        uint48 afterB = uint48(b >> 208);
        uint48 expAfter = afterA > afterB ? afterA : afterB;
        bool failed = uint160(a) != 0 || uint160(b) != 0;
        // Packed by hand: OpenZeppelin's packValidationData clears bit 47 of each bound (a block-number flag that
        // EntryPoint v0.8 does not have), which would change a window the validator must pass on intact.
        uint256 expected = (failed ? 1 : 0) | (uint256(expUntil) << 160) | (uint256(expAfter) << 208);
        vm.assertEq(h.intersect(a, b), expected, "intersection");
        vm.assertEq(h.intersect(b, a), expected, "symmetric");
    }

    /// @dev The session window is returned (never read from the block), with a failed signature too.
    function test_validationDataCarriesTheWindow() public {
        WarrantValidator.Session memory s = _session(_transferPolicy(100e18));
        s.scope.validAfter = 100;
        s.scope.validUntil = 200;
        _enableStatic(proxy, ownerPk, s);
        PackedUserOperation memory op = _sessionOp(proxy, s, _transfer(recipient, 1));
        bytes32 hash = ep.getUserOpHash(op);
        vm.prank(proxy);
        vm.assertEq(validator.validateUserOp(op, hash), ERC4337Utils.packValidationData(true, 100, 200), "ok + window");
        vm.prank(proxy);
        vm.assertEq(
            validator.validateUserOp(op, keccak256("other")),
            ERC4337Utils.packValidationData(false, 100, 200),
            "failure keeps the window"
        );
    }

    // ------------------------------------------------------------ §6.12 reentrancy and side effects during enable

    function _reentrantGrantOp(ReentrantAccount acct, WarrantValidator.Session memory s)
        internal
        view
        returns (PackedUserOperation memory op, bytes32 hash)
    {
        WarrantValidator.Grant memory g;
        g.account = address(acct);
        g.session = s;
        op.sender = address(acct);
        op.callData = _transfer(recipient, 1);
        hash = keccak256(abi.encode("op", s.salt));
        (uint8 v, bytes32 r, bytes32 sg) = vm.sign(sessionPk, hash);
        op.signature = abi.encodePacked(uint8(1), abi.encode(g, bytes("owner"), abi.encodePacked(r, sg, v)));
    }

    /// @dev The account's ERC-1271 check runs under STATICCALL: it can't enable, revoke or validate anything.
    function test_reentrancyDuringEnableIsImpossible() public {
        ReentrantAccount acct = new ReentrantAccount(address(validator));
        WarrantValidator.Session memory s = _session(_transferPolicy(100e18));
        WarrantValidator.Session memory wider = _session(_anyPolicy());
        wider.salt = bytes32(uint256(7));

        // A lenient account (returns the magic value whatever happens): the re-entry silently fails.
        acct.setReentry(abi.encodeCall(WarrantValidator.enableSession, (wider)), false);
        (PackedUserOperation memory op, bytes32 hash) = _reentrantGrantOp(acct, s);
        vm.assertEq(acct.validate(op, hash), 0, "grant accepted");
        vm.assertEq(_status(address(acct), s), 1, "granted session enabled");
        vm.assertEq(_status(address(acct), wider), 0, "re-entrant enable had no effect");

        acct.setReentry(abi.encodeCall(WarrantValidator.revokeAll, ()), false);
        s.salt = bytes32(uint256(8));
        (op, hash) = _reentrantGrantOp(acct, s);
        acct.validate(op, hash);
        vm.assertEq(validator.epochOf(address(acct)), 0, "re-entrant revokeAll had no effect");

        // An account that needs the re-entry to succeed: the grant check fails instead.
        acct.setReentry(abi.encodeCall(WarrantValidator.enableSession, (wider)), true);
        s.salt = bytes32(uint256(9));
        (op, hash) = _reentrantGrantOp(acct, s);
        vm.expectRevert(WarrantErrors.InvalidOwnerSignature.selector);
        acct.validate(op, hash);
    }

    /// @dev An ERC-6492-wrapped owner signature is not unwrapped: no factory call, no enable.
    function test_erc6492WrappedOwnerSignatureRefused() public {
        SideEffectFactory f = new SideEffectFactory();
        WarrantValidator.Session memory s = _session(_transferPolicy(100e18));
        WarrantValidator.Grant memory g = _grant(proxy, s);
        bytes memory wrapped = abi.encodePacked(
            abi.encode(address(f), abi.encodeWithSignature("deploy()"), _ownerGrantSig(proxy, ownerPk, g)),
            bytes32(0x6492649264926492649264926492649264926492649264926492649264926492)
        );
        PackedUserOperation memory op = _op(proxy, _validatorKey(), _transfer(recipient, 1));
        _signEnable(op, g, wrapped, sessionPk);
        _expectAA23(op, WarrantErrors.InvalidOwnerSignature.selector);
        vm.assertEq(f.calls(), 0, "no side effect");
        vm.assertEq(_status(proxy, s), 0, "not enabled");
    }

    /// @dev No session op can be an account-creation op (ERC-7562 would need a staked factory): the factory installs
    /// no module, so a creation op naming the validator falls to the owner check and fails (AA24).
    function test_sessionOpCannotBeTheCreationOp() public {
        address owner = vm.addr(0xC0FFEE);
        address account = factory.getAddress(owner, bytes32(uint256(5)));
        vm.deal(account, 1 ether);
        WarrantValidator.Session memory s = _session(_anyPolicy());
        WarrantValidator.Grant memory g;
        g.account = account;
        g.session = s;
        PackedUserOperation memory op;
        op.sender = account;
        op.nonce = ep.getNonce(account, _validatorKey());
        op.initCode =
            abi.encodePacked(address(factory), abi.encodeCall(factory.createAccount, (owner, bytes32(uint256(5)))));
        op.callData = _execSingle(recipient, 0.1 ether, "");
        op.accountGasLimits = bytes32(uint256(2_000_000) << 128 | uint256(1_000_000));
        op.preVerificationGas = 100_000;
        op.gasFees = bytes32(uint256(1 gwei) << 128 | uint256(2 gwei));
        _signEnable(op, g, _ownerGrantSig(account, 0xC0FFEE, g), sessionPk);
        _expectFailedOp(op, "AA24 signature error");
        vm.assertEq(recipient.balance, 0, "nothing sent");
    }

    // ------------------------------------------------------------ §6.11 ERC-7562 storage association

    // Slots 0 and 1 hold EIP712's name and version fallbacks (unused: both are short strings).
    function _epochSlot(address account) internal pure returns (bytes32) {
        return keccak256(abi.encode(account, uint256(2)));
    }

    /// @dev `keccak256(account ‖ keccak256(id ‖ epoch))`, the layout {WarrantValidator-_stateSlot} documents.
    function _stateSlot(address account, bytes32 id, uint256 epoch) internal pure returns (bytes32) {
        return keccak256(abi.encode(account, keccak256(abi.encode(id, epoch))));
    }

    /// @dev Every validator slot a session op reads or writes is keccak256(account ‖ x): associated with the sender.
    function _assertOnlyAssociatedSlots(address account, WarrantValidator.Session memory s) internal {
        bytes32 epochSlot = _epochSlot(account);
        bytes32 stateSlot = _stateSlot(account, validator.sessionId(account, s), validator.epochOf(account));
        (bytes32[] memory reads, bytes32[] memory writes) = vm.accesses(address(validator));
        vm.assertGt(reads.length, 0, "the validator read its storage");
        vm.assertGt(writes.length, 0, "the validator wrote its storage");
        for (uint256 i = 0; i < reads.length; ++i) {
            vm.assertTrue(reads[i] == epochSlot || reads[i] == stateSlot, "read of an unassociated slot");
        }
        for (uint256 i = 0; i < writes.length; ++i) {
            vm.assertEq(writes[i], stateSlot, "write of an unassociated slot");
        }
    }

    function test_storageSlotsAssociatedWithTheAccount() public {
        // USE on the 7702 account; a use cap makes validation write the state slot too.
        WarrantValidator.CallPolicy memory p = _transferPolicy(100e18);
        WarrantValidator.Session memory s = _session(p);
        s.scope.maxValueTotal = type(uint128).max;
        s.scope.maxUses = 5;
        _enableStatic(eoa, eoaPk, s);
        vm.record();
        PackedUserOperation memory op = _sessionOp(eoa, s, _transfer(recipient, 1));
        _handle(op);
        _assertOnlyAssociatedSlots(eoa, s);
        // The packed state word sits where the layout says: status 1, uses 1, valueSpent = the gas paid.
        bytes32 word = vm.load(address(validator), _stateSlot(eoa, validator.sessionId(eoa, s), 0));
        vm.assertEq(uint256(word), 1 | (1 << 8) | (_gasCost(op) << 40), "packed SessionState");

        // ENABLE on the proxy (the account's ERC-1271 runs on the account's own storage).
        WarrantValidator.Session memory g = _session(_transferPolicy(50e18));
        g.scope.maxUses = 5;
        vm.record();
        _handle(_enableOp(proxy, ownerPk, _grant(proxy, g), _transfer(recipient, 1)));
        _assertOnlyAssociatedSlots(proxy, g);
    }
}
