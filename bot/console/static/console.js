// Counsellor console: live queue, live transcript, reply without reload.
// Text is always inserted with textContent, never as HTML. No inline scripts (CSP).
"use strict";

(function () {
  const page = document.body.dataset.page;
  const csrfMeta = document.querySelector('meta[name="csrf-token"]');
  const csrf = csrfMeta ? csrfMeta.content : "";

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  function minutesSince(iso, nowOffset) {
    if (!iso) return "";
    const seconds = Math.max(0, Math.floor((Date.now() + nowOffset - Date.parse(iso)) / 1000));
    const m = Math.floor(seconds / 60), s = seconds % 60;
    return m + " phút " + String(s).padStart(2, "0") + " giây";
  }

  // Same form as the server's pages ("05:52 29/11/2026"), in Viet Nam time whatever the laptop says.
  const VIETNAM_TIME = new Intl.DateTimeFormat("en-GB", {
    timeZone: "Asia/Ho_Chi_Minh", hour: "2-digit", minute: "2-digit", day: "2-digit", month: "2-digit",
    year: "numeric", hourCycle: "h23",
  });
  function clock(iso) {
    if (!iso) return "";
    const part = {};
    VIETNAM_TIME.formatToParts(new Date(iso)).forEach(function (p) { part[p.type] = p.value; });
    return part.hour + ":" + part.minute + " " + part.day + "/" + part.month + "/" + part.year;
  }

  async function getJson(url) {
    const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    if (response.status === 401) { window.location.assign("/console/login"); throw new Error("login"); }
    if (!response.ok) throw new Error("HTTP " + response.status);
    return response.json();
  }

  // ---- live notices (server-sent events) ---------------------------------------
  function listen(handlers) {
    const source = new EventSource("/console/events");
    Object.keys(handlers).forEach(function (kind) {
      source.addEventListener(kind, function (event) {
        let data = {};
        try { data = JSON.parse(event.data || "{}"); } catch (_) { /* keep {} */ }
        handlers[kind](data);
      });
    });
    return source;
  }

  const banner = document.getElementById("alert-banner");
  function showAlert(data) {
    if (!banner) return;
    const labels = { imminent: "KHẨN CẤP", high: "CAO", concern: "THEO DÕI" };
    banner.textContent = "Ca #" + data.case_id + " mức " + (labels[data.risk] || data.risk) +
      " đã chờ " + data.minutes + " phút — cần người nhận ngay.";
    banner.classList.remove("hidden");
    document.title = "(!) " + document.title.replace(/^\(!\) /, "");
  }

  // ---- the queue ------------------------------------------------------------------
  function caseRow(item, timeField, nowOffset, action) {
    const row = el("tr", null, "risk-" + item.risk);
    row.dataset.caseId = item.id;
    row.appendChild(el("td", "#" + item.id));
    row.appendChild(el("td", item.risk_label, "risk"));
    row.appendChild(el("td", item.category));
    row.appendChild(el("td", action === "assignee" ? (item.assignee || "") : item.channel));
    const since = el("td", timeField === "taken_at" ? clock(item.taken_at) : minutesSince(item.waiting_since, nowOffset), "since");
    if (timeField === "waiting_since") since.dataset.since = item.waiting_since;
    row.appendChild(since);
    const cell = el("td");
    if (action === "open") {
      const link = el("a", "Mở ca", "button");
      link.href = "/console/cases/" + item.id;
      cell.appendChild(link);
    } else if (action === "alerts") {
      cell.textContent = item.alerts_sent ? item.alerts_sent + " lần" : "";
    } else if (action === "assignee") {
      cell.textContent = minutesSince(null);
    }
    row.appendChild(cell);
    return row;
  }

  function fill(body, rows, emptyText, columns) {
    body.replaceChildren();
    if (!rows.length) {
      const row = el("tr"); const cell = el("td", emptyText, "hint"); cell.colSpan = columns;
      row.appendChild(cell); body.appendChild(row); return;
    }
    rows.forEach(function (row) { body.appendChild(row); });
  }

  let nowOffset = 0;
  function tickWaiting() {
    document.querySelectorAll("td.since[data-since]").forEach(function (cell) {
      cell.textContent = minutesSince(cell.dataset.since, nowOffset);
    });
  }

  async function refreshQueue() {
    const data = await getJson("/console/api/queue");
    nowOffset = Date.parse(data.now) - Date.now();
    fill(document.getElementById("queue-body"),
      data.waiting.map(function (c) { return caseRow(c, "waiting_since", nowOffset, "open"); }),
      "Không có ca nào đang chờ.", 6);
    fill(document.getElementById("mine-body"),
      data.mine.map(function (c) { return caseRow(c, "taken_at", nowOffset, "open"); }),
      "Bạn chưa giữ ca nào.", 6);
    document.getElementById("queue-count").textContent = "(" + data.waiting.length + ")";
    document.getElementById("load").textContent = "(" + data.load + "/" + data.capacity + ")";
  }

  async function refreshOverview() {
    const data = await getJson("/console/api/overview");
    nowOffset = Date.parse(data.now) - Date.now();
    fill(document.getElementById("waiting-body"),
      data.waiting.map(function (c) { return caseRow(c, "waiting_since", nowOffset, "alerts"); }),
      "Không có ca nào đang chờ.", 6);
    const active = data.active.map(function (c) {
      const row = el("tr", null, "risk-" + c.risk);
      const link = el("a", "#" + c.id); link.href = "/console/cases/" + c.id;
      const first = el("td"); first.appendChild(link); row.appendChild(first);
      row.appendChild(el("td", c.risk_label, "risk"));
      row.appendChild(el("td", c.category));
      row.appendChild(el("td", c.assignee || ""));
      row.appendChild(el("td", Math.floor(c.waited_seconds / 60) + " phút " + (c.waited_seconds % 60) + " giây"));
      return row;
    });
    fill(document.getElementById("active-body"), active, "Không có ca nào đang tư vấn.", 5);
    document.getElementById("waiting-count").textContent = "(" + data.waiting.length + ")";
    document.getElementById("active-count").textContent = "(" + data.active.length + ")";
    fill(document.getElementById("staff-body"), data.staff.map(function (s) {
      const row = el("tr");
      row.appendChild(el("td", s.name)); row.appendChild(el("td", s.role));
      row.appendChild(el("td", s.load + "/" + s.capacity));
      return row;
    }), "", 3);
  }

  function liveList(refresh) {
    let pending = false;
    function again() {
      if (pending) return;
      pending = true;
      setTimeout(function () { pending = false; refresh().catch(function () {}); }, 150);
    }
    refresh().catch(function () {});
    listen({ hello: again, queue: again, case: again, alert: function (d) { showAlert(d); again(); } });
    setInterval(tickWaiting, 1000);
  }

  // A form being submitted (take, close, transfer...) navigates by itself: a reload
  // triggered by a live notice at the same moment would cancel it.
  let leaving = false;
  document.addEventListener("submit", function (event) { if (!event.defaultPrevented) leaving = true; });

  // ---- one case ---------------------------------------------------------------------
  function caseView() {
    const caseId = document.body.dataset.caseId;
    const list = document.getElementById("transcript");
    let last = Number(document.body.dataset.lastEntry) || 0;
    let loading = false;

    async function more() {
      if (loading) return;
      loading = true;
      try {
        const data = await getJson("/console/api/cases/" + caseId + "/entries?after=" + last);
        data.entries.forEach(function (entry) {
          if (entry.id <= last) return;
          const item = el("li", null, "entry from-" + entry.sender);
          item.dataset.id = entry.id;
          item.appendChild(el("span", entry.who, "who"));
          item.appendChild(el("span", clock(entry.at), "at"));
          item.appendChild(el("p", entry.text));
          list.appendChild(item);
          last = entry.id;
        });
        if (data.entries.length) list.scrollTop = list.scrollHeight;
        if (data.status !== document.body.dataset.status && !leaving) window.location.reload();
      } finally { loading = false; }
    }

    listen({
      hello: function () { more().catch(function () {}); },
      case: function (d) { if (String(d.case_id) === caseId) more().catch(function () {}); },
      queue: function (d) { if (String(d.case_id) === caseId) more().catch(function () {}); },
      alert: showAlert,
    });
    list.scrollTop = list.scrollHeight;

    const canned = document.getElementById("canned");
    const text = document.getElementById("reply-text");
    if (canned && text) {
      canned.addEventListener("change", function () {
        const option = canned.options[canned.selectedIndex];
        if (option && option.dataset.text) {
          text.value = text.value ? text.value + "\n" + option.dataset.text : option.dataset.text;
          text.focus();
        }
        canned.selectedIndex = 0;
      });
    }

    const form = document.getElementById("reply-form");
    if (form && text) {
      const status = document.getElementById("reply-status");
      form.addEventListener("submit", async function (event) {
        event.preventDefault();
        if (!text.value.trim()) return;
        const body = new URLSearchParams({ text: text.value });
        status.textContent = "Đang gửi…";
        try {
          const response = await fetch(form.action, {
            method: "POST", body: body, credentials: "same-origin",
            headers: { Accept: "application/json", "X-CSRF-Token": csrf },
          });
          if (!response.ok) throw new Error("HTTP " + response.status);
          text.value = "";
          status.textContent = "Đã gửi.";
          await more();
        } catch (_) {
          status.textContent = "Chưa gửi được. Hãy thử lại.";
        }
      });
      text.addEventListener("keydown", function (event) {
        if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) form.requestSubmit();
      });
    }

    const close = document.getElementById("close-form");
    if (close) {
      close.addEventListener("submit", function (event) {
        if (!window.confirm("Đóng ca này? Trẻ sẽ được báo và Mây sẽ tiếp tục trò chuyện.")) event.preventDefault();
      });
    }
  }

  if (page === "queue") liveList(refreshQueue);
  else if (page === "supervisor") liveList(refreshOverview);
  else if (page === "case") caseView();
})();
