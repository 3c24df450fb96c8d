/**
 * The report page's script: reads the ReportDocument from #report-data and
 * draws it with inline SVG. Every untrusted string goes in through textContent
 * or an attribute value, never as markup. Plain browser JavaScript, kept as a
 * string (it runs in the page, not in Node); the end-to-end test runs it in
 * Chromium.
 */
export const CLIENT_SCRIPT = String.raw`
(function () {
  'use strict';
  var doc = JSON.parse(document.getElementById('report-data').textContent);
  var root = document.getElementById('report');
  root.textContent = '';
  var probe = document.createElement('div');
  probe.innerHTML = '<svg></svg>';
  var SVG = probe.firstChild.namespaceURI;
  var PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#59a14f', '#b07aa1', '#76b7b2', '#edc948', '#ff9da7', '#9c755f', '#5f6b7a'];
  var W = 640, H = 290, M = { l: 58, r: 14, t: 10, b: 40 };

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function svg(tag, attrs, parent) {
    var e = document.createElementNS(SVG, tag);
    for (var k in attrs) e.setAttribute(k, String(attrs[k]));
    if (parent) parent.appendChild(e);
    return e;
  }
  function text(parent, x, y, value, anchor, extra) {
    var t = svg('text', Object.assign({ x: x, y: y, 'text-anchor': anchor || 'middle' }, extra || {}), parent);
    t.textContent = String(value);
    return t;
  }
  function isNum(v) { return typeof v === 'number' && isFinite(v); }
  function fmt(v, percent) {
    if (!isNum(v)) return v === null || v === undefined ? '–' : String(v);
    if (percent) return (v * 100).toFixed(1) + '%';
    var a = Math.abs(v);
    if (a !== 0 && (a >= 1e6 || a < 1e-3)) return v.toExponential(2);
    return String(Number(v.toPrecision(4)));
  }
  function niceTicks(lo, hi, n) {
    var span = hi - lo, raw = span / n, mag = Math.pow(10, Math.floor(Math.log10(raw))), step = mag;
    [1, 2, 2.5, 5, 10].some(function (m) { step = m * mag; return span / step <= n; });
    var out = [], first = Math.ceil(lo / step - 1e-9) * step;
    for (var v = first; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
    return out;
  }
  function extent(values, lo, hi) {
    var min = Infinity, max = -Infinity;
    values.forEach(function (v) { if (isNum(v)) { if (v < min) min = v; if (v > max) max = v; } });
    if (isNum(lo)) min = lo;
    if (isNum(hi)) max = hi;
    if (min === Infinity) { min = 0; max = 1; }
    if (min === max) { var d = Math.abs(min) * 0.1 || 1; min -= d; max += d; }
    else if (!isNum(lo) || !isNum(hi)) { var pad = (max - min) * 0.05; if (!isNum(lo)) min -= pad; if (!isNum(hi)) max += pad; }
    return [min, max];
  }

  // Axes with grid lines; returns the scales.
  function frame(plot, xr, yr, xLabel, yLabel, xTicks) {
    var sx = function (x) { return M.l + (x - xr[0]) / (xr[1] - xr[0]) * (W - M.l - M.r); };
    var sy = function (y) { return H - M.b - (y - yr[0]) / (yr[1] - yr[0]) * (H - M.t - M.b); };
    niceTicks(yr[0], yr[1], 5).forEach(function (v) {
      svg('line', { x1: M.l, x2: W - M.r, y1: sy(v), y2: sy(v), class: 'grid' }, plot);
      text(plot, M.l - 6, sy(v) + 4, fmt(v), 'end');
    });
    if (xTicks !== false) {
      niceTicks(xr[0], xr[1], 6).forEach(function (v) {
        svg('line', { x1: sx(v), x2: sx(v), y1: H - M.b, y2: H - M.b + 4, class: 'axis' }, plot);
        text(plot, sx(v), H - M.b + 16, fmt(v));
      });
    }
    svg('line', { x1: M.l, x2: W - M.r, y1: H - M.b, y2: H - M.b, class: 'axis' }, plot);
    svg('line', { x1: M.l, x2: M.l, y1: M.t, y2: H - M.b, class: 'axis' }, plot);
    text(plot, (M.l + W - M.r) / 2, H - 4, xLabel);
    text(plot, 12, (M.t + H - M.b) / 2, yLabel, 'middle', { transform: 'rotate(-90 12 ' + (M.t + H - M.b) / 2 + ')' });
    return { sx: sx, sy: sy };
  }
  function legend(fig, names, colors) {
    var ul = el('ul', 'legend');
    names.forEach(function (name, i) {
      var li = el('li');
      var sw = el('span', 'swatch');
      sw.style.background = colors[i];
      li.appendChild(sw);
      li.appendChild(el('span', null, name));
      ul.appendChild(li);
    });
    fig.appendChild(ul);
  }
  function newPlot(fig, title) {
    var plot = svg('svg', { viewBox: '0 0 ' + W + ' ' + H, class: 'plot', role: 'img', 'aria-label': title });
    fig.appendChild(plot);
    return plot;
  }
  function nearest(xs, x) {
    var lo = 0, hi = xs.length - 1;
    while (hi - lo > 1) { var mid = (lo + hi) >> 1; if (xs[mid] < x) lo = mid; else hi = mid; }
    return Math.abs(xs[lo] - x) <= Math.abs(xs[hi] - x) ? lo : hi;
  }

  // An SVG path through the finite points (a gap at every null), and how many there were.
  function linePath(f, xs, ys) {
    var d = '', pen = false, points = 0;
    for (var j = 0; j < xs.length; j++) {
      if (!isNum(ys[j])) { pen = false; continue; }
      d += (pen ? 'L' : 'M') + f.sx(xs[j]).toFixed(1) + ' ' + f.sy(ys[j]).toFixed(1);
      pen = true; points++;
    }
    return { d: d, points: points };
  }

  function lineChart(fig, c) {
    var xs = [], ys = [];
    c.series.forEach(function (s) {
      xs = xs.concat(s.x); ys = ys.concat(s.y);
      if (s.raw) { xs = xs.concat(s.raw.x); ys = ys.concat(s.raw.y); }
    });
    var plot = newPlot(fig, c.title);
    var f = frame(plot, extent(xs), extent(ys, c.yMin, c.yMax), c.xLabel, c.yLabel);
    var colors = c.series.map(function (s, i) { return PALETTE[(typeof s.color === 'number' ? s.color : i) % PALETTE.length]; });
    // the faint raw values first, so every smoothed line lies on top of them all
    c.series.forEach(function (s, i) {
      if (!s.raw) return;
      var raw = linePath(f, s.raw.x, s.raw.y);
      if (raw.d) svg('title', {}, svg('path', { d: raw.d, fill: 'none', stroke: colors[i], 'stroke-width': 1, 'stroke-opacity': 0.25, class: 'raw', 'stroke-linejoin': 'round' }, plot)).textContent = s.name + ' (raw)';
    });
    c.series.forEach(function (s, i) {
      var line = linePath(f, s.x, s.y), points = line.points;
      if (line.d) {
        var path = svg('path', { d: line.d, fill: 'none', stroke: colors[i], 'stroke-width': 1.6, class: s.raw ? 'mark smoothed' : 'mark', 'stroke-linejoin': 'round' }, plot);
        if (s.dashed) path.setAttribute('stroke-dasharray', '5 3');
        svg('title', {}, path).textContent = s.raw ? s.name + ' (smoothed)' : s.name;
      }
      if (s.markers || points === 1) {
        for (var k = 0; k < s.x.length; k++) {
          if (isNum(s.y[k])) svg('circle', { cx: f.sx(s.x[k]).toFixed(1), cy: f.sy(s.y[k]).toFixed(1), r: 2.6, fill: colors[i], class: 'mark' }, plot);
        }
      }
    });
    legend(fig, c.series.map(function (s) { return s.name; }), colors);
    if (c.note) fig.appendChild(el('p', 'chart-note', c.note));
    hover(fig, plot, c, f, colors);
  }

  // A crosshair and the nearest value of every series under the pointer.
  function hover(fig, plot, c, f, colors) {
    var tip = el('div', 'tooltip');
    fig.appendChild(tip);
    var cursor = svg('line', { y1: M.t, y2: H - M.b, class: 'cursor', visibility: 'hidden' }, plot);
    plot.addEventListener('mousemove', function (ev) {
      var box = plot.getBoundingClientRect();
      var px = (ev.clientX - box.left) / box.width * W;
      if (px < M.l || px > W - M.r) { tip.style.display = 'none'; cursor.setAttribute('visibility', 'hidden'); return; }
      var x0 = f.sx(0) === f.sx(1) ? 0 : (px - f.sx(0)) / (f.sx(1) - f.sx(0));
      var lines = [c.xLabel + ' ' + fmt(x0)];
      c.series.forEach(function (s) {
        if (!s.x.length) return;
        var j = nearest(s.x, x0);
        var raw = s.raw && s.raw.x.length ? ', raw ' + fmt(s.raw.y[nearest(s.raw.x, x0)]) : '';
        lines.push(s.name + ': ' + fmt(s.y[j]) + (s.raw ? ' smoothed' + raw : '') + (s.x[j] !== x0 ? '  (' + c.xLabel + ' ' + fmt(s.x[j]) + ')' : ''));
      });
      tip.textContent = lines.join('\n');
      tip.style.display = 'block';
      var figBox = fig.getBoundingClientRect();
      var left = ev.clientX - figBox.left + 14;
      tip.style.left = Math.min(left, figBox.width - tip.offsetWidth - 4) + 'px';
      tip.style.top = (ev.clientY - figBox.top + 14) + 'px';
      cursor.setAttribute('x1', px); cursor.setAttribute('x2', px); cursor.setAttribute('visibility', 'visible');
    });
    plot.addEventListener('mouseleave', function () { tip.style.display = 'none'; cursor.setAttribute('visibility', 'hidden'); });
  }

  function stackedChart(fig, c) {
    var n = c.x0.length, totals = [];
    for (var b = 0; b < n; b++) totals.push(c.values.reduce(function (sum, row) { return sum + (isNum(row[b]) ? row[b] : 0); }, 0));
    var plot = newPlot(fig, c.title);
    var xr = [Math.min.apply(null, c.x0), Math.max.apply(null, c.x1)];
    if (xr[0] === xr[1]) xr[1] = xr[0] + 1;
    var f = frame(plot, xr, extent(totals, 0), c.xLabel, c.yLabel, !c.labels);
    var colors = c.categories.map(function (_, i) { return PALETTE[i % PALETTE.length]; });
    for (b = 0; b < n; b++) {
      var base = 0, left = f.sx(c.x0[b]), width = Math.max(1, f.sx(c.x1[b]) - left - (c.labels ? 12 : 1));
      c.categories.forEach(function (cat, i) {
        var v = c.values[i][b];
        if (!isNum(v) || v <= 0) return;
        var rect = svg('rect', { x: (left + (c.labels ? 6 : 0)).toFixed(1), y: f.sy(base + v).toFixed(1), width: width.toFixed(1),
          height: Math.max(0.5, f.sy(base) - f.sy(base + v)).toFixed(1), fill: colors[i], class: 'mark' }, plot);
        svg('title', {}, rect).textContent = (c.labels ? c.labels[b] : c.xLabel + ' ' + fmt(c.x0[b]) + '–' + fmt(c.x1[b])) + '\n' + cat + ': ' + fmt(v);
        base += v;
      });
      if (c.labels) text(plot, left + width / 2 + 6, H - M.b + 16, c.labels[b]);
    }
    legend(fig, c.categories, colors);
  }

  function divergingColor(v, min, max) {
    if (!isNum(v)) return '#e8eaee';
    var t = v >= 0 ? Math.min(1, v / (max || 1)) : Math.min(1, v / (min || -1));
    var end = v >= 0 ? [49, 104, 168] : [201, 52, 45];
    var rgb = [247, 247, 247].map(function (w, i) { return Math.round(w + (end[i] - w) * t); });
    return 'rgb(' + rgb.join(',') + ')';
  }
  // The cells fill the panel: the same height as a line chart, split between the rows (at least 12 px each).
  function heatmap(fig, c) {
    var longest = c.rows.reduce(function (a, r) { return Math.max(a, Math.min(32, r.length)); }, 0);
    var left = Math.min(220, 14 + longest * 6.5), rowH = Math.max(12, (H - M.t - 64) / Math.max(1, c.rows.length));
    var h = M.t + rowH * c.rows.length + 64;
    var plot = svg('svg', { viewBox: '0 0 ' + W + ' ' + h, class: 'plot', role: 'img', 'aria-label': c.title });
    fig.appendChild(plot);
    var n = c.x0.length, cellW = (W - left - M.r) / Math.max(1, n);
    c.rows.forEach(function (name, r) {
      var y = M.t + r * rowH;
      var label = text(plot, left - 6, y + rowH / 2 + 4, name.length > 32 ? name.slice(0, 31) + '…' : name, 'end');
      svg('title', {}, label).textContent = name;
      for (var i = 0; i < n; i++) {
        var v = c.values[r][i];
        var rect = svg('rect', { x: (left + i * cellW).toFixed(1), y: y.toFixed(1), width: (cellW + 0.3).toFixed(1), height: rowH - 1,
          fill: divergingColor(v, c.min, c.max), class: 'mark' }, plot);
        svg('title', {}, rect).textContent = name + '\n' + c.xLabel + ' ' + fmt(c.x0[i]) + '–' + fmt(c.x1[i]) + ': ' + fmt(v);
      }
    });
    var axisY = M.t + rowH * c.rows.length;
    niceTicks(c.x0[0], c.x1[n - 1], 6).forEach(function (v) {
      var frac = (v - c.x0[0]) / ((c.x1[n - 1] - c.x0[0]) || 1);
      text(plot, left + frac * (W - left - M.r), axisY + 14, fmt(v));
    });
    text(plot, (left + W - M.r) / 2, axisY + 30, c.xLabel);
    // colour scale
    for (var s = 0; s <= 20; s++) {
      var v = c.min + (c.max - c.min) * s / 20;
      svg('rect', { x: W - M.r - 210 + s * 10, y: axisY + 40, width: 10, height: 10, fill: divergingColor(v, c.min, c.max) }, plot);
    }
    text(plot, W - M.r - 216, axisY + 49, fmt(c.min), 'end');
    text(plot, W - M.r + 0, axisY + 62, fmt(c.max), 'end');
  }

  function table(t) {
    var wrap = el('div', 'table');
    wrap.appendChild(el('h3', null, t.title));
    var tbl = el('table');
    var tr = el('tr');
    t.columns.forEach(function (col) { tr.appendChild(el('th', null, col.label)); });
    tbl.appendChild(el('thead')).appendChild(tr);
    var best = t.columns.map(function (col, i) {
      if (!col.better) return null;
      var vals = t.rows.map(function (row) { return row[i]; }).filter(isNum);
      var top = col.better === 'max' ? Math.max.apply(null, vals) : Math.min.apply(null, vals);
      return vals.length < 2 || vals.every(function (v) { return v === top; }) ? null : top;
    });
    var body = el('tbody');
    t.rows.forEach(function (row) {
      var r = el('tr');
      row.forEach(function (v, i) {
        var td = el('td', best[i] !== null && v === best[i] ? 'best' : null, fmt(v, t.columns[i] && t.columns[i].percent));
        r.appendChild(td);
      });
      body.appendChild(r);
    });
    tbl.appendChild(body);
    wrap.appendChild(tbl);
    if (t.note) wrap.appendChild(el('p', 'note', t.note));
    return wrap;
  }

  var DRAW = { line: lineChart, stacked: stackedChart, heatmap: heatmap };
  var header = el('header');
  header.appendChild(el('h1', null, doc.title));
  header.appendChild(el('p', 'subtitle', doc.subtitle));
  var nav = el('nav');
  header.appendChild(nav);
  root.appendChild(header);
  var main = el('main');
  root.appendChild(main);
  if (doc.warnings.length) {
    var ul = el('ul', 'warnings');
    doc.warnings.forEach(function (w) { ul.appendChild(el('li', null, w)); });
    main.appendChild(ul);
  }
  var chartCount = 0;
  doc.sections.forEach(function (section, si) {
    var sec = el('section');
    sec.id = 'section-' + si;
    var link = el('a', null, section.title);
    link.setAttribute('href', '#section-' + si);
    nav.appendChild(link);
    sec.appendChild(el('h2', null, section.title));
    if (section.note) sec.appendChild(el('p', 'note', section.note));
    section.tables.forEach(function (t) { sec.appendChild(table(t)); });
    if (section.charts.length) {
      var grid = el('div', 'charts');
      section.charts.forEach(function (c) {
        var fig = el('figure', 'chart');
        fig.setAttribute('data-chart', c.kind);
        fig.id = 'chart-' + chartCount++;
        fig.appendChild(el('figcaption', null, c.title));
        grid.appendChild(fig);
        try { DRAW[c.kind](fig, c); } catch (e) { fig.appendChild(el('p', 'empty', 'could not draw this chart: ' + e.message)); throw e; }
      });
      sec.appendChild(grid);
    }
    main.appendChild(sec);
  });
  if (doc.config) {
    var details = el('details');
    details.appendChild(el('summary', null, 'Resolved config'));
    details.appendChild(el('pre', null, doc.config));
    main.appendChild(details);
  }
  main.appendChild(el('p', 'generated', 'Generated by multitask at ' + doc.generated));
  document.title = doc.title;
})();
`;
