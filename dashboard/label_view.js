// The Label page's view (see label_view.py for the protocol): the clip, its audio, the track strip,
// Haverford's test and every key, held in the browser so that a verdict key shows the next clip at
// once. The server's runs save the outbox and send the queue ahead; nothing here waits for them.

const KEYS = [
  ["B / N / A", "save the verdict (banger / not a banger / ambiguous) and go to the next clip"],
  ["S", "skip (it leaves the queue until you reload)"],
  ["← / →", "previous / next segment of the track"],
  ["Space", "play / pause the clip"],
  ["R", "replay from the start"],
  ["Q or Tab / Shift+Tab, Enter", "go to the next / previous question (Esc leaves the questions)"],
  ["0–9", "a number (with no question chosen, the first question takes it)"],
  ["Y / N, 1 / 0", "yes / no while a yes/no question is outlined (it stays outlined: Tab moves on)"],
  ["1–9, 0 = 10", "a rating; choices by their position"],
  ["T", "use the suggested tempo"],
];
const MAX_POLLS = 60;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

// Streamlit's media URLs start at the server's root ("/media/…"). Behind a proxy's path prefix they
// are fetched under the server's base, which `haverford serve` names in window.__streamlit.
function served(url) {
  const base = window.__streamlit && window.__streamlit.BACKEND_BASE_URL;
  if (!base || !url.startsWith("/")) return url;
  return new URL(url.slice(1), base.endsWith("/") ? base : `${base}/`).href;
}

const named = (table, state) => table[state === null || state === undefined ? "None" : String(state)];

// P(banger) 0 blue, 0.5 white, 1 red (Plotly's RdBu, reversed, as the strip of the other pages)
function scoreColour(p) {
  const [a, b] = p < 0.5 ? [[33, 102, 172], [247, 247, 247]] : [[247, 247, 247], [178, 24, 43]];
  const t = p < 0.5 ? p / 0.5 : (p - 0.5) / 0.5;
  return `rgb(${a.map((x, i) => Math.round(x + (b[i] - x) * t)).join(",")})`;
}

function uid() {
  return (crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random()}`);
}

function isAsked(q, answers) {  // haverford.core.haverford.is_asked
  const cond = q.ask_when;
  if (!cond) return true;
  const other = answers[cond.key];
  if (other === null || other === undefined || other === "") return false;
  const a = Number(other), b = Number(cond.value);
  const [x, y] = Number.isFinite(a) && Number.isFinite(b) ? [a, b] : [other, cond.value];
  switch (cond.op || "==") {
    case ">": return x > y;
    case ">=": return x >= y;
    case "<": return x < y;
    case "<=": return x <= y;
    case "!=": return x != y;  // eslint-disable-line eqeqeq
    default: return x == y;  // eslint-disable-line eqeqeq
  }
}

class LabelView {
  constructor(root) {
    this.root = root;
    this.clips = new Map();      // segment id -> clip data from the server
    this.media = new Map();      // segment id -> {audio, img, feature, ready}
    this.current = null;         // the segment shown (null: waiting for the server's next)
    this.ahead = [];
    this.nav = null;
    this.seq = 0;
    this.outbox = [];
    this.skipped = new Set();
    this.mine = new Map();       // segment id -> the verdict given here (the strip shows it at once)
    this.answers = {};           // the form of the clip shown: question key -> value
    this.active = -1;
    this.after = null;
    this.wantTempo = null;
    this.early = "";             // digits typed while the clip's questionnaire was still loading
    this.polls = 0;
    this.pollTimer = null;
    this.shownErrors = new Set();
    this.autoplay = localStorage.getItem("haverford.autoplay") === "1";
    this.onKey = this.onKey.bind(this);
    document.addEventListener("keydown", this.onKey, true);
    // answers not yet confirmed by the server: the browser asks before the tab is closed or reloaded
    this.onLeave = (e) => { if (this.outbox.length) e.preventDefault(); };
    window.addEventListener("beforeunload", this.onLeave);
    this.build();
  }

  destroy() {
    document.removeEventListener("keydown", this.onKey, true);
    window.removeEventListener("beforeunload", this.onLeave);
    for (const m of this.media.values()) this.release(m);
  }

  // ---- layout ---------------------------------------------------------------------------------

  build() {
    this.root.replaceChildren();
    this.head = el("div", {class: "hv-head"});
    this.silentNote = el("div", {class: "hv-note"});
    this.prevBtn = this.button("Previous segment", "←", () => this.step(-1));
    this.nextBtn = this.button("Next segment", "→", () => this.step(1));
    this.featureRow = el("div", {class: "hv-row"});
    this.autoBox = el("input", {type: "checkbox", id: "hv-autoplay", onchange: () => {
      this.autoplay = this.autoBox.checked;
      localStorage.setItem("haverford.autoplay", this.autoplay ? "1" : "0");
      if (this.autoplay) this.play(false);
    }});
    this.autoBox.checked = this.autoplay;
    this.spec = el("div", {class: "hv-spec"});
    this.wave = el("canvas", {class: "hv-wave", width: 800, height: 140});
    this.xticks = el("div", {class: "hv-xticks"});
    this.scale = el("div", {class: "hv-scale"});
    this.player = el("div", {class: "hv-player"});
    this.strip = el("div", {class: "hv-strip", title: "Track strip: click a segment to open it"});
    this.scores = el("div", {class: "hv-strip hv-scores"});
    this.stripNote = el("div", {class: "hv-note"});
    this.form = el("div", {class: "hv-questions"});
    this.decision = el("div", {class: "hv-decision hv-missing"});
    this.verdictNote = el("div", {class: "hv-note"});
    this.toast = el("div", {class: "hv-toast", role: "status"});
    this.keymap = el("details", {open: true, id: "hv-keymap"}, el("summary", {text: "Keyboard"}),
      el("table", {}, ...KEYS.map(([k, v]) => el("tr", {}, el("td", {}, el("kbd", {text: k})), el("td", {text: v})))));
    const verdicts = el("div", {class: "hv-row"},
      this.button("Banger", "B", () => this.verdict("banger"), "hv-banger"),
      this.button("Not a banger", "N", () => this.verdict("not_a_banger"), "hv-not"),
      this.button("Ambiguous", "A", () => this.verdict("ambiguous"), "hv-ambiguous",
        "Neither clearly: counted as labelled, left out of training"),
      this.button("Skip", "S", () => this.skip()));
    const saveOnly = el("div", {class: "hv-row"}, this.button("Save answers without a verdict", null, () => this.verdict(null)));
    const track = el("details", {}, el("summary", {text: "Label the whole track at once (the seed labelled by track)"}),
      el("div", {class: "hv-note", text: "Stores the verdict for every segment of this track; earlier answers stay in the history."}),
      el("div", {class: "hv-row"},
        this.button("Whole track: banger", null, () => this.verdict("banger", true)),
        this.button("Whole track: not a banger", null, () => this.verdict("not_a_banger", true))));
    this.done = el("div", {class: "hv-done", hidden: true});
    this.body = el("div", {class: "hv-cols"},
      el("div", {class: "hv-clip"}, this.head, this.silentNote,
        el("div", {class: "hv-row"}, this.prevBtn, this.nextBtn,
           el("label", {}, this.autoBox, " Autoplay"), this.featureRow),
        this.specTitle = el("div", {class: "hv-note"}), this.spec, this.wave, this.xticks, this.scale, this.player,
        this.strip, this.scores, this.stripNote),
      el("div", {class: "hv-form"}, this.form, this.decision, this.verdictNote, verdicts, saveOnly, track, this.toast));
    this.root.append(this.done, this.body, this.keymap);
  }

  button(text, key, onClick, cls, title) {
    const b = el("button", {type: "button", class: cls, title,
      onmousedown: (e) => e.preventDefault(),  // a click never leaves the focus on a button: keys go on working
      onclick: (e) => { e.preventDefault(); onClick(); }}, text);
    if (key) b.append(el("kbd", {text: key}));
    return b;
  }

  // ---- the server's data ------------------------------------------------------------------------

  update(data) {
    this.data = data;
    const acked = new Set(data.acked || []);
    if (acked.size) this.outbox = this.outbox.filter((r) => !acked.has(r.id));
    for (const [id, message] of Object.entries(data.errors || {})) {
      if (!this.shownErrors.has(id)) { this.shownErrors.add(id); this.say(message, true); }
    }
    if (data.tempo_error && this.wantTempo !== null) this.say(data.tempo_error, true);
    this.seq = Math.max(this.seq, data.seq_base || 0);
    for (const c of data.clips || []) {
      this.clips.set(c.id, c);
      this.prepare(c);
    }
    const ids = (data.clips || []).map((c) => c.id);
    if (data.nav !== this.nav) {  // the server moved the view (page opened, a link, another queue)
      this.nav = data.nav;
      this.ahead = ids.slice(1);
      this.show(ids.length ? ids[0] : null, true);
    } else if (this.current === null && this.after !== null) {  // waiting for the clip after `after`
      if (data.seq_base >= this.seq) {  // the server has seen that move: its clips (or none) answer it
        this.after = null;
        this.ahead = ids.slice(1);
        this.show(ids.length ? ids[0] : null, true);
      }
    } else {
      const at = ids.indexOf(this.current);
      if (at >= 0) {
        this.ahead = ids.slice(at + 1).filter((id) => !this.skipped.has(id));
        if (at === 0) this.refresh();
      }
    }
    this.renderDecision();
    this.renderDone();
    if (!data.pending) this.polls = 0;
    if (this.saving && acked.has(this.saving.id)) {
      if (!(data.errors || {})[this.saving.id]) this.say(this.saving.done);
      this.saving = null;
    }
    if (data.pending && this.polls < MAX_POLLS) {
      clearTimeout(this.pollTimer);
      this.pollTimer = setTimeout(() => { this.polls += 1; this.send(); }, 400);
    }
  }

  renderDone() {
    const none = this.current === null && this.after === null && !(this.data.clips || []).length;
    this.done.hidden = !none;
    this.body.hidden = none;
    this.done.textContent = none ? (this.data.done || "Nothing to label here.") : "";
  }

  // ---- media: each clip's audio and picture fetched once, kept as in-memory blobs -------------

  // A clip's audio once; its picture again when another spectrogram is picked (the audio element,
  // perhaps playing, stays).
  prepare(c) {
    if (!c.audio || !c.picture) return null;
    let m = this.media.get(c.id);
    if (m && m.picture === c.picture) return m;
    if (!m) {
      m = {audio: el("audio", {controls: true, preload: "auto"})};
      m.audioReady = fetch(served(c.audio)).then((r) => r.blob()).then((b) => {
        m.audioUrl = URL.createObjectURL(b);
        m.audio.src = m.audioUrl;
      });
      this.media.set(c.id, m);
    }
    const img = el("img", {alt: "spectrogram"});
    const oldUrl = m.imgUrl;
    m.picture = c.picture;
    m.img = img;
    m.ready = Promise.all([m.audioReady, fetch(served(c.picture)).then((r) => r.blob()).then((b) => {
      if (oldUrl) URL.revokeObjectURL(oldUrl);
      m.imgUrl = URL.createObjectURL(b);
      img.src = m.imgUrl;
      return img.decode();
    })]).catch(() => { m.failed = true; });
    // keep the shown clip, the queue ahead and a few behind; let the browser free the rest
    const keep = new Set([this.current, ...this.ahead, ...(this.data ? this.data.clips.map((x) => x.id) : [])]);
    for (const [id, old] of this.media) {
      if (this.media.size <= 12) break;
      if (!keep.has(id)) { this.release(old); this.media.delete(id); }
    }
    return m;
  }

  release(m) {
    if (m.audioUrl) URL.revokeObjectURL(m.audioUrl);
    if (m.imgUrl) URL.revokeObjectURL(m.imgUrl);
    m.audio.pause();
  }

  // ---- showing a clip ----------------------------------------------------------------------------

  show(id, resetForm) {
    const was = this.current;
    const old = was !== null && this.media.get(was);
    if (old) old.audio.pause();
    this.current = id;
    this.root.dataset.segment = id === null ? "" : String(id);
    this.showInUrl(id);
    if (resetForm || was !== id) {
      this.answers = {};
      this.active = -1;
      const c = this.clips.get(id);
      if (c) for (const [k, v] of Object.entries(c.saved || {})) this.answers[k] = v;
    }
    this.refresh(true);
  }

  // The URL names the clip shown at once (the server's runs set it too, a step behind), so a reload
  // right after a verdict opens the next clip, not the one just labelled.
  showInUrl(id) {
    const url = new URL(window.location.href);
    if (id === null) url.searchParams.delete("segment"); else url.searchParams.set("segment", String(id));
    if (url.href !== window.location.href) window.history.replaceState(window.history.state, "", url.href);
  }

  refresh(full) {
    const c = this.clips.get(this.current);
    this.renderDone();
    if (!c) {
      this.head.textContent = this.current === null ? "Finding the next segment…" : "Loading the clip…";
      this.spec.replaceChildren(el("div", {class: "hv-wait", text: "Loading…"}));
      this.player.replaceChildren();
      this.form.replaceChildren();
      this.rows = [];
      this.formFor = null;
      return;
    }
    this.head.replaceChildren(`${c.title} · segment ${c.idx + 1} of ${c.n_segments} · ${Math.round(c.start_s)}–${Math.round(c.end_s)} s`);
    if (c.silent) this.head.append(el("span", {class: "hv-badge", text: "silent"}));
    this.silentNote.textContent = c.silent ? "Silent: its level is below the silence threshold, so it is not offered for labelling and is left out of training, scoring and evaluation. Its spectrogram sits at the −80 dB floor (black)." : "";
    this.prevBtn.disabled = c.prev_id === null;
    this.nextBtn.disabled = c.next_id === null;
    this.renderFeatures();
    this.renderStrip(c);
    const m = this.media.get(c.id);
    if (full || !m || this.spec.dataset.segment !== String(c.id) || this.spec.firstChild !== m.img) this.renderMedia(c, full);
    if (full || this.formFor !== c.id) {  // a clip shown before its data came has no form yet
      if (!full) {
        this.answers = {...(c.saved || {})};
        this.active = -1;
      }
      this.renderForm(c);
      if (this.early) this.replayEarly();
    } else {
      this.renderTempo(c);
    }
    const mine = c.saved && this.data.verdict_key ? c.saved[this.data.verdict_key] : null;
    this.verdictNote.textContent = mine ? `Your verdict so far: ${this.data.verdict_names[mine] || mine}. Answering again keeps the old one in history.` : "";
  }

  renderFeatures() {
    const d = this.data;
    this.featureRow.replaceChildren("Spectrogram:", ...Object.entries(d.features).map(([k, name]) => {
      const b = this.button(name, null, () => { if (d.feature !== k) { d.feature = k; this.send({feature: k}); } });
      if (k === d.feature) b.classList.add("hv-on");
      return b;
    }));
  }

  renderMedia(c, shown) {
    this.spec.dataset.segment = String(c.id);
    if (c.error) {
      this.spec.replaceChildren(el("div", {class: "hv-wait", text: c.error}));
      this.player.replaceChildren();
      return;
    }
    const m = this.prepare(c) || this.media.get(c.id);
    if (!m) {
      this.spec.replaceChildren(el("div", {class: "hv-wait", text: "Loading…"}));
      return;
    }
    const ticks = (c.freq_ticks || []).map(([f, label]) => el("span", {class: "hv-ytick", style: `bottom:${100 * f}%`, text: label}));
    this.spec.replaceChildren(m.img, el("span", {class: "hv-yname", text: "Hz"}), ...ticks);
    this.specTitle.textContent = c.title_feature || "";
    if (this.player.firstChild !== m.audio) this.player.replaceChildren(m.audio);  // never re-inserted: that pauses it
    this.drawWave(c);
    const span = c.t1 - c.t0;
    const xs = [];
    for (let s = Math.ceil(c.t0); s < c.t1 - 0.25; s += 1) xs.push(el("span", {style: `left:${(100 * (s - c.t0)) / span}%`, text: `${s} s`}));
    this.xticks.replaceChildren(...xs);
    this.scale.replaceChildren("−80 dB (silence)", el("div", {class: "hv-bar", style: `background:${this.data.scale_css}`}), "0 dB");
    if (this.autoplay && shown) m.ready.then(() => { if (this.current === c.id) this.play(false); });
  }

  drawWave(c) {
    const ctx = this.wave.getContext("2d");
    const [lo, hi] = c.env || [[], []];
    const w = this.wave.width, h = this.wave.height;
    ctx.clearRect(0, 0, w, h);
    ctx.fillStyle = "rgba(68,68,68,0.6)";
    const n = hi.length;
    for (let i = 0; i < n; i += 1) {
      const top = h / 2 - (hi[i] / 100) * (h / 2), bottom = h / 2 - (lo[i] / 100) * (h / 2);
      ctx.fillRect((i * w) / n, top, Math.max(1, w / n), Math.max(1, bottom - top));
    }
  }

  renderStrip(c) {
    const cells = (this.data.strips || {})[c.track_id] || [];
    const colours = this.data.colours;
    this.strip.replaceChildren(...cells.map((cell) => {
      const mine = this.mine.get(cell.id);
      const state = mine || cell.state;
      const name = named(this.data.verdict_names, state) || "unlabelled";
      return el("div", {class: cell.id === c.id ? "hv-here" : null, "data-segment": cell.id,
        style: `background:${named(colours, state) || colours.None}`,
        title: `${Math.round(cell.start_s)} s: ${name}${mine ? " (yours, just now)" : ""}`,
        onclick: () => this.go(cell.id)});
    }));
    const scored = cells.some((cell) => cell.p !== null && cell.p !== undefined);
    this.scores.hidden = !scored;
    if (scored) {
      this.scores.replaceChildren(...cells.map((cell) => el("div", {
        style: `background:${cell.p === null ? "#fff" : scoreColour(cell.p)}`,
        title: cell.p === null ? "no score" : `P(banger) ${cell.p.toFixed(2)}`, onclick: () => this.go(cell.id)})));
    }
    this.stripNote.textContent = "Track strip: each cell is a 5-second segment, coloured by the labellers' verdict (red banger, blue not a banger, orange ambiguous, purple disagreement, light grey unlabelled, dark grey silent: too quiet to judge, never offered for labelling)" + (scored ? "; below it the model's P(banger), blue 0 to red 1" : "") + "; click one to open it.";
  }

  // ---- the questionnaire --------------------------------------------------------------------------

  renderForm(c) {
    this.formFor = c.id;
    this.rows = this.data.questions.map((q) => this.question(q, c));
    this.form.replaceChildren(...this.rows.map((r) => r.node));
    this.syncAsked();
  }

  question(q, c) {
    const row = {q, node: el("div", {class: `hv-q st-key-hvq_${q.key}`, "data-key": q.key})};
    const id = `hv-q-${q.key}`;
    row.node.append(el("label", {for: id, text: q.text}));
    if (q.help) row.node.append(el("div", {class: "hv-help", text: q.help}));
    const o = q.options || {};
    const value = this.answers[q.key];
    if (q.kind === "number" || q.kind === "count" || q.kind === "text") {
      const number = q.kind !== "text";
      const input = el("input", {id, type: "text", class: number ? null : "hv-text", "aria-label": q.text,
        inputmode: number ? (q.kind === "count" ? "numeric" : "decimal") : null, autocomplete: "off",
        placeholder: number ? `a number${o.min !== undefined ? `, ${o.min}–${o.max}` : ""}` : "", maxlength: number ? 12 : 500});
      input.value = value === null || value === undefined ? "" : String(value);
      input.addEventListener("input", () => this.typed(row, input));
      input.addEventListener("focus", () => { this.active = this.visible().indexOf(row); this.mark(); });
      row.input = input;
      row.node.append(input);
      if (o.suggest === "tempo") {
        row.tempo = el("div", {class: "hv-row"});
        row.node.append(row.tempo);
        this.renderTempo(c, row);
      }
    } else {
      const options = q.kind === "yes_no" ? [[1, "yes"], [0, "no"]]
        : q.kind === "rating" ? Array.from({length: (o.max ?? 10) - (o.min ?? 1) + 1}, (_, i) => [(o.min ?? 1) + i, String((o.min ?? 1) + i)])
          : (o.choices || []).map((x) => [x, String(x)]);
      row.choices = options.map(([v, label]) => {
        const b = this.button(label, null, () => { this.choose(row, v, true); });
        b.dataset.value = String(v);
        return b;
      });
      row.node.append(el("div", {class: "hv-choices"}, ...row.choices));
      this.paintChoices(row);
    }
    return row;
  }

  paintChoices(row) {
    const v = this.answers[row.q.key];
    for (const b of row.choices) b.classList.toggle("hv-on", v !== undefined && v !== null && String(v) === b.dataset.value);
  }

  choose(row, value, clicked) {
    const same = String(this.answers[row.q.key]) === String(value);
    this.answers[row.q.key] = clicked && same ? null : value;  // a second click clears the choice
    this.paintChoices(row);
    this.changed();
  }

  typed(row, input) {
    const text = input.value.trim().replace(",", ".");
    const q = row.q;
    if (q.kind === "text") {
      this.answers[q.key] = text || null;
    } else {
      const o = q.options || {};
      const n = Number(text);
      const bad = text !== "" && (!Number.isFinite(n) || (q.kind === "count" && !Number.isInteger(n))
        || (o.min !== undefined && n < o.min) || (o.max !== undefined && n > o.max));
      input.classList.toggle("hv-bad", bad);
      input.title = bad ? `a ${q.kind === "count" ? "whole number" : "number"} from ${o.min} to ${o.max}` : "";
      this.answers[q.key] = text === "" || bad ? null : n;
    }
    this.changed();
  }

  renderTempo(c, row) {
    row = row || (this.rows || []).find((r) => r.tempo);
    if (!row || !row.tempo) return;
    const bpm = c.tempo;
    if (bpm === "none") {
      row.tempo.replaceChildren(el("span", {class: "hv-help", text: "No tempo could be estimated from the audio."}));
      return;
    }
    const label = typeof bpm === "number" ? `Use suggested ${Math.round(bpm)} BPM (librosa's estimate)` : "Suggest the tempo (librosa's estimate)";
    row.tempo.replaceChildren(this.button(label, "T", () => this.useTempo()));
    if (typeof bpm === "number" && this.wantTempo === c.id) { this.wantTempo = null; this.useTempo(); }
  }

  useTempo() {
    const c = this.clips.get(this.current);
    const row = (this.rows || []).find((r) => r.tempo);
    if (!c || !row) return;
    if (typeof c.tempo === "number") {
      row.input.value = String(row.q.kind === "count" || (row.q.options || {}).step === 1 ? Math.round(c.tempo) : c.tempo);
      this.typed(row, row.input);
    } else if (c.tempo !== "none") {
      this.wantTempo = c.id;
      this.say("Estimating the tempo…");
      this.send({want_tempo: c.id});
    }
  }

  visible() {
    return (this.rows || []).filter((r) => !r.node.hidden);
  }

  syncAsked() {
    for (const r of this.rows || []) {
      const asked = isAsked(r.q, this.answers);
      r.node.hidden = !asked;
    }
    this.mark();
  }

  mark() {
    const vis = this.visible();
    for (const r of this.rows || []) r.node.classList.toggle("hv-active", vis[this.active] === r);
  }

  activate(i) {
    const vis = this.visible();
    this.active = i >= 0 && i < vis.length ? i : -1;
    this.mark();
    const row = vis[this.active];
    if (row && row.input) {
      row.input.focus();
      row.input.select();
    } else if (document.activeElement && this.root.contains(document.activeElement)) {
      document.activeElement.blur();
    }
  }

  changed() {
    this.syncAsked();
    clearTimeout(this.draftTimer);
    this.draftTimer = setTimeout(() => this.send(), 150);  // the live verdict of Haverford's algorithm
    this.decision.classList.add("hv-stale");
  }

  asked() {  // the answers to save: the questions asked, blanks left out
    const out = {};
    for (const r of this.rows || []) {
      const v = this.answers[r.q.key];
      if (!r.node.hidden && v !== null && v !== undefined && v !== "") out[r.q.key] = v;
    }
    return out;
  }

  renderDecision() {
    const d = this.data.decision;
    if (d && d.segment === this.current) {
      this.decision.textContent = d.text;
      this.decision.classList.toggle("hv-missing", !d.verdict);
    } else {
      this.decision.textContent = "Haverford's algorithm needs your answers.";
      this.decision.classList.add("hv-missing");
    }
    this.decision.classList.remove("hv-stale");
  }

  // ---- moving on ----------------------------------------------------------------------------------

  verdict(v, wholeTrack) {
    if (this.current === null || !this.clips.get(this.current)) { this.say("The next clip is still loading: nothing was saved.", true); return; }
    const bad = wholeTrack ? null : this.visible().find((r) => r.input && r.input.classList.contains("hv-bad"));
    if (bad) {  // never save the form without what the labeller typed
      this.say(`"${bad.input.value}" is not an answer to "${bad.q.text}" (${bad.input.title}): fix it or clear it, then save.`, true);
      this.activate(this.visible().indexOf(bad));
      return;
    }
    const answers = wholeTrack ? {} : this.asked();
    if (!v && !Object.keys(answers).length) { this.say("Nothing to save: answer at least one question.", true); return; }
    this.outbox.push({id: uid(), segment: this.current, answers, verdict: v, whole_track: !!wholeTrack});
    if (v) this.mine.set(this.current, v);
    const name = v ? this.data.verdict_names[v] : "no verdict";
    const what = wholeTrack ? `the whole track (${name})` : `(${name})`;
    this.saving = {id: this.outbox[this.outbox.length - 1].id, done: `Saved ${what}.`};
    this.say(`Saving ${what}…`);
    this.advance();
  }

  skip() {
    if (this.current === null) { this.say("The next clip is still loading.", true); return; }
    this.skipped.add(this.current);
    this.say("Skipped: it leaves the queue until you reload.");
    this.advance();
  }

  advance() {
    const from = this.current;
    let next = null;
    while (this.ahead.length && next === null) {
      const id = this.ahead.shift();
      if (!this.skipped.has(id) && !this.outbox.some((r) => r.segment === id)) next = id;
    }
    this.seq += 1;
    this.early = "";
    this.after = next === null ? from : null;
    this.show(next, true);
    this.sendAfterPaint();
  }

  // Tell the server after the next clip is painted: Streamlit's handling of a state value runs
  // in the same task, and the labeller should not wait for it.
  sendAfterPaint() {
    requestAnimationFrame(() => setTimeout(() => this.send(), 0));
  }

  go(id) {
    if (id === null || id === undefined || id === this.current) return;
    this.seq += 1;
    this.early = "";
    this.ahead = [];
    this.after = null;
    this.show(id, true);
    this.sendAfterPaint();
  }

  step(delta) {
    const c = this.clips.get(this.current);
    if (c) this.go(delta < 0 ? c.prev_id : c.next_id);
  }

  play(restart) {
    const m = this.media.get(this.current);
    if (!m) return;
    if (restart) m.audio.currentTime = 0;
    if (restart || m.audio.paused) m.audio.play().catch(() => {}); else m.audio.pause();
  }

  say(text, error) {
    this.toast.replaceChildren(el("span", {class: error ? "hv-error" : "hv-ok", text}));
  }

  send(extra = {}) {
    clearTimeout(this.pollTimer);
    this.setState("client", {
      seq: this.seq, at: this.current, after: this.after, outbox: this.outbox, skipped: [...this.skipped],
      draft: {segment: this.current, answers: this.asked()}, feature: extra.feature || this.data.feature,
      want_tempo: extra.want_tempo ?? null, poll: this.polls,
    });
  }

  // ---- keys ---------------------------------------------------------------------------------------

  onKey(e) {
    if (!this.root.isConnected || this.body.hidden && e.key !== "Escape") return;
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const target = e.target;
    const typing = target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.isContentEditable);
    if (typing && !this.root.contains(target)) return;  // the sidebar's name box and the like
    const key = e.key.length === 1 ? e.key.toLowerCase() : e.key;
    const take = () => { e.preventDefault(); e.stopPropagation(); };
    const vis = this.visible();
    const row = vis[this.active];
    if (typing) {
      const text = target.classList.contains("hv-text");
      if (key === "Enter" || key === "Tab" || (key === "q" && !text)) {
        take();
        this.activate(this.active + (e.shiftKey ? -1 : 1));
        return;
      }
      if (key === "Escape") { take(); target.blur(); this.activate(-1); return; }
      if (text || /^[0-9.,-]$/.test(key) || key.length > 1) return;  // typing, editing keys
      if (key === " ") { take(); this.play(false); return; }
      take();  // a letter in a number box does nothing: a typo must not save a verdict
      this.say("Numbers only in this box: Enter or Esc leaves it, then B / N / A give the verdict.", true);
      return;
    }
    if (key === " ") { take(); this.play(false); return; }
    if (key === "r") { take(); this.play(true); return; }
    if (key === "ArrowLeft" || key === "ArrowRight") { take(); this.step(key === "ArrowLeft" ? -1 : 1); return; }
    if (key === "Escape") { take(); this.activate(-1); return; }
    if (key === "Tab" || key === "Enter" || key === "q") {
      if (key === "Enter" && target && target.tagName === "BUTTON" && !this.root.contains(target)) return;
      take();
      // Shift+Tab with no question outlined goes to the last one
      this.activate(this.active < 0 && e.shiftKey ? vis.length - 1 : this.active + (e.shiftKey ? -1 : 1));
      return;
    }
    if (row && row.choices && (key === "y" || key === "n" || /^[0-9]$/.test(key))) {
      const value = this.choiceFor(row, key);
      if (value !== undefined) {
        take();
        this.choose(row, value, false);
        // a rating or choice moves on; a yes/no stays outlined, so a second Y or N changes the
        // answer instead of giving the verdict N (not a banger): Tab, Enter or Esc moves on
        if (row.q.kind !== "yes_no") this.activate(this.active + 1);
        return;
      }
    }
    if (/^[0-9]$/.test(key) && !this.formReady()) {  // kept, and typed into the questionnaire once it is built
      take();
      this.early += key;
      return;
    }
    if (/^[0-9]$/.test(key) && vis.length) {
      const into = row && row.input ? row : (!row ? vis[0] : null);
      if (into && into.input) {
        take();
        this.activate(vis.indexOf(into));
        into.input.value = key;
        this.typed(into, into.input);
        return;
      }
      if (!row && vis[0].choices) {
        this.activate(0);
        const value = this.choiceFor(vis[0], key);
        if (value !== undefined) { take(); this.choose(vis[0], value, false); if (vis[0].q.kind !== "yes_no") this.activate(1); }
        return;
      }
    }
    if (key === "b") { take(); this.verdict("banger"); return; }
    if (key === "n") { take(); this.verdict("not_a_banger"); return; }
    if (key === "a") { take(); this.verdict("ambiguous"); return; }
    if (key === "s") { take(); this.skip(); return; }
    if (key === "t") { take(); this.useTempo(); }
  }

  formReady() {
    return this.current !== null && this.formFor === this.current;
  }

  // The digits typed before the questionnaire of the clip shown was built (a labeller ahead of the
  // queue types the tempo while the clip loads), as if typed now.
  replayEarly() {
    const keys = this.early;
    this.early = "";
    for (const key of keys) {
      const target = document.activeElement;
      const row = (this.rows || []).find((r) => r.input && r.input === target);
      if (row) {
        target.value += key;
        this.typed(row, target);
      } else {
        this.onKey({key, target, shiftKey: false, ctrlKey: false, metaKey: false, altKey: false,
                    preventDefault() {}, stopPropagation() {}});
      }
    }
  }

  choiceFor(row, key) {
    const values = row.choices.map((b) => b.dataset.value);
    const pick = (v) => row.q.kind === "choice" ? v : Number(v);
    if (row.q.kind === "yes_no") {
      if (key === "y" || key === "1") return 1;
      if (key === "n" || key === "0") return 0;
      return undefined;
    }
    if (row.q.kind === "rating") {
      const wanted = key === "0" && !values.includes("0") ? "10" : key;
      return values.includes(wanted) ? pick(wanted) : undefined;
    }
    if (/^[1-9]$/.test(key) && Number(key) <= values.length) return pick(values[Number(key) - 1]);
    return undefined;
  }
}

export default function (component) {
  const {data, setStateValue, parentElement} = component;
  const root = parentElement.querySelector(".hv-label") || parentElement;
  let view = root.__haverfordLabel;
  if (!view) {
    view = root.__haverfordLabel = new LabelView(root);
    root.id = "hv-label";
    window.__haverfordKeys = true;  // for tests and the bench: the keys are live
  }
  view.setState = setStateValue;
  view.update(data);
  return () => { view.destroy(); root.__haverfordLabel = null; };
}
