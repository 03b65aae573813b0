//! The module's epoch engine, compiled for the host from the very file the
//! kernel module builds (`epoch.rs` at the top of the repository), and a
//! model of the C plug to show, beside it, the defects the engine fixes.

#[path = "../../../epoch.rs"]
pub mod epoch;

pub mod c_plug;

use epoch::{Command, PlugState};

/// What the tests drive: the module's engine or the model of the C plug,
/// over a queue the test keeps.
pub trait Engine {
    /// An enqueue of `len` bytes onto `backlog`: whether it is taken.
    fn admit(&mut self, backlog: u32, len: u32) -> bool;
    /// A dequeue with `queued` packets in the queue: whether the head
    /// leaves.
    fn dequeue(&mut self, queued: u32) -> bool;
    /// A control command, `queued` packets in the queue.
    fn apply(&mut self, cmd: Command, queued: u32);
    /// The queue was purged.
    fn reset(&mut self);
    /// While buffering, the queued packets the engine accounts for (open
    /// epoch, closed epochs and release credits); `None` where it does not
    /// say.
    fn accounted(&self) -> Option<u64>;
}

impl Engine for PlugState {
    fn admit(&mut self, backlog: u32, len: u32) -> bool {
        PlugState::admit(self, backlog, len)
    }

    fn dequeue(&mut self, queued: u32) -> bool {
        // The module's dequeue: the head first, then a credit for it.
        queued > 0 && self.take_credit()
    }

    fn apply(&mut self, cmd: Command, queued: u32) {
        let _ = PlugState::apply(self, cmd, queued);
    }

    fn reset(&mut self) {
        PlugState::reset(self);
    }

    fn accounted(&self) -> Option<u64> {
        let st = self.stats();
        (st.pass_through == 0).then(|| {
            u64::from(st.current_epoch)
                + u64::from(st.closed_packets)
                + u64::from(st.release_credits)
        })
    }
}
