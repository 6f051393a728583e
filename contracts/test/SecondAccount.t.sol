// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {PackedUserOperation} from "@openzeppelin/contracts/interfaces/IERC4337.sol";
import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {IERC7579ModuleConfig} from "@openzeppelin/contracts/interfaces/draft-IERC7579.sol";
import {WarrantFixture} from "./utils/WarrantFixture.sol";
import {WarrantValidator} from "../src/WarrantValidator.sol";
import {WarrantErrors} from "../src/WarrantErrors.sol";
import {ECDSAOwnerValidator, PlainAccount7579} from "./mocks/PlainAccount7579.sol";

/**
 * @dev The WarrantValidator on a second, independent ERC-7579 account (plain OpenZeppelin AccountERC7579 with an
 * ECDSA owner validator), through the real EntryPoint: installed by an owner operation, sessions enabled statically
 * and dynamically (the grant's owner signature checked through that account's module-routed ERC-1271).
 */
contract SecondAccountTest is WarrantFixture {
    ECDSAOwnerValidator internal ownerModule;
    PlainAccount7579 internal plain;
    uint256 internal plainOwnerPk = 0xC0DE;

    function setUp() public override {
        super.setUp();
        ownerModule = new ECDSAOwnerValidator();
        plain = new PlainAccount7579(address(ownerModule), vm.addr(plainOwnerPk));
        vm.deal(address(plain), 100 ether);
        token.mint(address(plain), 1000e18);
        _plainOwnerExec(abi.encodeCall(IERC7579ModuleConfig.installModule, (1, address(validator), "")));
    }

    function _plainOwnerExec(bytes memory callData) internal {
        PackedUserOperation memory op = _op(address(plain), uint192(uint160(address(ownerModule))) << 32, callData);
        _signOwner(op, plainOwnerPk);
        _handle(op);
    }

    /// @dev The owner's ERC-1271 signature of `grant` for the plain account: module prefix, then ECDSA of the digest.
    function _plainGrantSig(WarrantValidator.Grant memory grant) internal view returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(plainOwnerPk, validator.grantDigest(grant));
        return abi.encodePacked(address(ownerModule), r, s, v);
    }

    function _status(WarrantValidator.Session memory s) internal view returns (uint8 status, uint32 uses) {
        (status, uses,) = validator.sessionState(address(plain), validator.sessionId(address(plain), s));
    }

    function test_validatorInstalledByOwnerOp() public view {
        vm.assertTrue(plain.isModuleInstalled(1, address(validator), ""), "warrant validator installed");
        vm.assertTrue(plain.isModuleInstalled(1, address(ownerModule), ""), "owner validator installed");
    }

    function test_staticSession() public {
        WarrantValidator.Session memory s = _session(_transferPolicy(100e18));
        s.scope.maxUses = 5; // uses are counted for capped sessions only
        _plainOwnerExec(_execSingle(address(validator), 0, abi.encodeCall(WarrantValidator.enableSession, (s))));
        _handle(_sessionOp(address(plain), s, _transfer(recipient, 40e18)));
        _handle(_sessionOp(address(plain), s, _transfer(recipient, 60e18)));
        vm.assertEq(token.balanceOf(recipient), 100e18, "recipient");
        (uint8 status, uint32 uses) = _status(s);
        vm.assertEq(status, 1, "enabled");
        vm.assertEq(uses, 2, "uses");
        // The scope holds on this account too: over the limit, self-calls, the owner module.
        _expectAA23(
            _sessionOp(address(plain), s, _transfer(recipient, 100e18 + 1)),
            WarrantErrors.ArgumentConditionFailed.selector
        );
        _expectAA23(
            _sessionOp(
                address(plain),
                s,
                _execSingle(
                    address(plain),
                    0,
                    abi.encodeCall(IERC7579ModuleConfig.uninstallModule, (1, address(ownerModule), ""))
                )
            ),
            WarrantErrors.ForbiddenTarget.selector
        );
        // Revoking everything through an owner op ends the session.
        _plainOwnerExec(_execSingle(address(validator), 0, abi.encodeCall(WarrantValidator.revokeAll, ())));
        _expectAA23(_sessionOp(address(plain), s, _transfer(recipient, 1)), WarrantErrors.SessionNotEnabled.selector);
    }

    function test_dynamicEnableThroughModuleERC1271() public {
        WarrantValidator.Session memory s = _session(_transferPolicy(100e18));
        s.scope.maxUses = 2;
        WarrantValidator.Grant memory g = _grant(address(plain), s);
        bytes memory ownerSig = _plainGrantSig(g);
        vm.assertEq(
            IERC1271(address(plain)).isValidSignature(validator.grantDigest(g), ownerSig),
            IERC1271.isValidSignature.selector,
            "owner signature valid through the module"
        );
        PackedUserOperation memory op = _op(address(plain), _validatorKey(), _transfer(recipient, 3e18));
        _signEnable(op, g, ownerSig, sessionPk);
        _handle(op);
        (uint8 status, uint32 uses) = _status(s);
        vm.assertEq(status, 1, "enabled by the grant");
        vm.assertEq(uses, 1, "first use in the enabling op");
        _handle(_sessionOp(address(plain), s, _transfer(recipient, 4e18)));
        vm.assertEq(token.balanceOf(recipient), 7e18, "recipient");
        _expectAA23(_sessionOp(address(plain), s, _transfer(recipient, 1)), WarrantErrors.UsesExhausted.selector);
    }

    function test_grantRefusedWithoutValidOwnerSignature() public {
        WarrantValidator.Session memory s = _session(_transferPolicy(100e18));
        WarrantValidator.Grant memory g = _grant(address(plain), s);
        PackedUserOperation memory op = _op(address(plain), _validatorKey(), _transfer(recipient, 1));
        // Raw ECDSA without the module prefix: the account routes by the first 20 bytes and finds no module.
        (uint8 v, bytes32 r, bytes32 sg) = vm.sign(plainOwnerPk, validator.grantDigest(g));
        _signEnable(op, g, abi.encodePacked(r, sg, v), sessionPk);
        _expectAA23(op, WarrantErrors.InvalidOwnerSignature.selector);
        // Routed to the WarrantValidator itself, which never signs.
        _signEnable(op, g, abi.encodePacked(address(validator), r, sg, v), sessionPk);
        _expectAA23(op, WarrantErrors.InvalidOwnerSignature.selector);
        // Signed by the session key instead of the owner.
        (v, r, sg) = vm.sign(sessionPk, validator.grantDigest(g));
        _signEnable(op, g, abi.encodePacked(address(ownerModule), r, sg, v), sessionPk);
        _expectAA23(op, WarrantErrors.InvalidOwnerSignature.selector);
        // A grant the owner signed for the plain account does nothing on the proxy.
        g = _grant(address(plain), s);
        PackedUserOperation memory onProxy = _op(proxy, _validatorKey(), _transfer(recipient, 1));
        _signEnable(onProxy, g, _plainGrantSig(g), sessionPk);
        _expectAA23(onProxy, WarrantErrors.GrantAccountMismatch.selector);
        (uint8 status,) = _status(s);
        vm.assertEq(status, 0, "nothing enabled");
    }

    function test_sessionKeyCannotSign1271() public {
        WarrantValidator.Session memory s = _session(_transferPolicy(100e18));
        _plainOwnerExec(_execSingle(address(validator), 0, abi.encodeCall(WarrantValidator.enableSession, (s))));
        bytes32 digest = keccak256("a Permit2 permit");
        (uint8 v, bytes32 r, bytes32 sg) = vm.sign(sessionPk, digest);
        vm.assertEq(
            IERC1271(address(plain)).isValidSignature(digest, abi.encodePacked(address(validator), r, sg, v)),
            bytes4(0xffffffff),
            "session key signature through the validator"
        );
    }
}
