//! W3C trace context across the mesh: every gRPC call carries `traceparent` (added by the client
//! stack's `TraceContextLayer`), and every event or job that crosses a stream carries it in the
//! message, so one file's journey is one trace.

use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The `traceparent` of a span, or an empty string when tracing export is off.
pub fn traceparent_of(span: &Span) -> String {
    let context = span.context();
    let span_ref = context.span();
    let span_context = span_ref.span_context();
    if !span_context.is_valid() {
        return String::new();
    }
    format!("00-{}-{}-{:02x}", span_context.trace_id(), span_context.span_id(), span_context.trace_flags().to_u8())
}

/// The `traceparent` of the current span.
pub fn current_traceparent() -> String {
    traceparent_of(&Span::current())
}

/// Parses `00-<32 hex>-<16 hex>-<2 hex>`; anything else is ignored (a new trace starts).
pub fn parse_traceparent(text: &str) -> Option<SpanContext> {
    let mut parts = text.trim().split('-');
    let version = parts.next()?;
    let trace_id = TraceId::from_hex(parts.next()?).ok()?;
    let span_id = SpanId::from_hex(parts.next()?).ok()?;
    let flags = u8::from_str_radix(parts.next()?, 16).ok()?;
    if version != "00" || parts.next().is_some() {
        return None;
    }
    let span_context = SpanContext::new(trace_id, span_id, TraceFlags::new(flags), true, TraceState::default());
    span_context.is_valid().then_some(span_context)
}

/// Makes `span` a child of the remote span named by `traceparent`, when there is one.
pub fn adopt_parent(span: &Span, traceparent: &str) {
    if let Some(remote) = parse_traceparent(traceparent) {
        let parent = opentelemetry::Context::new().with_remote_span_context(remote);
        let _ = span.set_parent(parent);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_valid_traceparent_only() {
        let parsed = parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
        assert_eq!(parsed.trace_id().to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(parsed.span_id().to_string(), "00f067aa0ba902b7");
        assert!(parse_traceparent("").is_none());
        assert!(parse_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").is_none());
        assert!(parse_traceparent("00-00000000000000000000000000000000-00f067aa0ba902b7-01").is_none());
    }
}
