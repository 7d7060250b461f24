//! The gRPC face of depsvc; `tonic::Status` appears only here and in `error.rs`.

use std::collections::HashMap;
use std::sync::Arc;

use futures_util::{StreamExt, TryStreamExt};
use imap_filename::Date;
use proto::clients::{IndexerClient, matching_files};
use proto::pb;
use proto::pb::dependency_service_server::DependencyService;
use tonic::{Request, Response, Status};

use super::convert;
use super::error::DepsvcError;
use super::graph::{FileKind, FileRecord, Graph, InputQuery, ProductKey, ProductTime, Resolution};

/// Indexer queries one resolution has in flight at once when they go one at a time.
const QUERIES_AT_ONCE: usize = 8;

/// Queries per `BatchQueryFiles`: the indexer takes at most 64.
const BATCH_QUERIES: usize = 64;

pub struct DepsvcGrpc {
    pub graph: Arc<Graph>,
    pub indexer: IndexerClient,
}

impl DepsvcGrpc {
    async fn resolve(&self, request: pb::ResolveRequest) -> Result<pb::ResolveResponse, DepsvcError> {
        let product = convert::product_key(&request.product.unwrap_or_default());
        let time = convert::product_time(&request.time.unwrap_or_default())?;
        let queries = self.graph.input_queries(&product, time)?;
        // A campaign planned day by day asks for every date; only the product's own date (the
        // 1st for a monthly map) may become a job, or one map would be made thirty times.
        if let Some(canonical) = self.graph.canonical_date_if_other(&product, time.date) {
            return Ok(pb::ResolveResponse {
                ready: false,
                inputs: Vec::new(),
                missing: vec![pb::MissingInput {
                    source: product.to_string(),
                    reason: format!("{product} is dated {}, not {}", canonical.yyyymmdd(), time.date.yyyymmdd()),
                }],
            });
        }
        let answers = self.every_match(queries.iter()).await?;
        let mut wire_records: HashMap<String, pb::FileRecord> = HashMap::new();
        let mut candidates_per_query = vec![Vec::new(); queries.len()];
        for (index, files) in answers.into_iter().enumerate() {
            for file in files {
                if let Some(record) = convert::file_record(&file) {
                    candidates_per_query[index].push(record);
                    wire_records.insert(file.file_name.clone(), file);
                }
            }
        }
        let resolution = self.graph.select(&product, time, &candidates_per_query)?;
        Ok(match resolution {
            Resolution::Ready { inputs } => pb::ResolveResponse {
                ready: true,
                inputs: inputs
                    .iter()
                    .map(|input| pb::ResolvedInput {
                        source_type: convert::source_type(&input.source).into(),
                        source: input.source.to_string(),
                        relationship: convert::relationship_to_wire(input.relationship).into(),
                        files: input
                            .files
                            .iter()
                            .filter_map(|file| wire_records.get(&file.file_name).cloned())
                            .collect(),
                    })
                    .collect(),
                missing: Vec::new(),
            },
            Resolution::Waiting { missing } => pb::ResolveResponse {
                ready: false,
                inputs: Vec::new(),
                missing: missing
                    .iter()
                    .map(|input| pb::MissingInput { source: input.source.to_string(), reason: input.to_string() })
                    .collect(),
            },
        })
    }
}

impl DepsvcGrpc {
    /// The runs a file that is not science triggers, narrowed to those with science to process
    /// (see [`Graph::runs_with_science`]): every match of each product's science inputs, the
    /// queries out together as a resolution's are. A kernel valid for a year matches more science
    /// files than one page holds, and a day left out would never be re-run.
    async fn runs_with_science(
        &self,
        runs: Vec<(ProductKey, ProductTime)>,
    ) -> Result<Vec<(ProductKey, ProductTime)>, DepsvcError> {
        let queries = self.graph.science_queries(&runs);
        let answers = self.every_match(queries.iter().map(|(_, query)| query)).await?;
        let found: Vec<Vec<FileRecord>> =
            answers.iter().map(|files| files.iter().filter_map(convert::file_record).collect()).collect();
        Ok(self.graph.runs_with_science(runs, &queries, &found))
    }

    /// Every file matching each of `queries`, in query order. The first pages of all of them come
    /// in one `BatchQueryFiles` (a mission job names up to a dozen sources, kernels included);
    /// a source with more than a page is read on to its end through `QueryFiles`, as the indexer
    /// bounds each answer. An indexer too old to batch is asked one query at a time.
    async fn every_match(
        &self,
        queries: impl Iterator<Item = &InputQuery>,
    ) -> Result<Vec<Vec<pb::FileRecord>>, DepsvcError> {
        let queries: Vec<&InputQuery> = queries.collect();
        let file_queries: Vec<(usize, pb::QueryFilesRequest)> = queries
            .iter()
            .enumerate()
            .flat_map(|(index, query)| {
                convert::file_queries(query).into_iter().map(move |file_query| (index, file_query))
            })
            .collect();
        let mut matches = vec![Vec::new(); queries.len()];
        for batch in file_queries.chunks(BATCH_QUERIES) {
            let request =
                pb::BatchQueryFilesRequest { queries: batch.iter().map(|(_, query)| query.clone()).collect() };
            let answers = match self.indexer.clone().batch_query_files(request).await {
                Ok(response) => response.into_inner().answers,
                Err(status) if status.code() == tonic::Code::Unimplemented => {
                    for (index, files) in self.one_query_at_a_time(batch).await? {
                        matches[index].extend(files);
                    }
                    continue;
                }
                Err(status) => return Err(status.into()),
            };
            if answers.len() != batch.len() {
                let message = format!("BatchQueryFiles answered {} of {} queries", answers.len(), batch.len());
                return Err(Status::internal(message).into());
            }
            for ((index, query), answer) in batch.iter().zip(answers) {
                matches[*index].extend(answer.files);
                if !answer.next_page_token.is_empty() {
                    let rest = pb::QueryFilesRequest { page_token: answer.next_page_token, ..query.clone() };
                    matches[*index].extend(matching_files(&self.indexer, rest, usize::MAX).await?.files);
                }
            }
        }
        Ok(matches)
    }

    /// Every match of each of `queries` through `QueryFiles`, several in flight at once.
    async fn one_query_at_a_time(
        &self,
        queries: &[(usize, pb::QueryFilesRequest)],
    ) -> Result<Vec<(usize, Vec<pb::FileRecord>)>, DepsvcError> {
        Ok(futures_util::stream::iter(queries.iter().cloned())
            .map(|(index, file_query)| async move {
                matching_files(&self.indexer, file_query, usize::MAX).await.map(|found| (index, found.files))
            })
            .buffered(QUERIES_AT_ONCE)
            .try_collect()
            .await?)
    }
}

#[tonic::async_trait]
impl DependencyService for DepsvcGrpc {
    #[tracing::instrument(skip_all, name = "depsvc.downstream", fields(file = %request.get_ref().file.as_ref().map(|file| file.file_name.as_str()).unwrap_or("")))]
    async fn downstream(
        &self,
        request: Request<pb::DownstreamRequest>,
    ) -> Result<Response<pb::DownstreamResponse>, Status> {
        let file = request.into_inner().file.unwrap_or_default();
        let Some(record) = convert::file_record(&file) else {
            return Ok(Response::new(pb::DownstreamResponse::default()));
        };
        let today = Date::from_days_since_epoch((proto::time::now_millis() / 86_400_000) as i32);
        let runs = self.graph.downstream(&record, today);
        let runs = if record.kind == FileKind::Science { runs } else { self.runs_with_science(runs).await? };
        let runs = runs
            .iter()
            .map(|(product, time)| pb::ProductRun {
                product: Some(convert::product_key_to_wire(product)),
                time: Some(convert::product_time_to_wire(time)),
            })
            .collect();
        Ok(Response::new(pb::DownstreamResponse { runs }))
    }

    #[tracing::instrument(skip_all, name = "depsvc.resolve")]
    async fn resolve(&self, request: Request<pb::ResolveRequest>) -> Result<Response<pb::ResolveResponse>, Status> {
        Ok(Response::new(DepsvcGrpc::resolve(self, request.into_inner()).await?))
    }

    #[tracing::instrument(skip_all, name = "depsvc.get_graph")]
    async fn get_graph(
        &self,
        _request: Request<pb::GetGraphRequest>,
    ) -> Result<Response<pb::GetGraphResponse>, Status> {
        let products = self.graph.products().iter().map(|product| convert::product_key_to_wire(&product.key)).collect();
        let edges = self
            .graph
            .products()
            .iter()
            .flat_map(|product| {
                product.inputs.iter().map(|input| pb::GraphEdge {
                    product: Some(convert::product_key_to_wire(&product.key)),
                    input: match &input.source {
                        super::graph::InputSource::Science(key) => key.to_string(),
                        other => other.to_string(),
                    },
                    relationship: convert::relationship_to_wire(input.relationship).into(),
                    window: format!("{:?}", input.window),
                })
            })
            .collect();
        Ok(Response::new(pb::GetGraphResponse { products, edges, dot: self.graph.to_dot() }))
    }
}

#[cfg(test)]
#[path = "grpc_tests.rs"]
mod tests;
