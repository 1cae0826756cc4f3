// The segment page: insights as charts (Chart.js), overlap, CSV export and pushes.
(function () {
  "use strict";

  const PALETTE = ["#6366f1", "#22d3ee", "#f59e0b", "#10b981", "#ec4899", "#8b5cf6", "#14b8a6", "#f97316", "#94a3b8"];
  const STAGE_COLORS = {
    never_purchased: "#cbd5e1", new: "#22d3ee", active: "#6366f1", loyal: "#10b981",
    at_risk: "#f59e0b", lapsed: "#f97316", churned: "#ef4444", unscored: "#e2e8f0",
  };
  const charts = {};

  function chartDefaults() {
    if (!window.Chart) return false;
    const C = window.Chart;
    C.defaults.font.family = getComputedStyle(document.body).fontFamily;
    C.defaults.font.size = 12;
    C.defaults.color = "#4a5268";
    C.defaults.plugins.legend.labels.boxWidth = 10;
    C.defaults.plugins.legend.labels.boxHeight = 10;
    C.defaults.plugins.legend.labels.usePointStyle = true;
    C.defaults.maintainAspectRatio = false;
    C.defaults.animation.duration = 450;
    return true;
  }

  function draw(id, config) {
    const canvas = document.getElementById(id);
    if (!canvas || !window.Chart) return;
    if (charts[id]) charts[id].destroy();
    charts[id] = new window.Chart(canvas, config);
  }

  function doughnut(id, items, colors) {
    const shown = items.filter((i) => i.count > 0);
    draw(id, {
      type: "doughnut",
      data: {
        labels: shown.map((i) => Studio.label(i.key)),
        datasets: [{
          data: shown.map((i) => i.count),
          backgroundColor: shown.map((i, n) => (colors && colors[i.key]) || PALETTE[n % PALETTE.length]),
          borderWidth: 2, borderColor: "#fff", hoverOffset: 6,
        }],
      },
      options: {
        cutout: "64%",
        plugins: {
          legend: { position: "right" },
          tooltip: { callbacks: { label: (ctx) => " " + ctx.label + ": " + Studio.number(ctx.raw) + " (" + Studio.percent(shown[ctx.dataIndex].share) + ")" } },
        },
      },
    });
  }

  function bars(id, items, valueOf, format, color, tick) {
    draw(id, {
      type: "bar",
      data: {
        labels: items.map((i) => Studio.label(i.key)),
        datasets: [{ data: items.map(valueOf), backgroundColor: color, borderRadius: 5, barThickness: 16 }],
      },
      options: {
        indexAxis: "y",
        plugins: { legend: { display: false }, tooltip: { callbacks: { label: (ctx) => " " + format(ctx.raw) } } },
        scales: {
          x: { grid: { color: "#eef0f4" }, border: { display: false }, ticks: { callback: (v) => (tick || format)(v), maxTicksLimit: 5 } },
          y: { grid: { display: false }, border: { display: false } },
        },
      },
    });
  }

  function segmentPage() {
    const boot = Studio.jsonData("segment-data") || {};
    return {
      segmentId: boot.segment_id,
      canExport: Boolean(boot.can_export),
      insights: null,
      insightsError: "",
      compare: "",
      columns: [],
      destinations: boot.destinations || [],
      destination: "",
      pushing: false,
      pushMessage: "",
      pushError: "",

      init() {
        this.columns = Array.from(document.querySelectorAll('.columns-grid input:checked')).map((el) => el.value);
        this.loadInsights();
      },

      async loadInsights() {
        const url = "/api/segments/" + this.segmentId + "/insights" + (this.compare ? "?compare=" + encodeURIComponent(this.compare) : "");
        try {
          this.insights = await Studio.api(url);
          this.insightsError = "";
          this.$nextTick(() => this.drawCharts());
        } catch (err) {
          this.insightsError = "Insights are not available: " + err.message;
        }
      },

      drawCharts() {
        if (!chartDefaults()) {
          this.insightsError = "Charts need the front-end packages: run scripts/setup.";
          return;
        }
        const data = this.insights;
        doughnut("chart-lifecycle", data.lifecycle, STAGE_COLORS);
        doughnut("chart-channels", data.channels, { online: "#6366f1", store: "#22d3ee" });
        bars("chart-categories", data.top_categories, (i) => i.spend, Studio.compactMoney, "#6366f1");
        bars("chart-brands", data.top_brands, (i) => i.spend, Studio.compactMoney, "#22d3ee");
        const promo = data.promo;
        const codes = promo.top_codes.length ? promo.top_codes : [];
        // Promo codes are shown as typed (SUMMER15), not as labels.
        bars("chart-promo", codes.map((c) => ({ key: c.key, count: c.count })), (i) => i.count,
             (v) => Studio.number(v) + " orders", "#f59e0b", (v) => Studio.number(v));
        const promoChart = charts["chart-promo"];
        if (promoChart) {
          promoChart.data.labels = codes.map((c) => c.key);
          promoChart.update();
        }
      },

      exportUrl() {
        const params = new URLSearchParams();
        if (this.columns.length) params.set("columns", this.columns.join(","));
        return "/api/segments/" + this.segmentId + "/export.csv" + (params.toString() ? "?" + params.toString() : "");
      },

      async push() {
        if (!this.destination) return;
        this.pushing = true;
        this.pushError = "";
        this.pushMessage = "Pushing…";
        try {
          const body = await Studio.api("/api/segments/" + this.segmentId + "/push", { method: "POST", json: { destination_id: Number(this.destination) } });
          this.pushMessage = "Sent" + (body && body.status ? " (" + body.status + ")" : "") + ".";
        } catch (err) {
          this.pushMessage = "";
          this.pushError = err.message;
        } finally {
          this.pushing = false;
        }
      },
    };
  }

  document.addEventListener("alpine:init", () => {
    window.Alpine.data("segmentPage", segmentPage);
  });
})();
