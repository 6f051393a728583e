// Types of web/warrant.js (Warrant's browser API). JSON shapes are those of docs/grant-token.md (grants) and
// ERC-7769 (user operations); integers wider than 48 bits are decimal strings.

export type Address = `0x${string}`;
export type Hex = `0x${string}`;
export type Decimal = string;

/** Thrown by every call: `rule` names the validator rule that refused (e.g. "CallNotPermitted"), or is null. */
export class WarrantError extends Error {
  name: 'WarrantError';
  kind: 'denial' | 'input' | 'token' | 'core' | 'bundler' | 'rpc';
  rule: string | null;
  code?: number;
}

export interface CallPolicy { target: Address; selector: Hex; flags: number; maxValue: Decimal; conditions: ArgCondition[] }
export interface ArgCondition { condition: number; argType: number; argIndex: number; values: Hex[] }
export interface SpendLimit { token: Address; perPeriod: Decimal; lifetime: Decimal }
export interface Gate { token: Address; kind: number; tokenId: Decimal; minBalance: Decimal }
export interface Scope {
  validAfter: number; validUntil: number; maxUses: number; maxValueTotal: Decimal; paymaster: Address;
  maxGasLimit: Decimal; maxFeePerGas: Decimal; calls: CallPolicy[]; period: number; periodStart: number;
  maxUsesPerPeriod: number; limits: SpendLimit[]; gates: Gate[];
}
export interface Session { signer: Address; salt: Hex; scope: Scope }
export interface Grant { account: Address; epoch: Decimal; session: Session }
export interface SignedGrant { chainId: Decimal; module: Address; grant: Grant; ownerSignature: Hex }

/** A user operation in the ERC-7769 wire form. */
export interface UserOperation {
  sender: Address; nonce: Hex; factory?: Address; factoryData?: Hex; callData: Hex; callGasLimit: Hex;
  verificationGasLimit: Hex; preVerificationGas: Hex; maxFeePerGas: Hex; maxPriorityFeePerGas: Hex;
  paymaster?: Address; paymasterVerificationGasLimit?: Hex; paymasterPostOpGasLimit?: Hex; paymasterData?: Hex;
  signature: Hex;
}

export interface GasFields {
  callGasLimit: Decimal; verificationGasLimit: Decimal; preVerificationGas: Decimal; maxFeePerGas: Decimal;
  maxPriorityFeePerGas: Decimal;
}
export interface OpRequest {
  account: Address; module: Address; chainId: Decimal; accountKind?: 'warrant' | 'nexus' | 'kernel';
  calls: { target: Address; value?: Decimal; data?: Hex }[]; gas: GasFields; keySuffix?: number; period?: number;
  sequence: Decimal;
}
export interface Prepared { op: UserOperation; userOpHash: Hex; digest: Hex }

export interface SpendUsage { periodIndex: number; periodSpent: Decimal; lifetimeSpent: Decimal }
export interface Usage {
  status: 'none' | 'enabled' | 'revoked'; uses: number; valueSpent: Decimal; periodIndex: number;
  usesInPeriod: number; limits: SpendUsage[];
}
export interface CheckInput {
  session: Session; usage: Usage; presentation: 'use' | 'enable'; op: UserOperation; module: Address;
  period?: number; now: number; holdings?: (Decimal | null)[];
}
export interface Debit { usageAfter: Usage; validAfter: number; validUntil: number }
export interface Remaining {
  status: Usage['status']; uses: number | null; usesMade: number; value: Decimal;
  limits: { token: Address; period: number | null; remainingInPeriod: Decimal | null; remainingLifetime: Decimal | null; refillsAt: number | null }[];
  validUntil: number | null; secondsLeft: number | null;
}
export interface BundlerRefusal { kind: 'bundler'; code: number | null; rule: string | null; message: string }

export function load(): Promise<void>;
/** A P-256 session key: kind 1 raw, 2 WebCrypto; the uncompressed public key `0x04 ‖ x ‖ y`. */
export interface SessionKey { kind: 1 | 2; publicKey: Hex }
export function readToken(token: string): { signedGrant: SignedGrant; sessionId: Hex; sessionKey: SessionKey | null };
export function encodeToken(signedGrant: SignedGrant, sessionKey?: SessionKey | null): string;
export function explain(grant: Grant, hints?: Record<Address, { symbol?: string; decimals: number }>, sessionKey?: SessionKey | null): string;
export function validateGrant(grant: Grant, module: Address, chainId: number | Decimal): void;
export function sessionId(session: Session, account: Address): Hex;
export function grantTypedData(grant: Grant, module: Address, chainId: number | Decimal): object;
export function signedGrant(grant: Grant, module: Address, chainId: number | Decimal, signature: Hex, sessionKey?: SessionKey | null):
  { signedGrant: SignedGrant; token: string; signer: Address; digest: Hex };
export function prepareUse(request: OpRequest, session: Session): Prepared;
export function prepareEnable(request: OpRequest, signedGrant: SignedGrant): Prepared;
/** The request's USE operation signed; refused unless the signature proves the session's signer. */
export function applyUse(request: OpRequest, session: Session, signature: Hex): UserOperation;
/** The request's ENABLE operation signed; refused unless the signature proves the session's signer. */
export function applyEnable(request: OpRequest, signedGrant: SignedGrant, signature: Hex): UserOperation;
/** For gas estimation only: `op` with a module signature around an unchecked signature. */
export function estimationUse(op: UserOperation, session: Session, period: number, signature: Hex): UserOperation;
export function estimationEnable(op: UserOperation, signedGrant: SignedGrant, period: number, signature: Hex): UserOperation;
export function applyEstimate(gas: GasFields, estimate: object, headroom: number): GasFields;
export function check(input: CheckInput): Debit;
export function remaining(session: Session, usage: Usage, now: number): Remaining;
export function bundlerRefusal(error: { code?: number; message?: string; data?: unknown }): BundlerRefusal;
/** The session signer of a P-256 public key (`0x04 ‖ x ‖ y`); kind 1 raw, 2 WebCrypto. */
export function p256Signer(kind: 1 | 2, publicKey: Uint8Array | Hex): Address;
/** The 129-byte session signature from WebCrypto's 64-byte `r ‖ s` (s normalised low). */
export function p256SessionSignature(kind: 1 | 2, publicKey: Uint8Array | Hex, rs: Uint8Array | Hex): Hex;
export function hex(bytes: Uint8Array | string): Hex;
export function unhex(text: string): Uint8Array;

export class Node {
  constructor(url: string);
  request(method: string, params?: unknown[]): Promise<any>;
  ethCall(call: { to: Address; data: Hex }): Promise<Hex>;
  now(): Promise<number>;
  sequence(account: Address, module: Address, accountKind?: string, keySuffix?: number): Promise<Decimal>;
  epoch(account: Address, module: Address): Promise<Decimal>;
  usage(account: Address, module: Address, session: Session): Promise<Usage>;
}

export class Bundler {
  constructor(url: string, entryPoint?: Address);
  request(method: string, params?: unknown[]): Promise<any>;
  send(op: UserOperation): Promise<Hex>;
  estimate(op: UserOperation): Promise<{ preVerificationGas: Hex; verificationGasLimit: Hex; callGasLimit: Hex }>;
  receipt(hash: Hex): Promise<object | null>;
  waitForReceipt(hash: Hex, timeoutMs?: number): Promise<any>;
  gasPrice(): Promise<{ maxFeePerGas: Hex; maxPriorityFeePerGas: Hex }>;
}
