// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {MockToken} from "./Mocks.sol";

/**
 * @dev Records every call it receives, as its own ABI decoder saw it: the ground truth of what an account really
 * executed, for invariant and decoding fuzz tests to hold against the session's scope.
 */
contract Recorder {
    /// @dev One received call. `known` is false for anything but {pay} (fallback, receive).
    struct Entry {
        address sender;
        uint256 value;
        bool known;
        address who;
        uint256 amount;
        bytes32 memoHash;
        uint256 memoLength;
        bytes32 dataHash;
        uint256 timestamp;
    }

    Entry[] private _entries;

    /// @dev The one function scopes allow in these tests; three arguments, one of them dynamic.
    function pay(address who, uint256 amount, bytes calldata memo) external payable {
        _entries.push(
            Entry(
                msg.sender,
                msg.value,
                true,
                who,
                amount,
                keccak256(memo),
                memo.length,
                keccak256(msg.data),
                block.timestamp
            )
        );
    }

    /// @dev A function no scope allows.
    function poke() external payable {
        _entries.push(Entry(msg.sender, msg.value, false, address(0), 0, 0, 0, keccak256(msg.data), block.timestamp));
    }

    fallback() external payable {
        _entries.push(Entry(msg.sender, msg.value, false, address(0), 0, 0, 0, keccak256(msg.data), block.timestamp));
    }

    receive() external payable {
        _entries.push(Entry(msg.sender, msg.value, false, address(0), 0, 0, 0, keccak256(""), block.timestamp));
    }

    function count() external view returns (uint256) {
        return _entries.length;
    }

    function entry(uint256 i) external view returns (Entry memory) {
        return _entries[i];
    }
}

/// @dev A token that remembers the largest amount it ever moved, so a per-transfer cap can be checked after the fact.
contract RecordingToken is MockToken {
    uint256 public largestTransfer;
    uint256 public transfers;

    function _update(address from, address to, uint256 value) internal override {
        if (from != address(0)) {
            ++transfers;
            if (value > largestTransfer) largestTransfer = value;
        }
        super._update(from, to, value);
    }
}
