//! When has a partition been read to its end? The rule of
//! [`super::RunMode::UntilCaughtUp`]; the reasoning (and what tansu 0.6.0 gets wrong)
//! is in the module docs of [`crate::consume`].

/// One owned partition's progress towards its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CatchUp {
    /// One past the last offset handed to the worker; the resume offset before that;
    /// `None` when reading from the beginning and nothing arrived yet.
    next: Option<i64>,
    /// The highest end (last stable offset, else high watermark) a fetch response
    /// reported for the partition since the run started.
    fetched_end: Option<i64>,
    /// librdkafka signalled end-of-partition: a fetch at our position returned nothing
    /// and that position equals the fetch response's high watermark.
    end_of_partition: bool,
    /// Caught up; the partition is paused and nothing more is handed to its worker.
    done: bool,
}

impl CatchUp {
    pub(crate) fn starting_at(resume_at: Option<i64>) -> Self {
        Self {
            next: resume_at,
            fetched_end: None,
            end_of_partition: false,
            done: false,
        }
    }

    /// One past the last offset handed to the worker (or the resume offset).
    pub(crate) fn next(&self) -> Option<i64> {
        self.next
    }

    pub(crate) fn dispatched(&mut self, offset: i64) {
        self.next = Some(offset + 1);
    }

    pub(crate) fn end_of_partition(&mut self) {
        self.end_of_partition = true;
    }

    pub(crate) fn fetched_end(&mut self, end: i64) {
        if end >= 0 {
            self.fetched_end = Some(self.fetched_end.map_or(end, |known| known.max(end)));
        }
    }

    /// Whether everything that was in the partition when the run started has been
    /// handed to the worker: an end-of-partition event arrived, or the position passed
    /// an end that a fetch response reported after the start.
    pub(crate) fn reached_end(&self) -> bool {
        self.end_of_partition
            || matches!((self.next, self.fetched_end), (Some(next), Some(end)) if next >= end)
    }

    pub(crate) fn is_done(&self) -> bool {
        self.done
    }

    /// Marks the partition done if it reached its end; true the first time.
    pub(crate) fn finish_if_reached(&mut self) -> bool {
        if !self.done && self.reached_end() {
            self.done = true;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn end_of_partition_alone_is_enough() {
        let mut progress = CatchUp::starting_at(None);
        assert!(!progress.reached_end());
        progress.end_of_partition();
        assert!(progress.finish_if_reached());
        assert!(progress.is_done());
        assert!(!progress.finish_if_reached(), "only the first time");
    }

    #[test]
    fn a_fetched_end_is_reached_by_position() {
        let mut progress = CatchUp::starting_at(Some(100));
        progress.fetched_end(358);
        assert!(!progress.reached_end());
        progress.dispatched(356);
        assert!(!progress.reached_end());
        progress.dispatched(357);
        assert!(progress.reached_end());
    }

    #[test]
    fn a_resume_offset_past_the_fetched_end_is_caught_up() {
        let mut progress = CatchUp::starting_at(Some(258));
        progress.fetched_end(258);
        assert!(progress.reached_end());
    }

    #[test]
    fn unknown_ends_and_positions_never_count() {
        let mut progress = CatchUp::starting_at(None);
        progress.fetched_end(-1);
        assert!(!progress.reached_end());
        progress.fetched_end(0);
        // Nothing dispatched and no resume offset: the position is unknown, so only
        // end-of-partition can say an empty partition is done.
        assert!(!progress.reached_end());
    }

    #[test]
    fn fetched_ends_only_grow() {
        let mut progress = CatchUp::starting_at(Some(10));
        progress.fetched_end(20);
        progress.fetched_end(5);
        assert!(!progress.reached_end());
    }

    /// tansu 0.6.0's ListOffsets answer (the last batch's base offset + 1) is never
    /// used as an end: a resume offset past it says nothing about the batch's tail.
    #[test]
    fn resume_mid_batch_waits_for_a_real_end() {
        let progress = CatchUp::starting_at(Some(100));
        assert!(!progress.reached_end());
    }
}
