// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @dev Saturating arithmetic for the validator's counters: a sum that would wrap is `2^256 - 1`, so the cap check
/// that follows fails instead of passing on a wrapped total.
library Saturating {
    /// @dev `a + b`, or `2^256 - 1` when it overflows.
    function add(uint256 a, uint256 b) internal pure returns (uint256) {
        unchecked {
            uint256 c = a + b;
            return c < a ? type(uint256).max : c;
        }
    }
}
