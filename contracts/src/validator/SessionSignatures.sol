// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {P256} from "@openzeppelin/contracts/utils/cryptography/P256.sol";

/**
 * @dev Who signed a session signature: a secp256k1 key (65 bytes `r ‖ s ‖ v`, the session's `signer` is its
 * address) or a P-256 key (129 bytes `kind ‖ x ‖ y ‖ r ‖ s`, the `signer` is the key's identifier). Every failure is
 * address 0, never a revert, so a bad signature is reported as `SIG_VALIDATION_FAILED` (AA24).
 */
library SessionSignatures {
    /**
     * @dev P-256 key kinds (first byte of a 129-byte session signature). RAW signs the session digest itself as the
     * ECDSA message hash; WEBCRYPTO signs `sha256(digest)`, since WebCrypto's ECDSA hashes the 32 digest bytes it is
     * given. The session's `signer` is the key's identifier
     * `address(uint160(uint256(keccak256(abi.encodePacked(kind, x, y)))))`, which commits to the kind.
     */
    uint8 internal constant P256_RAW = 1;
    uint8 internal constant P256_WEBCRYPTO = 2;

    /**
     * @dev The signer of a USE session signature over `digest`, or address 0: a 65-byte `r ‖ s ‖ v` is secp256k1
     * ({recoverCalldata}); a 129-byte `kind ‖ x ‖ y ‖ r ‖ s` is a P-256 key ({p256Signer}); any other length is
     * address 0 (a signature failure, never a revert).
     */
    function signerCalldata(bytes32 digest, bytes calldata signature) internal view returns (address) {
        if (signature.length == 65) return recoverCalldata(digest, signature);
        if (signature.length != 129) return address(0);
        return p256Signer(
            digest,
            uint8(signature[0]),
            bytes32(signature[1:33]),
            bytes32(signature[33:65]),
            bytes32(signature[65:97]),
            bytes32(signature[97:129])
        );
    }

    /// @dev {signerCalldata} for the ENABLE session signature, which `abi.decode` put in memory.
    function signerMemory(bytes32 digest, bytes memory signature) internal view returns (address) {
        if (signature.length == 65) {
            (address recovered, ECDSA.RecoverError err,) = ECDSA.tryRecover(digest, signature);
            return err == ECDSA.RecoverError.NoError ? recovered : address(0);
        }
        if (signature.length != 129) return address(0);
        uint256 kind;
        bytes32 x;
        bytes32 y;
        bytes32 r;
        bytes32 s;
        assembly ("memory-safe") {
            kind := byte(0, mload(add(signature, 0x20)))
            x := mload(add(signature, 0x21))
            y := mload(add(signature, 0x41))
            r := mload(add(signature, 0x61))
            s := mload(add(signature, 0x81))
        }
        return p256Signer(digest, kind, x, y, r, s);
    }

    /**
     * @dev The identifier of P-256 key (`x`, `y`) of `kind` if (`r`, `s`) signs `digest` as that kind signs it, else
     * address 0. OpenZeppelin's {P256-verifyNative} refuses `r` or `s` outside [1, n), a high `s` (above n/2: each
     * signature has one accepted form), and a point off the curve, before the EIP-7951 precompile at 0x100 checks the
     * signature; it reverts with `MissingPrecompile(0x100)` on a chain without it (never the ~300k-gas Solidity
     * verifier). An unknown kind is address 0. The identifier hashes the kind with the key, so a key enabled as RAW
     * can't sign as WEBCRYPTO (a different message) or the reverse.
     */
    function p256Signer(bytes32 digest, uint256 kind, bytes32 x, bytes32 y, bytes32 r, bytes32 s)
        internal
        view
        returns (address)
    {
        bytes32 h;
        if (kind == P256_RAW) h = digest;
        else if (kind == P256_WEBCRYPTO) h = sha256(abi.encodePacked(digest));
        else return address(0);
        if (!P256.verifyNative(h, r, s, x, y)) return address(0);
        return address(uint160(uint256(keccak256(abi.encodePacked(uint8(kind), x, y)))));
    }

    /**
     * @dev ECDSA recovery of a 65-byte `r ‖ s ‖ v` signature as OpenZeppelin's `tryRecoverCalldata` does it (any
     * other length, an `s` in the upper half of the order or a failed recovery give address 0), without its memory
     * round trips.
     */
    function recoverCalldata(bytes32 hash, bytes calldata signature) internal view returns (address signer) {
        if (signature.length != 65) return address(0);
        assembly ("memory-safe") {
            let s := calldataload(add(signature.offset, 0x20))
            if iszero(gt(s, 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0)) {
                let m := mload(0x40)
                mstore(m, hash)
                mstore(add(m, 0x20), byte(0, calldataload(add(signature.offset, 0x40))))
                mstore(add(m, 0x40), calldataload(signature.offset))
                mstore(add(m, 0x60), s)
                mstore(0x00, 0)
                pop(staticcall(gas(), 0x01, m, 0x80, 0x00, 0x20))
                signer := mload(0x00)
            }
        }
    }
}
