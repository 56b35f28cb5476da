import AgentTranscript

/// Events of all agents merged in time order. Pure; bounded.
public struct Timeline: Sendable {
    public private(set) var events: [TimelineEvent] = []
    public let capacity: Int
    /// Event types seen, in order of first appearance (for the kind filter).
    public private(set) var kinds: [String] = []

    public init(capacity: Int = 20_000) { self.capacity = capacity }

    /// Adds events (any order); keeps time order, stable for equal times.
    public mutating func add(_ event: TimelineEvent) {
        if !kinds.contains(event.type) { kinds.append(event.type) }
        if let last = events.last, last.time > event.time {
            // Binary search for the first later event.
            var lo = 0, hi = events.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if events[mid].time <= event.time { lo = mid + 1 } else { hi = mid }
            }
            events.insert(event, at: lo)
        } else {
            events.append(event)
        }
        if events.count > capacity { events.removeFirst(events.count - capacity) }
    }

    public mutating func add(contentsOf list: [TimelineEvent]) {
        let sorted = list.sorted { $0.time < $1.time }
        if events.isEmpty || (sorted.first.map { $0.time >= events.last!.time } ?? true) {
            for e in sorted where !kinds.contains(e.type) { kinds.append(e.type) }
            events += sorted
            if events.count > capacity { events.removeFirst(events.count - capacity) }
        } else {
            for e in sorted { add(e) }
        }
    }

    public func filtered(agent: String?, kind: String?) -> [TimelineEvent] {
        if agent == nil && kind == nil { return events }
        return events.filter { (agent == nil || $0.agent == agent) && (kind == nil || $0.type == kind) }
    }

    /// `HH:MM:SS agent type summary` in local time offset `utcOffset` seconds.
    public static func format(_ event: TimelineEvent, utcOffset: Int, agentWidth: Int) -> String {
        let t = Int(event.time) + utcOffset
        let s = ((t % 86400) + 86400) % 86400
        func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let clock = "\(two(s / 3600)):\(two(s / 60 % 60)):\(two(s % 60))"
        let name = event.agent.count >= agentWidth ? String(event.agent.prefix(agentWidth)) : event.agent + String(repeating: " ", count: agentWidth - event.agent.count)
        let type = event.type.count >= 8 ? event.type : event.type + String(repeating: " ", count: 8 - event.type.count)
        return "\(clock) \(name) \(type) \(event.summary)"
    }
}
