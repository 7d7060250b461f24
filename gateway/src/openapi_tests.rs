//! The hand-written OpenAPI document against what the gateway really does: every route of the
//! router is documented and every documented route exists, each status route answers the schema
//! the document names, and those schemas list exactly the fields the JSON carries (found by
//! serializing a value of each type, nested objects included).

use std::collections::BTreeSet;

use proto::pb::{
    CampaignProgress, DeadEvaluation, FileRecord, GetGraphResponse, GraphEdge, InstrumentQueue, Job, ProcessorStatus,
    ProductKey, ProductTime, QuarantinedFile, ResolvedInput,
};
use serde_json::Value;

use super::{OPENAPI, route_table};
use crate::status::{JobView, LogShown};

/// The status routes and the schema each answers, as one object or a list of them.
const STATUS_RESPONSES: &[(&str, &str, Answer)] = &[
    ("/api/files", "FileRecord", Answer::List),
    ("/api/files/{file_name}", "FileRecord", Answer::One),
    ("/api/jobs", "Job", Answer::List),
    ("/api/jobs/{id}", "Job", Answer::One),
    ("/api/campaigns/{id}", "CampaignProgress", Answer::One),
    ("/api/queues", "InstrumentQueue", Answer::List),
    ("/api/dead-evaluations", "DeadEvaluation", Answer::List),
    ("/api/graph", "Graph", Answer::One),
    ("/api/quarantine", "QuarantinedFile", Answer::List),
    ("/api/processor", "ProcessorStatus", Answer::One),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    One,
    List,
}

const HTTP_METHODS: &[&str] = &["get", "put", "post", "delete", "patch", "head", "options", "trace"];

fn document() -> Value {
    serde_json::from_str(OPENAPI).expect("openapi.json is JSON")
}

/// axum writes the rest of a path as `{*key}`; OpenAPI as `{key}`.
fn openapi_path(axum_path: &str) -> String {
    axum_path.replace("{*", "{")
}

/// A schema with `$ref` (alone or as the one `allOf` entry of a nullable reference) resolved.
fn resolve<'a>(document: &'a Value, schema: &'a Value) -> &'a Value {
    let reference = schema.get("$ref").or_else(|| schema.get("allOf").and_then(|all| all.get(0)?.get("$ref")));
    match reference.and_then(Value::as_str) {
        Some(reference) => {
            let name = reference.strip_prefix("#/components/schemas/").expect("a local schema reference");
            document["components"]["schemas"].get(name).unwrap_or_else(|| panic!("schema {name} is not defined"))
        }
        None => schema,
    }
}

/// The documented properties of `schema` are exactly the keys of `value`, and so on down every
/// nested object and the first element of every list of objects.
fn assert_same_fields(document: &Value, schema: &Value, value: &Value, at: &str) {
    let schema = resolve(document, schema);
    let properties = schema["properties"].as_object().unwrap_or_else(|| panic!("{at}: the schema has no properties"));
    let fields = value.as_object().unwrap_or_else(|| panic!("{at}: the JSON is not an object: {value}"));
    let documented: BTreeSet<&String> = properties.keys().collect();
    let serialized: BTreeSet<&String> = fields.keys().collect();
    assert_eq!(
        documented,
        serialized,
        "{at}: documented only {:?}, serialized only {:?}",
        documented.difference(&serialized).collect::<Vec<_>>(),
        serialized.difference(&documented).collect::<Vec<_>>()
    );
    for (name, property) in properties {
        let property = resolve(document, property);
        let at = format!("{at}.{name}");
        match &fields[name] {
            Value::Object(_) => assert_same_fields(document, property, &fields[name], &at),
            Value::Array(items) if items.first().is_some_and(Value::is_object) => {
                assert_same_fields(document, &property["items"], &items[0], &format!("{at}[]"))
            }
            _ => {}
        }
    }
}

/// A value of every status type, with each nested object and list present so it is checked too.
fn status_samples() -> Vec<(&'static str, Value)> {
    let json = |value: Result<Value, serde_json::Error>| value.expect("status types serialize");
    let input = ResolvedInput { files: vec![FileRecord::default()], ..Default::default() };
    let job = Job { inputs: vec![input], ..Default::default() };
    let graph = GetGraphResponse {
        products: vec![ProductKey::default()],
        edges: vec![GraphEdge { product: Some(ProductKey::default()), ..Default::default() }],
        dot: String::new(),
    };
    let dead_evaluation = DeadEvaluation {
        product: Some(ProductKey::default()),
        time: Some(ProductTime::default()),
        ..Default::default()
    };
    vec![
        ("FileRecord", json(serde_json::to_value(FileRecord::default()))),
        ("Job", json(serde_json::to_value(JobView::of(&job, LogShown::All)))),
        ("CampaignProgress", json(serde_json::to_value(CampaignProgress::default()))),
        ("InstrumentQueue", json(serde_json::to_value(InstrumentQueue::default()))),
        ("DeadEvaluation", json(serde_json::to_value(dead_evaluation))),
        ("Graph", json(serde_json::to_value(graph))),
        ("QuarantinedFile", json(serde_json::to_value(QuarantinedFile::default()))),
        ("ProcessorStatus", json(serde_json::to_value(ProcessorStatus::default()))),
    ]
}

#[test]
fn every_route_is_documented_and_every_documented_route_exists() {
    let document = document();
    let routed: BTreeSet<(String, String)> =
        route_table().into_iter().map(|(method, path)| (method.as_str().to_lowercase(), openapi_path(&path))).collect();
    let mut documented = BTreeSet::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("a path item").keys() {
            if HTTP_METHODS.contains(&method.as_str()) {
                documented.insert((method.clone(), path.clone()));
            }
        }
    }
    let undocumented: Vec<_> = routed.difference(&documented).collect();
    let not_routed: Vec<_> = documented.difference(&routed).collect();
    assert!(
        undocumented.is_empty() && not_routed.is_empty(),
        "routes missing from openapi.json: {undocumented:?}; documented routes the router lacks: {not_routed:?}"
    );
}

#[test]
fn status_routes_answer_the_schemas_they_document() {
    let document = document();
    for (path, schema, answer) in STATUS_RESPONSES {
        let body = &document["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"];
        let reference = serde_json::json!({ "$ref": format!("#/components/schemas/{schema}") });
        let expected = match answer {
            Answer::One => reference,
            Answer::List => serde_json::json!({ "type": "array", "items": reference }),
        };
        assert_eq!(body, &expected, "GET {path}");
    }
    let documented: BTreeSet<&str> = STATUS_RESPONSES.iter().map(|(_, schema, _)| *schema).collect();
    let sampled: BTreeSet<&str> = status_samples().into_iter().map(|(schema, _)| schema).collect();
    assert_eq!(documented, sampled, "every status schema is checked against its type");
}

#[test]
fn status_schemas_list_exactly_the_fields_the_json_carries() {
    let document = document();
    for (schema, value) in status_samples() {
        let reference = serde_json::json!({ "$ref": format!("#/components/schemas/{schema}") });
        assert_same_fields(&document, &reference, &value, schema);
    }
}
