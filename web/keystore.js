// The session key: a WebCrypto ECDSA P-256 key pair created with `extractable: false`, kept in IndexedDB.
//
// IndexedDB stores the CryptoKey object itself (structured clone), never its bytes: the browser keeps the private
// key material out of reach of every script, this page's included. `crypto.subtle.exportKey` on it throws. What
// that does and does not protect against is in docs/browser.md ("Threat model").

const DB_NAME = 'warrant';
const STORE = 'session-keys';
const KEY_ID = 'current';

function open() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB_NAME, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function tx(mode, fn) {
  const db = await open();
  try {
    return await new Promise((resolve, reject) => {
      const t = db.transaction(STORE, mode);
      const req = fn(t.objectStore(STORE));
      t.oncomplete = () => resolve(req?.result);
      t.onerror = () => reject(t.error);
      t.onabort = () => reject(t.error);
    });
  } finally {
    db.close();
  }
}

/** The stored record `{ privateKey, publicKey, publicKeyRaw, createdAt, grant?, token? }`, or undefined. */
export async function load() {
  return tx('readonly', (s) => s.get(KEY_ID));
}

/** Saves the record (the grant is added to it once the owner signs one). */
export async function save(record) {
  await tx('readwrite', (s) => s.put(record, KEY_ID));
  return record;
}

/** Forgets the key and its grant. */
export async function clear() {
  await tx('readwrite', (s) => s.delete(KEY_ID));
}

/**
 * Creates a new non-extractable P-256 key pair and stores it. The public key is exported (public keys are
 * always exportable): its uncompressed point `0x04 ‖ x ‖ y` names the session's signer.
 */
export async function create() {
  const pair = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
  const raw = new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey));
  const record = { privateKey: pair.privateKey, publicKey: pair.publicKey, publicKeyRaw: raw, createdAt: Date.now() };
  return save(record);
}

/**
 * Signs `digest` (32 bytes) with the stored private key. WebCrypto hashes what it signs with SHA-256 itself,
 * so the signature is over sha256(digest), which is what the validator verifies for a WebCrypto session key.
 * Returns the 64-byte `r ‖ s` (IEEE P1363, WebCrypto's format); the Rust side normalises s to the low half.
 */
export async function sign(record, digest) {
  const sig = await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, record.privateKey, digest);
  return new Uint8Array(sig);
}

/** Whether the private key can be exported: tries, and returns the browser's refusal. */
export async function tryExport(record) {
  try {
    await crypto.subtle.exportKey('pkcs8', record.privateKey);
    return { exported: true };
  } catch (e) {
    return { exported: false, error: `${e.name}: ${e.message}` };
  }
}
