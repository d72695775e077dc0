//! Simulated external systems (ticketing, Zendesk, Jira, transactions, sales, Vault) over real HTTP.
