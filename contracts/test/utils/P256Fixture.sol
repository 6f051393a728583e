// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {PackedUserOperation} from "@openzeppelin/contracts/interfaces/IERC4337.sol";
import {WarrantFixture} from "./WarrantFixture.sol";
import {WarrantValidator} from "../../src/WarrantValidator.sol";

/// @dev The P-256 cheatcodes of forge 1.x (not in the shared `Vm` interface, so the shared fixture is untouched).
interface VmP256 {
    function signP256(uint256 privateKey, bytes32 digest) external pure returns (bytes32 r, bytes32 s);
    function publicKeyP256(uint256 privateKey) external pure returns (uint256 publicKeyX, uint256 publicKeyY);
}

/**
 * @dev P-256 session keys for tests: identifiers, the message each kind signs, and 129-byte session signatures
 * `kind ‖ x ‖ y ‖ r ‖ s` (low `s`) made with forge's `signP256`. P256VERIFY (0x100) exists from Osaka on, and the
 * project's EVM is Prague: a test contract using it sets `default.evm_version = "osaka"` in the inline config of its doc
 * comment (the `setEvmVersion` cheatcode changes opcodes, not the precompiles of a running test).
 */
abstract contract P256Fixture is WarrantFixture {
    VmP256 internal constant vmp = VmP256(address(uint160(uint256(keccak256("hevm cheat code")))));

    uint256 internal constant N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551;
    uint256 internal constant HALF_N = N / 2;
    uint8 internal constant RAW = 1;
    uint8 internal constant WEBCRYPTO = 2;

    uint256 internal constant P256_PK = 0xA256;
    uint256 internal constant OTHER_P256_PK = 0xB256;

    // ------------------------------------------------------------ helpers

    function _pub(uint256 pk) internal pure returns (bytes32 x, bytes32 y) {
        (uint256 px, uint256 py) = vmp.publicKeyP256(pk);
        return (bytes32(px), bytes32(py));
    }

    function _id(uint8 kind, bytes32 x, bytes32 y) internal pure returns (address) {
        return address(uint160(uint256(keccak256(abi.encodePacked(kind, x, y)))));
    }

    function _id(uint8 kind, uint256 pk) internal pure returns (address) {
        (bytes32 x, bytes32 y) = _pub(pk);
        return _id(kind, x, y);
    }

    /// @dev What a key of `kind` signs for `digest`: the digest itself (raw) or its SHA-256 (WebCrypto).
    function _message(uint8 kind, bytes32 digest) internal pure returns (bytes32) {
        return kind == WEBCRYPTO ? sha256(abi.encodePacked(digest)) : digest;
    }

    /// @dev (r, s) over `h` by `pk`, `s` normalised to the low half as the validator requires.
    function _rs(uint256 pk, bytes32 h) internal pure returns (bytes32 r, bytes32 s) {
        (r, s) = vmp.signP256(pk, h);
        if (uint256(s) > HALF_N) s = bytes32(N - uint256(s));
    }

    /// @dev The 129-byte session signature `kind ‖ x ‖ y ‖ r ‖ s` of `digest` by `pk` signing as `kind`.
    function _p256Sig(uint8 kind, uint256 pk, bytes32 digest) internal pure returns (bytes memory) {
        (bytes32 x, bytes32 y) = _pub(pk);
        (bytes32 r, bytes32 s) = _rs(pk, _message(kind, digest));
        return abi.encodePacked(kind, x, y, r, s);
    }

    function _p256Session(uint8 kind, uint256 pk) internal view returns (WarrantValidator.Session memory s) {
        s = _session(_transferPolicy(100e18));
        s.signer = _id(kind, pk);
    }

    /// @dev A USE op of `account` for `session`, signed by P-256 key `pk` as `kind`.
    function _p256SessionOp(
        address account,
        WarrantValidator.Session memory session,
        uint8 kind,
        uint256 pk,
        bytes memory callData
    ) internal view returns (PackedUserOperation memory op) {
        op = _op(account, _validatorKey(), callData);
        bytes memory encoded = validator.sessionBytes(session);
        op.signature = _useSignature(encoded, _p256Sig(kind, pk, _useDigestOf(op, encoded, 0)));
    }
}
