// The generation console: every call is the public API (docs/API.md) with the user's token.
"use strict";
const API = "/api/v1";
const PROGRESS = { pending: 5, validating_credits: 10, publishing_to_queue: 15, processing_samples: 25,
  awaiting_selection: 50, processing_final: 75, completed: 100 };
// the event stream ends after these; a later move (a variation, another final) opens a new one
const STREAM_ENDS = ["completed", "content_rejected", "cancelled"];
const CREATIVE = ["awaiting_selection", "completed", "failed"];  // where samples may be picked
const $ = (id) => document.getElementById(id);
let token = null;
let current = null;      // the request shown
let stream = null;       // AbortController of its event stream

async function call(method, path, body, headers = {}) {
  for (let attempt = 0; ; attempt++) {
    const response = await fetch(API + path, {
      method, headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json", ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = await response.json().catch(() => ({}));
    // a shed request was not looked at: sent again after Retry-After, doubling, with jitter
    if (data.error?.code === "overloaded" && attempt < 4) {
      const after = Number(response.headers.get("Retry-After")) || 1;
      await new Promise((done) => setTimeout(done, after * 2 ** attempt * (1 + Math.random() / 2) * 1000));
      continue;
    }
    if (!response.ok) throw Object.assign(new Error(data.error?.message || response.statusText), { error: data.error });
    return data;
  }
}

function showError(err) {
  const box = $("errors");
  const details = (err.error?.details || []).map((d) => `${d.field}: ${d.message}`);
  box.replaceChildren(...[err.message, ...details].map((line) => Object.assign(document.createElement("p"), { textContent: line })));
  box.hidden = false;
}

function clearError() { $("errors").hidden = true; }

function signIn(value) {
  token = value.trim();
  sessionStorage.setItem("aigen-token", token);
  let user = "";
  try { user = JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/"))).sub; } catch { user = "?"; }
  $("who").textContent = `Signed in as ${user}`;
  $("signin").hidden = true;
  $("app").hidden = false;
  loadRecent();
  loadBalance().then(loadModels).catch(showError);
}

async function loadBalance() {
  const credits = await call("GET", "/credits");
  $("balance").textContent = `Balance: ${credits.balance} credits (${credits.subscription_tier})`;
  return credits.subscription_tier;
}

// The models the user's tier may choose for samples (GET /models); "Automatic" lets the service pick.
async function loadModels(tier) {
  const table = await call("GET", "/models");
  const usable = table.models.filter((m) => m.job_types.includes("samples") && (!m.tiers.length || m.tiers.includes(tier)));
  $("model").replaceChildren(new Option("Automatic", ""), ...usable.map((m) => new Option(m.name, m.id)));
}

async function loadFormats() {
  const formats = await (await fetch(`${API}/formats`)).json();
  $("format").replaceChildren(...formats.formats.filter((f) => f.native).map((f) =>
    new Option(`${f.format.replace(/_/g, " ")} (${f.native.width}×${f.native.height})`, f.format)));
}

async function loadRecent() {
  try {
    const page = await call("GET", "/generation-requests?limit=8");
    $("recent").replaceChildren(...page.items.map((item) => {
      const li = document.createElement("li");
      const text = document.createElement("span");
      text.textContent = `${item.input_prompt.slice(0, 50)} — ${item.status.replace(/_/g, " ")}`;
      const open = Object.assign(document.createElement("button"), { type: "button", textContent: "Open" });
      open.setAttribute("aria-label", `Open request: ${item.input_prompt.slice(0, 50)}`);
      open.addEventListener("click", () => show(item, true));
      li.append(text, open);
      return li;
    }));
  } catch (err) { showError(err); }
}

function element(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

// One round of samples, newest first: each sample with its seed, a final and a variation button.
function roundSection(request, round, newest) {
  const from = round.kind === "variation" ? `${round.strength} variation of ${sampleName(request, round.source_sample_id)}` : "from the prompt";
  const title = `Round ${round.round} · ${from}` + (round.seed === null ? "" : ` · seed ${round.seed}`);
  const open = CREATIVE.includes(request.status);
  const list = element("ul", { className: "samples" });
  if (newest) list.id = "samples";
  list.append(...round.samples.map((sample, i) => {
    const name = `sample ${i + 1} of round ${round.round}`;
    const use = element("button", { type: "button", textContent: `Use ${name}`, disabled: !open });
    use.addEventListener("click", () => select(sample.asset_id));
    const vary = element("button", { type: "button", textContent: `Vary ${name}`, disabled: !open, className: "secondary-action" });
    vary.addEventListener("click", () => varySample(sample.asset_id));
    const caption = element("figcaption", { textContent: sample.seed === null ? "" : `Seed ${sample.seed}` });
    const figure = element("figure", {}, element("img", { src: sample.url, alt: `Sample ${i + 1} of round ${round.round}` }), caption);
    return element("li", {}, figure, use, vary);
  }));
  const status = round.samples.length ? "" : ` — ${round.status.replace(/_/g, " ")}`;
  return element("section", { className: "round" }, element("h3", { textContent: title + status }), list);
}

function sampleName(request, sampleId) {
  for (const round of request.rounds) {
    const i = round.samples.findIndex((s) => s.asset_id === sampleId);
    if (i >= 0) return `sample ${i + 1} of round ${round.round}`;
  }
  return "a sample";
}

function render(request) {
  current = request;
  $("current").hidden = false;
  $("current-id").textContent = request.id.slice(0, 8);
  const words = request.status.replace(/_/g, " ");
  $("status-text").textContent = request.error_message ? `${words}: ${request.error_message}` : words;
  $("progress").value = PROGRESS[request.status] ?? 100;
  const rounds = request.rounds.filter((r) => r.samples.length || r === request.rounds.at(-1));
  $("samples-block").hidden = !request.rounds.some((r) => r.samples.length);
  const newestDelivered = [...rounds].reverse().find((r) => r.samples.length);
  $("rounds").replaceChildren(...[...rounds].reverse().map((r) => roundSection(request, r, r === newestDelivered)));
  $("final-block").hidden = !request.final_asset_info;
  if (request.final_asset_info) {
    $("final").src = request.final_asset_info.url;
    $("download").href = request.final_asset_info.url;
    $("download").textContent = `Download the final image (${request.final_asset_info.resolution})`;
  }
  $("finals").replaceChildren(...request.finals.map((final, i) => {
    const link = element("a", { href: final.url, download: "", textContent: `Final ${i + 1} (${final.resolution})` });
    const credits = `${final.credits_cost} credit${final.credits_cost === 1 ? "" : "s"}`;
    const note = ` from ${sampleName(request, final.sample_id)}, ${final.quality}, ${credits}`;
    return element("li", {}, link, note);
  }));
  $("regenerate").disabled = !CREATIVE.includes(request.status);
  $("cancel").disabled = ["completed", "content_rejected", "cancelled", "validating_credits", "publishing_to_queue"].includes(request.status);
  if (!request.status.startsWith("processing")) loadBalance().catch(showError);  // a step settled
}

function show(request, follow) {
  render(request);
  if (follow && !STREAM_ENDS.includes(request.status)) watch(request.id);
}

// Server-Sent Events over fetch: EventSource cannot send the Authorization header.
async function watch(id) {
  if (stream) stream.abort();
  stream = new AbortController();
  try {
    const response = await fetch(`${API}/generation-requests/${id}/events`, {
      headers: { Authorization: `Bearer ${token}` }, signal: stream.signal });
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer = (buffer + value).replace(/\r\n/g, "\n");  // sse-starlette ends lines with CRLF
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end); buffer = buffer.slice(end + 2);
        const data = block.split(/\r?\n/).filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trim()).join("\n");
        if (block.includes("event: status") && data) render(JSON.parse(data));
      }
    }
  } catch (err) { if (err.name !== "AbortError") showError(err); }
  loadRecent();
}

async function select(sampleId) {
  clearError();
  const resolution = document.querySelector("input[name=resolution]:checked").value;
  try { show(await call("POST", `/generation-requests/${current.id}/select-sample`, { selected_sample_id: sampleId, resolution }), true); }
  catch (err) { showError(err); }
}

async function varySample(sampleId) {
  clearError();
  const strength = document.querySelector("input[name=strength]:checked").value;
  try { show(await call("POST", `/generation-requests/${current.id}/vary`, { sample_id: sampleId, strength }), true); }
  catch (err) { showError(err); }
}

async function act(action) {
  clearError();
  try { show(await call("POST", `/generation-requests/${current.id}/${action}`), true); }
  catch (err) { showError(err); }
}

document.addEventListener("DOMContentLoaded", () => {
  const fromLink = new URLSearchParams(location.hash.slice(1)).get("token");
  if (fromLink) history.replaceState(null, "", location.pathname);  // keep it out of the address bar
  const saved = fromLink || sessionStorage.getItem("aigen-token");
  loadFormats().catch(showError);
  if (saved) signIn(saved); else $("signin").hidden = false;
  $("signin-form").addEventListener("submit", (e) => { e.preventDefault(); signIn($("token").value); });
  $("regenerate").addEventListener("click", () => act("regenerate-samples"));
  $("cancel").addEventListener("click", () => act("cancel"));
  $("create-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    clearError();
    const body = { project_id: "console", prompt: $("prompt").value, format: $("format").value,
      brand_elements: { colors: [$("color1").value, $("color2").value] } };
    if ($("tone").value) body.tone = $("tone").value;
    if ($("style").value) body.style_guidance = $("style").value;
    if ($("negative").value) body.negative_prompt = $("negative").value;
    if ($("model").value) body.model = $("model").value;
    if ($("seed").value !== "") body.seed = Number($("seed").value);
    $("create").disabled = true;
    try { show(await call("POST", "/generation-requests", body, { "Idempotency-Key": crypto.randomUUID() }), true); loadRecent(); }
    catch (err) { showError(err); }
    finally { $("create").disabled = false; }
  });
});
