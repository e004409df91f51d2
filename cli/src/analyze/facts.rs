//! What the recording says about itself: its header, summary and attach
//! census, how many records of each sort were read, how long it ran, and
//! the records out of place (a second header, records after the summary,
//! classes naming stacks never written).

use metascope_events::{Census, Header, Summary};

/// A stack id classes named that no `stack` record defined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownStack {
    /// Where the first such class was read, and the id it named.
    pub first_line: u64,
    pub stack_id: u64,
    /// Classes naming stack ids never written, in all.
    pub classes: u64,
}

/// Fed while reading; read directly (it is its own summary).
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// `None` when the recording does not start with a header: its
    /// beginning was lost (the rest is still reported, with a warning).
    pub header: Option<Header>,
    pub summary: Option<Summary>,
    /// The classes already loaded when the agent attached (the `census`
    /// record after the header of an attached recording).
    pub census: Option<Census>,
    /// Class records read.
    pub class_records: u64,
    /// Class records left out of the call sites because of their kind.
    pub hidden_ordinary: u64,
    /// Records of types this reader does not know.
    pub unknown_records: u64,
    /// Largest `t_ns` seen, the recording length when there is no summary.
    pub last_t_ns: u64,
    /// Header records after the first record.
    pub extra_headers: u64,
    /// Census records after the first.
    pub extra_censuses: u64,
    /// Records (of known types) read after the summary.
    pub after_summary: u64,
    pub unknown_stack: Option<UnknownStack>,
    /// Records read so far.
    records: u64,
}

impl Facts {
    /// Any record, before it is looked at; `known`: its type is known.
    pub fn record(&mut self, known: bool, t_ns: Option<u64>) {
        if self.summary.is_some() && known {
            self.after_summary += 1;
        }
        if !known {
            self.unknown_records += 1;
        }
        if let Some(t) = t_ns {
            self.last_t_ns = self.last_t_ns.max(t);
        }
        self.records += 1;
    }

    /// A class record (instead of [`Self::record`]).
    pub fn class(&mut self, t_ns: u64) {
        if self.summary.is_some() {
            self.after_summary += 1;
        }
        self.class_records += 1;
        self.last_t_ns = self.last_t_ns.max(t_ns);
        self.records += 1;
    }

    /// A header counts only as the first record (after [`Self::record`]).
    pub fn header(&mut self, h: Header) {
        if self.records == 1 {
            self.header = Some(h);
        } else {
            self.extra_headers += 1;
        }
    }

    pub fn summary(&mut self, s: Summary) {
        self.summary = Some(s);
    }

    /// The agent writes one, right after the header.
    pub fn census(&mut self, c: Census) {
        if self.census.is_none() {
            self.census = Some(c);
        } else {
            self.extra_censuses += 1;
        }
    }

    /// A class named stack `stack_id`, which no record defined.
    pub fn unknown_stack(&mut self, line: u64, stack_id: u64) {
        self.unknown_stack
            .get_or_insert(UnknownStack {
                first_line: line,
                stack_id,
                classes: 0,
            })
            .classes += 1;
    }

    /// Recording length in nanoseconds: the summary's, else the last
    /// event's.
    pub fn duration_ns(&self) -> u64 {
        self.summary
            .as_ref()
            .map_or(self.last_t_ns, |s| s.t_ns.max(self.last_t_ns))
    }

    /// The agent was attached to a running JVM rather than loaded at its
    /// start (the header says so, or a census was written).
    pub fn attached(&self) -> bool {
        self.header.as_ref().is_some_and(|h| h.attached) || self.census.is_some()
    }
}
