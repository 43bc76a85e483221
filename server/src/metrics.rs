//! Prometheus metrics: request counts and latency, events written, timers fired and
//! how late, breaches; cases by stage and clock state are counted from the store
//! when scraped.

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};
use redress_store::{CaseCount, OutboxCounts, StorageStats};

/// The service's metrics.
pub struct Metrics {
    registry: Registry,
    /// Requests by method, route and status.
    pub requests: IntCounterVec,
    /// Request latency by method and route, seconds.
    pub latency: HistogramVec,
    /// Events written, by organisation.
    pub events: IntCounterVec,
    /// Timers fired, by kind (`warning`, `breach`, `after`).
    pub timers: IntCounterVec,
    /// How late timers fired, seconds.
    pub timer_lag: Histogram,
    /// How late the last timer fired, seconds.
    pub timer_lag_last: prometheus::Gauge,
    /// Breaches, by organisation, policy and SLA.
    pub breaches: IntCounterVec,
    /// Writes the store refused because the case changed meanwhile.
    pub conflicts: IntCounterVec,
    /// Durable write latency, seconds.
    pub store_write: Histogram,
    cases: IntGaugeVec,
    clock_states: IntGaugeVec,
    /// Cases held in memory.
    pub cached_cases: IntGauge,
    /// Webhook delivery attempts, by webhook and outcome.
    pub webhooks: IntCounterVec,
    outbox: IntGaugeVec,
    wal_bytes: IntGauge,
    wal_truncations: prometheus::IntCounter,
    /// Due timers that could not fire (a failing guard, a calendar beyond its data),
    /// by organisation.
    pub timers_failed: IntCounterVec,
    /// Requests answered 503 because a limit was reached or the service is stopping,
    /// by reason.
    pub shed: IntCounterVec,
    /// The end of each calendar's firm (not provisional) data, by policy.
    pub calendar_data_end: IntGaugeVec,
    /// Policy versions whose stored due index is stale and still being rebuilt.
    pub index_stale_versions: IntGauge,
    /// Open cases whose due-index entry was recomputed because it was stale.
    pub index_rebuilt: prometheus::IntCounter,
    /// Of those, the ones whose stored entry was wrong and was corrected.
    pub index_corrected: prometheus::IntCounter,
}

fn latency_buckets() -> Vec<f64> {
    vec![
        0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    ]
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> prometheus::Result<Self> {
        let registry = Registry::new_custom(Some("redress".into()), None)?;
        let requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests by method, route and status",
            ),
            &["method", "route", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "HTTP request latency")
                .buckets(latency_buckets()),
            &["method", "route"],
        )?;
        let events = IntCounterVec::new(
            Opts::new("events_written_total", "Case events written durably"),
            &["org"],
        )?;
        let timers = IntCounterVec::new(
            Opts::new(
                "timers_fired_total",
                "Timers fired (warnings, breaches, delayed transitions)",
            ),
            &["timer"],
        )?;
        let timer_lag = Histogram::with_opts(
            HistogramOpts::new(
                "timer_lag_seconds",
                "How long after its due instant each timer fired",
            )
            .buckets(vec![
                0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 30.0, 60.0, 600.0, 3600.0, 86400.0,
            ]),
        )?;
        let timer_lag_last = prometheus::Gauge::new(
            "timer_lag_last_seconds",
            "How long after its due instant the last timer fired",
        )?;
        let breaches = IntCounterVec::new(
            Opts::new("breaches_total", "SLA breaches fired"),
            &["org", "policy", "sla"],
        )?;
        let conflicts = IntCounterVec::new(
            Opts::new(
                "write_conflicts_total",
                "Writes refused because the case changed",
            ),
            &["org"],
        )?;
        let store_write = Histogram::with_opts(
            HistogramOpts::new("store_write_seconds", "Time until a write was durable")
                .buckets(latency_buckets()),
        )?;
        let cases = IntGaugeVec::new(
            Opts::new("cases", "Cases by organisation, policy and stage"),
            &["org", "policy", "stage"],
        )?;
        let clock_states = IntGaugeVec::new(
            Opts::new("cases_by_clock_state", "Cases by their most urgent clock"),
            &["org", "policy", "state"],
        )?;
        let cached_cases = IntGauge::new("cached_cases", "Cases held in memory")?;
        let webhooks = IntCounterVec::new(
            Opts::new(
                "webhook_deliveries_total",
                "Webhook delivery attempts by outcome",
            ),
            &["webhook", "outcome"],
        )?;
        let outbox = IntGaugeVec::new(
            Opts::new(
                "outbox_messages",
                "Webhook messages waiting, or given up on",
            ),
            &["state"],
        )?;
        let wal_bytes = IntGauge::new(
            "store_wal_bytes",
            "The size of the store's write-ahead log file when scraped",
        )?;
        let wal_truncations = prometheus::IntCounter::new(
            "store_wal_truncations_total",
            "Checkpoints that copied the whole write-ahead log back and truncated it",
        )?;
        let timers_failed = IntCounterVec::new(
            Opts::new(
                "timers_failed_total",
                "Due timers that could not fire (recorded on the case as `timer-failed`)",
            ),
            &["org"],
        )?;
        let shed = IntCounterVec::new(
            Opts::new(
                "requests_shed_total",
                "Requests answered 503 by a limit or while stopping",
            ),
            &["reason"],
        )?;
        registry.register(Box::new(wal_bytes.clone()))?;
        registry.register(Box::new(wal_truncations.clone()))?;
        registry.register(Box::new(timers_failed.clone()))?;
        registry.register(Box::new(shed.clone()))?;
        let calendar_data_end = IntGaugeVec::new(
            Opts::new(
                "calendar_data_end_timestamp_seconds",
                "The end of each calendar's firm data (the first instant after its last day not marked provisional)",
            ),
            &["policy", "calendar"],
        )?;
        registry.register(Box::new(calendar_data_end.clone()))?;
        let index_stale_versions = IntGauge::new(
            "due_index_stale_versions",
            "Policy versions whose stored due index is stale and still being rebuilt (0: every open case's entry is fresh)",
        )?;
        let index_rebuilt = prometheus::IntCounter::new(
            "due_index_rebuilt_cases_total",
            "Open cases whose due-index entry was recomputed because the stored index was stale",
        )?;
        let index_corrected = prometheus::IntCounter::new(
            "due_index_corrected_cases_total",
            "Open cases whose stale due-index entry was wrong and was corrected",
        )?;
        registry.register(Box::new(index_stale_versions.clone()))?;
        registry.register(Box::new(index_rebuilt.clone()))?;
        registry.register(Box::new(index_corrected.clone()))?;
        registry.register(Box::new(webhooks.clone()))?;
        registry.register(Box::new(outbox.clone()))?;
        for c in [&requests, &events, &timers, &breaches, &conflicts] {
            registry.register(Box::new(c.clone()))?;
        }
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(timer_lag.clone()))?;
        registry.register(Box::new(timer_lag_last.clone()))?;
        registry.register(Box::new(store_write.clone()))?;
        registry.register(Box::new(cases.clone()))?;
        registry.register(Box::new(clock_states.clone()))?;
        registry.register(Box::new(cached_cases.clone()))?;
        Ok(Metrics {
            registry,
            requests,
            latency,
            events,
            timers,
            timer_lag,
            timer_lag_last,
            breaches,
            conflicts,
            store_write,
            cases,
            clock_states,
            cached_cases,
            webhooks,
            outbox,
            wal_bytes,
            wal_truncations,
            timers_failed,
            shed,
            calendar_data_end,
            index_stale_versions,
            index_rebuilt,
            index_corrected,
        })
    }

    /// The text exposition, with case counts, outbox and store figures as given.
    pub fn render(
        &self,
        counts: &[CaseCount],
        outbox: OutboxCounts,
        storage: StorageStats,
    ) -> String {
        if let Some(bytes) = storage.wal_bytes {
            self.wal_bytes.set(bytes as i64);
        }
        if let Some(total) = storage.wal_truncations {
            self.wal_truncations
                .inc_by(total.saturating_sub(self.wal_truncations.get()));
        }
        self.outbox
            .with_label_values(&["waiting"])
            .set(outbox.waiting as i64);
        self.outbox
            .with_label_values(&["dead"])
            .set(outbox.dead as i64);
        self.cases.reset();
        self.clock_states.reset();
        for c in counts {
            let n = c.count as i64;
            self.cases
                .with_label_values(&[&c.org, &c.policy, &c.stage])
                .add(n);
            self.clock_states
                .with_label_values(&[&c.org, &c.policy, c.clock_state.as_str()])
                .add(n);
        }
        let mut out = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}
