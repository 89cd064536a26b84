//! An ordered map that also answers "the k-th entry" quickly.
//!
//! Paging needs two kinds of seek: by key (a NextToken holds the last key it returned) and by
//! position (a PageNumber is an offset). A `BTreeMap` does the first in O(log n) but the second
//! only by walking. This map keeps its entries in sorted chunks of bounded size together with
//! the running count before each chunk, so both seeks are a binary search, O(log n), and reading
//! a page after the seek is O(page). Inserting or removing one entry costs O(chunk + n / chunk),
//! which is what an emulator whose data is mostly read can afford.
//!
//! Chunks are shared (`Arc`) between clones: cloning a map copies n / chunk pointers, and a
//! change to a clone copies only the one chunk it touches. This is what lets the store publish
//! a changed copy for readers to snapshot without ever copying the whole data set.

use std::borrow::Borrow;
use std::sync::Arc;

/// Entries per chunk before it is split in two.
const MAX_CHUNK: usize = 512;

/// A sorted map with positional access: `get`, `insert`, `remove` by key; `iter_from(k)`
/// starting at the k-th entry; `count_through(key)` giving the position after a key.
#[derive(Debug, Clone)]
pub struct OrderedMap<K, V> {
    /// Non-empty sorted chunks; every key of chunk i is below every key of chunk i + 1.
    /// Shared with the clones of this map until one of them changes the chunk.
    chunks: Vec<Arc<Vec<(K, V)>>>,
    /// `starts[i]` is the number of entries in the chunks before chunk i.
    starts: Vec<usize>,
    len: usize,
}

impl<K, V> Default for OrderedMap<K, V> {
    fn default() -> Self {
        Self {
            chunks: Vec::new(),
            starts: Vec::new(),
            len: 0,
        }
    }
}

impl<K: Ord + Clone, V: Clone> OrderedMap<K, V> {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds a map from entries sorted by key with no key twice, in O(n).
    ///
    /// # Panics
    /// In debug builds, if the entries are not strictly increasing.
    pub fn from_sorted(entries: Vec<(K, V)>) -> Self {
        debug_assert!(entries.windows(2).all(|w| w[0].0 < w[1].0));
        let mut map = Self::new();
        map.len = entries.len();
        let mut entries = entries.into_iter().peekable();
        while entries.peek().is_some() {
            map.chunks.push(Arc::new(
                entries.by_ref().take(MAX_CHUNK / 2).collect::<Vec<_>>(),
            ));
        }
        map.rebuild_starts(0);
        map
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the map holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The chunk that holds `key` or would receive it.
    fn chunk_for<Q>(&self, key: &Q) -> usize
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        // First chunk whose last key is >= key; past the end means the last chunk.
        let i = self
            .chunks
            .partition_point(|chunk| chunk.last().is_some_and(|(k, _)| k.borrow() < key));
        i.min(self.chunks.len().saturating_sub(1))
    }

    /// (chunk, index) of `key`, when present.
    fn locate<Q>(&self, key: &Q) -> Option<(usize, usize)>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        let c = self.chunk_for(key);
        let chunk = self.chunks.get(c)?;
        let i = chunk.binary_search_by(|(k, _)| k.borrow().cmp(key)).ok()?;
        Some((c, i))
    }

    /// The value stored under `key`.
    pub fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        let (c, i) = self.locate(key)?;
        Some(&self.chunks[c][i].1)
    }

    /// The value stored under `key`, mutably.
    pub fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        let (c, i) = self.locate(key)?;
        Some(&mut Arc::make_mut(&mut self.chunks[c])[i].1)
    }

    /// True when `key` is present.
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.get(key).is_some()
    }

    /// Stores `value` under `key`, answering the value it replaced.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        if self.chunks.is_empty() {
            self.chunks.push(Arc::new(vec![(key, value)]));
            self.starts.push(0);
            self.len = 1;
            return None;
        }
        let c = self.chunk_for(&key);
        let chunk = Arc::make_mut(&mut self.chunks[c]);
        match chunk.binary_search_by(|(k, _)| k.cmp(&key)) {
            Ok(i) => Some(std::mem::replace(&mut chunk[i].1, value)),
            Err(i) => {
                chunk.insert(i, (key, value));
                self.len += 1;
                if chunk.len() > MAX_CHUNK {
                    let tail = chunk.split_off(chunk.len() / 2);
                    // The chunk grew to twice its entries' room by now; give the spare room
                    // back, or a map filled in order keeps half of every chunk empty.
                    chunk.shrink_to_fit();
                    self.chunks.insert(c + 1, Arc::new(tail));
                    self.starts.insert(c + 1, 0);
                }
                self.rebuild_starts(c + 1);
                None
            }
        }
    }

    /// Removes `key`, answering its value.
    pub fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        let (c, i) = self.locate(key)?;
        let chunk = Arc::make_mut(&mut self.chunks[c]);
        let (_, value) = chunk.remove(i);
        self.len -= 1;
        if chunk.is_empty() {
            self.chunks.remove(c);
            self.starts.remove(c);
            self.rebuild_starts(c);
        } else {
            self.rebuild_starts(c + 1);
        }
        Some(value)
    }

    /// How many keys are `<= key`: the position of the first entry after `key`.
    pub fn count_through<Q>(&self, key: &Q) -> usize
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        if self.chunks.is_empty() {
            return 0;
        }
        let c = self.chunk_for(key);
        let chunk = &self.chunks[c];
        self.starts[c] + chunk.partition_point(|(k, _)| k.borrow() <= key)
    }

    /// Entries from position `start` on, in key order. Positions past the end yield nothing.
    pub fn iter_from(&self, start: usize) -> impl Iterator<Item = (&K, &V)> + '_ {
        // Last chunk whose first position is <= start.
        let c = self
            .starts
            .partition_point(|&s| s <= start)
            .saturating_sub(1);
        let offset = start.saturating_sub(self.starts.get(c).copied().unwrap_or(0));
        self.chunks
            .get(c..)
            .unwrap_or_default()
            .iter()
            .flat_map(|chunk| chunk.iter())
            .skip(offset)
            .map(|(k, v)| (k, v))
    }

    /// All entries in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> + '_ {
        self.iter_from(0)
    }

    fn rebuild_starts(&mut self, from: usize) {
        self.starts.resize(self.chunks.len(), 0);
        for i in from..self.chunks.len() {
            self.starts[i] = if i == 0 {
                0
            } else {
                self.starts[i - 1] + self.chunks[i - 1].len()
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use std::collections::BTreeMap;

    /// Compares every operation against a `BTreeMap` over a long random sequence that forces
    /// chunks to split and empty out.
    #[test]
    fn behaves_like_a_btreemap_with_positions() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let mut ours = OrderedMap::new();
        let mut reference = BTreeMap::new();
        for step in 0..20_000u32 {
            let key: u32 = rng.gen_range(0..3_000);
            if rng.gen_bool(0.7) {
                assert_eq!(ours.insert(key, step), reference.insert(key, step));
            } else {
                assert_eq!(ours.remove(&key), reference.remove(&key));
            }
            assert_eq!(ours.len(), reference.len());
            if step % 997 == 0 {
                let all: Vec<_> = ours.iter().map(|(k, v)| (*k, *v)).collect();
                let expected: Vec<_> = reference.iter().map(|(k, v)| (*k, *v)).collect();
                assert_eq!(all, expected);
                for start in [0, 1, 511, 512, 513, all.len() / 2, all.len(), all.len() + 5] {
                    let page: Vec<_> = ours.iter_from(start).take(7).map(|(k, _)| *k).collect();
                    let want: Vec<_> = expected
                        .iter()
                        .skip(start)
                        .take(7)
                        .map(|(k, _)| *k)
                        .collect();
                    assert_eq!(page, want, "iter_from({start})");
                }
                for probe in [0, 1, 1500, 2999, 5000] {
                    let want = reference.range(..=probe).count();
                    assert_eq!(ours.count_through(&probe), want, "count_through({probe})");
                    assert_eq!(ours.get(&probe), reference.get(&probe));
                }
            }
        }
    }

    #[test]
    fn from_sorted_matches_inserts() {
        let entries: Vec<(u32, u32)> = (0..2_000).map(|i| (i * 2, i)).collect();
        let map = OrderedMap::from_sorted(entries.clone());
        assert_eq!(map.len(), 2_000);
        assert_eq!(map.iter_from(1_999).next(), Some((&3_998, &1_999)));
        assert_eq!(map.count_through(&5), 3);
        assert_eq!(map.get(&400), Some(&200));
        assert_eq!(map.get(&401), None);
    }

    #[test]
    fn a_clone_shares_chunks_until_it_changes_one() {
        let original = OrderedMap::from_sorted((0..2_000u32).map(|i| (i, i)).collect());
        let mut copy = original.clone();
        assert!(Arc::ptr_eq(&original.chunks[3], &copy.chunks[3]));
        copy.insert(7, 70);
        copy.remove(&1_999);
        *copy.get_mut(&8).unwrap() = 80;
        assert_eq!(
            (original.get(&7), original.get(&8), original.get(&1_999)),
            (Some(&7), Some(&8), Some(&1_999))
        );
        assert_eq!(
            (copy.get(&7), copy.get(&8), copy.get(&1_999)),
            (Some(&70), Some(&80), None)
        );
        // Only the touched chunks were copied.
        assert!(!Arc::ptr_eq(&original.chunks[0], &copy.chunks[0]));
        assert!(Arc::ptr_eq(&original.chunks[3], &copy.chunks[3]));
    }

    #[test]
    fn empty_map_answers_nothing() {
        let map: OrderedMap<String, ()> = OrderedMap::new();
        assert_eq!(map.iter_from(3).count(), 0);
        assert_eq!(map.count_through("x"), 0);
        assert!(map.get("x").is_none());
        assert!(map.is_empty());
    }
}
