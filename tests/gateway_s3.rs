//! The archive in S3: a local S3 server (moto, from PyPI) holds the archive; the unmodified
//! `imap-data-access` client uploads through a real S3 presigned URL, the pipeline processes from
//! and into the bucket, and the client queries and downloads (through a redirect to a presigned
//! GET). Ignored, with the reason, where moto or the client is not installed.

mod gateway_common;
mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use gateway_common::{Node, client, files_made_by_jobs, get_json, http, text, wait_for};
use support::{TempDir, synthetic_level0};

const BUCKET: &str = "imap-archive";
const PREFIX: &str = "sdc";
const SYNTHETIC: &str = "imap_swe_l0_raw_20240924_v001.0001.pkts";
const CREDENTIALS: [(&str, &str); 2] = [("AWS_ACCESS_KEY_ID", "test"), ("AWS_SECRET_ACCESS_KEY", "test")];

/// The local S3 server, stopped on drop.
struct S3Server {
    child: Child,
    url: String,
}

impl S3Server {
    fn start(log: &Path) -> S3Server {
        let mut child = Command::new("python3")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/s3_server.py"))
            .arg(BUCKET)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(log).unwrap())
            .spawn()
            .expect("spawn the S3 server");
        let stdout = child.stdout.take().unwrap();
        let (first_line, line_read) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = first_line.send(BufReader::new(stdout).lines().next());
        });
        let url = match line_read.recv_timeout(Duration::from_secs(60)) {
            Ok(Some(Ok(line))) if line.starts_with("s3 listening on ") => {
                line["s3 listening on ".len()..].trim().to_string()
            }
            _ => {
                let _ = child.kill();
                panic!("S3 server did not start: {}", std::fs::read_to_string(log).unwrap_or_default())
            }
        };
        S3Server { child, url }
    }

    /// Reads the bucket with boto3 (an independent S3 client): the object's bytes, or the keys under a prefix.
    fn boto3(&self, script: &str, argument: &str) -> Vec<u8> {
        let preamble = format!(
            "import sys, boto3\ns3 = boto3.client('s3', endpoint_url='{}', region_name='us-east-1', aws_access_key_id='test', aws_secret_access_key='test')\n",
            self.url
        );
        let output = Command::new("python3").args(["-c", &format!("{preamble}{script}"), argument]).output().unwrap();
        assert!(output.status.success(), "boto3: {}", String::from_utf8_lossy(&output.stderr));
        output.stdout
    }

    fn object(&self, key: &str) -> Vec<u8> {
        self.boto3(
            &format!("sys.stdout.buffer.write(s3.get_object(Bucket='{BUCKET}', Key=sys.argv[1])['Body'].read())"),
            &format!("{PREFIX}/{key}"),
        )
    }

    fn keys_under(&self, prefix: &str) -> Vec<String> {
        let listed = self.boto3(
            &format!("print('\\n'.join(o['Key'] for o in s3.list_objects_v2(Bucket='{BUCKET}', Prefix=sys.argv[1]).get('Contents', [])))"),
            &format!("{PREFIX}/{prefix}"),
        );
        String::from_utf8(listed).unwrap().lines().filter(|line| !line.is_empty()).map(String::from).collect()
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
#[cfg_attr(not(has_moto), ignore = "needs python3 with moto[server] 5.2.1 and boto3 (.ci/python-venv.sh)")]
#[cfg_attr(
    all(has_moto, not(has_imap_data_access)),
    ignore = "needs python3 with imap-data-access 1.3.0 (.ci/python-venv.sh)"
)]
fn the_mission_client_works_against_an_s3_archive() {
    let home = TempDir::new("s3");
    let s3 = S3Server::start(&home.path().join("s3.log"));
    let data_dir = home.path().join("data");
    let log = home.path().join("node.log");
    let mut command = Command::new(support::binary());
    command
        .args(["serve", "--roles", "all", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data_dir)
        .env("IMAP_SDC_ARCHIVE_URL", format!("s3://{BUCKET}/{PREFIX}"))
        .env("IMAP_SDC_S3__ENDPOINT", &s3.url)
        .env("IMAP_SDC_S3__ALLOW_HTTP", "true")
        .env("IMAP_SDC_S3__REGION", "us-east-1")
        .env("IMAP_SDC_GATEWAY__STAGED_UPLOAD_POLL", "200ms")
        .env("IMAP_SDC_GATEWAY__STATUS_ACCESS", "open")
        .env("IMAP_SDC_PROCESSOR__XTCE_DIR", concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/xtce"))
        // The products checked below are the project graph's (the built-in science at every level).
        .env("IMAP_SDC_DEPSVC__BUILTIN_GRAPH", "project")
        .envs(CREDENTIALS)
        .stderr(std::fs::File::create(&log).unwrap());
    refuses_a_store_that_overwrites_on_create_only_copies(&s3, home.path());
    let (child, url) = support::spawn_until_listening(command, &log);
    let node = Node { child, url, data_dir, log };
    assert!(!node.archive_file("imap").exists(), "nothing may land in a local archive directory");

    let uploader = node.create_key("instrument-team", "upload");
    let reader = node.create_key("scientist", "read");
    let uploads = home.path().join("uploads");
    let downloads = home.path().join("downloads");
    std::fs::create_dir_all(&uploads).unwrap();
    std::fs::create_dir_all(&downloads).unwrap();
    let original = synthetic_level0(40);
    std::fs::write(uploads.join(SYNTHETIC), &original).unwrap();
    let run = |key: Option<&str>, args: &[&str]| client(&node.url, &downloads, key, args);

    // The upload URL is the bucket's own, presigned; the gateway never sees the bytes.
    let address = node.address();
    let (status, body) =
        http(&address, "GET", &format!("/api-key/upload/{SYNTHETIC}"), &[("x-api-key", uploader.as_str())]);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let presigned: String = serde_json::from_slice(&body).unwrap();
    assert!(
        presigned.starts_with(&format!("{}/{BUCKET}/{PREFIX}/staging/imap/swe/l0/2024/09/{SYNTHETIC}/", s3.url)),
        "{presigned}"
    );
    assert!(presigned.contains("X-Amz-Signature=") && presigned.contains("X-Amz-Credential=test%2F"), "{presigned}");

    let uploaded = run(Some(&uploader), &["upload", &uploads.join(SYNTHETIC).display().to_string()]);
    assert!(uploaded.status.success(), "{}", text(&uploaded));
    let upload_key = format!("imap/swe/l0/2024/09/{SYNTHETIC}");

    // The sweeper places the upload, the indexer's event starts the chain, products land in the bucket.
    let products = wait_for(
        "level 1a and 1b products in the bucket",
        Duration::from_secs(120),
        || {
            let made = files_made_by_jobs(&address, "kind=science&instrument=swe&limit=100");
            let levels: Vec<&str> = made.iter().filter_map(|file| file["data_level"].as_str()).collect();
            (levels.contains(&"l1a") && levels.contains(&"l1b")).then_some(made)
        },
        || {
            format!(
                "jobs: {}\nnode log: {}",
                get_json(&address, "/api/jobs"),
                std::fs::read_to_string(&node.log).unwrap_or_default()
            )
        },
    );
    assert_eq!(s3.object(&upload_key), original, "the placed upload is the client's file");
    assert!(s3.keys_under("staging/").is_empty(), "staging left behind: {:?}", s3.keys_under("staging/"));
    for product in &products {
        let key = product["archive_key"].as_str().unwrap();
        assert!(s3.keys_under(key).contains(&format!("{PREFIX}/{key}")), "{key} is not in the bucket");
    }

    // Query and download with the client; downloads follow the gateway's redirect to the bucket.
    let product = &products[0];
    let (product_name, product_key) =
        (product["file_name"].as_str().unwrap(), product["archive_key"].as_str().unwrap());
    let table = run(None, &["query", "--instrument", "swe", "--data-level", product["data_level"].as_str().unwrap()]);
    assert!(table.status.success() && text(&table).contains(product_name), "{}", text(&table));
    let fetched = run(Some(&reader), &["download", product_name]);
    assert!(fetched.status.success(), "{}", text(&fetched));
    assert_eq!(std::fs::read(downloads.join(product_key)).unwrap(), s3.object(product_key));
    let fetched = run(None, &["download", SYNTHETIC]);
    assert!(fetched.status.success(), "{}", text(&fetched));
    assert_eq!(std::fs::read(downloads.join(&upload_key)).unwrap(), original);
    let (status, _) = http(&address, "GET", &format!("/download/{product_key}"), &[]);
    assert_eq!(status, 302, "downloads are redirects to the bucket");
    let missing = run(None, &["download", "imap_swe_l0_raw_20240925_v001.0001.pkts"]);
    assert!(!missing.status.success() && text(&missing).contains("404"), "{}", text(&missing));

    // Token users (the /authorized routes) upload and download through the gateway: the client
    // would send its Bearer header to S3 too, which S3 refuses next to a presigned signature.
    let token_user = "imap_swe_l0_raw_20240926_v001.0001.pkts";
    std::fs::write(uploads.join(token_user), synthetic_level0(5)).unwrap();
    let bearer = format!("Bearer {uploader}");
    let (status, body) =
        http(&address, "GET", &format!("/authorized/upload/{token_user}"), &[("authorization", bearer.as_str())]);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert!(serde_json::from_slice::<String>(&body).unwrap().starts_with(&format!("{}/upload-object/", node.url)));
    let token = [("IMAP_ACCESS_TOKEN", uploader.as_str())];
    let uploaded = gateway_common::client_with(
        &node.url,
        &downloads,
        &token,
        &["upload", &uploads.join(token_user).display().to_string()],
    );
    assert!(uploaded.status.success(), "{}", text(&uploaded));
    let token_key = format!("imap/swe/l0/2024/09/{token_user}");
    assert_eq!(s3.object(&token_key), synthetic_level0(5), "streamed through the gateway into the bucket");
    let (status, _) =
        http(&address, "GET", &format!("/authorized/download/{token_key}"), &[("authorization", bearer.as_str())]);
    assert_eq!(status, 200, "token downloads are streamed, not redirected");

    // The same name again is refused before any bytes move.
    let duplicate = run(Some(&uploader), &["upload", &uploads.join(SYNTHETIC).display().to_string()]);
    assert!(text(&duplicate).contains("409") && text(&duplicate).contains("FileAlreadyExists"), "{}", text(&duplicate));

    // Two uploaders granted the same new name before either PUT: the bucket's create-only copy
    // places exactly one; the other file is kept aside under rejected/ with the reason, not lost.
    let contested = "imap_swe_l0_raw_20240925_v001.0001.pkts";
    let contested_key = format!("imap/swe/l0/2024/09/{contested}");
    let grant = || {
        let (status, body) =
            http(&address, "GET", &format!("/api-key/upload/{contested}"), &[("x-api-key", uploader.as_str())]);
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        serde_json::from_slice::<String>(&body).unwrap()
    };
    let (first_url, second_url) = (grant(), grant());
    let bodies = [synthetic_level0(3), synthetic_level0(4)];
    for (url, body) in [(&first_url, &bodies[0]), (&second_url, &bodies[1])] {
        let put = Command::new("python3")
            .args(["-c", "import sys, requests; r = requests.put(sys.argv[1], data=sys.stdin.buffer.read()); r.raise_for_status()", url])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write;
                child.stdin.take().unwrap().write_all(body)?;
                child.wait_with_output()
            })
            .unwrap();
        assert!(put.status.success(), "PUT to the presigned URL: {}", String::from_utf8_lossy(&put.stderr));
    }
    let rejected = wait_for(
        "one contested upload placed and the other kept aside",
        Duration::from_secs(60),
        || {
            let kept = s3.keys_under(&format!("rejected/{contested_key}"));
            (kept.len() == 2 && s3.keys_under("staging/").is_empty()).then_some(kept)
        },
        || format!("staging {:?}, rejected {:?}", s3.keys_under("staging/"), s3.keys_under("rejected/")),
    );
    let placed = s3.object(&contested_key);
    let loser = if placed == bodies[0] { &bodies[1] } else { &bodies[0] };
    assert!(bodies.contains(&placed), "the placed file is one of the two uploads, whole");
    let kept = rejected.iter().find(|key| !key.ends_with(".reason.txt")).unwrap();
    assert_eq!(&s3.object(kept.strip_prefix(&format!("{PREFIX}/")).unwrap()), loser);
    let reason = rejected.iter().find(|key| key.ends_with(".reason.txt")).unwrap();
    let reason = String::from_utf8(s3.object(reason.strip_prefix(&format!("{PREFIX}/")).unwrap())).unwrap();
    assert!(reason.contains("already holds a different file"), "{reason}");
}

/// A store that ignores the create-only condition (here: a header moto does not know) would let
/// uploads overwrite files; the node must refuse to start on it, saying why.
fn refuses_a_store_that_overwrites_on_create_only_copies(s3: &S3Server, home: &Path) {
    let child = Command::new(support::binary())
        .args(["serve", "--roles", "gateway,indexer", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(home.join("refused"))
        .env("IMAP_SDC_ARCHIVE_URL", format!("s3://{BUCKET}/{PREFIX}"))
        .env("IMAP_SDC_S3__ENDPOINT", &s3.url)
        .env("IMAP_SDC_S3__ALLOW_HTTP", "true")
        .env("IMAP_SDC_S3__COPY_IF_NOT_EXISTS", "header: x-ignored-condition: *")
        .envs(CREDENTIALS)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Killed on drop if it wrongly keeps running.
    let mut node = support::Node { child, url: String::new(), internal_url: String::new() };
    let exited = wait_for(
        "the node to refuse the store",
        Duration::from_secs(60),
        || node.child.try_wait().unwrap(),
        || "still running".into(),
    );
    let mut message = String::new();
    std::io::Read::read_to_string(&mut node.child.stderr.take().unwrap(), &mut message).unwrap();
    assert!(!exited.success() && message.contains("let a create-only copy overwrite"), "{message}");
}
