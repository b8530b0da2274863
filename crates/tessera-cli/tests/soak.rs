//! The soak test's short run (issue 14, part 4; the long run and its figures are in
//! docs/reliability.md): a coordinator and three signer processes, a 2-of-3 ed25519 wallet,
//! 5 s of calibration, then 20 s of paced signing at 80 % of the measured maximum, each process
//! sampled every 5 s.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use tessera_cli::benchsoak::{self, Process, SoakOptions};

/// No request fails at 80 % of the calibrated maximum, and every process was sampled at every
/// sample time with a plausible memory and descriptor count. The achieved rate and the slopes
/// are printed, not asserted: on a shared 2-core machine a 20 s run's rate and slopes are noise.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_soak_signs_without_errors_and_samples_every_process() {
    let started = Instant::now();
    let cluster = cluster("soak", "warn").await;
    let processes: Vec<Process> = cluster
        .processes()
        .into_iter()
        .map(|(name, pid)| Process { name, pid })
        .collect();
    assert_eq!(processes.len(), 4, "coordinator and three signers");
    let opts = SoakOptions {
        calibrate: Duration::from_secs(5),
        duration: Duration::from_secs(20),
        sample: Duration::from_secs(5),
        ..SoakOptions::default()
    };
    let report = benchsoak::soak(&cluster.file, &processes, &opts, |l| eprintln!("... {l}"))
        .await
        .expect("soak runs");
    eprintln!("{}", benchsoak::render(&report));

    assert_eq!(
        report.errors, 0,
        "failed requests: {:?} {:?}",
        report.error_kinds, report.first_errors
    );
    assert!(report.requests > 0);
    assert!(report.calibration.throughput_per_s > 0.0);
    assert_eq!(report.windows.len(), 4);
    assert_eq!(
        report.windows.iter().map(|w| w.requests).sum::<usize>(),
        report.requests
    );
    for p in &report.processes {
        assert!(!p.exited, "{} exited", p.name);
        // Samples at 0, 5, 10, 15 and 20 s.
        assert_eq!(p.samples, 5, "{}", p.name);
        assert!(p.rss_slope_kib_per_min.is_some() && p.fd_slope_per_min.is_some());
    }
    for x in &report.samples {
        assert!(x.rss_kib > 1024, "{} RSS {} KiB", x.process, x.rss_kib);
        // Standard streams, the log file, the listener or link, the store: more than three.
        assert!(x.fds > 3, "{} has {} descriptors", x.process, x.fds);
    }
    for p in &processes {
        assert!(report.samples.iter().any(|x| x.process == p.name));
    }
    let json = serde_json::to_value(&report).unwrap();
    assert!(json["processes"].as_array().unwrap().len() == 4);
    eprintln!("soak test took {:.1} s", started.elapsed().as_secs_f64());
}
