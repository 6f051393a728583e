// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {PackedUserOperation} from "@openzeppelin/contracts/interfaces/IERC4337.sol";
import {Errors} from "@openzeppelin/contracts/utils/Errors.sol";
import {P256Fixture} from "./utils/P256Fixture.sol";
import {WarrantValidator} from "../src/WarrantValidator.sol";

/**
 * @dev P-256 session keys (docs/grant-format.md, "Session signatures"): a session whose `signer` is the identifier
 * `address(keccak256(kind ‖ x ‖ y))` accepts a 129-byte `kind ‖ x ‖ y ‖ r ‖ s` session signature, verified by the
 * EIP-7951 precompile (0x100, Osaka). Each test tries to break one rule: high `s`, `r`/`s` out of range, a swapped
 * kind, another key, a point off the curve, a wrong length, the WebCrypto message under the raw kind and the
 * reverse, in USE and ENABLE mode. Every refusal is a signature failure (AA24), never a revert.
 * forge-config: default.evm_version = "osaka"
 */
contract P256SessionsTest is P256Fixture {
    /// @dev An unsigned USE op of `account` with its digest.
    function _useOp(address account, WarrantValidator.Session memory session, bytes memory callData)
        internal
        view
        returns (PackedUserOperation memory op, bytes memory encoded, bytes32 digest)
    {
        op = _op(account, _validatorKey(), callData);
        encoded = validator.sessionBytes(session);
        digest = _useDigestOf(op, encoded, 0);
    }

    /// @dev A USE op of `account` carrying `sessionSignature` as computed by `sign` from the digest.
    function _signedUse(address account, WarrantValidator.Session memory session, uint8 kind, uint256 pk)
        internal
        view
        returns (PackedUserOperation memory op)
    {
        (PackedUserOperation memory o, bytes memory encoded, bytes32 digest) =
            _useOp(account, session, _transfer(recipient, 1e18));
        o.signature = _useSignature(encoded, _p256Sig(kind, pk, digest));
        return o;
    }

    function _withSessionSignature(PackedUserOperation memory op, bytes memory encoded, bytes memory sig)
        internal
        pure
        returns (PackedUserOperation memory)
    {
        op.signature = _useSignature(encoded, sig);
        return op;
    }

    /// @dev An ENABLE op of `account` for `session` whose session signature is built from the enable digest.
    function _enableOp(address account, WarrantValidator.Session memory session, uint256 ownerKey)
        internal
        view
        returns (PackedUserOperation memory op, WarrantValidator.Grant memory grant, bytes memory ownerSig, bytes32 d)
    {
        op = _op(account, _validatorKey(), _transfer(recipient, 1e18));
        grant = _grant(account, session);
        ownerSig = _ownerGrantSig(account, ownerKey, grant);
        d = validator.enableDigest(
            ep.getUserOpHash(op), validator.sessionId(account, session), 0, validator.grantDigest(grant)
        );
    }

    function _enableSig(WarrantValidator.Grant memory grant, bytes memory ownerSig, bytes memory sessionSig)
        internal
        pure
        returns (bytes memory)
    {
        return abi.encodePacked(uint8(1), uint32(0), abi.encode(grant, ownerSig, sessionSig));
    }

    /// @dev `validateUserOp` called by `account` itself, as its execution of a session op would: the validation data.
    function _validate(address account, PackedUserOperation memory op) internal returns (uint256) {
        bytes32 hash = ep.getUserOpHash(op);
        vm.prank(account);
        return validator.validateUserOp(op, hash);
    }

    // ------------------------------------------------------------ accepted

    function test_p256Raw_useTransfersOnBothAccounts() public {
        address[2] memory accounts = [eoa, proxy];
        uint256[2] memory owners = [eoaPk, ownerPk];
        for (uint256 i = 0; i < 2; ++i) {
            WarrantValidator.Session memory s = _p256Session(RAW, P256_PK);
            _enableStatic(accounts[i], owners[i], s);
            uint256 before = token.balanceOf(recipient);
            _handle(_signedUse(accounts[i], s, RAW, P256_PK));
            vm.assertEq(token.balanceOf(recipient), before + 1e18, "raw P-256 session transferred");
        }
    }

    function test_p256WebCrypto_useTransfersOnBothAccounts() public {
        address[2] memory accounts = [eoa, proxy];
        uint256[2] memory owners = [eoaPk, ownerPk];
        for (uint256 i = 0; i < 2; ++i) {
            WarrantValidator.Session memory s = _p256Session(WEBCRYPTO, P256_PK);
            _enableStatic(accounts[i], owners[i], s);
            uint256 before = token.balanceOf(recipient);
            _handle(_signedUse(accounts[i], s, WEBCRYPTO, P256_PK));
            vm.assertEq(token.balanceOf(recipient), before + 1e18, "WebCrypto P-256 session transferred");
        }
    }

    /// @dev The first op carries the owner's grant of a WebCrypto session; the next one is a plain USE.
    function test_p256WebCrypto_enableThenUse() public {
        WarrantValidator.Session memory s = _p256Session(WEBCRYPTO, P256_PK);
        (PackedUserOperation memory op, WarrantValidator.Grant memory g, bytes memory ownerSig, bytes32 d) =
            _enableOp(proxy, s, ownerPk);
        op.signature = _enableSig(g, ownerSig, _p256Sig(WEBCRYPTO, P256_PK, d));
        _handle(op);
        (uint8 status,,) = validator.sessionState(proxy, validator.sessionId(proxy, s));
        vm.assertEq(status, 1, "enabled by the grant");
        _handle(_signedUse(proxy, s, WEBCRYPTO, P256_PK));
        vm.assertEq(token.balanceOf(recipient), 2e18, "both ops transferred");
    }

    /// @dev A signature exactly as forge produced it (either half of `s`) is accepted only in its low form.
    function test_p256_lowSFormAcceptedHighSFormRefused() public {
        WarrantValidator.Session memory s = _p256Session(RAW, P256_PK);
        _enableStatic(proxy, ownerPk, s);
        (PackedUserOperation memory op, bytes memory encoded, bytes32 digest) =
            _useOp(proxy, s, _transfer(recipient, 1e18));
        (bytes32 x, bytes32 y) = _pub(P256_PK);
        (bytes32 r, bytes32 low) = _rs(P256_PK, digest);
        bytes32 high = bytes32(N - uint256(low));
        vm.assertEq(
            _validate(proxy, _withSessionSignature(op, encoded, abi.encodePacked(RAW, x, y, r, high))),
            1,
            "high s: signature failure"
        );
        vm.assertEq(
            _validate(proxy, _withSessionSignature(op, encoded, abi.encodePacked(RAW, x, y, r, low))), 0, "low s: valid"
        );
    }

    // ------------------------------------------------------------ refused: USE mode

    function test_p256_highS_refused() public {
        WarrantValidator.Session memory s = _p256Session(WEBCRYPTO, P256_PK);
        _enableStatic(proxy, ownerPk, s);
        (PackedUserOperation memory op, bytes memory encoded, bytes32 digest) =
            _useOp(proxy, s, _transfer(recipient, 1e18));
        (bytes32 x, bytes32 y) = _pub(P256_PK);
        (bytes32 r, bytes32 low) = _rs(P256_PK, _message(WEBCRYPTO, digest));
        // The same point: (r, n - s) verifies under plain ECDSA (the precompile accepts it), not here.
        _expectFailedOp(
            _withSessionSignature(op, encoded, abi.encodePacked(WEBCRYPTO, x, y, r, bytes32(N - uint256(low)))),
            "AA24 signature error"
        );
    }

    function test_p256_rOrSOutOfRange_refused() public {
        WarrantValidator.Session memory s = _p256Session(RAW, P256_PK);
        _enableStatic(proxy, ownerPk, s);
        (PackedUserOperation memory op, bytes memory encoded, bytes32 digest) =
            _useOp(proxy, s, _transfer(recipient, 1e18));
        (bytes32 x, bytes32 y) = _pub(P256_PK);
        (bytes32 r, bytes32 sv) = _rs(P256_PK, digest);
        bytes32[2][5] memory bad =
            [[bytes32(0), sv], [r, bytes32(0)], [bytes32(N), sv], [r, bytes32(N)], [bytes32(type(uint256).max), sv]];
        for (uint256 i = 0; i < bad.length; ++i) {
            vm.assertEq(
                _validate(proxy, _withSessionSignature(op, encoded, abi.encodePacked(RAW, x, y, bad[i][0], bad[i][1]))),
                1,
                "r or s out of range: signature failure"
            );
        }
    }

    /// @dev A raw key's signature relabelled WebCrypto (or the reverse) names another identifier: not the signer.
    function test_p256_swappedKind_refused() public {
        for (uint8 kind = RAW; kind <= WEBCRYPTO; ++kind) {
            uint8 other = kind == RAW ? WEBCRYPTO : RAW;
            WarrantValidator.Session memory s = _p256Session(kind, P256_PK);
            s.salt = bytes32(uint256(kind));
            _enableStatic(proxy, ownerPk, s);
            (PackedUserOperation memory op, bytes memory encoded, bytes32 digest) =
                _useOp(proxy, s, _transfer(recipient, 1e18));
            // Signed correctly for the other kind (its message), labelled with it: a valid signature, wrong key id.
            vm.assertEq(
                _validate(proxy, _withSessionSignature(op, encoded, _p256Sig(other, P256_PK, digest))),
                1,
                "the other kind's identifier is not the session's signer"
            );
            // Signed for this kind but labelled with the other: the kind byte changes the message and the id.
            bytes memory sig = _p256Sig(kind, P256_PK, digest);
            sig[0] = bytes1(other);
            vm.assertEq(
                _validate(proxy, _withSessionSignature(op, encoded, sig)), 1, "relabelled kind: signature failure"
            );
        }
    }

    /// @dev The WebCrypto message (sha256 of the digest) under the raw kind, and the raw digest under WebCrypto.
    function test_p256_messageConfusion_refused() public {
        for (uint8 kind = RAW; kind <= WEBCRYPTO; ++kind) {
            WarrantValidator.Session memory s = _p256Session(kind, P256_PK);
            s.salt = bytes32(uint256(kind));
            _enableStatic(proxy, ownerPk, s);
            (PackedUserOperation memory op, bytes memory encoded, bytes32 digest) =
                _useOp(proxy, s, _transfer(recipient, 1e18));
            (bytes32 x, bytes32 y) = _pub(P256_PK);
            bytes32 wrongMessage = kind == RAW ? sha256(abi.encodePacked(digest)) : digest;
            (bytes32 r, bytes32 sv) = _rs(P256_PK, wrongMessage);
            vm.assertEq(
                _validate(proxy, _withSessionSignature(op, encoded, abi.encodePacked(kind, x, y, r, sv))),
                1,
                "the other kind's message: signature failure"
            );
            vm.assertEq(
                _validate(proxy, _withSessionSignature(op, encoded, _p256Sig(kind, P256_PK, digest))),
                0,
                "this kind's message: valid"
            );
        }
    }

    function test_p256_otherKey_refused() public {
        WarrantValidator.Session memory s = _p256Session(RAW, P256_PK);
        _enableStatic(proxy, ownerPk, s);
        (PackedUserOperation memory op, bytes memory encoded, bytes32 digest) =
            _useOp(proxy, s, _transfer(recipient, 1e18));
        // Another key, presenting its own public key: a valid signature, but its identifier is not the signer.
        _expectFailedOp(
            _withSessionSignature(op, encoded, _p256Sig(RAW, OTHER_P256_PK, digest)), "AA24 signature error"
        );
        // Another key's signature presented with the session key's public key: the precompile refuses it.
        bytes memory sig = _p256Sig(RAW, OTHER_P256_PK, digest);
        (bytes32 x, bytes32 y) = _pub(P256_PK);
        assembly ("memory-safe") {
            mstore(add(sig, 0x21), x)
            mstore(add(sig, 0x41), y)
        }
        vm.assertEq(_validate(proxy, _withSessionSignature(op, encoded, sig)), 1, "wrong key: signature failure");
        // A secp256k1 signature can't stand for a P-256 identifier.
        vm.assertEq(
            _validate(proxy, _withSessionSignature(op, encoded, _sessionSig(digest, sessionPk))),
            1,
            "secp256k1 signature for a P-256 session: failure"
        );
    }

    /// @dev A point off the curve (the attacker picks the session's identifier from it) never verifies, whatever r, s.
    function test_p256_offCurvePoint_refused() public {
        (bytes32 x, bytes32 y) = _pub(P256_PK);
        bytes32[2][4] memory points = [
            [x, bytes32(uint256(y) ^ 1)],
            [bytes32(0), bytes32(0)],
            [x, bytes32(uint256(0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF))], // y = p
            [bytes32(type(uint256).max), y]
        ];
        for (uint256 i = 0; i < points.length; ++i) {
            WarrantValidator.Session memory s = _p256Session(RAW, P256_PK);
            s.signer = _id(RAW, points[i][0], points[i][1]);
            _enableStatic(proxy, ownerPk, s);
            (PackedUserOperation memory op, bytes memory encoded, bytes32 digest) =
                _useOp(proxy, s, _transfer(recipient, 1e18));
            (bytes32 r, bytes32 sv) = _rs(P256_PK, digest);
            vm.assertEq(
                _validate(
                    proxy, _withSessionSignature(op, encoded, abi.encodePacked(RAW, points[i][0], points[i][1], r, sv))
                ),
                1,
                "off-curve key: signature failure"
            );
        }
    }

    /// @dev Any length but 65 and 129, and any kind byte but 1 and 2, is a signature failure (no revert).
    function test_p256_wrongLengthOrKind_refused() public {
        WarrantValidator.Session memory s = _p256Session(RAW, P256_PK);
        _enableStatic(proxy, ownerPk, s);
        (PackedUserOperation memory op, bytes memory encoded, bytes32 digest) =
            _useOp(proxy, s, _transfer(recipient, 1e18));
        bytes memory good = _p256Sig(RAW, P256_PK, digest);
        vm.assertEq(_validate(proxy, _withSessionSignature(op, encoded, good)), 0, "the well-formed one is valid");
        uint256[6] memory lengths = [uint256(0), 64, 65, 128, 130, 161];
        for (uint256 i = 0; i < lengths.length; ++i) {
            bytes memory sig = new bytes(lengths[i]);
            for (uint256 j = 0; j < sig.length; ++j) {
                sig[j] = j < good.length ? good[j] : bytes1(0);
            }
            vm.assertEq(_validate(proxy, _withSessionSignature(op, encoded, sig)), 1, "wrong length: failure");
        }
        uint8[4] memory kinds = [0, 3, 4, 0xff];
        for (uint256 i = 0; i < kinds.length; ++i) {
            bytes memory sig = _p256Sig(RAW, P256_PK, digest);
            sig[0] = bytes1(kinds[i]);
            vm.assertEq(_validate(proxy, _withSessionSignature(op, encoded, sig)), 1, "unknown kind: failure");
        }
    }

    /// @dev Any one-bit change of a valid session signature is a signature failure, never a revert or a pass.
    function testFuzz_p256_anyBitFlipRefused(uint256 index, uint8 bit) public {
        WarrantValidator.Session memory s = _p256Session(WEBCRYPTO, P256_PK);
        _enableStatic(proxy, ownerPk, s);
        (PackedUserOperation memory op, bytes memory encoded, bytes32 digest) =
            _useOp(proxy, s, _transfer(recipient, 1e18));
        bytes memory sig = _p256Sig(WEBCRYPTO, P256_PK, digest);
        index = _bound(index, 0, sig.length - 1);
        sig[index] = bytes1(uint8(sig[index]) ^ uint8(1 << (bit % 8)));
        vm.assertEq(_validate(proxy, _withSessionSignature(op, encoded, sig)), 1, "flipped bit: failure");
    }

    // ------------------------------------------------------------ refused: ENABLE mode

    function test_p256Enable_badSessionSignatures_refused() public {
        WarrantValidator.Session memory s = _p256Session(WEBCRYPTO, P256_PK);
        (PackedUserOperation memory op, WarrantValidator.Grant memory g, bytes memory ownerSig, bytes32 d) =
            _enableOp(proxy, s, ownerPk);
        (bytes32 x, bytes32 y) = _pub(P256_PK);
        (bytes32 r, bytes32 low) = _rs(P256_PK, _message(WEBCRYPTO, d));
        (bytes32 rRaw, bytes32 sRaw) = _rs(P256_PK, d);
        bytes[6] memory bad = [
            abi.encodePacked(WEBCRYPTO, x, y, r, bytes32(N - uint256(low))), // high s
            abi.encodePacked(WEBCRYPTO, x, y, rRaw, sRaw), // the raw message under WebCrypto
            _p256Sig(RAW, P256_PK, d), // the raw kind: another identifier
            _p256Sig(WEBCRYPTO, OTHER_P256_PK, d), // another key
            abi.encodePacked(WEBCRYPTO, x, bytes32(uint256(y) ^ 1), r, low), // off the curve
            abi.encodePacked(WEBCRYPTO, x, y, r) // truncated
        ];
        for (uint256 i = 0; i < bad.length; ++i) {
            // Each from the same state: a validation enables the session as it checks it.
            uint256 snap = _snapshotState();
            op.signature = _enableSig(g, ownerSig, bad[i]);
            vm.assertEq(_validate(proxy, op), 1, "ENABLE with a bad P-256 session signature: failure");
            _revertTo(snap);
        }
        op.signature = _enableSig(g, ownerSig, bad[0]);
        _expectFailedOp(op, "AA24 signature error");
        op.signature = _enableSig(g, ownerSig, _p256Sig(WEBCRYPTO, P256_PK, d));
        _handle(op);
        vm.assertEq(token.balanceOf(recipient), 1e18, "the well-signed ENABLE op ran");
    }

    // ------------------------------------------------------------ estimation and chains without the precompile

    /**
     * @dev Estimation: a dummy signature by a throwaway P-256 key (what `warrant_core::p256::estimation_signature`
     * builds) fails the signature, runs every other rule, and costs no less gas than the real signature.
     */
    function test_p256_dummySignatureEstimatesFaithfully() public {
        WarrantValidator.Session memory s = _p256Session(WEBCRYPTO, P256_PK);
        _enableStatic(proxy, ownerPk, s);
        (PackedUserOperation memory op, bytes memory encoded, bytes32 digest) =
            _useOp(proxy, s, _transfer(recipient, 1e18));
        (uint256 realResult, uint256 realGas) = _validationGas(op, encoded, _p256Sig(WEBCRYPTO, P256_PK, digest));
        (uint256 dummyResult, uint256 dummyGas) =
            _validationGas(op, encoded, _p256Sig(WEBCRYPTO, OTHER_P256_PK, digest));
        // A dummy that does not verify (the session key's coordinates, a wrong s) makes OpenZeppelin's P256 probe
        // the precompile a second time with a known-good vector: it over-estimates by about one precompile call.
        bytes memory wrong = _p256Sig(WEBCRYPTO, P256_PK, keccak256(abi.encode(digest)));
        (uint256 wrongResult, uint256 wrongGas) = _validationGas(op, encoded, wrong);
        // The secp256k1 session's dummy (a throwaway key's signature) for comparison.
        WarrantValidator.Session memory k1 = _session(_transferPolicy(100e18));
        _enableStatic(proxy, ownerPk, k1);
        (PackedUserOperation memory op1, bytes memory encoded1, bytes32 digest1) =
            _useOp(proxy, k1, _transfer(recipient, 1e18));
        (, uint256 k1Real) = _validationGas(op1, encoded1, _sessionSig(digest1, sessionPk));
        (uint256 k1DummyResult, uint256 k1Dummy) = _validationGas(op1, encoded1, _sessionSig(digest1, 0xD0));
        vm.assertEq(realResult, 0, "real: valid");
        vm.assertEq(dummyResult, 1, "dummy: signature failure");
        vm.assertEq(wrongResult, 1, "non-verifying dummy: signature failure");
        vm.assertEq(k1DummyResult, 1, "secp256k1 dummy: signature failure");
        _log("p256 validation gas, real", realGas);
        _log("p256 validation gas, throwaway-key dummy", dummyGas);
        _log("p256 validation gas, non-verifying dummy", wrongGas);
        _log("secp256k1 validation gas, real", k1Real);
        _log("secp256k1 validation gas, throwaway-key dummy", k1Dummy);
        // The dummy skips the gas and fee caps and counts 1 wei of gas (a few hundred gas less, as the secp256k1
        // dummy does) and otherwise runs what the real signature runs, one precompile call included.
        uint256 p256Gap = realGas - dummyGas;
        uint256 k1Gap = k1Real - k1Dummy;
        vm.assertLt(p256Gap > k1Gap ? p256Gap - k1Gap : k1Gap - p256Gap, 16, "the P-256 dummy's gap is secp256k1's");
        vm.assertGt(wrongGas, realGas + 6_000, "a non-verifying dummy costs a second precompile call");
    }

    /// @dev The validation result and gas of `op` carrying `sig`, from the same state each time (cold validator).
    function _validationGas(PackedUserOperation memory op, bytes memory encoded, bytes memory sig)
        internal
        returns (uint256 result, uint256 used)
    {
        op.signature = _useSignature(encoded, sig);
        bytes32 hash = ep.getUserOpHash(op);
        uint256 snap = _snapshotState();
        vm.cool(address(validator));
        vm.prank(proxy);
        uint256 g0 = gasleft();
        result = validator.validateUserOp(op, hash);
        used = g0 - gasleft();
        _revertTo(snap);
    }

    // ------------------------------------------------------------ state snapshots

    function _snapshotState() internal returns (uint256 id) {
        (bool ok, bytes memory ret) = address(vm).call(abi.encodeWithSignature("snapshotState()"));
        vm.assertTrue(ok, "snapshotState");
        id = abi.decode(ret, (uint256));
    }

    function _revertTo(uint256 id) internal {
        (bool ok,) = address(vm).call(abi.encodeWithSignature("revertToState(uint256)", id));
        vm.assertTrue(ok, "revertToState");
    }
}

/// @dev A chain without P256VERIFY (the project's default EVM, Prague): P-256 session ops are refused with a named error.
contract P256WithoutPrecompileTest is P256Fixture {
    /// @dev Without the precompile (before Osaka) a P-256 op is refused with a named error, never verified in software.
    function test_p256_withoutPrecompile_revertsMissingPrecompile() public {
        WarrantValidator.Session memory s = _p256Session(RAW, P256_PK);
        _enableStatic(proxy, ownerPk, s);
        PackedUserOperation memory op = _p256SessionOp(proxy, s, RAW, P256_PK, _transfer(recipient, 1e18));
        bytes memory inner = _expectAA23(op, Errors.MissingPrecompile.selector);
        vm.assertEq(inner, abi.encodeWithSelector(Errors.MissingPrecompile.selector, address(0x100)), "names 0x100");
    }
}
