// Web chat page: talks only to this server's /api/webchat API.
// Text is always inserted with textContent, never as HTML.
"use strict";

(function () {
  const POLL_MS = 4000;
  // Where "Thoát nhanh" goes: an ordinary page that tells an onlooker nothing.
  const NEUTRAL_URL = "https://www.google.com/";
  const STORAGE_KEY = "chat.conversationId";
  const ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
  // Sent too many messages too fast (bot/ratelimit.py): that message was not taken, send it again.
  const SLOW_DOWN = "Em gửi nhanh quá, mình chưa kịp đọc. Em chờ một chút rồi gửi lại nhé.";
  const FALLBACK =
    "Xin lỗi, mình đang gặp trục trặc một chút. Nếu em cần giúp ngay, hãy gọi 111 — miễn phí, 24/7.";
  const WHO = { counsellor: "Tư vấn viên 111" };

  const list = document.getElementById("messages");
  const form = document.getElementById("composer");
  const input = document.getElementById("text");
  const sendButton = document.getElementById("send");
  const typing = document.getElementById("typing");
  const exitButton = document.getElementById("quick-exit");

  const CURSOR_KEY = "chat.pollCursor";
  const SEEN_KEY = "chat.seenUpTo";

  let busy = false;
  let pollTimer = null;
  let exiting = false;

  // ---- quick exit -------------------------------------------------------
  function quickExit() {
    exiting = true;
    try { sessionStorage.clear(); } catch (_) { /* storage may be disabled */ }
    if (pollTimer) clearTimeout(pollTimer);
    document.title = "";
    document.body.textContent = "";
    // replace(): the chat does not stay in the tab's history for the Back button.
    window.location.replace(NEUTRAL_URL);
  }
  exitButton.addEventListener("click", quickExit);
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && !event.isComposing) quickExit();
  });

  // ---- conversation id -------------------------------------------------
  function newConversationId() {
    // 32 characters from 64 symbols = 192 random bits; 256 % 64 == 0, so no bias.
    const bytes = new Uint8Array(32);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, function (b) { return ID_ALPHABET[b & 63]; }).join("");
  }

  function conversationId() {
    let id = null;
    try { id = sessionStorage.getItem(STORAGE_KEY); } catch (_) { /* private mode */ }
    if (!id || !/^[A-Za-z0-9_-]{16,64}$/.test(id)) {
      id = newConversationId();
      try { sessionStorage.setItem(STORAGE_KEY, id); } catch (_) { /* kept in memory only */ }
    }
    return id;
  }
  const conversation = conversationId();
  const endpoint = "/api/webchat/" + conversation + "/messages";

  // ---- what this tab has already shown (survives a reload) ----------------
  function storedNumber(key) {
    try { return Number(sessionStorage.getItem(key)) || 0; } catch (_) { return 0; }
  }
  function storedIds(key) {
    try {
      const ids = JSON.parse(sessionStorage.getItem(key) || "[]");
      return Array.isArray(ids) ? ids.filter(Number.isInteger) : [];
    } catch (_) { return []; }
  }
  function store(key, value) {
    if (exiting) return;
    try { sessionStorage.setItem(key, String(value)); } catch (_) { /* memory only */ }
  }
  // The poll cursor moves only with polls, so a counsellor message stored while a
  // POST was waiting for its replies is never skipped.
  let pollCursor = storedNumber(CURSOR_KEY);
  // Ids already on screen: POST replies and polls overlap. After a reload the page
  // starts empty, and replies shown before it (beyond the cursor) are not repeated.
  const shown = new Set(storedIds(SEEN_KEY));
  let started = false;
  try { started = sessionStorage.getItem(CURSOR_KEY) !== null; } catch (_) { /* no storage */ }

  // ---- rendering -------------------------------------------------------
  function addBubble(sender, text) {
    const item = document.createElement("div");
    item.className = "message from-" + sender;
    if (WHO[sender]) {
      const who = document.createElement("p");
      who.className = "who";
      who.textContent = WHO[sender];
      item.appendChild(who);
    }
    const bubble = document.createElement("div");
    bubble.className = "bubble";
    bubble.textContent = text;
    item.appendChild(bubble);
    list.appendChild(item);
    list.scrollTop = list.scrollHeight;
    return item;
  }

  function addButtons(item, buttons) {
    const row = document.createElement("div");
    row.className = "choices";
    buttons.forEach(function (button) {
      const choice = document.createElement("button");
      choice.type = "button";
      choice.className = "choice";
      choice.textContent = button.title;
      choice.addEventListener("click", function () {
        row.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
        send({ payload: button.payload }, button.title);
      });
      row.appendChild(choice);
    });
    item.appendChild(row);
  }

  function showMessages(messages) {
    messages.forEach(function (message) {
      if (shown.has(message.id)) return;
      shown.add(message.id);
      if (!message.text && !(message.buttons && message.buttons.length)) return;
      const item = addBubble(message.sender, message.text || "");
      if (message.buttons && message.buttons.length) addButtons(item, message.buttons);
    });
  }

  // ---- talking to the server -------------------------------------------
  async function send(body, echo) {
    if (busy) return;
    busy = true;
    sendButton.disabled = true;
    addBubble("user", echo);
    typing.hidden = false;
    try {
      const response = await fetch(endpoint, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
        credentials: "same-origin",
        cache: "no-store",
      });
      if (response.status === 429) { addBubble("system", SLOW_DOWN); return; }
      if (!response.ok) throw new Error("HTTP " + response.status);
      const data = await response.json();
      showMessages(data.messages || []);
      if (!started) { started = true; store(CURSOR_KEY, pollCursor); schedulePoll(); }
    } catch (_) {
      addBubble("system", FALLBACK);
    } finally {
      typing.hidden = true;
      busy = false;
      sendButton.disabled = false;
      input.focus();
    }
  }

  async function poll() {
    pollTimer = null;
    if (!document.hidden) {
      try {
        const response = await fetch(endpoint + "?after=" + pollCursor, { cache: "no-store" });
        if (response.ok) {
          const data = await response.json();
          const messages = data.messages || [];
          showMessages(messages);
          messages.forEach(function (m) { if (m.id > pollCursor) pollCursor = m.id; });
          store(CURSOR_KEY, pollCursor);
        }
      } catch (_) { /* offline for a moment: try again next time */ }
    }
    schedulePoll();
  }

  function schedulePoll() {
    if (!pollTimer) pollTimer = setTimeout(poll, POLL_MS);
  }

  // ---- composer --------------------------------------------------------
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    const text = input.value.trim();
    if (!text || busy) return;
    input.value = "";
    autoGrow();
    send({ text: text }, text);
  });

  input.addEventListener("keydown", function (event) {
    // Enter sends; Shift+Enter makes a new line. Not while composing Vietnamese with an IME.
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });

  function autoGrow() {
    input.style.height = "auto";
    const borders = input.offsetHeight - input.clientHeight; // scrollHeight leaves them out
    input.style.height = Math.min(input.scrollHeight + borders, 140) + "px";
  }
  input.addEventListener("input", autoGrow);

  // Remember the newest id on screen whenever the tab goes away (reload, close).
  window.addEventListener("pagehide", function () {
    if (exiting) return;
    store(SEEN_KEY, JSON.stringify(Array.from(shown).filter(function (id) { return id > pollCursor; })));
  });

  // A reloaded tab keeps listening for a counsellor where it left off.
  if (started) poll();
  input.focus();
})();
