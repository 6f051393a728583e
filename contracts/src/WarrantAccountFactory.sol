// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ERC1967Proxy} from "@openzeppelin/contracts/proxy/ERC1967/ERC1967Proxy.sol";
import {Create2} from "@openzeppelin/contracts/utils/Create2.sol";
import {WarrantAccount} from "./WarrantAccount.sol";

/**
 * @dev Deploys proxy-mode {WarrantAccount}s at counterfactual addresses. The CREATE2 salt is bound to the owner,
 * so nobody can deploy, at the address a user expects, an account with a different owner.
 */
contract WarrantAccountFactory {
    /// @dev The shared implementation; also the EIP-7702 delegate for EOAs. Its {WarrantAccount-FACTORY} is this.
    WarrantAccount public immutable IMPLEMENTATION;

    /// @dev Emitted when an account is deployed.
    event AccountCreated(address indexed account, address indexed owner, bytes32 salt);

    /// @dev Deploys the implementation, making this factory the only address that can initialize accounts.
    constructor() {
        IMPLEMENTATION = new WarrantAccount();
    }

    /**
     * @dev Deploys the account of `owner` for `salt`, or returns it if it exists already (idempotent, so an
     * EntryPoint `initCode` and a direct call can race without failing).
     */
    function createAccount(address owner, bytes32 salt) external returns (address account) {
        account = getAddress(owner, salt);
        if (account.code.length == 0) {
            new ERC1967Proxy{salt: _salt(owner, salt)}(address(IMPLEMENTATION), _initData(owner));
            emit AccountCreated(account, owner, salt);
        }
    }

    /// @dev The address {createAccount} deploys, or has deployed, for `owner` and `salt`.
    function getAddress(address owner, bytes32 salt) public view returns (address) {
        bytes32 initCodeHash = keccak256(
            abi.encodePacked(type(ERC1967Proxy).creationCode, abi.encode(address(IMPLEMENTATION), _initData(owner)))
        );
        return Create2.computeAddress(_salt(owner, salt), initCodeHash);
    }

    function _salt(address owner, bytes32 salt) private pure returns (bytes32) {
        return keccak256(abi.encode(owner, salt));
    }

    function _initData(address owner) private pure returns (bytes memory) {
        return abi.encodeCall(WarrantAccount.initialize, (owner));
    }
}
