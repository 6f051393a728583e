// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {PackedUserOperation} from "@openzeppelin/contracts/interfaces/IERC4337.sol";
import {IERC7579Execution} from "@openzeppelin/contracts/interfaces/draft-IERC7579.sol";
import {Execution} from "@openzeppelin/contracts/account/utils/draft-ERC7579Utils.sol";
import {Vm} from "./utils/WarrantTest.sol";
import {WarrantFixture, IEntryPointV08} from "./utils/WarrantFixture.sol";
import {WarrantValidator} from "../src/WarrantValidator.sol";
import {MockToken} from "./mocks/Mocks.sol";

/**
 * @dev Drives one spend-limited session through random sequences of bundles (1 to 3 ops each, mixed routes:
 * transfer, approve, transferFrom of the account's tokens, native value, batches), naming the current period or a
 * wrong one, while time moves forward. It measures what actually left the account (tokens received by the
 * recipients, allowances granted, native value received) per period, independently of the validator's counters.
 */
contract SpendHandler {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    IEntryPointV08 internal immutable ep;
    WarrantValidator internal immutable validator;
    MockToken internal immutable token;
    address internal immutable account;
    address internal immutable recipient;
    address internal immutable spender;
    uint256 internal immutable sessionPk;
    uint48 internal immutable periodStart;
    uint32 internal immutable period;
    address payable internal constant BENEFICIARY = payable(address(0xFEE));

    // The session bytes a USE operation carries (`validator.sessionBytes(session)`).
    bytes internal sessionBytes;

    /// @dev What left the account in each period: tokens (received or newly allowed) and native value.
    mapping(uint256 period => uint256) public tokenOut;
    mapping(uint256 period => uint256) public nativeOut;
    uint256 public tokenOutTotal;
    uint256[] internal _periods;
    mapping(uint256 period => bool) internal _seen;
    uint256 public bundlesAccepted;
    uint256 public bundlesRefused;
    uint256 public maxPeriodTokenOut;

    constructor(
        IEntryPointV08 ep_,
        WarrantValidator validator_,
        MockToken token_,
        address account_,
        address recipient_,
        uint256 sessionPk_,
        WarrantValidator.Session memory session_
    ) {
        ep = ep_;
        validator = validator_;
        token = token_;
        account = account_;
        recipient = recipient_;
        spender = address(0x5BE7D);
        sessionPk = sessionPk_;
        periodStart = session_.scope.periodStart;
        period = session_.scope.period;
        sessionBytes = validator_.sessionBytes(session_);
    }

    function periods() external view returns (uint256[] memory) {
        return _periods;
    }

    function currentPeriod() public view returns (uint32) {
        return uint32((block.timestamp - periodStart) / period);
    }

    /// @dev Moves time forward by up to 0.75 period (sometimes across a boundary, sometimes not).
    function warp(uint256 seconds_) external {
        vm.warp(block.timestamp + (seconds_ % (uint256(period) * 3 / 4)));
    }

    /// @dev Submits a bundle of 1 to 3 ops with routes and amounts drawn from `seed`; `periodSkew` sometimes names
    /// a period other than the current one.
    function bundle(uint256 seed, uint8 count, uint8 periodSkew) external {
        uint32 k = currentPeriod();
        if (periodSkew % 8 == 0) k += 1;
        else if (periodSkew % 8 == 1 && k > 0) k -= 1;
        uint256 n = 1 + count % 3;
        uint192 key = (uint192(uint160(address(validator))) << 32) | k;
        // The nonce key suffix is free (here: k, to show it is not read); the period is in the signed field.
        PackedUserOperation[] memory ops = _ops(seed, n, ep.getNonce(account, key), k);
        _submit(ops);
    }

    function _ops(uint256 seed, uint256 n, uint256 nonce, uint32 k)
        internal
        view
        returns (PackedUserOperation[] memory ops)
    {
        ops = new PackedUserOperation[](n);
        for (uint256 i = 0; i < n; ++i) {
            ops[i] = _sign(_userOp(nonce + i, _callData(uint256(keccak256(abi.encode(seed, i))))), k);
        }
    }

    function _submit(PackedUserOperation[] memory ops) internal {
        uint256 received = token.balanceOf(recipient);
        uint256 allowed = token.allowance(account, spender);
        uint256 native = recipient.balance;
        try ep.handleOps(ops, BENEFICIARY) {
            ++bundlesAccepted;
        } catch {
            ++bundlesRefused;
            return;
        }
        uint256 now_ = currentPeriod();
        uint256 allowedAfter = token.allowance(account, spender);
        uint256 out = (token.balanceOf(recipient) - received) + (allowedAfter > allowed ? allowedAfter - allowed : 0);
        tokenOut[now_] += out;
        if (tokenOut[now_] > maxPeriodTokenOut) maxPeriodTokenOut = tokenOut[now_];
        tokenOutTotal += out;
        nativeOut[now_] += recipient.balance - native;
        if (!_seen[now_]) {
            _seen[now_] = true;
            _periods.push(now_);
        }
    }

    function _callData(uint256 seed) internal view returns (bytes memory) {
        uint256 amount = (seed >> 8) % 7e18; // up to 0.7 of the 10e18 cap per call
        uint256 route = seed % 5;
        if (route == 0) {
            return _single(address(token), 0, abi.encodeCall(token.transfer, (recipient, amount)));
        } else if (route == 1) {
            return _single(address(token), 0, abi.encodeCall(token.approve, (spender, amount)));
        } else if (route == 2) {
            // The account pulling its own tokens (it approved itself in set-up) counts as its spend.
            return _single(address(token), 0, abi.encodeCall(token.transferFrom, (account, recipient, amount)));
        } else if (route == 3) {
            return _single(recipient, (seed >> 16) % 0.7 ether, "");
        }
        Execution[] memory calls = new Execution[](2);
        calls[0] = Execution(address(token), 0, abi.encodeCall(token.transfer, (recipient, amount / 2)));
        calls[1] = Execution(recipient, (seed >> 24) % 0.4 ether, "");
        return abi.encodeCall(IERC7579Execution.execute, (bytes32(bytes1(0x01)), abi.encode(calls)));
    }

    function _single(address to, uint256 value, bytes memory data) internal pure returns (bytes memory) {
        return abi.encodeCall(IERC7579Execution.execute, (bytes32(0), abi.encodePacked(to, value, data)));
    }

    function _userOp(uint256 nonce, bytes memory callData) internal view returns (PackedUserOperation memory op) {
        op.sender = account;
        op.nonce = nonce;
        op.callData = callData;
        op.accountGasLimits = bytes32(uint256(2_000_000) << 128 | uint256(1_000_000));
        op.preVerificationGas = 100_000;
        op.gasFees = bytes32(uint256(1 gwei) << 128 | uint256(2 gwei));
    }

    function _sign(PackedUserOperation memory op, uint32 k) internal view returns (PackedUserOperation memory) {
        bytes memory encoded = sessionBytes;
        bytes32 digest = validator.useDigest(ep.getUserOpHash(op), keccak256(abi.encodePacked(op.sender, encoded)), k);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(sessionPk, digest);
        // 0x00 ‖ period(4) ‖ w(len(sessionBytes)) ‖ sessionBytes ‖ signature, w(x) = byte count then big-endian bytes.
        uint256 length = encoded.length;
        bytes memory word;
        while (length != 0) {
            word = abi.encodePacked(uint8(length), word);
            length >>= 8;
        }
        op.signature = abi.encodePacked(uint8(0), k, uint8(word.length), word, encoded, r, s, v);
        return op;
    }
}

/// @dev Invariant: across any sequence of ops and bundles, what left the account in a period never exceeds the
/// per-period cap, and what left over the session's life never exceeds the lifetime cap.
contract SpendLimitsInvariantTest is WarrantFixture {
    uint128 internal constant TOKEN_PER_PERIOD = 10e18;
    uint128 internal constant TOKEN_LIFETIME = 120e18;
    uint128 internal constant NATIVE_PER_PERIOD = 1 ether;
    SpendHandler internal handler;

    function setUp() public override {
        super.setUp();
        vm.warp(2_000_000);
        WarrantValidator.CallPolicy[] memory calls = new WarrantValidator.CallPolicy[](2);
        calls[0] = _policy(address(token), bytes4(0), 0);
        calls[0].flags = 2; // ANY_SELECTOR
        calls[1] = _policy(recipient, bytes4(0), type(uint256).max);
        WarrantValidator.Session memory s = _session(calls);
        s.scope.maxValueTotal = type(uint256).max;
        s.scope.period = 1 hours;
        s.scope.periodStart = 2_000_000;
        s.scope.maxUsesPerPeriod = 6;
        s.scope.limits = new WarrantValidator.SpendLimit[](2);
        s.scope.limits[0] = WarrantValidator.SpendLimit(address(token), TOKEN_PER_PERIOD, TOKEN_LIFETIME);
        s.scope.limits[1] = WarrantValidator.SpendLimit(address(0), NATIVE_PER_PERIOD, type(uint128).max);
        _enableStatic(proxy, ownerPk, s);
        // Lets the account's own transferFrom(account, ...) run, so that route really moves tokens.
        _ownerExec(proxy, ownerPk, _execSingle(address(token), 0, abi.encodeCall(token.approve, (proxy, 1e30))));
        handler = new SpendHandler(ep, validator, token, proxy, recipient, sessionPk, s);
    }

    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    function invariant_periodOutflowWithinCaps() public view {
        uint256[] memory ps = handler.periods();
        for (uint256 i = 0; i < ps.length; ++i) {
            vm.assertLt(handler.tokenOut(ps[i]), uint256(TOKEN_PER_PERIOD) + 1, "token out in a period");
            vm.assertLt(handler.nativeOut(ps[i]), uint256(NATIVE_PER_PERIOD) + 1, "native out in a period");
        }
        vm.assertLt(handler.tokenOutTotal(), uint256(TOKEN_LIFETIME) + 1, "token out over the session");
    }

    function afterInvariant() public view {
        _log("bundles accepted", handler.bundlesAccepted());
        _log("bundles refused", handler.bundlesRefused());
        _log("largest token outflow in one period", handler.maxPeriodTokenOut());
    }
}
