// Customer search: asks /api/customers?q= as the marketer types; the newest answer wins.
(function () {
  "use strict";

  function customerSearch() {
    return {
      q: "",
      results: [],
      searching: false,
      error: "",
      _controller: null,

      init() {
        this.q = this.$el.dataset.initialQuery || "";
        if (this.q) this.run();
      },

      nameOf(c) {
        const name = c.name || [c.first_name, c.last_name].filter(Boolean).join(" ");
        return name || c.email || "Customer #" + c.profile_id;
      },

      async run() {
        const q = this.q.trim();
        if (this._controller) this._controller.abort();
        if (!q) {
          this.results = [];
          this.error = "";
          return;
        }
        const controller = new AbortController();
        this._controller = controller;
        this.searching = true;
        try {
          const body = await Studio.api("/api/customers?q=" + encodeURIComponent(q), { signal: controller.signal });
          this.results = Array.isArray(body) ? body : body.customers || body.results || body.items || [];
          this.error = "";
        } catch (err) {
          if (err.name === "AbortError") return;
          this.results = [];
          this.error = err.message;
        } finally {
          if (this._controller === controller) this.searching = false;
        }
      },
    };
  }

  document.addEventListener("alpine:init", () => {
    window.Alpine.data("customerSearch", customerSearch);
  });
})();
