// The process heap between model calls. A forward pass allocates its activations afresh
// each call (a few MB for a ClimSim MLP at 384 columns); glibc's default policy hands
// the freed top of the heap back to the system after the call and the next call faults
// the same pages in again, zero-filled: about 10% of the call at 2 threads on CPU.
#pragma once

namespace hyb {

// Keeps freed heap memory mapped for the next call: glibc's mmap threshold at its largest
// allowed value (32 MiB, so activations come from the heap, not from mmap/munmap each call)
// and its trim threshold at 256 MiB. Process-wide and done once; does nothing when the
// job already sets glibc's malloc parameters through the environment (MALLOC_*_ or
// GLIBC_TUNABLES=glibc.malloc...), or with a C library other than glibc.
void keep_heap_mapped();

}  // namespace hyb
