// New work arrives: the count beside 个人门户 and in the tab title, a toast naming the step, and — when the user
// turned them on under 提醒 — a short beep and a desktop notification. The page asks /notify/inbox every
// data-poll-seconds while the tab is visible (also while hidden when desktop notifications are on); asking is not
// activity for the idle logout. No inline script: texts come from the JSON block #notify-text.
(function () {
  "use strict";

  const badge = document.getElementById("notify-badge");
  const textBlock = document.getElementById("notify-text");
  if (!badge || !textBlock) { return; }
  const text = JSON.parse(textBlock.textContent);
  const every = Math.max(0, Number(badge.dataset.pollSeconds) || 0) * 1000;
  const toasts = document.getElementById("notify-toasts");
  const menu = document.getElementById("notify-menu");
  const soundBox = document.getElementById("notify-sound");
  const desktopBox = document.getElementById("notify-desktop");
  const note = document.getElementById("notify-note");
  const baseTitle = document.title.replace(/^\(\d+\+?\)\s*/, "");
  const SHOWN = 3; // toasts per answer; more are summed up in one
  const LIFETIME = 20000;

  // -- storage that may be switched off (private windows, policies): then the choice lasts for this page ----
  function storage(kind) { try { return window[kind]; } catch (e) { return null; } }
  function read(kind, key) { try { const s = storage(kind); return s ? s.getItem(key) : null; } catch (e) { return null; } }
  function write(kind, key, value) { try { const s = storage(kind); if (s) { s.setItem(key, value); } } catch (e) { /* kept in memory */ } }
  const SOUND = "eoms.notify.sound", DESKTOP = "eoms.notify.desktop", SEEN = "eoms.notify.seen." + badge.dataset.user;

  const canNotify = "Notification" in window;
  const prefs = {
    sound: read("localStorage", SOUND) === "1",
    desktop: read("localStorage", DESKTOP) === "1" && canNotify && Notification.permission === "granted",
  };

  // -- the count: badge, its tooltip, the tab title ------------------------------------------------------------
  let count = badge.dataset.count === "" ? null : Number(badge.dataset.count);
  function show(n) {
    if (count !== null && n > count) { // a little bump when it grows
      badge.classList.remove("notify-bump");
      void badge.offsetWidth;
      badge.classList.add("notify-bump");
    }
    count = n;
    badge.textContent = n > 99 ? "99+" : String(n);
    badge.hidden = !(n > 0);
    badge.title = text.badge.replace("__N__", String(n));
    document.title = n > 0 ? "(" + n + ") " + baseTitle : baseTitle;
  }
  if (count !== null) { show(count); }

  // -- the marker: tasks with a higher id are new. A page loaded between two polls starts from what this tab
  // last saw, so work that arrived meanwhile is still announced once. -----------------------------------------
  const onPage = badge.dataset.latest === "" ? null : Number(badge.dataset.latest);
  const remembered = read("sessionStorage", SEEN);
  const stored = remembered === null ? NaN : Number(remembered);
  let since = Number.isInteger(stored) && stored >= 0 ? stored : onPage;

  // -- a toast per new task (the newest first), closed by ×, Escape or after a while ------------------------
  function describe(task) {
    return [task.node_name, task.business_key, task.customer].filter(Boolean).join(" · ");
  }
  function toast(message, href) {
    const box = document.createElement("div");
    box.className = "notify-toast";
    const link = document.createElement("a");
    link.href = href;
    link.textContent = message;
    const close = document.createElement("button");
    close.type = "button";
    close.className = "notify-close";
    close.setAttribute("aria-label", text.close);
    close.title = text.close;
    close.textContent = "×";
    close.addEventListener("click", function () { box.remove(); });
    box.append(link, close);
    toasts.append(box);
    let held = false;
    box.addEventListener("mouseenter", function () { held = true; });
    box.addEventListener("mouseleave", function () { held = false; });
    box.addEventListener("focusin", function () { held = true; });
    box.addEventListener("focusout", function () { held = false; });
    setTimeout(function expire() {
      if (held) { setTimeout(expire, 2000); } else { box.remove(); }
    }, LIFETIME);
    while (toasts.children.length > SHOWN + 2) { toasts.firstElementChild.remove(); }
  }
  toasts.addEventListener("keydown", function (event) {
    const box = event.target.closest(".notify-toast");
    if (event.key === "Escape" && box) { box.remove(); }
  });

  // -- sound: a short two-tone beep made with the Web Audio API (no audio file) ------------------------------
  let audio = null;
  function beep() {
    const Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) { return; }
    try {
      audio = audio || new Context();
      if (audio.state === "suspended") { audio.resume().catch(function () {}); }
      const t = audio.currentTime, tone = audio.createOscillator(), gain = audio.createGain();
      tone.type = "sine";
      tone.frequency.setValueAtTime(880, t);
      tone.frequency.setValueAtTime(1320, t + 0.12);
      gain.gain.setValueAtTime(0.0001, t);
      gain.gain.exponentialRampToValueAtTime(0.25, t + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, t + 0.3);
      tone.connect(gain);
      gain.connect(audio.destination);
      tone.start(t);
      tone.stop(t + 0.32);
    } catch (e) { /* no sound on this machine */ }
  }
  // browsers start audio only after a gesture on the page: the first click or key wakes it up
  function unlock() { if (prefs.sound && audio && audio.state === "suspended") { audio.resume().catch(function () {}); } }
  document.addEventListener("pointerdown", unlock, { passive: true });
  document.addEventListener("keydown", unlock);

  // -- desktop notification (asked for only when the user turns it on) --------------------------------------
  function desktop(tasks) {
    if (!canNotify || Notification.permission !== "granted") { return; }
    const first = tasks[0];
    try {
      const notice = new Notification(text.title, {
        body: tasks.slice(0, SHOWN).map(describe).join("\n"), tag: "eoms-task-" + first.id,
      });
      notice.onclick = function () {
        window.focus();
        window.location.href = tasks.length > 1 ? text.portal : first.url;
        notice.close();
      };
    } catch (e) { /* some browsers allow notifications only from a service worker */ }
  }

  function announce(tasks) {
    tasks.slice(0, SHOWN).forEach(function (task) { toast(text.toast.replace("__TASK__", describe(task)), task.url); });
    if (tasks.length > SHOWN) { toast(text.more, text.portal); }
    if (prefs.sound) { beep(); }
    if (prefs.desktop) { desktop(tasks); }
  }

  // -- polling: one request at a time, paused while the tab is hidden, once more when it shows again --------
  let timer = null, busy = false, stopped = false, failures = 0;
  function allowed() { return !stopped && every > 0 && (document.visibilityState !== "hidden" || prefs.desktop); }
  function schedule(delay) {
    clearTimeout(timer);
    timer = allowed() ? setTimeout(poll, delay) : null;
  }
  function take(answer) {
    const before = count;
    const arrived = Array.isArray(answer.new) ? answer.new : [];
    since = Math.max(Number(answer.latest) || 0, since || 0);
    write("sessionStorage", SEEN, String(since));
    show(Number(answer.count) || 0);
    if (count !== before) { // for other scripts of the page (a list that wants to refresh itself)
      document.dispatchEvent(new CustomEvent("eoms:inbox", { detail: { count: count, arrived: arrived } }));
    }
    if (arrived.length) {
      announce(arrived);
    } else if (before !== null && count > before) { // handed over (转派) or given back: not new, but more to do
      toast(text.grew.replace("__N__", String(count)), text.portal);
      if (prefs.sound) { beep(); }
    }
  }
  function poll() {
    timer = null;
    if (busy || stopped) { return; }
    busy = true;
    const url = badge.dataset.url + (since !== null ? "?since=" + encodeURIComponent(since) : "");
    fetch(url, { credentials: "same-origin", redirect: "manual", cache: "no-store", headers: { Accept: "application/json" } })
      .then(function (response) {
        // logged out (idle or elsewhere): stop asking; the idle countdown or the next click shows the login
        if (response.type === "opaqueredirect" || response.status === 401 || response.status === 403) {
          stopped = true;
          return null;
        }
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (answer) { failures = 0; if (answer) { take(answer); } })
      .catch(function () { failures += 1; })
      .then(function () {
        busy = false;
        schedule(failures ? Math.min(every * Math.pow(2, failures), 300000) : every);
      });
  }
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") {
      if (!prefs.desktop) { clearTimeout(timer); timer = null; }
    } else {
      clearTimeout(timer);
      poll();
    }
  });

  // -- 提醒: the two switches, remembered in this browser -------------------------------------------------
  function say(message) { note.textContent = message || ""; note.hidden = !message; }
  soundBox.checked = prefs.sound;
  desktopBox.checked = prefs.desktop;
  if (!canNotify) { desktopBox.disabled = true; say(text.unsupported); }
  soundBox.addEventListener("change", function () {
    prefs.sound = soundBox.checked;
    write("localStorage", SOUND, prefs.sound ? "1" : "0");
    if (prefs.sound) { beep(); } // what it sounds like; the click also lets the page play sound later
  });
  function setDesktop(on, message) {
    prefs.desktop = on;
    desktopBox.checked = on;
    write("localStorage", DESKTOP, on ? "1" : "0");
    say(message);
  }
  desktopBox.addEventListener("change", function () {
    if (!desktopBox.checked) { setDesktop(false); return; }
    if (!canNotify) { setDesktop(false, text.unsupported); return; }
    if (Notification.permission === "granted") { setDesktop(true); return; }
    if (Notification.permission === "denied") { setDesktop(false, text.denied); return; }
    desktopBox.disabled = true; // one question at a time, however often it is clicked
    Promise.resolve(Notification.requestPermission()).then(function (answer) {
      if (answer === "granted") { setDesktop(true); } else { setDesktop(false, answer === "denied" ? text.denied : ""); }
    }).catch(function () { setDesktop(false, text.denied); }).then(function () { desktopBox.disabled = false; });
  });
  window.addEventListener("storage", function (event) { // the switches changed in another tab
    if (event.key === SOUND) { prefs.sound = soundBox.checked = event.newValue === "1"; }
    if (event.key === DESKTOP) {
      prefs.desktop = desktopBox.checked = event.newValue === "1" && canNotify && Notification.permission === "granted";
    }
  });
  document.addEventListener("click", function (event) {
    if (menu.open && !menu.contains(event.target)) { menu.open = false; }
  });
  menu.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && menu.open) { menu.open = false; menu.querySelector("summary").focus(); }
  });
  menu.hidden = false;

  // a page that starts from an older marker than its own asks at once, else after the usual pause
  schedule(since === null || since !== onPage ? 0 : every);
})();
