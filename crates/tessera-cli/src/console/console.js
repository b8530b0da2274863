// The approvals console page. It talks only to the `tessera console` process that served it
// (same origin, session token header); it never sees a key. Everything it shows of a request
// comes from that process's own parse of the raw payload; the coordinator's claims appear only
// when they differ, flagged. Text is placed with textContent, never as HTML.
"use strict";
(function () {
  const POLL_MS = 1000;
  const SESSION = document.querySelector('meta[name="tessera-session"]').content;
  const st = { approver: null, busy: new Set(), rows: new Map(), timer: null, polling: false };
  const $ = (id) => document.getElementById(id);

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v;
      else e.setAttribute(k, String(v));
    }
    for (const c of children) {
      if (c === null || c === undefined) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  function banner(id, msg) {
    const b = $(id);
    b.textContent = msg || "";
    b.hidden = !msg;
  }

  async function api(method, path, body) {
    const init = { method, cache: "no-store", credentials: "omit",
                   headers: { "X-Tessera-Session": SESSION } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let resp;
    try {
      resp = await fetch(path, init);
    } catch (e) {
      throw new Error("cannot reach the local console process (" + e.message + ")");
    }
    const text = await resp.text();
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch (_) { json = null; }
    if (!resp.ok) {
      const msg = json && typeof json.message === "string" ? json.message : text.slice(0, 300);
      const err = new Error(msg || "HTTP " + resp.status);
      err.code = json && json.error;
      throw err;
    }
    return json;
  }

  function fmtTime(unixS) {
    const d = new Date(Number(unixS) * 1000);
    return isNaN(d) ? String(unixS) : d.toLocaleString();
  }

  function shortKey(hex) {
    return typeof hex === "string" && hex.length > 20 ? hex.slice(0, 10) + "…" + hex.slice(-8) : String(hex);
  }

  const CHECK_TEXT = {
    verified: "verified here",
    mismatch: "MISMATCH: the coordinator reports something else",
    unverifiable: "not verifiable here (no chain payload)",
    error: "could not be parsed here",
  };

  function policyNode(p) {
    if (!p) return el("span", { class: "muted", "data-testid": "policy" }, "not evaluated");
    const box = el("div", { "data-testid": "policy" });
    box.append(el("div", {}, el("strong", { "data-testid": "policy-decision" }, p.decision),
                  el("span", { class: "muted" }, " under policy version " + p.version)));
    if (Array.isArray(p.reasons) && p.reasons.length) {
      const ul = el("ul", { class: "plain", "data-testid": "policy-reasons" });
      for (const r of p.reasons) ul.append(el("li", {}, r));
      box.append(ul);
    }
    if (Array.isArray(p.quorum) && p.quorum.length) {
      box.append(el("div", { "data-testid": "policy-quorum" }, "Needs: " +
        p.quorum.map((q) => q.count + " × " + q.role).join(", ")));
    }
    return box;
  }

  function approvalsNode(list) {
    if (!list.length) return el("span", { class: "muted", "data-testid": "approvals" }, "none yet");
    const ul = el("ul", { class: "plain", "data-testid": "approvals" });
    for (const a of list) {
      ul.append(el("li", { "data-approver": a.approver, "data-decision": a.decision },
        el("span", { class: "mono", title: a.approver }, shortKey(a.approver)),
        a.mine ? " (you)" : "", ": ", el("strong", {}, a.decision),
        a.signature_valid ? "" : el("strong", { class: "flag" }, "bad signature"),
        el("span", { class: "muted" }, " until " + fmtTime(a.expires_at))));
    }
    return ul;
  }

  function flagsNode(flags, testid) {
    const box = el("span", { "data-testid": testid });
    if (flags.length) for (const f of flags) box.append(el("span", { class: "flag" }, f));
    else box.append(el("span", { class: "muted" }, "none"));
    return box;
  }

  function mismatchNode(r) {
    if (!r.reported) return null;
    const what = r.verification === "mismatch"
      ? "The coordinator reports another " + r.mismatches.join(", ") + " than the payload parsed here. Its claims:"
      : "The coordinator's claims (not checked by this console):";
    return el("div", { class: "mismatch", "data-testid": "reported" },
      el("div", { "data-testid": "mismatch" }, what),
      el("div", {}, "Summary: ", el("span", { "data-testid": "reported-summary" }, r.reported.summary)),
      el("div", {}, "Intent hash: ", el("span", { class: "mono", "data-testid": "reported-intent-hash" },
                                         r.reported.intent_hash)),
      el("div", {}, "Risk flags: ", flagsNode(r.reported.risk_flags, "reported-risk-flags")));
  }

  function detailsNode(r) {
    const dl = el("dl");
    const row = (k, v) => { dl.append(el("dt", {}, k), el("dd", {}, v)); };
    row("Wallet", el("span", { class: "mono", "data-testid": "wallet" }, r.wallet_id));
    if (r.chain) row("Chain", r.chain + " " + r.network + ", key " + r.path);
    row("Risk flags", flagsNode(r.risk_flags, "risk-flags"));
    row("Policy", policyNode(r.policy));
    row("Approvals", approvalsNode(r.approvals));
    row("Expires", el("span", { "data-testid": "expires" }, fmtTime(r.expires_at)));
    row("Intent hash", el("span", { class: "mono", "data-testid": "intent-hash" }, r.intent_hash || "—"));
    if (r.problem) row("Problem", el("span", { "data-testid": "problem" }, r.problem));
    const box = el("div", {}, dl);
    if (r.intent) {
      box.append(el("details", {}, el("summary", {}, "Intent (parsed by this console)"),
                    el("pre", { class: "mono", "data-testid": "intent" }, JSON.stringify(r.intent, null, 2))));
    }
    return box;
  }

  function pendingCard(id) {
    let card = st.rows.get(id);
    if (card) return card;
    const approve = el("button", { class: "approve", "data-testid": "approve", type: "button" }, "Approve");
    const reject = el("button", { class: "reject", "data-testid": "reject", type: "button" }, "Reject");
    card = el("section", { class: "card", "data-testid": "pending-request", "data-request-id": id },
      el("div", { class: "top" },
        el("span", { class: "mono", "data-testid": "request-id" }, id),
        el("span", { class: "state", "data-testid": "state" }),
        el("span", { class: "check", "data-testid": "verification" })),
      el("div", { class: "summary", "data-testid": "summary" }),
      el("div", { "data-testid": "reported-box" }),
      el("div", { "data-testid": "details" }),
      el("div", { class: "actions" }, approve, reject,
         el("span", { class: "muted", "data-testid": "row-status" })));
    approve.addEventListener("click", () => decide(id, "approve"));
    reject.addEventListener("click", () => decide(id, "reject"));
    st.rows.set(id, card);
    return card;
  }

  function updateCard(card, r) {
    const q = (t) => card.querySelector('[data-testid="' + t + '"]');
    card.setAttribute("data-state", r.state);
    card.setAttribute("data-verification", r.verification);
    card.setAttribute("data-intent-hash", r.intent_hash || "");
    q("state").textContent = r.state;
    q("state").setAttribute("data-state", r.state);
    q("verification").textContent = CHECK_TEXT[r.verification] || r.verification;
    q("verification").setAttribute("data-verification", r.verification);
    q("summary").textContent = r.summary || "(no summary parsed here)";
    q("reported-box").replaceChildren(...[mismatchNode(r)].filter(Boolean));
    const wasOpen = !!card.querySelector("details[open]");
    q("details").replaceChildren(detailsNode(r));
    if (wasOpen && card.querySelector("details")) card.querySelector("details").open = true;
    const busy = st.busy.has(r.request_id);
    q("approve").disabled = busy || !r.can_approve;
    q("reject").disabled = busy || !r.can_reject;
    if (!busy) q("row-status").textContent = r.note || "";
  }

  function renderPending(list) {
    const seen = new Set();
    const cards = [];
    for (const r of list) {
      seen.add(r.request_id);
      const card = pendingCard(r.request_id);
      card.__view = r;
      updateCard(card, r);
      cards.push(card);
    }
    for (const id of [...st.rows.keys()]) if (!seen.has(id)) st.rows.delete(id);
    const box = $("pending");
    const current = [...box.children];
    if (current.length !== cards.length || current.some((c, i) => c !== cards[i])) box.replaceChildren(...cards);
    $("pending-count").textContent = "(" + cards.length + ")";
    $("pending-empty").hidden = cards.length !== 0;
  }

  function renderFinished(list) {
    $("finished").replaceChildren(...list.map((r) => el("tr", {
        "data-testid": "finished-request", "data-request-id": r.request_id, "data-state": r.state },
      el("td", { class: "mono" }, r.request_id),
      el("td", { class: "mono" }, r.wallet_id),
      el("td", {}, el("div", {}, r.reported_summary),
                   r.error ? el("div", { class: "muted", "data-testid": "request-error" }, r.error) : null),
      el("td", {}, el("span", { class: "state", "data-testid": "state", "data-state": r.state }, r.state)),
      el("td", { class: "muted" }, new Date(Number(r.updated_at_ms)).toLocaleTimeString()))));
  }

  function renderWallets(list) {
    $("wallets").replaceChildren(...(list || []).map((w) => el("tr", {
        "data-testid": "wallet-row", "data-wallet-id": w.wallet_id, "data-epoch": String(w.epoch),
        "data-committing": w.committing_epoch == null ? "" : String(w.committing_epoch),
        "data-vouched": w.vouched == null ? "unchecked" : String(w.vouched) },
      el("td", { class: "mono" }, w.wallet_id),
      el("td", {}, w.scheme),
      el("td", {}, w.group),
      el("td", {}, w.status),
      el("td", { "data-testid": "epoch" }, String(w.epoch) +
        (w.committing_epoch == null ? "" : " (committing " + w.committing_epoch + ")")),
      el("td", { class: w.vouched === false ? "error" : "muted", "data-testid": "vouch" }, w.vouch))));
  }

  function renderMode(m) {
    const tag = $("mode");
    if (!m) { tag.textContent = "mode unknown"; return; }
    tag.textContent = "mode " + m.mode;
    tag.setAttribute("data-mode", m.mode);
    tag.setAttribute("data-recommended", m.recommended);
    let text = "";
    if (m.mode !== "normal") {
      text = "Operating mode " + m.mode + (m.reason ? " (" + m.reason + ")" : "") +
        (m.expires_at ? ", until " + fmtTime(m.expires_at) : "") + ". ";
    }
    if (m.recommended !== m.mode || m.mode !== "normal") {
      text += "Signer health: " + m.recommendation + " (" + m.signers_healthy + " of " +
        m.signers_enrolled + " signers healthy).";
    }
    banner("mode-banner", text);
    $("mode-banner").className = "banner " + (m.mode === "lockdown" ? "error" : "info");
  }

  async function decide(id, decision) {
    const card = st.rows.get(id);
    if (!card || st.busy.has(id) || !card.__view) return;
    const view = card.__view;
    const note = card.querySelector('[data-testid="row-status"]');
    st.busy.add(id);
    card.querySelector('[data-testid="approve"]').disabled = true;
    card.querySelector('[data-testid="reject"]').disabled = true;
    note.textContent = decision === "approve" ? "Signing approval…" : "Signing rejection…";
    try {
      await api("POST", "/api/requests/" + encodeURIComponent(id) + "/decision",
                { decision, intent_hash: view.intent_hash || "" });
      note.textContent = decision === "approve" ? "Approved." : "Rejected.";
      banner("error", "");
      banner("notice", "Sent your " + (decision === "approve" ? "approval" : "rejection") + " of " + id + ".");
    } catch (e) {
      note.textContent = "Refused.";
      banner("error", (decision === "approve" ? "Approval" : "Rejection") + " of " + id + " refused: " + e.message);
    } finally {
      st.busy.delete(id);
      poll();
    }
  }

  async function poll() {
    if (st.polling) return;
    st.polling = true;
    clearTimeout(st.timer);
    try {
      const s = await api("GET", "/api/state");
      $("whoami").textContent = "approver " + s.approver;
      $("whoami").setAttribute("data-approver", s.approver);
      $("coordinator").textContent = s.coordinator;
      renderPending(s.pending);
      renderFinished(s.finished);
      renderWallets(s.wallets);
      $("wallets-error").textContent = s.wallets_error ? "Cannot list wallets: " + s.wallets_error : "";
      $("wallets-error").hidden = !s.wallets_error;
      renderMode(s.mode);
      const c = $("connection");
      c.textContent = "connected · updated " + new Date().toLocaleTimeString();
      c.setAttribute("data-ok", "true");
      if (/^Cannot load requests/.test($("error").textContent)) banner("error", "");
    } catch (e) {
      const c = $("connection");
      c.textContent = "not updating";
      c.setAttribute("data-ok", "false");
      banner("error", "Cannot load requests: " + e.message);
    } finally {
      st.polling = false;
      st.timer = setTimeout(poll, POLL_MS);
    }
  }

  poll();
})();
