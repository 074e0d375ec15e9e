// The fixed parts of the run report page: its stylesheet and the script that draws the
// metric charts from the JSON embedded in the page (id "report-data"). Both are inline in
// every page; neither names anything outside it.
#include "runtime/report/report_html.h"

namespace amlflow::runtime {

const char* report_stylesheet() {
    return R"CSS(
:root {
  --fg: #1f2328; --muted: #656d76; --line: #d0d7de; --soft: #f6f8fa; --bg: #ffffff;
  --succeeded: #1a7f37; --failed: #cf222e; --running: #0969da; --cached: #8250df;
  --canceled: #bf8700; --pending: #8c959f;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color: var(--fg); background: var(--bg);
}
* { box-sizing: border-box; }
body { margin: 0; font-size: 14px; line-height: 1.45; }
main { max-width: 1220px; margin: 0 auto; padding: 24px 28px 40px; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono", monospace; font-size: 12.5px; }
h1 { font-size: 24px; margin: 2px 0 14px; font-weight: 600; display: flex; align-items: center; gap: 12px; }
h2 { font-size: 17px; margin: 0 0 12px; font-weight: 600; }
h3 { font-size: 14px; margin: 14px 0 8px; font-weight: 600; }
section { border-top: 1px solid var(--line); padding: 18px 0 10px; }
.brand { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .08em; }
.facts { display: flex; flex-wrap: wrap; gap: 6px 28px; margin: 0; }
.facts dt { color: var(--muted); font-size: 12px; }
.facts dd { margin: 0; font-weight: 500; }
nav { display: flex; gap: 18px; margin: 14px 0 4px; font-size: 13px; }
nav a { color: var(--running); text-decoration: none; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
thead th { color: var(--muted); font-weight: 500; font-size: 12px; background: var(--soft); }
table.params { width: auto; } table.params th { font-weight: 500; }
td.name { font-weight: 600; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
code.path { color: var(--muted); word-break: break-all; }
.chip { background: var(--soft); border: 1px solid var(--line); border-radius: 4px; padding: 1px 6px; }
.note { color: var(--muted); }
.badge { display: inline-block; border-radius: 999px; padding: 1px 9px; font-size: 12px; font-weight: 600;
  color: #fff; background: var(--pending); vertical-align: middle; white-space: nowrap; }
.badge.state-succeeded { background: var(--succeeded); } .badge.state-failed { background: var(--failed); }
.badge.state-running { background: var(--running); } .badge.state-cached { background: var(--cached); }
.badge.state-canceled, .badge.state-stopped-early { background: var(--canceled); }
.count { background: var(--failed); color: #fff; border-radius: 999px; font-size: 12px; padding: 0 8px; }
.scroll { overflow-x: auto; }
/* plan graph */
.graph-node rect { fill: #fff; stroke: var(--pending); stroke-width: 1.5; }
.graph-input rect { fill: var(--soft); stroke: var(--line); stroke-dasharray: 4 3; }
.graph-step.state-succeeded rect { stroke: var(--succeeded); fill: #eef8f0; }
.graph-step.state-failed rect { stroke: var(--failed); fill: #fdf0f0; }
.graph-step.state-running rect { stroke: var(--running); fill: #eef5fd; }
.graph-step.state-cached rect { stroke: var(--cached); fill: #f5f0fd; }
.graph-step.state-canceled rect, .graph-step.state-stopped-early rect { stroke: var(--canceled); fill: #fdf7e6; }
.graph-step rect { stroke-width: 2; }
.graph-kind { font-size: 11px; fill: var(--muted); }
.graph-name { font-size: 13.5px; font-weight: 600; fill: var(--fg); }
.graph-edge { fill: none; stroke: #6e7781; stroke-width: 1.5; }
.graph-edge.edge-after { stroke-dasharray: 5 4; }
.graph-edge.edge-source, .graph-edge.edge-environment { stroke: #afb8c1; }
.arrow-head { fill: #6e7781; }
.legend { color: var(--muted); font-size: 12px; }
.key { display: inline-block; width: 22px; height: 0; border-top: 2px solid #6e7781; margin: 0 4px 3px 10px; }
.dot { display: inline-block; width: 10px; height: 10px; border-radius: 3px; margin: 0 4px -1px 10px; background: var(--pending); }
.dot.state-succeeded { background: var(--succeeded); } .dot.state-failed { background: var(--failed); }
.dot.state-stopped { background: var(--canceled); } .dot.state-running { background: var(--running); }
.dot.state-cached { background: var(--cached); }
.legend .cross { color: var(--failed); font-weight: 700; margin: 0 4px 0 10px; }
.key.edge-after { border-top-style: dashed; } .key.edge-input { border-top-color: #afb8c1; }
/* timeline */
.timeline { font-size: 12px; }
.timeline-band { fill: var(--soft); }
.timeline-grid { stroke: #e6e9ed; }
.timeline-tick { fill: var(--muted); font-size: 11px; text-anchor: middle; }
.timeline-label { fill: var(--fg); }
.timeline-label.step { font-weight: 600; font-size: 13px; }
.timeline-label.attempt { fill: #424a53; }
.timeline-label.rank { fill: var(--muted); font-size: 11px; }
.timeline-label.root { fill: var(--failed); font-weight: 600; }
.timeline-note { fill: var(--muted); font-size: 12px; }
.timeline rect.state-succeeded, .timeline path.state-succeeded { fill: var(--succeeded); }
.timeline rect.state-failed { fill: var(--failed); } .timeline rect.state-running { fill: var(--running); }
.timeline rect.state-canceled, .timeline rect.state-stopped, .timeline rect.state-stopped-early { fill: var(--canceled); } .timeline .state-cached { fill: var(--cached); }
.timeline rect.state-pending, .timeline rect.state-skipped { fill: var(--pending); }
.timeline-rank { opacity: .75; }
.timeline-failure { stroke: var(--failed); stroke-width: 2.2; stroke-linecap: round; }
/* metrics */
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(540px, 1fr)); gap: 16px; }
.chart { border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px 6px; }
.chart h3 { margin: 0 0 4px; } .chart h3 .step { color: var(--muted); font-weight: 500; }
.chart svg { width: 100%; height: auto; display: block; }
.chart .axis { stroke: #afb8c1; } .chart .grid { stroke: #eef0f2; }
.chart .tick { fill: var(--muted); font-size: 10.5px; }
.chart .series { fill: none; stroke-width: 1.8; stroke-linejoin: round; }
.chart .series.earlier { stroke-dasharray: 5 3; stroke-width: 1.4; }
.chart .nan-mark { fill: var(--failed); }
.chart .series-legend { display: flex; flex-wrap: wrap; gap: 4px 14px; font-size: 12px; color: var(--muted); }
.chart .swatch { display: inline-block; width: 14px; height: 3px; margin-right: 5px; vertical-align: middle; }
.chart .nan-count { color: var(--failed); }
.chart .series.best { stroke-width: 3.2; }
.chart .series-legend .best { color: var(--fg); font-weight: 600; }
.chart .trial-note { color: var(--muted); }
.chart .from, td .from { color: var(--cached); font-size: 12px; }
/* steps, sweeps */
tr.trial-row td { background: #fbfcfd; }
tr.trial-row td.name { padding-left: 28px; font-weight: 500; }
tr.trial-row td.name::before { content: "\21b3\00a0"; color: var(--muted); }
.chip.best { white-space: nowrap; background: #fff8c5; border-color: #d4a72c; color: #7d4e00; font-size: 11px; font-weight: 600; }
td .checks { color: var(--muted); font-size: 12px; margin-top: 2px; }
table.trials { width: auto; min-width: 50%; } table.trials tr.best td { background: #fffbe6; }
.sweep h3 q { font-weight: 600; }
.cache-note { background: #f5f0fd; border: 1px solid #d8c8f5; border-radius: 6px; padding: 8px 12px; margin: 12px 0 0; }
/* failures */
.failure { border: 1px solid #ffcecb; background: #fffafa; border-radius: 8px; padding: 4px 16px 12px; margin: 0 0 14px; }
.failure .message { font-weight: 600; color: var(--failed); margin: 4px 0 10px; }
.log-tail { background: #f6f8fa; border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px;
  margin: 12px 0 0; overflow-x: auto; white-space: pre; max-height: 360px; }
footer { color: var(--muted); font-size: 12px; border-top: 1px solid var(--line); padding-top: 12px; margin-top: 12px; }
)CSS";
}

const char* report_script() {
    return R"JS(
(function () {
  "use strict";
  // The SVG namespace, taken from the parser rather than written out, so the page holds
  // no URL text at all.
  var probe = document.createElement("div");
  probe.innerHTML = "<svg></svg>";
  var NS = probe.firstChild.namespaceURI;
  var COLOURS = ["#0969da", "#cf222e", "#1a7f37", "#8250df", "#bf8700", "#1b7c83", "#d1247f", "#57606a"];

  function el(name, attrs, parent) {
    var node = document.createElementNS(NS, name);
    for (var key in attrs) node.setAttribute(key, attrs[key]);
    if (parent) parent.appendChild(node);
    return node;
  }
  function html(name, cls, parent, text) {
    var node = document.createElement(name);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    if (parent) parent.appendChild(node);
    return node;
  }
  // About `count` round tick values covering [lo, hi], at least `least` apart.
  function ticks(lo, hi, count, least) {
    if (!(hi > lo)) return [lo];
    var raw = (hi - lo) / count, mag = Math.pow(10, Math.floor(Math.log10(raw)));
    var step = [1, 2, 5, 10].map(function (m) { return m * mag; }).find(function (s) { return s >= raw; });
    step = Math.max(step, least || 0);
    var out = [];
    for (var v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(+v.toPrecision(12));
    return out;
  }
  function label(v) {
    var a = Math.abs(v);
    if (a !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential(1);
    return String(+v.toPrecision(4));
  }
  function bounds(series) {
    var b = { x0: Infinity, x1: -Infinity, y0: Infinity, y1: -Infinity };
    series.forEach(function (s) {
      s.points.forEach(function (p) {
        b.x0 = Math.min(b.x0, p[0]); b.x1 = Math.max(b.x1, p[0]);
        if (p[1] !== null) { b.y0 = Math.min(b.y0, p[1]); b.y1 = Math.max(b.y1, p[1]); }
      });
    });
    if (!isFinite(b.x0)) { b.x0 = 0; b.x1 = 1; }
    if (!isFinite(b.y0)) { b.y0 = 0; b.y1 = 1; }
    if (b.x1 === b.x0) { b.x0 -= 1; b.x1 += 1; }
    if (b.y1 === b.y0) { var d = Math.abs(b.y0) * 0.1 || 1; b.y0 -= d; b.y1 += d; }
    var pad = (b.y1 - b.y0) * 0.06;  // keep the extremes off the frame
    b.y0 -= pad; b.y1 += pad;
    return b;
  }
  // One path per series; a NaN breaks the line and gets a mark on the top edge.
  function drawSeries(svg, s, colour, sx, sy, top) {
    var d = "", pen = false, lone = [];
    s.points.forEach(function (p, i) {
      if (p[1] === null) {
        pen = false;
        el("path", { "class": "nan-mark", d: "M" + sx(p[0]) + " " + (top + 1) + " l-4 -7 h8 z" }, svg);
        return;
      }
      d += (pen ? " L" : " M") + sx(p[0]).toFixed(1) + " " + sy(p[1]).toFixed(1);
      var next = s.points[i + 1];
      if (!pen && (!next || next[1] === null)) lone.push(p);
      pen = true;
    });
    var path = el("path", { "class": "series" + (s.earlier ? " earlier" : "") + (s.best ? " best" : ""),
                            d: d.trim(), stroke: colour }, svg);
    el("title", {}, path).textContent = s.label;
    // Few points: mark each, so four epochs read as four values rather than a line.
    var dots = s.points.length <= 40 ? s.points.filter(function (p) { return p[1] !== null; }) : lone;
    dots.forEach(function (p) {
      el("circle", { cx: sx(p[0]), cy: sy(p[1]), r: s.best ? 4 : 2.6, fill: colour }, svg);
    });
  }
  // Distinct colours for any number of lines: the palette, then hues spread by the golden angle.
  function colour(i) {
    return i < COLOURS.length ? COLOURS[i] : "hsl(" + Math.round((i * 137.508) % 360) + ", 62%, 42%)";
  }
  // A sweep's chart has a line per trial (coloured by trial, the best one drawn bold);
  // a step's chart has a line per attempt and rank (coloured by rank).
  function describe(chart, s, sweeps) {
    var last = {};
    chart.series.forEach(function (o) {
      var key = (o.trial || "") + "/" + o.rank;
      last[key] = Math.max(last[key] || 0, o.attempt);
    });
    s.earlier = s.attempt < last[(s.trial || "") + "/" + s.rank];
    if (!chart.sweep) {
      s.colour = colour(s.rank);
      s.label = "attempt " + (s.attempt + 1) + " \u00b7 rank " + s.rank;
      return;
    }
    var info = (sweeps[chart.sweep] || {}), trial = (info.trials || {})[s.trial] || {};
    s.colour = colour(chart.trials.indexOf(s.trial));
    s.best = info.best === s.trial;
    s.label = s.trial + (trial.params ? " (" + trial.params + ")" : "") +
      (s.rank ? " \u00b7 rank " + s.rank : "") + (s.attempt ? " \u00b7 attempt " + (s.attempt + 1) : "");
    s.note = (s.best ? " \u2605 best" : "") + (trial.state === "stopped early" ? " \u00b7 stopped early" : "");
  }
  function drawChart(chart, parent, sweeps) {
    var W = 560, H = 250, L = 58, R = 14, T = 12, B = 34;
    var box = html("div", "chart", parent);
    var title = html("h3", "", box);
    html("span", "step", title, chart.step + " \u00b7 ");
    title.appendChild(document.createTextNode(chart.metric));
    if (chart.sweep) html("span", "step", title, " \u00b7 " + chart.trials.length + (chart.trials.length === 1 ? " trial" : " trials"));
    var from = chart.series.map(function (s) { return s.from; }).filter(function (f, i, all) {
      return f && all.indexOf(f) === i;
    });
    if (from.length) html("div", "from", box, "from run " + from.join(", ") + " (this run reused its result)");
    var svg = el("svg", { viewBox: "0 0 " + W + " " + H, "class": "metric-chart" }, box);
    var b = bounds(chart.series);
    if (chart.x === "trial") { b.x0 = -0.5; b.x1 = chart.trials.length - 0.5; }
    var sx = function (x) { return L + (x - b.x0) / (b.x1 - b.x0) * (W - L - R); };
    var sy = function (y) { return T + (1 - (y - b.y0) / (b.y1 - b.y0)) * (H - T - B); };
    ticks(b.y0, b.y1, 5).forEach(function (v) {
      el("line", { "class": "grid", x1: L, x2: W - R, y1: sy(v), y2: sy(v) }, svg);
      el("text", { "class": "tick", x: L - 6, y: sy(v) + 3.5, "text-anchor": "end" }, svg).textContent = label(v);
    });
    var xticks = chart.x === "trial" ? chart.trials.map(function (t, i) { return i; })
                                     : ticks(b.x0, b.x1, 6, chart.x === "step" ? 1 : 0);
    var every = Math.ceil(xticks.length / 12);  // trial names need room
    xticks.forEach(function (v, i) {
      if (i % every) return;
      el("text", { "class": "tick", x: sx(v), y: H - B + 15, "text-anchor": "middle" }, svg).textContent =
        chart.x === "trial" ? chart.trials[v] : label(v);
    });
    el("line", { "class": "axis", x1: L, x2: W - R, y1: H - B, y2: H - B }, svg);
    el("text", { "class": "tick", x: (L + W - R) / 2, y: H - 4, "text-anchor": "middle" }, svg).textContent =
      chart.x === "step" ? "step" : chart.x === "trial" ? "trial" : "seconds since the run started";
    var legend = html("div", "series-legend", box);
    chart.series.forEach(function (s) { describe(chart, s, sweeps); });
    // The best trial last, so it is drawn over the others.
    chart.series.slice().sort(function (a, b) { return (a.best ? 1 : 0) - (b.best ? 1 : 0); })
      .forEach(function (s) { drawSeries(svg, s, s.colour, sx, sy, T); });
    chart.series.forEach(function (s) {
      var item = html("span", s.best ? "best" : "", legend);
      html("span", "swatch", item).style.background = s.colour;
      item.appendChild(document.createTextNode(s.label + (s.earlier ? " (superseded)" : "")));
      if (s.note) html("span", "trial-note", item, s.note);
      if (s.nonfinite) html("span", "nan-count", item, " \u00b7 " + s.nonfinite + " not finite");
    });
  }
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var parent = document.getElementById("charts");
  if (!data.charts.length) {
    html("p", "note", parent, "No metrics were recorded.");
    return;
  }
  data.charts.forEach(function (chart) { drawChart(chart, parent, data.sweeps || {}); });
})();
)JS";
}

}  // namespace amlflow::runtime
