// SPDX-License-Identifier: GPL-2.0

//! rrelay's sample producer: a Rust client on the Rust API
//! (`include/rrelay.rs`) that writes from every context at once.
//!
//! Per online CPU: a kthread (process context), a pinned soft hrtimer
//! (softirq) and a pinned hrtimer (hardirq) each write `rate` records per
//! second. Records use the format of `record_format.rs`, shared with
//! `rrelay decode`: CPU, context, a sequence number per (CPU, context),
//! a timestamp, the payload length and a checksum.
//!
//! debugfs, in `rrelay_sample/`:
//! - `sample<cpu>`: the channel's buffer files (base name `sample`);
//! - `control`: write `start` or `stop` (stop flushes the channel);
//! - `counts`: read `cpu context written dropped` lines: the records each
//!   writer has written (dropped ones included), and how many of them
//!   rrelay dropped (a full buffer in no-overwrite mode, or a switch in
//!   the way: see `src/ring.rs`).
//!
//! Context rules: `emit` runs in all three contexts and uses only
//! `Channel::write` (lockless, any context, on a global buffer too); start
//! and stop sleep.

use kernel::bindings;
use kernel::debugfs::{Dir, File as DebugfsFile};
use kernel::fmt;
use kernel::prelude::*;
use kernel::sync::atomic::{Atomic, Relaxed};
use kernel::sync::{new_mutex, Arc, ArcBorrow, Mutex};
use kernel::time::hrtimer::{
    ArcHrTimerHandle, HrTimer, HrTimerCallback, HrTimerCallbackContext, HrTimerPointer,
    HrTimerRestart, RelativePinnedMode, RelativePinnedSoftMode,
};
use kernel::time::{Delta, Monotonic};
use kernel::uaccess::UserSliceReader;

#[path = "../include/rrelay.rs"]
mod rrelay;

#[path = "record_format.rs"]
mod record_format;

use record_format::{Context, Header, HEADER_LEN, SAMPLE_CONTEXTS};

/// Records are built on the stack, hardirq included: keep them small.
const MAX_RECORD: usize = 512;

module! {
    type: RustRelaySample,
    name: "rust_relay_sample",
    authors: ["rrelay developers"],
    description: "rrelay sample producer: records from process, softirq and hardirq context",
    license: "GPL",
    params: {
        record_size: usize {
            default: 64,
            description: "Bytes per record, 32 (the header) to 512",
        },
        rate: u32 {
            default: 1000,
            description: "Records per second per writer (3 writers per CPU); 0: as fast as possible",
        },
        overwrite: u8 {
            default: 0,
            description: "1: overwrite unread data when full; 0: drop (and count) new records",
        },
        global: u8 {
            default: 0,
            description: "1: one global buffer; 0: a buffer per CPU",
        },
        headers: u8 {
            default: 0,
            description: "1: each sub-buffer starts with rrelay's header (loss in the data)",
        },
        subbuf_size: usize {
            default: 16384,
            description: "Sub-buffer size in bytes",
        },
        n_subbufs: usize {
            default: 16,
            description: "Sub-buffers per buffer",
        },
        autostart: u8 {
            default: 0,
            description: "1: start writing at load",
        },
    },
}

/// The `overwrite` parameter as a policy.
struct Policy {
    overwrite: bool,
}

impl rrelay::Callbacks for Policy {
    fn subbuf_start(&self, buf: &rrelay::Buf<'_>) -> bool {
        self.overwrite || !buf.is_full()
    }
}

/// What every writer shares.
struct Shared {
    chan: rrelay::Channel<Policy>,
    record_size: usize,
    /// Time between two records of one writer.
    period: Delta,
    running: Atomic<bool>,
}

/// The writers of one CPU.
#[pin_data]
struct CpuWriter {
    cpu: u32,
    shared: Arc<Shared>,
    /// Records written, per context: the next sequence number.
    written: [Atomic<u64>; SAMPLE_CONTEXTS.len()],
    /// Records rrelay refused, per context (`Channel::write` said so).
    dropped: [Atomic<u64>; SAMPLE_CONTEXTS.len()],
    /// The kthread, while running.
    task: Atomic<*mut bindings::task_struct>,
    #[pin]
    timers: Mutex<Timers>,
}

/// The handles of a CPU's timers; dropping one cancels its timer.
#[derive(Default)]
struct Timers {
    soft: Option<ArcHrTimerHandle<SoftTick>>,
    hard: Option<ArcHrTimerHandle<HardTick>>,
}

// SAFETY: `task` is only a handle for kthread_stop; everything else is Sync.
unsafe impl Send for CpuWriter {}
// SAFETY: As above.
unsafe impl Sync for CpuWriter {}

impl CpuWriter {
    /// Writes this CPU's next record for `ctx`. Any context.
    fn emit(&self, ctx: Context) {
        let seq = self.written[ctx as usize].fetch_add(1, Relaxed);
        let mut buf = [0u8; MAX_RECORD];
        let rec = &mut buf[..self.shared.record_size];
        // SAFETY: Reading the monotonic clock is allowed in any context.
        let now = unsafe { bindings::ktime_get() };
        let header = Header {
            cpu: self.cpu as u16,
            ctx,
            seq,
            timestamp_ns: now as u64,
            len: (rec.len() - HEADER_LEN) as u32,
        };
        record_format::encode(rec, &header);
        if !self.shared.chan.write(rec) {
            self.dropped[ctx as usize].fetch_add(1, Relaxed);
        }
    }

    /// Starts this CPU's timers; called on this CPU (from its kthread), so
    /// the pinned timers fire here.
    fn start_timers(self: &Arc<Self>) -> Result {
        let period = self.shared.period;
        let soft = Arc::pin_init(SoftTick::new(self.clone()), GFP_KERNEL)?;
        let hard = Arc::pin_init(HardTick::new(self.clone()), GFP_KERNEL)?;
        let mut timers = self.timers.lock();
        timers.soft = Some(soft.start(period));
        timers.hard = Some(hard.start(period));
        Ok(())
    }

    /// A timer's tick: one record, then again one period later.
    fn tick(&self, ctx: Context, forward: impl FnOnce(Delta)) -> HrTimerRestart {
        if !self.shared.running.load(Relaxed) {
            return HrTimerRestart::NoRestart;
        }
        self.emit(ctx);
        forward(self.shared.period);
        HrTimerRestart::Restart
    }
}

/// One timer type per context: the mode decides softirq or hardirq.
macro_rules! tick_timer {
    ($name:ident, $mode:ty, $ctx:expr) => {
        #[pin_data]
        struct $name {
            writer: Arc<CpuWriter>,
            #[pin]
            timer: HrTimer<Self>,
        }

        impl $name {
            fn new(writer: Arc<CpuWriter>) -> impl PinInit<Self> {
                pin_init!(Self {
                    writer,
                    timer <- HrTimer::new(),
                })
            }
        }

        impl HrTimerCallback for $name {
            type Pointer<'a> = Arc<Self>;

            fn run(this: ArcBorrow<'_, Self>, mut ctx: HrTimerCallbackContext<'_, Self>) -> HrTimerRestart {
                this.writer.tick($ctx, |period| {
                    ctx.forward_now(period);
                })
            }
        }

        kernel::impl_has_hr_timer! {
            impl HasHrTimer<Self> for $name { mode: $mode, field: self.timer }
        }
    };
}

tick_timer!(
    SoftTick,
    RelativePinnedSoftMode<Monotonic>,
    Context::Softirq
);
tick_timer!(HardTick, RelativePinnedMode<Monotonic>, Context::Hardirq);

/// The kthread of one CPU: starts the CPU's timers, then writes.
///
/// # Safety
///
/// `data` is `Arc::as_ptr` of a `CpuWriter` kept alive until
/// `kthread_stop` has returned for this thread.
unsafe extern "C" fn writer_thread(data: *mut c_void) -> c_int {
    // SAFETY: The caller keeps the writer alive; this takes a reference.
    let w: Arc<CpuWriter> = unsafe { ArcBorrow::from_raw(data.cast::<CpuWriter>()) }.into();
    if let Err(e) = w.start_timers() {
        pr_err!("CPU {}: timers not started: {:?}\n", w.cpu, e);
    }
    let period_us = (w.shared.period.as_nanos() / 1000).max(1) as c_ulong;
    let mut n = 0u32;
    // SAFETY: Called from a kthread.
    while !unsafe { bindings::kthread_should_stop() } {
        if w.shared.running.load(Relaxed) {
            w.emit(Context::Process);
        }
        n = n.wrapping_add(1);
        // At rate 0, sleep briefly every 64 records, to let others run.
        if *module_parameters::rate.value() != 0 || n % 64 == 0 {
            // SAFETY: Sleeping in a kthread; TASK_IDLE does not add to load.
            unsafe {
                bindings::usleep_range_state(
                    period_us,
                    period_us + period_us / 8 + 1,
                    bindings::TASK_IDLE,
                )
            };
        }
    }
    0
}

/// The sample: the channel, the writers, and whether they run.
#[pin_data]
struct Sampler {
    shared: Arc<Shared>,
    writers: KVec<Arc<CpuWriter>>,
    #[pin]
    started: Mutex<bool>,
}

impl Sampler {
    fn new(parent: Option<core::ptr::NonNull<bindings::dentry>>) -> Result<Arc<Self>> {
        let size = *module_parameters::record_size.value();
        if !(HEADER_LEN..=MAX_RECORD).contains(&size) {
            return Err(EINVAL);
        }
        let mut config = rrelay::Config::new(
            c"sample",
            *module_parameters::subbuf_size.value(),
            *module_parameters::n_subbufs.value(),
        );
        config.global = *module_parameters::global.value() != 0;
        config.headers = *module_parameters::headers.value() != 0;
        config.parent = parent;
        let policy = Policy {
            overwrite: *module_parameters::overwrite.value() != 0,
        };
        let rate = *module_parameters::rate.value();
        // Timers tick at most every 100 us (rate 0 means as fast as that).
        let period_ns = if rate == 0 {
            100_000
        } else {
            (1_000_000_000 / i64::from(rate)).max(100_000)
        };
        let shared = Arc::new(
            Shared {
                chan: rrelay::Channel::open(&config, policy)?,
                record_size: size,
                period: Delta::from_nanos(period_ns),
                running: Atomic::new(false),
            },
            GFP_KERNEL,
        )?;
        let mut writers = KVec::new();
        // SAFETY: `__cpu_online_mask` is a static that lives forever.
        let online =
            unsafe { kernel::cpumask::Cpumask::from_raw(&raw const bindings::__cpu_online_mask) };
        for cpu in 0..kernel::cpu::nr_cpu_ids() {
            if !kernel::cpu::CpuId::from_u32(cpu).is_some_and(|id| online.test(id)) {
                continue;
            }
            let shared = shared.clone();
            let w = Arc::pin_init(
                pin_init!(CpuWriter {
                    cpu,
                    shared,
                    written: [Atomic::new(0), Atomic::new(0), Atomic::new(0)],
                    dropped: [Atomic::new(0), Atomic::new(0), Atomic::new(0)],
                    task: Atomic::new(core::ptr::null_mut()),
                    timers <- new_mutex!(Timers::default(), "rrelay_sample::timers"),
                }),
                GFP_KERNEL,
            )?;
            writers.push(w, GFP_KERNEL)?;
        }
        Arc::pin_init(
            pin_init!(Sampler {
                shared,
                writers,
                started <- new_mutex!(false, "rrelay_sample::started"),
            }),
            GFP_KERNEL,
        )
    }

    /// Starts a kthread per CPU (which starts the CPU's timers).
    fn start(&self) -> Result {
        let mut started = self.started.lock();
        if *started {
            return Err(EBUSY);
        }
        self.shared.running.store(true, Relaxed);
        for w in self.writers.iter() {
            // SAFETY: A valid thread function and name; `w` outlives the
            // thread (`stop` runs kthread_stop before the writers go).
            let task = unsafe {
                bindings::kthread_create_on_node(
                    Some(writer_thread),
                    Arc::as_ptr(w).cast_mut().cast(),
                    bindings::NUMA_NO_NODE,
                    c"rrelay_sample/%u".as_char_ptr(),
                    w.cpu,
                )
            };
            if let Err(e) = kernel::error::from_err_ptr(task) {
                drop(started);
                self.stop();
                return Err(e);
            }
            // SAFETY: `task` was just created and has not run yet.
            unsafe {
                bindings::kthread_bind(task, w.cpu);
                bindings::wake_up_process(task);
            }
            w.task.store(task, Relaxed);
        }
        *started = true;
        Ok(())
    }

    /// Stops every writer, then flushes the channel so every record written
    /// is in a finished sub-buffer.
    fn stop(&self) {
        let mut started = self.started.lock();
        self.shared.running.store(false, Relaxed);
        for w in self.writers.iter() {
            let task = w.task.xchg(core::ptr::null_mut(), Relaxed);
            if !task.is_null() {
                // SAFETY: A kthread of ours that runs until asked to stop.
                unsafe { bindings::kthread_stop(task) };
            }
            // Dropping the handles cancels the timers and waits for them.
            drop(core::mem::take(&mut *w.timers.lock()));
        }
        self.shared.chan.flush();
        *started = false;
    }
}

/// `control`: `start` or `stop`.
fn control(s: &Arc<Sampler>, reader: &mut UserSliceReader) -> Result {
    let mut buf = [0u8; 16];
    let n = reader.len().min(buf.len());
    reader.read_slice(&mut buf[..n])?;
    match buf[..n].trim_ascii() {
        b"start" => s.start(),
        b"stop" => {
            s.stop();
            Ok(())
        }
        _ => Err(EINVAL),
    }
}

/// `counts`: `cpu context written dropped` per writer.
fn counts(s: &Arc<Sampler>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    for w in s.writers.iter() {
        for ctx in SAMPLE_CONTEXTS {
            writeln!(
                f,
                "{} {} {} {}",
                w.cpu,
                ctx.name(),
                w.written[ctx as usize].load(Relaxed),
                w.dropped[ctx as usize].load(Relaxed)
            )?;
        }
    }
    Ok(())
}

struct RustRelaySample {
    sampler: Arc<Sampler>,
    _control: Pin<KBox<DebugfsFile<Arc<Sampler>>>>,
    _counts: Pin<KBox<DebugfsFile<Arc<Sampler>>>>,
    dir_dentry: *mut bindings::dentry,
    _dir: Dir,
}

// SAFETY: `dir_dentry` is a counted dentry reference, released in `drop`.
unsafe impl Send for RustRelaySample {}
// SAFETY: As above.
unsafe impl Sync for RustRelaySample {}

impl kernel::Module for RustRelaySample {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let dir = Dir::new(c"rrelay_sample");
        // The channel's files go into the same directory, which the kernel
        // crate's `Dir` does not expose: look its dentry up.
        // SAFETY: A valid name; the result is a counted reference or NULL.
        let dentry = unsafe {
            bindings::debugfs_lookup(c"rrelay_sample".as_char_ptr(), core::ptr::null_mut())
        };
        let parent =
            core::ptr::NonNull::new(dentry).filter(|_| kernel::error::from_err_ptr(dentry).is_ok());
        let sampler = Sampler::new(parent).inspect_err(|_| {
            // SAFETY: Our counted reference, or NULL (ignored).
            unsafe { bindings::dput(dentry) }
        })?;
        let control_file = KBox::pin_init(
            dir.write_callback_file(c"control", sampler.clone(), &control),
            GFP_KERNEL,
        )?;
        let counts_file = KBox::pin_init(
            dir.read_callback_file(c"counts", sampler.clone(), &counts),
            GFP_KERNEL,
        )?;
        if *module_parameters::autostart.value() != 0 {
            sampler.start()?;
        }
        Ok(RustRelaySample {
            sampler,
            _control: control_file,
            _counts: counts_file,
            dir_dentry: dentry,
            _dir: dir,
        })
    }
}

impl Drop for RustRelaySample {
    fn drop(&mut self) {
        self.sampler.stop();
        // SAFETY: The reference taken by `debugfs_lookup` in `init`.
        unsafe { bindings::dput(self.dir_dentry) };
    }
}
