// The dashboards: fetch the figures, draw them, fetch again every few seconds (live), and
// keep the chosen time range in the address so a page can be shared or reloaded.
(function () {
  "use strict";

  const COLORS = { current: "#6366f1", previous: "#c7d2fe", revenue: "#10b981", arms: ["#94a3b8", "#6366f1", "#22d3ee", "#f59e0b", "#ec4899"] };
  const charts = {};

  function draw(id, config) {
    const canvas = document.getElementById(id);
    if (!canvas || !window.Chart) return;
    const existing = charts[id];
    if (existing && existing.config.type === config.type) {
      // Update in place: a live refresh must not flash the chart.
      existing.data.labels = config.data.labels;
      existing.data.datasets.forEach((set, i) => { set.data = config.data.datasets[i].data; });
      existing.update("none");
      return;
    }
    if (existing) existing.destroy();
    window.Chart.defaults.maintainAspectRatio = false;
    window.Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    charts[id] = new window.Chart(canvas, config);
  }

  function queryOf() {
    const params = new URLSearchParams(window.location.search);
    const query = {};
    for (const name of ["range", "start", "end"]) if (params.get(name)) query[name] = params.get(name);
    return query;
  }

  function signed(value, text) {
    if (value === null || value === undefined) return "—";
    return (value > 0 ? "+" : value < 0 ? "−" : "") + text(Math.abs(value));
  }

  // What every dashboard component shares: fetching, refreshing, the range, formatting.
  function base(source, refreshSeconds) {
    return {
      source,
      data: null,
      error: "",
      updated: "",
      query: queryOf(),
      start: "",
      end: "",
      timer: null,
      init() {
        this.start = this.query.start || "";
        this.end = this.query.end || "";
        this.load();
        this.timer = setInterval(() => { if (!document.hidden) this.load(); }, refreshSeconds * 1000);
      },
      url(extra) {
        const params = new URLSearchParams(Object.assign({}, this.query, extra || {}));
        const text = params.toString();
        return this.source + (text ? "?" + text : "");
      },
      csv(chart) { return this.url({ format: "csv", chart }); },
      async load() {
        try {
          const data = await Studio.api(this.url());
          this.data = data;
          this.error = "";
          this.updated = new Date().toLocaleTimeString();
          this.$nextTick(() => this.drawCharts());
        } catch (err) {
          this.error = err.message;
        }
      },
      pick(range) {
        this.query = range === "all" ? {} : { range };
        this.start = this.end = "";
        this.navigate();
      },
      pickDates() {
        if (!this.start || !this.end) return;
        this.query = { start: this.start, end: this.end };
        this.navigate();
      },
      navigate() {
        const params = new URLSearchParams(this.query).toString();
        window.history.replaceState(null, "", window.location.pathname + (params ? "?" + params : ""));
        this.data = null;
        this.load();
      },
      rows(chart) { return this.data && this.data.charts[chart] ? this.data.charts[chart].rows : []; },
      number: (n) => Studio.number(n),
      // The sign before the currency: −$12.71, not $-12.71.
      money: (n) => (typeof n === "number" && n < 0 ? "−" + Studio.money(-n) : Studio.money(n)),
      percent: (n, d) => Studio.percent(n, d),
      label: (k) => Studio.label(k),
      signedMoney: (n) => signed(n, Studio.money),
      signedPercent: (n) => signed(n, (v) => Studio.percent(v, 1)),
      signedPoints: (n) => signed(n, (v) => (v * 100).toFixed(2) + " pts"),
    };
  }

  function board(source, refreshSeconds) {
    return Object.assign(base(source, refreshSeconds), {
      kpi(name) { return this.data ? this.data.kpis[name].current : null; },
      prev(name) { return this.data ? this.data.kpis[name].previous : null; },
      change(name) {
        const value = this.data ? this.data.kpis[name].change : null;
        if (value === null || value === undefined) return '<span class="muted">—</span>';
        const cls = value >= 0 ? "up" : "down";
        return '<span class="' + cls + '">' + signed(value, (v) => Studio.percent(v, 1)) + "</span>";
      },
      interval(kpi, format, words) {
        if (!kpi || kpi.low === null || kpi.low === undefined) return "no holdout to compare with yet";
        return format(kpi.low) + " to " + format(kpi.high) + " " + words;
      },
      ofSent(row) {
        const sent = this.rows("funnel")[0];
        return sent && sent[1] ? Studio.percent(row[1] / sent[1], 1) : "—";
      },
      drawCharts() {
        const funnel = this.rows("funnel").slice(0, 5);
        draw("chart-funnel", {
          type: "bar",
          data: {
            labels: funnel.map((r) => Studio.label(r[0])),
            datasets: [
              { label: "This period", data: funnel.map((r) => r[1]), backgroundColor: COLORS.current, borderRadius: 4 },
              { label: "Before", data: funnel.map((r) => r[2]), backgroundColor: COLORS.previous, borderRadius: 4 },
            ],
          },
          options: { plugins: { legend: { position: "bottom" } }, scales: { y: { beginAtZero: true } } },
        });
        const days = this.rows("daily");
        draw("chart-daily", {
          type: "line",
          data: {
            labels: days.map((r) => r[0]),
            datasets: [{ label: "Attributed revenue", data: days.map((r) => r[2]), borderColor: COLORS.revenue, backgroundColor: "rgba(16,185,129,.12)", fill: true, tension: 0.25, pointRadius: days.length > 40 ? 0 : 2 }],
          },
          options: { plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true, ticks: { callback: (v) => Studio.compactMoney(v) } } } },
        });
      },
    });
  }

  function experiment(source, refreshSeconds) {
    return Object.assign(base(source, refreshSeconds), {
      comparisons() {
        const outcome = this.data ? this.data.outcomes.find((o) => o.kind === "conversion") : null;
        return outcome ? outcome.comparisons : [];
      },
      verdict() {
        if (!this.data) return "—";
        const all = this.comparisons();
        if (!all.length) return "not enough data";
        return all.map((c) => c.verdict).join("; ");
      },
      verdictText() {
        const all = this.comparisons();
        return all.length ? all.map((c) => c.verdict_text).join(" ") : "";
      },
      totalCustomers() {
        return this.data ? Object.values(this.data.customers).reduce((a, b) => a + b, 0) : null;
      },
      srmText() {
        const srm = this.data && this.data.sample_ratio;
        if (!srm) return "";
        return srm.mismatch ? "sample-ratio mismatch (p = " + srm.p_value.toPrecision(2) + ")" : "arm sizes match their weights (p = " + srm.p_value.toPrecision(2) + ")";
      },
      drawCharts() {
        const arms = this.rows("arms").filter((r) => r[6] !== null);
        draw("chart-arms", {
          type: "bar",
          data: {
            labels: arms.map((r) => r[0]),
            datasets: [{ label: "Revenue per customer", data: arms.map((r) => r[6]), backgroundColor: arms.map((r, i) => COLORS.arms[i % COLORS.arms.length]), borderRadius: 4 }],
          },
          options: { indexAxis: "y", plugins: { legend: { display: false } }, scales: { x: { beginAtZero: true, ticks: { callback: (v) => Studio.money(v) } } } },
        });
      },
    });
  }

  window.Dashboard = { board, experiment };
})();
