"""GET /docs: a self-contained page that renders /openapi.json (no CDN, no download: works offline).

Operations grouped by tag, each with its parameters, request body and responses; schemas are shown
as compact type trees with their references followed (cycles cut), the raw JSON one click away.
"""

HTML = r"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>API docs</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1d2430;background:#f6f7f9}
header{background:#1d2430;color:#fff;padding:14px 24px}header h1{margin:0;font-size:20px}
main{max-width:1100px;margin:0 auto;padding:16px 24px}
h2{margin:28px 0 8px;text-transform:capitalize}
details.op{background:#fff;border:1px solid #d9dde3;border-radius:6px;margin:6px 0}
details.op>summary{cursor:pointer;padding:8px 12px;display:flex;gap:12px;align-items:center}
.m{font:bold 12px monospace;color:#fff;border-radius:4px;padding:3px 0;width:64px;text-align:center}
.get{background:#2f80ed}.post{background:#27ae60}.patch{background:#e2a03f}.delete{background:#d64545}
.path{font-family:monospace;font-weight:600}.lock{color:#888;margin-left:auto}
.body{padding:4px 16px 12px;border-top:1px solid #eef0f3}
table{border-collapse:collapse;width:100%}
td,th{text-align:left;padding:4px 8px;border-bottom:1px solid #eef0f3;vertical-align:top}
pre{background:#f3f4f6;padding:8px;overflow:auto;font-size:12px;margin:4px 0}
code{font-size:12px}.req{color:#d64545}.st{font-weight:bold}#filter{padding:6px 10px;width:320px}
</style></head>
<body><header><h1 id="title">API</h1><div id="desc"></div></header>
<main><input id="filter" placeholder="filter by path or summary"> <a href="/openapi.json">openapi.json</a>
<div id="ops">Loading /openapi.json…</div></main>
<script>
"use strict";
const ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"};
const esc = s => String(s).replace(/[&<>"]/g, c => ENTITIES[c]);
let spec;
function resolve(s) {
  return s && s.$ref ? spec.components.schemas[s.$ref.split("/").pop()] : s;
}
function tree(s, seen = new Set(), depth = 0) {
  if (!s) return "any";
  if (s.$ref) {
    const name = s.$ref.split("/").pop();
    if (seen.has(name) || depth > 6) return name;
    return name + " " + tree(resolve(s), new Set([...seen, name]), depth + 1);
  }
  for (const k of ["anyOf", "oneOf", "allOf"])
    if (s[k]) return s[k].map(x => tree(x, seen, depth)).join(k === "allOf" ? " & " : " | ");
  if (s.enum) return s.enum.map(v => JSON.stringify(v)).join(" | ");
  if (s.type === "array") return "[" + tree(s.items, seen, depth) + "]";
  if (s.type === "object" || s.properties) {
    const req = new Set(s.required || []);
    const pad = "  ".repeat(depth + 1);
    const props = Object.entries(s.properties || {}).map(([k, v]) =>
      pad + k + (req.has(k) ? "" : "?") + ": " + tree(v, seen, depth + 1));
    if (!props.length) return "object";
    return "{\n" + props.join("\n") + "\n" + "  ".repeat(depth) + "}";
  }
  const extra = ["format", "pattern", "minLength", "maxLength", "minimum", "maximum"]
    .filter(k => s[k] !== undefined).map(k => k + "=" + s[k]);
  const type = Array.isArray(s.type) ? s.type.join("|") : s.type || "any";
  return type + (extra.length ? " (" + extra.join(", ") + ")" : "");
}
function schemaBlock(s) {
  return "<pre>" + esc(tree(s)) + "</pre><details><summary>JSON</summary><pre>" +
    esc(JSON.stringify(s && s.$ref ? resolve(s) : s, null, 2)) + "</pre></details>";
}
function operation(path, method, op) {
  const params = (op.parameters || []).map(p => `<tr><td><code>${esc(p.name)}</code>` +
    (p.required ? ' <span class="req">*</span>' : "") +
    `</td><td>${esc(p.in)}</td><td><code>${esc(tree(p.schema))}</code></td></tr>`).join("");
  const body = op.requestBody ? "<h4>Request body (application/json)</h4>" +
    schemaBlock(op.requestBody.content["application/json"].schema) : "";
  const responses = Object.entries(op.responses || {}).map(([status, r]) => {
    const s = r.content && r.content["application/json"] && r.content["application/json"].schema;
    return `<tr><td class="st">${esc(status)}</td><td>${esc(r.description || "")}` +
      (s ? (status < 400 ? schemaBlock(s) : ` <code>${esc(tree(s, new Set(), 7))}</code>`) : "") +
      "</td></tr>";
  }).join("");
  const locked = op.security && op.security.length;
  return `<details class="op" data-text="${esc((path + " " + op.summary).toLowerCase())}">
    <summary><span class="m ${method}">${method.toUpperCase()}</span><span class="path">${esc(path)}</span>
    <span>${esc(op.summary || "")}</span>
    ${locked ? '<span class="lock">session required</span>' : ""}</summary>
    <div class="body">${params ? "<h4>Parameters</h4><table>" + params + "</table>" : ""}${body}
    <h4>Responses</h4><table>${responses}</table></div></details>`;
}
function render() {
  document.getElementById("title").textContent = spec.info.title + " " + (spec.info.version || "");
  document.getElementById("desc").textContent = spec.info.description || "";
  const groups = {};
  for (const [path, item] of Object.entries(spec.paths))
    for (const [method, op] of Object.entries(item))
      (groups[(op.tags || ["other"])[0]] ||= []).push(operation(path, method, op));
  document.getElementById("ops").innerHTML = Object.keys(groups).sort()
    .map(tag => `<section><h2>${esc(tag.replace(/_/g, " "))}</h2>${groups[tag].join("")}</section>`).join("");
}
document.getElementById("filter").addEventListener("input", e => {
  const q = e.target.value.toLowerCase();
  document.querySelectorAll("details.op").forEach(d => {
    d.style.display = d.dataset.text.includes(q) ? "" : "none";
  });
});
fetch("/openapi.json").then(r => r.json()).then(s => { spec = s; render(); })
  .catch(e => { document.getElementById("ops").textContent = "Could not load /openapi.json: " + e; });
</script></body></html>
"""
