//! A small Chrome DevTools Protocol (CDP) driver for browser tests of the wallboard page:
//! headless Chromium, one WebSocket to its DevTools endpoint, pages as flat sessions.
//!
//! It does what the page tests need and nothing more: open a page, evaluate JavaScript
//! (promises awaited, values returned as JSON), wait until an expression is truthy,
//! reload, take a PNG screenshot, and collect what the page logged.
//!
//! Chromium comes from `$CCPULSE_CHROMIUM` or `/usr/bin/chromium`; `scripts/test.sh`
//! installs it with `scripts/install-browser.sh`. Without it [`Browser::launch`] fails
//! saying so: browser tests never pass by skipping.

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

/// Where Chromium is looked for when `$CCPULSE_CHROMIUM` is unset.
const DEFAULT_CHROMIUM: &str = "/usr/bin/chromium";

/// How long Chromium may take to print its DevTools address.
const LAUNCH_TIMEOUT: Duration = Duration::from_secs(30);

/// How long one CDP command may take (a screenshot of a large page is the slowest).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a navigation may take until the page's `load` event.
const LOAD_TIMEOUT: Duration = Duration::from_secs(30);

/// How often [`Page::wait_for`] re-evaluates its expression.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Lines of Chromium's stderr kept for the error when it fails to start.
const STDERR_TAIL_LINES: usize = 30;

/// A headless Chromium process and the DevTools connection to it. Dropping it kills the
/// process (and its renderers: the whole process group).
#[derive(Debug)]
pub struct Browser {
    connection: Arc<Connection>,
    // Held for its drop, which kills Chromium; field order matters on drop: the
    // process dies before its profile is deleted.
    _process: ChromiumProcess,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts headless Chromium (`$CCPULSE_CHROMIUM`, else `/usr/bin/chromium`) with a
    /// fresh profile and connects to it.
    ///
    /// # Errors
    /// As [`Browser::launch_executable`].
    pub async fn launch() -> Result<Browser> {
        let executable = std::env::var_os("CCPULSE_CHROMIUM")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_CHROMIUM));
        Browser::launch_executable(&executable).await
    }

    /// Starts this Chromium executable headless with a fresh profile and connects to it.
    ///
    /// # Errors
    /// When there is no such file (the message says to run
    /// `scripts/install-browser.sh`), Chromium does not start, or its DevTools endpoint
    /// refuses the connection.
    pub async fn launch_executable(executable: &Path) -> Result<Browser> {
        if !executable.is_file() {
            bail!(
                "Chromium not found at {}: run `scripts/install-browser.sh` (or set \
                 CCPULSE_CHROMIUM to a Chromium or Chrome executable)",
                executable.display()
            );
        }
        let profile = tempfile::tempdir().context("creating a Chromium profile directory")?;
        let mut child = Command::new(executable)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--remote-debugging-port=0",
                "--window-size=1600,1000",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            // Its own process group, so that drop can kill the renderers too.
            .process_group(0)
            .spawn()
            .with_context(|| format!("starting {}", executable.display()))?;
        let stderr = child.stderr.take().context("Chromium's stderr")?;
        let process = ChromiumProcess(child);

        let (address_tx, address_rx) = oneshot::channel();
        let stderr_tail = Arc::new(Mutex::new(VecDeque::new()));
        spawn_stderr_reader(stderr, address_tx, Arc::clone(&stderr_tail));
        let tail = || {
            let lines = stderr_tail
                .lock()
                .unwrap_or_else(|poison| poison.into_inner());
            lines.iter().cloned().collect::<Vec<_>>().join("\n")
        };
        let address = match tokio::time::timeout(LAUNCH_TIMEOUT, address_rx).await {
            Ok(Ok(address)) => address,
            Ok(Err(_)) => bail!(
                "Chromium exited before printing its DevTools address; its stderr:\n{}",
                tail()
            ),
            Err(_) => bail!(
                "Chromium printed no DevTools address within {LAUNCH_TIMEOUT:?}; its stderr:\n{}",
                tail()
            ),
        };
        let connection = Connection::open(&address).await?;
        Ok(Browser {
            connection,
            _process: process,
            _profile: profile,
        })
    }

    /// Opens a new tab and navigates it to `url` (waiting for its `load` event).
    ///
    /// # Errors
    /// When the tab cannot be created or the navigation fails.
    pub async fn new_page(&self, url: &str) -> Result<Page> {
        let target = self
            .connection
            .call(None, "Target.createTarget", json!({ "url": "about:blank" }))
            .await?;
        let target_id = target["targetId"]
            .as_str()
            .context("Target.createTarget returned no targetId")?;
        let attached = self
            .connection
            .call(
                None,
                "Target.attachToTarget",
                json!({ "targetId": target_id, "flatten": true }),
            )
            .await?;
        let session_id = attached["sessionId"]
            .as_str()
            .context("Target.attachToTarget returned no sessionId")?
            .to_owned();
        let page = Page {
            connection: Arc::clone(&self.connection),
            session_id,
        };
        page.call("Page.enable", json!({})).await?;
        page.call("Runtime.enable", json!({})).await?;
        page.goto(url).await?;
        Ok(page)
    }
}

/// The Chromium process; killed with its process group on drop.
#[derive(Debug)]
struct ChromiumProcess(Child);

impl Drop for ChromiumProcess {
    fn drop(&mut self) {
        // The launcher script execs Chromium, so this id is the browser's, and the
        // process group (created at spawn) holds its renderers and helpers.
        let group = format!("-{}", self.0.id());
        let killed_group = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if !killed_group {
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}

/// Reads Chromium's stderr on a thread: sends the `DevTools listening on ws://…`
/// address once, keeps the last lines for error messages, and drains the pipe until
/// Chromium exits (a full pipe would block it).
fn spawn_stderr_reader(
    stderr: std::process::ChildStderr,
    address: oneshot::Sender<String>,
    tail: Arc<Mutex<VecDeque<String>>>,
) {
    std::thread::spawn(move || {
        let mut address = Some(address);
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if let Some(url) = line.strip_prefix("DevTools listening on ")
                && let Some(sender) = address.take()
            {
                let _ = sender.send(url.trim().to_owned());
            }
            let mut lines = tail.lock().unwrap_or_else(|poison| poison.into_inner());
            if lines.len() == STDERR_TAIL_LINES {
                lines.pop_front();
            }
            lines.push_back(line);
        }
    });
}

/// One CDP event (its method; parameters are not needed yet), from a session (a page)
/// or the browser.
#[derive(Debug, Clone)]
struct Event {
    session_id: Option<String>,
    method: String,
}

/// The reply to one command: its `result`, or the error message.
type Reply = std::result::Result<Value, String>;

/// The DevTools WebSocket: commands go out through one task that owns the socket;
/// replies are matched to callers by id, events are broadcast.
#[derive(Debug)]
struct Connection {
    outgoing: mpsc::Sender<Message>,
    /// Callers waiting for a reply, by command id. Std mutex: never held across `.await`.
    pending: Arc<Mutex<HashMap<u64, oneshot::Sender<Reply>>>>,
    next_id: AtomicU64,
    events: broadcast::Sender<Event>,
    /// Console messages and uncaught exceptions, by session.
    logs: Arc<Mutex<HashMap<String, Vec<String>>>>,
    task: JoinHandle<()>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Connection {
    async fn open(address: &str) -> Result<Arc<Connection>> {
        let (socket, _) = tokio_tungstenite::connect_async(address)
            .await
            .with_context(|| format!("connecting to Chromium's DevTools at {address}"))?;
        let (mut sink, mut stream) = socket.split();
        let (outgoing, mut outgoing_rx) = mpsc::channel::<Message>(64);
        let pending: Arc<Mutex<HashMap<u64, oneshot::Sender<Reply>>>> = Arc::default();
        let logs: Arc<Mutex<HashMap<String, Vec<String>>>> = Arc::default();
        let (events, _) = broadcast::channel(1024);

        let task = {
            let pending = Arc::clone(&pending);
            let logs = Arc::clone(&logs);
            let events = events.clone();
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        message = outgoing_rx.recv() => {
                            let Some(message) = message else { break };
                            if sink.send(message).await.is_err() {
                                break;
                            }
                        }
                        message = stream.next() => {
                            let Some(Ok(message)) = message else { break };
                            let Message::Text(text) = message else { continue };
                            let Ok(message) = serde_json::from_str::<Value>(&text) else {
                                continue;
                            };
                            dispatch(message, &pending, &logs, &events);
                        }
                    }
                }
                // Callers still waiting get "connection closed" (their senders drop).
                pending
                    .lock()
                    .unwrap_or_else(|poison| poison.into_inner())
                    .clear();
            })
        };
        Ok(Arc::new(Connection {
            outgoing,
            pending,
            next_id: AtomicU64::new(1),
            events,
            logs,
            task,
        }))
    }

    /// Sends one command (to a page's session, or the browser) and awaits its result.
    async fn call(&self, session_id: Option<&str>, method: &str, params: Value) -> Result<Value> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut command = json!({ "id": id, "method": method, "params": params });
        if let Some(session_id) = session_id {
            command["sessionId"] = json!(session_id);
        }
        let (reply_tx, reply_rx) = oneshot::channel();
        self.pending
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .insert(id, reply_tx);
        self.outgoing
            .send(Message::text(command.to_string()))
            .await
            .map_err(|_| anyhow!("{method}: the DevTools connection is closed"))?;
        match tokio::time::timeout(COMMAND_TIMEOUT, reply_rx).await {
            Ok(Ok(Ok(result))) => Ok(result),
            Ok(Ok(Err(message))) => bail!("{method} failed: {message}"),
            Ok(Err(_)) => bail!("{method}: the DevTools connection closed"),
            Err(_) => {
                self.pending
                    .lock()
                    .unwrap_or_else(|poison| poison.into_inner())
                    .remove(&id);
                bail!("{method}: no reply within {COMMAND_TIMEOUT:?}")
            }
        }
    }
}

/// Routes one message from Chromium: a reply to its caller, an event to subscribers
/// (and console output and exceptions to the session's log).
fn dispatch(
    message: Value,
    pending: &Mutex<HashMap<u64, oneshot::Sender<Reply>>>,
    logs: &Mutex<HashMap<String, Vec<String>>>,
    events: &broadcast::Sender<Event>,
) {
    if let Some(id) = message["id"].as_u64() {
        let caller = pending
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .remove(&id);
        if let Some(caller) = caller {
            let reply = match message.get("error") {
                Some(error) => Err(error["message"].as_str().unwrap_or("unknown").to_owned()),
                None => Ok(message["result"].clone()),
            };
            let _ = caller.send(reply);
        }
        return;
    }
    let Some(method) = message["method"].as_str() else {
        return;
    };
    let session_id = message["sessionId"].as_str().map(str::to_owned);
    if let (Some(session_id), Some(line)) = (&session_id, log_line(method, &message["params"])) {
        logs.lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .entry(session_id.clone())
            .or_default()
            .push(line);
    }
    // No subscriber is fine: events matter only while someone waits for one.
    let _ = events.send(Event {
        session_id,
        method: method.to_owned(),
    });
}

/// A console call as `"<level>: <arguments>"`, an uncaught exception as
/// `"exception: <description>"`; other events are not logged.
fn log_line(method: &str, params: &Value) -> Option<String> {
    match method {
        "Runtime.consoleAPICalled" => {
            let arguments: Vec<String> = params["args"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|argument| match &argument["value"] {
                    Value::String(text) => text.clone(),
                    Value::Null => argument["description"]
                        .as_str()
                        .unwrap_or("undefined")
                        .to_owned(),
                    value => value.to_string(),
                })
                .collect();
            let level = params["type"].as_str().unwrap_or("log");
            Some(format!("{level}: {}", arguments.join(" ")))
        }
        "Runtime.exceptionThrown" => Some(format!(
            "exception: {}",
            exception_message(&params["exceptionDetails"])
        )),
        _ => None,
    }
}

/// The message of CDP `exceptionDetails`: the exception's description (message and
/// stack) when there is one, else the text.
fn exception_message(details: &Value) -> String {
    details["exception"]["description"]
        .as_str()
        .or_else(|| details["exception"]["value"].as_str())
        .or_else(|| details["text"].as_str())
        .unwrap_or("unknown exception")
        .to_owned()
}

/// One tab of the browser.
#[derive(Debug)]
pub struct Page {
    connection: Arc<Connection>,
    session_id: String,
}

impl Page {
    async fn call(&self, method: &str, params: Value) -> Result<Value> {
        self.connection
            .call(Some(&self.session_id), method, params)
            .await
    }

    /// Navigates to `url` and waits for the new document's `load` event (a change of
    /// the fragment only returns at once).
    ///
    /// # Errors
    /// When the navigation fails (the error names the reason, e.g.
    /// `net::ERR_CONNECTION_REFUSED`) or does not load within 30 s.
    pub async fn goto(&self, url: &str) -> Result<()> {
        let events = self.connection.events.subscribe();
        let navigated = self.call("Page.navigate", json!({ "url": url })).await?;
        if let Some(error) = navigated["errorText"].as_str().filter(|e| !e.is_empty()) {
            bail!("navigating to {url}: {error}");
        }
        if navigated.get("loaderId").is_none() {
            return Ok(());
        }
        self.wait_for_load(events)
            .await
            .with_context(|| format!("loading {url}"))
    }

    /// Reloads the page and waits for its `load` event.
    ///
    /// # Errors
    /// When the reload does not load within 30 s.
    pub async fn reload(&self) -> Result<()> {
        let events = self.connection.events.subscribe();
        self.call("Page.reload", json!({ "ignoreCache": true }))
            .await?;
        self.wait_for_load(events).await.context("reloading")
    }

    async fn wait_for_load(&self, mut events: broadcast::Receiver<Event>) -> Result<()> {
        let deadline = tokio::time::Instant::now() + LOAD_TIMEOUT;
        loop {
            match tokio::time::timeout_at(deadline, events.recv()).await {
                Err(_) => bail!("no load event within {LOAD_TIMEOUT:?}"),
                Ok(Err(broadcast::error::RecvError::Lagged(_))) => continue,
                Ok(Err(broadcast::error::RecvError::Closed)) => {
                    bail!("the DevTools connection closed")
                }
                Ok(Ok(event)) => {
                    if event.method == "Page.loadEventFired"
                        && event.session_id.as_deref() == Some(&self.session_id)
                    {
                        return Ok(());
                    }
                }
            }
        }
    }

    /// Evaluates a JavaScript expression in the page and returns its value as JSON
    /// (`null` for `undefined`); a promise is awaited.
    ///
    /// # Errors
    /// When the expression throws (or its promise rejects): the error carries the
    /// JavaScript message; or when the value cannot be returned as JSON.
    pub async fn evaluate(&self, expression: &str) -> Result<Value> {
        let evaluated = self
            .call(
                "Runtime.evaluate",
                json!({
                    "expression": expression,
                    "returnByValue": true,
                    "awaitPromise": true,
                }),
            )
            .await?;
        if let Some(details) = evaluated.get("exceptionDetails") {
            bail!(
                "JavaScript error: {} (evaluating `{expression}`)",
                exception_message(details)
            );
        }
        Ok(evaluated["result"]
            .get("value")
            .cloned()
            .unwrap_or(Value::Null))
    }

    /// Re-evaluates `expression` until its value is truthy (in JavaScript's sense) and
    /// returns that value. Errors thrown while waiting (e.g. during a navigation) count
    /// as not yet.
    ///
    /// # Errors
    /// When `timeout` passes first: the error shows the expression and its last value
    /// (or last error).
    pub async fn wait_for(&self, expression: &str, timeout: Duration) -> Result<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let last = match self.evaluate(expression).await {
                Ok(value) if is_truthy(&value) => return Ok(value),
                Ok(value) => format!("value {value}"),
                Err(error) => format!("error {error:#}"),
            };
            if Instant::now() >= deadline {
                bail!("timed out after {timeout:?} waiting for `{expression}`; last {last}");
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// Saves a PNG screenshot of the viewport to `path` (creating its directory).
    ///
    /// # Errors
    /// When the capture fails or the file cannot be written.
    pub async fn screenshot(&self, path: &Path) -> Result<()> {
        let captured = self
            .call("Page.captureScreenshot", json!({ "format": "png" }))
            .await?;
        let data = captured["data"]
            .as_str()
            .context("Page.captureScreenshot returned no data")?;
        let png = decode_base64(data).context("decoding the screenshot")?;
        if let Some(directory) = path.parent() {
            std::fs::create_dir_all(directory)
                .with_context(|| format!("creating {}", directory.display()))?;
        }
        std::fs::write(path, png).with_context(|| format!("writing {}", path.display()))
    }

    /// What the page logged so far: console calls as `"<level>: <text>"` and uncaught
    /// exceptions as `"exception: <description>"`.
    pub fn console(&self) -> Vec<String> {
        self.connection
            .logs
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .get(&self.session_id)
            .cloned()
            .unwrap_or_default()
    }
}

/// JavaScript truthiness of a JSON value.
fn is_truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(flag) => *flag,
        Value::Number(number) => number.as_f64().is_some_and(|n| n != 0.0 && !n.is_nan()),
        Value::String(text) => !text.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

/// Standard base64 (CDP's encoding of binary data), padding optional.
fn decode_base64(text: &str) -> Result<Vec<u8>> {
    fn sextet(byte: u8) -> Option<u32> {
        match byte {
            b'A'..=b'Z' => Some(u32::from(byte - b'A')),
            b'a'..=b'z' => Some(u32::from(byte - b'a') + 26),
            b'0'..=b'9' => Some(u32::from(byte - b'0') + 52),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        }
    }
    let bytes = text.trim_end_matches('=').as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut bits = 0u32;
        for (index, &byte) in chunk.iter().enumerate() {
            let value = sextet(byte).with_context(|| format!("invalid base64 byte {byte:#04x}"))?;
            bits |= value << (18 - 6 * index);
        }
        let [_, first, second, third] = bits.to_be_bytes();
        match chunk.len() {
            4 => decoded.extend([first, second, third]),
            3 => decoded.extend([first, second]),
            2 => decoded.push(first),
            _ => bail!("truncated base64"),
        }
    }
    Ok(decoded)
}

/// `<target dir>/test-output/<name>`: where tests leave files for people to look at
/// (screenshots). The target directory is `$CARGO_TARGET_DIR` (relative to the
/// workspace root) or the workspace's `target/`.
pub fn test_output_path(name: &str) -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(directory) => workspace.join(directory),
        None => workspace.join("target"),
    };
    target.join("test-output").join(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_decodes_with_and_without_padding() {
        assert_eq!(decode_base64("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(decode_base64("aGVsbG8").unwrap(), b"hello");
        assert_eq!(decode_base64("aGk=").unwrap(), b"hi");
        assert_eq!(decode_base64("YWJj").unwrap(), b"abc");
        assert_eq!(decode_base64("").unwrap(), b"");
        assert!(decode_base64("a?==").is_err());
        assert!(decode_base64("YWJjZ").is_err());
    }

    #[test]
    fn truthiness_follows_javascript() {
        for falsy in [json!(null), json!(false), json!(0), json!(""), json!(0.0)] {
            assert!(!is_truthy(&falsy), "{falsy}");
        }
        for truthy in [json!(true), json!(1), json!("0"), json!([]), json!({})] {
            assert!(is_truthy(&truthy), "{truthy}");
        }
    }
}
