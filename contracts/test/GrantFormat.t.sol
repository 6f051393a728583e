// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";
import {WarrantFixture} from "./utils/WarrantFixture.sol";
import {WarrantValidator} from "../src/WarrantValidator.sol";

/// @dev docs/grant-format.md, checked: the type strings, the hashes, the session id and the ERC-7739 envelopes.
contract GrantFormatTest is WarrantFixture {
    string internal constant ARG_CONDITION =
        "ArgCondition(uint8 condition,uint8 argType,uint16 argIndex,bytes32[] values)";
    string internal constant CALL_POLICY =
        "CallPolicy(address target,bytes4 selector,uint8 flags,uint256 maxValue,ArgCondition[] conditions)";
    string internal constant SCOPE = "Scope(uint48 validAfter,uint48 validUntil,uint32 maxUses,uint256 maxValueTotal,"
        "address paymaster,uint128 maxGasLimit,uint128 maxFeePerGas,CallPolicy[] calls,uint32 period,"
        "uint48 periodStart,uint32 maxUsesPerPeriod,SpendLimit[] limits,Gate[] gates)";
    string internal constant GATE = "Gate(address token,uint8 kind,uint256 tokenId,uint256 minBalance)";
    string internal constant SPEND_LIMIT = "SpendLimit(address token,uint128 perPeriod,uint128 lifetime)";
    string internal constant SESSION = "Session(address signer,bytes32 salt,Scope scope)";
    string internal constant GRANT = "Grant(address account,uint64 epoch,Session session)";

    function _sample() internal view returns (WarrantValidator.Grant memory g) {
        WarrantValidator.CallPolicy[] memory calls = new WarrantValidator.CallPolicy[](2);
        calls[0] = _transferPolicy(100e18);
        calls[1] = _policy(address(target), target.ping.selector, 1 ether);
        calls[1].flags = 2;
        WarrantValidator.Session memory s = _session(calls);
        s.salt = keccak256("salt");
        WarrantValidator.SpendLimit[] memory limits = new WarrantValidator.SpendLimit[](1);
        limits[0] = WarrantValidator.SpendLimit(address(token), 50e18, type(uint128).max);
        WarrantValidator.Gate[] memory gates = new WarrantValidator.Gate[](2);
        gates[0] = WarrantValidator.Gate(address(token), 0, 0, 1e18);
        gates[1] = WarrantValidator.Gate(address(0x1155), 2, 7, 1);
        s.scope = WarrantValidator.Scope(
            10, 20, 3, 4 ether, address(0x9A), 5_000_000, 7 gwei, calls, 1 days, 1_700_000_000, 5, limits, gates
        );
        g = _grant(proxy, s);
    }

    function _hashCondition(WarrantValidator.ArgCondition memory c) internal pure returns (bytes32) {
        return keccak256(
            abi.encode(
                keccak256(bytes(ARG_CONDITION)),
                c.condition,
                c.argType,
                c.argIndex,
                keccak256(abi.encodePacked(c.values))
            )
        );
    }

    function _hashPolicy(WarrantValidator.CallPolicy memory p) internal pure returns (bytes32) {
        bytes32[] memory h = new bytes32[](p.conditions.length);
        for (uint256 i = 0; i < h.length; ++i) {
            h[i] = _hashCondition(p.conditions[i]);
        }
        return keccak256(
            abi.encode(
                keccak256(abi.encodePacked(CALL_POLICY, ARG_CONDITION)),
                p.target,
                p.selector,
                p.flags,
                p.maxValue,
                keccak256(abi.encodePacked(h))
            )
        );
    }

    function _hashScope(WarrantValidator.Scope memory s) internal pure returns (bytes32) {
        bytes32[] memory h = new bytes32[](s.calls.length);
        for (uint256 i = 0; i < h.length; ++i) {
            h[i] = _hashPolicy(s.calls[i]);
        }
        bytes32[] memory l = new bytes32[](s.limits.length);
        for (uint256 i = 0; i < l.length; ++i) {
            l[i] = keccak256(
                abi.encode(
                    keccak256(bytes(SPEND_LIMIT)), s.limits[i].token, s.limits[i].perPeriod, s.limits[i].lifetime
                )
            );
        }
        bytes32[] memory g = new bytes32[](s.gates.length);
        for (uint256 i = 0; i < g.length; ++i) {
            WarrantValidator.Gate memory x = s.gates[i];
            g[i] = keccak256(abi.encode(keccak256(bytes(GATE)), x.token, x.kind, x.tokenId, x.minBalance));
        }
        return keccak256(
            abi.encode(
                keccak256(abi.encodePacked(SCOPE, ARG_CONDITION, CALL_POLICY, GATE, SPEND_LIMIT)),
                s.validAfter,
                s.validUntil,
                s.maxUses,
                s.maxValueTotal,
                s.paymaster,
                s.maxGasLimit,
                s.maxFeePerGas,
                keccak256(abi.encodePacked(h)),
                s.period,
                s.periodStart,
                s.maxUsesPerPeriod,
                keccak256(abi.encodePacked(l)),
                keccak256(abi.encodePacked(g))
            )
        );
    }

    function _hashSession(WarrantValidator.Session memory s) internal pure returns (bytes32) {
        return keccak256(
            abi.encode(
                keccak256(abi.encodePacked(SESSION, ARG_CONDITION, CALL_POLICY, GATE, SCOPE, SPEND_LIMIT)),
                s.signer,
                s.salt,
                _hashScope(s.scope)
            )
        );
    }

    function test_typeStringsHashesAndId() public view {
        WarrantValidator.Grant memory g = _sample();
        vm.assertEq(validator.scopeHash(g.session.scope), _hashScope(g.session.scope), "Scope");
        bytes32 grantStruct = keccak256(
            abi.encode(
                keccak256(abi.encodePacked(GRANT, ARG_CONDITION, CALL_POLICY, GATE, SCOPE, SESSION, SPEND_LIMIT)),
                g.account,
                g.epoch,
                _hashSession(g.session)
            )
        );
        vm.assertEq(validator.grantHash(g), grantStruct, "Grant");
        bytes32 domain = keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256("Warrant"),
                keccak256("1"),
                block.chainid,
                address(validator)
            )
        );
        vm.assertEq(validator.grantDigest(g), MessageHashUtils.toTypedDataHash(domain, grantStruct), "digest");
        vm.assertEq(
            validator.sessionId(proxy, g.session),
            keccak256(abi.encodePacked(proxy, validator.sessionBytes(g.session))),
            "session id"
        );
    }

    /// @dev The implicit ERC-7739 form (contentsDescr = `Grant(…)` then its referenced types), as the Rust toolkit
    /// builds it, verifies on WarrantAccount like the explicit form the fixture uses.
    function test_erc7739ImplicitContentsDescr() public view {
        WarrantValidator.Grant memory g = _sample();
        string memory descr = string.concat(GRANT, ARG_CONDITION, CALL_POLICY, GATE, SCOPE, SESSION, SPEND_LIMIT);
        bytes32 appSeparator = keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256("Warrant"),
                keccak256("1"),
                block.chainid,
                address(validator)
            )
        );
        bytes32 contents = validator.grantHash(g);
        bytes32 typehash = keccak256(
            abi.encodePacked(
                "TypedDataSign(Grant contents,string name,string version,uint256 chainId,address verifyingContract,bytes32 salt)",
                descr
            )
        );
        bytes32 structHash = keccak256(
            abi.encode(
                typehash, contents, keccak256("WarrantAccount"), keccak256("1"), block.chainid, proxy, bytes32(0)
            )
        );
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(ownerPk, MessageHashUtils.toTypedDataHash(appSeparator, structHash));
        bytes memory sig = abi.encodePacked(r, s, v, appSeparator, contents, descr, uint16(bytes(descr).length));
        vm.assertEq(
            IERC1271(proxy).isValidSignature(validator.grantDigest(g), sig),
            IERC1271.isValidSignature.selector,
            "implicit"
        );
        vm.assertEq(
            IERC1271(proxy).isValidSignature(validator.grantDigest(g), _ownerGrantSig(proxy, ownerPk, g)),
            IERC1271.isValidSignature.selector,
            "explicit"
        );
    }
}
