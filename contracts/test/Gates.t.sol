// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {PackedUserOperation} from "@openzeppelin/contracts/interfaces/IERC4337.sol";
import {WarrantFixture} from "./utils/WarrantFixture.sol";
import {WarrantValidator} from "../src/WarrantValidator.sol";
import {WarrantErrors} from "../src/WarrantErrors.sol";
import {MockNft, MockMultiToken} from "./mocks/Mocks.sol";

/// @dev A token whose `balanceOf` answers whatever it is told: reverting, empty, short, or a huge return.
contract OddToken {
    uint256 public mode;

    function setMode(uint256 m) external {
        mode = m;
    }

    fallback(bytes calldata) external returns (bytes memory) {
        if (mode == 0) revert("no");
        if (mode == 1) return "";
        if (mode == 2) return hex"0102";
        // A 100 kB return of 0xff words: validation must copy only the first word.
        bytes memory big = new bytes(100_000);
        for (uint256 i = 0; i < 32; ++i) {
            big[i] = 0xff;
        }
        return big;
    }
}

/**
 * @dev Gates (docs/gating.md): a session that works only while the account holds a token. Each kind passes and fails,
 * the pass moves out and back, ill-formed gates are refused at enable, and a token that does not answer is named.
 */
contract GatesTest is WarrantFixture {
    MockNft internal pass;
    MockMultiToken internal multi;
    uint256 internal constant PASS_ID = 7;
    uint256 internal constant GUILD_ID = 42;
    address internal stranger = address(0x5742);

    function setUp() public override {
        super.setUp();
        pass = new MockNft();
        multi = new MockMultiToken();
        pass.mint(proxy, PASS_ID);
        multi.mint(proxy, GUILD_ID, 5);
    }

    function _gate(address t, uint8 kind, uint256 id, uint256 min)
        internal
        pure
        returns (WarrantValidator.Gate memory g)
    {
        g.token = t;
        g.kind = kind;
        g.tokenId = id;
        g.minBalance = min;
    }

    function _gated(WarrantValidator.Gate memory g) internal view returns (WarrantValidator.Session memory s) {
        s = _session(_transferPolicy(100e18));
        s.scope.gates = new WarrantValidator.Gate[](1);
        s.scope.gates[0] = g;
    }

    function _movePassAway() internal {
        _ownerExec(
            proxy,
            ownerPk,
            _execSingle(
                address(pass),
                0,
                abi.encodeWithSignature("transferFrom(address,address,uint256)", proxy, stranger, PASS_ID)
            )
        );
    }

    function test_erc721PassMovedOutAndBack() public {
        WarrantValidator.Session memory s = _gated(_gate(address(pass), 1, 0, 1));
        _enableStatic(proxy, ownerPk, s);
        _handle(_sessionOp(proxy, s, _transfer(recipient, 1e18)));
        vm.assertEq(token.balanceOf(recipient), 1e18, "gated op ran while the pass is held");

        _movePassAway();
        bytes memory inner =
            _expectAA23(_sessionOp(proxy, s, _transfer(recipient, 1e18)), WarrantErrors.GateNotHeld.selector);
        vm.assertEq(
            inner, abi.encodeWithSelector(WarrantErrors.GateNotHeld.selector, 0, address(pass), 0, 1), "named gate"
        );

        // Back by a safe transfer: the account accepts ERC-721s.
        vm.prank(stranger);
        pass.safeTransferFrom(stranger, proxy, PASS_ID);
        _handle(_sessionOp(proxy, s, _transfer(recipient, 1e18)));
        vm.assertEq(token.balanceOf(recipient), 2e18, "resumed once the pass came back");
    }

    function test_erc20GateCountsTheMinimum() public {
        // The account holds 1000e18 of the token; the gate asks for exactly that, then one more.
        WarrantValidator.Session memory s = _gated(_gate(address(token), 0, 0, 999e18));
        _enableStatic(proxy, ownerPk, s);
        _handle(_sessionOp(proxy, s, _transfer(recipient, 1e18))); // 1000 held before the op: passes, 999 after
        _handle(_sessionOp(proxy, s, _transfer(recipient, 1e18))); // 999 held: passes (>=), 998 after
        bytes memory inner =
            _expectAA23(_sessionOp(proxy, s, _transfer(recipient, 1e18)), WarrantErrors.GateNotHeld.selector);
        vm.assertEq(
            inner,
            abi.encodeWithSelector(WarrantErrors.GateNotHeld.selector, 0, address(token), 998e18, 999e18),
            "balance and minimum named"
        );
    }

    function test_erc1155GateReadsItsId() public {
        WarrantValidator.Session memory s = _gated(_gate(address(multi), 2, GUILD_ID, 5));
        _enableStatic(proxy, ownerPk, s);
        _handle(_sessionOp(proxy, s, _transfer(recipient, 1e18)));
        // Another id of the same contract does not count.
        WarrantValidator.Session memory other = _gated(_gate(address(multi), 2, GUILD_ID + 1, 1));
        _enableStatic(proxy, ownerPk, other);
        _expectAA23(_sessionOp(proxy, other, _transfer(recipient, 1e18)), WarrantErrors.GateNotHeld.selector);
        // One of the five moved away: four held, below the minimum.
        _ownerExec(
            proxy,
            ownerPk,
            _execSingle(
                address(multi),
                0,
                abi.encodeWithSignature(
                    "safeTransferFrom(address,address,uint256,uint256,bytes)", proxy, stranger, GUILD_ID, 1, ""
                )
            )
        );
        _expectAA23(_sessionOp(proxy, s, _transfer(recipient, 1e18)), WarrantErrors.GateNotHeld.selector);
    }

    /// @dev The gate reads the sender's balance, never the session key's or anyone else's.
    function test_gateReadsTheAccountNotTheSessionKey() public {
        pass.mint(sessionKey, 8);
        WarrantValidator.Session memory s = _gated(_gate(address(pass), 1, 0, 2));
        _enableStatic(proxy, ownerPk, s);
        // The account holds one pass, the session key another: two in total, but only the account's count.
        _expectAA23(_sessionOp(proxy, s, _transfer(recipient, 1e18)), WarrantErrors.GateNotHeld.selector);
    }

    /// @dev Every gate of a session must hold; the first failing one is named.
    function test_everyGateMustHold() public {
        WarrantValidator.Session memory s = _session(_transferPolicy(100e18));
        s.scope.gates = new WarrantValidator.Gate[](2);
        s.scope.gates[0] = _gate(address(pass), 1, 0, 1);
        s.scope.gates[1] = _gate(address(multi), 2, GUILD_ID, 6);
        _enableStatic(proxy, ownerPk, s);
        bytes memory inner =
            _expectAA23(_sessionOp(proxy, s, _transfer(recipient, 1e18)), WarrantErrors.GateNotHeld.selector);
        vm.assertEq(
            inner, abi.encodeWithSelector(WarrantErrors.GateNotHeld.selector, 1, address(multi), 5, 6), "second gate"
        );
    }

    /// @dev A dynamic ENABLE checks the gates of the grant in the same validation.
    function test_enableChecksGates() public {
        WarrantValidator.Session memory s = _gated(_gate(address(pass), 1, 0, 1));
        _movePassAway();
        WarrantValidator.Grant memory g = _grant(proxy, s);
        PackedUserOperation memory op = _op(proxy, _validatorKey(), _transfer(recipient, 1e18));
        _signEnable(op, g, _ownerGrantSig(proxy, ownerPk, g), sessionPk);
        _expectAA23(op, WarrantErrors.GateNotHeld.selector);
    }

    function test_unreadableTokenNamed() public {
        OddToken odd = new OddToken();
        WarrantValidator.Session memory s = _gated(_gate(address(odd), 0, 0, 1));
        _enableStatic(proxy, ownerPk, s);
        for (uint256 m = 0; m < 3; ++m) {
            odd.setMode(m);
            bytes memory inner =
                _expectAA23(_sessionOp(proxy, s, _transfer(recipient, 1e18)), WarrantErrors.GateUnreadable.selector);
            vm.assertEq(inner, abi.encodeWithSelector(WarrantErrors.GateUnreadable.selector, 0, address(odd)), "named");
        }
        // A huge return: only its first word is read (all ones: held).
        odd.setMode(3);
        _handle(_sessionOp(proxy, s, _transfer(recipient, 1e18)));
        // An address with no code answers nothing.
        WarrantValidator.Session memory empty = _gated(_gate(address(0xC0DE1E55), 0, 0, 1));
        _enableStatic(proxy, ownerPk, empty);
        _expectAA23(_sessionOp(proxy, empty, _transfer(recipient, 1e18)), WarrantErrors.GateUnreadable.selector);
    }

    function test_illFormedGatesRefusedAtEnable() public {
        WarrantValidator.Gate[5] memory bad = [
            _gate(address(pass), 3, 0, 1), // unknown kind
            _gate(address(0), 0, 0, 1), // no token
            _gate(address(pass), 1, 0, 0), // a minimum of 0 holds always
            _gate(address(pass), 1, PASS_ID, 1), // a token id on an ERC-721 gate (ownerOf is not a gate)
            _gate(address(token), 0, 1, 1) // a token id on an ERC-20 gate
        ];
        for (uint256 i = 0; i < bad.length; ++i) {
            WarrantValidator.Session memory s = _gated(bad[i]);
            vm.expectRevert(abi.encodeWithSelector(WarrantErrors.InvalidGate.selector, 0));
            validator.sessionBytes(s);
        }
        WarrantValidator.Session memory many = _session(_transferPolicy(100e18));
        many.scope.gates = new WarrantValidator.Gate[](9);
        for (uint256 i = 0; i < 9; ++i) {
            many.scope.gates[i] = _gate(address(pass), 1, 0, 1);
        }
        vm.expectRevert(abi.encodeWithSelector(WarrantErrors.InvalidGate.selector, 8));
        validator.sessionBytes(many);
        // And through a grant: refused before anything is enabled.
        WarrantValidator.Grant memory g = _grant(proxy, _gated(bad[2]));
        PackedUserOperation memory op = _op(proxy, _validatorKey(), _transfer(recipient, 1e18));
        _signEnable(op, g, _ownerGrantSig(proxy, ownerPk, g), sessionPk);
        _expectAA23(op, WarrantErrors.InvalidGate.selector);
    }

    /// @dev Gates are bound into the id: a session without the gate is another session, never enabled.
    function test_gateIsPartOfTheSession() public {
        WarrantValidator.Session memory s = _gated(_gate(address(pass), 1, 0, 1));
        _enableStatic(proxy, ownerPk, s);
        WarrantValidator.Session memory stripped = _session(_transferPolicy(100e18));
        _expectAA23(_sessionOp(proxy, stripped, _transfer(recipient, 1e18)), WarrantErrors.SessionNotEnabled.selector);
    }

    /// @dev The gates' session bytes: the known answer shared with crates/core/src/grant.rs (`gates_known_answer`).
    function test_gatesKnownAnswer() public view {
        WarrantValidator.Session memory s;
        s.signer = address(0x1111111111111111111111111111111111111111);
        s.scope.gates = new WarrantValidator.Gate[](1);
        s.scope.gates[0] = _gate(address(0x4444444444444444444444444444444444444444), 2, 7, 2);
        bytes memory expected = bytes.concat(
            hex"1111111111111111111111111111111111111111",
            hex"80", // limits: the spend section only (gates live in it)
            hex"0000000000000000000000000000", // period, periodStart, maxUsesPerPeriod
            hex"00", // w(0 limits)
            hex"0101", // w(1 gate)
            hex"02", // kind ERC-1155
            hex"4444444444444444444444444444444444444444",
            abi.encode(uint256(7)), // tokenId
            abi.encode(uint256(2)), // minBalance
            hex"00", // w(0 calls)
            hex"00" // w(salt 0)
        );
        vm.assertEq(validator.sessionBytes(s), expected, "session bytes");
    }

    /// @dev The gate reads only storage associated with the account: `_balances[account]`.
    function test_gateReadsOnlyAssociatedStorage() public {
        WarrantValidator.Session memory s = _gated(_gate(address(pass), 1, 0, 1));
        _enableStatic(proxy, ownerPk, s);
        PackedUserOperation memory op = _sessionOp(proxy, s, _transfer(recipient, 1e18));
        vm.record();
        _handle(op);
        (bytes32[] memory reads,) = vm.accesses(address(pass));
        vm.assertEq(reads.length, 1, "one slot of the pass contract");
        // OpenZeppelin's ERC721 keeps `_balances` at slot 3: keccak256(account ‖ 3).
        vm.assertEq(reads[0], keccak256(abi.encode(proxy, uint256(3))), "the account's balance slot");
    }
}
