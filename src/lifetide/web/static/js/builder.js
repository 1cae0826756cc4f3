// The segment builder: an Alpine.js component holding a definition tree (segments/rules.py).
//
// The tree is drawn as a flat list of rows (group header, conditions, group footer) indented by
// depth, because Alpine templates cannot recurse. A NOT is a flag on a node here and a
// {"type": "not", "child": ...} wrapper in the JSON the API reads.
(function () {
  "use strict";

  const GROUP_ICONS = {
    Profile: "user", Purchases: "bag", Behaviour: "bolt",
    Predictions: "spark", Engagement: "mail", Segments: "layers",
  };
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
  const REFRESH_CHOICES = [
    [15, "Every 15 minutes"], [60, "Every hour"], [360, "Every 6 hours"],
    [1440, "Every day"], [0, "Only when I refresh it"],
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

  function builder() {
    const boot = Studio.jsonData("builder-data") || {};
    return {
      segmentId: boot.segment_id || null,
      readonly: Boolean(boot.readonly),
      name: boot.name || "",
      description: boot.description || "",
      refreshMinutes: boot.refresh_minutes === null || boot.refresh_minutes === undefined ? 60 : boot.refresh_minutes,
      refreshChoices: REFRESH_CHOICES,
      root: fromJson(boot.definition ? boot.definition.root : null, false),
      catalog: null,
      catalogError: "",
      segments: [],
      count: null,
      counting: false,
      countError: "",
      errors: {},
      menu: null,
      saving: false,
      saveError: "",
      suggestions: {},
      measures: MEASURES,
      countOps: COUNT_OPS,
      actions: ACTIONS,
      purchaseFilters: PURCHASE_FILTERS,
      eventColumns: Object.keys(EVENT_COLUMNS),
      _timer: null,
      _controller: null,
      _seq: 0,

      async init() {
        this.root.op = this.root.op || "and";
        this.$watch("root", () => this.changed());
        try {
          const [catalog, segments] = await Promise.all([
            Studio.api("/api/segments/fields"),
            Studio.api("/api/segments").catch(() => []),
          ]);
          this.catalog = catalog;
          const list = Array.isArray(segments) ? segments : segments.segments || segments.items || [];
          this.segments = list.filter((s) => s.id !== this.segmentId);
          this.annotate(this.root);
        } catch (err) {
          this.catalogError = "Could not load the field catalog: " + err.message;
        }
        this.runCount();
      },

      // ----- the tree as rows -----
      get rows() {
        const rows = [];
        const walk = (node, depth, parent) => {
          if (node.type === "group") {
            rows.push({ key: node.id + ":open", kind: "open", node, depth, parent });
            node.children.forEach((child, i) => {
              if (i > 0) rows.push({ key: child.id + ":join", kind: "join", node, depth: depth + 1 });
              walk(child, depth + 1, node);
            });
            if (!node.children.length) rows.push({ key: node.id + ":empty", kind: "empty", node, depth: depth + 1 });
            rows.push({ key: node.id + ":close", kind: "close", node, depth: depth + 1, parent });
          } else {
            rows.push({ key: node.id + ":cond", kind: "cond", node, depth, parent });
          }
        };
        walk(this.root, 0, null);
        return rows;
      },
      indent(row) {
        return "--depth:" + row.depth;
      },

      // ----- catalog -----
      fieldsOf(groupName) {
        if (!this.catalog) return [];
        switch (groupName) {
          case "Profile":
            return this.catalog.profile.map((f) => ({ key: "trait:" + f.key, label: f.label, hint: f.description, make: () => this.traitNode("trait", f) }));
          case "Predictions":
            return (this.catalog.predictions || []).map((f) => ({ key: "prediction:" + f.key, label: f.label, hint: f.description, make: () => this.traitNode("prediction", f) }));
          case "Purchases":
            return Object.entries(MEASURES).map(([measure, label]) => ({
              key: "purchase:" + measure, label,
              hint: { count: "How many orders, filtered by category, brand, promo...", sum: "Net spend on the matching purchases",
                      first: "When the first matching purchase was", last: "When the latest matching purchase was" }[measure],
              make: () => this.purchaseNode(measure),
            }));
          case "Behaviour":
            return [
              { key: "event", label: "Performed an event", hint: "Product Viewed, Product Added... n times or never", make: () => this.eventNode() },
              { key: "sequence", label: "Did one thing and not another since", hint: "e.g. added to cart and has not ordered since", make: () => this.sequenceNode() },
            ];
          case "Engagement":
            return Object.entries(ACTIONS).map(([action, label]) => ({
              key: "engagement:" + action, label: label + " an e-mail", hint: "Any campaign or one campaign, n times or never",
              make: () => this.engagementNode(action),
            }));
          case "Segments":
            return [
              { key: "segment", label: "In another segment", hint: "Members of a saved segment (or not)", make: () => this.segmentNode() },
              { key: "bucket", label: "Random bucket", hint: "A stable random share, e.g. a 10% holdout", make: () => this.bucketNode() },
            ];
          default:
            return [];
        }
      },
      get groups() {
        return (this.catalog && this.catalog.groups) || Object.keys(GROUP_ICONS);
      },
      groupIcon(g) {
        return GROUP_ICONS[g] || "circle";
      },
      menuFields() {
        if (!this.menu) return [];
        const q = this.menu.q.trim().toLowerCase();
        const groups = q ? this.groups : [this.menu.tab];
        const out = [];
        for (const g of groups) {
          for (const f of this.fieldsOf(g)) {
            if (!q || f.label.toLowerCase().includes(q) || (f.hint || "").toLowerCase().includes(q)) out.push(Object.assign({ group: g }, f));
          }
        }
        return out;
      },
      spec(node) {
        if (!this.catalog || !node.field) return null;
        const list = node.type === "trait" ? this.catalog.profile : this.catalog.predictions || [];
        return list.find((f) => f.key === node.field) || null;
      },
      annotate(node) {
        if (node.type === "group") node.children.forEach((c) => this.annotate(c));
        if (node.type === "trait" || node.type === "prediction") {
          const spec = this.spec(node);
          node.valueType = spec ? spec.type : null;
        }
      },
      kindOf(node) {
        return { trait: "Profile", prediction: "Predictions", purchase: "Purchases", event: "Behaviour",
                 sequence: "Behaviour", engagement: "Engagement", segment: "Segments", bucket: "Segments" }[node.type] || "Profile";
      },
      title(node) {
        if (node.type === "trait" || node.type === "prediction") {
          const spec = this.spec(node);
          return spec ? spec.label : node.field;
        }
        return { purchase: "Purchases", event: "Event", sequence: "Sequence", engagement: "E-mail engagement",
                 segment: "Segment membership", bucket: "Random bucket" }[node.type] || node.type;
      },
      opLabel(op) {
        const labels = (this.catalog && this.catalog.operator_labels) || {};
        return labels[op] || op.replace(/_/g, " ");
      },

      // ----- new nodes -----
      traitNode(type, f) {
        const op = defaultOp(f);
        return { id: newId(), type, field: f.key, op, value: emptyValue(f.type, op), negate: false, valueType: f.type };
      },
      purchaseNode(measure) {
        const dated = measure === "first" || measure === "last";
        return {
          id: newId(), type: "purchase", measure, op: dated ? "within_last" : "gte", value: dated ? 30 : 1,
          valueType: dated ? "date" : "number",
          filters: { categories: [], brands: [], products: [], promo_codes: [], with_promo: null, channel: null, discounted: null, returned: null },
          shown: [], window: defaultWindow(), negate: false,
        };
      },
      eventNode() {
        return { id: newId(), type: "event", event: "", where: [], count_op: "at_least", count: 1, window: defaultWindow(), negate: false };
      },
      sequenceNode() {
        return { id: newId(), type: "sequence", did: { event: "Product Added", where: [] }, not_after: { event: "Order Completed", where: [] },
                 window: { kind: "last_days", days: 7, start: null, end: null }, negate: false };
      },
      engagementNode(action) {
        return { id: newId(), type: "engagement", action, campaign_id: "", count_op: "at_least", count: 1,
                 window: { kind: "last_days", days: 90, start: null, end: null }, negate: false };
      },
      segmentNode() {
        return { id: newId(), type: "segment", op: "in", segment_id: this.segments.length ? this.segments[0].id : "", negate: false };
      },
      bucketNode() {
        return { id: newId(), type: "bucket", start: 0, end: 10, salt: "", negate: false };
      },

      // ----- editing -----
      openMenu(groupNode) {
        if (this.readonly) return;
        this.menu = this.menu && this.menu.groupId === groupNode.id ? null : { groupId: groupNode.id, tab: this.groups[0], q: "" };
        if (this.menu) this.$nextTick(() => { const el = document.querySelector(".menu-search input"); if (el) el.focus(); });
      },
      // The click that opened the menu also reaches the document: it must not close it.
      closeMenu(event) {
        if (event && event.target.closest && event.target.closest(".add-row")) return;
        this.menu = null;
      },
      pick(groupNode, entry) {
        groupNode.children.push(entry.make());
        this.menu = null;
      },
      addGroup(groupNode) {
        const g = group(groupNode.op === "and" ? "or" : "and");
        groupNode.children.push(g);
        this.menu = { groupId: g.id, tab: this.groups[0], q: "" };
      },
      remove(parent, node) {
        if (!parent) return;
        parent.children.splice(parent.children.indexOf(node), 1);
        delete this.errors[node.id];
      },
      setOp(groupNode, op) {
        groupNode.op = op;
      },
      toggleNot(node) {
        node.negate = !node.negate;
      },
      opsFor(node) {
        const spec = this.spec(node);
        if (!spec) return [];
        return spec.operators;
      },
      purchaseOps(node) {
        return node.measure === "first" || node.measure === "last" ? DATE_OPS : NUMBER_OPS;
      },
      onMeasure(node) {
        const dated = node.measure === "first" || node.measure === "last";
        node.valueType = dated ? "date" : "number";
        if (!this.purchaseOps(node).includes(node.op)) node.op = dated ? "within_last" : "gte";
        node.value = dated ? 30 : 1;
      },
      onOp(node) {
        node.value = emptyValue(node.valueType, node.op);
      },
      valueKind(node) {
        const op = node.op;
        if (NO_VALUE.includes(op)) return "none";
        if (DAYS_VALUE.includes(op)) return "days";
        const spec = node.type === "purchase" ? null : this.spec(node);
        const type = node.valueType || (spec && spec.type) || "string";
        const choices = spec && spec.choices && spec.choices.length;
        if (LIST_VALUE.includes(op)) return choices ? "choices" : "chips";
        if (op === "between") return type === "number" ? "number-pair" : "date-pair";
        if (choices && (op === "eq" || op === "ne")) return "choice";
        if (type === "number") return "number";
        if (type === "date" || type === "timestamp") return "date";
        return "text";
      },
      unit(node) {
        if (node.type === "purchase") return node.measure === "sum" ? "$" : "";
        const spec = this.spec(node);
        return spec ? spec.unit : "";
      },
      choicesOf(node) {
        const spec = this.spec(node);
        return spec ? spec.choices : [];
      },
      toggleChoice(node, value) {
        if (!Array.isArray(node.value)) node.value = [];
        const i = node.value.indexOf(value);
        if (i >= 0) node.value.splice(i, 1);
        else node.value.push(value);
      },
      addChip(list, event) {
        const input = event.target;
        const value = input.value.trim();
        if (value && !list.includes(value)) list.push(value);
        input.value = "";
      },
      removeChip(list, value) {
        list.splice(list.indexOf(value), 1);
      },
      showFilter(node, key) {
        if (key && !node.shown.includes(key)) node.shown.push(key);
      },
      hideFilter(node, key) {
        node.shown.splice(node.shown.indexOf(key), 1);
        const d = PURCHASE_FILTERS.find((x) => x.key === key);
        node.filters[key] = d.list ? [] : null;
      },
      filterDef(key) {
        return PURCHASE_FILTERS.find((d) => d.key === key);
      },
      hiddenFilters(node) {
        return PURCHASE_FILTERS.filter((d) => !node.shown.includes(d.key));
      },
      addWhere(spec) {
        spec.where.push({ property: "category", op: "eq", value: "", type: "string" });
      },
      whereOps(f) {
        f.type = EVENT_COLUMNS[f.property] || (typeof f.value === "number" ? "number" : "string");
        return f.type === "number" ? NUMBER_OPS : STRING_OPS.concat(["is_set", "is_not_set"]);
      },

      // ----- suggestions -----
      suggestKey(source, field) {
        return source + "|" + (field || "");
      },
      suggested(source, field) {
        return this.suggestions[this.suggestKey(source, field)] || [];
      },
      async suggest(source, field, prefix) {
        if (!source) return;
        const key = this.suggestKey(source, field);
        const params = new URLSearchParams({ source, prefix: prefix || "", limit: "30" });
        if (field) params.set("field", field);
        try {
          const body = await Studio.api("/api/segments/suggestions?" + params.toString());
          const values = Array.isArray(body) ? body : body.suggestions || body.values || [];
          this.suggestions[key] = values.map((v) => (typeof v === "string" ? v : v.value));
        } catch (err) {
          this.suggestions[key] = [];
        }
      },
      sourceOf(node) {
        const spec = this.spec(node);
        return spec ? spec.suggest : null;
      },
      listId(node, part) {
        return "dl-" + node.id + "-" + (part || "v");
      },

      // ----- the live count -----
      changed() {
        clearTimeout(this._timer);
        this._timer = setTimeout(() => this.runCount(), 300);
      },
      definition(owners) {
        return { root: toJson(this.root, owners) };
      },
      async runCount() {
        if (this._controller) this._controller.abort();
        const controller = new AbortController();
        this._controller = controller;
        const seq = ++this._seq;
        const owners = new Map();
        const definition = this.definition(owners);
        this.counting = true;
        try {
          const body = await Studio.api("/api/segments/count", { method: "POST", json: { definition }, signal: controller.signal });
          if (seq !== this._seq) return;
          this.count = body;
          this.errors = {};
          this.countError = "";
        } catch (err) {
          if (err.name === "AbortError" || seq !== this._seq) return;
          this.errors = {};
          // The last count was of another definition: showing it would mislead.
          this.count = null;
          if (err.status === 422) {
            this.placeErrors(err.body, definition, owners);
          } else {
            this.countError = err.message;
          }
        } finally {
          if (seq === this._seq) this.counting = false;
        }
      },
      placeErrors(body, definition, owners) {
        const detail = body && Array.isArray(body.detail) ? body.detail : [];
        const loose = [];
        for (const problem of detail) {
          const id = this.nodeAt(problem.loc || [], definition, owners);
          if (id) {
            if (!this.errors[id]) this.errors[id] = problem.msg;
          } else loose.push(problem.msg);
        }
        this.countError = loose.length ? loose.join("; ") : detail.length ? "Fix the highlighted conditions to see a count." : Studio.ApiError.message(422, body);
      },
      // The builder node a 422's loc points at: the deepest node on the path from `root`.
      nodeAt(loc, definition, owners) {
        const start = loc.indexOf("root");
        if (start < 0) return null;
        let current = definition.root;
        let found = owners.get(current) || null;
        for (const part of loc.slice(start + 1)) {
          if (current === null || typeof current !== "object") break;
          if (!(part in current)) continue;
          current = current[part];
          if (current && typeof current === "object" && owners.has(current)) found = owners.get(current);
        }
        return found;
      },
      get total() {
        return this.count ? this.count.total : null;
      },
      get shareText() {
        return this.count ? Studio.percent(this.count.share) : "—";
      },
      get countText() {
        return this.count ? Studio.number(this.count.count) : "—";
      },
      gauge() {
        const share = this.count ? Math.max(0, Math.min(1, this.count.share || 0)) : 0;
        const c = 2 * Math.PI * 26;
        return { dash: (share * c).toFixed(1) + " " + c.toFixed(1) };
      },

      // ----- saving -----
      async save() {
        if (this.readonly || this.saving) return;
        if (!this.name.trim()) {
          this.saveError = "Give the segment a name.";
          this.$nextTick(() => document.getElementById("segment-name").focus());
          return;
        }
        this.saving = true;
        this.saveError = "";
        const owners = new Map();
        const definition = this.definition(owners);
        const payload = {
          name: this.name.trim(), description: this.description.trim() || null, definition,
          refresh_minutes: Number(this.refreshMinutes) || null,
        };
        try {
          const url = this.segmentId ? "/api/segments/" + this.segmentId : "/api/segments";
          const saved = await Studio.api(url, { method: this.segmentId ? "PATCH" : "POST", json: payload });
          window.location.assign("/segments/" + saved.id);
        } catch (err) {
          if (err.status === 422) {
            this.placeErrors(err.body, definition, owners);
            this.saveError = this.countError || "Fix the highlighted conditions, then save.";
          } else {
            this.saveError = err.message;
          }
          this.saving = false;
        }
      },
    };
  }

  document.addEventListener("alpine:init", () => {
    window.Alpine.data("segmentBuilder", builder);
  });
})();
