"""The C part of kamapy, reached through cffi (built by build.py at install time).

kp_shm.*       the shm pool: one MAP_SHARED mapping, TLSF allocator, robust pool lock
kp_lock.*      robust process-shared mutexes and lock sets
kp_htable.*    the shared hash table (per-bucket locks, entry header + byte blobs)
kp_counters.*  atomic 64-bit counters
kp_proctable.* the process table
kp_hash.h      the 64-bit key hash
kp_fastcall.c  METH_FASTCALL entry points (the _fastcall extension) for the per-message
               calls, bound to the cffi module's functions by fastcall.py

Python code uses the faces in kamapy.mem.shm, kamapy.mem.lockset, kamapy.mem.htable,
kamapy.mem.counters and kamapy.mem.proctable; `ffi` and `lib` of the compiled module are
kamapy._native._kamapy_native.ffi/.lib for C-level work.
"""
