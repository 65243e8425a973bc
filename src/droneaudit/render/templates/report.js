/* droneaudit HTML report: sortable tables, the map and the timeline, drawn from the inline JSON.
   Rules: every string from the evidence is set with textContent (never innerHTML), nothing is fetched,
   and this file never contains a closing-tag sequence (it is inlined into a script element). */
"use strict";
(function () {
  var NS = "http://www.w3.org/2000/svg";
  var DATA = JSON.parse(document.getElementById("report-data").textContent);

  function el(tag, attrs, parent) {
    var node = document.createElementNS(NS, tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, String(attrs[k])); });
    if (parent) { parent.appendChild(node); }
    return node;
  }
  function title(node, text) { el("title", {}, node).textContent = text; }
  function text(parent, x, y, value, cls, anchor) {
    var t = el("text", { x: x, y: y, "class": cls, "text-anchor": anchor || "start" }, parent);
    t.textContent = value;
    return t;
  }

  /* Sortable tables: click a header; numeric columns sort by data-sort. */
  function sortTable(table, index, numeric, th) {
    var body = table.tBodies[0];
    var dir = th.getAttribute("aria-sort") === "ascending" ? -1 : 1;
    var rows = Array.prototype.slice.call(body.rows);
    function key(row) {
      var cell = row.cells[index];
      if (!cell) { return numeric ? -Infinity : ""; }
      return numeric ? parseFloat(cell.getAttribute("data-sort") || cell.textContent) || 0 : cell.textContent;
    }
    rows.sort(function (a, b) {
      var ka = key(a), kb = key(b);
      return dir * (numeric ? ka - kb : String(ka).localeCompare(String(kb)));
    });
    rows.forEach(function (r) { body.appendChild(r); });
    Array.prototype.forEach.call(th.parentNode.cells, function (c) { c.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
  }
  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
    var head = table.tHead && table.tHead.rows[0];
    if (!head) { return; }
    Array.prototype.forEach.call(head.cells, function (th, i) {
      th.addEventListener("click", function () { sortTable(table, i, th.getAttribute("data-type") === "num", th); });
    });
  });

  /* Map: Web Mercator (x = lon, y = mercator latitude in degrees), fitted to the case's positions. */
  function mercY(lat) {
    var c = Math.max(-85, Math.min(85, lat)) * Math.PI / 180;
    return Math.log(Math.tan(Math.PI / 4 + c / 2)) * 180 / Math.PI;
  }
  function casePositions(map) {
    var out = [];
    map.tracks.forEach(function (t) { t.points.forEach(function (p) { out.push(p); }); });
    map.points.forEach(function (p) { out.push([p.lat, p.lon]); });
    map.sites.forEach(function (s) { s.buffer.concat(s.shape).forEach(function (p) { out.push(p); }); });
    return out;
  }
  function fit(positions, width, height) {
    var xs = positions.map(function (p) { return p[1]; });
    var ys = positions.map(function (p) { return mercY(p[0]); });
    if (!positions.length) { xs = [-180, 180]; ys = [mercY(-60), mercY(80)]; }
    var x0 = Math.min.apply(null, xs), x1 = Math.max.apply(null, xs);
    var y0 = Math.min.apply(null, ys), y1 = Math.max.apply(null, ys);
    var span = Math.max(x1 - x0, y1 - y0, 0.002) * 1.15;
    var cx = (x0 + x1) / 2, cy = (y0 + y1) / 2;
    var scale = Math.min(width, height) / span;
    return {
      x: function (lon) { return width / 2 + (lon - cx) * scale; },
      y: function (lat) { return height / 2 - (mercY(lat) - cy) * scale; },
      box: [cx - width / 2 / scale, cx + width / 2 / scale, cy - height / 2 / scale, cy + height / 2 / scale],
      centre: [cx, cy]
    };
  }
  function pathData(points, proj) {
    /* A jump of more than 180 degrees of longitude crosses the antimeridian: lift the pen there. */
    return points.map(function (p, i) {
      var lift = i === 0 || Math.abs(p[1] - points[i - 1][1]) > 180;
      return (lift ? "M" : "L") + proj.x(p[1]).toFixed(1) + " " + proj.y(p[0]).toFixed(1);
    }).join("");
  }
  function scaleBar(svg, proj, W, H) {
    /* Metres per pixel at the view's centre latitude, rounded to a 1-2-5 length near 120 px. */
    var lat = Math.atan(Math.sinh(proj.centre[1] * Math.PI / 180));
    var mpp = (proj.box[1] - proj.box[0]) / W * 111320 * Math.cos(lat);
    var target = mpp * 120, p10 = Math.pow(10, Math.floor(Math.log(target) / Math.LN10)), len = p10;
    [2, 5, 10].forEach(function (k) { if (k * p10 <= target) { len = k * p10; } });
    var px = len / mpp;
    el("rect", { x: 12, y: H - 22, width: px, height: 5, "class": "scalebar" }, svg);
    text(svg, 12, H - 28, len >= 1000 ? len / 1000 + " km" : len + " m", "map-label");
  }
  function drawBasemap(svg, proj) {
    var b = proj.box, g = el("g", { "class": "basemap-layer" }, svg);
    DATA.basemap.forEach(function (line) {
      var lons = line.map(function (p) { return p[0]; }), lats = line.map(function (p) { return mercY(p[1]); });
      if (Math.max.apply(null, lons) < b[0] || Math.min.apply(null, lons) > b[1] ||
          Math.max.apply(null, lats) < b[2] || Math.min.apply(null, lats) > b[3]) { return; }
      el("path", { d: pathData(line.map(function (p) { return [p[1], p[0]]; }), proj), "class": "basemap" }, g);
    });
  }
  function drawMap() {
    var svg = document.getElementById("map"), map = DATA.map, W = 960, H = 540;
    var positions = casePositions(map), proj = fit(positions, W, H);
    drawBasemap(svg, proj);
    map.sites.forEach(function (s) {
      var buf = el("path", { d: pathData(s.buffer, proj) + "Z", "class": "site-buffer" }, svg);
      title(buf, s.name + " (" + s.layer + "), buffer " + s.buffer_m + " m");
      if (s.shape.length > 2) { el("path", { d: pathData(s.shape, proj) + "Z", "class": "site-shape" }, svg); }
    });
    map.tracks.forEach(function (t) {
      title(el("path", { d: pathData(t.points, proj), "class": "track" }, svg), t.file);
    });
    map.points.forEach(function (p) {
      var c = el("circle", { cx: proj.x(p.lon).toFixed(1), cy: proj.y(p.lat).toFixed(1), r: 6,
        "class": "pt pt-" + p.kind }, svg);
      title(c, p.kind + ": " + p.file + (p.time ? " @ " + p.time : "") + " (" + p.lat + ", " + p.lon + ")");
    });
    if (!positions.length) { text(svg, W / 2, H / 2, "No positions in this case.", "map-label", "middle"); }
    scaleBar(svg, proj, W, H);
    drawLocator(proj, positions.length > 0);
  }
  function drawLocator(proj, mark) {
    var svg = document.getElementById("locator");
    var world = { x: function (lon) { return (lon + 180) * 240 / 360; }, y: function (lat) { return (90 - lat) * 120 / 180; } };
    var d = DATA.basemap.map(function (line) { return pathData(line.map(function (p) { return [p[1], p[0]]; }), world); });
    el("path", { d: d.join(""), "class": "basemap" }, svg);
    if (mark) {
      var lat = Math.atan(Math.sinh(proj.centre[1] * Math.PI / 180)) * 180 / Math.PI;
      el("circle", { cx: world.x(proj.centre[0]), cy: world.y(lat), r: 4, "class": "pt pt-target" }, svg);
    }
  }

  /* Timeline: one lane for flights, one per non-local endpoint (its flows), one for photos. */
  function timeRange(tl) {
    var ts = [];
    tl.flights.forEach(function (f) { ts.push(f.start, f.end || f.start); });
    tl.flows.forEach(function (f) { ts.push(f.start, f.end); });
    tl.photos.forEach(function (p) { ts.push(p.time); });
    if (!ts.length) { return null; }
    var t0 = Math.min.apply(null, ts), t1 = Math.max.apply(null, ts);
    return [t0, Math.max(t1, t0 + 1000)];
  }
  function lanesOf(tl) {
    var lanes = [];
    if (tl.flights.length) { lanes.push("flights"); }
    tl.flows.forEach(function (f) { if (lanes.indexOf("host:" + f.host) < 0) { lanes.push("host:" + f.host); } });
    if (tl.photos.length) { lanes.push("photos"); }
    return lanes;
  }
  function drawAxis(svg, range, x, bottom) {
    for (var i = 0; i <= 6; i++) {
      var t = range[0] + (range[1] - range[0]) * i / 6, px = x(t);
      el("line", { x1: px, x2: px, y1: 4, y2: bottom, "class": "gridline" }, svg);
      var iso = new Date(t).toISOString();
      text(svg, px, bottom + 14, iso.slice(11, 19), "axis", i === 0 ? "start" : (i === 6 ? "end" : "middle"));
    }
    text(svg, 4, bottom + 14, new Date(range[0]).toISOString().slice(0, 10) + " UTC", "axis");
  }
  function drawTimeline() {
    var svg = document.getElementById("timeline"), tl = DATA.timeline, range = timeRange(tl);
    var lanes = lanesOf(tl), L = 180, W = 960, LH = 22, bottom = 8 + Math.max(lanes.length, 1) * LH;
    svg.setAttribute("viewBox", "0 0 960 " + (bottom + 34));
    if (!range) { text(svg, W / 2, 20, "No timed events in this case.", "axis", "middle"); return; }
    var x = function (t) { return L + (t - range[0]) * (W - L - 8) / (range[1] - range[0]); };
    var laneY = function (name) { return 8 + lanes.indexOf(name) * LH; };
    drawAxis(svg, range, x, bottom);
    lanes.forEach(function (name) {
      text(svg, 4, laneY(name) + 15, name.indexOf("host:") === 0 ? name.slice(5, 31) : name, "lane-label");
    });
    tl.flights.forEach(function (f) {
      var r = el("rect", { x: x(f.start), y: laneY("flights") + 3, height: LH - 6, "class": "bar-flight",
        width: Math.max(2, x(f.end || f.start) - x(f.start)) }, svg);
      title(r, "flight " + f.id + " (" + f.device + ")");
    });
    var maxUp = Math.max.apply(null, tl.flows.map(function (f) { return f.up; }).concat([1]));
    tl.flows.forEach(function (f) {
      var h = Math.max(2, (LH - 4) * Math.log(1 + f.up) / Math.log(1 + maxUp)), y = laneY("host:" + f.host);
      var r = el("rect", { x: x(f.start), y: y + LH - 2 - h, height: h, width: Math.max(2, x(f.end) - x(f.start)),
        "class": "bar-flow" + (f.vendor ? " vendor" : "") }, svg);
      title(r, f.host + ": " + f.up + " B up, " + f.down + " B down (" + f.file + " frame " + f.frame + ")");
    });
    tl.photos.forEach(function (p) {
      title(el("rect", { x: x(p.time) - 1, y: laneY("photos") + 3, width: 3, height: LH - 6, "class": "tick-photo" }, svg),
        p.file);
    });
  }

  drawMap();
  drawTimeline();
})();
