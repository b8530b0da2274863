//! Progress for long-running commands (`tessera demo`): a live bar per stage on a terminal,
//! plain timestamped lines otherwise (CI logs, pipes), and a remaining-time estimate where the
//! work reports how far it is.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

/// Where progress goes: standard error, as bars on a terminal or as lines elsewhere.
pub struct Progress {
    bars: Option<MultiProgress>,
    started: Instant,
    /// Plain mode prints a changed message at most this often per stage.
    plain_every: Duration,
}

impl Progress {
    /// Bars when standard error is a terminal, plain lines otherwise.
    pub fn stderr() -> Progress {
        let tty = std::io::stderr().is_terminal();
        Progress {
            bars: tty.then(MultiProgress::new),
            started: Instant::now(),
            plain_every: Duration::from_secs(5),
        }
    }

    /// Starts a stage; `total` steps give a bar with a count, `None` a spinner.
    pub fn stage(&self, name: &str, total: Option<u64>) -> Stage {
        let bar = self.bars.as_ref().map(|m| {
            let bar = match total {
                Some(n) => ProgressBar::new(n).with_style(style(
                    "{spinner} {prefix:<28} [{bar:20}] {pos}/{len} {wide_msg} {elapsed}",
                )),
                None => ProgressBar::new_spinner()
                    .with_style(style("{spinner} {prefix:<28} {wide_msg} {elapsed}")),
            };
            let bar = m.add(bar);
            bar.set_prefix(name.to_string());
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        let stage = Stage {
            name: name.to_string(),
            bar,
            started: Instant::now(),
            run_started: self.started,
            plain_every: self.plain_every,
            last_plain: None,
            total,
            pos: 0,
        };
        stage.line("started");
        stage
    }
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
        .progress_chars("=> ")
}

/// One stage of a run: a bar on a terminal, lines otherwise.
pub struct Stage {
    name: String,
    bar: Option<ProgressBar>,
    started: Instant,
    run_started: Instant,
    plain_every: Duration,
    last_plain: Option<(Instant, String)>,
    total: Option<u64>,
    pos: u64,
}

impl Stage {
    fn line(&self, what: &str) {
        if self.bar.is_none() {
            eprintln!(
                "[{:>6.1}s] {}: {what}",
                self.run_started.elapsed().as_secs_f64(),
                self.name
            );
        }
    }

    /// Shows what the stage is doing now. Plain mode prints it when it changed, at most every
    /// few seconds.
    pub fn set_message(&mut self, msg: impl Into<String>) {
        let msg = msg.into();
        if let Some(bar) = &self.bar {
            bar.set_message(msg);
            return;
        }
        let due = match &self.last_plain {
            None => true,
            Some((at, last)) => *last != msg && at.elapsed() >= self.plain_every,
        };
        if due {
            self.line(&msg);
            self.last_plain = Some((Instant::now(), msg));
        }
    }

    /// One step of a counted stage is done; `msg` names it.
    pub fn step(&mut self, msg: impl Into<String>) {
        self.pos += 1;
        let msg = msg.into();
        match &self.bar {
            Some(bar) => {
                bar.set_position(self.pos);
                bar.set_message(msg);
            }
            None => {
                let of = self.total.map(|t| format!("/{t}")).unwrap_or_default();
                self.line(&format!("{}{of} {msg}", self.pos));
            }
        }
    }

    /// Seconds since the stage started.
    pub fn elapsed(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    /// Ends the stage successfully.
    pub fn finish(self, msg: impl Into<String>) {
        let msg = format!("{} in {:.1} s", msg.into(), self.elapsed());
        match &self.bar {
            Some(bar) => bar.finish_with_message(msg),
            None => self.line(&msg),
        }
    }

    /// Ends the stage with a failure.
    pub fn fail(self, msg: impl Into<String>) {
        let msg = msg.into();
        match &self.bar {
            Some(bar) => bar.abandon_with_message(format!("FAILED: {msg}")),
            None => self.line(&format!("FAILED: {msg}")),
        }
    }
}

/// A remaining-time estimate from a fraction done, assuming the rate so far holds.
#[derive(Debug, Clone, Copy)]
pub struct Eta {
    started: Instant,
}

impl Eta {
    /// Starts measuring now.
    pub fn start() -> Eta {
        Eta {
            started: Instant::now(),
        }
    }

    /// Remaining time at `fraction` done (0..=1); `None` until there is progress to go by.
    pub fn remaining(&self, fraction: f64) -> Option<Duration> {
        remaining(self.started.elapsed(), fraction)
    }
}

fn remaining(elapsed: Duration, fraction: f64) -> Option<Duration> {
    if !(fraction > 0.0 && fraction.is_finite()) {
        return None;
    }
    let fraction = fraction.min(1.0);
    Some(elapsed.mul_f64((1.0 - fraction) / fraction))
}

/// "about 1 min 20 s" / "about 40 s".
pub fn human(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 60 {
        format!("about {} min {:02} s", s / 60, s % 60)
    } else {
        format!("about {s} s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_estimate_extrapolates_the_rate_so_far() {
        let e = Duration::from_secs(30);
        assert_eq!(remaining(e, 0.25), Some(Duration::from_secs(90)));
        assert_eq!(remaining(e, 1.0), Some(Duration::ZERO));
        assert_eq!(remaining(e, 0.0), None);
        assert_eq!(remaining(e, f64::NAN), None);
    }

    #[test]
    fn durations_read_as_minutes_and_seconds() {
        assert_eq!(human(Duration::from_secs(80)), "about 1 min 20 s");
        assert_eq!(human(Duration::from_secs(7)), "about 7 s");
    }
}
