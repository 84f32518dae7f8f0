/* Dashboard charts (vendored Chart.js 4.6.1) and small enhancements. The pages work without it:
   every chart has a text alternative, and the as-of form has a submit button. */
(function () {
  "use strict";
  var css = getComputedStyle(document.documentElement);
  function v(name, fallback) { return (css.getPropertyValue(name) || "").trim() || fallback; }
  var COLOURS = {
    achieved: v("--done", "#1b5e7f"), complete: "#3f8fb5", on_track: v("--ok", "#1b7f3b"),
    at_risk: v("--warn", "#a05a00"), off_track: v("--bad", "#b3261e"), missed: "#7a1a14",
    overdue: "#d9534f", not_started: "#9aa3b2", no_data: "#c4c9d2", cancelled: "#e1e4ea"
  };
  var lang = document.documentElement.lang || undefined;
  var monthFmt = new Intl.DateTimeFormat(lang, { month: "short", year: "2-digit", timeZone: "UTC" });
  var dayFmt = new Intl.DateTimeFormat(lang, { year: "numeric", month: "short", day: "numeric", timeZone: "UTC" });
  var numFmt = new Intl.NumberFormat(lang, { maximumFractionDigits: 2 });
  // Axis ticks in the units the reader counts in: 35万 and 193亿 in Chinese (as the server writes figures).
  var tickFmt = /^zh/i.test(lang || "") ? new Intl.NumberFormat(lang, { notation: "compact", maximumFractionDigits: 2 }) : numFmt;
  var PAD = 10 * 86400000; // ten days either side of the baseline and target dates
  function ts(iso) { return Date.parse(iso + "T00:00:00Z"); }
  function data(el) { return JSON.parse(document.getElementById(el.dataset.source).textContent); }

  function trendChart(canvas) {
    var d = data(canvas);
    return new Chart(canvas, {
      type: "bar",
      data: {
        labels: d.labels.map(function (l) { return monthFmt.format(ts(l)); }),
        datasets: d.series.map(function (s) {
          return { label: s.label, data: s.data, backgroundColor: COLOURS[s.status] || "#888", borderColor: "#fff", borderWidth: 1 };
        })
      },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } }, tooltip: { mode: "index" } },
        scales: { x: { stacked: true, title: { display: true, text: d.text.x } },
                  y: { stacked: true, beginAtZero: true, ticks: { precision: 0 }, title: { display: true, text: d.text.y } } }
      }
    });
  }

  function kpiChart(canvas) {
    var d = data(canvas), t = d.text, compact = d.compact;
    var pt = function (p) { return { x: ts(p.x), y: p.y }; };
    var datasets = [];
    if (d.band.length) {
      datasets.push({ label: t.band, data: d.band.map(function (b) { return { x: ts(b.x), y: b.high }; }),
        borderWidth: 0, pointRadius: 0, backgroundColor: "rgba(31,95,191,.14)", fill: "+1", order: 5 });
      datasets.push({ label: "_band_low", data: d.band.map(function (b) { return { x: ts(b.x), y: b.low }; }),
        borderWidth: 0, pointRadius: 0, fill: false, order: 5 });
    }
    datasets.push({ label: t.trajectory, data: d.trajectory.map(pt), borderColor: "#6b7280", borderDash: [6, 4],
      borderWidth: 1.5, pointRadius: 0, fill: false, order: 3 });
    if (d.planned && d.planned.length) {
      datasets.push({ label: t.planned, data: d.planned.map(pt), borderColor: "#7c3aed", borderDash: [8, 3, 2, 3],
        borderWidth: 1.5, pointRadius: compact ? 0 : 3, pointStyle: "triangle", fill: false, order: 3 });
    }
    datasets.push({ label: t.target, data: [{ x: ts(d.baseline.x), y: d.target.y }, pt(d.target)], borderColor: v("--ok", "#1b7f3b"),
      borderWidth: 1.5, pointRadius: [0, compact ? 3 : 5], pointStyle: "rectRot", fill: false, order: 2 });
    if (d.forecast.length) {
      datasets.push({ label: t.forecast, data: d.forecast.map(pt), borderColor: v("--accent", "#1f5fbf"), borderDash: [2, 3],
        borderWidth: 2, pointRadius: d.forecast.map(function (_, i, a) { return i === a.length - 1 ? (compact ? 3 : 5) : 0; }),
        fill: false, order: 1 });
    }
    datasets.push({ label: t.measurements, data: d.measurements.map(pt), borderColor: "#102a4c", backgroundColor: "#102a4c",
      borderWidth: 2, pointRadius: compact ? 2.5 : 4, fill: false, order: 0 });
    datasets.push({ label: t.baseline, data: [pt(d.baseline)], borderColor: "#102a4c", backgroundColor: "#fff",
      pointRadius: compact ? 3 : 6, pointBorderWidth: 2, showLine: false, order: 0 });
    return new Chart(canvas, {
      type: "line",
      data: { datasets: datasets },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false, parsing: true,
        interaction: { mode: "nearest", intersect: false },
        plugins: {
          legend: { display: !compact, position: "bottom",
            labels: { boxWidth: 14, filter: function (item) { return item.text.charAt(0) !== "_"; } } },
          tooltip: { filter: function (item) { return item.dataset.label.charAt(0) !== "_"; },
            callbacks: { title: function (items) { return items.length ? dayFmt.format(items[0].parsed.x) : ""; },
                         label: function (item) { return item.dataset.label + ": " + numFmt.format(item.parsed.y) + " " + d.unit; } } }
        },
        scales: {
          x: { type: "linear", min: ts(d.baseline.x) - PAD, max: ts(d.target.x) + PAD, ticks: { maxTicksLimit: compact ? 4 : 8, callback: function (value) { return monthFmt.format(value); } } },
          y: { ticks: { maxTicksLimit: compact ? 4 : 8, callback: function (value) { return tickFmt.format(value); } },
               title: { display: !compact, text: d.unit } }
        }
      }
    });
  }

  function drawIn(root) {
    if (typeof Chart === "undefined") { return; }
    Chart.defaults.font.family = getComputedStyle(document.body).fontFamily; // the page's (Chinese) font stack
    root.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      if (canvas.chart) { return; }
      canvas.chart = canvas.dataset.chart === "trend" ? trendChart(canvas) : kpiChart(canvas);
    });
  }

  // The dashboard's heavy panels (plans.views.dashboard.dashboard_panel) arrive after the page: each placeholder
  // holds a link to the panel's own page, replaced by the panel once fetched. A failed fetch, or a redirect to
  // sign in, leaves the link.
  function loadPanel(placeholder) {
    return fetch(placeholder.dataset.panelSrc, {
      credentials: "same-origin", headers: { Accept: "text/html", "X-Dashboard-Panel": "1" }
    })
      .then(function (response) {
        if (!response.ok || response.redirected) { throw new Error(response.status); }
        return response.text();
      })
      .then(function (html) {
        var holder = document.createElement("div");
        holder.innerHTML = html;
        var panel = holder.firstElementChild;
        if (!panel) { return; }
        placeholder.replaceWith(panel);
        drawIn(panel);
      })
      .catch(function () { placeholder.removeAttribute("aria-busy"); });
  }

  function draw() {
    drawIn(document);
    var placeholders = Array.prototype.slice.call(document.querySelectorAll("[data-panel-src]"));
    placeholders.forEach(function (p) { p.setAttribute("aria-busy", "true"); });
    Promise.all(placeholders.map(loadPanel)).then(function () {
      document.documentElement.dataset.chartsReady = "true";
    });
  }

  // The as-of selector on drill-down pages submits on change; the button stays for keyboards and no-JS.
  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });
  // A table row's "Why?" panel holds a link to the item's page; opening it fetches the explanation in its place
  // (plans.views.dashboard.why_fragment). A failed fetch, or a redirect to sign in, leaves the link.
  document.addEventListener("toggle", function (event) {
    var panel = event.target;
    if (!panel.open || !panel.dataset || !panel.dataset.whySrc || panel.dataset.whyState) { return; }
    var body = panel.querySelector(".why-content") || panel.querySelector(".why-body");
    panel.dataset.whyState = "loading";
    body.setAttribute("aria-busy", "true");
    fetch(panel.dataset.whySrc, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        if (!response.ok || response.redirected) { throw new Error(response.status); }
        return response.text();
      })
      .then(function (html) { body.innerHTML = html; panel.dataset.whyState = "loaded"; })
      .catch(function () { delete panel.dataset.whyState; })
      .then(function () { body.removeAttribute("aria-busy"); });
  }, true);
  // "Why?" drawers: one open at a time; its close button and Escape close it and give the focus back to its summary.
  var printing = false;
  function closeDrawer(panel) {
    panel.open = false;
    panel.querySelector("summary").focus();
  }
  document.addEventListener("toggle", function (event) {
    var panel = event.target;
    if (printing || !panel.open || !panel.classList || !panel.classList.contains("why-drawer")) { return; }
    document.querySelectorAll("details.why-drawer[open]").forEach(function (other) {
      if (other !== panel) { other.open = false; }
    });
  }, true);
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest(".why-close");
    if (button) { closeDrawer(button.closest("details")); }
  });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") { return; }
    var panel = document.querySelector("details.why-drawer[open]");
    if (panel) { closeDrawer(panel); }
  });
  // Print the open "Why?" panels; restore afterwards.
  var opened = [];
  window.addEventListener("beforeprint", function () {
    printing = true;
    document.querySelectorAll(".area-card details.why:not([open]), .plan-status details.why:not([open]), .status-card details.why:not([open])").forEach(function (d) { d.open = true; opened.push(d); });
  });
  window.addEventListener("afterprint", function () {
    opened.forEach(function (d) { d.open = false; });
    opened = [];
    printing = false;
  });

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", draw); } else { draw(); }
})();
