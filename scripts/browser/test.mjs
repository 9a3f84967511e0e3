// hearth's browser test (run by scripts/browser/run): two Converse.js
// clients in headless Chromium log in to a running hearth over WebSocket,
// exchange a message each way, alice shares a file by HTTP upload that
// bob's browser downloads, and a new user registers on alice's
// invitation page, logs in and writes to alice.
//
// Environment: HEARTH_WS (wss://host:port/xmpp-websocket), HEARTH_INVITE
// (the web page of an invitation from alice), CHROMIUM (path
// of the browser), NODE_MODULES (where converse.js and playwright-core
// are installed).
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const nodeModules = process.env.NODE_MODULES;
const require = createRequire(path.join(nodeModules, 'x.js'));
const { chromium } = require('playwright-core');
const dist = path.join(nodeModules, 'converse.js', 'dist');
const here = path.dirname(new URL(import.meta.url).pathname);
const timeout = 30000;

const types = { '.js': 'text/javascript', '.css': 'text/css', '.html': 'text/html', '.json': 'application/json', '.wasm': 'application/wasm', '.svg': 'image/svg+xml', '.png': 'image/png', '.woff2': 'font/woff2', '.woff': 'font/woff', '.ttf': 'font/ttf', '.mp3': 'audio/mpeg', '.ogg': 'audio/ogg' };

// A static server for the test page and the Converse.js files.
const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  let file;
  if (url.pathname === '/') file = path.join(here, 'index.html');
  else if (url.pathname.startsWith('/dist/')) file = path.join(dist, path.normalize(url.pathname.slice(6)).replace(/^(\.\.[/\\])+/, ''));
  if (!file || !fs.existsSync(file) || fs.statSync(file).isDirectory()) {
    res.writeHead(404); res.end(); return;
  }
  res.writeHead(200, { 'Content-Type': types[path.extname(file)] || 'application/octet-stream' });
  fs.createReadStream(file).pipe(res);
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const base = `http://127.0.0.1:${server.address().port}/`;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM,
  args: ['--ignore-certificate-errors', '--no-sandbox'],
});
let failed = false;
try {
  const open = async (jid, password) => {
    const page = await (await browser.newContext({ ignoreHTTPSErrors: true })).newPage();
    page.on('pageerror', (e) => console.error(`[${jid}] page error: ${e}`));
    const u = `${base}?ws=${encodeURIComponent(process.env.HEARTH_WS)}&jid=${encodeURIComponent(jid)}&password=${encodeURIComponent(password)}`;
    await page.goto(u);
    await page.waitForFunction(() => window.hearth && window.hearth.connected, null, { timeout });
    console.log(`${jid}: logged in over WebSocket`);
    return page;
  };
  const alice = await open('alice@localhost', 'pw-alice-browser');
  const bob = await open('bob@localhost', 'pw-bob-browser');

  const exchange = async (from, fromJID, to, toJID, body) => {
    await from.evaluate(([t, b]) => window.hearth.send(t, b), [toJID, body]);
    await to.waitForFunction(([f, b]) => window.hearth.received.some((m) => m.body === b && m.from.startsWith(f)), [fromJID, body], { timeout });
    console.log(`${fromJID} -> ${toJID}: delivered`);
  };
  await exchange(alice, 'alice@localhost', bob, 'bob@localhost', 'hello from alice in a browser');
  await exchange(bob, 'bob@localhost', alice, 'alice@localhost', 'hello back from bob');

  // File upload (XEP-0363) from the browser: slot, cross-origin PUT
  // (CORS preflight), the URL sent as a message, and bob's browser
  // downloads it (cross-origin GET).
  const text = 'a file uploaded from a browser ' + Date.now();
  await alice.evaluate(([t, x]) => window.hearth.upload(t, 'note.txt', x), ['bob@localhost', text]);
  await bob.waitForFunction(() => window.hearth.received.some((m) => m.body.includes('/upload/')), null, { timeout });
  const url = await bob.evaluate(() => window.hearth.received.find((m) => m.body.includes('/upload/')).body.trim());
  const got = await bob.evaluate(async (u) => (await fetch(u)).text(), url);
  if (got !== text) throw new Error(`downloaded ${JSON.stringify(got)} from ${url}, want ${JSON.stringify(text)}`);
  console.log('file upload: uploaded by alice, downloaded by bob');

  // The invitation page (XEP-0401): it renders with the app links, its
  // form registers carol, and carol logs in over WebSocket and writes to
  // alice.
  const inv = await (await browser.newContext({ ignoreHTTPSErrors: true })).newPage();
  await inv.goto(process.env.HEARTH_INVITE);
  if (!(await inv.content()).includes('xmpp:')) throw new Error('the invitation page has no xmpp: link');
  await inv.fill('input[name=username]', 'carol');
  await inv.fill('input[name=password]', 'pw-carol-browser');
  await inv.fill('input[name=password-verify]', 'pw-carol-browser');
  await Promise.all([inv.waitForNavigation({ timeout }), inv.click('button[type=submit], input[type=submit]')]);
  if (!(await inv.content()).includes('carol@localhost')) throw new Error(`registration page says: ${await inv.innerText('body')}`);
  console.log('invitation: carol registered on the web page');
  const carol = await open('carol@localhost', 'pw-carol-browser');
  await exchange(carol, 'carol@localhost', alice, 'alice@localhost', 'thanks for the invitation');
  console.log('browser test: OK');
} catch (e) {
  failed = true;
  console.error(`browser test: FAILED: ${e}`);
} finally {
  await browser.close();
  server.close();
}
process.exit(failed ? 1 : 0);
