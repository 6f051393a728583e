// What the Chromium tests share: their environment, the step log they print, Debian's Chromium launched for a
// closed network, and the owner's EIP-1193 wallet injected into the page (backed by a test key that viem signs
// with in this process, as an extension's provider would be).

import { chromium } from 'playwright-core';

/** The environment variable `name`, or an error that names it. */
export const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};

/** A result the Rust test asserts on, and `step(name, detail)`, which records a step and logs it. */
export const recorder = (extra = {}) => {
  const result = { steps: [], console: [], pageErrors: [], walletCalls: [], ...extra };
  const step = (name, detail = {}) => {
    result.steps.push({ name, ...detail });
    console.error(`browser: ${name} ${JSON.stringify(detail)}`);
  };
  return { result, step };
};

/**
 * Debian's Chromium (or $CHROMIUM), headless, with a persistent profile in `userDataDir`. The flags matter on a
 * closed network: without the background-networking ones Chromium keeps dialling out.
 */
export const launchChromium = (userDataDir) =>
  chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });

/**
 * Injects `owner`'s wallet as `window.ethereum` into every page of `context`: accounts, the chain id and
 * `eth_signTypedData_v4` (for `owner` only); every call is listed in `result.walletCalls`, and the last typed
 * data's primary type and domain in `result.typedData`.
 */
export const injectWallet = async (context, { owner, chainId, result }) => {
  await context.exposeBinding('__warrantTestWallet', async (_source, method, params) => {
    result.walletCalls.push(method);
    switch (method) {
      case 'eth_requestAccounts':
      case 'eth_accounts':
        return [owner.address];
      case 'eth_chainId':
        return '0x' + Number(chainId).toString(16);
      case 'eth_signTypedData_v4': {
        const [from, json] = params;
        if (from.toLowerCase() !== owner.address.toLowerCase()) throw new Error(`unknown account ${from}`);
        const typed = JSON.parse(json);
        result.typedData = { primaryType: typed.primaryType, domain: typed.domain };
        return owner.signTypedData(typed);
      }
      default:
        throw new Error(`test wallet: ${method} is not supported`);
    }
  });
  await context.addInitScript(() => {
    window.ethereum = { request: ({ method, params }) => window.__warrantTestWallet(method, params ?? []) };
  });
};
