//! The engine's associations: slots keyed by id, with indexes so that no
//! lookup scans.
//!
//! * Slots: a `Vec<Option<Association>>` with a free list (a slab). A slot
//!   is reused after its association goes; the id is not (ids count up).
//! * `by_id` and `by_address` find a slot in O(1). Every packet is looked
//!   up by its source address, every command by id, so with the default
//!   limit of 4096 associations a linear scan would cost thousands of
//!   comparisons per datagram.
//! * `due` orders the associations by their next poll, so a timeout polls
//!   only those whose time has come and the next deadline is the first
//!   entry, not a minimum over all.
//! * `sampled` lists the associations whose clock filter has given an
//!   output: only they can be candidates for selection (RFC 5905 `fit()`
//!   needs a sample), so the system process looks at them and leaves the
//!   silent rest alone.
//!
//! The indexes stay right because every change to an association goes
//! through [`Table::update`], which re-files it afterwards.

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;

use crate::association::Association;
use crate::ids::{AssociationId, AssociationMode};

/// A deadline on the engine's timeline, seconds, ordered totally (a NaN
/// cannot corrupt the set; it sorts last).
#[derive(Clone, Copy, Debug)]
struct Due(f64);

impl PartialEq for Due {
    fn eq(&self, other: &Self) -> bool {
        self.0.total_cmp(&other.0).is_eq()
    }
}
impl Eq for Due {}
impl PartialOrd for Due {
    fn partial_cmp(&self, other: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Due {
    fn cmp(&self, other: &Self) -> core::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

#[derive(Clone, Debug)]
struct Slot {
    association: Association,
    /// The next poll as filed in `due` (to find the entry when it moves).
    filed: f64,
    /// Whether the slot is listed in `sampled`.
    sampled: bool,
}

/// The associations of one engine.
#[derive(Clone, Debug, Default)]
pub(crate) struct Table {
    slots: Vec<Option<Slot>>,
    free: Vec<usize>,
    by_id: HashMap<AssociationId, usize>,
    by_address: HashMap<SocketAddr, usize>,
    due: BTreeSet<(Due, AssociationId)>,
    sampled: Vec<AssociationId>,
    ephemeral: HashMap<AssociationMode, usize>,
    len: usize,
}

impl Table {
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Adds an association; the caller has checked that its address is free.
    pub(crate) fn insert(&mut self, association: Association) {
        let id = association.id();
        let address = association.config().address;
        let filed = association.next_poll();
        if association.is_ephemeral() {
            *self.ephemeral.entry(association.config().mode).or_default() += 1;
        }
        let slot = Slot { association, filed, sampled: false };
        let index = match self.free.pop() {
            Some(index) => {
                if let Some(entry) = self.slots.get_mut(index) {
                    *entry = Some(slot);
                }
                index
            }
            None => {
                self.slots.push(Some(slot));
                self.slots.len() - 1
            }
        };
        self.by_id.insert(id, index);
        self.by_address.insert(address, index);
        self.due.insert((Due(filed), id));
        self.len += 1;
    }

    /// Removes an association and returns it.
    pub(crate) fn remove(&mut self, id: AssociationId) -> Option<Association> {
        let index = self.by_id.remove(&id)?;
        let slot = self.slots.get_mut(index)?.take()?;
        self.by_address.remove(&slot.association.config().address);
        self.due.remove(&(Due(slot.filed), id));
        if slot.sampled {
            self.sampled.retain(|s| *s != id);
        }
        if slot.association.is_ephemeral()
            && let Some(count) = self.ephemeral.get_mut(&slot.association.config().mode)
        {
            *count = count.saturating_sub(1);
        }
        self.free.push(index);
        self.len -= 1;
        Some(slot.association)
    }

    pub(crate) fn get(&self, id: AssociationId) -> Option<&Association> {
        let index = *self.by_id.get(&id)?;
        self.slots.get(index)?.as_ref().map(|s| &s.association)
    }

    /// The id of the association with this remote address.
    pub(crate) fn find(&self, address: SocketAddr) -> Option<AssociationId> {
        let index = *self.by_address.get(&address)?;
        self.slots.get(index)?.as_ref().map(|s| s.association.id())
    }

    /// Changes one association with `change`, then re-files it in the indexes.
    pub(crate) fn update<R>(&mut self, id: AssociationId, change: impl FnOnce(&mut Association) -> R) -> Option<R> {
        let index = *self.by_id.get(&id)?;
        let slot = self.slots.get_mut(index)?.as_mut()?;
        let result = change(&mut slot.association);
        let next = slot.association.next_poll();
        if next.to_bits() != slot.filed.to_bits() {
            self.due.remove(&(Due(slot.filed), id));
            self.due.insert((Due(next), id));
            slot.filed = next;
        }
        if !slot.sampled && slot.association.filter_output().is_some() {
            slot.sampled = true;
            self.sampled.push(id);
        }
        Some(result)
    }

    /// Moves an association to another remote address (NTS-KE named
    /// another NTP server); the caller has checked that it is free.
    pub(crate) fn set_address(&mut self, id: AssociationId, address: SocketAddr) {
        let Some(&index) = self.by_id.get(&id) else { return };
        let Some(slot) = self.slots.get_mut(index).and_then(Option::as_mut) else { return };
        self.by_address.remove(&slot.association.config().address);
        slot.association.set_address(address);
        self.by_address.insert(address, index);
    }

    /// Every association, in slot order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Association> {
        self.slots.iter().filter_map(|s| s.as_ref().map(|s| &s.association))
    }

    /// Every id, in slot order (to change them all, one by one).
    pub(crate) fn ids(&self) -> Vec<AssociationId> {
        self.iter().map(Association::id).collect()
    }

    /// The associations whose filter has an output: the only possible candidates.
    pub(crate) fn sampled(&self) -> &[AssociationId] {
        &self.sampled
    }

    /// The ids whose poll is due at or before `t`, earliest first.
    pub(crate) fn due_by(&self, t: f64) -> Vec<AssociationId> {
        self.due.iter().take_while(|(due, _)| due.0 <= t).map(|(_, id)| *id).collect()
    }

    /// The earliest next poll of all, seconds on the engine's timeline.
    pub(crate) fn first_due(&self) -> Option<f64> {
        self.due.first().map(|(due, _)| due.0)
    }

    /// How many ephemeral associations of `mode` exist (for the engine's
    /// per-kind limits on what arriving packets may create).
    pub(crate) fn ephemeral(&self, mode: AssociationMode) -> usize {
        self.ephemeral.get(&mode).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::association::AssociationConfig;

    fn association(id: u32, port: u16, now: f64) -> Association {
        let address = SocketAddr::from(([192, 0, 2, 1], port));
        Association::new(AssociationId(id), AssociationConfig::client(address), false, now)
    }

    #[test]
    fn test_slots_are_reused_and_indexes_follow() {
        let mut table = Table::default();
        table.insert(association(1, 1, 5.0));
        table.insert(association(2, 2, 3.0));
        assert_eq!(table.first_due(), Some(3.0));
        assert!(table.remove(AssociationId(2)).is_some());
        assert_eq!(table.first_due(), Some(5.0));
        assert_eq!(table.find(SocketAddr::from(([192, 0, 2, 1], 2))), None);
        table.insert(association(3, 3, 1.0));
        assert_eq!(table.slots.len(), 2, "the freed slot is reused");
        assert_eq!(table.find(SocketAddr::from(([192, 0, 2, 1], 3))), Some(AssociationId(3)));
        assert_eq!(table.due_by(4.0), vec![AssociationId(3)]);
        assert_eq!(table.len(), 2);
    }

    #[test]
    fn test_update_refiles_the_deadline() {
        let mut table = Table::default();
        table.insert(association(1, 1, 0.0));
        table.update(AssociationId(1), |a| {
            let _ = a.poll(0.0, 6, false);
        });
        let next = table.get(AssociationId(1)).map(Association::next_poll);
        assert!(next.is_some_and(|n| n > 0.0));
        assert_eq!(table.first_due(), next);
        assert!(table.due_by(0.0).is_empty());
    }
}
