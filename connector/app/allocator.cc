// jemalloc's defaults for siem-connector, read by jemalloc at start-up (linked only when the build
// uses jemalloc: SIEM_JEMALLOC). The MALLOC_CONF environment variable still overrides them.
//
// Unused memory goes back to the system after about a second instead of ten (dirty pages), and
// without the intermediate "muzzy" stage: as a sidecar the connector's resident size should follow
// its queues down after a burst, not stay at the burst's peak.
//
// On x86-64 (4 KiB pages) only: slabs of 8 pages (32 KiB) for the small size classes over 2 KiB
// (2560 to 14336 bytes; slab_sizes counts pages, so where jemalloc is built with 64 KiB pages, as on
// some aarch64 systems, the same setting would mean 512 KiB slabs: elsewhere jemalloc's defaults
// stay). In those classes jemalloc's default slab holds 1 to 8 regions (4096: one page, one
// region): an event's ECS or CEF
// document (2-6 KiB) is allocated on a mapping thread and freed on the sink thread, so the mapping
// thread's cache of its size class empties and is refilled from the arena, and the sink thread's
// fills and is flushed back to it. With a few regions per slab each refill and each flush took and
// gave back whole slabs (extents): ~1.7 k instructions per event on the mapping thread, ~0.6 k on
// the sink thread; 1.2 k of it is gone with 32 KiB slabs (a refill takes more regions from one
// slab), peak RSS unchanged. Larger slabs save more instructions but hold more memory: 256 KiB
// -1.9 k, +5-7 MiB (docs/performance.md, "Outside the mapper, ninth round"). One slab size for all
// of them leaves part of some slabs unused: 7168 and 14336 bytes 4 KiB of 32, 12288 bytes 8 KiB (25 %).
// A per-class setting with page counts that divide evenly (10, 9, 14, 8 pages for the four classes
// of each doubling) wastes none, but measured no better: 55.7 k instructions per ECS event against
// 55.8 k, peak RSS 44-50 MiB against 44-46 MiB (docs/performance.md, 2026-12-08), so 8 pages stay.
extern "C" {
extern const char* malloc_conf;
#if defined(__x86_64__)
const char* malloc_conf = "dirty_decay_ms:1000,muzzy_decay_ms:0,slab_sizes:2049-16384:8";
#else
const char* malloc_conf = "dirty_decay_ms:1000,muzzy_decay_ms:0";
#endif
}
