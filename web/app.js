// The dApp page: a WebCrypto session key kept in IndexedDB, a grant the owner signs once in their wallet, then
// payments the page signs itself and sends to the bundler. All Warrant logic runs in warrant-core (wasm).

import * as w from './warrant.js';
import * as keystore from './keystore.js';

const $ = (id) => document.getElementById(id);
const ZERO = '0x0000000000000000000000000000000000000000';
const HEADROOM = 3; // the anvil tracer's verification headroom (docs/e2e.md)
const WEBCRYPTO_P256 = 2; // the session signer kind of a WebCrypto P-256 key

const state = { config: null, node: null, bundler: null, record: null, signer: null, busy: false };

function parseEth(text) {
  const m = /^\s*(\d+)(?:\.(\d{0,18}))?\s*$/.exec(text);
  if (!m) throw new w.WarrantError('input', null, `${JSON.stringify(text)} is not an amount of ETH`);
  return (BigInt(m[1]) * 10n ** 18n + BigInt((m[2] ?? '').padEnd(18, '0'))).toString();
}

function formatEth(wei) {
  const v = BigInt(wei);
  const whole = v / 10n ** 18n;
  const frac = (v % 10n ** 18n).toString().padStart(18, '0').replace(/0+$/, '');
  return `${whole}${frac ? '.' + frac : ''} ETH`;
}

function randomSalt() {
  return w.hex(crypto.getRandomValues(new Uint8Array(32)));
}

/** The owner's wallet: the injected EIP-1193 provider, or the devnet's dev wallet (scripts/dapp only). */
function wallet() {
  if (window.ethereum) return window.ethereum;
  if (state.config.devWallet) {
    return {
      async request({ method, params }) {
        const res = await fetch('/dev-wallet', { method: 'POST', body: JSON.stringify({ method, params }) });
        const body = await res.json();
        if (body.error) throw new Error(body.error);
        return body.result;
      },
    };
  }
  throw new w.WarrantError('input', null, 'no wallet: install an EIP-1193 wallet (window.ethereum)');
}

// ---------------------------------------------------------------------------------------------------------------
// The session key.

async function showKey() {
  const r = state.record;
  $('create-key').hidden = !!r;
  $('forget-key').hidden = !r;
  if (!r) {
    $('key-status').textContent = 'No session key in this browser yet.';
    $('key-signer').textContent = '–';
    $('key-export').textContent = '–';
    state.signer = null;
    return;
  }
  state.signer = w.p256Signer(WEBCRYPTO_P256, r.publicKeyRaw);
  $('key-status').textContent = `Session key found in IndexedDB (created ${new Date(r.createdAt).toISOString()}).`;
  $('key-status').dataset.found = 'true';
  $('key-signer').textContent = state.signer;
  const ex = await keystore.tryExport(r);
  $('key-export').textContent = ex.exported
    ? '⚠ EXPORTABLE (this key is not safe)'
    : `non-extractable: exportKey refused (${ex.error})`;
  $('key-export').dataset.extractable = String(ex.exported);
}

/** The session key as the grant token and `explain` name it. */
const sessionKey = () => ({ kind: WEBCRYPTO_P256, publicKey: w.hex(state.record.publicKeyRaw) });

/** The session signature of a 32-byte digest: WebCrypto signs it (SHA-256 on top), wasm builds kind ‖ x ‖ y ‖ r ‖ s. */
async function sessionSignature(digest) {
  const rs = await keystore.sign(state.record, w.unhex(digest));
  return w.p256SessionSignature(WEBCRYPTO_P256, state.record.publicKeyRaw, rs);
}

// ---------------------------------------------------------------------------------------------------------------
// The grant.

async function buildGrant() {
  const c = state.config;
  const now = await state.node.now();
  const minutes = Number($('scope-minutes').value);
  if (!Number.isInteger(minutes) || minutes <= 0) throw new w.WarrantError('input', null, 'minutes: a whole number above 0');
  const uses = Number($('scope-uses').value);
  if (!Number.isInteger(uses) || uses <= 0) throw new w.WarrantError('input', null, 'payments: a whole number above 0');
  const epoch = await state.node.epoch(c.account, c.validator);
  const grant = {
    account: c.account,
    epoch,
    session: {
      signer: state.signer,
      salt: randomSalt(),
      scope: {
        validAfter: 0,
        validUntil: now + minutes * 60,
        maxUses: uses,
        maxValueTotal: parseEth($('scope-total').value),
        paymaster: ZERO,
        maxGasLimit: '0',
        maxFeePerGas: '0',
        calls: [{
          target: $('scope-recipient').value.trim(),
          selector: '0x00000000',
          flags: 0,
          maxValue: parseEth($('scope-per-call').value),
          conditions: [],
        }],
        period: 0,
        periodStart: 0,
        maxUsesPerPeriod: 0,
        limits: [],
        gates: [],
      },
    },
  };
  w.validateGrant(grant, c.validator, c.chainId);
  return grant;
}

async function preview() {
  state.pending = await buildGrant();
  $('explain').textContent = w.explain(state.pending, {}, sessionKey());
  $('explain').hidden = false;
  $('sign-grant').disabled = false;
}

async function signGrant() {
  const c = state.config;
  const grant = state.pending ?? (await buildGrant());
  const provider = wallet();
  const [from] = await provider.request({ method: 'eth_requestAccounts', params: [] });
  const typed = w.grantTypedData(grant, c.validator, c.chainId);
  $('grant-status').textContent = `Asking ${from} to sign…`;
  const signature = await provider.request({ method: 'eth_signTypedData_v4', params: [from, JSON.stringify(typed)] });
  const out = w.signedGrant(grant, c.validator, c.chainId, signature, sessionKey());
  if (out.signer.toLowerCase() !== c.owner.toLowerCase()) {
    throw new w.WarrantError('input', null, `the wallet signed as ${out.signer}, but the account's owner is ${c.owner}`);
  }
  state.record = await keystore.save({ ...state.record, grant: out.signedGrant, token: out.token });
  showGrant();
  await refresh();
}

function showGrant() {
  const g = state.record?.grant;
  $('pay-button').disabled = !g;
  $('grant-token-box').hidden = !g;
  if (!g) {
    $('grant-status').textContent = state.record ? 'No grant yet: the owner signs one above.' : '';
    return;
  }
  $('grant-status').textContent = `Granted by ${state.config.owner}; session ${w.sessionId(g.grant.session, g.grant.account)}.`;
  $('grant-status').dataset.granted = 'true';
  $('grant-token').textContent = state.record.token;
  $('explain').textContent = w.explain(g.grant, {}, sessionKey());
  $('explain').hidden = false;
}

// ---------------------------------------------------------------------------------------------------------------
// Payments.

async function refresh() {
  const g = state.record?.grant;
  const list = $('remaining');
  if (!g) {
    list.innerHTML = '<li class="muted">No grant yet.</li>';
    return;
  }
  const session = g.grant.session;
  const [usage, now] = await Promise.all([
    state.node.usage(g.grant.account, g.module, session),
    state.node.now(),
  ]);
  const r = w.remaining(session, usage, now);
  const rows = [
    ['status', `Session: ${r.status === 'none' ? 'not enabled yet (the first payment enables it)' : r.status}`],
    ['uses', r.uses === null ? 'Payments: no cap' : `Payments left: ${r.uses} of ${session.scope.maxUses}`],
    ['value', `Value left (payments and the gas the account pays): ${formatEth(r.value)}`],
    ...r.limits.map((l, i) => {
      const amount = (v) => (v === null ? 'no cap' : l.token === ZERO ? formatEth(v) : `${v} (token units)`);
      const asset = l.token === ZERO ? 'ETH' : l.token;
      const period = l.period === null ? '' : `, ${amount(l.remainingInPeriod)} left in period ${l.period}`;
      return [`limit-${i}`, `Spend limit on ${asset}: ${amount(l.remainingLifetime)} left in all${period}`];
    }),
    ['time', r.validUntil ? `Valid until ${new Date(r.validUntil * 1000).toISOString()} (${Math.floor(r.secondsLeft / 60)} min left)` : 'No expiry'],
  ];
  list.replaceChildren(...rows.map(([k, text]) => {
    const li = document.createElement('li');
    li.dataset.limit = k;
    li.textContent = text;
    return li;
  }));
  list.dataset.usesLeft = String(r.uses);
  return usage;
}

function renderEntry(li, { state: stateName, html, rule }) {
  li.dataset.state = stateName;
  li.className = stateName;
  if (rule) li.dataset.rule = rule;
  li.innerHTML = html; // built from escaped parts (esc) only
}

/** A new line of the operations log; settled lines are kept with the key (the last 20), so a reload shows them. */
function logEntry(text) {
  const li = document.createElement('li');
  li.textContent = text;
  li.dataset.state = 'pending';
  $('log').prepend(li);
  return {
    done(stateName, html, rule = null) {
      const entry = { state: stateName, html, rule };
      renderEntry(li, entry);
      if (stateName !== 'pending' && state.record) {
        state.record.log = [entry, ...(state.record.log ?? [])].slice(0, 20);
        keystore.save(state.record).catch((e) => console.error(e));
      }
    },
  };
}

function showLog() {
  $('log').replaceChildren(
    ...(state.record?.log ?? []).map((entry) => {
      const li = document.createElement('li');
      renderEntry(li, entry);
      li.dataset.restored = 'true';
      return li;
    }),
  );
}

const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);

async function pay() {
  const c = state.config;
  const g = state.record.grant;
  const session = g.grant.session;
  const to = $('to').value.trim();
  const amount = parseEth($('amount').value);
  const entry = logEntry(`Paying ${formatEth(amount)} to ${to}…`);
  try {
    const [usage, sequence, fees, now] = await Promise.all([
      state.node.usage(c.account, c.validator, session),
      state.node.sequence(c.account, c.validator, c.accountKind),
      state.bundler.gasPrice(),
      state.node.now(),
    ]);
    const presentation = usage.status === 'none' ? 'enable' : 'use';
    const request = {
      account: c.account,
      module: c.validator,
      chainId: String(c.chainId),
      accountKind: c.accountKind,
      calls: [{ target: to, value: amount, data: '0x' }],
      gas: {
        callGasLimit: '500000',
        verificationGasLimit: '1000000',
        preVerificationGas: '200000',
        maxFeePerGas: BigInt(fees.maxFeePerGas).toString(),
        maxPriorityFeePerGas: BigInt(fees.maxPriorityFeePerGas).toString(),
      },
      period: 0,
      sequence,
    };
    const prepare = () => (presentation === 'enable' ? w.prepareEnable(request, g) : w.prepareUse(request, session));
    // For the estimate only: a signature of another digest, attached unchecked.
    const estimating = (op, sig) =>
      presentation === 'enable' ? w.estimationEnable(op, g, 0, sig) : w.estimationUse(op, session, 0, sig);
    // The real one: wasm checks it proves the session's signer, as the validator will.
    const signed = (sig) => (presentation === 'enable' ? w.applyEnable(request, g, sig) : w.applyUse(request, session, sig));
    const preflight = (op) => w.check({ session, usage, presentation, op, module: c.validator, now: now + 1 });
    const skip = $('skip-check').checked;

    let p = prepare();
    // Out of scope is refused here, before anything is signed or sent.
    if (!skip) preflight(p.op);
    // Estimate with a signature of another digest: the validator's estimation path (it skips the gas caps and
    // counts gas as 1 wei), so the bundler's generous limits don't count against the budget.
    const throwaway = await sessionSignature(w.hex(new Uint8Array(32)));
    const estimate = await state.bundler.estimate(estimating(p.op, throwaway));
    request.gas = w.applyEstimate(request.gas, estimate, HEADROOM);
    p = prepare();
    if (!skip) preflight(p.op);
    const op = signed(await sessionSignature(p.digest));
    const hash = await state.bundler.send(op);
    entry.done('pending', `Sent ${esc(hash)}, waiting for a block…`);
    const receipt = await state.bundler.waitForReceipt(hash);
    const ok = receipt.success;
    entry.done(
      ok ? 'mined' : 'failed',
      `${ok ? 'Mined' : 'Reverted'}: ${formatEth(amount)} to <code>${esc(to)}</code> (${presentation.toUpperCase()}), ` +
        `block ${BigInt(receipt.receipt.blockNumber)}, ${BigInt(receipt.actualGasUsed)} gas, ` +
        `cost ${formatEth(receipt.actualGasCost)}; userOpHash <code>${esc(hash)}</code>`,
    );
  } catch (e) {
    if (e.kind === 'denial' || e.rule) {
      const where = e.kind === 'bundler' ? 'Refused by the bundler (the validator)' : 'Refused before signing';
      entry.done('refused', `${where}: <span class="rule">${esc(e.rule)}</span> — ${esc(e.message)}`, e.rule);
    } else {
      entry.done('failed', `Failed (${esc(e.kind ?? e.name)}): ${esc(e.message)}`);
    }
  } finally {
    await refresh().catch(() => {});
  }
}

// ---------------------------------------------------------------------------------------------------------------

function guard(fn) {
  return async () => {
    if (state.busy) return;
    state.busy = true;
    document.body.dataset.busy = 'true';
    try {
      await fn();
    } catch (e) {
      $('grant-status').textContent = e.rule ? `${e.rule}: ${e.message}` : e.message;
      $('grant-status').dataset.error = e.rule ?? e.kind ?? 'error';
      console.error(e);
    } finally {
      state.busy = false;
      delete document.body.dataset.busy;
    }
  };
}

async function main() {
  await w.load();
  const c = (state.config = await (await fetch('config.json')).json());
  state.node = new w.Node(c.rpcUrl);
  state.bundler = new w.Bundler(c.bundlerUrl);
  $('net').textContent = `Chain ${c.chainId} · account ${c.account} (owner ${c.owner}) · validator ${c.validator} · bundler ${c.bundlerUrl}`;
  $('scope-recipient').value = c.recipient;
  document.body.dataset.signing = 'webcrypto-p256';
  $('to').value = c.recipient;
  state.record = await keystore.load();
  await showKey();
  showGrant();
  showLog();
  $('preview').disabled = !state.record;
  $('create-key').onclick = guard(async () => {
    state.record = await keystore.create();
    await showKey();
    $('preview').disabled = false;
    showGrant();
  });
  $('forget-key').onclick = guard(async () => {
    await keystore.clear();
    state.record = undefined;
    await showKey();
    showGrant();
    showLog();
    $('preview').disabled = true;
    $('sign-grant').disabled = true;
    await refresh();
  });
  $('preview').onclick = guard(preview);
  $('sign-grant').onclick = guard(signGrant);
  $('pay-button').onclick = guard(pay);
  await refresh();
  document.body.dataset.ready = 'true';
}

main().catch((e) => {
  $('net').textContent = `Could not start: ${e.message}`;
  document.body.dataset.ready = 'error';
  console.error(e);
});
