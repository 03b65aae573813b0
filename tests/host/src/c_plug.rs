//! A model of the C `sch_plug` (docs/c-plug.md §2), for the tests only: the
//! module follows the C rules with defects D1-D4 fixed, and these tests
//! show each defect on this model beside the module's engine, which must
//! not have it. The in-guest tests check the model's claims against the
//! real C module (tests/defects.py, tests/differential.py).

use crate::epoch::{Command, OptError, Options};
use crate::Engine;

/// `struct plug_sched_data` of `net/sched/sch_plug.c`.
#[derive(Clone, Debug, Default)]
pub struct CPlug {
    throttled: bool,
    unplug_indefinite: bool,
    limit: u32,
    pkts_current_epoch: u32,
    pkts_last_epoch: u32,
    pkts_to_release: u32,
}

impl CPlug {
    /// `plug_init()` without options: `tx_queue_len * psched_mtu()`, a
    /// product of two `u32` that wraps.
    pub fn new_default(tx_queue_len: u32, mtu: u32) -> Self {
        Self::new(tx_queue_len.wrapping_mul(mtu))
    }

    /// A plug with this limit: counters zero, throttled.
    pub fn new(limit: u32) -> Self {
        Self {
            throttled: true,
            limit,
            ..Self::default()
        }
    }

    /// `plug_init()` with options: the limit field, whatever the action
    /// (D1); only a short payload fails.
    pub fn with_options(payload: &[u8]) -> Result<Self, OptError> {
        Options::parse(payload).map(|opt| Self::new(opt.limit))
    }

    /// The byte limit.
    pub fn limit(&self) -> u32 {
        self.limit
    }
}

impl Engine for CPlug {
    fn admit(&mut self, backlog: u32, len: u32) -> bool {
        if u64::from(backlog) + u64::from(len) > u64::from(self.limit) {
            return false;
        }
        if !self.unplug_indefinite {
            self.pkts_current_epoch = self.pkts_current_epoch.wrapping_add(1);
        }
        true
    }

    fn dequeue(&mut self, queued: u32) -> bool {
        if self.throttled {
            return false;
        }
        if !self.unplug_indefinite {
            if self.pkts_to_release == 0 {
                self.throttled = true;
                return false;
            }
            // Spent even when the queue turns out empty.
            self.pkts_to_release -= 1;
        }
        queued > 0
    }

    fn apply(&mut self, cmd: Command, _queued: u32) {
        match cmd {
            Command::Buffer => {
                self.pkts_last_epoch = self.pkts_current_epoch;
                self.pkts_current_epoch = 0;
                if self.unplug_indefinite {
                    self.throttled = true;
                }
                self.unplug_indefinite = false;
            }
            Command::ReleaseOne => {
                self.pkts_to_release = self.pkts_to_release.wrapping_add(self.pkts_last_epoch);
                self.pkts_last_epoch = 0;
                self.throttled = false;
            }
            Command::ReleaseIndefinite => {
                self.unplug_indefinite = true;
                self.pkts_to_release = 0;
                self.pkts_last_epoch = 0;
                self.pkts_current_epoch = 0;
                self.throttled = false;
            }
            Command::Limit(limit) => self.limit = limit,
        }
    }

    /// `qdisc_reset_queue()`: the caller's queue only; the counters stay.
    fn reset(&mut self) {}

    fn accounted(&self) -> Option<u64> {
        None
    }
}
