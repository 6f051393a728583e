// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {PackedUserOperation} from "@openzeppelin/contracts/interfaces/IERC4337.sol";

/// @dev Mintable ERC-20 for tests.
contract MockToken is ERC20 {
    constructor() ERC20("Mock", "MOCK") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }
}

/// @dev Target with dynamic arguments, recording what it received.
contract MockTarget {
    uint256 public calls;
    bytes32 public lastHash;

    function setBytes(bytes calldata data) external payable {
        ++calls;
        lastHash = keccak256(data);
    }

    function setArray(uint256[] calldata values) external {
        ++calls;
        lastHash = keccak256(abi.encodePacked(values));
    }

    function setPair(uint256 a, string calldata s) external {
        ++calls;
        lastHash = keccak256(abi.encode(a, s));
    }

    function ping() external payable {
        ++calls;
    }

    receive() external payable {
        ++calls;
    }
}

/// @dev Paymaster accepting everything (tests only), for the required-paymaster rule.
contract MockPaymaster {
    address public immutable ENTRY_POINT;

    constructor(address entryPoint) {
        ENTRY_POINT = entryPoint;
    }

    function validatePaymasterUserOp(PackedUserOperation calldata, bytes32, uint256)
        external
        pure
        returns (bytes memory, uint256)
    {
        return ("", 0);
    }

    function postOp(uint8, bytes calldata, uint256, uint256) external {}

    function deposit() external payable {
        (bool ok,) = ENTRY_POINT.call{value: msg.value}(abi.encodeWithSignature("depositTo(address)", address(this)));
        require(ok);
    }
}
