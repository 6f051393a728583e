// The dApp of the ERC-7715 Chromium test (web/test/erc7715.mjs bundles it with esbuild; warrant.js stays a
// module of its own). It asks for the permission exactly as a dApp written for MetaMask does: a viem wallet
// client extended with the kit's erc7715ProviderActions, pointed at the Warrant service's /rpc, and a session
// account of its own (viem's privateKeyToAccount) as `to`. It then spends the permission with the browser
// package: the context is the Warrant grant token; the session key signs each operation's digest.

import { createWalletClient, http } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { erc7715ProviderActions } from '@metamask/smart-accounts-kit/actions';
import * as w from '/warrant.js';

const $ = (id) => document.getElementById(id);
const HEADROOM = 3;
const transferSelector = '0xa9059cbb';
const word = (hex) => hex.replace(/^0x/, '').padStart(64, '0');

const state = { config: null, grant: null, context: null, session: privateKeyToAccount(generatePrivateKey()) };

function client() {
  // The service holds the call open until the owner decides: the timeout is above its wait.
  return createWalletClient({ transport: http(`${state.config.serviceUrl}/rpc`, { timeout: 180_000 }) })
    .extend(erc7715ProviderActions());
}

async function request() {
  const c = state.config;
  const kit = client();
  const supported = await kit.getSupportedExecutionPermissions();
  document.body.dataset.supported = Object.keys(supported).join(',');
  const [granted] = await kit.requestExecutionPermissions([{
    chainId: c.chainId,
    from: c.account,
    to: state.session.address,
    expiry: c.expiry,
    permission: {
      type: 'erc20-token-periodic',
      data: {
        tokenAddress: c.token,
        periodAmount: BigInt(c.periodAmount),
        periodDuration: c.periodDuration,
        startTime: c.startTime,
        justification: 'Pay the subscription, at most periodAmount tokens a period',
      },
      isAdjustmentAllowed: false,
    },
  }]);
  state.context = granted.context;
  const token = new TextDecoder().decode(w.unhex(granted.context));
  state.grant = w.readToken(token);
  state.response = granted;
  $('permission').textContent = `Granted: ${granted.permission.type}, ${granted.permission.data.periodAmount} per ` +
    `${granted.permission.data.periodDuration} s; delegationManager ${granted.delegationManager}`;
  $('permission').dataset.granted = 'true';
}

function entry(text) {
  const li = document.createElement('li');
  li.textContent = text;
  li.dataset.state = 'pending';
  $('log').prepend(li);
  return (stateName, message, rule = null) => {
    li.dataset.state = stateName;
    if (rule) li.dataset.rule = rule;
    li.textContent = message;
  };
}

async function pay() {
  const c = state.config;
  const g = state.grant.signedGrant ?? state.grant;
  const session = g.grant.session;
  const account = g.grant.account;
  const amount = $('amount').value.trim();
  const done = entry(`Paying ${amount}…`);
  const node = new w.Node(c.rpcUrl);
  const bundler = new w.Bundler(c.bundlerUrl);
  let at = '';
  try {
    const [usage, sequence, fees, now] = await Promise.all([
      node.usage(account, g.module, session),
      node.sequence(account, g.module, c.accountKind),
      bundler.gasPrice(),
      node.now(),
    ]);
    const scope = session.scope;
    const period = scope.period ? Math.floor((now - Number(scope.periodStart)) / Number(scope.period)) : 0;
    const presentation = usage.status === 'none' ? 'enable' : 'use';
    at = ` (chain time ${now}, period ${period})`;
    const data = transferSelector + word(c.payee) + word(BigInt(amount).toString(16));
    const req = {
      account,
      module: g.module,
      chainId: String(c.chainId),
      accountKind: c.accountKind,
      calls: [{ target: c.token, value: '0', data }],
      gas: {
        callGasLimit: '500000',
        verificationGasLimit: '1000000',
        preVerificationGas: '200000',
        maxFeePerGas: BigInt(fees.maxFeePerGas).toString(),
        maxPriorityFeePerGas: BigInt(fees.maxPriorityFeePerGas).toString(),
      },
      period,
      sequence,
    };
    const prepare = () => (presentation === 'enable' ? w.prepareEnable(req, g) : w.prepareUse(req, session));
    const estimating = (op, sig) =>
      presentation === 'enable' ? w.estimationEnable(op, g, period, sig) : w.estimationUse(op, session, period, sig);
    const signed = (sig) => (presentation === 'enable' ? w.applyEnable(req, g, sig) : w.applyUse(req, session, sig));
    const preflight = (op) => w.check({ session, usage, presentation, op, module: g.module, period, now: now + 1 });
    const skip = $('skip-check').checked;
    let p = prepare();
    if (!skip) preflight(p.op);
    // The estimate's signature is of another digest: the validator's estimation path.
    const throwaway = await state.session.sign({ hash: w.hex(new Uint8Array(32)) });
    const estimate = await bundler.estimate(estimating(p.op, throwaway));
    req.gas = w.applyEstimate(req.gas, estimate, HEADROOM);
    p = prepare();
    if (!skip) preflight(p.op);
    const op = signed(await state.session.sign({ hash: p.digest }));
    const hash = await bundler.send(op);
    const receipt = await bundler.waitForReceipt(hash);
    done(receipt.success ? 'mined' : 'failed', `${receipt.success ? 'Mined' : 'Reverted'}: ${amount} (${presentation.toUpperCase()}, period ${period}) ${hash}`);
  } catch (e) {
    if (e.kind === 'denial' || e.rule) {
      const where = e.kind === 'bundler' ? 'Refused by the bundler (the validator)' : 'Refused before signing';
      done('refused', `${where}: ${e.rule} — ${e.message}${at}`, e.rule);
    } else {
      done('failed', `Failed (${e.kind ?? e.name}): ${e.message}`);
    }
  }
}

async function granted() {
  const list = await client().getGrantedExecutionPermissions();
  $('granted').textContent = JSON.stringify(list, (_, v) => (typeof v === 'bigint' ? v.toString() : v), 2);
  return list;
}

function guard(fn) {
  return async () => {
    document.body.dataset.busy = 'true';
    try {
      await fn();
    } catch (e) {
      $('permission').textContent = `Error: ${e.shortMessage ?? e.message}`;
      $('permission').dataset.error = String(e.code ?? e.name);
      console.error(e);
    } finally {
      delete document.body.dataset.busy;
    }
  };
}

async function main() {
  await w.load();
  state.config = await (await fetch('/config.json')).json();
  $('session').textContent = state.session.address;
  $('request').onclick = guard(request);
  $('pay').onclick = guard(pay);
  window.dappGranted = granted;
  document.body.dataset.ready = 'true';
}

main().catch((e) => {
  document.body.dataset.ready = 'false';
  $('permission').textContent = `Could not start: ${e.message}`;
});
