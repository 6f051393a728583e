//! Prometheus metrics, served at `/metrics`: runs by outcome, refusals by rule, operations sent, reconciliations,
//! and latencies (prepare → included, HTTP requests).

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry, TextEncoder,
};

/// The service's metrics.
#[derive(Clone, Debug)]
pub struct Metrics {
    registry: Registry,
    /// Runs finished, by outcome (`included`, `reverted`, `refused`, `skipped`, `failed`).
    pub runs: IntCounterVec,
    /// Pre-flight (or bundler) refusals, by rule.
    pub refusals: IntCounterVec,
    /// Operations sent to the bundler (resubmissions included).
    pub ops_sent: IntCounter,
    /// Runs resolved by reconciliation, by outcome.
    pub reconciled: IntCounterVec,
    /// Node or bundler failures retried.
    pub retries: IntCounter,
    /// Seconds from a run's prepare to its receipt.
    pub run_latency: HistogramVec,
    /// HTTP requests, by route and status.
    pub http_requests: IntCounterVec,
    /// HTTP request seconds, by route.
    pub http_latency: HistogramVec,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Fresh metrics in their own registry.
    pub fn new() -> Self {
        let registry = Registry::new();
        let counter_vec = |name: &str, help: &str, labels: &[&str]| {
            let c = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
            registry.register(Box::new(c.clone())).expect("registers once");
            c
        };
        let histogram = |name: &str, help: &str, labels: &[&str], buckets: Vec<f64>| {
            let h = HistogramVec::new(HistogramOpts::new(name, help).buckets(buckets), labels)
                .expect("valid metric");
            registry.register(Box::new(h.clone())).expect("registers once");
            h
        };
        let runs = counter_vec("warrant_runs_total", "Runs finished, by outcome", &["outcome"]);
        let refusals = counter_vec(
            "warrant_refusals_total",
            "Refusals of the pre-flight or bundler, by rule",
            &["rule"],
        );
        let reconciled =
            counter_vec("warrant_reconciled_total", "Runs resolved by reconciliation", &["outcome"]);
        let ops_sent =
            IntCounter::new("warrant_ops_sent_total", "User operations sent to the bundler").expect("valid");
        registry.register(Box::new(ops_sent.clone())).expect("registers once");
        let retries =
            IntCounter::new("warrant_retries_total", "Node or bundler failures retried").expect("valid");
        registry.register(Box::new(retries.clone())).expect("registers once");
        let run_latency = histogram(
            "warrant_run_latency_seconds",
            "Seconds from a run's prepare to its receipt",
            &["outcome"],
            vec![0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0],
        );
        let http_requests = counter_vec("warrant_http_requests_total", "HTTP requests", &["route", "status"]);
        let http_latency = histogram(
            "warrant_http_latency_seconds",
            "HTTP request seconds",
            &["route"],
            vec![0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0],
        );
        Self {
            registry,
            runs,
            refusals,
            ops_sent,
            reconciled,
            retries,
            run_latency,
            http_requests,
            http_latency,
        }
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}
