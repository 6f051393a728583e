// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {PackedUserOperation} from "@openzeppelin/contracts/interfaces/IERC4337.sol";
import {Execution} from "@openzeppelin/contracts/account/utils/draft-ERC7579Utils.sol";
import {WarrantFixture} from "./utils/WarrantFixture.sol";
import {P256Fixture} from "./utils/P256Fixture.sol";
import {WarrantValidator} from "../src/WarrantValidator.sol";
import {MockNft} from "./mocks/Mocks.sol";

/// @dev The snapshot cheatcode (forge 1.x); written to `snapshots/<group>.json`, compared when `FORGE_SNAPSHOT_CHECK`.
interface VmSnapshot {
    function snapshotValue(string calldata group, string calldata name, uint256 value) external;
}

/**
 * @dev Gas snapshot of the operations Warrant users pay for, on both account kinds (EIP-7702 EOA and proxy): the
 * whole `handleOps` transaction a bundler sends with one operation, counted like a real transaction: 21,000 +
 * calldata (4/16 per zero/non-zero byte) + execution, with every account cold but the EntryPoint. Every measured
 * operation's nonce key has been used before and the recipient already holds ETH and tokens, so no figure includes a
 * first nonce write or a new balance. The figures land in
 * `snapshots/WarrantGas.json`; `FORGE_SNAPSHOT_CHECK=true scripts/forge test --mc GasTest` fails when one moves.
 */
abstract contract GasBase is WarrantFixture {
    VmSnapshot internal constant snap = VmSnapshot(address(uint160(uint256(keccak256("hevm cheat code")))));
    string internal constant GROUP = "WarrantGas";
    bytes4 internal constant TRANSFER = bytes4(keccak256("transfer(address,uint256)"));

    function _record(string memory kind, string memory name, uint256 value) internal {
        string memory key = string.concat(kind, "_", name);
        snap.snapshotValue(GROUP, key, value);
        _log(key, value);
    }

    /// @dev target = token, selector = transfer, amount (argument 1) <= 100e18, valid until a fixed time.
    function _benchSession() internal view returns (WarrantValidator.Session memory s) {
        WarrantValidator.CallPolicy memory p = _policy(address(token), TRANSFER, 0);
        p.conditions = new WarrantValidator.ArgCondition[](1);
        p.conditions[0] = _cond(3, 1, bytes32(uint256(100e18))); // LTE
        s = _session(p);
        s.scope.validUntil = 2_000_000_000;
    }
}

contract GasTest is GasBase {
    function _batch3() internal view returns (bytes memory) {
        Execution[] memory calls = new Execution[](3);
        for (uint256 i = 0; i < 3; ++i) {
            calls[i] = Execution(address(token), 0, abi.encodeWithSelector(TRANSFER, recipient, 1e18 + i));
        }
        return _execBatch(calls);
    }

    function _snapshot(string memory kind, address account, uint256 pk) internal {
        // The recipient already holds ETH and tokens: no figure includes creating an account or a balance.
        vm.deal(recipient, 1);
        token.mint(recipient, 1);
        // Owner operations (the account's nonce key 0 is already used by the fixture's module installation).
        _record(kind, "owner_eth_transfer", _measure(_ownerOp(account, pk, _execSingle(recipient, 1 ether, ""))));
        _record(kind, "owner_erc20_transfer", _measure(_ownerOp(account, pk, _transfer(recipient, 1e18))));

        // Session USE: enabled statically; one use first so the validator's nonce key is not fresh.
        WarrantValidator.Session memory s = _benchSession();
        _enableStatic(account, pk, s);
        _handle(_sessionOp(account, s, _transfer(recipient, 1)));
        _record(kind, "session_erc20_transfer", _measure(_sessionOp(account, s, _transfer(recipient, 1e18))));
        _record(kind, "session_batch3_erc20", _measure(_sessionOp(account, s, _batch3())));

        // Session USE with a daily spend limit on the token (docs/spend-limits.md): the same transfer, counted.
        WarrantValidator.Session memory limited = _benchSession();
        limited.salt = bytes32(uint256(2));
        limited.scope.period = 1 days;
        limited.scope.limits = new WarrantValidator.SpendLimit[](1);
        limited.scope.limits[0] = WarrantValidator.SpendLimit(address(token), 1000e18, type(uint128).max);
        _enableStatic(account, pk, limited);
        _handle(_sessionOp(account, limited, _transfer(recipient, 1))); // period 0: the counter is not fresh
        _record(
            kind,
            "session_spend_limited_erc20_transfer",
            _measure(_sessionOp(account, limited, _transfer(recipient, 1e18)))
        );

        // Session USE gated on an ERC-721 pass the account holds (docs/gating.md): the same transfer, one gate read.
        MockNft pass = new MockNft();
        pass.mint(account, 1);
        WarrantValidator.Session memory gated = _benchSession();
        gated.salt = bytes32(uint256(3));
        gated.scope.gates = new WarrantValidator.Gate[](1);
        gated.scope.gates[0] = WarrantValidator.Gate(address(pass), 1, 0, 1);
        _enableStatic(account, pk, gated);
        _handle(_sessionOp(account, gated, _transfer(recipient, 1)));
        PackedUserOperation memory gatedOp = _sessionOp(account, gated, _transfer(recipient, 1e18));
        vm.cool(address(pass));
        _record(kind, "session_gated_erc20_transfer", _measure(gatedOp));

        // ENABLE: a fresh session (another salt) presented with the owner's grant on its first operation.
        WarrantValidator.Session memory fresh = _benchSession();
        fresh.salt = bytes32(uint256(1));
        WarrantValidator.Grant memory g = _grant(account, fresh);
        PackedUserOperation memory op = _op(account, _validatorKey(), _transfer(recipient, 1e18));
        _signEnable(op, g, _ownerGrantSig(account, pk, g), sessionPk);
        _record(kind, "enable_erc20_transfer", _measure(op));
        (uint8 status,,) = validator.sessionState(account, validator.sessionId(account, fresh));
        vm.assertEq(status, 1, "enabled by the grant");

        // Revoke: an owner operation calling revokeSession(id) on the validator.
        bytes32 id = validator.sessionId(account, s);
        bytes memory revoke = _execSingle(address(validator), 0, abi.encodeCall(WarrantValidator.revokeSession, (id)));
        _record(kind, "owner_revoke_session", _measure(_ownerOp(account, pk, revoke)));
        (status,,) = validator.sessionState(account, id);
        vm.assertEq(status, 2, "revoked");
    }

    function test_gasSnapshot_7702() public {
        _snapshot("7702", eoa, eoaPk);
    }

    function test_gasSnapshot_proxy() public {
        _snapshot("proxy", proxy, ownerPk);
    }
}

/**
 * @dev The P-256 rows of the snapshot (same group, same measurement), under Osaka, where P256VERIFY (0x100) exists.
 * Its secp256k1 row is measured under Osaka too, for the side-by-side figure. `--mc GasTest` runs it as well.
 * forge-config: default.evm_version = "osaka"
 */
contract GasTestP256 is GasBase, P256Fixture {
    /**
     * @dev P-256 session keys beside secp256k1 (docs/gas.md): the same session transfer under Osaka (P256VERIFY at
     * 0x100 exists from Osaka on), signed by a secp256k1 key, a raw P-256 key and a WebCrypto P-256 key, and the
     * ENABLE op of a WebCrypto key.
     */
    function _snapshotP256(string memory kind, address account, uint256 pk) internal {
        vm.deal(recipient, 1);
        token.mint(recipient, 1);
        WarrantValidator.Session memory k1 = _benchSession();
        k1.salt = bytes32(uint256(0x256));
        _enableStatic(account, pk, k1);
        _handle(_sessionOp(account, k1, _transfer(recipient, 1)));
        _record(kind, "osaka_session_erc20_transfer", _measure(_sessionOp(account, k1, _transfer(recipient, 1e18))));
        for (uint8 keyKind = RAW; keyKind <= WEBCRYPTO; ++keyKind) {
            WarrantValidator.Session memory s = _benchSession();
            s.signer = _id(keyKind, P256_PK);
            _enableStatic(account, pk, s);
            _handle(_p256SessionOp(account, s, keyKind, P256_PK, _transfer(recipient, 1)));
            _record(
                kind,
                keyKind == RAW ? "p256_raw_session_erc20_transfer" : "p256_webcrypto_session_erc20_transfer",
                _measure(_p256SessionOp(account, s, keyKind, P256_PK, _transfer(recipient, 1e18)))
            );
        }
        WarrantValidator.Session memory fresh = _benchSession();
        fresh.signer = _id(WEBCRYPTO, P256_PK);
        fresh.salt = bytes32(uint256(1));
        WarrantValidator.Grant memory g = _grant(account, fresh);
        PackedUserOperation memory op = _op(account, _validatorKey(), _transfer(recipient, 1e18));
        bytes32 d = validator.enableDigest(
            ep.getUserOpHash(op), validator.sessionId(account, fresh), 0, validator.grantDigest(g)
        );
        op.signature = abi.encodePacked(
            uint8(1), uint32(0), abi.encode(g, _ownerGrantSig(account, pk, g), _p256Sig(WEBCRYPTO, P256_PK, d))
        );
        _record(kind, "p256_webcrypto_enable_erc20_transfer", _measure(op));
    }

    function test_gasSnapshot_p256_7702() public {
        _snapshotP256("7702", eoa, eoaPk);
    }

    function test_gasSnapshot_p256_proxy() public {
        _snapshotP256("proxy", proxy, ownerPk);
    }
}
