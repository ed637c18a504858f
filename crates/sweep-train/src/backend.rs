//! Backends: burn-ndarray on the CPU (the default), burn-cuda on NVIDIA GPUs.
//!
//! The CPU configuration is the fastest correct one measured here
//! (shared/BURN-NOTES.md): burn-ndarray without its `simd` feature (3% faster
//! but not bit-for-bit reproducible) and without `multi-threads` (slower on
//! this small model), fat LTO in release builds, and flush-to-zero /
//! denormals-are-zero set on the training thread: Adam's and momentum's state
//! decays into denormal floats, which made later epochs 2.5-5x slower.

/// Where a trial trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceKind {
    /// burn-ndarray on this thread.
    Cpu,
    /// CUDA device N (after `CUDA_VISIBLE_DEVICES` remapping).
    Cuda(usize),
}

impl DeviceKind {
    /// Parses `cpu`, `cuda`, `cuda:N`.
    pub fn parse(s: &str) -> Result<DeviceKind, String> {
        match s {
            "cpu" => Ok(DeviceKind::Cpu),
            "cuda" => Ok(DeviceKind::Cuda(0)),
            _ => s
                .strip_prefix("cuda:")
                .and_then(|n| n.parse().ok())
                .map(DeviceKind::Cuda)
                .ok_or_else(|| format!("unknown device `{s}`; expected cpu, cuda or cuda:N")),
        }
    }
}

impl std::fmt::Display for DeviceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeviceKind::Cpu => f.write_str("cpu"),
            DeviceKind::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}

/// Sets flush-to-zero and denormals-are-zero (MXCSR bits 15 and 6) for the
/// calling thread. A no-op off x86-64.
pub fn flush_denormals() {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: stmxcsr/ldmxcsr read and write the SSE control register of this
    // thread; setting FTZ and DAZ changes only how denormal floats round.
    unsafe {
        let mut csr: u32 = 0;
        std::arch::asm!("stmxcsr [{}]", in(reg) &mut csr, options(nostack));
        csr |= 0x8040;
        std::arch::asm!("ldmxcsr [{}]", in(reg) &csr, options(nostack));
    }
}

/// The number of CUDA GPUs this process can use, or why there are none
/// (no driver, no device, built without CUDA). Never panics.
pub fn cuda_devices() -> Result<usize, String> {
    #[cfg(feature = "cuda")]
    {
        // SAFETY: only probes whether the driver library can be loaded.
        if !unsafe { cudarc::driver::sys::is_culib_present() } {
            return Err("no CUDA driver (libcuda.so) on this machine".into());
        }
        cudarc::driver::result::init().map_err(|e| format!("the CUDA driver failed to initialise: {e:?}"))?;
        let n = cudarc::driver::result::device::get_count().map_err(|e| format!("cannot count CUDA devices: {e:?}"))?;
        if n <= 0 {
            return Err("the CUDA driver sees no GPU (check CUDA_VISIBLE_DEVICES)".into());
        }
        Ok(n as usize)
    }
    #[cfg(not(feature = "cuda"))]
    Err("this sweep was built without the `cuda` feature".into())
}

/// Checks that `device` can be used here, with a reason when not.
pub fn check_device(device: DeviceKind) -> Result<(), String> {
    match device {
        DeviceKind::Cpu => Ok(()),
        DeviceKind::Cuda(i) => {
            let n = cuda_devices().map_err(|e| format!("device {device} requested, but {e}"))?;
            if i >= n {
                return Err(format!(
                    "device {device} requested, but this process sees {n} GPU(s): cuda:0..cuda:{}",
                    n - 1
                ));
            }
            Ok(())
        }
    }
}
