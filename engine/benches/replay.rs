//! Replay throughput on the bank policy: generated complaints replayed on one thread
//! and on two, from parsed lines and from event-file text (as `redress replay` reads
//! it, parsed on the workers). `cargo bench -p redress-engine --bench replay`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use redress_engine::policy::load_policy;
use redress_engine::runtime::replay::{ReplayOptions, last_lines, replay, replay_reader};
use redress_engine::runtime::simulate::{Profile, generate, numbered};

fn bench(c: &mut Criterion) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/bank.toml");
    let Ok(policy) = load_policy(&path) else {
        return;
    };
    let lines = generate(&policy, &Profile::default(), 2_000, 7, 2, &|_| {});
    let text: String = lines
        .iter()
        .map(|l| serde_json::to_string(l).unwrap() + "\n")
        .collect();
    let mut group = c.benchmark_group("replay");
    group.throughput(Throughput::Elements(lines.len() as u64));
    group.sample_size(10);
    for threads in [1, 2] {
        let options = ReplayOptions {
            threads,
            until: None,
            ..Default::default()
        };
        group.bench_function(format!("bank, {threads} thread(s)"), |b| {
            b.iter(|| replay(&policy, numbered(lines.clone()), &options, &|_| {}))
        });
        group.bench_function(format!("bank, text, {threads} thread(s)"), |b| {
            b.iter(|| replay_reader(&policy, text.as_bytes(), &options, &|_| {}))
        });
        let dropping = ReplayOptions {
            last_lines: Some(std::sync::Arc::new(last_lines(text.as_bytes()))),
            ..options.clone()
        };
        group.bench_function(
            format!("bank, text, last lines, {threads} thread(s)"),
            |b| b.iter(|| replay_reader(&policy, text.as_bytes(), &dropping, &|_| {})),
        );
    }
    group.finish();
}

/// The benchmarks, as `criterion_main!` runs them.
mod group {
    // `criterion_group!` makes a `pub fn benches` that cannot carry a doc comment.
    #![allow(missing_docs)]
    use super::*;
    criterion_group!(benches, bench);
}
criterion_main!(group::benches);
