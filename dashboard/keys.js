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

  function mark() {
    const map = keymap();
    if (map && map.dataset.segment !== segment) {  // a new clip: start again from no question
      segment = map.dataset.segment;
      active = -1;
    }
    questions().forEach((q, i) => q.classList.toggle("hv-active", i === active));
    keepFocus();
  }

  // A rerun's redraw can take the focus from the chosen number box (it leaves it on the page's
  // body); give it back once the rerun is over, so typing goes on where it was.
  function keepFocus() {
    if (moving || active < 0) return;
    const el = doc.activeElement;
    if (el && el !== doc.body) return;
    if (doc.querySelector("[data-testid='stStatusWidget']")) return;
    const input = field(questions()[active]);
    if (input) input.focus();
  }

  function activate(i) {
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

  function choose(q, key) {
    const buttons = Array.from(q.querySelectorAll("button"));
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
    if (typing(el)) {
      if (!el.closest("[class*='st-key-hvq_']")) return;  // the sidebar's name box and the like
      if (key === "Enter" || key === "Tab") {  // Streamlit commits the number on Enter or blur
        const next = active + (e.shiftKey ? -1 : 1);
        if (key === "Tab") take();
        // The next box gets the focus once the rerun is over: a number typed while the rerun
        // redraws the form was shown but never sent.
        moving = true;
        setTimeout(() => { el.blur(); whenIdle(() => { moving = false; activate(next); }); }, 0);
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
      activate(active + (e.shiftKey ? -1 : 1));
      return;
    }
    const q = qs[active];
    if (!q && /^[0-9]$/.test(key) && qs.length) {  // a digit with no question chosen: start at the first
      activate(0);
      if (field(qs[0])) return;  // the digit goes into the number box just focused
    }
    const current = qs[active];
    if (current && field(current) && /^[0-9.,-]$/.test(key)) {
      field(current).focus();  // a rerun redrew the box and took its focus: the key goes in again
      return;
    }
    if (current && !field(current) && choose(current, key)) {
      take();
      activate(active + 1);
    }
  }

  window.__haverfordKeyState = () => ({active, segment});  // for tests and debugging
  window.addEventListener("keydown", onKey, true);
  // A clicked button (queue, previous/next, a verdict) must not keep the focus: keys go on working.
  doc.addEventListener("click", (e) => {
    if (keymap() && e.target.closest && e.target.closest("button")) setTimeout(() => {
      if (doc.activeElement && doc.activeElement.tagName === "BUTTON") doc.activeElement.blur();
    }, 0);
  }, true);
  new MutationObserver(() => requestAnimationFrame(mark)).observe(doc.body, {childList: true, subtree: true});
})();
