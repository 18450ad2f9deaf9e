// The hierarchy view: the organisation drawn as an SVG tree, children fetched lazily (a page
// at a time) from /console/api/accounts/{id}/children, nodes collapsible, payers marked, a
// click on a node opens its account, "Export SVG" saves what is drawn. Only the rows inside the
// scrolled window are in the DOM, so a tree with tens of thousands of expanded nodes and
// hundreds of levels stays fast; walks are loops, never recursion, so depth has no limit.
(function () {
  "use strict";
  var ROW = 30, INDENT = 24, BOX = 360, PAD = 12, OVERSCAN = 12;
  var SVGNS = "http://www.w3.org/2000/svg";
  var host = document.getElementById("tree");
  if (!host) return;
  var root = JSON.parse(host.getAttribute("data-root"));
  var base = host.getAttribute("data-children-url");
  var pageSize = parseInt(host.getAttribute("data-page"), 10) || 100;
  var statusLine = document.getElementById("tree-status");
  var nodes = {};          // id -> state
  var rows = [];           // the visible rows, in drawing order
  var spans = [];          // vertical connectors: {x, from, to} in rows
  var focused = 0;
  var maxDepth = 0;

  function state(data) {
    var known = nodes[data.id];
    if (known) { known.data = data; return known; }
    nodes[data.id] = { data: data, children: null, total: data.child_count, expanded: false, loading: false };
    return nodes[data.id];
  }
  state(root);

  function say(text) { if (statusLine) statusLine.textContent = text; }

  function load(id) {
    var node = nodes[id];
    if (node.loading) return Promise.resolve();
    node.loading = true;
    var offset = node.children ? node.children.length : 0;
    say("Loading children of " + node.data.number + "…");
    draw();
    var url = base + encodeURIComponent(id) + "/children?offset=" + offset + "&limit=" + pageSize;
    return fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) {
        var type = response.headers.get("content-type") || "";
        if (response.redirected || type.indexOf("application/json") < 0) {
          throw new Error(response.status === 200 ? "your session has ended: sign in again" :
            "the server answered " + response.status);
        }
        return response.json();
      })
      .then(function (page) {
        node.children = node.children || [];
        page.items.forEach(function (child) { state(child); node.children.push(child.id); });
        node.total = page.total;
        node.expanded = true;
        say(node.data.number + ": " + node.children.length + " of " + node.total + " children shown");
      })
      .catch(function (error) { say("Could not load the children of " + node.data.number + ": " + error.message); })
      .then(function () { node.loading = false; layout(); draw(); });
  }

  function toggle(id) {
    var node = nodes[id];
    if (!node || node.total === 0) return Promise.resolve();
    if (node.expanded) { node.expanded = false; layout(); draw(); return Promise.resolve(); }
    if (node.children === null) return load(id);
    node.expanded = true; layout(); draw(); return Promise.resolve();
  }

  // Visible rows depth first, with an explicit stack; a vertical connector per expanded node
  // from its row to its last child's row.
  function layout() {
    var keep = rows[focused];
    rows = []; spans = []; maxDepth = 0;
    var spanOf = {};
    var stack = [{ id: root.id, depth: 0, parent: null }];
    while (stack.length) {
      var item = stack.pop();
      var index = rows.length;
      rows.push(item);
      if (item.parent !== null && spanOf[item.parent]) spanOf[item.parent].to = index;
      if (item.depth > maxDepth) maxDepth = item.depth;
      if (item.more) continue;
      var node = nodes[item.id];
      if (node.expanded && node.children && node.children.length) {
        var next = [];
        node.children.forEach(function (cid) { next.push({ id: cid, depth: item.depth + 1, parent: item.id }); });
        if (node.children.length < node.total) {
          next.push({ more: true, id: item.id, depth: item.depth + 1, parent: item.id,
                      left: node.total - node.children.length });
        }
        spanOf[item.id] = { x: item.depth, from: index, to: index };
        spans.push(spanOf[item.id]);
        for (var i = next.length - 1; i >= 0; i--) stack.push(next[i]);
      }
    }
    if (keep) {
      var found = -1;
      for (var r = 0; r < rows.length; r++) {
        if (rows[r].id === keep.id && !!rows[r].more === !!keep.more) { found = r; break; }
      }
      focused = found >= 0 ? found : Math.min(focused, rows.length - 1);
    }
  }

  var svg = document.createElementNS(SVGNS, "svg");
  svg.setAttribute("role", "presentation");
  host.appendChild(svg);

  function el(name, attrs, parent) {
    var e = document.createElementNS(SVGNS, name);
    for (var key in attrs) if (Object.prototype.hasOwnProperty.call(attrs, key)) e.setAttribute(key, attrs[key]);
    if (parent) parent.appendChild(e);
    return e;
  }

  function rowId(row) { return (row.more ? "more-" : "node-") + row.id; }

  function rowLabel(row) {
    if (row.more) return "load " + Math.min(pageSize, row.left) + " more of " + row.left;
    var d = nodes[row.id].data;
    return d.number + " " + d.name + (d.payment_responsible ? ", payer" : "");
  }

  // One row's SVG: a toggle, a box with number and name, a payer mark, the child count.
  function drawRow(row, index, parent, forExport) {
    var y = PAD + index * ROW, x = PAD + row.depth * INDENT;
    var g = el("g", { "class": row.more ? "more" : "row", id: rowId(row) }, parent);
    if (row.depth > 0) {
      el("path", { "class": "link", d: "M" + (x - INDENT + 10) + " " + (y + ROW / 2) + " H" + (x + 10),
                   stroke: "#9aa7b6", fill: "none" }, g);
    }
    if (row.more) {
      var t = el("text", { x: x + 4, y: y + ROW / 2, "data-parent": row.id, fill: "#0b5cad" }, g);
      t.textContent = "… " + rowLabel(row);
      g.setAttribute("role", "treeitem");
      g.setAttribute("aria-level", String(row.depth + 1));
      g.setAttribute("aria-label", rowLabel(row));
      return g;
    }
    var node = nodes[row.id], d = node.data;
    g.setAttribute("class", "row" + (d.payment_responsible ? " payer" : "") + (index === focused && !forExport ? " focused" : ""));
    g.setAttribute("data-number", d.number);
    g.setAttribute("data-id", d.id);
    if (!forExport) {
      g.setAttribute("role", "treeitem");
      g.setAttribute("aria-level", String(row.depth + 1));
      g.setAttribute("aria-label", rowLabel(row));
      if (node.total > 0) g.setAttribute("aria-expanded", node.expanded ? "true" : "false");
    }
    el("rect", { "class": "box", x: x + 10, y: y + 3, width: BOX, height: ROW - 6, rx: 4,
                 fill: d.payment_responsible ? "#fff4ea" : "#f4f7fb",
                 stroke: d.payment_responsible ? "#c05600" : "#b8c4d2" }, g);
    if (node.total > 0) {
      var c = el("circle", { "class": "toggle", cx: x + 10, cy: y + ROW / 2, r: 7, fill: "#fff", stroke: "#5b6675",
                             "data-toggle": d.id }, g);
      void c;
      var sign = el("text", { "class": "sign", x: x + 10, y: y + ROW / 2 + 1, "text-anchor": "middle",
                              "dominant-baseline": "middle", "data-toggle": d.id }, g);
      sign.textContent = node.loading ? "…" : (node.expanded ? "−" : "+");
    }
    var mark = el("text", { "class": "mark", x: x + 22, y: y + ROW / 2, fill: "#c05600", "dominant-baseline": "middle" }, g);
    mark.textContent = d.payment_responsible ? "●" : "";
    var label = el("text", { x: x + 34, y: y + ROW / 2, "dominant-baseline": "middle" }, g);
    var num = el("tspan", { "class": "num", "font-weight": "600" }, label);
    num.textContent = clip(d.number, 30);
    var name = el("tspan", { dx: "8" }, label);
    name.textContent = clip(d.name, Math.max(8, 40 - Math.min(30, d.number.length)));
    if (node.total > 0) {
      var count = el("text", { "class": "count", x: x + BOX + 16, y: y + ROW / 2, "dominant-baseline": "middle",
                               fill: "#5b6675" }, g);
      count.textContent = node.total + (node.total === 1 ? " child" : " children");
    }
    var title = el("title", {}, g);
    title.textContent = d.number + " — " + d.name + (d.payment_responsible ? " (payment responsible)" : "") +
      "; click to open the account";
    return g;
  }

  function clip(text, length) { return text.length > length ? text.slice(0, length - 1) + "…" : text; }

  function size() {
    return { w: PAD * 2 + (maxDepth + 1) * INDENT + BOX + 120, h: PAD * 2 + rows.length * ROW };
  }

  function drawSpans(parent, first, last) {
    spans.forEach(function (s) {
      if (s.to < first || s.from > last) return;
      var x = PAD + s.x * INDENT + 10;
      var y1 = PAD + Math.max(s.from, first - 1) * ROW + ROW / 2 + 7;
      var y2 = PAD + Math.min(s.to, last + 1) * ROW + ROW / 2;
      el("path", { "class": "link", d: "M" + x + " " + y1 + " V" + y2, stroke: "#9aa7b6", fill: "none" }, parent);
    });
  }

  function draw() {
    var box = size();
    svg.setAttribute("width", box.w);
    svg.setAttribute("height", box.h);
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    var first = Math.max(0, Math.floor((host.scrollTop - PAD) / ROW) - OVERSCAN);
    var last = Math.min(rows.length - 1, Math.ceil((host.scrollTop + host.clientHeight) / ROW) + OVERSCAN);
    drawSpans(svg, first, last);
    for (var i = first; i <= last; i++) drawRow(rows[i], i, svg, false);
    if (rows[focused]) host.setAttribute("aria-activedescendant", rowId(rows[focused]));
  }

  function reveal(index) {
    var top = PAD + index * ROW, bottom = top + ROW;
    if (top < host.scrollTop) host.scrollTop = top - PAD;
    else if (bottom > host.scrollTop + host.clientHeight) host.scrollTop = bottom - host.clientHeight + PAD;
    var left = PAD + rows[index].depth * INDENT;
    if (left < host.scrollLeft || left + BOX > host.scrollLeft + host.clientWidth) host.scrollLeft = Math.max(0, left - 40);
  }

  function focusRow(index) {
    if (!rows.length) return;
    focused = Math.max(0, Math.min(rows.length - 1, index));
    reveal(focused);
    draw();
  }

  function open(row) {
    if (row.more) { load(row.id); return; }
    window.location.href = nodes[row.id].data.href;
  }

  host.addEventListener("scroll", function () { window.requestAnimationFrame(draw); });
  window.addEventListener("resize", draw);

  host.addEventListener("click", function (event) {
    var target = event.target;
    var toggleId = target.getAttribute && target.getAttribute("data-toggle");
    var g = target.closest ? target.closest("g.row, g.more") : null;
    if (!g) return;
    var index = rows.findIndex(function (r) { return rowId(r) === g.id; });
    if (index >= 0) focused = index;
    host.focus({ preventScroll: true });
    if (toggleId) { toggle(toggleId); return; }
    if (g.classList.contains("more")) { load(rows[index].id); return; }
    open(rows[index]);
  });

  host.addEventListener("keydown", function (event) {
    var row = rows[focused];
    if (!row) return;
    var node = row.more ? null : nodes[row.id];
    switch (event.key) {
      case "ArrowDown": focusRow(focused + 1); break;
      case "ArrowUp": focusRow(focused - 1); break;
      case "Home": focusRow(0); break;
      case "End": focusRow(rows.length - 1); break;
      case "PageDown": focusRow(focused + Math.floor(host.clientHeight / ROW)); break;
      case "PageUp": focusRow(focused - Math.floor(host.clientHeight / ROW)); break;
      case "ArrowRight":
        if (node && node.total > 0 && !node.expanded) toggle(row.id);
        else if (node && node.expanded && !node.loading) focusRow(focused + 1);
        break;
      case "ArrowLeft":
        if (node && node.expanded) { toggle(row.id); }
        else if (row.parent) {
          var parentIndex = rows.findIndex(function (r) { return !r.more && r.id === row.parent; });
          if (parentIndex >= 0) focusRow(parentIndex);
        }
        break;
      case " ": if (node) toggle(row.id); else load(row.id); break;
      case "Enter": open(row); break;
      default: return;
    }
    event.preventDefault();
  });

  function exportSvg() {
    var box = size();
    var out = document.createElementNS(SVGNS, "svg");
    out.setAttribute("xmlns", SVGNS);
    out.setAttribute("width", box.w);
    out.setAttribute("height", box.h);
    out.setAttribute("viewBox", "0 0 " + box.w + " " + box.h);
    out.setAttribute("font-family", "sans-serif");
    out.setAttribute("font-size", "13");
    var title = el("title", {}, out);
    title.textContent = "Accounts under " + root.number;
    drawSpans(out, 0, rows.length - 1);
    for (var i = 0; i < rows.length; i++) drawRow(rows[i], i, out, true);
    var text = '<?xml version="1.0" encoding="UTF-8"?>\n' + new XMLSerializer().serializeToString(out);
    var link = document.createElement("a");
    link.href = URL.createObjectURL(new Blob([text], { type: "image/svg+xml" }));
    link.download = "hierarchy-" + root.number.replace(/[^A-Za-z0-9._-]/g, "_") + ".svg";
    document.body.appendChild(link);
    link.click();
    window.setTimeout(function () { URL.revokeObjectURL(link.href); link.remove(); }, 1000);
    say("Exported " + rows.length + " drawn rows as " + link.download);
  }

  document.getElementById("export-svg").addEventListener("click", exportSvg);
  document.getElementById("collapse-all").addEventListener("click", function () {
    Object.keys(nodes).forEach(function (id) { nodes[id].expanded = false; });
    focused = 0; layout(); host.scrollTop = 0; draw();
  });

  layout();
  draw();
  if (root.child_count > 0) toggle(root.id);
  else say("This account has no children.");
})();
