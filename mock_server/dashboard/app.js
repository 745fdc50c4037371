// The gamifyhost-mock dashboard: a plain ES module that reads and acts only through the control
// API under /__mock/ (control-openapi.yaml). Every value from the mock goes into the page as text
// nodes, never parsed as markup: profiles, bodies and specs are partner-controlled.
const BASE = new URL(".", document.baseURI).pathname.replace(/\/dashboard\/$/, "/"); // "/__mock/"
const $ = (selector, root = document) => root.querySelector(selector);
const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];

// ---- DOM and formatting helpers --------------------------------------------------------------

/** An element: h("td", {class: "num"}, "text", child, ...); strings become text nodes. */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(el.dataset, value);
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

function fill(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

const json = (value) => JSON.stringify(value, null, 2);
const badge = (text, kind = text) => h("span", {class: `badge b-${String(kind).replace(/[^a-z0-9_-]/gi, "")}`}, text);

/** A span for an instant: the time in UTC (to the minute; hover for all of it), and how long before
 * (or after) the mock's now; `brief`: how long only. */
function when(iso, brief = false) {
  if (!iso) return h("span", {class: "muted"}, "—");
  const shown = iso.replace("T", " ").replace(/:\d\d(\.\d+)?Z$/, "");
  return h("span", {class: "when", title: `${iso} (UTC)`}, brief ? relative(iso) : [shown, h("small", {}, relative(iso))]);
}

function relative(iso) {
  const seconds = Math.round((Date.parse(iso) - clock.nowMs()) / 1000);
  const span = Math.abs(seconds);
  const [n, unit] = span < 90 ? [span, "s"] : span < 5400 ? [span / 60, "min"] : span < 129600 ? [span / 3600, "h"]
    : [span / 86400, "d"];
  const text = `${Math.round(n)} ${unit}`;
  return span < 1 ? "now" : seconds < 0 ? `${text} ago` : `in ${text}`;
}

// ---- the control API ------------------------------------------------------------------------

class ControlError extends Error {
  constructor(status, envelope) {
    super(envelope && envelope.message ? envelope.message : `HTTP ${status}`);
    this.status = status;
    this.errors = (envelope && envelope.errors) || [];
  }
}

/** One call to /__mock/...: the answer's JSON, or a ControlError carrying the envelope's message. */
async function api(method, path, body, contentType = "application/json") {
  const init = {method, headers: {Accept: "application/json"}};
  if (body !== undefined) {
    init.headers["Content-Type"] = contentType;
    init.body = typeof body === "string" ? body : JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(BASE + path, init);
  } catch (error) {
    throw new ControlError(0, {message: `The mock did not answer (${error.message}): is it still running?`});
  }
  const answer = await response.json().catch(() => null);
  if (!response.ok) throw new ControlError(response.status, answer);
  return answer;
}

const query = (params) => new URLSearchParams(Object.entries(params).filter(([, v]) => v !== "" && v != null)).toString();

// ---- notices --------------------------------------------------------------------------------

function notify(text, kind = "ok") {
  const close = h("button", {type: "button", class: "close", "aria-label": "Dismiss"}, "×");
  const notice = h("div", {class: `notice ${kind}`, role: kind === "error" ? "alert" : "status"}, close);
  if (text instanceof ControlError) {
    const what = text.status ? `${text.status} ${text.message}` : text.message;
    append(notice, [h("strong", {}, text.source ? `${text.source}: ${what}` : what)]);
    if (text.errors.length) {
      append(notice, [h("ul", {}, text.errors.map((e) => h("li", {}, e.field ? h("code", {}, e.field) : null,
        e.field ? " " : null, e.message)))]);
    }
  } else {
    append(notice, [text instanceof Error ? `${text.name}: ${text.message}` : text]);
  }
  close.addEventListener("click", () => notice.remove());
  $("#notices").prepend(notice);
  if (kind !== "error") setTimeout(() => notice.remove(), 6000);
  return notice;
}

/** Run an action; any error is shown in the page rather than lost in the console. */
async function guarded(action) {
  try {
    return await action();
  } catch (error) {
    notify(error, "error");
    return undefined;
  }
}

// ---- clock ----------------------------------------------------------------------------------

const clock = {
  state: null,
  fetchedAt: 0,
  nowMs() {
    if (!this.state) return Date.now();
    const at = Date.parse(this.state.now);
    return this.state.frozen ? at : at + (Date.now() - this.fetchedAt);
  },
  show(state) {
    this.state = state;
    this.fetchedAt = Date.now();
    this.render();
  },
  render() {
    if (!this.state) return;
    $("#clock-now").textContent = new Date(this.nowMs()).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
    const mode = $("#clock-mode");
    const offset = this.state.offsetSeconds;
    mode.textContent = this.state.frozen ? "frozen" : offset ? `running, ${offset > 0 ? "+" : ""}${duration(offset)}` : "real time";
    mode.className = `badge ${this.state.frozen ? "b-frozen" : offset ? "b-shifted" : "b-real"}`;
    $("#clock-freeze").disabled = this.state.frozen;
    $("#clock-real").disabled = !this.state.frozen && !offset;
  },
};

function duration(seconds) {
  const sign = seconds < 0 ? "-" : "";
  let rest = Math.abs(Math.round(seconds));
  const parts = [];
  for (const [unit, size] of [["d", 86400], ["h", 3600], ["m", 60], ["s", 1]]) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  return sign + (parts.slice(0, 2).join(" ") || "0s");
}

const UNIT_SECONDS = {s: 1, m: 60, h: 3600, d: 86400};

async function setClock(body) {
  const answer = await guarded(() => api("POST", "clock", body));
  if (!answer) return;
  clock.show(answer.data);
  await refreshData();
}

function wireClock() {
  $("#clock-freeze").addEventListener("click", () => setClock({action: "freeze"}));
  $("#clock-real").addEventListener("click", () => setClock({action: "real"}));
  for (const button of $$("[data-advance]")) {
    button.addEventListener("click", () => setClock({action: "advance", seconds: Number(button.dataset.advance)}));
  }
  $("#clock-custom").addEventListener("submit", (event) => {
    event.preventDefault();
    const match = /^(-?\d+(?:\.\d+)?)([smhd]?)$/.exec($("#clock-amount").value.trim());
    if (!match) {
      notify("Move the clock by a number and s, m, h or d: 90m, 3d, -2h.", "error");
      return;
    }
    setClock({action: "advance", seconds: Number(match[1]) * UNIT_SECONDS[match[2] || "s"]});
  });
  setInterval(() => clock.render(), 1000);
  setInterval(() => guarded(async () => clock.show((await api("GET", "clock")).data)), 15000);
}

// ---- profiles -------------------------------------------------------------------------------

const profiles = {filters: {}, page: 1, limit: 20, selected: null};

async function loadProfiles() {
  const answer = await guarded(() => api("GET", `profiles?${query({...profiles.filters, page: profiles.page, limit: profiles.limit})}`));
  if (!answer) return;
  const {data, meta} = answer;
  $("#count-profiles").textContent = meta.total;
  const body = $("#profiles-table tbody");
  fill(body, data.length ? data.map(profileRow) : h("tr", {}, h("td", {colspan: 7, class: "empty"},
    Object.keys(profiles.filters).length ? "No profile matches these filters." : "No profiles yet: load a fixture file, or track a user through the API.")));
  pager($("#profiles-pager"), meta, (page) => {
    profiles.page = page;
    loadProfiles();
  });
}

function profileRow(p) {
  const selected = profiles.selected && sameUser(profiles.selected, p);
  const row = h("tr", {class: selected ? "selected clickable" : "clickable", tabindex: 0, dataset: {externalId: p.externalId}},
    h("td", {}, h("div", {class: "strong"}, p.externalId), p.displayName ? h("div", {class: "small muted"}, p.displayName) : null),
    h("td", {}, badge(p.environment)),
    h("td", {class: "mono small", title: p.partnerId}, p.partnerId.slice(0, 8)),
    h("td", {}, badge(p.lifecycleStage)),
    h("td", {}, badge(p.engagementTier)),
    h("td", {class: "num"}, p.engagementScore),
    h("td", {}, when(p.lastSeenAt, true)));
  const open = () => {
    location.hash = userHash(p);
  };
  row.addEventListener("click", open);
  row.addEventListener("keydown", (event) => event.key === "Enter" && open());
  return row;
}

const sameUser = (a, b) => a.partnerId === b.partnerId && a.environment === b.environment && a.externalId === b.externalId;
const userHash = (p) => `#/profiles/${encodeURIComponent(p.partnerId)}/${p.environment}/${encodeURIComponent(p.externalId)}`;

function pager(el, meta, go) {
  fill(el);
  if (meta.total === 0) return;
  const first = (meta.page - 1) * meta.limit + 1;
  append(el, [
    h("button", {type: "button", disabled: meta.page <= 1, onclick: () => go(meta.page - 1)}, "‹ Prev"),
    h("span", {class: "muted"}, `${first}–${Math.min(meta.page * meta.limit, meta.total)} of ${meta.total}`),
    h("button", {type: "button", disabled: meta.page >= meta.totalPages, onclick: () => go(meta.page + 1)}, "Next ›"),
  ]);
}

function wireProfiles() {
  const form = $("#profile-filters");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    profiles.filters = Object.fromEntries([...new FormData(form)].map(([k, v]) => [k, v.trim()]).filter(([, v]) => v));
    profiles.page = 1;
    loadProfiles();
  });
  $("#filters-clear").addEventListener("click", () => {
    form.reset();
    form.requestSubmit();
  });
}

// ---- one user -------------------------------------------------------------------------------

const user = {key: null, timelinePage: 1};

async function showUser(key) {
  const changed = !user.key || !sameUser(user.key, key);
  user.key = key;
  profiles.selected = key;
  if (changed) user.timelinePage = 1;
  for (const row of $$("#profiles-table tbody tr")) row.classList.toggle("selected", row.dataset.externalId === key.externalId);
  await renderUser();
}

async function renderUser() {
  const key = user.key;
  if (!key) return;
  const panel = $("#user-panel");
  const who = {partnerId: key.partnerId, environment: key.environment, externalId: key.externalId};
  let found;
  try {
    found = await Promise.all([
      api("GET", `profiles?${query({...who, limit: 1})}`),
      api("GET", `offers?${query(who)}`),
      api("GET", `events?${query({...who, page: user.timelinePage, limit: 10})}`),
    ]);
  } catch (error) {
    fill(panel, h("p", {class: "empty"}, error.status === 404 ? `${key.externalId} is no longer stored.` : ""));
    if (error.status !== 404) notify(error, "error");
    return;
  }
  if (!user.key || !sameUser(user.key, key)) return; // another user was chosen meanwhile
  const [[profile], offers, events] = [found[0].data, found[1].data, found[2]];
  if (!profile) {
    fill(panel, h("p", {class: "empty"}, `${key.externalId} is no longer stored.`));
    return;
  }
  const seg = offers.segment;
  fill(panel,
    h("div", {class: "user-head"},
      h("h2", {id: "user-title"}, profile.externalId),
      h("span", {class: "muted"}, profile.displayName),
      badge(profile.environment),
      h("span", {class: "mono small muted", title: "partnerId"}, profile.partnerId)),
    h("div", {class: "segment", id: "segment"},
      stat("Stage", badge(seg.lifecycleStage), "stage"),
      stat("Tier", badge(seg.engagementTier), "tier"),
      stat("Score", seg.engagementScore, "score", meter(seg.engagementScore)),
      stat("Churn risk", seg.churnRisk, "churn", meter(seg.churnRisk, true))),
    h("h3", {}, "Offers ", h("span", {class: "muted"}, `(${offers.offers.length}, every status)`)),
    offerTable(offers.offers, who),
    h("h3", {}, "Timeline ", h("span", {class: "muted"}, `(${events.meta.total} events, newest first)`)),
    timeline(events),
    h("h3", {}, "Profile"),
    profileFields(profile));
}

function stat(label, value, name, extra) {
  return h("div", {class: "stat", dataset: {stat: name}}, h("div", {class: "stat-label"}, label),
    h("div", {class: "stat-value"}, value), extra);
}

function meter(value, inverse = false) {
  const level = inverse ? 100 - value : value;
  const bar = h("div", {class: level >= 60 ? "good" : level >= 30 ? "fair" : "poor"});
  bar.style.width = `${Math.max(0, Math.min(100, value))}%`; // CSSOM: the page's policy bars style attributes
  return h("div", {class: "meter"}, bar);
}

function offerTable(offers, who) {
  if (!offers.length) return h("p", {class: "empty"}, "No offers. A read of the user's offers through the API issues what the segment earns.");
  return h("table", {class: "grid", id: "offers-table"},
    h("thead", {}, h("tr", {}, ["offer", "points", "status", "issued", "expires", "claimed"].map((t) => h("th", {class: t === "points" ? "num" : null}, t)))),
    h("tbody", {}, offers.map((o) => h("tr", {dataset: {offerId: o.id, status: o.status}},
      h("td", {title: `${o.description}\nid ${o.id}`}, h("div", {class: "strong"}, o.title),
        h("div", {class: "small muted"}, [o.offerType, o.gameType].filter(Boolean).join(" · "))),
      h("td", {class: "num"}, o.pointsValue),
      h("td", {class: "offer-status"}, badge(o.status)),
      h("td", {}, when(o.issuedAt)),
      h("td", {}, when(o.expiresAt)),
      h("td", {}, o.status === "active"
        ? h("button", {type: "button", class: "primary claim", onclick: () => claim(who, o)}, "Claim") : when(o.claimedAt))))));
}

async function claim(who, offer) {
  const answer = await guarded(() => api("POST", "offers/claim", {...who, offerId: offer.id}));
  if (answer) notify(`Claimed “${answer.data.title}”: +${answer.data.pointsValue} points on the timeline.`);
  await refreshData();
}

function timeline(events) {
  const box = h("div", {id: "timeline"});
  if (!events.data.length) return append(box, [h("p", {class: "empty"}, "No events.")]);
  append(box, [h("table", {class: "grid"},
    h("thead", {}, h("tr", {}, ["occurred", "category", "event", "points", "metadata"].map((t) => h("th", {}, t)))),
    h("tbody", {}, events.data.map((e) => h("tr", {dataset: {eventType: e.eventType}},
      h("td", {}, when(e.occurredAt)),
      h("td", {}, badge(e.category, "cat")),
      h("td", {class: "strong event-type"}, e.eventType),
      h("td", {class: "num"}, e.points),
      h("td", {class: "mono small"}, Object.keys(e.metadata || {}).length ? JSON.stringify(e.metadata) : "")))))]);
  const nav = h("div", {class: "pager"});
  pager(nav, events.meta, (page) => {
    user.timelinePage = page;
    renderUser();
  });
  return append(box, [nav]);
}

const SHOWN_ELSEWHERE = new Set(["externalId", "environment", "partnerId", "lifecycleStage", "engagementTier", "engagementScore"]);

function profileFields(profile) {
  return h("dl", {class: "fields"}, Object.entries(profile).filter(([k]) => !SHOWN_ELSEWHERE.has(k)).map(([k, v]) => [
    h("dt", {}, k),
    h("dd", {}, /At$/.test(k) && typeof v === "string" ? when(v)
      : v && typeof v === "object" ? (Object.keys(v).length ? h("code", {}, JSON.stringify(v)) : h("span", {class: "muted"}, "{}"))
        : v === "" ? h("span", {class: "muted"}, "—") : String(v)),
  ]));
}

// ---- journal --------------------------------------------------------------------------------

async function loadJournal() {
  const answer = await guarded(() => api("GET", "requests?limit=200"));
  if (!answer) return;
  const list = $("#journal-list");
  const open = new Set($$("details[open]", list).map((d) => d.dataset.key));
  $("#journal-summary").textContent = `${answer.data.length} request${answer.data.length === 1 ? "" : "s"} (newest first, up to 200 shown)`;
  fill(list, answer.data.length ? answer.data.map((entry) => journalEntry(entry, open))
    : h("p", {class: "empty"}, "No requests to the API yet. Requests to /__mock/ are not journaled."));
}

function journalEntry(e, open) {
  const key = `${e.time} ${e.method} ${e.path} ${e.durationMs}`;
  const path = e.query ? `${e.path}?${e.query}` : e.path;
  const status = Math.floor(e.status / 100);
  return h("details", {class: "entry", dataset: {key}, open: open.has(key)},
    h("summary", {},
      h("span", {class: `method m-${e.method}`}, e.method),
      h("span", {class: "path mono"}, path),
      h("span", {class: `status s${status}xx`}, e.status),
      h("span", {class: "muted small"}, `${e.durationMs} ms`),
      h("span", {class: "muted small time"}, e.time.replace("T", " ").replace("Z", ""))),
    h("div", {class: "exchange"},
      h("div", {}, h("h4", {}, "Request"),
        h("dl", {class: "fields"}, Object.entries(e.headers).map(([k, v]) => [h("dt", {}, k), h("dd", {class: "mono"}, v)])),
        body(e.body, e.bodyTruncated)),
      h("div", {}, h("h4", {}, "Response ", h("span", {class: `status s${status}xx`}, e.status)), body(e.response))));
}

function body(value, truncated = false) {
  if (value === null || value === undefined || value === "") return h("p", {class: "muted small"}, "no body");
  return h("div", {}, h("pre", {class: "code"}, typeof value === "string" ? value : json(value)),
    truncated ? h("p", {class: "muted small"}, "cut at 64 KiB") : null);
}

function wireJournal() {
  $("#journal-refresh").addEventListener("click", loadJournal);
  $("#journal-clear").addEventListener("click", async () => {
    const answer = await guarded(() => api("DELETE", "requests"));
    if (answer) notify(`Removed ${answer.data.removed} journal entries.`);
    loadJournal();
  });
  setInterval(() => {
    if ($("#journal-live").checked && current === "journal") loadJournal();
  }, 2000);
}

// ---- faults ---------------------------------------------------------------------------------

async function loadFaults() {
  const answer = await guarded(() => api("GET", "faults"));
  if (!answer) return;
  $("#count-faults").textContent = answer.data.length || "";
  $("#count-faults").classList.toggle("alert", answer.data.length > 0);
  fill($("#faults-table tbody"), answer.data.length ? answer.data.map((f) => h("tr", {dataset: {faultId: f.id}},
    h("td", {class: "strong"}, f.operationId),
    h("td", {}, badge(f.type)),
    h("td", {}, f.latencyMs ? `${f.latencyMs} ms` : "—"),
    h("td", {}, f.count !== undefined ? `next ${f.count}` : f.rate !== undefined ? `${Math.round(f.rate * 100)}% at random` : "every request"),
    h("td", {class: "num"}, f.hits),
    h("td", {class: "mono small muted"}, f.id)))
    : h("tr", {}, h("td", {colspan: 6, class: "empty"}, "No faults: every request is answered normally.")));
}

function wireFaults() {
  const form = $("#fault-form");
  const sync = () => {
    $("#fault-latency-field").hidden = $("#fault-type").value !== "latency";
    $("#fault-count-field").hidden = $("#fault-mode").value !== "count";
    $("#fault-rate-field").hidden = $("#fault-mode").value !== "rate";
  };
  form.addEventListener("change", sync);
  sync();
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const fault = {operationId: data.get("operationId"), type: data.get("type")};
    if (fault.type === "latency") fault.latencyMs = Number(data.get("latencyMs"));
    if (data.get("mode") === "count") fault.count = Number(data.get("count"));
    if (data.get("mode") === "rate") fault.rate = Number(data.get("rate"));
    const answer = await guarded(() => api("POST", "faults", fault));
    if (answer) notify(`Fault added: ${answer.data.operationId} ${answer.data.type}.`);
    loadFaults();
  });
  $("#faults-refresh").addEventListener("click", loadFaults);
  $("#faults-clear").addEventListener("click", async () => {
    const answer = await guarded(() => api("DELETE", "faults"));
    if (answer) notify(`Removed ${answer.data.removed} fault${answer.data.removed === 1 ? "" : "s"}.`);
    loadFaults();
  });
}

// ---- API reference --------------------------------------------------------------------------

const specs = {};
const METHODS = ["get", "put", "post", "delete", "patch", "options", "head", "trace"];

async function spec(name) {
  specs[name] ??= api("GET", name === "control" ? "control-openapi.json" : "openapi.json").catch((error) => {
    delete specs[name];
    throw error;
  });
  return specs[name];
}

function operations(document) {
  const found = [];
  for (const [path, item] of Object.entries(document.paths || {})) {
    for (const method of METHODS) {
      if (item[method]) found.push({path, method, op: item[method], shared: item.parameters || []});
    }
  }
  return found;
}

/** A resolver of $refs within the API spec and the control spec (whose refs name openapi.yaml). */
function resolver(documents, home) {
  const lookup = (ref, base) => {
    const [file, fragment = ""] = ref.split("#");
    const doc = file ? documents[file.replace(/^.*\//, "")] : documents[base];
    let node = doc;
    for (const raw of fragment.split("/").slice(1)) {
      node = node == null ? undefined : node[decodeURIComponent(raw).replace(/~1/g, "/").replace(/~0/g, "~")];
    }
    return {node, base: file ? file.replace(/^.*\//, "") : base};
  };
  const deref = (value, base = home, seen = new Set()) => {
    while (value && typeof value === "object" && typeof value.$ref === "string" && !seen.has(base + value.$ref)) {
      seen.add(base + value.$ref);
      const {node, base: next} = lookup(value.$ref, base);
      const {$ref, ...siblings} = value;
      value = Object.keys(siblings).length ? {...node, ...siblings} : node;
      base = next;
    }
    return {value, base};
  };
  return deref;
}

async function loadReference(which = "api") {
  const nav = $("#ref-nav");
  const bodyEl = $("#ref-body");
  const answer = await guarded(async () => {
    const api_ = await spec("api");
    return which === "control" ? [api_, await spec("control")] : [api_];
  });
  if (!answer) return;
  const document_ = answer[answer.length - 1];
  const deref = resolver({"openapi.yaml": answer[0], "control-openapi.yaml": answer[1]},
    which === "control" ? "control-openapi.yaml" : "openapi.yaml");
  const ops = operations(document_);
  const tags = (document_.tags || []).map((t) => t.name);
  for (const {op} of ops) for (const t of op.tags || ["other"]) if (!tags.includes(t)) tags.push(t);

  fill(nav,
    h("div", {class: "spec-switch", role: "group", "aria-label": "Spec"},
      h("button", {type: "button", class: which === "api" ? "on" : "", onclick: () => loadReference("api")}, "GamifyHost API"),
      h("button", {type: "button", class: which === "control" ? "on" : "", onclick: () => loadReference("control")}, "Control API")),
    tags.map((tag) => h("div", {class: "nav-tag"}, h("div", {class: "nav-tag-name"}, tag),
      ops.filter(({op}) => (op.tags || ["other"]).includes(tag)).map(({method, path, op}) =>
        h("a", {href: `#/reference/${which}/${op.operationId}`, class: "nav-op", onclick: (event) => {
          event.preventDefault();
          $(`[data-operation="${CSS.escape(op.operationId)}"]`)?.scrollIntoView({behavior: "smooth", block: "start"});
          history.replaceState(null, "", `#/reference/${which}/${op.operationId}`);
        }}, h("span", {class: `method m-${method.toUpperCase()}`}, method.toUpperCase()), op.summary || path)))));

  const info = document_.info || {};
  fill(bodyEl,
    h("header", {class: "ref-info"}, h("h1", {}, info.title || "API", " ", h("span", {class: "muted"}, info.version || "")),
      info.summary ? h("p", {class: "lead"}, info.summary) : null, prose(info.description),
      (document_.servers || []).map((s) => h("p", {class: "small"}, "Server: ", h("code", {}, s.url), s.description ? ` — ${s.description}` : ""))),
    tags.map((tag) => {
      const meta = (document_.tags || []).find((t) => t.name === tag);
      return h("section", {class: "ref-tag"}, h("h2", {}, tag), meta?.description ? prose(meta.description) : null,
        ops.filter(({op}) => (op.tags || ["other"]).includes(tag)).map((o) => operationCard(o, deref)));
    }));
  const wanted = location.hash.split("/")[3];
  if (wanted) $(`[data-operation="${CSS.escape(decodeURIComponent(wanted))}"]`)?.scrollIntoView({block: "start"});
}

/** Text with paragraphs, `code` and **bold** as a spec's descriptions write them; never as HTML. */
function prose(text) {
  if (!text) return null;
  return h("div", {class: "prose"}, String(text).trim().split(/\n\s*\n/).map((para) => {
    const p = h("p");
    for (const part of para.split(/(`[^`]+`|\*\*[^*]+\*\*)/)) {
      if (/^`[^`]+`$/.test(part)) p.append(h("code", {}, part.slice(1, -1)));
      else if (/^\*\*[^*]+\*\*$/.test(part)) p.append(h("strong", {}, part.slice(2, -2)));
      else if (part) p.append(part.replace(/\s*\n\s*/g, " "));
    }
    return p;
  }));
}

function operationCard({path, method, op, shared}, deref) {
  const params = [...shared, ...(op.parameters || [])].map((p) => deref(p).value);
  const requestBody = op.requestBody ? deref(op.requestBody).value : null;
  return h("article", {class: "op", dataset: {operation: op.operationId}},
    h("header", {class: "op-head"},
      h("span", {class: `method m-${method.toUpperCase()}`}, method.toUpperCase()),
      h("code", {class: "op-path"}, path),
      h("span", {class: "op-summary"}, op.summary || ""),
      h("span", {class: "mono small muted"}, op.operationId)),
    prose(op.description),
    params.length ? [h("h4", {}, "Parameters"), h("table", {class: "grid params"},
      h("thead", {}, h("tr", {}, ["name", "in", "schema", "description"].map((t) => h("th", {}, t)))),
      h("tbody", {}, params.map((p) => h("tr", {},
        h("td", {}, h("code", {}, p.name), p.required ? h("span", {class: "req", title: "required"}, " *") : null),
        h("td", {}, p.in),
        h("td", {}, schemaSummary(deref(p.schema || {}).value)),
        h("td", {}, prose(p.description))))))] : null,
    requestBody ? [h("h4", {}, "Request body", requestBody.required ? h("span", {class: "req"}, " *") : null),
      prose(requestBody.description), media(requestBody.content, deref)] : null,
    h("h4", {}, "Responses"),
    Object.entries(op.responses || {}).map(([code, raw]) => {
      const response = deref(raw).value || {};
      return h("details", {class: "response", open: /^2/.test(code)},
        h("summary", {}, h("span", {class: `status s${code[0]}xx`}, code), " ", h("span", {}, firstLine(response.description))),
        prose(response.description), media(response.content, deref));
    }));
}

const firstLine = (text) => (text || "").trim().split(/(?<=\.)\s|\n/)[0];

function media(content, deref) {
  if (!content) return null;
  return Object.entries(content).map(([type, item]) => {
    const resolved = deref(item.schema || {});
    const examples = item.example !== undefined ? [["example", item.example]]
      : Object.entries(item.examples || {}).map(([name, ex]) => [deref(ex).value?.summary || name, deref(ex).value?.value]);
    return h("div", {class: "media"},
      h("div", {class: "small muted"}, type),
      h("div", {class: "media-grid"},
        h("div", {class: "schema"}, schemaTree(resolved.value, resolved.base, deref, 0, new Set())),
        h("div", {}, (examples.length ? examples : [["example (from the schema)", sample(resolved.value, resolved.base, deref, 0)]])
          .slice(0, 3).map(([name, value]) => [h("div", {class: "small muted"}, name), h("pre", {class: "code"}, json(value))]))));
  });
}

function schemaSummary(schema) {
  if (!schema) return "";
  const parts = [typeOf(schema)];
  for (const k of ["minimum", "maximum", "minLength", "maxLength", "maxItems", "format", "default"]) {
    if (schema[k] !== undefined) parts.push(`${k} ${typeof schema[k] === "string" ? schema[k] : JSON.stringify(schema[k])}`);
  }
  if (schema.pattern) parts.push(schema["x-pattern-hint"] || (schema.pattern.length <= 40 ? `pattern ${schema.pattern}` : "pattern (hover)"));
  if (schema.enum) {
    const shown = schema.enum.slice(0, 8).map((v) => JSON.stringify(v)).join(", ");
    parts.push(`one of ${shown}${schema.enum.length > 8 ? `, … (${schema.enum.length} in all)` : ""}`);
  }
  if (schema.const !== undefined) parts.push(`= ${JSON.stringify(schema.const)}`);
  return h("span", {class: "mono small", title: schema.pattern ? `pattern ${schema.pattern}` : null}, parts.join(" · "));
}

function typeOf(schema) {
  if (Array.isArray(schema.type)) return schema.type.join(" | ");
  if (schema.type === "array") return `array`;
  return schema.type || (schema.properties ? "object" : schema.const !== undefined ? typeof schema.const : schema.enum ? "enum" : "any");
}

/** A schema as nested property rows: name, type and constraints, required mark, description. */
function schemaTree(schema, base, deref, depth, seen) {
  if (!schema || depth > 6) return h("span", {class: "muted small"}, "…");
  const combos = ["allOf", "anyOf", "oneOf"].filter((k) => Array.isArray(schema[k]));
  const list = h("ul", {class: "tree"});
  const sub = (value) => {
    const resolved = deref(value, base);
    const key = JSON.stringify(value).slice(0, 200) + resolved.base;
    if (seen.has(key)) return h("span", {class: "muted small"}, "(recursive)");
    return schemaTree(resolved.value, resolved.base, deref, depth + 1, new Set([...seen, key]));
  };
  if (schema.description && depth === 0) append(list, [h("li", {class: "muted small"}, firstLine(schema.description))]);
  for (const [name, prop] of Object.entries(schema.properties || {})) {
    const resolved = deref(prop, base).value || {};
    const nested = resolved.properties || resolved.allOf || resolved.anyOf || resolved.oneOf
      || (resolved.type === "array" && resolved.items);
    append(list, [h("li", {},
      h("code", {class: "prop"}, name), (schema.required || []).includes(name) ? h("span", {class: "req", title: "required"}, "*") : null, " ",
      schemaSummary(resolved), resolved.type === "array" && resolved.items ? h("span", {class: "mono small"}, ` of ${typeOf(deref(resolved.items, base).value || {})}`) : null,
      resolved.description ? h("div", {class: "small muted"}, firstLine(resolved.description)) : null,
      nested ? sub(resolved.type === "array" ? resolved.items : prop) : null)]);
  }
  if (schema.type === "array" && schema.items && depth === 0) append(list, [h("li", {}, h("span", {class: "small"}, "items: "), sub(schema.items))]);
  for (const combo of combos) {
    append(list, [h("li", {}, h("span", {class: "small strong"}, {allOf: "all of", anyOf: "any of", oneOf: "one of"}[combo]),
      h("ol", {}, schema[combo].map((part) => h("li", {}, sub(part)))))]);
  }
  if (!list.children.length) append(list, [h("li", {}, schemaSummary(schema))]);
  return list;
}

/** An example built from a schema, for a body or answer the spec gives none of. */
function sample(schema, base, deref, depth) {
  if (!schema || depth > 6) return null;
  const resolved = (value) => deref(value, base);
  if (schema.examples?.length) return schema.examples[0];
  if (schema.example !== undefined) return schema.example;
  if (schema.const !== undefined) return schema.const;
  if (schema.default !== undefined) return schema.default;
  if (schema.enum) return schema.enum[0];
  for (const combo of ["allOf", "anyOf", "oneOf"]) {
    if (Array.isArray(schema[combo]) && !schema.properties) {
      const parts = (combo === "allOf" ? schema[combo] : schema[combo].slice(0, 1)).map((part) => {
        const r = resolved(part);
        return sample(r.value, r.base, deref, depth + 1);
      });
      return parts.every((p) => p && typeof p === "object" && !Array.isArray(p)) ? Object.assign({}, ...parts) : parts[0];
    }
  }
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type || (schema.properties ? "object" : undefined);
  if (type === "object") {
    const out = {};
    for (const [name, prop] of Object.entries(schema.properties || {})) {
      const r = resolved(prop);
      out[name] = sample(r.value, r.base, deref, depth + 1);
    }
    return out;
  }
  if (type === "array") {
    const r = resolved(schema.items || {});
    return [sample(r.value, r.base, deref, depth + 1)];
  }
  if (type === "integer" || type === "number") return schema.minimum ?? 0;
  if (type === "boolean") return true;
  if (type === "string") return schema.format === "date-time" ? "2026-03-01T12:00:00Z" : schema.format === "uuid" ? "00000000-0000-4000-8000-000000000000" : "string";
  return null;
}

async function faultOperations() {
  const document_ = await guarded(() => spec("api"));
  if (!document_) return;
  fill($("#fault-operation"), operations(document_).filter(({op}) => op.operationId).map(({method, path, op}) =>
    h("option", {value: op.operationId}, `${op.operationId} — ${method.toUpperCase()} ${path}`)));
}

// ---- fixtures and reset ---------------------------------------------------------------------

function wireActions() {
  const input = $("#fixture-file");
  input.addEventListener("change", async () => {
    for (const file of input.files) {
      const text = await file.text();
      const type = /\.json$/i.test(file.name) ? "application/json" : "application/yaml";
      const answer = await guarded(() => api("POST", "fixtures", text, type).catch((error) => {
        error.source = file.name;
        throw error;
      }));
      if (answer) notify(`Loaded ${file.name}: ${answer.data.created} created, ${answer.data.updated} updated.`);
    }
    input.value = "";
    await refreshData();
  });
  $("#reset").addEventListener("click", async () => {
    if (!confirm("Reset the mock? Every profile, event and offer is removed, the journal emptied, every fault removed and the clock back to real time.")) return;
    const answer = await guarded(() => api("POST", "reset"));
    if (!answer) return;
    const d = answer.data;
    notify(`Reset: ${d.removedProfiles} profiles, ${d.removedEvents} events and ${d.removedOffers} offers removed.`);
    clock.show((await api("GET", "clock")).data);
    await refreshData();
  });
}

// ---- views and routing ----------------------------------------------------------------------

let current = null;

async function refreshData() {
  await Promise.all([loadProfiles(), loadFaults(), renderUser(), current === "journal" ? loadJournal() : null]);
}

async function route() {
  const [, view = "profiles", ...rest] = location.hash.replace(/^#/, "").split("/");
  const tab = ["profiles", "journal", "faults", "reference"].includes(view) ? view : "profiles";
  const entering = current !== tab;
  current = tab;
  for (const section of $$(".view")) section.hidden = section.id !== `view-${tab}`;
  for (const link of $$(".tabs a")) link.classList.toggle("on", link.dataset.tab === tab);
  if (tab === "profiles" && rest.length === 3) {
    await showUser({partnerId: decodeURIComponent(rest[0]), environment: rest[1], externalId: decodeURIComponent(rest[2])});
  } else if (entering && tab === "journal") await loadJournal();
  else if (entering && tab === "faults") await loadFaults();
  else if (entering && tab === "reference") await loadReference(rest[0] === "control" ? "control" : "api");
}

async function start() {
  wireClock();
  wireProfiles();
  wireJournal();
  wireFaults();
  wireActions();
  window.addEventListener("hashchange", route);
  await guarded(async () => clock.show((await api("GET", "clock")).data));
  await Promise.all([loadProfiles(), loadFaults(), faultOperations(), route()]);
  document.body.dataset.ready = "true";
}

start();
