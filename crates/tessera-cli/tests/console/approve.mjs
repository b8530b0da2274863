// Drives the coordinator's approvals console in headless Chromium (playwright-core, the system
// browser at /usr/bin/chromium or $CHROMIUM_PATH; nothing is downloaded).
//
//   node approve.mjs <console-url> <token> <approver-key-hex> <request-id>
//     Opens the console, enters the token and the approver key, waits for the request's row,
//     clicks Approve and waits until the page lists the request as signed. A `-` for the token or
//     the key reads it from $TESSERA_API_TOKEN / $TESSERA_APPROVER_KEY instead (keeps secrets
//     out of the process list).
//
//   node approve.mjs --selftest <page-url>
//     Reads {"cases": [{request_id, intent_hash, policy_version, decision, expires_at, seed}]}
//     on stdin and prints, per case, the page's approval bytes (hex) and signed approval, for the
//     Rust test to compare with `tessera_policy::Approval`.
//
// Prints one JSON object on stdout; exits non-zero on any failure (with a screenshot path when
// a page was open).

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
  process.stderr.write(
    "usage: node approve.mjs <console-url> <token|-> <approver-key-hex|-> <request-id>\n" +
      "       node approve.mjs --selftest <page-url>  (cases as JSON on stdin)\n",
  );
  process.exit(2);
}

async function readStdin() {
  const chunks = [];
  for await (const c of process.stdin) chunks.push(c);
  return Buffer.concat(chunks).toString("utf8");
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

async function selftest(url) {
  const input = JSON.parse(await readStdin());
  const browser = await launch();
  let page;
  try {
    page = await (await browser.newContext()).newPage();
    await page.goto(url);
    const results = await page.evaluate(async (cases) => {
      const res = [];
      for (const c of cases) {
        const approval = await window.tesseraSignApproval(c.seed, c);
        const bytes = window.tesseraApprovalBytes(
          c.request_id, c.intent_hash, c.policy_version, c.decision, c.expires_at, approval.approver,
        );
        res.push({ bytes_hex: bytes, approval });
      }
      return res;
    }, input.cases);
    out({ ok: true, results });
  } catch (e) {
    out({ ok: false, error: String(e && e.message ? e.message : e), screenshot: await screenshot(page) });
    process.exitCode = 1;
  } finally {
    await browser.close();
  }
}

async function approve(url, token, keyHex, requestId) {
  const started = Date.now();
  const browser = await launch();
  let page;
  const consoleErrors = [];
  try {
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    page = await context.newPage();
    page.on("console", (m) => {
      if (m.type() === "error") consoleErrors.push(m.text());
    });
    page.on("pageerror", (e) => consoleErrors.push(String(e)));
    const resp = await page.goto(url);
    if (!resp || !resp.ok()) throw new Error(`GET ${url}: HTTP ${resp ? resp.status() : "no response"}`);

    await page.getByTestId("token").fill(token);
    await page.getByTestId("approver-key").fill(keyHex);
    await page.getByTestId("connect").click();
    // The key was imported and the field cleared.
    await page.locator('[data-testid="whoami"][data-approver]').waitFor({ timeout: 10_000 });
    const approver = await page.getByTestId("whoami").getAttribute("data-approver");

    const sel = (testid) =>
      `[data-testid="${testid}"][data-request-id=${JSON.stringify(requestId)}]`;
    const row = page.locator(sel("pending-request"));
    await row.waitFor({ timeout: ROW_TIMEOUT_MS });
    await page.locator('[data-testid="mode"][data-mode]').waitFor({ timeout: ROW_TIMEOUT_MS });
    const shown = {
      summary: await row.getByTestId("summary").textContent(),
      risk_flags: await row.getByTestId("risk-flags").textContent(),
      policy: await row.getByTestId("policy").textContent(),
      expires: await row.getByTestId("expires").textContent(),
      mode: await page.getByTestId("mode").getAttribute("data-mode"),
      mode_recommended: await page.getByTestId("mode").getAttribute("data-recommended"),
      mode_banner_hidden: await page.getByTestId("mode-banner").isHidden(),
    };
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
    out({ ok: true, request_id: requestId, state, approver, shown, elapsed_ms: Date.now() - started, console_errors: consoleErrors });
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
  if (argv[0] === "--selftest") {
    if (argv.length !== 2) usage();
    await selftest(argv[1]);
  } else {
    if (argv.length !== 4) usage();
    const [url, tokenArg, keyArg, requestId] = argv;
    const token = tokenArg === "-" ? process.env.TESSERA_API_TOKEN : tokenArg;
    const key = keyArg === "-" ? process.env.TESSERA_APPROVER_KEY : keyArg;
    if (!token || !key) throw new Error("token or approver key missing (empty argument or environment variable)");
    await approve(url, token, key, requestId);
  }
} catch (e) {
  out({ ok: false, error: String(e && e.message ? e.message : e) });
  process.exitCode = 1;
}
