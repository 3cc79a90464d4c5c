// Drives one headless Chromium for the browser-phone tests (tests/transports/browser).
// Python writes one JSON command per line on stdin, this answers one JSON line per
// command on stdout: {"id": n, "ok": true, "value": ...} or {"id": n, "ok": false,
// "error": "..."}. Commands: open {url} -> page number; eval {page, expr}; wait
// {page, expr, timeout_ms} (page.waitForFunction with 200 ms polling: the default
// requestAnimationFrame polling never fires in a background tab); close {page}.
// The browser ends when stdin closes.
'use strict';
const readline = require('readline');
const puppeteer = require('puppeteer-core');

const extra = JSON.parse(process.env.BROWSER_ARGS || '[]');

async function main() {
  const browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    // as root Chromium needs --no-sandbox; fake camera/microphone, permission granted
    args: ['--no-sandbox', '--disable-gpu', '--use-fake-device-for-media-stream',
      '--use-fake-ui-for-media-stream', '--allow-loopback-in-peer-connection',
      '--no-first-run', '--disable-component-update', ...extra],
  });
  const pages = [];
  const logs = [];
  const out = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');
  const run = async (cmd) => {
    switch (cmd.op) {
      case 'open': {
        const page = await browser.newPage();
        const n = pages.length;
        page.on('console', (m) => logs.push(`[page ${n}] ${m.type()}: ${m.text()}`));
        page.on('pageerror', (e) => logs.push(`[page ${n}] error: ${e.message}`));
        pages.push(page);
        await page.goto(cmd.url);
        return n;
      }
      case 'eval':
        return await pages[cmd.page].evaluate(cmd.expr);
      case 'wait': {
        const h = await pages[cmd.page].waitForFunction(cmd.expr,
          {polling: 200, timeout: cmd.timeout_ms || 10000});
        return await h.jsonValue();
      }
      case 'close':
        await pages[cmd.page].close();
        return null;
      case 'logs':
        return logs.splice(0);
      default:
        throw new Error(`unknown op ${cmd.op}`);
    }
  };
  const rl = readline.createInterface({input: process.stdin});
  out({id: 0, ok: true, value: await browser.version()});
  for await (const line of rl) {
    let cmd;
    try {
      cmd = JSON.parse(line);
      out({id: cmd.id, ok: true, value: await run(cmd)});
    } catch (e) {
      out({id: cmd ? cmd.id : -1, ok: false, error: String(e && e.message || e)});
    }
  }
  await browser.close();
}

main().catch((e) => { process.stderr.write(String(e && e.stack || e) + '\n'); process.exit(1); });
