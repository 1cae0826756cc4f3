// Lifetide Studio: helpers every page uses (JSON calls with the CSRF header, formatting).
(function () {
  "use strict";

  function csrfToken() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  class ApiError extends Error {
    constructor(status, body) {
      super(ApiError.message(status, body));
      this.status = status;
      this.body = body;
    }

    static message(status, body) {
      const detail = body && body.detail;
      if (typeof detail === "string") return detail;
      if (Array.isArray(detail) && detail.length) {
        return detail.map((d) => d.msg || String(d)).join("; ");
      }
      if (detail && typeof detail === "object" && detail.message) return detail.message;
      if (status === 401) return "Your session has ended: sign in again.";
      if (status === 403) return "You are not allowed to do that.";
      return "Something went wrong (HTTP " + status + ").";
    }
  }

  // fetch() for our JSON API: sends the CSRF header on writes, throws ApiError on failure.
  async function api(url, options) {
    const opts = Object.assign({ method: "GET" }, options || {});
    const headers = Object.assign({ Accept: "application/json" }, opts.headers || {});
    if (opts.json !== undefined) {
      headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(opts.json);
      delete opts.json;
    }
    if (opts.method !== "GET" && opts.method !== "HEAD") headers["X-CSRF-Token"] = csrfToken();
    opts.headers = headers;
    opts.credentials = "same-origin";
    const response = await fetch(url, opts);
    const text = await response.text();
    let body = null;
    try {
      body = text ? JSON.parse(text) : null;
    } catch (err) {
      body = { detail: text };
    }
    if (!response.ok) throw new ApiError(response.status, body);
    return body;
  }

  const numberFormat = new Intl.NumberFormat("en-US");
  function number(n, digits) {
    if (n === null || n === undefined || Number.isNaN(n)) return "—";
    if (digits) return n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
    return numberFormat.format(Math.round(n));
  }
  function percent(share, digits) {
    if (share === null || share === undefined || Number.isNaN(share)) return "—";
    return (share * 100).toFixed(digits === undefined ? 1 : digits) + "%";
  }
  function money(n) {
    if (n === null || n === undefined || Number.isNaN(n)) return "—";
    return "$" + Number(n).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  }
  function compactMoney(n) {
    if (n === null || n === undefined || Number.isNaN(n)) return "—";
    const abs = Math.abs(n);
    if (abs >= 1e6) return "$" + (n / 1e6).toFixed(2) + "M";
    if (abs >= 1e3) return "$" + (n / 1e3).toFixed(1).replace(/\.0$/, "") + "k";
    return "$" + Math.round(n);
  }
  function label(key) {
    if (key === null || key === undefined || key === "") return "Unknown";
    const text = String(key).replace(/_/g, " ");
    return text.charAt(0).toUpperCase() + text.slice(1);
  }
  function jsonData(id) {
    const el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  window.Studio = { api, ApiError, csrfToken, number, percent, money, compactMoney, label, jsonData };
})();
