// The access inspector: plain browser JavaScript, no build step, every request to this service.
// Reads go through the admin API (organizations, projects, members, dashboards, resources) as a
// system call, and the decision API (/v1/levels, /v1/explain, /v1/subjects) for the chosen user.

const TOKEN_KEY = "acl-inspector-token";
// SPEC §3.1 ACCESS_CONTROL_RESOURCES: the types offered for resource-wide rules.
const RESOURCE_TYPES = [
  "action", "customer_analytics", "dashboard", "early_access_feature", "endpoint", "experiment",
  "export", "external_data_source", "warehouse_objects", "feature_flag", "insight", "llm_analytics",
  "notebook", "revenue_analytics", "session_recording", "sharing_configuration", "survey",
  "web_analytics", "activity_log", "error_tracking", "logs", "tracing",
];
const PAGE = 1000;

const $ = (selector) => document.querySelector(selector);
const state = { members: [], user: null, lastTrace: null };

class ApiError extends Error {
  constructor(status, body) {
    super(body && body.detail ? body.detail : `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

async function api(path, { method = "GET", body } = {}) {
  const headers = { Authorization: `Bearer ${sessionStorage.getItem(TOKEN_KEY)}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

async function everyPage(path) {
  const found = [];
  let next = `${path}${path.includes("?") ? "&" : "?"}limit=${PAGE}`;
  while (next) {
    const page = await api(next);
    found.push(...page.results);
    next = page.next;
  }
  return found;
}

function show(message, isError = false) {
  const status = $("#status");
  status.textContent = message;
  status.classList.toggle("error", isError);
}

function cell(value, field) {
  const td = document.createElement("td");
  if (field) td.dataset.field = field;
  if (value === null || value === undefined) {
    td.textContent = "null";
    td.className = "level-null";
  } else {
    td.textContent = String(value);
    if (value === "none") td.className = "level-none";
  }
  return td;
}

function button(label, onClick, title) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = label;
  if (title) b.title = title;
  b.addEventListener("click", onClick);
  if (label === "Why?") b.setAttribute("aria-label", "Why? Trace this decision");
  return b;
}

function row(values, target, withSubjects) {
  const tr = document.createElement("tr");
  for (const [field, value] of values) tr.append(cell(value, field));
  const actions = document.createElement("td");
  actions.className = "actions";
  actions.append(button("Why?", guard(() => explain(target)), "Trace this decision for the chosen action"));
  if (withSubjects) {
    const who = button("Who?", guard(() => whoHasAccess(target)), "Who has access, and why");
    who.setAttribute("aria-label", "Who has access");
    actions.append(" ", who);
  }
  tr.append(actions);
  return tr;
}

function fill(tableSelector, rows) {
  const body = $(`${tableSelector} tbody`);
  body.replaceChildren(...rows);
}

// -- sign in ---------------------------------------------------------------------------------------

async function signIn(event) {
  event.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $("#token").value.trim());
  try {
    await api("/api/organizations/?limit=1");
  } catch (error) {
    sessionStorage.removeItem(TOKEN_KEY);
    $("#login-error").textContent = error.status === 401 ? "That token is not valid." : error.message;
    return;
  }
  $("#token").value = "";
  await start();
}

function signOut() {
  sessionStorage.removeItem(TOKEN_KEY);
  location.reload();
}

// -- pickers ---------------------------------------------------------------------------------------

function options(select, items, label, value) {
  select.replaceChildren(...items.map((item) => new Option(label(item), value(item))));
}

async function loadOrganizations() {
  const organizations = await everyPage("/api/organizations/");
  options($("#organization"), organizations, (o) => o.name, (o) => o.id);
  if (organizations.length === 0) show("No organizations yet.");
  await loadOrganization();
}

async function loadOrganization() {
  const organization = $("#organization").value;
  state.user = null;
  clearResults();
  if (!organization) return;
  const [projects, members] = await Promise.all([
    everyPage(`/api/organizations/${organization}/projects/`),
    everyPage(`/api/organizations/${organization}/members/`),
  ]);
  options($("#project"), projects, (p) => `${p.name} (${p.id})`, (p) => p.id);
  state.members = members;
  renderUserResults();
}

function renderUserResults() {
  const wanted = $("#user-search").value.trim().toLowerCase();
  const matching = state.members
    .filter((m) => !wanted || m.user.email.toLowerCase().includes(wanted))
    .slice(0, 50);
  const items = matching.map((member) => {
    const li = document.createElement("li");
    const name = `${member.user.first_name} ${member.user.last_name}`.trim();
    const b = button(`${member.user.email}${name ? ` — ${name}` : ""} (level ${member.level})`, guard(() => pickUser(member)));
    b.className = "user-option";
    b.dataset.uuid = member.user.uuid;
    if (state.user && state.user.uuid === member.user.uuid) b.classList.add("selected");
    li.append(b);
    return li;
  });
  $("#user-results").replaceChildren(...items);
}

async function pickUser(member) {
  state.user = member.user;
  renderUserResults();
  $("#selected-user").textContent = `for ${member.user.email}`;
  await loadLevels();
}

// -- levels ----------------------------------------------------------------------------------------

function clearResults() {
  for (const table of ["#project-levels", "#dashboards", "#resource-types", "#objects"]) fill(table, []);
  $("#objects-panel").hidden = true;
  $("#trace-panel").hidden = true;
  $("#subjects-panel").hidden = true;
  $("#selected-user").textContent = "";
}

function projectId() {
  return Number($("#project").value);
}

async function loadLevels() {
  if (!state.user || !projectId()) return;
  const project = projectId();
  show("Loading levels…");
  const dashboards = await everyPage(`/api/environments/${project}/dashboards/`);
  const levels = await api("/v1/levels", {
    method: "POST",
    body: {
      user: state.user.uuid,
      project_id: project,
      dashboards: dashboards.map((d) => d.id),
      resource_types: RESOURCE_TYPES,
    },
  });
  const p = levels.project;
  fill("#project-levels", [
    row(
      [["org_level", p.org_level], ["effective_level", p.effective_level],
        ["user_access_level", p.user_access_level], ["access_source", p.access_source]],
      { type: "project" },
      true,
    ),
  ]);
  const names = new Map(dashboards.map((d) => [d.id, d.name]));
  fill("#dashboards", levels.dashboards.map((d) => {
    const tr = row(
      [["id", d.id], ["name", names.get(d.id) ?? ""], ["user_access_level", d.user_access_level],
        ["access_source", d.access_source], ["restriction_level", d.restriction_level],
        ["effective_restriction_level", d.effective_restriction_level],
        ["effective_privilege_level", d.effective_privilege_level], ["can_edit", d.can_edit],
        ["can_restrict", d.can_restrict]],
      { type: "dashboard", id: String(d.id) },
      true,
    );
    tr.dataset.id = d.id;
    return tr;
  }));
  fill("#resource-types", levels.resource_types.map((t) => {
    const tr = row(
      [["type", t.type], ["access_level", t.access_level],
        ["effective_access_level", t.effective_access_level], ["specific_access_level", t.specific_access_level]],
      { type: t.type },
      false,
    );
    tr.dataset.type = t.type;
    tr.querySelector("td.actions").append(" ", button("Objects", guard(() => loadObjects(t.type)), `Objects of ${t.type}`));
    return tr;
  }));
  show(`Levels at revision ${levels.revision}.`);
}

async function loadObjects(type) {
  const project = projectId();
  const objects = await everyPage(`/api/environments/${project}/resources/?resource=${encodeURIComponent(type)}`);
  const levels = objects.length === 0 ? { resources: [] } : await api("/v1/levels", {
    method: "POST",
    body: {
      user: state.user.uuid,
      project_id: project,
      resources: objects.map((o) => ({ type, id: o.resource_id })),
    },
  });
  const names = new Map(objects.map((o) => [o.resource_id, o.name]));
  fill("#objects", levels.resources.map((o) => {
    const tr = row(
      [["id", o.id], ["name", names.get(o.id) ?? ""], ["user_access_level", o.user_access_level],
        ["access_source", o.access_source]],
      { type, id: o.id },
      true,
    );
    tr.dataset.id = o.id;
    return tr;
  }));
  $("#objects-title").textContent = `Objects of ${type}${objects.length ? "" : ": none"}`;
  $("#objects-panel").hidden = false;
  $("#objects-title").focus();
}

// -- explanations ----------------------------------------------------------------------------------

function checkBody(target) {
  const body = { user: state.user.uuid, project_id: projectId(), action: $("#action").value };
  if (target.type !== "project") {
    body.resource = target.id === undefined ? { type: target.type } : { type: target.type, id: target.id };
  }
  return body;
}

function describeTarget(target) {
  if (target.type === "project") return `project ${projectId()}`;
  return target.id === undefined ? `type ${target.type}` : `${target.type} ${target.id}`;
}

async function explain(target) {
  const panel = $("#trace-panel");
  panel.hidden = false;
  $("#trace-title").textContent = `Trace: ${$("#action").value} on ${describeTarget(target)}`;
  try {
    const answer = await api("/v1/explain", { method: "POST", body: checkBody(target) });
    state.lastTrace = answer.trace;
    const decision = $("#trace-decision");
    decision.textContent = answer.allowed ? "Allowed" : `Denied: ${answer.status} ${answer.detail}`;
    decision.className = `decision ${answer.allowed ? "allowed" : "denied"}`;
    const policy = answer.trace.decided_by_policy;
    $("#trace-rule").textContent = answer.trace.decided_by
      ? `Decided by rule ${answer.trace.decided_by}${policy ? ` (${policy.file}:${policy.line})` : ""}`
      : `user_access_level ${answer.levels.user_access_level ?? "null"}, revision ${answer.revision}`;
    renderTrace(answer.trace);
  } catch (error) {
    $("#trace-decision").textContent = error.message;
    $("#trace-decision").className = "decision denied";
    $("#trace-rule").textContent = "";
    $("#trace").replaceChildren();
  }
  $("#trace-title").focus();
}

function answerText(value) {
  return JSON.stringify(value);
}

function stepLine(step) {
  const line = document.createElement("div");
  line.className = "line";
  const kind = document.createElement("span");
  kind.className = "kind";
  kind.textContent = step.kind;
  line.append(kind);
  if (step.kind === "query") {
    line.append(`${step.title} = `);
    const answer = document.createElement("span");
    answer.className = "answer";
    answer.textContent = answerText(step.answer);
    line.append(answer, " ");
    const where = document.createElement("span");
    where.className = "where";
    where.textContent = step.policy ? `${step.rule} · ${step.policy.file}:${step.policy.line}` : step.rule;
    where.title = step.policy ? step.policy.text : "";
    line.append(where);
  } else {
    line.append(step.section ? `${step.title} (§${step.section})` : step.title);
  }
  return line;
}

function renderTrace(trace) {
  const root = document.createElement("ul");
  const stack = [root];
  let last = null;
  for (const step of trace.steps) {
    while (stack.length > step.depth + 1) stack.pop();
    while (stack.length < step.depth + 1) {
      const nested = document.createElement("ul");
      last.append(nested);
      stack.push(nested);
    }
    const li = document.createElement("li");
    li.className = `step-${step.kind}`;
    if (step.kind === "query" && step.rule === trace.decided_by) li.classList.add("refused");
    li.append(stepLine(step));
    if (step.kind === "query" && Object.keys(step.facts).length) {
      const given = document.createElement("div");
      given.className = "given";
      given.textContent = "given " + Object.entries(step.facts).map(([k, v]) => `${k}=${answerText(v)}`).join(", ");
      li.append(given);
    }
    stack[stack.length - 1].append(li);
    last = li;
  }
  $("#trace").replaceChildren(root);
}

async function whoHasAccess(target) {
  const project = projectId();
  const id = target.type === "project" ? String(project) : target.id;
  const query = new URLSearchParams({ project_id: project, resource: target.type, resource_id: id });
  const answer = await api(`/v1/subjects?${query}`);
  const emails = new Map(state.members.map((m) => [m.user.uuid, m.user.email]));
  fill("#subjects", answer.users.map((u) => {
    const tr = document.createElement("tr");
    tr.append(
      cell(emails.get(u.user_id) ?? u.user_id, "user"), cell(u.access_level, "access_level"),
      cell(u.access_source, "access_source"), cell(u.organization_membership_level, "membership"),
    );
    return tr;
  }));
  $("#subjects-title").textContent = `Who has access to ${describeTarget(target)} (${answer.total_count})`;
  $("#subjects-panel").hidden = false;
  $("#subjects-title").focus();
}

// -- start -----------------------------------------------------------------------------------------

function guard(action) {
  return async (...args) => {
    try {
      await action(...args);
    } catch (error) {
      if (error.status === 401) signOut();
      show(error.message, true);
    }
  };
}

async function start() {
  $("#login").hidden = true;
  $("#inspector").hidden = false;
  $("#sign-out").hidden = false;
  await loadOrganizations();
  $("#user-search").focus();
}

document.addEventListener("DOMContentLoaded", () => {
  $("#login").addEventListener("submit", guard(signIn));
  $("#sign-out").addEventListener("click", signOut);
  $("#organization").addEventListener("change", guard(loadOrganization));
  $("#project").addEventListener("change", guard(loadLevels));
  $("#user-search").addEventListener("input", renderUserResults);
  $("#trace-facts").addEventListener("change", (event) => {
    $("#trace").classList.toggle("with-facts", event.target.checked);
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      $("#trace-panel").hidden = true;
      $("#subjects-panel").hidden = true;
    }
  });
  if (sessionStorage.getItem(TOKEN_KEY)) guard(start)();
  else $("#login").hidden = false;
});
