// Hosting's clients see the shim's types (specs, frames, state, events) as Hosting's own.
@_exported import AgentHost
