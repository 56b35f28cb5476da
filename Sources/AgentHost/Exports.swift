// The shim's clients (Hosting and through it the dashboard, the agents and the CLI) see the
// event protocol and its JSON as the shim's own.
@_exported import AgentProtocol
