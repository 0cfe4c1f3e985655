// Package wal is the write-ahead log that every quorum queue of a node
// shares: one log, one group-commit loop, one fsync per round however many
// Raft groups append, behind hashicorp/raft's LogStore and StableStore.
// Open opens it (one per node, one directory); WAL.Group hands out the
// GroupStore of one Raft group, which a raft.NewRaft takes as both its log
// store and its stable store.
//
// # Why it is built on queue/store
//
// queue/store already is a segmented, CRC-32C-framed, group-committed,
// recovering and compacting log: the WAL is one store.Log (named "wal")
// in a store.Store of its own, and every group's records are records of
// that one log, told apart by a group id in their payload. That gives, at
// no new code: one sync loop that fsyncs the active segment once per round
// for every group that appended meanwhile (RabbitMQ's Ra WAL does the
// same for the same reason: thousands of groups cannot each fsync a file
// of their own); torn tails cut at open; damaged records found by their
// checksum; segments deleted as soon as every record in them is settled,
// and sealed segments at most a quarter live rewritten by the store's
// compactor, so a few long-lived records (an idle group's stable keys)
// cannot pin the disk. A per-group log on queue/store would fsync one file
// per busy group per round, which is what this package exists to avoid;
// raft-boltdb rewrites pages and fsyncs per group. What a Raft log needs
// beyond a queue's log is here: indexes chosen by Raft rather than by the
// log, replacement of a conflicting suffix, durable deletion, stable keys,
// and stopping a group on damage instead of skipping its records. The one
// change to queue/store is that a damage report names the range of
// sequence numbers it lost, so that damage can be pinned on a group.
//
// The WAL's store is its own, not the classic queues' store, so a node
// runs two sync loops (one for durable classic queues, one for all quorum
// queues): damage reports (Options.OnDamage) are per store, and the WAL's
// must reach the WAL. Sharing one would need the store to route them per
// log.
//
// # Format
//
// Each record is a store record (see queue/store: magic, kind, flags,
// length, sequence number, CRC-32C). Its flags byte says what it holds and
// its payload starts with the group id (64 bits of SHA-256 of the group's
// name) and the sequence number of the group's previous record (record.go):
//
//   - an entry: one raft.Log (index, term, type, AppendedAt, data,
//     extensions), one record per entry;
//   - a stable key: the key and its value;
//   - a poison record: why the group was stopped;
//   - a barrier: empty, of no group (see Durability).
//
// A group keeps in memory the sequence number of each of its entries (8
// bytes per entry; Raft's snapshots keep the log short), its stable keys,
// and its most recent entries decoded (Options.CacheEntries, 16 by
// default), so that replication and applying rarely read the file. Any
// other entry is read back with a store.Reader from its record; the group
// keeps that reader open while reads go forward in index order (Raft's
// replay after a restart reads every entry since its snapshot twice, a
// lagging follower is sent them in order), so such a run reads the file
// once, in order, rather than seeking and scanning for each entry; the
// reader is closed once a read reaches the last entry or comes from the
// cache, and when the group or the WAL is closed. An idle
// group with a few entries and Raft's three stable keys costs about 2.8 KiB
// of heap, most of it that cache (TestIdleGroupMemory).
//
// # Durability
//
// StoreLogs, Set and SetUint64 return once their records are fsynced: they
// append to the shared log and wait for the sync round that covers their
// last record (store.Log.Wait); concurrent calls of any groups share that
// round's fsync. AppendLogs appends as StoreLogs does but returns at once:
// Sync waits for an entry's round, DurableIndex tells how far the group's
// entries are on disk (a Raft leader's log is written so, see the quorum
// package's replicalog.go). BenchmarkGroupCommit measures it on this project's 2-core
// machine (ext4), each group appending one 16-byte entry at a time and
// waiting for it: 1 group 3,300 entries/s (one fsync each); 10 groups
// 14,800 entries/s, 5.0 entries per fsync; 100 groups 102,000 entries/s,
// 50 entries per fsync, at 2,000–3,300 fsyncs/s throughout. A queue/store
// log per group (BenchmarkLogPerGroup) stays at one entry per fsync: 6,200
// and 10,400 entries/s for 10 and 100 groups. Replaced values and
// deleted entries are settled in the store, which deletes a segment once
// all its records are settled. The store writes settles lazily, so
// DeleteRange and WAL.DeleteGroup append a barrier after their settles and
// wait for it: the round that syncs the barrier syncs the settles too, so
// once they return a restart brings nothing deleted back. A value replaced
// by Set is settled only once the new one is on disk. Entries replaced by a
// conflict need no barrier: at recovery an entry at an index already held
// replaces it and everything after it, as StoreLogs does.
//
// DeleteRange takes a prefix (Raft's compaction after a snapshot) or a
// suffix (a conflict: hashicorp/raft deletes from the first conflicting
// index to LastIndex, then stores the leader's entries at those indexes).
// StoreLogs of entries that do not follow the last one, as after a
// snapshot was installed, replaces the whole log.
//
// # Recovery and corruption
//
// Open recovers the store log (cutting a torn tail: records that were never
// acknowledged), then reads every live record once, in order, into the
// groups. A damaged record in the middle of the log is dropped by the
// store and reported with its range of sequence numbers; it is never
// skipped silently here. Each record names its group's previous one, so a
// lost record followed by another of its group is pinned on that group by
// the link; a lost record that nothing links to was the last of its group,
// and every group that wrote nothing after it is stopped, since any of
// them may have written it. A stopped group gets a poison record, so it
// stays stopped across restarts (the store does not report damage twice):
// Group returns an error wrapping ErrCorrupt and the replica must be
// rebuilt from its peers (delete the group and rejoin). Other groups are
// unaffected. Damage found while the WAL runs (GetLog reading an entry no
// longer in memory) is pinned exactly, since every live record's group is
// known then: the owner is stopped the same way, poison record included. Damage in records that were already deleted is
// ignored. A record with a valid checksum that cannot be decoded counts as
// damage of unknown owner.
//
// Known limits: damage to the last records of the WAL cannot be told from
// a torn write, so it is cut as one (every log that cuts torn tails has
// this limit); a crash in the instant between the store settling damaged
// records at open and the poison record's fsync would let the group
// restart without them; a lost record of a group with no surviving record
// at all cannot be pinned on it. Open reads every live record once, so
// start-up time grows with what the groups keep between snapshots.
//
// # Goroutines
//
// The store's: its sync loop, its compactor and the short-lived fsync
// workers of a round, started by Open and joined by Close. The package
// starts none of its own; a StoreLogs, Set, DeleteRange or Sync waits on
// its caller's goroutine for the round that covers it.
//
// # Locks
//
// WAL.mu guards the group map and is taken before a GroupStore's mu, which
// guards that group's index, stable keys, cache and encoding buffer.
// GroupStore.mu is held while a group appends its records to the store log
// (which takes the log's own lock inside), so a group's records are in the
// order of its indexes; it is not held while waiting for the disk or
// reading the file. GroupStore.rmu guards the group's kept reader and is
// held while reading with it; it may be taken before GroupStore.mu, never
// while holding it. WAL.dmu, a leaf, collects the store's damage reports.
package wal
