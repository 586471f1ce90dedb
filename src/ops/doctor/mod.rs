//! `chatd doctor <public-url>`: an end-to-end check of a deployed instance
//! through its real front door, as a user's browser would reach it.
//!
//! Each step prints `ok` or a diagnosis naming the likely cause: a proxy
//! that drops the WebSocket upgrade headers, a `--public-url` that does not
//! match, a proxy body-size limit, a server rejecting its own tokens. What
//! the check creates (a user, a chat with an image, a message) is deleted
//! at the end.
//!
//! This file runs the steps in order, reports them and cleans up; `steps`
//! holds each step's requests and diagnoses.

mod steps;

use std::time::Duration;

use serde_json::Value;

use crate::ops::out::outln;

/// How long any one request may take.
const TIMEOUT: Duration = Duration::from_secs(15);

/// The outcome of one step: `Ok(detail)` or `Err(diagnosis)`.
#[derive(Debug, Clone)]
pub struct Step {
    pub name: &'static str,
    pub outcome: Result<String, String>,
}

/// All steps that ran.
#[derive(Debug, Default)]
pub struct Report {
    pub steps: Vec<Step>,
}

impl Report {
    pub fn ok(&self) -> bool {
        !self.steps.is_empty() && self.steps.iter().all(|s| s.outcome.is_ok())
    }

    /// The diagnosis of a failed step.
    pub fn failure(&self, name: &str) -> Option<&str> {
        self.steps
            .iter()
            .find(|s| s.name == name)
            .and_then(|s| s.outcome.as_ref().err())
            .map(String::as_str)
    }
}

/// Runs the check against `url`, calling `report` after each step.
pub async fn check(url: &str, mut report: impl FnMut(&Step)) -> Report {
    let base = url.trim().trim_end_matches('/').to_string();
    let mut doctor = Doctor {
        base,
        http: match reqwest::Client::builder().timeout(TIMEOUT).build() {
            Ok(client) => client,
            Err(error) => {
                let step = Step {
                    name: "setup",
                    outcome: Err(format!("cannot build an HTTP client: {error}")),
                };
                report(&step);
                return Report { steps: vec![step] };
            }
        },
        token: None,
        chat: None,
        steps: Vec::new(),
    };
    doctor.run(&mut report).await;
    doctor.cleanup(&mut report).await;
    Report {
        steps: doctor.steps,
    }
}

/// Prints each step as it finishes; true when all passed.
pub async fn run(url: &str) -> bool {
    outln!("chatd doctor: checking {url}");
    let report = check(url, |step| match &step.outcome {
        Ok(detail) => outln!("ok    {:<10} {detail}", step.name),
        Err(diagnosis) => outln!("FAIL  {:<10} {diagnosis}", step.name),
    })
    .await;
    if report.ok() {
        outln!("all checks passed");
    } else {
        outln!("some checks failed");
    }
    report.ok()
}

/// One check in progress: where it goes, and what it has made so far
/// (cleanup deletes it).
struct Doctor {
    base: String,
    http: reqwest::Client,
    token: Option<String>,
    /// The chat this check created, as the API returned it.
    chat: Option<Value>,
    steps: Vec<Step>,
}

impl Doctor {
    /// Reports and keeps a step's outcome; true when it passed.
    fn record(
        &mut self,
        report: &mut impl FnMut(&Step),
        name: &'static str,
        outcome: Result<String, String>,
    ) -> bool {
        let step = Step { name, outcome };
        report(&step);
        let ok = step.outcome.is_ok();
        self.steps.push(step);
        ok
    }

    /// Later steps need what earlier ones made (a reachable server, an
    /// account, a chat), so a failure up to the upload ends the run; the
    /// image and the socket are independent and both run.
    async fn run(&mut self, report: &mut impl FnMut(&Step)) {
        let health = self.health().await;
        if !self.record(report, "health", health) {
            return;
        }
        let account = self.account().await;
        if !self.record(report, "account", account) {
            return;
        }
        let upload = self.upload().await;
        let img = match &upload {
            Ok(_) => self
                .chat
                .as_ref()
                .and_then(|c| c["img"].as_str().map(str::to_string)),
            Err(_) => None,
        };
        let uploaded = self.record(report, "upload", upload);
        if !uploaded {
            return;
        }
        if let Some(img) = img {
            let image = self.image(&img).await;
            self.record(report, "image", image);
        }
        let socket = self.websocket().await;
        self.record(report, "websocket", socket);
    }

    async fn cleanup(&mut self, report: &mut impl FnMut(&Step)) {
        let Some(token) = self.token.clone() else {
            return;
        };
        let mut problems = Vec::new();
        if let Some(chat) = &self.chat {
            let url = format!(
                "{}/api/chat/{}/{}/",
                self.base,
                chat["room"].as_str().unwrap_or(""),
                chat["id"]
            );
            match self.http.delete(&url).bearer_auth(&token).send().await {
                Ok(response) if response.status() == 204 => {}
                Ok(response) => {
                    problems.push(format!("deleting the chat: HTTP {}", response.status()))
                }
                Err(error) => problems.push(format!("deleting the chat: {error}")),
            }
        }
        match self
            .http
            .delete(format!("{}/api/user/", self.base))
            .bearer_auth(&token)
            .send()
            .await
        {
            Ok(response) if response.status() == 204 => {}
            Ok(response) => problems.push(format!(
                "deleting the test user: HTTP {}",
                response.status()
            )),
            Err(error) => problems.push(format!("deleting the test user: {error}")),
        }
        let outcome = if problems.is_empty() {
            Ok("deleted the test chat and user".to_string())
        } else {
            Err(problems.join("; "))
        };
        self.record(report, "cleanup", outcome);
    }
}
