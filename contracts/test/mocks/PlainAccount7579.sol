// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {AccountERC7579} from "@openzeppelin/contracts/account/extensions/draft-AccountERC7579.sol";
import {ERC4337Utils} from "@openzeppelin/contracts/account/utils/ERC4337Utils.sol";
import {IEntryPoint, PackedUserOperation} from "@openzeppelin/contracts/interfaces/IERC4337.sol";
import {IERC7579Validator, MODULE_TYPE_VALIDATOR} from "@openzeppelin/contracts/interfaces/draft-IERC7579.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";

/**
 * @dev Test fixture only: an ERC-7579 validator whose owner key (one per account) signs user operation hashes and
 * ERC-1271 hashes with plain ECDSA. Storage is keyed by the account (ERC-7562 associated).
 */
contract ECDSAOwnerValidator is IERC7579Validator {
    mapping(address account => address) public ownerOf;

    function onInstall(bytes calldata data) external {
        ownerOf[msg.sender] = abi.decode(data, (address));
    }

    function onUninstall(bytes calldata) external {
        delete ownerOf[msg.sender];
    }

    function isModuleType(uint256 moduleTypeId) external pure returns (bool) {
        return moduleTypeId == MODULE_TYPE_VALIDATOR;
    }

    function validateUserOp(PackedUserOperation calldata userOp, bytes32 userOpHash) external view returns (uint256) {
        return _isOwner(msg.sender, userOpHash, userOp.signature)
            ? ERC4337Utils.SIG_VALIDATION_SUCCESS
            : ERC4337Utils.SIG_VALIDATION_FAILED;
    }

    function isValidSignatureWithSender(address, bytes32 hash, bytes calldata signature)
        external
        view
        returns (bytes4)
    {
        return _isOwner(msg.sender, hash, signature) ? bytes4(0x1626ba7e) : bytes4(0xffffffff);
    }

    function _isOwner(address account, bytes32 hash, bytes calldata signature) private view returns (bool) {
        (address recovered, ECDSA.RecoverError err,) = ECDSA.tryRecoverCalldata(hash, signature);
        return err == ECDSA.RecoverError.NoError && recovered != address(0) && recovered == ownerOf[account];
    }
}

/**
 * @dev Test fixture only: a plain OpenZeppelin {AccountERC7579}, independent of WarrantAccount, with an
 * {ECDSAOwnerValidator} installed at construction. Everything else is OpenZeppelin's default behaviour: validator
 * chosen by the top 20 bytes of the nonce key, ERC-1271 routed by a 20-byte module prefix, no raw owner signatures.
 */
contract PlainAccount7579 is AccountERC7579 {
    constructor(address ownerValidator, address owner) {
        _installModule(MODULE_TYPE_VALIDATOR, ownerValidator, abi.encode(owner));
    }

    /// @dev EntryPoint v0.8 (OpenZeppelin defaults to v0.9).
    function entryPoint() public view virtual override returns (IEntryPoint) {
        return ERC4337Utils.ENTRYPOINT_V08;
    }
}
