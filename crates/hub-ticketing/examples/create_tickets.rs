//! Creates one ticket in each dialect (generic, Zendesk, Jira) against hub-sim, started
//! in this process on loopback ports, and reads each back.
//!
//! Run with `cargo run -p hub-ticketing --example create_tickets`.
#![allow(clippy::print_stdout)] // An example talks to its terminal.

use std::sync::Arc;

use hub_core::{CustomerId, NewTicket, Priority, TicketingPort};
use hub_sim::{Sim, SimConfig, System};
use hub_ticketing::jira::CreateFields;
use hub_ticketing::{Generic, Jira, TicketingAdapter, Zendesk};
use hub_upstream::auth::{ApiKey, Basic};
use hub_upstream::testing::{MemoryAudit, StaticSecrets, ctx};
use hub_upstream::{Authenticate, ClientConfig, Endpoint, EndpointParts, HttpClient, SecretCell};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sim = Sim::start(SimConfig::default()).await?;
    // The credentials hub-sim accepts; in production these are `env:`, `file:` or `vault:` references.
    let secrets = Arc::new(StaticSecrets::default());
    secrets.set("env:GENERIC_KEY", "sim-generic-key");
    secrets.set("env:ZENDESK_TOKEN", "sim-zendesk-token");
    secrets.set("env:JIRA_TOKEN", "sim-jira-token");
    let cell =
        |r: &str| -> Result<SecretCell, hub_core::SecretError> { Ok(SecretCell::new(secrets.clone(), r.parse()?)) };
    let http = HttpClient::new(&ClientConfig::default())?;
    let audit = Arc::new(MemoryAudit::default());
    let endpoint = |system: System, auth: Arc<dyn Authenticate>| -> Result<Arc<Endpoint>, Box<dyn std::error::Error>> {
        let mut parts = EndpointParts::new(
            hub_core::Adapter::Ticketing,
            sim.url(system).parse()?,
            http.clone(),
            audit.clone(),
        );
        parts.auth = auth;
        Ok(Arc::new(Endpoint::new(parts)))
    };

    let generic = TicketingAdapter::new(
        Generic,
        endpoint(
            System::Generic,
            Arc::new(ApiKey::new(
                http::HeaderName::from_static("x-api-key"),
                cell("env:GENERIC_KEY")?,
            )),
        )?,
    );
    let zendesk = TicketingAdapter::new(
        Zendesk::default(),
        endpoint(
            System::Zendesk,
            Arc::new(Basic::zendesk("agent@example.com", cell("env:ZENDESK_TOKEN")?)),
        )?,
    );
    let jira = TicketingAdapter::new(
        Jira {
            project_key: "SUP".into(),
            issue_type: "Task".into(),
            browse_url: sim.url(System::Jira),
            service_management: true,
            create_fields: CreateFields::default(),
        },
        endpoint(
            System::Jira,
            Arc::new(Basic::jira("agent@example.com", cell("env:JIRA_TOKEN")?)),
        )?,
    );

    let ticket = NewTicket {
        customer_id: CustomerId::parse("CUST-1001")?,
        subject: "Card declined".into(),
        description: "Twice today.".into(),
        priority: Priority::High,
    };
    let ports: [(&str, &dyn TicketingPort); 3] = [("generic", &generic), ("zendesk", &zendesk), ("jira", &jira)];
    for (name, port) in ports {
        let created = port.create_ticket(&ctx(&format!("example-{name}")), &ticket).await?;
        let read = port
            .get_ticket_status(&ctx(&format!("example-{name}-read")), &created.ticket_id)
            .await?;
        println!(
            "{name:>8}: created {} ({:?}) at {}",
            created.ticket_id.as_str(),
            read.value.status,
            created.url
        );
    }
    println!("audit records: {}", audit.records().len());
    sim.shutdown().await;
    Ok(())
}
