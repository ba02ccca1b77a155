/* <notification-inbox token="..."> : the in-app inbox as one custom element, no build step, no dependencies.
 *
 * Attributes: token (a feed token or "<user id>.<user hash>", required), api (the service's base URL, default
 * this page's origin), poll-seconds (how often to ask for the counts when no live stream is open, default 30).
 * A bell button with the unread badge opens a list of the newest messages, each with mark read/unread and
 * archive, and "Mark all read". Live: Server-Sent Events from /api/v1/feed/stream/; when the stream is not
 * available (no Redis, no ASGI server) it polls /api/v1/feed/counts/ instead.
 * Keyboard: the bell is a button (Enter/Space), Escape closes the list and returns to the bell; a polite
 * live region announces new messages to screen readers.
 */
(() => {
  "use strict";

  const STYLE = `
    :host { position: relative; display: inline-block; font: 14px/1.4 system-ui, sans-serif; color: #1d2430; }
    button { font: inherit; cursor: pointer; }
    .bell { position: relative; border: 1px solid #c8ced8; background: #fff; border-radius: 999px;
            width: 2.6em; height: 2.6em; display: inline-flex; align-items: center; justify-content: center; }
    .bell:focus-visible, .panel button:focus-visible { outline: 3px solid #2b6cb0; outline-offset: 2px; }
    .bell svg { width: 1.3em; height: 1.3em; }
    .badge { position: absolute; top: -0.35em; right: -0.35em; min-width: 1.5em; padding: 0 0.35em;
             border-radius: 999px; background: #c53030; color: #fff; font-size: 0.75em; line-height: 1.5em;
             text-align: center; font-weight: 600; }
    .badge[hidden] { display: none; }
    .panel { position: absolute; right: 0; top: calc(100% + 0.5em); width: 22em; max-height: 28em; overflow: auto;
             background: #fff; border: 1px solid #c8ced8; border-radius: 0.5em; box-shadow: 0 8px 24px #0002; z-index: 10; }
    .panel[hidden] { display: none; }
    header { display: flex; justify-content: space-between; align-items: center; padding: 0.6em 0.8em;
             border-bottom: 1px solid #e4e8ee; }
    h2 { font-size: 1em; margin: 0; }
    ul { list-style: none; margin: 0; padding: 0; }
    li { padding: 0.6em 0.8em; border-bottom: 1px solid #eef1f5; }
    li.unread { background: #f3f8ff; }
    li .title { font-weight: 600; }
    li .title a { color: inherit; }
    li .body p { margin: 0.2em 0; }
    li time { color: #5a6473; font-size: 0.8em; }
    .actions { display: flex; gap: 0.4em; margin-top: 0.3em; }
    .actions button, header button { border: 1px solid #c8ced8; background: #fff; border-radius: 0.3em;
                                     padding: 0.1em 0.5em; font-size: 0.85em; }
    .empty { padding: 1em 0.8em; color: #5a6473; }
    .sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
  `;
  const BELL = '<svg viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path fill="currentColor" ' +
    'd="M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22Zm7-6V11a7 7 0 0 0-5.5-6.84V3a1.5 1.5 0 0 0-3 0v1.16' +
    'A7 7 0 0 0 5 11v5l-2 2v1h18v-1Z"/></svg>';

  class NotificationInbox extends HTMLElement {
    constructor() {
      super();
      this.items = [];
      this.unread = 0;
      this.source = null;
      this.live = false;
      this.pollTimer = null;
      const root = this.attachShadow({ mode: "open" });
      root.innerHTML = `<style>${STYLE}</style>
        <button class="bell" type="button" aria-haspopup="true" aria-expanded="false">${BELL}
          <span class="badge" part="badge" hidden>0</span></button>
        <div class="panel" role="region" aria-label="Notifications" hidden>
          <header><h2>Notifications</h2><button type="button" class="all">Mark all read</button></header>
          <ul></ul>
        </div>
        <div class="sr-only" aria-live="polite"></div>`;
      this.bell = root.querySelector(".bell");
      this.badge = root.querySelector(".badge");
      this.panel = root.querySelector(".panel");
      this.list = root.querySelector("ul");
      this.announcer = root.querySelector("[aria-live]");
      this.bell.addEventListener("click", () => this.toggle());
      root.querySelector(".all").addEventListener("click", () => this.markAll("read"));
      this.panel.addEventListener("keydown", (event) => { if (event.key === "Escape") this.close(); });
      this.bell.addEventListener("keydown", (event) => { if (event.key === "Escape") this.close(); });
      this.list.addEventListener("click", (event) => this.onAction(event));
    }

    get base() { return (this.getAttribute("api") || window.location.origin).replace(/\/$/, ""); }
    get token() { return this.getAttribute("token") || ""; }

    connectedCallback() {
      this.render();
      this.refresh();
      this.listen();
    }

    disconnectedCallback() {
      if (this.source) this.source.close();
      clearInterval(this.pollTimer);
    }

    async call(path, body) {
      const response = await fetch(this.base + path, {
        method: body ? "POST" : "GET",
        headers: { Authorization: `Bearer ${this.token}`, ...(body ? { "Content-Type": "application/json" } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
      if (!response.ok) throw new Error(`${path}: ${response.status}`);
      return response.json();
    }

    async refresh() {
      try {
        const page = await this.call("/api/v1/feed/?size=20");
        this.items = page.items;
        this.setCounts(page);
        this.render();
      } catch (error) {
        this.dispatchEvent(new CustomEvent("inbox-error", { detail: String(error) }));
      }
    }

    listen() {
      if (!window.EventSource) return this.poll();
      const url = `${this.base}/api/v1/feed/stream/?token=${encodeURIComponent(this.token)}`;
      this.source = new EventSource(url);
      this.source.addEventListener("message", (event) => {
        const data = JSON.parse(event.data);
        if (data.item && !this.items.some((item) => item.id === data.item.id)) {
          this.items.unshift(data.item);
          this.items = this.items.slice(0, 50);
          this.announcer.textContent = `New notification: ${data.item.title}`;
        }
        this.setCounts(data);
        this.render();
      });
      this.source.addEventListener("counts", (event) => {
        const data = JSON.parse(event.data);
        this.live = true;  // the stream is subscribed: what changes from now on arrives here
        this.setCounts(data);
        if (data.action !== "sync" || data.unread_count !== this.items.filter((i) => !i.read_at).length) this.refresh();
      });
      this.source.addEventListener("error", () => {
        // Closed for good (an error answer, such as 503 without live updates): poll instead.
        this.live = false;
        if (this.source.readyState === EventSource.CLOSED) { this.source = null; this.poll(); }
      });
    }

    poll() {
      const seconds = Number(this.getAttribute("poll-seconds")) || 30;
      clearInterval(this.pollTimer);
      this.pollTimer = setInterval(async () => {
        try {
          const counts = await this.call("/api/v1/feed/counts/");
          if (counts.unread_count !== this.unread) this.refresh(); else this.setCounts(counts);
        } catch (error) { /* the next poll tries again */ }
      }, seconds * 1000);
    }

    setCounts(counts) {
      if (typeof counts.unread_count === "number") this.unread = counts.unread_count;
      this.badge.textContent = this.unread > 99 ? "99+" : String(this.unread);
      this.badge.hidden = this.unread === 0;
      this.bell.setAttribute("aria-label", `Notifications, ${this.unread} unread`);
      this.setAttribute("data-unread", String(this.unread));
    }

    toggle() { if (this.panel.hidden) this.open(); else this.close(); }

    open() {
      this.panel.hidden = false;
      this.bell.setAttribute("aria-expanded", "true");
      const first = this.panel.querySelector("button");
      if (first) first.focus();
      const unseen = this.items.filter((item) => !item.seen_at).map((item) => item.id);
      if (unseen.length) this.mark(unseen, "seen");
    }

    close() {
      if (this.panel.hidden) return;
      this.panel.hidden = true;
      this.bell.setAttribute("aria-expanded", "false");
      this.bell.focus();
    }

    async mark(ids, action) {
      try {
        const answer = await this.call("/api/v1/feed/mark/", { action, ids });
        this.apply(ids, action);
        this.setCounts(answer);
        this.render();
      } catch (error) { this.refresh(); }
    }

    async markAll(action) {
      try {
        const answer = await this.call("/api/v1/feed/mark-all/", { action });
        this.apply(this.items.map((item) => item.id), action);
        this.setCounts(answer);
        this.render();
      } catch (error) { this.refresh(); }
    }

    apply(ids, action) {
      const now = new Date().toISOString();
      for (const item of this.items) {
        if (!ids.includes(item.id)) continue;
        if (action === "read") { item.read_at = item.read_at || now; item.seen_at = item.seen_at || now; }
        if (action === "unread") item.read_at = null;
        if (action === "seen") item.seen_at = item.seen_at || now;
        if (action === "archived") item.archived_at = now;
      }
      this.items = this.items.filter((item) => !item.archived_at);
    }

    onAction(event) {
      const button = event.target.closest("button[data-action]");
      if (!button) return;
      const id = Number(button.closest("li").dataset.id);
      this.mark([id], button.dataset.action);
    }

    render() {
      const list = this.list;
      list.textContent = "";
      if (!this.items.length) {
        const empty = document.createElement("li");
        empty.className = "empty";
        empty.textContent = "Nothing new.";
        list.append(empty);
        return;
      }
      for (const item of this.items) {
        const li = document.createElement("li");
        li.dataset.id = item.id;
        li.className = item.read_at ? "read" : "unread";
        const title = document.createElement("div");
        title.className = "title";
        if (item.action_url) {
          const link = document.createElement("a");
          link.href = item.action_url;
          link.textContent = item.title;
          title.append(link);
        } else {
          title.textContent = item.title;
        }
        const body = document.createElement("div");
        body.className = "body";
        body.innerHTML = item.body_html;  // sanitised by the service (nh3)
        const time = document.createElement("time");
        time.dateTime = item.created_at;
        time.textContent = new Date(item.created_at).toLocaleString();
        const actions = document.createElement("div");
        actions.className = "actions";
        const read = item.read_at ? ["unread", "Mark unread"] : ["read", "Mark read"];
        for (const [action, label] of [read, ["archived", "Archive"]]) {
          const button = document.createElement("button");
          button.type = "button";
          button.dataset.action = action;
          button.textContent = label;
          button.setAttribute("aria-label", `${label}: ${item.title}`);
          actions.append(button);
        }
        li.append(title, body, time, actions);
        list.append(li);
      }
    }
  }

  if (!customElements.get("notification-inbox")) customElements.define("notification-inbox", NotificationInbox);
})();
