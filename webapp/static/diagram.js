// Draws a deployed BPMN diagram with bpmn-js (the NavigatedViewer, served locally) and marks it up:
//  instance mode: done / current / overdue steps, how many times each ran, mean time, time left;
//  heatmap mode: per step count, mean, p90 and overdue rate, coloured by mean duration.
// The view: on load the whole flow fits its container (the container's height follows the flow's shape and
// the window); on a work order whose flow is too wide to read fitted, the current step(s) are centred at
// life size instead. The toolbar (.diagram-tools, [data-diagram-action]) zooms in / out, fits and centres the
// current step; drag pans, the wheel zooms about the pointer, and on the focused canvas arrows pan, + / -
// zoom and 0 fits. A window resize re-applies the view unless the user zoomed or panned.
// data-view on the container: "fit", "focus" (current step centred) or "user".
(function () {
  "use strict";
  const container = document.getElementById("diagram");
  if (!container || !window.BpmnJS) { return; }
  const data = JSON.parse(document.getElementById("overlay-data").textContent || "{}");
  const zh = (document.documentElement.lang || "zh").indexOf("zh") === 0;
  const heatmap = container.dataset.mode === "heatmap";
  const PAD = 24, PAD_BOTTOM = 48;  // px kept free around a fitted flow; the bottom one keeps the bpmn.io mark clear
  const READABLE = 0.5;        // below this zoom the labels cannot be read: centre the current step instead
  const FOCUS_ZOOM = 1;        // the zoom of a centred current step
  const MIN_HEIGHT = 240, MAX_SHARE = 0.75;  // container height: at least this, at most this share of the window
  const STEP = 1.25, MAX_ZOOM = 4, MIN_ZOOM = 0.2, PAN = 60;
  const tools = document.querySelector(".diagram-tools[aria-controls='" + container.id + "']");
  const zoomLabel = document.getElementById("diagram-zoom");
  const note = document.getElementById("diagram-note");  // "too wide: centred on the current step", if chosen for the user

  function text(value) { const span = document.createElement("span"); span.textContent = value; return span.innerHTML; }
  function duration(seconds) {
    if (seconds === null || seconds === undefined) { return "—"; }
    const s = Math.abs(seconds), d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
    if (s < 60) { return zh ? "不足1分钟" : "under a minute"; }
    if (zh) { return (d ? d + "天" : "") + (h ? h + "小时" : "") + ((m || (!d && !h)) ? m + "分" : ""); }
    return [d ? d + " d" : "", h ? h + " h" : "", (m || (!d && !h)) ? m + " min" : ""].filter(Boolean).join(" ");
  }

  function decorate(canvas, overlays, registry) {
    Object.keys(data).forEach(function (id) {
      if (!registry.get(id)) { return; }
      const node = data[id];
      let html;
      if (heatmap) {
        canvas.addMarker(id, "eoms-heat-" + node.heat);
        const rate = node.overdue_rate === null ? "—" : (node.overdue_rate * 100).toFixed(0) + "%";
        html = "<div class='eoms-badge eoms-badge-heat'>" + node.count + " · " + text(duration(node.mean_seconds)) +
               " · P90 " + text(duration(node.p90_seconds)) + " · " + rate + "</div>";
      } else {
        canvas.addMarker(id, "eoms-" + node.state);
        let label = "×" + node.runs;
        if (node.mean_seconds) { label += " · " + duration(node.mean_seconds); }
        (node.open || []).forEach(function (open) {
          if (open.seconds_left !== null) {
            label += open.seconds_left < 0 ? (zh ? " · 超时 " : " · overdue ") + duration(open.seconds_left)
                                            : (zh ? " · 剩余 " : " · left ") + duration(open.seconds_left);
          }
        });
        html = "<div class='eoms-badge eoms-badge-" + node.state + "'>" + text(label) + "</div>";
      }
      // heatmap badges sit above the box, instance badges just below it: neither covers the step's name
      const position = heatmap ? { top: 0, left: 0 } : { bottom: -4, left: 0 };
      overlays.add(id, { position: position, html: html });
    });
  }

  function navigate(viewer) {
    const canvas = viewer.get("canvas"), registry = viewer.get("elementRegistry");
    const current = heatmap ? [] : Object.keys(data).filter(function (id) {
      return registry.get(id) && ["current", "overdue"].indexOf(data[id].state) >= 0;
    }).map(function (id) { return registry.get(id); });
    const holder = canvas.getContainer();  // bpmn-js's own box inside #diagram (its border excluded)
    let view = "fit", applying = false, frame = 0;

    // what is drawn, in diagram units: the shapes, lines and labels, and the HTML badges (they scale with it)
    function content() {
      const box = canvas.viewbox(), outer = holder.getBoundingClientRect();
      let x1 = box.inner.x, y1 = box.inner.y, x2 = x1 + box.inner.width, y2 = y1 + box.inner.height;
      container.querySelectorAll(".djs-overlay").forEach(function (el) {
        const r = el.getBoundingClientRect();
        if (!r.width && !r.height) { return; }
        const left = box.x + (r.left - outer.left) / box.scale, top = box.y + (r.top - outer.top) / box.scale;
        x1 = Math.min(x1, left); y1 = Math.min(y1, top);
        x2 = Math.max(x2, left + r.width / box.scale); y2 = Math.max(y2, top + r.height / box.scale);
      });
      return { x: x1, y: y1, width: Math.max(x2 - x1, 1), height: Math.max(y2 - y1, 1) };
    }
    function scaleFor(box) {
      return Math.min(FOCUS_ZOOM, (holder.clientWidth - 2 * PAD) / box.width,
                      (holder.clientHeight - PAD - PAD_BOTTOM) / box.height);
    }
    function union(elements) {
      const x1 = Math.min.apply(null, elements.map(function (e) { return e.x; }));
      const y1 = Math.min.apply(null, elements.map(function (e) { return e.y; }));
      const x2 = Math.max.apply(null, elements.map(function (e) { return e.x + e.width; }));
      const y2 = Math.max.apply(null, elements.map(function (e) { return e.y + e.height; }));
      return { x: x1, y: y1, width: x2 - x1, height: y2 - y1 };
    }
    // the container's height for ``mode`` without wasted space, within [MIN_HEIGHT, MAX_SHARE of the window]
    function size(mode) {
      const box = content(), border = container.offsetHeight - holder.clientHeight;
      const zoom = mode === "focus" ? FOCUS_ZOOM : Math.min(FOCUS_ZOOM, (holder.clientWidth - 2 * PAD) / box.width);
      const most = Math.max(MIN_HEIGHT, Math.round(window.innerHeight * MAX_SHARE));
      const wanted = box.height * zoom + PAD + PAD_BOTTOM + border;
      container.style.height = Math.round(Math.min(most, Math.max(MIN_HEIGHT, wanted))) + "px";
      canvas.resized();
    }
    function show(centre, scale) {
      const width = holder.clientWidth / scale, height = holder.clientHeight / scale;
      applying = true;
      try { canvas.viewbox({ x: centre.x - width / 2, y: centre.y - height / 2, width: width, height: height }); }
      finally { applying = false; }
    }
    function setView(mode) {
      view = mode;
      container.dataset.view = mode;
      if (note && mode !== "focus") { note.hidden = true; }
    }
    function fit() {
      const box = content(), scale = scaleFor(box);
      show({ x: box.x + box.width / 2, y: box.y + box.height / 2 + (PAD_BOTTOM - PAD) / 2 / scale }, scale);
      setView("fit");
    }
    function focus() {
      if (!current.length) { fit(); return; }
      const box = union(current);  // several open steps (parallel branches): all of them, at most life size
      show({ x: box.x + box.width / 2, y: box.y + box.height / 2 }, Math.max(scaleFor(box), scaleFor(content())));
      setView("focus");
    }
    function apply(mode) {
      size(mode);
      (mode === "focus" ? focus : fit)();
    }
    function zoomBy(factor, point) {
      const lowest = Math.min(MIN_ZOOM, scaleFor(content()));
      const target = Math.min(MAX_ZOOM, Math.max(lowest, canvas.zoom() * factor));
      applying = true;
      try { canvas.zoom(target, point || { x: holder.clientWidth / 2, y: holder.clientHeight / 2 }); }
      finally { applying = false; }
      setView("user");
    }
    function act(action) {
      if (action === "zoom-in") { zoomBy(STEP); }
      else if (action === "zoom-out") { zoomBy(1 / STEP); }
      else if (action === "fit") { apply("fit"); }
      else if (action === "focus") { apply("focus"); }
    }
    function relayout() {
      frame = 0;
      if (view === "user") { canvas.resized(); } else { apply(view); }
    }
    function schedule() { if (!frame) { frame = window.requestAnimationFrame(relayout); } }

    // any change of the view that is not ours (a drag, a pinch, the keyboard) makes it the user's
    viewer.get("eventBus").on("canvas.viewbox.changing", function () { if (!applying) { setView("user"); } });
    viewer.get("eventBus").on("canvas.viewbox.changed", function (event) {
      if (zoomLabel) { zoomLabel.textContent = Math.round(event.viewbox.scale * 100) + "%"; }
    });
    // the plain wheel zooms about the pointer (bpmn-js would scroll); ctrl + wheel and pinch stay bpmn-js's
    // zoom, a sideways swipe its pan
    container.addEventListener("wheel", function (event) {
      const sideways = Math.abs(event.deltaX) > Math.abs(event.deltaY);
      if (event.ctrlKey || event.metaKey || event.shiftKey || sideways) { return; }
      event.preventDefault();
      event.stopPropagation();
      const r = holder.getBoundingClientRect(), delta = event.deltaY * (event.deltaMode === 1 ? 33 : 1);
      zoomBy(Math.pow(1.0015, -delta), { x: event.clientX - r.left, y: event.clientY - r.top });
    }, { capture: true, passive: false });
    viewer.get("keyboard").addListener(function (context) {
      const event = context.keyEvent;
      if (event.ctrlKey || event.metaKey || event.altKey) { return false; }
      const moves = { ArrowLeft: [PAN, 0], ArrowRight: [-PAN, 0], ArrowUp: [0, PAN], ArrowDown: [0, -PAN] };
      if (moves[event.key]) { canvas.scroll({ dx: moves[event.key][0], dy: moves[event.key][1] }); return true; }
      if (event.key === "+" || event.key === "=") { act("zoom-in"); return true; }
      if (event.key === "-" || event.key === "_") { act("zoom-out"); return true; }
      if (event.key === "0") { act("fit"); return true; }
      return false;
    });
    if (tools) {
      tools.querySelectorAll("button[data-diagram-action]").forEach(function (button) {
        const action = button.dataset.diagramAction;
        button.disabled = action === "focus" && !current.length;
        button.addEventListener("click", function () { act(action); });
      });
    }
    if (window.ResizeObserver) { new window.ResizeObserver(schedule).observe(container); }
    window.addEventListener("resize", schedule);

    // the first view: the whole flow, unless it is too wide to read that way and a step is open
    size("fit");
    const fitted = scaleFor(content());
    apply(!heatmap && current.length && fitted < READABLE ? "focus" : "fit");
    if (note && view === "focus") { note.hidden = false; }
  }

  const viewer = new window.BpmnJS({ container: container });
  fetch(container.dataset.diagramUrl, { credentials: "same-origin" })
    .then(function (response) {
      if (!response.ok) { throw new Error("HTTP " + response.status); }
      return response.text();
    })
    .then(function (xml) { return viewer.importXML(xml); })
    .then(function () {
      decorate(viewer.get("canvas"), viewer.get("overlays"), viewer.get("elementRegistry"));
      navigate(viewer);
      container.dataset.ready = "true";
    })
    .catch(function (error) {
      container.textContent = (zh ? "流程图加载失败：" : "The diagram could not be shown: ") + error.message;
      container.dataset.ready = "error";
    });
})();
