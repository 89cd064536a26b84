//! The store's shared strings: every plug-in name and version a record holds is kept here
//! once, and a record holds its small id ([`Sym`], 4 bytes) instead of its own copy.
//!
//! Two million records carry a few dozen distinct names and versions in practice, so a record
//! with ids is 24 bytes instead of well over a hundred with its own strings (see
//! [`super::model`]). Each string counts its uses; the last use frees it and its id is given
//! to the next new string, so data that keeps changing does not grow this table for ever.
//!
//! The table is cloned with the store on every write, like the per-partition name counts: it
//! costs O(distinct strings), which is small next to the records.

use std::collections::HashMap;
use std::sync::Arc;

/// The id of a shared string; valid in the [`Strings`] that gave it, while used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) struct Sym(u32);

/// The shared strings with their use counts.
#[derive(Debug, Clone, Default)]
pub(super) struct Strings {
    /// By id: the text and its number of uses; a slot with no use is free (listed in `free`).
    slots: Vec<(Arc<str>, usize)>,
    /// Text → id, for the slots in use.
    ids: HashMap<Arc<str>, Sym>,
    /// Free slots, reused before the table grows.
    free: Vec<u32>,
}

impl Strings {
    /// The text of `sym`.
    pub(super) fn get(&self, sym: Sym) -> &str {
        &self.slots[sym.0 as usize].0
    }

    /// The id of `text`, when it is in use.
    pub(super) fn find(&self, text: &str) -> Option<Sym> {
        self.ids.get(text).copied()
    }

    /// One more use of `text`, adding it when new.
    pub(super) fn retain(&mut self, text: &str) -> Sym {
        if let Some(sym) = self.find(text) {
            self.slots[sym.0 as usize].1 += 1;
            return sym;
        }
        let shared: Arc<str> = Arc::from(text);
        let sym = match self.free.pop() {
            Some(slot) => {
                self.slots[slot as usize] = (shared.clone(), 1);
                Sym(slot)
            }
            None => {
                let slot = u32::try_from(self.slots.len()).expect("fewer than 2^32 strings");
                self.slots.push((shared.clone(), 1));
                Sym(slot)
            }
        };
        self.ids.insert(shared, sym);
        sym
    }

    /// One use fewer of `sym`; the last use frees it.
    pub(super) fn release(&mut self, sym: Sym) {
        let slot = &mut self.slots[sym.0 as usize];
        slot.1 -= 1;
        if slot.1 == 0 {
            let text = std::mem::replace(&mut slot.0, Arc::from(""));
            self.ids.remove(&text);
            self.free.push(sym.0);
        }
    }

    /// The strings in use, in no particular order.
    #[cfg(test)]
    pub(super) fn in_use(&self) -> Vec<&str> {
        let mut texts: Vec<&str> = self.ids.keys().map(|t| &**t).collect();
        texts.sort_unstable();
        texts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_string_lives_while_used_and_its_id_is_reused() {
        let mut strings = Strings::default();
        let a = strings.retain("a");
        let b = strings.retain("b");
        assert_eq!(strings.retain("a"), a);
        assert_eq!((strings.get(a), strings.get(b)), ("a", "b"));
        strings.release(a);
        assert_eq!(strings.find("a"), Some(a));
        strings.release(a);
        assert_eq!(strings.find("a"), None);
        assert_eq!(strings.in_use(), ["b"]);
        let c = strings.retain("c");
        assert_eq!(c, a, "the freed id is reused");
        assert_eq!(strings.get(c), "c");
    }
}
