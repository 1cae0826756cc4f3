// The segment builder: an Alpine.js component that draws and edits a definition tree (the nodes
// of builder-definition.js, loaded first), runs the live count and saves.
//
// The tree is drawn as a flat list of rows (group header, conditions, group footer) indented by
// depth, because Alpine templates cannot recurse.
(function () {
  "use strict";

  const D = window.SegmentDefinition;
  const { MEASURES, COUNT_OPS, ACTIONS, NO_VALUE, LIST_VALUE, DAYS_VALUE, NUMBER_OPS, DATE_OPS,
          STRING_OPS, EVENT_COLUMNS, PURCHASE_FILTERS } = D;

  const GROUP_ICONS = {
    Profile: "user", Purchases: "bag", Behaviour: "bolt",
    Predictions: "spark", Engagement: "mail", Segments: "layers",
  };
  const REFRESH_CHOICES = [
    [15, "Every 15 minutes"], [60, "Every hour"], [360, "Every 6 hours"],
    [1440, "Every day"], [0, "Only when I refresh it"],
  ];

  function builder() {
    const boot = Studio.jsonData("builder-data") || {};
    return {
      segmentId: boot.segment_id || null,
      readonly: Boolean(boot.readonly),
      name: boot.name || "",
      description: boot.description || "",
      refreshMinutes: boot.refresh_minutes === null || boot.refresh_minutes === undefined ? 60 : boot.refresh_minutes,
      refreshChoices: REFRESH_CHOICES,
      root: D.fromJson(boot.definition ? boot.definition.root : null, false),
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
            return this.catalog.profile.map((f) => ({ key: "trait:" + f.key, label: f.label, hint: f.description, make: () => D.traitNode("trait", f) }));
          case "Predictions":
            return (this.catalog.predictions || []).map((f) => ({ key: "prediction:" + f.key, label: f.label, hint: f.description, make: () => D.traitNode("prediction", f) }));
          case "Purchases":
            return Object.entries(MEASURES).map(([measure, label]) => ({
              key: "purchase:" + measure, label,
              hint: { count: "How many orders, filtered by category, brand, promo...", sum: "Net spend on the matching purchases",
                      first: "When the first matching purchase was", last: "When the latest matching purchase was" }[measure],
              make: () => D.purchaseNode(measure),
            }));
          case "Behaviour":
            return [
              { key: "event", label: "Performed an event", hint: "Product Viewed, Product Added... n times or never", make: () => D.eventNode() },
              { key: "sequence", label: "Did one thing and not another since", hint: "e.g. added to cart and has not ordered since", make: () => D.sequenceNode() },
            ];
          case "Engagement":
            return Object.entries(ACTIONS).map(([action, label]) => ({
              key: "engagement:" + action, label: label + " an e-mail", hint: "Any campaign or one campaign, n times or never",
              make: () => D.engagementNode(action),
            }));
          case "Segments":
            return [
              { key: "segment", label: "In another segment", hint: "Members of a saved segment (or not)", make: () => D.segmentNode(this.segments) },
              { key: "bucket", label: "Random bucket", hint: "A stable random share, e.g. a 10% holdout", make: () => D.bucketNode() },
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
        const g = D.group(groupNode.op === "and" ? "or" : "and");
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
        node.value = D.emptyValue(node.valueType, node.op);
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
        return { root: D.toJson(this.root, owners) };
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
