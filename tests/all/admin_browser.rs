//! The supervisor's page in a real browser: headless Chromium driven through chromedriver
//! (WebDriver) against the real hub and hub-sim — an outage dead-letters a write, the
//! supervisor signs in, sees it, and replays it once the outage is over.
//!
//! Needs Debian's `chromium` and `chromium-driver`; `cargo xtask test` installs them and
//! points `HUB_CHROMIUM` / `HUB_CHROMEDRIVER` at them. Without them this test fails and
//! says so: a browser test that passes without a browser proves nothing.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use futures_util::FutureExt;
use hub_sim::{EffectFilter, EffectKind, System};
use hub_tests::{ADMIN_TOKEN, Hub, Options, WRITE_TOKEN};
use serde_json::json;

/// The longest any one thing may take to show up in the page.
const WAIT: Duration = Duration::from_secs(20);

fn tool(var: &str, default: &str) -> PathBuf {
    let path = std::env::var_os(var).map_or_else(|| PathBuf::from(default), PathBuf::from);
    assert!(
        path.is_file(),
        "{} not found (set {var} to override): run `cargo xtask test`, which installs Debian's \
         chromium and chromium-driver when they are missing and sets HUB_CHROMIUM and HUB_CHROMEDRIVER",
        path.display()
    );
    path
}

/// A chromedriver this test started; killed (only it, by its own handle) when dropped.
struct Driver {
    child: Child,
    url: String,
    /// Chromium's profile, removed after the browser is gone.
    _profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Starts chromedriver on a free loopback port and connects a headless Chromium session.
async fn browser() -> (Driver, Client) {
    let chromedriver = tool("HUB_CHROMEDRIVER", "/usr/bin/chromedriver");
    let chromium = tool("HUB_CHROMIUM", "/usr/bin/chromium");
    let port = free_port();
    let child = Command::new(&chromedriver)
        .arg(format!("--port={port}"))
        .arg("--allowed-ips=127.0.0.1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("could not start {}: {e}", chromedriver.display()));
    let profile = tempfile::tempdir().unwrap();
    let mut caps = serde_json::Map::new();
    caps.insert("browserName".to_owned(), json!("chrome"));
    caps.insert(
        "goog:chromeOptions".to_owned(),
        json!({
            "binary": chromium,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-extensions", "--no-first-run",
                "--no-default-browser-check", "--window-size=1400,1000",
                format!("--user-data-dir={}", profile.path().display()),
            ],
        }),
    );
    let driver = Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
        _profile: profile,
    };
    // chromedriver answers once it listens: poll for the session with a deadline.
    let deadline = Instant::now() + WAIT;
    loop {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector)
            .capabilities(caps.clone())
            .connect(&driver.url)
            .await
        {
            Ok(client) => return (driver, client),
            Err(e) if Instant::now() < deadline => {
                tracing::debug!(error = %e, "chromedriver not ready yet");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("no WebDriver session from {} within {WAIT:?}: {e}", driver.url),
        }
    }
}

/// Waits (polling the DOM, bounded) for an element matching the XPath expression.
async fn wait_for(client: &Client, xpath: &str) -> fantoccini::elements::Element {
    match client.wait().at_most(WAIT).for_element(Locator::XPath(xpath)).await {
        Ok(e) => e,
        Err(e) => {
            let source = client.source().await.unwrap_or_default();
            panic!("{xpath} did not appear within {WAIT:?}: {e}\npage:\n{source}")
        }
    }
}

/// Fails a write to the ticketing system during an outage; returns its DLQ entry's id.
async fn dead_lettered_write(hub: &Hub, key: &str) -> String {
    let failed = hub
        .post(
            "/v1/tickets",
            WRITE_TOKEN,
            json!({"customer_id": "CUST-1003", "subject": "printer on fire", "description": "d"}),
            &[("idempotency-key", key)],
        )
        .await;
    assert_eq!(failed.status, 502, "{}", String::from_utf8_lossy(&failed.body));
    failed.json()["dlq_id"].as_str().unwrap().to_owned()
}

fn artifact(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

async fn supervisor_replays_a_dead_letter(client: &Client, hub: &Hub) {
    hub.sim.control().set_outage(System::Generic, true);
    let first = dead_lettered_write(hub, "browser-outage-1").await;

    // Signed out, the page is the sign-in form; the admin token signs in.
    client.goto(&format!("{}/admin", hub.url)).await.unwrap();
    let token = wait_for(client, "//form[@id='sign-in']//input[@name='token']").await;
    token.send_keys(ADMIN_TOKEN).await.unwrap();
    client
        .find(Locator::Css("#sign-in button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for(client, "//button[@id='sign-out']").await;

    // Chromium accepted the Secure session cookie over http://127.0.0.1 (a potentially
    // trustworthy origin), with the attributes the hub set; it holds no token.
    let cookie = client.get_named_cookie("hub_admin_session").await.unwrap();
    assert_eq!(
        (cookie.secure(), cookie.http_only(), cookie.path()),
        (Some(true), Some(true), Some("/admin"))
    );
    assert_eq!(format!("{:?}", cookie.same_site()), "Some(Strict)");
    assert!(!cookie.value().contains(ADMIN_TOKEN));
    // JavaScript cannot read it.
    let visible = client.execute("return document.cookie;", vec![]).await.unwrap();
    assert!(
        !visible.as_str().unwrap_or("").contains("hub_admin_session"),
        "{visible}"
    );

    // The entry is listed, pending; the ticketing adapter's failures show in its row.
    let row = format!("//tr[@data-dlq-id='{first}']");
    wait_for(
        client,
        &format!("{row}/td[contains(@class,'status') and normalize-space()='pending']"),
    )
    .await;
    wait_for(
        client,
        "//tr[@data-adapter='ticketing']/td[@class='rate' and normalize-space()='100.0 %']",
    )
    .await;

    // The page refreshes itself (the script from /admin/admin.js runs under the CSP): a
    // second failed write appears without a reload.
    let second = dead_lettered_write(hub, "browser-outage-2").await;
    wait_for(client, &format!("//tr[@data-dlq-id='{second}']")).await;
    wait_for(
        client,
        "//span[@id='refreshed' and starts-with(normalize-space(), '(updated')]",
    )
    .await;

    // The outage ends; Replay posts the form, the page comes back with the result.
    hub.sim.control().set_outage(System::Generic, false);
    wait_for(client, &format!("{row}//form[contains(@class,'replay')]//button"))
        .await
        .click()
        .await
        .unwrap();
    let flash = wait_for(client, "//p[@id='flash' and contains(@class,'ok')]").await;
    let text = flash.text().await.unwrap();
    assert!(text.contains(&format!("Replayed {first}")), "{text}");
    wait_for(
        client,
        &format!("{row}/td[contains(@class,'status') and normalize-space()='replayed']"),
    )
    .await;
    wait_for(
        client,
        &format!("//tr[@data-dlq-id='{second}']/td[contains(@class,'status') and normalize-space()='pending']"),
    )
    .await;
    let created = hub
        .sim
        .control()
        .effects(&EffectFilter::kind(EffectKind::TicketCreated));
    assert_eq!(created.len(), 1, "one ticket, created by the replay");
    assert_eq!(created[0].idempotency_key.as_deref(), Some("browser-outage-1"));

    let png = client.screenshot().await.unwrap();
    std::fs::write(artifact("admin.png"), &png).unwrap();

    // Signing out ends the session.
    client
        .find(Locator::Id("sign-out"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for(client, "//form[@id='sign-in']").await;
}

#[tokio::test]
async fn a_supervisor_replays_a_dead_letter_in_a_real_browser() {
    // The browser first: without one the test fails before anything else is started.
    let (driver, client) = browser().await;
    let hub = Hub::start(Options {
        max_attempts: 1,
        ..Options::default()
    })
    .await;
    let outcome = std::panic::AssertUnwindSafe(supervisor_replays_a_dead_letter(&client, &hub))
        .catch_unwind()
        .await;
    let _ = client.close().await;
    drop(driver);
    hub.stop().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}
