// Keyboard-complete labelling on the Label page (installed once per browser tab).
// Questions are the containers keyed "hvq_" + the question key in page order; one of them at a time is
// "active" (outlined). Buttons with Streamlit's own shortcut= (B, N, A, S, T, arrows) are left
// to Streamlit: this script only takes the keys below, and only while the key map is on the page.
(() => {
  if (window.__haverfordKeys) return;
  window.__haverfordKeys = true;
  const doc = document;
  let active = -1;
  let segment = null;
  let moving = false;  // between Enter in a number box and the next box taking the focus

  const keymap = () => doc.getElementById("hv-keymap");
  const questions = () => Array.from(doc.querySelectorAll("[class*='st-key-hvq_']"));
  const player = () => doc.querySelector("audio");
  const typing = (el) => !!el && (el.tagName === "INPUT" || el.tagName === "TEXTAREA" || el.isContentEditable);
  const field = (q) => q && q.querySelector("input, textarea");

  // A new clip: start again from no question. Called before a key is handled too, not only
  // from the redraw's animation frame: a key pressed before that frame would otherwise choose a
  // question that the frame then forgets.
  function sync() {
    const map = keymap();
    if (map && map.dataset.segment !== segment) {
      segment = map.dataset.segment;
      active = -1;
      typed.clear();
    }
  }

  function mark() {
    sync();
    const qs = questions();
    qs.forEach((q, i) => q.classList.toggle("hv-active", i === active));
    const pending = qs[active] && !field(qs[active]) && choices(qs[active]).length && typed.get(boxName(qs[active]));
    if (pending) {  // a key pressed before this choice was drawn
      typed.delete(boxName(qs[active]));
      if (choose(qs[active], pending.slice(-1))) activate(active + 1);
      return;
    }
    keepFocus();
  }

  // What was typed into each number box of this clip (question container's class → text),
  // including keys pressed before the box was drawn. A redraw can also replace a box with an
  // empty one before Enter commits it; the text is put back when the box takes the focus, with
  // the next key or on Enter, so a number typed is never silently dropped.
  const typed = new Map();
  const boxName = (el) => {
    const q = el && el.closest && el.closest("[class*='st-key-hvq_']");
    return q ? Array.from(q.classList).find((c) => c.startsWith("st-key-hvq_")) : null;
  };
  const valueSetter = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, "value").set;

  // Put back the text typed into ``el`` if a redraw emptied it (a box the labeller emptied is
  // recorded as empty, and stays so); true when it did.
  function restoreTyped(el) {
    const text = typed.get(boxName(el));
    if (el.tagName !== "INPUT" || el.value !== "" || !text) return false;
    valueSetter.call(el, text);
    el.dispatchEvent(new Event("input", {bubbles: true}));
    return true;
  }

  // A rerun's redraw can take the focus from the chosen number box (it leaves it on the page's
  // body); give it back once the rerun is over, so typing goes on where it was.
  function keepFocus() {
    if (moving || active < 0) return;
    const el = doc.activeElement;
    if (el && el !== doc.body) return;
    if (doc.querySelector("[data-testid='stStatusWidget']")) return;
    const input = field(questions()[active]);
    if (input) {
      input.focus();
      restoreTyped(input);
    }
  }

  function activate(i) {
    sync();
    const qs = questions();
    active = i >= 0 && i < qs.length ? i : -1;
    mark();
    const input = field(qs[active]);
    if (input) {
      input.focus();
      if (input.select) input.select();
    } else if (doc.activeElement && doc.activeElement !== doc.body) {
      doc.activeElement.blur();
    }
  }

  // After the rerun (Streamlit's status widget gone), at most a minute: on a busy server a rerun
  // can take longer than ten seconds, and a focus given before it ends is taken by its redraw.
  function whenIdle(fn, waited = 0) {
    const busy = doc.querySelector("[data-testid='stStatusWidget']");
    if ((busy || waited < 150) && waited < 60000) setTimeout(() => whenIdle(fn, waited + 50), 50);
    else fn();
  }

  // Leave a number box for question ``next``. Streamlit commits the number on Enter or blur; the
  // next box gets the focus once the rerun is over: a number typed while the rerun redraws the
  // form was shown but never sent.
  function leave(el, next) {
    moving = true;
    setTimeout(() => { el.blur(); whenIdle(() => { moving = false; activate(next); }); }, 0);
  }

  // The choices of a yes/no, rating or choice question: the buttons of its segmented control,
  // never another button in its container (the BPM box's tempo suggestion).
  const choices = (q) => Array.from(q.querySelectorAll("[data-testid='stButtonGroup'] button"));

  function choose(q, key) {
    const buttons = choices(q);
    const names = buttons.map((b) => b.innerText.trim().toLowerCase());
    let index = -1;
    if (key === "y") index = names.indexOf("yes");
    else if (key === "n") index = names.indexOf("no");
    else if (/^[0-9]$/.test(key)) {
      index = names.indexOf(key === "0" && !names.includes("0") ? "10" : key);
      if (index < 0 && names.includes("yes")) index = names.indexOf(key === "1" ? "yes" : key === "0" ? "no" : "");
      if (index < 0 && key !== "0") index = Number(key) - 1 < buttons.length ? Number(key) - 1 : -1;
    }
    if (index < 0) return false;
    const button = buttons[index];
    // a segmented control deselects an option clicked twice: click only a change
    if (!/Active/.test(button.getAttribute("data-testid") || "")) button.click();
    return true;
  }

  function togglePlay(restart) {
    const audio = player();
    if (!audio) return;
    if (restart) audio.currentTime = 0;
    if (restart || audio.paused) audio.play(); else audio.pause();
  }

  function onKey(e) {
    if (!keymap() || e.ctrlKey || e.metaKey || e.altKey) return;
    const el = doc.activeElement;
    const qs = questions();
    const key = e.key.length === 1 ? e.key.toLowerCase() : e.key;
    const take = () => { e.preventDefault(); e.stopImmediatePropagation(); };
    sync();
    if (typing(el)) {
      if (!el.closest("[class*='st-key-hvq_']")) return;  // the sidebar's name box and the like
      if (key === "Enter" || key === "Tab") {  // Streamlit commits the number on Enter or blur
        // a restored number is committed by the blur in ``leave``, not by this key
        if (key === "Tab" || restoreTyped(el)) take();
        leave(el, active + (e.shiftKey ? -1 : 1));
      } else if (/^[0-9.,-]$/.test(key)) {
        restoreTyped(el);  // typing goes on after what a redraw took away
      } else if (key === "Escape") {
        take();
        el.blur();
        activate(-1);
      }
      return;
    }
    if (key === " ") { take(); togglePlay(false); return; }
    if (key === "r") { take(); togglePlay(true); return; }
    if (key === "Escape") { take(); activate(-1); return; }
    if (key === "Tab" || key === "Enter" || key === "q") {
      if (key === "Enter" && el && el.tagName === "BUTTON") return;
      take();
      const next = active + (e.shiftKey ? -1 : 1);
      const box = field(qs[active]);
      if (box && box.tagName === "INPUT" && typed.get(boxName(box))) {
        box.focus();  // a redraw took the box's focus before Enter: commit what was typed
        restoreTyped(box);
        leave(box, next);
      } else {
        activate(next);
      }
      return;
    }
    const q = qs[active];
    if (!q && /^[0-9]$/.test(key) && qs.length) {  // a digit with no question chosen: start at the first
      activate(0);
      if (field(qs[0])) {
        typed.delete(boxName(qs[0]));  // the digit replaces the box's text (``activate`` selected it)
        return;  // the digit goes into the number box just focused
      }
    }
    const current = qs[active];
    if (current && !field(current) && !choices(current).length && /^[0-9.,yn-]$/.test(key)) {
      // The question's widget is not drawn yet (the first page loads its code on first use):
      // keep the key (it must not reach the N shortcut either). A number box gets the keys when
      // it appears (``keepFocus``) or with the next key; a choice takes the last (``mark``).
      take();
      typed.set(boxName(current), (typed.get(boxName(current)) || "") + key);
      return;
    }
    if (current && field(current) && /^[0-9.,-]$/.test(key)) {
      field(current).focus();  // a rerun redrew the box and took its focus: the key goes in again
      restoreTyped(field(current));
      return;
    }
    if (current && !field(current) && choose(current, key)) {
      take();
      activate(active + 1);
    }
  }

  window.__haverfordKeyState = () => ({active, segment});  // for tests and debugging
  window.addEventListener("keydown", onKey, true);
  doc.addEventListener("input", (e) => {
    const name = e.isTrusted && boxName(e.target);
    if (name) typed.set(name, e.target.value);
  }, true);
  // A clicked button (queue, previous/next, a verdict) must not keep the focus: keys go on working.
  doc.addEventListener("click", (e) => {
    if (keymap() && e.target.closest && e.target.closest("button")) setTimeout(() => {
      if (doc.activeElement && doc.activeElement.tagName === "BUTTON") doc.activeElement.blur();
    }, 0);
  }, true);
  new MutationObserver(() => requestAnimationFrame(mark)).observe(doc.body, {childList: true, subtree: true});
})();
