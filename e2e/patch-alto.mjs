// Fixes two things in @pimlico/alto@0.0.20's safe mode for EntryPoint v0.7/v0.8, so that the end-to-end tests can
// run with ERC-7562 tracing ON. Idempotent (each patch is marked in its file); fails loudly if a file is not the one
// its patch was written for.
//
// 1. A decoding bug (upstream issue pimlicolabs/alto#756), below.
// 2. ERC-7562 OP-062 allows the core precompiles 0x01-0x09 "and the RIP-7212 secp256r1 precompile, on networks that
//    accepted it" (P256VERIFY at 0x100; EIP-7951 put it on L1 with Osaka). Alto 0.0.20's tracer whitelists only
//    0x01-0x09, so the STATICCALL to 0x100 that verifies a P-256 session signature lands in the "contract size"
//    map as an address without code, and TracerResultParserV07 refuses the op ("accesses un-deployed contract
//    address 0x…0100 with opcode STATICCALL", OP-041). The patch adds 0x100 to the tracer's whitelist and nothing
//    else (rundler did the same: alchemyplatform/rundler#586). Every other rule is Alto's, unchanged.
//
// The bug: SafeValidator.getValidationResultWithTracerV07 traces PimlicoSimulations.simulateValidation and decodes
// the revert data of the last traced frame as a `ValidationResult` error of the PimlicoSimulations ABI. That frame
// is EntryPoint.delegateAndRevert, which always reverts with `DelegateAndRevert(bool success, bytes ret)`
// (selector 0x99410554), an error the ABI does not contain: every operation is refused with an HTTP 500
// ("Encoded error signature 0x99410554 not found on ABI"). The fix decodes `DelegateAndRevert`: on success `ret` is
// the ABI-encoded `ValidationResult` that simulateValidation returns; on failure `ret` is the simulation's revert
// data (FailedOp / FailedOpWithRevert), reported as Alto's unsafe path reports it. Everything else — the tracer,
// the ERC-7562 checks of TracerResultParserV07, stake and time checks — is Alto's code, unchanged.
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const validation = join(here, "node_modules/@pimlico/alto/esm/rpc/validation");

/// Applies `replacements` ([from, to] pairs, each `from` found exactly once) to `name` unless `mark` is there.
function patch(name, mark, replacements, what) {
    const file = join(validation, name);
    let source = readFileSync(file, "utf8");
    if (source.includes(mark)) {
        return;
    }
    for (const [from, to] of replacements) {
        if (source.split(from).length !== 2) {
            console.error(`patch-alto: ${file} is not @pimlico/alto@0.0.20's ${name}; not patched`);
            process.exit(1);
        }
        source = source.replace(from, to);
    }
    writeFileSync(file, source);
    console.error(`patch-alto: ${what}`);
}

// ---- 2. OP-062: the secp256r1 precompile (0x100) is an allowed precompile.
const P256_MARK = "warrant-e2e patch (ERC-7562 OP-062: RIP-7212/EIP-7951 P256VERIFY at 0x100)";
patch(
    "BundlerCollectorTracerV07.js",
    P256_MARK,
    [
        [
            "                return addressInt > 0 && addressInt < 10;",
            `                // ${P256_MARK}\n                return (addressInt > 0 && addressInt < 10) || addressInt === 0x100;`
        ]
    ],
    "allowed the P256VERIFY precompile (0x100) in Alto's ERC-7562 tracer (OP-062)"
);

// ---- 1. pimlicolabs/alto#756.
const MARK = "warrant-e2e patch (pimlicolabs/alto#756)";

const oldImport = 'import { decodeErrorResult, encodeDeployData, encodeFunctionData, zeroAddress } from "viem";';
const newImport =
    'import { decodeErrorResult, decodeFunctionResult, encodeDeployData, encodeFunctionData, parseAbi, zeroAddress } from "viem";';

const oldDecode = `        const resultData = lastResult.data;
        // Decode the validation result from the revert data
        const { errorName, args } = decodeErrorResult({
            abi: pimlicoSimulationsAbi,
            data: resultData
        });
        if (errorName !== "ValidationResult") {
            let errorCode = ERC7769Errors.SimulateValidation;
            const errorMessage = errorName || "Unknown validation error";
            if (errorMessage.includes("AA24")) {
                errorCode = ERC7769Errors.InvalidSignature;
            }
            if (errorMessage.includes("AA31")) {
                errorCode = ERC7769Errors.PaymasterDepositTooLow;
            }
            throw new RpcError(errorMessage, errorCode);
        }
        const validationResult = args[0];`;

const newDecode = `        const resultData = lastResult.data;
        // ${MARK}: the last traced frame is EntryPoint.delegateAndRevert, which reverts with
        // DelegateAndRevert(bool success, bytes ret); ret is simulateValidation's return or revert data.
        const { args: [simulationSucceeded, simulationData] } = decodeErrorResult({
            abi: parseAbi(["error DelegateAndRevert(bool success, bytes ret)"]),
            data: resultData
        });
        if (!simulationSucceeded) {
            let errorMessage = simulationData;
            try {
                const failure = decodeErrorResult({
                    abi: parseAbi([
                        "error FailedOp(uint256 opIndex, string reason)",
                        "error FailedOpWithRevert(uint256 opIndex, string reason, bytes inner)",
                        "error Error(string)"
                    ]),
                    data: simulationData
                });
                errorMessage =
                    failure.errorName === "FailedOpWithRevert"
                        ? \`\${failure.args[1]} \${failure.args[2]}\`
                        : failure.errorName === "FailedOp"
                          ? failure.args[1]
                          : failure.args[0];
            } catch {}
            let errorCode = ERC7769Errors.SimulateValidation;
            if (errorMessage.includes("AA24") || errorMessage.includes("AA34")) {
                errorCode = ERC7769Errors.InvalidSignature;
            }
            if (errorMessage.includes("AA31")) {
                errorCode = ERC7769Errors.PaymasterDepositTooLow;
            }
            throw new RpcError(\`UserOperation reverted during simulation with reason: \${errorMessage}\`, errorCode);
        }
        const validationResult = decodeFunctionResult({
            abi: pimlicoSimulationsAbi,
            functionName: "simulateValidation",
            data: simulationData
        });`;

patch(
    "SafeValidator.js",
    MARK,
    [
        [oldImport, newImport],
        [oldDecode, newDecode]
    ],
    "patched Alto's safe-mode decoding of DelegateAndRevert (pimlicolabs/alto#756)"
);
