//! API keys end to end: `imap-sdc keys` and the Gateway gRPC service manage them, the REST routes
//! honour them at once, and revocation takes effect at once.

mod gateway_common;
mod support;

use std::process::Command;

use gateway_common::{Node, http};
use proto::pb::{CreateApiKeyRequest, ListApiKeysRequest, RevokeApiKeyRequest};
use support::{TempDir, binary};

const UPLOAD_URL: &str = "/api-key/upload/imap_mag_l0_raw_20250101_v001.0001.pkts";

fn with_key<T>(message: T, secret: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert("x-api-key", secret.parse().unwrap());
    request
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_made_by_cli_and_grpc_govern_the_rest_routes() {
    let home = TempDir::new("keys");
    let node = Node::start(home.path(), "gateway");
    let admin = node.create_key("operator", "admin");
    let mut gateway = proto::clients::GatewayClient::new(proto::clients::lazy_channel(&node.url).unwrap());

    let anonymous = gateway.list_api_keys(ListApiKeysRequest {}).await.unwrap_err();
    assert_eq!(anonymous.code(), tonic::Code::Unauthenticated, "{anonymous}");

    let created = gateway
        .create_api_key(with_key(
            CreateApiKeyRequest { name: "mag-team".into(), scopes: vec!["upload".into()], valid_for: None },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    let not_admin = gateway.list_api_keys(with_key(ListApiKeysRequest {}, &created.secret)).await.unwrap_err();
    assert_eq!(not_admin.code(), tonic::Code::PermissionDenied, "{not_admin}");
    let listed = gateway.list_api_keys(with_key(ListApiKeysRequest {}, &admin)).await.unwrap().into_inner().keys;
    assert!(listed.iter().any(|key| key.id == created.id && key.name == "mag-team" && key.scopes == ["upload"]));

    let address = node.address();
    let (status, body) = http(&address, "GET", UPLOAD_URL, &[("x-api-key", &created.secret)]);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let bearer = format!("Bearer {}", created.secret);
    assert_eq!(
        http(&address, "GET", &UPLOAD_URL.replace("/api-key/", "/authorized/"), &[("authorization", &bearer)]).0,
        200
    );

    let revoked =
        gateway.revoke_api_key(with_key(RevokeApiKeyRequest { id: created.id.clone() }, &admin)).await.unwrap();
    assert!(revoked.into_inner().revoked);
    let (status, body) = http(&address, "GET", UPLOAD_URL, &[("x-api-key", &created.secret)]);
    assert_eq!(status, 401, "{}", String::from_utf8_lossy(&body));
    assert!(String::from_utf8_lossy(&body).contains("revoked"));

    let list = Command::new(binary()).args(["keys", "--data-dir"]).arg(&node.data_dir).arg("list").output().unwrap();
    let listing = String::from_utf8_lossy(&list.stdout);
    assert!(
        list.status.success()
            && listing.contains("mag-team")
            && listing.contains("revoked")
            && listing.contains("operator"),
        "{listing}"
    );
    assert!(!listing.contains(&created.secret) && !listing.contains(&admin), "secrets must never be listed");
    let unknown = Command::new(binary())
        .args(["keys", "--data-dir"])
        .arg(&node.data_dir)
        .args(["revoke", "nosuchkey"])
        .output()
        .unwrap();
    assert!(!unknown.status.success() && String::from_utf8_lossy(&unknown.stderr).contains("nosuchkey"));
    let bad_scope = Command::new(binary())
        .args(["keys", "--data-dir"])
        .arg(&node.data_dir)
        .args(["create", "--name", "x", "--scope", "superuser"])
        .output()
        .unwrap();
    assert!(
        !bad_scope.status.success()
            && String::from_utf8_lossy(&bad_scope.stderr).contains("read, upload, operator, admin")
    );
}
