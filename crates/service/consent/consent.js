// The consent page of the Warrant service (crates/service/src/erc7715/consent.rs). For each pending ERC-7715
// request: the service drafts the grant (the request translated with the owner's gas terms, the account's epoch,
// a fresh salt); this page explains THAT grant with the browser package and asks the owner's EIP-1193 wallet to
// sign THAT grant (eth_signTypedData_v4, ERC-7739 explicit mode); the service then checks the signature on chain
// and that the signed scope is exactly the request's, and completes the dApp's call.

import * as w from './warrant.js';

const $ = (id) => document.getElementById(id);

async function api(path, body) {
  const res = await fetch(path, body === undefined ? {} : {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const out = await res.json();
  if (!res.ok) throw Object.assign(new Error(`${out.error}: ${out.message}`), { problem: out.error });
  return out;
}

function wallet() {
  if (!window.ethereum) throw new Error('no wallet: this page needs an EIP-1193 wallet (window.ethereum)');
  return window.ethereum;
}

function field(label, input) {
  const p = document.createElement('p');
  const l = document.createElement('label');
  l.textContent = label + ' ';
  l.append(input);
  p.append(l);
  return p;
}

function input(name, value = '') {
  const i = document.createElement('input');
  i.name = name;
  i.value = value;
  i.size = 44;
  return i;
}

function button(text, cls, onClick) {
  const b = document.createElement('button');
  b.textContent = text;
  b.className = cls;
  b.addEventListener('click', async () => {
    b.disabled = true;
    try {
      await onClick();
    } catch (e) {
      b.closest('li').dataset.error = e.problem ?? e.name ?? 'Error';
      b.closest('li').querySelector('.result').textContent = `Refused: ${e.message}`;
    } finally {
      b.disabled = false;
    }
  });
  return b;
}

function showPending(item) {
  const li = document.createElement('li');
  li.dataset.id = item.id;
  const head = document.createElement('p');
  head.textContent = `${item.origin || '(no origin)'} asks for ${item.request.permission.type} via ${item.method}`;
  const raw = document.createElement('pre');
  raw.className = 'request';
  raw.textContent = JSON.stringify(item.request, null, 2);
  const account = input('account', item.request.from ?? '');
  const gas = input('maxValueTotal', item.request.permission.type.startsWith('native-') ? 'max' : '');
  const paymaster = input('paymaster');
  const explain = document.createElement('pre');
  explain.className = 'explain';
  explain.hidden = true;
  const result = document.createElement('p');
  result.className = 'result';
  let draft = null;
  const show = button('Show what I would sign', 'show', async () => {
    const body = { account: account.value.trim() || null };
    if (paymaster.value.trim()) body.paymaster = paymaster.value.trim();
    else body.maxValueTotal = gas.value.trim();
    draft = await api(`/consent/requests/${item.id}/draft`, body);
    w.validateGrant(draft.grant, draft.module, draft.chainId);
    explain.textContent = w.explain(draft.grant, {});
    explain.hidden = false;
    sign.disabled = false;
    li.dataset.drafted = 'true';
  });
  const sign = button('Sign with my wallet', 'sign', async () => {
    const provider = wallet();
    const [from] = await provider.request({ method: 'eth_requestAccounts', params: [] });
    const typed = w.grantTypedData(draft.grant, draft.module, draft.chainId);
    const signature = await provider.request({ method: 'eth_signTypedData_v4', params: [from, JSON.stringify(typed)] });
    const out = w.signedGrant(draft.grant, draft.module, draft.chainId, signature);
    const done = await api(`/consent/requests/${item.id}/approve`, { token: out.token });
    li.dataset.state = done.state;
    result.textContent = `Granted: session ${w.sessionId(draft.grant.session, draft.grant.account)}.`;
  });
  sign.disabled = true;
  const reject = button('Reject', 'reject', async () => {
    const done = await api(`/consent/requests/${item.id}/reject`, {});
    li.dataset.state = done.state;
    result.textContent = 'Rejected.';
  });
  li.append(head, raw,
    field('Account', account),
    field('Gas budget the account pays, wei ("max": the permission\'s own limit, gas included)', gas),
    field('or a paymaster that sponsors every operation', paymaster),
    show, explain, sign, reject, result);
  $('pending').append(li);
}

function showRevocation(item) {
  const li = document.createElement('li');
  li.dataset.id = item.id;
  const p = document.createElement('p');
  p.textContent = `${item.origin || '(no origin)'} asks you to revoke session ${item.sessionId} of ${item.account}. ` +
    `Your wallet sends a transaction from your account to itself that calls revokeSession on ${item.module} ` +
    `(EIP-7702 accounts), or run: ${item.cli}`;
  const data = document.createElement('pre');
  data.textContent = JSON.stringify(item.transaction, null, 2);
  const result = document.createElement('p');
  result.className = 'result';
  const revoke = button('Revoke with my wallet', 'revoke', async () => {
    const provider = wallet();
    const [from] = await provider.request({ method: 'eth_requestAccounts', params: [] });
    if (from.toLowerCase() !== item.account.toLowerCase()) {
      throw new Error(`your wallet is ${from}; only the account ${item.account} itself can send this (use the CLI)`);
    }
    const hash = await provider.request({ method: 'eth_sendTransaction', params: [item.transaction] });
    li.dataset.sent = hash;
    result.textContent = `Sent ${hash}; the permission shows revoked once it is mined.`;
  });
  li.append(p, data, revoke, result);
  $('revocations').append(li);
}

async function main() {
  await w.load();
  const list = await api('/consent/requests');
  $('pending').replaceChildren();
  $('revocations').replaceChildren();
  list.pending.forEach(showPending);
  list.revocations.forEach(showRevocation);
  $('status').textContent = `Chain ${list.chainId}: ${list.pending.length} request(s), ${list.revocations.length} revocation(s).`;
  document.body.dataset.ready = 'true';
}

main().catch((e) => {
  $('status').textContent = `The page did not start: ${e.message}`;
  document.body.dataset.ready = 'false';
});
