"""The web console: the security team's, the auditors', the administrators' and a data
subject's pages, server-rendered over the other services' APIs (docs/console.md)."""
