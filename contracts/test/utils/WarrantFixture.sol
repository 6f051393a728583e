// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {PackedUserOperation} from "@openzeppelin/contracts/interfaces/IERC4337.sol";
import {IERC7579Execution, IERC7579ModuleConfig} from "@openzeppelin/contracts/interfaces/draft-IERC7579.sol";
import {Execution} from "@openzeppelin/contracts/account/utils/draft-ERC7579Utils.sol";
import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";
import {WarrantTest} from "./WarrantTest.sol";
import {WarrantAccount} from "../../src/WarrantAccount.sol";
import {WarrantAccountFactory} from "../../src/WarrantAccountFactory.sol";
import {WarrantValidator} from "../../src/WarrantValidator.sol";
import {MockToken, MockTarget} from "../mocks/Mocks.sol";

/// @dev The EntryPoint v0.8 functions and errors the tests use.
interface IEntryPointV08 {
    error FailedOp(uint256 opIndex, string reason);
    error FailedOpWithRevert(uint256 opIndex, string reason, bytes inner);

    function handleOps(PackedUserOperation[] calldata ops, address payable beneficiary) external;
    function getNonce(address sender, uint192 key) external view returns (uint256);
    function getUserOpHash(PackedUserOperation calldata userOp) external view returns (bytes32);
    function senderCreator() external view returns (address);
}

/**
 * @dev Deploys the real EntryPoint v0.8 at its canonical address (CREATE2 through the deterministic deployer, so
 * its constructor creates the SenderCreator), a factory, the validator, a token and two accounts: one EOA delegated
 * by EIP-7702 and one proxy. Both have the validator installed through real owner operations.
 */
abstract contract WarrantFixture is WarrantTest {
    address internal constant CREATE2_DEPLOYER = 0x4e59b44847b379578588920cA78FbF26c0B4956C;
    bytes32 internal constant ENTRYPOINT_SALT = 0x0a59dbff790c23c976a548690c27297883cc66b4c67024f9117b0238995e35e9;
    address internal constant ENTRYPOINT_ADDRESS = 0x4337084D9E255Ff0702461CF8895CE9E3b5Ff108;
    // Runtime code of Warrant's own CREATE2 deployer (the same 40 bytes as the in-process chain's, see
    // crates/chain/src/dev_chain.rs): `salt ‖ initcode` in, the 20-byte address out. Used only if the test EVM
    // has no deployer at the canonical address; CREATE2 addresses depend on the deployer's address, not its code.
    bytes internal constant CREATE2_DEPLOYER_CODE =
        hex"366020900380602060003760003590600034f5801560235760601b60005260146000f35b600080fd";

    bytes32 internal constant MODE_SINGLE = bytes32(0);
    bytes32 internal constant MODE_BATCH = bytes32(bytes1(0x01));

    IEntryPointV08 internal ep;
    WarrantAccountFactory internal factory;
    WarrantValidator internal validator;
    MockToken internal token;
    MockTarget internal target;

    uint256 internal eoaPk = 0xA11CE;
    uint256 internal ownerPk = 0xB0B;
    uint256 internal sessionPk = 0x5E55;
    address internal eoa; // EIP-7702 account
    address internal proxyOwner;
    address internal proxy; // proxy account
    address internal sessionKey;
    address internal recipient = address(0xBEEF);
    address payable internal beneficiary = payable(address(0xFEE));

    /// @dev maxFeePerGas of the operations {_op} builds. Realistic by default, so sessions pay their gas from their
    /// native budget (spec C); a test about something else than value accounting may set it to 0.
    uint256 internal opMaxFeePerGas = 2 gwei;

    function setUp() public virtual {
        _deployEntryPoint();
        factory = new WarrantAccountFactory();
        validator = new WarrantValidator();
        token = new MockToken();
        target = new MockTarget();
        eoa = vm.addr(eoaPk);
        proxyOwner = vm.addr(ownerPk);
        sessionKey = vm.addr(sessionPk);

        // EIP-7702: the EOA delegates to the shared implementation; the next call carries the authorization.
        vm.signAndAttachDelegation(address(factory.IMPLEMENTATION()), eoaPk);
        (bool ok,) = eoa.call("");
        vm.assertTrue(ok, "delegation call");
        vm.assertEq(
            eoa.code, abi.encodePacked(hex"ef0100", address(factory.IMPLEMENTATION())), "7702 delegation designator"
        );

        proxy = factory.createAccount(proxyOwner, bytes32(0));

        vm.deal(eoa, 100 ether);
        vm.deal(proxy, 100 ether);
        token.mint(eoa, 1000e18);
        token.mint(proxy, 1000e18);

        _ownerExec(eoa, eoaPk, abi.encodeCall(IERC7579ModuleConfig.installModule, (1, address(validator), "")));
        _ownerExec(proxy, ownerPk, abi.encodeCall(IERC7579ModuleConfig.installModule, (1, address(validator), "")));
    }

    function _deployEntryPoint() internal {
        if (CREATE2_DEPLOYER.code.length == 0) vm.etch(CREATE2_DEPLOYER, CREATE2_DEPLOYER_CODE);
        bytes memory initCode = vm.getCode("node_modules/@account-abstraction/contracts/artifacts/EntryPoint.json");
        (bool ok, bytes memory ret) = CREATE2_DEPLOYER.call(abi.encodePacked(ENTRYPOINT_SALT, initCode));
        vm.assertTrue(ok, "EntryPoint deployment");
        vm.assertEq(address(bytes20(ret)), ENTRYPOINT_ADDRESS, "canonical EntryPoint address");
        ep = IEntryPointV08(ENTRYPOINT_ADDRESS);
    }

    // ------------------------------------------------------------ user operations

    function _op(address sender, uint192 key, bytes memory callData)
        internal
        view
        returns (PackedUserOperation memory op)
    {
        op.sender = sender;
        op.nonce = ep.getNonce(sender, key);
        op.callData = callData;
        op.accountGasLimits = bytes32(uint256(2_000_000) << 128 | uint256(1_000_000));
        op.preVerificationGas = 100_000;
        op.gasFees = bytes32(uint256(opMaxFeePerGas < 1 gwei ? opMaxFeePerGas : 1 gwei) << 128 | opMaxFeePerGas);
    }

    /// @dev The most the EntryPoint can charge `op` without a paymaster: what a session's native budget is debited.
    function _gasCost(PackedUserOperation memory op) internal pure returns (uint256) {
        uint256 limits = uint256(op.accountGasLimits);
        return ((limits >> 128) + uint128(limits) + op.preVerificationGas) * uint128(uint256(op.gasFees));
    }

    function _validatorKey() internal view returns (uint192) {
        return uint192(uint160(address(validator))) << 32;
    }

    function _signOwner(PackedUserOperation memory op, uint256 pk) internal view {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(pk, ep.getUserOpHash(op));
        op.signature = abi.encodePacked(r, s, v);
    }

    function _ownerOp(address account, uint256 pk, bytes memory callData)
        internal
        view
        returns (PackedUserOperation memory op)
    {
        op = _op(account, 0, callData);
        _signOwner(op, pk);
    }

    function _ownerExec(address account, uint256 pk, bytes memory callData) internal {
        _handle(_ownerOp(account, pk, callData));
    }

    /// @dev A raw 65-byte ECDSA signature of `digest` (what a session key produces).
    function _sessionSig(bytes32 digest, uint256 pk) internal pure returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(pk, digest);
        return abi.encodePacked(r, s, v);
    }

    /// @dev The USE digest of `op` for the session whose bytes are `encoded`, naming `period`.
    function _useDigestOf(PackedUserOperation memory op, bytes memory encoded, uint32 period)
        internal
        view
        returns (bytes32)
    {
        return validator.useDigest(ep.getUserOpHash(op), keccak256(abi.encodePacked(op.sender, encoded)), period);
    }

    /// @dev USE-mode operation signed by `sessionPk`.
    function _sessionOp(address account, WarrantValidator.Session memory session, bytes memory callData)
        internal
        view
        returns (PackedUserOperation memory op)
    {
        op = _op(account, _validatorKey(), callData);
        _signUse(op, session, sessionPk);
    }

    /// @dev USE signature naming period 0: `0x00 ‖ period(4) ‖ w(len(sessionBytes)) ‖ sessionBytes ‖ sessionSignature`.
    function _signUse(PackedUserOperation memory op, WarrantValidator.Session memory session, uint256 pk)
        internal
        view
    {
        _signUse(op, session, pk, 0);
    }

    /// @dev USE signature naming `period`, signed by `pk` over {WarrantValidator-useDigest}.
    function _signUse(PackedUserOperation memory op, WarrantValidator.Session memory session, uint256 pk, uint32 period)
        internal
        view
    {
        op.signature = "";
        bytes memory encoded = validator.sessionBytes(session);
        op.signature = _useSignature(period, encoded, _sessionSig(_useDigestOf(op, encoded, period), pk));
    }

    function _useSignature(bytes memory encoded, bytes memory sessionSignature) internal pure returns (bytes memory) {
        return _useSignature(0, encoded, sessionSignature);
    }

    /// @dev `0x00 ‖ period(4) ‖ w(len(sessionBytes)) ‖ sessionBytes ‖ sessionSignature`; `w(x)`: byte count, then
    /// big-endian bytes.
    function _useSignature(uint32 period, bytes memory encoded, bytes memory sessionSignature)
        internal
        pure
        returns (bytes memory)
    {
        uint256 length = encoded.length;
        bytes memory word;
        while (length != 0) {
            word = abi.encodePacked(uint8(length), word);
            length >>= 8;
        }
        return abi.encodePacked(uint8(0), period, uint8(word.length), word, encoded, sessionSignature);
    }

    function _signEnable(
        PackedUserOperation memory op,
        WarrantValidator.Grant memory grant,
        bytes memory ownerSignature,
        uint256 pk
    ) internal view {
        _signEnable(op, grant, ownerSignature, pk, 0);
    }

    /// @dev ENABLE signature naming `period`: `0x01 ‖ period(4) ‖ abi.encode(grant, ownerSignature, sessionSig)`.
    function _signEnable(
        PackedUserOperation memory op,
        WarrantValidator.Grant memory grant,
        bytes memory ownerSignature,
        uint256 pk,
        uint32 period
    ) internal view {
        op.signature = "";
        // An ill-formed session has no id (enabling it reverts before the signature matters): sign with id 0.
        bytes32 id;
        try validator.sessionId(op.sender, grant.session) returns (bytes32 sid) {
            id = sid;
        } catch {}
        bytes32 digest = validator.enableDigest(ep.getUserOpHash(op), id, period, validator.grantDigest(grant));
        op.signature = abi.encodePacked(uint8(1), period, abi.encode(grant, ownerSignature, _sessionSig(digest, pk)));
    }

    /// @dev Total gas of a `handleOps` transaction carrying `op` alone, as a bundler would pay it: 21,000 + calldata
    /// (4/16 per byte) + execution, with every account cold except the EntryPoint (the transaction's destination).
    function _measure(PackedUserOperation memory op) internal returns (uint256 txGas) {
        PackedUserOperation[] memory ops = new PackedUserOperation[](1);
        ops[0] = op;
        bytes memory data = abi.encodeCall(IEntryPointV08.handleOps, (ops, beneficiary));
        vm.cool(op.sender);
        vm.cool(address(token));
        vm.cool(address(validator));
        vm.cool(recipient);
        vm.cool(address(factory.IMPLEMENTATION()));
        vm.cool(beneficiary);
        vm.cool(address(ep));
        uint256 g = gasleft();
        ep.handleOps(ops, beneficiary);
        uint256 used = g - gasleft();
        uint256 calldataCost;
        for (uint256 i = 0; i < data.length; ++i) {
            calldataCost += data[i] == 0 ? 4 : 16;
        }
        txGas = 21_000 + calldataCost + used;
    }

    function _handle(PackedUserOperation memory op) internal {
        PackedUserOperation[] memory ops = new PackedUserOperation[](1);
        ops[0] = op;
        ep.handleOps(ops, beneficiary);
    }

    function _handle2(PackedUserOperation memory a, PackedUserOperation memory b) internal {
        PackedUserOperation[] memory ops = new PackedUserOperation[](2);
        ops[0] = a;
        ops[1] = b;
        ep.handleOps(ops, beneficiary);
    }

    /// @dev Runs `ops` and asserts the validation of op `index` reverted (AA23) with the custom error `selector`.
    function _expectAA23(PackedUserOperation[] memory ops, uint256 index, bytes4 selector)
        internal
        returns (bytes memory inner)
    {
        try ep.handleOps(ops, beneficiary) {
            vm.assertTrue(false, "handleOps should have reverted");
        } catch (bytes memory err) {
            vm.assertEq(bytes4(err), IEntryPointV08.FailedOpWithRevert.selector, "FailedOpWithRevert");
            (uint256 opIndex, string memory reason, bytes memory data) =
                abi.decode(_slice(err, 4), (uint256, string, bytes));
            vm.assertEq(opIndex, index, "op index");
            vm.assertEq(reason, "AA23 reverted", "reason");
            vm.assertEq(bytes4(data), selector, "inner error selector");
            inner = data;
        }
    }

    function _expectAA23(PackedUserOperation memory op, bytes4 selector) internal returns (bytes memory) {
        PackedUserOperation[] memory ops = new PackedUserOperation[](1);
        ops[0] = op;
        return _expectAA23(ops, 0, selector);
    }

    /// @dev Runs `op` and asserts the EntryPoint refused it with `FailedOp(0, reason)` (AA22, AA24...).
    function _expectFailedOp(PackedUserOperation memory op, string memory reason) internal {
        PackedUserOperation[] memory ops = new PackedUserOperation[](1);
        ops[0] = op;
        vm.expectRevert(abi.encodeWithSelector(IEntryPointV08.FailedOp.selector, 0, reason));
        ep.handleOps(ops, beneficiary);
    }

    // ------------------------------------------------------------ calldata builders

    function _execSingle(address to, uint256 value, bytes memory data) internal pure returns (bytes memory) {
        return abi.encodeCall(IERC7579Execution.execute, (MODE_SINGLE, abi.encodePacked(to, value, data)));
    }

    function _execBatch(Execution[] memory calls) internal pure returns (bytes memory) {
        return abi.encodeCall(IERC7579Execution.execute, (MODE_BATCH, abi.encode(calls)));
    }

    function _transfer(address to, uint256 amount) internal view returns (bytes memory) {
        return _execSingle(address(token), 0, abi.encodeWithSignature("transfer(address,uint256)", to, amount));
    }

    // ------------------------------------------------------------ sessions and grants

    uint8 internal constant T_UINT256 = 0x1f;
    uint8 internal constant T_INT256 = 0x3f;
    uint8 internal constant T_ADDRESS = 0x60;
    uint8 internal constant T_BOOL = 0x61;
    uint8 internal constant T_DYNAMIC = 0x62;

    /// @dev A condition on a uint256 head word (kinds 0-6) or a dynamic argument (kinds 7-10).
    function _cond(uint8 condition, uint16 argIndex, bytes32 value)
        internal
        pure
        returns (WarrantValidator.ArgCondition memory c)
    {
        return _cond(condition, condition > 6 ? T_DYNAMIC : T_UINT256, argIndex, value);
    }

    function _cond(uint8 condition, uint8 argType, uint16 argIndex, bytes32 value)
        internal
        pure
        returns (WarrantValidator.ArgCondition memory c)
    {
        c.condition = condition;
        c.argType = argType;
        c.argIndex = argIndex;
        c.values = new bytes32[](1);
        c.values[0] = value;
    }

    /// @dev transfer(recipient, <= max) on the token.
    function _transferPolicy(uint256 max) internal view returns (WarrantValidator.CallPolicy memory p) {
        p.target = address(token);
        p.selector = bytes4(keccak256("transfer(address,uint256)"));
        p.conditions = new WarrantValidator.ArgCondition[](2);
        p.conditions[0] = _cond(0, T_ADDRESS, 0, bytes32(uint256(uint160(recipient))));
        p.conditions[1] = _cond(3, 1, bytes32(max));
    }

    function _policy(address to, bytes4 selector, uint256 maxValue)
        internal
        pure
        returns (WarrantValidator.CallPolicy memory p)
    {
        p.target = to;
        p.selector = selector;
        p.maxValue = maxValue;
    }

    function _session(WarrantValidator.CallPolicy memory p) internal view returns (WarrantValidator.Session memory s) {
        WarrantValidator.CallPolicy[] memory calls = new WarrantValidator.CallPolicy[](1);
        calls[0] = p;
        return _session(calls);
    }

    function _session(WarrantValidator.CallPolicy[] memory calls)
        internal
        view
        returns (WarrantValidator.Session memory s)
    {
        s.signer = sessionKey;
        s.scope.calls = calls;
        // The account pays the gas of a session op without a paymaster: a native budget that covers it.
        s.scope.maxValueTotal = 1 ether;
    }

    function _enableStatic(address account, uint256 pk, WarrantValidator.Session memory session) internal {
        _ownerExec(
            account, pk, _execSingle(address(validator), 0, abi.encodeCall(WarrantValidator.enableSession, (session)))
        );
    }

    function _grant(address account, WarrantValidator.Session memory session)
        internal
        view
        returns (WarrantValidator.Grant memory g)
    {
        g.account = account;
        g.epoch = uint64(validator.epochOf(account));
        g.session = session;
    }

    string internal constant GRANT_CONTENTS_TYPE = "ArgCondition(uint8 condition,uint8 argType,uint16 argIndex,bytes32[] values)"
        "CallPolicy(address target,bytes4 selector,uint8 flags,uint256 maxValue,ArgCondition[] conditions)"
        "Gate(address token,uint8 kind,uint256 tokenId,uint256 minBalance)"
        "Grant(address account,uint64 epoch,Session session)"
        "Scope(uint48 validAfter,uint48 validUntil,uint32 maxUses,uint256 maxValueTotal,address paymaster,"
        "uint128 maxGasLimit,uint128 maxFeePerGas,CallPolicy[] calls,uint32 period,uint48 periodStart,"
        "uint32 maxUsesPerPeriod,SpendLimit[] limits,Gate[] gates)" "Session(address signer,bytes32 salt,Scope scope)"
        "SpendLimit(address token,uint128 perPeriod,uint128 lifetime)";

    /**
     * @dev The owner's ERC-7739 (TypedDataSign, explicit contentsDescr) signature of `grant` for `account`. It equals
     * an `eth_signTypedData_v4` of `TypedDataSign{contents: grant, name: "WarrantAccount", version: "1", chainId,
     * verifyingContract: account, salt: 0}` under the validator's domain.
     */
    function _ownerGrantSig(address account, uint256 pk, WarrantValidator.Grant memory grant)
        internal
        view
        returns (bytes memory)
    {
        bytes32 appSeparator = keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256("Warrant"),
                keccak256("1"),
                block.chainid,
                address(validator)
            )
        );
        bytes32 contents = validator.grantHash(grant);
        bytes32 typedDataSignTypehash = keccak256(
            abi.encodePacked(
                "TypedDataSign(Grant contents,string name,string version,uint256 chainId,address verifyingContract,bytes32 salt)",
                GRANT_CONTENTS_TYPE
            )
        );
        bytes32 structHash = keccak256(
            abi.encode(
                typedDataSignTypehash,
                contents,
                keccak256("WarrantAccount"),
                keccak256("1"),
                block.chainid,
                account,
                bytes32(0)
            )
        );
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(pk, MessageHashUtils.toTypedDataHash(appSeparator, structHash));
        bytes memory descr = abi.encodePacked(GRANT_CONTENTS_TYPE, "Grant");
        return abi.encodePacked(r, s, v, appSeparator, contents, descr, uint16(descr.length));
    }
}
