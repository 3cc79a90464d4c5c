"""The Python side of the native shared-memory part (kamapy/_native; Kamailio's
src/core/mem, lock_ops.h, str_hash.h, counters.c, pt.c): the shm pool (shm), locks
and lock sets (lockset), the shm hash table (htable), atomic and per-process counters
(counters, proc_counters), the process table (proctable) and the log of locks taken
over from dead processes (lock_watch), and their private stand-ins without a pool
(local_table). Import the submodule you need
(`from kamapy.mem.shm import pool`); this package itself holds nothing."""
