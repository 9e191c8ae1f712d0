//! How long compiling a big runbook takes: 1,000 / 10,000 / 50,000 steps in
//! chains and fan-outs (explicit `needs`), with templates that read upstream
//! steps (`{{ steps.s123.stdout }}`, implied dependencies) and `uses` steps.
//!
//! `cargo bench --bench compile -- --warm-up-time 1 --measurement-time 5`

use std::fmt::Write as _;
use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use steward::compile::{Library, Source, compile};

const TEMPLATE: &str = r#"description: Run a command until it succeeds.
params:
  command: { required: true }
  attempts: { default: 5 }
  delay: { default: 200ms }
step:
  shell: "{{ params.command | raw }}"
  retry: { attempts: "{{ params.attempts }}", delay: "{{ params.delay }}", backoff: fixed }
"#;

/// A runbook of `n` steps in groups of ten: a head that follows the previous
/// group (implicitly, or by reading its join), eight steps fanning out from
/// the head, and a join that needs all eight.
pub fn runbook(n: usize) -> String {
    let mut out = String::with_capacity(n * 120);
    out.push_str(
        "name: big\n\
         description: generated\n\
         inputs:\n  \
           name: { type: string, default: world }\n  \
           shards: { type: int, default: 3 }\n\
         secrets: [TOKEN]\n\
         vars:\n  \
           greeting: \"hello {{ inputs.name }}\"\n\
         defaults:\n  \
           timeout: 1m\n  \
           retry: { attempts: 2, delay: 1s }\n\
         steps:\n",
    );
    for i in 0..n {
        let head = i - i % 10;
        let _ = writeln!(out, "  - id: s{i}");
        match i % 10 {
            0 if i >= 10 && i % 20 == 0 => {
                // Reads the previous join: an implied dependency, no `needs`.
                let _ = writeln!(out, "    needs: []");
                let _ = writeln!(
                    out,
                    "    shell: echo {{{{ steps.s{}.stdout }}}} {{{{ vars.greeting }}}}",
                    i - 1
                );
            }
            0 => {
                let _ = writeln!(out, "    shell: echo start {{{{ inputs.name }}}}");
            }
            9 => {
                let needs: Vec<String> = (head + 1..i).map(|j| format!("s{j}")).collect();
                let _ = writeln!(out, "    needs: [{}]", needs.join(", "));
                let _ = writeln!(out, "    when: steps.s{}.status == 'succeeded'", head + 1);
                let _ = writeln!(out, "    shell: |");
                let _ = writeln!(out, "      echo joined {{{{ steps.s{}.stdout }}}}", i - 1);
                let _ = writeln!(out, "      echo {{{{ secrets.TOKEN }}}}");
            }
            5 => {
                let _ = writeln!(out, "    needs: [s{head}]");
                let _ = writeln!(out, "    uses: retry-until");
                let _ = writeln!(
                    out,
                    "    with: {{ command: \"ls {{{{ steps.s{head}.stdout }}}}\", attempts: 3 }}"
                );
            }
            _ => {
                let _ = writeln!(out, "    needs: [s{head}]");
                let _ = writeln!(out, "    timeout: 30s");
                let _ = writeln!(
                    out,
                    "    shell: echo {{{{ steps.s{head}.stdout | trim }}}} {{{{ inputs.shards }}}}"
                );
                let _ = writeln!(out, "    outputs:");
                let _ = writeln!(out, "      line: \"{{{{ result.stdout }}}}\"");
            }
        }
    }
    out.push_str("outputs:\n  last: \"{{ steps.s");
    let _ = write!(out, "{}", n - 1);
    out.push_str(".stdout }}\"\nfinally:\n  - id: cleanup\n    shell: echo done\n");
    out
}

pub fn library() -> Library {
    let mut library = Library::default();
    let problems = library.add(
        "retry-until",
        Source {
            path: "steps/retry-until.yaml",
            text: TEMPLATE,
            stem: "retry-until",
        },
    );
    assert!(problems.is_empty(), "{problems:?}");
    library
}

fn bench_compile(c: &mut Criterion) {
    let library = library();
    let mut group = c.benchmark_group("compile");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    for n in [1_000, 10_000, 50_000] {
        let text = runbook(n);
        let source = Source {
            path: "runbooks/big.yaml",
            text: &text,
            stem: "big",
        };
        // The generated runbook must be valid, or the bench measures errors.
        match compile(source, &library) {
            Ok(plan) => assert_eq!(plan.steps.len(), n),
            Err(d) => panic!("generated runbook is invalid: {:#?}", &d[..d.len().min(5)]),
        }
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &source, |b, source| {
            b.iter(|| compile(black_box(*source), &library))
        });
    }
    group.finish();
}

/// Reading the YAML into the spec alone, the first part of `compile`.
fn bench_parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse_runbook");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    for n in [1_000, 10_000, 50_000] {
        let text = runbook(n);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &text, |b, text| {
            b.iter(|| steward::spec::parse_runbook(black_box(text)))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_compile, bench_parse);
criterion_main!(benches);
