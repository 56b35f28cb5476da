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

    /// A minimal page until the web dashboard comes: the profiles and agents this server sees.
    static let indexHTML = """
    <!doctype html>
    <html><head><meta charset="utf-8"><title>supervisor</title>
    <style>body{font:14px monospace;margin:2em}td{padding:0 1em 0 0}</style></head>
    <body><h1>supervisor</h1><table id="agents"><tr><td>loading…</td></tr></table>
    <p>API: <a href="/api/openapi.json">/api/openapi.json</a></p>
    <script>
    fetch('/api/profiles').then(r => r.ok ? r.json() : Promise.reject(r.status)).then(rows => {
      const t = document.getElementById('agents');
      t.innerHTML = '<tr><th>profile</th><th>agent</th><th>kind</th><th>state</th><th>log bytes</th></tr>';
      for (const a of rows) {
        const tr = t.insertRow();
        for (const v of [a.profile, a.agent, a.kind, a.state, a.logBytes]) tr.insertCell().textContent = v;
      }
    }).catch(s => { document.getElementById('agents').textContent =
      s === 401 ? 'not logged in: open the URL `supervisor serve` printed' : 'error ' + s; });
    </script></body></html>
    """
}
