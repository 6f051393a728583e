// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {PackedUserOperation} from "@openzeppelin/contracts/interfaces/IERC4337.sol";
import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {WarrantFixture, IEntryPointV08} from "./utils/WarrantFixture.sol";
import {WarrantAccount} from "../src/WarrantAccount.sol";
import {WarrantValidator} from "../src/WarrantValidator.sol";

contract WarrantAccountTest is WarrantFixture {
    function test_ownerTransfer_7702() public {
        _ownerExec(eoa, eoaPk, _transfer(recipient, 5e18));
        vm.assertEq(token.balanceOf(recipient), 5e18, "recipient balance");
    }

    function test_ownerTransfer_proxy() public {
        _ownerExec(proxy, ownerPk, _transfer(recipient, 7e18));
        vm.assertEq(token.balanceOf(recipient), 7e18, "recipient balance");
    }

    function test_ownerOp_wrongKey_AA24() public {
        _expectFailedOp(_ownerOp(proxy, sessionPk, _transfer(recipient, 1)), "AA24 signature error");
        // The 7702 account's owner is its own key only: the proxy owner's key means nothing there.
        _expectFailedOp(_ownerOp(eoa, ownerPk, _transfer(recipient, 1)), "AA24 signature error");
    }

    function test_validatorInstalled() public view {
        vm.assertTrue(WarrantAccount(payable(eoa)).isModuleInstalled(1, address(validator), ""), "7702 installed");
        vm.assertTrue(WarrantAccount(payable(proxy)).isModuleInstalled(1, address(validator), ""), "proxy installed");
    }

    function test_factory_idempotentAndOwnerBound() public {
        vm.assertEq(factory.createAccount(proxyOwner, bytes32(0)), proxy, "same account");
        vm.assertEq(factory.getAddress(proxyOwner, bytes32(0)), proxy, "getAddress");
        vm.assertTrue(factory.getAddress(eoa, bytes32(0)) != proxy, "salt bound to owner");
        vm.assertEq(WarrantAccount(payable(proxy)).owner(), proxyOwner, "owner");
    }

    function test_initialize_onlyFactory() public {
        vm.expectRevert(
            abi.encodeWithSelector(WarrantAccount.WarrantAccountUnauthorizedInitializer.selector, address(this))
        );
        WarrantAccount(payable(eoa)).initialize(address(this));
        vm.expectRevert(
            abi.encodeWithSelector(WarrantAccount.WarrantAccountUnauthorizedInitializer.selector, address(this))
        );
        WarrantAccount(payable(proxy)).initialize(address(this));
        // Even the factory can't re-initialize a proxy.
        vm.prank(address(factory));
        vm.expectRevert(WarrantAccount.WarrantAccountInvalidInitialization.selector);
        WarrantAccount(payable(proxy)).initialize(address(this));
    }

    function test_createAccountThroughInitCode() public {
        address owner = vm.addr(0xC0FFEE);
        address account = factory.getAddress(owner, bytes32(uint256(1)));
        vm.deal(account, 1 ether);
        PackedUserOperation memory op;
        op.sender = account;
        op.nonce = 0;
        op.initCode =
            abi.encodePacked(address(factory), abi.encodeCall(factory.createAccount, (owner, bytes32(uint256(1)))));
        op.callData = _execSingle(recipient, 0.1 ether, "");
        op.accountGasLimits = bytes32(uint256(2_000_000) << 128 | uint256(1_000_000));
        op.preVerificationGas = 100_000;
        op.gasFees = bytes32(uint256(1 gwei) << 128 | uint256(2 gwei));
        _signOwner(op, 0xC0FFEE);
        _handle(op);
        vm.assertEq(recipient.balance, 0.1 ether, "native transfer");
        vm.assertEq(WarrantAccount(payable(account)).owner(), owner, "owner");
    }

    function test_erc7739_ownerSignature() public view {
        WarrantValidator.Grant memory grant = _grant(proxy, _session(_transferPolicy(1e18)));
        bytes32 digest = validator.grantDigest(grant);
        vm.assertEq(
            IERC1271(proxy).isValidSignature(digest, _ownerGrantSig(proxy, ownerPk, grant)),
            IERC1271.isValidSignature.selector,
            "proxy owner"
        );
        WarrantValidator.Grant memory grant7702 = _grant(eoa, _session(_transferPolicy(1e18)));
        vm.assertEq(
            IERC1271(eoa).isValidSignature(validator.grantDigest(grant7702), _ownerGrantSig(eoa, eoaPk, grant7702)),
            IERC1271.isValidSignature.selector,
            "7702 owner"
        );
        // An owner signature made for one account does not verify on another (ERC-7739 rehashing).
        vm.assertEq(
            IERC1271(eoa).isValidSignature(digest, _ownerGrantSig(proxy, ownerPk, grant)),
            bytes4(0xffffffff),
            "cross-account replay"
        );
        // A raw ECDSA signature of the digest (no ERC-7739 wrapping) is refused.
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(ownerPk, digest);
        vm.assertEq(
            IERC1271(proxy).isValidSignature(digest, abi.encodePacked(r, s, v)), bytes4(0xffffffff), "unwrapped"
        );
    }

    function test_sessionKeyCannotSign1271() public view {
        bytes32 digest = keccak256("permit");
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(sessionPk, digest);
        bytes memory sig = abi.encodePacked(address(validator), r, s, v);
        vm.assertEq(IERC1271(proxy).isValidSignature(digest, sig), bytes4(0xffffffff), "proxy");
        vm.assertEq(IERC1271(eoa).isValidSignature(digest, sig), bytes4(0xffffffff), "7702");
        vm.assertEq(
            validator.isValidSignatureWithSender(address(this), digest, abi.encodePacked(r, s, v)),
            bytes4(0xffffffff),
            "module"
        );
    }
}
