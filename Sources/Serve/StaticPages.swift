/// Files served from the binary itself (no external assets). A page is one entry here: its
/// name under `/static/` (`index.html` is `/`) and its text.
public enum StaticPages {
    public struct File: Sendable {
        public let contentType: String
        public let text: String
    }

    public static let files: [String: File] = [
        "index.html": File(contentType: "text/html; charset=utf-8", text: indexHTML),
    ]

    /// Names a route may ask for: plain file names, nothing that walks directories.
    public static func isName(_ s: String) -> Bool {
        !s.isEmpty && !s.hasPrefix(".") && s.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2E || $0 == 0x2D }
    }

    /// The web dashboard: every agent of every profile as a live tile, the timeline of all
    /// events, and one agent in focus (bigger terminal, its transcript, an input box for a
    /// control token, with start/stop/restart and a permission question's answers). Plain JS, no
    /// external assets. Terminals come from the server as rows with runs of colours and
    /// attributes (`/screen`: the log through a virtual screen); the page draws text only as
    /// text nodes (nothing an agent prints is ever parsed as HTML).
    static let indexHTML = #"""
    <!doctype html>
    <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
    <title>supervisor</title>
    <style>
    :root{--bg:#15171c;--panel:#1d2027;--line:#2c313a;--fg:#d7dae0;--dim:#8a909c;--ok:#7ec16e;--warn:#e5c07b;--bad:#e06c75;--acc:#61afef;--term-bg:#0e1014}
    *{box-sizing:border-box} [hidden]{display:none !important}
    body{margin:0;background:var(--bg);color:var(--fg);font:13px/1.35 system-ui,sans-serif;height:100vh;display:flex;flex-direction:column}
    header{display:flex;gap:1em;align-items:baseline;padding:.5em 1em;border-bottom:1px solid var(--line)}
    header h1{font-size:15px;margin:0}
    header .dim{color:var(--dim)}
    main{flex:1;display:flex;min-height:0}
    #tiles{flex:3;overflow:auto;padding:.75em;display:grid;grid-template-columns:repeat(auto-fill,minmax(430px,1fr));gap:.75em;align-content:start}
    #side{flex:2;display:flex;flex-direction:column;border-left:1px solid var(--line);min-width:0}
    .tile{background:var(--panel);border:1px solid var(--line);border-radius:6px;padding:.5em;cursor:pointer;min-width:0}
    .tile:hover{border-color:var(--dim)}
    .tile.focused{border-color:var(--acc)}
    .tile .head{display:flex;gap:.6em;align-items:baseline}
    .tile .name{font-weight:600}
    .kind{color:var(--dim)}
    .chips{margin-left:auto;display:flex;gap:.3em}
    .chip{padding:0 .55em;border-radius:9px;font-size:12px;background:#2a2e36;color:var(--dim)}
    .chip:empty{display:none}
    .chip.ok{background:#1f3b24;color:#9fe08f} .chip.busy{background:#1c3347;color:#8cc8ff}
    .chip.wait{background:#41381c;color:#f0d48a} .chip.bad{background:#4a2226;color:#ff9aa2}
    .chip.ask{background:#6b4f0e;color:#ffe08a;font-weight:600}
    .stats{color:var(--dim);font-size:12px;margin:.2em 0}
    pre{margin:0;font:12px/1.25 ui-monospace,"DejaVu Sans Mono",monospace;white-space:pre;overflow:hidden;background:var(--term-bg);padding:.4em;border-radius:4px}
    .tile pre{height:15.5em}
    #focus{flex:3;display:none;flex-direction:column;min-height:0;border-bottom:1px solid var(--line);padding:.5em;gap:.4em}
    #focus.open{display:flex}
    #focus .head{display:flex;gap:.6em;align-items:baseline}
    #focus pre{flex:1;overflow:auto;white-space:pre-wrap}
    #focus-screen{white-space:pre !important}
    #focus .panes{flex:1;display:flex;flex-direction:column;gap:.4em;min-height:0}
    #send{display:flex;gap:.4em}
    #input{flex:1;background:#0e1014;color:var(--fg);border:1px solid var(--line);border-radius:4px;padding:.35em;font:13px ui-monospace,monospace}
    button{background:#2a2e36;color:var(--fg);border:1px solid var(--line);border-radius:4px;padding:.3em .7em;cursor:pointer}
    button:disabled{opacity:.4;cursor:default}
    #controls{display:flex;gap:.3em} #controls button{padding:.1em .6em}
    #question{background:#3a3010;border:1px solid #6b4f0e;border-radius:4px;padding:.4em;display:flex;gap:.5em;align-items:center;flex-wrap:wrap}
    #question-text{flex:1;font:12px ui-monospace,monospace;word-break:break-all}
    #answers{display:flex;gap:.3em}
    #timeline-box{flex:2;display:flex;flex-direction:column;min-height:0;padding:.5em}
    #timeline{flex:1;overflow:auto;font:12px/1.3 ui-monospace,"DejaVu Sans Mono",monospace}
    #timeline div{white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
    #timeline .t{color:var(--dim)} #timeline .a{color:var(--acc)} #timeline .k{color:var(--warn)}
    h2{font-size:13px;margin:0 0 .3em;color:var(--dim);font-weight:600}
    #notice{padding:2em;color:var(--warn)}
    </style></head>
    <body>
    <header><h1>supervisor</h1><span id="summary" class="dim"></span><span id="scope" class="dim"></span>
    <span class="dim" style="margin-left:auto"><a style="color:var(--dim)" href="/api/openapi.json">API</a></span></header>
    <main>
    <div id="tiles"><div id="notice">loading…</div></div>
    <div id="side">
      <section id="focus">
        <div class="head"><strong id="focus-name"></strong><span id="focus-kind" class="kind"></span>
          <span class="chips"><span id="focus-ask" class="chip ask"></span><span id="focus-activity" class="chip activity"></span><span id="focus-state" class="chip state"></span></span>
          <span id="controls" hidden><button data-op="start">start</button><button data-op="stop">stop</button><button data-op="restart">restart</button></span>
          <button id="close" title="close">×</button></div>
        <div id="focus-stats" class="stats"></div>
        <div id="question" hidden><span id="question-text"></span>
          <span id="answers" hidden><button data-answer="yes">yes</button><button data-answer="no">no</button><button data-answer="always">always</button></span></div>
        <div class="panes"><pre id="focus-transcript" hidden></pre><pre id="focus-screen"></pre></div>
        <form id="send" hidden><input id="input" autocomplete="off" placeholder="type to the agent, Enter sends">
          <button type="submit">send</button></form>
      </section>
      <section id="timeline-box"><h2>timeline</h2><div id="timeline"></div></section>
    </div>
    </main>
    <script>
    "use strict";
    const $ = id => document.getElementById(id);
    const agents = new Map();      // "profile/agent" -> {status, tile, stats, screenEnd, busy}
    const sockets = new Map();     // profile -> WebSocket of its events
    let scope = "none", focused = null, transcriptDirty = false;

    function el(tag, cls, text) { const e = document.createElement(tag); if (cls) e.className = cls; if (text != null) e.textContent = text; return e; }
    function api(path, init) { return fetch(path, Object.assign({credentials: "same-origin"}, init)); }

    function statsText(a) {
      const s = a.stats, parts = [];
      if (s.step != null) parts.push("step " + s.step + (s.limit ? "/" + s.limit : ""));
      if (s.tokens) parts.push(s.tokens.toLocaleString("en") + " tokens");
      if (s.cost) parts.push("$" + s.cost.toFixed(4));
      if (a.status.activity) parts.push(a.status.activity);
      if (a.status.restarts) parts.push(a.status.restarts + " restarts");
      if (a.status.lastError) parts.push(a.status.lastError);
      return parts.join(" · ") || "\u00a0";
    }

    function makeTile(key, status) {
      const tile = el("div", "tile"); tile.dataset.agent = key;
      const head = el("div", "head");
      const chips = el("span", "chips");
      chips.append(el("span", "chip ask"), el("span", "chip activity"), el("span", "chip state"));
      head.append(el("span", "name", key), el("span", "kind", status.kind), chips);
      tile.append(head, el("div", "stats"), el("pre", "screen"));
      tile.addEventListener("click", () => setFocus(key));
      return tile;
    }

    // What a state means, as the chip's colour: ok, busy (working), wait (for someone or to
    // start), bad (ended in failure or lost), anything else grey.
    const meaning = {running: "ok", staying: "ok", thinking: "busy", running_tool: "busy", working: "busy",
      waiting: "wait", idle: "wait", starting: "wait", restarting: "wait", backoff: "wait",
      exited: "bad", failed: "bad", lost: "bad", fatal: "bad", down: "bad"};
    const live = new Set(["running", "starting", "restarting", "backoff", "stopping"]);
    function chip(node, text) { node.textContent = text || ""; node.className = node.className.split(" ").slice(0, 2).join(" ") + " " + (meaning[text] || ""); }
    function chips(box, s) {
      chip(box.querySelector(".state"), s.state);
      chip(box.querySelector(".activity"), live.has(s.state) && s.activity !== s.state ? s.activity : "");
      box.querySelector(".ask").textContent = s.permission ? "asks: " + s.permission.tool : "";
    }

    function draw(key) {
      const a = agents.get(key); if (!a) return;
      chips(a.tile, a.status);
      a.tile.querySelector(".stats").textContent = statsText(a);
      a.tile.classList.toggle("focused", key === focused);
      if (key === focused) {
        chip($("focus-state"), a.status.state);
        chip($("focus-activity"), live.has(a.status.state) && a.status.activity !== a.status.state ? a.status.activity : "");
        $("focus-ask").textContent = a.status.permission ? "asks: " + a.status.permission.tool : "";
        $("focus-stats").textContent = a.note || statsText(a);
        const running = live.has(a.status.state);
        for (const b of $("controls").querySelectorAll("button")) b.disabled = b.dataset.op === "start" ? running : b.dataset.op === "stop" ? !running : false;
        const q = a.status.permission;
        $("question").hidden = !q;
        if (q) { $("question-text").textContent = `may it run ${q.tool}(${q.summary})?`; $("question").dataset.id = q.id; }
      }
    }

    // A terminal's rows with their colours and attributes (runs from the server's screen);
    // text only ever as text nodes.
    function paint(pre, j, last) {
      const n = j.rows.length, from = last ? Math.max(0, n - last) : 0, parts = [];
      for (let i = from; i < n; i++) {
        if (i > from) parts.push("\n");
        const runs = j.spans && j.spans[i];
        if (!runs) { parts.push(j.rows[i]); continue; }
        for (const [text, k] of runs) {
          const st = j.styles[k] || {};
          if (!k) { parts.push(text); continue; }
          const span = el("span", null, text);
          let fg = st.fg, bg = st.bg;
          if (st.r) { fg = st.bg || "var(--term-bg)"; bg = st.fg || "var(--fg)"; }
          if (fg) span.style.color = fg;
          if (bg) span.style.backgroundColor = bg;
          if (st.b) span.style.fontWeight = "bold";
          if (st.i) span.style.fontStyle = "italic";
          const line = [st.u && "underline", st.s && "line-through"].filter(Boolean).join(" ");
          if (line) span.style.textDecoration = line;
          parts.push(span);
        }
      }
      pre.replaceChildren(...parts);
    }

    async function refresh() {
      let rows;
      try {
        const r = await api("/api/profiles");
        if (r.status === 401) { $("tiles").replaceChildren(el("div", "", "Not logged in: open the URL `supervisor serve` printed (…/?token=…).")); $("tiles").firstChild.id = "notice"; return; }
        rows = await r.json();
      } catch (e) { $("summary").textContent = "server unreachable"; return; }
      const seen = new Set(), profiles = new Set();
      for (const s of rows) {
        const key = s.profile + "/" + s.agent; seen.add(key); profiles.add(s.profile);
        let a = agents.get(key);
        if (!a) { a = {status: s, tile: makeTile(key, s), stats: {}, screenEnd: -1, busy: false}; agents.set(key, a); }
        a.status = s;
      }
      for (const [key, a] of agents) if (!seen.has(key)) { a.tile.remove(); agents.delete(key); if (focused === key) setFocus(null); }
      const order = [...agents.keys()].sort();
      const box = $("tiles");
      if (!order.length) box.replaceChildren(Object.assign(el("div", "", "No profile is up."), {id: "notice"}));
      else box.replaceChildren(...order.map(k => agents.get(k).tile));
      for (const key of order) { draw(key); screen(key); }
      for (const p of profiles) if (!sockets.has(p)) listen(p);
      for (const [p, ws] of sockets) if (!profiles.has(p)) { sockets.delete(p); ws.close(); }
      $("summary").textContent = order.length + (order.length === 1 ? " agent in " : " agents in ") + profiles.size + (profiles.size === 1 ? " profile" : " profiles");
      if (focused && transcriptDirty) transcript();
    }

    // The terminal of one agent, fetched again only when its log has grown.
    async function screen(key, force) {
      const a = agents.get(key); if (!a || a.busy) return;
      const big = key === focused;
      // The focused agent is asked every time (its size may lag its output); the others when
      // their log has grown.
      if (!force && !big && a.screenEnd === a.status.logBytes) return;
      a.busy = true;
      try {
        const [p, n] = key.split("/");
        const r = await api(`/api/profiles/${p}/agents/${n}/screen?rows=${big ? 45 : 12}&cols=${big ? 140 : 100}`);
        if (r.ok) {
          const j = await r.json();
          a.screenEnd = a.status.logBytes;
          paint(a.tile.querySelector(".screen"), j, 12);
          if (key === focused && !big) { a.busy = false; return screen(key, true); }
          if (key === focused) { const pre = $("focus-screen"); const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4; paint(pre, j); if (atEnd) pre.scrollTop = pre.scrollHeight; }
        }
      } finally { a.busy = false; }
    }

    async function transcript() {
      const a = agents.get(focused); if (!a || a.status.kind === "command") return;
      transcriptDirty = false;
      const [p, n] = focused.split("/");
      const r = await api(`/api/profiles/${p}/agents/${n}/transcript`);
      if (r.ok) { const pre = $("focus-transcript"); pre.textContent = await r.text(); pre.scrollTop = pre.scrollHeight; }
    }

    function setFocus(key) {
      focused = key;
      $("focus").classList.toggle("open", !!key);
      for (const [k] of agents) draw(k);
      if (!key) return;
      const a = agents.get(key);
      $("focus-name").textContent = key; $("focus-kind").textContent = a.status.kind;
      $("focus-transcript").hidden = a.status.kind === "command";
      $("focus-transcript").textContent = ""; $("focus-screen").textContent = "";
      $("send").hidden = scope !== "control";
      $("controls").hidden = scope !== "control"; $("answers").hidden = scope !== "control";
      a.note = null;
      draw(key); screen(key, true); transcript();
      if (scope === "control") $("input").focus();
    }

    // Every agent's events of one profile, in the order they happen: the timeline, and the
    // steps, tokens and cost of the tiles (totals over what the stream replayed and sent since).
    const replayed = new Set();   // profiles whose history this page has (a reconnect asks none again)
    function listen(profile) {
      const replay = replayed.has(profile) ? 0 : 500; replayed.add(profile);
      const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + `/api/profiles/${profile}/events?replay=${replay}`);
      sockets.set(profile, ws);
      ws.onmessage = m => {
        let j; try { j = JSON.parse(m.data); } catch (e) { return; }
        if (j.type !== "event" || !j.event) return;
        const key = profile + "/" + j.agent, e = j.event, a = agents.get(key);
        if (a) {
          if (e.type === "step") { a.stats.step = e.n; a.stats.limit = e.limit; }
          if (e.type === "tokens") { a.stats.tokens = (a.stats.tokens || 0) + (e.input || 0) + (e.output || 0); a.stats.cost = (a.stats.cost || 0) + (e.cost_usd || 0); }
          draw(key);
          if (key === focused) transcriptDirty = true;
        }
        timeline(key, e);
      };
      ws.onclose = () => { if (sockets.get(profile) === ws) { sockets.delete(profile); } };
    }

    function timeline(key, e) {
      const box = $("timeline"), atEnd = box.scrollTop + box.clientHeight >= box.scrollHeight - 4;
      const line = el("div");
      const rest = Object.entries(e).filter(([k]) => !["ts", "type", "agent", "v"].includes(k))
        .map(([k, v]) => k + "=" + (typeof v === "string" ? v : JSON.stringify(v))).join(" ");
      line.append(el("span", "t", (e.ts || "").replace("T", " ").slice(11, 19) + " "), el("span", "a", key + " "), el("span", "k", e.type + " "), document.createTextNode(rest.slice(0, 300)));
      line.title = rest.slice(0, 2000);
      box.append(line);
      while (box.childElementCount > 1000) box.firstChild.remove();
      if (atEnd) box.scrollTop = box.scrollHeight;
    }

    $("close").onclick = e => { e.stopPropagation(); setFocus(null); };
    // Start, stop, restart, and the answers to a permission question (control scope; the
    // server refuses a read token whatever the page shows).
    async function act(path, init) {
      const a = agents.get(focused); if (!a) return;
      const [p, n] = focused.split("/");
      const r = await api(`/api/profiles/${p}/agents/${n}/${path}`, Object.assign({method: "POST"}, init));
      a.note = r.ok ? null : "refused: " + (await r.text());
      refresh();
    }
    for (const b of $("controls").querySelectorAll("button")) b.onclick = () => act(b.dataset.op);
    for (const b of $("answers").querySelectorAll("button")) b.onclick = () =>
      act(`permission/${encodeURIComponent($("question").dataset.id)}`, {headers: {"Content-Type": "application/json"}, body: JSON.stringify({answer: b.dataset.answer})});
    $("send").onsubmit = async e => {
      e.preventDefault();
      const a = agents.get(focused), text = $("input").value; if (!a) return;
      const [p, n] = focused.split("/");
      // A command agent gets the line typed (with Enter); a built-in agent gets it as one
      // message, as pasted into its pane.
      const command = a.status.kind === "command";
      const r = await api(`/api/profiles/${p}/agents/${n}/${command ? "input" : "paste"}`, {method: "POST", body: command ? text + "\r" : text});
      if (r.ok) $("input").value = ""; else $("focus-stats").textContent = "refused: " + (await r.text());
    };

    api("/api/session").then(r => r.ok ? r.json() : {scope: "none"}).then(j => {
      scope = j.scope; $("scope").textContent = scope === "none" ? "" : scope === "control" ? "· control" : "· read-only";
      refresh(); setInterval(refresh, 1000);
    });
    </script></body></html>
    """#
}
