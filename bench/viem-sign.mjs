// The signing benchmark's job done with viem: the ERC-7579 `execute` calldata, the EntryPoint v0.8 userOpHash
// (EIP-712, 7702 delegate bound), the session key's ECDSA signature of the session digest (userOpHash, id, period) and the USE module signature (the session's
// constant prefix, taken from the job, then the signature). viem has no pre-flight evaluator and does not encode
// the session per operation, so those parts of Warrant's job have no counterpart here (it favours viem).
//
// Usage: node bench/viem-sign.mjs JOB.json OUT.json [seconds] [rounds]
// The job is written by `warrant-bench sign`; operation 0's hash and signature must equal Warrant's before
// anything is timed, so both sides provably do the same work.
import { readFileSync, writeFileSync } from 'node:fs';
import { concat, encodeFunctionData, encodePacked, keccak256 } from 'viem';
import { getUserOperationHash } from 'viem/account-abstraction';
import { sign } from 'viem/accounts';

const [jobPath, outPath, secondsArg = '2', roundsArg = '3'] = process.argv.slice(2);
if (!jobPath || !outPath) {
  console.error('usage: node bench/viem-sign.mjs JOB.json OUT.json [seconds] [rounds]');
  process.exit(2);
}
const job = JSON.parse(readFileSync(jobPath, 'utf8'));
const seconds = Number(secondsArg);
const rounds = Number(roundsArg);

const executeAbi = [{
  type: 'function', name: 'execute', stateMutability: 'payable', outputs: [],
  inputs: [{ name: 'mode', type: 'bytes32' }, { name: 'executionCalldata', type: 'bytes' }],
}];
const keyPrefix = BigInt(job.module) << 96n;
const gas = Object.fromEntries(Object.entries(job.gas).map(([k, v]) => [k, BigInt(v)]));

/** One operation: calldata, hash, signature, module signature. */
async function signOp(sequence) {
  const executionCalldata = encodePacked(
    ['address', 'uint256', 'bytes'],
    [job.call.target, BigInt(job.call.value), job.call.data],
  );
  const callData = encodeFunctionData({ abi: executeAbi, args: [`0x${'00'.repeat(32)}`, executionCalldata] });
  const userOperation = {
    sender: job.account,
    nonce: keyPrefix | BigInt(sequence),
    factory: '0x7702',
    factoryData: '0x',
    authorization: { address: job.delegate, chainId: job.chainId, nonce: 0 },
    callData,
    ...gas,
    signature: '0x',
  };
  const hash = getUserOperationHash({
    userOperation,
    entryPointAddress: job.entryPoint,
    entryPointVersion: '0.8',
    chainId: job.chainId,
  });
  // What the session key signs: keccak256(0x00 ‖ userOpHash ‖ session id ‖ period), as the validator's useDigest.
  const digest = keccak256(encodePacked(['uint8', 'bytes32', 'bytes32', 'uint32'], [0, hash, job.sessionId, job.period]));
  const signature = await sign({ hash: digest, privateKey: job.sessionKey, to: 'hex' });
  const moduleSignature = concat([job.useSignaturePrefix, signature]);
  return { hash, signature, moduleSignature };
}

const first = await signOp(0);
if (first.hash.toLowerCase() !== job.expected.userOpHash.toLowerCase()) {
  console.error(`viem's userOpHash ${first.hash} differs from Warrant's ${job.expected.userOpHash}`);
  process.exit(1);
}
if (first.signature.toLowerCase() !== job.expected.signature.toLowerCase()) {
  console.error(`viem's signature ${first.signature} differs from Warrant's ${job.expected.signature}`);
  process.exit(1);
}
if (first.moduleSignature.toLowerCase() !== job.expected.moduleSignature.toLowerCase()) {
  console.error(`viem's module signature ${first.moduleSignature} differs from Warrant's`);
  process.exit(1);
}

async function rate() {
  for (let i = 0; i < 50; i++) await signOp(i);
  const start = process.hrtime.bigint();
  let n = 0;
  for (;;) {
    for (let i = 0; i < 16; i++) await signOp(n++);
    const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
    if (elapsed >= seconds) return n / elapsed;
  }
}
let best = 0;
for (let r = 0; r < rounds; r++) best = Math.max(best, await rate());
const out = {
  viem_ops_per_sec: best,
  viem_version: JSON.parse(readFileSync(new URL('./node_modules/viem/package.json', import.meta.url))).version,
  node_version: process.version,
  seconds_per_round: seconds,
  rounds,
};
writeFileSync(outPath, `${JSON.stringify(out, null, 2)}\n`);
console.log(JSON.stringify(out, null, 2));
