// The dApp page in a real headless Chromium (Debian's, driven by playwright-core), against the anvil + Alto
// network the Rust test `browser` (crates/chain/tests/browser) starts. The owner's wallet is an EIP-1193
// provider injected into the page, backed by a test key that viem signs with in this process.
//
// Input (environment): WARRANT_CONFIG (the page's config JSON), WARRANT_OWNER_KEY, WARRANT_STRANGER (an address
// outside the grant's scope), WARRANT_SCREENSHOT (where to save the page), CHROMIUM (default /usr/bin/chromium).
// Output: one line `WARRANT_BROWSER_RESULT {json}` for the Rust test to assert on; exit code 1 on failure.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { privateKeyToAccount } from 'viem/accounts';
import { serve } from '../serve.mjs';
import { env, injectWallet, launchChromium, recorder } from './harness.mjs';

const config = JSON.parse(env('WARRANT_CONFIG'));
const owner = privateKeyToAccount(env('WARRANT_OWNER_KEY'));
const stranger = env('WARRANT_STRANGER');
const screenshot = env('WARRANT_SCREENSHOT');
const STEP_TIMEOUT = 90_000;

const { result, step } = recorder();

const server = await serve({ config });
const userDataDir = await mkdtemp(join(tmpdir(), 'warrant-chromium-'));
let context;
try {
  context = await launchChromium(userDataDir);
  await injectWallet(context, { owner, chainId: config.chainId, result });
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(STEP_TIMEOUT);
  page.on('console', (m) => result.console.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => result.pageErrors.push(String(e)));

  const ready = async () => {
    await page.waitForSelector('body[data-ready]');
    const r = await page.getAttribute('body', 'data-ready');
    if (r !== 'true') throw new Error(`the page did not start: ${await page.textContent('#net')}`);
  };
  await page.goto(server.url);
  await ready();
  result.signingMode = await page.getAttribute('body', 'data-signing');
  step('loaded', { signingMode: result.signingMode, keyFoundAtStart: (await page.getAttribute('#key-status', 'data-found')) === 'true' });

  // 1. The session key: created in the page, non-extractable.
  await page.click('#create-key');
  await page.waitForSelector('#key-status[data-found="true"]');
  result.signer = (await page.textContent('#key-signer')).trim();
  result.extractableShown = await page.getAttribute('#key-export', 'data-extractable');
  result.exportAttempt = await page.evaluate(async () => {
    const { load } = await import('./keystore.js');
    const r = await load();
    const out = { extractable: r.privateKey.extractable, type: r.privateKey.type, usages: r.privateKey.usages };
    for (const format of ['pkcs8', 'jwk']) {
      try {
        await crypto.subtle.exportKey(format, r.privateKey);
        out[format] = 'exported';
      } catch (e) {
        out[format] = `${e.name}: ${e.message}`;
      }
    }
    out.publicKey = Array.from(r.publicKeyRaw, (b) => b.toString(16).padStart(2, '0')).join('');
    return out;
  });
  step('key created', { signer: result.signer, exportAttempt: result.exportAttempt });

  // 2. The grant: explained in words, signed by the wallet (eth_signTypedData_v4).
  await page.click('#preview');
  await page.waitForSelector('#explain:not([hidden])');
  result.explain = await page.textContent('#explain');
  await page.click('#sign-grant');
  await page.waitForSelector('#grant-status[data-granted="true"], #grant-status[data-error]');
  result.grantStatus = await page.textContent('#grant-status');
  if ((await page.getAttribute('#grant-status', 'data-granted')) !== 'true') throw new Error(`grant: ${result.grantStatus}`);
  result.token = (await page.textContent('#grant-token')).trim();
  step('granted', { status: result.grantStatus });

  // Pays and waits for the operation's log entry to settle; returns { state, rule, text }.
  const pay = async (to, amount, skipCheck = false) => {
    const before = await page.locator('#log li').count();
    await page.fill('#to', to);
    await page.fill('#amount', amount);
    await page.setChecked('#skip-check', skipCheck);
    await page.click('#pay-button');
    await page.waitForFunction((n) => {
      const items = document.querySelectorAll('#log li');
      return items.length > n && items[0].dataset.state !== 'pending' && !document.body.dataset.busy;
    }, before);
    const first = page.locator('#log li').first();
    return {
      state: await first.getAttribute('data-state'),
      rule: await first.getAttribute('data-rule'),
      text: (await first.textContent()).trim(),
    };
  };
  const usesLeft = async () => page.getAttribute('#remaining', 'data-uses-left');

  // 3. Two session operations, signed in the page without a prompt, mined through the bundler.
  result.ops = [];
  for (const amount of ['0.01', '0.015']) {
    const walletCallsBefore = result.walletCalls.length;
    const r = await pay(config.recipient, amount);
    r.walletPrompts = result.walletCalls.length - walletCallsBefore;
    r.usesLeft = await usesLeft();
    result.ops.push(r);
    step('paid', r);
    if (r.state !== 'mined') throw new Error(`payment of ${amount}: ${r.text}`);
  }

  // 4. Out of scope: refused in the page before signing, then (pre-flight skipped) by the chain via the bundler.
  result.refusedPreflight = await pay(stranger, '0.01');
  step('refused by the pre-flight', result.refusedPreflight);
  result.refusedByBundler = await pay(stranger, '0.01', true);
  step('refused by the bundler', result.refusedByBundler);

  // 5. A reload finds the key (and its grant) in IndexedDB, and it still signs.
  await page.reload();
  await ready();
  result.afterReload = {
    found: (await page.getAttribute('#key-status', 'data-found')) === 'true',
    signer: (await page.textContent('#key-signer')).trim(),
    granted: (await page.getAttribute('#grant-status', 'data-granted')) === 'true',
    usesLeft: await usesLeft(),
    restoredLog: await page.locator('#log li[data-restored]').count(),
  };
  step('reloaded', result.afterReload);
  result.afterReload.op = await pay(config.recipient, '0.005');
  step('paid after reload', result.afterReload.op);
  result.remaining = await page.locator('#remaining li').allTextContents();

  await page.screenshot({ path: screenshot, fullPage: true });
  result.screenshot = screenshot;
  result.ok = true;
} catch (e) {
  result.ok = false;
  result.error = String(e.stack ?? e);
  try {
    const page = context?.pages()[0];
    if (page) await page.screenshot({ path: screenshot, fullPage: true });
  } catch {}
} finally {
  await context?.close().catch(() => {});
  await server.close();
  await rm(userDataDir, { recursive: true, force: true });
}
console.log(`WARRANT_BROWSER_RESULT ${JSON.stringify(result)}`);
process.exit(result.ok ? 0 : 1);
