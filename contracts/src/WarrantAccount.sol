// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Account} from "@openzeppelin/contracts/account/Account.sol";
import {AccountERC7579} from "@openzeppelin/contracts/account/extensions/draft-AccountERC7579.sol";
import {ERC4337Utils} from "@openzeppelin/contracts/account/utils/ERC4337Utils.sol";
import {IAccount, IEntryPoint, PackedUserOperation} from "@openzeppelin/contracts/interfaces/IERC4337.sol";
import {IERC7579Validator, MODULE_TYPE_VALIDATOR} from "@openzeppelin/contracts/interfaces/draft-IERC7579.sol";
import {AbstractSigner} from "@openzeppelin/contracts/utils/cryptography/signers/AbstractSigner.sol";
import {ERC7739} from "@openzeppelin/contracts/utils/cryptography/signers/draft-ERC7739.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {Calldata} from "@openzeppelin/contracts/utils/Calldata.sol";
import {ERC721Holder} from "@openzeppelin/contracts/token/ERC721/utils/ERC721Holder.sol";
import {ERC1155Holder} from "@openzeppelin/contracts/token/ERC1155/utils/ERC1155Holder.sol";

/**
 * @dev ERC-7579 smart account used by Warrant, in two modes that share one implementation:
 *
 * - EIP-7702 mode: an EOA delegates to this implementation; the EOA key is the owner (it signs for
 *   `address(this)`), and no initialization is needed, or possible.
 * - Proxy mode: an {ERC1967Proxy} deployed by {WarrantAccountFactory}, whose owner is stored in an ERC-7201 namespace
 *   set once by the factory.
 *
 * User operations whose nonce key does not name an installed validator module are checked against the owner.
 * Session keys live in a validator module (see {WarrantValidator}) selected through the top 20 bytes of the nonce key.
 * It accepts ERC-721 and ERC-1155 safe transfers (a "session pass" NFT must be able to come back; see
 * `docs/gating.md`).
 * ERC-1271 signatures are either module-prefixed (routed to an installed validator) or owner signatures wrapped per
 * ERC-7739, so an owner signature made for one account can't be replayed on another.
 */
contract WarrantAccount is Account, EIP712, ERC7739, AccountERC7579, ERC721Holder, ERC1155Holder {
    /// @custom:storage-location erc7201:warrant.storage.WarrantAccount
    struct WarrantAccountStorage {
        address owner;
    }

    // keccak256(abi.encode(uint256(keccak256("warrant.storage.WarrantAccount")) - 1)) & ~bytes32(uint256(0xff))
    bytes32 private constant WARRANT_ACCOUNT_STORAGE_LOCATION =
        0x6298439054b9b436b77a914e4c24d86d7a5d4cad856963931d7e1afbe5ed3300;

    /// @dev The factory that deployed the implementation, the only address allowed to call {initialize}.
    address public immutable FACTORY;

    /// @dev Emitted when the owner of a proxy-mode account is set.
    event OwnerSet(address indexed owner);

    /// @dev {initialize} was called by an address other than {FACTORY}.
    error WarrantAccountUnauthorizedInitializer(address caller);

    /// @dev {initialize} was called on an account that already has an owner, or with the zero address.
    error WarrantAccountInvalidInitialization();

    /// @dev Records the deployer as {FACTORY}; the EIP-712 domain is the one ERC-7739 wraps owner signatures in.
    constructor() EIP712("WarrantAccount", "1") {
        FACTORY = msg.sender;
    }

    /**
     * @dev Sets the owner of a proxy-mode account. Only the factory may call it (through the proxy constructor),
     * so nobody can ever set an owner on an EOA delegated to this implementation by EIP-7702, where setup calldata
     * could otherwise be front-run.
     */
    function initialize(address owner_) external {
        require(msg.sender == FACTORY, WarrantAccountUnauthorizedInitializer(msg.sender));
        WarrantAccountStorage storage $ = _getWarrantAccountStorage();
        require(owner_ != address(0) && $.owner == address(0), WarrantAccountInvalidInitialization());
        $.owner = owner_;
        emit OwnerSet(owner_);
    }

    /// @dev The stored owner (proxy mode); zero in EIP-7702 mode, where the owner is the account's own key.
    function owner() public view returns (address) {
        return _getWarrantAccountStorage().owner;
    }

    /// @dev Pinned to EntryPoint v0.8 (OpenZeppelin defaults to v0.9).
    function entryPoint() public view virtual override returns (IEntryPoint) {
        return ERC4337Utils.ENTRYPOINT_V08;
    }

    /**
     * @dev Resolves ERC-1271 between modules and the owner. A signature whose first 20 bytes name an installed
     * validator module goes to that module (ERC-7579 behaviour); any other signature is an ERC-7739 owner signature.
     */
    function isValidSignature(bytes32 hash, bytes calldata signature)
        public
        view
        virtual
        override(AccountERC7579, ERC7739)
        returns (bytes4)
    {
        if (
            signature.length >= 20
                && isModuleInstalled(MODULE_TYPE_VALIDATOR, address(bytes20(signature)), Calldata.emptyBytes())
        ) {
            return AccountERC7579.isValidSignature(hash, signature);
        }
        return ERC7739.isValidSignature(hash, signature);
    }

    /**
     * @dev Owner check: an ECDSA signature recovering to the account itself (EIP-7702 mode, the EOA key) or to the
     * stored owner (proxy mode). A zero recovery never matches, even when no owner is stored.
     */
    function _rawSignatureValidation(bytes32 hash, bytes calldata signature)
        internal
        view
        virtual
        override(AbstractSigner, AccountERC7579)
        returns (bool)
    {
        (address recovered, ECDSA.RecoverError err,) = ECDSA.tryRecoverCalldata(hash, signature);
        return err == ECDSA.RecoverError.NoError && recovered != address(0)
            && (recovered == address(this) || recovered == _getWarrantAccountStorage().owner);
    }

    /**
     * @dev Installed validator module named by the nonce key, else the owner (AccountERC7579 behaviour). When called
     * from {validateUserOp}, the module call forwards this call's own calldata with only the selector changed,
     * instead of re-encoding the whole operation in memory: the module's `validateUserOp(PackedUserOperation,bytes32)`
     * reads the same two head words and ignores the third (`missingAccountFunds`), and the hash is the one the
     * EntryPoint passed, which {_signableUserOpHash} leaves as is.
     */
    function _validateUserOp(PackedUserOperation calldata userOp, bytes32 userOpHash, bytes calldata signature)
        internal
        virtual
        override(Account, AccountERC7579)
        returns (uint256 validationData)
    {
        address module = _extractUserOpValidator(userOp);
        if (!isModuleInstalled(MODULE_TYPE_VALIDATOR, module, Calldata.emptyBytes())) {
            return Account._validateUserOp(userOp, userOpHash, signature);
        }
        bytes32 signable = _signableUserOpHash(userOp, userOpHash);
        if (msg.sig != IAccount.validateUserOp.selector || signable != bytes32(msg.data[36:68])) {
            return IERC7579Validator(module).validateUserOp(userOp, signable);
        }
        bytes4 selector = IERC7579Validator.validateUserOp.selector;
        assembly ("memory-safe") {
            let m := mload(0x40)
            let size := calldatasize()
            calldatacopy(m, 0, size)
            mstore(m, or(selector, shr(32, shl(32, mload(m)))))
            if iszero(call(gas(), module, 0, m, size, 0x00, 0x20)) {
                returndatacopy(m, 0, returndatasize())
                revert(m, returndatasize())
            }
            if lt(returndatasize(), 0x20) { revert(0, 0) }
            validationData := mload(0x00)
        }
    }

    function _getWarrantAccountStorage() private pure returns (WarrantAccountStorage storage $) {
        assembly ("memory-safe") {
            $.slot := WARRANT_ACCOUNT_STORAGE_LOCATION
        }
    }
}
