// Serves the dApp page on 127.0.0.1: the files of web/ (the wasm package in web/pkg/, built by
// scripts/build-web), /config.json (the network the page talks to), and, only when given a devnet key, a dev
// wallet at /dev-wallet for a browser without one (scripts/dapp). Node's own http module; no framework.
//
//   node web/serve.mjs CONFIG.json [PORT]     (PORT 0 or absent: a free port; the URL is printed)

import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize, sep, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = dirname(fileURLToPath(import.meta.url));
const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.ts': 'text/plain; charset=utf-8',
};
// Only these are served: the page, not node_modules or the tests.
const SERVED = /^\/(index\.html|app\.js|warrant\.js|keystore\.js|style\.css|pkg\/[\w.-]+)$/;

async function devWallet(key) {
  const { privateKeyToAccount } = await import('viem/accounts');
  const account = privateKeyToAccount(key);
  return async ({ method, params }) => {
    switch (method) {
      case 'eth_requestAccounts':
      case 'eth_accounts':
        return [account.address];
      case 'eth_signTypedData_v4': {
        const [from, json] = params;
        if (from.toLowerCase() !== account.address.toLowerCase()) throw new Error(`unknown account ${from}`);
        const { types, primaryType, domain, message } = JSON.parse(json);
        return account.signTypedData({ types, primaryType, domain, message });
      }
      default:
        throw new Error(`the dev wallet does not do ${method}`);
    }
  };
}

/** Starts the server; resolves to `{ url, close }`. */
export async function serve({ config, port = 0, devWalletKey = null }) {
  const wallet = devWalletKey ? await devWallet(devWalletKey) : null;
  const body = JSON.stringify({ ...config, devWallet: !!wallet });
  const server = createServer(async (req, res) => {
    try {
      const path = new URL(req.url, 'http://localhost').pathname;
      if (path === '/config.json') {
        res.writeHead(200, { 'content-type': TYPES['.json'], 'cache-control': 'no-store' });
        return res.end(body);
      }
      if (path === '/dev-wallet' && wallet && req.method === 'POST') {
        let text = '';
        for await (const chunk of req) text += chunk;
        let reply;
        try {
          reply = { result: await wallet(JSON.parse(text)) };
        } catch (e) {
          reply = { error: e.message };
        }
        res.writeHead(200, { 'content-type': TYPES['.json'] });
        return res.end(JSON.stringify(reply));
      }
      const file = path === '/' ? '/index.html' : path;
      if (!SERVED.test(file)) {
        res.writeHead(404);
        return res.end('not found');
      }
      const full = normalize(join(ROOT, file));
      if (!full.startsWith(ROOT + sep)) {
        res.writeHead(404);
        return res.end('not found');
      }
      const data = await readFile(full);
      res.writeHead(200, { 'content-type': TYPES[extname(full)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
      res.end(data);
    } catch (e) {
      res.writeHead(e.code === 'ENOENT' ? 404 : 500);
      res.end(e.code === 'ENOENT' ? 'not found (did scripts/build-web run?)' : String(e));
    }
  });
  await new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(port, '127.0.0.1', ok);
  });
  const url = `http://127.0.0.1:${server.address().port}/`;
  return { url, close: () => new Promise((ok) => server.close(ok)) };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [configPath, port] = process.argv.slice(2);
  if (!configPath) {
    console.error('usage: node web/serve.mjs CONFIG.json [PORT]');
    process.exit(2);
  }
  const config = JSON.parse(await readFile(configPath, 'utf8'));
  const { url } = await serve({ config, port: Number(port ?? 0), devWalletKey: process.env.WARRANT_DEV_WALLET_KEY ?? null });
  console.log(`Warrant dApp: ${url}`);
}
