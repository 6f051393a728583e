// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {PackedUserOperation} from "@openzeppelin/contracts/interfaces/IERC4337.sol";
import {IERC7579Validator, MODULE_TYPE_VALIDATOR} from "@openzeppelin/contracts/interfaces/draft-IERC7579.sol";
import {ERC4337Utils} from "@openzeppelin/contracts/account/utils/ERC4337Utils.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";

/**
 * @title OwnerValidator
 * @dev The owner of a third-party ERC-7579 account (Nexus, Kernel) in Warrant's tests: one ECDSA key per account,
 * installed at the account's creation. The published bytecode Warrant tests against (npm package modulekit) has
 * no owner validator (no Biconomy K1 validator, no ZeroDev ECDSA validator), so this is ours.
 *
 * It signs exactly the hash the account passes, with no ERC-7739 rehashing: enough for Warrant's grants, whose
 * digest names the account, but an owner with several accounts could see a signature over some other message
 * replayed between them. Kernel rehashes every ERC-1271 hash under its own domain first; Nexus does not.
 *
 * Storage: `ownerOf[account]`, associated with the account (ERC-7562).
 */
contract OwnerValidator is IERC7579Validator {
    mapping(address account => address) public ownerOf;

    error OwnerValidatorNoOwner();

    /// @dev `data` is the owner's 20-byte address.
    function onInstall(bytes calldata data) external {
        if (data.length < 20 || bytes20(data[0:20]) == bytes20(0)) revert OwnerValidatorNoOwner();
        ownerOf[msg.sender] = address(bytes20(data[0:20]));
    }

    function onUninstall(bytes calldata) external {
        delete ownerOf[msg.sender];
    }

    function isModuleType(uint256 moduleTypeId) external pure returns (bool) {
        return moduleTypeId == MODULE_TYPE_VALIDATOR;
    }

    /// @dev The operation's signature is the owner's 65-byte signature of `userOpHash`.
    function validateUserOp(PackedUserOperation calldata userOp, bytes32 userOpHash) external view returns (uint256) {
        return _signedByOwner(userOpHash, userOp.signature)
            ? ERC4337Utils.SIG_VALIDATION_SUCCESS
            : ERC4337Utils.SIG_VALIDATION_FAILED;
    }

    function isValidSignatureWithSender(address, bytes32 hash, bytes calldata signature)
        external
        view
        returns (bytes4)
    {
        return _signedByOwner(hash, signature) ? bytes4(0x1626ba7e) : bytes4(0xffffffff);
    }

    function _signedByOwner(bytes32 hash, bytes calldata signature) private view returns (bool) {
        address owner = ownerOf[msg.sender];
        (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecoverCalldata(hash, signature);
        return owner != address(0) && err == ECDSA.RecoverError.NoError && signer == owner;
    }
}
