//! The mesh in containers, from images made here on a locally built Debian base. First as
//! separate hosts: every role in its own container (processors and gateways replicated) on a
//! private network, PostgreSQL and an S3 store (moto) in containers; the unmodified
//! `imap-data-access` client on this host uploads level-0 files through the gateways' published
//! ports; every product appears once, every job succeeds on its first attempt, downloads are the
//! archive's bytes. Then `deploy/compose.yaml`, run as deploy/README.md says.
//!
//! Both are ignored by default because they need a docker daemon and root (debootstrap makes the
//! base image): `.ci/mesh-containers.sh` installs and starts docker and runs them with `--ignored`,
//! where a missing docker is a failure, not a skip.

mod containers;
mod gateway_common;
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::{Duration, Instant};

use containers::{BUCKET, Mesh, MeshSpec, PREFIX, Scope};
use gateway_common::{client, files_made_by_jobs_as, get_json_as, http, text, wait_for};
use imap_sdc::role::Role;
use support::{TempDir, synthetic_level0};

/// Level-0 uploads, one a day from this date on; the default graph makes L1A, L1B and L2 of each.
const UPLOADS: u32 = 6;
const FIRST_DAY: u32 = 20240920;
const LEVELS: [&str; 3] = ["l1a", "l1b", "l2"];

#[test]
#[ignore = "needs docker and root (debootstrap): .ci/mesh-containers.sh runs it with --ignored"]
fn the_mission_client_drives_a_mesh_of_role_containers() {
    let started = Instant::now();
    let (scope, image) = prepare();
    let images_ready = started.elapsed();

    let spec = MeshSpec::default().replicas(Role::Processor, 2).replicas(Role::Gateway, 2);
    let mesh = Mesh::start(&scope, &image, &spec);
    let mesh_ready = started.elapsed();
    let gateway = mesh.replicas(Role::Gateway)[0].clone();
    let uploader = create_key(&mesh, &gateway, "instrument-team", "upload");
    let reader = create_key(&mesh, &gateway, "scientist", "read");

    // Uploads alternate between the gateways; each file has its own bytes.
    let home = TempDir::new("containers");
    let (uploads, downloads) = (home.path().join("uploads"), home.path().join("downloads"));
    std::fs::create_dir_all(&uploads).unwrap();
    std::fs::create_dir_all(&downloads).unwrap();
    let mut originals = BTreeMap::new();
    for day in 0..UPLOADS {
        let date = (FIRST_DAY + day).to_string();
        let name = format!("imap_swe_l0_raw_{date}_v001.0001.pkts");
        let bytes = synthetic_level0(20 + day as u16);
        std::fs::write(uploads.join(&name), &bytes).unwrap();
        let url = &mesh.gateway_urls[day as usize % mesh.gateway_urls.len()];
        let uploaded =
            client(url, &downloads, Some(&uploader), &["upload", &uploads.join(&name).display().to_string()]);
        assert!(uploaded.status.success(), "upload {name} through {url}: {}", text(&uploaded));
        originals.insert(date, (name, bytes));
    }
    let uploaded = started.elapsed();

    // Every day gets exactly its three products, each made by a job, and every job has finished (a
    // product is indexed just before its job is reported done).
    let address = mesh.gateway_urls[1 % mesh.gateway_urls.len()].trim_start_matches("http://").to_string();
    // The status API needs a key with the read scope (status_access = "keys", the default).
    let as_reader = [("x-api-key", reader.as_str())];
    let get_json = |address: &str, target: &str| get_json_as(address, target, &as_reader);
    let expected: BTreeSet<(String, String)> =
        originals.keys().flat_map(|date| LEVELS.map(|level| (date.clone(), level.to_string()))).collect();
    let (products, jobs) = wait_for(
        "every level of every upload, all jobs finished",
        Duration::from_secs(240),
        || {
            let made = files_made_by_jobs_as(&address, "kind=science&instrument=swe&limit=1000", &as_reader);
            let found: BTreeSet<(String, String)> = made.iter().map(product_day_and_level).collect();
            let jobs =
                get_json(&address, "/api/jobs?instrument=swe&limit=1000").as_array().cloned().unwrap_or_default();
            let finished = jobs.iter().all(|job| matches!(job["state"].as_str(), Some("succeeded" | "dead")));
            (found == expected && finished).then_some((made, jobs))
        },
        || format!("jobs: {}\n{}", get_json(&address, "/api/jobs?limit=1000"), mesh.describe()),
    );
    let processed = started.elapsed();
    assert_eq!(products.len(), expected.len(), "one file per product and day: {products:?}");

    // Exactly one job per product and day, each succeeded on its first attempt.
    let runs: BTreeSet<(String, String)> = jobs
        .iter()
        .map(|job| {
            assert_eq!((job["state"].as_str(), job["attempts"].as_i64()), (Some("succeeded"), Some(1)), "{job}");
            (job["date"].as_str().unwrap().replace('-', ""), job["data_level"].as_str().unwrap().to_string())
        })
        .collect();
    assert_eq!((jobs.len(), runs), (expected.len(), expected.clone()), "jobs: {jobs:?}");

    // Downloads with the client: products are the bucket's bytes (read with boto3, an independent
    // S3 client), uploads the client's own.
    let (status, _) =
        http(&address, "GET", &format!("/download/{}", products[0]["archive_key"].as_str().unwrap()), &[]);
    assert_eq!(status, 302, "downloads are redirects to the bucket");
    let names: Vec<&str> = products.iter().map(|product| product["file_name"].as_str().unwrap()).collect();
    download(&mesh.gateway_urls[0], &downloads, Some(&reader), &names);
    let names: Vec<&str> = originals.values().map(|(name, _)| name.as_str()).collect();
    download(&mesh.gateway_urls[1 % mesh.gateway_urls.len()], &downloads, None, &names);
    let mut keys: Vec<String> =
        products.iter().map(|product| product["archive_key"].as_str().unwrap().into()).collect();
    let upload_keys: Vec<String> = names
        .iter()
        .map(|name| get_json(&address, &format!("/api/files/{name}"))["archive_key"].as_str().unwrap().into())
        .collect();
    keys.extend(upload_keys.iter().cloned());
    let bucket = home.path().join("bucket");
    copy_from_bucket(&mesh.s3_url, &keys, &bucket);
    for key in &keys {
        let downloaded = std::fs::read(downloads.join(key)).unwrap();
        assert_eq!(
            downloaded,
            std::fs::read(bucket.join(key)).unwrap(),
            "{key}: downloaded bytes differ from the bucket's"
        );
    }
    for ((name, bytes), key) in originals.values().zip(&upload_keys) {
        assert_eq!(&std::fs::read(downloads.join(key)).unwrap(), bytes, "{name} is not the uploaded file");
    }
    println!(
        "mesh in containers ({} containers): images ready {:.0} s, mesh healthy +{:.0} s, {UPLOADS} uploads +{:.0} s, \
         {} products +{:.0} s, checks +{:.0} s, total {:.0} s",
        mesh.roles.values().flatten().count() + 2,
        images_ready.as_secs_f64(),
        (mesh_ready - images_ready).as_secs_f64(),
        (uploaded - mesh_ready).as_secs_f64(),
        products.len(),
        (processed - uploaded).as_secs_f64(),
        (started.elapsed() - processed).as_secs_f64(),
        started.elapsed().as_secs_f64(),
    );
}

/// What both container tests need: docker, the client, and the images (this run's runtime image
/// is removed with the scope).
fn prepare() -> (Scope, String) {
    if let Some(reason) = containers::docker_unavailable() {
        panic!("docker is not usable here ({reason}); .ci/mesh-containers.sh installs and starts it");
    }
    // Ignored tests run on request (--ignored), so a missing client fails them instead.
    if !cfg!(has_imap_data_access) {
        panic!(
            "the build found no python3 with imap-data-access here (put the venv of .ci/python-venv.sh first on PATH)"
        );
    }
    let scope = Scope::new();
    let image = scope.prepare_images();
    (scope, image)
}

/// `deploy/compose.yaml`, as deploy/README.md tells people to run it (processors scaled to two):
/// a level-0 file uploaded with the client becomes L1B, and its download is the archive's file.
#[test]
#[ignore = "needs docker and root (debootstrap): .ci/mesh-containers.sh runs it with --ignored"]
fn the_compose_file_runs_the_mesh_on_one_machine() {
    let started = Instant::now();
    let (scope, image) = prepare();
    let compose = scope.compose(&image);
    compose.up(&["--scale", "processor=2"]);
    let url = format!("http://{}", compose.published("gateway", 8480));
    let address = url.trim_start_matches("http://").to_string();
    let secret = |scope: &str| {
        let created =
            compose.run(&["exec", "-T", "gateway", "imap-sdc", "keys", "create", "--name", scope, "--scope", scope]);
        let created = created.unwrap_or_else(|message| panic!("{message}"));
        created.lines().find_map(|line| line.strip_prefix("secret")).map(|secret| secret.trim().to_string()).unwrap()
    };

    let reader = secret("read");
    let as_reader = [("x-api-key", reader.as_str())];
    let home = TempDir::new("compose");
    let name = "imap_swe_l0_raw_20240930_v001.0001.pkts";
    std::fs::write(home.path().join(name), synthetic_level0(12)).unwrap();
    let uploaded =
        client(&url, home.path(), Some(&secret("upload")), &["upload", &home.path().join(name).display().to_string()]);
    assert!(uploaded.status.success(), "{}", text(&uploaded));
    let product = wait_for(
        "the upload's l1b product",
        Duration::from_secs(120),
        || {
            files_made_by_jobs_as(&address, "kind=science&instrument=swe", &as_reader)
                .into_iter()
                .find(|file| file["data_level"] == "l1b")
        },
        || {
            format!(
                "jobs: {}\n{}",
                get_json_as(&address, "/api/jobs", &as_reader),
                compose.run(&["logs", "--tail", "20"]).unwrap_or_else(|error| error)
            )
        },
    );
    let (product_name, key) = (product["file_name"].as_str().unwrap(), product["archive_key"].as_str().unwrap());
    let fetched = client(&url, home.path(), Some(&reader), &["download", product_name]);
    assert!(fetched.status.success(), "{}", text(&fetched));
    let in_archive = compose.run(&["exec", "-T", "indexer", "sha256sum", &format!("/archive/{key}")]).unwrap();
    let downloaded = Command::new("sha256sum").arg(home.path().join(key)).output().unwrap();
    let digest = |text: &str| text.split_whitespace().next().unwrap_or_default().to_string();
    assert_eq!(digest(&String::from_utf8_lossy(&downloaded.stdout)), digest(&in_archive), "{key} downloaded");
    println!("compose mesh: {product_name} made and downloaded, {:.0} s", started.elapsed().as_secs_f64());
}

/// The two runtime images (built from source, or from a binary built outside) must not drift:
/// everything after their `FROM ${BASE}` is the same but where the binary comes from.
#[test]
fn both_runtime_dockerfiles_make_the_same_image() {
    let runtime_stage = |path: &str| -> Vec<String> {
        let text = std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap();
        let stage = text.split("FROM ${BASE}\n").nth(1).unwrap_or_else(|| panic!("{path}: no FROM ${{BASE}} stage"));
        stage
            .lines()
            .filter(|line| !line.trim_start().starts_with('#') && !line.trim().is_empty())
            .map(|line| if line.starts_with("COPY ") { "COPY <binary>".to_string() } else { line.to_string() })
            .collect()
    };
    let from_source = runtime_stage("deploy/Dockerfile");
    assert!(
        from_source.iter().any(|line| line.starts_with("HEALTHCHECK"))
            && from_source.contains(&"USER 10001:10001".into())
    );
    assert_eq!(from_source, runtime_stage("deploy/images/runtime.Dockerfile"));
}

/// Downloads files with the unmodified client library, in one process (the CLI would import it
/// once per file).
fn download(url: &str, data_dir: &std::path::Path, api_key: Option<&str>, names: &[&str]) {
    let mut command = Command::new("python3");
    command
        .args(["-c", "import sys, imap_data_access\nfor name in sys.argv[1:]:\n    imap_data_access.download(name)"])
        .args(names)
        .env("IMAP_DATA_ACCESS_URL", url)
        .env("IMAP_DATA_DIR", data_dir)
        .env_remove("IMAP_API_KEY")
        .env_remove("IMAP_ACCESS_TOKEN");
    if let Some(key) = api_key {
        command.env("IMAP_API_KEY", key);
    }
    let output = command.output().expect("run python3");
    assert!(output.status.success(), "download {names:?} from {url}: {}", text(&output));
}

/// `imap-sdc keys create` inside a gateway container (its database settings are there).
fn create_key(mesh: &Mesh, gateway: &str, name: &str, scope: &str) -> String {
    let output = mesh
        .exec(gateway, &["imap-sdc", "keys", "create", "--name", name, "--scope", scope])
        .unwrap_or_else(|message| panic!("{message}"));
    output
        .lines()
        .find_map(|line| line.strip_prefix("secret"))
        .map(|secret| secret.trim().to_string())
        .expect("a secret")
}

/// (YYYYMMDD, level) of a product row of the status API.
fn product_day_and_level(file: &serde_json::Value) -> (String, String) {
    let name = file["file_name"].as_str().unwrap_or_default();
    let date = name.split('_').nth(4).unwrap_or_default().to_string();
    (date, file["data_level"].as_str().unwrap_or_default().to_string())
}

/// Copies objects of the mesh's bucket to `directory/<key>` with boto3 on this host.
fn copy_from_bucket(s3_url: &str, keys: &[String], directory: &std::path::Path) {
    let script = format!(
        "import os, sys, boto3\n\
         s3 = boto3.client('s3', endpoint_url='{s3_url}', region_name='us-east-1', aws_access_key_id='test', aws_secret_access_key='test')\n\
         for key in sys.argv[2:]:\n    \
             path = os.path.join(sys.argv[1], key)\n    \
             os.makedirs(os.path.dirname(path), exist_ok=True)\n    \
             s3.download_file('{BUCKET}', '{PREFIX}/' + key, path)"
    );
    let output = Command::new("python3").args(["-c", &script]).arg(directory).args(keys).output().unwrap();
    assert!(output.status.success(), "boto3: {}", String::from_utf8_lossy(&output.stderr));
}
