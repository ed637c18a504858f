//! The resource pool: CPU slots and GPUs (whole or shared by fractions).

/// What one trial needs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Request {
    /// CPU slots (0: a trial that waits rather than computes).
    pub cpus: u32,
    /// GPUs: 0, a fraction of one (shared), or a whole number.
    pub gpus: f64,
}

/// What a running trial holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Allocation {
    /// CPU slots held.
    pub cpus: u32,
    /// The GPUs (indexes into the pool's list) and the share of each held.
    pub gpus: Vec<(usize, f64)>,
}

/// CPU slots and GPUs, and how much of each is free.
#[derive(Debug, Clone)]
pub struct Pool {
    cpus_total: u32,
    cpus_free: u32,
    /// Free capacity of each GPU, 1.0 when idle.
    gpu_free: Vec<f64>,
    max_concurrent: Option<u32>,
    running: u32,
}

/// Shares are added and removed as floats; this absorbs their rounding.
const EPS: f64 = 1e-9;

impl Pool {
    /// A pool of `cpus` slots and `gpus` GPUs, running at most `max_concurrent`.
    pub fn new(cpus: u32, gpus: usize, max_concurrent: Option<u32>) -> Pool {
        Pool {
            cpus_total: cpus,
            cpus_free: cpus,
            gpu_free: vec![1.0; gpus],
            max_concurrent,
            running: 0,
        }
    }

    /// Why `req` can never be met by this pool, if it cannot.
    pub fn never_fits(&self, req: Request) -> Option<String> {
        if req.cpus > self.cpus_total {
            return Some(format!(
                "each trial needs {} CPU slots but this machine gives {} (use --cpus or lower resources.cpus_per_trial)",
                req.cpus, self.cpus_total
            ));
        }
        let gpus = self.gpu_free.len();
        if req.gpus > 0.0 && gpus == 0 {
            return Some(format!(
                "each trial needs {} GPU(s) but none was found (CUDA_VISIBLE_DEVICES, nvidia-smi)",
                req.gpus
            ));
        }
        if req.gpus > gpus as f64 + EPS {
            return Some(format!(
                "each trial needs {} GPUs but this machine has {gpus}",
                req.gpus
            ));
        }
        if req.cpus == 0 && req.gpus == 0.0 && self.max_concurrent.is_none() {
            return Some("trials with cpus_per_trial: 0 need resources.max_concurrent to bound them".into());
        }
        None
    }

    /// Takes what `req` needs, if it is free now.
    pub fn try_acquire(&mut self, req: Request) -> Option<Allocation> {
        if self.max_concurrent.is_some_and(|m| self.running >= m) || req.cpus > self.cpus_free {
            return None;
        }
        let gpus = if req.gpus == 0.0 {
            Vec::new()
        } else if req.gpus < 1.0 - EPS {
            // A share: the fullest GPU that still has room (best fit packs
            // small trials together and keeps whole GPUs free for big ones).
            let best = (0..self.gpu_free.len())
                .filter(|&i| self.gpu_free[i] + EPS >= req.gpus)
                .min_by(|&a, &b| self.gpu_free[a].total_cmp(&self.gpu_free[b]))?;
            vec![(best, req.gpus)]
        } else {
            let want = req.gpus.round() as usize;
            let idle: Vec<usize> = (0..self.gpu_free.len())
                .filter(|&i| self.gpu_free[i] > 1.0 - EPS)
                .take(want)
                .collect();
            if idle.len() < want {
                return None;
            }
            idle.into_iter().map(|i| (i, 1.0)).collect()
        };
        for &(i, share) in &gpus {
            self.gpu_free[i] -= share;
        }
        self.cpus_free -= req.cpus;
        self.running += 1;
        Some(Allocation { cpus: req.cpus, gpus })
    }

    /// Counts a trial that runs already (a SLURM job re-attached after a
    /// crash): it holds CPU slots only, and may go past `max_concurrent`,
    /// which then holds back new trials until it ends.
    pub fn adopt(&mut self, cpus: u32) -> Allocation {
        let cpus = cpus.min(self.cpus_free);
        self.cpus_free -= cpus;
        self.running += 1;
        Allocation { cpus, gpus: Vec::new() }
    }

    /// Gives back what a finished trial held.
    pub fn release(&mut self, alloc: &Allocation) {
        self.cpus_free += alloc.cpus;
        for &(i, share) in &alloc.gpus {
            self.gpu_free[i] = (self.gpu_free[i] + share).min(1.0);
        }
        self.running -= 1;
    }

    /// Trials running now.
    pub fn running(&self) -> u32 {
        self.running
    }

    /// CPU slots in all.
    pub fn cpus(&self) -> u32 {
        self.cpus_total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_slots_bound_concurrency() {
        let mut p = Pool::new(2, 0, None);
        let r = Request { cpus: 1, gpus: 0.0 };
        let a = p.try_acquire(r).unwrap();
        let _b = p.try_acquire(r).unwrap();
        assert!(p.try_acquire(r).is_none());
        p.release(&a);
        assert!(p.try_acquire(r).is_some());
    }

    #[test]
    fn fractional_gpus_pack_four_to_a_gpu() {
        let mut p = Pool::new(64, 2, None);
        let r = Request { cpus: 1, gpus: 0.25 };
        let allocs: Vec<_> = (0..8).map(|_| p.try_acquire(r).unwrap()).collect();
        assert!(p.try_acquire(r).is_none());
        let on_first = allocs.iter().filter(|a| a.gpus[0].0 == 0).count();
        assert_eq!(on_first, 4, "best fit fills one GPU before the next");
        // A whole-GPU trial waits until one GPU is entirely free.
        for a in &allocs[..3] {
            p.release(a);
        }
        assert!(p.try_acquire(Request { cpus: 1, gpus: 1.0 }).is_none());
        p.release(&allocs[3]);
        assert_eq!(
            p.try_acquire(Request { cpus: 1, gpus: 1.0 }).unwrap().gpus,
            vec![(0, 1.0)]
        );
    }

    #[test]
    fn zero_cpu_trials_are_bounded_by_max_concurrent() {
        let mut p = Pool::new(2, 0, Some(16));
        let r = Request { cpus: 0, gpus: 0.0 };
        assert!(p.never_fits(r).is_none());
        for _ in 0..16 {
            p.try_acquire(r).unwrap();
        }
        assert!(p.try_acquire(r).is_none());
        assert!(Pool::new(2, 0, None).never_fits(r).is_some());
    }

    #[test]
    fn impossible_requests_are_refused_up_front() {
        let p = Pool::new(2, 0, None);
        assert!(
            p.never_fits(Request { cpus: 4, gpus: 0.0 })
                .unwrap()
                .contains("4 CPU slots")
        );
        assert!(
            p.never_fits(Request { cpus: 1, gpus: 0.5 })
                .unwrap()
                .contains("none was found")
        );
        assert!(
            Pool::new(2, 1, None)
                .never_fits(Request { cpus: 1, gpus: 2.0 })
                .unwrap()
                .contains("has 1")
        );
    }
}
