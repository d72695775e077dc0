//! Ticketing adapters (generic, Zendesk v2, Jira Cloud v3) behind the `TicketingPort`.
