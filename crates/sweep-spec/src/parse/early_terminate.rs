//! The `early_terminate:` block: which rule stops trials early, and its settings.
//!
//! ```yaml
//! early_terminate: {type: hyperband, min_iter: 3}          # W&B's keys
//! early_terminate: {type: asha, grace_period: 1, max_t: 27} # Ray Tune's ASHA
//! early_terminate: {type: median, n_startup_trials: 5}      # Optuna's MedianPruner
//! ```

use super::{Cx, Entries, as_f64, found};
use crate::locate::join;
use crate::spec::EarlyTerminate;
use crate::suggest::did_you_mean;
use serde_norway::Value;
use sweep_core::format_float;

const PATH: &str = "early_terminate";
/// The rules `type:` names.
const TYPES: &[&str] = &["hyperband", "asha", "median"];
const HYPERBAND_KEYS: &[&str] = &["type", "min_iter", "max_iter", "s", "eta", "strict"];
const ASHA_KEYS: &[&str] = &["type", "grace_period", "reduction_factor", "max_t", "brackets"];
const MEDIAN_KEYS: &[&str] = &["type", "n_startup_trials", "n_warmup_steps", "interval_steps"];

fn keys_of(rule: &str) -> &'static [&'static str] {
    match rule {
        "hyperband" => HYPERBAND_KEYS,
        "asha" => ASHA_KEYS,
        _ => MEDIAN_KEYS,
    }
}

/// A setting whose problem has already been reported.
struct Reported;

/// A setting's value: absent, or checked.
type Setting<T> = Result<Option<T>, Reported>;

impl Cx {
    /// Checks the `early_terminate:` block.
    pub(super) fn early_terminate(&mut self, v: &Value) -> Option<EarlyTerminate> {
        let entries = self.mapping(v, PATH, "a mapping such as {type: hyperband, min_iter: 3}")?;
        let rule = match Self::get(&entries, "type") {
            Some(t) => self.word(t, &join(PATH, "type"), TYPES, type_hint),
            None => {
                // `tpye: asha` is reported as an unknown key, with the fix.
                if !misspelt(&entries, HYPERBAND_KEYS, "type") {
                    self.bad_key(
                        PATH,
                        "missing `early_terminate.type`",
                        Some("add `type: hyperband`, `type: asha` or `type: median`".into()),
                    );
                }
                None
            }
        };
        let Some(rule) = rule else {
            // The rule is unknown, but a key no rule takes is still wrong.
            let all: Vec<&str> = [HYPERBAND_KEYS, ASHA_KEYS, MEDIAN_KEYS].concat();
            self.unknown_keys(&entries, PATH, &all, |_| None);
            return None;
        };
        let allowed = keys_of(&rule);
        self.unknown_keys(&entries, PATH, allowed, |k| other_rule_hint(&rule, k));
        match rule.as_str() {
            "hyperband" => self.hyperband(&entries),
            "asha" => self.asha(&entries),
            _ => self.median(&entries),
        }
    }

    fn hyperband(&mut self, entries: &Entries) -> Option<EarlyTerminate> {
        let min_iter = self.whole(entries, "min_iter", 1);
        let max_iter = self.whole(entries, "max_iter", 1);
        let s = self.whole(entries, "s", 1);
        let eta = self.factor(
            entries,
            "eta",
            "3 keeps the best third of the trials at each band, 2 the best half",
        );
        let strict = self.flag(entries, "strict");
        let present = |k: &str| Self::get(entries, k).is_some();
        // Written, or misspelt (then the unknown-key error says what to write).
        let has = |k: &str| present(k) || misspelt(entries, HYPERBAND_KEYS, k);
        let mut ok = true;
        if present("min_iter") && present("max_iter") {
            // W&B takes max_iter and silently ignores min_iter; say so instead.
            ok = false;
            self.bad_key(
                &join(PATH, "min_iter"),
                "`min_iter` and `max_iter` exclude each other",
                Some("keep `min_iter` (bands upward from it) or `max_iter` with `s` (s bands below it)".into()),
            );
        } else if !has("min_iter") && !has("max_iter") {
            ok = false;
            self.bad_key(
                PATH,
                "hyperband needs `min_iter`, or `max_iter` and `s`",
                Some(
                    "e.g. `min_iter: 3` (bands at 3, 9, 27, ... epochs with eta 3), or `max_iter: 27, s: 2` (bands at 3 and 9)"
                        .into(),
                ),
            );
        }
        if present("max_iter") && !has("s") {
            ok = false;
            self.bad_key(
                &join(PATH, "max_iter"),
                "`max_iter` needs `s`, the number of bands below it",
                Some("add e.g. `s: 2`: bands at max_iter/eta and max_iter/eta²".into()),
            );
        }
        if present("s") && !present("max_iter") && has("min_iter") {
            ok = false;
            self.bad_key(
                &join(PATH, "s"),
                "`s` only applies with `max_iter`",
                Some("remove `s`: from `min_iter` the bands are min_iter, min_iter*eta, min_iter*eta², ...".into()),
            );
        }
        let eta_value = eta.as_ref().ok().map(|e| e.unwrap_or(3.0));
        if let (Ok(Some(m)), Some(e)) = (&max_iter, eta_value)
            && f64::from(*m) / e < 1.0
        {
            ok = false;
            self.bad_value(
                &join(PATH, "max_iter"),
                format!(
                    "max_iter ({m}) / eta ({}) is below 1: there is no band to stop trials at",
                    format_float(e)
                ),
                Some("raise max_iter to the number of epochs trials train, or lower eta".into()),
            );
        }
        let (Ok(min_iter), Ok(max_iter), Ok(s), Ok(eta), Ok(strict)) = (min_iter, max_iter, s, eta, strict) else {
            return None;
        };
        ok.then_some(EarlyTerminate::Hyperband {
            min_iter,
            max_iter,
            s,
            eta: eta.unwrap_or(3.0),
            strict: strict.unwrap_or(true),
        })
    }

    fn asha(&mut self, entries: &Entries) -> Option<EarlyTerminate> {
        let grace = self.whole(entries, "grace_period", 1);
        let rf = self.factor(
            entries,
            "reduction_factor",
            "4 keeps the best quarter of the trials at each rung, 2 the best half",
        );
        let max_t = self.whole(entries, "max_t", 1);
        let brackets = self.whole(entries, "brackets", 1);
        let (Ok(grace), Ok(max_t)) = (grace, max_t) else {
            return None;
        };
        let (grace, max_t) = (grace.unwrap_or(1), max_t.unwrap_or(100));
        if max_t < grace {
            let key = if Self::get(entries, "max_t").is_some() {
                "max_t"
            } else {
                "grace_period"
            };
            self.bad_value(
                &join(PATH, key),
                format!("max_t ({max_t}) is below grace_period ({grace})"),
                Some(
                    "grace_period is the first epoch a trial can be stopped at, max_t the last epoch it may train"
                        .into(),
                ),
            );
            return None;
        }
        let (Ok(rf), Ok(brackets)) = (rf, brackets) else {
            return None;
        };
        let (rf, brackets) = (rf.unwrap_or(4.0), brackets.unwrap_or(1));
        // Ray's rung count for bracket 0; bracket k has k fewer.
        let rungs = ((f64::from(max_t) / f64::from(grace)).ln() / rf.ln() + 1.0).trunc() as u32;
        if brackets > rungs {
            self.bad_value(
                &join(PATH, "brackets"),
                format!(
                    "{brackets} brackets, but grace_period {grace}, reduction_factor {} and max_t {max_t} make only {rungs} rung{}",
                    format_float(rf),
                    if rungs == 1 { "" } else { "s" }
                ),
                Some(format!(
                    "bracket k starts at rung k: use at most {rungs} bracket{}, or raise max_t",
                    if rungs == 1 { "" } else { "s" }
                )),
            );
            return None;
        }
        Some(EarlyTerminate::Asha {
            grace_period: grace,
            reduction_factor: rf,
            max_t,
            brackets,
        })
    }

    fn median(&mut self, entries: &Entries) -> Option<EarlyTerminate> {
        let startup = self.whole(entries, "n_startup_trials", 0);
        let warmup = self.whole(entries, "n_warmup_steps", 0);
        let interval = self.whole(entries, "interval_steps", 1);
        let (Ok(startup), Ok(warmup), Ok(interval)) = (startup, warmup, interval) else {
            return None;
        };
        Some(EarlyTerminate::Median {
            n_startup_trials: startup.unwrap_or(5),
            n_warmup_steps: warmup.unwrap_or(0),
            interval_steps: interval.unwrap_or(1),
        })
    }

    /// A whole-number setting, at least `min`.
    fn whole(&mut self, entries: &Entries, key: &str, min: u64) -> Setting<u32> {
        let Some(v) = Self::get(entries, key) else {
            return Ok(None);
        };
        let path = join(PATH, key);
        let n = self.uint(v, &path, min).ok_or(Reported)?;
        match u32::try_from(n) {
            Ok(n) => Ok(Some(n)),
            Err(_) => {
                self.bad_value(&path, format!("expected at most {}, found {n}", u32::MAX), None);
                Err(Reported)
            }
        }
    }

    /// A reduction factor: a number above 1.
    fn factor(&mut self, entries: &Entries, key: &str, help: &str) -> Setting<f64> {
        let Some(v) = Self::get(entries, key) else {
            return Ok(None);
        };
        match as_f64(v) {
            Some(x) if x > 1.0 => Ok(Some(x)),
            _ => {
                self.bad_value(
                    &join(PATH, key),
                    format!("expected a number > 1, found {}", found(v)),
                    Some(help.to_string()),
                );
                Err(Reported)
            }
        }
    }

    fn flag(&mut self, entries: &Entries, key: &str) -> Setting<bool> {
        match Self::get(entries, key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(v) => {
                self.bad_value(
                    &join(PATH, key),
                    format!("expected true or false, found {}", found(v)),
                    None,
                );
                Err(Reported)
            }
        }
    }
}

/// True when an unknown key of the block is a misspelling of `name`: the
/// unknown-key error already says what to write.
fn misspelt(entries: &Entries, allowed: &[&str], name: &str) -> bool {
    entries
        .iter()
        .any(|(k, _)| !allowed.contains(k) && did_you_mean(k, allowed.iter().copied()) == Some(name))
}

fn type_hint(word: &str) -> Option<String> {
    Some(match word {
        "successive_halving" | "sha" | "async_hyperband" | "asynchyperband" => "did you mean `asha`?".into(),
        "percentile" | "median_stopping" | "medianpruner" => "did you mean `median` (the 50th percentile)?".into(),
        "envelope" | "curve" | "threshold" => format!("`{word}` is not supported; use hyperband, asha or median"),
        _ => return None,
    })
}

/// A key that belongs to another rule: which one, and what this rule takes.
fn other_rule_hint(rule: &str, key: &str) -> Option<String> {
    let owner = TYPES.iter().find(|t| **t != rule && keys_of(t).contains(&key))?;
    let own: Vec<&str> = keys_of(rule).iter().copied().filter(|k| *k != "type").collect();
    Some(format!(
        "`{key}` is a setting of `type: {owner}`; {rule} takes {}",
        own.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use crate::{Diagnostic, EarlyTerminate, SpecError, parse};

    const HEAD: &str = "method: grid\nparameters:\n  lr: {values: [1e-3, 1e-2]}\n";

    fn parsed(block: &str) -> Result<Option<EarlyTerminate>, Vec<Diagnostic>> {
        let text = format!("{HEAD}{block}");
        match parse(&text, "s.yaml".as_ref()) {
            Ok(spec) => Ok(spec.early_terminate),
            Err(SpecError::Invalid { diagnostics, .. }) => Err(diagnostics),
            Err(e) => panic!("{e}"),
        }
    }

    /// The diagnostics as `path@line:col: message [help]`, one per problem.
    fn problems(block: &str) -> Vec<String> {
        parsed(block)
            .expect_err("should be refused")
            .into_iter()
            .map(|d| {
                let pos = d.pos.map_or("?".into(), |p| format!("{}:{}", p.line, p.col));
                match d.help {
                    Some(h) => format!("{}@{pos}: {} [{h}]", d.path, d.message),
                    None => format!("{}@{pos}: {}", d.path, d.message),
                }
            })
            .collect()
    }

    #[test]
    fn no_block_no_rule() {
        assert_eq!(parsed(""), Ok(None));
    }

    #[test]
    fn hyperband_defaults_and_both_forms() {
        assert_eq!(
            parsed("early_terminate: {type: hyperband, min_iter: 3}\n"),
            Ok(Some(EarlyTerminate::Hyperband {
                min_iter: Some(3),
                max_iter: None,
                s: None,
                eta: 3.0,
                strict: true,
            }))
        );
        assert_eq!(
            parsed("early_terminate:\n  type: hyperband\n  max_iter: 27\n  s: 2\n  eta: 2.5\n  strict: false\n"),
            Ok(Some(EarlyTerminate::Hyperband {
                min_iter: None,
                max_iter: Some(27),
                s: Some(2),
                eta: 2.5,
                strict: false,
            }))
        );
    }

    #[test]
    fn asha_and_median_defaults() {
        assert_eq!(
            parsed("early_terminate: {type: asha}\n"),
            Ok(Some(EarlyTerminate::Asha {
                grace_period: 1,
                reduction_factor: 4.0,
                max_t: 100,
                brackets: 1,
            }))
        );
        assert_eq!(
            parsed("early_terminate: {type: asha, grace_period: 2, reduction_factor: 3, max_t: 18, brackets: 2}\n"),
            Ok(Some(EarlyTerminate::Asha {
                grace_period: 2,
                reduction_factor: 3.0,
                max_t: 18,
                brackets: 2,
            }))
        );
        assert_eq!(
            parsed("early_terminate: {type: median}\n"),
            Ok(Some(EarlyTerminate::Median {
                n_startup_trials: 5,
                n_warmup_steps: 0,
                interval_steps: 1,
            }))
        );
        assert_eq!(
            parsed("early_terminate: {type: median, n_startup_trials: 0, n_warmup_steps: 3, interval_steps: 2}\n"),
            Ok(Some(EarlyTerminate::Median {
                n_startup_trials: 0,
                n_warmup_steps: 3,
                interval_steps: 2,
            }))
        );
    }

    #[test]
    fn unknown_type_gets_a_suggestion_and_keys_are_still_checked() {
        assert_eq!(
            problems("early_terminate: {type: hyperbnd, min_iter: 3, mx_t: 9}\n"),
            [
                "early_terminate.type@4:25: expected one of hyperband, asha, median, found `hyperbnd` [did you mean `hyperband`?]",
                "early_terminate.mx_t@4:48: unknown key `mx_t` in `early_terminate` [did you mean `max_t`?]",
            ]
        );
        assert_eq!(
            problems("early_terminate: {type: successive_halving}\n"),
            [
                "early_terminate.type@4:25: expected one of hyperband, asha, median, found `successive_halving` [did you mean `asha`?]"
            ]
        );
    }

    #[test]
    fn missing_type_unless_misspelt() {
        assert_eq!(
            problems("early_terminate: {min_iter: 3}\n"),
            [
                "early_terminate@4:1: missing `early_terminate.type` [add `type: hyperband`, `type: asha` or `type: median`]"
            ]
        );
        assert_eq!(
            problems("early_terminate: {tpye: asha}\n"),
            ["early_terminate.tpye@4:19: unknown key `tpye` in `early_terminate` [did you mean `type`?]"]
        );
        assert_eq!(
            problems("early_terminate: asha\n"),
            [
                "early_terminate@4:18: expected a mapping such as {type: hyperband, min_iter: 3}, found the string `asha`"
            ]
        );
    }

    #[test]
    fn hyperband_problems_all_at_once() {
        let p = problems("early_terminate:\n  type: hyperband\n  eta: 1\n  stict: false\n");
        assert_eq!(
            p,
            [
                "early_terminate@4:1: hyperband needs `min_iter`, or `max_iter` and `s` [e.g. `min_iter: 3` (bands at 3, 9, 27, ... epochs with eta 3), or `max_iter: 27, s: 2` (bands at 3 and 9)]",
                "early_terminate.eta@6:8: expected a number > 1, found the number 1 [3 keeps the best third of the trials at each band, 2 the best half]",
                "early_terminate.stict@7:3: unknown key `stict` in `early_terminate` [did you mean `strict`?]",
            ]
        );
        assert_eq!(
            problems("early_terminate: {type: hyperband, max_iter: 27}\n"),
            [
                "early_terminate.max_iter@4:36: `max_iter` needs `s`, the number of bands below it [add e.g. `s: 2`: bands at max_iter/eta and max_iter/eta²]"
            ]
        );
        assert_eq!(
            problems("early_terminate: {type: hyperband, min_iter: 3, max_iter: 27, s: 2}\n"),
            [
                "early_terminate.min_iter@4:36: `min_iter` and `max_iter` exclude each other [keep `min_iter` (bands upward from it) or `max_iter` with `s` (s bands below it)]"
            ]
        );
        assert_eq!(
            problems("early_terminate: {type: hyperband, min_iter: 3, s: 2}\n"),
            [
                "early_terminate.s@4:49: `s` only applies with `max_iter` [remove `s`: from `min_iter` the bands are min_iter, min_iter*eta, min_iter*eta², ...]"
            ]
        );
        assert_eq!(
            problems("early_terminate: {type: hyperband, max_iter: 2, s: 1}\n"),
            [
                "early_terminate.max_iter@4:46: max_iter (2) / eta (3.0) is below 1: there is no band to stop trials at [raise max_iter to the number of epochs trials train, or lower eta]"
            ]
        );
        assert_eq!(
            problems("early_terminate: {type: hyperband, min_iter: 0, strict: yes}\n"),
            [
                "early_terminate.min_iter@4:46: expected an integer >= 1, found the number 0",
                "early_terminate.strict@4:57: expected true or false, found the string `yes`",
            ]
        );
        // A misspelt min_iter is not also "missing".
        assert_eq!(
            problems("early_terminate: {type: hyperband, min_itr: 3}\n"),
            ["early_terminate.min_itr@4:36: unknown key `min_itr` in `early_terminate` [did you mean `min_iter`?]"]
        );
    }

    #[test]
    fn asha_problems() {
        assert_eq!(
            problems("early_terminate: {type: asha, grace_period: 10, max_t: 5}\n"),
            [
                "early_terminate.max_t@4:56: max_t (5) is below grace_period (10) [grace_period is the first epoch a trial can be stopped at, max_t the last epoch it may train]"
            ]
        );
        // max_t's default (100) is below grace_period: pointed at grace_period.
        assert_eq!(
            problems("early_terminate: {type: asha, grace_period: 200}\n"),
            [
                "early_terminate.grace_period@4:45: max_t (100) is below grace_period (200) [grace_period is the first epoch a trial can be stopped at, max_t the last epoch it may train]"
            ]
        );
        assert_eq!(
            problems("early_terminate: {type: asha, reduction_factor: 1, brackets: -1, min_iter: 3}\n"),
            [
                "early_terminate.reduction_factor@4:49: expected a number > 1, found the number 1 [4 keeps the best quarter of the trials at each rung, 2 the best half]",
                "early_terminate.brackets@4:62: expected an integer >= 1, found the number -1",
                "early_terminate.min_iter@4:66: unknown key `min_iter` in `early_terminate` [`min_iter` is a setting of `type: hyperband`; asha takes grace_period, reduction_factor, max_t, brackets]",
            ]
        );
        // Rungs at 1, 4 and 16 (64 is past max_t 27): at most three brackets.
        assert_eq!(
            problems("early_terminate: {type: asha, max_t: 27, brackets: 4}\n"),
            [
                "early_terminate.brackets@4:52: 4 brackets, but grace_period 1, reduction_factor 4.0 and max_t 27 make only 3 rungs [bracket k starts at rung k: use at most 3 brackets, or raise max_t]"
            ]
        );
    }

    #[test]
    fn median_problems() {
        assert_eq!(
            problems("early_terminate: {type: median, interval_steps: 0, n_warmup_steps: -2, max_t: 9}\n"),
            [
                "early_terminate.interval_steps@4:49: expected an integer >= 1, found the number 0",
                "early_terminate.n_warmup_steps@4:68: expected an integer >= 0, found the number -2",
                "early_terminate.max_t@4:72: unknown key `max_t` in `early_terminate` [`max_t` is a setting of `type: asha`; median takes n_startup_trials, n_warmup_steps, interval_steps]",
            ]
        );
    }

    #[test]
    fn the_builtin_trainer_ranks_only_by_what_it_reports_each_epoch() {
        // Early stopping needs the metric every epoch: the built-in trainer's
        // metric must be one of its epoch metrics (test_accuracy is scored once).
        let p = problems("early_terminate: {type: median}\nmetric: {name: test_accuracy, goal: maximize}\n");
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(
            p[0].starts_with("metric.name@5:16: the built-in trainer does not rank by `test_accuracy`"),
            "{p:?}"
        );
        for name in ["val_accuracy", "val_loss", "train_loss"] {
            let block = format!("early_terminate: {{type: median}}\nmetric: {{name: {name}}}\n");
            assert!(parsed(&block).is_ok(), "{name}");
        }
    }
}
