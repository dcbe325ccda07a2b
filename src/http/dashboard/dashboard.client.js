// The dashboard: one EventSource, one snapshot a second, uPlot charts of the last five minutes.
(() => {
  "use strict";
  const KEEP = 300;
  const $ = (id) => document.getElementById(id);
  const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
  const fmt = (n, d = 0) => (n === null || n === undefined || Number.isNaN(n) ? "–" : Number(n).toLocaleString(undefined, { maximumFractionDigits: d }));
  const axis = { stroke: "#8a96a3", grid: { stroke: "#2a3340", width: 1 }, ticks: { stroke: "#2a3340" } };

  function chart(id, series, scales) {
    const el = $(id);
    const data = [[], ...series.map(() => [])];
    const opts = {
      width: el.clientWidth || 320,
      height: 170,
      scales: scales || {},
      axes: [axis, { ...axis, scale: series[0].scale || "y" }, ...(series.some((s) => s.scale === "r") ? [{ ...axis, scale: "r", side: 1, grid: { show: false } }] : [])],
      series: [{}, ...series.map((s) => ({ width: 2, points: { show: false }, ...s }))],
    };
    const u = new uPlot(opts, data, el);
    new ResizeObserver(() => u.setSize({ width: el.clientWidth, height: 170 })).observe(el);
    return {
      u,
      points: 0,
      push(t, values) {
        data[0].push(t);
        values.forEach((v, i) => data[i + 1].push(v));
        if (data[0].length > KEEP) data.forEach((a) => a.shift());
        this.points++;
        u.setData(data);
      },
    };
  }

  const charts = {
    qps: chart("chart-qps", [{ label: "queries/s", stroke: "#58a6ff" }, { label: "hit ratio %", stroke: "#3fb950", scale: "r" }], { r: { range: [0, 100] } }),
    latency: chart("chart-latency", [{ label: "p50", stroke: "#58a6ff" }, { label: "p99", stroke: "#d29922" }]),
    queue: chart("chart-queue", [{ label: "high", stroke: "#58a6ff" }, { label: "low", stroke: "#d29922" }]),
    discovery: chart("chart-discovery", [{ label: "discoveries/s", stroke: "#3fb950" }, { label: "avg ms", stroke: "#d29922", scale: "r" }]),
  };
  window.bunboundCharts = charts; // for tests and the curious

  const rows = (id, items, cells, narrowHidden = []) =>
    ($(id).innerHTML = items
      .map((x) => `<tr>${cells(x).map((c, i) => `<td${narrowHidden.includes(i) ? ' class="hide-narrow"' : ""}>${c}</td>`).join("")}</tr>`)
      .join(""));
  const state = (s, testid) => `<span class="state" data-state="${esc(s)}"${testid ? ` data-testid="${testid}"` : ""}>${esc(s)}</span>`;
  const kv = (pairs) => pairs.map(([k, v]) => `<span>${esc(k)} <b>${v}</b></span>`).join("");

  function render(s) {
    $("qps").textContent = fmt(s.qps);
    $("hit").textContent = s.hitRatio === null ? "–" : `${fmt(s.hitRatio * 100, 1)}%`;
    $("p50").textContent = `${fmt(s.p50ms, 2)} ms`;
    $("p99").textContent = `${fmt(s.p99ms, 2)} ms`;
    $("uptime").textContent = `${fmt(s.uptimeSeconds)} s`;
    charts.qps.push(s.t, [s.qps, s.hitRatio === null ? null : s.hitRatio * 100]);
    if (s.transports) $("transport-kv").innerHTML = kv(Object.entries(s.transports).map(([k, v]) => [k, fmt(v)]));
    charts.latency.push(s.t, [s.p50ms, s.p99ms]);
    rows("upstreams", s.upstreams, (u) => [esc(u.upstream), state(u.breaker, "upstream-breaker"), `${fmt(u.srttMs, 1)} ms`, fmt(u.queries), fmt(u.failures)]);
    $("recursion-section").hidden = !s.recursion;
    if (s.recursion) {
      const r = s.recursion;
      $("recursion-kv").innerHTML = kv([["questions", fmt(r.requests)], ["queries sent", fmt(r.queries)], ["per question", r.requests ? fmt(r.queries / r.requests, 2) : "–"], ["SERVFAIL", fmt(r.servfails)], ["servers known", fmt(r.servers)]]);
      rows("recursion-servers", r.top, (x) => [esc(x.server), x.heldDown ? state("held down", "server-held-down") : `${fmt(x.srttMs, 1)} ms`, fmt(x.queries), fmt(x.timeouts)]);
    }
    if (s.queue) {
      $("queue-kv").innerHTML = kv([["high", fmt(s.queue.high)], ["low", fmt(s.queue.low)], ["processed/s", fmt(s.queue.rate)], ["dropped", fmt(s.queue.dropped)]]);
      charts.queue.push(s.t, [s.queue.high, s.queue.low]);
    } else $("queue-kv").textContent = "client tracking is off";
    if (s.discovery) {
      const d = s.discovery;
      $("discovery-kv").innerHTML = kv([["breaker", state(d.breaker, "discovery-breaker")], ["named", fmt(d.succeeded)], ["failed", fmt(d.failed)], ["queued", fmt(d.queued)], ["workers", fmt(d.workers)], ["rate-limited", fmt(d.rateLimited)]]);
      charts.discovery.push(s.t, [d.rate, d.avgMs]);
    } else $("discovery-kv").textContent = "discovery is off";
    rows("tasks", Object.entries(s.tasks), ([k, v]) => [esc(k), fmt(v)]);
    rows("clients", s.topClients, (c) => [esc(c.ip), esc(c.name || "–"), esc((c.transports || []).join(" ")), fmt(c.queries)], [2]);
    rows("domains", s.topDomains, (d) => [esc(d.name), fmt(d.count)]);
    const dnssec = (q) => (q.ad ? "AD" : q.ede !== null && q.ede !== undefined ? `EDE ${q.ede}` : "–");
    rows("recent", s.recent, (q) => [esc(q.time.slice(11, 19)), esc(q.client), esc(q.qname), esc(q.qtype), esc(q.rcode), esc(dnssec(q)), esc(q.transport), fmt(q.ms, 2)], [0, 5, 6, 7]);
  }

  const conn = $("conn");
  const es = new EventSource("/api/events");
  es.onopen = () => {
    conn.dataset.state = "live";
    conn.textContent = "live";
  };
  es.onerror = () => {
    conn.dataset.state = "lost";
    conn.textContent = "reconnecting…";
  };
  es.onmessage = (ev) => render(JSON.parse(ev.data));
})();
