// mm2music studio: the page. Plain JavaScript, no build step. All state lives in the output folder on the
// server; this page only draws it and asks the server (the same library calls as the CLI) to change it.
"use strict";

const $ = (id) => document.getElementById(id);
const S = {
  project: null,     // GET /api/projects/<name>
  notes: null,       // GET /api/projects/<name>/notes
  cue: null,         // selected cue index
  hits: [],          // hit points being edited (seconds)
  player: null,      // the media element the timeline follows
  layer: null,       // the timeline without the playhead (an offscreen canvas)
  drag: null,
};
window.studio = S;   // for the browser test and the curious

// --- the server --------------------------------------------------------------------------------------------

async function api(path, options = {}) {
  const res = await fetch(path, options);
  let body = null;
  try { body = await res.json(); } catch (e) { body = null; }
  if (!res.ok) {
    let msg = body && (body.error || (body.detail && JSON.stringify(body.detail))) || `${res.status} ${res.statusText}`;
    throw new Error(msg);
  }
  return body;
}

const post = (path, data) => api(path, {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(data || {})});
const enc = encodeURIComponent;
const fileUrl = (rel) => `/api/projects/${enc(S.project.name)}/files/${rel.split("/").map(enc).join("/")}?v=${S.project.stamp}`;

const STAGES = {"open": "opening the video", "encoders": "loading the encoders", "decode+cuts+encode": "decoding the video: cuts, frames",
  "audio": "reading the film's sound", "emotion": "reading the emotion", "graph+plan": "planning the music on the concept graph",
  "write": "writing the analysis and the plan", "load model": "loading the music model", "generate": "composing",
  "arrange": "writing the MIDI", "render": "rendering the audio", "stems": "rendering the stems", "musicxml": "writing MusicXML",
  "mux": "muxing the scored video"};

function follow(job, where, onEnd) {
  // progress of a background job over server-sent events; onEnd(job) when it is over
  const box = $(where === "new" ? "new-progress" : "job");
  const err = $(where === "new" ? "new-error" : "error");
  err.textContent = "";
  box.textContent = `${job.kind}: queued`;
  const es = new EventSource(`/api/jobs/${job.id}/events`);
  es.addEventListener("progress", (e) => { const m = JSON.parse(e.data).message; box.textContent = `${job.kind}: ${STAGES[m] || m}…`; });
  es.addEventListener("end", (e) => {
    es.close();
    const done = JSON.parse(e.data);
    box.textContent = done.state === "done" ? `${done.kind}: done in ${done.seconds} s` : "";
    if (done.state !== "done") err.textContent = `error: ${done.error}`;
    if (onEnd) onEnd(done);
  });
  es.onerror = () => { es.close(); box.textContent = ""; err.textContent = "error: lost the connection to the studio; reload the page"; };
}

async function run(where, fn) {
  // run a request that starts a job; show its error as the CLI's one-line message
  const err = $(where === "new" ? "new-error" : "error");
  err.textContent = "";
  try {
    const job = await fn();
    follow(job, where, async (done) => { await loadProjects(); if (S.project) await openProject(S.project.name, true); if (done.state === "done" && where === "refine") showRefine(done.result); });
  } catch (e) {
    err.textContent = `error: ${e.message}`;
  }
}

// --- new score ---------------------------------------------------------------------------------------------

function slug(text) {
  return (text || "").toLowerCase().match(/[a-z0-9]+/g)?.slice(0, 6).join("-").slice(0, 40).replace(/-+$/, "") || "";
}

function showSourceRows() {
  const src = $("src").value;
  $("file-row").hidden = src === "text";
  $("captions-row").hidden = src !== "video";
  $("text-row").hidden = $("duration-row").hidden = src !== "text";
  $("file").accept = src === "captions" ? ".srt,.vtt" : "video/*,.mp4,.mov,.mkv,.webm,.avi,.m4v";
}

async function upload(name, file) {
  $("new-progress").textContent = `uploading ${file.name} (${(file.size / 1e6).toFixed(1)} MB)`;
  return api(`/api/projects/${enc(name)}/upload/${enc(file.name)}`, {method: "PUT", body: file});
}

async function newScore(ev) {
  ev.preventDefault();
  const src = $("src").value, file = $("file").files[0], caps = $("captions-file").files[0], text = $("text").value;
  const name = $("name").value.trim() || slug(src === "text" ? text : (file && file.name.replace(/\.[^.]*$/, "")));
  const body = {};
  if ($("seed").value !== "") body.seed = parseInt($("seed").value, 10);
  await run("new", async () => {
    if (!name) throw new Error(src === "text" ? "type a text to score" : "choose a file to score");
    if (src === "text") {
      body.text = text;
      body.duration = parseFloat($("duration").value);
    } else {
      if (!file) throw new Error("choose a file to score");
      const up = await upload(name, file);
      body[src === "video" ? "video" : "captions"] = up.file;
      if (src === "video" && caps) body.captions = (await upload(name, caps)).file;
    }
    const job = await post(`/api/projects/${enc(name)}/score`, body);
    S.pendingOpen = name;
    return job;
  });
}

// --- projects ----------------------------------------------------------------------------------------------

async function loadProjects() {
  const data = await api("/api/projects");
  $("out").textContent = data.out;
  const ul = $("projects");
  ul.innerHTML = "";
  for (const p of data.projects) {
    const li = document.createElement("li");
    const what = p.scored ? `${p.kind}, ${(p.duration || 0).toFixed(1)} s, ${p.cues} cue${p.cues === 1 ? "" : "s"}, v${p.version}` : "not scored";
    li.innerHTML = `<b></b> <span class="dim">${what}${p.job ? ` — ${p.job.kind}…` : ""}</span>`;
    li.querySelector("b").textContent = p.name;
    li.dataset.name = p.name;
    if (S.project && S.project.name === p.name) li.className = "current";
    if (p.scored) li.onclick = () => openProject(p.name);
    ul.appendChild(li);
  }
  if (S.pendingOpen && data.projects.some((p) => p.name === S.pendingOpen && p.scored)) {
    const name = S.pendingOpen;
    S.pendingOpen = null;
    await openProject(name);
  }
}

async function openProject(name, keepSelection) {
  const p = await api(`/api/projects/${enc(name)}`);
  const sameVersion = S.project && S.project.name === name && S.project.stamp === p.stamp;
  S.project = p;
  if (!sameVersion) S.notes = await api(`/api/projects/${enc(name)}/notes`);
  S.hits = [...p.hits];
  if (!keepSelection || S.cue === null || S.cue >= p.cues.length) S.cue = null;
  history.replaceState(null, "", `#${enc(name)}`);
  $("empty").hidden = true;
  $("project").hidden = false;
  $("title").textContent = p.name;
  $("meta").textContent = `${p.kind} ${p.source}, ${p.duration.toFixed(2)} s, ${p.cues.length} cues, version ${p.version}` +
    (p.history ? `, ${p.history} earlier in history` : "");
  $("undo-btn").disabled = !p.history;
  for (const li of $("projects").children) li.className = li.dataset.name === name ? "current" : "";
  if (!sameVersion) setPlayers();
  $("downloads").innerHTML = "";
  for (const d of p.downloads) {
    const li = document.createElement("li");
    li.innerHTML = `<a download></a> <span class="dim"></span>`;
    li.querySelector("a").href = fileUrl(d.path);
    li.querySelector("a").textContent = d.label;
    li.querySelector("span").textContent = d.path;
    $("downloads").appendChild(li);
  }
  drawLayer();
  showCue();
  showHits();
  if (p.job) follow(p.job, "project", () => openProject(name, true));
}

function setPlayers() {
  const p = S.project, video = $("video"), audio = $("audio");
  video.hidden = !p.video;
  if (p.video) video.src = fileUrl(p.video); else video.removeAttribute("src");
  audio.src = fileUrl(p.audio);
  S.player = p.video ? video : audio;
}

// --- the timeline ------------------------------------------------------------------------------------------

const ROWS = {ruler: [0, 18], emotion: [20, 80], intensity: [102, 42], cues: [148, 40], roll: [192, 134]};
const PAD = 8;
const canvas = () => $("timeline");
const xOf = (t) => PAD + (t / S.project.duration) * (canvas().clientWidth - 2 * PAD);
const tOf = (x) => Math.max(0, Math.min(S.project.duration, ((x - PAD) / (canvas().clientWidth - 2 * PAD)) * S.project.duration));
const rowAt = (y) => Object.keys(ROWS).find((k) => y >= ROWS[k][0] && y < ROWS[k][0] + ROWS[k][1]);
const cueAt = (t) => S.project.cues.findIndex((c, i) => t >= c.start && (t < c.end || i === S.project.cues.length - 1));

function label(ctx, text, x, y, color) {
  ctx.fillStyle = color || "#666";
  ctx.fillText(text, x, y);
}

function drawLayer() {
  const c = canvas(), dpr = window.devicePixelRatio || 1, w = c.clientWidth, h = 330;
  if (!w) return;  // not laid out yet (hidden): drawn when shown
  c._dpr = dpr;
  c.width = Math.round(w * dpr);
  c.height = Math.round(330 * dpr);
  c.style.height = "330px";
  const layer = document.createElement("canvas");
  layer.width = c.width; layer.height = c.height;
  const ctx = layer.getContext("2d");
  ctx.scale(dpr, dpr);
  ctx.font = "11px system-ui, sans-serif";
  ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, w, h);
  const p = S.project, D = p.duration;
  // ruler
  const step = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600].find((s) => (w / D) * s > 50) || 600;
  ctx.strokeStyle = "#bbb";
  for (let t = 0; t <= D + 1e-9; t += step) {
    const x = xOf(t);
    ctx.beginPath(); ctx.moveTo(x, 12); ctx.lineTo(x, 18); ctx.stroke();
    label(ctx, `${t}s`, x + 2, 10);
  }
  // transitions: fades and dissolves shaded, every cut a line across
  for (const tr of p.transitions) {
    if (tr.end > tr.start) { ctx.fillStyle = "rgba(120,120,200,0.15)"; ctx.fillRect(xOf(tr.start), 18, Math.max(1, xOf(tr.end) - xOf(tr.start)), 312); }
  }
  ctx.strokeStyle = "rgba(0,0,0,0.35)"; ctx.setLineDash([3, 3]);
  for (const t of p.cuts) { ctx.beginPath(); ctx.moveTo(xOf(t), 18); ctx.lineTo(xOf(t), 330); ctx.stroke(); }
  ctx.setLineDash([]);
  // emotion: valence and arousal per scene, in [-1, 1]
  const [ey, eh] = ROWS.emotion, mid = ey + eh / 2;
  ctx.strokeStyle = "#ddd"; ctx.beginPath(); ctx.moveTo(PAD, mid); ctx.lineTo(w - PAD, mid); ctx.stroke();
  for (const [key, color] of [["valence", "#2a6fdb"], ["arousal", "#d9480f"]]) {
    ctx.strokeStyle = color; ctx.lineWidth = 2; ctx.beginPath();
    p.scenes.forEach((s, i) => {
      if (s[key] === null || s[key] === undefined) return;
      const y = mid - (s[key] * eh) / 2;
      if (i === 0) ctx.moveTo(xOf(s.start), y); else ctx.lineTo(xOf(s.start), y);
      ctx.lineTo(xOf(s.end), y);
    });
    ctx.stroke(); ctx.lineWidth = 1;
  }
  label(ctx, "valence", PAD + 2, ey + 10, "#2a6fdb"); label(ctx, "arousal", PAD + 50, ey + 10, "#d9480f");
  // intensity curve (plan.json "intensity": bar by bar)
  const [iy, ih] = ROWS.intensity;
  if (p.intensity && p.intensity.times.length) {
    ctx.fillStyle = "rgba(46,160,67,0.25)"; ctx.strokeStyle = "#2ea043"; ctx.beginPath(); ctx.moveTo(xOf(0), iy + ih);
    p.intensity.times.forEach((t, i) => {
      const y = iy + ih - p.intensity.values[i] * ih, t1 = p.intensity.times[i + 1] ?? D;
      ctx.lineTo(xOf(t), y); ctx.lineTo(xOf(t1), y);
    });
    ctx.lineTo(xOf(D), iy + ih); ctx.closePath(); ctx.fill(); ctx.stroke();
  }
  label(ctx, "intensity", PAD + 2, iy + 10, "#2ea043");
  // cues
  const [cy, ch] = ROWS.cues;
  p.cues.forEach((cue, i) => {
    const x0 = xOf(cue.start), x1 = xOf(cue.end), sheet = p.sheet[i] || {};
    ctx.fillStyle = i === S.cue ? "#ffe8a3" : i % 2 ? "#e4e9f7" : "#eef1fa";
    ctx.fillRect(x0, cy, x1 - x0, ch);
    ctx.strokeStyle = i === S.cue ? "#c99a00" : "#9aa5c8"; ctx.strokeRect(x0 + 0.5, cy + 0.5, x1 - x0 - 1, ch - 1);
    ctx.save(); ctx.beginPath(); ctx.rect(x0, cy, x1 - x0, ch); ctx.clip();
    label(ctx, `${i + 1}${sheet.locked ? " (locked)" : ""}  ${cue.key} ${cue.mode}  ${+(+cue.tempo_bpm).toFixed(1)} BPM  ${cue.meter}  theme ${cue.theme}`, x0 + 4, cy + 13, "#222");
    label(ctx, `${cue.figure || cue.texture}, ${cue.dynamics}: ${cue.instruments.join(", ")}`, x0 + 4, cy + 27, "#555");
    ctx.restore();
  });
  // piano roll (non-drum notes), coloured by track
  const [ry, rh] = ROWS.roll;
  const notes = (S.notes && S.notes.notes || []).filter((n) => !S.notes.tracks[n[4]].drum);
  if (notes.length) {
    const lo = Math.min(...notes.map((n) => n[2])) - 1, hi = Math.max(...notes.map((n) => n[2])) + 1, ph = rh / (hi - lo + 1);
    for (const n of notes) {
      ctx.fillStyle = `hsla(${(n[4] * 67) % 360}, 60%, 45%, ${0.35 + n[3] / 250})`;
      ctx.fillRect(xOf(n[0]), ry + rh - (n[2] - lo + 1) * ph, Math.max(1, xOf(n[1]) - xOf(n[0])), Math.max(1, ph));
    }
  }
  label(ctx, "notes", PAD + 2, ry + 10);
  S.layer = layer;
  c.dataset.cues = p.cues.length;
  c.dataset.notes = notes.length;
  c.dataset.version = p.version;
  c.dataset.stamp = p.stamp;
  paint();
}

function paint() {
  // the layer, the hit points being edited, and the playhead
  const c = canvas(); if (!S.layer || !S.project || !S.layer.width || !c.width) return;
  const ctx = c.getContext("2d"), dpr = c._dpr || 1;
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.drawImage(S.layer, 0, 0);
  ctx.scale(dpr, dpr);
  for (const h of S.hits) {
    const x = xOf(h);
    ctx.strokeStyle = "#e8590c"; ctx.lineWidth = 2; ctx.beginPath(); ctx.moveTo(x, 18); ctx.lineTo(x, 330); ctx.stroke();
    ctx.fillStyle = "#e8590c"; ctx.beginPath(); ctx.moveTo(x - 6, 12); ctx.lineTo(x + 6, 12); ctx.lineTo(x, 22); ctx.fill();
    ctx.lineWidth = 1;
  }
  const t = S.player ? S.player.currentTime || 0 : 0, x = xOf(t);
  ctx.strokeStyle = "#d00"; ctx.beginPath(); ctx.moveTo(x, 0); ctx.lineTo(x, 330); ctx.stroke();
  c.dataset.time = t.toFixed(3);
}

function tick() { paint(); requestAnimationFrame(tick); }

function onDown(ev) {
  if (!S.project) return;
  const r = canvas().getBoundingClientRect(), x = ev.clientX - r.left, y = ev.clientY - r.top, t = tOf(x);
  if ($("hit-mode").checked) {
    const k = S.hits.findIndex((h) => Math.abs(xOf(h) - x) <= 6);
    S.drag = {k, x0: x, moved: false};
    if (k < 0) { S.hits.push(+t.toFixed(2)); S.hits.sort((a, b) => a - b); S.drag = null; showHits(); }
    return;
  }
  if (rowAt(y) === "cues") { S.cue = cueAt(t); drawLayer(); showCue(); }
  else if (S.player) S.player.currentTime = t;
}

function onMove(ev) {
  if (!S.drag || S.drag.k < 0) return;
  const r = canvas().getBoundingClientRect(), x = ev.clientX - r.left;
  if (Math.abs(x - S.drag.x0) > 3) S.drag.moved = true;
  if (S.drag.moved) { S.hits[S.drag.k] = +tOf(x).toFixed(2); showHits(); }
}

function onUp() {
  if (!S.drag) return;
  if (!S.drag.moved && S.drag.k >= 0) S.hits.splice(S.drag.k, 1);   // a click on a hit point removes it
  S.hits.sort((a, b) => a - b);
  S.drag = null;
  showHits();
}

function showHits() {
  const same = JSON.stringify(S.hits) === JSON.stringify(S.project.hits);
  $("hits-list").textContent = S.hits.length ? `hit points: ${S.hits.map((h) => h.toFixed(2) + " s").join(", ")}` : "no hit points";
  $("apply-hits").disabled = same;
}

// --- the selected cue --------------------------------------------------------------------------------------

const PLAN_FIELDS = ["start", "end", "key", "mode", "tempo_bpm", "ramp_to_bpm", "meter", "bars", "odd_bar", "figure", "dynamics", "density",
  "register", "texture", "articulation", "instruments", "theme", "transition", "cadence", "intensity", "catches", "merged"];

function showCue() {
  const p = S.project, i = S.cue;
  $("cue-panel").hidden = i === null;
  if (i === null) return;
  const cue = p.cues[i], sheet = p.sheet[i] || {};
  $("cue-title").textContent = `Cue ${i + 1}: ${cue.start.toFixed(2)}–${cue.end.toFixed(2)} s` + (sheet.timecode ? ` (${sheet.timecode})` : "");
  const table = $("cue-plan");
  table.innerHTML = "";
  const rows = PLAN_FIELDS.filter((k) => cue[k] !== undefined && cue[k] !== null && !(Array.isArray(cue[k]) && !cue[k].length))
    .map((k) => [k, Array.isArray(cue[k]) ? cue[k].join(", ") : String(cue[k])]);
  if (sheet.seed !== undefined) rows.push(["seed", String(sheet.seed)]);
  if (sheet.pinned && Object.keys(sheet.pinned).length) rows.push(["pinned", JSON.stringify(sheet.pinned)]);
  if (sheet.generation) rows.push(["written", `${sheet.generation.key}${sheet.generation.key_ok ? " (as asked)" : ""}, density ${sheet.generation.density_bin}`]);
  for (const [k, v] of rows) {
    const tr = table.insertRow(); tr.insertCell().textContent = k; tr.insertCell().textContent = v;
  }
  // evidence: the cue's fused emotion, then each scene it covers
  const ev = $("cue-evidence");
  ev.innerHTML = "";
  const block = (title, v, a, emotions, conf) => {
    const d = document.createElement("div");
    const h = document.createElement("div");
    h.textContent = `${title}: valence ${v >= 0 ? "+" : ""}${(v ?? 0).toFixed(2)}, arousal ${a >= 0 ? "+" : ""}${(a ?? 0).toFixed(2)}` + (conf !== undefined ? `, confidence ${conf.toFixed(2)}` : "");
    d.appendChild(h);
    for (const [name, wgt] of Object.entries(emotions || {})) {
      const e = document.createElement("div"); e.className = "emo";
      e.innerHTML = `<span style="width:90px"></span><span class="barv" style="width:${Math.round(wgt * 120)}px"></span><span>${wgt.toFixed(2)}</span>`;
      e.firstChild.textContent = name;
      d.appendChild(e);
    }
    ev.appendChild(d);
  };
  block("cue", cue.valence, cue.arousal, cue.emotions);
  p.scenes.forEach((s, k) => {
    if (s.end > cue.start + 1e-6 && s.start < cue.end - 1e-6) block(`scene ${k + 1} (${s.start.toFixed(1)}–${s.end.toFixed(1)} s)`, s.valence, s.arousal, s.emotions, s.confidence);
  });
  if (p.segments.length) {
    const d = document.createElement("div"); d.className = "dim"; d.textContent = `words: ${p.segments.slice(0, 3).join(" / ")}`; ev.appendChild(d);
  }
  // edit form, filled with the cue as it is
  $("e-key").value = `${cue.key} ${cue.mode}`;
  $("e-tempo").value = cue.tempo_bpm;
  $("e-instruments").value = cue.instruments.join(",");
  $("e-intensity").value = cue.intensity ?? 0.5;
  $("e-int-on").checked = false;
  $("e-int-val").textContent = (+$("e-intensity").value).toFixed(2);
  $("lock-box").checked = !!sheet.locked;
  const vl = $("var-list");
  vl.innerHTML = "";
  for (const v of p.variations[String(i + 1)] || []) {
    const li = document.createElement("li");
    li.innerHTML = `v${v.j} <audio controls preload="none"></audio> <button>Keep v${v.j}</button>`;
    li.querySelector("audio").src = fileUrl(v.wav);
    li.querySelector("button").onclick = () => run("project", () => post(`/api/projects/${enc(p.name)}/cues/${i + 1}/pick`, {j: v.j}));
    vl.appendChild(li);
  }
  const ref = p.refine[String(i + 1)];
  if (ref) showRefine({previews: ref}); else { $("refine-box").hidden = true; }
}

function edits() {
  const p = S.project, cue = p.cues[S.cue], body = {};
  const key = $("e-key").value.trim(), tempo = parseFloat($("e-tempo").value), inst = $("e-instruments").value.split(",").map((s) => s.trim()).filter(Boolean);
  if (key && key !== `${cue.key} ${cue.mode}`) body.key = key;
  if (!isNaN(tempo) && Math.abs(tempo - cue.tempo_bpm) > 1e-6) body.tempo = tempo;
  if (inst.join(",") !== cue.instruments.join(",")) body.instruments = inst;
  if ($("e-int-on").checked) body.intensity = parseFloat($("e-intensity").value);
  return body;
}

function showRefine(result) {
  if (!result || !result.previews) return;
  S.refine = result.previews;
  const s = $("refine-slider");
  s.max = S.refine.length; s.value = 1;
  $("refine-box").hidden = false;
  $("refine-apply").disabled = false;
  slide();
}

function slide() {
  const pv = S.refine[+$("refine-slider").value - 1];
  $("refine-settings").textContent = `preview ${pv.k} of ${S.refine.length}${pv.k === 1 ? " (the best so far)" : ""}: ${pv.settings || "as planned"}`;
  $("refine-audio").src = fileUrl(pv.wav);
}

// --- wiring ------------------------------------------------------------------------------------------------

function wire() {
  $("src").onchange = showSourceRows;
  $("new-form").onsubmit = newScore;
  const c = canvas();
  c.addEventListener("mousedown", onDown);
  window.addEventListener("mousemove", onMove);
  window.addEventListener("mouseup", onUp);
  window.addEventListener("resize", () => S.project && drawLayer());
  $("video").addEventListener("play", () => { S.player = $("video"); $("audio").pause(); });
  $("audio").addEventListener("play", () => { S.player = $("audio"); $("video").pause(); });
  $("apply-hits").onclick = () => run("project", () => post(`/api/projects/${enc(S.project.name)}/hits`, {hits: S.hits}));
  $("undo-btn").onclick = () => run("project", () => post(`/api/projects/${enc(S.project.name)}/undo`));
  $("regen-btn").onclick = () => run("project", () => post(`/api/projects/${enc(S.project.name)}/cues/${S.cue + 1}/revise`, edits()));
  $("var-btn").onclick = () => run("project", () => post(`/api/projects/${enc(S.project.name)}/cues/${S.cue + 1}/variations`, {k: parseInt($("var-k").value, 10)}));
  $("lock-box").onchange = () => run("project", () => post(`/api/projects/${enc(S.project.name)}/cues/${S.cue + 1}/lock`, {locked: $("lock-box").checked}));
  $("e-intensity").oninput = () => { $("e-int-on").checked = true; $("e-int-val").textContent = (+$("e-intensity").value).toFixed(2); };
  $("refine-btn").onclick = () => run("refine", () => post(`/api/projects/${enc(S.project.name)}/cues/${S.cue + 1}/refine/round`, {k: 5}));
  $("refine-slider").oninput = slide;
  $("refine-slider").onchange = () => $("refine-audio").play().catch(() => {});
  $("refine-choose").onclick = () => run("project", () => { $("refine-box").hidden = true; return post(`/api/projects/${enc(S.project.name)}/cues/${S.cue + 1}/refine/choose`, {j: +$("refine-slider").value}); });
  $("refine-apply").onclick = () => run("project", () => post(`/api/projects/${enc(S.project.name)}/cues/${S.cue + 1}/refine/apply`));
}

async function loadVocabulary() {
  // the names and limits the CLI accepts (mm2music/vocab.py), so the form offers nothing the server refuses
  const v = await (await fetch("/api/vocabulary")).json();
  $("e-tempo").min = v.tempo[0];
  $("e-tempo").max = v.tempo[1];
  $("families").replaceChildren(...v.families.map((f) => Object.assign(document.createElement("option"), {value: f})));
  $("e-instruments").title = `instrument families, melody first: ${v.families.join(", ")}`;
}

async function start() {
  wire();
  showSourceRows();
  requestAnimationFrame(tick);
  try {
    await loadVocabulary();
    await loadProjects();
    const name = decodeURIComponent(location.hash.slice(1));
    if (name) await openProject(name);
  } catch (e) {
    $("new-error").textContent = `error: ${e.message}`;
  }
  document.body.dataset.ready = "1";
}

start();
