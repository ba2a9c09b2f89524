// jemalloc's defaults for siem-connector, read by jemalloc at start-up (linked only when the build
// uses jemalloc: SIEM_JEMALLOC). The MALLOC_CONF environment variable still overrides them.
//
// Unused memory goes back to the system after about a second instead of ten (dirty pages), and
// without the intermediate "muzzy" stage: as a sidecar the connector's resident size should follow
// its queues down after a burst, not stay at the burst's peak.
extern "C" {
extern const char* malloc_conf;
const char* malloc_conf = "dirty_decay_ms:1000,muzzy_decay_ms:0";
}
