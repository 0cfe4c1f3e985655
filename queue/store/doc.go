// Package store is the storage engine for durable classic queues: an
// append-only, segmented, checksummed log per queue, with one group-commit
// loop per node that fsyncs the dirty files of all queues at once.
//
// # Layout
//
// A Store owns a directory; each queue's Log owns a subdirectory named by its
// id (LogID hashes vhost and queue name). A log holds
//
//   - segment files, 00000000000000000001.seg …, named by the sequence
//     number of their first record. Records are enqueues, numbered 1, 2, 3 …
//     contiguously by the log itself. A segment is rolled at
//     Options.SegmentSize (64 MiB) and then ends with a seal record giving
//     its range.
//   - settled.log, the settle log: runs of settled sequence numbers.
//
// Every record is framed with a magic, a kind, flags, its length, its
// sequence number and a CRC-32C over all of it (see record.go), so a reader
// can detect a torn or corrupt record, find the next good one, and count
// from the sequence numbers how many were lost.
//
// # Durability: group commit
//
// Append copies the record into the log's buffer and returns its sequence
// number at once. The Store's sync loop takes every log that changed, writes
// its buffers, fsyncs all dirty files of all those logs in parallel
// (segments, settle logs, and the directory when a segment was created),
// then calls each log's OnDurable(upTo) (and fires Wait channels). Whatever
// is appended while a round runs goes into the next, so one fsync serves
// every record that arrived during the previous one. A notification never
// precedes the fsync that covers its record (TestNotifyNeverPrecedesFsync).
// A publisher confirm for a persistent message is sent from OnDurable; the
// connection's read loop never waits.
//
// Settles are written by the same loop and need no notification: a settle
// lost in a crash brings its message back, which AMQP's at-least-once allows.
// A settle is never lost by kill -9 once the loop has written it (within a
// round, about a millisecond); only a power loss in that window
// loses it.
//
// # Why a log per queue, and one loop for all of them
//
// The alternative is one write-ahead log for every queue of the node (Ra's
// WAL, CQv2's shared message store): one file, one fsync per round however
// many queues are busy. Its costs are a second write of every message (WAL,
// then the queue's own segments), a recovery that must replay the WAL into
// every queue before any can serve, and reclaiming space by tracking which
// queues still need which part of a shared file. With a log per queue,
// space comes back by deleting a queue's own segments, bodies are read back
// sequentially from one file, a queue recovers on its own, and deleting a
// queue is deleting a directory. Its cost is one fsync per busy queue per
// round instead of one in all; the loop runs them in parallel
// (Options.SyncParallelism), and ext4 and XFS often fold concurrent fsyncs into one
// journal commit, so the cost grows far slower than the number of queues.
// Should thousands of busy durable queues per node matter more than the
// single-queue case, a shared WAL in front of these segments is the next
// step; the API would not change.
//
// # Memory
//
// Per message the store keeps one bit (settled or not) for segments that
// have a settled record, and 8 bytes per 1024 records for a sparse offset
// index; nothing for the paged-out middle of a queue: 10 million messages
// cost about 1.3 MB. Bodies are read back on demand by a Reader, which
// streams a log in sequence order through one 256 KiB buffer and skips
// settled records. The queue decides which bodies it keeps in memory. A
// segment found sealed at open is not scanned, so its index is empty
// until a Reader passes through it in order, which fills it in: until
// then a Reader starting inside it scans from the segment's start.
//
// # Space
//
// A segment whose records are all settled is deleted at once (the active one
// once it is an eighth full). A sealed segment at most a quarter live is
// rewritten with its live records only, under the same name and range, by
// the store's compactor goroutine (compact.go), so a few long-unacked
// messages cannot pin the disk. The settle log is rewritten as a checkpoint
// of the live segments' settled bits when it passes max(4 MiB, 4× the last
// checkpoint). Under steady publish and ack a queue's disk use is bounded by
// a few segments plus the settle log.
//
// # Recovery
//
// OpenLog reads the settle log, the seal record at the end of each sealed
// segment (one small read per 64 MiB), and every record of the last segment
// and of any segment that lost its seal: recovery time is bounded by one
// segment, not by the backlog (10 million 16-byte records recover in 0.12 s;
// see BenchmarkRecovery). A torn or corrupt tail is cut (truncated), never
// trusted; a segment that lost its seal gets a new one; damaged records in
// the middle are skipped by resynchronising on the next valid record, and
// reported as Damage (file, offset, bytes, records lost and their range of
// sequence numbers, so a log shared by several writers can tell whose
// records were hit). Damage in the
// middle of a sealed segment is found when a Reader reaches it (or at open
// with Options.Verify), then settled and reported to Options.OnDamage. A
// settled sequence number is never reused: when the settle log names
// numbers past the recovered end, appends restart above them. Every record
// recovered is marked Recovered, to be delivered as redelivered, as RabbitMQ
// does.
//
// # Failure
//
// A failed write (the disk full) or fsync makes the log's error sticky: the
// partial write is truncated away, OnDurable and waiters get the error for
// every record not yet durable, and Append fails until the log is closed
// and reopened, which recovers exactly what reached the disk. Nothing already
// durable is damaged.
//
// # Volatile stores
//
// A store opened with Options.Volatile holds what must not outlive the
// process: the transient messages a classic queue pages out of memory.
// Open empties its directory, so nothing of it comes back after a restart,
// kill -9 included, and its file system never syncs (the writes go to the
// OS's page cache; the kernel writes them back when it likes). Everything
// else is the same: segments, settles, readers, reclaiming, its own sync
// loop (which writes buffers and syncs nothing) and compactor.
//
// # Testing seam
//
// All I/O goes through the FS and File interfaces (fs.go); tests wrap them
// to record the order of writes, syncs and notifications, to keep only
// synced bytes across a simulated power loss, and to fill the disk.
package store
