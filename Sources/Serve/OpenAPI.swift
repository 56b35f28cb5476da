/// The HTTP API as an OpenAPI 3.1 document, served at `/api/openapi.json`. The WebSocket
/// streams are described in README.md ("Remote access"); OpenAPI has no words for them.
enum OpenAPI {
    static let document: String = {
        func op(_ summary: String, scope: String, params: [String] = [], body: String? = nil, response: String = "JSON") -> String {
            var fields = ["\"summary\":\(quote(summary + " (scope: \(scope))"))"]
            let all = ["profile", "agent", "id"].filter { params.contains($0) }.map {
                "{\"name\":\"\($0)\",\"in\":\"path\",\"required\":true,\"schema\":{\"type\":\"string\"}}"
            } + params.filter { !["profile", "agent", "id"].contains($0) }.map {
                "{\"name\":\"\($0)\",\"in\":\"query\",\"required\":false,\"schema\":{\"type\":\"integer\",\"minimum\":0}}"
            }
            if !all.isEmpty { fields.append("\"parameters\":[\(all.joined(separator: ","))]") }
            if let body { fields.append("\"requestBody\":{\"required\":true,\"content\":{\(quote(body)):{}}}") }
            let type = response == "bytes" ? "application/octet-stream" : response == "text" ? "text/plain" : "application/json"
            fields.append("\"responses\":{\"200\":{\"description\":\(quote(response)),\"content\":{\(quote(type)):{}}},"
                + "\"401\":{\"description\":\"no or wrong token\"},\"403\":{\"description\":\"read token acting, or a foreign Origin\"},"
                + "\"404\":{\"description\":\"no such profile, agent or conversation\"}}")
            return "{" + fields.joined(separator: ",") + "}"
        }
        func quote(_ s: String) -> String { jsonQuote(s) }
        let agent = "/api/profiles/{profile}/agents/{agent}"
        let pa = ["profile", "agent"]
        let paths: [(String, [(String, String)])] = [
            ("/api/session", [("get", op("The scope of the caller's token: {scope: read|control}", scope: "read"))]),
            ("/api/profiles", [("get", op("Every agent of every profile that is up, as `supervisor status --json` shows it", scope: "read"))]),
            ("/api/profiles/{profile}", [("get", op("The agents of one profile", scope: "read", params: ["profile"]))]),
            (agent, [("get", op("One agent's status, plus its own activity (thinking, idle, ...)", scope: "read", params: pa))]),
            (agent + "/log", [("get", op("Log bytes from global offset `from` (at most `max`); headers X-Log-Offset (where they really start) and X-Log-End", scope: "read", params: pa + ["from", "max"], response: "bytes"))]),
            (agent + "/events", [("get", op("Event lines from byte `from` of the events file: {next, events}; whole lines only", scope: "read", params: pa + ["from"]))]),
            (agent + "/transcript", [("get", op("The conversation as readable text (the transcript renderer every view uses) from events byte `from`; X-Next-Offset continues", scope: "read", params: pa + ["from"], response: "text"))]),
            (agent + "/screen", [("get", op("The agent's terminal as text rows: the log's tail through a virtual screen of `rows` x `cols`: {end, rows}", scope: "read", params: pa + ["rows", "cols"]))]),
            (agent + "/input", [("post", op("Type the body's bytes into the agent's terminal", scope: "control", params: pa, body: "application/octet-stream"))]),
            (agent + "/paste", [("post", op("Deliver the body (UTF-8) as one submission: a bracketed paste plus Enter", scope: "control", params: pa, body: "text/plain"))]),
            (agent + "/start", [("post", op("Start the agent", scope: "control", params: pa))]),
            (agent + "/stop", [("post", op("Stop the agent (SIGTERM, SIGKILL after stop_timeout)", scope: "control", params: pa))]),
            (agent + "/restart", [("post", op("Restart the agent", scope: "control", params: pa))]),
            (agent + "/permission/{id}", [("post", op("Answer the coder's open permission question `id` (its `permission` event) with {\"answer\": \"yes\"|\"no\"|\"always\"}; 409 when it is not asking it", scope: "control", params: pa + ["id"], body: "application/json"))]),
            (agent + "/settings", [("post", op("Persist settings like `supervisor set` ({\"key\": \"value\"}); validated against the profile schema", scope: "control", params: pa, body: "application/json"))]),
            (agent + "/conversations", [("get", op("The exec agent's stored conversations (without their messages)", scope: "read", params: pa))]),
            (agent + "/conversations/{id}", [("get", op("One conversation, whole", scope: "read", params: pa + ["id"])),
                                            ("delete", op("Delete a conversation", scope: "control", params: pa + ["id"]))]),
            (agent + "/conversations/{id}/resume", [("post", op("Switch the exec agent to a stored conversation (as `/resume ID` in its pane)", scope: "control", params: pa + ["id"]))]),
        ]
        let body = paths.map { path, ops in
            quote(path) + ":{" + ops.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}"
        }.joined(separator: ",")
        return "{\"openapi\":\"3.1.0\",\"info\":{\"title\":\"supervisor serve\",\"version\":\"1\","
            + "\"description\":\"Every request carries Authorization: Bearer TOKEN (or the login cookie a browser gets from /?token=). WebSockets: /api/profiles/{profile}/agents/{agent}/stream?from=OFFSET, /api/profiles/{profile}/stream?agents=A,B&from=A:OFFSET (every agent on one socket) and /api/profiles/{profile}/events (README, Remote access).\"},"
            + "\"components\":{\"securitySchemes\":{\"bearer\":{\"type\":\"http\",\"scheme\":\"bearer\"}}},\"security\":[{\"bearer\":[]}],"
            + "\"paths\":{" + body + "}}"
    }()
}
