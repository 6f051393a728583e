// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {PackedUserOperation} from "@openzeppelin/contracts/interfaces/IERC4337.sol";
import {IERC7579Execution, IERC7579ModuleConfig} from "@openzeppelin/contracts/interfaces/draft-IERC7579.sol";
import {Execution} from "@openzeppelin/contracts/account/utils/draft-ERC7579Utils.sol";
import {WarrantFixture, IEntryPointV08} from "../utils/WarrantFixture.sol";
import {WarrantValidator} from "../../src/WarrantValidator.sol";
import {MockToken} from "../mocks/Mocks.sol";
import {Recorder} from "../mocks/Recorder.sol";

/**
 * @dev Sends random session operations through the real EntryPoint on behalf of a proxy account, plus the owner's
 * revocations and the passage of time. Only one static session ({sessionActive}) and one dynamically enabled session
 * ({sessionGranted}) may ever validate; the others are revoked, expired, not yet valid or never enabled, and all of
 * those have a scope that allows anything, so any validation through them shows up in the invariants.
 */
contract SessionHandler is WarrantFixture {
    uint48 public immutable T0;
    Recorder public immutable recorder;
    Recorder public immutable forbidden; // a contract no scope names
    address public immutable friend = address(0xF12E7D);
    address public immutable attacker;
    uint256 internal immutable attackerPk = 0xBAD5EED;

    // Session picks.
    uint8 internal constant ACTIVE = 0;
    uint8 internal constant GRANTED = 1;
    uint8 internal constant REVOKED = 2;
    uint8 internal constant EXPIRED = 3;
    uint8 internal constant FUTURE = 4;
    uint8 internal constant NEVER = 5;

    // Scope of the two sessions that may validate.
    uint256 public constant PAY_MAX_AMOUNT = 100;
    uint256 public constant PAY_MAX_MEMO = 8;
    uint256 public constant PAY_MAX_VALUE = 0.5 ether;
    uint256 public constant TRANSFER_MAX = 50e18;
    uint32 public constant ACTIVE_MAX_USES = 3;
    uint256 public constant ACTIVE_MAX_VALUE = 0.8 ether;
    uint32 public constant GRANTED_MAX_USES = 2;
    uint256 public constant GRANTED_MAX_VALUE = 0.4 ether;
    uint48 public constant LIFETIME = 3 hours; // short enough for a run of warps to cross it

    WarrantValidator.Grant internal _grantSigned; // for sessionGranted at epoch 0
    bytes internal _grantOwnerSig;

    // Ghost state: what the handler saw the EntryPoint accept.
    mapping(uint8 pick => uint256) public acceptedBy;
    uint256 public acceptedTampered;
    uint256 public acceptedWrongKey;
    uint256 public acceptedOutsideWindow;
    uint256 public acceptedAfterRevocation;
    uint256 public attempts;
    bool public revokedActive;
    uint256 public usesAtRevokeActive;
    bool public revokedAll;
    uint256 public seqAtRevokeAll;
    uint256 public retiredUses;
    uint256 public retiredSpent;
    uint256 public initialTokenTotal;

    constructor(
        IEntryPointV08 ep_,
        WarrantValidator validator_,
        MockToken token_,
        Recorder recorder_,
        Recorder forbidden_,
        address proxy_,
        uint256 ownerPk_,
        uint48 t0
    ) {
        ep = ep_;
        validator = validator_;
        token = token_;
        recorder = recorder_;
        forbidden = forbidden_;
        proxy = proxy_;
        ownerPk = ownerPk_;
        sessionKey = vm.addr(sessionPk);
        attacker = vm.addr(attackerPk);
        T0 = t0;
        _grantSigned = _grant(proxy, sessionGranted());
        _grantOwnerSig = _ownerGrantSig(proxy, ownerPk, _grantSigned);
        initialTokenTotal = token.balanceOf(proxy) + token.balanceOf(recipient);
    }

    // ------------------------------------------------------------ the sessions

    function scopedCalls() public view returns (WarrantValidator.CallPolicy[] memory calls) {
        calls = new WarrantValidator.CallPolicy[](2);
        calls[0] = _policy(address(recorder), Recorder.pay.selector, PAY_MAX_VALUE);
        calls[0].conditions = new WarrantValidator.ArgCondition[](3);
        calls[0].conditions[0] = _cond(0, 0, bytes32(uint256(uint160(friend)))); // EQ
        calls[0].conditions[1] = _cond(3, 1, bytes32(PAY_MAX_AMOUNT)); // LTE
        calls[0].conditions[2] = _cond(7, 2, bytes32(PAY_MAX_MEMO)); // LENGTH_LTE
        calls[1] = _transferPolicy(TRANSFER_MAX);
    }

    function sessionActive() public view returns (WarrantValidator.Session memory s) {
        s = _session(scopedCalls());
        s.salt = bytes32(uint256(1));
        s.scope.validAfter = T0 - 1;
        s.scope.validUntil = T0 + LIFETIME;
        s.scope.maxUses = ACTIVE_MAX_USES;
        s.scope.maxValueTotal = ACTIVE_MAX_VALUE;
    }

    function sessionGranted() public view returns (WarrantValidator.Session memory s) {
        s = sessionActive();
        s.salt = bytes32(uint256(5));
        s.scope.maxUses = GRANTED_MAX_USES;
        s.scope.maxValueTotal = GRANTED_MAX_VALUE;
    }

    function _anything(uint256 salt) internal view returns (WarrantValidator.Session memory s) {
        WarrantValidator.CallPolicy memory p;
        p.flags = 3;
        p.maxValue = type(uint256).max;
        s = _session(p);
        s.salt = bytes32(salt);
        s.scope.maxValueTotal = type(uint256).max;
    }

    function sessionRevoked() public view returns (WarrantValidator.Session memory) {
        return _anything(2);
    }

    function sessionExpired() public view returns (WarrantValidator.Session memory s) {
        s = _anything(3);
        s.scope.validUntil = T0 - 1;
    }

    function sessionFuture() public view returns (WarrantValidator.Session memory s) {
        s = _anything(4);
        s.scope.validAfter = T0 + 365 days;
    }

    function sessionNever() public view returns (WarrantValidator.Session memory) {
        return _anything(6);
    }

    function sessionByPick(uint8 pick) public view returns (WarrantValidator.Session memory) {
        if (pick == ACTIVE) return sessionActive();
        if (pick == GRANTED) return sessionGranted();
        if (pick == REVOKED) return sessionRevoked();
        if (pick == EXPIRED) return sessionExpired();
        if (pick == FUTURE) return sessionFuture();
        return sessionNever();
    }

    function seq() public view returns (uint256) {
        return uint64(ep.getNonce(proxy, _validatorKey()));
    }

    function state(WarrantValidator.Session memory s) public view returns (uint8 status, uint32 uses, uint128 spent) {
        return validator.sessionState(proxy, validator.sessionId(proxy, s));
    }

    // ------------------------------------------------------------ actions

    /**
     * @dev One call, chosen among allowed, out-of-scope and privileged targets and selectors. The choices come from
     * a hash of `seed` (the fuzzer favours values such as 0 and max, which would skew them); amounts, lengths and
     * values come straight from the fuzzer, so they do hit the limits exactly.
     */
    function single(uint256 seed, uint256 amount, uint8 memoLen, uint256 value, bool wrongKey, uint16 dt) external {
        _warp(dt);
        uint256 r = uint256(keccak256(abi.encode(seed)));
        singleWith(_pick(uint8(r >> 16)), uint8(r), uint8(r >> 8), amount, memoLen, value, wrongKey);
    }

    /// @dev {single} with explicit choices (for the deterministic test; not a fuzz target).
    function singleWith(uint8 pick, uint8 tgt, uint8 sel, uint256 amount, uint8 memoLen, uint256 value, bool wrongKey)
        public
    {
        (address to, bytes memory data) = _call(tgt, sel, amount, memoLen);
        _use(pick, abi.encodePacked(to, _value(value), data), MODE_SINGLE, wrongKey);
    }

    /// @dev Zero to three calls in one batch, each chosen like {single}.
    function batch(uint256 seed, uint16 dt) external {
        _warp(dt);
        seed = uint256(keccak256(abi.encode(seed)));
        Execution[] memory calls = new Execution[](seed % 4);
        for (uint256 i = 0; i < calls.length; ++i) {
            uint256 r = uint256(keccak256(abi.encode(seed, i)));
            (address to, bytes memory data) = _call(uint8(r), uint8(r >> 8), r >> 16, uint8(r >> 200));
            calls[i] = Execution(to, _value(r >> 128), data);
        }
        _use(_pick(uint8(seed >> 8)), abi.encode(calls), MODE_BATCH, false);
    }

    /// @dev Arbitrary account calldata, or `execute` with an arbitrary mode and execution calldata.
    function raw(uint8 pick, uint8 modePick, bytes calldata body, bool wrap) external {
        bytes memory callData = body;
        if (wrap) {
            bytes32[5] memory modes =
                [MODE_SINGLE, MODE_BATCH, bytes32(bytes1(0xff)), bytes32(bytes1(0xfe)), bytes32(bytes2(0x0001))];
            callData = abi.encodeCall(IERC7579Execution.execute, (modes[modePick % 5], body));
        }
        PackedUserOperation memory op = _op(proxy, _validatorKey(), callData);
        _signUse(op, sessionByPick(_pick(pick)), sessionPk);
        _send(op, _pick(pick), false, false);
    }

    /// @dev Presents the grant signed at epoch 0, untouched or with one field swapped by a front-runner.
    function enable(uint256 seed, uint256 amount, uint8 memoLen, uint256 value) external {
        uint256 r = uint256(keccak256(abi.encode(seed)));
        enableWith(uint8(r % 6), uint8(r >> 8), uint8(r >> 16), amount, memoLen, value);
    }

    /// @dev {enable} with explicit choices (for the deterministic test; not a fuzz target).
    function enableWith(uint8 tamper, uint8 tgt, uint8 sel, uint256 amount, uint8 memoLen, uint256 value) public {
        WarrantValidator.Grant memory g = _grantSigned;
        uint256 signer = sessionPk;
        if (tamper == 1) {
            g.session.scope.calls = sessionNever().scope.calls; // wider scope
        } else if (tamper == 2) {
            g.session.signer = attacker; // the front-runner's own key
            signer = attackerPk;
        } else if (tamper == 3) {
            g.session.salt = bytes32(uint256(0xbad));
        } else if (tamper == 4) {
            g.session.scope.maxUses = 0; // unlimited
        } else if (tamper == 5) {
            g.session.scope.validUntil = 0; // forever
        }
        (address to, bytes memory data) = _call(tgt, sel, amount, memoLen);
        PackedUserOperation memory op = _op(proxy, _validatorKey(), _execSingle(to, _value(value), data));
        _signEnable(op, g, _grantOwnerSig, signer);
        _send(op, GRANTED, tamper != 0, false);
    }

    /// @dev Now and then, the owner revokes the active session, or everything (revokeAll or module reinstall).
    function revoke(uint256 r) external {
        if (!_rare(r)) return;
        uint256 how = (r >> 128) % 3;
        if (how == 0) _revokeActive();
        else _revokeEverything(how == 2);
    }

    function _revokeActive() internal {
        if (revokedActive || revokedAll) return;
        (, uint32 uses,) = state(sessionActive());
        _ownerExec(
            proxy,
            ownerPk,
            _execSingle(
                address(validator),
                0,
                abi.encodeCall(WarrantValidator.revokeSession, (validator.sessionId(proxy, sessionActive())))
            )
        );
        revokedActive = true;
        usesAtRevokeActive = uses;
    }

    /// @dev Moves the account to a new epoch, by revokeAll or by uninstalling and reinstalling the module.
    function _revokeEverything(bool reinstall) internal {
        if (revokedAll) return;
        (, uint32 usesA, uint128 spentA) = state(sessionActive());
        (, uint32 usesG, uint128 spentG) = state(sessionGranted());
        retiredUses += uint256(usesA) + usesG;
        retiredSpent += uint256(spentA) + spentG;
        if (reinstall) {
            _ownerExec(
                proxy, ownerPk, abi.encodeCall(IERC7579ModuleConfig.uninstallModule, (1, address(validator), ""))
            );
            _ownerExec(proxy, ownerPk, abi.encodeCall(IERC7579ModuleConfig.installModule, (1, address(validator), "")));
        } else {
            _ownerExec(
                proxy, ownerPk, _execSingle(address(validator), 0, abi.encodeCall(WarrantValidator.revokeAll, ()))
            );
        }
        revokedAll = true;
        seqAtRevokeAll = seq();
    }

    // ------------------------------------------------------------ internals

    /// @dev Time moves by up to 30 minutes a call, so the 3-hour lifetime ends within many runs.
    function _warp(uint16 dt) internal {
        vm.warp(block.timestamp + dt % 30 minutes);
    }

    /// @dev One time in twelve, whatever values the fuzzer favours (0, max, ...), so most runs use sessions first.
    function _rare(uint256 r) internal pure returns (bool) {
        return uint256(keccak256(abi.encode(r))) % 12 == 0;
    }

    function _value(uint256 r) internal pure returns (uint256) {
        // Half the calls send nothing, the rest up to 0.6 ether; the caps are 0.5 ether a call, 0.4 and 0.8 ether a session.
        return r % 2 == 0 ? 0 : (r >> 1) % 0.6 ether;
    }

    /**
     * @dev Three calls in four are in the scope's shape (pay or transfer), with arguments and value spread across
     * the limits; the fourth is drawn from out-of-scope and privileged targets and selectors.
     */
    function _call(uint8 tgt, uint8 sel, uint256 amount, uint8 memoLen)
        internal
        view
        returns (address to, bytes memory data)
    {
        bool toFriend = amount % 8 != 0;
        if (tgt % 4 != 0) {
            if (sel % 2 == 0) {
                to = address(recorder);
                data = abi.encodeCall(
                    Recorder.pay, (toFriend ? friend : attacker, (amount >> 3) % 121, new bytes(memoLen % 11))
                );
            } else {
                to = address(token);
                data = abi.encodeWithSignature(
                    "transfer(address,uint256)", toFriend ? recipient : attacker, ((amount >> 3) % 61) * 1e18
                );
            }
            return (to, data);
        }
        address[8] memory targets = [
            address(recorder),
            address(token),
            address(forbidden),
            proxy,
            address(validator),
            address(ep),
            address(0),
            attacker
        ];
        to = targets[(tgt >> 2) % 8];
        sel %= 8;
        if (sel == 0) {
            data = abi.encodeCall(Recorder.pay, (friend, 1, new bytes(0)));
        } else if (sel == 1) {
            data = abi.encodeWithSignature("transfer(address,uint256)", recipient, 1);
        } else if (sel == 2) {
            data = abi.encodeWithSignature("approve(address,uint256)", attacker, type(uint256).max);
        } else if (sel == 3) {
            data = abi.encodeCall(Recorder.poke, ());
        } else if (sel == 4) {
            data = "";
        } else if (sel == 5) {
            data = _execSingle(attacker, 1 ether, ""); // nested execute, meant for the account itself
        } else if (sel == 6) {
            data = abi.encodeCall(WarrantValidator.enableSession, (sessionNever()));
        } else {
            data = abi.encodeWithSignature("withdrawTo(address,uint256)", attacker, 1);
        }
    }

    /// @dev Half the operations use the active session, a quarter the granted one, the rest the others.
    function _pick(uint8 r) internal pure returns (uint8) {
        uint8[8] memory picks = [ACTIVE, ACTIVE, ACTIVE, ACTIVE, GRANTED, GRANTED, REVOKED, EXPIRED];
        uint8 p = picks[r % 8];
        if (p == EXPIRED) return [EXPIRED, FUTURE, NEVER][(r >> 3) % 3];
        return p;
    }

    function _use(uint8 pick, bytes memory execution, bytes32 mode, bool wrongKey) internal {
        PackedUserOperation memory op =
            _op(proxy, _validatorKey(), abi.encodeCall(IERC7579Execution.execute, (mode, execution)));
        _signUse(op, sessionByPick(pick), wrongKey ? attackerPk : sessionPk);
        _send(op, pick, false, wrongKey);
    }

    function _send(PackedUserOperation memory op, uint8 pick, bool tampered, bool wrongKey) internal {
        ++attempts;
        PackedUserOperation[] memory ops = new PackedUserOperation[](1);
        ops[0] = op;
        try ep.handleOps(ops, beneficiary) {
            ++acceptedBy[pick];
            if (tampered) ++acceptedTampered;
            if (wrongKey) ++acceptedWrongKey;
            if (block.timestamp <= T0 - 1 || block.timestamp > T0 + LIFETIME) ++acceptedOutsideWindow;
            if (revokedAll || (revokedActive && pick == ACTIVE)) ++acceptedAfterRevocation;
        } catch {}
    }
}
