// Fixes one decoding bug in @pimlico/alto@0.0.20's safe mode for EntryPoint v0.7/v0.8 (upstream issue
// pimlicolabs/alto#756), so that the end-to-end tests can run with ERC-7562 tracing ON. Idempotent; fails loudly if
// the file is not the one this patch was written for.
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
const file = join(here, "node_modules/@pimlico/alto/esm/rpc/validation/SafeValidator.js");
const MARK = "warrant-e2e patch (pimlicolabs/alto#756)";

let source = readFileSync(file, "utf8");
if (source.includes(MARK)) {
    process.exit(0);
}

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

for (const [from, to] of [
    [oldImport, newImport],
    [oldDecode, newDecode]
]) {
    if (source.split(from).length !== 2) {
        console.error(`patch-alto: ${file} is not @pimlico/alto@0.0.20's SafeValidator.js; not patched`);
        process.exit(1);
    }
    source = source.replace(from, to);
}
writeFileSync(file, source);
console.error("patch-alto: patched Alto's safe-mode decoding of DelegateAndRevert (pimlicolabs/alto#756)");
