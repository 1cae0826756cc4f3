// The segment definition tree (segments/rules.py) as the builder holds it: JSON from and to the
// builder's nodes, new nodes, and the shapes of their values. No Alpine, no DOM: builder.js draws
// and edits these nodes.
//
// A NOT is a flag on a node here and a {"type": "not", "child": ...} wrapper in the JSON the API
// reads.
(function () {
  "use strict";

  const MEASURES = {
    count: "Number of orders", sum: "Total spend", first: "First purchase", last: "Last purchase",
  };
  const COUNT_OPS = { at_least: "at least", at_most: "at most", exactly: "exactly", never: "never" };
  const ACTIONS = {
    received: "Received", opened: "Opened", clicked: "Clicked",
    bounced: "Bounced", unsubscribed: "Unsubscribed from",
  };
  const NO_VALUE = ["is_set", "is_not_set", "is_true", "is_false"];
  const LIST_VALUE = ["in", "not_in"];
  const DAYS_VALUE = ["within_last", "not_within_last"];
  const NUMBER_OPS = ["eq", "ne", "gt", "gte", "lt", "lte", "between"];
  const DATE_OPS = ["before", "after", "between", "within_last", "not_within_last"];
  const STRING_OPS = ["eq", "ne", "in", "not_in", "contains", "starts_with"];
  const EVENT_COLUMNS = {
    product_id: "string", category: "string", brand: "string", price: "number",
    quantity: "number", cart_id: "string", order_id: "string", revenue: "number",
    campaign_id: "string",
  };
  const PURCHASE_FILTERS = [
    { key: "categories", label: "Category", list: true, source: "categories" },
    { key: "brands", label: "Brand", list: true, source: "brands" },
    { key: "products", label: "Product", list: true, source: "products" },
    { key: "promo_codes", label: "Promo code", list: true, source: "promo_codes" },
    { key: "with_promo", label: "Used a promo code", bool: true },
    { key: "channel", label: "Channel", choices: ["online", "store"] },
    { key: "discounted", label: "Discounted", bool: true },
    { key: "returned", label: "Returned", bool: true },
  ];

  let counter = 0;
  function newId() {
    counter += 1;
    return "n" + counter;
  }

  function defaultWindow() {
    return { kind: "ever", days: null, start: null, end: null };
  }

  // JSON from the API -> the builder's nodes (every node gets an id and a negate flag).
  function fromJson(json, negate) {
    if (!json) return group("and");
    if (json.type === "not") return fromJson(json.child, !negate);
    const node = JSON.parse(JSON.stringify(json));
    node.id = node.id || newId();
    node.negate = Boolean(negate);
    if (node.type === "group") node.children = (json.children || []).map((c) => fromJson(c, false));
    if ("window" in node || ["purchase", "event", "sequence", "engagement"].includes(node.type)) {
      node.window = Object.assign(defaultWindow(), node.window || {});
    }
    if (node.type === "purchase") {
      node.valueType = node.measure === "first" || node.measure === "last" ? "date" : "number";
      const f = node.filters || {};
      node.filters = Object.assign(
        { categories: [], brands: [], products: [], promo_codes: [], with_promo: null,
          channel: null, discounted: null, returned: null }, f);
      node.shown = PURCHASE_FILTERS.filter((d) => {
        const v = node.filters[d.key];
        return Array.isArray(v) ? v.length > 0 : v !== null && v !== undefined;
      }).map((d) => d.key);
    }
    return node;
  }

  function cleanWindow(w) {
    if (!w || w.kind === "ever") return { kind: "ever" };
    if (w.kind === "last_days") return { kind: "last_days", days: toNumber(w.days) };
    return { kind: "between", start: w.start || null, end: w.end || null };
  }

  function toNumber(v) {
    if (v === "" || v === null || v === undefined) return null;
    const n = Number(v);
    return Number.isNaN(n) ? v : n;
  }

  // The builder's nodes -> the definition JSON the API validates (see rules.py).
  function toJson(node, owners) {
    let out;
    switch (node.type) {
      case "group":
        out = { type: "group", id: node.id, op: node.op, children: node.children.map((c) => toJson(c, owners)) };
        break;
      case "trait":
      case "prediction":
        out = { type: node.type, id: node.id, field: node.field, op: node.op, value: cleanValue(node) };
        break;
      case "purchase": {
        const filters = {};
        for (const d of PURCHASE_FILTERS) {
          if (!node.shown.includes(d.key)) continue;
          const v = node.filters[d.key];
          if (Array.isArray(v) ? v.length : v !== null && v !== undefined && v !== "") filters[d.key] = v;
        }
        out = { type: "purchase", id: node.id, measure: node.measure, op: node.op,
                value: cleanValue(node), filters, window: cleanWindow(node.window) };
        break;
      }
      case "event":
        out = { type: "event", id: node.id, event: node.event, where: (node.where || []).map(cleanFilter),
                count_op: node.count_op, count: node.count_op === "never" ? 0 : toNumber(node.count),
                window: cleanWindow(node.window) };
        break;
      case "sequence":
        out = { type: "sequence", id: node.id,
                did: { event: node.did.event, where: (node.did.where || []).map(cleanFilter) },
                not_after: { event: node.not_after.event, where: (node.not_after.where || []).map(cleanFilter) },
                window: cleanWindow(node.window) };
        break;
      case "engagement":
        out = { type: "engagement", id: node.id, action: node.action, campaign_id: node.campaign_id || null,
                count_op: node.count_op, count: node.count_op === "never" ? 0 : toNumber(node.count),
                window: cleanWindow(node.window) };
        break;
      case "segment":
        out = { type: "segment", id: node.id, segment_id: toNumber(node.segment_id), op: node.op };
        break;
      case "bucket":
        out = { type: "bucket", id: node.id, start: toNumber(node.start), end: toNumber(node.end), salt: node.salt || "" };
        break;
      default:
        out = { type: node.type, id: node.id };
    }
    if (owners) owners.set(out, node.id);
    if (node.negate) {
      const wrapper = { type: "not", child: out };
      if (owners) owners.set(wrapper, node.id);
      return wrapper;
    }
    return out;
  }

  function cleanFilter(f) {
    return { property: f.property, op: f.op, value: NO_VALUE.includes(f.op) ? null : scalarOrList(f.value, f.op, f.type) };
  }

  function scalarOrList(value, op, type) {
    if (LIST_VALUE.includes(op)) return Array.isArray(value) ? value : value ? [value] : [];
    if (op === "between") return Array.isArray(value) ? value.map((v) => (type === "number" ? toNumber(v) : v)) : [null, null];
    if (DAYS_VALUE.includes(op) || type === "number") return toNumber(value);
    return value;
  }

  function group(op) {
    return { id: newId(), type: "group", op: op || "and", children: [], negate: false };
  }

  function defaultOp(field) {
    if (field.choices && field.choices.length) return "in";
    return { number: "gte", string: "eq", boolean: "is_true", date: "within_last",
             timestamp: "within_last", list: "contains" }[field.type] || field.operators[0];
  }

  function emptyValue(type, op) {
    if (NO_VALUE.includes(op)) return null;
    if (LIST_VALUE.includes(op)) return [];
    if (op === "between") return ["", ""];
    if (DAYS_VALUE.includes(op)) return 30;
    return "";
  }

  function cleanValue(node) {
    return scalarOrList(node.value, node.op, node.valueType || null);
  }
  // ----- new nodes, as the field menu makes them -----
  function traitNode(type, f) {
    const op = defaultOp(f);
    return { id: newId(), type, field: f.key, op, value: emptyValue(f.type, op), negate: false, valueType: f.type };
  }
  function purchaseNode(measure) {
    const dated = measure === "first" || measure === "last";
    return {
      id: newId(), type: "purchase", measure, op: dated ? "within_last" : "gte", value: dated ? 30 : 1,
      valueType: dated ? "date" : "number",
      filters: { categories: [], brands: [], products: [], promo_codes: [], with_promo: null, channel: null, discounted: null, returned: null },
      shown: [], window: defaultWindow(), negate: false,
    };
  }
  function eventNode() {
    return { id: newId(), type: "event", event: "", where: [], count_op: "at_least", count: 1, window: defaultWindow(), negate: false };
  }
  function sequenceNode() {
    return { id: newId(), type: "sequence", did: { event: "Product Added", where: [] }, not_after: { event: "Order Completed", where: [] },
             window: { kind: "last_days", days: 7, start: null, end: null }, negate: false };
  }
  function engagementNode(action) {
    return { id: newId(), type: "engagement", action, campaign_id: "", count_op: "at_least", count: 1,
             window: { kind: "last_days", days: 90, start: null, end: null }, negate: false };
  }
  // The first of the other saved segments is picked until the marketer chooses.
  function segmentNode(segments) {
    return { id: newId(), type: "segment", op: "in", segment_id: segments.length ? segments[0].id : "", negate: false };
  }
  function bucketNode() {
    return { id: newId(), type: "bucket", start: 0, end: 10, salt: "", negate: false };
  }

  window.SegmentDefinition = {
    MEASURES, COUNT_OPS, ACTIONS, NO_VALUE, LIST_VALUE, DAYS_VALUE, NUMBER_OPS, DATE_OPS, STRING_OPS,
    EVENT_COLUMNS, PURCHASE_FILTERS,
    fromJson, toJson, group, emptyValue,
    traitNode, purchaseNode, eventNode, sequenceNode, engagementNode, segmentNode, bucketNode,
  };
})();
