// Warrant's browser API: the wasm build of warrant-core (pkg/, built by scripts/build-web) behind plain JS
// objects, plus JSON-RPC over fetch to a node and to an ERC-4337 bundler. Types: warrant.d.ts.
//
// Every failure is thrown as a WarrantError: `kind` says where it comes from ("denial", "input", "token", "core",
// "bundler", "rpc"), `rule` names the validator rule that refused (the Solidity custom error's name, e.g.
// "CallNotPermitted"), or is null.

import init, * as wasm from './pkg/warrant_wasm.js';

export class WarrantError extends Error {
  constructor(kind, rule, message, extra = {}) {
    super(message);
    this.name = 'WarrantError';
    this.kind = kind;
    this.rule = rule ?? null;
    Object.assign(this, extra);
  }
}

function rethrow(e) {
  if (e && e.name === 'WarrantError') throw new WarrantError(e.kind, e.rule, e.message);
  throw e;
}

// Calls a wasm export with JSON-encoded object arguments and parses its JSON answer.
function call(fn, ...args) {
  try {
    const out = fn(...args.map((a) => (a === null || typeof a === 'object' ? JSON.stringify(a) : a)));
    return typeof out === 'string' && (out.startsWith('{') || out.startsWith('[')) ? JSON.parse(out) : out;
  } catch (e) {
    rethrow(e);
  }
}

let ready;
/** Loads the wasm module once. */
export function load() {
  ready ??= init();
  return ready;
}

export const readToken = (token) => call(wasm.readToken, token);
export const encodeToken = (signedGrant, sessionKey = null) => call(wasm.encodeToken, signedGrant, sessionKey);
export const explain = (grant, hints = {}, sessionKey = null) => call(wasm.explain, grant, hints, sessionKey);
export const validateGrant = (grant, module, chainId) => call(wasm.validateGrant, grant, module, BigInt(chainId));
export const sessionId = (session, account) => call(wasm.sessionId, session, account);
export const grantTypedData = (grant, module, chainId) => call(wasm.grantTypedData, grant, module, BigInt(chainId));
export const signedGrant = (grant, module, chainId, signature, sessionKey = null) =>
  call(wasm.signedGrant, grant, module, BigInt(chainId), signature, sessionKey);
export const prepareUse = (request, session) => call(wasm.prepareUse, request, session);
export const prepareEnable = (request, signedGrant) => call(wasm.prepareEnable, request, signedGrant);
export const applyUse = (request, session, signature) => call(wasm.applyUse, request, session, signature);
export const applyEnable = (request, signedGrant, signature) => call(wasm.applyEnable, request, signedGrant, signature);
export const estimationUse = (op, session, period, signature) => call(wasm.estimationUse, op, session, period, signature);
export const estimationEnable = (op, signedGrant, period, signature) =>
  call(wasm.estimationEnable, op, signedGrant, period, signature);
export const applyEstimate = (gas, estimate, headroom) => call(wasm.applyEstimate, gas, estimate, headroom);
export const check = (input) => call(wasm.check, { ...input, now: Number(input.now) });
export const remaining = (session, usage, now) => call(wasm.remaining, session, usage, BigInt(now));
export const p256Signer = (kind, publicKey) => call(wasm.p256Signer, kind, hex(publicKey));
export const p256SessionSignature = (kind, publicKey, rs) =>
  call(wasm.p256SessionSignature, kind, hex(publicKey), hex(rs));
export const bundlerRefusal = (error) => call(wasm.bundlerRefusal, error);


/** `0x` hex of bytes. */
export function hex(bytes) {
  if (typeof bytes === 'string') return bytes;
  return '0x' + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Bytes of `0x` hex. */
export function unhex(text) {
  const h = text.startsWith('0x') ? text.slice(2) : text;
  if (h.length % 2 !== 0 || /[^0-9a-fA-F]/.test(h)) throw new WarrantError('input', null, `${text} is not hex`);
  return Uint8Array.from(h.match(/../g) ?? [], (b) => parseInt(b, 16));
}

let nextId = 1;
async function jsonRpc(url, method, params, kind) {
  let res;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: nextId++, method, params }),
    });
  } catch (e) {
    throw new WarrantError(kind, null, `${method}: cannot reach ${url}: ${e.message}`);
  }
  const text = await res.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    throw new WarrantError(kind, null, `${method}: HTTP ${res.status}, not JSON-RPC: ${text.slice(0, 200)}`);
  }
  if (body.error) {
    if (kind === 'bundler') {
      const r = bundlerRefusal(body.error);
      throw new WarrantError('bundler', r.rule, `${method} refused (${r.code}): ${r.message}`, { code: r.code });
    }
    throw new WarrantError(kind, null, `${method} failed (${body.error.code}): ${body.error.message}`);
  }
  return body.result;
}

/** A node's JSON-RPC (reads only: eth_call, eth_getBlockByNumber). */
export class Node {
  constructor(url) {
    this.url = url;
  }
  request(method, params = []) {
    return jsonRpc(this.url, method, params, 'rpc');
  }
  /** `eth_call` of `{ to, data }` at the latest block. */
  ethCall(c) {
    return this.request('eth_call', [c, 'latest']);
  }
  /** The latest block's timestamp, in seconds. */
  async now() {
    const block = await this.request('eth_getBlockByNumber', ['latest', false]);
    return Number(BigInt(block.timestamp));
  }
  /** The next sequence number of the account's nonce key for the module. */
  async sequence(account, module, accountKind = 'warrant', keySuffix = 0) {
    return call(wasm.decodeSequence, await this.ethCall(call(wasm.nonceCall, account, module, accountKind, keySuffix)));
  }
  /** The account's revocation epoch. */
  async epoch(account, module) {
    return call(wasm.decodeEpoch, await this.ethCall(call(wasm.epochCall, account, module)));
  }
  /** What the validator has counted for the session (`sessionState`, `periodState`, `spendState`). */
  async usage(account, module, session) {
    const calls = call(wasm.usageCalls, account, module, session);
    const results = await Promise.all(calls.map((c) => this.ethCall(c)));
    return call(wasm.decodeUsage, results);
  }
}

/** An ERC-4337 bundler (ERC-7769) for EntryPoint v0.8. */
export class Bundler {
  constructor(url, entryPoint = '0x4337084D9E255Ff0702461CF8895CE9E3b5Ff108') {
    this.url = url;
    this.entryPoint = entryPoint;
  }
  request(method, params = []) {
    return jsonRpc(this.url, method, params, 'bundler');
  }
  /** `eth_sendUserOperation`: the userOpHash. */
  send(op) {
    return this.request('eth_sendUserOperation', [op, this.entryPoint]);
  }
  /** `eth_estimateUserOperationGas`: `{ preVerificationGas, verificationGasLimit, callGasLimit }`. */
  estimate(op) {
    return this.request('eth_estimateUserOperationGas', [op, this.entryPoint]);
  }
  /** `eth_getUserOperationReceipt`: the receipt, or null while pending. */
  receipt(hash) {
    return this.request('eth_getUserOperationReceipt', [hash]);
  }
  /** Polls for the receipt until `timeoutMs`. */
  async waitForReceipt(hash, timeoutMs = 60000) {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const r = await this.receipt(hash);
      if (r) return r;
      if (Date.now() > end) throw new WarrantError('bundler', null, `no receipt for ${hash} after ${timeoutMs} ms`);
      await new Promise((ok) => setTimeout(ok, 250));
    }
  }
  /** Fees the bundler accepts (Pimlico's `pimlico_getUserOperationGasPrice`, standard tier). */
  async gasPrice() {
    const tiers = await this.request('pimlico_getUserOperationGasPrice', []);
    return tiers.standard;
  }
}
