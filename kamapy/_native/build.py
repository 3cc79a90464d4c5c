"""cffi (API mode) build description of kamapy's native part: placeholder until the
allocator, lock sets and hash table land."""

from cffi import FFI

ffibuilder = FFI()
ffibuilder.cdef("int kp_native_abi(void);")
ffibuilder.set_source("kamapy._native._kamapy_native", "int kp_native_abi(void) { return 1; }")

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
