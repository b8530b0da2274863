// Drives the approver's local approvals console (`tessera console`) in headless Chromium
// (playwright-core, the system browser at /usr/bin/chromium or $CHROMIUM_PATH; nothing is
// downloaded).
//
//   node approve.mjs <console-url> <request-id>
//     Opens the URL `tessera console` printed, waits for the request's card, checks that the
//     console verified it itself, clicks Approve and waits until the page lists the request as
//     signed. The script is given no token and no key: the console process holds them.
//
// Prints one JSON object on stdout (with every response body the console served, for the
// Rust test to check that none holds the approver key); exits non-zero on any failure (with a
// screenshot path when a page was open).

import { chromium } from "playwright-core";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const EXECUTABLE = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
const ROW_TIMEOUT_MS = 30_000;
const SIGNED_TIMEOUT_MS = 90_000;

function out(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

function usage() {
  process.stderr.write("usage: node approve.mjs <console-url> <request-id>\n");
  process.exit(2);
}

async function launch() {
  // No GPU, and no background traffic to Google's hosts (this machine's network is closed).
  const args = ["--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync"];
  // Chromium's sandbox refuses to run as root.
  if (typeof process.getuid === "function" && process.getuid() === 0) args.push("--no-sandbox");
  return chromium.launch({ executablePath: EXECUTABLE, headless: true, args });
}

async function screenshot(page) {
  if (!page) return null;
  try {
    const path = join(mkdtempSync(join(tmpdir(), "tessera-console-")), "failure.png");
    await page.screenshot({ path, fullPage: true });
    return path;
  } catch {
    return null;
  }
}

async function pageText(page, testid) {
  try {
    const l = page.getByTestId(testid);
    return (await l.count()) ? ((await l.first().textContent()) || "").trim() : "";
  } catch {
    return "";
  }
}

async function approve(url, requestId) {
  const started = Date.now();
  const browser = await launch();
  let page;
  const consoleErrors = [];
  const bodies = [];
  const origin = new URL(url).origin;
  try {
    const context = await browser.newContext();
    page = await context.newPage();
    page.on("console", (m) => {
      if (m.type() === "error") consoleErrors.push(m.text());
    });
    page.on("pageerror", (e) => consoleErrors.push(String(e)));
    // Every response from the console, as the browser received it.
    page.on("response", (r) => {
      if (!r.url().startsWith(origin)) return;
      bodies.push(r.text().then(
        (body) => ({ path: new URL(r.url()).pathname, status: r.status(), body }),
        () => ({ path: new URL(r.url()).pathname, status: r.status(), body: "" })));
    });
    const resp = await page.goto(url);
    if (!resp || !resp.ok()) throw new Error(`GET console: HTTP ${resp ? resp.status() : "no response"}`);
    await page.locator('[data-testid="whoami"][data-approver]').waitFor({ timeout: 10_000 });
    const approver = await page.getByTestId("whoami").getAttribute("data-approver");

    const sel = (testid) =>
      `[data-testid="${testid}"][data-request-id=${JSON.stringify(requestId)}]`;
    const row = page.locator(sel("pending-request"));
    await row.waitFor({ timeout: ROW_TIMEOUT_MS });
    await page.locator('[data-testid="mode"][data-mode]').waitFor({ timeout: ROW_TIMEOUT_MS });
    const shown = {
      verification: await row.getAttribute("data-verification"),
      summary: await row.getByTestId("summary").textContent(),
      intent_hash: await row.getByTestId("intent-hash").textContent(),
      reported_shown: await row.getByTestId("reported").count(),
      risk_flags: await row.getByTestId("risk-flags").textContent(),
      policy: await row.getByTestId("policy").textContent(),
      mode: await page.getByTestId("mode").getAttribute("data-mode"),
      mode_recommended: await page.getByTestId("mode").getAttribute("data-recommended"),
      mode_banner_hidden: await page.getByTestId("mode-banner").isHidden(),
    };
    const walletRow = page.locator('[data-testid="wallet-row"][data-wallet-id="t-console"]');
    await walletRow.waitFor({ timeout: ROW_TIMEOUT_MS });
    shown.wallet_epoch = await walletRow.getAttribute("data-epoch");
    shown.wallet_vouched = await walletRow.getAttribute("data-vouched");
    const button = row.getByTestId("approve");
    await button.waitFor({ state: "visible" });
    await page.waitForFunction(
      (s) => {
        const b = document.querySelector(s);
        return b && !b.disabled;
      },
      `${sel("pending-request")} [data-testid="approve"]`,
      { timeout: ROW_TIMEOUT_MS },
    );
    await button.click();

    // Fail fast on an error banner; otherwise wait for the finished row to say "signed".
    const done = page.locator(sel("finished-request"));
    const deadline = Date.now() + SIGNED_TIMEOUT_MS;
    let state = null;
    for (;;) {
      const err = await pageText(page, "error");
      const errVisible = err && (await page.getByTestId("error").isVisible());
      if (errVisible && !/^Cannot load requests/.test(err)) throw new Error(`the console shows: ${err}`);
      if (await done.count()) {
        state = await done.first().getAttribute("data-state");
        if (state === "signed") break;
        if (state && state !== "signed") {
          const why = await done.first().textContent();
          throw new Error(`the request finished as ${state}: ${why.trim()}`);
        }
      }
      if (Date.now() > deadline) {
        throw new Error(`not signed after ${SIGNED_TIMEOUT_MS / 1000} s (last error banner: ${err || "none"})`);
      }
      await page.waitForTimeout(250);
    }
    const responses = await Promise.all(bodies);
    out({ ok: true, request_id: requestId, state, approver, shown, elapsed_ms: Date.now() - started,
          console_errors: consoleErrors, responses });
  } catch (e) {
    out({
      ok: false,
      request_id: requestId,
      error: String(e && e.message ? e.message : e),
      banner: page ? await pageText(page, "error") : "",
      console_errors: consoleErrors,
      screenshot: await screenshot(page),
    });
    process.exitCode = 1;
  } finally {
    await browser.close();
  }
}

const argv = process.argv.slice(2);
try {
  if (argv.length !== 2) usage();
  const [url, requestId] = argv;
  await approve(url, requestId);
} catch (e) {
  out({ ok: false, error: String(e && e.message ? e.message : e) });
  process.exitCode = 1;
}
