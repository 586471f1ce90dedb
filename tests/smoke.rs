mod common;

use common::*;

#[tokio::test]
async fn healthz_answers_ok() {
    let app = spawn_app().await;
    let response = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(
        json_of(response).await,
        (200, serde_json::json!({"status": "ok"}))
    );
}
