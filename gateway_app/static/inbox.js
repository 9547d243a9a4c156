// The live inbox: REST for the history, Socket.IO for what arrives, through the gateway.
(() => {
  const $ = (id) => document.getElementById(id);
  const state = { socket: null, lastId: null, items: new Map() };

  $("token").value = localStorage.getItem("inbox.token") || "";
  $("pub-token").value = localStorage.getItem("inbox.pubToken") || "";

  function setStatus(text, on) {
    $("status").textContent = text;
    $("status").className = "status " + (on ? "on" : "off");
  }

  function showError(message) {
    $("error").textContent = message || "";
    $("error").hidden = !message;
  }

  function setUnread(count) {
    $("unread").textContent = count;
    $("unread").classList.toggle("zero", count === 0);
  }

  async function api(path, options = {}) {
    const response = await fetch(path, {
      ...options,
      headers: { "Content-Type": "application/json",
                 Authorization: `Bearer ${options.token || $("token").value.trim()}`,
                 ...(options.headers || {}) },
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(body.error ? `${body.error.code}: ${body.error.message}` : response.statusText);
    return body;
  }

  function render() {
    const list = $("list");
    list.replaceChildren();
    const items = [...state.items.values()].sort((a, b) => b.id - a.id);
    for (const n of items) {
      const li = document.createElement("li");
      li.className = n.read ? "read" : "unread";
      li.dataset.id = n.id;
      const text = document.createElement("div");
      text.className = "text";
      const title = document.createElement("div");
      title.className = "title";
      title.textContent = n.title;
      const body = document.createElement("div");
      body.textContent = n.body;
      const meta = document.createElement("div");
      meta.className = "meta";
      meta.textContent = `#${n.id} · ${new Date(n.created_at).toLocaleString()}`;
      text.append(title, body, meta);
      li.append(text);
      if (!n.read) {
        const button = document.createElement("button");
        button.textContent = "Mark read";
        button.className = "mark-read";
        button.onclick = () => markRead({ ids: [n.id] });
        li.append(button);
      }
      list.append(li);
    }
    $("empty").hidden = items.length > 0;
  }

  function remember(n) {
    state.items.set(n.id, n);
    state.lastId = Math.max(state.lastId ?? 0, n.id);
  }

  async function loadHistory() {
    const page = await api("/api/notifications?limit=50");
    page.notifications.forEach(remember);
    setUnread((await api("/api/notifications/unread-count")).unread);
    render();
  }

  async function markRead(what) {
    const answer = await state.socket.emitWithAck("mark_read", what);
    if (!answer.ok) return showError(answer.error.message);
    for (const n of state.items.values()) {
      if (what.all || what.ids.includes(n.id)) n.read = true;
    }
    setUnread(answer.unread);
    render();
  }

  async function connect() {
    const token = $("token").value.trim();
    if (!token) return showError("Paste a token first.");
    localStorage.setItem("inbox.token", token);
    showError("");
    disconnect();
    state.items.clear();
    try {
      await loadHistory();
    } catch (err) {
      return showError(err.message);
    }
    // `auth` as a function is re-read on every reconnect, so `last_id` recovers what we missed.
    const socket = io({ auth: (cb) => cb({ token, last_id: state.lastId }) });
    state.socket = socket;
    socket.on("connect", () => {
      setStatus("connected", true);
      $("connect").disabled = true;
      $("disconnect").disabled = false;
      $("read-all").disabled = false;
    });
    socket.on("disconnect", (reason) => setStatus(`disconnected (${reason})`, false));
    socket.on("connect_error", (err) => {
      showError(`${err.data?.code ?? "error"}: ${err.message}`);
      setStatus("refused", false);
    });
    socket.on("session_expired", () => showError("Your token expired: paste a new one."));
    socket.on("notification", (n) => {
      const known = state.items.has(n.id);
      remember(n);
      if (!known && !n.read) setUnread(Number($("unread").textContent) + 1);
      render();
    });
    socket.on("unread_count", ({ unread }) => setUnread(unread));
    try {
      const claims = JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
      $("whoami").textContent = `as ${claims.sub}`;
      if (!$("pub-user").value) $("pub-user").value = claims.sub;
    } catch { $("whoami").textContent = ""; }
  }

  function disconnect() {
    if (state.socket) state.socket.disconnect();
    state.socket = null;
    $("connect").disabled = false;
    $("disconnect").disabled = true;
    $("read-all").disabled = true;
  }

  async function publish() {
    const token = $("pub-token").value.trim();
    localStorage.setItem("inbox.pubToken", token);
    try {
      const n = await api("/api/notifications", {
        method: "POST", token,
        body: JSON.stringify({ user: $("pub-user").value.trim(), title: $("pub-title").value,
                               body: $("pub-body").value }),
      });
      $("pub-result").textContent = `sent #${n.id}`;
    } catch (err) {
      $("pub-result").textContent = err.message;
    }
  }

  $("connect").onclick = connect;
  $("disconnect").onclick = () => { disconnect(); setStatus("disconnected", false); };
  $("read-all").onclick = () => markRead({ all: true });
  $("publish").onclick = publish;
})();
