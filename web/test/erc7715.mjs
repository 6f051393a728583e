// The ERC-7715 Chromium test (crates/service/tests/e2e/erc7715.rs starts anvil, Alto and the Warrant service,
// then runs this): a dApp page asks the service for an erc20-token-periodic permission with MetaMask's Smart
// Accounts Kit (its erc7715ProviderActions, bundled here with esbuild), the owner approves it on the service's
// consent page with an injected EIP-1193 wallet (viem signs with the owner's test key in this process), and the
// dApp spends it through Alto with its own session key: within the period, refused above it (in the page's
// pre-flight and by the validator through Alto), and again after the refill (the next period, by the clock).
//
// Input (environment): WARRANT_CONFIG (the dApp's config JSON), WARRANT_OWNER_KEY, WARRANT_DAPP_PORT,
// WARRANT_SCREENSHOTS (a directory), CHROMIUM. Output: one line `WARRANT_BROWSER_RESULT {json}`.

import { createServer } from 'node:http';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { privateKeyToAccount } from 'viem/accounts';
import { env, injectWallet, launchChromium, recorder } from './harness.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const WEB = join(HERE, '..');
const config = JSON.parse(env('WARRANT_CONFIG'));
const owner = privateKeyToAccount(env('WARRANT_OWNER_KEY'));
const shots = env('WARRANT_SCREENSHOTS');
const STEP_TIMEOUT = 90_000;
const LOCAL = new Set(['127.0.0.1', 'localhost']);

const { result, step } = recorder({ blocked: [] });

// The dApp: its page, its script bundled with the kit and viem (warrant.js and the wasm stay files of web/).
const bundled = await build({
  entryPoints: [join(HERE, 'erc7715/dapp.js')],
  bundle: true,
  format: 'esm',
  platform: 'browser',
  write: false,
  external: ['/warrant.js'],
  logLevel: 'error',
});
const files = {
  '/': ['text/html; charset=utf-8', await readFile(join(HERE, 'erc7715/index.html'))],
  '/dapp.js': ['text/javascript; charset=utf-8', bundled.outputFiles[0].contents],
  '/config.json': ['application/json', JSON.stringify(config)],
  '/warrant.js': ['text/javascript; charset=utf-8', await readFile(join(WEB, 'warrant.js'))],
  '/pkg/warrant_wasm.js': ['text/javascript; charset=utf-8', await readFile(join(WEB, 'pkg/warrant_wasm.js'))],
  '/pkg/warrant_wasm_bg.wasm': ['application/wasm', await readFile(join(WEB, 'pkg/warrant_wasm_bg.wasm'))],
};
result.bundleBytes = bundled.outputFiles[0].contents.length;
const server = createServer((req, res) => {
  const f = files[new URL(req.url, 'http://localhost').pathname];
  if (!f) {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { 'content-type': f[0], 'cache-control': 'no-store' });
  res.end(f[1]);
});
await new Promise((ok) => server.listen(Number(env('WARRANT_DAPP_PORT')), '127.0.0.1', ok));
const dappUrl = `http://127.0.0.1:${server.address().port}/`;

const userDataDir = await mkdtemp(join(tmpdir(), 'warrant-chromium-'));
let context;
try {
  // Do Not Track on, as a user sets it: the kit then never starts its analytics (and nothing leaves
  // 127.0.0.1 anyway: every other request is aborted below and listed in `blocked`).
  await mkdir(join(userDataDir, 'Default'), { recursive: true });
  await writeFile(join(userDataDir, 'Default/Preferences'), JSON.stringify({ enable_do_not_track: true }));
  context = await launchChromium(userDataDir);
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (LOCAL.has(url.hostname)) return route.continue();
    result.blocked.push(url.href);
    return route.abort();
  });
  // The owner's wallet on the consent page, as an extension injects it.
  await injectWallet(context, { owner, chainId: config.chainId, result });
  const watch = (page, name) => {
    page.setDefaultTimeout(STEP_TIMEOUT);
    page.on('console', (m) => result.console.push(`${name} ${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => result.pageErrors.push(`${name}: ${e}`));
  };
  const ready = async (page) => {
    await page.waitForSelector('body[data-ready]');
    const r = await page.getAttribute('body', 'data-ready');
    if (r !== 'true') throw new Error(`the page did not start: ${await page.textContent('body')}`);
  };

  // 1. The dApp asks (the kit's call is held open by the service until the owner decides).
  const dapp = context.pages()[0] ?? (await context.newPage());
  watch(dapp, 'dapp');
  await dapp.goto(dappUrl);
  await ready(dapp);
  result.doNotTrack = await dapp.evaluate(() => navigator.doNotTrack);
  result.sessionAccount = (await dapp.textContent('#session')).trim();
  await dapp.click('#request');
  step('requested', { sessionAccount: result.sessionAccount });

  // 2. The owner opens the consent page, reads the request in words, and signs it with the wallet.
  const consent = await context.newPage();
  watch(consent, 'consent');
  let item;
  for (let i = 0; ; i++) {
    await consent.goto(`${config.serviceUrl}/consent`);
    await ready(consent);
    item = consent.locator('#pending li').first();
    if ((await item.count()) > 0) break;
    if (i > 100) throw new Error('no pending request on the consent page');
    await new Promise((ok) => setTimeout(ok, 200));
  }
  result.supported = await dapp.getAttribute('body', 'data-supported');
  result.consentRequest = JSON.parse(await item.locator('pre.request').textContent());
  await item.locator('input[name=maxValueTotal]').fill(config.gasBudget);
  await item.locator('button.show').click();
  await consent.waitForSelector('#pending li[data-drafted="true"], #pending li[data-error]');
  if (await item.getAttribute('data-error')) throw new Error(`draft: ${await item.locator('.result').textContent()}`);
  result.explain = await item.locator('pre.explain').textContent();
  await item.locator('button.sign').click();
  await consent.waitForSelector('#pending li[data-state="granted"], #pending li[data-error]');
  result.approval = (await item.locator('.result').textContent()).trim();
  if ((await item.getAttribute('data-state')) !== 'granted') throw new Error(`approval: ${result.approval}`);
  await consent.screenshot({ path: join(shots, 'consent.png'), fullPage: true });
  step('approved', { approval: result.approval });

  // 3. The dApp's call returns the response; it spends with its session key through Alto.
  await dapp.waitForSelector('#permission[data-granted="true"], #permission[data-error]');
  result.permission = (await dapp.textContent('#permission')).trim();
  if ((await dapp.getAttribute('#permission', 'data-granted')) !== 'true') throw new Error(result.permission);
  const pay = async (amount, skipCheck = false) => {
    const before = await dapp.locator('#log li').count();
    await dapp.fill('#amount', amount);
    await dapp.setChecked('#skip-check', skipCheck);
    await dapp.click('#pay');
    await dapp.waitForFunction((n) => {
      const items = document.querySelectorAll('#log li');
      return items.length > n && items[0].dataset.state !== 'pending' && !document.body.dataset.busy;
    }, before);
    const first = dapp.locator('#log li').first();
    const r = { amount, state: await first.getAttribute('data-state'), rule: await first.getAttribute('data-rule'), text: (await first.textContent()).trim() };
    step('pay', r);
    return r;
  };
  result.ops = [];
  result.ops.push(await pay('7'));
  result.ops.push(await pay('4'));
  result.ops.push(await pay('4', true));
  // 4. The refill: period 1. Alto judges an operation's window by its own clock (from 5 s after it opens), so
  // the test waits for it; moving anvil's clock alone would leave Alto refusing the operation as not valid yet.
  const refill = (Number(config.startTime) + Number(config.periodDuration) + 6) * 1000 - Date.now();
  result.refillWaitMs = Math.max(0, refill);
  if (refill > 0) await new Promise((ok) => setTimeout(ok, refill));
  step('refill', { waitedMs: result.refillWaitMs, wall: Math.floor(Date.now() / 1000), periodStart: config.startTime });
  result.ops.push(await pay('4'));
  result.granted = await dapp.evaluate(async () =>
    JSON.parse(JSON.stringify(await window.dappGranted(), (_, v) => (typeof v === 'bigint' ? v.toString() : v))));
  await dapp.screenshot({ path: join(shots, 'dapp.png'), fullPage: true });
  result.ok = true;
} catch (e) {
  result.ok = false;
  result.error = String(e.stack ?? e);
  for (const [i, page] of (context?.pages() ?? []).entries()) {
    await page.screenshot({ path: join(shots, `failure-${i}.png`), fullPage: true }).catch(() => {});
  }
} finally {
  await context?.close().catch(() => {});
  server.close();
  await rm(userDataDir, { recursive: true, force: true });
}
console.log(`WARRANT_BROWSER_RESULT ${JSON.stringify(result)}`);
process.exit(result.ok ? 0 : 1);
