// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {ERC1155} from "@openzeppelin/contracts/token/ERC1155/ERC1155.sol";
import {ERC1967Proxy} from "@openzeppelin/contracts/proxy/ERC1967/ERC1967Proxy.sol";
import {PackedUserOperation} from "@openzeppelin/contracts/interfaces/IERC4337.sol";

/// @dev Mintable ERC-20 for tests.
contract MockToken is ERC20 {
    constructor() ERC20("Mock", "MOCK") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }
}

/// @dev Mintable ERC-721 for tests: the "session pass" of the gating tests and demo.
contract MockNft is ERC721 {
    constructor() ERC721("Mock pass", "PASS") {}

    function mint(address to, uint256 tokenId) external {
        _mint(to, tokenId);
    }
}

/// @dev Mintable ERC-1155 for tests.
contract MockMultiToken is ERC1155 {
    constructor() ERC1155("") {}

    function mint(address to, uint256 id, uint256 amount) external {
        _mint(to, id, amount, "");
    }
}

/// @dev An ERC-1967 proxy in front of a token: its `balanceOf` reads the implementation slot, storage that is not
/// associated with the account (ERC-7562), so a gate on it is refused when the grant is made.
contract MockProxiedToken is ERC1967Proxy {
    constructor(address implementation) ERC1967Proxy(implementation, "") {}

    /// @dev OpenZeppelin 5.7's proxy refuses empty init data by default; this one needs none (the token's storage
    /// starts empty behind the proxy).
    function _unsafeAllowUninitialized() internal pure override returns (bool) {
        return true;
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

/// @dev An "account" whose ERC-1271 check tries to re-enter the validator (REFERENCE §6.12). It validates its own
/// operations by calling the validator directly, as an account does.
contract ReentrantAccount {
    address public immutable VALIDATOR;
    bytes public reentry;
    bool public requireReentry;

    constructor(address validator) {
        VALIDATOR = validator;
    }

    function setReentry(bytes calldata data, bool required) external {
        reentry = data;
        requireReentry = required;
    }

    /// @dev Not `view` on purpose: it tries a state-changing call into the validator during the grant check.
    function isValidSignature(bytes32, bytes calldata) external returns (bytes4) {
        (bool ok,) = VALIDATOR.call{gas: 200_000}(reentry); // a state change under STATICCALL burns what it is given
        if (requireReentry && !ok) return 0xffffffff;
        return 0x1626ba7e;
    }

    function validate(PackedUserOperation calldata op, bytes32 hash) external returns (uint256) {
        (bool ok, bytes memory ret) = VALIDATOR.call(
            abi.encodeWithSignature(
                "validateUserOp((address,uint256,bytes,bytes,bytes32,uint256,bytes32,bytes,bytes),bytes32)", op, hash
            )
        );
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(ret, 0x20), mload(ret))
            }
        }
        return abi.decode(ret, (uint256));
    }
}

/// @dev A factory an ERC-6492 wrapper would name: counts the calls it receives (a side effect to watch for).
contract SideEffectFactory {
    uint256 public calls;

    fallback() external {
        ++calls;
    }
}
